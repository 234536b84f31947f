//! Model-based tests of the engine: random operation sequences run against `Database` and against a deliberately
//! naive reference model (full version vectors per key, cloned wholesale on fork; linear scans; a naive three-way
//! merge), comparing every result and, at the end of each case, the whole visible state of every branch.
//!
//! The clock is a fake wall clock stuck at 1, so the database's clock ticks 1, 2, 3, ... and the model predicts every
//! timestamp exactly: one tick for `Database::new`, one per created or forked branch (also for a fork whose source
//! branch is gone: the tick is taken before the source is looked up), one per commit.
//!
//! Run more cases with `PROPTEST_CASES=20000 cargo test -p strata-core --test model`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use strata_core::{
    BranchId, BranchInfo, Database, ErrorCode, MergeReport, Namespace, Strategy as Merge, Write,
};

// ---- universe ------------------------------------------------------------------------------------------------

const BRANCHES: [&str; 5] = ["default", "b1", "b2", "b3", "b4"];
/// "ab" makes prefix scans non-trivial; "é" is two UTF-8 bytes and sorts after every ASCII key.
const KEYS: [&str; 7] = ["a", "ab", "b", "c", "d", "e", "é"];
/// Interned at start-up in this order, so their ids are 0, 1, 2 (and "s3", only ever deleted, gets 3 if used).
const SPACES: [&str; 4] = ["default", "s1", "s2", "s3"];
const NSS: [Namespace; 2] = [Namespace::Kv, Namespace::State];
/// Small valid MessagePack documents: positive fixints 0..5 and three short strings ("x", "hi", "é").
const VALUES: [&[u8]; 8] = [
    &[0],
    &[1],
    &[2],
    &[3],
    &[4],
    &[0xa1, b'x'],
    &[0xa2, b'h', b'i'],
    &[0xa2, 0xc3, 0xa9],
];
const PREFIXES: [&str; 8] = ["", "a", "ab", "b", "é", "f", "f01", "z"];
const AFTERS: [&str; 10] = [
    "",
    "a",
    "aa",
    "ab",
    "c",
    "f005",
    "é",
    "éa",
    "z",
    "\u{10348}",
];

fn wall() -> u64 {
    1
}

/// The encoded map key (`[namespace][space id BE][key]`, see keyspace.rs): `Database::commit` takes raw keys.
fn store_key(ns: Namespace, space: u32, key: &str) -> Arc<[u8]> {
    let mut k = vec![ns as u8];
    k.extend_from_slice(&space.to_be_bytes());
    k.extend_from_slice(key.as_bytes());
    Arc::from(k)
}

fn fill_key(i: u8) -> String {
    format!("f{i:03}")
}

fn fill_value(i: u8, seed: u8) -> &'static [u8] {
    VALUES[(i as usize * (seed as usize % 3 + 1) + seed as usize) % VALUES.len()]
}

// ---- operations ----------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The live head version (or None if no live value).
    Current,
    /// One past the live head version (or 1 if none).
    Next,
    /// One before the live head version (0 is an error; None if no live value).
    Prev,
    Absent,
    Fixed(u64),
}

#[derive(Clone, Copy, Debug)]
enum At {
    Now,
    /// Any timestamp from 0 to one past the latest issued: `n % (clock + 2)`.
    Ts(u16),
}

/// A branch as an operation names it. `Live` and `New` are resolved when the operation runs (to the i-th existing
/// branch, or to a name not in use), so most operations hit something; `Name` is taken as is.
#[derive(Clone, Copy, Debug)]
enum B {
    Live(u8),
    New(u8),
    Name(&'static str),
}

#[derive(Clone, Debug)]
enum Op {
    Put {
        b: B,
        ns: Namespace,
        sp: u32,
        key: &'static str,
        v: &'static [u8],
    },
    Delete {
        b: B,
        ns: Namespace,
        sp: u32,
        key: &'static str,
    },
    Cas {
        b: B,
        ns: Namespace,
        sp: u32,
        key: &'static str,
        exp: Expect,
        v: &'static [u8],
    },
    /// One `Database::commit` of 1..=4 writes; deletes write a tombstone even for absent keys; duplicates allowed.
    Txn {
        b: B,
        writes: Vec<(Namespace, u32, &'static str, Option<&'static [u8]>)>,
    },
    /// One commit of `n` keys "f000".. in one namespace and space: enough for a B-tree of two or three levels (nodes
    /// hold 16 keys), so diffs and merges walk shared and unshared subtrees.
    Fill {
        b: B,
        ns: Namespace,
        sp: u32,
        n: u8,
        seed: u8,
    },
    Fork {
        new: B,
        from: B,
    },
    Create {
        new: B,
    },
    DeleteBranch {
        b: B,
    },
    Merge {
        src: B,
        dst: B,
        strategy: Merge,
    },
    Get {
        b: B,
        ns: Namespace,
        sp: u32,
        key: &'static str,
        at: At,
    },
    List {
        b: B,
        ns: Namespace,
        sp: u32,
        prefix: &'static str,
        after: Option<&'static str>,
        limit: Option<usize>,
        at: At,
    },
    History {
        b: B,
        ns: Namespace,
        sp: u32,
        key: &'static str,
        limit: Option<usize>,
    },
    Diff {
        a: B,
        b: B,
    },
    ListSpaces {
        b: B,
    },
    DeleteSpace {
        b: B,
        space: &'static str,
        force: bool,
    },
    TimeRange {
        b: B,
    },
    ListBranches,
    /// Use the id of a deleted branch (the `i`-th deleted, modulo) for an operation; it must fail cleanly.
    Stale {
        i: u8,
        kind: u8,
        other: B,
    },
}

fn branch() -> impl Strategy<Value = B> {
    prop_oneof![8 => any::<u8>().prop_map(B::Live), 1 => prop::sample::select(&BRANCHES[..]).prop_map(B::Name)]
}
fn fresh() -> impl Strategy<Value = B> {
    prop_oneof![6 => any::<u8>().prop_map(B::New), 1 => prop::sample::select(&BRANCHES[..]).prop_map(B::Name)]
}
// Skewed towards one namespace and space, so that branches write the same keys and merges conflict.
fn ns() -> impl Strategy<Value = Namespace> {
    prop_oneof![3 => Just(Namespace::Kv), 1 => Just(Namespace::State)]
}
fn space() -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(0u32), 1 => Just(1u32), 1 => Just(2u32)]
}
fn key() -> impl Strategy<Value = &'static str> {
    prop_oneof![3 => Just(KEYS[0]), 2 => Just(KEYS[2]), 3 => prop::sample::select(&KEYS[..])]
}
fn value() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(&VALUES[..])
}
fn at() -> impl Strategy<Value = At> {
    prop_oneof![1 => Just(At::Now), 3 => any::<u16>().prop_map(At::Ts)]
}
fn strategy() -> impl Strategy<Value = Merge> {
    prop::sample::select(&[Merge::Strict, Merge::Theirs, Merge::Ours][..])
}
fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![
        4 => Just(Expect::Current),
        1 => Just(Expect::Next),
        1 => Just(Expect::Prev),
        2 => Just(Expect::Absent),
        1 => (0u64..5).prop_map(Expect::Fixed),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (branch(), ns(), space(), key(), value()).prop_map(|(b, ns, sp, key, v)| Op::Put { b, ns, sp, key, v }),
        4 => (branch(), ns(), space(), key()).prop_map(|(b, ns, sp, key)| Op::Delete { b, ns, sp, key }),
        5 => (branch(), prop_oneof![3 => Just(Namespace::State), 1 => Just(Namespace::Kv)], space(), key(), expect(), value())
            .prop_map(|(b, ns, sp, key, exp, v)| Op::Cas { b, ns, sp, key, exp, v }),
        2 => (branch(), prop::collection::vec((ns(), space(), key(), prop::option::weighted(0.7, value())), 1..=4))
            .prop_map(|(b, writes)| Op::Txn { b, writes }),
        1 => (branch(), ns(), space(), prop_oneof![4 => 17u8..48, 1 => 120u8..=255], any::<u8>()).prop_map(|(b, ns, sp, n, seed)| Op::Fill { b, ns, sp, n, seed }),
        5 => (fresh(), branch()).prop_map(|(new, from)| Op::Fork { new, from }),
        1 => fresh().prop_map(|new| Op::Create { new }),
        2 => branch().prop_map(|b| Op::DeleteBranch { b }),
        6 => (branch(), branch(), strategy()).prop_map(|(src, dst, strategy)| Op::Merge { src, dst, strategy }),
        3 => (branch(), ns(), space(), key(), at()).prop_map(|(b, ns, sp, key, at)| Op::Get { b, ns, sp, key, at }),
        3 => (
            branch(),
            ns(),
            space(),
            prop::sample::select(&PREFIXES[..]),
            prop::option::of(prop::sample::select(&AFTERS[..])),
            prop::option::of(0usize..4),
            at()
        )
            .prop_map(|(b, ns, sp, prefix, after, limit, at)| Op::List { b, ns, sp, prefix, after, limit, at }),
        2 => (branch(), ns(), space(), key(), prop::option::of(0usize..4))
            .prop_map(|(b, ns, sp, key, limit)| Op::History { b, ns, sp, key, limit }),
        2 => (branch(), branch()).prop_map(|(a, b)| Op::Diff { a, b }),
        1 => branch().prop_map(|b| Op::ListSpaces { b }),
        2 => (branch(), prop::sample::select(&SPACES[..]), any::<bool>())
            .prop_map(|(b, space, force)| Op::DeleteSpace { b, space, force }),
        1 => branch().prop_map(|b| Op::TimeRange { b }),
        1 => Just(Op::ListBranches),
        1 => (any::<u8>(), 0u8..6, prop_oneof![branch(), fresh()]).prop_map(|(i, kind, other)| Op::Stale { i, kind, other }),
    ]
}

