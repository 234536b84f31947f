//! A persistent ordered map from byte-string keys: a copy-on-write B+tree, the map of each shard of a branch.
//!
//! Cloning a tree is one reference-count increment. A write copies only the nodes on the path to its key that another
//! tree still shares, so a clone never sees the other's later writes, and the two keep sharing every other node:
//! that is what makes a fork O(1) and lets `diff` skip, by pointer, every subtree the two trees still share.
//!
//! Lookups are the hot path. A leaf keeps its keys and values in separate arrays, with a one-byte fingerprint (from a
//! hash of the key) of every key in its first cache line: a lookup hashes its key once, scans the fingerprints and
//! compares the one key whose fingerprint matches, so in a leaf it touches the fingerprint line, one key and one
//! value, where a binary search over the keys touches a line per probe. Branches count how many of their keys'
//! leading words are below the key's (see `Branch`): loads the CPU issues together instead of one after another.
//! The engine's values are large (a key's newest version by value, 56 bytes, see `version::Head`) so that a read
//! ends in the leaf: a leaf is then about 2.6 KB, and an insertion or split inside one moves up to that much (new
//! keys in random order, 1M keys: 1165 -> 1266 ns a put, against the third cache miss a get no longer takes).
//!
//! A full leaf that takes a key at its end (sequential loads: increasing numbers, event logs) keeps all its keys and
//! starts the new one on its own, so such loads leave full leaves; elsewhere a full node splits in the middle.
//! Removal keeps the nodes it passes at least a quarter full, by borrowing from or merging with a sibling, so
//! memory comes back when many keys go.
//!
//! Figures against `imbl::OrdMap` (which this replaced), 100k keys of 19 bytes, 16-byte values, medians of
//! alternating runs on a noisy 2-core machine: random get 255 vs 355 ns; sequential insert 58 vs 126 ns; random
//! insert 400 vs 325 ns; range of 100 585 vs 950 ns; clone and one write 2.7 vs 1.7 us (a write after a fork copies
//! 32-entry nodes); map bytes per entry after sequential inserts 43 vs 92, after random inserts 64 vs 63. Counting
//! words in branches instead of binary-searching keys: engine gets in 100k keys 474 -> 425 ns. Node sizes, through
//! the engine on 100k keys (get / sequential put, two runs each): leaves and branches of 32, 408-418 / 309 ns; leaves
//! of 16 no faster; leaves of 64 slower (481-507 / 341-354 ns); branches of 16 or 64 within the noise.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::{Bound, RangeBounds};

use arrayvec::ArrayVec;
use smallvec::SmallVec;
use triomphe::Arc;

use crate::bytes::Bytes;

/// Most entries in a leaf.
const LEAF: usize = 32;
/// Most children of a branch. Its arrays hold one more, for the moment between taking a child and splitting.
const BRANCH: usize = 32;
const MIN_LEAF: usize = LEAF / 4;
const MIN_BRANCH: usize = BRANCH / 4;

/// What a key can be looked up as: the stored form itself, whose comparisons of short keys avoid a `memcmp` call
/// (a lookup compares a key at every level), or plain bytes.
pub trait Key: Ord + Borrow<[u8]> {}

impl Key for Bytes {}
impl Key for [u8] {}

/// A bit per leaf slot.
type Mask = u64;
const _: () = assert!(LEAF <= Mask::BITS as usize && MIN_BRANCH >= 2);

/// One byte of a hash of the key: equal keys have equal fingerprints, and two different keys in a leaf share one
/// about one time in 256. Read a word at a time (engine keys are mostly 13 to 22 bytes: two or three words).
fn fingerprint(key: &[u8]) -> u8 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    // The high and low halves of a full product, folded: every input bit reaches the top byte.
    let mix = |a: u64| {
        let p = (a as u128) * (K as u128);
        (p as u64) ^ ((p >> 64) as u64)
    };
    let n = key.len();
    let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u32::from_le_bytes(key[at..at + 4].try_into().expect("4 bytes")) as u64;
    let mut h = n as u64;
    if n >= 8 {
        let mut at = 0;
        while at + 8 < n {
            h = mix(h ^ word(at));
            at += 8;
        }
        // The last word overlaps the one before it when the length is not a multiple of 8.
        h = mix(h ^ word(n - 8));
    } else if n >= 4 {
        h = mix(h ^ (half(0) << 32 | half(n - 4)));
    } else if n > 0 {
        h = mix(h ^ ((key[0] as u64) << 16 | (key[n / 2] as u64) << 8 | key[n - 1] as u64));
    }
    (h >> 56) as u8
}

/// Keys and values in key order, with the fingerprint of each key. The fingerprints come first so that, after the
/// reference count, they share the allocation's first cache line.
#[derive(Clone)]
#[repr(C)]
struct Leaf<V> {
    fps: [u8; LEAF],
    keys: ArrayVec<Bytes, LEAF>,
    vals: ArrayVec<V, LEAF>,
}

/// `children[i]` holds the keys `k` with `keys[i - 1] <= k < keys[i]`, so there is one key fewer than children.
///
/// A search compares words, not keys: `heads[i]` is the eight bytes of `keys[i]` after the `skip` bytes all its keys
/// share (big-endian, zero past the key's end, `u64::MAX` past the last key). Counting the heads below the searched
/// key's word reads four cache lines, all requested at once, where a binary search over the keys waits for one line
/// after another; a key is compared only where words tie. Every change to `keys` ends with `reindex`.
#[derive(Clone)]
struct Branch<V> {
    heads: [u64; BRANCH],
    skip: usize,
    keys: ArrayVec<Bytes, BRANCH>,
    children: ArrayVec<Node<V>, { BRANCH + 1 }>,
}

