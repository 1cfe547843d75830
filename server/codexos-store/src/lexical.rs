//! The tantivy side: BM25 over chunks and over whole files, with the code-aware tokenizer.
//! It is a derived index: everything in it can be rebuilt from LMDB, and its commit payload
//! records the LMDB generation it reflects.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::ChunkId;
use crate::error::{Context, Result, StoreError};
use crate::tokens::for_each_term;
use crate::unsynced::UnsyncedDirectory;

const CODE_TOKENIZER: &str = "codexos_code";
const CHUNK_DOC: u64 = 0;
const FILE_DOC: u64 = 1;
const WRITER_MEMORY_BYTES: usize = 20 << 20;

/// Which documents a BM25 query ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocKind {
    /// One document per chunk: body, symbol path and file path.
    Chunk,
    /// One document per file: every chunk's text, symbols and the path.
    File,
}

/// How much each field counts in a BM25 query (0 leaves the field out).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldWeights {
    pub body: f32,
    pub symbol: f32,
    pub path: f32,
}

impl Default for FieldWeights {
    fn default() -> Self {
        Self {
            body: 1.0,
            symbol: 1.0,
            path: 1.0,
        }
    }
}

/// A document found by BM25: a chunk id or a file path.
#[derive(Clone, Debug, PartialEq)]
pub enum LexicalKey {
    Chunk(u32),
    File(String),
}

/// What the full-text index holds for one document.
pub(crate) struct FullTextDoc<'a> {
    pub key: LexicalKey,
    pub path: &'a str,
    pub language: &'a str,
    pub symbol: &'a str,
    pub body: &'a str,
}

#[derive(Clone, Copy)]
struct Fields {
    kind: Field,
    chunk_id: Field,
    file_key: Field,
    language: Field,
    path: Field,
    symbol: Field,
    body: Field,
}

struct Part {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let code = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(CODE_TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        kind: builder.add_u64_field("kind", INDEXED | FAST),
        chunk_id: builder.add_u64_field("chunk_id", INDEXED | FAST),
        file_key: builder.add_text_field("file_key", STRING | tantivy::schema::STORED),
        language: builder.add_text_field("language", STRING),
        path: builder.add_text_field("path", code.clone()),
        symbol: builder.add_text_field("symbol", code.clone()),
        body: builder.add_text_field("body", code),
    };
    (builder.build(), fields)
}

