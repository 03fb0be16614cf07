//! The world in a snapshot: every entity's handle and registered
//! components, and hecs's free list, so that entities spawned after a
//! restore get the handles they would have got.

use std::collections::HashSet;

use hecs::{Entity, World};
use serde::{Deserialize, Serialize};

use super::SnapshotError;
use crate::world::file::MAX_WORLD_ENTITIES;
use crate::world::registry::ComponentRegistry;

/// One entity: its handle's bits and its registered components, by name,
/// as MessagePack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EntityState {
    bits: u64,
    components: Vec<(String, serde_bytes::ByteBuf)>,
}

/// A world as a snapshot keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WorldState {
    /// In order of their bits.
    entities: Vec<EntityState>,
    /// The handles future spawns reuse, in hecs's order.
    freelist: Vec<u64>,
}

impl WorldState {
    /// Every entity with its registered components.
    pub(crate) fn capture(
        world: &World,
        registry: &ComponentRegistry,
    ) -> Result<Self, SnapshotError> {
        let mut handles: Vec<Entity> = world.iter().map(|entity| entity.entity()).collect();
        handles.sort_by_key(|entity| entity.to_bits());
        let names: Vec<&str> = registry.names().collect();
        let mut entities = Vec::with_capacity(handles.len());
        for entity in handles {
            let mut components = Vec::new();
            for name in &names {
                let mut value = Vec::new();
                let had = registry
                    .encode(world, entity, name, &mut value)
                    .map_err(|e| SnapshotError::World {
                        message: e.to_string(),
                    })?;
                if had {
                    components.push(((*name).to_owned(), serde_bytes::ByteBuf::from(value)));
                }
            }
            entities.push(EntityState {
                bits: entity.to_bits().get(),
                components,
            });
        }
        Ok(Self {
            entities,
            freelist: world.freelist().map(|e| e.to_bits().get()).collect(),
        })
    }

    /// The world this state describes. Handles must be valid and distinct,
    /// and the live and free ids together must be exactly `0..n`, as in
    /// any world hecs made; values must fit the registry.
    pub(crate) fn restore(&self, registry: &ComponentRegistry) -> Result<World, SnapshotError> {
        let total = self.entities.len().saturating_add(self.freelist.len());
        if total > 2 * MAX_WORLD_ENTITIES {
            return Err(bad(format!(
                "{total} entity ids, more than {}",
                2 * MAX_WORLD_ENTITIES
            )));
        }
        let handle = |bits: u64| {
            Entity::from_bits(bits)
                .filter(|entity| (entity.id() as usize) < total)
                .ok_or_else(|| {
                    bad(format!(
                        "entity handle {bits:#x} is not one this world can hold"
                    ))
                })
        };
        let mut ids = HashSet::with_capacity(total);
        let mut world = World::new();
        for state in &self.entities {
            let entity = handle(state.bits)?;
            if !ids.insert(entity.id()) {
                return Err(bad(format!("entity id {} appears twice", entity.id())));
            }
            world.spawn_at(entity, ());
            for (name, value) in &state.components {
                registry
                    .set_msgpack(&mut world, entity, name, value)
                    .map_err(|e| bad(format!("entity {:#x}: {e}", state.bits)))?;
            }
        }
        let mut freelist = Vec::with_capacity(self.freelist.len());
        for &bits in &self.freelist {
            let entity = handle(bits)?;
            if !ids.insert(entity.id()) {
                return Err(bad(format!(
                    "entity id {} is both live and free, or free twice",
                    entity.id()
                )));
            }
            freelist.push(entity);
        }
        // Every id below `total` is now live or free, once: what hecs
        // requires of a free list.
        world.set_freelist(&freelist);
        Ok(world)
    }
}

fn bad(message: String) -> SnapshotError {
    SnapshotError::World { message }
}
