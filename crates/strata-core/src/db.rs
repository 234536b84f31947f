//! The database: every branch of one store, and the operations on them.
//!
//! Two levels of locking. The database lock guards the set of branches, their names, the spaces and merge records:
//! creating, forking, deleting and merging branches take it exclusively (`run`). Commits of a few keys to one branch
//! take it shared, and then write-lock only the shards of the branch those keys live in (`commit`), so writers to
//! keys in different shards do not wait for each other. Timestamps come from an atomic clock; each shard applies
//! and logs its commits in timestamp order because a commit ticks while it holds its shards' locks.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, PoisonError};

use crossbeam_utils::sync::{ShardedLock, ShardedLockReadGuard, ShardedLockWriteGuard};
use smallvec::smallvec;

use crate::branch::{shard_bit, Branch, BranchId, BranchInfo, Locked};
use crate::bytes::Bytes;
use crate::clock::{Clock, WallClock};
use crate::entries::Entries;
use crate::error::{fail, Error, ErrorCode, Result};
use crate::keyspace::{self, Namespace, SpaceId, StoreKey, DEFAULT_SPACE};
use crate::names::{check_key, check_name};
use crate::ops::{Op, Write, Writes};
use crate::persist::{Durability, OpenOptions, Persist};
use crate::retention::Retention;
use crate::snapshot;
use crate::storage::Storage;
use crate::value;
use crate::vector_index::Indexes;
use crate::version::{Head, Version};

pub const DEFAULT_BRANCH: &str = "default";

pub struct Database {
    /// Sharded per thread, so that threads taking it shared (every commit) do not write to one lock word.
    inner: ShardedLock<Inner>,
    /// The directory of an on-disk database; `None` in memory.
    persist: Option<Persist>,
    pub(crate) vector_indexes: Indexes,
}

pub(crate) struct Inner {
    pub clock: Clock,
    pub branches: BTreeMap<BranchId, Branch>,
    pub by_name: BTreeMap<String, BranchId>,
    /// Names of deleted branches, so a handle left on one gets an error that names it.
    pub deleted: HashMap<BranchId, String>,
    pub next_branch: BranchId,
    pub spaces: Vec<String>,
    pub space_ids: HashMap<String, SpaceId>,
    /// At the last merge between two branches (keyed by smaller id, larger id): the source and its entries then,
    /// which is what the target has seen of it, including what it chose not to take.
    pub merge_bases: HashMap<(BranchId, BranchId), (BranchId, Entries)>,
}

impl Inner {
    fn empty(wall: WallClock) -> Inner {
        let clock = Clock::new(wall);
        let created = clock.tick();
        Inner {
            clock,
            branches: BTreeMap::from([(0, Branch::empty(DEFAULT_BRANCH.to_string(), created))]),
            by_name: BTreeMap::from([(DEFAULT_BRANCH.to_string(), 0)]),
            deleted: HashMap::new(),
            next_branch: 1,
            spaces: vec!["default".to_string()],
            space_ids: HashMap::from([("default".to_string(), DEFAULT_SPACE)]),
            merge_bases: HashMap::new(),
        }
    }

    fn restore(s: snapshot::State, wall: WallClock) -> Inner {
        let clock = Clock::new(wall);
        clock.observe(s.clock);
        Inner {
            clock,
            by_name: s.branches.iter().map(|(id, b)| (b.name.clone(), *id)).collect(),
            branches: s.branches.into_iter().map(|(id, b)| (id, Branch::restore(b))).collect(),
            deleted: s.deleted.into_iter().collect(),
            next_branch: s.next_branch,
            space_ids: s.spaces.iter().enumerate().map(|(i, n)| (n.clone(), i as SpaceId)).collect(),
            spaces: s.spaces,
            merge_bases: s.merge_bases.into_iter().collect(),
        }
    }

    /// Everything a snapshot holds, cloned out: O(branches), since every map is persistent.
    fn capture(&self, next_log: u64) -> snapshot::State {
        snapshot::State {
            next_log,
            clock: self.clock.last(),
            next_branch: self.next_branch,
            spaces: self.spaces.clone(),
            branches: self.branches.iter().map(|(id, b)| (*id, b.state())).collect(),
            deleted: self.deleted.iter().map(|(id, n)| (*id, n.clone())).collect(),
            merge_bases: self.merge_bases.iter().map(|(k, v)| (*k, v.clone())).collect(),
        }
    }

