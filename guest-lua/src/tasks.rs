//! `task.spawn(f, ...)`: work that spans ticks. A task is a coroutine the
//! host resumes once per tick (`run-tasks`), in a handler call of its own.
//! It runs until it ends, yields (`coroutine.yield()`: done for this tick)
//! or is preempted: every [`CHECK_EVERY`] instructions a count hook asks
//! the host how much fuel the call has left and yields below the reserve.
//! Instructions and fuel are exact, so tasks stop at the same instruction
//! on every run. Code inside a C call (a `table.sort` comparator, a
//! `string.gsub` callback, a metamethod) cannot yield and runs on, and so
//! does the loop of an open `world:query` (its cursor lives for one call).

use mlua::thread::ThreadStatus;
use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Thread, Value, VmState};

use crate::moonbox::sandbox::{engine, meter};

/// Where the registry keeps the tasks, oldest first.
const TASKS: &str = "moonbox.tasks";

/// How often, in Lua VM instructions, a running task checks its fuel.
const CHECK_EVERY: u32 = 1000;

/// The fuel a slice keeps for what follows the tasks (set per `run`).
struct Reserve(u64);

/// Installs the `task` global.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    lua.set_named_registry_value(TASKS, lua.create_table()?)?;
    let task = lua.create_table()?;
    task.raw_set("spawn", lua.create_function(spawn)?)?;
    lua.globals().raw_set("task", task)
}

/// `task.spawn(f, ...)`: `f(...)` runs as a task from the end of this call on.
fn spawn(lua: &Lua, (function, args): (Function, MultiValue)) -> mlua::Result<()> {
    let thread = lua.create_thread(function)?;
    thread.set_hook(
        HookTriggers::new().every_nth_instruction(CHECK_EVERY),
        |lua, _| {
            crate::profiler::counted(lua, CHECK_EVERY);
            let reserve = lua.app_data_ref::<Reserve>().map_or(0, |r| r.0);
            if meter::fuel_left() >= reserve {
                return Ok(VmState::Continue);
            }
            // A query's cursor lives for one call: never preempt inside its loop.
            let open = crate::world_query::OPEN_QUERIES
                .to_str()
                .map_err(mlua::Error::external)?;
            let open: i64 = lua.named_registry_value(open)?;
            Ok(if open == 0 {
                VmState::Yield
            } else {
                VmState::Continue
            })
        },
    )?;
    let entry = lua.create_table()?;
    entry.raw_set("thread", thread)?;
    entry.raw_set("slices", 0)?;
    let n = i64::try_from(args.len()).unwrap_or(i64::MAX);
    let packed = lua.create_table()?;
    for (i, value) in args.into_iter().enumerate() {
        packed.raw_set(i + 1, value)?;
    }
    packed.raw_set("n", n)?;
    entry.raw_set("args", packed)?;
    let tasks: Table = lua.named_registry_value(TASKS)?;
    tasks.raw_set(tasks.raw_len() + 1, entry)?;
    engine::tasks(count(tasks.raw_len()));
    Ok(())
}

/// Resumes the tasks; returns how many are left. See WIT `run-tasks`.
pub fn run(lua: &Lua, reserve: u64, max_slices: u32) -> mlua::Result<u32> {
    lua.set_app_data(Reserve(reserve));
    let tasks: Table = lua.named_registry_value(TASKS)?;
    let n = tasks.raw_len();
    let (mut waiting, mut ran) = (Vec::new(), Vec::new());
    let mut preempted = false;
    for i in 1..=n {
        let entry: Table = tasks.raw_get(i)?;
        if preempted {
            waiting.push(entry);
            continue;
        }
        let slices: u32 = entry.raw_get("slices")?;
        if slices >= max_slices {
            return Err(mlua::Error::runtime(format!(
                "a task ran in {max_slices} ticks without finishing"
            )));
        }
        entry.raw_set("slices", slices + 1)?;
        let thread: Thread = entry.raw_get("thread")?;
        let args = match entry.raw_get::<Option<Table>>("args")? {
            Some(packed) => {
                entry.raw_set("args", Value::Nil)?;
                let n: usize = packed.raw_get("n")?;
                (1..=n)
                    .map(|i| packed.raw_get::<Value>(i))
                    .collect::<mlua::Result<MultiValue>>()?
            }
            None => MultiValue::new(),
        };
        thread.resume::<MultiValue>(args)?;
        if thread.status() == ThreadStatus::Resumable {
            ran.push(entry);
            preempted = meter::fuel_left() < reserve;
        }
    }
    // Those that did not get to run go first next time; tasks spawned by
    // tasks during this run go last.
    let spawned: Vec<Table> = (n + 1..=tasks.raw_len())
        .map(|i| tasks.raw_get(i))
        .collect::<mlua::Result<_>>()?;
    let left = lua.create_table()?;
    for (i, entry) in waiting.into_iter().chain(ran).chain(spawned).enumerate() {
        left.raw_set(i + 1, entry)?;
    }
    lua.set_named_registry_value(TASKS, &left)?;
    let pending = count(left.raw_len());
    engine::tasks(pending);
    Ok(pending)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
