//! Checks that a decoded component value holds only finite floats.
//!
//! Scripts send numbers as `f64`; serde narrows one into an `f32` field
//! with `as`, so `1e300` becomes infinity *after* the guest's own
//! finiteness check. A value with an infinite or NaN float would be saved as
//! `null` and the world file would no longer load, so the registry walks
//! every decoded value with [`check`]: a serializer that writes nothing and
//! stops at the first float that is not finite.

use std::fmt;

use serde::ser::{self, Serialize};

/// The value holds a float that is not finite.
#[derive(Debug)]
pub(crate) struct NotFinite(String);

impl fmt::Display for NotFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotFinite {}

impl ser::Error for NotFinite {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

/// `Ok` if every float in `value` (after narrowing to its field's type) is finite.
pub(crate) fn check<T: Serialize + ?Sized>(value: &T) -> Result<(), NotFinite> {
    value.serialize(Finite)
}

fn float(finite: bool, value: &dyn fmt::Display) -> Result<(), NotFinite> {
    if finite {
        Ok(())
    } else {
        Err(NotFinite(format!(
            "a number is out of range for its field (it would be stored as {value})"
        )))
    }
}

/// Serializer methods for values that cannot hold a float: nothing to check.
macro_rules! ignore {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method(self, _: $ty) -> Done {
            Ok(())
        }
    )*};
}

/// The checking serializer; it holds nothing.
struct Finite;

type Done = Result<(), NotFinite>;

impl ser::Serializer for Finite {
    type Ok = ();
    type Error = NotFinite;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_f32(self, v: f32) -> Done {
        float(v.is_finite(), &v)
    }
    fn serialize_f64(self, v: f64) -> Done {
        float(v.is_finite(), &v)
    }
    // Everything that is not a float holds no float.
    ignore! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_char(char), serialize_str(&str), serialize_bytes(&[u8]),
    }
    fn serialize_none(self) -> Done {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Done {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Done {
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, NotFinite> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, NotFinite> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, NotFinite> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, NotFinite> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, NotFinite> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, NotFinite> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, NotFinite> {
        Ok(self)
    }
}

/// The compound serializers: each element or field is checked in turn.
macro_rules! check_each {
    ($($trait:ident :: $method:ident ($($key:ty)?);)*) => {$(
        impl ser::$trait for Finite {
            type Ok = ();
            type Error = NotFinite;
            fn $method<T: Serialize + ?Sized>(&mut self, $(_: $key,)? value: &T) -> Done {
                value.serialize(Finite)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )*};
}

check_each! {
    SerializeSeq::serialize_element();
    SerializeTuple::serialize_element();
    SerializeTupleStruct::serialize_field();
    SerializeTupleVariant::serialize_field();
    SerializeStruct::serialize_field(&'static str);
    SerializeStructVariant::serialize_field(&'static str);
}

impl ser::SerializeMap for Finite {
    type Ok = ();
    type Error = NotFinite;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        key.serialize(Finite)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(Finite)
    }
    fn end(self) -> Done {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[derive(serde::Serialize)]
    struct Nested {
        at: (f32, Option<f64>),
        list: Vec<f32>,
    }

    #[test]
    fn every_float_is_checked_wherever_it_sits() {
        let ok = Nested {
            at: (1.0, Some(2.0)),
            list: vec![3.0],
        };
        assert!(check(&ok).is_ok());
        for bad in [
            Nested {
                at: (f32::INFINITY, None),
                list: vec![],
            },
            Nested {
                at: (0.0, Some(f64::NAN)),
                list: vec![],
            },
            Nested {
                at: (0.0, None),
                list: vec![1.0, f32::NEG_INFINITY],
            },
        ] {
            assert!(check(&bad).is_err());
        }
    }
}
