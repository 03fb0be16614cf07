//! [`WorldSession`]: what one handler call of one script may do to the
//! world, and the transaction that makes the call all-or-nothing.
//!
//! The session owns the world only for the duration of the call (it is moved
//! in and out by [`crate::ScriptSystem`]). Writes go straight to the world
//! and log how to undo themselves, so reads see the call's own writes at no
//! cost; despawns wait for the commit, so an undo never has to rebuild an
//! entity with components the registry does not know.

use std::collections::HashSet;
use std::sync::Arc;

use hecs::{Entity, World};

use crate::bindings::{FrameInfo, QueryPage, WorldError};
use crate::permissions::{Denied, EntityFacts, Operation, Permissions};
use crate::registry::{ComponentRegistry, RegistryError, Undo};

/// Most queries one call may have open at once (each holds its entity list).
pub const MAX_OPEN_QUERIES: usize = 64;

/// What happens when a script attempts something its permissions deny.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ViolationPolicy {
    /// End the call at once (uncatchable: `pcall` cannot probe), roll it
    /// back and report [`crate::ScriptError::SecurityViolation`]; the
    /// manager then disables the mod. The default.
    #[default]
    Disable,
    /// Refuse only the call: the script gets a catchable Lua error.
    Reject,
}

/// A world call that did not happen.
pub(crate) enum Refusal {
    /// An ordinary error the script sees as a Lua error.
    Error(WorldError),
    /// A permission check failed.
    Denied(Denied),
}

impl From<WorldError> for Refusal {
    fn from(error: WorldError) -> Self {
        Self::Error(error)
    }
}

impl From<Denied> for Refusal {
    fn from(denied: Denied) -> Self {
        Self::Denied(denied)
    }
}

/// The world as one script sees it during one call.
pub(crate) struct WorldSession {
    world: World,
    registry: Arc<ComponentRegistry>,
    permissions: Arc<Permissions>,
    /// Entities the script spawned (its own, for the `spawned` scope).
    owned: HashSet<Entity>,
    frame: FrameInfo,
    config: Arc<[u8]>,
    pub(crate) on_violation: ViolationPolicy,
    undo: Vec<Undo>,
    spawned: Vec<Entity>,
    despawned: HashSet<Entity>,
    despawn_order: Vec<Entity>,
    queries: Vec<Query>,
    /// The number the host gives this call's first query (`queries[0]`).
    first_query: u32,
}

/// An open query: its components and the entities it matched at its start.
struct Query {
    components: Vec<String>,
    entities: Vec<Entity>,
    position: usize,
}

/// What a session gives back when the call ends.
pub(crate) struct SessionEnd {
    pub(crate) world: World,
    pub(crate) owned: HashSet<Entity>,
}

/// The inputs of a session besides the world.
pub(crate) struct SessionInputs {
    pub(crate) registry: Arc<ComponentRegistry>,
    pub(crate) permissions: Arc<Permissions>,
    pub(crate) owned: HashSet<Entity>,
    pub(crate) tick: u64,
    pub(crate) dt: f64,
    pub(crate) config: Arc<[u8]>,
    pub(crate) on_violation: ViolationPolicy,
}

impl WorldSession {
    pub(crate) fn new(world: World, inputs: SessionInputs) -> Self {
        Self {
            world,
            registry: inputs.registry,
            permissions: inputs.permissions,
            owned: inputs.owned,
            frame: FrameInfo {
                tick: inputs.tick,
                dt: inputs.dt,
            },
            config: inputs.config,
            on_violation: inputs.on_violation,
            undo: Vec::new(),
            spawned: Vec::new(),
            despawned: HashSet::new(),
            despawn_order: Vec::new(),
            queries: Vec::new(),
            first_query: 0,
        }
    }

    /// Numbers this call's queries from `first` on (the count earlier calls
    /// of the sandbox opened).
    pub(crate) fn number_queries_from(&mut self, first: u32) {
        self.first_query = first;
    }