// ---- the reference model -------------------------------------------------------------------------------------

type MKey = (Namespace, u32, String);
/// Live values only: what a merge base or a diff compares.
type Contents = BTreeMap<MKey, Vec<u8>>;

#[derive(Clone, Debug, PartialEq, Eq)]
struct MVer {
    version: u64,
    ts: u64,
    value: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Report {
    applied: usize,
    conflicts: Vec<String>,
    committed: bool,
}

impl From<MergeReport> for Report {
    fn from(r: MergeReport) -> Report {
        Report {
            applied: r.applied,
            conflicts: r.conflicts,
            committed: r.committed,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MChange {
    ns: Namespace,
    space: String,
    key: String,
    a: Option<Vec<u8>>,
    b: Option<Vec<u8>>,
}

#[derive(Clone)]
struct MBranch {
    id: BranchId,
    created_at: u64,
    parent: Option<(String, u64)>,
    /// Nearest first: (ancestor id, fork time, the ancestor's live contents at that fork).
    ancestry: Vec<(BranchId, u64, Contents)>,
    /// Every version of every key, oldest first.
    data: BTreeMap<MKey, Vec<MVer>>,
    spaces: BTreeSet<u32>,
    oldest: Option<u64>,
    latest: Option<u64>,
}

impl MBranch {
    fn empty(id: BranchId, created_at: u64) -> MBranch {
        MBranch {
            id,
            created_at,
            parent: None,
            ancestry: Vec::new(),
            data: BTreeMap::new(),
            spaces: BTreeSet::from([0]),
            oldest: None,
            latest: None,
        }
    }

    fn live(&self) -> Contents {
        let mut c = Contents::new();
        for (k, vs) in &self.data {
            if let Some(v) = &vs.last().unwrap().value {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    }

    fn read(&self, k: &MKey, at: Option<u64>) -> Option<MVer> {
        let vs = self.data.get(k)?;
        let v = match at {
            None => vs.last()?,
            Some(ts) => vs.iter().rev().find(|v| v.ts <= ts)?,
        };
        v.value.is_some().then(|| v.clone())
    }

    fn head_value(&self, k: &MKey) -> Option<Vec<u8>> {
        self.data
            .get(k)
            .and_then(|vs| vs.last().unwrap().value.clone())
    }
}

type R<T> = Result<T, ErrorCode>;

struct Model {
    clock: u64,
    next_id: BranchId,
    branches: BTreeMap<String, MBranch>,
    /// Recorded merge bases by unordered pair of ids: the source's live contents at a fork or committed merge.
    bases: HashMap<(BranchId, BranchId), Contents>,
    deleted: Vec<BranchId>,
}

fn pair(a: BranchId, b: BranchId) -> (BranchId, BranchId) {
    (a.min(b), a.max(b))
}

impl Model {
    fn new() -> Model {
        let mut m = Model {
            clock: 0,
            next_id: 1,
            branches: BTreeMap::new(),
            bases: HashMap::new(),
            deleted: Vec::new(),
        };
        let at = m.tick();
        m.branches.insert("default".into(), MBranch::empty(0, at));
        m
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn get(&self, b: &str) -> R<&MBranch> {
        self.branches.get(b).ok_or(ErrorCode::BranchNotFound)
    }

    fn commit(&mut self, b: &str, writes: Vec<(MKey, Option<Vec<u8>>)>) -> Vec<u64> {
        let ts = self.tick();
        let br = self.branches.get_mut(b).unwrap();
        let mut out = Vec::new();
        for (k, value) in writes {
            br.spaces.insert(k.1);
            let vs = br.data.entry(k).or_default();
            let version = vs.last().map_or(1, |v| v.version + 1);
            vs.push(MVer { version, ts, value });
            out.push(version);
        }
        br.oldest.get_or_insert(ts);
        br.latest = Some(ts);
        out
    }

    fn delete(&mut self, b: &str, k: MKey) -> bool {
        if self.branches[b].head_value(&k).is_none() {
            return false;
        }
        self.commit(b, vec![(k, None)]);
        true
    }

    fn cas(&mut self, b: &str, k: MKey, expected: Option<u64>, v: &[u8]) -> R<Option<u64>> {
        if expected == Some(0) {
            return Err(ErrorCode::InvalidValue);
        }
        let current = self.branches[b].read(&k, None).map(|v| v.version);
        if current != expected {
            return Ok(None);
        }
        Ok(Some(self.commit(b, vec![(k, Some(v.to_vec()))])[0]))
    }

    fn add(&mut self, name: &str, from: Option<&str>) -> R<BranchId> {
        if self.branches.contains_key(name) {
            return Err(ErrorCode::BranchExists);
        }
        let at = self.tick();
        let id = self.next_id;
        let branch = match from {
            None => MBranch::empty(id, at),
            Some(from) => {
                let src = self.get(from)?;
                let snapshot = src.live();
                let mut ancestry = vec![(src.id, at, snapshot.clone())];
                ancestry.extend(src.ancestry.iter().cloned());
                let b = MBranch {
                    id,
                    created_at: at,
                    parent: Some((from.to_string(), at)),
                    ancestry,
                    data: src.data.clone(),
                    spaces: src.spaces.clone(),
                    oldest: src.oldest,
                    latest: src.latest,
                };
                self.bases.insert(pair(src.id, id), snapshot);
                b
            }
        };
        self.next_id += 1;
        self.branches.insert(name.to_string(), branch);
        Ok(id)
    }

    fn delete_branch(&mut self, name: &str) -> R<()> {
        if name == "default" {
            return Err(ErrorCode::InvalidName);
        }
        let b = self
            .branches
            .remove(name)
            .ok_or(ErrorCode::BranchNotFound)?;
        self.bases.retain(|(x, y), _| *x != b.id && *y != b.id);
        self.deleted.push(b.id);
        Ok(())
    }

    /// The base of a merge: a recorded base of the pair, else the nearest common ancestor's contents at the earlier
    /// of the two forks leading to the branches (a branch itself counts as its own ancestor, "forked" at infinity).
    fn base(&self, s: &MBranch, t: &MBranch) -> Contents {
        if let Some(b) = self.bases.get(&pair(s.id, t.id)) {
            return b.clone();
        }
        let line = |b: &MBranch| {
            let mut l = vec![(b.id, u64::MAX, b.live())];
            l.extend(b.ancestry.iter().cloned());
            l
        };
        let (sl, tl) = (line(s), line(t));
        // The deepest common ancestor: the one with the longest ancestry of its own.
        let mut best: Option<(usize, Contents)> = None;
        for (sid, sat, sc) in &sl {
            for (tid, tat, tc) in &tl {
                if sid == tid {
                    let depth = sl
                        .iter()
                        .position(|x| x.0 == *sid)
                        .map(|p| sl.len() - p)
                        .unwrap();
                    let c = if sat <= tat { sc.clone() } else { tc.clone() };
                    if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                        best = Some((depth, c));
                    }
                }
            }
        }
        best.map(|(_, c)| c).unwrap_or_default()
    }

    fn merge(&mut self, src: &str, dst: &str, strategy: Merge) -> R<Report> {
        let (s, t) = (self.get(src)?, self.get(dst)?);
        if src == dst {
            return Err(ErrorCode::InvalidName);
        }
        let base = self.base(s, t);
        let (theirs_all, ours_all) = (s.live(), t.live());
        let keys: BTreeSet<MKey> = base
            .keys()
            .chain(theirs_all.keys())
            .chain(ours_all.keys())
            .cloned()
            .collect();
        let mut writes = Vec::new();
        let mut conflicts = BTreeSet::new();
        for k in keys {
            let (before, theirs, ours) = (base.get(&k), theirs_all.get(&k), ours_all.get(&k));
            if theirs == before || ours == theirs {
                continue;
            }
            if ours != before {
                conflicts.insert(k.2.clone());
                match strategy {
                    Merge::Theirs => {}
                    Merge::Ours | Merge::Strict => continue,
                }
            }
            writes.push((k, theirs.cloned()));
        }
        let conflicts: Vec<String> = conflicts.into_iter().collect();
        if strategy == Merge::Strict && !conflicts.is_empty() {
            return Ok(Report {
                applied: 0,
                conflicts,
                committed: false,
            });
        }
        let (sid, tid) = (s.id, t.id);
        let applied = writes.len();
        if applied > 0 {
            self.commit(dst, writes);
        }
        self.bases.insert(pair(sid, tid), theirs_all);
        Ok(Report {
            applied,
            conflicts,
            committed: true,
        })
    }

    fn list(
        &self,
        b: &str,
        ns: Namespace,
        sp: u32,
        prefix: &str,
        after: Option<&str>,
        limit: Option<usize>,
        at: Option<u64>,
    ) -> R<Vec<String>> {
        let br = self.get(b)?;
        let mut keys: Vec<String> = Vec::new();
        for k in br.data.keys() {
            if k.0 == ns
                && k.1 == sp
                && k.2.starts_with(prefix)
                && after.is_none_or(|a| k.2.as_bytes() > a.as_bytes())
                && br.read(k, at).is_some()
            {
                keys.push(k.2.clone());
            }
        }
        keys.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
        keys.truncate(limit.unwrap_or(usize::MAX));
        Ok(keys)
    }

    fn diff(&self, a: &str, b: &str) -> R<Vec<MChange>> {
        let (ba, bb) = (self.get(a)?, self.get(b)?);
        let mut keys: Vec<&MKey> = ba.data.keys().chain(bb.data.keys()).collect();
        keys.sort_by(|x, y| {
            (x.0 as u8, x.1, x.2.as_bytes()).cmp(&(y.0 as u8, y.1, y.2.as_bytes()))
        });
        keys.dedup();
        Ok(keys
            .into_iter()
            .filter_map(|k| {
                let (va, vb) = (ba.head_value(k), bb.head_value(k));
                (va != vb).then(|| MChange {
                    ns: k.0,
                    space: SPACES[k.1 as usize].to_string(),
                    key: k.2.clone(),
                    a: va,
                    b: vb,
                })
            })
            .collect())
    }

    fn delete_space(&mut self, b: &str, name: &str, force: bool) -> R<bool> {
        if name == "default" {
            return Err(ErrorCode::InvalidName);
        }
        let sp = SPACES.iter().position(|s| *s == name).unwrap() as u32;
        let br = self.get(b)?;
        if !br.spaces.contains(&sp) {
            return Ok(false);
        }
        let live: Vec<MKey> = br.live().into_keys().filter(|k| k.1 == sp).collect();
        if !live.is_empty() && !force {
            return Err(ErrorCode::InvalidName);
        }
        if !live.is_empty() {
            self.commit(b, live.into_iter().map(|k| (k, None)).collect());
        }
        self.branches.get_mut(b).unwrap().spaces.remove(&sp);
        Ok(true)
    }

    fn list_spaces(&self, b: &str) -> R<Vec<String>> {
        let mut v: Vec<String> = self
            .get(b)?
            .spaces
            .iter()
            .map(|s| SPACES[*s as usize].to_string())
            .collect();
        v.sort();
        Ok(v)
    }

    fn list_branches(&self) -> Vec<BranchInfo> {
        self.branches
            .iter()
            .map(|(name, b)| BranchInfo {
                name: name.clone(),
                created_at: b.created_at,
                parent: b.parent.as_ref().map(|p| p.0.clone()),
                forked_at: b.parent.as_ref().map(|p| p.1),
            })
            .collect()
    }
}

// ---- the harness ---------------------------------------------------------------------------------------------

fn code<T>(r: strata_core::Result<T>) -> R<T> {
    r.map_err(|e| e.code)
}

fn db_get(
    db: &Database,
    ns: Namespace,
    b: BranchId,
    sp: u32,
    key: &str,
    at: Option<u64>,
) -> R<Option<MVer>> {
    code(db.get(ns, b, sp, key, at, |v| MVer {
        version: v.version,
        ts: v.timestamp,
        value: v.value.as_deref().map(<[u8]>::to_vec),
    }))
}

fn db_history(
    db: &Database,
    ns: Namespace,
    b: BranchId,
    sp: u32,
    key: &str,
    limit: Option<usize>,
) -> R<Vec<MVer>> {
    code(db.history(ns, b, sp, key, limit)).map(|vs| {
        vs.iter()
            .map(|v| MVer {
                version: v.version,
                ts: v.timestamp,
                value: v.value.as_deref().map(<[u8]>::to_vec),
            })
            .collect()
    })
}

fn db_diff(db: &Database, a: BranchId, b: BranchId) -> R<Vec<MChange>> {
    code(db.diff(a, b)).map(|cs| {
        cs.into_iter()
            .map(|c| MChange {
                ns: c.ns,
                space: c.space,
                key: c.key,
                a: c.a.as_deref().map(<[u8]>::to_vec),
                b: c.b.as_deref().map(<[u8]>::to_vec),
            })
            .collect()
    })
}

struct Harness {
    db: Database,
    m: Model,
}

/// Asserts that the database and the model give the same result.
macro_rules! same {
    ($db:expr, $model:expr, $($ctx:tt)*) => {{
        let (d, m) = ($db, $model);
        prop_assert_eq!(&d, &m, $($ctx)*);
    }};
}

/// `same!`, returning the (agreed) result.
macro_rules! same_v {
    ($db:expr, $model:expr, $($ctx:tt)*) => {{
        let (d, m) = ($db, $model);
        prop_assert_eq!(&d, &m, $($ctx)*);
        d
    }};
}

impl Harness {
    fn new() -> Harness {
        let db = Database::new(wall);
        for (i, s) in SPACES[..3].iter().enumerate() {
            assert_eq!(db.space_id(s).unwrap(), i as u32);
        }
        Harness {
            db,
            m: Model::new(),
        }
    }

    /// Resolves a branch name on both sides; they must agree on whether it exists and on its id.
    fn id(&self, name: &str) -> Result<R<BranchId>, TestCaseError> {
        let d = code(self.db.branch_id(name));
        let m = self.m.get(name).map(|b| b.id);
        prop_assert_eq!(d, m, "branch id of {:?}", name);
        Ok(d)
    }

    fn at(&self, at: At) -> Option<u64> {
        match at {
            At::Now => None,
            At::Ts(n) => Some(n as u64 % (self.m.clock + 2)),
        }
    }

    /// The key's latest version must carry the model's latest timestamp after a write.
    fn check_head(&self, b: BranchId, name: &str, k: &MKey) -> Result<(), TestCaseError> {
        let d = db_history(&self.db, k.0, b, k.1, &k.2, Some(1)).unwrap();
        let m: Vec<MVer> = self.m.branches[name]
            .data
            .get(k)
            .into_iter()
            .flat_map(|vs| vs.last().cloned())
            .collect();
        prop_assert_eq!(d, m, "head of {:?} on {}", k, name);
        Ok(())
    }

    fn pick(&self, b: B) -> B {
        let exists = |n: &&str| self.m.branches.contains_key(*n);
        B::Name(match b {
            B::Live(i) => {
                let live: Vec<&'static str> = BRANCHES.into_iter().filter(exists).collect();
                live[i as usize % live.len()]
            }
            B::New(i) => {
                let free: Vec<&'static str> = BRANCHES[1..]
                    .iter()
                    .copied()
                    .filter(|n| !exists(n))
                    .collect();
                if free.is_empty() {
                    BRANCHES[1 + i as usize % 4]
                } else {
                    free[i as usize % free.len()]
                }
            }
            B::Name(n) => n,
        })
    }

    /// The operation with every branch resolved to a name (`B::Name`), as it is about to run.
    fn resolve(&self, op: &Op) -> Op {
        let mut op = op.clone();
        match &mut op {
            Op::Put { b, .. }
            | Op::Delete { b, .. }
            | Op::Cas { b, .. }
            | Op::Txn { b, .. }
            | Op::Fill { b, .. }
            | Op::DeleteBranch { b }
            | Op::Get { b, .. }
            | Op::List { b, .. }
            | Op::History { b, .. }
            | Op::ListSpaces { b }
            | Op::DeleteSpace { b, .. }
            | Op::TimeRange { b }
            | Op::Stale { other: b, .. }
            | Op::Create { new: b } => *b = self.pick(*b),
            Op::Fork { new: x, from: y } => (*x, *y) = (self.pick(*x), self.pick(*y)),
            // Two different branches where there are two (a branch with itself only if named so explicitly).
            Op::Merge { src: x, dst: y, .. } | Op::Diff { a: x, b: y } => {
                *x = self.pick(*x);
                *y = match (*x, *y) {
                    (B::Name(first), B::Live(i)) => {
                        let others: Vec<&'static str> = BRANCHES
                            .into_iter()
                            .filter(|n| *n != first && self.m.branches.contains_key(*n))
                            .collect();
                        B::Name(if others.is_empty() {
                            first
                        } else {
                            others[i as usize % others.len()]
                        })
                    }
                    (_, y) => self.pick(y),
                };
            }
            Op::ListBranches => {}
        }
        op
    }

    /// Runs a resolved operation (every branch a `B::Name`) on both sides and compares the results.
    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let db = &self.db;
        let name = |b: B| match b {
            B::Name(n) => n,
            _ => unreachable!("resolved"),
        };
        match op.clone() {
            Op::Put { b, ns, sp, key, v } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let k = (ns, sp, key.to_string());
                let d = code(db.put(ns, id, sp, key, v));
                let m = self.m.commit(b, vec![(k.clone(), Some(v.to_vec()))])[0];
                same!(d, Ok(m), "put");
                self.check_head(id, b, &k)?;
            }
            Op::Delete { b, ns, sp, key } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let k = (ns, sp, key.to_string());
                same!(
                    code(db.delete(ns, id, sp, key)),
                    Ok(self.m.delete(b, k.clone())),
                    "delete"
                );
                self.check_head(id, b, &k)?;
            }
            Op::Cas {
                b,
                ns,
                sp,
                key,
                exp,
                v,
            } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let k = (ns, sp, key.to_string());
                let current = self.m.branches[b].read(&k, None).map(|v| v.version);
                let expected = match exp {
                    Expect::Current => current,
                    Expect::Next => Some(current.map_or(1, |c| c + 1)),
                    Expect::Prev => current.map(|c| c - 1),
                    Expect::Absent => None,
                    Expect::Fixed(n) => Some(n),
                };
                let d = code(db.cas(ns, id, sp, key, expected, v));
                same!(
                    d,
                    self.m.cas(b, k.clone(), expected, v),
                    "cas expecting {:?}",
                    expected
                );
                self.check_head(id, b, &k)?;
            }
            Op::Txn { b, writes } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let dw = writes
                    .iter()
                    .map(|(ns, sp, key, v)| Write {
                        key: store_key(*ns, *sp, key),
                        value: v.map(Arc::from),
                    })
                    .collect();
                let mw = writes
                    .iter()
                    .map(|(ns, sp, key, v)| ((*ns, *sp, key.to_string()), v.map(<[u8]>::to_vec)))
                    .collect();
                same!(code(db.commit(id, dw)), Ok(self.m.commit(b, mw)), "commit");
                for (ns, sp, key, _) in &writes {
                    self.check_head(id, b, &(*ns, *sp, key.to_string()))?;
                }
            }
            Op::Fill { b, ns, sp, n, seed } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let dw = (0..n).map(|i| Write {
                    key: store_key(ns, sp, &fill_key(i)),
                    value: Some(Arc::from(fill_value(i, seed))),
                });
                let mw = (0..n)
                    .map(|i| ((ns, sp, fill_key(i)), Some(fill_value(i, seed).to_vec())))
                    .collect();
                same!(
                    code(db.commit(id, dw.collect())),
                    Ok(self.m.commit(b, mw)),
                    "fill"
                );
            }
            Op::Fork { new, from } => {
                let (new, from) = (name(new), name(from));
                let Ok(from_id) = self.id(from)? else {
                    return Ok(());
                };
                let d = code(db.fork_branch(new, from_id));
                same!(d, self.m.add(new, Some(from)), "fork");
            }
            Op::Create { new } => {
                let new = name(new);
                same!(code(db.create_branch(new)), self.m.add(new, None), "create");
            }
            Op::DeleteBranch { b } => {
                let b = name(b);
                same!(
                    code(db.delete_branch(b)),
                    self.m.delete_branch(b),
                    "delete branch"
                );
                prop_assert!(!db.branch_exists(b) || b == "default");
            }
            Op::Merge { src, dst, strategy } => {
                let (src, dst) = (name(src), name(dst));
                let (Ok(s), Ok(t)) = (self.id(src)?, self.id(dst)?) else {
                    return Ok(());
                };
                let r = same_v!(
                    code(db.merge(s, t, strategy).map(Report::from)),
                    self.m.merge(src, dst, strategy),
                    "merge"
                );
                if let Ok(Report {
                    committed: true, ..
                }) = r
                {
                    // Merging again right away brings nothing new, whatever the strategy.
                    for again in [Merge::Strict, strategy] {
                        let d = same_v!(
                            code(db.merge(s, t, again).map(Report::from)),
                            self.m.merge(src, dst, again),
                            "re-merge"
                        );
                        prop_assert_eq!(
                            d,
                            Ok(Report {
                                applied: 0,
                                conflicts: vec![],
                                committed: true
                            })
                        );
                    }
                }
            }
            Op::Get { b, ns, sp, key, at } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let at = self.at(at);
                same!(
                    db_get(db, ns, id, sp, key, at),
                    Ok(self.m.branches[b].read(&(ns, sp, key.to_string()), at)),
                    "get as of {:?}",
                    at
                );
            }
            Op::List {
                b,
                ns,
                sp,
                prefix,
                after,
                limit,
                at,
            } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let at = self.at(at);
                let d = code(db.list(ns, id, sp, prefix, after, limit, at));
                same!(
                    d,
                    self.m.list(b, ns, sp, prefix, after, limit, at),
                    "list as of {:?}",
                    at
                );
            }
            Op::History {
                b,
                ns,
                sp,
                key,
                limit,
            } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let mut m: Vec<MVer> = self.m.branches[b]
                    .data
                    .get(&(ns, sp, key.to_string()))
                    .cloned()
                    .unwrap_or_default();
                m.reverse();
                m.truncate(limit.unwrap_or(usize::MAX));
                same!(db_history(db, ns, id, sp, key, limit), Ok(m), "history");
            }
            Op::Diff { a, b } => {
                let (a, b) = (name(a), name(b));
                let (Ok(x), Ok(y)) = (self.id(a)?, self.id(b)?) else {
                    return Ok(());
                };
                same!(db_diff(db, x, y), self.m.diff(a, b), "diff");
            }
            Op::ListSpaces { b } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                same!(
                    code(db.list_spaces(id)),
                    self.m.list_spaces(b),
                    "list spaces"
                );
            }
            Op::DeleteSpace { b, space, force } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                same!(
                    code(db.delete_space(id, space, force)),
                    self.m.delete_space(b, space, force),
                    "delete space"
                );
            }
            Op::TimeRange { b } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let mb = &self.m.branches[b];
                same!(
                    code(db.time_range(id)),
                    Ok((mb.oldest, mb.latest)),
                    "time range"
                );
            }
            Op::ListBranches => {
                same!(db.list_branches(), self.m.list_branches(), "list branches");
            }
            Op::Stale { i, kind, other } => {
                let other = name(other);
                if self.m.deleted.is_empty() {
                    return Ok(());
                }
                let stale = self.m.deleted[i as usize % self.m.deleted.len()];
                let gone = Err(ErrorCode::BranchNotFound);
                match kind {
                    0 => same!(
                        code(db.put(Namespace::Kv, stale, 0, "a", &[1])),
                        gone,
                        "put on a deleted branch"
                    ),
                    1 => same!(
                        db_get(db, Namespace::Kv, stale, 0, "a", None).map(|_| 0),
                        gone,
                        "get on a deleted branch"
                    ),
                    2 => {
                        let d = code(db.fork_branch(other, stale));
                        // A fork takes its timestamp before it looks for the source.
                        let m = if self.m.branches.contains_key(other) {
                            Err(ErrorCode::BranchExists)
                        } else {
                            self.m.tick();
                            gone
                        };
                        same!(d, m, "fork of a deleted branch")
                    }
                    3 | 4 => {
                        let Ok(id) = self.id(other)? else {
                            return Ok(());
                        };
                        let (s, t) = if kind == 3 { (stale, id) } else { (id, stale) };
                        same!(
                            code(db.merge(s, t, Merge::Theirs).map(|_| 0)),
                            gone,
                            "merge with a deleted branch"
                        )
                    }
                    _ => {
                        let Ok(id) = self.id(other)? else {
                            return Ok(());
                        };
                        same!(
                            code(db.diff(stale, id).map(|_| 0)),
                            gone,
                            "diff with a deleted branch"
                        )
                    }
                };
            }
        }
        Ok(())
    }

    /// Everything observable about every branch, compared with the model.
    fn check_all(&self) -> Result<(), TestCaseError> {
        let db = &self.db;
        prop_assert_eq!(db.list_branches(), self.m.list_branches());
        let mut keys: BTreeSet<MKey> = BTreeSet::new();
        for ns in NSS {
            for sp in 0..3 {
                keys.extend(KEYS.iter().map(|k| (ns, sp, k.to_string())));
            }
        }
        for b in self.m.branches.values() {
            keys.extend(b.data.keys().cloned());
        }
        let names: Vec<&String> = self.m.branches.keys().collect();
        for name in &names {
            let (id, mb) = (self.id(name)?.unwrap(), &self.m.branches[*name]);
            prop_assert_eq!(db.branch_name(id).unwrap(), name.as_str());
            prop_assert_eq!(
                code(db.time_range(id)),
                Ok((mb.oldest, mb.latest)),
                "time range of {}",
                name
            );
            prop_assert_eq!(
                code(db.list_spaces(id)),
                self.m.list_spaces(name),
                "spaces of {}",
                name
            );
            for k in &keys {
                let mut m: Vec<MVer> = mb.data.get(k).cloned().unwrap_or_default();
                m.reverse();
                prop_assert_eq!(
                    db_history(db, k.0, id, k.1, &k.2, None),
                    Ok(m),
                    "history of {:?} on {}",
                    k,
                    name
                );
            }
            // Every branch as of every moment of the case.
            for ts in (0..=self.m.clock + 1).map(Some).chain([None]) {
                for ns in NSS {
                    for sp in 0..3 {
                        prop_assert_eq!(
                            code(db.list(ns, id, sp, "", None, None, ts)),
                            self.m.list(name, ns, sp, "", None, None, ts),
                            "{} {:?} space {} as of {:?}",
                            name,
                            ns,
                            sp,
                            ts
                        );
                    }
                }
            }
        }
        for a in &names {
            for b in &names {
                let (x, y) = (self.id(a)?.unwrap(), self.id(b)?.unwrap());
                prop_assert_eq!(db_diff(db, x, y), self.m.diff(a, b), "diff {} {}", a, b);
            }
        }
        for name in BRANCHES {
            prop_assert_eq!(db.branch_exists(name), self.m.branches.contains_key(name));
        }
        Ok(())
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut h = Harness::new();
    let mut trace = Vec::new();
    let fail = |trace: &[Op], e: TestCaseError| {
        let steps: Vec<String> = trace
            .iter()
            .enumerate()
            .map(|(i, op)| format!("  #{i} {op:?}"))
            .collect();
        TestCaseError::fail(format!("{e}\nthe operations as run:\n{}", steps.join("\n")))
    };
    for op in ops {
        let op = h.resolve(op);
        trace.push(op.clone());
        h.apply(&op).map_err(|e| fail(&trace, e))?;
    }
    h.check_all().map_err(|e| fail(&trace, e))
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    // No regression files: this test owns only this source file. A failure prints the shrunk sequence; turn it
    // into a deterministic test below.
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops)?;
    }
}

