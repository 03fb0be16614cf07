//! [`ComponentRegistry`]: the engine's Rust component types, by name, as
//! values a script can read and write.

use std::any::type_name;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use hecs::{Entity, World};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A component's value as scripts see it: JSON-shaped data (null, booleans,
/// integers, floats, strings, arrays, string-keyed tables). Objects keep their
/// keys sorted, so equal components always look the same. NaN and infinities
/// cannot be represented.
pub type ComponentValue = serde_json::Value;

/// Why a component could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No component type is registered under this name.
    #[error("unknown component '{name}'")]
    UnknownComponent {
        /// The name asked for.
        name: String,
    },
    /// A component type is already registered under this name.
    #[error("component '{name}' is already registered")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// The value does not fit the component's type; nothing was written.
    #[error("invalid value for component '{component}': {reason}")]
    InvalidValue {
        /// The component.
        component: String,
        /// What is wrong, e.g. a missing field or a wrong type.
        reason: String,
    },
    /// The entity does not exist.
    #[error("no such entity {entity}")]
    NoSuchEntity {
        /// The entity's bits (see `hecs::Entity::to_bits`).
        entity: u64,
    },
    /// The component's own conversion code panicked; nothing was written.
    #[error("converting component '{component}' panicked")]
    ConversionPanicked {
        /// The component.
        component: String,
    },
}

/// Undoes one change to the world (see `session.rs`).
pub(crate) type Undo = Box<dyn FnOnce(&mut World) + Send>;

/// A value decoded into its Rust type, not yet placed in the world.
pub(crate) trait Pending: Send {
    /// Adds or replaces the component on `entity`, logging how to undo it.
    fn apply(self: Box<Self>, world: &mut World, entity: Entity, undo: &mut Vec<Undo>);
    /// Adds the component to an entity being built.
    fn add_to(self: Box<Self>, builder: &mut hecs::EntityBuilder);
}

struct PendingValue<T>(T);

impl<T: hecs::Component> Pending for PendingValue<T> {
    fn apply(self: Box<Self>, world: &mut World, entity: Entity, undo: &mut Vec<Undo>) {
        let new = self.0;
        if let Ok(mut slot) = world.get::<&mut T>(entity) {
            // Replacing in place keeps the entity in its archetype: no move.
            let old = std::mem::replace(&mut *slot, new);
            undo.push(Box::new(move |world: &mut World| {
                if let Ok(mut slot) = world.get::<&mut T>(entity) {
                    *slot = old;
                }
            }));
        } else if world.insert_one(entity, new).is_ok() {
            undo.push(Box::new(move |world: &mut World| {
                // Ignoring the result: the entity may already be gone (a spawn undone).
                let _ = world.remove_one::<T>(entity);
            }));
        }
    }

    fn add_to(self: Box<Self>, builder: &mut hecs::EntityBuilder) {
        builder.add(self.0);
    }
}

/// Type-erased access to one registered component type.
trait Access: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn get(&self, world: &World, entity: Entity) -> Option<Result<ComponentValue, String>>;
    fn insert(
        &self,
        world: &mut World,
        entity: Entity,
        value: ComponentValue,
    ) -> Result<(), String>;
    fn remove(&self, world: &mut World, entity: Entity) -> bool;
    fn has(&self, world: &World, entity: Entity) -> bool;
    fn encode(
        &self,
        world: &World,
        entity: Entity,
        out: &mut Vec<u8>,
    ) -> Option<Result<(), String>>;
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Pending>, String>;
    fn remove_logged(&self, world: &mut World, entity: Entity, undo: &mut Vec<Undo>) -> bool;
    fn entities(&self, world: &World) -> Vec<Entity>;
}

