//! The team's shared base index on a Chroma server (`chroma run`), spoken to over its REST API
//! v2 with reqwest: no Python at run time.
//!
//! `chroma://HOST:PORT/NAME` names a server and a family of collections: one collection per
//! vector space, `NAME-<space key>`, because vectors of two models cannot be compared. Each
//! record is one chunk: its id is the hash of what the chunk is ([`chunk_id`]: path, lines,
//! symbol, language, text), its document is the chunk's text, its metadata says where it is
//! ([`ChunkMetadata`]) and its embedding is the publisher's vector. The collection's own
//! metadata holds `base_commit`, the commit the base was published from, written after the
//! chunks so a client never sees a commit whose chunks are not all there yet.
//!
//! The same server keeps plain document records too ([`Record`]: a document and scalar
//! metadata, read by id and metadata filters, [`Chroma::put_records`], [`Chroma::records`]):
//! `codexos serve`'s run store, `NAME-runs`.
//!
//! Every request has a short timeout: a caller that searches falls back to its local index
//! when the server is down or slow ([`SharedError`] says which URL and why).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Chroma's own tenant and database: a team's collections live there.
const COLLECTIONS: &str = "/api/v2/tenants/default_tenant/databases/default_database/collections";
/// Records per add or delete request: well under Chroma's maximum batch size (`pre-flight-checks`).
pub const BATCH: usize = 1000;
/// Files' term documents per upsert.
const FILE_BATCH: usize = 100;
/// Ids fetched per page when listing what a collection holds. Chroma pages by offset, so each
/// page costs more the further it starts (over 362,000 ids, pages of 10,000 took 86–382 ms
/// each): pages as large as Chroma's SQLite takes (a page of 50,000 fails with "too many SQL
/// variables": its limit is 32,766).
const ID_PAGE: usize = 30_000;

#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("`{url}` is not a shared index URL: {reason} (expected chroma://HOST:PORT/COLLECTION)")]
    Url { url: String, reason: String },
    #[error("{url}: {reason}")]
    Request { url: String, reason: String },
    #[error("{url}: the server answered {status}: {body}")]
    Server {
        url: String,
        status: u16,
        body: String,
    },
}

/// `chroma://HOST:PORT/COLLECTION`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedUrl {
    /// As written, for messages.
    pub url: String,
    /// `http://HOST:PORT`.
    pub server: String,
    pub collection: String,
}

impl FromStr for SharedUrl {
    type Err = SharedError;

    fn from_str(url: &str) -> Result<Self, SharedError> {
        let error = |reason: &str| SharedError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("chroma://")
            .ok_or_else(|| error("it does not start with chroma://"))?;
        let (host, collection) = rest
            .split_once('/')
            .ok_or_else(|| error("it names no collection"))?;
        if host.is_empty() || host.contains(['@', '?', '#']) {
            return Err(error("it names no host"));
        }
        if !valid_name(collection) {
            return Err(error(
                "a collection name is 3 to 63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
            ));
        }
        let server = if host.contains(':') {
            format!("http://{host}")
        } else {
            format!("http://{host}:8000")
        };
        Ok(SharedUrl {
            url: url.to_owned(),
            server,
            collection: collection.to_owned(),
        })
    }
}

/// Chroma's rule for collection names (the space key is appended, so keep room for it).
fn valid_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && edge(name.chars().next())
        && edge(name.chars().last())
}

/// Where a chunk is: what a search hit shows and what the overlay filters on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMetadata {
    /// Workspace-relative, `/`-separated.
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    #[serde(default)]
    pub symbol: String,
    #[serde(default)]
    pub language: String,
    /// The commit the publisher's index took this chunk's text at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// [`chunk_id`], again: Chroma's `get` and `query` answers carry ids beside the metadata,
    /// this keeps a record self-describing for tools that read only metadata.
    pub chunk_hash: String,
}

/// The id of a chunk in the shared base: the hash of what a search shows of it, so the same
/// chunk published twice is one record and a chunk whose text or place changed is a new one.
/// The commit is left out: an unchanged chunk keeps its record across publishes.
pub fn chunk_id(
    path: &str,
    start_line: u32,
    end_line: u32,
    symbol: &str,
    language: &str,
    text: &str,
) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in [path, symbol, language] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.update(&start_line.to_le_bytes());
    hasher.update(&end_line.to_le_bytes());
    hasher.update(text.as_bytes());
    hasher.finalize().to_hex()[..32].to_owned()
}