    pub fn branch(&self, id: BranchId) -> Result<&Branch> {
        match self.branches.get(&id) {
            Some(b) => Ok(b),
            None => self.missing(id),
        }
    }

    fn missing<T>(&self, id: BranchId) -> Result<T> {
        match self.deleted.get(&id) {
            Some(name) => {
                fail!(BranchNotFound, "branch {name:?} was deleted; switch with setBranch to one that exists")
            }
            None => fail!(BranchNotFound, "no branch with id {id}"),
        }
    }

    pub fn head(&self, branch: BranchId, key: &[u8]) -> Result<Option<Version>> {
        Ok(self.branch(branch)?.head(key))
    }

    /// A commit of `writes` to `branch` at the next timestamp (nothing for no writes).
    pub fn commit_op(&self, branch: BranchId, writes: Vec<Write>) -> Vec<Op> {
        if writes.is_empty() {
            return Vec::new();
        }
        vec![Op::Commit { branch, at: self.clock.tick(), writes }]
    }
}

impl Database {
    /// An empty in-memory database with the `default` branch.
    pub fn new(wall: WallClock) -> Database {
        Database { inner: ShardedLock::new(Inner::empty(wall)), persist: None, vector_indexes: Indexes::default() }
    }

    /// Opens the database stored in `storage` (a new, empty directory becomes an empty database): takes the
    /// directory lock, loads the last snapshot, replays the log after it.
    pub fn open(storage: Arc<dyn Storage>, options: OpenOptions, wall: WallClock) -> Result<Database> {
        let (persist, recovered) = Persist::open(storage, options)?;
        let inner = Database::load(&persist, recovered, wall)?;
        Ok(Database { inner: ShardedLock::new(inner), persist: Some(persist), vector_indexes: Indexes::default() })
    }

    /// For a database opened read-only, which another open of this process is about to share: reads the
    /// directory again, as its writer when `options` is not read-only (see `Persist::reopen`). Every handle then
    /// sees the directory as it is now, and every later write.
    pub fn reopen(&self, options: OpenOptions, wall: WallClock) -> Result<()> {
        let Some(p) = self.persist.as_ref().filter(|p| p.is_read_only()) else { return Ok(()) };
        let mut inner = self.write();
        let loaded = p.reopen(options).and_then(|recovered| Database::load(p, recovered, wall));
        match loaded {
            Ok(fresh) => *inner = fresh,
            Err(e) => {
                p.demote();
                return Err(e);
            }
        }
        self.vector_indexes.clear();
        Ok(())
    }

    pub fn is_read_only(&self) -> bool {
        self.persist.as_ref().is_some_and(Persist::is_read_only)
    }

    /// The state `recovered` holds, with its commits replayed; a new directory gets its first snapshot.
    fn load(persist: &Persist, recovered: crate::persist::Recovered, wall: WallClock) -> Result<Inner> {
        let fresh = recovered.snapshot.is_none();
        let mut inner = match recovered.snapshot {
            Some(s) => Inner::restore(s, wall),
            None => Inner::empty(wall),
        };
        for (file, ops) in recovered.commits {
            for op in &ops {
                inner.check(op).map_err(|e| {
                    Error::new(ErrorCode::Corrupt, format!("{file} holds a commit that does not apply: {}", e.message))
                })?;
            }
            ops.into_iter().for_each(|op| {
                inner.apply(op);
            });
        }
        // The first snapshot of a new directory comes before its first log: a crash in between leaves a
        // directory that opens as new again.
        if fresh && !persist.is_read_only() {
            persist.initialize(&inner.capture(persist.generation()))?;
        }
        persist.ensure_log()?;
        Ok(inner)
    }