// ---- focused deterministic tests -----------------------------------------------------------------------------

const KV: Namespace = Namespace::Kv;

fn db() -> Database {
    Database::new(wall)
}

fn val(db: &Database, b: BranchId, key: &str) -> Option<Vec<u8>> {
    db.get(KV, b, 0, key, None, |v| {
        v.value.as_deref().unwrap().to_vec()
    })
    .unwrap()
}

fn versions(db: &Database, b: BranchId, key: &str) -> Vec<u64> {
    db.history(KV, b, 0, key, None)
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect()
}

fn report(applied: usize, conflicts: &[&str], committed: bool) -> MergeReport {
    MergeReport {
        applied,
        conflicts: conflicts.iter().map(|s| s.to_string()).collect(),
        committed,
    }
}

#[test]
fn merging_twice_applies_nothing_new() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    db.put(KV, main, 0, "a", &[1]).unwrap();
    let feat = db.fork_branch("feat", main).unwrap();
    db.put(KV, feat, 0, "a", &[2]).unwrap();
    db.put(KV, feat, 0, "b", &[3]).unwrap();
    db.delete(KV, feat, 0, "a").unwrap();
    db.put(KV, feat, 0, "a", &[4]).unwrap();
    for strategy in [Merge::Strict, Merge::Theirs, Merge::Ours] {
        let first = db.merge(feat, main, strategy).unwrap();
        let range = db.time_range(main).unwrap();
        let again = db.merge(feat, main, strategy).unwrap();
        assert_eq!(again, report(0, &[], true), "{strategy:?} after {first:?}");
        assert_eq!(db.time_range(main).unwrap(), range, "no commit");
    }
    assert_eq!(val(&db, main, "a"), Some(vec![4]));
    assert_eq!(versions(&db, main, "a"), [2, 1]);
    assert!(db.diff(main, feat).unwrap().is_empty());
}