impl Part {
    /// Opens (or creates) the index in `dir`. A folder that does not hold a readable index
    /// (half-written, or from another schema) is wiped and created anew: it is derived data,
    /// and the caller rebuilds it from LMDB when its generation does not match.
    pub(crate) fn open(dir: &Path, writable: bool) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "create",
            path: dir.to_path_buf(),
            source,
        })?;
        let (schema, fields) = schema();
        let directory = || UnsyncedDirectory::open(dir).map_err(tantivy::TantivyError::from);
        let index = match directory().and_then(Index::open) {
            Ok(index) if index.schema() == schema => index,
            Ok(_) | Err(_) if writable => {
                let found_files =
                    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
                if found_files {
                    tracing::info!(path = %dir.display(), "full-text index unreadable or from another version; creating it anew");
                }
                std::fs::remove_dir_all(dir)
                    .and_then(|()| std::fs::create_dir_all(dir))
                    .map_err(|source| StoreError::Io {
                        action: "recreate",
                        path: dir.to_path_buf(),
                        source,
                    })?;
                directory()
                    .and_then(|directory| {
                        Index::create(directory, schema, tantivy::IndexSettings::default())
                    })
                    .at(dir)?
            }
            Ok(_) => {
                return Err(StoreError::Damaged {
                    path: dir.to_path_buf(),
                    message:
                        "the full-text index has another schema; run `codexos index` to rebuild it"
                            .into(),
                });
            }
            Err(error) => {
                return Err(StoreError::FullText {
                    path: dir.to_path_buf(),
                    source: error,
                });
            }
        };
        index
            .tokenizers()
            .register(CODE_TOKENIZER, CodeTokenizer::default());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .at(dir)?;
        let writer = if writable {
            Some(
                index
                    .writer_with_num_threads(1, WRITER_MEMORY_BYTES)
                    .at(dir)?,
            )
        } else {
            None
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
        })
    }

    /// The LMDB generation of the last commit, if the index has one.
    pub(crate) fn generation(&self) -> Option<u64> {
        self.payload_number(0)
    }

    /// The highest chunk id this part has ever been given (chunks only; `None` before the
    /// first commit that recorded it).
    pub(crate) fn highest_key(&self) -> Option<u64> {
        self.payload_number(1)
    }

    /// The commit payload is `GENERATION[ HIGHEST_KEY]`.
    fn payload_number(&self, position: usize) -> Option<u64> {
        let metas = self.index.load_metas().ok()?;
        metas
            .payload
            .as_deref()
            .and_then(|payload| payload.split(' ').nth(position)?.parse().ok())
    }

    /// The writer, held until [`PartWriter::commit`]; a read-only index has none.
    fn writer(&self) -> Result<PartWriter<'_>> {
        let guard = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            return Err(StoreError::ReadOnly {
                path: self.dir.clone(),
                action: "updating the full-text index",
            });
        }
        Ok(PartWriter {
            full_text: self,
            guard,
        })
    }

    /// Sees the latest commit (another process may have written it).
    pub(crate) fn refresh(&self) -> Result<()> {
        self.reader.reload().at(&self.dir)
    }

    /// Waits for the segment merges earlier commits started, then takes a fresh writer.
    fn wait_for_merges(&self) -> Result<()> {
        let mut guard = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(writer) = guard.take() {
            writer.wait_merging_threads().at(&self.dir)?;
            *guard = Some(
                self.index
                    .writer_with_num_threads(1, WRITER_MEMORY_BYTES)
                    .at(&self.dir)?,
            );
            self.reader.reload().at(&self.dir)?;
        }
        Ok(())
    }

    fn key_term(&self, key: &LexicalKey) -> Term {
        match key {
            LexicalKey::Chunk(id) => Term::from_field_u64(self.fields.chunk_id, u64::from(*id)),
            LexicalKey::File(path) => Term::from_field_text(self.fields.file_key, path),
        }
    }

    fn document(&self, doc: &FullTextDoc<'_>) -> TantivyDocument {
        let fields = self.fields;
        let mut document = TantivyDocument::default();
        match &doc.key {
            LexicalKey::Chunk(id) => {
                document.add_u64(fields.kind, CHUNK_DOC);
                document.add_u64(fields.chunk_id, u64::from(*id));
            }
            LexicalKey::File(path) => {
                document.add_u64(fields.kind, FILE_DOC);
                document.add_text(fields.file_key, path);
            }
        }
        document.add_text(fields.language, doc.language);
        let spaced_path = doc.path.replace(['/', '.', '-'], " ");
        document.add_text(fields.path, &spaced_path);
        document.add_text(fields.symbol, doc.symbol);
        document.add_text(fields.body, doc.body);
        // The path's words count as words of the text too, once (as a plain BM25 over
        // "path + content" does); the `path` field adds a separately weighted path match.
        document.add_text(fields.body, &spaced_path);
        document
    }

    /// The best `limit` documents of `kind` for the OR of `terms`, BM25-scored per field and
    /// weighted by `weights`; only documents in `language` when given.
    pub(crate) fn search(
        &self,
        kind: DocKind,
        terms: &[String],
        weights: FieldWeights,
        language: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(LexicalKey, f32)>> {
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let fields = self.fields;
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut unique: Vec<&String> = Vec::new();
        for term in terms {
            if !unique.contains(&term) {
                unique.push(term);
            }
        }
        for (field, weight) in [
            (fields.body, weights.body),
            (fields.symbol, weights.symbol),
            (fields.path, weights.path),
        ] {
            if weight <= 0.0 {
                continue;
            }
            for term in &unique {
                let query = TermQuery::new(
                    Term::from_field_text(field, term),
                    IndexRecordOption::WithFreqs,
                );
                should.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(query), weight)),
                ));
            }
        }
        // Each part holds one kind of document, so only a language narrows the union of terms.
        // Left alone, the union is what tantivy prunes with block-max WAND: it skips the blocks
        // of common words (`file`, `read`) that cannot reach the top `limit`, instead of scoring
        // every document that holds any query word.
        let terms_query = BooleanQuery::new(should);
        let query: Box<dyn Query> = match language {
            Some(language) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(terms_query) as Box<dyn Query>),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(
                        Box::new(TermQuery::new(
                            Term::from_field_text(fields.language, language),
                            IndexRecordOption::Basic,
                        )),
                        0.0,
                    )),
                ),
            ])),
            None => Box::new(terms_query),
        };
        let searcher = self.reader.searcher();
        let top = searcher
            .search(query.as_ref(), &TopDocs::with_limit(limit).order_by_score())
            .at(&self.dir)?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let key = match kind {
                DocKind::Chunk => {
                    let column = searcher
                        .segment_reader(address.segment_ord)
                        .fast_fields()
                        .u64("chunk_id")
                        .at(&self.dir)?;
                    let Some(id) = column.first(address.doc_id) else {
                        continue;
                    };
                    let Ok(id) = u32::try_from(id) else { continue };
                    LexicalKey::Chunk(id)
                }
                DocKind::File => {
                    let document: TantivyDocument = searcher.doc(address).at(&self.dir)?;
                    let Some(path) = document
                        .get_first(fields.file_key)
                        .and_then(|value| value.as_str())
                    else {
                        continue;
                    };
                    LexicalKey::File(path.to_owned())
                }
            };
            hits.push((key, score));
        }
        Ok(hits)
    }
}

