//! Decoding errors in a mod author's terms: Lua's words (table, list,
//! number), never MessagePack's markers or serde's vocabulary.

use rmp::Marker;
use rmp_serde::decode::Error;

/// What is wrong with a value a mod sent, for its author.
pub(crate) fn describe(error: &Error) -> String {
    match error {
        Error::TypeMismatch(marker) => {
            format!("got {}, which does not fit here", lua_kind(*marker))
        }
        Error::OutOfRange => "a number is out of range for its field".into(),
        Error::LengthMismatch(n) => format!("expected a list of {n} items"),
        Error::Syntax(text) | Error::Uncategorized(text) => in_lua_terms(text),
        Error::InvalidMarkerRead(_) | Error::InvalidDataRead(_) => "the value ends early".into(),
        Error::Utf8Error(_) => "a string is not UTF-8 text".into(),
        Error::DepthLimitExceeded => "the value nests too deeply".into(),
    }
}

/// The Lua kind of value a MessagePack marker starts.
fn lua_kind(marker: Marker) -> &'static str {
    match marker {
        Marker::Null => "nil",
        Marker::True | Marker::False => "a boolean",
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => "an integer",
        Marker::F32 | Marker::F64 => "a number",
        Marker::FixStr(_)
        | Marker::Str8
        | Marker::Str16
        | Marker::Str32
        | Marker::Bin8
        | Marker::Bin16
        | Marker::Bin32 => "a string",
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => "a list",
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => "a table",
        _ => "a value Lua does not make",
    }
}

/// serde's messages ("invalid type: map, expected f32") in Lua's words
/// ("got a table, expected a number").
fn in_lua_terms(text: &str) -> String {
    const WORDS: &[(&str, &str)] = &[
        ("invalid type: ", "got "),
        ("invalid value: ", "got "),
        ("unit value", "nil"),
        ("map", "a table"),
        ("sequence", "a list"),
        ("floating point", "the number"),
        ("integer `", "the integer `"),
        ("expected f32", "expected a number"),
        ("expected f64", "expected a number"),
        ("expected i8", "expected an integer"),
        ("expected i16", "expected an integer"),
        ("expected i32", "expected an integer"),
        ("expected i64", "expected an integer"),
        ("expected u8", "expected an integer"),
        ("expected u16", "expected an integer"),
        ("expected u32", "expected an integer"),
        ("expected u64", "expected an integer"),
        ("expected struct ", "expected a table for "),
        ("expected tuple struct ", "expected a value for "),
        ("expected unit", "expected nil"),
        ("`", "'"),
    ];
    let mut text = text.to_owned();
    for (serde, lua) in WORDS {
        text = text.replace(serde, lua);
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is how a test fails
mod tests {
    use super::*;

    #[test]
    fn serde_words_become_lua_words() {
        let error: Result<f32, _> = rmp_serde::from_slice(&[0x81, 0xa1, b'x', 0x01]);
        let text = describe(&error.unwrap_err());
        assert!(text.contains("table") && !text.contains("marker"), "{text}");
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Health {
            hp: i32,
        }
        let error: Result<Health, _> = rmp_serde::from_slice(&[0x81, 0xa2, b'h', b'p', 0xa1, b'x']);
        let text = describe(&error.unwrap_err());
        assert_eq!(text, "got string \"x\", expected an integer");
        let error: Result<Health, _> = rmp_serde::from_slice(&[0x80]);
        assert_eq!(describe(&error.unwrap_err()), "missing field 'hp'");
    }
}
