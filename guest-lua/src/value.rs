//! Component values across the boundary: Lua values to and from MessagePack.
//!
//! Tables whose keys are exactly `1..n` become arrays, other tables maps
//! (string or integer keys), an empty table an empty array. Integers and
//! floats stay distinct. Functions, coroutines, userdata, non-finite numbers
//! and cyclic or too deep tables are refused with an error naming the problem.

use mlua::{Lua, MultiValue, Table, Value};
use rmp::Marker;
use rmp::encode as write;

/// Deepest nesting of tables in one value (a cycle also ends here).
pub const MAX_DEPTH: usize = 32;

/// Appends `value` to `out` as one MessagePack value.
pub fn encode(value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    encode_at(value, out, 0)
}

fn encode_at(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match value {
        Value::Nil => write::write_nil(out).map_err(io)?,
        Value::Boolean(b) => write::write_bool(out, *b).map_err(io)?,
        Value::Integer(i) => {
            write::write_sint(out, *i).map_err(io)?;
        }
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(format!("numbers must be finite, got {n}"));
            }
            write::write_f64(out, *n).map_err(io)?;
        }
        Value::String(s) => {
            let bytes = s.as_bytes();
            match std::str::from_utf8(&bytes) {
                Ok(text) => write::write_str(out, text).map_err(io)?,
                Err(_) => write::write_bin(out, &bytes).map_err(io)?,
            }
        }
        Value::Table(table) => encode_table(table, out, depth + 1)?,
        other => return Err(format!("a {} cannot be stored", other.type_name())),
    }
    Ok(())
}

fn encode_table(table: &Table, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "tables nest deeper than {MAX_DEPTH} levels (or refer to themselves)"
        ));
    }
    let pairs: Vec<(Value, Value)> = table
        .pairs::<Value, Value>()
        .collect::<mlua::Result<_>>()
        .map_err(|e| e.to_string())?;
    let len = table.raw_len();
    let is_array = pairs.len() == len
        && pairs
            .iter()
            .all(|(k, _)| matches!(k, Value::Integer(i) if *i >= 1 && (*i as usize) <= len));
    if is_array {
        write::write_array_len(out, count(len)?).map_err(io)?;
        for i in 1..=len {
            let item: Value = table.raw_get(i).map_err(|e| e.to_string())?;
            encode_at(&item, out, depth)?;
        }
        return Ok(());
    }
    write::write_map_len(out, count(pairs.len())?).map_err(io)?;
    for (key, item) in &pairs {
        match key {
            Value::String(_) | Value::Integer(_) => encode_at(key, out, depth)?,
            other => {
                return Err(format!(
                    "table keys must be strings or integers, got a {}",
                    other.type_name()
                ));
            }
        }
        encode_at(item, out, depth)?;
    }
    Ok(())
}

fn count(n: usize) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| "table too large".to_owned())
}

fn io(error: impl std::fmt::Display) -> String {
    format!("encoding failed: {error}")
}

/// Reads one MessagePack value from the front of `input` as a Lua value.
pub fn decode(lua: &Lua, input: &mut &[u8]) -> mlua::Result<Value> {
    decode_at(lua, input, 0)
}

/// Reads a MessagePack array as a list of Lua values (nils kept in place).
pub fn decode_args(lua: &Lua, mut input: &[u8]) -> mlua::Result<MultiValue> {
    let input = &mut input;
    let n = match Marker::from_u8(take(input, 1)?[0]) {
        Marker::FixArray(n) => usize::from(n),
        Marker::Array16 => usize::from(u16::from_be_bytes(be(input)?)),
        Marker::Array32 => len(u32::from_be_bytes(be(input)?))?,
        _ => return Err(mlua::Error::runtime("handler arguments must be an array")),
    };
    let mut values = MultiValue::with_capacity(n.min(input.len()));
    for _ in 0..n {
        values.push_back(decode_at(lua, input, 1)?);
    }
    Ok(values)
}

