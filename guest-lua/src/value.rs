//! Component values across the boundary: Lua values to and from MessagePack.
//!
//! Tables whose keys are exactly `1..n` become arrays, other tables maps
//! (string or integer keys), an empty table an empty array. Integers and
//! floats stay distinct. Functions, coroutines, userdata, non-finite numbers
//! and cyclic or too deep tables are refused with an error naming the problem.
//!
//! Both directions use the raw Lua API inside one protected call per value
//! (or per entity): through mlua's safe API every table, string and field is
//! a protected call of its own, which in wasm (setjmp through the exception
//! proposal) dominated the cost of every world call.

use mlua::{Lua, MultiValue, Value, ffi};

/// Deepest nesting of tables in one value (a cycle also ends here).
pub const MAX_DEPTH: usize = 32;

/// An empty buffer to encode one component value into. Most values (a few
/// numbers under short names) fit in it: growing an empty `Vec` from 8
/// bytes cost the demo's `movement` mod 6% of its fuel.
pub fn value_buffer() -> Vec<u8> {
    Vec::with_capacity(64)
}

/// Appends `value` to `out` as one MessagePack value.
pub fn encode(lua: &Lua, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    let mut failure: Option<String> = None;
    // SAFETY: the closure runs inside mlua's protected call with the value
    // on top of the stack. It reads values and writes to `out` and
    // `failure`, both owned by this frame; the Lua functions used here raise
    // only for lack of stack space, which `luaL_checkstack` checks first.
    let called = unsafe {
        lua.exec_raw::<()>(value.clone(), |state| {
            if let Err(reason) = raw_encode::value(state, -1, out, 0) {
                failure = Some(reason);
            }
        })
    };
    called.map_err(|e| e.to_string())?;
    failure.map_or(Ok(()), Err)
}

fn count(n: usize) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| "table too large".to_owned())
}

fn io(error: impl std::fmt::Display) -> String {
    format!("encoding failed: {error}")
}

/// Reads one MessagePack value as a Lua value.
pub fn decode(lua: &Lua, input: &[u8]) -> mlua::Result<Value> {
    let (mut values, _) = decode_values(lua, input, 1)?;
    Ok(values.pop_front().unwrap_or(Value::Nil))
}

/// Reads a MessagePack array as a list of Lua values (nils kept in place).
pub fn decode_args(lua: &Lua, input: &[u8]) -> mlua::Result<MultiValue> {
    let mut rest = input;
    let n = raw::array_len(&mut rest)
        .ok_or_else(|| mlua::Error::runtime("handler arguments must be an array"))?;
    Ok(decode_values(lua, rest, n)?.0)
}

/// Decodes `count` consecutive values from the front of `input` in one
/// protected call, and says how many bytes they took.
fn decode_values(lua: &Lua, input: &[u8], count: usize) -> mlua::Result<(MultiValue, usize)> {
    let consumed = std::cell::Cell::new(0usize);
    // SAFETY: the closure runs inside mlua's protected call on the locked
    // state. It only pushes values and sets fields; a Lua error (out of
    // memory, malformed input) longjmps out of frames that own nothing
    // needing a destructor (slices, integers and a `Cell`).
    let values = unsafe {
        lua.exec_raw::<MultiValue>((), |state| {
            let mut rest = input;
            ffi::luaL_checkstack(state, count_to_int(count), c"too many values".as_ptr());
            for _ in 0..count {
                if !raw::push(state, &mut rest, 0) {
                    ffi::luaL_error(state, c"malformed or too deep MessagePack value".as_ptr());
                }
            }
            consumed.set(input.len() - rest.len());
        })?
    };
    Ok((values, consumed.get()))
}

/// Pushes the MessagePack value at the front of `input` onto the stack with
/// the raw API; `false` for malformed input.
///
/// # Safety
/// `state` must be a Lua state inside a protected call: lack of memory
/// raises a Lua error, which unwinds the caller's frames.
pub unsafe fn push_raw(state: *mut ffi::lua_State, input: &[u8]) -> bool {
    let mut rest = input;
    // SAFETY: as documented; `push` checks stack space for nested values.
    unsafe {
        ffi::luaL_checkstack(state, 1, c"no stack space for a value".as_ptr());
        raw::push(state, &mut rest, 0)
    }
}