/// One chunk to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishedChunk {
    pub meta: ChunkMetadata,
    pub text: String,
    pub vector: Vec<f32>,
}

/// A chunk of the base that answered a query.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseHit {
    pub meta: ChunkMetadata,
    pub text: String,
    /// Cosine similarity to the query, 1 the best.
    pub similarity: f32,
}

/// One vector space's collection on the server.
#[derive(Clone, Debug, PartialEq)]
pub struct Collection {
    pub id: String,
    pub name: String,
    /// The commit the base was last published from.
    pub base_commit: Option<String>,
    /// Absent on a base published before BM25 statistics were.
    pub lexical: Option<LexicalStats>,
}

/// The base's BM25 statistics, so a client ranks base and overlay chunks by the same numbers:
/// for its chunks and for its whole files, how many there are and their average length in
/// terms per field (body, symbol path, file path). The document frequencies live in the terms
/// collection ([`Chroma::document_frequencies`]), the files' term counts in the files
/// collection ([`Chroma::files_holding`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LexicalStats {
    pub chunks: CorpusStats,
    pub files: CorpusStats,
}

/// How many documents a corpus holds and their average length in terms, per field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CorpusStats {
    pub documents: u64,
    pub average_lengths: [f32; 3],
}

/// Metadata keys of [`LexicalStats`] on the chunk collection: the count, then the lengths.
const STATS_CHUNKS: [&str; 4] = [
    "bm25_chunks",
    "bm25_avg_body",
    "bm25_avg_symbol",
    "bm25_avg_path",
];
const STATS_FILES: [&str; 4] = [
    "bm25_files",
    "bm25_file_avg_body",
    "bm25_file_avg_symbol",
    "bm25_file_avg_path",
];
/// Records that are read by id and metadata only (side collections, run records) carry a
/// one-dimensional vector: Chroma wants one per record.
const SIDE_VECTOR: [f32; 1] = [1.0];

/// A side collection of the base, beside its chunks (`NAME-<space>-terms`, `…-files`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// One record per term the base holds in at least two documents: id `field:term`,
    /// metadata `df`.
    Terms,
    /// One record per file: id the hash of its path and terms (what a publish compares),
    /// document its path, a newline and its terms with their counts (` term:count `), metadata
    /// `path` and `terms` (the distinct ones). Answers read the path from the document: a
    /// metadata list is slow to read back.
    Files,
}

impl Side {
    fn suffix(self) -> &'static str {
        match self {
            Side::Terms => "terms",
            Side::Files => "files",
        }
    }
}

/// A base file's terms, from the files collection.
#[derive(Clone, Debug, PartialEq)]
pub struct FileTerms {
    pub path: String,
    /// ` term:count term:count ` (see [`Side::Files`]).
    pub document: String,
}

/// One file to publish into the files collection.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishedFile {
    pub path: String,
    pub document: String,
    /// Its distinct terms, what [`Chroma::files_holding`] looks a query's rarest up in.
    pub terms: Vec<String>,
    /// Its record's id: the hash of its path and document.
    pub hash: String,
}

/// A record of a collection used as a document store: a document and scalar metadata
/// (strings, numbers, booleans) to filter on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    pub id: String,
    pub document: Option<String>,
    pub metadata: serde_json::Map<String, Value>,
}

/// Which records [`Chroma::records`] reads.
#[derive(Clone, Debug, Default)]
pub struct RecordQuery {
    pub ids: Option<Vec<String>>,
    /// A Chroma `where` filter on the metadata.
    pub filter: Option<Value>,
    pub limit: Option<usize>,
    /// Whether to read the documents too (else the metadata only).
    pub documents: bool,
}

/// A Chroma server's collections for one `chroma://` URL.
pub struct Chroma {
    url: SharedUrl,
    client: reqwest::Client,
    /// Its own single-threaded runtime, driven from a scoped thread per request: the index
    /// calls this from plain threads, `spawn_blocking` and async tasks alike (as the HTTP
    /// embedder does).
    runtime: Option<tokio::runtime::Runtime>,
    bytes_sent: std::sync::atomic::AtomicU64,
}

