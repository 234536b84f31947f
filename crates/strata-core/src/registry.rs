//! One engine per database per process: every open of the same named in-memory database (from any thread)
//! reaches the same `Database`, which lives until the last handle drops it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::clock::WallClock;
use crate::db::Database;

fn named() -> &'static Mutex<HashMap<String, Weak<Database>>> {
    static NAMED: OnceLock<Mutex<HashMap<String, Weak<Database>>>> = OnceLock::new();
    NAMED.get_or_init(Default::default)
}

/// The process-wide in-memory database called `name`, created on first use.
pub fn named_memory(name: &str, wall: WallClock) -> Arc<Database> {
    // A panic elsewhere while holding the lock leaves the map itself intact, so a poisoned lock is still usable.
    let mut map = named().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(db) = map.get(name).and_then(Weak::upgrade) {
        return db;
    }
    map.retain(|_, weak| weak.strong_count() > 0);
    let db = Arc::new(Database::new(wall));
    map.insert(name.to_string(), Arc::downgrade(&db));
    db
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall() -> u64 {
        1
    }

    #[test]
    fn same_name_same_engine_until_the_last_handle_goes() {
        let a = named_memory("registry-test", wall);
        let b = named_memory("registry-test", wall);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &named_memory("registry-other", wall)));
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_none());
    }
}
