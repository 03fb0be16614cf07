//! Cranelift's incremental compilation cache for specialised guests: each
//! specialised guest is the weval variant plus a mod's specialised
//! functions, so after an engine's first specialisation most of the next
//! one's functions are already compiled. wasmtime asks this store for every
//! function it compiles, by a hash of the function's code and the compiler's
//! settings, and compiles only the ones it misses.
//!
//! The store lives in memory, one per engine whose
//! [`crate::EngineConfig::weval`] is set (its specialised engines share the
//! wasmtime engine, so they share it too; other engines do not ask it,
//! which keeps their compiles 5% cheaper). It is bounded: past
//! [`FUNCTION_CACHE_BYTES`] the least recently used functions are dropped,
//! so loading ever more mods cannot make it grow without end. It holds
//! nothing until the engine first specialises, so engines that never do
//! pay no memory for it. Whether a function comes from the store or is
//! compiled afresh, its machine code is the same (Cranelift's cache is keyed
//! by everything compilation reads), so fuel and results do not depend on
//! it.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, Ordering};

use lru::LruCache;
use wasmtime::CacheStore;

/// Most bytes (keys and compiled functions) one engine's store holds. The
/// first specialised guest leaves about 9 MB (for a 1,000-line mod), and
/// each further mod adds its own specialised functions (3 MB for 1,000
/// lines): this keeps the shared ones and the last dozen or so mods'.
pub const FUNCTION_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Compiled functions by key, least recently used first out.
#[derive(Debug)]
pub(crate) struct FunctionCache {
    /// Set at the engine's first specialisation; until then nothing is kept.
    open: AtomicBool,
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Debug)]
struct Entries {
    lru: LruCache<Vec<u8>, Vec<u8>>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

/// What a store holds and has served, for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(hidden)]
pub struct FunctionCacheStats {
    /// Functions held.
    pub functions: usize,
    /// Bytes held, keys included.
    pub bytes: usize,
    /// Lookups that found a compiled function.
    pub hits: u64,
    /// Lookups that did not, while the store was open.
    pub misses: u64,
}

impl FunctionCache {
    /// A closed store that will hold at most `capacity` bytes once open.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            open: AtomicBool::new(false),
            capacity,
            entries: Mutex::new(Entries {
                // Bounded by bytes in `insert`, not by count.
                lru: LruCache::unbounded(),
                bytes: 0,
                hits: 0,
                misses: 0,
            }),
        }
    }

    /// From now on, keep what is compiled.
    pub(crate) fn open(&self) {
        self.open.store(true, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> FunctionCacheStats {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        FunctionCacheStats {
            functions: entries.lru.len(),
            bytes: entries.bytes,
            hits: entries.hits,
            misses: entries.misses,
        }
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        if !self.open.load(Ordering::Relaxed) {
            return None;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // A copy: the entry may be evicted while wasmtime still reads it.
        let found = entries.lru.get(key).cloned();
        match found {
            Some(_) => entries.hits += 1,
            None => entries.misses += 1,
        }
        found.map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let size = key.len().saturating_add(value.len());
        if !self.open.load(Ordering::Relaxed) || size > self.capacity {
            return false;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = entries.lru.put(key.to_vec(), value) {
            entries.bytes -= key.len() + old.len();
        }
        entries.bytes += size;
        while entries.bytes > self.capacity {
            let Some((key, value)) = entries.lru.pop_lru() else {
                break;
            };
            entries.bytes -= key.len() + value.len();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_nothing_until_opened() {
        let cache = FunctionCache::new(1024);
        assert!(!cache.insert(b"k", vec![1; 10]));
        assert!(cache.get(b"k").is_none());
        cache.open();
        assert!(cache.insert(b"k", vec![1; 10]));
        assert_eq!(cache.get(b"k").as_deref(), Some(&[1; 10][..]));
        let stats = cache.stats();
        assert_eq!((stats.functions, stats.bytes, stats.hits), (1, 11, 1));
    }

    #[test]
    fn drops_the_least_recently_used_past_its_capacity() {
        let cache = FunctionCache::new(100);
        cache.open();
        for key in [b"a", b"b", b"c"] {
            assert!(cache.insert(key, vec![0; 39])); // 40 bytes each
        }
        // "a" went when "c" came; using "b" makes "c" the next to go.
        assert!(cache.get(b"a").is_none());
        assert!(cache.get(b"b").is_some());
        assert!(cache.insert(b"d", vec![0; 39]));
        assert!(cache.get(b"c").is_none());
        assert!(cache.get(b"b").is_some() && cache.get(b"d").is_some());
        assert_eq!(cache.stats().bytes, 80);
        // Larger than the whole store: refused, nothing dropped for it.
        assert!(!cache.insert(b"e", vec![0; 200]));
        assert_eq!(cache.stats().functions, 2);
    }
}
