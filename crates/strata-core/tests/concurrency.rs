//! Commits from several threads at once: commits to different shards run in parallel (see `db`), so these check
//! that nothing is lost, that multi-shard transactions are atomic to every reader, and that the log replays to the
//! same state however the threads interleaved.
use std::sync::Arc;
use std::thread;

use strata_core::storage::MemStorage;
use strata_core::{Database, Durability, ErrorCode, Namespace, OpenOptions, DEFAULT_SPACE as S};

const ACCOUNTS: usize = 12;
const START: u64 = 1_000;

fn int(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_uint(&mut out, n).unwrap();
    out
}

fn read_int(bytes: &[u8]) -> u64 {
    rmp::decode::read_int(&mut &bytes[..]).unwrap()
}

fn get(db: &Database, branch: u64, ns: Namespace, key: &str) -> Option<(u64, u64)> {
    db.get(ns, branch, S, key, None, |v| (v.version, read_int(v.value.as_deref().unwrap()))).unwrap()
}

/// A small deterministic generator, so a failure can be rerun.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn cas_increments_from_many_threads_lose_nothing() {
    let db = Arc::new(Database::new(strata_core::system_clock));
    const THREADS: u64 = 4;
    const EACH: u64 = 3_000;
    let shared = ["shared:a", "shared:b"];
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                let own = format!("own:{t}");
                let mut retries = 0;
                for i in 0..EACH {
                    let cell = shared[(i % 2) as usize];
                    loop {
                        let current = get(&db, 0, Namespace::State, cell);
                        let next = current.map_or(1, |(_, n)| n + 1);
                        if db.cas(Namespace::State, 0, S, cell, current.map(|c| c.0), &int(next)).unwrap().is_some() {
                            break;
                        }
                        retries += 1;
                    }
                    let mine = get(&db, 0, Namespace::State, &own);
                    let v = db.cas(Namespace::State, 0, S, &own, mine.map(|c| c.0), &int(i + 1)).unwrap();
                    assert_eq!(v, Some(i + 1), "nobody else writes {own}");
                }
                retries
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let total: u64 = shared.iter().map(|c| get(&db, 0, Namespace::State, c).unwrap().1).sum();
    assert_eq!(total, THREADS * EACH);
    for cell in shared {
        let (version, value) = get(&db, 0, Namespace::State, cell).unwrap();
        assert_eq!(version, value, "one version per successful CAS");
        let stamps: Vec<u64> =
            db.history(Namespace::State, 0, S, cell, None).unwrap().iter().map(|v| v.timestamp).collect();
        assert!(stamps.windows(2).all(|w| w[0] > w[1]), "a key's versions are in timestamp order");
    }
}

/// Moves random amounts between accounts in transactions (retrying conflicts) on `writers` threads while a reader
/// sums every account in snapshots, forks and lists; returns the database.
fn transfers(db: Arc<Database>, writers: u64, each: u64) -> Arc<Database> {
    let account = |i: usize| format!("account:{i}");
    for i in 0..ACCOUNTS {
        db.put(Namespace::Kv, 0, S, &account(i), &int(START)).unwrap();
    }
    let total = START * ACCOUNTS as u64;
    let mut threads: Vec<_> = (0..writers)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                let mut seed = 0x9e37_79b9 + t;
                for _ in 0..each {
                    let (from, to) = (next(&mut seed) as usize % ACCOUNTS, next(&mut seed) as usize % ACCOUNTS);
                    let amount = next(&mut seed) % 50;
                    loop {
                        let mut tx = db.begin(0, false).unwrap();
                        let balance = |tx: &mut strata_core::Transaction, i: usize| {
                            tx.get(Namespace::Kv, S, &account(i), |_, _, b| read_int(b)).unwrap().unwrap()
                        };
                        let (a, b) = (balance(&mut tx, from), balance(&mut tx, to));
                        if from != to && a >= amount {
                            tx.put(Namespace::Kv, S, &account(from), &int(a - amount)).unwrap();
                            tx.put(Namespace::Kv, S, &account(to), &int(b + amount)).unwrap();
                        }
                        match tx.commit() {
                            Ok(()) => break,
                            Err(e) => assert_eq!(e.code, ErrorCode::Conflict),
                        }
                    }
                }
            })
        })
        .collect();
    let reader = {
        let db = db.clone();
        thread::spawn(move || {
            for round in 0..200 {
                let mut tx = db.begin(0, true).unwrap();
                let keys = tx.list(Namespace::Kv, S, "account:", None, None).unwrap();
                assert_eq!(keys.len(), ACCOUNTS);
                let sum: u64 =
                    keys.iter().map(|k| tx.get(Namespace::Kv, S, k, |_, _, b| read_int(b)).unwrap().unwrap()).sum();
                assert_eq!(sum, total, "a snapshot saw part of a transfer");
                let fork = db.fork_branch(&format!("audit-{round}"), 0).unwrap();
                let sum: u64 = (0..ACCOUNTS).map(|i| get(&db, fork, Namespace::Kv, &account(i)).unwrap().1).sum();
                assert_eq!(sum, total, "a fork took part of a transfer");
                db.delete_branch(&format!("audit-{round}")).unwrap();
            }
        })
    };
    threads.push(reader);
    for t in threads {
        t.join().unwrap();
    }
    let sum: u64 = (0..ACCOUNTS).map(|i| get(&db, 0, Namespace::Kv, &account(i)).unwrap().1).sum();
    assert_eq!(sum, total);
    db
}

#[test]
fn transfers_across_shards_are_atomic_to_snapshots_and_forks() {
    transfers(Arc::new(Database::new(strata_core::system_clock)), 3, 2_000);
}

#[test]
fn the_log_of_interleaved_commits_replays_to_the_same_state() {
    let dir = MemStorage::default();
    let options = OpenOptions { durability: Durability::None, ..OpenOptions::default() };
    let db = Arc::new(Database::open(Arc::new(dir.clone()), options, strata_core::system_clock).unwrap());
    let db = transfers(db, 3, 1_000);
    db.flush().unwrap();
    let before: Vec<_> = (0..ACCOUNTS).map(|i| get(&db, 0, Namespace::Kv, &format!("account:{i}"))).collect();
    drop(db);
    let reopened = Database::open(Arc::new(dir), options, strata_core::system_clock).unwrap();
    let after: Vec<_> = (0..ACCOUNTS).map(|i| get(&reopened, 0, Namespace::Kv, &format!("account:{i}"))).collect();
    assert_eq!(before, after, "versions and balances after recovery");
}
