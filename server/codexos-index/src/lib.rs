//! The workspace index: walk the workspace (`.gitignore`, `.ignore`, `codexos.toml`
//! excludes), hash files with blake3 so unchanged ones are never re-chunked or re-embedded,
//! chunk them with `codexos-chunk`, embed with a `codexos-embed` [`Embedder`], store in
//! `codexos-store` (LMDB + tantivy), and search them: hybrid BM25 + vectors,
//! reranked.
//!
//! Two types do the work: [`Indexer`] (writes; holds the index's writer lock) and [`Searcher`]
//! (reads; works on a writer's store or on [`Store::open_read_only`]). Front ends reach them
//! through `codexos_service::index`, the one front door; only `codexos eval` and `codexos bench`
//! call them directly, to measure the method itself.
//!
//! [`Embedder`]: codexos_embed::Embedder
//! [`Store::open_read_only`]: codexos_store::Store::open_read_only

mod error;
mod file_chunks;
pub mod git;
mod indexer;
mod lines;
mod search;
mod settings;
mod upgrade;
mod walk;

pub use codexos_store::{ChunkMeta, OpenOptions, Store, index_dir};
pub use error::{IndexError, Result};
pub use file_chunks::{file_chunks, read_workspace_file, workspace_chunker};
pub use indexer::{
    BATCH_DELAY_ENV, FileOutcome, IndexSummary, Indexer, Progress, SkipReason, Stage,
    embedding_text,
};
pub use search::{
    Candidate, ChunkFilter, CodeAwareReranker, FusionParams, HitSource, Reranker, SearchHit,
    SearchMode, SearchRequest, Searcher, rrf,
};
pub use settings::{DEFAULT_MAX_FILE_BYTES, IndexSettings, IndexTable, SharedTable};
pub use upgrade::{UPGRADE_BATCH, UpgradeProgress, UpgradeSummary};
pub use walk::{FoundFile, is_tool_state, relative_path, walk, walk_lists};
