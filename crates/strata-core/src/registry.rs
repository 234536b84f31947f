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

/// The engine registered under `key` while a handle holds it, or a new one from `make`, registered for later opens.
fn shared(key: &str, make: impl FnOnce() -> Result<Database>) -> Result<Arc<Database>> {
    // A panic elsewhere while holding the lock leaves the map itself intact, so a poisoned lock is still usable.
    let mut map = directories().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(db) = map.get(key).and_then(Weak::upgrade) {
        return Ok(db);
    }
    map.retain(|_, weak| weak.strong_count() > 0);
    let db = Arc::new(make()?);
    map.insert(key.to_string(), Arc::downgrade(&db));
    Ok(db)
}

/// The process-wide in-memory database called `name`, created on first use and kept from then on.
pub fn named_memory(name: &str, wall: WallClock) -> Arc<Database> {
    static KEPT: OnceLock<Mutex<HashMap<String, Arc<Database>>>> = OnceLock::new();
    let mut kept = KEPT.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    kept.entry(name.to_string()).or_insert_with(|| Arc::new(Database::new(wall))).clone()
}

/// The process-wide engine of the on-disk database in `storage` (keyed by its resolved path), opened on first
/// use. A read-only open shares the engine of a writer of this process, if one has the directory open (its handle
/// refuses writes), so that it sees every write at once; otherwise it gets an engine of its own, which reads the
/// directory as of its open, as a reader beside a writer in another process does.
pub fn open_storage(storage: Arc<dyn Storage>, options: OpenOptions, wall: WallClock) -> Result<Arc<Database>> {
    let key = format!("dir:{}", storage.describe());
    if options.read_only {
        let writer = directories().lock().unwrap_or_else(|e| e.into_inner()).get(&key).and_then(Weak::upgrade);
        return match writer {
            Some(db) => Ok(db),
            None => Ok(Arc::new(Database::open(storage, options, wall)?)),
        };
    }
    let db = shared(&key, || Database::open(storage.clone(), options, wall))?;
    // Every open of the directory shares this engine, so each must get at least the durability it asked for.
    db.strengthen(options.durability)?;
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
    fn a_directory_engine_goes_with_its_last_handle() {
        let a = shared("dir:registry-test", || Ok(Database::new(wall))).unwrap();
        let b = shared("dir:registry-test", || Ok(Database::new(wall))).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_none());
    }
}
