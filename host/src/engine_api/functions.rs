//! [`EngineFunctions`]: functions the engine offers mods.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};

use hecs::World;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{MAX_NAME_LEN, is_engine_name, printable};

/// Names a mod's `engine` table uses itself: no function may take them.
const RESERVED: &[&str] = &["emit"];

/// What an engine function sees of the call: which mod called it, in which
/// tick, and the world as that mod's call has left it so far (read only:
/// an engine function's effects on the game go through commands, which
/// roll back with the call).
pub struct CallContext<'a> {
    mod_name: &'a str,
    tick: u64,
    world: &'a World,
}

impl<'a> CallContext<'a> {
    pub(crate) fn new(mod_name: &'a str, tick: u64, world: &'a World) -> Self {
        Self {
            mod_name,
            tick,
            world,
        }
    }

    /// The name of the mod that called.
    pub fn mod_name(&self) -> &str {
        self.mod_name
    }

    /// The tick being run (0 in events dispatched before the first tick).
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The world, with the calling mod's writes of this call.
    pub fn world(&self) -> &World {
        self.world
    }
}

/// Why a function could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FunctionError {
    /// The name is not a Lua name of at most [`MAX_NAME_LEN`] bytes.
    #[error("engine function name '{name}' must be a Lua name of at most {MAX_NAME_LEN} bytes")]
    BadName {
        /// The name, cut and made printable.
        name: String,
    },
    /// The name is taken, by another function or by the `engine` table.
    #[error("engine function name '{name}' is already taken")]
    Taken {
        /// The name.
        name: String,
    },
}

/// Why one call of an engine function failed.
pub(crate) enum CallFailure {
    /// The mod's arguments do not fit the function's argument type.
    Arguments(String),
    /// The function returned an error, or panicked.
    Failed(String),
}

type Erased = dyn Fn(&CallContext<'_>, &[u8]) -> Result<Vec<u8>, CallFailure> + Send + Sync;

/// One registered function.
pub(crate) struct Function {
    /// Fuel each call costs besides the bytes it moves.
    pub(crate) cost: u64,
    call: Box<Erased>,
}

impl Function {
    pub(crate) fn call(
        &self,
        context: &CallContext<'_>,
        args: &[u8],
    ) -> Result<Vec<u8>, CallFailure> {
        // An engine function is the engine's code: a panic in it must not
        // take the host down with the mod's call.
        catch_unwind(AssertUnwindSafe(|| (self.call)(context, args)))
            .unwrap_or_else(|_| Err(CallFailure::Failed("the engine function panicked".into())))
    }
}

/// Functions the engine offers mods, as `engine.<name>(...)` in Lua.
/// Arguments and results cross as component values do (serde, MessagePack):
/// no argument is `()`, one is that value, several are a tuple.
/// A mod needs the grant `[permissions] call = ["name"]` (intersected with
/// the [`crate::Policy`]); a call costs the fuel declared here plus the
/// bytes it moves. Functions must be deterministic (a function of their
/// arguments, the tick and the world) for replays to stay bit-identical.
///
/// ```
/// use moonbox::{CallContext, EngineFunctions};
/// #[derive(serde::Deserialize)]
/// struct Ray { from: [f32; 2], to: [f32; 2] }
/// let mut functions = EngineFunctions::new();
/// functions.register("ray_length", 500, |_ctx: &CallContext<'_>, ray: Ray| {
///     let (dx, dy) = (ray.to[0] - ray.from[0], ray.to[1] - ray.from[1]);
///     Ok::<_, String>((dx * dx + dy * dy).sqrt())
/// })?;
/// assert!(functions.contains("ray_length"));
/// # Ok::<(), moonbox::FunctionError>(())
/// ```
#[derive(Default)]
pub struct EngineFunctions {
    functions: BTreeMap<String, Function>,
}

impl std::fmt::Debug for EngineFunctions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.functions.keys()).finish()
    }
}

impl EngineFunctions {
    /// No functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers `function` to mods as `engine.<name>`, at `cost` fuel per
    /// call besides the bytes it moves. Its error (`E`) reaches the mod as
    /// a catchable Lua error with the error's text.
    ///
    /// # Errors
    /// [`FunctionError`] for a name that is not a Lua name or is taken.
    pub fn register<A, R, E, F>(
        &mut self,
        name: &str,
        cost: u64,
        function: F,
    ) -> Result<&mut Self, FunctionError>
    where
        A: DeserializeOwned,
        R: Serialize,
        E: Display,
        F: Fn(&CallContext<'_>, A) -> Result<R, E> + Send + Sync + 'static,
    {
        if !is_engine_name(name) {
            return Err(FunctionError::BadName {
                name: printable(name),
            });
        }
        if RESERVED.contains(&name) || self.functions.contains_key(name) {
            return Err(FunctionError::Taken {
                name: name.to_owned(),
            });
        }
        let call = move |context: &CallContext<'_>, args: &[u8]| {
            let args: A = crate::world::from_msgpack(args).map_err(CallFailure::Arguments)?;
            let result = function(context, args).map_err(|e| CallFailure::Failed(e.to_string()))?;
            rmp_serde::encode::to_vec_named(&result)
                .map_err(|e| CallFailure::Failed(format!("its result cannot be encoded: {e}")))
        };
        self.functions.insert(
            name.to_owned(),
            Function {
                cost,
                call: Box::new(call),
            },
        );
        Ok(self)
    }

    /// Whether a function is registered as `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Function> {
        self.functions.get(name)
    }
}
