//! The data dir is private to the service: it holds Meta access tokens and app secrets (in
//! `clerk.sqlite`), customers' messages and the admin token. The folder and every folder in it
//! are 0700, every file 0600, whatever the umask of the shell that started clerk; files written
//! by an older version with wider modes are narrowed when the dir is opened.

use std::fs;
use std::io::Write;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and `dir/indexes`) if needed and narrows the modes of everything in it. A
/// file system that refuses modes (some network or FUSE mounts) is warned about, not fatal:
/// the service still runs, and the operator is told where it is exposed.
pub(super) fn prepare(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir.join("indexes"))?;
    if let Err(e) = narrow(dir) {
        tracing::warn!(
            data_dir = %dir.display(),
            error = %e,
            "could not make the data dir private to this user; other local users may read it"
        );
    }
    Ok(())
}

/// Sets 0700 on `dir` and its folders and 0600 on its files, all the way down.
fn narrow(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                narrow(&entry.path())?;
            } else if kind.is_file() {
                let mode = entry.metadata()?.permissions().mode() & 0o777;
                if mode != FILE_MODE {
                    fs::set_permissions(entry.path(), fs::Permissions::from_mode(FILE_MODE))?;
                }
            }
            // Symbolic links are left alone: their target may be anyone's.
        }
    }
    Ok(())
}

/// Creates (or empties) `path` readable by this user only, before anything is written to it,
/// so no one can open it in between.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Creates the file SQLite will open with mode 0600 if it does not exist yet; SQLite gives its
/// `-wal` and `-shm` files the database file's mode.
pub(super) fn create_private_if_missing(path: &Path) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options.open(path).map(drop)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn everything_in_the_dir_becomes_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        fs::create_dir_all(dir.join("indexes/shop")).unwrap();
        fs::write(dir.join("clerk.sqlite"), b"x").unwrap();
        fs::write(dir.join("indexes/shop/meta.json"), b"{}").unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dir.join("clerk.sqlite"), fs::Permissions::from_mode(0o644)).unwrap();
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("indexes/shop")), 0o700);
        assert_eq!(mode(&dir.join("clerk.sqlite")), 0o600);
        assert_eq!(mode(&dir.join("indexes/shop/meta.json")), 0o600);
        write_private(&dir.join("keys"), b"secret").unwrap();
        assert_eq!(mode(&dir.join("keys")), 0o600);
    }
}
