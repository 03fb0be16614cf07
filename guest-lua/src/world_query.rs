//! `world:query` as raw Lua C functions: the query and its iterator, which a
//! mod calls once per entity per tick. As an mlua callback each step paid
//! mlua's call machinery and returned its values through a `MultiValue`.
//!
//! Two forms. `world:query("A", "B")` yields fresh tables. The table form,
//! `world:query{ "A", "B", write = { "A" } }`, yields the same tables for
//! every entity, refilled in place (no allocation per entity), and writes
//! the tables of the `write` components back: each entity's are encoded
//! when the loop moves on, and a page of them goes to the host in the call
//! that fetches the next page, or when the loop ends (the generic `for`'s
//! closing value, so a `break` writes too).
//!
//! The iterator is a C closure whose one upvalue is a full userdata holding
//! the [`Cursor`]: the page of results the host sent, how far the loop has
//! read it and the writes not yet sent; its user values are the reused
//! tables. Its `__gc` drops the page. The same error discipline as in
//! `world_calls.rs` holds: whatever can raise runs protected, and the Lua
//! error is raised only after the Rust values of the frame are dropped.

use std::ffi::{CStr, c_int};

use mlua::ffi::{self, lua_State};

use crate::moonbox::sandbox::ecs::{self as world, QueryPage};
use crate::value;
use crate::world_api::{entity_to_lua, failure_message};
use crate::world_calls::{Raise, error, protected, type_name};

/// Entities fetched per host call while a query is iterated.
const QUERY_PAGE: u32 = 512;

/// Registry name of the cursors' metatable.
const CURSOR_METATABLE: &CStr = c"moonbox.query-cursor";

/// Registry name of the number of queries open in the Lua state: a task
/// is not preempted while it has one open (its cursor lives for one call).
pub const OPEN_QUERIES: &CStr = c"moonbox.open_queries";

/// One query's page of results and how far the loop has read it.
struct Cursor {
    entities: Vec<u64>,
    values: Vec<u8>,
    next: Option<u32>,
    /// Values per entity: the number of components queried.
    width: c_int,
    index: usize,
    offset: usize,
    /// Set while a step runs. A finalizer that runs during a step's
    /// allocations could call the same iterator; it gets an error instead of
    /// a second, aliasing step.
    busy: bool,
    /// The table form: the loop's tables are the cursor's user values.
    reuse: bool,
    /// What the loop writes back, for a write query.
    writer: Option<Writer>,
    /// The query ended or its loop was closed: steps yield nothing.
    done: bool,
    /// Counted in [`OPEN_QUERIES`].
    counted: bool,
}

/// The write-back state of a write query.
struct Writer {
    /// The host's number for the query.
    id: u32,
    /// The positions, among the queried components, of the written ones.
    slots: Vec<c_int>,
    /// Their names, for errors.
    names: Vec<String>,
    /// The entity whose tables the loop body holds, encoded at the next step.
    current: Option<u64>,
    /// Encoded and not yet sent: entities, their values, each value's end.
    entities: Vec<u64>,
    values: Vec<u8>,
    ends: Vec<u32>,
}

impl Cursor {
    fn empty(width: c_int) -> Self {
        Self {
            entities: Vec::new(),
            values: Vec::new(),
            next: None,
            width,
            index: 0,
            offset: 0,
            busy: false,
            reuse: false,
            writer: None,
            done: false,
            counted: false,
        }
    }

    fn load(&mut self, page: QueryPage) {
        self.entities = page.entities;
        self.values = page.values;
        self.next = page.next;
        self.index = 0;
        self.offset = 0;
    }

    /// Drops the page and what is pending: the query is over.
    fn finish(&mut self) {
        let (width, reuse) = (self.width, self.reuse);
        *self = Self::empty(width);
        self.reuse = reuse;
        self.done = true;
    }
}

/// What a query asks for.
struct Spec {
    names: Vec<String>,
    /// Names of the components written back.
    write: Vec<String>,
    /// The table form.
    reuse: bool,
}

