//! File access of an on-disk database, behind a trait: the engine never touches a file system directly.
//!
//! Natively the implementation is `FsStorage` (std::fs); under WebAssembly the host supplies one (Node's `fs`
//! through imported functions); the fault-injection tests use `MemStorage`, which can tear a write or forget what
//! was never synced, as a power loss would.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use parking_lot::Mutex;

/// The files of one database directory, by name (`strata.wal`, `strata.snap`, `LOCK`).
pub trait Storage: Send + Sync {
    /// The whole file, or `None` when it does not exist.
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// Appends to a file, creating it if needed; on return the bytes have reached the OS.
    fn append(&self, name: &str, data: &[u8]) -> io::Result<()>;
    /// Makes a file's content durable (fsync).
    fn sync(&self, name: &str) -> io::Result<()>;
    /// Replaces a file atomically and durably: temp file, fsync, rename, fsync of the directory.
    fn replace(&self, name: &str, data: &[u8]) -> io::Result<()>;
    /// Cuts a file to `len` bytes, durably.
    fn truncate(&self, name: &str, len: u64) -> io::Result<()>;
    /// Creates a file only if it does not exist; returns false when it existed.
    fn create_new(&self, name: &str, data: &[u8]) -> io::Result<bool>;
    fn remove(&self, name: &str) -> io::Result<()>;
    /// The names of the files in the directory.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Whether the process with this id is alive (to tell a stale lock from a held one).
    fn process_alive(&self, pid: u32) -> bool;
    /// This process's id.
    fn pid(&self) -> u32;
    /// A name for messages: the directory path.
    fn describe(&self) -> String;
}

#[cfg(not(target_family = "wasm"))]
pub use fs::FsStorage;

#[cfg(not(target_family = "wasm"))]
mod fs {
    use std::fs::{self, File, OpenOptions};
    use std::io::{self, Write};
    use std::path::PathBuf;
    use std::sync::Arc;

    use parking_lot::Mutex;

    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    /// A directory on the local file system. Files are created 0600 and the directory 0700 (Unix).
    pub struct FsStorage {
        dir: PathBuf,
        /// The log stays open for appends; other files are opened per call. Shared, so that an fsync runs
        /// without holding the lock that appends need (group commit depends on appends going on meanwhile).
        append: Mutex<Option<(String, Arc<File>)>>,
    }

    fn options() -> OpenOptions {
        let mut o = OpenOptions::new();
        #[cfg(unix)]
        o.mode(0o600);
        o
    }

    impl FsStorage {
        /// Opens (and with `create`, creates) the directory; returns it with symlinks resolved.
        pub fn open(dir: &str, create: bool) -> io::Result<FsStorage> {
            if create {
                let mut b = fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                b.mode(0o700);
                b.create(dir)?;
            }
            let dir = fs::canonicalize(dir)?;
            if !dir.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a directory", dir.display()),
                ));
            }
            Ok(FsStorage { dir, append: Mutex::new(None) })
        }

        pub fn path(&self) -> String {
            self.dir.display().to_string()
        }

        fn sync_dir(&self) -> io::Result<()> {
            #[cfg(unix)]
            File::open(&self.dir)?.sync_all()?;
            Ok(())
        }
    }

    impl super::Storage for FsStorage {
        fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
            match fs::read(self.dir.join(name)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }

        fn append(&self, name: &str, data: &[u8]) -> io::Result<()> {
            let mut slot = self.append.lock();
            if slot.as_ref().is_none_or(|(n, _)| n != name) {
                let f = options().create(true).append(true).open(self.dir.join(name))?;
                *slot = Some((name.to_string(), Arc::new(f)));
            }
            let (_, f) = slot.as_ref().expect("opened above");
            (&**f).write_all(data)
        }

        fn sync(&self, name: &str) -> io::Result<()> {
            let open = self.append.lock().as_ref().filter(|(n, _)| n == name).map(|(_, f)| f.clone());
            match open {
                Some(f) => f.sync_data(),
                None => options().read(true).open(self.dir.join(name))?.sync_data(),
            }
        }

        fn replace(&self, name: &str, data: &[u8]) -> io::Result<()> {
            let tmp = self.dir.join(format!("{name}.tmp"));
            let mut f = options().create(true).write(true).truncate(true).open(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, self.dir.join(name))?;
            self.sync_dir()
        }

        fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
            let mut slot = self.append.lock();
            if slot.as_ref().is_some_and(|(n, _)| n == name) {
                *slot = None;
            }
            let f = options().write(true).open(self.dir.join(name))?;
            f.set_len(len)?;
            f.sync_all()
        }

        fn create_new(&self, name: &str, data: &[u8]) -> io::Result<bool> {
            match options().write(true).create_new(true).open(self.dir.join(name)) {
                Ok(mut f) => {
                    f.write_all(data)?;
                    f.sync_all()?;
                    Ok(true)
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            }
        }

        fn remove(&self, name: &str) -> io::Result<()> {
            match fs::remove_file(self.dir.join(name)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }

        fn list(&self) -> io::Result<Vec<String>> {
            fs::read_dir(&self.dir)?.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned())).collect()
        }

        fn process_alive(&self, pid: u32) -> bool {
            #[cfg(unix)]
            {
                // Signal 0 checks existence; EPERM means it exists but belongs to someone else.
                let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
                r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
            }
            #[cfg(not(unix))]
            {
                let _ = pid;
                true
            }
        }

        fn pid(&self) -> u32 {
            std::process::id()
        }

        fn describe(&self) -> String {
            self.path()
        }
    }
}

