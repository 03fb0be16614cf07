//! [`Transaction`]: what one handler call of one script may do to the world,
//! and the log that makes the call all-or-nothing.
//!
//! The transaction owns the world only for the duration of the call (the
//! system moves it in and out). Every world call is checked against the
//! script's [`Permissions`] here, before it runs. Writes go straight to the
//! world and log how to undo themselves, so reads see the call's own writes
//! at no cost; despawns wait for the commit, so an undo never has to
//! rebuild an entity with components the registry does not know. Queries
//! are numbered across a sandbox's calls so that an iterator kept past its
//! call is refused instead of reading a later call's query.
//!
//! The WIT `ecs` interface is implemented at the end of this file: each
//! import goes straight to the transaction attached to the sandbox's store,
//! and a denial becomes a refused call or a trap as the policy says.

use std::collections::HashSet;
use std::sync::Arc;

use hecs::{Entity, World};

use super::holdings::Holdings;
use super::permissions::{Denied, EntityFacts, EntityScope, Operation, Permissions};
use super::registry::{ComponentRegistry, Previous, RegistryError};
use crate::engine_api::functions::CallFailure;
use crate::engine_api::{CallContext, Command, CommandQueue, EngineFunctions};
use crate::runtime::bindings::{FrameInfo, QueryPage, WorldError, moonbox::sandbox::ecs};
use crate::runtime::error::ScriptError;
use crate::runtime::meter::{FuelOwed, price, priced};
use crate::runtime::store::StoreState;
use crate::runtime::trap::{ViolationTrap, WorldLimitTrap};

/// Most queries one call may have open at once (each holds its entity list).
pub const MAX_OPEN_QUERIES: usize = 64;
/// Longest component name a world call may use, in bytes: a name is echoed
/// in errors and denial reasons, which must stay short.
pub const MAX_COMPONENT_NAME_LEN: usize = 128;
/// Most components one query may name (each at most once).
pub const MAX_QUERY_COMPONENTS: usize = 32;
/// Most bytes of values the host encodes into one query page. A page holds
/// at least one entity, so a page is at most this plus one entity's values
/// (each bounded by the registry's value size cap for values mods write).
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// What happens when a script attempts something its permissions deny.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ViolationPolicy {
    /// End the call at once (uncatchable: `pcall` cannot probe), roll it
    /// back and report [`crate::ScriptError::SecurityViolation`]; the
    /// manager then disables the mod. The default.
    #[default]
    Disable,
    /// Refuse only the call: the script gets a catchable Lua error, and
    /// [`crate::ScriptError::PermissionDenied`] if it does not catch it.
    Reject,
}

/// A world call that did not happen.
pub(crate) enum Refusal {
    /// An ordinary error the script sees as a Lua error.
    Error(WorldError),
    /// A permission check failed.
    Denied(Denied),
    /// A bound on what the mod may make the host hold: ends the call.
    Limit(String),
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

impl From<RegistryError> for Refusal {
    fn from(error: RegistryError) -> Self {
        Self::Error(match error {
            RegistryError::NoSuchEntity { entity } => WorldError::NoEntity(entity),
            other => WorldError::Invalid(other.to_string()),
        })
    }
}

/// How to undo one change, newest last.
enum Undo {
    /// Put back what `entity` had before a write or a removal.
    Restore { entity: Entity, previous: Previous },
    /// Despawn an entity the call spawned.
    Spawned(Entity),
}

/// The world as one script sees it during one call.
pub(crate) struct Transaction {
    world: World,
    registry: Arc<ComponentRegistry>,
    permissions: Arc<Permissions>,
    /// What the mod makes the world hold: the entities it spawned (its
    /// own, for the `spawned` scope) and the bytes its writes added.
    holdings: Holdings,
    frame: FrameInfo,
    config: Arc<[u8]>,
    on_violation: ViolationPolicy,
    quota: WorldQuota,
    undo: Vec<Undo>,
    despawned: HashSet<Entity>,
    despawn_order: Vec<Entity>,
    queries: Vec<Query>,
    /// The number the host gives this call's first query (`queries[0]`).
    first_query: u32,
    /// Denials this call refused under [`ViolationPolicy::Reject`]: an
    /// uncaught Lua error that is one of them is a permission denial.
    denials: Vec<String>,
    /// Fuel for the host work of world calls, moved to the store after each.
    work: FuelOwed,
    functions: Arc<EngineFunctions>,
    mod_name: Arc<str>,
    /// Commands emitted, delivered if the call commits.
    commands: CommandQueue,
}

/// Most denials a call remembers; one is enough to classify its error.
const MAX_REMEMBERED_DENIALS: usize = 8;

/// An open query: its components and the entities it matched at its start.
struct Query {
    components: Vec<String>,
    /// The components its loop writes back (`query-write`); empty for a
    /// read-only query.
    writes: Vec<String>,
    entities: Vec<Entity>,
    position: usize,
}

/// What a transaction gives back when the call ends.
pub(crate) struct Finished {
    pub(crate) world: World,
    pub(crate) holdings: Holdings,
    /// The commands of a committed call; none after a rollback.
    pub(crate) commands: Vec<Command>,
}

/// How much a mod may make the world hold through its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorldQuota {
    /// Entities alive that its spawns keep.
    pub(crate) entities: u64,
    /// Bytes of component values its spawns and writes add (see
    /// `holdings.rs` for what counts).
    pub(crate) bytes: u64,
}

