//! The stratadb engine: a versioned, branch-aware, copy-on-write store. It knows nothing about JavaScript; the
//! `strata-node` (N-API) and `strata-wasm` (WebAssembly) crates only convert arguments and forward to it.
//!
//! # Data model
//!
//! - A **value** is one MessagePack document (see [`value`]): the caller encodes it, the engine checks it once and
//!   keeps the bytes: inline when short, else shared by reference count wherever they appear ([`bytes`]).
//! - A **key** lives in a **namespace** (KV, state cells, ...) and a **space** of a branch ([`keyspace`]).
//! - A **version** is one write of one key: a per-key number (1, 2, 3, ... never restarting, deletes included), a
//!   commit timestamp (microseconds, strictly increasing per database, [`clock`]) and the value, or none for a
//!   delete (a tombstone). A key's versions form an immutable chain, newest first ([`version`]).
//! - A **branch** maps every key to the head of its chain in a persistent ordered map ([`branch`]). Reading at a
//!   timestamp (`as_of`) walks a chain back to the version current then.
//! - A **fork** clones that map: one reference-count increment, O(1) however much data the branch holds. Writes
//!   afterwards copy only the path to the changed key, so the two branches share everything else. The fork
//!   records the source's map at that moment, the **fork point** that three-way merges compare against ([`merge`]).
//! - A **commit** applies a set of writes to one branch at one timestamp, atomically: a single put, a CAS, a merge
//!   or a transaction are each one commit.
//!
//! - A branch's map is split into shards by key ([`entries`]), each behind its own lock, so commits to keys in
//!   different shards run on different threads at once; changes to the set of branches lock the whole database
//!   ([`db`]).

mod branch;
mod bytes;
mod clock;
mod db;
mod entries;
mod error;
mod events;
mod hnsw;
mod keyspace;
mod log;
mod merge;
mod names;
mod ops;
mod persist;
mod registry;
mod retention;
mod snapshot;
pub mod storage;
mod tree;
mod txn;
mod value;
mod vector_index;
mod vectors;
mod version;
pub mod wire;

pub use branch::{BranchId, BranchInfo};
#[cfg(not(target_family = "wasm"))]
pub use clock::system_clock;
pub use clock::WallClock;
pub use db::{Database, DEFAULT_BRANCH};
pub use error::{Error, ErrorCode, Result};
pub use keyspace::{Namespace, SpaceId, DEFAULT_SPACE};
pub use merge::{Change, MergeReport, Strategy};
pub use names::{MAX_KEY_BYTES, MAX_NAME_CHARS};
pub use persist::{Durability, OpenOptions};
#[cfg(not(target_family = "wasm"))]
pub use registry::open_dir;
pub use registry::{named_memory, open_storage};
pub use retention::Retention;
pub use txn::{Transaction, MAX_TX_BYTES, MAX_TX_WRITES};
pub use value::{validate as validate_value, MAX_DEPTH, MAX_VALUE_BYTES};
pub use vectors::{split as split_vector, Collection, Hit, Metric, MAX_DIMENSION};
pub use version::Version;
