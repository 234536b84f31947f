//! The database: every branch of one store behind one lock, and the operations on them.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::branch::{Branch, BranchId, BranchInfo, Entries};
use crate::clock::{Clock, WallClock};
use crate::error::{fail, Result};
use crate::keyspace::{self, Namespace, SpaceId, StoreKey, DEFAULT_SPACE};
use crate::names::{check_key, check_name};
use crate::value;
use crate::version::{Bytes, Head, Version};

pub const DEFAULT_BRANCH: &str = "default";

/// One write of a commit: `None` deletes (writes a tombstone). `origin` is set when a merge copies a version.
pub(crate) struct Write {
    pub key: StoreKey,
    pub value: Option<Bytes>,
    pub origin: Option<u64>,
}

impl Write {
    pub fn new(key: StoreKey, value: Option<Bytes>) -> Write {
        Write { key, value, origin: None }
    }
}

pub struct Database {
    inner: RwLock<Inner>,
}

pub(crate) struct Inner {
    pub clock: Clock,
    pub branches: HashMap<BranchId, Branch>,
    pub by_name: BTreeMap<String, BranchId>,
    /// Names of deleted branches, so a handle left on one gets an error that names it.
    pub deleted: HashMap<BranchId, String>,
    pub next_branch: BranchId,
    pub spaces: Vec<String>,
    pub space_ids: HashMap<String, SpaceId>,
    /// The source's entries at the last merge between two branches, keyed by (smaller id, larger id): what the
    /// target has seen of the source, including what it chose not to take.
    pub merge_bases: HashMap<(BranchId, BranchId), Entries>,
}

impl Inner {
    pub fn branch(&self, id: BranchId) -> Result<&Branch> {
        match self.branches.get(&id) {
            Some(b) => Ok(b),
            None => self.missing(id),
        }
    }

    pub fn branch_mut(&mut self, id: BranchId) -> Result<&mut Branch> {
        if !self.branches.contains_key(&id) {
            return self.missing(id);
        }
        Ok(self.branches.get_mut(&id).expect("checked above"))
    }

    fn missing<T>(&self, id: BranchId) -> Result<T> {
        match self.deleted.get(&id) {
            Some(name) => {
                fail!(BranchNotFound, "branch {name:?} was deleted; switch with setBranch to one that exists")
            }
            None => fail!(BranchNotFound, "no branch with id {id}"),
        }
    }

    /// Applies `writes` to a branch as one commit at one timestamp; returns each key's new version.
    pub fn commit(&mut self, branch: BranchId, writes: Vec<Write>) -> Result<Vec<u64>> {
        self.branch(branch)?;
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        // Hosts pass space ids as numbers; only ids this database handed out may reach a branch.
        if let Some(w) = writes.iter().find(|w| keyspace::decode(&w.key).space as usize >= self.spaces.len()) {
            return fail!(InvalidValue, "unknown space id {}; get ids from space_id", keyspace::decode(&w.key).space);
        }
        let ts = self.clock.tick();
        let b = self.branch_mut(branch)?;
        let mut versions = Vec::with_capacity(writes.len());
        for w in writes {
            b.spaces.insert(keyspace::decode(&w.key).space);
            let prev = b.entries.get(&w.key).map(|h| h.0.clone());
            let version = prev.as_ref().map_or(1, |p| p.version + 1);
            b.entries.insert(
                w.key,
                Head(Arc::new(Version {
                    version,
                    timestamp: ts,
                    origin: w.origin.unwrap_or(ts),
                    value: w.value,
                    prev,
                })),
            );
            versions.push(version);
        }
        b.record_write(ts);
        Ok(versions)
    }

    pub fn head(&self, branch: BranchId, key: &[u8]) -> Result<Option<&Arc<Version>>> {
        Ok(self.branch(branch)?.entries.get(key).map(|h| &h.0))
    }
}

impl Database {
    /// An empty database with the `default` branch.
    pub fn new(wall: WallClock) -> Database {
        let mut clock = Clock::new(wall);
        let created = clock.tick();
        let mut inner = Inner {
            clock,
            branches: HashMap::new(),
            by_name: BTreeMap::new(),
            deleted: HashMap::new(),
            next_branch: 1,
            spaces: vec!["default".to_string()],
            space_ids: HashMap::from([("default".to_string(), DEFAULT_SPACE)]),
            merge_bases: HashMap::new(),
        };
        inner.branches.insert(0, Branch::empty(DEFAULT_BRANCH.to_string(), created));
        inner.by_name.insert(DEFAULT_BRANCH.to_string(), 0);
        Database { inner: RwLock::new(inner) }
    }

