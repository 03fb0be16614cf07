//! [`Shape`]: a component type described field by field, for what needs
//! more than a Rust type: editor annotations (`moonbox types`) and
//! components declared without Rust (`moonbox sim --components`).
//!
//! A registered Rust type's shape is traced from its `Deserialize` impl
//! ([`Shape::of`], with `serde-reflection`); a declared component's comes
//! from a components file ([`parse_components`]), and its values are
//! checked against it ([`Shape::check`]) as strictly as serde checks a
//! Rust type's: an integer field takes integers only, a record refuses
//! fields it does not have and wants every field that is not optional.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_reflection::{ContainerFormat, Format, Tracer, TracerConfig};

/// Most components a components file may declare.
pub const MAX_DECLARED_COMPONENTS: usize = 64;
/// Deepest nesting of arrays and records a shape may have.
pub const MAX_SHAPE_DEPTH: usize = 16;

/// What a component's values look like.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shape {
    /// A whole number (Lua integer; Rust `i64` and the other integer types).
    Integer,
    /// A number (Lua float or integer; Rust `f64`, `f32`).
    Number,
    /// `true` or `false`.
    Boolean,
    /// Text.
    String,
    /// A list of values of one shape.
    Array(Box<Shape>),
    /// The shape, or nothing (`nil`; a record's field may be left out).
    Optional(Box<Shape>),
    /// Named fields, in the order they were declared (Rust: field order).
    Record(Vec<(String, Shape)>),
    /// Anything: a type whose shape could not be traced (an enum, a map, a
    /// custom `Deserialize`), or `"any"` in a components file.
    Any,
}

