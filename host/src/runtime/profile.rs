//! [`Profile`]: where a profiled sandbox's fuel went, per Lua stack.
//!
//! With [`crate::EngineConfig::profile`] on, the guest says its Lua stack
//! every [`PROFILE_PERIOD`] VM instructions (WIT `profiler.sample`) and the
//! host gives that stack the fuel spent since the sample before. The
//! fuel left after the last sample of a call goes to the call itself (its
//! entry: the function the host called, `on_tick`, or the chunk run). The
//! samples fall on instruction counts and fuel is exact, so a profile is
//! a function of the run's inputs: the same run gives the same profile.
//!
//! The guest reports what a script does, so everything here is bounded
//! whatever the script: [`MAX_LABELS`] frame names of at most
//! [`MAX_LABEL_LEN`] bytes, [`MAX_STACKS`] distinct stacks of at most
//! [`MAX_STACK_DEPTH`] frames (the rest is counted under `[other stacks]`),
//! and names are cleaned for the folded format and for terminals.

use std::collections::HashMap;
use std::fmt::Write as _;

/// Lua VM instructions between two count samples of the profiler (world
/// calls are sampled each; see [`Profile`]).
pub const PROFILE_PERIOD: u32 = 1_000;

/// Most frame names a profile keeps (the guest names at most 4,098).
pub const MAX_LABELS: usize = 8_192;
/// Longest frame name kept, in bytes.
pub const MAX_LABEL_LEN: usize = 160;
/// Most distinct stacks a profile keeps.
pub const MAX_STACKS: usize = 8_192;
/// Most frames of a stack kept (below its entry), the innermost.
pub const MAX_STACK_DEPTH: usize = 65;

/// The frame, under a call's entry, of the fuel the profiler's own work
/// cost: walking the Lua stack for each sample.
pub const PROFILER_FRAME: &str = "[profiler]";
/// The name of the stacks past [`MAX_STACKS`].
const OTHER_STACKS: &str = "[other stacks]";
/// The name of a frame id the guest never named.
const UNNAMED: &str = "?";

/// Where a sandbox's fuel went: fuel per Lua stack, each stack rooted at
/// the entry the host called.
///
/// ```
/// # fn main() -> Result<(), moonbox::ScriptError> {
/// use moonbox::{EngineConfig, SandboxConfig, ScriptEngine};
/// let engine = ScriptEngine::with_config(&EngineConfig { profile: true, ..Default::default() })?;
/// let mut sandbox = engine.sandbox(&SandboxConfig::default())?;
/// sandbox.run("hot.lua", b"function spin(n) local s = 0 for i = 1, n do s = s + i end return s end
///                          spin(1000000)")?;
/// let profile = sandbox.profile().expect("the engine profiles");
/// assert_eq!(profile.total(), sandbox.fuel_used());
/// let functions = profile.functions(); // most fuel, all frames below, first
/// assert_eq!(functions[0].name, "hot.lua"); // the call: running the chunk
/// let hottest = functions.iter().max_by_key(|f| f.exclusive).unwrap();
/// assert_eq!(hottest.name, "spin (hot.lua:1)");
/// assert!(profile.folded("mod").contains("mod;hot.lua;main chunk (hot.lua);spin (hot.lua:1) "));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Frame names, by index.
    labels: Vec<String>,
    /// The index of each name.
    label_index: HashMap<String, u32>,
    /// The guest's frame ids, as label indices.
    guest_frames: HashMap<u32, u32>,
    /// Fuel per stack of label indices, outermost (the entry) first.
    stacks: HashMap<Vec<u32>, u64>,
    /// Fuel of every stack.
    total: u64,
    /// The call running, while one does.
    call: Option<Call>,
}

