//! Model-based tests of the engine: random operation sequences run against `Database` and against a deliberately
//! naive reference model (full version vectors per key, cloned wholesale on fork; linear scans; the merge rule of
//! merge.rs spelled out over those vectors; transactions as a cloned snapshot plus a map of pending writes),
//! comparing every result and, at the end of each case, the whole visible state of every branch.
//!
//! The clock is a fake wall clock stuck at 1, so the database's clock ticks 1, 2, 3, ... and the model predicts every
//! timestamp exactly: one tick for `Database::new`, one per created or forked branch (none when the name is taken or
//! the source branch is gone), one per commit that writes something (none for an empty transaction, a merge that
//! applies nothing, a delete of nothing, or a write refused for an unknown space id).
//!
//! Run more cases with `PROPTEST_CASES=20000 cargo test -p strata-core --test model`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use strata_core::{BranchId, BranchInfo, Database, ErrorCode, MergeReport, Namespace, Strategy as Merge};

// ---- universe ------------------------------------------------------------------------------------------------

const BRANCHES: [&str; 5] = ["default", "b1", "b2", "b3", "b4"];
/// "ab" makes prefix scans non-trivial; "é" is two UTF-8 bytes and sorts after every ASCII key.
const KEYS: [&str; 7] = ["a", "ab", "b", "c", "d", "e", "é"];
/// The first three are interned at start-up in this order, so their ids are 0, 1, 2. "s3" is only ever deleted,
/// which must not intern it: id 3 stays unknown, and every write naming it must be refused.
const SPACES: [&str; 4] = ["default", "s1", "s2", "s3"];
/// Space ids below this were handed out by `space_id`.
const KNOWN_SPACES: u32 = 3;
const NSS: [Namespace; 2] = [Namespace::Kv, Namespace::State];
/// Small valid MessagePack documents: positive fixints 0..5 and three short strings ("x", "hi", "é").
const VALUES: [&[u8]; 8] = [&[0], &[1], &[2], &[3], &[4], &[0xa1, b'x'], &[0xa2, b'h', b'i'], &[0xa2, 0xc3, 0xa9]];
const PREFIXES: [&str; 8] = ["", "a", "ab", "b", "é", "f", "f01", "z"];
const AFTERS: [&str; 10] = ["", "a", "aa", "ab", "c", "f005", "é", "éa", "z", "\u{10348}"];

/// Default case counts of the two property tests.
const CASES: u32 = 2000;
const MERGE_HEAVY_CASES: u32 = 4000;

fn wall() -> u64 {
    1
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

impl Expect {
    /// The expected version for a key whose live version is `current`.
    fn resolve(self, current: Option<u64>) -> Option<u64> {
        match self {
            Expect::Current => current,
            Expect::Next => Some(current.map_or(1, |c| c + 1)),
            Expect::Prev => current.map(|c| c - 1),
            Expect::Absent => None,
            Expect::Fixed(n) => Some(n),
        }
    }
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

/// One call on an open transaction.
#[derive(Clone, Debug)]
enum Step {
    Put {
        ns: Namespace,
        sp: u32,
        key: &'static str,
        v: &'static [u8],
    },
    Delete {
        ns: Namespace,
        sp: u32,
        key: &'static str,
    },
    /// `exp` is taken relative to the transaction's own view of the key.
    Cas {
        ns: Namespace,
        sp: u32,
        key: &'static str,
        exp: Expect,
        v: &'static [u8],
    },
    Get {
        ns: Namespace,
        sp: u32,
        key: &'static str,
    },
    List {
        ns: Namespace,
        sp: u32,
        prefix: &'static str,
        after: Option<&'static str>,
        limit: Option<usize>,
    },
    /// An operation on the database while the transaction is open (`own`: aimed at the transaction's branch), so
    /// that the commit may conflict or find its branch gone.
    Outside {
        own: bool,
        op: Box<Op>,
    },
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
    /// A transaction: begin, the steps, then commit (or roll back); afterwards it must refuse every call.
    Tx {
        b: B,
        read_only: bool,
        steps: Vec<Step>,
        commit: bool,
    },
    /// One transaction putting `n` keys "f000".. in one namespace and space: enough for a B-tree of two or three levels
    /// (nodes hold 16 keys), so diffs and merges walk shared and unshared subtrees.
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
        at: At,
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
/// Mostly the default space; now and then id 3, which `space_id` never handed out.
fn space() -> impl Strategy<Value = u32> {
    prop_oneof![8 => Just(0u32), 2 => Just(1u32), 2 => Just(2u32), 1 => Just(3u32)]
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
fn prefix() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&PREFIXES[..])
}
fn after() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(&AFTERS[..]))
}
fn limit() -> impl Strategy<Value = Option<usize>> {
    prop::option::of(0usize..4)
}

fn put_op() -> impl Strategy<Value = Op> {
    (branch(), ns(), space(), key(), value()).prop_map(|(b, ns, sp, key, v)| Op::Put { b, ns, sp, key, v })
}
fn delete_op() -> impl Strategy<Value = Op> {
    (branch(), ns(), space(), key()).prop_map(|(b, ns, sp, key)| Op::Delete { b, ns, sp, key })
}
fn merge_op() -> impl Strategy<Value = Op> {
    (branch(), branch(), strategy()).prop_map(|(src, dst, strategy)| Op::Merge { src, dst, strategy })
}
fn delete_space_op() -> impl Strategy<Value = Op> {
    (branch(), prop::sample::select(&SPACES[..]), any::<bool>()).prop_map(|(b, space, force)| Op::DeleteSpace {
        b,
        space,
        force,
    })
}
fn delete_branch_op() -> impl Strategy<Value = Op> {
    branch().prop_map(|b| Op::DeleteBranch { b })
}

/// What may happen to the database while a transaction is open: writes that can make it conflict, or a deletion of
/// its branch.
fn outside() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => put_op(),
        2 => delete_op(),
        3 => merge_op(),
        1 => delete_space_op(),
        1 => delete_branch_op(),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (ns(), space(), key(), value()).prop_map(|(ns, sp, key, v)| Step::Put { ns, sp, key, v }),
        3 => (ns(), space(), key()).prop_map(|(ns, sp, key)| Step::Delete { ns, sp, key }),
        2 => (ns(), space(), key(), expect(), value())
            .prop_map(|(ns, sp, key, exp, v)| Step::Cas { ns, sp, key, exp, v }),
        4 => (ns(), space(), key()).prop_map(|(ns, sp, key)| Step::Get { ns, sp, key }),
        2 => (ns(), space(), prefix(), after(), limit())
            .prop_map(|(ns, sp, prefix, after, limit)| Step::List { ns, sp, prefix, after, limit }),
        3 => (prop::bool::weighted(0.7), outside()).prop_map(|(own, op)| Step::Outside { own, op: Box::new(op) }),
    ]
}

