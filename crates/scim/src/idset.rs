//! A set of ids in about their own size, for listings of a million users and more: the
//! listing's de-duplication and the export's managers.

use std::collections::HashSet;

/// The ids a listing handed over, for de-duplication in 8 to 16 bytes a result whatever the ids'
/// length (a set of the ids themselves costs some 60), and exactly for Slack's ids: an id of up to
/// 11 upper-case letters and digits (Slack's `U…`/`W…` ids) is kept as itself, packed into 64
/// bits; any other id (another SCIM server's UUIDs…) as a 128-bit keyed hash (two SipHash-1-3
/// under this process's random keys: two such ids share one with a chance below 10^-26 for a
/// million users, and no server can aim for it; 64 bits would have been 1 in 37 million
/// million-user listings, each a user silently left out).
#[derive(Default)]
pub struct IdSet {
    keys: (std::hash::RandomState, std::hash::RandomState),
    exact: SortedSet<u64>,
    hashed: SortedSet<u128>,
}

impl IdSet {
    /// Is this id new? (It is remembered.)
    pub fn insert(&mut self, id: &str) -> bool {
        match self.key(id) {
            Key::Exact(code) => self.exact.insert(code),
            Key::Hashed(h) => self.hashed.insert(h),
        }
    }

    /// How `id` is kept: packed when it is Slack-shaped, else its 128-bit keyed hash.
    fn key(&self, id: &str) -> Key {
        use std::hash::BuildHasher;
        match packed_id(id) {
            Some(code) => Key::Exact(code),
            None => Key::Hashed((u128::from(self.keys.0.hash_one(id)) << 64) | u128::from(self.keys.1.hash_one(id))),
        }
    }

    /// Room for `n` ids (a vector's pages that are never written are never resident).
    pub fn reserve(&mut self, n: u64) {
        self.exact.reserve(n);
        self.hashed.reserve(n);
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.hashed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sort in what was added last, so that [`IdSet::rank`] works (until the next insert).
    pub fn freeze(&mut self) {
        self.exact.merge();
        self.hashed.merge();
    }

    /// The id's place among the ids of a frozen set (0 to len - 1, each id its own), or None when
    /// it is not in the set (or the set was added to since [`IdSet::freeze`]).
    pub fn rank(&self, id: &str) -> Option<usize> {
        match self.key(id) {
            Key::Exact(code) => self.exact.position(code),
            Key::Hashed(h) => self.hashed.position(h).map(|j| self.exact.sorted.len() + j),
        }
    }
}

enum Key {
    Exact(u64),
    Hashed(u128),
}

/// An id of 1 to 11 characters `0-9A-Z`, packed without loss: its length in bits 57..61, its
/// digits base 36 below (36^11 < 2^57).
fn packed_id(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.is_empty() || b.len() > 11 {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            _ => return None,
        };
        v = v * 36 + u64::from(d);
    }
    Some(((b.len() as u64) << 57) | v)
}

/// A set of keys in about their own size: most in one sorted vector, the latest
/// [`SEEN_RECENT`] in a small hash set merged into it when full.
#[derive(Default)]
struct SortedSet<K> {
    sorted: Vec<K>,
    recent: HashSet<K, std::hash::BuildHasherDefault<Prehashed>>,
}

/// How many keys a [`SortedSet`] keeps unsorted before merging them in.
const SEEN_RECENT: usize = 1 << 15;

/// A key of a [`SortedSet`]: where in `n` sorted keys a uniform one would be.
trait SetKey: Copy + Ord + std::hash::Hash + Default {
    fn guess(self, n: usize) -> usize;
}

impl SetKey for u64 {
    fn guess(self, n: usize) -> usize {
        ((u128::from(self) * n as u128) >> 64) as usize
    }
}

impl SetKey for u128 {
    fn guess(self, n: usize) -> usize {
        (((self >> 64) * n as u128) >> 64) as usize
    }
}

impl<K: SetKey> SortedSet<K> {
    /// Is `h` new? (It is remembered.)
    fn insert(&mut self, h: K) -> bool {
        if self.position(h).is_some() || !self.recent.insert(h) {
            return false;
        }
        if self.recent.len() >= SEEN_RECENT {
            self.merge();
        }
        true
    }

    fn reserve(&mut self, n: u64) {
        self.sorted.reserve(usize::try_from(n).unwrap_or(0));
    }

    fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// Move the recent keys into the sorted vector: a merge from the back, in place.
    fn merge(&mut self) {
        if self.recent.is_empty() {
            return;
        }
        let mut add: Vec<K> = self.recent.drain().collect();
        add.sort_unstable();
        let old = self.sorted.len();
        self.sorted.resize(old + add.len(), K::default());
        let (mut i, mut j) = (old, add.len());
        for k in (0..old + add.len()).rev() {
            if j == 0 {
                break;
            }
            if i > 0 && self.sorted[i - 1] > add[j - 1] {
                self.sorted[k] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[k] = add[j - 1];
                j -= 1;
            }
        }
    }

