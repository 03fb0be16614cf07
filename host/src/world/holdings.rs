//! [`Holdings`]: what one mod makes the world hold, for its world quota.
//!
//! A mod holds the entities it spawned, with the bytes of their values,
//! and the bytes its writes added to entities it did not spawn. A value
//! counts the size of its type if that owns no heap memory (whatever the
//! value, so rewriting it is free), else the size of its MessagePack
//! encoding as the host writes it (so the same value always counts the
//! same, however the guest encoded it). What a mod's writes free on its entry is credited back
//! to that entry only; an entry is dropped when its entity dies (a despawn
//! the mod commits, or the engine's, seen at the next tick). Writes of the
//! engine or of other mods do not change a mod's account: a mod may be
//! charged for bytes others have since freed, never less than what its own
//! writes added, so the bytes all mods hold never exceed their quotas.
//!
//! Every change is journalled until the call ends, so a rolled-back call
//! leaves the holdings as they were.

use std::collections::HashMap;

use hecs::{Entity, World};

/// Bytes counted for each entity a mod holds besides its values' bytes:
/// the host's bookkeeping for it (hecs' record, this map's entry), so that
/// many tiny values cannot hold much more memory than the quota says.
pub const HELD_ENTITY_BYTES: u64 = 64;

/// One entry of a snapshot of [`Holdings`]: the entity's bits, whether
/// the mod spawned it, the bytes counted for it.
pub(crate) type HeldEntry = (u64, bool, u64);

/// One entity a mod holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    /// The mod spawned it.
    spawned: bool,
    /// Bytes of values its writes added (all of them, if it spawned it).
    bytes: u64,
}

/// What one mod makes the world hold.
#[derive(Debug, Default)]
pub(crate) struct Holdings {
    entries: HashMap<Entity, Held>,
    /// Entries with `spawned`.
    spawned: u64,
    /// Sum over entries of their bytes plus [`HELD_ENTITY_BYTES`].
    bytes: u64,
    /// Each entry as it was before a change of the current call, oldest first.
    journal: Vec<(Entity, Option<Held>)>,
}

impl Holdings {
    /// Entities alive that the mod spawned.
    pub(crate) fn spawned_count(&self) -> u64 {
        self.spawned
    }

    /// Bytes the mod holds, bookkeeping included.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether the mod spawned `entity`.
    pub(crate) fn spawned(&self, entity: Entity) -> bool {
        self.entries.get(&entity).is_some_and(|held| held.spawned)
    }

    /// Records a spawn of `entity` with values of `bytes` bytes.
    pub(crate) fn spawn(&mut self, entity: Entity, bytes: u64) {
        self.replace(
            entity,
            Some(Held {
                spawned: true,
                bytes,
            }),
        );
    }

    /// Records a write to `entity` that replaced a value of `old` bytes
    /// (0: none) with one of `new` bytes (0: removed).
    pub(crate) fn resize(&mut self, entity: Entity, old: u64, new: u64) {
        let current = self.entries.get(&entity).copied();
        let next = if new >= old {
            if new == old {
                return;
            }
            let held = current.unwrap_or(Held {
                spawned: false,
                bytes: 0,
            });
            Some(Held {
                bytes: held.bytes.saturating_add(new - old),
                ..held
            })
        } else {
            // Only what this mod's account holds can be credited back.
            let Some(held) = current else {
                return;
            };
            let bytes = held.bytes.saturating_sub(old - new);
            (held.spawned || bytes > 0).then_some(Held { bytes, ..held })
        };
        self.replace(entity, next);
    }

    /// Drops `entity` (despawned).
    pub(crate) fn forget(&mut self, entity: Entity) {
        if self.entries.contains_key(&entity) {
            self.replace(entity, None);
        }
    }

    /// Drops the entities that no longer exist; between calls only (it is
    /// not journalled).
    pub(crate) fn forget_dead(&mut self, world: &World) {
        debug_assert!(self.journal.is_empty());
        self.entries.retain(|entity, _| world.contains(*entity));
        self.recount();
    }

    /// Every entry, in order of the entities' bits: the entity's bits,
    /// whether the mod spawned it, and the bytes counted for it.
    pub(crate) fn entries(&self) -> Vec<HeldEntry> {
        let mut entries: Vec<_> = self
            .entries
            .iter()
            .map(|(entity, held)| (entity.to_bits().get(), held.spawned, held.bytes))
            .collect();
        entries.sort_unstable();
        entries
    }

