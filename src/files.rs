//! Files that a reader never sees half-written: plans, imported manifests and the emulator's state
//! are written to a temporary file beside the target, synced, then renamed over it, so that a
//! crash or a kill leaves the old file or the new one, never a mix.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically, creating its folder when missing. Errors name `path`'s
/// folder or `path` itself, never the temporary file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write(path, bytes, true)
}

/// Writes `bytes` to `path`, atomically as `write_atomically` does, but only if no file is there:
/// a file that exists (or appears meanwhile) is left as it is, and the error's kind is
/// `AlreadyExists`.
pub fn create_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Err(std::io::ErrorKind::AlreadyExists.into());
    }
    write(path, bytes, false)
}

fn write(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    // A file where the folder should be is not "already exists" of the file's own.
    std::fs::create_dir_all(folder).map_err(|error| match error.kind() {
        std::io::ErrorKind::AlreadyExists => {
            std::io::Error::other(format!("{} is a file, not a folder", folder.display()))
        }
        _ => error,
    })?;
    let mut temp = tempfile::Builder::new()
        .prefix(".tagrec-")
        .tempfile_in(folder)
        .map_err(without_temporary_name)?;
    temp.write_all(bytes).map_err(without_temporary_name)?;
    temp.as_file().sync_all()?;
    if replace {
        temp.persist(path).map_err(|e| e.error)?;
    } else {
        temp.persist_noclobber(path).map_err(|e| e.error)?;
    }
    // The rename itself is durable only once the folder is synced.
    if let Ok(dir) = std::fs::File::open(folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// tempfile ends its errors with `at path "/x/.tagrec-AbC123"`: the name of a file the user
/// never asked for, and that is gone by the time they read it. Their folder is named by the
/// caller, which knows which file it was writing.
fn without_temporary_name(error: std::io::Error) -> std::io::Error {
    let text = error.to_string();
    match text.rfind(" at path \"") {
        Some(at) if text[at..].contains(".tagrec-") => {
            std::io::Error::new(error.kind(), text[..at].to_string())
        }
        _ => error,
    }
}

/// A path without `.` and with `name/..` folded, computed without touching the file system (the
/// file may not exist, or may have been deleted).
pub fn lexical(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_create_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/sub/plan.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["plan.json"], "no temporary file is left behind");
    }

    #[test]
    fn errors_do_not_name_the_temporary_file() {
        // A folder that exists but takes no new file, even for root.
        if cfg!(target_os = "linux") {
            let error = write_atomically(Path::new("/proc/plan.json"), b"x").unwrap_err();
            assert!(!error.to_string().contains(".tagrec-"), "{error}");
            assert!(!error.to_string().is_empty());
        }
        let at_temp = std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "Permission denied (os error 13) at path \"/x/.tagrec-AbC123\"",
        );
        let cleaned = without_temporary_name(at_temp);
        assert_eq!(cleaned.to_string(), "Permission denied (os error 13)");
        assert_eq!(cleaned.kind(), std::io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn create_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/projects.yaml");
        create_atomically(&path, b"one").unwrap();
        let error = create_atomically(&path, b"two").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        // A file in the way of the folder is another problem.
        let error = create_atomically(&path.join("below.yaml"), b"x").unwrap_err();
        assert_ne!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(
            error
                .to_string()
                .ends_with("projects.yaml is a file, not a folder"),
            "{error}"
        );
    }
}