    /// Binary search, started where a uniform key should be and widened from there (packed ids
    /// are not uniform: the widening finds them all the same, in a few more steps).
    /// Where `h` is in the sorted vector.
    fn position(&self, h: K) -> Option<usize> {
        let s = &self.sorted;
        let n = s.len();
        if n == 0 {
            return None;
        }
        let g = h.guess(n).min(n - 1);
        let (lo, hi) = if s[g] == h {
            return Some(g);
        } else if s[g] < h {
            let (mut lo, mut step) = (g, 1);
            loop {
                let next = g + step;
                if next >= n {
                    break (lo, n);
                }
                if s[next] >= h {
                    break (lo, next + 1);
                }
                lo = next;
                step *= 2;
            }
        } else {
            let (mut hi, mut step) = (g, 1);
            loop {
                if step > g {
                    break (0, hi);
                }
                let next = g - step;
                if s[next] <= h {
                    break (next, hi);
                }
                hi = next;
                step *= 2;
            }
        };
        s[lo..hi].binary_search(&h).ok().map(|i| lo + i)
    }
}

/// The hasher of a set of keys that are hashes or packed ids: a multiply-xorshift mix of the
/// value (packed ids share their high bits, which the table's control bytes would otherwise use).
#[derive(Default)]
struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s and `u128`s are hashed here; anything else is folded in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_ids_remember_every_id_across_merges() {
        let mut seen = SortedSet::<u128>::default();
        let mut all = HashSet::new();
        // Hashes of every kind: clustered, extreme, random; each offered twice, far apart.
        let mut hashes: Vec<u128> =
            (0..3 * SEEN_RECENT as u128).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834)).collect();
        hashes.extend([0, 1, u128::MAX, u128::MAX - 1, 1 << 127, 1 << 64, (1 << 64) - 1]);
        hashes.extend((0..1000u128).map(|i| 5_000_000 + i));
        // the same high half, different low halves: only the full hash tells them apart
        hashes.extend((0..1000u128).map(|i| (7u128 << 64) | i));
        for &h in &hashes {
            assert_eq!(seen.insert(h), all.insert(h), "{h}");
        }
        assert!(seen.sorted.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        for &h in hashes.iter().rev() {
            assert!(!seen.insert(h), "{h} is known after {} merges", seen.sorted.len() / SEEN_RECENT);
        }
        assert_eq!(seen.len(), all.len());
        for h in [2u128, 4_999_999, 5_001_000, u128::MAX - 2, (7u128 << 64) | 1000, 8u128 << 64] {
            assert!(!all.contains(&h) && seen.insert(h), "{h} is new");
        }
    }

    #[test]
    fn slack_ids_are_kept_exactly_and_others_hashed() {
        // packing loses nothing: different ids, different codes (lengths included)
        let ids = ["0", "00", "A", "Z", "W0ABC", "W0ABD", "ZZZZZZZZZZZ", "U012ABCDEF", "W012ABCDEF"];
        let codes: HashSet<u64> = ids.iter().map(|i| packed_id(i).unwrap()).collect();
        assert_eq!(codes.len(), ids.len());
        for not in ["", "w0abc", "W0ABC-1", "ZZZZZZZZZZZZ", "6f1c2a9e-2f1b-4c0e-9d55-0a1b2c3d4e5f", "Ü"] {
            assert_eq!(packed_id(not), None, "{not}");
        }
        // a listing of 100,000 Slack-shaped ids and 100,000 UUID-like ones, each offered twice
        let mut seen = IdSet::default();
        let slack: Vec<String> = (0..100_000u64).map(|i| format!("W{:010}", i * 7919)).collect();
        let other: Vec<String> = (0..100_000u64).map(|i| format!("{:08x}-0000-4000-8000-{i:012x}", i * 31)).collect();
        for id in slack.iter().chain(&other) {
            assert!(seen.insert(id), "{id} is new");
        }
        assert_eq!((seen.exact.len(), seen.hashed.len()), (100_000, 100_000));
        for id in slack.iter().chain(&other).rev() {
            assert!(!seen.insert(id), "{id} was listed");
        }
        assert!(seen.insert("W0ABC") && !seen.insert("W0ABC") && seen.insert("W0ABD"));
        assert_eq!(seen.len(), 200_002);
    }

    #[test]
    fn a_frozen_set_ranks_each_id_once() {
        let mut set = IdSet::default();
        let ids: Vec<String> = (0..50_000u64).map(|i| if i % 3 == 0 { format!("uuid-{i}") } else { format!("W{i:08}") }).collect();
        for id in &ids {
            set.insert(id);
        }
        set.freeze();
        let mut ranks: Vec<usize> = ids.iter().map(|id| set.rank(id).expect("in the set")).collect();
        ranks.sort_unstable();
        assert_eq!(ranks, (0..ids.len()).collect::<Vec<_>>(), "a dense, distinct rank per id");
        assert_eq!(set.rank("W99999999"), None);
        assert_eq!(set.rank("uuid-x"), None);
    }
}
