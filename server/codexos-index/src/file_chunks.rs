//! One file's chunks exactly as the index makes them: the chunker a workspace's index uses
//! (its `grammars/` folder, `[index] max_file_bytes`) and the records it writes of each chunk.
//! The indexer chunks through here, and so does a search through a team's shared base, which
//! chunks the base's files it shows from the working tree (they are unchanged since the base's
//! commit) instead of asking the base's server for them.

use std::path::Path;

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
