//! One engine per database per process: every open of the same named in-memory database, or of the same
//! directory (symlinks resolved), from any thread, reaches the same `Database`. A directory's engine lives until
//! the last handle drops it, which releases the directory; a named in-memory database lives as long as the process
//! (on WebAssembly, the instance), so that worker threads which come and go all find its data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::clock::WallClock;
use crate::db::Database;
use crate::error::Result;
use crate::persist::OpenOptions;
use crate::storage::Storage;

fn directories() -> &'static Mutex<HashMap<String, Weak<Database>>> {
    static OPEN: OnceLock<Mutex<HashMap<String, Weak<Database>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
}

/// The process-wide in-memory database called `name`, created on first use and kept from then on.
pub fn named_memory(name: &str, wall: WallClock) -> Arc<Database> {
    static KEPT: OnceLock<Mutex<HashMap<String, Arc<Database>>>> = OnceLock::new();
    let mut kept = KEPT.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    kept.entry(name.to_string()).or_insert_with(|| Arc::new(Database::new(wall))).clone()
}

/// The process-wide engine of the on-disk database in `storage` (keyed by its resolved path), opened on first
/// use and shared by every later open, read-only ones included, so that all of them see every write at once:
/// - A writer joining a writer raises the engine's durability to what it asked for, if that is more.
/// - A writer joining an engine opened read-only makes it the writer: the engine takes the directory lock and reads
///   the directory again (`Database::reopen`), so every handle sees the latest state and every later write.
/// - A reader joining an engine opened read-only reads the directory again too: it sees the state as of its open,
///   as a reader beside a writer in another process does (and so do the readers before it).
/// - A reader joining a writer just shares it (its handle refuses writes).
pub fn open_storage(storage: Arc<dyn Storage>, options: OpenOptions, wall: WallClock) -> Result<Arc<Database>> {
    let key = format!("dir:{}", storage.describe());
    // A panic elsewhere while holding the lock leaves the map itself intact, so a poisoned lock is still usable.
    let mut map = directories().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(db) = map.get(&key).and_then(Weak::upgrade) {
        if db.is_read_only() {
            db.reopen(options, wall)?;
        } else if !options.read_only {
            db.strengthen(options.durability)?;
        }
        return Ok(db);
    }
    map.retain(|_, weak| weak.strong_count() > 0);
    let db = Arc::new(Database::open(storage, options, wall)?);
    map.insert(key, Arc::downgrade(&db));
    Ok(db)
}

/// `open_storage` for a directory of the local file system, with the background fsync of `Standard`.
#[cfg(not(target_family = "wasm"))]
pub fn open_dir(dir: &str, create: bool, options: OpenOptions, wall: WallClock) -> Result<Arc<Database>> {
    use crate::error::{Error, ErrorCode};
    use crate::storage::FsStorage;

    let storage = FsStorage::open(dir, create).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist (readOnly: true and create: false never make one)"
        } else {
            "cannot be opened"
        };
        Error::new(ErrorCode::Io, format!("{dir} {what}: {e}"))
    })?;
    let db = open_storage(Arc::new(storage), options, wall)?;
    if db.durability() == Some(crate::Durability::Standard) && !options.read_only && db.claim_background_sync() {
        sync_in_background(&db);
    }
    Ok(db)
}

/// `Standard` durability: fsync what was written at least every 100 ms, from a thread that lives as long as the
/// database does.
#[cfg(not(target_family = "wasm"))]
fn sync_in_background(db: &Arc<Database>) {
    let weak = Arc::downgrade(db);
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let Some(db) = weak.upgrade() else { break };
        // An error here reappears on the next write or flush, which is where it can be reported.
        let _ = db.flush();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall() -> u64 {
        1
    }

    #[test]
    fn same_name_same_engine_also_after_every_handle_went() {
        let a = named_memory("registry-test", wall);
        let b = named_memory("registry-test", wall);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &named_memory("registry-other", wall)));
        let first = Arc::as_ptr(&a);
        drop((a, b));
        assert!(std::ptr::eq(Arc::as_ptr(&named_memory("registry-test", wall)), first));
    }

    #[test]
    fn every_open_of_a_directory_shares_one_engine_readers_first_included() {
        use crate::storage::MemStorage;
        use crate::{Durability, Namespace::Kv, DEFAULT_SPACE as S};
        let dir = MemStorage::default();
        let open = |read_only, durability| {
            let options = OpenOptions { read_only, durability, ..OpenOptions::default() };
            open_storage(Arc::new(dir.clone()), options, wall)
        };
        let get = |db: &Database| db.get(Kv, 0, S, "k", None, |v| v.value.as_deref().unwrap().to_vec()).unwrap();
        // A writer makes the directory, and goes.
        drop(open(false, Durability::Standard).unwrap());
        let reader = open(true, Durability::Standard).unwrap();
        assert!(reader.is_read_only());
        // Another process writes meanwhile: an engine outside the registry.
        let other = Database::open(Arc::new(dir.clone()), OpenOptions::default(), wall).unwrap();
        other.put(Kv, 0, S, "k", &[1]).unwrap();
        drop(other);
        assert_eq!(get(&reader), None);
        // A second reader reads the directory as of its open, and the first sees it too: one engine.
        let second = open(true, Durability::Standard).unwrap();
        assert!(Arc::ptr_eq(&reader, &second));
        assert_eq!(get(&reader), Some(vec![1]));
        // A writer makes the readers' engine the writer: its writes are theirs at once.
        let writer = open(false, Durability::None).unwrap();
        assert!(Arc::ptr_eq(&reader, &writer) && !writer.is_read_only());
        writer.put(Kv, 0, S, "k", &[2]).unwrap();
        assert_eq!(get(&reader), Some(vec![2]));
        assert!(dir.file(crate::persist::LOCK).is_some());
        // Another writer asking for more durability raises it; a reader joining a writer just shares it.
        assert!(Arc::ptr_eq(&open(false, Durability::Always).unwrap(), &writer));
        assert_eq!(writer.durability(), Some(Durability::Always));
        assert!(Arc::ptr_eq(&open(true, Durability::None).unwrap(), &writer));
        // The engine goes with its last handle, and the directory with it.
        let weak = Arc::downgrade(&writer);
        drop((reader, second, writer));
        assert!(weak.upgrade().is_none());
        assert!(dir.file(crate::persist::LOCK).is_none());
    }
}
