//! The first difference between two worlds, down to the field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use hecs::World;
use serde_json::{Map, Value};

use crate::world::file::entity_json;
use crate::world::registry::{ComponentRegistry, RegistryError};

/// Where two worlds first differ: entities in order of their bits,
/// components in name order, fields in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The entity (bits).
    pub entity: u64,
    /// The component, unless the entity exists in only one world.
    pub component: Option<String>,
    /// The path inside the component (`x`, `items[2].name`), if the
    /// component exists in both worlds.
    pub field: Option<String>,
    /// The value in the first (recorded) world; `None` if absent there.
    pub recorded: Option<Value>,
    /// The value in the second (replayed) world; `None` if absent there.
    pub replayed: Option<Value>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| v.as_ref().map_or("absent".to_owned(), Value::to_string);
        write!(f, "entity {}", self.entity)?;
        if let Some(component) = &self.component {
            write!(f, " {component}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ".{field}")?;
        }
        write!(
            f,
            ": recorded {}, replayed {}",
            show(&self.recorded),
            show(&self.replayed)
        )
    }
}

/// The first difference between `recorded` and `replayed`, or `None` if
/// their registered components are equal.
///
/// # Errors
/// A component whose conversion fails.
pub fn first_difference(
    recorded: &World,
    replayed: &World,
    registry: &ComponentRegistry,
) -> Result<Option<Difference>, RegistryError> {
    let a = snapshot(recorded, registry)?;
    let b = snapshot(replayed, registry)?;
    let entities: BTreeSet<u64> = a.keys().chain(b.keys()).copied().collect();
    for entity in entities {
        let (ca, cb) = (a.get(&entity), b.get(&entity));
        let (Some(ca), Some(cb)) = (ca, cb) else {
            return Ok(Some(Difference {
                entity,
                component: None,
                field: None,
                recorded: ca.map(|c| Value::Object(c.clone())),
                replayed: cb.map(|c| Value::Object(c.clone())),
            }));
        };
        let names: BTreeSet<&String> = ca.keys().chain(cb.keys()).collect();
        for name in names {
            let (va, vb) = (ca.get(name), cb.get(name));
            if va == vb {
                continue;
            }
            let (field, recorded, replayed) = match (va, vb) {
                (Some(va), Some(vb)) => match field_difference(va, vb, String::new()) {
                    Some((path, x, y)) => (Some(path).filter(|p| !p.is_empty()), Some(x), Some(y)),
                    None => (None, Some(va.clone()), Some(vb.clone())),
                },
                _ => (None, va.cloned(), vb.cloned()),
            };
            return Ok(Some(Difference {
                entity,
                component: Some(name.clone()),
                field,
                recorded,
                replayed,
            }));
        }
    }
    Ok(None)
}

fn snapshot(
    world: &World,
    registry: &ComponentRegistry,
) -> Result<BTreeMap<u64, Map<String, Value>>, RegistryError> {
    let mut out = BTreeMap::new();
    for entity in world.iter() {
        let entity = entity.entity();
        let components = entity_json(world, registry, entity)?;
        out.insert(entity.to_bits().get(), components);
    }
    Ok(out)
}

/// The first differing leaf: its path and both values.
fn field_difference(a: &Value, b: &Value, path: String) -> Option<(String, Value, Value)> {
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            let keys: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
            keys.into_iter().find_map(|key| {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match (ma.get(key), mb.get(key)) {
                    (Some(x), Some(y)) => field_difference(x, y, sub),
                    (x, y) => Some((
                        sub,
                        x.cloned().unwrap_or(Value::Null),
                        y.cloned().unwrap_or(Value::Null),
                    )),
                }
            })
        }
        (Value::Array(xa), Value::Array(xb)) if xa.len() == xb.len() => xa
            .iter()
            .zip(xb)
            .enumerate()
            .find_map(|(i, (x, y))| field_difference(x, y, format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some((path, a.clone(), b.clone())),
    }
}
