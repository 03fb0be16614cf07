//! `world:query` as raw Lua C functions: the query and its iterator, which a
//! mod calls once per entity per tick. As an mlua callback each step paid
//! mlua's call machinery and returned its values through a `MultiValue`.
//!
//! The iterator is a C closure whose one upvalue is a full userdata holding
//! the [`Cursor`]: the page of results the host sent and how far the loop
//! has read it. Its `__gc` drops the page. The same error discipline as in
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
        }
    }

    fn load(&mut self, page: QueryPage) {
        self.entities = page.entities;
        self.values = page.values;
        self.next = page.next;
        self.index = 0;
        self.offset = 0;
    }
}

/// `world:query("A", "B", ...)`: the iterator of a generic `for`.
///
/// # Safety
/// Called by Lua as a C function.
pub unsafe extern "C-unwind" fn query(state: *mut lua_State) -> c_int {
    // SAFETY: `start` leaves either the iterator or an error object on top.
    unsafe {
        match start(state) {
            Ok(()) => 1,
            Err(Raise) => ffi::lua_error(state),
        }
    }
}

unsafe fn start(state: *mut lua_State) -> Result<(), Raise> {
    // SAFETY: the names are read in place; the cursor is made and the
    // closure pushed in protected calls, so nothing here is skipped by a
    // Lua error.
    unsafe {
        let names = names(state)?;
        let width = c_int::try_from(names.len()).unwrap_or(c_int::MAX);
        protected(state, 0, 1, &mut |state| {
            let cursor = ffi::lua_newuserdatauv(state, size_of::<Cursor>(), 0).cast::<Cursor>();
            cursor.write(Cursor::empty(width));
            if ffi::luaL_newmetatable(state, CURSOR_METATABLE.as_ptr()) != 0 {
                ffi::lua_pushcfunction(state, drop_cursor);
                ffi::lua_setfield(state, -2, c"__gc".as_ptr());
            }
            ffi::lua_setmetatable(state, -2);
            1
        })?;
        let cursor = ffi::lua_touserdata(state, -1).cast::<Cursor>();
        match world::query(&names, QUERY_PAGE) {
            Ok(page) => (*cursor).load(page),
            Err(e) => return Err(error(state, &failure_message("query", e))),
        }
        // The cursor is the protected call's argument and becomes the upvalue.
        protected(state, 1, 1, &mut |state| {
            ffi::lua_pushcclosure(state, step, 1);
            1
        })
    }
}

/// Arguments 2.. : the component names, strings of UTF-8 text.
unsafe fn names(state: *mut lua_State) -> Result<Vec<String>, Raise> {
    // SAFETY: reading argument slots does not raise; `lua_tolstring` on a
    // string neither converts nor allocates.
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
            let mut len = 0usize;
            let data = ffi::lua_tolstring(state, index, &mut len);
            let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
            match std::str::from_utf8(bytes) {
                Ok(name) => names.push(name.to_owned()),
                Err(_) => {
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
        let stepped = advance(state, cursor);
        (*cursor).busy = false;
        match stepped {
            Ok(results) => results,
            Err(Raise) => ffi::lua_error(state),
        }
    }
}

unsafe fn advance(state: *mut lua_State, cursor: *mut Cursor) -> Result<c_int, Raise> {
    // SAFETY: `busy` guarantees this is the only step using the cursor.
    // The values are pushed in a protected call that reads the page through
    // a raw pointer and owns nothing.
    unsafe {
        let c = &mut *cursor;
        if c.index == c.entities.len() {
            let Some(next) = c.next.take() else {
                // Done: free the last page now, not when the collector,
                // which cannot see its size, gets to the cursor.
                *c = Cursor::empty(c.width);
                return Ok(0);
            };
            match world::query_next(next, QUERY_PAGE) {
                Ok(page) => c.load(page),
                Err(e) => return Err(error(state, &failure_message("query", e))),
            }
            if c.entities.is_empty() {
                return Ok(0);
            }
        }
        let entity = entity_to_lua(c.entities[c.index]);
        let width = c.width;
        let values = &c.values[c.offset..];
        let mut used = None;
        protected(state, 0, width + 1, &mut |state| {
            ffi::luaL_checkstack(state, width + 1, c"too many values".as_ptr());
            ffi::lua_pushinteger(state, entity);
            used = value::push_raw_values(state, values, width);
            // On malformed input, return nothing: the call pads with nils.
            if used.is_some() { width + 1 } else { 0 }
        })?;
        let Some(used) = used else {
            ffi::lua_settop(state, -(width + 2));
            return Err(error(state, "world:query: the host sent a malformed value"));
        };
        c.offset += used;
        c.index += 1;
        Ok(width + 1)
    }
}

/// `__gc` of a cursor: drops its page. Leaves an empty cursor behind, so a
/// second call (a resurrected userdata) drops nothing twice.
unsafe extern "C-unwind" fn drop_cursor(state: *mut lua_State) -> c_int {
    // SAFETY: the metatable is only ever set on cursors, written by `start`.
    unsafe {
        let cursor = ffi::lua_touserdata(state, 1).cast::<Cursor>();
        if !cursor.is_null() {
            drop(cursor.replace(Cursor::empty(0)));
        }
    }
    0
}
