//! On-disk databases through the in-memory `MemStorage`: recovery, checkpoints, torn tails and damaged files.
use std::sync::Arc;

use strata_core::storage::{MemStorage, Storage};
use strata_core::{Database, Durability, ErrorCode, Namespace::Kv, OpenOptions, DEFAULT_SPACE as S};

fn wall() -> u64 {
    1_000
}

fn open(dir: &MemStorage, durability: Durability) -> strata_core::Result<Database> {
    Database::open(Arc::new(dir.clone()), OpenOptions { durability, ..OpenOptions::default() }, wall)
}

fn get(db: &Database, branch: u64, key: &str) -> Option<Vec<u8>> {
    db.get(Kv, branch, S, key, None, |v| v.value.as_deref().unwrap().to_vec()).unwrap()
}

fn int(n: u8) -> Vec<u8> {
    vec![n & 0x7f]
}

#[test]
fn reopens_with_everything_including_branches_history_and_merges() {
    let dir = MemStorage::default();
    {
        let db = open(&dir, Durability::Always).unwrap();
        db.put(Kv, 0, S, "a", &int(1)).unwrap();
        db.put(Kv, 0, S, "a", &int(2)).unwrap();
        let f = db.fork_branch("f", 0).unwrap();
        db.put(Kv, f, S, "b", &int(3)).unwrap();
        let notes = db.space_id("notes").unwrap();
        db.put(Kv, 0, notes, "n", &int(4)).unwrap();
        db.merge(f, 0, strata_core::Strategy::Strict).unwrap();
    }
    let db = open(&dir, Durability::Always).unwrap();
    assert_eq!(get(&db, 0, "a"), Some(int(2)));
    assert_eq!(get(&db, 0, "b"), Some(int(3)));
    assert_eq!(db.history(Kv, 0, S, "a", None).unwrap().len(), 2);
    let f = db.branch_id("f").unwrap();
    assert_eq!(get(&db, f, "a"), Some(int(2)));
    let notes = db.space_id("notes").unwrap();
    assert_eq!(db.get(Kv, 0, notes, "n", None, |v| v.version).unwrap(), Some(1));
    // The merge was recorded: merging again applies nothing.
    assert_eq!(db.merge(f, 0, strata_core::Strategy::Strict).unwrap().applied, 0);
}

#[test]
fn a_transaction_that_writes_a_key_again_reopens_with_every_version_from_the_log_and_a_snapshot() {
    let dir = MemStorage::default();
    let versions = |db: &Database| -> Vec<(u64, u64, Option<Vec<u8>>)> {
        let history = db.history(Kv, 0, S, "k", None).unwrap();
        history.iter().map(|v| (v.version, v.timestamp, v.value.as_deref().map(<[u8]>::to_vec))).collect()
    };
    let before = {
        let db = Arc::new(open(&dir, Durability::Always).unwrap());
        db.put(Kv, 0, S, "k", &int(0)).unwrap();
        let mut tx = db.begin(0, false).unwrap();
        assert_eq!(tx.put(Kv, S, "k", &int(1)).unwrap(), 2);
        assert!(tx.delete(Kv, S, "k").unwrap());
        assert_eq!(tx.put(Kv, S, "k", &int(2)).unwrap(), 4);
        tx.commit().unwrap();
        versions(&db)
    };
    assert_eq!(
        before.iter().map(|v| (v.0, v.2.clone())).collect::<Vec<_>>(),
        [(4, Some(int(2))), (3, None), (2, Some(int(1))), (1, Some(int(0)))]
    );
    let db = open(&dir, Durability::Always).unwrap();
    assert_eq!(versions(&db), before, "replayed from the log");
    assert_eq!(db.put(Kv, 0, S, "k", &int(3)).unwrap(), 5);
    db.checkpoint().unwrap();
    drop(db);
    let db = open(&dir, Durability::Always).unwrap();
    assert_eq!(versions(&db)[1..], before, "restored from the snapshot");
}

#[test]
fn a_checkpoint_covers_the_log_and_keeps_forks_shared() {
    let dir = MemStorage::default();
    {
        let db = open(&dir, Durability::Standard).unwrap();
        for i in 0..2000 {
            db.put(Kv, 0, S, &format!("key:{i:05}"), &int((i % 100) as u8)).unwrap();
        }
        db.checkpoint().unwrap();
    }
    let one = dir.file("strata.snap").unwrap().len();
    {
        let db = open(&dir, Durability::Standard).unwrap();
        for i in 0..5 {
            let b = db.fork_branch(&format!("fork{i}"), 0).unwrap();
            db.put(Kv, b, S, "own", &int(i)).unwrap();
        }
        db.checkpoint().unwrap();
        assert!(dir.file("log-00000001.wal").is_none(), "covered logs are deleted");
    }
    let six = dir.file("strata.snap").unwrap().len();
    assert!(six < one + one / 10, "5 forks should add little: {one} -> {six} bytes");
    let db = open(&dir, Durability::Standard).unwrap();
    let f3 = db.branch_id("fork3").unwrap();
    assert_eq!(get(&db, f3, "own"), Some(int(3)));
    assert_eq!(get(&db, f3, "key:01999"), Some(int(99)));
    assert_eq!(db.list(Kv, f3, S, "", None, None, None).unwrap().len(), 2001);
}

