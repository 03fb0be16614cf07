//! Annotations for the Lua language server (LuaLS, `---@meta`): each
//! component as a `---@class` with its fields, the `world` API with an
//! overload per component, the `engine` functions and the handlers, so
//! that a mod author's editor completes and checks
//! `world:get(e, "Position").x`.

use std::fmt::Write as _;

use super::registry::ComponentRegistry;
use super::shape::Shape;

/// LuaLS annotations for `registry`'s components and `functions` (the
/// names of the engine functions mods may call), as one `---@meta` file.
/// The text is a valid Lua chunk and the same for the same registry.
///
/// ```
/// # #[derive(serde::Serialize, serde::Deserialize)]
/// # struct Position { x: f32, y: f32 }
/// let mut registry = moonbox::ComponentRegistry::new();
/// registry.register::<Position>("Position").unwrap();
/// let text = moonbox::lua_annotations(&registry, std::iter::empty());
/// assert!(text.contains("---@class Position\n---@field x number\n---@field y number\n"));
/// assert!(text.contains("---@overload fun(self: World, entity: integer, name: \"Position\"): Position?"));
/// ```
pub fn lua_annotations<'a>(
    registry: &ComponentRegistry,
    functions: impl IntoIterator<Item = &'a str>,
) -> String {
    let mut out = String::from(
        "---@meta moonbox\n\
         -- Editor annotations for Moonbox mods, written by `moonbox types`:\n\
         -- the components, the world API, the engine functions and the handlers.\n\n",
    );
    // Component names as the engine gave them, quoted for Lua; class
    // names made of what LuaLS accepts.
    let names: Vec<(String, String)> = registry
        .names()
        .map(|n| (format!("{n:?}"), class_name(n)))
        .collect();
    for (name, (_, class)) in registry.names().zip(&names) {
        let shape = registry.shape(name).unwrap_or(&Shape::Any);
        class_of(&mut out, class, shape);
    }
    let union = if names.is_empty() {
        "string".to_owned()
    } else {
        names
            .iter()
            .map(|(quoted, _)| quoted.as_str())
            .collect::<Vec<_>>()
            .join("|")
    };
    let _ = writeln!(
        out,
        "---A registered component's name.\n---@alias ComponentName {union}\n"
    );
    world(&mut out, &names);
    engine(&mut out, functions);
    out.push_str(HANDLERS);
    out
}

/// A component's class: a record's fields, or an alias for other shapes.
fn class_of(out: &mut String, name: &str, shape: &Shape) {
    match shape {
        Shape::Record(fields) => {
            let _ = writeln!(out, "---@class {name}");
            for (field, shape) in fields {
                let key = if is_identifier(field) {
                    field.clone()
                } else {
                    format!("[{field:?}]")
                };
                let _ = writeln!(
                    out,
                    "---@field {key} {}",
                    lua_type(shape, out_nested(name, field))
                );
            }
            let _ = writeln!(out);
            for (field, shape) in fields {
                nested(out, &out_nested(name, field), shape);
            }
        }
        other => {
            let _ = writeln!(
                out,
                "---@alias {name} {}\n",
                lua_type(other, name.to_owned())
            );
            nested(out, name, other);
        }
    }
}

/// The class name of a record nested in field `field` of `owner`.
fn out_nested(owner: &str, field: &str) -> String {
    class_name(&format!("{owner}_{field}"))
}

/// `name` with every character LuaLS does not take in a class name as `_`.
fn class_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        format!("_{name}")
    } else {
        name
    }
}

/// Classes for the records nested in `shape`, named after `path`.
fn nested(out: &mut String, path: &str, shape: &Shape) {
    match shape {
        Shape::Record(_) => class_of(out, path, shape),
        Shape::Array(inner) | Shape::Optional(inner) => nested(out, path, inner),
        _ => {}
    }
}

/// The LuaLS type of `shape`; a record is the class named `path`.
fn lua_type(shape: &Shape, path: String) -> String {
    match shape {
        Shape::Integer => "integer".into(),
        Shape::Number => "number".into(),
        Shape::Boolean => "boolean".into(),
        Shape::String => "string".into(),
        Shape::Any => "any".into(),
        Shape::Array(inner) => format!("{}[]", lua_type(inner, path)),
        Shape::Optional(inner) => format!("{}?", lua_type(inner, path)),
        Shape::Record(_) => path,
        // `Shape` may grow; an unknown shape is anything.
        #[allow(unreachable_patterns)]
        _ => "any".into(),
    }
}

