//! A stable hash of a world's scriptable state, for desync checks.

use hecs::World;
use sha2::{Digest, Sha256};

use super::registry::{ComponentRegistry, RegistryError};

/// SHA-256 (hex) of every registered component of every entity.
///
/// Entities are taken in order of their bits and components in name order,
/// each value in its MessagePack form, so the hash depends neither on hecs's
/// iteration order nor on hash-map order, only on the entities, their
/// registered components and those values. (A component type that holds a
/// `HashMap` serializes in that map's order; use `BTreeMap` in components
/// whose hash must be stable.)
///
/// ```
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Hp(i32);
/// let mut registry = moonbox::ComponentRegistry::new();
/// registry.register::<Hp>("Hp")?;
/// let mut a = hecs::World::new();
/// a.spawn((Hp(3),));
/// let mut b = hecs::World::new();
/// b.spawn((Hp(3),));
/// assert_eq!(moonbox::world_hash(&a, &registry)?, moonbox::world_hash(&b, &registry)?);
/// # Ok::<(), moonbox::RegistryError>(())
/// ```
///
/// # Errors
/// A component whose serialization fails.
pub fn world_hash(world: &World, registry: &ComponentRegistry) -> Result<String, RegistryError> {
    let mut entities: Vec<_> = world.iter().map(|entity| entity.entity()).collect();
    entities.sort_by_key(|entity| entity.to_bits());
    let names: Vec<&str> = registry.names().collect();
    let mut hasher = Sha256::new();
    let mut value = Vec::new();
    for entity in entities {
        let mut header_written = false;
        for name in &names {
            value.clear();
            if registry.encode(world, entity, name, &mut value)? {
                if !header_written {
                    hasher.update(b"E");
                    hasher.update(entity.to_bits().get().to_le_bytes());
                    header_written = true;
                }
                hasher.update(u64::try_from(name.len()).unwrap_or(u64::MAX).to_le_bytes());
                hasher.update(name.as_bytes());
                hasher.update(u64::try_from(value.len()).unwrap_or(u64::MAX).to_le_bytes());
                hasher.update(&value);
            }
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