#[test]
fn merge_child_into_parent_and_parent_into_child() {
    let db = db();
    let parent = db.branch_id("default").unwrap();
    db.put(KV, parent, 0, "a", &[0]).unwrap();
    db.put(KV, parent, 0, "gone", &[0]).unwrap();
    let child = db.fork_branch("child", parent).unwrap();
    db.put(KV, child, 0, "b", &[1]).unwrap();
    db.delete(KV, child, 0, "gone").unwrap();
    db.put(KV, parent, 0, "c", &[2]).unwrap();

    assert_eq!(
        db.merge(child, parent, Merge::Strict).unwrap(),
        report(2, &[], true)
    );
    assert_eq!(
        db.list(KV, parent, 0, "", None, None, None).unwrap(),
        ["a", "b", "c"]
    );
    assert_eq!(versions(&db, parent, "gone"), [2, 1]);

    // Back the other way: only what the parent has that the child has not seen.
    db.put(KV, parent, 0, "a", &[3]).unwrap();
    assert_eq!(
        db.merge(parent, child, Merge::Strict).unwrap(),
        report(2, &[], true)
    );
    assert_eq!(val(&db, child, "a"), Some(vec![3]));
    assert_eq!(val(&db, child, "c"), Some(vec![2]));
    assert_eq!(versions(&db, child, "b"), [1]);
    assert!(db.diff(parent, child).unwrap().is_empty());

    // And again, both ways, after changes on both sides to different keys.
    db.put(KV, child, 0, "a", &[4]).unwrap();
    db.put(KV, parent, 0, "b", &[4]).unwrap();
    assert_eq!(
        db.merge(child, parent, Merge::Strict).unwrap(),
        report(1, &[], true)
    );
    assert_eq!(
        db.merge(parent, child, Merge::Strict).unwrap(),
        report(1, &[], true)
    );
    assert!(db.diff(parent, child).unwrap().is_empty());
}