fn merge_heavy_op() -> impl Strategy<Value = Op> {
    let key = || prop::sample::select(&KEYS[..2]);
    let value = || prop::sample::select(&VALUES[..3]);
    prop_oneof![
        6 => (branch(), key(), value()).prop_map(|(b, key, v)| Op::Put { b, ns: Namespace::Kv, sp: 0, key, v }),
        2 => (branch(), key()).prop_map(|(b, key)| Op::Delete { b, ns: Namespace::Kv, sp: 0, key }),
        3 => (fresh(), branch()).prop_map(|(new, from)| Op::Fork { new, from }),
        1 => delete_branch_op(),
        8 => merge_op(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => put_op(),
        4 => delete_op(),
        5 => (branch(), prop_oneof![3 => Just(Namespace::State), 1 => Just(Namespace::Kv)], space(), key(), expect(), value())
            .prop_map(|(b, ns, sp, key, exp, v)| Op::Cas { b, ns, sp, key, exp, v }),
        4 => (branch(), prop::bool::weighted(0.15), prop::collection::vec(step(), 0..8), prop::bool::weighted(0.9))
            .prop_map(|(b, read_only, steps, commit)| Op::Tx { b, read_only, steps, commit }),
        1 => (branch(), ns(), space(), prop_oneof![4 => 17u8..48, 1 => 120u8..=255], any::<u8>()).prop_map(|(b, ns, sp, n, seed)| Op::Fill { b, ns, sp, n, seed }),
        5 => (fresh(), branch()).prop_map(|(new, from)| Op::Fork { new, from }),
        1 => fresh().prop_map(|new| Op::Create { new }),
        2 => delete_branch_op(),
        6 => merge_op(),
        3 => (branch(), ns(), space(), key(), at()).prop_map(|(b, ns, sp, key, at)| Op::Get { b, ns, sp, key, at }),
        3 => (branch(), ns(), space(), prefix(), after(), limit(), at())
            .prop_map(|(b, ns, sp, prefix, after, limit, at)| Op::List { b, ns, sp, prefix, after, limit, at }),
        2 => (branch(), ns(), space(), key(), limit())
            .prop_map(|(b, ns, sp, key, limit)| Op::History { b, ns, sp, key, limit }),
        2 => (branch(), branch()).prop_map(|(a, b)| Op::Diff { a, b }),
        1 => branch().prop_map(|b| Op::ListSpaces { b }),
        2 => delete_space_op(),
        1 => (branch(), at()).prop_map(|(b, at)| Op::TimeRange { b, at }),
        1 => Just(Op::ListBranches),
        1 => (any::<u8>(), 0u8..7, prop_oneof![branch(), fresh()]).prop_map(|(i, kind, other)| Op::Stale { i, kind, other }),
    ]
}

// ---- the reference model -------------------------------------------------------------------------------------

type MKey = (Namespace, u32, String);
/// Every version of every key, oldest first.
type Data = BTreeMap<MKey, Vec<MVer>>;

#[derive(Clone, Debug, PartialEq, Eq)]
struct MVer {
    version: u64,
    ts: u64,
    /// The commit timestamp of the write this version carries: `ts`, or for a merged copy the source's origin.
    origin: u64,
    value: Option<Vec<u8>>,
}

/// One write of a commit: key, value (`None`: tombstone), origin (`None`: the commit's own timestamp).
type MWrite = (MKey, Option<Vec<u8>>, Option<u64>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Report {
    applied: usize,
    conflicts: Vec<String>,
    committed: bool,
}

impl From<MergeReport> for Report {
    fn from(r: MergeReport) -> Report {
        Report { applied: r.applied, conflicts: r.conflicts, committed: r.committed }
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
    data: Data,
    spaces: BTreeSet<u32>,
    oldest: Option<u64>,
    latest: Option<u64>,
}

impl MBranch {
    /// The oldest and newest timestamps of the branch's versions; as of `at`, the newest at or before it (none
    /// when the branch's history starts after it), found the plain way: every version of every key.
    fn time_range(&self, at: Option<u64>) -> (Option<u64>, Option<u64>) {
        let Some(t) = at else { return (self.oldest, self.latest) };
        if self.oldest.is_none_or(|o| o > t) {
            return (None, None);
        }
        (self.oldest, self.data.values().flatten().map(|v| v.ts).filter(|ts| *ts <= t).max())
    }
}

fn head<'a>(data: &'a Data, k: &MKey) -> Option<&'a MVer> {
    data.get(k).map(|vs| vs.last().unwrap())
}

/// The head's version number, tombstones included; 0 for a key never written.
fn head_version(data: &Data, k: &MKey) -> u64 {
    head(data, k).map_or(0, |v| v.version)
}

/// The version current at `at` (or now), if it is live.
fn read(data: &Data, k: &MKey, at: Option<u64>) -> Option<MVer> {
    let vs = data.get(k)?;
    let v = match at {
        None => vs.last()?,
        Some(ts) => vs.iter().rev().find(|v| v.ts <= ts)?,
    };
    v.value.is_some().then(|| v.clone())
}

impl MBranch {
    fn empty(id: BranchId, created_at: u64) -> MBranch {
        MBranch {
            id,
            created_at,
            parent: None,
            data: Data::new(),
            spaces: BTreeSet::from([0]),
            oldest: None,
            latest: None,
        }
    }

    fn read(&self, k: &MKey, at: Option<u64>) -> Option<MVer> {
        read(&self.data, k, at)
    }

    fn head_value(&self, k: &MKey) -> Option<Vec<u8>> {
        head(&self.data, k).and_then(|v| v.value.clone())
    }
}

type R<T> = Result<T, ErrorCode>;

struct Model {
    clock: u64,
    next_id: BranchId,
    branches: BTreeMap<String, MBranch>,
    /// By unordered pair of ids: the head of every key of the source at the last committed merge between the two.
    bases: HashMap<(BranchId, BranchId), (BranchId, BTreeMap<MKey, MVer>)>,
    deleted: Vec<BranchId>,
}

fn pair(a: BranchId, b: BranchId) -> (BranchId, BranchId) {
    (a.min(b), a.max(b))
}

impl Model {
    fn new() -> Model {
        let mut m =
            Model { clock: 0, next_id: 1, branches: BTreeMap::new(), bases: HashMap::new(), deleted: Vec::new() };
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

    /// The name a branch id has now, if the branch still exists.
    fn name_of(&self, id: BranchId) -> Option<&str> {
        self.branches.iter().find(|(_, b)| b.id == id).map(|(n, _)| n.as_str())
    }

    /// One commit (nothing at all if `writes` is empty); every key gets the next version at one new timestamp.
    fn commit(&mut self, b: &str, writes: Vec<MWrite>) -> R<Vec<u64>> {
        self.get(b)?;
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        if writes.iter().any(|(k, _, _)| k.1 >= KNOWN_SPACES) {
            return Err(ErrorCode::InvalidValue);
        }
        let ts = self.tick();
        let br = self.branches.get_mut(b).unwrap();
        let mut out = Vec::new();
        for (k, value, origin) in writes {
            br.spaces.insert(k.1);
            let vs = br.data.entry(k).or_default();
            let version = vs.last().map_or(1, |v| v.version + 1);
            vs.push(MVer { version, ts, origin: origin.unwrap_or(ts), value });
            out.push(version);
        }
        br.oldest.get_or_insert(ts);
        br.latest = Some(ts);
        Ok(out)
    }

    fn put(&mut self, b: &str, k: MKey, v: &[u8]) -> R<u64> {
        Ok(self.commit(b, vec![(k, Some(v.to_vec()), None)])?[0])
    }

    fn delete(&mut self, b: &str, k: MKey) -> R<bool> {
        if self.get(b)?.head_value(&k).is_none() {
            return Ok(false);
        }
        self.commit(b, vec![(k, None, None)])?;
        Ok(true)
    }

    fn cas(&mut self, b: &str, k: MKey, expected: Option<u64>, v: &[u8]) -> R<Option<u64>> {
        if expected == Some(0) {
            return Err(ErrorCode::InvalidValue);
        }
        let current = self.get(b)?.read(&k, None).map(|v| v.version);
        if current != expected {
            return Ok(None);
        }
        self.put(b, k, v).map(Some)
    }

    fn add(&mut self, name: &str, from: Option<&str>) -> R<BranchId> {
        if self.branches.contains_key(name) {
            return Err(ErrorCode::BranchExists);
        }
        if let Some(from) = from {
            self.get(from)?;
        }
        let at = self.tick();
        let id = self.next_id;
        let branch = match from {
            None => MBranch::empty(id, at),
            Some(from) => {
                let src = &self.branches[from];
                MBranch {
                    id,
                    created_at: at,
                    parent: Some((from.to_string(), at)),
                    data: src.data.clone(),
                    spaces: src.spaces.clone(),
                    oldest: src.oldest,
                    latest: src.latest,
                }
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
        let b = self.branches.remove(name).ok_or(ErrorCode::BranchNotFound)?;
        self.bases.retain(|(x, y), _| *x != b.id && *y != b.id);
        self.deleted.push(b.id);
        Ok(())
    }

    /// The merge rule of merge.rs, key by key over whole version vectors.
    fn merge(&mut self, src: &str, dst: &str, strategy: Merge) -> R<Report> {
        if src == dst {
            return Err(ErrorCode::InvalidName);
        }
        let (s, t) = (self.get(src)?, self.get(dst)?);
        let last_merge = self.bases.get(&pair(s.id, t.id));
        let mut writes = Vec::new();
        let mut conflicts = BTreeSet::new();
        for (k, chain) in &s.data {
            let theirs_head = chain.last().unwrap();
            let theirs = theirs_head.value.as_ref();
            let ours = head(&t.data, k).and_then(|v| v.value.as_ref());
            if ours == theirs {
                continue;
            }
            // (a) The newest source version whose origin the target's chain holds too.
            let seen: BTreeSet<u64> = t.data.get(k).into_iter().flatten().map(|v| v.origin).collect();
            let shared = chain.iter().rev().find(|v| seen.contains(&v.origin));
            // (b) The source's version when the two last merged; the newer of the two (by origin) is the base.
            let recorded = last_merge.and_then(|(from, m)| m.get(k).map(|r| (r, *from == s.id)));
            let base = match (shared, recorded) {
                (Some(a), Some((r, from_source))) => {
                    let c = if from_source { Some(chain) } else { t.data.get(k) };
                    let first = c.and_then(|c| c.iter().rev().find(|v| v.ts == r.ts || v.origin == a.origin));
                    Some(match first {
                        Some(v) if v.ts == r.ts => r,
                        _ => a,
                    })
                }
                (a, r) => a.or(r.map(|(r, _)| r)),
            };
            let before = base.and_then(|v| v.value.as_ref());
            if theirs == before {
                continue;
            }
            if ours != before {
                conflicts.insert(k.2.clone());
                if strategy != Merge::Theirs {
                    continue;
                }
            }
            writes.push((k.clone(), theirs.cloned(), Some(theirs_head.origin)));
        }
        let conflicts: Vec<String> = conflicts.into_iter().collect();
        if strategy == Merge::Strict && !conflicts.is_empty() {
            return Ok(Report { applied: 0, conflicts, committed: false });
        }
        let (sid, tid) = (s.id, t.id);
        let source_heads = s.data.iter().map(|(k, vs)| (k.clone(), vs.last().unwrap().clone())).collect();
        let applied = writes.len();
        self.commit(dst, writes)?;
        self.bases.insert(pair(sid, tid), (sid, source_heads));
        Ok(Report { applied, conflicts, committed: true })
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
            if in_range(k, ns, sp, prefix, after) && br.read(k, at).is_some() {
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
        keys.sort_by(|x, y| (x.0 as u8, x.1, x.2.as_bytes()).cmp(&(y.0 as u8, y.1, y.2.as_bytes())));
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
        let live: Vec<MKey> = br.data.keys().filter(|k| k.1 == sp && br.head_value(k).is_some()).cloned().collect();
        if !live.is_empty() && !force {
            return Err(ErrorCode::InvalidName);
        }
        self.commit(b, live.into_iter().map(|k| (k, None, None)).collect())?;
        self.branches.get_mut(b).unwrap().spaces.remove(&sp);
        Ok(true)
    }

    fn list_spaces(&self, b: &str) -> R<Vec<String>> {
        let mut v: Vec<String> = self.get(b)?.spaces.iter().map(|s| SPACES[*s as usize].to_string()).collect();
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

    /// Commits a model transaction: a read-only one, or one that touched no key, is a no-op; otherwise the branch
    /// must still exist and no key the transaction read or wrote may have a new head since its snapshot, even when
    /// it wrote nothing.
    fn commit_tx(&mut self, tx: &MTx) -> R<()> {
        if tx.read_only || (tx.observed.is_empty() && tx.scans.is_empty()) {
            return Ok(());
        }
        let name = self.name_of(tx.id).ok_or(ErrorCode::BranchNotFound)?.to_string();
        let data = &self.branches[&name].data;
        if tx.observed.iter().any(|(k, v)| head_version(data, k) != *v) {
            return Err(ErrorCode::Conflict);
        }
        // A key added in a range one of its lists looked at (a phantom).
        if data.keys().any(|k| !tx.snapshot.contains_key(k) && tx.scans.iter().any(|s| in_scan(k, s))) {
            return Err(ErrorCode::Conflict);
        }
        let writes = tx.writes.iter().flat_map(|(k, vs)| vs.iter().map(|v| (k.clone(), v.clone(), None))).collect();
        self.commit(&name, writes).map(drop)
    }
}

/// Whether a key is in the range a list of `ns`, `sp`, `prefix`, `after` covers.
fn in_range(k: &MKey, ns: Namespace, sp: u32, prefix: &str, after: Option<&str>) -> bool {
    k.0 == ns && k.1 == sp && k.2.starts_with(prefix) && after.is_none_or(|a| k.2.as_bytes() > a.as_bytes())
}

/// A transaction in the model: the branch's versions when it began, its pending writes (every write of a key, in
/// order: each is a version at commit), and the head version (at the snapshot) of every key it read or wrote.
struct MTx {
    id: BranchId,
    read_only: bool,
    snapshot: Data,
    observed: BTreeMap<MKey, u64>,
    writes: BTreeMap<MKey, Vec<Option<Vec<u8>>>>,
    /// The ranges its lists looked at: namespace, space, prefix, after, and the last key when a limit stopped it.
    scans: Vec<MScan>,
}

type MScan = (Namespace, u32, String, Option<String>, Option<String>);

/// Whether a key is in a range a transaction's list looked at.
fn in_scan(k: &MKey, (ns, sp, prefix, after, upto): &MScan) -> bool {
    in_range(k, *ns, *sp, prefix, after.as_deref()) && upto.as_ref().is_none_or(|u| k.2.as_bytes() <= u.as_bytes())
}

/// What a transaction's `get` returns: version, timestamp (0 for its own pending write) and value.
type TxRead = Option<(u64, u64, Vec<u8>)>;

impl MTx {
    fn begin(m: &Model, b: &str, read_only: bool) -> MTx {
        let br = &m.branches[b];
        let (observed, writes, scans) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
        MTx { id: br.id, read_only, snapshot: br.data.clone(), observed, writes, scans }
    }

    fn observe(&mut self, k: &MKey) {
        let v = head_version(&self.snapshot, k);
        self.observed.entry(k.clone()).or_insert(v);
    }

    /// The version a key has after the transaction's writes so far: the snapshot's head plus one per write.
    fn version(&self, k: &MKey) -> u64 {
        head_version(&self.snapshot, k) + self.writes.get(k).map_or(0, |vs| vs.len() as u64)
    }

    /// The live version of a key in this transaction's view.
    fn current(&self, k: &MKey) -> Option<u64> {
        match self.writes.get(k).and_then(|vs| vs.last()) {
            Some(Some(_)) => Some(self.version(k)),
            Some(None) => None,
            None => read(&self.snapshot, k, None).map(|v| v.version),
        }
    }

    fn writable(&self) -> R<()> {
        if self.read_only {
            return Err(ErrorCode::ReadOnly);
        }
        Ok(())
    }

    fn put(&mut self, k: MKey, v: &[u8]) -> R<u64> {
        self.writable()?;
        self.observe(&k);
        self.writes.entry(k.clone()).or_default().push(Some(v.to_vec()));
        Ok(self.version(&k))
    }

    fn delete(&mut self, k: MKey) -> R<bool> {
        self.writable()?;
        self.observe(&k);
        if self.current(&k).is_none() {
            return Ok(false);
        }
        self.writes.entry(k).or_default().push(None);
        Ok(true)
    }

    fn cas(&mut self, k: MKey, expected: Option<u64>, v: &[u8]) -> R<Option<u64>> {
        self.writable()?;
        if expected == Some(0) {
            return Err(ErrorCode::InvalidValue);
        }
        self.observe(&k);
        if self.current(&k) != expected {
            return Ok(None);
        }
        self.put(k, v).map(Some)
    }

    fn get(&mut self, k: &MKey) -> TxRead {
        self.observe(k);
        match self.writes.get(k).and_then(|vs| vs.last()) {
            Some(w) => w.clone().map(|v| (self.version(k), 0, v)),
            None => read(&self.snapshot, k, None).map(|v| (v.version, v.ts, v.value.unwrap())),
        }
    }

    /// The keys in range in the transaction's view (snapshot entries, tombstones included, and pending writes), in
    /// order, each one looked at observed, until `limit` live ones are found.
    fn list(&mut self, ns: Namespace, sp: u32, prefix: &str, after: Option<&str>, limit: Option<usize>) -> Vec<String> {
        let keys: BTreeSet<MKey> = self
            .snapshot
            .keys()
            .chain(self.writes.keys())
            .filter(|k| in_range(k, ns, sp, prefix, after))
            .cloned()
            .collect();
        let mut out = Vec::new();
        let mut upto = None;
        for k in keys {
            if out.len() >= limit.unwrap_or(usize::MAX) {
                break;
            }
            self.observe(&k);
            upto = Some(k.2.clone());
            if self.current(&k).is_some() {
                out.push(k.2);
            }
        }
        let (prefix, after) = (prefix.to_string(), after.map(str::to_string));
        match (out.len() >= limit.unwrap_or(usize::MAX), upto) {
            (false, _) => self.scans.push((ns, sp, prefix, after, None)),
            (true, Some(upto)) => self.scans.push((ns, sp, prefix, after, Some(upto))),
            (true, None) => {}
        }
        out
    }
}

// ---- the harness ---------------------------------------------------------------------------------------------

fn code<T>(r: strata_core::Result<T>) -> R<T> {
    r.map_err(|e| e.code)
}

fn mver(v: &strata_core::Version) -> MVer {
    MVer { version: v.version, ts: v.timestamp, origin: v.origin, value: v.value.as_deref().map(<[u8]>::to_vec) }
}

fn db_get(db: &Database, ns: Namespace, b: BranchId, sp: u32, key: &str, at: Option<u64>) -> R<Option<MVer>> {
    code(db.get(ns, b, sp, key, at, mver))
}

fn db_history(db: &Database, ns: Namespace, b: BranchId, sp: u32, key: &str, limit: Option<usize>) -> R<Vec<MVer>> {
    code(db.history(ns, b, sp, key, limit)).map(|vs| vs.iter().map(mver).collect())
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
    db: Arc<Database>,
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

fn name(b: B) -> &'static str {
    match b {
        B::Name(n) => n,
        _ => unreachable!("resolved"),
    }
}

impl Harness {
    fn new() -> Harness {
        let db = Arc::new(Database::new(wall));
        for (i, s) in SPACES[..KNOWN_SPACES as usize].iter().enumerate() {
            assert_eq!(db.space_id(s).unwrap(), i as u32);
        }
        Harness { db, m: Model::new() }
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
        let m: Vec<MVer> = head(&self.m.branches[name].data, k).cloned().into_iter().collect();
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
                let free: Vec<&'static str> = BRANCHES[1..].iter().copied().filter(|n| !exists(n)).collect();
                if free.is_empty() {
                    BRANCHES[1 + i as usize % 4]
                } else {
                    free[i as usize % free.len()]
                }
            }
            B::Name(n) => n,
        })
    }

    /// An existing branch other than `first` (the `i`-th, modulo), or `first` if it is the only one.
    fn other(&self, first: &'static str, i: u8) -> B {
        let others: Vec<&'static str> =
            BRANCHES.into_iter().filter(|n| *n != first && self.m.branches.contains_key(*n)).collect();
        B::Name(if others.is_empty() { first } else { others[i as usize % others.len()] })
    }

    /// The operation with every branch resolved to a name (`B::Name`), as it is about to run.
    fn resolve(&self, op: &Op) -> Op {
        let mut op = op.clone();
        match &mut op {
            Op::Put { b, .. }
            | Op::Delete { b, .. }
            | Op::Cas { b, .. }
            | Op::Fill { b, .. }
            | Op::DeleteBranch { b }
            | Op::Get { b, .. }
            | Op::List { b, .. }
            | Op::History { b, .. }
            | Op::ListSpaces { b }
            | Op::DeleteSpace { b, .. }
            | Op::TimeRange { b, .. }
            | Op::Stale { other: b, .. }
            | Op::Create { new: b } => *b = self.pick(*b),
            Op::Tx { b, steps, .. } => {
                *b = self.pick(*b);
                for step in steps {
                    if let Step::Outside { own, op } = step {
                        if *own {
                            aim(op, *b);
                        }
                        **op = self.resolve(op);
                    }
                }
            }
            Op::Fork { new: x, from: y } => (*x, *y) = (self.pick(*x), self.pick(*y)),
            // Two different branches where there are two (a branch with itself only if named so explicitly).
            Op::Merge { src: x, dst: y, .. } | Op::Diff { a: x, b: y } => match (*x, *y) {
                (B::Live(i), B::Name(second)) => *x = self.other(second, i),
                _ => {
                    *x = self.pick(*x);
                    *y = match (*x, *y) {
                        (B::Name(first), B::Live(i)) => self.other(first, i),
                        (_, y) => self.pick(y),
                    };
                }
            },
            Op::ListBranches => {}
        }
        op
    }

    /// Runs a resolved operation (every branch a `B::Name`) on both sides and compares the results.
    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let db = &self.db;
        match op.clone() {
            Op::Put { b, ns, sp, key, v } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let k = (ns, sp, key.to_string());
                same!(code(db.put(ns, id, sp, key, v)), self.m.put(b, k.clone(), v), "put");
                self.check_head(id, b, &k)?;
            }
            Op::Delete { b, ns, sp, key } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let k = (ns, sp, key.to_string());
                same!(code(db.delete(ns, id, sp, key)), self.m.delete(b, k.clone()), "delete");
                self.check_head(id, b, &k)?;
            }
            Op::Cas { b, ns, sp, key, exp, v } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let k = (ns, sp, key.to_string());
                let expected = exp.resolve(self.m.branches[b].read(&k, None).map(|v| v.version));
                let d = code(db.cas(ns, id, sp, key, expected, v));
                same!(d, self.m.cas(b, k.clone(), expected, v), "cas expecting {:?}", expected);
                self.check_head(id, b, &k)?;
            }
            Op::Tx { b, read_only, steps, commit } => self.apply_tx(name(b), read_only, &steps, commit)?,
            Op::Fill { b, ns, sp, n, seed } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let mut tx = db.begin(id, false).unwrap();
                for i in 0..n {
                    let next = head_version(&self.m.branches[b].data, &(ns, sp, fill_key(i))) + 1;
                    same!(code(tx.put(ns, sp, &fill_key(i), fill_value(i, seed))), Ok(next), "fill put");
                }
                let mw = (0..n).map(|i| ((ns, sp, fill_key(i)), Some(fill_value(i, seed).to_vec()), None)).collect();
                same!(code(tx.commit()), self.m.commit(b, mw).map(drop), "fill");
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
                same!(code(db.delete_branch(b)), self.m.delete_branch(b), "delete branch");
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
                if let Ok(Report { committed: true, .. }) = r {
                    // Merging again right away brings nothing new, whatever the strategy.
                    for again in [Merge::Strict, strategy] {
                        let d = same_v!(
                            code(db.merge(s, t, again).map(Report::from)),
                            self.m.merge(src, dst, again),
                            "re-merge"
                        );
                        prop_assert_eq!(
                            d.unwrap(),
                            Report { applied: 0, conflicts: vec![], committed: true },
                            "re-merge"
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
            Op::List { b, ns, sp, prefix, after, limit, at } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let at = self.at(at);
                let d = code(db.list(ns, id, sp, prefix, after, limit, at));
                same!(d, self.m.list(b, ns, sp, prefix, after, limit, at), "list as of {:?}", at);
            }
            Op::History { b, ns, sp, key, limit } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let mut m: Vec<MVer> =
                    self.m.branches[b].data.get(&(ns, sp, key.to_string())).cloned().unwrap_or_default();
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
                same!(code(db.list_spaces(id)), self.m.list_spaces(b), "list spaces");
            }
            Op::DeleteSpace { b, space, force } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                same!(code(db.delete_space(id, space, force)), self.m.delete_space(b, space, force), "delete space");
            }
            Op::TimeRange { b, at } => {
                let b = name(b);
                let Ok(id) = self.id(b)? else { return Ok(()) };
                let at = self.at(at);
                same!(code(db.time_range(id, at)), Ok(self.m.branches[b].time_range(at)), "time range at a time");
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
                    0 => same!(code(db.put(Namespace::Kv, stale, 0, "a", &[1])), gone, "put on a deleted branch"),
                    1 => same!(
                        db_get(db, Namespace::Kv, stale, 0, "a", None).map(|_| 0),
                        gone,
                        "get on a deleted branch"
                    ),
                    2 => {
                        // The source is looked up before a timestamp is taken: a failed fork uses none.
                        let d = code(db.fork_branch(other, stale));
                        let m = if self.m.branches.contains_key(other) { Err(ErrorCode::BranchExists) } else { gone };
                        same!(d, m, "fork of a deleted branch")
                    }
                    3 | 4 => {
                        let Ok(id) = self.id(other)? else {
                            return Ok(());
                        };
                        let (s, t) = if kind == 3 { (stale, id) } else { (id, stale) };
                        same!(code(db.merge(s, t, Merge::Theirs).map(|_| 0)), gone, "merge with a deleted branch")
                    }
                    5 => same!(code(db.begin(stale, false).map(|_| 0)), gone, "transaction on a deleted branch"),
                    _ => {
                        let Ok(id) = self.id(other)? else {
                            return Ok(());
                        };
                        same!(code(db.diff(stale, id).map(|_| 0)), gone, "diff with a deleted branch")
                    }
                };
            }
        }
        Ok(())
    }

    /// Runs one transaction on both sides: every call compared, outside operations run through `apply` in between.
    fn apply_tx(&mut self, b: &str, read_only: bool, steps: &[Step], commit: bool) -> Result<(), TestCaseError> {
        let Ok(id) = self.id(b)? else { return Ok(()) };
        let mut tx = self.db.begin(id, read_only).unwrap();
        let mut mt = MTx::begin(&self.m, b, read_only);
        for step in steps {
            match step.clone() {
                Step::Put { ns, sp, key, v } => {
                    same!(code(tx.put(ns, sp, key, v)), mt.put((ns, sp, key.to_string()), v), "tx put");
                }
                Step::Delete { ns, sp, key } => {
                    same!(code(tx.delete(ns, sp, key)), mt.delete((ns, sp, key.to_string())), "tx delete");
                }
                Step::Cas { ns, sp, key, exp, v } => {
                    let k = (ns, sp, key.to_string());
                    let expected = exp.resolve(mt.current(&k));
                    let d = code(tx.cas(ns, sp, key, expected, v));
                    same!(d, mt.cas(k, expected, v), "tx cas expecting {:?}", expected);
                }
                Step::Get { ns, sp, key } => {
                    let d = code(tx.get(ns, sp, key, |v, ts, bytes| (v, ts, bytes.to_vec())));
                    same!(d, Ok(mt.get(&(ns, sp, key.to_string()))), "tx get");
                }
                Step::List { ns, sp, prefix, after, limit } => {
                    let d = code(tx.list(ns, sp, prefix, after, limit));
                    same!(d, Ok(mt.list(ns, sp, prefix, after, limit)), "tx list");
                }
                Step::Outside { op, .. } => self.apply(&op)?,
            }
        }
        if commit {
            same!(code(tx.commit()), self.m.commit_tx(&mt), "tx commit");
            if self.m.name_of(id) == Some(b) {
                for k in mt.writes.keys() {
                    self.check_head(id, b, k)?;
                }
            }
        } else {
            tx.rollback();
        }
        // Committed (even unsuccessfully) or rolled back, a transaction refuses every further call.
        let closed = Err(ErrorCode::Closed);
        same!(code(tx.get(Namespace::Kv, 0, "a", |_, _, _| ()).map(drop)), closed, "get after the end");
        same!(code(tx.put(Namespace::Kv, 0, "a", &[1]).map(drop)), closed, "put after the end");
        same!(code(tx.commit()), closed, "commit after the end");
        Ok(())
    }

    /// Everything observable about every branch, compared with the model.
    fn check_all(&self) -> Result<(), TestCaseError> {
        let db = &self.db;
        prop_assert_eq!(db.list_branches(), self.m.list_branches());
        let mut keys: BTreeSet<MKey> = BTreeSet::new();
        for ns in NSS {
            for sp in 0..=KNOWN_SPACES {
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
            prop_assert_eq!(code(db.time_range(id, None)), Ok((mb.oldest, mb.latest)), "time range of {}", name);
            prop_assert_eq!(code(db.list_spaces(id)), self.m.list_spaces(name), "spaces of {}", name);
            for k in &keys {
                let mut m: Vec<MVer> = mb.data.get(k).cloned().unwrap_or_default();
                m.reverse();
                prop_assert_eq!(db_history(db, k.0, id, k.1, &k.2, None), Ok(m), "history of {:?} on {}", k, name);
            }
            // Every branch as of every moment of the case.
            for ts in (0..=self.m.clock + 1).map(Some).chain([None]) {
                for ns in NSS {
                    for sp in 0..KNOWN_SPACES {
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

/// Aims an outside operation at the transaction's branch: the branch it writes to, merges into or deletes.
fn aim(op: &mut Op, b: B) {
    match op {
        Op::Put { b: x, .. }
        | Op::Delete { b: x, .. }
        | Op::Cas { b: x, .. }
        | Op::DeleteSpace { b: x, .. }
        | Op::DeleteBranch { b: x }
        | Op::Merge { dst: x, .. } => *x = b,
        _ => {}
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut h = Harness::new();
    let mut trace = Vec::new();
    let fail = |trace: &[Op], e: TestCaseError| {
        let steps: Vec<String> = trace.iter().enumerate().map(|(i, op)| format!("  #{i} {op:?}")).collect();
        TestCaseError::fail(format!("{e}\nthe operations as run:\n{}", steps.join("\n")))
    };
    for op in ops {
        let op = h.resolve(op);
        trace.push(op.clone());
        h.apply(&op).map_err(|e| fail(&trace, e))?;
    }
    h.check_all().map_err(|e| fail(&trace, e))
}

/// `cases` unless PROPTEST_CASES says otherwise. The defaults keep a plain debug `cargo test -p strata-core` at about
/// ten seconds on two cores (the two property tests run in parallel).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(cases);
    // No regression files: this test owns only this source file. A failure prints the shrunk sequence; turn it
    // into a deterministic test below.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops)?;
    }
}

proptest! {
    #![proptest_config(config(MERGE_HEAVY_CASES))]

    /// Two keys, three values, and only writes, forks and merges: histories that cross between branches again and
    /// again, which the broad test above reaches too rarely.
    #[test]
    fn engine_matches_model_merge_heavy(ops in prop::collection::vec(merge_heavy_op(), 1..40)) {
        run(&ops)?;
    }
}

// ---- focused deterministic tests -----------------------------------------------------------------------------

const KV: Namespace = Namespace::Kv;

fn db() -> Arc<Database> {
    Arc::new(Database::new(wall))
}

fn val(db: &Database, b: BranchId, key: &str) -> Option<Vec<u8>> {
    db.get(KV, b, 0, key, None, |v| v.value.as_deref().unwrap().to_vec()).unwrap()
}

fn versions(db: &Database, b: BranchId, key: &str) -> Vec<u64> {
    db.history(KV, b, 0, key, None).unwrap().iter().map(|v| v.version).collect()
}

fn report(applied: usize, conflicts: &[&str], committed: bool) -> MergeReport {
    MergeReport { applied, conflicts: conflicts.iter().map(|s| s.to_string()).collect(), committed }
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
        let range = db.time_range(main, None).unwrap();
        let again = db.merge(feat, main, strategy).unwrap();
        assert_eq!(again, report(0, &[], true), "{strategy:?} after {first:?}");
        assert_eq!(db.time_range(main, None).unwrap(), range, "no commit");
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

    assert_eq!(db.merge(child, parent, Merge::Strict).unwrap(), report(2, &[], true));
    assert_eq!(db.list(KV, parent, 0, "", None, None, None).unwrap(), ["a", "b", "c"]);
    assert_eq!(versions(&db, parent, "gone"), [2, 1]);

    // Back the other way: only what the parent has that the child has not seen.
    db.put(KV, parent, 0, "a", &[3]).unwrap();
    assert_eq!(db.merge(parent, child, Merge::Strict).unwrap(), report(2, &[], true));
    assert_eq!(val(&db, child, "a"), Some(vec![3]));
    assert_eq!(val(&db, child, "c"), Some(vec![2]));
    assert_eq!(versions(&db, child, "b"), [1]);
    assert!(db.diff(parent, child).unwrap().is_empty());

    // And again, both ways, after changes on both sides to different keys.
    db.put(KV, child, 0, "a", &[4]).unwrap();
    db.put(KV, parent, 0, "b", &[4]).unwrap();
    assert_eq!(db.merge(child, parent, Merge::Strict).unwrap(), report(1, &[], true));
    assert_eq!(db.merge(parent, child, Merge::Strict).unwrap(), report(1, &[], true));
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
    assert_eq!(db.merge(child, gp, Merge::Strict).unwrap(), report(3, &[], true));
    assert_eq!(db.list(KV, gp, 0, "", None, None, None).unwrap(), ["a", "b", "c", "d"]);
    assert_eq!(val(&db, gp, "a"), Some(vec![2]));
    assert_eq!(val(&db, gp, "d"), Some(vec![3]));

    // A key changed on both sides of that line conflicts.
    db.put(KV, gp, 0, "a", &[4]).unwrap();
    db.put(KV, child, 0, "a", &[5]).unwrap();
    assert_eq!(db.merge(child, gp, Merge::Strict).unwrap(), report(0, &["a"], false));
    // The grandparent into the grandchild (the other direction) sees the same conflict.
    // (and brings "d", changed only in the grandparent since the merge above).
    assert_eq!(db.merge(gp, child, Merge::Ours).unwrap(), report(1, &["a"], true));
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

    let range = db.time_range(main, None).unwrap();
    let spaces = db.list_spaces(main).unwrap();
    let before = db.diff(main, feat).unwrap();
    assert_eq!(db.merge(feat, main, Merge::Strict).unwrap(), report(0, &["a"], false));
    assert_eq!(db.time_range(main, None).unwrap(), range);
    assert_eq!(db.list_spaces(main).unwrap(), spaces);
    assert_eq!(db.diff(main, feat).unwrap(), before);
    assert_eq!(val(&db, main, "b"), None, "the non-conflicting key is not applied either");
    assert_eq!(versions(&db, main, "a"), [2, 1]);

    // Not committed, so not recorded: the same merge still conflicts, and the strategies resolve it.
    assert_eq!(db.merge(feat, main, Merge::Strict).unwrap(), report(0, &["a"], false));
    assert_eq!(db.merge(feat, main, Merge::Ours).unwrap(), report(1, &["a"], true));
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

    assert_eq!(db.list(KV, leaf, 0, "", None, None, None).unwrap(), ["a", "b"]);
    assert_eq!(versions(&db, leaf, "b"), [2, 1]);
    assert_eq!(db.get(KV, leaf, 0, "b", Some(t_b), |v| v.value.as_deref().unwrap().to_vec()).unwrap(), Some(vec![1]));
    let info = db.list_branches().into_iter().find(|b| b.name == "leaf").unwrap();
    assert_eq!(info.parent.as_deref(), Some("mid"));
    assert_eq!(db.put(KV, mid, 0, "x", &[0]).unwrap_err().code, ErrorCode::BranchNotFound);

    // A new branch of the same name is a different branch.
    let mid2 = db.create_branch("mid").unwrap();
    assert_ne!(mid2, mid);
    assert!(db.list(KV, mid2, 0, "", None, None, None).unwrap().is_empty());
    assert_eq!(val(&db, leaf, "b"), Some(vec![2]));

    // The leaf still merges into its grandparent: the versions it shares with it carry the same origins.
    db.put(KV, main, 0, "a", &[9]).unwrap();
    assert_eq!(db.merge(leaf, main, Merge::Strict).unwrap(), report(1, &[], true));
    assert_eq!(db.list(KV, main, 0, "", None, None, None).unwrap(), ["a", "b"]);
    assert_eq!(val(&db, main, "a"), Some(vec![9]));
}

// ---- transactions --------------------------------------------------------------------------------------------

#[test]
fn a_transaction_commits_every_write_as_a_version_at_one_timestamp() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    db.put(KV, main, 0, "b", &[0]).unwrap();
    let mut tx = db.begin(main, false).unwrap();
    assert_eq!(tx.put(KV, 0, "a", &[1]).unwrap(), 1);
    assert_eq!(tx.put(KV, 0, "a", &[2]).unwrap(), 2, "a second write of a key is its next version");
    assert!(tx.delete(KV, 0, "b").unwrap());
    assert!(!tx.delete(KV, 0, "b").unwrap(), "already deleted in this transaction's view");
    assert_eq!(tx.get(KV, 0, "a", |v, ts, b| (v, ts, b.to_vec())).unwrap(), Some((2, 0, vec![2])));
    tx.commit().unwrap();
    let a = db.history(KV, main, 0, "a", None).unwrap();
    let b = db.history(KV, main, 0, "b", None).unwrap();
    assert_eq!((a.len(), b.len()), (2, 2));
    assert_eq!([a[0].timestamp, a[1].timestamp], [b[0].timestamp; 2]);
    assert_eq!(val(&db, main, "a"), Some(vec![2]));
    assert_eq!(val(&db, main, "b"), None);
    assert_eq!(db.time_range(main, None).unwrap(), (Some(2), Some(3)));
}

#[test]
fn a_transaction_that_conflicts_writes_nothing() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    let feat = db.fork_branch("feat", main).unwrap();
    db.put(KV, main, 0, "a", &[0]).unwrap();
    db.put(KV, feat, 0, "a", &[9]).unwrap();
    db.put(KV, feat, 0, "x", &[9]).unwrap();

    // A key it read, written outside since it began (timestamps: 1 new, 2 fork, 3 to 5 the puts above).
    let mut tx = db.begin(main, false).unwrap();
    assert_eq!(tx.get(KV, 0, "a", |v, _, _| v).unwrap(), Some(1));
    tx.put(KV, 0, "b", &[1]).unwrap();
    db.put(KV, main, 0, "a", &[2]).unwrap();
    assert_eq!(tx.commit().unwrap_err().code, ErrorCode::Conflict);
    assert_eq!(val(&db, main, "b"), None);
    assert_eq!(db.time_range(main, None).unwrap(), (Some(3), Some(6)), "only the outside put committed");

    // A key it only wrote, changed by a merge since it began.
    let mut tx = db.begin(main, false).unwrap();
    tx.put(KV, 0, "x", &[1]).unwrap();
    tx.put(KV, 0, "c", &[1]).unwrap();
    assert!(db.merge(feat, main, Merge::Ours).unwrap().committed);
    assert_eq!(tx.commit().unwrap_err().code, ErrorCode::Conflict);
    assert_eq!(val(&db, main, "x"), Some(vec![9]));
    assert_eq!(val(&db, main, "c"), None);
    assert_eq!(tx.commit().unwrap_err().code, ErrorCode::Closed);

    // Writes elsewhere (another key, another branch) do not conflict.
    let mut tx = db.begin(main, false).unwrap();
    tx.get(KV, 0, "a", |_, _, _| ()).unwrap();
    tx.put(KV, 0, "c", &[2]).unwrap();
    db.put(KV, main, 0, "d", &[2]).unwrap();
    db.put(KV, feat, 0, "a", &[3]).unwrap();
    tx.commit().unwrap();
    assert_eq!(val(&db, main, "c"), Some(vec![2]));

    // Its branch deleted since it began.
    let mut tx = db.begin(feat, false).unwrap();
    tx.put(KV, 0, "y", &[1]).unwrap();
    db.delete_branch("feat").unwrap();
    assert_eq!(tx.commit().unwrap_err().code, ErrorCode::BranchNotFound);
}

#[test]
fn a_read_only_transaction_refuses_writes() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    db.put(KV, main, 0, "a", &[1]).unwrap();
    let range = db.time_range(main, None).unwrap();
    let mut tx = db.begin(main, true).unwrap();
    assert_eq!(tx.put(KV, 0, "b", &[1]).unwrap_err().code, ErrorCode::ReadOnly);
    assert_eq!(tx.delete(KV, 0, "a").unwrap_err().code, ErrorCode::ReadOnly);
    assert_eq!(tx.cas(KV, 0, "a", Some(1), &[2]).unwrap_err().code, ErrorCode::ReadOnly);
    assert_eq!(tx.get(KV, 0, "a", |v, _, b| (v, b.to_vec())).unwrap(), Some((1, vec![1])));
    assert_eq!(tx.list(KV, 0, "", None, None).unwrap(), ["a"]);
    db.put(KV, main, 0, "a", &[3]).unwrap();
    tx.commit().unwrap();
    assert_eq!(val(&db, main, "a"), Some(vec![3]));
    assert_eq!(val(&db, main, "b"), None);
    assert_eq!(db.time_range(main, None).unwrap(), (range.0, Some(range.1.unwrap() + 1)));
}

// ---- regressions ---------------------------------------------------------------------------------------------
//
// Found by this suite against earlier engines; they pass since merges find their base through version origins.

/// A merge used to take its base from the fork tree whenever the two branches were never merged with each other,
/// even when one of them already held the other's changes through a third branch. The stale base made a key the
/// target deleted look "added by the source", so a strict merge that reported no conflict brought it back.
#[test]
fn merge_does_not_resurrect_a_key_deleted_after_an_indirect_merge() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    let feat = db.fork_branch("feat", main).unwrap();
    db.put(KV, feat, 0, "x", &[1]).unwrap();
    assert_eq!(db.merge(feat, main, Merge::Strict).unwrap(), report(1, &[], true));
    let sub = db.fork_branch("sub", feat).unwrap(); // holds x = 1, exactly what main merged
    db.delete(KV, main, 0, "x").unwrap();

    // sub changed nothing since main saw its contents; nothing should come in.
    let r = db.merge(sub, main, Merge::Strict).unwrap();
    assert_eq!(val(&db, main, "x"), None, "x, deleted in main, was brought back by {r:?}");
    assert_eq!(r, report(0, &[], true));
}

/// The sibling form of the bug above: the earlier of two forks was taken as the base although the branches already
/// shared later contents, so a strict merge silently undid a change the target made (no conflict reported).
#[test]
fn merge_does_not_revert_a_target_change_between_siblings() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    db.put(KV, main, 0, "x", &[0]).unwrap();
    let b1 = db.fork_branch("b1", main).unwrap();
    db.put(KV, b1, 0, "x", &[1]).unwrap();
    db.merge(b1, main, Merge::Strict).unwrap();
    let b2 = db.fork_branch("b2", main).unwrap(); // x = 1, from b1
    db.put(KV, b1, 0, "x", &[0]).unwrap(); // b1 changes x again

    let r = db.merge(b2, b1, Merge::Strict).unwrap();
    assert_eq!(val(&db, b1, "x"), Some(vec![0]), "b1's own latest write was overwritten by {r:?}");
    assert_eq!(r, report(0, &[], true));
}

