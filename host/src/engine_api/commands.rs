//! [`Command`]: what a mod tells the engine, emitted during a handler call
//! and delivered only if the call commits.

use std::sync::Arc;

use serde::de::DeserializeOwned;

/// Most commands one handler call may emit.
pub const MAX_COMMANDS_PER_CALL: usize = 65_536;

/// Most bytes (names and MessagePack data) of the commands one handler
/// call may emit: 4 MiB.
pub const MAX_COMMAND_BYTES_PER_CALL: usize = 4 * 1024 * 1024;

/// One command a mod emitted with `engine.emit(name, data)` in a call that
/// committed. [`crate::TickReport::commands`] lists them in a deterministic
/// order: mods in the order they ran, each mod's in the order emitted.
///
/// ```
/// # use moonbox::TickReport;
/// #[derive(serde::Deserialize)]
/// struct Sound { name: String }
/// # let report = TickReport::default();
/// for command in report.commands() {
///     if command.name() == "play_sound" {
///         let sound: Sound = command.decode()?;
///         println!("{} plays {}", command.mod_name(), sound.name);
///     }
/// }
/// # Ok::<(), moonbox::CommandError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    mod_name: Arc<str>,
    name: String,
    data: Vec<u8>,
}

/// A command's data does not fit the type the engine asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("command '{command}' from mod '{mod_name}': {reason}")]
pub struct CommandError {
    /// The mod that emitted it.
    pub mod_name: String,
    /// The command's name.
    pub command: String,
    /// What does not fit, in the mod author's terms.
    pub reason: String,
}

impl Command {
    /// A command as a snapshot restores it.
    pub(crate) fn restored(mod_name: Arc<str>, name: String, data: Vec<u8>) -> Self {
        Self {
            mod_name,
            name,
            data,
        }
    }

    /// The mod that emitted it.
    pub fn mod_name(&self) -> &str {
        &self.mod_name
    }

    /// Its name, as granted by `[permissions] emit`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its data as one MessagePack value.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Its data as a `T`. The data is the mod's: expect it not to fit.
    ///
    /// # Errors
    /// [`CommandError`] if it does not.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, CommandError> {
        crate::world::from_msgpack(&self.data).map_err(|reason| CommandError {
            mod_name: self.mod_name.to_string(),
            command: self.name.clone(),
            reason,
        })
    }

    /// Its data as JSON (for printing; MessagePack binary strings become
    /// strings when they are UTF-8 text).
    pub fn data_json(&self) -> serde_json::Value {
        rmp_serde::from_slice(&self.data).unwrap_or(serde_json::Value::Null)
    }
}

/// The commands of one handler call, kept until it commits.
#[derive(Debug, Default)]
pub(crate) struct CommandQueue {
    commands: Vec<Command>,
    bytes: usize,
}

impl CommandQueue {
    /// Queues a command, or says which bound it would pass.
    pub(crate) fn push(
        &mut self,
        mod_name: &Arc<str>,
        name: &str,
        data: &[u8],
    ) -> Result<(), String> {
        let bytes = self
            .bytes
            .saturating_add(name.len())
            .saturating_add(data.len());
        if self.commands.len() >= MAX_COMMANDS_PER_CALL {
            return Err(format!(
                "the call emitted more than {MAX_COMMANDS_PER_CALL} commands"
            ));
        }
        if bytes > MAX_COMMAND_BYTES_PER_CALL {
            return Err(format!(
                "the call's commands passed {MAX_COMMAND_BYTES_PER_CALL} bytes"
            ));
        }
        self.bytes = bytes;
        self.commands.push(Command {
            mod_name: Arc::clone(mod_name),
            name: name.to_owned(),
            data: data.to_vec(),
        });
        Ok(())
    }

    /// The commands, in the order emitted.
    pub(crate) fn into_commands(self) -> Vec<Command> {
        self.commands
    }
}
