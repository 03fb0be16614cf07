//! The sandbox console: where `print` and `warn` go instead of the host's streams.

use std::collections::VecDeque;

/// Default number of lines a console keeps.
pub const DEFAULT_MAX_LINES: usize = 10_000;
/// Default number of text bytes a console keeps.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;

/// Which Lua function wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Channel {
    /// `print`
    Out,
    /// `warn`
    Warn,
}

/// One console line. Lines are UTF-8 (invalid bytes replaced) and at most
/// [`crate::MAX_TEXT_LEN`] bytes long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleLine {
    /// Where it came from.
    pub channel: Channel,
    /// The text, without a trailing newline.
    pub text: String,
}

/// A bounded queue of console lines: when full, the oldest lines are dropped
/// and counted, so a chatty script can never grow host memory.
///
/// ```
/// use moonbox::{Channel, Console};
/// let mut console = Console::new(2, 1024);
/// for text in ["a", "b", "c"] {
///     console.push(Channel::Out, text.to_string());
/// }
/// assert_eq!(console.dropped(), 1);
/// assert_eq!(console.lines().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["b", "c"]);
/// ```
#[derive(Debug, Clone)]
pub struct Console {
    lines: VecDeque<ConsoleLine>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    dropped: u64,
}

impl Default for Console {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINES, DEFAULT_MAX_BYTES)
    }
}

impl Console {
    /// A console keeping at most `max_lines` lines and `max_bytes` bytes of text.
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            bytes: 0,
            max_lines,
            max_bytes,
            dropped: 0,
        }
    }

    /// Appends a line, dropping the oldest ones while over a bound.
    pub fn push(&mut self, channel: Channel, text: String) {
        self.bytes += text.len();
        self.lines.push_back(ConsoleLine { channel, text });
        while self.lines.len() > self.max_lines || self.bytes > self.max_bytes {
            match self.lines.pop_front() {
                Some(old) => {
                    self.bytes -= old.text.len();
                    self.dropped += 1;
                }
                None => break,
            }
        }
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &ConsoleLine> {
        self.lines.iter()
    }

    /// Removes and returns the lines kept, oldest first.
    pub fn drain(&mut self) -> Vec<ConsoleLine> {
        self.bytes = 0;
        self.lines.drain(..).collect()
    }

    /// How many lines were dropped because the console was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Lines it keeps at most.
    pub(crate) fn max_lines(&self) -> usize {
        self.max_lines
    }

    /// Text bytes it keeps at most.
    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Counts `lines` more as dropped (a restored console's earlier losses).
    pub(crate) fn add_dropped(&mut self, lines: u64) {
        self.dropped = self.dropped.saturating_add(lines);
    }
}

/// Appended to any host-made text cut at [`crate::MAX_TEXT_LEN`].
const TRUNCATION_MARK: &str = "... (truncated)";

/// Cuts a host-made text (a disable reason, a note) to
/// [`crate::MAX_TEXT_LEN`] bytes on a character boundary, as the guest cuts
/// its own texts, so no text leaving a sandbox is longer.
pub(crate) fn bounded(mut text: String) -> String {
    let max = crate::MAX_TEXT_LEN;
    if text.len() <= max {
        return text;
    }
    let mut cut = max - TRUNCATION_MARK.len();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(TRUNCATION_MARK);
    text
}

/// `text` made safe to write to a terminal or a log: every control
/// character (C0 except tab, DEL, C1) and every bidirectional-override
/// character is replaced by a visible escape such as `\u{1b}`, so text a
/// script controls can neither move the cursor, clear the screen, set the
/// clipboard (OSC 52) nor reorder what the reader sees. A line break in the
/// text becomes `\u{a}`: one line of text stays one line.
///
/// ```
/// assert_eq!(moonbox::terminal_safe("ok\tfine"), "ok\tfine");
/// assert_eq!(moonbox::terminal_safe("\x1b[2Jfake\nworld hash: 0"), "\\u{1b}[2Jfake\\u{a}world hash: 0");
/// assert_eq!(moonbox::terminal_safe("abc\u{202e}def"), "abc\\u{202e}def");
/// ```
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}
