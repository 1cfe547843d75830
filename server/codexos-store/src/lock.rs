//! One writer per index: an advisory lock on `<index>/lock`, holding the owner's pid so the
//! next process can say who has it. The OS drops the lock when the process dies (even by
//! `kill -9`), so a stale pid in the file never blocks anyone.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Result, StoreError};

pub(crate) struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock, waiting up to `wait` for another process to let go of it.
    pub(crate) fn acquire(index_dir: &Path, wait: Duration) -> Result<Self> {
        let path = index_dir.join("lock");
        let io = |action, source| StoreError::Io {
            action,
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|error| io("open the lock file", error))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StoreError::InUse {
                        path: index_dir.to_path_buf(),
                        pid: owner_pid(&path),
                    });
                }
                Err(TryLockError::Error(error)) => return Err(io("lock", error)),
            }
        }
        file.set_len(0)
            .map_err(|error| io("write the lock file", error))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|error| io("write the lock file", error))?;
        file.write_all(std::process::id().to_string().as_bytes())
            .map_err(|error| io("write the lock file", error))?;
        Ok(Self { _file: file })
    }
}

fn owner_pid(path: &PathBuf) -> String {
    let mut pid = String::new();
    match File::open(path).and_then(|mut file| file.read_to_string(&mut pid)) {
        Ok(_) if !pid.trim().is_empty() => pid.trim().to_owned(),
        _ => "unknown".to_owned(),
    }
}