/// Why a components file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShapeError {
    /// The text is not TOML.
    #[error("not TOML: {message}")]
    Toml {
        /// The parser's message, with the line.
        message: String,
    },
    /// A declaration is wrong.
    #[error("{path}: {message}")]
    Declaration {
        /// Where: `Component.field.field`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Shape {
    /// The shape of the Rust type `T`, traced from its `Deserialize` impl;
    /// [`Shape::Any`] where that cannot tell (enums, maps, custom impls).
    ///
    /// ```
    /// # #[derive(serde::Deserialize)]
    /// # #[allow(dead_code)]
    /// struct Position { x: f32, y: f32, label: Option<String> }
    /// use moonbox::Shape;
    /// assert_eq!(Shape::of::<Position>(), Shape::Record(vec![
    ///     ("x".into(), Shape::Number),
    ///     ("y".into(), Shape::Number),
    ///     ("label".into(), Shape::Optional(Box::new(Shape::String))),
    /// ]));
    /// ```
    pub fn of<T: DeserializeOwned>() -> Shape {
        // The engine's Deserialize impl runs here: a panic in it means only
        // that its shape is unknown.
        catch_unwind(AssertUnwindSafe(|| {
            let mut tracer = Tracer::new(TracerConfig::default());
            let (format, _) = tracer.trace_simple_type::<T>().ok()?;
            let containers = tracer.registry_unchecked();
            Some(from_format(&format, &containers, 0))
        }))
        .ok()
        .flatten()
        .unwrap_or(Shape::Any)
    }

    /// `value` checked against this shape, in the form a Rust type of this
    /// shape would give back (numbers as floats, a left-out optional field
    /// as `null`); or what is wrong, and where.
    ///
    /// # Errors
    /// A description of the first mismatch, naming the field.
    pub fn check(&self, value: Value) -> Result<Value, String> {
        self.check_at(value, "")
    }

    fn check_at(&self, value: Value, path: &str) -> Result<Value, String> {
        let mismatch = |expected: &str, value: &Value| {
            let at = if path.is_empty() {
                String::new()
            } else {
                format!("field '{path}': ")
            };
            Err(format!("{at}expected {expected}, got {}", describe(value)))
        };
        match (self, value) {
            (Shape::Any, value) => Ok(value),
            (Shape::Optional(_), Value::Null) => Ok(Value::Null),
            (Shape::Optional(inner), value) => inner.check_at(value, path),
            (Shape::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
            (Shape::Number, Value::Number(n)) => match n.as_f64() {
                Some(x) => Ok(Value::from(x)),
                None => mismatch("a number", &Value::Number(n)),
            },
            (Shape::Boolean, Value::Bool(b)) => Ok(Value::Bool(b)),
            (Shape::String, Value::String(s)) => Ok(Value::String(s)),
            (Shape::Array(element), Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| element.check_at(item, &join(path, &(i + 1).to_string())))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            // Lua sends an empty table as an empty list.
            (Shape::Record(fields), Value::Array(items)) if items.is_empty() => {
                Shape::Record(fields.clone()).check_at(Value::Object(Map::new()), path)
            }
            (Shape::Record(fields), Value::Object(mut given)) => {
                let mut checked = Map::new();
                for (name, shape) in fields {
                    let field = join(path, name);
                    match given.remove(name) {
                        Some(value) => {
                            checked.insert(name.clone(), shape.check_at(value, &field)?);
                        }
                        None if matches!(shape, Shape::Optional(_) | Shape::Any) => {
                            checked.insert(name.clone(), Value::Null);
                        }
                        None => return Err(format!("missing field '{field}'")),
                    }
                }
                if let Some(extra) = given.keys().next() {
                    let extra: String = extra.chars().take(64).collect();
                    return Err(format!("the type has no field '{}'", join(path, &extra)));
                }
                Ok(Value::Object(checked))
            }
            (Shape::Integer, value) => mismatch("an integer", &value),
            (Shape::Number, value) => mismatch("a number", &value),
            (Shape::Boolean, value) => mismatch("a boolean", &value),
            (Shape::String, value) => mismatch("a string", &value),
            (Shape::Array(_), value) => mismatch("a list", &value),
            (Shape::Record(_), value) => mismatch("a table of fields", &value),
        }
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a table of fields".into(),
    }
}

/// A traced format as a shape.
fn from_format(
    format: &Format,
    containers: &BTreeMap<String, ContainerFormat>,
    depth: usize,
) -> Shape {
    if depth > MAX_SHAPE_DEPTH {
        return Shape::Any;
    }
    let inner = |f: &Format| Box::new(from_format(f, containers, depth + 1));
    match format {
        Format::Bool => Shape::Boolean,
        Format::I8
        | Format::I16
        | Format::I32
        | Format::I64
        | Format::I128
        | Format::U8
        | Format::U16
        | Format::U32
        | Format::U64
        | Format::U128 => Shape::Integer,
        Format::F32 | Format::F64 => Shape::Number,
        Format::Char | Format::Str => Shape::String,
        Format::Option(f) => Shape::Optional(inner(f)),
        Format::Seq(f) => Shape::Array(inner(f)),
        Format::TypeName(name) => match containers.get(name) {
            Some(ContainerFormat::NewTypeStruct(f)) => from_format(f, containers, depth + 1),
            Some(ContainerFormat::Struct(fields)) => Shape::Record(
                fields
                    .iter()
                    .map(|f| (f.name.clone(), from_format(&f.value, containers, depth + 1)))
                    .collect(),
            ),
            _ => Shape::Any,
        },
        _ => Shape::Any,
    }
}

/// The components a components file declares, by name:
///
/// ```toml
/// [Position]            # a component: a record of fields
/// x = "number"
/// y = "number"
///
/// [Inventory]
/// items = ["string"]    # a list of strings
/// "owner?" = "integer"  # a field whose name ends in ? may be left out
/// slots = [{ item = "string", count = "integer" }]  # a list of records
///
/// [Inventory.limits]    # a record inside a record
/// weight = "number"
/// ```
///
/// Types: `integer`, `number`, `boolean`, `string`, `any`; `[T]` for a
/// list; a table for a record. Names of components and fields are Lua
/// identifiers.
///
/// # Errors
/// [`ShapeError`] naming the component and field.
pub fn parse_components(text: &str) -> Result<Vec<(String, Shape)>, ShapeError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ShapeError::Toml {
        message: e.to_string(),
    })?;
    if table.len() > MAX_DECLARED_COMPONENTS {
        return Err(declaration(
            "",
            format!(
                "{} components declared; at most {MAX_DECLARED_COMPONENTS}",
                table.len()
            ),
        ));
    }
    table
        .into_iter()
        .map(|(name, value)| {
            identifier(&name, &name)?;
            match value {
                toml::Value::Table(fields) => Ok((name.clone(), record(&fields, &name, 1)?)),
                _ => Err(declaration(
                    &name,
                    "a component is a table of fields ([Name] then field = \"type\")".into(),
                )),
            }
        })
        .collect()
}

