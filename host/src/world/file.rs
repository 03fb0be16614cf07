//! World files: a world's entities as JSON, the adapter between JSON and the
//! registry's MessagePack values.
//!
//! ```json
//! { "entities": [
//!     { "Position": { "x": 10, "y": 20 }, "Health": { "hp": 5, "max": 10 } },
//!     { "Position": { "x": 0, "y": 0 } }
//! ] }
//! ```
//!
//! Each entity is an object from component name to value; values must fit
//! the registered types exactly. Entities are spawned in file order.

use hecs::World;
use serde_json::{Map, Value, json};

use super::registry::{ComponentRegistry, RegistryError};

/// Most entities a world file may hold.
pub const MAX_WORLD_ENTITIES: usize = 1_000_000;

/// Why a world file could not be turned into a world.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorldFileError {
    /// The text is not a world file: not JSON, or not `{"entities": [...]}`.
    #[error("{message}")]
    Format {
        /// What the JSON parser reported, with the line and column.
        message: String,
        /// The line, from 1 (0 when the value, not the text, is wrong).
        line: usize,
    },
    /// The file holds more than [`MAX_WORLD_ENTITIES`] entities.
    #[error("a world file may hold at most {MAX_WORLD_ENTITIES} entities")]
    TooManyEntities,
    /// A component of an entity does not fit the registry.
    #[error("entity #{index}: {error}")]
    Entity {
        /// The entity's index in the file, from 0.
        index: usize,
        /// Which component and why.
        error: RegistryError,
    },
}

impl From<serde_json::Error> for WorldFileError {
    fn from(error: serde_json::Error) -> Self {
        Self::Format {
            message: error.to_string(),
            line: error.line(),
        }
    }
}

/// Builds a world from world-file text.
///
/// ```
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Hp { hp: i32 }
/// let mut registry = moonbox::ComponentRegistry::new();
/// registry.register::<Hp>("Hp").unwrap();
/// let world = moonbox::world_from_json(r#"{"entities": [{"Hp": {"hp": 3}}]}"#, &registry)?;
/// assert_eq!(world.len(), 1);
/// assert!(moonbox::world_from_json(r#"{"entities": [{"Hp": {"hp": "x"}}]}"#, &registry).is_err());
/// # Ok::<(), moonbox::WorldFileError>(())
/// ```
///
/// # Errors
/// [`WorldFileError`] naming the entity (by index) and component that do not fit.
pub fn world_from_json(text: &str, registry: &ComponentRegistry) -> Result<World, WorldFileError> {
    // Entities are spawned as they are parsed, one at a time: the text is
    // never held as a whole JSON tree, which takes many times its size.
    let mut world = World::new();
    let mut failure = None;
    let loader = Loader {
        registry,
        world: &mut world,
        failure: &mut failure,
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = serde::de::DeserializeSeed::deserialize(loader, &mut deserializer)
        .and_then(|()| deserializer.end());
    match (failure, parsed) {
        (Some(error), _) => Err(error),
        (None, Err(error)) => Err(error.into()),
        (None, Ok(())) => Ok(world),
    }
}

/// Spawns the entities of a world file as the parser reaches them.
struct Loader<'a> {
    registry: &'a ComponentRegistry,
    world: &'a mut World,
    /// The first entity that did not fit, which stopped the parse.
    failure: &'a mut Option<WorldFileError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Loader<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Loader<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(r#"a world file: {"entities": [...]}"#)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use serde::de::Error;
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key != "entities" || seen {
                return Err(A::Error::custom(format!(
                    "unexpected key '{}': a world file has one key, `entities`",
                    key.chars().take(64).collect::<String>()
                )));
            }
            seen = true;
            map.next_value_seed(Entities {
                registry: self.registry,
                world: &mut *self.world,
                failure: &mut *self.failure,
            })?;
        }
        if seen {
            Ok(())
        } else {
            Err(A::Error::missing_field("entities"))
        }
    }
}

struct Entities<'a> {
    registry: &'a ComponentRegistry,
    world: &'a mut World,
    failure: &'a mut Option<WorldFileError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Entities<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Entities<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of entities")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        use serde::de::Error;
        let mut index = 0;
        while let Some(components) = seq.next_element::<Map<String, Value>>()? {
            let stop = |failure: &mut Option<WorldFileError>, error| {
                *failure = Some(error);
                A::Error::custom("stopped")
            };
            if index >= MAX_WORLD_ENTITIES {
                return Err(stop(self.failure, WorldFileError::TooManyEntities));
            }
            if let Err(error) = spawn(self.world, self.registry, index, components) {
                return Err(stop(self.failure, error));
            }
            index += 1;
        }
        Ok(())
    }
}

/// Spawns entity number `index` of a world file.
fn spawn(
    world: &mut World,
    registry: &ComponentRegistry,
    index: usize,
    components: Map<String, Value>,
) -> Result<(), WorldFileError> {
    let entity = world.spawn(());
    for (name, value) in components {
        registry
            .set(world, entity, &name, &value)
            .map_err(|error| WorldFileError::Entity { index, error })?;
    }
    Ok(())
}

/// The world as world-file JSON: every entity in order of its bits, each
/// with its registered components (entities with none are kept as `{}` so
/// that loading the file back gives every entity the same handle, as long
/// as the world's handles were dense: a fresh world's are).
///
/// # Errors
/// A component whose conversion fails.
pub fn world_to_json(world: &World, registry: &ComponentRegistry) -> Result<Value, RegistryError> {
    let mut entities: Vec<_> = world.iter().map(|entity| entity.entity()).collect();
    entities.sort_by_key(|entity| entity.to_bits());
    let mut out = Vec::with_capacity(entities.len());
    for entity in entities {
        out.push(Value::Object(entity_json(world, registry, entity)?));
    }
    Ok(json!({ "entities": out }))
}

/// The world as world-file JSON text, the same bytes as
/// `world_to_json(..).to_string()`, written entity by entity without a JSON
/// tree of the whole world.
pub(crate) fn world_to_json_text(
    world: &World,
    registry: &ComponentRegistry,
) -> Result<String, RegistryError> {
    let mut entities: Vec<_> = world.iter().map(|entity| entity.entity()).collect();
    entities.sort_by_key(|entity| entity.to_bits());
    let mut out = String::from(r#"{"entities":["#);
    for (index, entity) in entities.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let components = Value::Object(entity_json(world, registry, entity)?);
        out.push_str(&components.to_string());
    }
    out.push_str("]}");
    Ok(out)
}

/// One entity's registered components, by name.
pub(crate) fn entity_json(
    world: &World,
    registry: &ComponentRegistry,
    entity: hecs::Entity,
) -> Result<Map<String, Value>, RegistryError> {
    let mut components = Map::new();
    for name in registry.names() {
        if let Some(value) = registry.get::<Value>(world, entity, name)? {
            components.insert(name.to_owned(), value);
        }
    }
    Ok(components)
}