/// An in-memory directory for tests. It keeps, per file, what was written and how much of it was synced;
/// `crash` drops everything never synced, and a fault hook can fail or tear any append.
#[derive(Clone, Default)]
pub struct MemStorage {
    inner: Arc<Mutex<MemDir>>,
}

/// Called before each append with (file, data); returning `Some(n)` writes only the first n bytes and fails.
type Fault = Box<dyn FnMut(&str, &[u8]) -> Option<usize> + Send>;

#[derive(Default)]
struct MemDir {
    files: HashMap<String, MemFile>,
    fault: Option<Fault>,
}

#[derive(Clone, Default)]
struct MemFile {
    data: Vec<u8>,
    synced: usize,
}

impl MemStorage {
    /// Fails appends where `fault` returns `Some(n)`, after writing only their first `n` bytes.
    pub fn set_fault(&self, fault: impl FnMut(&str, &[u8]) -> Option<usize> + Send + 'static) {
        self.inner.lock().fault = Some(Box::new(fault));
    }

    /// A power loss: every file keeps only what was synced.
    pub fn crash(&self) {
        let mut d = self.inner.lock();
        d.fault = None;
        for f in d.files.values_mut() {
            f.data.truncate(f.synced);
        }
    }

    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        self.inner.lock().files.get(name).map(|f| f.data.clone())
    }

    /// Overwrites a file as it is on "disk" (synced), e.g. with a damaged copy.
    pub fn put_file(&self, name: &str, data: Vec<u8>) {
        let synced = data.len();
        self.inner.lock().files.insert(name.to_string(), MemFile { data, synced });
    }
}

impl Storage for MemStorage {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.file(name))
    }

    fn append(&self, name: &str, data: &[u8]) -> io::Result<()> {
        let mut d = self.inner.lock();
        let torn = d.fault.as_mut().and_then(|f| f(name, data));
        let file = d.files.entry(name.to_string()).or_default();
        match torn {
            Some(n) => {
                file.data.extend_from_slice(&data[..n.min(data.len())]);
                Err(io::Error::other("injected write failure"))
            }
            None => {
                file.data.extend_from_slice(data);
                Ok(())
            }
        }
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        if let Some(f) = self.inner.lock().files.get_mut(name) {
            f.synced = f.data.len();
        }
        Ok(())
    }

    fn replace(&self, name: &str, data: &[u8]) -> io::Result<()> {
        self.put_file(name, data.to_vec());
        Ok(())
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        if let Some(f) = self.inner.lock().files.get_mut(name) {
            f.data.truncate(len as usize);
            f.synced = f.data.len();
        }
        Ok(())
    }

    fn create_new(&self, name: &str, data: &[u8]) -> io::Result<bool> {
        let mut d = self.inner.lock();
        if d.files.contains_key(name) {
            return Ok(false);
        }
        d.files.insert(name.to_string(), MemFile { data: data.to_vec(), synced: data.len() });
        Ok(true)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.inner.lock().files.remove(name);
        Ok(())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.inner.lock().files.keys().cloned().collect())
    }

    fn process_alive(&self, _pid: u32) -> bool {
        false
    }

    fn pid(&self) -> u32 {
        1
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }
}
