//! The pull lock: a file in the models dir that one process at a time holds while it fetches
//! a model, so two test binaries or two `clerk` runs do not write the same file.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::PullProgress;
use crate::llm::LlmError;

/// How long to wait for another process that holds the pull lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(20 * 60);

/// A lock file held for the duration of a pull; removed on drop. A lock left by a process that
/// is gone (Linux: no `/proc/<pid>`) or older than the wait limit is taken over.
pub(super) struct LockFile {
    path: PathBuf,
}

impl LockFile {
    pub(super) fn acquire(
        path: &Path,
        progress: &mut dyn FnMut(PullProgress),
    ) -> Result<Self, LlmError> {
        let start = Instant::now();
        let mut told = false;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(Self {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if Self::is_stale(path) {
                        tracing::warn!(lock = %path.display(), "removing a stale pull lock");
                        let _ = fs::remove_file(path);
                        continue;
                    }
                    if start.elapsed() > LOCK_WAIT {
                        return Err(LlmError::Pull(format!(
                            "gave up waiting for the pull lock {}; if no other clerk is \
                             pulling, delete it",
                            path.display()
                        )));
                    }
                    if !told {
                        progress(PullProgress::WaitingForLock);
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn is_stale(path: &Path) -> bool {
        let Ok(meta) = fs::metadata(path) else {
            return false;
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        if age > LOCK_WAIT {
            return true;
        }
        let pid = fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        match pid {
            // Only where /proc exists can we tell a live owner from a dead one.
            Some(pid) if Path::new("/proc/self").exists() => {
                !Path::new(&format!("/proc/{pid}")).exists()
            }
            // Just created, pid not written yet: give the owner a moment.
            None => age > Duration::from_secs(10),
            Some(_) => false,
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_is_exclusive_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".x.lock");
        let lock = LockFile::acquire(&path, &mut |_| {}).unwrap();
        assert!(path.exists());
        assert!(!LockFile::is_stale(&path), "our own live pid is not stale");
        drop(lock);
        assert!(!path.exists());
        // A lock naming a pid that cannot exist is taken over.
        fs::write(&path, "4294967295").unwrap();
        if Path::new("/proc/self").exists() {
            let _lock = LockFile::acquire(&path, &mut |_| {}).unwrap();
        }
    }
}
