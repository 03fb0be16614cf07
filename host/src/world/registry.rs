//! [`ComponentRegistry`]: the engine's Rust component types by name, and the
//! one value codec between them and everything outside Rust.
//!
//! Values cross as MessagePack, whoever sends them: scripts, events, mod
//! configuration, the world hash. A value is decoded whole into its Rust
//! type before the world is touched. JSON (world files, replays, diffs) is
//! an adapter on top: any serde value goes through the same codec
//! ([`ComponentRegistry::set`], [`ComponentRegistry::get`]). The registry
//! only converts; the transaction (`transaction.rs`) decides what is
//! written and how it is undone.

use std::any::type_name;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use hecs::{Entity, EntityBuilder, World};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::finite;
use super::shape::{MAX_DECLARED_COMPONENTS, Shape, ShapeError, parse_components};

/// Largest MessagePack value a mod may write into a component, unless the
/// component's own cap says otherwise
/// ([`ComponentRegistry::set_max_value_bytes`]): 16 KiB.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 * 1024;

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
    /// A component could not be declared ([`ComponentRegistry::declare`]).
    #[error("cannot declare component '{name}': {reason}")]
    Declaration {
        /// The component.
        name: String,
        /// Why not.
        reason: String,
    },
    /// The component's own conversion code panicked; nothing was written.
    #[error("converting component '{component}' panicked")]
    ConversionPanicked {
        /// The component.
        component: String,
    },
}

/// A component value decoded into its Rust type, not yet in the world.
pub(crate) trait Decoded: Send + Sync {
    /// Puts it on the live `entity`; says what it replaced.
    fn put(self: Box<Self>, world: &mut World, entity: Entity) -> Previous;
    /// Puts it on the live `entity` for a mod, measuring the write for the
    /// mod's world quota; `sent` is the size of the value the mod sent.
    fn write(self: Box<Self>, world: &mut World, entity: Entity, sent: usize) -> Written {
        let new = self.stored_len(sent);
        let previous = self.put(world, entity);
        let old = previous.stored_len();
        Written { previous, old, new }
    }
    /// Adds it to an entity being built.
    fn add_to(self: Box<Self>, builder: &mut EntityBuilder);
    /// The bytes it counts for in a mod's world quota: the size of its type
    /// if that owns no heap memory, else the size of its MessagePack
    /// encoding as the host writes it (so the same value always counts the
    /// same), or `sent` if the engine's conversion code fails.
    fn stored_len(&self, sent: usize) -> u64;
}

/// A [`Decoded::write`]: the undo, and the quota bytes of the value
/// replaced (0: none) and of the new one.
pub(crate) struct Written {
    pub(crate) previous: Previous,
    pub(crate) old: u64,
    pub(crate) new: u64,
}

/// What an entity had before a [`Decoded::put`]: enough to undo it.
pub(crate) enum Previous {
    /// A value of that component, now replaced.
    Value(Box<dyn Decoded>),
    /// Nothing: this function removes the component that was added.
    Absent(fn(&mut World, Entity)),
}

impl Previous {
    /// The quota bytes of the value replaced; 0 if there was none.
    pub(crate) fn stored_len(&self) -> u64 {
        match self {
            Self::Value(value) => value.stored_len(0),
            Self::Absent(_) => 0,
        }
    }
}

struct Value<T>(T);

/// Counts the bytes written to it.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len() as u64);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<T: hecs::Component + Serialize> Decoded for Value<T> {
    fn put(self: Box<Self>, world: &mut World, entity: Entity) -> Previous {
        let new = self.0;
        if let Ok(mut slot) = world.get::<&mut T>(entity) {
            // Replacing in place keeps the entity in its archetype: no move.
            let old = std::mem::replace(&mut *slot, new);
            return Previous::Value(Box::new(Value(old)));
        }
        // Ignoring the result: the caller checked that the entity is alive.
        let _ = world.insert_one(entity, new);
        Previous::Absent(|world, entity| {
            // The entity may already be gone (a spawn undone first).
            let _ = world.remove_one::<T>(entity);
        })
    }

    fn add_to(self: Box<Self>, builder: &mut EntityBuilder) {
        builder.add(self.0);
    }

    fn stored_len(&self, sent: usize) -> u64 {
        // A type that owns no heap memory holds its size whatever its value
        // (the common case, measured for free); others hold about what
        // their encoding says.
        if !std::mem::needs_drop::<T>() {
            return size_of::<T>() as u64;
        }
        let mut counter = Counter(0);
        let counted = catch_unwind(AssertUnwindSafe(|| {
            rmp_serde::encode::write_named(&mut counter, &self.0)
        }));
        match counted {
            Ok(Ok(())) => counter.0,
            _ => sent as u64,
        }
    }
}

