//! `moonbox sim --watch`: a mod is reloaded when its files change, with its
//! state handed over; a broken edit is reported and the old version runs on.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The next line of `lines` that contains `text`, within a generous time.
fn wait_for(lines: &mpsc::Receiver<String>, text: &str, seen: &mut Vec<String>) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(text) {
                    return line;
                }
            }
            Err(_) => panic!("no line with {text:?}; saw {seen:#?}"),
        }
    }
}

#[test]
fn watch_mode_reloads_an_edited_mod_with_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("mods").join("greeter");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("mod.toml"), "name = 'greeter'\nversion = '1'\n").unwrap();
    let main = folder.join("main.lua");
    std::fs::write(
        &main,
        "local n = 0\n\
         function on_tick() n = n + 1 if n == 5 then print('v1 running') end end\n\
         function on_unload() return { n = n } end\n",
    )
    .unwrap();
    // Ten seconds of real-time ticks at most; the test stops it sooner.
    let mut child = Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .current_dir(dir.path())
        .args(["sim", "mods", "--watch", "--ticks", "600"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    wait_for(&lines, "watching 1 mods", &mut seen);
    wait_for(&lines, "[greeter] v1 running", &mut seen);

    std::fs::write(
        &main,
        "local n\n\
         function on_reload(state) n = state.n print('v2 took over at ' .. n) end\n\
         function on_tick() n = n + 1 end\n",
    )
    .unwrap();
    let reloaded = wait_for(&lines, "reloaded mod 'greeter'", &mut seen);
    assert!(reloaded.contains("handed"), "{reloaded}");
    let took_over = wait_for(&lines, "v2 took over at", &mut seen);
    let n: u32 = took_over.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 5, "the state came over: {took_over}");

    std::fs::write(&main, "function on_tick( end").unwrap();
    let refused = wait_for(&lines, "not reloaded", &mut seen);
    assert!(refused.contains("main.lua:1:"), "{refused}");

    let _ = child.kill();
    let _ = child.wait();
}