    /// Holdings with these entries (as [`Holdings::entries`] gave them);
    /// `None` if an entity's bits are not a handle.
    pub(crate) fn from_entries(entries: &[HeldEntry]) -> Option<Self> {
        let mut holdings = Self::default();
        for &(bits, spawned, bytes) in entries {
            holdings.set_entry(Entity::from_bits(bits)?, Some(Held { spawned, bytes }));
        }
        Some(holdings)
    }

    /// Keeps the current call's changes.
    pub(crate) fn commit(&mut self) {
        self.journal.clear();
    }

    /// Undoes the current call's changes.
    pub(crate) fn roll_back(&mut self) {
        while let Some((entity, before)) = self.journal.pop() {
            self.set_entry(entity, before);
        }
    }

    /// Sets `entity`'s entry, journalling what it was.
    fn replace(&mut self, entity: Entity, next: Option<Held>) {
        let before = self.set_entry(entity, next);
        self.journal.push((entity, before));
    }

    /// Sets `entity`'s entry and the totals; returns what it was.
    fn set_entry(&mut self, entity: Entity, next: Option<Held>) -> Option<Held> {
        let before = match next {
            Some(held) => self.entries.insert(entity, held),
            None => self.entries.remove(&entity),
        };
        for (held, sign) in [(before, false), (next, true)] {
            let Some(held) = held else { continue };
            let bytes = held.bytes.saturating_add(HELD_ENTITY_BYTES);
            let spawned = u64::from(held.spawned);
            if sign {
                self.bytes = self.bytes.saturating_add(bytes);
                self.spawned += spawned;
            } else {
                self.bytes = self.bytes.saturating_sub(bytes);
                self.spawned -= spawned;
            }
        }
        before
    }

    fn recount(&mut self) {
        self.spawned = self.entries.values().filter(|h| h.spawned).count() as u64;
        self.bytes = self
            .entries
            .values()
            .map(|h| h.bytes.saturating_add(HELD_ENTITY_BYTES))
            .fold(0, u64::saturating_add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(world: &mut World) -> Entity {
        world.spawn(())
    }

    #[test]
    fn writes_add_and_credit_back_only_what_the_mod_added() {
        let mut world = World::new();
        let (mine, theirs) = (entity(&mut world), entity(&mut world));
        let mut holdings = Holdings::default();
        holdings.spawn(mine, 100);
        assert_eq!(holdings.bytes(), 100 + HELD_ENTITY_BYTES);
        holdings.resize(theirs, 10, 50);
        assert_eq!(holdings.bytes(), 100 + 40 + 2 * HELD_ENTITY_BYTES);
        // Shrinking someone else's value below what it was credits only
        // what this mod added, and the entry goes.
        holdings.resize(theirs, 50, 0);
        assert_eq!(holdings.bytes(), 100 + HELD_ENTITY_BYTES);
        holdings.resize(theirs, 20, 5);
        assert_eq!(holdings.bytes(), 100 + HELD_ENTITY_BYTES);
        // Its own spawn stays held at zero bytes.
        holdings.resize(mine, 100, 0);
        assert_eq!(holdings.bytes(), HELD_ENTITY_BYTES);
        assert_eq!(holdings.spawned_count(), 1);
    }

    #[test]
    fn a_rolled_back_call_leaves_the_holdings_as_they_were() {
        let mut world = World::new();
        let (a, b) = (entity(&mut world), entity(&mut world));
        let mut holdings = Holdings::default();
        holdings.spawn(a, 30);
        holdings.commit();
        holdings.resize(a, 10, 1000);
        holdings.spawn(b, 7);
        holdings.forget(a);
        holdings.roll_back();
        assert_eq!(holdings.bytes(), 30 + HELD_ENTITY_BYTES);
        assert_eq!(holdings.spawned_count(), 1);
        assert!(holdings.spawned(a) && !holdings.spawned(b));
    }

    #[test]
    fn dead_entities_are_forgotten() {
        let mut world = World::new();
        let (a, b) = (entity(&mut world), entity(&mut world));
        let mut holdings = Holdings::default();
        holdings.spawn(a, 30);
        holdings.resize(b, 0, 20);
        holdings.commit();
        assert!(world.despawn(a).is_ok());
        holdings.forget_dead(&world);
        assert_eq!(holdings.bytes(), 20 + HELD_ENTITY_BYTES);
        assert_eq!(holdings.spawned_count(), 0);
    }
}
