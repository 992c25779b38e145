//! The node's state directory: created with mode 0700 (set at creation through
//! `DirBuilderExt::mode`, so the umask cannot widen it), by every command that may be the
//! first to create it (issue 17: `pair` used to leave it 0755). A directory the user made
//! is theirs: it is never chmodded, only reported when group or others can get in, for
//! the caller to warn and for `doctor` to name the fix.

use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;

/// What [`create_private_dir`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateDir {
    /// It was missing and is now 0700.
    Created,
    /// It exists and only its owner can get in.
    Private,
    /// It exists and group or others have some access (`mode` is its permission bits).
    Open {
        /// The directory's permission bits.
        mode: u32,
    },
}

/// Whether permission bits give group or others any access.
pub fn open_to_others(mode: u32) -> bool {
    mode & 0o077 != 0
}

/// Creates `dir` (and any missing parent) with mode 0700, or reports the mode of the one
/// that is already there.
pub fn create_private_dir(dir: &Path) -> io::Result<PrivateDir> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let mode = meta.permissions().mode() & 0o777;
            return Ok(if open_to_others(mode) {
                PrivateDir::Open { mode }
            } else {
                PrivateDir::Private
            });
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a directory", dir.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    Ok(PrivateDir::Created)
}

/// [`create_private_dir`] for a command that goes on with an open directory: logs a
/// warning that names the fix.
pub fn ensure_state_dir(dir: &Path) -> io::Result<()> {
    if let PrivateDir::Open { mode } = create_private_dir(dir)? {
        tracing::warn!(
            dir = %dir.display(),
            mode = format!("{mode:04o}"),
            "the state directory is open to group or others; run `chmod 700 {}`",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_missing_dir_and_its_parents_are_made_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        assert_eq!(create_private_dir(&dir).unwrap(), PrivateDir::Created);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(create_private_dir(&dir).unwrap(), PrivateDir::Private);
    }

    #[test]
    fn an_existing_open_dir_is_reported_not_chmodded() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            create_private_dir(tmp.path()).unwrap(),
            PrivateDir::Open { mode: 0o755 }
        );
        assert_eq!(mode(tmp.path()), 0o755);
        let file = tmp.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(create_private_dir(&file).is_err());
    }
}
