//! What a failing script reports: kind, position, message, traceback.

use moonbox::{MAX_TEXT_LEN, ScriptError};

use crate::support::{quick_limits, sandbox, sandbox_with};

#[test]
fn runtime_error_names_script_line_and_traceback() {
    let mut sandbox = sandbox();
    let error = sandbox
        .run(
            "game.lua",
            b"local function explode()\n  error('kaboom')\nend\nexplode()\n",
        )
        .unwrap_err();
    let ScriptError::Runtime {
        script,
        line,
        message,
        traceback,
    } = &error
    else {
        panic!("expected a runtime error, got {error:?}");
    };
    assert_eq!(
        (script.as_str(), *line, message.as_str()),
        ("game.lua", Some(2), "kaboom")
    );
    assert!(
        traceback.contains("game.lua:2: in"),
        "traceback: {traceback}"
    );
    assert!(
        traceback.contains("game.lua:4: in main chunk"),
        "traceback: {traceback}"
    );
    assert_eq!(error.to_string(), "game.lua:2: kaboom");
}

#[test]
fn syntax_error_names_script_and_line() {
    let mut sandbox = sandbox();
    let error = sandbox
        .run("broken.lua", b"local x = 1\nlocal = 2\n")
        .unwrap_err();
    let ScriptError::Syntax { script, line, .. } = &error else {
        panic!("expected a syntax error, got {error:?}");
    };
    assert_eq!((script.as_str(), *line), ("broken.lua", Some(2)));
}

#[test]
fn sandbox_stays_usable_after_a_lua_error() {
    let mut sandbox = sandbox();
    sandbox.run("a.lua", b"kept = 'yes'").unwrap();
    assert!(matches!(
        sandbox.run("b.lua", b"error('x')"),
        Err(ScriptError::Runtime { .. })
    ));
    sandbox.run("c.lua", b"assert(kept == 'yes')").unwrap();
    assert!(!sandbox.is_poisoned());
}

#[test]
fn non_string_error_objects_are_described() {
    let mut sandbox = sandbox();
    let error = sandbox
        .run(
            "obj.lua",
            b"error(setmetatable({}, {__tostring = function() return 'custom object' end}))",
        )
        .unwrap_err();
    let ScriptError::Runtime { message, line, .. } = &error else {
        panic!("expected a runtime error, got {error:?}");
    };
    assert_eq!((message.as_str(), *line), ("custom object", None));
    let error = sandbox.run("tbl.lua", b"error({})").unwrap_err();
    assert!(
        matches!(&error, ScriptError::Runtime { message, .. } if message.starts_with("table: "))
    );
}

#[test]
fn huge_error_messages_are_truncated_in_the_guest() {
    let mut sandbox = sandbox();
    let error = sandbox
        .run("huge.lua", b"error(string.rep('y', 1000000))")
        .unwrap_err();
    let ScriptError::Runtime {
        message, traceback, ..
    } = &error
    else {
        panic!("expected a runtime error, got {error:?}");
    };
    assert!(
        message.len() <= MAX_TEXT_LEN,
        "message is {} bytes",
        message.len()
    );
    assert!(message.ends_with("(truncated)"));
    assert!(traceback.len() <= MAX_TEXT_LEN);
}

#[test]
fn error_in_a_loaded_chunk_names_that_chunk() {
    let mut sandbox = sandbox();
    let error = sandbox
        .run(
            "outer.lua",
            b"local f = load('\\n\\nerror(\"inner\")', '=plugin') f()",
        )
        .unwrap_err();
    assert!(
        matches!(&error, ScriptError::Runtime { script, line: Some(3), .. } if script == "plugin")
    );
}

#[test]
fn error_with_a_looping_tostring_runs_out_of_fuel_instead_of_hanging() {
    let mut sandbox = sandbox_with(quick_limits());
    let error = sandbox
        .run(
            "loop.lua",
            b"error(setmetatable({}, {__tostring = function() while true do end end}))",
        )
        .unwrap_err();
    assert_eq!(error.limit_kind(), Some(moonbox::LimitKind::Fuel));
}