    /// The number the sandbox's next call numbers its queries from.
    pub(crate) fn next_query_number(&self) -> u32 {
        let opened = u32::try_from(self.queries.len()).unwrap_or(u32::MAX);
        self.first_query.wrapping_add(opened)
    }

    /// Ends the call: keeps its changes if `commit`, otherwise restores the
    /// world exactly as it was before the call.
    pub(crate) fn finish(mut self, commit: bool) -> SessionEnd {
        if commit {
            for entity in self.despawn_order.drain(..) {
                // Ignoring the result: the entity may have been despawned by an undo.
                let _ = self.world.despawn(entity);
                self.owned.remove(&entity);
            }
        } else {
            while let Some(undo) = self.undo.pop() {
                undo(&mut self.world);
            }
            for entity in self.spawned.drain(..) {
                self.owned.remove(&entity);
            }
        }
        SessionEnd {
            world: self.world,
            owned: self.owned,
        }
    }

    pub(crate) fn frame(&self) -> FrameInfo {
        self.frame
    }

    pub(crate) fn config(&self) -> Vec<u8> {
        self.config.to_vec()
    }

    pub(crate) fn get(&mut self, bits: u64, component: &str) -> Result<Option<Vec<u8>>, Refusal> {
        let entity = self.entity_for(Operation::Read(component), bits)?;
        let mut out = Vec::new();
        let found = self
            .registry
            .encode(&self.world, entity, component, &mut out)
            .map_err(refusal)?;
        Ok(found.then_some(out))
    }

    pub(crate) fn set(&mut self, bits: u64, component: &str, value: &[u8]) -> Result<(), Refusal> {
        let entity = self.entity_for(Operation::Write(component), bits)?;
        let pending = self.registry.decode(component, value).map_err(refusal)?;
        pending.apply(&mut self.world, entity, &mut self.undo);
        Ok(())
    }

    pub(crate) fn remove(&mut self, bits: u64, component: &str) -> Result<bool, Refusal> {
        let entity = self.entity_for(Operation::Write(component), bits)?;
        self.registry
            .remove_logged(&mut self.world, entity, component, &mut self.undo)
            .map_err(refusal)
    }

    pub(crate) fn has(&mut self, bits: u64, component: &str) -> Result<bool, Refusal> {
        let entity = self.entity_for(Operation::Read(component), bits)?;
        Ok(self.registry.has_unchecked(&self.world, entity, component))
    }

    pub(crate) fn query(
        &mut self,
        components: Vec<String>,
        max: u32,
    ) -> Result<QueryPage, Refusal> {
        for component in &components {
            self.permissions.check(Operation::Read(component))?;
        }
        if self.queries.len() >= MAX_OPEN_QUERIES {
            return Err(WorldError::Invalid(format!(
                "more than {MAX_OPEN_QUERIES} queries in one call"
            ))
            .into());
        }
        let Some((first, rest)) = components.split_first() else {
            return Err(WorldError::Invalid("a query needs at least one component".into()).into());
        };
        let mut entities = self
            .registry
            .entities_with(&self.world, first)
            .map_err(refusal)?;
        for component in rest {
            if !self.registry.contains(component) {
                return Err(refusal(RegistryError::UnknownComponent {
                    name: component.clone(),
                }));
            }
        }
        entities.retain(|&entity| {
            !self.despawned.contains(&entity)
                && rest
                    .iter()
                    .all(|c| self.registry.has_unchecked(&self.world, entity, c))
                && self.permissions.in_scope(&Facts {
                    session: self,
                    entity,
                })
        });
        let cursor = self.next_query_number();
        self.queries.push(Query {
            components,
            entities,
            position: 0,
        });
        self.query_next(cursor, max)
    }