/// Eight bytes of `key` from `at`, big-endian, zero past its end. Where two keys' words differ, the keys compare as
/// their words do (a key that ends is below one that goes on, as zero is below any byte); equal words may still
/// hide a difference further on.
fn word(key: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    if at < key.len() {
        let n = (key.len() - at).min(8);
        w[..n].copy_from_slice(&key[at..at + n]);
    }
    u64::from_be_bytes(w)
}

enum Node<V> {
    Leaf(Arc<Leaf<V>>),
    Branch(Arc<Branch<V>>),
}

// Not derived: that would require `V: Clone`, and cloning a node is a reference-count increment whatever `V` is.
impl<V> Clone for Node<V> {
    fn clone(&self) -> Self {
        match self {
            Node::Leaf(l) => Node::Leaf(l.clone()),
            Node::Branch(b) => Node::Branch(b.clone()),
        }
    }
}

impl<V> Node<V> {
    fn ptr_eq(&self, other: &Node<V>) -> bool {
        match (self, other) {
            (Node::Leaf(a), Node::Leaf(b)) => Arc::ptr_eq(a, b),
            (Node::Branch(a), Node::Branch(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    fn contains<Q: Key + ?Sized>(&self, key: &Q, fp: u8) -> bool
    where
        Bytes: Borrow<Q>,
    {
        let mut node = self;
        loop {
            match node {
                Node::Branch(b) => node = &b.children[b.child(key)],
                Node::Leaf(l) => return l.find(key, fp).is_some(),
            }
        }
    }

    fn is_underfull(&self) -> bool {
        match self {
            Node::Leaf(l) => l.len() < MIN_LEAF,
            Node::Branch(b) => b.children.len() < MIN_BRANCH,
        }
    }
}

impl<V> Leaf<V> {
    fn new() -> Leaf<V> {
        Leaf { fps: [0; LEAF], keys: ArrayVec::new(), vals: ArrayVec::new() }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    /// The slot of `key`, whose fingerprint is `fp`.
    fn find<Q: Key + ?Sized>(&self, key: &Q, fp: u8) -> Option<usize>
    where
        Bytes: Borrow<Q>,
    {
        // Branch-free over the whole array, so the compiler turns it into a few vector compares.
        let mut hits: Mask = 0;
        for (i, f) in self.fps.iter().enumerate() {
            hits |= ((*f == fp) as Mask) << i;
        }
        if self.len() < Mask::BITS as usize {
            hits &= (1 << self.len()) - 1;
        }
        while hits != 0 {
            let i = hits.trailing_zeros() as usize;
            if Borrow::<Q>::borrow(&self.keys[i]) == key {
                return Some(i);
            }
            hits &= hits - 1;
        }
        None
    }

    fn insert_at(&mut self, i: usize, key: Bytes, fp: u8, value: V) {
        let len = self.len();
        // Appending, the common case of sequential loads, moves nothing: no calls to `memmove`.
        if i == len {
            self.fps[i] = fp;
            self.keys.push(key);
            self.vals.push(value);
            return;
        }
        self.fps.copy_within(i..len, i + 1);
        self.fps[i] = fp;
        self.keys.insert(i, key);
        self.vals.insert(i, value);
    }

    fn remove_at(&mut self, i: usize) -> V {
        let len = self.len();
        self.fps.copy_within(i + 1..len, i);
        self.keys.remove(i);
        self.vals.remove(i)
    }

    /// Inserts into a leaf that may be full; a full one splits, returning the new right leaf's first key and leaf.
    fn insert(&mut self, key: Bytes, fp: u8, value: impl FnOnce(Option<&mut V>) -> Option<V>) -> Inserted<V> {
        // Sequential loads append: one comparison with the last key instead of a binary search.
        let i = if self.keys.last().is_some_and(|last| *last < key) {
            self.len()
        } else if let Some(i) = self.find(&key, fp) {
            let slot = &mut self.vals[i];
            return Inserted::Replaced(value(Some(slot)).map(|new| std::mem::replace(slot, new)));
        } else {
            self.keys.partition_point(|k| *k < key)
        };
        let value = value(None).expect("a new key is given a value");
        if self.len() < LEAF {
            self.insert_at(i, key, fp, value);
            return Inserted::Added;
        }
        let mut right = Leaf::new();
        if i == LEAF {
            right.insert_at(0, key.clone(), fp, value);
            return Inserted::Split(key, Node::Leaf(Arc::new(right)));
        }
        let mid = LEAF / 2;
        right.fps[..LEAF - mid].copy_from_slice(&self.fps[mid..]);
        right.keys.extend(self.keys.drain(mid..));
        right.vals.extend(self.vals.drain(mid..));
        if i <= mid {
            self.insert_at(i, key, fp, value);
        } else {
            right.insert_at(i - mid, key, fp, value);
        }
        Inserted::Split(right.keys[0].clone(), Node::Leaf(Arc::new(right)))
    }

    /// Moves entries between two neighbours, `self` on the left, until they hold about as many each.
    fn balance(&mut self, right: &mut Leaf<V>) {
        let (l, r) = (self.len(), right.len());
        let target = (l + r) / 2;
        if l < target {
            let n = target - l;
            self.fps[l..target].copy_from_slice(&right.fps[..n]);
            right.fps.copy_within(n..r, 0);
            self.keys.extend(right.keys.drain(..n));
            self.vals.extend(right.vals.drain(..n));
        } else {
            let n = l - target;
            right.fps.copy_within(..r, n);
            right.fps[..n].copy_from_slice(&self.fps[target..l]);
            let keys = self.keys.drain(target..).chain(right.keys.drain(..)).collect();
            let vals = self.vals.drain(target..).chain(right.vals.drain(..)).collect();
            (right.keys, right.vals) = (keys, vals);
        }
    }
}

impl<V> Branch<V> {
    fn new(keys: ArrayVec<Bytes, BRANCH>, children: ArrayVec<Node<V>, { BRANCH + 1 }>) -> Branch<V> {
        let mut b = Branch { heads: [u64::MAX; BRANCH], skip: 0, keys, children };
        b.reindex();
        b
    }

    /// Recomputes `skip` and `heads` from `keys`.
    fn reindex(&mut self) {
        self.skip = match (self.keys.first(), self.keys.last()) {
            (Some(first), Some(last)) => first.iter().zip(last.iter()).take_while(|(a, b)| a == b).count(),
            _ => 0,
        };
        for (i, h) in self.heads.iter_mut().enumerate() {
            *h = self.keys.get(i).map_or(u64::MAX, |k| word(k, self.skip));
        }
    }

    /// The child whose keys include `key`, were it present: how many keys are at or below it.
    fn child<Q: Key + ?Sized>(&self, key: &Q) -> usize {
        let k: &[u8] = key.borrow();
        let Some(first) = self.keys.first() else { return 0 };
        let n = self.keys.len();
        // Below or above the shared prefix, the key is below or above every key here.
        let shared = self.skip.min(k.len());
        match k[..shared].cmp(&first[..shared]) {
            Ordering::Less => return 0,
            Ordering::Greater => return n,
            Ordering::Equal if k.len() < self.skip => return 0,
            Ordering::Equal => {}
        }
        let w = word(k, self.skip);
        let mut i = self.heads.iter().map(|h| (*h < w) as usize).sum::<usize>();
        while i < n && self.heads[i] == w && self.keys[i].as_bytes() <= k {
            i += 1;
        }
        i
    }

    /// Takes `child`, the right half of child `i` split at `sep`; a branch that overflows splits in turn.
    fn insert_child(&mut self, i: usize, sep: Bytes, child: Node<V>) -> Inserted<V> {
        self.keys.insert(i, sep);
        self.children.insert(i + 1, child);
        if self.children.len() <= BRANCH {
            self.reindex();
            return Inserted::Added;
        }
        // A child added at the end (a sequential load) leaves the left nearly full; the right starts with two, so
        // that every branch has a sibling to balance with.
        let at = if i + 1 == BRANCH { BRANCH - 1 } else { BRANCH.div_ceil(2) };
        let right = Branch::new(self.keys.drain(at..).collect(), self.children.drain(at..).collect());
        let up = self.keys.pop().expect("a full branch has separators");
        self.reindex();
        Inserted::Split(up, Node::Branch(Arc::new(right)))
    }
}

impl<V: Clone> Branch<V> {
    /// After a removal under child `i`: if it fell below a quarter full, it borrows from or merges with a sibling.
    fn rebalance(&mut self, i: usize) {
        if self.children[i].is_underfull() {
            self.join(i.saturating_sub(1));
            self.reindex();
        }
    }

    /// Merges children `l` and `l + 1`, or evens them out when they hold too much for one.
    fn join(&mut self, l: usize) {
        let Branch { keys, children, .. } = self;
        let (left, right) = children.split_at_mut(l + 1);
        let merged = match (&mut left[l], &right[0]) {
            (Node::Leaf(x), Node::Leaf(y)) if x.len() + y.len() <= LEAF => {
                let x = Arc::make_mut(x);
                let (at, n) = (x.len(), y.len());
                x.fps[at..at + n].copy_from_slice(&y.fps[..n]);
                x.keys.extend(y.keys.iter().cloned());
                x.vals.extend(y.vals.iter().cloned());
                true
            }
            (Node::Branch(x), Node::Branch(y)) if x.children.len() + y.children.len() <= BRANCH => {
                let x = Arc::make_mut(x);
                x.keys.push(keys[l].clone());
                x.keys.extend(y.keys.iter().cloned());
                x.children.extend(y.children.iter().cloned());
                x.reindex();
                true
            }
            _ => false,
        };
        if merged {
            keys.remove(l);
            children.remove(l + 1);
            return;
        }
        match (&mut left[l], &mut right[0]) {
            (Node::Leaf(x), Node::Leaf(y)) => {
                let y = Arc::make_mut(y);
                Arc::make_mut(x).balance(y);
                keys[l] = y.keys[0].clone();
            }
            (Node::Branch(x), Node::Branch(y)) => {
                let (x, y) = (Arc::make_mut(x), Arc::make_mut(y));
                let target = (x.children.len() + y.children.len()) / 2;
                // Each child that moves passes its separator through the parent's.
                while x.children.len() < target {
                    x.keys.push(std::mem::replace(&mut keys[l], y.keys.remove(0)));
                    x.children.push(y.children.remove(0));
                }
                while x.children.len() > target {
                    y.keys.insert(0, std::mem::replace(&mut keys[l], x.keys.pop().expect("separators")));
                    y.children.insert(0, x.children.pop().expect("children"));
                }
                x.reindex();
                y.reindex();
            }
            _ => unreachable!("all leaves are at one depth"),
        }
    }
}

enum Inserted<V> {
    /// The key was there: the value replaced, or none when it was changed in place.
    Replaced(Option<V>),
    Added,
    /// The node split: the first key of the new right node, and the node.
    Split(Bytes, Node<V>),
}

fn insert_into<V: Clone>(
    node: &mut Node<V>,
    key: Bytes,
    fp: u8,
    value: impl FnOnce(Option<&mut V>) -> Option<V>,
) -> Inserted<V> {
    match node {
        Node::Leaf(l) => Arc::make_mut(l).insert(key, fp, value),
        Node::Branch(b) => {
            let b = Arc::make_mut(b);
            // Sequential loads go to the last child: one comparison instead of a binary search.
            let last = b.keys.len();
            let i = if b.keys.last().is_some_and(|s| *s <= key) { last } else { b.child(&key) };
            match insert_into(&mut b.children[i], key, fp, value) {
                Inserted::Split(sep, right) => b.insert_child(i, sep, right),
                done => done,
            }
        }
    }
}

/// `found`: the key is known to be present, so a shared node on the way may be copied without looking first.
fn remove_from<V: Clone, Q: Key + ?Sized>(node: &mut Node<V>, key: &Q, fp: u8, found: bool) -> Option<V>
where
    Bytes: Borrow<Q>,
{
    match node {
        Node::Leaf(l) => {
            let i = l.find(key, fp)?;
            Some(Arc::make_mut(l).remove_at(i))
        }
        Node::Branch(b) => {
            let i = b.child(key);
            // Copying a shared node for a key that is not there would cost a copy and unshare the path for diffs.
            let found = found || b.is_unique() || b.children[i].contains(key, fp);
            if !found {
                return None;
            }
            let b = Arc::make_mut(b);
            let value = remove_from(&mut b.children[i], key, fp, found)?;
            b.rebalance(i);
            Some(value)
        }
    }
}

pub struct Tree<V> {
    root: Option<Node<V>>,
    /// Branch levels above the leaves.
    height: usize,
}

impl<V> Clone for Tree<V> {
    fn clone(&self) -> Self {
        Tree { root: self.root.clone(), height: self.height }
    }
}

impl<V> Default for Tree<V> {
    fn default() -> Self {
        Tree::new()
    }
}

impl<V> Tree<V> {
    pub fn new() -> Tree<V> {
        Tree { root: None, height: 0 }
    }

    pub fn get<Q: Key + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        Bytes: Borrow<Q>,
    {
        let fp = fingerprint(key.borrow());
        let mut node = self.root.as_ref()?;
        loop {
            match node {
                Node::Branch(b) => node = &b.children[b.child(key)],
                Node::Leaf(l) => return l.find(key, fp).map(|i| &l.vals[i]),
            }
        }
    }

    /// Whether the two are one and the same version of a map: a clone not written to since, by either side. A
    /// write to a shared root copies it, so `true` means no write at all; `false` may still mean equal contents.
    pub fn same(&self, other: &Tree<V>) -> bool {
        match (&self.root, &other.root) {
            (Some(a), Some(b)) => a.ptr_eq(b),
            (a, b) => a.is_none() && b.is_none(),
        }
    }

    /// Entries within `range` in key order, from either end. A range whose start is past its end is empty.
    pub fn range<R: RangeBounds<Bytes>>(&self, range: R) -> Iter<'_, V> {
        let Some(root) = &self.root else { return Iter { ends: None } };
        let front = match range.start_bound() {
            Bound::Unbounded => Cursor::descend(root, |_| 0, |_| 0),
            Bound::Included(k) => Cursor::descend(root, |b| b.child(k), |l| l.keys.partition_point(|x| x < k)),
            Bound::Excluded(k) => Cursor::descend(root, |b| b.child(k), |l| l.keys.partition_point(|x| x <= k)),
        }
        .forward();
        let back = match range.end_bound() {
            Bound::Unbounded => Cursor::descend(root, |b| b.children.len() - 1, Leaf::len),
            Bound::Included(k) => Cursor::descend(root, |b| b.child(k), |l| l.keys.partition_point(|x| x <= k)),
            Bound::Excluded(k) => {
                Cursor::descend(root, |b| b.keys.partition_point(|s| s < k), |l| l.keys.partition_point(|x| x < k))
            }
        }
        .backward();
        let ends = front.zip(back).filter(|(f, b)| f.key() <= b.key());
        Iter { ends }
    }

    /// What changed from `self` to `other`, in key order. Subtrees the two share are skipped by pointer, so the cost
    /// is in proportion to the changes (times the depth), not to the size of the trees.
    pub fn diff<'a>(&'a self, other: &'a Tree<V>) -> Diff<'a, V>
    where
        V: PartialEq,
    {
        let pending = |t: &'a Tree<V>| t.root.iter().map(|r| Pending::Node(r, t.height)).collect();
        Diff {
            old: pending(self),
            new: pending(other),
            #[cfg(test)]
            expanded: 0,
        }
    }
}

impl<V: Clone> Tree<V> {
    pub fn insert(&mut self, key: Bytes, value: V) -> Option<V> {
        self.insert_with(key, |_| value)
    }

    /// Inserts the value `value` makes from the one `key` has, if any (in one walk down the tree, where `get` then
    /// `insert` would take two); returns the value replaced.
    pub fn insert_with(&mut self, key: Bytes, value: impl FnOnce(Option<&V>) -> V) -> Option<V> {
        self.upsert(key, |old| Some(value(old.map(|v| &*v))))
    }

    /// As `insert_with`, but `value` may change the key's value in place and return `None` (a value that is large
    /// or owns resources is then not moved out and back); for a new key it must return the value. Returns the value
    /// replaced, if one was.
    pub fn upsert(&mut self, key: Bytes, value: impl FnOnce(Option<&mut V>) -> Option<V>) -> Option<V> {
        let fp = fingerprint(&key);
        let Some(root) = &mut self.root else {
            let mut leaf = Leaf::new();
            leaf.insert_at(0, key, fp, value(None).expect("a new key is given a value"));
            self.root = Some(Node::Leaf(Arc::new(leaf)));
            return None;
        };
        match insert_into(root, key, fp, value) {
            Inserted::Replaced(old) => return old,
            Inserted::Added => {}
            Inserted::Split(sep, right) => {
                let left = self.root.take().expect("split a root");
                let children = [left, right].into_iter().collect();
                self.root = Some(Node::Branch(Arc::new(Branch::new([sep].into_iter().collect(), children))));
                self.height += 1;
            }
        }
        None
    }

    pub fn remove<Q: Key + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        Bytes: Borrow<Q>,
    {
        let value = remove_from(self.root.as_mut()?, key, fingerprint(key.borrow()), false)?;
        loop {
            match &self.root {
                Some(Node::Branch(b)) if b.children.len() == 1 => {
                    self.root = Some(b.children[0].clone());
                    self.height -= 1;
                }
                Some(Node::Leaf(l)) if l.len() == 0 => self.root = None,
                _ => return Some(value),
            }
        }
    }
}

impl<V: Clone> FromIterator<(Bytes, V)> for Tree<V> {
    fn from_iter<I: IntoIterator<Item = (Bytes, V)>>(items: I) -> Tree<V> {
        let mut t = Tree::new();
        for (k, v) in items {
            t.insert(k, v);
        }
        t
    }
}

/// A position in a tree: the branches down to a leaf, with the child taken in each, and a slot of that leaf.
struct Cursor<'a, V> {
    path: SmallVec<[(&'a Branch<V>, usize); 6]>,
    leaf: &'a Leaf<V>,
    slot: usize,
}

impl<'a, V> Cursor<'a, V> {
    fn down(
        path: &mut SmallVec<[(&'a Branch<V>, usize); 6]>,
        mut node: &'a Node<V>,
        pick: impl Fn(&Branch<V>) -> usize,
    ) -> &'a Leaf<V> {
        loop {
            match node {
                Node::Branch(b) => {
                    let i = pick(b);
                    path.push((b, i));
                    node = &b.children[i];
                }
                Node::Leaf(l) => return l,
            }
        }
    }

    /// Goes down the children `pick` picks, to the slot `slot` picks in the leaf there (one past its end at most).
    fn descend(root: &'a Node<V>, pick: impl Fn(&Branch<V>) -> usize, slot: impl Fn(&Leaf<V>) -> usize) -> Self {
        let mut path = SmallVec::new();
        let leaf = Cursor::down(&mut path, root, pick);
        Cursor { path, leaf, slot: slot(leaf) }
    }

    /// The first entry at or after this position.
    fn forward(mut self) -> Option<Self> {
        (self.slot < self.leaf.len() || self.next_leaf()).then_some(self)
    }

    /// The last entry before this position.
    fn backward(mut self) -> Option<Self> {
        match self.slot {
            0 => self.prev_leaf().then_some(self),
            _ => {
                self.slot -= 1;
                Some(self)
            }
        }
    }

    fn key(&self) -> &'a Bytes {
        &self.leaf.keys[self.slot]
    }

    /// To the first entry of the next leaf, if there is one.
    fn next_leaf(&mut self) -> bool {
        while let Some((b, i)) = self.path.pop() {
            if i + 1 < b.children.len() {
                self.path.push((b, i + 1));
                self.leaf = Cursor::down(&mut self.path, &b.children[i + 1], |_| 0);
                self.slot = 0;
                return true;
            }
        }
        false
    }

    /// To the last entry of the previous leaf, if there is one.
    fn prev_leaf(&mut self) -> bool {
        while let Some((b, i)) = self.path.pop() {
            if i > 0 {
                self.path.push((b, i - 1));
                self.leaf = Cursor::down(&mut self.path, &b.children[i - 1], |b| b.children.len() - 1);
                self.slot = self.leaf.len() - 1;
                return true;
            }
        }
        false
    }

    fn at(&self, other: &Cursor<'a, V>) -> bool {
        std::ptr::eq(self.leaf, other.leaf) && self.slot == other.slot
    }
}

/// The entries from the front cursor to the back one, both included; `None` once they have met.
pub struct Iter<'a, V> {
    ends: Option<(Cursor<'a, V>, Cursor<'a, V>)>,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a Bytes, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let (front, back) = self.ends.as_mut()?;
        let leaf = front.leaf;
        let item = (&leaf.keys[front.slot], &leaf.vals[front.slot]);
        // A leaf appears once in a tree, so the same leaf and slot is the same entry.
        if front.at(back) {
            self.ends = None;
        } else {
            front.slot += 1;
            if front.slot == front.leaf.len() && !front.next_leaf() {
                self.ends = None;
            }
        }
        Some(item)
    }
}

impl<V> DoubleEndedIterator for Iter<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (front, back) = self.ends.as_mut()?;
        let leaf = back.leaf;
        let item = (&leaf.keys[back.slot], &leaf.vals[back.slot]);
        if back.at(front) {
            self.ends = None;
        } else if back.slot > 0 {
            back.slot -= 1;
        } else if !back.prev_leaf() {
            self.ends = None;
        }
        Some(item)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum DiffItem<'a, V> {
    /// Only in the new tree.
    Add(&'a Bytes, &'a V),
    /// Only in the old tree.
    Remove(&'a Bytes, &'a V),
    Update {
        old: (&'a Bytes, &'a V),
        new: (&'a Bytes, &'a V),
    },
}

/// What a side of a diff has yet to compare, in key order: a subtree (with its height) or one entry.
enum Pending<'a, V> {
    Node(&'a Node<V>, usize),
    Entry(&'a Bytes, &'a V),
}

impl<V> Clone for Pending<'_, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for Pending<'_, V> {}

/// The walk behind `Tree::diff`. Each side is a stack of what it has yet to compare, next on top. The same node on
/// top of both is skipped whole; otherwise the taller node on top is opened (both when they are as tall, an entry
/// counting as lowest), until two entries are on top and the smaller key, or a changed value, is reported.
pub struct Diff<'a, V> {
    old: Vec<Pending<'a, V>>,
    new: Vec<Pending<'a, V>>,
    /// Nodes opened so far, for tests that check shared subtrees are skipped.
    #[cfg(test)]
    expanded: usize,
}

impl<'a, V> Diff<'a, V> {
    fn open(&mut self, old: bool) {
        let side = if old { &mut self.old } else { &mut self.new };
        let Some(Pending::Node(node, height)) = side.pop() else { unreachable!("only nodes are opened") };
        match node {
            Node::Branch(b) => side.extend(b.children.iter().rev().map(|c| Pending::Node(c, height - 1))),
            Node::Leaf(l) => side.extend(l.keys.iter().zip(&l.vals).rev().map(|(k, v)| Pending::Entry(k, v))),
        }
        #[cfg(test)]
        {
            self.expanded += 1;
        }
    }
}

impl<'a, V: PartialEq> Iterator for Diff<'a, V> {
    type Item = DiffItem<'a, V>;