fn world(out: &mut String, names: &[(String, String)]) {
    out.push_str("---The ECS world, as this mod's permissions let it see it.\n---@class World\nworld = {}\n\n");
    let each = |out: &mut String, f: &dyn Fn(&str, &str) -> String| {
        for (quoted, class) in names {
            let _ = writeln!(out, "{}", f(quoted, class));
        }
    };
    out.push_str("---The component `name` of `entity`, or nil if it has none. Needs read.\n");
    each(out, &|q, c| {
        format!("---@overload fun(self: World, entity: integer, name: {q}): {c}?")
    });
    out.push_str("---@param entity integer\n---@param name ComponentName\n---@return any\nfunction world:get(entity, name) end\n\n");
    out.push_str("---Adds or replaces component `name` of `entity`. Needs write.\n");
    each(out, &|q, c| {
        format!("---@overload fun(self: World, entity: integer, name: {q}, value: {c})")
    });
    out.push_str("---@param entity integer\n---@param name ComponentName\n---@param value any\nfunction world:set(entity, name, value) end\n\n");
    out.push_str("---Removes component `name`; true if it was there. Needs write.\n---@param entity integer\n---@param name ComponentName\n---@return boolean\nfunction world:remove(entity, name) end\n\n");
    out.push_str("---Whether `entity` has component `name`. Needs read.\n---@param entity integer\n---@param name ComponentName\n---@return boolean\nfunction world:has(entity, name) end\n\n");
    out.push_str("---The entities with every named component, and their values:\n---`for e, a, b in world:query(\"A\", \"B\") do`; with a table,\n---`world:query{ \"A\", \"B\", write = { \"A\" } }` writes `A` back. Needs read.\n---@param ... ComponentName|{ [integer]: ComponentName, write: ComponentName[]? }\n---@return fun(): integer, ...\nfunction world:query(...) end\n\n");
    out.push_str(
        "---A new entity with the given components. Needs spawn.\n---@param components { ",
    );
    // A name Lua cannot spell as a field is still allowed, as any key.
    let mut fields: Vec<String> = names
        .iter()
        .filter(|(quoted, class)| quoted.trim_matches('"') == class)
        .map(|(_, class)| format!("{class}: {class}?"))
        .collect();
    if fields.len() < names.len() {
        fields.push("[string]: any".into());
    }
    out.push_str(&fields.join(", "));
    out.push_str(" }\n---@return integer\nfunction world:spawn(components) end\n\n");
    out.push_str("---Destroys `entity` when the handler returns. Needs despawn.\n---@param entity integer\nfunction world:despawn(entity) end\n\n");
    out.push_str("---The tick being run (1 for the first).\n---@return integer\nfunction world:tick() end\n\n");
    out.push_str(
        "---Seconds simulated by this tick.\n---@return number\nfunction world:dt() end\n\n",
    );
    out.push_str("---A copy of the mod's [config] table, or nil.\n---@return table?\nfunction world:config() end\n\n");
}

fn engine<'a>(out: &mut String, functions: impl IntoIterator<Item = &'a str>) {
    out.push_str(
        "---What the engine offers mods besides the world.\n---@class Engine\nengine = {}\n\n",
    );
    out.push_str("---Queues command `name` for the engine (if this handler call succeeds). Needs emit.\n---@param name string\n---@param data any\nfunction engine.emit(name, data) end\n\n");
    for name in functions {
        // Engine function names come from the engine; only names Lua can
        // spell as a field are written.
        if is_identifier(name) && name != "emit" {
            let _ = writeln!(
                out,
                "---The engine function `{name}`. Needs call.\n---@param ... any\n---@return any\nfunction engine.{name}(...) end\n"
            );
        }
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const HANDLERS: &str = "\
---Handlers: define the ones the mod needs as global functions.

---Once, at the mod's first tick.
---@type fun()?
on_load = nil

---Every tick; `dt` is the seconds it simulates.
---@type fun(dt: number)?
on_tick = nil

---An event from the engine (`from` nil) or a command another mod emitted.
---@type fun(name: string, data: any, from: string?)?
on_event = nil

---Before the mod is reloaded with new code; the result is handed over.
---@type fun(): any?
on_unload = nil

---In the new version, instead of on_load, with what on_unload returned.
---@type fun(state: any)?
on_reload = nil

---Work that spans ticks.
---@class Task
task = {}

---Runs `f(...)` as a task from the end of this call on, a slice per tick.
---@param f function
---@param ... any
function task.spawn(f, ...) end
";
