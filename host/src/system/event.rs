//! Event data, checked when the engine dispatches it: data no mod could
//! receive is the engine's error, reported to the engine, not blamed on the
//! mods that handle events.

use rmp::Marker;

/// Deepest nesting of arrays and maps in an event's data. The guest takes
/// values up to 32 levels deep; the event's argument list adds one.
pub const MAX_EVENT_DEPTH: usize = 24;

/// Why an event was not dispatched. No mod ran and nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The data could not be encoded as MessagePack.
    #[error("event '{event}': its data cannot be encoded: {message}")]
    Encode {
        /// The event's name.
        event: String,
        /// The encoder's message.
        message: String,
    },
    /// The data nests arrays and maps deeper than [`MAX_EVENT_DEPTH`].
    #[error("event '{event}': its data nests deeper than {MAX_EVENT_DEPTH} levels")]
    TooDeep {
        /// The event's name.
        event: String,
    },
    /// The data holds a NaN or an infinity, which Lua values from the host
    /// may not be.
    #[error("event '{event}': its data holds a NaN or an infinite number")]
    NonFinite {
        /// The event's name.
        event: String,
    },
}

/// Encodes `(name, data)`, the arguments of `on_event`, once for every mod,
/// and checks that each mod can receive them.
pub(crate) fn encode<D: serde::Serialize + ?Sized>(
    name: &str,
    data: &D,
) -> Result<Vec<u8>, EventError> {
    let bytes = rmp_serde::to_vec(&(name, data)).map_err(|e| EventError::Encode {
        event: name.to_owned(),
        message: e.to_string(),
    })?;
    match check(&mut bytes.as_slice(), 0) {
        Ok(()) => Ok(bytes),
        Err(Problem::Deep) => Err(EventError::TooDeep {
            event: name.to_owned(),
        }),
        Err(Problem::NonFinite) => Err(EventError::NonFinite {
            event: name.to_owned(),
        }),
        // The encoder wrote these bytes: malformed output would be its bug.
        Err(Problem::Malformed) => Err(EventError::Encode {
            event: name.to_owned(),
            message: "the encoder wrote malformed MessagePack".into(),
        }),
    }
}

/// Whether `data`, one MessagePack value, can travel as an event's data
/// (well formed, finite, at most [`MAX_EVENT_DEPTH`] levels deep), as a
/// command another mod receives must.
pub(crate) fn fits_an_event(data: &[u8]) -> bool {
    let mut rest = data;
    check(&mut rest, 1).is_ok() && rest.is_empty()
}

enum Problem {
    Deep,
    NonFinite,
    Malformed,
}

/// Walks one MessagePack value, at nesting `depth`.
fn check(input: &mut &[u8], depth: usize) -> Result<(), Problem> {
    let marker = rmp::decode::read_marker(input).map_err(|_| Problem::Malformed)?;
    let skip = |input: &mut &[u8], n: usize| -> Result<(), Problem> {
        *input = input.get(n..).ok_or(Problem::Malformed)?;
        Ok(())
    };
    let len = |input: &mut &[u8], bytes: usize| -> Result<usize, Problem> {
        let (head, rest) = input.split_at_checked(bytes).ok_or(Problem::Malformed)?;
        *input = rest;
        Ok(head.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)))
    };
    let items = match marker {
        Marker::FixArray(n) => usize::from(n),
        Marker::Array16 => len(input, 2)?,
        Marker::Array32 => len(input, 4)?,
        Marker::FixMap(n) => 2 * usize::from(n),
        Marker::Map16 => 2 * len(input, 2)?,
        Marker::Map32 => 2 * len(input, 4)?,
        Marker::F32 => {
            let bytes: [u8; 4] = input
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(Problem::Malformed)?;
            skip(input, 4)?;
            return finite(f64::from(f32::from_be_bytes(bytes)));
        }
        Marker::F64 => {
            let bytes: [u8; 8] = input
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or(Problem::Malformed)?;
            skip(input, 8)?;
            return finite(f64::from_be_bytes(bytes));
        }
        Marker::FixStr(n) => return skip(input, usize::from(n)),
        Marker::Str8 | Marker::Bin8 => {
            let n = len(input, 1)?;
            return skip(input, n);
        }
        Marker::Str16 | Marker::Bin16 => {
            let n = len(input, 2)?;
            return skip(input, n);
        }
        Marker::Str32 | Marker::Bin32 => {
            let n = len(input, 4)?;
            return skip(input, n);
        }
        Marker::U8 | Marker::I8 => return skip(input, 1),
        Marker::U16 | Marker::I16 => return skip(input, 2),
        Marker::U32 | Marker::I32 => return skip(input, 4),
        Marker::U64 | Marker::I64 => return skip(input, 8),
        Marker::FixExt1 => return skip(input, 2),
        Marker::FixExt2 => return skip(input, 3),
        Marker::FixExt4 => return skip(input, 5),
        Marker::FixExt8 => return skip(input, 9),
        Marker::FixExt16 => return skip(input, 17),
        Marker::Ext8 => {
            let n = len(input, 1)?;
            return skip(input, n + 1);
        }
        Marker::Ext16 => {
            let n = len(input, 2)?;
            return skip(input, n + 1);
        }
        Marker::Ext32 => {
            let n = len(input, 4)?;
            return skip(input, n + 1);
        }
        Marker::Null | Marker::True | Marker::False | Marker::FixPos(_) | Marker::FixNeg(_) => {
            return Ok(());
        }
        Marker::Reserved => return Err(Problem::Malformed),
    };
    // The argument list itself is level 0; the data starts at level 1.
    if depth > MAX_EVENT_DEPTH {
        return Err(Problem::Deep);
    }
    for _ in 0..items {
        check(input, depth + 1)?;
    }
    Ok(())
}

fn finite(value: f64) -> Result<(), Problem> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Problem::NonFinite)
    }
}
