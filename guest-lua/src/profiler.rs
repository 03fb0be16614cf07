//! The fuel profiler: while it runs, the guest says the running Lua stack
//! to the host (`profiler.sample`), and the host gives each sample the fuel
//! spent since the one before. A sample is taken every `period` Lua VM
//! instructions (a count hook) and at the end of every world call, which
//! spends fuel outside the VM (in the host, and here encoding values); a
//! world call also says where it starts (`profiler.begin`), so that the
//! host gives it exactly its own fuel. Both are counts of what the script
//! did, so the same run gives the same samples; a sandbox that is not
//! profiled runs no profiler code.
//!
//! The stack is walked with Lua's debug API directly, by steps that cannot
//! raise a Lua error (a `longjmp` would skip the Rust frames): nothing here
//! allocates Lua memory. Frames are named once (`profiler.frame`) and sent
//! as ids. What a hostile script can make this hold is bounded:
//! [`MAX_FRAMES`] names of at most [`MAX_LABEL`] bytes, [`MAX_SEEN`]
//! remembered functions, stacks of at most [`MAX_DEPTH`] frames.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int};
use std::sync::atomic::{AtomicBool, Ordering};

use mlua::ffi::{self, lua_Debug, lua_State};

use crate::moonbox::sandbox::profiler;

/// Most functions named; the ones after share [`OTHER`].
const MAX_FRAMES: u32 = 4096;
/// Most functions remembered by identity; past it the memory starts over.
const MAX_SEEN: usize = 16_384;
/// Frames a sample holds: the innermost ones, under [`DEEPER`] if cut.
const MAX_DEPTH: usize = 64;
/// Longest frame name, in bytes.
const MAX_LABEL: usize = 160;
/// The id of every function past [`MAX_FRAMES`].
const OTHER: u32 = MAX_FRAMES;
/// The id standing for the outer frames of a stack deeper than [`MAX_DEPTH`].
const DEEPER: u32 = MAX_FRAMES + 1;

/// Whether the profiler runs: one load for each world call to check while
/// it does not (the state below is behind a `RefCell`).
static RUNNING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The running profiler. A guest instance holds one Lua state, so this
    /// is that state's; `None` when the profiler is off.
    static PROFILER: RefCell<Option<Profiler>> = const { RefCell::new(None) };
}

struct Profiler {
    /// The ids of the stack being sampled (kept to reuse its memory).
    ids: Vec<u32>,
    /// Instructions counted by task hooks since their last sample.
    counted: u32,
    period: u32,
    /// Each frame name said to the host, with its id.
    frames: BTreeMap<String, u32>,
    /// Functions met, by address and line of definition, with what makes
    /// sure the address was not reused by another function (its chunk, or
    /// for a C function its name) and its id.
    seen: BTreeMap<(usize, c_int), (Vec<u8>, u32)>,
}

impl Profiler {
    /// The id of `label`, naming it to the host the first time.
    fn id(&mut self, label: String) -> u32 {
        if let Some(&id) = self.frames.get(&label) {
            return id;
        }
        let Ok(id) = u32::try_from(self.frames.len()) else {
            return OTHER;
        };
        if id >= MAX_FRAMES {
            return OTHER;
        }
        profiler::frame(id, &label);
        self.frames.insert(label, id);
        id
    }
}

/// Starts the profiler on the main thread `state` (and the coroutines it
/// creates) with a sample every `period` instructions, or stops it when
/// `period` is 0.
///
/// # Safety
/// `state` is the sandbox's main Lua thread.
pub unsafe fn set(state: *mut lua_State, period: u32) {
    // SAFETY: setting a hook neither allocates nor raises.
    unsafe {
        RUNNING.store(period != 0, Ordering::Relaxed);
        if period == 0 {
            PROFILER.set(None);
            ffi::lua_sethook(state, None, 0, 0);
            return;
        }
        profiler::frame(OTHER, "[other functions]");
        profiler::frame(DEEPER, "[outer frames]");
        PROFILER.set(Some(Profiler {
            ids: Vec::with_capacity(MAX_DEPTH + 1),
            counted: 0,
            period,
            frames: BTreeMap::new(),
            seen: BTreeMap::new(),
        }));
        let count = c_int::try_from(period).unwrap_or(c_int::MAX);
        ffi::lua_sethook(state, Some(hook), ffi::LUA_MASKCOUNT, count);
    }
}