/// Type-erased operations on one registered component type.
trait ComponentType: Send + Sync {
    fn type_name(&self) -> &'static str;
    /// Appends the entity's value as MessagePack; `Ok(false)` if it has none.
    fn encode(
        &self,
        name: &str,
        world: &World,
        entity: Entity,
        out: &mut Vec<u8>,
    ) -> Result<bool, RegistryError>;
    /// Decodes exactly one MessagePack value of this type; with `strict`,
    /// a map key the type has no field for is an error.
    fn decode(
        &self,
        name: &str,
        bytes: &[u8],
        strict: bool,
    ) -> Result<Box<dyn Decoded>, RegistryError>;
    fn has(&self, world: &World, entity: Entity) -> bool;
    /// Removes the component and returns it.
    fn take(&self, world: &mut World, entity: Entity) -> Option<Box<dyn Decoded>>;
    fn entities(&self, world: &World) -> Vec<Entity>;
}

struct Typed<T>(std::marker::PhantomData<fn() -> T>);

impl<T> ComponentType for Typed<T>
where
    T: hecs::Component + Serialize + DeserializeOwned,
{
    fn type_name(&self) -> &'static str {
        type_name::<T>()
    }

    fn encode(
        &self,
        name: &str,
        world: &World,
        entity: Entity,
        out: &mut Vec<u8>,
    ) -> Result<bool, RegistryError> {
        let Ok(component) = world.get::<&T>(entity) else {
            return Ok(false);
        };
        rmp_serde::encode::write_named(out, &*component).map_err(|e| invalid(name, &e))?;
        Ok(true)
    }

    fn decode(
        &self,
        name: &str,
        bytes: &[u8],
        strict: bool,
    ) -> Result<Box<dyn Decoded>, RegistryError> {
        // Lua cannot tell an empty map from an empty list and sends `{}` as
        // a list; a value that fits only with `{}` as a map is read so.
        let (value, unknown, trailing) = match read::<T>(bytes, strict) {
            Ok(read) => read,
            Err(first) => match super::empty_lists_as_maps(bytes) {
                Some(maps) => read::<T>(&maps, strict).map_err(|_| invalid(name, &first))?,
                None => return Err(invalid(name, &first)),
            },
        };
        if let Some(path) = unknown {
            return Err(invalid(
                name,
                &format_args!("the type has no field '{}'", short(&path)),
            ));
        }
        // Narrowing happened while decoding: a number too large for an
        // `f32` field is infinite now.
        finite::check(&value).map_err(|e| invalid(name, &e))?;
        // One value, nothing after it: trailing bytes mean the sender and
        // the component type disagree.
        if trailing > 0 {
            return Err(invalid(
                name,
                &format_args!("{trailing} unexpected bytes after the value"),
            ));
        }
        Ok(Box::new(Value(value)))
    }

    fn has(&self, world: &World, entity: Entity) -> bool {
        world.satisfies::<&T>(entity)
    }

    fn take(&self, world: &mut World, entity: Entity) -> Option<Box<dyn Decoded>> {
        let old = world.remove_one::<T>(entity).ok()?;
        Some(Box::new(Value(old)))
    }

    fn entities(&self, world: &World) -> Vec<Entity> {
        world.query::<Entity>().with::<&T>().iter().collect()
    }
}

/// A declared component's value: its checked MessagePack encoding. `N`
/// makes each declared component a hecs component type of its own.
struct Declared<const N: usize>(Vec<u8>);