/// `world:query("A", "B", ...)` or `world:query{ "A", "B", write = {...} }`:
/// the iterator of a generic `for` (and, for the table form, its state,
/// control and closing values).
///
/// # Safety
/// Called by Lua as a C function.
pub unsafe extern "C-unwind" fn query(state: *mut lua_State) -> c_int {
    // SAFETY: `start` leaves either the results or an error object on top.
    unsafe {
        crate::profiler::begin();
        match start(state) {
            Ok(results) => {
                crate::profiler::done(state, 0);
                results
            }
            Err(Raise) => ffi::lua_error(state),
        }
    }
}

unsafe fn start(state: *mut lua_State) -> Result<c_int, Raise> {
    // SAFETY: the names are read in place; the cursor is made and the
    // closure pushed in protected calls, so nothing here is skipped by a
    // Lua error.
    unsafe {
        let spec = if ffi::lua_type(state, 2) == ffi::LUA_TTABLE {
            table_spec(state)?
        } else {
            Spec {
                names: names(state)?,
                write: Vec::new(),
                reuse: false,
            }
        };
        let width = c_int::try_from(spec.names.len()).unwrap_or(c_int::MAX);
        let tables = if spec.reuse { width } else { 0 };
        protected(state, 0, 1, &mut |state| {
            let cursor =
                ffi::lua_newuserdatauv(state, size_of::<Cursor>(), tables).cast::<Cursor>();
            cursor.write(Cursor::empty(width));
            if ffi::luaL_newmetatable(state, CURSOR_METATABLE.as_ptr()) != 0 {
                ffi::lua_pushcfunction(state, drop_cursor);
                ffi::lua_setfield(state, -2, c"__gc".as_ptr());
                ffi::lua_pushcfunction(state, close_cursor);
                ffi::lua_setfield(state, -2, c"__close".as_ptr());
            }
            ffi::lua_setmetatable(state, -2);
            1
        })?;
        let cursor = ffi::lua_touserdata(state, -1).cast::<Cursor>();
        (*cursor).reuse = spec.reuse;
        (*cursor).counted = true;
        count_open(state, 1);
        if spec.write.is_empty() {
            match world::query(&spec.names, QUERY_PAGE) {
                Ok(page) => (*cursor).load(page),
                Err(e) => {
                    release(state, cursor);
                    return Err(error(state, &failure_message("world:query", e)));
                }
            }
        } else {
            let slots = spec
                .write
                .iter()
                .filter_map(|w| spec.names.iter().position(|n| n == w))
                .filter_map(|slot| c_int::try_from(slot).ok())
                .collect();
            let page = world::query_write(&spec.names, &spec.write, QUERY_PAGE);
            match page {
                Ok((id, page)) => {
                    (*cursor).load(page);
                    (*cursor).writer = Some(Writer {
                        id,
                        slots,
                        names: spec.write,
                        current: None,
                        entities: Vec::new(),
                        values: Vec::new(),
                        ends: Vec::new(),
                    });
                }
                Err(e) => {
                    release(state, cursor);
                    return Err(error(state, &failure_message("world:query", e)));
                }
            }
        }
        if !spec.reuse {
            // The cursor is the protected call's argument and becomes the upvalue.
            protected(state, 1, 1, &mut |state| {
                ffi::lua_pushcclosure(state, step, 1);
                1
            })?;
            return Ok(1);
        }
        // Iterator, state, control, and the cursor as the closing value.
        ffi::lua_pushvalue(state, -1);
        protected(state, 1, 1, &mut |state| {
            ffi::lua_pushcclosure(state, step, 1);
            1
        })?;
        ffi::lua_rotate(state, -2, 1);
        ffi::lua_pushnil(state);
        ffi::lua_pushnil(state);
        ffi::lua_rotate(state, -3, 2);
        Ok(4)
    }
}