#[test]
fn grandchild_merges_into_grandparent() {
    let db = db();
    let gp = db.branch_id("default").unwrap();
    db.put(KV, gp, 0, "a", &[0]).unwrap();
    db.put(KV, gp, 0, "d", &[0]).unwrap();
    let parent = db.fork_branch("parent", gp).unwrap();
    db.put(KV, parent, 0, "b", &[1]).unwrap();
    let child = db.fork_branch("child", parent).unwrap();
    db.put(KV, child, 0, "c", &[2]).unwrap();
    db.put(KV, child, 0, "a", &[2]).unwrap();
    db.put(KV, gp, 0, "d", &[3]).unwrap();

    // Base: the grandparent as of the fork that leads to the child, so "d" (changed only in the grandparent) stays,
    // and "a", "b" and "c" (changed in the line below it) come in.
    assert_eq!(
        db.merge(child, gp, Merge::Strict).unwrap(),
        report(3, &[], true)
    );
    assert_eq!(
        db.list(KV, gp, 0, "", None, None, None).unwrap(),
        ["a", "b", "c", "d"]
    );
    assert_eq!(val(&db, gp, "a"), Some(vec![2]));
    assert_eq!(val(&db, gp, "d"), Some(vec![3]));

    // A key changed on both sides of that line conflicts.
    db.put(KV, gp, 0, "a", &[4]).unwrap();
    db.put(KV, child, 0, "a", &[5]).unwrap();
    assert_eq!(
        db.merge(child, gp, Merge::Strict).unwrap(),
        report(0, &["a"], false)
    );
    // The grandparent into the grandchild (the other direction) sees the same conflict.
    // (and brings "d", changed only in the grandparent since the merge above).
    assert_eq!(
        db.merge(gp, child, Merge::Ours).unwrap(),
        report(1, &["a"], true)
    );
    assert_eq!(val(&db, child, "a"), Some(vec![5]));
    assert_eq!(val(&db, child, "d"), Some(vec![3]));
}