#[test]
fn a_torn_record_at_the_end_is_dropped_and_cut_off() {
    let dir = MemStorage::default();
    {
        let db = open(&dir, Durability::Always).unwrap();
        db.put(Kv, 0, S, "kept", &int(1)).unwrap();
        dir.set_fault(|_, data| Some(data.len() / 2));
        assert_eq!(db.put(Kv, 0, S, "torn", &int(2)).unwrap_err().code, ErrorCode::Io);
        // The failed write was cut back off, so later writes still land in a clean log.
        dir.set_fault(|_, _| None);
        db.put(Kv, 0, S, "after", &int(3)).unwrap();
    }
    let db = open(&dir, Durability::Always).unwrap();
    assert_eq!(get(&db, 0, "kept"), Some(int(1)));
    assert_eq!(get(&db, 0, "torn"), None);
    assert_eq!(get(&db, 0, "after"), Some(int(3)));

    // A crash in the middle of a record: the prefix is on disk, recovery drops it.
    let log = dir.file("log-00000001.wal").unwrap();
    drop(db);
    dir.put_file("log-00000001.wal", log[..log.len() - 3].to_vec());
    let db = open(&dir, Durability::Always).unwrap();
    assert_eq!(get(&db, 0, "after"), None);
    assert_eq!(get(&db, 0, "kept"), Some(int(1)));
    assert!(dir.file("log-00000001.wal").unwrap().len() < log.len() - 3, "the torn tail was truncated");
}

#[test]
fn power_loss_keeps_what_always_acknowledged_and_none_loses_unflushed_writes() {
    let dir = MemStorage::default();
    let db = open(&dir, Durability::Always).unwrap();
    db.put(Kv, 0, S, "a", &int(1)).unwrap();
    dir.crash();
    std::mem::forget(db); // the process died: no orderly close
    dir.remove("LOCK").unwrap();
    let db = open(&dir, Durability::None).unwrap();
    assert_eq!(get(&db, 0, "a"), Some(int(1)));
    db.put(Kv, 0, S, "b", &int(2)).unwrap();
    dir.crash();
    std::mem::forget(db);
    dir.remove("LOCK").unwrap();
    let db = open(&dir, Durability::None).unwrap();
    assert_eq!(get(&db, 0, "b"), None);
    db.put(Kv, 0, S, "c", &int(3)).unwrap();
    db.flush().unwrap();
    dir.crash();
    std::mem::forget(db);
    dir.remove("LOCK").unwrap();
    assert_eq!(get(&open(&dir, Durability::None).unwrap(), 0, "c"), Some(int(3)));
}

#[test]
fn strengthening_keeps_the_stronger_promise_and_writes_out_what_none_held_back() {
    let dir = MemStorage::default();
    let db = open(&dir, Durability::None).unwrap();
    db.put(Kv, 0, S, "held", &int(1)).unwrap();
    db.strengthen(Durability::Always).unwrap();
    db.strengthen(Durability::Standard).unwrap();
    assert_eq!(db.durability(), Some(Durability::Always));
    db.put(Kv, 0, S, "synced", &int(2)).unwrap();
    dir.crash();
    std::mem::forget(db);
    dir.remove("LOCK").unwrap();
    let db = open(&dir, Durability::None).unwrap();
    // The fsync of the 'always' write covers the records written out before it.
    assert_eq!(get(&db, 0, "held"), Some(int(1)));
    assert_eq!(get(&db, 0, "synced"), Some(int(2)));
}

#[test]
fn damage_before_the_tail_is_corrupt_naming_file_and_offset() {
    let dir = MemStorage::default();
    {
        let db = open(&dir, Durability::Always).unwrap();
        for i in 0..3 {
            db.put(Kv, 0, S, &format!("k{i}"), &int(i)).unwrap();
        }
    }
    let mut log = dir.file("log-00000001.wal").unwrap();
    log[16 + 8 + 2] ^= 0x40; // inside the first record's payload
    dir.put_file("log-00000001.wal", log);
    let e = open(&dir, Durability::Always).err().unwrap();
    assert_eq!(e.code, ErrorCode::Corrupt, "{e}");
    assert!(e.message.contains("log-00000001.wal") && e.message.contains("byte 16"), "{e}");
}