fn decode_at(lua: &Lua, input: &mut &[u8], depth: usize) -> mlua::Result<Value> {
    let marker = Marker::from_u8(take(input, 1)?[0]);
    let value = match marker {
        Marker::Null => Value::Nil,
        Marker::True => Value::Boolean(true),
        Marker::False => Value::Boolean(false),
        Marker::FixPos(n) => Value::Integer(i64::from(n)),
        Marker::FixNeg(n) => Value::Integer(i64::from(n)),
        Marker::U8 => Value::Integer(i64::from(be::<1>(input)?[0])),
        Marker::U16 => Value::Integer(i64::from(u16::from_be_bytes(be(input)?))),
        Marker::U32 => Value::Integer(i64::from(u32::from_be_bytes(be(input)?))),
        Marker::U64 => {
            let n = u64::from_be_bytes(be(input)?);
            // Past Lua's integer range the nearest float is the best Lua can hold.
            i64::try_from(n).map_or(Value::Number(n as f64), Value::Integer)
        }
        Marker::I8 => Value::Integer(i64::from(i8::from_be_bytes(be(input)?))),
        Marker::I16 => Value::Integer(i64::from(i16::from_be_bytes(be(input)?))),
        Marker::I32 => Value::Integer(i64::from(i32::from_be_bytes(be(input)?))),
        Marker::I64 => Value::Integer(i64::from_be_bytes(be(input)?)),
        Marker::F32 => Value::Number(f64::from(f32::from_be_bytes(be(input)?))),
        Marker::F64 => Value::Number(f64::from_be_bytes(be(input)?)),
        Marker::FixStr(n) => string(lua, input, usize::from(n))?,
        Marker::Str8 | Marker::Bin8 => {
            let n = be::<1>(input)?[0];
            string(lua, input, usize::from(n))?
        }
        Marker::Str16 | Marker::Bin16 => {
            let n = u16::from_be_bytes(be(input)?);
            string(lua, input, usize::from(n))?
        }
        Marker::Str32 | Marker::Bin32 => {
            let n = u32::from_be_bytes(be(input)?);
            string(lua, input, len(n)?)?
        }
        Marker::FixArray(n) => array(lua, input, usize::from(n), depth + 1)?,
        Marker::Array16 => {
            let n = u16::from_be_bytes(be(input)?);
            array(lua, input, usize::from(n), depth + 1)?
        }
        Marker::Array32 => {
            let n = u32::from_be_bytes(be(input)?);
            array(lua, input, len(n)?, depth + 1)?
        }
        Marker::FixMap(n) => map(lua, input, usize::from(n), depth + 1)?,
        Marker::Map16 => {
            let n = u16::from_be_bytes(be(input)?);
            map(lua, input, usize::from(n), depth + 1)?
        }
        Marker::Map32 => {
            let n = u32::from_be_bytes(be(input)?);
            map(lua, input, len(n)?, depth + 1)?
        }
        other => {
            return Err(mlua::Error::runtime(format!(
                "unsupported MessagePack value {other:?}"
            )));
        }
    };
    Ok(value)
}

fn string(lua: &Lua, input: &mut &[u8], n: usize) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(take(input, n)?)?))
}

fn array(lua: &Lua, input: &mut &[u8], n: usize, depth: usize) -> mlua::Result<Value> {
    nesting(depth)?;
    // Each element takes at least one byte: a bogus length cannot over-allocate.
    let table = lua.create_table_with_capacity(n.min(input.len()), 0)?;
    for i in 1..=n {
        table.raw_set(i, decode_at(lua, input, depth)?)?;
    }
    Ok(Value::Table(table))
}

fn map(lua: &Lua, input: &mut &[u8], n: usize, depth: usize) -> mlua::Result<Value> {
    nesting(depth)?;
    let table = lua.create_table_with_capacity(0, n.min(input.len()))?;
    for _ in 0..n {
        let key = decode_at(lua, input, depth)?;
        let item = decode_at(lua, input, depth)?;
        if !key.is_nil() {
            table.raw_set(key, item)?;
        }
    }
    Ok(Value::Table(table))
}

fn nesting(depth: usize) -> mlua::Result<()> {
    if depth > MAX_DEPTH {
        return Err(mlua::Error::runtime(format!(
            "value nests deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(())
}

fn len(n: u32) -> mlua::Result<usize> {
    usize::try_from(n).map_err(|_| truncated())
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> mlua::Result<&'a [u8]> {
    if input.len() < n {
        return Err(truncated());
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn be<const N: usize>(input: &mut &[u8]) -> mlua::Result<[u8; N]> {
    let mut bytes = [0; N];
    bytes.copy_from_slice(take(input, N)?);
    Ok(bytes)
}

fn truncated() -> mlua::Error {
    mlua::Error::runtime("truncated MessagePack value")
}