impl Chroma {
    /// A client for `url` whose every request gives up after `timeout`. Sends nothing yet.
    pub fn new(url: SharedUrl, timeout: Duration) -> Result<Self, SharedError> {
        install_crypto_provider();
        let error = |reason: String| SharedError::Request {
            url: url.url.clone(),
            reason,
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| error(format!("cannot build the HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| error(format!("cannot start the HTTP runtime: {e}")))?;
        Ok(Chroma {
            url,
            client,
            runtime: Some(runtime),
            bytes_sent: Default::default(),
        })
    }

    pub fn url(&self) -> &SharedUrl {
        &self.url
    }

    /// Request bodies sent so far, in bytes.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The collection of the vector space `space_key`.
    pub fn collection_name(&self, space_key: &str) -> String {
        let space: String = space_key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!(
            "{}-{}",
            self.url.collection,
            space.trim_matches(['.', '_', '-'])
        )
    }

    /// The space's collection, or `None` when nothing was published in it.
    pub fn open_collection(&self, space_key: &str) -> Result<Option<Collection>, SharedError> {
        let name = self.collection_name(space_key);
        match self.request(reqwest::Method::GET, &format!("{COLLECTIONS}/{name}"), None) {
            Ok(answer) => collection_of(answer).map(Some),
            Err(error) if is_missing(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The space's collection, created (cosine distance) when missing.
    pub fn create_collection(&self, space_key: &str) -> Result<Collection, SharedError> {
        let body = json!({
            "name": self.collection_name(space_key),
            "get_or_create": true,
            "configuration": {"hnsw": {"space": "cosine"}},
        });
        collection_of(self.request(reqwest::Method::POST, COLLECTIONS, Some(body))?)
    }

    /// Every record id the collection holds.
    pub fn ids(&self, collection: &Collection) -> Result<HashSet<String>, SharedError> {
        let mut ids = HashSet::new();
        loop {
            let answer = self.get(
                collection,
                json!({"limit": ID_PAGE, "offset": ids.len(), "include": []}),
            )?;
            let page: Vec<String> = field(&answer, "ids", &self.url.url)?;
            let full = page.len() == ID_PAGE;
            ids.extend(page);
            if !full {
                return Ok(ids);
            }
        }
    }

    /// Adds chunks under their [`ChunkMetadata::chunk_hash`] (at most [`BATCH`] a request).
    pub fn add(
        &self,
        collection: &Collection,
        chunks: &[PublishedChunk],
    ) -> Result<(), SharedError> {
        for batch in chunks.chunks(BATCH) {
            let body = json!({
                "ids": batch.iter().map(|c| &c.meta.chunk_hash).collect::<Vec<_>>(),
                "documents": batch.iter().map(|c| &c.text).collect::<Vec<_>>(),
                "metadatas": batch.iter().map(|c| &c.meta).collect::<Vec<_>>(),
                "embeddings": batch.iter().map(|c| vector_base64(&c.vector)).collect::<Vec<_>>(),
            });
            self.upsert(collection, body)?;
        }
        Ok(())
    }

    pub fn delete(&self, collection: &Collection, ids: &[String]) -> Result<(), SharedError> {
        for batch in ids.chunks(BATCH) {
            self.request(
                reqwest::Method::POST,
                &format!("{COLLECTIONS}/{}/delete", collection.id),
                Some(json!({"ids": batch})),
            )?;
        }
        Ok(())
    }

    /// Records that the collection now holds the base of `commit`, whose BM25 statistics are
    /// `lexical`.
    pub fn set_base_commit(
        &self,
        collection: &Collection,
        commit: &str,
        lexical: &LexicalStats,
    ) -> Result<(), SharedError> {
        let mut metadata = serde_json::Map::new();
        metadata.insert("base_commit".into(), json!(commit));
        for (keys, corpus) in [(STATS_CHUNKS, lexical.chunks), (STATS_FILES, lexical.files)] {
            metadata.insert(keys[0].into(), json!(corpus.documents));
            for (key, length) in keys[1..].iter().zip(corpus.average_lengths) {
                metadata.insert((*key).into(), json!(length));
            }
        }
        self.request(
            reqwest::Method::PUT,
            &format!("{COLLECTIONS}/{}", collection.id),
            Some(json!({ "new_metadata": metadata })),
        )?;
        Ok(())
    }

    /// The `side` collection beside `collection`, created when `create`, else `None` when
    /// missing.
    pub fn side_collection(
        &self,
        collection: &Collection,
        side: Side,
        create: bool,
    ) -> Result<Option<Collection>, SharedError> {
        let name = format!("{}-{}", collection.name, side.suffix());
        if create {
            let body = json!({"name": name, "get_or_create": true});
            return collection_of(self.request(reqwest::Method::POST, COLLECTIONS, Some(body))?)
                .map(Some);
        }
        match self.request(reqwest::Method::GET, &format!("{COLLECTIONS}/{name}"), None) {
            Ok(answer) => collection_of(answer).map(Some),
            Err(error) if is_missing(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The document frequencies of `ids` (`field:term`) in the terms collection; a term it
    /// does not hold is left out (it is in one document of the base, or none).
    pub fn document_frequencies(
        &self,
        terms: &Collection,
        ids: &[String],
    ) -> Result<HashMap<String, u64>, SharedError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let answer = self.get(terms, json!({"ids": ids, "include": ["metadatas"]}))?;
        self.metadata_values(&answer, "df")
    }

    /// Every record of a side collection with its metadata value `key` (`df` of the terms,
    /// `hash` of the files): what a publish compares with what it would write.
    pub fn side_values(
        &self,
        side: &Collection,
        key: &str,
    ) -> Result<HashMap<String, Value>, SharedError> {
        let mut all = HashMap::new();
        let mut offset = 0;
        loop {
            let answer = self.get(
                side,
                json!({"limit": ID_PAGE, "offset": offset, "include": ["metadatas"]}),
            )?;
            let ids: Vec<String> = field(&answer, "ids", &self.url.url)?;
            let metadatas: Vec<Option<serde_json::Map<String, Value>>> =
                field(&answer, "metadatas", &self.url.url)?;
            let page = ids.len();
            offset += page;
            all.extend(
                ids.into_iter()
                    .zip(metadatas)
                    .filter_map(|(id, metadata)| Some((id, metadata?.get(key)?.clone()))),
            );
            if page < ID_PAGE {
                return Ok(all);
            }
        }
    }

    /// Writes document frequencies (at most [`BATCH`] a request).
    pub fn put_document_frequencies(
        &self,
        terms: &Collection,
        frequencies: &[(String, u64)],
    ) -> Result<(), SharedError> {
        for batch in frequencies.chunks(BATCH) {
            self.upsert(
                terms,
                json!({
                    "ids": batch.iter().map(|(id, _)| id).collect::<Vec<_>>(),
                    "metadatas": batch.iter().map(|(_, df)| json!({"df": df})).collect::<Vec<_>>(),
                    "embeddings": batch.iter().map(|_| SIDE_VECTOR).collect::<Vec<_>>(),
                }),
            )?;
        }
        Ok(())
    }

    /// Writes files' term documents (a hundred a request: they are a few KB each).
    pub fn put_files(
        &self,
        files: &Collection,
        batch: &[PublishedFile],
    ) -> Result<(), SharedError> {
        for batch in batch.chunks(FILE_BATCH) {
            self.upsert(
                files,
                json!({
                    "ids": batch.iter().map(|file| &file.hash).collect::<Vec<_>>(),
                    "documents": batch
                        .iter()
                        .map(|file| format!("{}\n{}", file.path, file.document))
                        .collect::<Vec<_>>(),
                    "metadatas": batch
                        .iter()
                        .map(|file| {
                            let mut metadata = json!({"path": file.path});
                            // Chroma refuses an empty list.
                            if !file.terms.is_empty() {
                                metadata["terms"] = json!(file.terms);
                            }
                            metadata
                        })
                        .collect::<Vec<_>>(),
                    "embeddings": batch.iter().map(|_| SIDE_VECTOR).collect::<Vec<_>>(),
                }),
            )?;
        }
        Ok(())
    }

    /// What a `get` of `collection` with `body` (`ids`, `where`, `include`, …) answers.
    fn get(&self, collection: &Collection, body: Value) -> Result<Value, SharedError> {
        self.request(
            reqwest::Method::POST,
            &format!("{COLLECTIONS}/{}/get", collection.id),
            Some(body),
        )
    }

    /// Adds or replaces the records of one request's `body` (`ids`, `embeddings`, …).
    fn upsert(&self, collection: &Collection, body: Value) -> Result<(), SharedError> {
        self.request(
            reqwest::Method::POST,
            &format!("{COLLECTIONS}/{}/upsert", collection.id),
            Some(body),
        )?;
        Ok(())
    }

    /// The term documents of the base's files at `paths`.
    pub fn files_named(
        &self,
        files: &Collection,
        paths: &[String],
    ) -> Result<Vec<FileTerms>, SharedError> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        self.file_documents(
            files,
            json!({"where": {"path": {"$in": paths}}, "include": ["documents"]}),
        )
    }

    /// The term documents of up to `limit` base files holding one of `terms` whole, in no
    /// particular order.
    pub fn files_holding(
        &self,
        files: &Collection,
        terms: &[&str],
        limit: usize,
    ) -> Result<Vec<FileTerms>, SharedError> {
        let terms: Vec<String> = terms.iter().map(|term| (*term).to_owned()).collect();
        let Some(holding) = any_term(&terms) else {
            return Ok(Vec::new());
        };
        self.file_documents(
            files,
            json!({"limit": limit, "include": ["documents"], "where": holding}),
        )
    }

    /// The files collection's records a `get` with `body` answers, as term documents.
    fn file_documents(
        &self,
        files: &Collection,
        body: Value,
    ) -> Result<Vec<FileTerms>, SharedError> {
        let answer = self.get(files, body)?;
        let documents: Vec<Option<String>> = field(&answer, "documents", &self.url.url)?;
        Ok(documents
            .into_iter()
            .flatten()
            .filter_map(|document| {
                let (path, document) = document.split_once('\n')?;
                Some(FileTerms {
                    path: path.to_owned(),
                    document: document.to_owned(),
                })
            })
            .collect())
    }

    fn metadata_values(
        &self,
        answer: &Value,
        key: &str,
    ) -> Result<HashMap<String, u64>, SharedError> {
        let ids: Vec<String> = field(answer, "ids", &self.url.url)?;
        let metadatas: Vec<Option<serde_json::Map<String, Value>>> =
            field(answer, "metadatas", &self.url.url)?;
        Ok(ids
            .into_iter()
            .zip(metadatas)
            .filter_map(|(id, metadata)| Some((id, metadata?.get(key)?.as_u64()?)))
            .collect())
    }

    /// The `n` chunks nearest to `vector` (of `language` only, when given), nearest first.
    /// No other filter: Chroma's local server scans its metadata for every filtered query
    /// (~0.1–0.5 s at 360,000 chunks, against ~20 ms unfiltered), so callers drop what they
    /// answer for themselves from the answer.
    pub fn query(
        &self,
        collection: &Collection,
        vector: &[f32],
        n: usize,
        language: Option<&str>,
    ) -> Result<Vec<BaseHit>, SharedError> {
        let mut body = json!({
            "query_embeddings": [vector],
            "n_results": n.max(1),
            "include": ["documents", "metadatas", "distances"],
        });
        if let Some(language) = language {
            body["where"] = json!({"language": {"$eq": language}});
        }
        let answer = self.request(
            reqwest::Method::POST,
            &format!("{COLLECTIONS}/{}/query", collection.id),
            Some(body),
        )?;
        let first = |name: &str| -> Result<Vec<Value>, SharedError> {
            let lists: Vec<Vec<Value>> = field(&answer, name, &self.url.url)?;
            Ok(lists.into_iter().next().unwrap_or_default())
        };
        let (documents, metadatas, distances) = (
            first("documents")?,
            first("metadatas")?,
            first("distances")?,
        );
        let similarities = distances
            .into_iter()
            .map(|distance| 1.0 - distance.as_f64().unwrap_or(1.0) as f32);
        Ok(hits(documents, metadatas, similarities))
    }

    /// The vectors of the chunks `ids` names that the collection holds, by id.
    pub fn vectors(
        &self,
        collection: &Collection,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<f32>>, SharedError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let answer = self.get(collection, json!({"ids": ids, "include": ["embeddings"]}))?;
        let ids: Vec<String> = field(&answer, "ids", &self.url.url)?;
        let vectors: Vec<Vec<f32>> = field(&answer, "embeddings", &self.url.url)?;
        Ok(ids.into_iter().zip(vectors).collect())
    }

    /// Writes whole records (document and metadata replaced together, so a reader sees the
    /// old record or the new one, never a mix), at most [`BATCH`] a request. Collections of
    /// such records are read by id and metadata, never by vector search, but Chroma wants a
    /// vector per record: each gets the same one-dimensional [`SIDE_VECTOR`].
    pub fn put_records(
        &self,
        collection: &Collection,
        records: &[Record],
    ) -> Result<(), SharedError> {
        for batch in records.chunks(BATCH) {
            let body = json!({
                "ids": batch.iter().map(|r| &r.id).collect::<Vec<_>>(),
                "documents": batch.iter().map(|r| r.document.as_deref().unwrap_or_default()).collect::<Vec<_>>(),
                "metadatas": batch.iter().map(|r| &r.metadata).collect::<Vec<_>>(),
                "embeddings": batch.iter().map(|_| SIDE_VECTOR).collect::<Vec<_>>(),
            });
            self.upsert(collection, body)?;
        }
        Ok(())
    }

    /// The records `query` selects, in the server's order (Chroma's `get` does not sort).
    pub fn records(
        &self,
        collection: &Collection,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, SharedError> {
        let mut include = vec!["metadatas"];
        if query.documents {
            include.push("documents");
        }
        let mut body = json!({ "include": include });
        if let Some(ids) = &query.ids {
            body["ids"] = json!(ids);
        }
        if let Some(filter) = &query.filter {
            body["where"] = filter.clone();
        }
        if let Some(limit) = query.limit {
            body["limit"] = json!(limit);
        }
        let answer = self.get(collection, body)?;
        let ids: Vec<String> = field(&answer, "ids", &self.url.url)?;
        let metadatas: Vec<Option<serde_json::Map<String, Value>>> =
            field(&answer, "metadatas", &self.url.url)?;
        let documents: Vec<Option<String>> = match query.documents {
            true => field(&answer, "documents", &self.url.url)?,
            false => Vec::new(),
        };
        let mut documents = documents.into_iter();
        Ok(ids
            .into_iter()
            .zip(metadatas)
            .map(|(id, metadata)| Record {
                id,
                document: documents.next().flatten(),
                metadata: metadata.unwrap_or_default(),
            })
            .collect())
    }

    /// One request and its JSON answer; any failure names the URL.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, SharedError> {
        let error = |reason: String| SharedError::Request {
            url: self.url.url.clone(),
            reason,
        };
        let Some(runtime) = &self.runtime else {
            return Err(error("the client is shutting down".into()));
        };
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url.server));
        if let Some(body) = body {
            let bytes = serde_json::to_vec(&body).map_err(|e| error(e.to_string()))?;
            self.bytes_sent
                .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let exchange = async {
            let response = request.send().await.map_err(|e| error(describe(&e)))?;
            let status = response.status();
            let text = response.text().await.map_err(|e| error(describe(&e)))?;
            if !status.is_success() {
                return Err(SharedError::Server {
                    url: self.url.url.clone(),
                    status: status.as_u16(),
                    body: text.chars().take(300).collect(),
                });
            }
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(&text)
                .map_err(|e| error(format!("an answer that is not JSON: {e}")))
        };
        std::thread::scope(|scope| scope.spawn(|| runtime.block_on(exchange)).join())
            .map_err(|_| error("the HTTP request thread panicked".into()))?
    }
}

impl Drop for Chroma {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A vector as Chroma also takes it: its little-endian `f32`s in base64, 5.3 characters a
/// component where JSON numbers take about 11.
fn vector_base64(vector: &[f32]) -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = vector
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A `where` clause keeping records whose `terms` list holds one of `terms`.
fn any_term(terms: &[String]) -> Option<Value> {
    let clauses = terms
        .iter()
        .map(|term| json!({"terms": {"$contains": term}}))
        .collect();
    any_of(clauses)
}

fn any_of(mut clauses: Vec<Value>) -> Option<Value> {
    match clauses.len() {
        0 => None,
        1 => clauses.pop(),
        _ => Some(json!({ "$or": clauses })),
    }
}

/// The chunks of an answer's documents and metadatas, with their similarities.
fn hits(
    documents: Vec<Value>,
    metadatas: Vec<Value>,
    similarities: impl Iterator<Item = f32>,
) -> Vec<BaseHit> {
    documents
        .into_iter()
        .zip(metadatas)
        .zip(similarities)
        .filter_map(|((document, metadata), similarity)| {
            // A record some other writer put there has no chunk metadata.
            let meta = serde_json::from_value::<ChunkMetadata>(metadata).ok()?;
            Some(BaseHit {
                meta,
                text: document.as_str().unwrap_or_default().to_owned(),
                similarity,
            })
        })
        .collect()
}

/// reqwest's error with its causes ("error sending request" alone says little).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Chroma 1.x answers a missing collection with 400 or 404 depending on the route.
fn is_missing(error: &SharedError) -> bool {
    match error {
        SharedError::Server { status: 404, .. } => true,
        SharedError::Server {
            status: 400, body, ..
        } => body.contains("does not exist"),
        _ => false,
    }
}

fn collection_of(answer: Value) -> Result<Collection, SharedError> {
    #[derive(Deserialize)]
    struct Answer {
        id: String,
        name: String,
        #[serde(default)]
        metadata: Option<serde_json::Map<String, Value>>,
    }
    let answer: Answer = serde_json::from_value(answer).map_err(|e| SharedError::Request {
        url: String::new(),
        reason: format!("an unexpected collection: {e}"),
    })?;
    let metadata = answer.metadata.unwrap_or_default();
    let corpus = |keys: [&str; 4]| {
        let [documents, body, symbol, path] = keys.map(|key| metadata.get(key)?.as_f64());
        Some(CorpusStats {
            documents: documents? as u64,
            average_lengths: [body? as f32, symbol? as f32, path? as f32],
        })
    };
    let lexical = corpus(STATS_CHUNKS)
        .zip(corpus(STATS_FILES))
        .map(|(chunks, files)| LexicalStats { chunks, files });
    Ok(Collection {
        id: answer.id,
        name: answer.name,
        base_commit: metadata
            .get("base_commit")
            .and_then(Value::as_str)
            .map(str::to_owned),
        lexical,
    })
}

fn field<T: serde::de::DeserializeOwned>(
    answer: &Value,
    name: &str,
    url: &str,
) -> Result<T, SharedError> {
    serde_json::from_value(answer.get(name).cloned().unwrap_or(Value::Null)).map_err(|e| {
        SharedError::Request {
            url: url.to_owned(),
            reason: format!("an answer without its `{name}`: {e}"),
        }
    })
}

/// reqwest is built without a bundled crypto backend; a `chroma://` URL is plain HTTP, but the
/// client builder still wants a process default (one installed earlier is kept).
fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chroma_url_names_the_server_and_the_collection() {
        let url: SharedUrl = "chroma://127.0.0.1:8123/team-main".parse().expect("parses");
        assert_eq!(
            (url.server.as_str(), url.collection.as_str()),
            ("http://127.0.0.1:8123", "team-main")
        );
        let default_port: SharedUrl = "chroma://chroma.internal/main".parse().expect("parses");
        assert_eq!(default_port.server, "http://chroma.internal:8000");
        for bad in [
            "http://host/x",
            "chroma://host",
            "chroma://host/a",
            "chroma://host/a b c",
        ] {
            assert!(bad.parse::<SharedUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_space_key_becomes_a_valid_collection_suffix() {
        let chroma = Chroma::new(
            "chroma://h:1/main".parse().expect("parses"),
            Duration::from_secs(1),
        )
        .expect("client");
        assert_eq!(
            chroma.collection_name("static/minilm d256:v1"),
            "main-static-minilm-d256-v1"
        );
    }

    #[test]
    fn a_chunk_id_changes_with_its_text_or_place_but_not_with_nothing() {
        let id = chunk_id("src/a.rs", 1, 3, "a", "rust", "fn a() {}");
        assert_eq!(id, chunk_id("src/a.rs", 1, 3, "a", "rust", "fn a() {}"));
        assert_ne!(id, chunk_id("src/a.rs", 2, 4, "a", "rust", "fn a() {}"));
        assert_ne!(id, chunk_id("src/b.rs", 1, 3, "a", "rust", "fn a() {}"));
        assert_ne!(id, chunk_id("src/a.rs", 1, 3, "a", "rust", "fn b() {}"));
        assert_eq!(id.len(), 32);
    }
}