/// The count hook of the main thread and the coroutines it creates.
unsafe extern "C-unwind" fn hook(state: *mut lua_State, _: *mut lua_Debug) {
    // SAFETY: Lua calls the hook on the running thread.
    unsafe {
        if PROFILER.with_borrow(Option::is_none) {
            // A coroutine created while the profiler ran, after it stopped.
            ffi::lua_sethook(state, None, 0, 0);
            return;
        }
        sample(state, 0);
    }
}

/// For a task's own count hook, which fires every `instructions`: samples
/// once a period's worth has run.
pub fn counted(lua: &mlua::Lua, instructions: u32) {
    if !RUNNING.load(Ordering::Relaxed) {
        return;
    }
    let due = PROFILER.with_borrow_mut(|profiler| match profiler {
        Some(p) => {
            p.counted = p.counted.saturating_add(instructions);
            let due = p.counted >= p.period;
            if due {
                p.counted = 0;
            }
            due
        }
        None => false,
    });
    if due {
        // SAFETY: the protected call's state is the task's thread, running
        // the hook; level 0 is the protected call itself.
        let _ = unsafe { lua.exec_raw::<()>((), |state| sample(state, 1)) };
    }
}

/// A world call (a C function of the `world` or `engine` API) starts.
pub fn begin() {
    if RUNNING.load(Ordering::Relaxed) {
        profiler::begin();
    }
}

/// The world call of the C function running on `state` (at level `level`
/// of its stack) is done: says the stack, so that the host gives the call
/// what it spent since [`begin`].
///
/// # Safety
/// `state` is the running Lua thread.
pub unsafe fn done(state: *mut lua_State, level: c_int) {
    if RUNNING.load(Ordering::Relaxed) {
        // SAFETY: as the caller promises.
        unsafe { sample(state, level) };
    }
}

/// As [`done`], from an mlua callback.
pub fn done_lua(lua: &mlua::Lua) {
    if !RUNNING.load(Ordering::Relaxed) {
        return;
    }
    // SAFETY: the protected call's state is the callback's thread; level 0
    // is the protected call, level 1 the callback.
    let _ = unsafe { lua.exec_raw::<()>((), |state| sample(state, 1)) };
}

/// Says the stack of `state` from level `level` outwards to the host.
unsafe fn sample(state: *mut lua_State, level: c_int) {
    profiler::sampling();
    // SAFETY: as the callers promise; `walk` only reads the stack.
    let ids = PROFILER.with_borrow_mut(|profiler| {
        let p = profiler.as_mut()?;
        let mut ids = std::mem::take(&mut p.ids);
        unsafe { walk(state, level, p, &mut ids) };
        Some(ids)
    });
    if let Some(ids) = ids {
        profiler::sample(&ids);
        PROFILER.with_borrow_mut(|profiler| {
            if let Some(p) = profiler {
                p.ids = ids;
            }
        });
    }
}

/// Puts in `ids` the frames of `state` from `level` out, outermost first.
unsafe fn walk(state: *mut lua_State, mut level: c_int, p: &mut Profiler, ids: &mut Vec<u32>) {
    ids.clear();
    // SAFETY: `getstack`/`getinfo` read the stack; the one value pushed
    // (the function) has room checked and is popped.
    unsafe {
        if ffi::lua_checkstack(state, 4) == 0 {
            return;
        }
        let mut frame: lua_Debug = std::mem::zeroed();
        while ids.len() <= MAX_DEPTH && ffi::lua_getstack(state, level, &mut frame) != 0 {
            ids.push(frame_id(state, &mut frame, p));
            level += 1;
        }
    }
    let cut = ids.len() > MAX_DEPTH;
    ids.truncate(MAX_DEPTH - usize::from(cut));
    if cut {
        ids.push(DEEPER);
    }
    ids.reverse();
}