#[test]
fn bad_headers_and_newer_formats_are_refused() {
    let dir = MemStorage::default();
    drop(open(&dir, Durability::Always).unwrap());
    let snap = dir.file("strata.snap").unwrap();

    let mut wrong = snap.clone();
    wrong[0] = b'X';
    dir.put_file("strata.snap", wrong);
    assert_eq!(open(&dir, Durability::Always).err().unwrap().code, ErrorCode::Corrupt);

    let mut newer = snap.clone();
    newer[8] = 9;
    dir.put_file("strata.snap", newer);
    let e = open(&dir, Durability::Always).err().unwrap();
    assert_eq!(e.code, ErrorCode::Unsupported);
    assert!(e.message.contains('9') && e.message.contains('1'), "{e}");

    let mut flipped = snap.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    dir.put_file("strata.snap", flipped);
    assert_eq!(open(&dir, Durability::Always).err().unwrap().code, ErrorCode::Corrupt);

    dir.put_file("strata.snap", Vec::new());
    assert_eq!(open(&dir, Durability::Always).err().unwrap().code, ErrorCode::Corrupt);

    dir.put_file("strata.snap", snap);
    dir.put_file("log-00000001.wal", b"STRATLOG".to_vec());
    assert_eq!(open(&dir, Durability::Always).err().unwrap().code, ErrorCode::Corrupt);
}

#[test]
fn a_second_opener_is_locked_out_until_the_first_closes() {
    let dir = MemStorage::default();
    let db = open(&dir, Durability::Always).unwrap();
    // MemStorage reports every other process as dead, so a LOCK naming our own id is what "held" looks like.
    let e = open(&dir, Durability::Always).err().unwrap();
    assert_eq!(e.code, ErrorCode::Locked);
    drop(db);
    open(&dir, Durability::Always).unwrap();
}

#[test]
fn read_only_opens_see_the_state_at_open_and_refuse_writes() {
    let dir = MemStorage::default();
    let db = open(&dir, Durability::Always).unwrap();
    db.put(Kv, 0, S, "a", &int(1)).unwrap();
    let ro =
        Database::open(Arc::new(dir.clone()), OpenOptions { read_only: true, ..OpenOptions::default() }, wall).unwrap();
    db.put(Kv, 0, S, "b", &int(2)).unwrap();
    assert_eq!(get(&ro, 0, "a"), Some(int(1)));
    assert_eq!(get(&ro, 0, "b"), None);
    assert_eq!(ro.put(Kv, 0, S, "c", &int(3)).unwrap_err().code, ErrorCode::ReadOnly);
    // A transaction that only reads checks its reads at commit, and writes nothing, so it needs no writer.
    let ro = Arc::new(ro);
    let mut tx = ro.begin(0, false).unwrap();
    assert_eq!(tx.get(Kv, S, "a", |_, _, v| v.to_vec()).unwrap(), Some(int(1)));
    tx.commit().unwrap();
    let mut tx = ro.begin(0, false).unwrap();
    assert_eq!(tx.put(Kv, S, "c", &int(3)).unwrap(), 1);
    assert_eq!(tx.commit().unwrap_err().code, ErrorCode::ReadOnly);
}

#[test]
fn compaction_keeps_the_latest_versions_survives_reopen_and_keeps_forks_shared() {
    let dir = MemStorage::default();
    let options = OpenOptions { durability: Durability::Always, max_versions: Some(2), ..OpenOptions::default() };
    {
        let db = Database::open(Arc::new(dir.clone()), options, wall).unwrap();
        for i in 0..5 {
            db.put(Kv, 0, S, "a", &int(i)).unwrap();
        }
        db.fork_branch("f", 0).unwrap();
        assert_eq!(db.history(Kv, 0, S, "a", None).unwrap().len(), 5);
        let rule = db.retention().unwrap();
        assert_eq!(db.compact(rule).unwrap(), 3);
        assert_eq!(db.compact(rule).unwrap(), 0, "a second compaction drops nothing more");
        let f = db.branch_id("f").unwrap();
        let (main, fork) = (db.history(Kv, 0, S, "a", None).unwrap(), db.history(Kv, f, S, "a", None).unwrap());
        assert_eq!(main.iter().map(|v| v.version).collect::<Vec<_>>(), [5, 4]);
        // Heads live by value in each branch's map; what they share is the version below.
        let below = |h: &[strata_core::Version]| h[0].prev.clone().expect("two versions kept");
        assert!(Arc::ptr_eq(&below(&main), &below(&fork)), "the fork still shares the compacted chain");
        assert_eq!(
            db.compact(strata_core::Retention { max_versions: Some(0), cutoff: None }).unwrap_err().code,
            ErrorCode::InvalidValue
        );
    }
    let db = Database::open(Arc::new(dir.clone()), options, wall).unwrap();
    assert_eq!(db.history(Kv, 0, S, "a", None).unwrap().len(), 2, "the compaction was logged");
    db.put(Kv, 0, S, "a", &int(9)).unwrap();
    db.checkpoint().unwrap(); // compacts by the retention given at open
    drop(db);
    let db = Database::open(Arc::new(dir), options, wall).unwrap();
    assert_eq!(db.history(Kv, 0, S, "a", None).unwrap().iter().map(|v| v.version).collect::<Vec<_>>(), [6, 5]);
}
