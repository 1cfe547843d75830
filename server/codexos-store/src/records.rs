//! What the store keeps per chunk and per file, and what a write hands it.

use serde::{Deserialize, Serialize};

use crate::ChunkId;

/// Where a chunk comes from and what it is; its text is stored beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMeta {
    /// Workspace-relative, `/`-separated.
    pub path: String,
    pub language: String,
    /// `function`, `method`, `class`, `section`, `window`, … (the chunker's kind).
    pub kind: String,
    /// `module::Type::method`, `package.module.Class.method`, `Title > Sub`, or empty.
    pub symbol: String,
    /// 1-based, inclusive.
    pub start_line: u32,
    pub end_line: u32,
    pub byte_start: u32,
    pub byte_end: u32,
    /// The git commit the workspace was at when this chunk was indexed.
    pub commit: Option<String>,
    /// Items whose first line is in this chunk (what `workspace/symbol` lists).
    pub symbols: Vec<SymbolRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolRecord {
    pub symbol: String,
    pub kind: String,
    pub start_line: u32,
    pub end_line: u32,
}

/// What is known of a file's content when it was indexed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// blake3 of the bytes, hex.
    pub hash: String,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch when it was read (0: unknown, as for
    /// an editor buffer): with `size`, what a run compares before it reads a file again.
    pub modified_ns: u64,
    pub language: String,
    pub commit: Option<String>,
}

/// A file as stored: its info and its chunks, in file order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub info: FileInfo,
    pub chunk_ids: Vec<ChunkId>,
}

/// One chunk to store, with its vector in the active space, or an empty vector: the chunk then
/// waits for [`crate::Store::write_vectors`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewChunk {
    pub meta: ChunkMeta,
    pub text: String,
    pub vector: Vec<f32>,
}

/// A file's new content: replaces whatever the store held for `path`.
#[derive(Clone, Debug, PartialEq)]
pub struct FileWrite {
    pub path: String,
    pub info: FileInfo,
    pub chunks: Vec<NewChunk>,
}

/// A file's text for its whole-file BM25 document, before its chunks exist (see
/// [`crate::Store::write_lexical`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LexicalFile {
    pub path: String,
    pub info: FileInfo,
    pub text: String,
}

/// Files replaced and files removed, applied in one transaction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteBatch {
    pub files: Vec<FileWrite>,
    pub removed: Vec<String>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.removed.is_empty()
    }
}

/// The vector space an index holds: the embedder's space id, its dimension, and the arroy
/// index number its vectors live under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceRecord {
    pub id: String,
    pub dim: usize,
    pub index: u16,
}
