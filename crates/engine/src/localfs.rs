//! The local filesystem as the engine sees it: a trait, so the simulation can swap in an
//! in-memory filesystem that loses un-synced writes on a crash, and [`StdFs`], the real one.
//!
//! Durability contract: data written through [`LocalFs::create_new`] and renames are only
//! guaranteed to survive a crash after [`LocalFs::sync`] returns. The executor batches one
//! `sync` per batch instead of one `fsync` per file.

use std::ffi::OsString;
use std::fs::{self, File, FileTimes};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// What kind of entry a path is (never following symlinks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link (never followed).
    Symlink,
    /// FIFO, socket or device, named.
    Special(&'static str),
}

/// Metadata of one entry (from `lstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Entry type.
    pub ty: EntryType,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl Meta {
    /// The stable local id (`dev:inode`).
    pub fn id(&self) -> String {
        format!("{}:{}", self.dev, self.ino)
    }
}

/// One directory entry; `name` is `Err` when it is not valid UTF-8.
#[derive(Debug, Clone)]
pub struct DirEntry {
    /// The name.
    pub name: Result<String, OsString>,
    /// Its metadata.
    pub meta: Meta,
}

/// A file being written.
pub trait WriteFile: Write + Send {
    /// Flushes and closes, setting the modification time when given.
    ///
    /// # Errors
    /// The OS error.
    fn finish(self: Box<Self>, mtime_ns: Option<i64>) -> io::Result<()>;
}

/// Local filesystem operations the engine needs.
pub trait LocalFs: Send + Sync {
    /// Lists a directory with each entry's `lstat`.
    ///
    /// # Errors
    /// The OS error.
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>>;
    /// `lstat` of one path.
    ///
    /// # Errors
    /// The OS error (`NotFound` when absent).
    fn metadata(&self, path: &Path) -> io::Result<Meta>;
    /// Opens a file for reading.
    ///
    /// # Errors
    /// The OS error.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// Creates a new file (fails if the path exists).
    ///
    /// # Errors
    /// The OS error.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WriteFile>>;
    /// Renames, failing with `AlreadyExists` when `to` exists.
    ///
    /// # Errors
    /// The OS error.
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Renames over an existing file.
    ///
    /// # Errors
    /// The OS error.
    fn rename_replace(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Creates a directory; succeeds if it already is one.
    ///
    /// # Errors
    /// The OS error.
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    ///
    /// # Errors
    /// The OS error.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Removes a file.
    ///
    /// # Errors
    /// The OS error.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty directory.
    ///
    /// # Errors
    /// The OS error.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Makes everything written and renamed so far under `root` durable.
    ///
    /// # Errors
    /// The OS error.
    fn sync(&self, root: &Path) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

fn meta_of(m: &fs::Metadata) -> Meta {
    let ft = m.file_type();
    let ty = if ft.is_symlink() {
        EntryType::Symlink
    } else if ft.is_dir() {
        EntryType::Dir
    } else if ft.is_file() {
        EntryType::File
    } else if ft.is_fifo() {
        EntryType::Special("named pipe (FIFO)")
    } else if ft.is_socket() {
        EntryType::Special("socket")
    } else {
        EntryType::Special("device")
    };
    Meta {
        ty,
        size: if ty == EntryType::File { m.len() } else { 0 },
        mtime_ns: m
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(m.mtime_nsec()),
        dev: m.dev(),
        ino: m.ino(),
    }
}

struct StdWriteFile {
    file: io::BufWriter<File>,
}

impl Write for StdWriteFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl WriteFile for StdWriteFile {
    fn finish(self: Box<Self>, mtime_ns: Option<i64>) -> io::Result<()> {
        let file = self.file.into_inner().map_err(|e| e.into_error())?;
        if let Some(ns) = mtime_ns {
            file.set_times(FileTimes::new().set_modified(system_time(ns)))?;
        }
        Ok(())
    }
}

/// Converts ns since the epoch to a `SystemTime` (clamped at the epoch).
pub fn system_time(ns: i64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

impl LocalFs for StdFs {
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(m) => meta_of(&m),
                // Vanished between readdir and lstat: it is simply not there.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            out.push(DirEntry {
                name: entry.file_name().into_string(),
                meta,
            });
        }
        Ok(out)
    }

    fn metadata(&self, path: &Path) -> io::Result<Meta> {
        fs::symlink_metadata(path).map(|m| meta_of(&m))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(path)?))
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        let file = File::options().write(true).create_new(true).open(path)?;
        Ok(Box::new(StdWriteFile {
            file: io::BufWriter::with_capacity(256 * 1024, file),
        }))
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(io::Error::from)
    }

    fn rename_replace(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        match fs::create_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if fs::symlink_metadata(path)?.is_dir() {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn sync(&self, root: &Path) -> io::Result<()> {
        // One syncfs for the whole filesystem is far cheaper than an fsync per file and
        // gives the same guarantee for everything written before it.
        let dir = File::open(root)?;
        rustix::fs::syncfs(&dir).map_err(io::Error::from)
    }
}