/// Argument 2 as a table: its array part names the components, its field
/// `write` (optional) those written back.
unsafe fn table_spec(state: *mut lua_State) -> Result<Spec, Raise> {
    // SAFETY: the field `write` is read in a protected call (its key is a
    // string to make); the rest are raw reads of tables, which neither
    // raise nor allocate, each value popped before the next.
    unsafe {
        ffi::lua_pushvalue(state, 2);
        protected(state, 1, 1, &mut |state| {
            ffi::lua_pushstring(state, c"write".as_ptr());
            ffi::lua_rawget(state, 2);
            1
        })?;
        let list = ffi::lua_gettop(state);
        let count = ffi::lua_rawlen(state, 2);
        if count == 0 {
            return Err(error(state, "world:query: name at least one component"));
        }
        let names = strings(state, 2, count, "component names")?;
        let write = match ffi::lua_type(state, list) {
            ffi::LUA_TNIL => Vec::new(),
            ffi::LUA_TTABLE => strings(state, list, ffi::lua_rawlen(state, list), "`write` names")?,
            _ => {
                let got = type_name(state, list);
                return Err(error(
                    state,
                    &format!("world:query: `write` must be a list of component names, got {got}"),
                ));
            }
        };
        ffi::lua_settop(state, list - 1);
        if let Some(stray) = write.iter().find(|w| !names.contains(w)) {
            return Err(error(
                state,
                &format!("world:query: '{stray}' is in `write` but not queried"),
            ));
        }
        Ok(Spec {
            names,
            write,
            reuse: true,
        })
    }
}

