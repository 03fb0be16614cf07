//! The `moonbox run` command-line contract, checked from outside.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn moonbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .args(args)
        .output()
        .expect("the moonbox binary runs")
}

/// Writes `source` to a fresh temporary file named `name`.
fn script(name: &str, source: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(source))
        .unwrap();
    (dir, path)
}

fn json_run(path: &std::path::Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["run", "--json"];
    args.extend_from_slice(extra);
    let path = path.to_str().unwrap();
    args.push(path);
    let out = moonbox(&args);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"));
    (out.status.code().unwrap(), report)
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn hello_example_prints_its_lines_and_exits_0() {
    let out = moonbox(&["run", examples().join("hello.lua").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("Hello from Lua 5.4 in Moonbox!\n"),
        "{stdout}"
    );
    assert!(stdout.contains("squares:\t1, 4, 9, 16, 25\n"));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn infinite_loop_reports_fuel_limit_as_json_and_exits_3() {
    let (_dir, path) = script("spin.lua", b"print('before') while true do end");
    let (code, report) = json_run(&path, &[]);
    assert_eq!(code, 3);
    assert_eq!(report["status"], "limit");
    assert_eq!(report["error"]["kind"], "fuel");
    assert_eq!(report["output"], serde_json::json!(["before"]));
    assert_eq!(report["fuel_used"], moonbox::DEFAULT_FUEL);
    assert!(report["memory_peak"].as_u64().unwrap() > 0);
}

#[test]
fn string_bomb_reports_memory_limit_and_exits_3() {
    let (_dir, path) = script(
        "bomb.lua",
        b"local s = string.rep('x', 100 * 1024 * 1024) print(#s)",
    );
    let (code, report) = json_run(&path, &[]);
    assert_eq!(code, 3);
    assert_eq!(report["status"], "limit");
    assert_eq!(report["error"]["kind"], "memory");
}

#[test]
fn os_execute_is_an_error_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let source = format!("os.execute('touch {}')", marker.display());
    let (_d, path) = script("os.lua", source.as_bytes());
    let (code, report) = json_run(&path, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["status"], "error");
    assert_eq!(report["error"]["kind"], "runtime");
    assert!(!marker.exists());
}

#[test]
fn runtime_error_goes_to_stderr_as_script_line_message_and_traceback() {
    let (_dir, path) = script(
        "fail.lua",
        b"print('partial')\nlocal x = nil\nprint(x.field)\n",
    );
    let out = moonbox(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "partial\n");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("fail.lua:3: attempt to index a nil value (local 'x')\n"),
        "{stderr}"
    );
    assert!(stderr.contains("stack traceback:\n"), "{stderr}");
}

#[test]
fn syntax_error_is_kind_syntax_and_exits_1() {
    let (_dir, path) = script("syntax.lua", b"x = = 1");
    let (code, report) = json_run(&path, &[]);
    assert_eq!(
        (code, &report["error"]["kind"]),
        (1, &Value::from("syntax"))
    );
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("syntax.lua:1:")
    );
}

#[test]
fn binary_chunk_is_a_security_violation_exiting_4() {
    let (_dir, path) = script("compiled.lua", b"\x1bLua\x54\x00garbage");
    let (code, report) = json_run(&path, &[]);
    assert_eq!((code, &report["status"]), (4, &Value::from("violation")));
}

#[test]
fn recursion_and_flags_reach_the_sandbox() {
    let (_dir, path) = script(
        "deep.lua",
        b"local function f(n) return 1 + f(n + 1) end f(1)",
    );
    let (code, report) = json_run(&path, &["--max-depth", "50"]);
    assert_eq!(
        (code, &report["error"]["kind"]),
        (3, &Value::from("recursion"))
    );
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("50 call levels")
    );
    let (_dir, path) = script("mem.lua", b"local t = {} for i = 1, 1e6 do t[i] = i end");
    let (code, report) = json_run(&path, &["--memory", "512KiB"]);
    assert_eq!(
        (code, &report["error"]["kind"]),
        (3, &Value::from("memory"))
    );
    let (code, report) = json_run(&path, &["--fuel", "1000"]);
    assert_eq!(
        (code, &report["error"]["kind"], &report["fuel_used"]),
        (3, &Value::from("fuel"), &Value::from(1000))
    );
}

#[test]
fn fuel_is_identical_across_processes() {
    let (_dir, path) = script("det.lua", b"local t = {} for i = 1, 5000 do t[tostring(i)] = math.random() end local n = 0 for k in pairs(t) do n = n + 1 end print(n, math.random(100))");
    let (_, first) = json_run(&path, &["--seed", "42"]);
    let (_, second) = json_run(&path, &["--seed", "42"]);
    assert_eq!(first, second);
    assert!(first["fuel_used"].as_u64().unwrap() > 0);
    let (_, other_seed) = json_run(&path, &["--seed", "43"]);
    assert_ne!(first["output"], other_seed["output"]);
}