/// The id of the function running in `frame`, naming it the first time.
unsafe fn frame_id(state: *mut lua_State, frame: &mut lua_Debug, p: &mut Profiler) -> u32 {
    // SAFETY: `frame` comes from `lua_getstack`; "Sf" pushes the function.
    unsafe {
        // A Lua function is named by where it is defined; a C function by
        // what its caller calls it, which needs "n" every time.
        ffi::lua_getinfo(state, c"f".as_ptr(), frame);
        let is_c = ffi::lua_iscfunction(state, -1) != 0;
        ffi::lua_getinfo(state, if is_c { c"n" } else { c"S" }.as_ptr(), frame);
        let key = (ffi::lua_topointer(state, -1).addr(), frame.linedefined);
        let check = if is_c {
            text(frame.name)
        } else {
            text(frame.source)
        };
        if let Some((seen, id)) = p.seen.get(&key)
            && seen.as_slice() == check
        {
            let id = *id;
            ffi::lua_pop(state, 1);
            return id;
        }
        ffi::lua_getinfo(state, if is_c { c"S" } else { c"n" }.as_ptr(), frame);
        let mut name = String::from_utf8_lossy(text(frame.name)).into_owned();
        if name.is_empty() && !is_c {
            name = global_name(state).unwrap_or_default();
        }
        ffi::lua_pop(state, 1);
        let id = p.id(label(frame, &name, is_c));
        if p.seen.len() >= MAX_SEEN {
            p.seen.clear();
        }
        p.seen.insert(key, (check.to_vec(), id));
        id
    }
}

/// A frame's name: the function's name, chunk and line of definition.
fn label(frame: &lua_Debug, name: &str, is_c: bool) -> String {
    let chunk = short_src(frame);
    let mut label = if is_c {
        format!("{} [C]", if name.is_empty() { "?" } else { name })
    } else if frame.linedefined == 0 {
        format!("main chunk ({chunk})")
    } else {
        format!(
            "{} ({chunk}:{})",
            if name.is_empty() { "function" } else { name },
            frame.linedefined
        )
    };
    if label.len() > MAX_LABEL {
        let mut end = MAX_LABEL;
        while !label.is_char_boundary(end) {
            end -= 1;
        }
        label.truncate(end);
    }
    label
}

/// The name of a global variable holding the function on top of the stack.
unsafe fn global_name(state: *mut lua_State) -> Option<String> {
    // SAFETY: `lua_next` over the globals with raw reads and compares:
    // no metamethod runs and nothing allocates; the stack is balanced.
    unsafe {
        ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, ffi::LUA_RIDX_GLOBALS);
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, -2) != 0 {
            if ffi::lua_type(state, -2) == ffi::LUA_TSTRING && ffi::lua_rawequal(state, -1, -4) != 0
            {
                let mut len = 0;
                let key = ffi::lua_tolstring(state, -2, &mut len);
                let name =
                    String::from_utf8_lossy(std::slice::from_raw_parts(key.cast::<u8>(), len))
                        .into_owned();
                ffi::lua_pop(state, 3);
                return Some(name);
            }
            ffi::lua_pop(state, 1);
        }
        ffi::lua_pop(state, 1);
        None
    }
}

/// The bytes of a C string from Lua's debug info (empty for none).
fn text<'a>(s: *const c_char) -> &'a [u8] {
    if s.is_null() {
        return b"";
    }
    // SAFETY: Lua's debug strings are NUL-terminated and live as long as
    // the function they describe, which is on the stack.
    unsafe { CStr::from_ptr(s) }.to_bytes()
}

/// The printable chunk name Lua's debug info gives.
fn short_src(frame: &lua_Debug) -> String {
    let bytes: Vec<u8> = frame
        .short_src
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
