//! One file's chunks exactly as the index makes them: the chunker a workspace's index uses
//! (its `grammars/` folder, `[index] max_file_bytes`) and the records it writes of each chunk.
//! The indexer chunks through here, and so does a search through a team's shared base, which
//! chunks the base's files it shows from the working tree (they are unchanged since the base's
//! commit) instead of asking the base's server for them.

use std::path::{Component, Path};

use codexos_chunk::{ChunkConfig, ChunkError, Chunker};
use codexos_store::{ChunkMeta, SymbolRecord};

use crate::{IndexError, IndexSettings, Result};

/// The chunker of the workspace at `root`.
pub fn workspace_chunker(root: &Path, settings: &IndexSettings) -> Result<Chunker> {
    let mut config = ChunkConfig::default();
    config.max_file_bytes = config
        .max_file_bytes
        .max(usize::try_from(settings.max_file_bytes).unwrap_or(usize::MAX));
    let chunker = match root.join("grammars") {
        grammars if grammars.is_dir() => Chunker::with_grammar_folder(config, &grammars),
        _ => Chunker::new(config),
    };
    chunker.map_err(IndexError::from)
}

/// The chunks of `text`, the file at workspace-relative `path`, each with the record the index
/// keeps of it (tagged with `commit`).
pub fn file_chunks(
    chunker: &Chunker,
    path: &str,
    text: &str,
    commit: Option<&str>,
) -> std::result::Result<Vec<(ChunkMeta, String)>, ChunkError> {
    let chunks = chunker.chunk(Path::new(path), text)?;
    Ok(chunks
        .into_iter()
        .map(|chunk| {
            let meta = ChunkMeta {
                path: path.to_owned(),
                language: chunk.language,
                kind: chunk.kind.as_str().to_owned(),
                symbol: chunk.symbol,
                start_line: line_number(chunk.start_line),
                end_line: line_number(chunk.end_line),
                byte_start: line_number(chunk.byte_range.start),
                byte_end: line_number(chunk.byte_range.end),
                commit: commit.map(str::to_owned),
                symbols: chunk
                    .symbols
                    .into_iter()
                    .map(|symbol| SymbolRecord {
                        symbol: symbol.symbol,
                        kind: symbol.kind.as_str().to_owned(),
                        start_line: line_number(symbol.start_line),
                        end_line: line_number(symbol.end_line),
                    })
                    .collect(),
            };
            (meta, chunk.text)
        })
        .collect())
}

fn line_number(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The text of the workspace file at `relative` (as an index or a shared base names it), read only
/// when it is inside the workspace at `root` once links are followed, outside tools' state, at
/// most `max_bytes` and UTF-8 — the rules a file must meet to be indexed. A path from elsewhere (a
/// base's records) may name `../x`, or a tracked link may point at `~/.ssh`: neither is read.
pub fn read_workspace_file(root: &Path, relative: &str, max_bytes: u64) -> Option<String> {
    let plain = Path::new(relative)
        .components()
        .all(|part| matches!(part, Component::Normal(_)));
    if !plain {
        tracing::debug!(relative, "not read: not a plain workspace-relative path");
        return None;
    }
    let real_root = root.canonicalize().ok()?;
    let path = root.join(relative);
    if let Err(escape) = crate::walk::check_link(&real_root, &path) {
        tracing::debug!(relative, ?escape, "not read: outside the workspace");
        return None;
    }
    if std::fs::metadata(&path).ok()?.len() > max_bytes {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_file_is_read_only_inside_the_workspace_and_within_its_limit() {
        let outside = tempfile::tempdir().expect("temp dir");
        std::fs::write(outside.path().join("id_rsa"), "PRIVATE KEY").expect("write");
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).expect("mkdir");
        std::fs::create_dir_all(root.join(".codexos")).expect("mkdir");
        std::fs::write(root.join("src/tide.rs"), "fn tide() {}\n").expect("write");
        std::fs::write(root.join(".codexos/state"), "index state").expect("write");
        std::os::unix::fs::symlink(outside.path().join("id_rsa"), root.join("src/key.rs"))
            .expect("link out");
        std::os::unix::fs::symlink(root.join("src/tide.rs"), root.join("src/same.rs"))
            .expect("link in");
        std::os::unix::fs::symlink(root.join(".codexos/state"), root.join("src/state.rs"))
            .expect("link into tool state");

        let read = |relative: &str| read_workspace_file(root, relative, 1 << 20);
        assert_eq!(read("src/tide.rs").as_deref(), Some("fn tide() {}\n"));
        assert_eq!(read("src/same.rs").as_deref(), Some("fn tide() {}\n"));
        for refused in [
            "src/key.rs",
            "src/state.rs",
            "../id_rsa",
            "src/../../id_rsa",
            "/etc/hostname",
            "src/missing.rs",
        ] {
            assert_eq!(read(refused), None, "{refused}");
        }
        assert_eq!(
            read_workspace_file(root, "src/tide.rs", 4),
            None,
            "over the limit"
        );
    }
}
