//! World files: a world's starting entities as JSON.
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

use crate::{ComponentRegistry, ComponentValue};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    entities: Vec<serde_json::Map<String, ComponentValue>>,
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
/// # Ok::<(), String>(())
/// ```
///
/// # Errors
/// A message naming the entity (by index) and component that do not fit.
pub fn world_from_json(text: &str, registry: &ComponentRegistry) -> Result<World, String> {
    let file: WorldFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut world = World::new();
    for (index, components) in file.entities.into_iter().enumerate() {
        let entity = world.spawn(());
        for (name, value) in components {
            registry
                .set(&mut world, entity, &name, value)
                .map_err(|e| format!("entity #{index}: {e}"))?;
        }
    }
    Ok(world)
}