/// The same without any fork after the merges: a change reaches `b` through `main`, `b` deletes it, and merging the
/// branch it came from into `b` brought it back (the base was `main` as of the first fork, before the change).
#[test]
fn merge_does_not_resurrect_a_key_that_arrived_through_a_third_branch() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    let a = db.fork_branch("a", main).unwrap();
    let b = db.fork_branch("b", main).unwrap();
    db.put(KV, a, 0, "x", &[1]).unwrap();
    db.merge(a, main, Merge::Strict).unwrap();
    db.merge(main, b, Merge::Strict).unwrap();
    db.delete(KV, b, 0, "x").unwrap();

    let r = db.merge(a, b, Merge::Strict).unwrap();
    assert_eq!(val(&db, b, "x"), None, "x, deleted in b, was brought back by {r:?}");
    assert_eq!(r, report(0, &[], true));
}

/// An empty commit used to move the branch's time range and take a timestamp. Now nothing that writes nothing does:
/// an empty transaction, a read-only one, a merge applying nothing, a fork or create that fails.
#[test]
fn writing_nothing_takes_no_timestamp_and_leaves_the_time_range() {
    let db = db();
    let main = db.branch_id("default").unwrap(); // timestamp 1
    db.begin(main, false).unwrap().commit().unwrap();
    let mut tx = db.begin(main, true).unwrap();
    tx.get(KV, 0, "a", |_, _, _| ()).unwrap();
    tx.commit().unwrap();
    assert!(!db.delete(KV, main, 0, "a").unwrap());
    assert_eq!(db.fork_branch("x", 99).unwrap_err().code, ErrorCode::BranchNotFound);
    assert_eq!(db.create_branch("default").unwrap_err().code, ErrorCode::BranchExists);
    assert_eq!(db.time_range(main, None).unwrap(), (None, None));
    let feat = db.fork_branch("feat", main).unwrap(); // timestamp 2
    assert_eq!(db.merge(feat, main, Merge::Strict).unwrap(), report(0, &[], true));
    assert_eq!(db.time_range(main, None).unwrap(), (None, None));
    db.put(KV, main, 0, "a", &[1]).unwrap();
    assert_eq!(db.time_range(main, None).unwrap(), (Some(3), Some(3)));
}