impl<const N: usize> Decoded for Declared<N> {
    fn put(self: Box<Self>, world: &mut World, entity: Entity) -> Previous {
        if let Ok(mut slot) = world.get::<&mut Declared<N>>(entity) {
            let old = std::mem::replace(&mut slot.0, self.0);
            return Previous::Value(Box::new(Declared::<N>(old)));
        }
        let _ = world.insert_one(entity, *self);
        Previous::Absent(|world, entity| {
            let _ = world.remove_one::<Declared<N>>(entity);
        })
    }

    fn add_to(self: Box<Self>, builder: &mut EntityBuilder) {
        builder.add(*self);
    }

    fn stored_len(&self, _sent: usize) -> u64 {
        self.0.len() as u64
    }
}

/// A declared component in slot `N`, with its shape.
struct DeclaredType<const N: usize>(Shape);

/// Deepest MessagePack value read for a declared component.
const MAX_DECLARED_VALUE_DEPTH: usize = 64;

impl<const N: usize> ComponentType for DeclaredType<N> {
    fn type_name(&self) -> &'static str {
        "declared component"
    }

    fn encode(
        &self,
        _name: &str,
        world: &World,
        entity: Entity,
        out: &mut Vec<u8>,
    ) -> Result<bool, RegistryError> {
        let Ok(value) = world.get::<&Declared<N>>(entity) else {
            return Ok(false);
        };
        out.extend_from_slice(&value.0);
        Ok(true)
    }

    /// Declared components are always strict: `allow_unknown_fields` is
    /// for Rust types whose serde impl drops fields.
    fn decode(
        &self,
        name: &str,
        bytes: &[u8],
        _strict: bool,
    ) -> Result<Box<dyn Decoded>, RegistryError> {
        let mut rest = bytes;
        let mut deserializer = rmp_serde::Deserializer::new(&mut rest);
        deserializer.set_max_depth(MAX_DECLARED_VALUE_DEPTH);
        let value =
            serde_json::Value::deserialize(&mut deserializer).map_err(|e| invalid(name, &e))?;
        if !rest.is_empty() {
            return Err(invalid(
                name,
                &format_args!("{} unexpected bytes after the value", rest.len()),
            ));
        }
        let value = self.0.check(value).map_err(|e| invalid(name, &e))?;
        let bytes = rmp_serde::to_vec_named(&value).map_err(|e| invalid(name, &e))?;
        Ok(Box::new(Declared::<N>(bytes)))
    }

    fn has(&self, world: &World, entity: Entity) -> bool {
        world.satisfies::<&Declared<N>>(entity)
    }

    fn take(&self, world: &mut World, entity: Entity) -> Option<Box<dyn Decoded>> {
        let old = world.remove_one::<Declared<N>>(entity).ok()?;
        Some(Box::new(old))
    }

    fn entities(&self, world: &World) -> Vec<Entity> {
        world
            .query::<Entity>()
            .with::<&Declared<N>>()
            .iter()
            .collect()
    }
}

/// The component type of declared slot `slot`; none past
/// [`MAX_DECLARED_COMPONENTS`].
fn declared_type(slot: usize, shape: Shape) -> Option<Box<dyn ComponentType>> {
    macro_rules! slots {
        ($($n:literal)*) => {
            match slot {
                $($n => Some(Box::new(DeclaredType::<$n>(shape)) as Box<dyn ComponentType>),)*
                _ => None,
            }
        };
    }
    slots!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
           32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63)
}

const _: () = assert!(
    MAX_DECLARED_COMPONENTS == 64,
    "one slot per declared component"
);

/// The component types scripts may see, by name.
///
/// Register a type in one line; it needs `serde`'s `Serialize` and
/// `Deserialize`. Values can then be read and written as any serde type
/// (here JSON), converted through MessagePack exactly as scripts' values are:
///
/// ```
/// use moonbox::ComponentRegistry;
/// use serde::{Deserialize, Serialize};
/// use serde_json::{Value, json};
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
/// assert_eq!(registry.get::<Value>(&world, e, "Position")?, Some(json!({"x": 1.0, "y": 2.0})));
/// registry.set(&mut world, e, "Position", &json!({"x": 5, "y": 6}))?;
/// assert_eq!(*world.get::<&Position>(e).unwrap(), Position { x: 5.0, y: 6.0 });
/// assert!(registry.set(&mut world, e, "Position", &json!({"x": 1})).is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
pub struct ComponentRegistry {
    components: BTreeMap<String, Box<dyn ComponentType>>,
    /// Value size caps that differ from [`DEFAULT_MAX_VALUE_BYTES`].
    value_caps: BTreeMap<String, usize>,
    /// Components whose values may carry fields their type does not have.
    lenient: BTreeSet<String>,
    /// Names in registration order: a component's id is its index here.
    by_id: Vec<String>,
    ids: BTreeMap<String, u32>,
    /// Each component's shape: traced for a Rust type, given when declared.
    shapes: BTreeMap<String, Shape>,
    /// Components declared without a Rust type.
    declared: usize,
}