/// The inputs of a transaction besides the world.
pub(crate) struct TransactionInputs {
    pub(crate) registry: Arc<ComponentRegistry>,
    pub(crate) permissions: Arc<Permissions>,
    pub(crate) holdings: Holdings,
    pub(crate) tick: u64,
    pub(crate) dt: f64,
    pub(crate) config: Arc<[u8]>,
    pub(crate) on_violation: ViolationPolicy,
    pub(crate) quota: WorldQuota,
    pub(crate) functions: Arc<EngineFunctions>,
    pub(crate) mod_name: Arc<str>,
}

/// Scope facts about one entity, gathered before the permission check.
struct Facts<'a> {
    spawned_by_script: bool,
    /// The scope's tag, if it has one, and whether the entity carries it.
    tag: Option<(&'a str, bool)>,
}

impl EntityFacts for Facts<'_> {
    fn spawned_by_script(&self) -> bool {
        self.spawned_by_script
    }

    fn has_component(&self, name: &str) -> bool {
        self.tag
            .as_ref()
            .is_some_and(|&(tag, has)| has && tag == name)
    }
}

impl Transaction {
    pub(crate) fn new(world: World, inputs: TransactionInputs) -> Self {
        Self {
            world,
            registry: inputs.registry,
            permissions: inputs.permissions,
            holdings: inputs.holdings,
            frame: FrameInfo {
                tick: inputs.tick,
                dt: inputs.dt,
            },
            config: inputs.config,
            on_violation: inputs.on_violation,
            quota: inputs.quota,
            undo: Vec::new(),
            despawned: HashSet::new(),
            despawn_order: Vec::new(),
            queries: Vec::new(),
            first_query: 0,
            denials: Vec::new(),
            work: FuelOwed::default(),
            functions: inputs.functions,
            mod_name: inputs.mod_name,
            commands: CommandQueue::default(),
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

    /// What a permission denial does in this call.
    pub(crate) fn on_violation(&self) -> ViolationPolicy {
        self.on_violation
    }

    /// Remembers a denial the script was told about (reject policy).
    pub(crate) fn note_denial(&mut self, denied: &Denied) {
        if self.denials.len() < MAX_REMEMBERED_DENIALS {
            self.denials.push(denied.to_string());
        }
    }

    /// Reports an uncaught Lua error that is one of the denials this call
    /// refused as [`ScriptError::PermissionDenied`]. Only a denial the host
    /// made in this call can match (the guest reports it as
    /// `world:CALL: permission denied: WHY`), so a script cannot forge one.
    pub(crate) fn classify(&self, error: ScriptError) -> ScriptError {
        match error {
            ScriptError::Runtime {
                script,
                line,
                message,
                traceback,
            } if self.is_denial(&message) => ScriptError::PermissionDenied {
                script,
                line,
                message,
                traceback,
            },
            other => other,
        }
    }

    fn is_denial(&self, message: &str) -> bool {
        self.denials.iter().any(|why| {
            message
                .strip_suffix(why.as_str())
                .is_some_and(|head| head.ends_with(": permission denied: "))
        })
    }

    /// Ends the call: keeps its changes if `commit`, otherwise restores the
    /// world exactly as it was before the call.
    pub(crate) fn finish(mut self, commit: bool) -> Finished {
        if commit {
            for entity in self.despawn_order.drain(..) {
                // Ignoring the result: the entity may have been despawned by an undo.
                let _ = self.world.despawn(entity);
                self.holdings.forget(entity);
            }
            self.holdings.commit();
        } else {
            self.holdings.roll_back();
            while let Some(undo) = self.undo.pop() {
                match undo {
                    Undo::Restore { entity, previous } => match previous {
                        Previous::Value(value) => {
                            if self.world.contains(entity) {
                                value.put(&mut self.world, entity);
                            }
                        }
                        Previous::Absent(remove) => remove(&mut self.world, entity),
                    },
                    Undo::Spawned(entity) => {
                        let _ = self.world.despawn(entity);
                    }
                }
            }
        }
        Finished {
            world: self.world,
            holdings: self.holdings,
            commands: if commit {
                self.commands.into_commands()
            } else {
                Vec::new()
            },
        }
    }

    /// Calls engine function `name` for the mod: checked against its
    /// grant, charged its declared cost (the bytes are charged by the
    /// caller), given the world as this call has left it.
    pub(crate) fn call_function(&mut self, name: &str, args: &[u8]) -> Result<Vec<u8>, Refusal> {
        self.permissions.check(Operation::Call(name))?;
        let functions = Arc::clone(&self.functions);
        let Some(function) = functions.get(name) else {
            return Err(WorldError::Invalid(format!(
                "no engine function '{}'",
                crate::engine_api::printable(name)
            ))
            .into());
        };
        self.work.add(function.cost);
        let context = CallContext::new(&self.mod_name, self.frame.tick, &self.world);
        let result = function
            .call(&context, args)
            .map_err(|failure| match failure {
                CallFailure::Arguments(why) => WorldError::Invalid(format!("bad arguments: {why}")),
                CallFailure::Failed(why) => {
                    WorldError::Failed(crate::runtime::console::bounded(why))
                }
            })?;
        // The result crosses back into the sandbox: its bytes are the mod's to pay.
        self.work.add(priced(result.len(), price.byte));
        Ok(result)
    }

    /// Queues command `name` for the engine, delivered if the call commits.
    pub(crate) fn emit(&mut self, name: &str, data: &[u8]) -> Result<(), Refusal> {
        self.permissions.check(Operation::Emit(name))?;
        // Other mods may receive it as an event: it must fit one.
        if !crate::system::event::fits_an_event(data) {
            return Err(WorldError::Invalid(format!(
                "command data may nest at most {} levels",
                crate::system::MAX_EVENT_DEPTH
            ))
            .into());
        }
        self.charge_values(1, data.len());
        let mod_name = Arc::clone(&self.mod_name);
        self.commands
            .push(&mod_name, name, data)
            .map_err(Refusal::Limit)
    }

    pub(crate) fn frame(&self) -> FrameInfo {
        self.frame
    }

    pub(crate) fn config(&self) -> Vec<u8> {
        self.config.to_vec()
    }

    pub(crate) fn get(
        &mut self,
        bits: u64,
        component: &ecs::Component,
    ) -> Result<Option<Vec<u8>>, Refusal> {
        // Borrowed from the registry, not copied: the name's last use is
        // before the charge below.
        let component = named(&self.registry, component)?;
        check_name(component)?;
        let entity = self.entity_for(Operation::Read(component), bits)?;
        let mut out = Vec::new();
        let found = self
            .registry
            .encode(&self.world, entity, component, &mut out)?;
        self.charge_values(1, out.len());
        Ok(found.then_some(out))
    }

    pub(crate) fn set(&mut self, bits: u64, component: &str, value: &[u8]) -> Result<(), Refusal> {
        check_name(component)?;
        let entity = self.entity_for(Operation::Write(component), bits)?;
        self.store(entity, component, value)
    }

    /// Writes `value` into a live `entity` the script may write `component` of.
    fn store(&mut self, entity: Entity, component: &str, value: &[u8]) -> Result<(), Refusal> {
        self.check_value_size(component, value)?;
        self.charge_values(1, value.len());
        let decoded = self.registry.decode(component, value)?;
        let written = decoded.write(&mut self.world, entity, value.len());
        self.undo.push(Undo::Restore {
            entity,
            previous: written.previous,
        });
        self.holdings.resize(entity, written.old, written.new);
        self.check_bytes_quota()
    }

    pub(crate) fn remove(&mut self, bits: u64, component: &str) -> Result<bool, Refusal> {
        check_name(component)?;
        let entity = self.entity_for(Operation::Write(component), bits)?;
        self.charge_values(1, 0);
        let Some(old) = self.registry.take(&mut self.world, entity, component)? else {
            return Ok(false);
        };
        self.holdings.resize(entity, old.stored_len(0), 0);
        self.undo.push(Undo::Restore {
            entity,
            previous: Previous::Value(old),
        });
        Ok(true)
    }

    pub(crate) fn has(&mut self, bits: u64, component: &str) -> Result<bool, Refusal> {
        check_name(component)?;
        let entity = self.entity_for(Operation::Read(component), bits)?;
        self.charge_values(1, 0);
        Ok(self.registry.has_unchecked(&self.world, entity, component))
    }

    pub(crate) fn query(
        &mut self,
        components: Vec<String>,
        max: u32,
    ) -> Result<QueryPage, Refusal> {
        let cursor = self.open_query(components, Vec::new())?;
        self.query_next(cursor, max)
    }

    /// Opens a query whose loop writes `writes` back; returns its cursor
    /// and first page.
    pub(crate) fn query_write(
        &mut self,
        components: Vec<String>,
        writes: Vec<String>,
        max: u32,
    ) -> Result<(u32, QueryPage), Refusal> {
        check_names(&writes)?;
        if let Some(component) = writes.iter().find(|w| !components.contains(w)) {
            return Err(WorldError::Invalid(format!(
                "component '{component}' is written back but not queried"
            ))
            .into());
        }
        for component in &writes {
            self.permissions.check(Operation::Write(component))?;
        }
        let cursor = self.open_query(components, writes)?;
        Ok((cursor, self.query_next(cursor, max)?))
    }

    /// Writes back what a write query's loop sent (see the WIT
    /// `query-write-next`), then returns the next page (none if `max` is 0).
    pub(crate) fn query_write_next(
        &mut self,
        cursor: u32,
        entities: &[u64],
        values: &[u8],
        ends: &[u32],
        max: u32,
    ) -> Result<QueryPage, Refusal> {
        let index = self.query_index(cursor)?;
        // Taken out while the writes run (they need `self`), then put back.
        let writes = std::mem::take(&mut self.queries[index].writes);
        let written = self.write_back(&writes, entities, values, ends);
        self.queries[index].writes = writes;
        written?;
        if max == 0 {
            return Ok(QueryPage {
                entities: Vec::new(),
                values: Vec::new(),
                next: None,
            });
        }
        self.query_next(cursor, max)
    }

    fn write_back(
        &mut self,
        writes: &[String],
        entities: &[u64],
        values: &[u8],
        ends: &[u32],
    ) -> Result<(), Refusal> {
        if writes.is_empty() {
            return Err(WorldError::Invalid("the query writes nothing back".into()).into());
        }
        if entities.len().checked_mul(writes.len()) != Some(ends.len()) {
            return Err(WorldError::Invalid(format!(
                "{} values written back for {} entities of {} components",
                ends.len(),
                entities.len(),
                writes.len()
            ))
            .into());
        }
        // Each entity is looked up and checked, written or not.
        self.work.add(priced(entities.len(), price.entity));
        let mut start = 0;
        let mut ends = ends.iter();
        for &bits in entities {
            // An entity despawned since its page was read is skipped, as the
            // page's later entities are.
            let entity = Entity::from_bits(bits).filter(|e| self.alive(*e));
            if let Some(entity) = entity
                && !self.permissions.in_scope(&self.facts(entity))
            {
                return Err(Denied::OutOfScope { entity: bits }.into());
            }
            for component in writes {
                let end = ends
                    .next()
                    .and_then(|&end| usize::try_from(end).ok())
                    .filter(|&end| start <= end && end <= values.len())
                    .ok_or_else(|| WorldError::Invalid("malformed values written back".into()))?;
                if let Some(entity) = entity {
                    self.store(entity, component, &values[start..end])?;
                }
                start = end;
            }
        }
        Ok(())
    }

    /// Checks a query's names and permissions, finds its entities and
    /// numbers it; returns its cursor.
    fn open_query(&mut self, components: Vec<String>, writes: Vec<String>) -> Result<u32, Refusal> {
        if components.len() > MAX_QUERY_COMPONENTS {
            return Err(WorldError::Invalid(format!(
                "a query names {} components; at most {MAX_QUERY_COMPONENTS}",
                components.len()
            ))
            .into());
        }
        check_names(&components)?;
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
        let mut entities = self.registry.entities_with(&self.world, first)?;
        // Every entity with the first component is checked for the others.
        let checks = entities.len().saturating_mul(components.len());
        self.work.add(priced(checks, price.entity));
        if let Some(unknown) = rest.iter().find(|c| !self.registry.contains(c)) {
            return Err(RegistryError::UnknownComponent {
                name: unknown.clone(),
            }
            .into());
        }
        entities.retain(|&entity| {
            !self.despawned.contains(&entity)
                && rest
                    .iter()
                    .all(|c| self.registry.has_unchecked(&self.world, entity, c))
                && self.permissions.in_scope(&self.facts(entity))
        });
        // In entity order, not hecs's storage order: that depends on the
        // world's history (archetypes made, rows moved), which a snapshot
        // does not keep, and a query's order must be a function of the
        // world's contents alone.
        entities.sort_unstable_by_key(|entity| entity.id());
        let cursor = self.next_query_number();
        self.queries.push(Query {
            components,
            writes,
            entities,
            position: 0,
        });
        Ok(cursor)
    }

    /// The index in `queries` of the query numbered `cursor`.
    fn query_index(&self, cursor: u32) -> Result<usize, Refusal> {
        let index = usize::try_from(cursor.wrapping_sub(self.first_query)).unwrap_or(usize::MAX);
        if index < self.queries.len() {
            Ok(index)
        } else {
            Err(WorldError::Invalid(
                "the query has ended: a query lasts only as long as the handler call that opened it"
                    .into(),
            )
            .into())
        }
    }

    pub(crate) fn query_next(&mut self, cursor: u32, max: u32) -> Result<QueryPage, Refusal> {
        let index = self.query_index(cursor)?;
        let query = &mut self.queries[index];
        let max = usize::try_from(max.max(1)).unwrap_or(usize::MAX);
        let mut entities = Vec::new();
        let mut values = Vec::new();
        let mut visited = 0;
        let mut encoded = 0;
        while entities.len() < max
            && query.position < query.entities.len()
            && (entities.is_empty() || values.len() < MAX_PAGE_BYTES)
        {
            let entity = query.entities[query.position];
            query.position += 1;
            visited += 1;
            // Membership was fixed at the start; skip what the call itself
            // has since despawned or stripped.
            if self.despawned.contains(&entity) || !self.world.contains(entity) {
                continue;
            }
            let mark = values.len();
            let mut complete = true;
            for component in &query.components {
                encoded += 1;
                if !self
                    .registry
                    .encode(&self.world, entity, component, &mut values)?
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
        self.work.add(priced(visited, price.entity));
        self.charge_values(encoded, values.len());
        Ok(QueryPage {
            entities,
            values,
            next,
        })
    }

    pub(crate) fn spawn(&mut self, components: Vec<(String, Vec<u8>)>) -> Result<u64, Refusal> {
        for (component, _) in &components {
            check_name(component)?;
        }
        self.permissions.check(Operation::Spawn)?;
        for (component, _) in &components {
            self.permissions.check(Operation::Write(component))?;
        }
        if self.holdings.spawned_count() >= self.quota.entities {
            return Err(Refusal::Limit(format!(
                "the mod's spawned entities reached its quota of {}",
                self.quota.entities
            )));
        }
        for (component, bytes) in &components {
            self.check_value_size(component, bytes)?;
        }
        self.work.add(price.spawn);
        let bytes = components.iter().map(|(_, bytes)| bytes.len()).sum();
        self.charge_values(components.len(), bytes);
        // Every value is decoded before the entity exists: a bad value
        // spawns nothing.
        let mut builder = hecs::EntityBuilder::new();
        let mut names = HashSet::new();
        let mut held: u64 = 0;
        for (component, bytes) in &components {
            if !names.insert(component.as_str()) {
                return Err(
                    WorldError::Invalid(format!("component '{component}' given twice")).into(),
                );
            }
            let decoded = self.registry.decode(component, bytes)?;
            held = held.saturating_add(decoded.stored_len(bytes.len()));
            decoded.add_to(&mut builder);
        }
        let entity = self.world.spawn(builder.build());
        self.undo.push(Undo::Spawned(entity));
        self.holdings.spawn(entity, held);
        self.check_bytes_quota()?;
        Ok(entity.to_bits().get())
    }

    pub(crate) fn despawn(&mut self, bits: u64) -> Result<(), Refusal> {
        let entity = self.entity_for(Operation::Despawn, bits)?;
        self.work.add(price.spawn);
        if self.despawned.insert(entity) {
            self.despawn_order.push(entity);
        }
        Ok(())
    }

    /// Checks `operation` on the entity `bits`: permission first, so a
    /// script learns nothing about entities or components it may not see.
    fn entity_for(&self, operation: Operation<'_>, bits: u64) -> Result<Entity, Refusal> {
        match Entity::from_bits(bits).filter(|e| self.alive(*e)) {
            Some(entity) => {
                self.permissions
                    .check_entity(operation, bits, &self.facts(entity))?;
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

    /// Charges for `count` component values of `bytes` bytes in all,
    /// encoded, decoded or looked up.
    fn charge_values(&mut self, count: usize, bytes: usize) {
        self.work.add(priced(count, price.value));
        self.work.add(priced(bytes, price.value_byte));
    }

    /// Ends the call if the mod's holdings passed its byte quota (the
    /// write that passed it is already logged for the rollback).
    fn check_bytes_quota(&self) -> Result<(), Refusal> {
        if self.holdings.bytes() > self.quota.bytes {
            return Err(Refusal::Limit(format!(
                "the component data the mod added to the world passed its quota of {} bytes",
                self.quota.bytes
            )));
        }
        Ok(())
    }

    /// Refuses a value larger than the registry lets a mod write.
    fn check_value_size(&self, component: &str, value: &[u8]) -> Result<(), Refusal> {
        let cap = self.registry.max_value_bytes(component);
        if value.len() > cap {
            return Err(Refusal::Limit(format!(
                "a value of {} bytes for component '{component}' is larger than its cap of {cap} bytes",
                value.len()
            )));
        }
        Ok(())
    }

    fn facts(&self, entity: Entity) -> Facts<'_> {
        // Under scope `all` no fact is consulted: skip the lookups.
        let scoped = self.permissions.scope != EntityScope::All;
        Facts {
            spawned_by_script: scoped && self.holdings.spawned(entity),
            tag: self
                .permissions
                .scope_tag()
                .map(|tag| (tag, self.registry.has_unchecked(&self.world, entity, tag))),
        }
    }

    fn alive(&self, entity: Entity) -> bool {
        self.world.contains(entity) && !self.despawned.contains(&entity)
    }
}

/// Refuses a query's list of names if one is too long or named twice.
fn check_names(names: &[String]) -> Result<(), Refusal> {
    for (index, component) in names.iter().enumerate() {
        check_name(component)?;
        if names[..index].contains(component) {
            return Err(WorldError::Invalid(format!(
                "component '{component}' is named twice in one query"
            ))
            .into());
        }
    }
    Ok(())
}

/// Refuses a component name too long to echo in errors.
fn check_name(component: &str) -> Result<(), Refusal> {
    if component.len() > MAX_COMPONENT_NAME_LEN {
        return Err(WorldError::Invalid(format!(
            "a component name of {} bytes is longer than {MAX_COMPONENT_NAME_LEN}",
            component.len()
        ))
        .into());
    }
    Ok(())
}

// The WIT `ecs` interface.

/// The name a per-entity call's component stands for: ids are those of
/// [`ComponentRegistry::id`], which the guest asked for by name.
fn named<'a>(
    registry: &'a ComponentRegistry,
    component: &'a ecs::Component,
) -> Result<&'a str, Refusal> {
    match component {
        ecs::Component::Name(name) => Ok(name),
        ecs::Component::Id(id) => registry
            .name_of(*id)
            .ok_or_else(|| WorldError::Invalid(format!("no component has id {id}")).into()),
    }
}

/// The bytes a component reference copies across the boundary.
fn sent(component: &ecs::Component) -> usize {
    match component {
        ecs::Component::Name(name) => name.len(),
        ecs::Component::Id(_) => 4,
    }
}

/// MessagePack's nil: the config of a sandbox with no world or no config.
const NIL: u8 = 0xc0;

/// Runs `call` against the attached transaction, charging the guest for the
/// call (`bytes` of arguments and results copied) and for the work it did.
pub(crate) fn with_transaction<T>(
    state: &mut StoreState,
    bytes: usize,
    call: impl FnOnce(&mut Transaction) -> Result<T, Refusal>,
) -> wasmtime::Result<Result<T, WorldError>> {
    state.owed.call(bytes);
    let Some(transaction) = state.transaction.as_deref_mut() else {
        return Ok(Err(WorldError::Unavailable(
            "no world is attached: world calls work inside handlers run by a ScriptSystem".into(),
        )));
    };
    let result = call(transaction);
    state.owed.add(transaction.work.take());
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(Refusal::Error(error)) => Ok(Err(error)),
        Err(Refusal::Limit(message)) => Err(WorldLimitTrap { message }.into()),
        Err(Refusal::Denied(denied)) => match transaction.on_violation() {
            ViolationPolicy::Reject => {
                transaction.note_denial(&denied);
                Ok(Err(WorldError::Denied(denied.to_string())))
            }
            ViolationPolicy::Disable => Err(ViolationTrap {
                message: denied.to_string(),
            }
            .into()),
        },
    }
}

impl ecs::Host for StoreState {
    fn component_id(&mut self, name: String) -> wasmtime::Result<Option<u32>> {
        self.owed.call(name.len());
        Ok(self
            .transaction
            .as_deref()
            .and_then(|t| t.registry.id(&name)))
    }

    fn get(
        &mut self,
        entity: u64,
        component: ecs::Component,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, WorldError>> {
        with_transaction(self, sent(&component), |t| t.get(entity, &component))
    }

    fn set(
        &mut self,
        entity: u64,
        component: ecs::Component,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), WorldError>> {
        with_transaction(self, sent(&component) + value.len(), |t| {
            let registry = Arc::clone(&t.registry);
            t.set(entity, named(&registry, &component)?, &value)
        })
    }

    fn remove(
        &mut self,
        entity: u64,
        component: ecs::Component,
    ) -> wasmtime::Result<Result<bool, WorldError>> {
        with_transaction(self, sent(&component), |t| {
            let registry = Arc::clone(&t.registry);
            t.remove(entity, named(&registry, &component)?)
        })
    }

    fn has(
        &mut self,
        entity: u64,
        component: ecs::Component,
    ) -> wasmtime::Result<Result<bool, WorldError>> {
        with_transaction(self, sent(&component), |t| {
            let registry = Arc::clone(&t.registry);
            t.has(entity, named(&registry, &component)?)
        })
    }

    fn query(
        &mut self,
        components: Vec<String>,
        max: u32,
    ) -> wasmtime::Result<Result<QueryPage, WorldError>> {
        let bytes = components.iter().map(String::len).sum();
        with_transaction(self, bytes, |t| t.query(components, max))
    }

    fn query_next(
        &mut self,
        cursor: u32,
        max: u32,
    ) -> wasmtime::Result<Result<QueryPage, WorldError>> {
        with_transaction(self, 0, |t| t.query_next(cursor, max))
    }

    fn query_write(
        &mut self,
        components: Vec<String>,
        write: Vec<String>,
        max: u32,
    ) -> wasmtime::Result<Result<(u32, QueryPage), WorldError>> {
        let bytes = components.iter().chain(&write).map(String::len).sum();
        with_transaction(self, bytes, |t| t.query_write(components, write, max))
    }

    fn query_write_next(
        &mut self,
        cursor: u32,
        entities: Vec<u64>,
        values: Vec<u8>,
        ends: Vec<u32>,
        max: u32,
    ) -> wasmtime::Result<Result<QueryPage, WorldError>> {
        let bytes = entities.len() * 8 + values.len() + ends.len() * 4;
        with_transaction(self, bytes, |t| {
            t.query_write_next(cursor, &entities, &values, &ends, max)
        })
    }

    fn spawn(
        &mut self,
        components: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<u64, WorldError>> {
        let bytes = components.iter().map(|(c, v)| c.len() + v.len()).sum();
        with_transaction(self, bytes, |t| t.spawn(components))
    }

    fn despawn(&mut self, entity: u64) -> wasmtime::Result<Result<(), WorldError>> {
        with_transaction(self, 0, |t| t.despawn(entity))
    }

    fn frame(&mut self) -> wasmtime::Result<FrameInfo> {
        self.owed.call(0);
        Ok(self
            .transaction
            .as_deref()
            .map_or(FrameInfo { tick: 0, dt: 0.0 }, Transaction::frame))
    }

    fn config(&mut self) -> wasmtime::Result<Vec<u8>> {
        let config = self
            .transaction
            .as_deref()
            .map_or_else(|| vec![NIL], Transaction::config);
        self.owed.call(config.len());
        Ok(config)
    }
}