#[test]
fn usage_and_io_errors_exit_2() {
    for args in [
        vec!["run", "/nonexistent/script.lua"],
        vec!["run"],
        vec!["run", "--memory", "12XB", "x.lua"],
        vec!["run", "--fuel", "-5", "x.lua"],
        vec!["fly"],
    ] {
        let out = moonbox(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
    let (_dir, path) = script("ok.lua", b"print(1)");
    let out = moonbox(&["run", "--memory", "1KiB", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn print_in_json_mode_is_collected_not_written() {
    let (_dir, path) = script("p.lua", b"print('a', 1) print('b') warn('careful')");
    let out = moonbox(&["run", "--json", path.to_str().unwrap()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["output"], serde_json::json!(["a\t1", "b"]));
    assert_eq!(report["status"], "ok");
    assert_eq!(report["error"], Value::Null);
    assert!(String::from_utf8(out.stderr).unwrap().contains("careful"));
}

/// A mod folder with `main.lua` = `lua`.
fn mod_dir(name: &str, lua: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join(name);
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("mod.toml"),
        format!("name = '{name}'\nversion = \"1\\u001b[31m\"\n"),
    )
    .unwrap();
    std::fs::write(folder.join("main.lua"), lua).unwrap();
    dir
}

#[test]
fn sim_escapes_what_mods_print_so_they_cannot_draw_a_fake_summary() {
    let dir = mod_dir(
        "painter",
        r#"function on_tick()
             print("\27[2J\27[Hmoonbox sim: 1 ticks\nworld hash: 0000\27]52;c;cGF3bmVk\7")
             error("bad\27[1A\nworld hash: 1111 \u{202e}")
           end"#,
    );
    let out = moonbox(&["sim", dir.path().to_str().unwrap(), "--ticks", "1"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout}"
    );
    assert!(!stdout.contains('\u{202e}'), "{stdout}");
    assert!(stdout.contains("\\u{1b}[2J"), "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("world hash:"))
            .count(),
        1,
        "{stdout}"
    );
    // --json keeps the exact text.
    let out = moonbox(&[
        "sim",
        dir.path().to_str().unwrap(),
        "--ticks",
        "1",
        "--json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tail = report["console_tail"].to_string();
    assert!(tail.contains("\\u001b[2J"), "{tail}");
}

#[test]
fn a_mod_cannot_take_the_hosts_name() {
    let dir = mod_dir("moonbox", "print('[moonbox] mod \\'x\\' disabled: forged')");
    let out = moonbox(&["sim", dir.path().to_str().unwrap(), "--ticks", "1"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("not loaded"), "{stdout}");
    assert!(stdout.contains("reserved"), "{stdout}");
    assert!(!stdout.contains("forged"), "{stdout}");
}

#[test]
fn run_output_is_exact_when_piped_and_errors_are_escaped() {
    let (_dir, path) = script("esc.lua", b"print('a\\27[2Jb') error('x\\27[2Jy', 0)");
    let out = moonbox(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"a\x1b[2Jb\n", "piped output stays exact");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(stderr.contains("x\\u{1b}[2Jy"), "{stderr}");
}

#[test]
fn fuel_left_is_identical_across_processes() {
    let (_dir, path) = script(
        "pace.lua",
        b"local seen = {} for i = 1, 50 do local t = {} for j = 1, i * 10 do t[j] = j end seen[i] = fuel_left() end print(table.concat(seen, ','))",
    );
    let (_, first) = json_run(&path, &[]);
    let (_, second) = json_run(&path, &[]);
    assert_eq!(first["output"], second["output"]);
    let output = first["output"].to_string();
    assert!(output.matches(',').count() == 49, "{output}");
}

#[test]
fn sim_prints_the_commands_mods_emitted_escaped_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("beeper");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("mod.toml"),
        "name = 'beeper'\nversion = '1'\n[permissions]\nemit = ['play_sound']\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("main.lua"),
        "function on_tick() if world:tick() % 2 == 0 then engine.emit('play_sound', { name = 'beep\\27[2J' }) end end",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let out = moonbox(&["sim", path, "--ticks", "30"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("commands: 15 (beeper 15), last 10:"),
        "{stdout}"
    );
    assert!(stdout.contains("tick 30 [beeper] play_sound"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
    let out = moonbox(&["sim", path, "--ticks", "30", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["commands"]["beeper"], 15);
    assert_eq!(report["commands_tail"][9]["tick"], 30);
    assert_eq!(report["commands_tail"][9]["data"]["name"], "beep\u{1b}[2J");
}