/// Changes to one part, visible to searches after [`PartWriter::commit`].
struct PartWriter<'a> {
    full_text: &'a Part,
    guard: std::sync::MutexGuard<'a, Option<IndexWriter>>,
}

impl PartWriter<'_> {
    fn writer(&mut self) -> &mut IndexWriter {
        self.guard
            .as_mut()
            .expect("FullText::writer checked that the index is writable")
    }

    pub(crate) fn delete_all(&mut self) -> Result<()> {
        let dir = self.full_text.dir.clone();
        self.writer().delete_all_documents().at(&dir)?;
        Ok(())
    }

    pub(crate) fn delete(&mut self, key: &LexicalKey) {
        let term = self.full_text.key_term(key);
        self.writer().delete_term(term);
    }

    pub(crate) fn add(&mut self, doc: &FullTextDoc<'_>) -> Result<()> {
        let document = self.full_text.document(doc);
        let dir = self.full_text.dir.clone();
        self.writer().add_document(document).at(&dir)?;
        Ok(())
    }

    /// Lets searches see the last commit.
    fn reload(&self) -> Result<()> {
        let _step = tracing::debug_span!("full_text.reload").entered();
        self.full_text.reader.reload().at(&self.full_text.dir)
    }
}

/// Commits `writer`'s changes with the LMDB `generation` (and the highest key given, when the
/// part counts them) as payload.
fn commit_writer(
    writer: &mut IndexWriter,
    dir: &Path,
    generation: u64,
    highest_key: Option<u64>,
) -> Result<()> {
    let _step = tracing::debug_span!("full_text.commit").entered();
    let mut prepared = writer.prepare_commit().at(dir)?;
    prepared.set_payload(&match highest_key {
        Some(key) => format!("{generation} {key}"),
        None => generation.to_string(),
    });
    prepared.commit().at(dir)?;
    Ok(())
}

/// tantivy's face of [`for_each_term`].
#[derive(Clone, Default)]
struct CodeTokenizer {
    tokens: Vec<Token>,
}

struct CodeTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl Tokenizer for CodeTokenizer {
    type TokenStream<'a> = CodeTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.tokens.clear();
        let mut position = 0;
        for_each_term(text, |term, offset_from, offset_to| {
            self.tokens.push(Token {
                offset_from,
                offset_to,
                position,
                text: term.to_owned(),
                position_length: 1,
            });
            position += 1;
        });
        CodeTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

impl TokenStream for CodeTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// The full-text index: chunks and whole files in two tantivy indexes, so each has its own
/// BM25 statistics (document counts, average lengths) — mixed, short chunks would make every
/// file look long.
pub(crate) struct FullText {
    chunks: Part,
    files: Part,
}

impl FullText {
    pub(crate) fn open(dir: &Path, writable: bool) -> Result<Self> {
        Ok(Self {
            chunks: Part::open(&dir.join("chunks"), writable)?,
            files: Part::open(&dir.join("files"), writable)?,
        })
    }

    /// The LMDB generation both parts reflect, if both have one.
    pub(crate) fn generation(&self) -> Option<u64> {
        Some(self.chunks.generation()?.min(self.files.generation()?))
    }