/// Pushes the `count` consecutive MessagePack values at the front of `input`
/// and says how many bytes they took; `None` for malformed input.
///
/// # Safety
/// As for [`push_raw`], and the caller has checked stack space for `count`
/// values.
pub unsafe fn push_raw_values(
    state: *mut ffi::lua_State,
    input: &[u8],
    count: std::ffi::c_int,
) -> Option<usize> {
    let mut rest = input;
    for _ in 0..count {
        // SAFETY: as documented.
        if !unsafe { raw::push(state, &mut rest, 0) } {
            return None;
        }
    }
    Some(input.len() - rest.len())
}

/// Decodes the MessagePack value at the front of `input` into the table at
/// absolute stack index `table` when it is a map: its fields are set in
/// place, so a table reused from entity to entity allocates nothing for the
/// fields it already has, and fields the value lacks are cleared. Any other
/// value is pushed as [`push_raw`] does. `Some(true)`: the table was
/// filled; `Some(false)`: a value was pushed; `None`: malformed input.
/// `input` is advanced past the value.
///
/// # Safety
/// As for [`push_raw`].
pub unsafe fn fill_raw(
    state: *mut ffi::lua_State,
    table: std::ffi::c_int,
    input: &mut &[u8],
) -> Option<bool> {
    // SAFETY: as documented.
    unsafe {
        ffi::luaL_checkstack(state, 1, c"no stack space for a value".as_ptr());
        raw::fill(state, table, input)
    }
}

/// Appends the Lua value at stack `index` to `out` as MessagePack.
///
/// # Safety
/// As for [`push_raw`]; the value is only read.
pub unsafe fn encode_raw(
    state: *mut ffi::lua_State,
    index: std::ffi::c_int,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    // SAFETY: as documented.
    unsafe { raw_encode::value(state, index, out, 0) }
}

/// The name of Lua type tag `kind` ("nil", "table", ...).
///
/// # Safety
/// `state` must be a valid Lua state.
pub unsafe fn type_name(state: *mut ffi::lua_State, kind: std::ffi::c_int) -> String {
    // SAFETY: `lua_typename` returns a static C string for any type tag.
    unsafe { std::ffi::CStr::from_ptr(ffi::lua_typename(state, kind)) }
        .to_string_lossy()
        .into_owned()
}

fn count_to_int(n: usize) -> std::ffi::c_int {
    std::ffi::c_int::try_from(n).unwrap_or(std::ffi::c_int::MAX)
}

/// The raw-API decoder behind [`decode_values`]. Every function returns
/// `false` for malformed input instead of raising, so the caller raises once.
mod raw {
    use mlua::ffi::{self, lua_State};
    use rmp::Marker;

    use super::{MAX_DEPTH, count_to_int};

    fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if input.len() < n {
            return None;
        }
        let (head, rest) = input.split_at(n);
        *input = rest;
        Some(head)
    }

    fn be<const N: usize>(input: &mut &[u8]) -> Option<[u8; N]> {
        take(input, N)?.try_into().ok()
    }

    fn len32(n: u32) -> Option<usize> {
        usize::try_from(n).ok()
    }

    /// Reads an array header: the number of elements that follow.
    pub(super) fn array_len(input: &mut &[u8]) -> Option<usize> {
        let &[byte] = take(input, 1)? else {
            return None;
        };
        match Marker::from_u8(byte) {
            Marker::FixArray(n) => Some(usize::from(n)),
            Marker::Array16 => Some(usize::from(u16::from_be_bytes(be(input)?))),
            Marker::Array32 => len32(u32::from_be_bytes(be(input)?)),
            _ => None,
        }
    }

    /// Reads a map header: the number of pairs that follow.
    fn map_len(input: &mut &[u8]) -> Option<usize> {
        let &[byte] = take(input, 1)? else {
            return None;
        };
        match Marker::from_u8(byte) {
            Marker::FixMap(n) => Some(usize::from(n)),
            Marker::Map16 => Some(usize::from(u16::from_be_bytes(be(input)?))),
            Marker::Map32 => len32(u32::from_be_bytes(be(input)?)),
            _ => None,
        }
    }

    /// See [`super::fill_raw`].
    pub(super) unsafe fn fill(
        state: *mut lua_State,
        table: std::ffi::c_int,
        input: &mut &[u8],
    ) -> Option<bool> {
        let mut peek = *input;
        let Some(n) = map_len(&mut peek) else {
            // SAFETY: as for `push`.
            return unsafe { push(state, input, 0) }.then_some(false);
        };
        *input = peek;
        let pairs = *input;
        // SAFETY: `table` is an absolute index of a table on the protected
        // stack; stack space is checked by `set_pairs`; assigning nil to a
        // field that exists is allowed while `lua_next` traverses.
        unsafe {
            if !set_pairs(state, table, input, n, 1) {
                return None;
            }
            // A field the value lacks (the last entity's, or one the loop
            // added) must go: rare, so the common case only counts fields.
            let mut fields = 0usize;
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, table) != 0 {
                fields += 1;
                ffi::lua_settop(state, -2);
            }
            if fields > n {
                ffi::lua_pushnil(state);
                while ffi::lua_next(state, table) != 0 {
                    ffi::lua_settop(state, -2);
                    ffi::lua_pushvalue(state, -1);
                    ffi::lua_pushnil(state);
                    ffi::lua_rawset(state, table);
                }
                let mut again = pairs;
                if !set_pairs(state, table, &mut again, n, 1) {
                    return None;
                }
            }
        }
        Some(true)
    }

    /// Sets `n` key-value pairs decoded from `input` into the table at
    /// absolute index `table`; values nest at `depth`.
    unsafe fn set_pairs(
        state: *mut lua_State,
        table: std::ffi::c_int,
        input: &mut &[u8],
        n: usize,
        depth: usize,
    ) -> bool {
        // SAFETY: see `push`.
        unsafe {
            ffi::luaL_checkstack(state, 3, c"value nests too deeply".as_ptr());
            for _ in 0..n {
                if !push(state, input, depth) || !push(state, input, depth) {
                    return false;
                }
                // A nil or NaN key cannot index a table: the pair is dropped.
                let key_ok = match ffi::lua_type(state, -2) {
                    ffi::LUA_TNIL => false,
                    ffi::LUA_TNUMBER => {
                        let k = ffi::lua_tonumber(state, -2);
                        !k.is_nan()
                    }
                    _ => true,
                };
                if key_ok {
                    ffi::lua_rawset(state, table);
                } else {
                    ffi::lua_settop(state, -3);
                }
            }
        }
        true
    }

    /// Pushes one value decoded from the front of `input`.
    pub(super) unsafe fn push(state: *mut lua_State, input: &mut &[u8], depth: usize) -> bool {
        let Some(&[byte]) = take(input, 1) else {
            return false;
        };
        // Reads a big-endian number of type `$t`, or gives up on short input.
        macro_rules! read {
            ($t:ty) => {
                match be(input) {
                    Some(bytes) => <$t>::from_be_bytes(bytes),
                    None => return false,
                }
            };
        }
        // SAFETY (for the calls below): `state` is the protected state the
        // caller got from mlua, with stack space checked at each level.
        unsafe {
            match Marker::from_u8(byte) {
                Marker::Null => ffi::lua_pushnil(state),
                Marker::True => ffi::lua_pushboolean(state, 1),
                Marker::False => ffi::lua_pushboolean(state, 0),
                Marker::FixPos(n) => ffi::lua_pushinteger(state, i64::from(n)),
                Marker::FixNeg(n) => ffi::lua_pushinteger(state, i64::from(n)),
                Marker::U8 => ffi::lua_pushinteger(state, i64::from(read!(u8))),
                Marker::U16 => ffi::lua_pushinteger(state, i64::from(read!(u16))),
                Marker::U32 => ffi::lua_pushinteger(state, i64::from(read!(u32))),
                Marker::U64 => {
                    let n = read!(u64);
                    match i64::try_from(n) {
                        Ok(i) => ffi::lua_pushinteger(state, i),
                        // Past Lua's integer range the nearest float is the best Lua can hold.
                        Err(_) => ffi::lua_pushnumber(state, n as f64),
                    }
                }
                Marker::I8 => ffi::lua_pushinteger(state, i64::from(read!(i8))),
                Marker::I16 => ffi::lua_pushinteger(state, i64::from(read!(i16))),
                Marker::I32 => ffi::lua_pushinteger(state, i64::from(read!(i32))),
                Marker::I64 => ffi::lua_pushinteger(state, read!(i64)),
                Marker::F32 => ffi::lua_pushnumber(state, f64::from(read!(f32))),
                Marker::F64 => ffi::lua_pushnumber(state, read!(f64)),
                Marker::FixStr(n) => return push_bytes(state, input, usize::from(n)),
                Marker::Str8 | Marker::Bin8 => {
                    let n = usize::from(read!(u8));
                    return push_bytes(state, input, n);
                }
                Marker::Str16 | Marker::Bin16 => {
                    let n = usize::from(read!(u16));
                    return push_bytes(state, input, n);
                }
                Marker::Str32 | Marker::Bin32 => match len32(read!(u32)) {
                    Some(n) => return push_bytes(state, input, n),
                    None => return false,
                },
                Marker::FixArray(n) => return push_array(state, input, usize::from(n), depth + 1),
                Marker::Array16 => {
                    let n = usize::from(read!(u16));
                    return push_array(state, input, n, depth + 1);
                }
                Marker::Array32 => match len32(read!(u32)) {
                    Some(n) => return push_array(state, input, n, depth + 1),
                    None => return false,
                },
                Marker::FixMap(n) => return push_map(state, input, usize::from(n), depth + 1),
                Marker::Map16 => {
                    let n = usize::from(read!(u16));
                    return push_map(state, input, n, depth + 1);
                }
                Marker::Map32 => match len32(read!(u32)) {
                    Some(n) => return push_map(state, input, n, depth + 1),
                    None => return false,
                },
                _ => return false,
            }
        }
        true
    }

    unsafe fn push_bytes(state: *mut lua_State, input: &mut &[u8], n: usize) -> bool {
        let Some(bytes) = take(input, n) else {
            return false;
        };
        // SAFETY: `bytes` is valid for `n` bytes; Lua copies them.
        unsafe { ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len()) };
        true
    }

    unsafe fn push_array(state: *mut lua_State, input: &mut &[u8], n: usize, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        // SAFETY: see `push`. Each element takes at least one byte, so a
        // bogus length cannot over-allocate.
        unsafe {
            ffi::luaL_checkstack(state, 2, c"value nests too deeply".as_ptr());
            ffi::lua_createtable(state, count_to_int(n.min(input.len())), 0);
            for i in 1..=n {
                if !push(state, input, depth) {
                    return false;
                }
                ffi::lua_rawseti(state, -2, i64::try_from(i).unwrap_or(i64::MAX));
            }
        }
        true
    }

    unsafe fn push_map(state: *mut lua_State, input: &mut &[u8], n: usize, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        // SAFETY: see `push`.
        unsafe {
            ffi::luaL_checkstack(state, 1, c"value nests too deeply".as_ptr());
            ffi::lua_createtable(state, 0, count_to_int(n.min(input.len())));
            let table = ffi::lua_gettop(state);
            set_pairs(state, table, input, n, depth)
        }
    }
}