#[test]
fn strict_conflict_writes_nothing() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    db.put(KV, main, 0, "a", &[0]).unwrap();
    let feat = db.fork_branch("feat", main).unwrap();
    db.put(KV, feat, 0, "a", &[1]).unwrap();
    db.put(KV, feat, 0, "b", &[1]).unwrap();
    let s1 = db.space_id("s1").unwrap();
    db.put(Namespace::State, feat, s1, "a", &[1]).unwrap();
    db.put(KV, main, 0, "a", &[2]).unwrap();
    db.put(Namespace::State, main, s1, "a", &[2]).unwrap();

    let range = db.time_range(main).unwrap();
    let spaces = db.list_spaces(main).unwrap();
    let before = db.diff(main, feat).unwrap();
    assert_eq!(
        db.merge(feat, main, Merge::Strict).unwrap(),
        report(0, &["a"], false)
    );
    assert_eq!(db.time_range(main).unwrap(), range);
    assert_eq!(db.list_spaces(main).unwrap(), spaces);
    assert_eq!(db.diff(main, feat).unwrap(), before);
    assert_eq!(
        val(&db, main, "b"),
        None,
        "the non-conflicting key is not applied either"
    );
    assert_eq!(versions(&db, main, "a"), [2, 1]);

    // Not committed, so not recorded: the same merge still conflicts, and the strategies resolve it.
    assert_eq!(
        db.merge(feat, main, Merge::Strict).unwrap(),
        report(0, &["a"], false)
    );
    assert_eq!(
        db.merge(feat, main, Merge::Ours).unwrap(),
        report(1, &["a"], true)
    );
    assert_eq!(val(&db, main, "a"), Some(vec![2]));
    assert_eq!(val(&db, main, "b"), Some(vec![1]));
}