    pub(crate) fn read(&self) -> parking_lot::RwLockReadGuard<'_, Inner> {
        self.inner.read()
    }

    pub(crate) fn write(&self) -> parking_lot::RwLockWriteGuard<'_, Inner> {
        self.inner.write()
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
        let mut inner = self.write();
        if inner.by_name.contains_key(name) {
            return fail!(BranchExists, "branch {name:?} already exists; pick another name or deleteBranch it first");
        }
        if let Some(from) = from {
            inner.branch(from)?;
        }
        let at = inner.clock.tick();
        let branch = match from {
            Some(from) => inner.branches[&from].fork(name.to_string(), at),
            None => Branch::empty(name.to_string(), at),
        };
        let id = inner.next_branch;
        inner.next_branch += 1;
        inner.by_name.insert(name.to_string(), id);
        inner.branches.insert(id, branch);
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
        let mut inner = self.write();
        let Some(id) = inner.by_name.remove(name) else {
            return fail!(BranchNotFound, "no branch named {name:?} to delete");
        };
        inner.branches.remove(&id);
        inner.deleted.insert(id, name.to_string());
        inner.merge_bases.retain(|(a, b), _| *a != id && *b != id);
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
    pub fn time_range(&self, branch: BranchId) -> Result<(Option<u64>, Option<u64>)> {
        let inner = self.read();
        let b = inner.branch(branch)?;
        Ok((b.oldest, b.latest))
    }

    // ---- spaces ---------------------------------------------------------------------------------------------

    /// The id of a space name (spaces exist in a branch from their first write; ids are database-wide).
    pub fn space_id(&self, name: &str) -> Result<SpaceId> {
        check_name("space", name)?;
        if let Some(id) = self.read().space_ids.get(name) {
            return Ok(*id);
        }
        let mut inner = self.write();
        if let Some(id) = inner.space_ids.get(name) {
            return Ok(*id);
        }
        let id = inner.spaces.len() as SpaceId;
        inner.spaces.push(name.to_string());
        inner.space_ids.insert(name.to_string(), id);
        Ok(id)
    }

    pub fn list_spaces(&self, branch: BranchId) -> Result<Vec<String>> {
        let inner = self.read();
        let b = inner.branch(branch)?;
        let mut names: Vec<String> = b.spaces.iter().map(|s| inner.spaces[*s as usize].clone()).collect();
        names.sort();
        Ok(names)
    }

    /// Deletes a space of a branch; its live keys become tombstones in one commit. Returns whether it existed.
    pub fn delete_space(&self, branch: BranchId, name: &str, force: bool) -> Result<bool> {
        if name == "default" {
            return fail!(InvalidName, "the default space cannot be deleted");
        }
        check_name("space", name)?;
        let mut inner = self.write();
        let b = inner.branch(branch)?;
        let Some(&space) = inner.space_ids.get(name).filter(|s| b.spaces.contains(s)) else {
            return Ok(false);
        };
        let live: Vec<StoreKey> = Namespace::ALL
            .into_iter()
            .flat_map(|ns| scan(&b.entries, ns, space, "", None))
            .filter(|(_, h)| h.is_live())
            .map(|(k, _)| k.clone())
            .collect();
        if !live.is_empty() && !force {
            return fail!(
                InvalidName,
                "space {name:?} holds {} live keys; pass {{ force: true }} to delete it with them",
                live.len()
            );
        }
        if !live.is_empty() {
            inner.commit(branch, live.into_iter().map(|key| Write::new(key, None)).collect())?;
        }
        inner.branch_mut(branch)?.spaces.remove(&space);
        Ok(true)
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
        Ok(inner.head(branch, &k)?.and_then(|h| h.live_at(as_of)).map(|v| f(v)))
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
        let inner = self.read();
        let b = inner.branch(branch)?;
        Ok(scan(&b.entries, ns, space, prefix, after)
            .filter(|(_, h)| h.live_at(as_of).is_some())
            .map(|(k, _)| keyspace::decode(k).key.to_string())
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// Every version of a key, newest first (tombstones included), at most `limit`.
    pub fn history(
        &self,
        ns: Namespace,
        branch: BranchId,
        space: SpaceId,
        key: &str,
        limit: Option<usize>,
    ) -> Result<Vec<Arc<Version>>> {
        check_key(key)?;
        let k = keyspace::store_key(ns, space, key);
        let inner = self.read();
        Ok(match inner.head(branch, &k)? {
            Some(h) => h.iter().take(limit.unwrap_or(usize::MAX)).cloned().collect(),
            None => Vec::new(),
        })
    }

    // ---- writes ---------------------------------------------------------------------------------------------

    /// Writes a value; returns the key's new version.
    pub fn put(&self, ns: Namespace, branch: BranchId, space: SpaceId, key: &str, value: &[u8]) -> Result<u64> {
        check_key(key)?;
        value::validate(value)?;
        let write = Write::new(keyspace::store_key(ns, space, key), Some(Arc::from(value)));
        Ok(self.write().commit(branch, vec![write])?[0])
    }

    /// Deletes a key (writes a tombstone); returns whether a live value existed. Deleting nothing writes nothing.
    pub fn delete(&self, ns: Namespace, branch: BranchId, space: SpaceId, key: &str) -> Result<bool> {
        check_key(key)?;
        let k = keyspace::store_key(ns, space, key);
        let mut inner = self.write();
        if !inner.head(branch, &k)?.is_some_and(|h| h.is_live()) {
            return Ok(false);
        }
        inner.commit(branch, vec![Write::new(k, None)])?;
        Ok(true)
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
        let mut inner = self.write();
        let current = inner.head(branch, &k)?.filter(|h| h.is_live()).map(|h| h.version);
        if current != expected {
            return Ok(None);
        }
        Ok(Some(inner.commit(branch, vec![Write::new(k, Some(Arc::from(value)))])?[0]))
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
        _ => Bound::Included(from),
    };
    entries
        .range::<_, StoreKey>((start, Bound::Unbounded))
        .take_while(move |(k, _)| keyspace::user_key(k, ns, space).is_some_and(|u| u.starts_with(prefix)))
}