    // A panic under the lock is caught at the binding and never leaves a change half-applied (changes are checked
    // before they are applied), so a poisoned lock is used as is.
    pub(crate) fn read(&self) -> ShardedLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> ShardedLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a change: `build` looks at the state under the write lock and returns the ops to apply (and a result
    /// for the caller). The ops are checked, logged, applied, and the lock released before waiting for durability.
    pub(crate) fn run<R>(&self, build: impl FnOnce(&mut Inner) -> Result<(Vec<Op>, R)>) -> Result<(Vec<u64>, R)> {
        self.writable()?;
        let mut inner = self.write();
        let clock = inner.clock.last();
        // A refused change must not use up timestamps: undo the ticks of `build` on every early return.
        let refuse = |inner: &mut Inner, e: Error| {
            inner.clock.rewind(clock);
            Err(e)
        };
        let (ops, result) = match build(&mut inner) {
            Ok(built) => built,
            Err(e) => return refuse(&mut inner, e),
        };
        if ops.is_empty() {
            return Ok((Vec::new(), result));
        }
        if let Some(e) = ops.iter().find_map(|op| inner.check(op).err()) {
            return refuse(&mut inner, e);
        }
        let record = match &self.persist {
            Some(p) => match p.append(&ops) {
                Ok(n) => Some(n),
                Err(e) => return refuse(&mut inner, e),
            },
            None => None,
        };
        let mut versions = Vec::new();
        for op in ops {
            let v = inner.apply(op);
            if !v.is_empty() {
                versions = v;
            }
        }
        drop(inner);
        self.settle(record)?;
        Ok((versions, result))
    }

    /// Commits writes to keys of one branch whose shards are known up front (`shards`, a bit per shard; see
    /// `shard_bit`), holding the database lock shared and only those shards exclusively. `build` reads the locked
    /// shards and returns the writes (none: nothing happens) and a result for the caller. Returns the new version
    /// of the last key written (none when nothing was), and the result.
    pub(crate) fn commit<R>(
        &self,
        branch: BranchId,
        shards: u32,
        build: impl FnOnce(&Locked<'_>) -> Result<(Writes, R)>,
    ) -> Result<(Option<u64>, R)> {
        self.writable()?;
        let inner = self.read();
        let mut locked = inner.branch(branch)?.lock(shards);
        let (writes, result) = build(&locked)?;
        if writes.is_empty() {
            return Ok((None, result));
        }
        // The callers build their keys from checked names; only the space ids came from the host unchecked.
        writes.iter().try_for_each(|w| inner.check_space(&w.key))?;
        let at = inner.clock.tick();
        let record = match &self.persist {
            Some(p) => Some(p.append(&[Op::Commit { branch, at, writes: writes.to_vec() }])?),
            None => None,
        };
        let version = locked.apply(writes, at);
        drop(locked);
        drop(inner);
        self.settle(record)?;
        Ok((version, result))
    }

    /// The on-disk database's durability: the strongest any open of it in this process asked for.
    pub fn durability(&self) -> Option<Durability> {
        self.persist.as_ref().map(Persist::durability)
    }

    /// Raises the durability for an open that asks for more than the engine was opened with (see
    /// `Persist::strengthen`); nothing for an in-memory database.
    pub fn strengthen(&self, to: Durability) -> Result<()> {
        self.persist.as_ref().map_or(Ok(()), |p| p.strengthen(to))
    }

    /// True once: for the open that starts the background fsync of `Standard`.
    pub fn claim_background_sync(&self) -> bool {
        self.persist.as_ref().is_some_and(Persist::claim_background_sync)
    }

    fn writable(&self) -> Result<()> {
        if self.is_read_only() {
            return fail!(ReadOnly, "this database was opened with readOnly: true; open it without to write");
        }
        Ok(())
    }

    /// After a change is applied and its locks let go: waits until its log record is as durable as the database
    /// promises, and checkpoints when the log has grown enough.
    fn settle(&self, record: Option<u64>) -> Result<()> {
        if let (Some(p), Some(n)) = (&self.persist, record) {
            p.wait(n)?;
            if p.wants_checkpoint() {
                self.checkpoint()?;
            }
        }
        Ok(())
    }

    /// Writes a snapshot and drops the log it covers. Writers wait only while the log moves to a new file.
    pub fn checkpoint(&self) -> Result<()> {
        let Some(p) = &self.persist else { return Ok(()) };
        if p.is_read_only() {
            return fail!(ReadOnly, "this database was opened with readOnly: true; checkpoint needs a writer");
        }
        if let Some(rule) = self.retention() {
            self.compact(rule)?;
        }
        let state = {
            let inner = self.write();
            let next = p.rotate()?;
            inner.capture(next)
        };
        p.install(&state)
    }

    /// The retention configured at open, as a rule for now: its cutoff is the current time minus the maximum age.
    pub fn retention(&self) -> Option<Retention> {
        let o = self.persist.as_ref()?.options();
        if o.max_versions.is_none() && o.max_age_micros.is_none() {
            return None;
        }
        Some(self.retention_rule(o.max_versions, o.max_age_micros))
    }

    /// A retention rule for now: keep `max_versions` per key and what is younger than `max_age_micros`.
    pub fn retention_rule(&self, max_versions: Option<u64>, max_age_micros: Option<u64>) -> Retention {
        let now = self.read().clock.now();
        Retention { max_versions, cutoff: max_age_micros.map(|age| now.saturating_sub(age)) }
    }

    /// Drops old versions as `rule` says (see `retention`); returns how many versions were dropped. The latest
    /// version of every key always stays, and so does every version current at or after the cutoff.
    pub fn compact(&self, rule: Retention) -> Result<u64> {
        if rule.max_versions == Some(0) {
            return fail!(InvalidValue, "maxVersions must be at least 1: the latest version of every key always stays");
        }
        let (dropped, _) = self.run(|_| Ok((vec![Op::Compact { rule }], ())))?;
        Ok(dropped.first().copied().unwrap_or(0))
    }

    /// Makes every acknowledged write durable now.
    pub fn flush(&self) -> Result<()> {
        match &self.persist {
            Some(p) => p.sync(),
            None => Ok(()),
        }
    }

    /// Whether the database lives on disk.
    pub fn is_durable(&self) -> bool {
        self.persist.is_some()
    }

    // ---- branches -------------------------------------------------------------------------------------------

    pub fn branch_id(&self, name: &str) -> Result<BranchId> {
        match self.read().by_name.get(name) {
            Some(id) => Ok(*id),
            None => fail!(BranchNotFound, "no branch named {name:?}; listBranches() shows the ones that exist"),
        }
    }

    pub fn branch_name(&self, id: BranchId) -> Result<String> {
        Ok(self.read().branch(id)?.name.clone())
    }

    pub fn branch_exists(&self, name: &str) -> bool {
        self.read().by_name.contains_key(name)
    }

    /// Adds branch `name`: empty, or a fork of `from`.
    fn add_branch(&self, name: &str, from: Option<BranchId>) -> Result<BranchId> {
        check_name("branch", name)?;
        let (_, id) = self.run(|inner| {
            if inner.by_name.contains_key(name) {
                return fail!(
                    BranchExists,
                    "branch {name:?} already exists; pick another name or deleteBranch it first"
                );
            }
            if let Some(from) = from {
                inner.branch(from)?;
            }
            let (id, at, name) = (inner.next_branch, inner.clock.tick(), name.to_string());
            let op = match from {
                Some(from) => Op::ForkBranch { id, name, from, at },
                None => Op::CreateBranch { id, name, at },
            };
            Ok((vec![op], id))
        })?;
        Ok(id)
    }

    /// A new, empty branch.
    pub fn create_branch(&self, name: &str) -> Result<BranchId> {
        self.add_branch(name, None)
    }

    /// A new branch holding exactly what `from` holds now, history included. O(1): all data is shared.
    pub fn fork_branch(&self, name: &str, from: BranchId) -> Result<BranchId> {
        self.add_branch(name, Some(from))
    }

    /// Deletes a branch and frees what only it referenced. `default` cannot be deleted.
    pub fn delete_branch(&self, name: &str) -> Result<()> {
        if name == DEFAULT_BRANCH {
            return fail!(InvalidName, "the default branch cannot be deleted");
        }
        self.run(|inner| match inner.by_name.get(name) {
            Some(id) => Ok((vec![Op::DeleteBranch { id: *id }], ())),
            None => fail!(BranchNotFound, "no branch named {name:?} to delete"),
        })?;
        Ok(())
    }

    pub fn list_branches(&self) -> Vec<BranchInfo> {
        let inner = self.read();
        inner
            .by_name
            .values()
            .map(|id| {
                let b = &inner.branches[id];
                BranchInfo {
                    name: b.name.clone(),
                    created_at: b.created_at,
                    parent: b.fork.as_ref().map(|f| f.parent_name.clone()),
                    forked_at: b.fork.as_ref().map(|f| f.at),
                }
            })
            .collect()
    }

    /// `(oldest, latest)` version timestamps of a branch.
    /// The oldest and newest version timestamps of `branch`, as it was at `as_of` if given.
    pub fn time_range(&self, branch: BranchId, as_of: Option<u64>) -> Result<(Option<u64>, Option<u64>)> {
        let inner = self.read();
        let branch = inner.branch(branch)?;
        Ok(as_of.map_or_else(|| branch.time_range(), |t| branch.time_range_at(t)))
    }

    // ---- spaces ---------------------------------------------------------------------------------------------

    /// The id of a space name (spaces exist in a branch from their first write; ids are database-wide).
    pub fn space_id(&self, name: &str) -> Result<SpaceId> {
        check_name("space", name)?;
        if let Some(id) = self.read().space_ids.get(name) {
            return Ok(*id);
        }
        let (_, id) = self.run(|inner| {
            if let Some(id) = inner.space_ids.get(name) {
                return Ok((Vec::new(), *id));
            }
            let id = inner.spaces.len() as SpaceId;
            Ok((vec![Op::AddSpace { id, name: name.to_string() }], id))
        })?;
        Ok(id)
    }

    pub fn list_spaces(&self, branch: BranchId) -> Result<Vec<String>> {
        let inner = self.read();
        let b = inner.branch(branch)?;
        let mut names: Vec<String> = b.spaces().iter().map(|s| inner.spaces[*s as usize].clone()).collect();
        names.sort();
        Ok(names)
    }

    /// Deletes a space of a branch; its live keys become tombstones in one commit. Returns whether it existed.
    pub fn delete_space(&self, branch: BranchId, name: &str, force: bool) -> Result<bool> {
        if name == "default" {
            return fail!(InvalidName, "the default space cannot be deleted");
        }
        check_name("space", name)?;
        let (_, existed) = self.run(|inner| {
            let b = inner.branch(branch)?;
            let Some(&space) = inner.space_ids.get(name).filter(|s| b.spaces().contains(s)) else {
                return Ok((Vec::new(), false));
            };
            let entries = b.entries();
            let live: Vec<StoreKey> = Namespace::ALL
                .into_iter()
                .flat_map(|ns| scan(&entries, ns, space, "", None))
                .filter(|(_, h)| h.is_live())
                .map(|(k, _)| k.clone())
                .collect();
            // Event logs are append-only: a forced delete removes everything else and leaves the log, so the
            // space stays while it has one.
            let (events, others): (Vec<StoreKey>, Vec<StoreKey>) =
                live.into_iter().partition(|k| keyspace::namespace_of(k) == Some(Namespace::Events));
            let log = match events.len() {
                0 => String::new(),
                n => format!(" and an event log of {n} events, which is append-only and stays with the space"),
            };
            if others.is_empty() && !events.is_empty() {
                return fail!(InvalidName, "space {name:?} holds nothing but its event log ({} events), which is append-only: a space with events is never deleted", events.len());
            }
            if !others.is_empty() && !force {
                return fail!(
                    InvalidName,
                    "space {name:?} holds {} live entries{log}; pass {{ force: true }} to delete the entries",
                    others.len()
                );
            }
            let mut ops = inner.commit_op(branch, others.into_iter().map(|key| Write::new(key, None)).collect());
            if events.is_empty() {
                ops.push(Op::RemoveSpace { branch, space });
            }
            Ok((ops, true))
        })?;
        Ok(existed)
    }

    // ---- reads ----------------------------------------------------------------------------------------------

    /// Reads the live version of a key (at `as_of`, if given) and hands it to `f` while the lock is held, so the
    /// caller can copy the value straight where it needs it.
    pub fn get<R>(
        &self,
        ns: Namespace,
        branch: BranchId,
        space: SpaceId,
        key: &str,
        as_of: Option<u64>,
        f: impl FnOnce(&Version) -> R,
    ) -> Result<Option<R>> {
        check_key(key)?;
        let k = keyspace::store_key(ns, space, key);
        let inner = self.read();
        let shard = inner.branch(branch)?.shard(&k);
        Ok(shard.map.get(&k).and_then(|h| h.live_at(as_of)).map(f))
    }

    /// Live keys in UTF-8 byte order, from after `after`, starting with `prefix`, at most `limit`.
    pub fn list(
        &self,
        ns: Namespace,
        branch: BranchId,
        space: SpaceId,
        prefix: &str,
        after: Option<&str>,
        limit: Option<usize>,
        as_of: Option<u64>,
    ) -> Result<Vec<String>> {
        self.list_with(ns, branch, space, prefix, after, limit, as_of, |keys| {
            keys.iter().map(|k| k.to_string()).collect()
        })
    }

    /// As `list`, handing the keys to `f` as they are stored, so that a binding encodes them without a `String`
    /// per key.
    #[allow(clippy::too_many_arguments)]
    pub fn list_with<R>(
        &self,
        ns: Namespace,
        branch: BranchId,
        space: SpaceId,
        prefix: &str,
        after: Option<&str>,
        limit: Option<usize>,
        as_of: Option<u64>,
        f: impl FnOnce(&[&str]) -> R,
    ) -> Result<R> {
        let entries = self.read().branch(branch)?.entries();
        let keys: Vec<&str> = scan(&entries, ns, space, prefix, after)
            .filter(|(_, h)| h.live_at(as_of).is_some())
            .map(|(k, _)| keyspace::decode(k).key)
            .take(limit.unwrap_or(usize::MAX))
            .collect();
        Ok(f(&keys))
    }

    /// Every version of a key, newest first (tombstones included), at most `limit`.
    pub fn history(
        &self,
        ns: Namespace,
        branch: BranchId,
        space: SpaceId,
        key: &str,
        limit: Option<usize>,
    ) -> Result<Vec<Version>> {
        check_key(key)?;
        let k = keyspace::store_key(ns, space, key);
        Ok(match self.read().head(branch, &k)? {
            Some(h) => h.iter().take(limit.unwrap_or(usize::MAX)).cloned().collect(),
            None => Vec::new(),
        })
    }

    // ---- writes ---------------------------------------------------------------------------------------------

    /// Writes a value; returns the key's new version.
    pub fn put(&self, ns: Namespace, branch: BranchId, space: SpaceId, key: &str, value: &[u8]) -> Result<u64> {
        check_key(key)?;
        value::validate(value)?;
        let write = Write::new(keyspace::store_key(ns, space, key), Some(Bytes::from(value)));
        let (version, _) = self.commit(branch, shard_bit(&write.key), |_| Ok((smallvec![write], ())))?;
        Ok(version.expect("a put writes"))
    }

    /// Deletes a key (writes a tombstone); returns whether a live value existed. Deleting nothing writes nothing.
    pub fn delete(&self, ns: Namespace, branch: BranchId, space: SpaceId, key: &str) -> Result<bool> {
        check_key(key)?;
        let k = keyspace::store_key(ns, space, key);
        let (_, live) = self.commit(branch, shard_bit(&k), |locked| {
            if !locked.shard(&k).map.get(&k).is_some_and(|h| h.is_live()) {
                return Ok((Writes::new(), false));
            }
            Ok((smallvec![Write::new(k.clone(), None)], true))
        })?;
        Ok(live)
    }

    /// Writes `value` only if the key's live version is `expected` (`None`: only if the key has no live value).
    /// Returns the new version, or `None` when the expectation did not hold (nothing written).
    pub fn cas(
        &self,
        ns: Namespace,
        branch: BranchId,
        space: SpaceId,
        key: &str,
        expected: Option<u64>,
        value: &[u8],
    ) -> Result<Option<u64>> {
        check_key(key)?;
        if expected == Some(0) {
            return fail!(InvalidValue, "expected version 0 never exists: versions start at 1; use null to create");
        }
        value::validate(value)?;
        let k = keyspace::store_key(ns, space, key);
        let (version, _) = self.commit(branch, shard_bit(&k), |locked| {
            let current = locked.shard(&k).map.get(&k).filter(|h| h.is_live()).map(|h| h.version);
            if current != expected {
                return Ok((Writes::new(), ()));
            }
            Ok((smallvec![Write::new(k.clone(), Some(Bytes::from(value)))], ()))
        })?;
        Ok(version)
    }
}

/// Entries of one namespace and space whose user key starts with `prefix`, after `after` (exclusive), in order.
pub(crate) fn scan<'a>(
    entries: &'a Entries,
    ns: Namespace,
    space: SpaceId,
    prefix: &'a str,
    after: Option<&str>,
) -> impl Iterator<Item = (&'a StoreKey, &'a Head)> + 'a {
    let from = keyspace::store_key(ns, space, prefix);
    let start = match after.map(|a| keyspace::store_key(ns, space, a)) {
        Some(a) if a >= from => Bound::Excluded(a),
        _ => Bound::Included(from.clone()),
    };
    // A user key starts with the prefix exactly when its stored key starts with the stored prefix: bytes compared,
    // nothing decoded.
    entries.range((start, Bound::Unbounded)).take_while(move |(k, _)| k.starts_with(&from))
}
