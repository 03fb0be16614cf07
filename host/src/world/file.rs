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
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::registry::{ComponentRegistry, RegistryError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    entities: Vec<Map<String, Value>>,
}

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
    let value: Value = serde_json::from_str(text)?;
    world_from_value(value, registry)
}

/// As [`world_from_json`], from parsed JSON.
pub(crate) fn world_from_value(
    value: Value,
    registry: &ComponentRegistry,
) -> Result<World, WorldFileError> {
    let file: WorldFile = serde_json::from_value(value)?;
    let mut world = World::new();
    for (index, components) in file.entities.into_iter().enumerate() {
        let entity = world.spawn(());
        for (name, value) in components {
            registry
                .set(&mut world, entity, &name, &value)
                .map_err(|error| WorldFileError::Entity { index, error })?;
        }
    }
    Ok(world)
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
