//! Turning mlua errors into the WIT `script-error`, inside the metered guest.

use crate::depth::DEPTH_ERROR;
use crate::exports::moonbox::sandbox::runtime::{LimitKind, LuaError, ScriptError};
use crate::limits::Hit;

/// Heading mlua's message handler puts before the traceback lines.
const TRACEBACK_HEADING: &str = "\nstack traceback:\n";

/// Appended to any text cut at the size limit.
const TRUNCATION_MARK: &str = "... (truncated)";

/// Classifies `error` and bounds the size of every string in it. `hit` is
/// what Lua really raised during the call: an error is a limit only if its
/// limit was hit (a script cannot forge one by its message).
pub fn to_script_error(error: &mlua::Error, max_len: usize, hit: Hit) -> ScriptError {
    match error {
        mlua::Error::SyntaxError { message, .. } => {
            ScriptError::Syntax(lua_error(message, max_len))
        }
        mlua::Error::MemoryError(message) => {
            ScriptError::Limit((LimitKind::Memory, lua_error(message, max_len)))
        }
        mlua::Error::RuntimeError(message) => {
            let parsed = lua_error(message, max_len);
            match limit_kind(&parsed.message, hit) {
                Some(kind) => ScriptError::Limit((kind, parsed)),
                None => ScriptError::Runtime(parsed),
            }
        }
        // Errors wrapped by Rust callbacks carry the Lua error as their cause.
        mlua::Error::CallbackError { cause, .. } => to_script_error(cause, max_len, hit),
        other => ScriptError::Runtime(lua_error(&other.to_string(), max_len)),
    }
}

/// The Lua-level limits whose errors scripts may catch; uncaught, they are
/// reported as limits rather than as ordinary runtime errors, if Lua raised
/// that limit in the call.
fn limit_kind(message: &str, hit: Hit) -> Option<LimitKind> {
    // `coroutine.wrap` prefixes a position at every level it propagates an
    // error through; the cause is what remains.
    let mut message = message;
    while let Some((_, _, rest)) = split_position(message) {
        message = rest;
    }
    if hit.depth() && message.starts_with(DEPTH_ERROR) {
        Some(LimitKind::Recursion)
    } else if hit.stack()
        && (message.starts_with("stack overflow") || message.starts_with("C stack overflow"))
    {
        Some(LimitKind::Stack)
    } else if hit.memory() && message.starts_with("not enough memory") {
        Some(LimitKind::Memory)
    } else {
        None
    }
}

/// Splits `chunk:line: message\nstack traceback:\n...` into its parts.
fn lua_error(full: &str, max_len: usize) -> LuaError {
    let (head, traceback) = match full.split_once(TRACEBACK_HEADING) {
        Some((head, traceback)) => (head, traceback),
        None => (full, ""),
    };
    let (chunk, line, message) = match split_position(head) {
        Some((chunk, line, message)) => (Some(chunk.to_owned()), Some(line), message),
        None => (None, None, head),
    };
    LuaError {
        message: truncate(message.to_owned(), max_len),
        chunk: chunk.map(|c| truncate(c, max_len)),
        line,
        traceback: truncate(traceback.to_owned(), max_len),
    }
}

/// Finds Lua's `chunk:line: ` prefix: the first `:<digits>: ` in the text.
fn split_position(text: &str) -> Option<(&str, u32, &str)> {
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find(':') {
        let colon = search_from + offset;
        let rest = &text[colon + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && rest[digits..].starts_with(": ")
            && let Ok(line) = rest[..digits].parse::<u32>()
        {
            return Some((&text[..colon], line, &rest[digits + 2..]));
        }
        search_from = colon + 1;
    }
    None
}

/// Cuts `text` to at most `max_len` bytes (on a character boundary), marking the cut.
pub fn truncate(mut text: String, max_len: usize) -> String {
    if text.len() <= max_len {
        return text;
    }
    let mut cut = max_len.saturating_sub(TRUNCATION_MARK.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(TRUNCATION_MARK);
    text
}