#[test]
fn fork_survives_deleting_its_source() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    db.put(KV, main, 0, "a", &[0]).unwrap();
    let mid = db.fork_branch("mid", main).unwrap();
    db.put(KV, mid, 0, "b", &[1]).unwrap();
    let t_b = db.history(KV, mid, 0, "b", None).unwrap()[0].timestamp;
    db.put(KV, mid, 0, "b", &[2]).unwrap();
    let leaf = db.fork_branch("leaf", mid).unwrap();
    db.put(KV, mid, 0, "c", &[3]).unwrap();
    db.delete_branch("mid").unwrap();

    assert_eq!(
        db.list(KV, leaf, 0, "", None, None, None).unwrap(),
        ["a", "b"]
    );
    assert_eq!(versions(&db, leaf, "b"), [2, 1]);
    assert_eq!(
        db.get(KV, leaf, 0, "b", Some(t_b), |v| v
            .value
            .as_deref()
            .unwrap()
            .to_vec())
            .unwrap(),
        Some(vec![1])
    );
    let info = db
        .list_branches()
        .into_iter()
        .find(|b| b.name == "leaf")
        .unwrap();
    assert_eq!(info.parent.as_deref(), Some("mid"));
    assert_eq!(
        db.put(KV, mid, 0, "x", &[0]).unwrap_err().code,
        ErrorCode::BranchNotFound
    );

    // A new branch of the same name is a different branch.
    let mid2 = db.create_branch("mid").unwrap();
    assert_ne!(mid2, mid);
    assert!(db
        .list(KV, mid2, 0, "", None, None, None)
        .unwrap()
        .is_empty());
    assert_eq!(val(&db, leaf, "b"), Some(vec![2]));

    // The leaf still merges into its grandparent through the deleted branch's fork record.
    db.put(KV, main, 0, "a", &[9]).unwrap();
    assert_eq!(
        db.merge(leaf, main, Merge::Strict).unwrap(),
        report(1, &[], true)
    );
    assert_eq!(
        db.list(KV, main, 0, "", None, None, None).unwrap(),
        ["a", "b"]
    );
    assert_eq!(val(&db, main, "a"), Some(vec![9]));
}