struct Typed<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Access for Typed<T>
where
    T: hecs::Component + Serialize + DeserializeOwned,
{
    fn type_name(&self) -> &'static str {
        type_name::<T>()
    }

    fn get(&self, world: &World, entity: Entity) -> Option<Result<ComponentValue, String>> {
        let component = world.get::<&T>(entity).ok()?;
        Some(serde_json::to_value(&*component).map_err(|e| e.to_string()))
    }

    fn insert(
        &self,
        world: &mut World,
        entity: Entity,
        value: ComponentValue,
    ) -> Result<(), String> {
        // The whole value is converted before the world is touched: a bad
        // value never leaves a half-written component.
        let component: T = serde_json::from_value(value).map_err(|e| e.to_string())?;
        world
            .insert_one(entity, component)
            .map_err(|e| e.to_string())
    }

    fn remove(&self, world: &mut World, entity: Entity) -> bool {
        world.remove_one::<T>(entity).is_ok()
    }

    fn has(&self, world: &World, entity: Entity) -> bool {
        world.satisfies::<&T>(entity)
    }

    fn encode(
        &self,
        world: &World,
        entity: Entity,
        out: &mut Vec<u8>,
    ) -> Option<Result<(), String>> {
        let component = world.get::<&T>(entity).ok()?;
        Some(rmp_serde::encode::write_named(out, &*component).map_err(|e| e.to_string()))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Pending>, String> {
        let mut rest = bytes;
        let value = T::deserialize(&mut rmp_serde::Deserializer::new(&mut rest))
            .map_err(|e| e.to_string())?;
        // One value, nothing after it: trailing bytes mean the sender and
        // the component type disagree.
        if !rest.is_empty() {
            return Err(format!("{} unexpected bytes after the value", rest.len()));
        }
        Ok(Box::new(PendingValue(value)))
    }

    fn remove_logged(&self, world: &mut World, entity: Entity, undo: &mut Vec<Undo>) -> bool {
        match world.remove_one::<T>(entity) {
            Ok(old) => {
                undo.push(Box::new(move |world: &mut World| {
                    let _ = world.insert_one(entity, old);
                }));
                true
            }
            Err(_) => false,
        }
    }

    fn entities(&self, world: &World) -> Vec<Entity> {
        world.query::<Entity>().with::<&T>().iter().collect()
    }
}

/// The component types scripts may see, by name.
///
/// Register a type in one line; it needs `serde`'s `Serialize` and
/// `Deserialize`:
///
/// ```
/// use moonbox::ComponentRegistry;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Position { x: f32, y: f32 }
///
/// # fn main() -> Result<(), moonbox::RegistryError> {
/// let mut registry = ComponentRegistry::new();
/// registry.register::<Position>("Position")?;
///
/// let mut world = hecs::World::new();
/// let e = world.spawn((Position { x: 1.0, y: 2.0 },));
/// assert_eq!(registry.get(&world, e, "Position")?, Some(serde_json::json!({"x": 1.0, "y": 2.0})));
/// registry.set(&mut world, e, "Position", serde_json::json!({"x": 5, "y": 6}))?;
/// assert_eq!(*world.get::<&Position>(e).unwrap(), Position { x: 5.0, y: 6.0 });
/// assert!(registry.set(&mut world, e, "Position", serde_json::json!({"x": 1})).is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
pub struct ComponentRegistry {
    components: BTreeMap<String, Box<dyn Access>>,
}

impl std::fmt::Debug for ComponentRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.components
                    .iter()
                    .map(|(name, access)| (name, access.type_name())),
            )
            .finish()
    }
}