/// What a profile keeps of the call running.
#[derive(Debug, Clone)]
struct Call {
    /// Its entry's label.
    entry: u32,
    /// The fuel left when the fuel before was last given out.
    last: u64,
    /// The script's own fuel given to no stack yet: the next count sample's
    /// stack gets it.
    pending: u64,
    /// The script's stack at the latest sample, for what is pending when
    /// the call ends.
    latest: Option<Vec<u32>>,
    /// The fuel left when the running world call began, until its sample.
    world_call: Option<u64>,
    /// The fuel left when the guest began taking the coming sample.
    sampling: Option<u64>,
}

/// One function's share of a [`Profile`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionCost {
    /// Its frame name: `name (chunk:line)`, `main chunk (chunk)`, `name [C]`,
    /// or a call's entry as the host named it (`on_tick`).
    pub name: String,
    /// Fuel spent in it and in what it called (counted once per stack,
    /// however often it recurses).
    pub inclusive: u64,
    /// Fuel spent in it alone.
    pub exclusive: u64,
}

impl Profile {
    /// Fuel of all stacks: the fuel of every profiled call.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether nothing was profiled yet.
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }

    /// The profile in the folded-stacks format of flamegraph tools (and
    /// [`inferno`]): one line per stack, `root;entry;outer;...;inner fuel`,
    /// sorted, so the same profile always gives the same text. `root`
    /// (a mod's name, say) is cleaned like the frame names.
    pub fn folded(&self, root: &str) -> String {
        let root = clean(root);
        let mut lines: Vec<String> = self
            .stacks
            .iter()
            .filter(|(_, fuel)| **fuel > 0)
            .map(|(stack, fuel)| {
                let mut line = root.clone();
                for &frame in stack {
                    line.push(';');
                    line.push_str(self.label(frame));
                }
                let _ = write!(line, " {fuel}");
                line
            })
            .collect();
        lines.sort_unstable();
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    /// Each function's fuel, most inclusive fuel first (ties by name).
    pub fn functions(&self) -> Vec<FunctionCost> {
        let mut costs: HashMap<u32, (u64, u64)> = HashMap::new();
        let mut seen = Vec::new();
        for (stack, &fuel) in &self.stacks {
            seen.clear();
            for &frame in stack {
                if !seen.contains(&frame) {
                    seen.push(frame);
                    costs.entry(frame).or_default().0 += fuel;
                }
            }
            if let Some(&leaf) = stack.last() {
                costs.entry(leaf).or_default().1 += fuel;
            }
        }
        let mut functions: Vec<FunctionCost> = costs
            .into_iter()
            .map(|(frame, (inclusive, exclusive))| FunctionCost {
                name: self.label(frame).to_owned(),
                inclusive,
                exclusive,
            })
            .collect();
        functions.sort_by(|a, b| {
            b.inclusive
                .cmp(&a.inclusive)
                .then_with(|| a.name.cmp(&b.name))
        });
        functions
    }

    fn label(&self, index: u32) -> &str {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.labels.get(i))
            .map_or(UNNAMED, String::as_str)
    }

    /// The index of `label`, cleaned; `?` once [`MAX_LABELS`] are kept.
    fn intern(&mut self, label: &str) -> u32 {
        let label = clean(label);
        if let Some(&index) = self.label_index.get(&label) {
            return index;
        }
        match u32::try_from(self.labels.len()) {
            Ok(index) if self.labels.len() < MAX_LABELS => {
                self.labels.push(label.clone());
                self.label_index.insert(label, index);
                index
            }
            _ => self.intern_reserved(UNNAMED),
        }
    }

    /// The index of one of the profile's own names, kept past [`MAX_LABELS`].
    fn intern_reserved(&mut self, label: &'static str) -> u32 {
        if let Some(&index) = self.label_index.get(label) {
            return index;
        }
        let index = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        self.labels.push(label.to_owned());
        self.label_index.insert(label.to_owned(), index);
        index
    }

    /// A call named `entry` starts with `fuel` in its tank.
    pub(crate) fn begin(&mut self, entry: &str, fuel: u64) {
        let entry = self.intern(entry);
        self.call = Some(Call {
            entry,
            last: fuel,
            pending: 0,
            latest: None,
            world_call: None,
            sampling: None,
        });
    }

    /// The running call ends with `fuel` left: what is pending goes to the
    /// script's stack at the latest sample, or to the entry if none was
    /// taken.
    pub(crate) fn end(&mut self, fuel: u64) {
        if let Some(call) = self.call.take() {
            let pending = call.pending.saturating_add(call.last.saturating_sub(fuel));
            let stack = call.latest.unwrap_or_else(|| vec![call.entry]);
            self.add(stack, pending);
        }
    }

    /// A world call begins with `fuel` left: until its sample, the fuel is
    /// its own.
    pub(crate) fn begin_world_call(&mut self, fuel: u64) {
        if let Some(call) = &mut self.call {
            call.world_call = Some(fuel);
        }
    }

    /// The guest named frame `id`.
    pub(crate) fn frame(&mut self, id: u32, label: &str) {
        if self.guest_frames.len() >= MAX_LABELS && !self.guest_frames.contains_key(&id) {
            return;
        }
        let index = self.intern(label);
        self.guest_frames.insert(id, index);
    }

    /// The guest begins taking a sample with `fuel` left: until the sample,
    /// the fuel is the profiler's.
    pub(crate) fn sampling(&mut self, fuel: u64) {
        if let Some(call) = &mut self.call {
            call.sampling = Some(fuel);
        }
    }

    /// The guest is running `stack` (frame ids, outermost first) with
    /// `fuel` left. What taking the sample cost goes to [`PROFILER_FRAME`]
    /// under the entry. At the end of a world call (one began since the
    /// last sample), what the call spent goes to `stack`, whose innermost
    /// frame is the call; the script's own fuel before it waits for the
    /// next count sample. At a count sample, all the script's fuel waiting
    /// goes to `stack`.
    pub(crate) fn sample(&mut self, stack: &[u32], fuel: u64) {
        let Some(mut call) = self.call.take() else {
            return;
        };
        let inner = &stack[stack.len().saturating_sub(MAX_STACK_DEPTH)..];
        let mut frames = Vec::with_capacity(inner.len() + 1);
        frames.push(call.entry);
        for id in inner {
            let index = match self.guest_frames.get(id) {
                Some(&index) => index,
                None => self.intern_reserved(UNNAMED),
            };
            frames.push(index);
        }
        // Fuel only falls: last >= world call >= sampling >= fuel.
        let (last, mut to) = (call.last, fuel);
        if let Some(sampling) = call.sampling.take().filter(|s| (fuel..=last).contains(s)) {
            let profiler = vec![call.entry, self.intern_reserved(PROFILER_FRAME)];
            self.add(profiler, sampling - fuel);
            to = sampling;
        }
        match call.world_call.take().filter(|w| (to..=last).contains(w)) {
            Some(began) if frames.len() > 1 => {
                call.pending = call.pending.saturating_add(last - began);
                self.add(frames.clone(), began - to);
                frames.pop();
            }
            _ => {
                let pending = std::mem::take(&mut call.pending).saturating_add(last - to);
                self.add(frames.clone(), pending);
            }
        }
        call.last = fuel;
        call.latest = Some(frames);
        self.call = Some(call);
    }

    fn add(&mut self, stack: Vec<u32>, fuel: u64) {
        self.total = self.total.saturating_add(fuel);
        if let Some(kept) = self.stacks.get_mut(&stack) {
            *kept = kept.saturating_add(fuel);
            return;
        }
        if self.stacks.len() < MAX_STACKS {
            self.stacks.insert(stack, fuel);
            return;
        }
        let other = vec![stack[0], self.intern_reserved(OTHER_STACKS)];
        let kept = self.stacks.entry(other).or_default();
        *kept = kept.saturating_add(fuel);
    }
}