    pub(crate) fn query_next(&mut self, cursor: u32, max: u32) -> Result<QueryPage, Refusal> {
        let index = usize::try_from(cursor.wrapping_sub(self.first_query)).unwrap_or(usize::MAX);
        let Some(query) = self.queries.get_mut(index) else {
            return Err(WorldError::Invalid(
                "the query has ended: a query lasts only as long as the handler call that opened it"
                    .into(),
            )
            .into());
        };
        let max = usize::try_from(max.max(1)).unwrap_or(usize::MAX);
        let mut entities = Vec::new();
        let mut values = Vec::new();
        while entities.len() < max && query.position < query.entities.len() {
            let entity = query.entities[query.position];
            query.position += 1;
            // Membership was fixed at the start; skip what the call itself
            // has since despawned or stripped.
            if self.despawned.contains(&entity) || !self.world.contains(entity) {
                continue;
            }
            let mark = values.len();
            let mut complete = true;
            for component in &query.components {
                if !self
                    .registry
                    .encode(&self.world, entity, component, &mut values)
                    .map_err(refusal)?
                {
                    complete = false;
                    break;
                }
            }
            if complete {
                entities.push(entity.to_bits().get());
            } else {
                values.truncate(mark);
            }
        }
        let next = (query.position < query.entities.len()).then_some(cursor);
        Ok(QueryPage {
            entities,
            values,
            next,
        })
    }

    pub(crate) fn spawn(&mut self, components: Vec<(String, Vec<u8>)>) -> Result<u64, Refusal> {
        self.permissions.check(Operation::Spawn)?;
        for (component, _) in &components {
            self.permissions.check(Operation::Write(component))?;
        }
        // Every value is decoded before the entity exists: a bad value
        // spawns nothing.
        let mut builder = hecs::EntityBuilder::new();
        let mut names = HashSet::new();
        for (component, bytes) in &components {
            if !names.insert(component.as_str()) {
                return Err(
                    WorldError::Invalid(format!("component '{component}' given twice")).into(),
                );
            }
            self.registry
                .decode(component, bytes)
                .map_err(refusal)?
                .add_to(&mut builder);
        }
        let entity = self.world.spawn(builder.build());
        self.undo.push(Box::new(move |world: &mut World| {
            let _ = world.despawn(entity);
        }));
        self.spawned.push(entity);
        self.owned.insert(entity);
        Ok(entity.to_bits().get())
    }

    pub(crate) fn despawn(&mut self, bits: u64) -> Result<(), Refusal> {
        let entity = self.entity_for(Operation::Despawn, bits)?;
        if self.despawned.insert(entity) {
            self.despawn_order.push(entity);
        }
        Ok(())
    }

    /// Checks `operation` on the entity `bits`: permission first, so a
    /// script learns nothing about entities or components it may not see.
    fn entity_for(&self, operation: Operation<'_>, bits: u64) -> Result<Entity, Refusal> {
        let entity = Entity::from_bits(bits);
        let facts_entity = entity.filter(|e| self.alive(*e));
        match facts_entity {
            Some(entity) => {
                self.permissions.check_entity(
                    operation,
                    bits,
                    &Facts {
                        session: self,
                        entity,
                    },
                )?;
                Ok(entity)
            }
            None => {
                // A dead entity is in nobody's scope, but a script holding a
                // stale id of its own is a bug, not an attack: an error.
                self.permissions.check(operation)?;
                Err(WorldError::NoEntity(bits).into())
            }
        }
    }

    fn alive(&self, entity: Entity) -> bool {
        self.world.contains(entity) && !self.despawned.contains(&entity)
    }
}

struct Facts<'a> {
    session: &'a WorldSession,
    entity: Entity,
}

impl EntityFacts for Facts<'_> {
    fn spawned_by_script(&self) -> bool {
        self.session.owned.contains(&self.entity)
    }

    fn has_component(&self, name: &str) -> bool {
        self.session
            .registry
            .has_unchecked(&self.session.world, self.entity, name)
    }
}

fn refusal(error: RegistryError) -> Refusal {
    Refusal::Error(match error {
        RegistryError::NoSuchEntity { entity } => WorldError::NoEntity(entity),
        other => WorldError::Invalid(other.to_string()),
    })
}
