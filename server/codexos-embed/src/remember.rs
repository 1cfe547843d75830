//! Vectors remembered on disk by the blake3 of their text: running the same texts again (the
//! commit benchmark over many parent trees, a re-run with other search parameters) costs a
//! lookup instead of a forward pass of the model.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::{EmbedError, Embedder, SpaceId};

type Key = [u8; 32];

/// An embedder that remembers its vectors in a file of fixed-size records (the text's blake3,
/// then the vector's little-endian floats). A record cut short by a crash is dropped on open.
/// One file per vector space: name it after [`SpaceId::key`].
pub struct RememberingEmbedder {
    inner: Arc<dyn Embedder>,
    known: Mutex<HashMap<Key, Vec<f32>>>,
    file: Mutex<std::io::BufWriter<std::fs::File>>,
    path: PathBuf,
}

impl RememberingEmbedder {
    pub fn open(inner: Arc<dyn Embedder>, path: &Path) -> Result<Self, EmbedError> {
        let io = |error: std::io::Error| EmbedError::Model {
            model: format!("remembered vectors at {}", path.display()),
            reason: error.to_string(),
        };
        let record = 32 + 4 * inner.dim();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(io(error)),
        };
        let mut known = HashMap::new();
        for chunk in bytes.chunks_exact(record) {
            let (key, floats) = chunk.split_at(32);
            let mut hash: Key = [0; 32];
            hash.copy_from_slice(key);
            let vector = floats
                .chunks_exact(4)
                .map(|float| f32::from_le_bytes([float[0], float[1], float[2], float[3]]))
                .collect();
            known.insert(hash, vector);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let whole = (bytes.len() / record * record) as u64;
        if whole != bytes.len() as u64 {
            file.set_len(whole).map_err(io)?;
        }
        Ok(Self {
            inner,
            known: Mutex::new(known),
            file: Mutex::new(std::io::BufWriter::new(file)),
            path: path.to_path_buf(),
        })
    }

    fn remember(&self, records: &[(Key, &[f32])]) -> std::io::Result<()> {
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (key, vector) in records {
            file.write_all(key)?;
            for value in *vector {
                file.write_all(&value.to_le_bytes())?;
            }
        }
        file.flush()
    }
}

impl Embedder for RememberingEmbedder {
    fn space(&self) -> &SpaceId {
        self.inner.space()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let keys: Vec<Key> = texts
            .iter()
            .map(|text| *blake3::hash(text.as_bytes()).as_bytes())
            .collect();
        let mut vectors: Vec<Option<Vec<f32>>> = {
            let known = self
                .known
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            keys.iter().map(|key| known.get(key).cloned()).collect()
        };
        let unknown: Vec<usize> = (0..texts.len())
            .filter(|&index| vectors[index].is_none())
            .collect();
        if unknown.is_empty() {
            return Ok(vectors.into_iter().flatten().collect());
        }
        let fresh = self.inner.embed(
            &unknown
                .iter()
                .map(|&index| texts[index])
                .collect::<Vec<_>>(),
        )?;
        if fresh.len() != unknown.len() {
            return Err(EmbedError::WrongCount {
                embedder: self.space().to_string(),
                expected: unknown.len(),
                got: fresh.len(),
            });
        }
        let records: Vec<(Key, &[f32])> = unknown
            .iter()
            .zip(&fresh)
            .map(|(&index, vector)| (keys[index], vector.as_slice()))
            .collect();
        // Remembering is an optimisation: a full disk costs speed, never an answer.
        if let Err(error) = self.remember(&records) {
            tracing::warn!(path = %self.path.display(), "cannot remember vectors: {error}");
        }
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (&index, vector) in unknown.iter().zip(fresh) {
            known.insert(keys[index], vector.clone());
            vectors[index] = Some(vector);
        }
        Ok(vectors.into_iter().flatten().collect())
    }

    fn embed_query(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        self.inner.embed_query(query)
    }

    fn has_meaning_queries(&self) -> bool {
        self.inner.has_meaning_queries()
    }

    fn embed_query_meaning(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        self.inner.embed_query_meaning(query)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::HashingEmbedder;

    #[derive(Default)]
    struct Counting {
        inner: HashingEmbedder,
        texts: AtomicUsize,
    }

    impl Embedder for Counting {
        fn space(&self) -> &SpaceId {
            self.inner.space()
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.texts.fetch_add(texts.len(), Ordering::SeqCst);
            self.inner.embed(texts)
        }
    }

    #[test]
    fn remembered_texts_are_not_embedded_again_even_after_a_reopen_or_a_torn_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        let counting = Arc::new(Counting::default());
        let first = {
            let remembering = RememberingEmbedder::open(counting.clone(), &path).unwrap();
            remembering
                .embed(&["fn alpha() {}", "fn beta() {}"])
                .unwrap()
        };
        // A crash in the middle of a record.
        let length = std::fs::metadata(&path).unwrap().len();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&[7; 40]).unwrap();
        drop(file);

        let remembering = RememberingEmbedder::open(counting.clone(), &path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), length);
        let again = remembering
            .embed(&["fn beta() {}", "fn gamma() {}", "fn alpha() {}"])
            .unwrap();
        assert_eq!(
            counting.texts.load(Ordering::SeqCst),
            3,
            "only gamma is new"
        );
        assert_eq!((&again[0], &again[2]), (&first[1], &first[0]));
        assert_eq!(
            again[1],
            counting.inner.embed(&["fn gamma() {}"]).unwrap()[0]
        );
    }
}