/// Items `1..=count` of the table at `index`, which must be strings of
/// UTF-8 text (`what` names them in errors).
unsafe fn strings(
    state: *mut lua_State,
    index: c_int,
    count: usize,
    what: &str,
) -> Result<Vec<String>, Raise> {
    // SAFETY: as in `table_spec`.
    unsafe {
        let mut out = Vec::with_capacity(count.min(64));
        for i in 1..=count {
            ffi::lua_rawgeti(state, index, i64::try_from(i).unwrap_or(i64::MAX));
            let text = string_at(state, -1);
            ffi::lua_settop(state, -2);
            match text {
                Some(text) => out.push(text),
                None => {
                    return Err(error(
                        state,
                        &format!("world:query: {what} must be strings of UTF-8 text"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The string at `index` as UTF-8 text; `None` for anything else.
unsafe fn string_at(state: *mut lua_State, index: c_int) -> Option<String> {
    // SAFETY: `lua_tolstring` on a string neither converts nor allocates.
    unsafe {
        if ffi::lua_type(state, index) != ffi::LUA_TSTRING {
            return None;
        }
        let mut len = 0usize;
        let data = ffi::lua_tolstring(state, index, &mut len);
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
        std::str::from_utf8(bytes).ok().map(str::to_owned)
    }
}

/// Arguments 2.. : the component names, strings of UTF-8 text.
unsafe fn names(state: *mut lua_State) -> Result<Vec<String>, Raise> {
    // SAFETY: reading argument slots does not raise.
    unsafe {
        let top = ffi::lua_gettop(state);
        if top < 2 {
            return Err(error(state, "world:query: name at least one component"));
        }
        let mut names = Vec::with_capacity(usize::try_from(top - 1).unwrap_or(0));
        for index in 2..=top {
            if ffi::lua_type(state, index) != ffi::LUA_TSTRING {
                let got = type_name(state, index);
                return Err(error(
                    state,
                    &format!("world:query: component names must be strings, got {got}"),
                ));
            }
            match string_at(state, index) {
                Some(name) => names.push(name),
                None => {
                    return Err(error(
                        state,
                        "world:query: component names must be UTF-8 text",
                    ));
                }
            }
        }
        Ok(names)
    }
}

/// One step of the iterator: the next entity and its values, or nothing
/// when the query is done.
unsafe extern "C-unwind" fn step(state: *mut lua_State) -> c_int {
    // SAFETY: upvalue 1 is the cursor `start` made; the closure keeps it alive.
    unsafe {
        let cursor = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<Cursor>();
        if (*cursor).busy {
            let _ = error(state, "world:query: the iterator was called while it ran");
            ffi::lua_error(state);
        }
        (*cursor).busy = true;
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        let holder = ffi::lua_gettop(state);
        crate::profiler::begin();
        let stepped = advance(state, cursor, holder);
        (*cursor).busy = false;
        match stepped {
            Ok(results) => {
                crate::profiler::done(state, 0);
                results
            }
            Err(Raise) => ffi::lua_error(state),
        }
    }
}

unsafe fn advance(
    state: *mut lua_State,
    cursor: *mut Cursor,
    holder: c_int,
) -> Result<c_int, Raise> {
    // SAFETY: `busy` guarantees this is the only step using the cursor,
    // which sits at stack index `holder`. The values are pushed in a
    // protected call that reads the page through a raw pointer and owns
    // nothing.
    unsafe {
        let c = &mut *cursor;
        if c.done {
            return Ok(0);
        }
        if c.index == c.entities.len() {
            encode_current(state, cursor, holder)?;
            let more = c.next.take();
            let fetched = match (&mut c.writer, more) {
                (Some(_), _) => sync(state, cursor, if more.is_some() { QUERY_PAGE } else { 0 })?,
                (None, Some(next)) => match world::query_next(next, QUERY_PAGE) {
                    Ok(page) => Some(page),
                    Err(e) => return Err(error(state, &failure_message("world:query", e))),
                },
                (None, None) => None,
            };
            match fetched {
                Some(page) if more.is_some() => c.load(page),
                _ => {
                    // Done: free the last page now, not when the collector,
                    // which cannot see its size, gets to the cursor.
                    release(state, cursor);
                    (*cursor).finish();
                    return Ok(0);
                }
            }
            if c.entities.is_empty() {
                release(state, cursor);
                (*cursor).finish();
                return Ok(0);
            }
        }
        let bits = c.entities[c.index];
        let entity = entity_to_lua(bits);
        let width = c.width;
        let reuse = c.reuse;
        let values = &c.values[c.offset..];
        let written: &[c_int] = c.writer.as_ref().map_or(&[], |w| &w.slots);
        let mut not_table = None;
        let mut used = None;
        // The last entity's writes are encoded in the same protected call.
        let current = take_current(cursor);
        let mut failure = None;
        let called = protected(state, 1, width + 1, &mut |state| {
            if let Some(current) = &current
                && let Err(failed) = encode_slots(state, current)
            {
                failure = Some(failed);
                return 0;
            }
            ffi::luaL_checkstack(state, width + 2, c"too many values".as_ptr());
            ffi::lua_pushinteger(state, entity);
            used = if reuse {
                refill(state, values, width, written, &mut not_table)
            } else {
                value::push_raw_values(state, values, width)
            };
            // On malformed input, return nothing: the call pads with nils.
            if used.is_some() { width + 1 } else { 0 }
        });
        match current {
            Some(current) => settle(state, current, called, failure)?,
            None => called?,
        }
        let Some(used) = used else {
            ffi::lua_settop(state, -(width + 2));
            if let (Some(slot), Some(writer)) = (not_table, &c.writer) {
                let nth = writer.slots.iter().position(|&s| s == slot);
                let name = nth
                    .and_then(|n| writer.names.get(n))
                    .map_or("?", String::as_str);
                return Err(error(
                    state,
                    &format!(
                        "world:query: component '{name}' is not a table, so the loop cannot write it back; use world:set"
                    ),
                ));
            }
            return Err(error(state, "world:query: the host sent a malformed value"));
        };
        c.offset += used;
        c.index += 1;
        if let Some(writer) = &mut c.writer {
            writer.current = Some(bits);
        }
        Ok(width + 1)
    }
}

/// Inside a protected call whose argument (index 2) is the cursor: pushes
/// the `width` values at the front of `values`, each map into the cursor's
/// reused table of its slot. Returns the bytes read; `None` if malformed,
/// or if a `written` slot (0-based) holds a value that is not a map, which
/// `not_table` then names.
unsafe fn refill(
    state: *mut lua_State,
    values: &[u8],
    width: c_int,
    written: &[c_int],
    not_table: &mut Option<c_int>,
) -> Option<usize> {
    // SAFETY: stack space for `width` values and one more was checked.
    unsafe {
        let mut rest = values;
        for slot in 1..=width {
            if ffi::lua_getiuservalue(state, 2, slot) != ffi::LUA_TTABLE {
                ffi::lua_settop(state, -2);
                ffi::lua_createtable(state, 0, 4);
                ffi::lua_pushvalue(state, -1);
                ffi::lua_setiuservalue(state, 2, slot);
            }
            let table = ffi::lua_gettop(state);
            if !value::fill_raw(state, table, &mut rest)? {
                if written.contains(&(slot - 1)) {
                    *not_table = Some(slot - 1);
                    return None;
                }
                // Not a map: the value itself, in place of the table.
                ffi::lua_remove(state, table);
            }
        }
        Some(values.len() - rest.len())
    }
}

/// The entity the loop body just had, whose written tables are to be
/// encoded, and where the writer's buffers stood before.
struct Current {
    writer: *mut Writer,
    entity: u64,
    marks: (usize, usize),
}

/// Takes the current entity of a write query, if the loop body had one.
unsafe fn take_current(cursor: *mut Cursor) -> Option<Current> {
    // SAFETY: the caller holds the cursor (`busy`).
    unsafe {
        let writer = (*cursor).writer.as_mut()?;
        let entity = writer.current.take()?;
        let marks = (writer.values.len(), writer.ends.len());
        Some(Current {
            writer,
            entity,
            marks,
        })
    }
}

/// Inside a protected call whose argument (index 2) is the cursor: appends
/// the written tables to the writer's buffers. On an unencodable value, the
/// position of its component among the written ones, and why.
unsafe fn encode_slots(state: *mut lua_State, current: &Current) -> Result<(), (usize, String)> {
    // SAFETY: the writer lives in the cursor, which the caller holds; a Lua
    // error here (no stack space) unwinds frames that own nothing.
    unsafe {
        let w = &mut *current.writer;
        for &slot in &w.slots {
            ffi::lua_getiuservalue(state, 2, slot + 1);
            if let Err(reason) = value::encode_raw(state, -1, &mut w.values) {
                return Err((w.ends.len() - current.marks.1, reason));
            }
            ffi::lua_settop(state, -2);
            w.ends
                .push(u32::try_from(w.values.len()).unwrap_or(u32::MAX));
        }
        Ok(())
    }
}

/// After the protected call that ran [`encode_slots`]: keeps the entity's
/// writes, or cuts the buffers back and raises.
unsafe fn settle(
    state: *mut lua_State,
    current: Current,
    called: Result<(), Raise>,
    failure: Option<(usize, String)>,
) -> Result<(), Raise> {
    // SAFETY: as in `take_current`.
    unsafe {
        let w = &mut *current.writer;
        if called.is_err() || failure.is_some() {
            w.values.truncate(current.marks.0);
            w.ends.truncate(current.marks.1);
        }
        called?;
        if let Some((nth, reason)) = failure {
            let component = w.names.get(nth).map_or("?", String::as_str);
            return Err(error(
                state,
                &format!("world:query: invalid value for component '{component}': {reason}"),
            ));
        }
        w.entities.push(current.entity);
        Ok(())
    }
}

/// Encodes the written tables of the entity the loop body just had, if
/// any, into the cursor's pending writes (in a protected call of its own).
unsafe fn encode_current(
    state: *mut lua_State,
    cursor: *mut Cursor,
    holder: c_int,
) -> Result<(), Raise> {
    // SAFETY: see `encode_slots` and `settle`.
    unsafe {
        let Some(current) = take_current(cursor) else {
            return Ok(());
        };
        let mut failure = None;
        ffi::lua_pushvalue(state, holder);
        let called = protected(state, 1, 0, &mut |state| {
            failure = encode_slots(state, &current).err();
            0
        });
        settle(state, current, called, failure)
    }
}

/// Sends the pending writes and fetches the next page (`max` 0: none).
unsafe fn sync(
    state: *mut lua_State,
    cursor: *mut Cursor,
    max: u32,
) -> Result<Option<QueryPage>, Raise> {
    // SAFETY: the buffers are taken out of the cursor for the host call and
    // put back (emptied, their capacity kept) before anything can raise.
    unsafe {
        let Some(writer) = (*cursor).writer.as_mut() else {
            return Ok(None);
        };
        if max == 0 && writer.entities.is_empty() {
            return Ok(None);
        }
        let result = world::query_write_next(
            writer.id,
            &writer.entities,
            &writer.values,
            &writer.ends,
            max,
        );
        writer.entities.clear();
        writer.values.clear();
        writer.ends.clear();
        match result {
            Ok(page) => Ok(Some(page)),
            Err(e) => Err(error(state, &failure_message("world:query", e))),
        }
    }
}

/// `__close` of a cursor, when the `for` loop of a table-form query ends
/// (normally, by `break`, or by an error): sends what the loop wrote. After
/// an error, the entity whose body failed is not written.
unsafe extern "C-unwind" fn close_cursor(state: *mut lua_State) -> c_int {
    // SAFETY: the metatable is only ever set on cursors, written by `start`.
    unsafe {
        let cursor = ffi::lua_touserdata(state, 1).cast::<Cursor>();
        if cursor.is_null() || (*cursor).done {
            return 0;
        }
        if (*cursor).busy {
            let _ = error(
                state,
                "world:query: the loop was closed while its iterator ran",
            );
            ffi::lua_error(state);
        }
        (*cursor).busy = true;
        if ffi::lua_isnil(state, 2) == 0
            && let Some(writer) = (*cursor).writer.as_mut()
        {
            writer.current = None;
        }
        let closed =
            encode_current(state, cursor, 1).and_then(|()| sync(state, cursor, 0).map(drop));
        release(state, cursor);
        (*cursor).finish();
        (*cursor).busy = false;
        match closed {
            Ok(()) => 0,
            Err(Raise) => ffi::lua_error(state),
        }
    }
}

/// `__gc` of a cursor: drops its page. Leaves an empty cursor behind, so a
/// second call (a resurrected userdata) drops nothing twice.
unsafe extern "C-unwind" fn drop_cursor(state: *mut lua_State) -> c_int {
    // SAFETY: the metatable is only ever set on cursors, written by `start`.
    unsafe {
        let cursor = ffi::lua_touserdata(state, 1).cast::<Cursor>();
        if !cursor.is_null() {
            release(state, cursor);
            drop(cursor.replace(Cursor::empty(0)));
        }
    }
    0
}

/// Uncounts an open cursor from [`OPEN_QUERIES`] (once).
///
/// # Safety
/// `cursor` points at a live cursor of this state.
unsafe fn release(state: *mut lua_State, cursor: *mut Cursor) {
    // SAFETY: as documented.
    unsafe {
        if (*cursor).counted {
            (*cursor).counted = false;
            count_open(state, -1);
        }
    }
}

/// Adds `delta` to [`OPEN_QUERIES`]. The key exists from install on, so
/// setting it neither allocates nor raises.
unsafe fn count_open(state: *mut lua_State, delta: i64) {
    // SAFETY: registry reads and writes of an existing integer field.
    unsafe {
        ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, OPEN_QUERIES.as_ptr());
        let open = ffi::lua_tointeger(state, -1);
        ffi::lua_settop(state, -2);
        ffi::lua_pushinteger(state, open.saturating_add(delta).max(0));
        ffi::lua_setfield(state, ffi::LUA_REGISTRYINDEX, OPEN_QUERIES.as_ptr());
    }
}