    pub(crate) fn writer(&self) -> Result<FullTextWriter<'_>> {
        Ok(FullTextWriter {
            chunks: self.chunks.writer()?,
            files: self.files.writer()?,
            highest_chunk: self.chunks.highest_key(),
        })
    }

    pub(crate) fn refresh(&self) -> Result<()> {
        self.chunks.refresh()?;
        self.files.refresh()
    }

    pub(crate) fn wait_for_merges(&self) -> Result<()> {
        self.chunks.wait_for_merges()?;
        self.files.wait_for_merges()
    }

    pub(crate) fn search(
        &self,
        kind: DocKind,
        terms: &[String],
        weights: FieldWeights,
        language: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(LexicalKey, f32)>> {
        match kind {
            DocKind::Chunk => self.chunks.search(kind, terms, weights, language, limit),
            DocKind::File => self.files.search(kind, terms, weights, language, limit),
        }
    }
}

/// Changes to the full-text index, visible to searches after [`FullTextWriter::commit`].
pub(crate) struct FullTextWriter<'a> {
    chunks: PartWriter<'a>,
    files: PartWriter<'a>,
    /// The highest chunk id the chunks part has been given, as committed with it: a chunk id
    /// above it was never indexed, so adding it needs no delete first. Chunk ids are never
    /// reused, and the value commits atomically with the documents, so a replay after a crash
    /// still deletes what the lost commit may have added. `None`: unknown, delete every time.
    highest_chunk: Option<u64>,
}

impl FullTextWriter<'_> {
    pub(crate) fn delete_all(&mut self) -> Result<()> {
        self.chunks.delete_all()?;
        self.highest_chunk = Some(0);
        self.files.delete_all()
    }

    /// Adds (or replaces) a chunk's document. A new chunk (the common case of a bulk run) is
    /// added without a delete: each tantivy delete holds a query in memory until the segments
    /// have applied it (62 MB for 350k chunks).
    pub(crate) fn put_chunk(&mut self, id: ChunkId, doc: &FullTextDoc<'_>) -> Result<()> {
        let seen = self
            .highest_chunk
            .is_none_or(|highest| u64::from(id) <= highest);
        if seen {
            self.chunks.delete(&LexicalKey::Chunk(id));
        }
        if let Some(highest) = &mut self.highest_chunk {
            *highest = (*highest).max(u64::from(id));
        }
        self.chunks.add(doc)
    }

    pub(crate) fn delete(&mut self, key: &LexicalKey) {
        match key {
            LexicalKey::Chunk(_) => self.chunks.delete(key),
            LexicalKey::File(_) => self.files.delete(key),
        }
    }

    pub(crate) fn add(&mut self, doc: &FullTextDoc<'_>) -> Result<()> {
        match doc.key {
            LexicalKey::Chunk(_) => self.chunks.add(doc),
            LexicalKey::File(_) => self.files.add(doc),
        }
    }

    /// Commits both parts with the LMDB `generation` as payload, side by side, then lets
    /// searches see them. A part's commit is mostly tantivy handing its new segment and deletes
    /// between its own threads: committed together, a save waits for the slower part instead
    /// of both in turn (47 ms instead of about 53 ms at p50 in `codexos bench` on 300k chunks,
    /// medians of 10 interleaved runs on a shared 2-core machine).
    pub(crate) fn commit(mut self, generation: u64) -> Result<()> {
        let _step = tracing::debug_span!("full_text.commit_parts").entered();
        let files_dir = self.files.full_text.dir.clone();
        let chunks_dir = self.chunks.full_text.dir.clone();
        let files_writer = self.files.writer();
        let chunks_writer = self.chunks.writer();
        let highest_chunk = self.highest_chunk;
        let (chunks_committed, files_committed) = std::thread::scope(|scope| {
            let files = scope.spawn(|| commit_writer(files_writer, &files_dir, generation, None));
            let chunks = commit_writer(chunks_writer, &chunks_dir, generation, highest_chunk);
            (chunks, files.join())
        });
        chunks_committed?;
        files_committed.map_err(|_| StoreError::FullText {
            path: files_dir.clone(),
            source: tantivy::TantivyError::ErrorInThread("the commit thread panicked".into()),
        })??;
        self.chunks.reload()?;
        self.files.reload()
    }
}