fn record(fields: &toml::Table, path: &str, depth: usize) -> Result<Shape, ShapeError> {
    let mut shapes = Vec::with_capacity(fields.len());
    for (key, value) in fields {
        let (name, optional) = match key.strip_suffix('?') {
            Some(name) => (name, true),
            None => (key.as_str(), false),
        };
        let field = join(path, name);
        identifier(name, &field)?;
        let shape = declared(value, &field, depth)?;
        shapes.push((
            name.to_owned(),
            if optional {
                Shape::Optional(Box::new(shape))
            } else {
                shape
            },
        ));
    }
    Ok(Shape::Record(shapes))
}

fn declared(value: &toml::Value, path: &str, depth: usize) -> Result<Shape, ShapeError> {
    if depth > MAX_SHAPE_DEPTH {
        return Err(declaration(
            path,
            format!("nested deeper than {MAX_SHAPE_DEPTH}"),
        ));
    }
    match value {
        toml::Value::String(name) => match name.as_str() {
            "integer" => Ok(Shape::Integer),
            "number" => Ok(Shape::Number),
            "boolean" => Ok(Shape::Boolean),
            "string" => Ok(Shape::String),
            "any" => Ok(Shape::Any),
            other => Err(declaration(
                path,
                format!(
                    "unknown type '{}' (integer, number, boolean, string, any, [type] or a table)",
                    other.chars().take(64).collect::<String>()
                ),
            )),
        },
        toml::Value::Array(items) if items.len() == 1 => Ok(Shape::Array(Box::new(declared(
            &items[0],
            path,
            depth + 1,
        )?))),
        toml::Value::Array(_) => Err(declaration(
            path,
            "a list type has one element: the type of its items, as [\"integer\"]".into(),
        )),
        toml::Value::Table(fields) => record(fields, path, depth + 1),
        _ => Err(declaration(
            path,
            "a type is a name (\"integer\"), a list ([\"integer\"]) or a table".into(),
        )),
    }
}

fn identifier(name: &str, path: &str) -> Result<(), ShapeError> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(declaration(
            path,
            format!(
                "'{}' is not a name (letters, digits and _, not starting with a digit)",
                name.chars().take(64).collect::<String>()
            ),
        ))
    }
}

fn declaration(path: &str, message: String) -> ShapeError {
    ShapeError::Declaration {
        path: if path.is_empty() {
            "components file".into()
        } else {
            path.chars().take(200).collect()
        },
        message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn a_components_file_declares_records_lists_and_optional_fields() {
        let declared = parse_components(
            r#"
            [Inventory]
            items = ["string"]
            "owner?" = "integer"
            slots = [{ item = "string", count = "integer" }]
            [Inventory.limits]
            weight = "number"
            "#,
        )
        .unwrap();
        let (name, shape) = &declared[0];
        assert_eq!(name, "Inventory");
        let good =
            json!({"items": ["a"], "slots": [{"item": "x", "count": 2}], "limits": {"weight": 3}});
        assert_eq!(
            shape.check(good).unwrap(),
            json!({"items": ["a"], "owner": null, "slots": [{"item": "x", "count": 2}], "limits": {"weight": 3.0}})
        );
        let wrong =
            json!({"items": [], "slots": [{"item": "x", "count": 2.5}], "limits": {"weight": 1}});
        assert_eq!(
            shape.check(wrong).unwrap_err(),
            "field 'slots.1.count': expected an integer, got number 2.5"
        );
        let extra = json!({"items": [], "slots": [], "limits": {"weight": 1, "volume": 2}});
        assert_eq!(
            shape.check(extra).unwrap_err(),
            "the type has no field 'limits.volume'"
        );
        assert_eq!(
            shape.check(json!({"items": []})).unwrap_err(),
            "missing field 'limits'"
        );
    }

    #[test]
    fn bad_declarations_name_the_field() {
        let error = parse_components("[Pos]\nx = \"flaot\"").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Pos.x: unknown type 'flaot' (integer, number, boolean, string, any, [type] or a table)"
        );
        assert!(matches!(
            parse_components("[Pos]\nx = "),
            Err(ShapeError::Toml { .. })
        ));
        assert!(parse_components("[\"1bad\"]\nx = \"number\"").is_err());
        assert!(parse_components("Pos = 3").is_err());
        assert!(parse_components("[Pos]\nx = [\"number\", \"string\"]").is_err());
    }
}