impl std::fmt::Debug for ComponentRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.components
                    .iter()
                    .map(|(name, component)| (name, component.type_name())),
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
        self.shapes.insert(name.to_owned(), Shape::of::<T>());
        self.add_id(name);
        Ok(self)
    }

    /// Declares component `name` with no Rust type: its values are checked
    /// against `shape` exactly as a Rust type's are by serde, and kept in
    /// the world as their MessagePack encoding. For tools that work on a
    /// world described at run time (`moonbox sim --components`); an engine
    /// registers its Rust types. At most [`MAX_DECLARED_COMPONENTS`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut registry = moonbox::ComponentRegistry::new();
    /// for (name, shape) in moonbox::parse_components("[Mana]\nlevel = \"integer\"")? {
    ///     registry.declare(&name, shape)?;
    /// }
    /// let mut world = hecs::World::new();
    /// let e = world.spawn(());
    /// registry.set(&mut world, e, "Mana", &serde_json::json!({"level": 3}))?;
    /// assert!(registry.set(&mut world, e, "Mana", &serde_json::json!({"level": 0.5})).is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`RegistryError::DuplicateName`] if `name` is taken,
    /// [`RegistryError::Declaration`] past the limit.
    pub fn declare(&mut self, name: &str, shape: Shape) -> Result<&mut Self, RegistryError> {
        if self.components.contains_key(name) {
            return Err(RegistryError::DuplicateName {
                name: name.to_owned(),
            });
        }
        let Some(component) = declared_type(self.declared, shape.clone()) else {
            return Err(RegistryError::Declaration {
                name: name.to_owned(),
                reason: format!("at most {MAX_DECLARED_COMPONENTS} components can be declared"),
            });
        };
        self.declared += 1;
        self.components.insert(name.to_owned(), component);
        self.shapes.insert(name.to_owned(), shape);
        self.add_id(name);
        Ok(self)
    }

    /// A registry of the components a components file declares (see
    /// [`crate::parse_components`] for the format).
    ///
    /// # Errors
    /// [`ShapeError`] naming the component and field.
    pub fn declared(text: &str) -> Result<Self, ShapeError> {
        let mut registry = Self::new();
        for (name, shape) in parse_components(text)? {
            registry
                .declare(&name, shape)
                .map_err(|e| ShapeError::Declaration {
                    path: name.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(registry)
    }

    /// The shape of component `name`'s values: traced from its Rust type,
    /// or as declared.
    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    fn add_id(&mut self, name: &str) {
        // Past 2^32 components (never in practice) scripts use the name.
        if let Ok(id) = u32::try_from(self.by_id.len()) {
            self.by_id.push(name.to_owned());
            self.ids.insert(name.to_owned(), id);
        }
    }

    /// Sets the largest value, in MessagePack bytes, a mod may write into
    /// component `name` (by `world:set` or `world:spawn`); past it the
    /// mod's call ends with a [`crate::LimitKind::World`] limit. Values the
    /// engine writes itself are not capped. Default:
    /// [`DEFAULT_MAX_VALUE_BYTES`].
    ///
    /// # Errors
    /// [`RegistryError::UnknownComponent`] if `name` is not registered.
    pub fn set_max_value_bytes(
        &mut self,
        name: &str,
        bytes: usize,
    ) -> Result<&mut Self, RegistryError> {
        self.component(name)?;
        self.value_caps.insert(name.to_owned(), bytes);
        Ok(self)
    }

    /// Lets values of component `name` carry map keys its type has no field
    /// for; they are dropped. By default such a value is refused as
    /// [`RegistryError::InvalidValue`] naming the field, so a typo in a
    /// script or a world file is an error, not a silently lost field.
    ///
    /// ```
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Position { x: f32, y: f32 }
    /// let mut registry = moonbox::ComponentRegistry::new();
    /// registry.register::<Position>("Position").unwrap();
    /// let mut world = hecs::World::new();
    /// let e = world.spawn(());
    /// let typo = serde_json::json!({"x": 1, "y": 2, "z": 3});
    /// assert!(registry.set(&mut world, e, "Position", &typo).is_err());
    /// registry.allow_unknown_fields("Position").unwrap();
    /// assert!(registry.set(&mut world, e, "Position", &typo).is_ok());
    /// ```
    ///
    /// # Errors
    /// [`RegistryError::UnknownComponent`] if `name` is not registered.
    pub fn allow_unknown_fields(&mut self, name: &str) -> Result<&mut Self, RegistryError> {
        self.component(name)?;
        self.lenient.insert(name.to_owned());
        Ok(self)
    }

    /// The largest value a mod may write into component `name`.
    pub fn max_value_bytes(&self, name: &str) -> usize {
        self.value_caps
            .get(name)
            .copied()
            .unwrap_or(DEFAULT_MAX_VALUE_BYTES)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.components.keys().map(String::as_str)
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.components.contains_key(name)
    }

    /// Reads component `name` of `entity` as a `V` (any serde type, e.g.
    /// `serde_json::Value`); `None` if the entity lacks it.
    ///
    /// # Errors
    /// Unknown component or entity, or a conversion that failed or panicked.
    pub fn get<V: DeserializeOwned>(
        &self,
        world: &World,
        entity: Entity,
        name: &str,
    ) -> Result<Option<V>, RegistryError> {
        let Some(bytes) = self.get_msgpack(world, entity, name)? else {
            return Ok(None);
        };
        guarded(name, || rmp_serde::from_slice(&bytes))?
            .map(Some)
            .map_err(|e| invalid(name, &e))
    }

    /// Reads component `name` of `entity` as one MessagePack value, the
    /// encoding mods see; `None` if the entity lacks it.
    ///
    /// # Errors
    /// Unknown component or entity, or a conversion that failed or panicked.
    pub fn get_msgpack(
        &self,
        world: &World,
        entity: Entity,
        name: &str,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        self.component(name)?;
        ensure_alive(world, entity)?;
        let mut out = Vec::new();
        Ok(self.encode(world, entity, name, &mut out)?.then_some(out))
    }

    /// Writes component `name` of `entity` (adding or replacing it) from
    /// `value`, any serde value (e.g. `serde_json::Value`), which must fit
    /// the type exactly; otherwise nothing changes.
    ///
    /// # Errors
    /// Unknown component or entity, a value that does not fit, or a
    /// conversion that panicked.
    pub fn set<V: Serialize + ?Sized>(
        &self,
        world: &mut World,
        entity: Entity,
        name: &str,
        value: &V,
    ) -> Result<(), RegistryError> {
        self.component(name)?;
        ensure_alive(world, entity)?;
        let bytes = rmp_serde::to_vec_named(value).map_err(|e| invalid(name, &e))?;
        self.set_msgpack(world, entity, name, &bytes)
    }

    /// Writes component `name` of `entity` from one MessagePack value, the
    /// encoding mods use (for values that arrive already encoded: a save
    /// file, a network message). The whole value is decoded into the Rust
    /// type before the world is touched; bytes that do not fit change
    /// nothing.
    ///
    /// ```
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Position { x: f64, y: f64 }
    /// let mut registry = moonbox::ComponentRegistry::new();
    /// registry.register::<Position>("Position").unwrap();
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
        let decoded = self.decode(name, bytes)?;
        ensure_alive(world, entity)?;
        decoded.put(world, entity);
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
        let component = self.component(name)?;
        ensure_alive(world, entity)?;
        Ok(component.take(world, entity).is_some())
    }

    /// Whether `entity` has component `name`.
    ///
    /// # Errors
    /// Unknown component or entity.
    pub fn has(&self, world: &World, entity: Entity, name: &str) -> Result<bool, RegistryError> {
        let component = self.component(name)?;
        ensure_alive(world, entity)?;
        Ok(component.has(world, entity))
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
        let component = self.component(name)?;
        guarded(name, || component.encode(name, world, entity, out))?
    }

    /// Decodes a MessagePack value into component `name`'s Rust type, whole,
    /// before anything touches the world.
    pub(crate) fn decode(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Box<dyn Decoded>, RegistryError> {
        let component = self.component(name)?;
        let strict = !self.lenient.contains(name);
        guarded(name, || component.decode(name, bytes, strict))?
    }

    /// Removes component `name` of a live `entity` and returns its value.
    pub(crate) fn take(
        &self,
        world: &mut World,
        entity: Entity,
        name: &str,
    ) -> Result<Option<Box<dyn Decoded>>, RegistryError> {
        Ok(self.component(name)?.take(world, entity))
    }

    /// The entities that have component `name`, in the world's iteration order.
    pub(crate) fn entities_with(
        &self,
        world: &World,
        name: &str,
    ) -> Result<Vec<Entity>, RegistryError> {
        Ok(self.component(name)?.entities(world))
    }

    /// The id scripts may name component `name` by (its registration
    /// order), if it is registered. Ids never change: components are
    /// only ever added, and a registry is shared frozen (`Arc`).
    pub(crate) fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of the component with id `id`.
    pub(crate) fn name_of(&self, id: u32) -> Option<&str> {
        let index = usize::try_from(id).ok()?;
        self.by_id.get(index).map(String::as_str)
    }

    /// Whether a live `entity` has component `name` (no liveness check).
    pub(crate) fn has_unchecked(&self, world: &World, entity: Entity, name: &str) -> bool {
        self.components
            .get(name)
            .is_some_and(|component| component.has(world, entity))
    }

    fn component(&self, name: &str) -> Result<&dyn ComponentType, RegistryError> {
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

/// One `T` from the front of `bytes`: the value, the first field the type
/// ignored (`strict`), and how many bytes follow it; or what is wrong, in
/// the mod author's words.
fn read<T: DeserializeOwned>(
    bytes: &[u8],
    strict: bool,
) -> Result<(T, Option<String>, usize), String> {
    // Without tracking the path first: most values fit, and tracking costs
    // on every field. A value that does not fit is read again, tracked,
    // to say where.
    let mut rest = bytes;
    let mut unknown = None;
    let mut deserializer = rmp_serde::Deserializer::new(&mut rest);
    let value = if strict {
        // Records the first key the type ignored; the value is refused.
        serde_ignored::deserialize(&mut deserializer, |path| {
            unknown.get_or_insert_with(|| path.to_string());
        })
    } else {
        T::deserialize(&mut deserializer)
    };
    match value {
        Ok(value) => Ok((value, unknown, rest.len())),
        Err(_) => read_tracked(bytes, strict),
    }
}

/// [`read`], tracking the path to the field that does not fit.
fn read_tracked<T: DeserializeOwned>(
    bytes: &[u8],
    strict: bool,
) -> Result<(T, Option<String>, usize), String> {
    let mut rest = bytes;
    let mut deserializer = rmp_serde::Deserializer::new(&mut rest);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut deserializer, &mut track);
    let mut unknown = None;
    let value = if strict {
        serde_ignored::deserialize(tracked, |path| {
            unknown.get_or_insert_with(|| path.to_string());
        })
    } else {
        T::deserialize(tracked)
    }
    .map_err(|e| super::describe_at(&track.path(), &e))?;
    Ok((value, unknown, rest.len()))
}

/// At most the first 64 characters of `text` (a key from untrusted input).
fn short(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}...", &text[..cut]).into(),
        None => text.into(),
    }
}

fn invalid(component: &str, reason: &dyn std::fmt::Display) -> RegistryError {
    RegistryError::InvalidValue {
        component: component.to_owned(),
        reason: reason.to_string(),
    }
}

/// Runs an engine's conversion code; a panic in it becomes an error, not a
/// crash (serde impls are the engine's code, not ours).
fn guarded<R>(component: &str, f: impl FnOnce() -> R) -> Result<R, RegistryError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| RegistryError::ConversionPanicked {
        component: component.to_owned(),
    })
}
