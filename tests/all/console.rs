//! `print` and `warn` go to the sandbox console, bounded.

use moonbox::{Channel, Console, MAX_TEXT_LEN, SandboxConfig};

use crate::support::{engine, printed, sandbox};

#[test]
fn print_joins_arguments_with_tabs_like_lua() {
    let mut sandbox = sandbox();
    sandbox
        .run("p.lua", b"print(1, 'two', nil, true, 2.5) print() print(setmetatable({}, {__tostring = function() return 'obj' end}))")
        .unwrap();
    assert_eq!(printed(&sandbox), ["1\ttwo\tnil\ttrue\t2.5", "", "obj"]);
}

#[test]
fn warn_goes_to_its_own_channel_and_obeys_control_messages() {
    let mut sandbox = sandbox();
    sandbox
        .run(
            "w.lua",
            b"warn('a', 'b') warn('@off') warn('hidden') warn('@on') warn('shown')",
        )
        .unwrap();
    let warnings: Vec<_> = sandbox
        .console()
        .lines()
        .filter(|l| l.channel == Channel::Warn)
        .map(|l| l.text.clone())
        .collect();
    assert_eq!(warnings, ["ab", "shown"]);
    assert!(
        sandbox.run("w2.lua", b"warn(1)").is_err(),
        "warn takes strings only"
    );
}

#[test]
fn console_keeps_the_newest_lines_and_counts_the_dropped() {
    let mut sandbox = engine()
        .sandbox(&SandboxConfig {
            console_max_lines: 10,
            ..SandboxConfig::default()
        })
        .unwrap();
    sandbox
        .run("spam.lua", b"for i = 1, 25 do print(i) end")
        .unwrap();
    let expected: Vec<String> = (16..=25).map(|i| i.to_string()).collect();
    assert_eq!(printed(&sandbox), expected);
    assert_eq!(sandbox.console().dropped(), 15);
}

#[test]
fn console_is_bounded_in_bytes() {
    let mut console = Console::new(1000, 10);
    console.push(Channel::Out, "12345".into());
    console.push(Channel::Out, "67890".into());
    console.push(Channel::Out, "abc".into());
    let kept: Vec<_> = console.lines().map(|l| l.text.as_str()).collect();
    assert_eq!(kept, ["67890", "abc"]);
    assert_eq!(console.dropped(), 1);
}

#[test]
fn long_lines_and_invalid_utf8_are_made_safe() {
    let mut sandbox = sandbox();
    sandbox
        .run(
            "bytes.lua",
            b"print(string.rep('z', 100000)) print('a\\255b\\0c')",
        )
        .unwrap();
    let lines = printed(&sandbox);
    assert!(lines[0].len() <= MAX_TEXT_LEN && lines[0].ends_with("(truncated)"));
    assert_eq!(lines[1], "a\u{fffd}b\0c");
}

#[test]
fn drain_empties_the_console() {
    let mut sandbox = sandbox();
    sandbox.run("d.lua", b"print('x')").unwrap();
    assert_eq!(sandbox.console_mut().drain().len(), 1);
    assert_eq!(sandbox.console().lines().len(), 0);
}