// ---- engine bugs found by this suite -------------------------------------------------------------------------
//
// Each test below states the behaviour the engine should have and fails until the engine is fixed. They are
// ignored so that CI stays green meanwhile: run them with `cargo test -p strata-core --test model -- --ignored`,
// and drop the `#[ignore]` with the fix.

/// A merge takes its base from the fork tree whenever the two branches were never merged with each other, even when
/// one of them already holds the other's changes through a third branch. The stale base makes a key the target
/// deleted look "added by the source", so a strict merge that reports no conflict brings it back.
#[test]
#[ignore = "engine bug: merge base ignores merges through a third branch"]
fn bug_merge_resurrects_a_key_deleted_after_an_indirect_merge() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    let feat = db.fork_branch("feat", main).unwrap();
    db.put(KV, feat, 0, "x", &[1]).unwrap();
    assert_eq!(
        db.merge(feat, main, Merge::Strict).unwrap(),
        report(1, &[], true)
    );
    let sub = db.fork_branch("sub", feat).unwrap(); // holds x = 1, exactly what main merged
    db.delete(KV, main, 0, "x").unwrap();

    // sub changed nothing since main saw its contents; nothing should come in.
    let r = db.merge(sub, main, Merge::Strict).unwrap();
    assert_eq!(
        val(&db, main, "x"),
        None,
        "x, deleted in main, was brought back by {r:?}"
    );
    assert_eq!(r, report(0, &[], true));
}

/// The sibling form of the bug above: the earlier of two forks is taken as the base although the branches already
/// share later contents, so a strict merge silently undoes a change the target made (no conflict reported).
#[test]
#[ignore = "engine bug: merge base ignores merges through a third branch"]
fn bug_merge_silently_reverts_a_target_change_between_siblings() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    db.put(KV, main, 0, "x", &[0]).unwrap();
    let b1 = db.fork_branch("b1", main).unwrap();
    db.put(KV, b1, 0, "x", &[1]).unwrap();
    db.merge(b1, main, Merge::Strict).unwrap();
    let b2 = db.fork_branch("b2", main).unwrap(); // x = 1, from b1
    db.put(KV, b1, 0, "x", &[0]).unwrap(); // b1 changes x again

    let r = db.merge(b2, b1, Merge::Strict).unwrap();
    assert_eq!(
        val(&db, b1, "x"),
        Some(vec![0]),
        "b1's own latest write was overwritten by {r:?}"
    );
    assert_eq!(r, report(0, &[], true));
}

/// An empty commit writes no version but still moves the branch's time range (and takes a timestamp), unlike every
/// other write path (delete of nothing, merge applying nothing, deleting an empty space), which commit nothing.
#[test]
#[ignore = "engine bug: an empty commit records a write"]
fn bug_empty_commit_moves_the_time_range() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    assert_eq!(db.commit(main, Vec::new()).unwrap(), Vec::<u64>::new());
    assert_eq!(db.time_range(main).unwrap(), (None, None));
}

/// `put` (and every other call taking a `SpaceId`) accepts an id that `space_id` never issued; the branch then lists
/// a space with no name, and `list_spaces` and `diff` panic (index out of bounds) under the lock.
#[test]
#[ignore = "engine bug: space ids are not checked"]
fn bug_unknown_space_id_is_accepted_and_later_panics() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    match db.put(KV, main, 7, "a", &[1]) {
        Err(e) => assert_eq!(e.code, ErrorCode::InvalidValue, "{e}"),
        Ok(_) => {
            let quiet = |f: &dyn Fn() -> bool| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_ok()
            };
            let spaces = quiet(&|| db.list_spaces(main).is_ok());
            let empty = db.create_branch("empty").unwrap();
            let diff = quiet(&|| db.diff(main, empty).is_ok());
            panic!("put into space 7 succeeded; then list_spaces did not panic: {spaces}, diff did not panic: {diff}");
        }
    }
}

/// `Database::commit` does not check its keys, and inserts each write before looking at the next, so a malformed
/// key panics halfway through: the writes before it stay (without a time range update) — the commit is not atomic.
#[test]
#[ignore = "engine bug: Database::commit does not check keys"]
fn bug_commit_of_a_malformed_key_panics_halfway() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    let writes = vec![
        Write {
            key: store_key(KV, 0, "a"),
            value: Some(Arc::from(&[1u8][..])),
        },
        Write {
            key: Arc::from(&[0u8][..]),
            value: None,
        }, // shorter than the 5-byte header
    ];
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.commit(main, writes)));
    let partial = val(&db, main, "a");
    assert!(
        matches!(r, Ok(Err(_))) && partial.is_none(),
        "a malformed key should fail the whole commit with an error; it panicked: {}, and the write before it \
         stayed: {partial:?}",
        r.is_err()
    );
}

/// `Database::commit` does not validate values either: bytes that `put` rejects are stored and read back.
#[test]
#[ignore = "engine bug: Database::commit does not check values"]
fn bug_commit_stores_invalid_values() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    assert_eq!(
        db.put(KV, main, 0, "b", &[0xc1]).unwrap_err().code,
        ErrorCode::InvalidValue
    );
    let bad = vec![Write {
        key: store_key(KV, 0, "b"),
        value: Some(Arc::from(&[0xc1u8][..])),
    }];
    assert_eq!(
        db.commit(main, bad).map_err(|e| e.code),
        Err(ErrorCode::InvalidValue),
        "stored {:?}",
        val(&db, main, "b")
    );
}