    fn next(&mut self) -> Option<DiffItem<'a, V>> {
        loop {
            match (self.old.last().copied(), self.new.last().copied()) {
                (None, None) => return None,
                (Some(Pending::Entry(k, v)), None) => {
                    self.old.pop();
                    return Some(DiffItem::Remove(k, v));
                }
                (None, Some(Pending::Entry(k, v))) => {
                    self.new.pop();
                    return Some(DiffItem::Add(k, v));
                }
                (Some(Pending::Node(..)), None | Some(Pending::Entry(..))) => self.open(true),
                (None | Some(Pending::Entry(..)), Some(Pending::Node(..))) => self.open(false),
                (Some(Pending::Node(a, ha)), Some(Pending::Node(b, hb))) => {
                    if a.ptr_eq(b) {
                        self.old.pop();
                        self.new.pop();
                        continue;
                    }
                    if ha >= hb {
                        self.open(true);
                    }
                    if hb >= ha {
                        self.open(false);
                    }
                }
                (Some(Pending::Entry(ka, va)), Some(Pending::Entry(kb, vb))) => match ka.cmp(kb) {
                    Ordering::Less => {
                        self.old.pop();
                        return Some(DiffItem::Remove(ka, va));
                    }
                    Ordering::Greater => {
                        self.new.pop();
                        return Some(DiffItem::Add(kb, vb));
                    }
                    Ordering::Equal => {
                        self.old.pop();
                        self.new.pop();
                        if va != vb {
                            return Some(DiffItem::Update { old: (ka, va), new: (kb, vb) });
                        }
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, VecDeque};

    use proptest::prelude::*;

    use super::*;

    type Model = BTreeMap<Vec<u8>, u32>;

    impl<V> Tree<V> {
        /// Checks every structural invariant; returns the numbers of entries and of leaves.
        fn check(&self) -> (usize, usize) {
            let Some(root) = &self.root else {
                assert_eq!(self.height, 0);
                return (0, 0);
            };
            check_node(root, self.height, None, None, true)
        }
    }

    /// The entries and leaves under `node`, whose keys must lie in `[lo, hi)`.
    fn check_node<V>(
        node: &Node<V>,
        height: usize,
        lo: Option<&Bytes>,
        hi: Option<&Bytes>,
        root: bool,
    ) -> (usize, usize) {
        let bounded = |keys: &[Bytes]| {
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted");
            assert!(keys.iter().all(|k| lo.is_none_or(|lo| lo <= k) && hi.is_none_or(|hi| k < hi)), "within bounds");
        };
        match node {
            Node::Leaf(l) => {
                assert_eq!(height, 0, "all leaves at one depth");
                assert_eq!(l.keys.len(), l.vals.len());
                assert!(root || l.len() >= 1, "a non-root leaf is not empty");
                bounded(&l.keys);
                assert!(l.keys.iter().zip(l.fps).all(|(k, f)| fingerprint(k) == f), "fingerprints");
                (l.len(), 1)
            }
            Node::Branch(b) => {
                assert!(height > 0, "all leaves at one depth");
                assert!((2..=BRANCH).contains(&b.children.len()), "branch fill {}", b.children.len());
                assert_eq!(b.keys.len(), b.children.len() - 1);
                bounded(&b.keys);
                let fresh = Branch::<V>::new(b.keys.clone(), ArrayVec::new());
                assert_eq!((b.skip, b.heads), (fresh.skip, fresh.heads), "heads match the keys");
                let mut totals = (0, 0);
                for (i, c) in b.children.iter().enumerate() {
                    let lo = if i == 0 { lo } else { Some(&b.keys[i - 1]) };
                    let (e, l) = check_node(c, height - 1, lo, b.keys.get(i).or(hi), false);
                    totals = (totals.0 + e, totals.1 + l);
                }
                totals
            }
        }
    }

    fn owned<'a>(items: impl Iterator<Item = (&'a Bytes, &'a u32)>) -> Vec<(Vec<u8>, u32)> {
        items.map(|(k, v)| (k.to_vec(), *v)).collect()
    }

    fn assert_matches(tree: &Tree<u32>, model: &Model) {
        assert_eq!(tree.check().0, model.len());
        assert_eq!(owned(tree.range(..)), model.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>());
    }

    type Change = (Vec<u8>, Option<u32>, Option<u32>);

    fn diff_of(old: &Tree<u32>, new: &Tree<u32>) -> Vec<Change> {
        old.diff(new)
            .map(|d| match d {
                DiffItem::Add(k, v) => (k.to_vec(), None, Some(*v)),
                DiffItem::Remove(k, v) => (k.to_vec(), Some(*v), None),
                DiffItem::Update { old: (k, o), new: (k2, n) } => {
                    assert_eq!(k, k2);
                    (k.to_vec(), Some(*o), Some(*n))
                }
            })
            .collect()
    }

    fn model_diff(old: &Model, new: &Model) -> Vec<Change> {
        let keys: std::collections::BTreeSet<&Vec<u8>> = old.keys().chain(new.keys()).collect();
        keys.into_iter()
            .map(|k| (k.clone(), old.get(k).copied(), new.get(k).copied()))
            .filter(|(_, o, n)| o != n)
            .collect()
    }

    // Lengths around the inline limit (22 bytes with a 2-byte number), and bytes 0x00 and 0xff in the prefixes.
    const PREFIXES: [&[u8]; 5] = [b"", b"k", &[0xff; 20], &[0; 21], b"a long shared prefix, past inline"];

    fn numbered(prefix: usize, n: u16) -> Vec<u8> {
        [PREFIXES[prefix], &n.to_be_bytes()].concat()
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0xff]), 0..4),
            (0..PREFIXES.len(), 0u16..300).prop_map(|(p, n)| numbered(p, n)),
        ]
    }

    fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
        prop_oneof![Just(Bound::Unbounded), key().prop_map(Bound::Included), key().prop_map(Bound::Excluded)]
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>, u32),
        Remove(Vec<u8>),
        Get(Vec<u8>),
        /// `insert_with`, adding `v` to the value the key has (or inserting `v`).
        InsertWith(Vec<u8>, u32),
        /// The snapshot becomes a clone of the tree.
        Snapshot,
        /// Writes go to the other copy from now on.
        Swap,
        /// Reads a range taking from the front (true) or back (false) in this order, then the rest from the front.
        Range(Bound<Vec<u8>>, Bound<Vec<u8>>, Vec<bool>),
        /// Inserts or removes `count` consecutive numbered keys, to grow and shrink deeper trees.
        Run {
            prefix: usize,
            start: u16,
            count: u16,
            remove: bool,
        },
    }

    fn op(run: u16) -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (key(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            4 => key().prop_map(Op::Remove),
            2 => key().prop_map(Op::Get),
            2 => (key(), any::<u32>()).prop_map(|(k, v)| Op::InsertWith(k, v)),
            1 => Just(Op::Snapshot),
            1 => Just(Op::Swap),
            2 => (bound(), bound(), prop::collection::vec(any::<bool>(), 0..40)).prop_map(|(a, b, d)| Op::Range(a, b, d)),
            2 => (0..PREFIXES.len(), 0u16..3000, 0..run, any::<bool>())
                .prop_map(|(prefix, start, count, remove)| Op::Run { prefix, start, count, remove }),
        ]
    }

    fn within(k: &[u8], (lo, hi): &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> bool {
        (match lo {
            Bound::Included(b) => k >= &b[..],
            Bound::Excluded(b) => k > &b[..],
            Bound::Unbounded => true,
        }) && (match hi {
            Bound::Included(b) => k <= &b[..],
            Bound::Excluded(b) => k < &b[..],
            Bound::Unbounded => true,
        })
    }

    fn run(ops: Vec<Op>) {
        let (mut tree, mut model) = (Tree::new(), Model::new());
        let (mut snap, mut snap_model) = (Tree::new(), Model::new());
        for op in ops {
            match op {
                Op::Insert(k, v) => assert_eq!(tree.insert(Bytes::from(&k[..]), v), model.insert(k, v)),
                Op::Remove(k) => assert_eq!(tree.remove(&Bytes::from(&k[..])), model.remove(&k)),
                Op::Get(k) => {
                    assert_eq!(tree.get(&k[..]), model.get(&k));
                    assert_eq!(tree.get(&Bytes::from(&k[..])), model.get(&k));
                }
                Op::InsertWith(k, v) => {
                    let new = model.get(&k).map_or(v, |old| old.wrapping_add(v));
                    let replaced =
                        tree.insert_with(Bytes::from(&k[..]), |old| old.map_or(v, |old| old.wrapping_add(v)));
                    assert_eq!(replaced, model.insert(k, new));
                }
                Op::Snapshot => (snap, snap_model) = (tree.clone(), model.clone()),
                Op::Swap => {
                    std::mem::swap(&mut tree, &mut snap);
                    std::mem::swap(&mut model, &mut snap_model);
                }
                Op::Range(lo, hi, directions) => {
                    let bounds = (lo.map(|k| Bytes::from(&k[..])), hi.map(|k| Bytes::from(&k[..])));
                    let model_bounds = (lo_of(&bounds.0), lo_of(&bounds.1));
                    let mut expected: VecDeque<(Vec<u8>, u32)> =
                        model.iter().filter(|(k, _)| within(k, &model_bounds)).map(|(k, v)| (k.clone(), *v)).collect();
                    let mut it = tree.range(bounds);
                    for front in directions {
                        let (got, want) = match front {
                            true => (it.next(), expected.pop_front()),
                            false => (it.next_back(), expected.pop_back()),
                        };
                        assert_eq!(got.map(|(k, v)| (k.to_vec(), *v)), want);
                    }
                    assert_eq!(owned(it), Vec::from(expected));
                }
                Op::Run { prefix, start, count, remove } => {
                    for n in start..start.saturating_add(count) {
                        let k = numbered(prefix, n);
                        if remove {
                            assert_eq!(tree.remove(&k[..]), model.remove(&k));
                        } else {
                            assert_eq!(tree.insert(Bytes::from(&k[..]), n as u32), model.insert(k, n as u32));
                        }
                    }
                }
            }
            assert_matches(&tree, &model);
            assert_matches(&snap, &snap_model);
            assert_eq!(diff_of(&snap, &tree), model_diff(&snap_model, &model));
            assert_eq!(diff_of(&tree, &snap), model_diff(&model, &snap_model));
        }
    }

    fn lo_of(b: &Bound<Bytes>) -> Bound<Vec<u8>> {
        b.as_ref().map(|k| k.to_vec())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_a_btreemap(ops in prop::collection::vec(op(1), 1..80)) {
            run(ops);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]
        #[test]
        fn matches_a_btreemap_when_deep(ops in prop::collection::vec(op(2500), 1..30)) {
            run(ops);
        }
    }

    fn seq_key(i: usize) -> Bytes {
        Bytes::from(format!("key:{i:010}").into_bytes())
    }

    #[test]
    fn clones_do_not_see_each_others_writes() {
        let mut a: Tree<u32> = (0..5000).map(|i| (seq_key(i * 2), i as u32)).collect();
        let mut ma: Model = (0..5000).map(|i| (seq_key(i * 2).to_vec(), i as u32)).collect();
        let (mut b, mut mb) = (a.clone(), ma.clone());
        assert!(a.same(&b) && Tree::<u32>::new().same(&Tree::new()) && !a.same(&Tree::new()));
        let mut c = a.clone();
        c.insert(seq_key(0), 0);
        assert!(!c.same(&a), "a write to a shared root copies it, even one that changes nothing");
        for i in 0..3000 {
            let (k, v) = (seq_key(i * 3), i as u32 + 1);
            if i % 2 == 0 {
                assert_eq!(a.insert(k.clone(), v), ma.insert(k.to_vec(), v));
                assert_eq!(b.remove(&seq_key(i * 5)), mb.remove(&seq_key(i * 5).to_vec()));
            } else {
                assert_eq!(b.insert(k.clone(), v), mb.insert(k.to_vec(), v));
                let k = seq_key(i * 7);
                let new = ma.get(&k.to_vec()).map_or(0, |x| x + 1);
                assert_eq!(a.insert_with(k.clone(), |x| x.map_or(0, |x| x + 1)), ma.insert(k.to_vec(), new));
            }
        }
        assert_matches(&a, &ma);
        assert_matches(&b, &mb);
    }

    #[test]
    fn diff_opens_only_the_paths_to_changes() {
        let old: Tree<u32> = (0..100_000).map(|i| (seq_key(i * 2), 0)).collect();
        // Several changes per leaf would be too few to tell; these are far apart.
        let mut new = old.clone();
        new.insert(seq_key(20_000), 1);
        new.remove(&seq_key(100_000));
        // Into a full leaf, so it splits.
        new.insert(seq_key(150_001), 1);
        let changed: Vec<Vec<u8>> = [20_000, 100_000, 150_001].iter().map(|&i| seq_key(i).to_vec()).collect();
        for (a, b) in [(&old, &new), (&new, &old)] {
            let mut diff = a.diff(b);
            let keys: Vec<Vec<u8>> = diff
                .by_ref()
                .map(|d| match d {
                    DiffItem::Add(k, _) | DiffItem::Remove(k, _) | DiffItem::Update { new: (k, _), .. } => k.to_vec(),
                })
                .collect();
            assert_eq!(keys, changed);
            // Each change opens the nodes on its path on both sides, and a new leaf's neighbour: not the
            // thousands of nodes of the whole tree.
            assert!(diff.expanded <= 3 * 2 * (old.height + 2), "opened {} nodes", diff.expanded);
        }
    }

    /// Trees three branch levels deep, which the property tests' sizes do not reach: random writes and
    /// removals in waves that grow and shrink the tree, with a fork kept from each wave, against two models.
    #[test]
    fn deep_trees_match_a_btreemap_through_growth_and_shrinking() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (mut tree, mut model) = (Tree::new(), Model::new());
        for wave in 0..6u64 {
            let (fork, fork_model) = (tree.clone(), model.clone());
            let grow = wave % 2 == 0;
            for _ in 0..120_000 {
                let k = format!("user:{:07}", next(400_000)).into_bytes();
                match next(8) {
                    0..=4 if grow => {
                        assert_eq!(tree.insert(Bytes::from(&k[..]), wave as u32), model.insert(k, wave as u32))
                    }
                    0 => {
                        let new = model.get(&k).map_or(1, |v| v + 1);
                        let old = tree.insert_with(Bytes::from(&k[..]), |v| v.map_or(1, |v| v + 1));
                        assert_eq!(old, model.insert(k, new));
                    }
                    _ => assert_eq!(tree.remove(&k[..]), model.remove(&k)),
                }
            }
            assert_eq!(tree.check().0, model.len());
            assert_matches(&tree, &model);
            assert_matches(&fork, &fork_model);
            assert_eq!(diff_of(&fork, &tree), model_diff(&fork_model, &model));
        }
        assert!(tree.height >= 3 || model.is_empty(), "height {}", tree.height);
    }

    #[test]
    fn sequential_loads_leave_full_leaves() {
        let n = 100_000;
        let t: Tree<u32> = (0..n).map(|i| (seq_key(i), 0)).collect();
        assert_eq!(t.check(), (n, n.div_ceil(LEAF)));
    }

    #[test]
    fn removals_give_leaves_back() {
        let n = 100_000;
        // A fixed permutation: multiplying by a number prime to n.
        let order = (0..n).map(|i| i * 7919 % n);
        let mut t: Tree<u32> = order.clone().map(|i| (seq_key(i), 0)).collect();
        let full = t.check().1;
        for i in order.filter(|i| i % 10 != 0) {
            t.remove(&seq_key(i)).expect("present");
        }
        let (entries, left) = t.check();
        assert!(left <= n / 10 / MIN_LEAF + 1, "{left} leaves of {full} remain for {entries} entries");
    }
}