/// Space ids used to be taken on trust: a write into an id `space_id` never handed out succeeded, and then
/// `list_spaces` and `diff` panicked (index out of bounds) under the lock. Every write path now refuses it.
#[test]
fn unknown_space_ids_are_refused() {
    let db = db();
    let main = db.branch_id("default").unwrap();
    assert_eq!(db.put(KV, main, 7, "a", &[1]).unwrap_err().code, ErrorCode::InvalidValue);
    assert_eq!(db.cas(KV, main, 7, "a", None, &[1]).unwrap_err().code, ErrorCode::InvalidValue);
    assert_eq!(db.cas(KV, main, 7, "a", Some(1), &[1]).unwrap(), None, "an unmet expectation writes nothing anyway");
    assert!(!db.delete(KV, main, 7, "a").unwrap());
    let mut tx = db.begin(main, false).unwrap();
    tx.put(KV, 0, "a", &[1]).unwrap();
    tx.put(KV, 7, "a", &[1]).unwrap();
    assert_eq!(tx.commit().unwrap_err().code, ErrorCode::InvalidValue);
    assert_eq!(val(&db, main, "a"), None, "the whole transaction is refused");
    assert_eq!(db.get(KV, main, 7, "a", None, |_| ()).unwrap(), None);
    assert_eq!(db.time_range(main, None).unwrap(), (None, None));
    assert_eq!(db.list_spaces(main).unwrap(), ["default"]);
    let empty = db.create_branch("empty").unwrap();
    assert!(db.diff(main, empty).unwrap().is_empty());

    // Deleting a space that was never used neither fails nor interns its name.
    assert_eq!(db.delete_space(main, "never", false), Ok(false));
    assert_eq!(db.space_id("next").unwrap(), 1);
}

/// A write the engine refuses (unknown space id, missing branch) commits nothing, so it takes no timestamp either:
/// the next commit gets the next one.
#[test]
fn refused_writes_take_no_timestamp() {
    let db = db();
    let main = db.branch_id("default").unwrap(); // timestamp 1
    let gone = db.create_branch("gone").unwrap(); // timestamp 2
    db.delete_branch("gone").unwrap();
    assert_eq!(db.put(KV, main, 7, "a", &[1]).unwrap_err().code, ErrorCode::InvalidValue);
    assert_eq!(db.put(KV, gone, 0, "a", &[1]).unwrap_err().code, ErrorCode::BranchNotFound);
    let mut tx = db.begin(main, false).unwrap();
    tx.put(KV, 7, "a", &[1]).unwrap();
    assert_eq!(tx.commit().unwrap_err().code, ErrorCode::InvalidValue);
    db.put(KV, main, 0, "a", &[1]).unwrap();
    assert_eq!(db.history(KV, main, 0, "a", None).unwrap()[0].timestamp, 3);
}
