//! Decoding errors in a mod author's terms: Lua's words (table, list,
//! number), never MessagePack's markers or serde's vocabulary.

use rmp::Marker;
use rmp_serde::decode::Error;
use serde::de::DeserializeOwned;
use serde_path_to_error::{Path, Segment};

/// Decodes one MessagePack value a mod sent as a `T`; an error says what
/// is wrong and where, in Lua's words (`field 'hp': got a string`).
pub(crate) fn from_msgpack<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut deserializer = rmp_serde::Deserializer::new(bytes);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| describe_at(e.path(), e.inner()))
}

/// [`describe`], naming the field `path` leads to, if any.
pub(crate) fn describe_at(path: &Path, error: &Error) -> String {
    let mut place = String::new();
    for segment in path {
        match segment {
            // Lua counts from 1.
            Segment::Seq { index } => place.push_str(&format!("[{}]", index + 1)),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !place.is_empty() {
                    place.push('.');
                }
                place.push_str(&short(key));
            }
            Segment::Unknown => place.push('?'),
        }
    }
    // serde names a missing field itself, one level below the path.
    let what = describe(error);
    if place.is_empty() {
        what
    } else {
        format!("field '{}': {what}", crate::terminal_safe(&place))
    }
}

/// `bytes` (one MessagePack value) with every empty array made an empty
/// map, if it has any; `None` if it has none, is malformed, or nests
/// deeper than 64 levels.
pub(crate) fn empty_lists_as_maps(bytes: &[u8]) -> Option<Vec<u8>> {
    const EMPTY_MAP: u8 = 0x80;
    let mut out = bytes.to_vec();
    let mut rest = bytes;
    let mut changed = false;
    let mut pending: Vec<usize> = vec![1];
    while let Some(left) = pending.last_mut() {
        if *left == 0 {
            pending.pop();
            continue;
        }
        *left -= 1;
        let at = bytes.len() - rest.len();
        let marker = rmp::decode::read_marker(&mut rest).ok()?;
        let (skip, items) = match marker {
            Marker::FixArray(0) => {
                out[at] = EMPTY_MAP;
                changed = true;
                (0, 0)
            }
            Marker::FixArray(n) => (0, usize::from(n)),
            Marker::FixMap(n) => (0, 2 * usize::from(n)),
            Marker::Array16 => (0, read_len(&mut rest, 2)?),
            Marker::Array32 => (0, read_len(&mut rest, 4)?),
            Marker::Map16 => (0, 2 * read_len(&mut rest, 2)?),
            Marker::Map32 => (0, 2 * read_len(&mut rest, 4)?),
            Marker::FixStr(n) => (usize::from(n), 0),
            Marker::Str8 | Marker::Bin8 => (read_len(&mut rest, 1)?, 0),
            Marker::Str16 | Marker::Bin16 => (read_len(&mut rest, 2)?, 0),
            Marker::Str32 | Marker::Bin32 => (read_len(&mut rest, 4)?, 0),
            Marker::U8 | Marker::I8 => (1, 0),
            Marker::U16 | Marker::I16 => (2, 0),
            Marker::U32 | Marker::I32 | Marker::F32 => (4, 0),
            Marker::U64 | Marker::I64 | Marker::F64 => (8, 0),
            Marker::Null | Marker::True | Marker::False | Marker::FixPos(_) | Marker::FixNeg(_) => {
                (0, 0)
            }
            _ => return None,
        };
        rest = rest.get(skip..)?;
        if items > 0 {
            if pending.len() > 64 {
                return None;
            }
            pending.push(items);
        }
    }
    changed.then_some(out)
}

/// A big-endian length of `bytes` bytes from the front of `input`.
fn read_len(input: &mut &[u8], bytes: usize) -> Option<usize> {
    let (head, rest) = input.split_at_checked(bytes)?;
    *input = rest;
    Some(head.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)))
}

/// A key from untrusted input, cut to 64 characters.
fn short(key: &str) -> String {
    let mut cut: String = key.chars().take(64).collect();
    if cut.len() < key.len() {
        cut.push_str("...");
    }
    cut
}

/// What is wrong with a value a mod sent, for its author.
pub(crate) fn describe(error: &Error) -> String {
    match error {
        Error::TypeMismatch(marker) => {
            format!("got {}, which does not fit", lua_kind(*marker))
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
    fn serde_words_become_lua_words_and_fields_are_named() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Health {
            hp: i32,
            tags: Vec<String>,
        }
        // {"hp": {"x": 1}}: a table where an integer goes.
        let text =
            from_msgpack::<Health>(&[0x81, 0xa2, b'h', b'p', 0x81, 0xa1, b'x', 0x01]).unwrap_err();
        assert_eq!(text, "field 'hp': got a table, which does not fit");
        // {"hp": 1, "tags": ["a", 2]}: the second tag, counted from 1.
        let text = from_msgpack::<Health>(&[
            0x82, 0xa2, b'h', b'p', 0x01, 0xa4, b't', b'a', b'g', b's', 0x92, 0xa1, b'a', 0x02,
        ])
        .unwrap_err();
        assert_eq!(
            text,
            "field 'tags[2]': got the integer '2', expected a string"
        );
        assert_eq!(
            from_msgpack::<Health>(&[0x80]).unwrap_err(),
            "missing field 'hp'"
        );
        let text = from_msgpack::<f32>(&[0x81, 0xa1, b'x', 0x01]).unwrap_err();
        assert!(!text.contains("marker") && text.contains("table"), "{text}");
    }

    #[test]
    fn empty_lists_become_empty_maps_and_nothing_else_changes() {
        // {"a": [], "b": [1, []], "s": "\x90"}: the string's byte stays.
        let value = [
            0x83, 0xa1, b'a', 0x90, 0xa1, b'b', 0x92, 0x01, 0x90, 0xa1, b's', 0xa1, 0x90,
        ];
        let maps = empty_lists_as_maps(&value).unwrap();
        assert_eq!(
            maps,
            [
                0x83, 0xa1, b'a', 0x80, 0xa1, b'b', 0x92, 0x01, 0x80, 0xa1, b's', 0xa1, 0x90
            ]
        );
        assert_eq!(empty_lists_as_maps(&[0x92, 0x01, 0x02]), None);
        assert_eq!(empty_lists_as_maps(&[0x92, 0x90]), None, "truncated");
    }
}
