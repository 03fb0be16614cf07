//! What a script may do to the world: the one place every world access is
//! checked.

use std::collections::{BTreeMap, BTreeSet};

/// Access to one component type (named apart from `hecs::Access`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ComponentAccess {
    /// May read it (get, has, query).
    pub read: bool,
    /// May write it (set, remove, spawn with it).
    pub write: bool,
}

impl ComponentAccess {
    /// Read only.
    pub const READ: Self = Self {
        read: true,
        write: false,
    };
    /// Read and write.
    pub const READ_WRITE: Self = Self {
        read: true,
        write: true,
    };

    fn intersect(self, other: Self) -> Self {
        Self {
            read: self.read && other.read,
            write: self.write && other.write,
        }
    }
}

/// Which entities a script may touch at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum EntityScope {
    /// Every entity.
    All,
    /// Only the entities this script spawned.
    #[default]
    Spawned,
    /// Only the entities carrying the named (tag) component.
    Tagged(String),
}

/// One world operation, as checked before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    /// Read a component (get, has, query).
    Read(&'a str),
    /// Write or remove a component.
    Write(&'a str),
    /// Create an entity.
    Spawn,
    /// Destroy an entity.
    Despawn,
    /// Call the engine function of this name.
    Call(&'a str),
    /// Emit the command of this name to the engine.
    Emit(&'a str),
}

/// In [`Permissions::calls`] or [`Permissions::emits`]: every name. For
/// policies ([`crate::Policy::allow_all`]); a manifest cannot ask for it.
pub const ANY_NAME: &str = "*";

/// Facts about an entity that decide whether it is in a script's scope.
pub trait EntityFacts {
    /// Whether the script being checked spawned this entity.
    fn spawned_by_script(&self) -> bool;
    /// Whether the entity carries component `name`.
    fn has_component(&self, name: &str) -> bool;
}

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denied {
    /// The component is not granted for this kind of access.
    #[error("no {access} permission for component '{component}'")]
    Component {
        /// The component.
        component: String,
        /// `read` or `write`.
        access: &'static str,
    },
    /// Spawning or despawning is not granted.
    #[error("no permission to {0}")]
    Lifecycle(&'static str),
    /// Calling this engine function is not granted.
    #[error("no permission to call engine function '{function}'")]
    Call {
        /// The function's name.
        function: String,
    },
    /// Emitting this command is not granted.
    #[error("no permission to emit command '{command}'")]
    Emit {
        /// The command's name.
        command: String,
    },
    /// The entity is outside the script's entity scope.
    #[error("entity {entity} is outside this script's scope")]
    OutOfScope {
        /// The entity's bits.
        entity: u64,
    },
}

/// What one script is granted. Nothing by default: a mod gets what its
/// manifest asks for *and* the user's policy allows ([`Permissions::intersect`]).
///
/// ```
/// use moonbox::{ComponentAccess, Operation, Permissions};
/// let grant = Permissions::none().with_component("Position", ComponentAccess::READ);
/// assert!(grant.check(Operation::Read("Position")).is_ok());
/// assert!(grant.check(Operation::Write("Position")).is_err());
/// assert!(grant.check(Operation::Read("Health")).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Access per component name; a name not listed has no access.
    pub components: BTreeMap<String, ComponentAccess>,
    /// May create entities.
    pub spawn: bool,
    /// May destroy entities (within its scope).
    pub despawn: bool,
    /// Which entities it may touch.
    pub scope: EntityScope,
    /// The engine functions it may call ([`ANY_NAME`]: all).
    pub calls: BTreeSet<String>,
    /// The commands it may emit to the engine ([`ANY_NAME`]: all).
    pub emits: BTreeSet<String>,
    /// The commands of other mods it receives as events ([`ANY_NAME`]: all).
    pub receives: BTreeSet<String>,
}

impl Permissions {
    /// No access to anything; only its own (spawned) entities in scope.
    pub fn none() -> Self {
        Self::default()
    }

    /// Grants `access` to component `name` (replacing an earlier grant).
    #[must_use]
    pub fn with_component(mut self, name: &str, access: ComponentAccess) -> Self {
        self.components.insert(name.to_owned(), access);
        self
    }

    /// The access granted to component `name`.
    pub fn component(&self, name: &str) -> ComponentAccess {
        self.components.get(name).copied().unwrap_or_default()
    }

    /// The components with any access, and that access, sorted by name.
    pub fn components(&self) -> impl Iterator<Item = (&str, ComponentAccess)> {
        self.components
            .iter()
            .map(|(name, access)| (name.as_str(), *access))
    }

    /// What both grant: a mod receives `requested.intersect(&policy)`, never more
    /// than either. Scopes intersect to the narrower one; two different
    /// narrow scopes leave only the script's own entities.
    #[must_use]
    pub fn intersect(&self, other: &Self) -> Self {
        let components = self
            .components
            .iter()
            .filter_map(|(name, access)| {
                let both = access.intersect(other.component(name));
                (both.read || both.write).then(|| (name.clone(), both))
            })
            .collect();
        let scope = match (&self.scope, &other.scope) {
            (EntityScope::All, narrower) | (narrower, EntityScope::All) => narrower.clone(),
            (a, b) if a == b => a.clone(),
            _ => EntityScope::Spawned,
        };
        Self {
            components,
            spawn: self.spawn && other.spawn,
            despawn: self.despawn && other.despawn,
            scope,
            calls: names_in_both(&self.calls, &other.calls),
            emits: names_in_both(&self.emits, &other.emits),
            receives: names_in_both(&self.receives, &other.receives),
        }
    }

    /// Grants receiving other mods' command `name` as an event
    /// ([`ANY_NAME`]: all).
    #[must_use]
    pub fn with_receive(mut self, name: &str) -> Self {
        self.receives.insert(name.to_owned());
        self
    }

    /// Whether other mods' command `name` reaches this mod as an event.
    pub fn receives(&self, name: &str) -> bool {
        names_grant(&self.receives, name)
    }

    /// Grants calling engine function `name` ([`ANY_NAME`]: all).
    #[must_use]
    pub fn with_call(mut self, name: &str) -> Self {
        self.calls.insert(name.to_owned());
        self
    }

    /// Grants emitting command `name` ([`ANY_NAME`]: all).
    #[must_use]
    pub fn with_emit(mut self, name: &str) -> Self {
        self.emits.insert(name.to_owned());
        self
    }

    /// Checks an operation that concerns no particular entity.
    ///
    /// # Errors
    /// [`Denied`] saying what is missing.
    pub fn check(&self, operation: Operation<'_>) -> Result<(), Denied> {
        match operation {
            Operation::Read(name) if !self.component(name).read => Err(Denied::Component {
                component: name.to_owned(),
                access: "read",
            }),
            Operation::Write(name) if !self.component(name).write => Err(Denied::Component {
                component: name.to_owned(),
                access: "write",
            }),
            Operation::Spawn if !self.spawn => Err(Denied::Lifecycle("spawn")),
            Operation::Despawn if !self.despawn => Err(Denied::Lifecycle("despawn")),
            Operation::Call(name) if !names_grant(&self.calls, name) => Err(Denied::Call {
                function: name.to_owned(),
            }),
            Operation::Emit(name) if !names_grant(&self.emits, name) => Err(Denied::Emit {
                command: name.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Checks an operation on `entity` (bits), described by `facts`.
    ///
    /// # Errors
    /// [`Denied`] if the operation or the entity is not granted.
    pub fn check_entity(
        &self,
        operation: Operation<'_>,
        entity: u64,
        facts: &impl EntityFacts,
    ) -> Result<(), Denied> {
        self.check(operation)?;
        if self.in_scope(facts) {
            Ok(())
        } else {
            Err(Denied::OutOfScope { entity })
        }
    }

    /// The component whose carriers are in scope besides the script's own
    /// entities, if the scope is [`EntityScope::Tagged`].
    pub fn scope_tag(&self) -> Option<&str> {
        match &self.scope {
            EntityScope::Tagged(tag) => Some(tag),
            EntityScope::All | EntityScope::Spawned => None,
        }
    }

    /// Whether an entity with these facts is in scope.
    pub fn in_scope(&self, facts: &impl EntityFacts) -> bool {
        match &self.scope {
            EntityScope::All => true,
            EntityScope::Spawned => facts.spawned_by_script(),
            EntityScope::Tagged(tag) => facts.spawned_by_script() || facts.has_component(tag),
        }
    }
}

/// Whether a set of granted names ([`ANY_NAME`] for all) includes `name`.
fn names_grant(granted: &BTreeSet<String>, name: &str) -> bool {
    granted.contains(name) || granted.contains(ANY_NAME)
}

/// The names both sets grant.
fn names_in_both(a: &BTreeSet<String>, b: &BTreeSet<String>) -> BTreeSet<String> {
    match (a.contains(ANY_NAME), b.contains(ANY_NAME)) {
        (true, _) => b.clone(),
        (false, true) => a.clone(),
        (false, false) => a.intersection(b).cloned().collect(),
    }
}