/// The raw-API encoder behind [`encode`].
mod raw_encode {
    use mlua::ffi::{self, lua_State};
    use rmp::encode as write;

    use super::{MAX_DEPTH, count, io, type_name};

    unsafe fn table(
        state: *mut lua_State,
        index: i32,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "tables nest deeper than {MAX_DEPTH} levels (or refer to themselves)"
            ));
        }
        // SAFETY: `index` is an absolute index of a table on the protected
        // stack; stack space is checked before pushing.
        unsafe {
            ffi::luaL_checkstack(state, 4, c"value nests too deeply".as_ptr());
            let len = ffi::lua_rawlen(state, index);
            if len == 0 {
                return map(state, index, out, depth);
            }
            let mut pairs = 0usize;
            let mut is_array = true;
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, index) != 0 {
                pairs += 1;
                // `lua_isinteger` first: `lua_tointegerx` of a string key
                // would try to parse it as a number (strtod and all).
                if is_array {
                    is_array = ffi::lua_isinteger(state, -2) != 0 && {
                        let key = ffi::lua_tointegerx(state, -2, std::ptr::null_mut());
                        key >= 1 && usize::try_from(key).is_ok_and(|k| k <= len)
                    };
                }
                ffi::lua_settop(state, -2);
            }
            if is_array && pairs == len {
                write::write_array_len(out, count(len)?).map_err(io)?;
                for i in 1..=len {
                    ffi::lua_rawgeti(state, index, i64::try_from(i).unwrap_or(i64::MAX));
                    let item = value(state, -1, out, depth);
                    ffi::lua_settop(state, -2);
                    item?;
                }
                return Ok(());
            }
            write::write_map_len(out, count(pairs)?).map_err(io)?;
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, index) != 0 {
                pair(state, out, depth)?;
            }
        }
        Ok(())
    }

    /// A table with no array items (`rawlen` 0): a map, or an empty array
    /// if it has no pairs. One traversal writes the pairs and counts them;
    /// the header is put in front after.
    unsafe fn map(
        state: *mut lua_State,
        index: i32,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), String> {
        let header = out.len();
        out.push(0);
        let mut pairs = 0usize;
        // SAFETY: as in `table`, which checked stack space.
        unsafe {
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, index) != 0 {
                pair(state, out, depth)?;
                pairs += 1;
            }
        }
        let mut front = Vec::new();
        if pairs == 0 {
            write::write_array_len(&mut front, 0).map_err(io)?;
        } else {
            write::write_map_len(&mut front, count(pairs)?).map_err(io)?;
        }
        if let [byte] = front.as_slice() {
            out[header] = *byte;
        } else {
            out.splice(header..=header, front);
        }
        Ok(())
    }

    /// Writes the key and value `lua_next` left on the stack, and pops the value.
    unsafe fn pair(state: *mut lua_State, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
        // SAFETY: the key is at -2 and the value at -1.
        unsafe {
            let key_type = ffi::lua_type(state, -2);
            let is_integer = ffi::lua_isinteger(state, -2) != 0;
            if key_type != ffi::LUA_TSTRING && !is_integer {
                return Err(format!(
                    "table keys must be strings or integers, got a {}",
                    type_name(state, key_type)
                ));
            }
            value(state, -2, out, depth)?;
            value(state, -1, out, depth)?;
            ffi::lua_settop(state, -2);
        }
        Ok(())
    }

    pub(super) unsafe fn value(
        state: *mut lua_State,
        index: i32,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), String> {
        // SAFETY: as in `table`; strings are read without converting
        // numbers in place, which would confuse `lua_next`.
        unsafe {
            let index = ffi::lua_absindex(state, index);
            match ffi::lua_type(state, index) {
                ffi::LUA_TNIL => write::write_nil(out).map_err(io)?,
                ffi::LUA_TBOOLEAN => {
                    write::write_bool(out, ffi::lua_toboolean(state, index) != 0).map_err(io)?;
                }
                ffi::LUA_TNUMBER => {
                    if ffi::lua_isinteger(state, index) != 0 {
                        write::write_sint(
                            out,
                            ffi::lua_tointegerx(state, index, std::ptr::null_mut()),
                        )
                        .map_err(io)?;
                    } else {
                        let n = ffi::lua_tonumberx(state, index, std::ptr::null_mut());
                        if !n.is_finite() {
                            return Err(format!("numbers must be finite, got {n}"));
                        }
                        write::write_f64(out, n).map_err(io)?;
                    }
                }
                ffi::LUA_TSTRING => {
                    let mut len = 0usize;
                    let data = ffi::lua_tolstring(state, index, &mut len);
                    let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
                    match std::str::from_utf8(bytes) {
                        Ok(text) => write::write_str(out, text).map_err(io)?,
                        Err(_) => write::write_bin(out, bytes).map_err(io)?,
                    }
                }
                ffi::LUA_TTABLE => table(state, index, out, depth + 1)?,
                other => return Err(format!("a {} cannot be stored", type_name(state, other))),
            }
        }
        Ok(())
    }
}