/// `label` fit for the folded format and a terminal: `;` (the frame
/// separator) becomes `,`, control characters become `?`, and it is cut to
/// [`MAX_LABEL_LEN`] bytes.
fn clean(label: &str) -> String {
    let mut cleaned = String::with_capacity(label.len().min(MAX_LABEL_LEN));
    for c in label.chars() {
        let c = match c {
            ';' => ',',
            c if c.is_control() => '?',
            c => c,
        };
        if cleaned.len() + c.len_utf8() > MAX_LABEL_LEN {
            break;
        }
        cleaned.push(c);
    }
    cleaned
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn world_calls_get_their_own_fuel_and_the_script_its_sampled_share() {
        let mut profile = Profile::default();
        profile.begin("on_tick", 1_000);
        profile.frame(0, "f (m.lua:1)");
        profile.frame(1, "get [C]");
        // A count sample: everything so far is f's.
        profile.sample(&[0], 900);
        // A world call from f: it began at 880, the sample was taken from
        // 800 on; the 20 before the call wait for the next count sample.
        profile.begin_world_call(880);
        profile.sampling(800);
        profile.sample(&[0, 1], 790);
        // No count sample came: what waits goes to f, the latest stack.
        profile.end(700);
        assert_eq!(profile.total(), 300);
        assert_eq!(
            profile.folded("m"),
            "m;on_tick;[profiler] 10\nm;on_tick;f (m.lua:1) 210\nm;on_tick;f (m.lua:1);get [C] 80\n"
        );
        let functions = profile.functions();
        assert_eq!(functions[0].name, "on_tick");
        assert_eq!((functions[0].inclusive, functions[0].exclusive), (300, 0));
        assert_eq!(functions[1].name, "f (m.lua:1)");
        assert_eq!((functions[1].inclusive, functions[1].exclusive), (290, 210));
        assert_eq!((functions[2].inclusive, functions[2].exclusive), (80, 80));
        // A call with no sample at all is its entry's.
        profile.begin("on_event", 50);
        profile.end(20);
        assert!(profile.folded("m").starts_with("m;on_event 30\n"));
    }

    #[test]
    fn names_are_cleaned_and_hostile_volume_is_bounded() {
        let mut profile = Profile::default();
        profile.begin("on_tick", u64::MAX);
        profile.frame(0, "a;b\n\u{1b}[31m");
        profile.sample(&[0], u64::MAX - 1);
        assert!(profile.folded("m").starts_with("m;on_tick;a,b??[31m 1\n"));
        // More stacks than kept: the rest is counted, under one name.
        let mut fuel = u64::MAX - 1;
        for id in 0..100 {
            profile.frame(id, &format!("f{id}"));
        }
        for (a, b) in (0..100).flat_map(|a| (0..100).map(move |b| (a, b))) {
            fuel -= 1;
            profile.sample(&[a, b], fuel);
        }
        assert!(profile.stacks.len() <= MAX_STACKS + 1);
        assert_eq!(profile.total(), u64::MAX - fuel);
        assert!(profile.folded("m").contains("m;on_tick;[other stacks] "));
        // Names past the limit, and ids never named, are `?`.
        for id in 0..u32::try_from(MAX_LABELS).unwrap() + 10 {
            profile.frame(id, &format!("g{id}"));
        }
        assert!(profile.labels.len() <= MAX_LABELS + 2);
        let mut fresh = Profile::default();
        fresh.begin("e", 10);
        fresh.sample(&[7], 0);
        assert_eq!(fresh.folded("m"), "m;e;? 10\n");
        // Stacks are cut to their innermost frames.
        let deep: Vec<u32> = (0..1_000).collect();
        let mut profile = Profile::default();
        profile.begin("e", 10);
        profile.sample(&deep, 0);
        let line = profile.folded("m");
        assert_eq!(line.matches(';').count(), 1 + MAX_STACK_DEPTH);
    }
}