impl ComponentRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `T` visible to scripts as `name`.
    ///
    /// # Errors
    /// [`RegistryError::DuplicateName`] if `name` is taken.
    pub fn register<T>(&mut self, name: &str) -> Result<&mut Self, RegistryError>
    where
        T: hecs::Component + Serialize + DeserializeOwned,
    {
        if self.components.contains_key(name) {
            return Err(RegistryError::DuplicateName {
                name: name.to_owned(),
            });
        }
        self.components.insert(
            name.to_owned(),
            Box::new(Typed::<T>(std::marker::PhantomData)),
        );
        Ok(self)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.components.keys().map(String::as_str)
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.components.contains_key(name)
    }

    /// Reads component `name` of `entity`; `None` if the entity lacks it.
    ///
    /// # Errors
    /// Unknown component or entity, or a conversion that failed or panicked.
    pub fn get(
        &self,
        world: &World,
        entity: Entity,
        name: &str,
    ) -> Result<Option<ComponentValue>, RegistryError> {
        let access = self.access(name)?;
        ensure_alive(world, entity)?;
        match guarded(name, || access.get(world, entity))? {
            None => Ok(None),
            Some(Ok(value)) => Ok(Some(value)),
            Some(Err(reason)) => Err(invalid(name, reason)),
        }
    }

    /// Writes component `name` of `entity` (adding or replacing it) from
    /// `value`, which must fit the type exactly; otherwise nothing changes.
    ///
    /// # Errors
    /// Unknown component or entity, a value that does not fit, or a
    /// conversion that panicked.
    pub fn set(
        &self,
        world: &mut World,
        entity: Entity,
        name: &str,
        value: ComponentValue,
    ) -> Result<(), RegistryError> {
        let access = self.access(name)?;
        ensure_alive(world, entity)?;
        guarded(name, || access.insert(world, entity, value))?
            .map_err(|reason| invalid(name, reason))
    }

    /// Writes component `name` of `entity` from one MessagePack value, the
    /// encoding mods use (for values that arrive already encoded: a save
    /// file, a network message). The whole value is decoded into the Rust
    /// type before the world is touched; bytes that do not fit change
    /// nothing.
    ///
    /// ```
    /// # use moonbox::demo::{self, Position};
    /// let registry = demo::registry().unwrap();
    /// let mut world = hecs::World::new();
    /// let e = world.spawn(());
    /// let bytes = rmp_serde::to_vec_named(&Position { x: 1.0, y: 2.0 }).unwrap();
    /// registry.set_msgpack(&mut world, e, "Position", &bytes).unwrap();
    /// assert!(registry.set_msgpack(&mut world, e, "Position", b"\xc1").is_err());
    /// let mut trailing = bytes.clone();
    /// trailing.push(0);
    /// assert!(registry.set_msgpack(&mut world, e, "Position", &trailing).is_err());
    /// assert_eq!(*world.get::<&Position>(e).unwrap(), Position { x: 1.0, y: 2.0 });
    /// ```
    ///
    /// # Errors
    /// Unknown component or entity, bytes that are not one value of the
    /// component's type, or a conversion that panicked.
    pub fn set_msgpack(
        &self,
        world: &mut World,
        entity: Entity,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        let pending = self.decode(name, bytes)?;
        ensure_alive(world, entity)?;
        pending.apply(world, entity, &mut Vec::new());
        Ok(())
    }

    /// Removes component `name` from `entity`; `false` if it had none.
    ///
    /// # Errors
    /// Unknown component or entity.
    pub fn remove(
        &self,
        world: &mut World,
        entity: Entity,
        name: &str,
    ) -> Result<bool, RegistryError> {
        let access = self.access(name)?;
        ensure_alive(world, entity)?;
        Ok(access.remove(world, entity))
    }

    /// Whether `entity` has component `name`.
    ///
    /// # Errors
    /// Unknown component or entity.
    pub fn has(&self, world: &World, entity: Entity, name: &str) -> Result<bool, RegistryError> {
        let access = self.access(name)?;
        ensure_alive(world, entity)?;
        Ok(access.has(world, entity))
    }

    /// Appends component `name` of a live `entity` to `out` as MessagePack;
    /// `Ok(false)` if the entity lacks it.
    pub(crate) fn encode(
        &self,
        world: &World,
        entity: Entity,
        name: &str,
        out: &mut Vec<u8>,
    ) -> Result<bool, RegistryError> {
        let access = self.access(name)?;
        match guarded(name, || access.encode(world, entity, out))? {
            None => Ok(false),
            Some(Ok(())) => Ok(true),
            Some(Err(reason)) => Err(invalid(name, reason)),
        }
    }

    /// Decodes a MessagePack value into component `name`'s Rust type, whole,
    /// before anything touches the world.
    pub(crate) fn decode(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Box<dyn Pending>, RegistryError> {
        let access = self.access(name)?;
        guarded(name, || access.decode(bytes))?.map_err(|reason| invalid(name, reason))
    }

    /// Removes component `name` of a live `entity`, logging how to undo it.
    pub(crate) fn remove_logged(
        &self,
        world: &mut World,
        entity: Entity,
        name: &str,
        undo: &mut Vec<Undo>,
    ) -> Result<bool, RegistryError> {
        Ok(self.access(name)?.remove_logged(world, entity, undo))
    }

    /// The entities that have component `name`, in the world's iteration order.
    pub(crate) fn entities_with(
        &self,
        world: &World,
        name: &str,
    ) -> Result<Vec<Entity>, RegistryError> {
        Ok(self.access(name)?.entities(world))
    }

    /// Whether a live `entity` has component `name` (no liveness check).
    pub(crate) fn has_unchecked(&self, world: &World, entity: Entity, name: &str) -> bool {
        self.components
            .get(name)
            .is_some_and(|access| access.has(world, entity))
    }

    fn access(&self, name: &str) -> Result<&dyn Access, RegistryError> {
        self.components
            .get(name)
            .map(Box::as_ref)
            .ok_or_else(|| RegistryError::UnknownComponent {
                name: name.to_owned(),
            })
    }
}

fn ensure_alive(world: &World, entity: Entity) -> Result<(), RegistryError> {
    if world.contains(entity) {
        Ok(())
    } else {
        Err(RegistryError::NoSuchEntity {
            entity: entity.to_bits().get(),
        })
    }
}

fn invalid(component: &str, reason: String) -> RegistryError {
    RegistryError::InvalidValue {
        component: component.to_owned(),
        reason,
    }
}

/// Runs an engine's conversion code; a panic in it becomes an error, not a
/// crash (serde impls are the engine's code, not ours).
fn guarded<R>(component: &str, f: impl FnOnce() -> R) -> Result<R, RegistryError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| RegistryError::ConversionPanicked {
        component: component.to_owned(),
    })
}
