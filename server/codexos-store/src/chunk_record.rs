//! Chunk metadata as LMDB holds it: what the chunk has of its own, with what every chunk of a
//! file shares (path, language, commit) stored once per file write, in a [`FileHead`] keyed by
//! the file's first chunk id. A chunk refers to its head by its distance from that id.
//!
//! A record is a flags byte, then varints and length-prefixed strings:
//! `flags · distance · [path] · [language] · [commit] · kind · symbol · start_line ·
//! end_line − start_line · byte_start · byte_end − byte_start · symbols`, each symbol
//! `shared prefix with the chunk's symbol · rest · kind · start_line · end_line − start_line`.
//! The bracketed fields are there only when the chunk differs from its file (flags say which),
//! so any [`ChunkMeta`] comes back as it went in. About 90 bytes a chunk instead of the ~290 of
//! bincode with the path and commit in every chunk (see docs/retrieval.md for what it saved).

use serde::{Deserialize, Serialize};

use crate::ChunkId;
use crate::records::{ChunkMeta, SymbolRecord};

/// What every chunk of one file write shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileHead {
    pub path: String,
    pub language: String,
    pub commit: Option<String>,
}

const OWN_PATH: u8 = 1;
const OWN_LANGUAGE: u8 = 2;
const OWN_COMMIT: u8 = 4;
const HAS_COMMIT: u8 = 8;
const FLAGS: u8 = OWN_PATH | OWN_LANGUAGE | OWN_COMMIT | HAS_COMMIT;

/// Kinds the chunkers name, stored as one byte (their index + 1); 0 is followed by the kind
/// spelled out.
const KINDS: &[&str] = &[
    "function",
    "method",
    "class",
    "struct",
    "enum",
    "trait",
    "interface",
    "impl",
    "module",
    "macro",
    "const",
    "type",
    "section",
    "key",
    "document",
    "window",
];

/// A stored chunk record, decoded but not yet joined with its file head.
pub(crate) struct ChunkRecord {
    /// The chunk's id minus its file's first chunk id (the head's key).
    pub distance: u32,
    path: Option<String>,
    language: Option<String>,
    commit: Option<Option<String>>,
    kind: String,
    symbol: String,
    start_line: u32,
    end_line: u32,
    byte_start: u32,
    byte_end: u32,
    symbols: Vec<SymbolRecord>,
}

impl ChunkRecord {
    /// The id of the head this chunk's record refers to, or `None` for a damaged distance.
    pub fn head_id(&self, id: ChunkId) -> Option<ChunkId> {
        id.checked_sub(self.distance)
    }

    pub fn into_meta(self, head: &FileHead) -> ChunkMeta {
        ChunkMeta {
            path: self.path.unwrap_or_else(|| head.path.clone()),
            language: self.language.unwrap_or_else(|| head.language.clone()),
            kind: self.kind,
            symbol: self.symbol,
            start_line: self.start_line,
            end_line: self.end_line,
            byte_start: self.byte_start,
            byte_end: self.byte_end,
            commit: self.commit.unwrap_or_else(|| head.commit.clone()),
            symbols: self.symbols,
        }
    }
}

/// `meta`'s record, `distance` ids after its file's first chunk, whose head is `head`.
pub(crate) fn encode(meta: &ChunkMeta, distance: u32, head: &FileHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + meta.symbol.len() * 2);
    let mut flags = 0;
    if meta.path != head.path {
        flags |= OWN_PATH;
    }
    if meta.language != head.language {
        flags |= OWN_LANGUAGE;
    }
    if meta.commit != head.commit {
        flags |= OWN_COMMIT;
        if meta.commit.is_some() {
            flags |= HAS_COMMIT;
        }
    }
    out.push(flags);
    put_varint(&mut out, distance);
    if flags & OWN_PATH != 0 {
        put_str(&mut out, &meta.path);
    }
    if flags & OWN_LANGUAGE != 0 {
        put_str(&mut out, &meta.language);
    }
    if let Some(commit) = meta.commit.as_deref().filter(|_| flags & OWN_COMMIT != 0) {
        put_str(&mut out, commit);
    }
    put_kind(&mut out, &meta.kind);
    put_str(&mut out, &meta.symbol);
    put_span(&mut out, meta.start_line, meta.end_line);
    put_span(&mut out, meta.byte_start, meta.byte_end);
    put_varint(&mut out, meta.symbols.len() as u32);
    for symbol in &meta.symbols {
        let shared = shared_prefix(&meta.symbol, &symbol.symbol);
        put_varint(&mut out, shared as u32);
        put_str(&mut out, &symbol.symbol[shared..]);
        put_kind(&mut out, &symbol.kind);
        put_span(&mut out, symbol.start_line, symbol.end_line);
    }
    out
}

/// Decodes a record written by [`encode`]; anything else is an error naming what is wrong.
pub(crate) fn decode(bytes: &[u8]) -> Result<ChunkRecord, String> {
    let mut reader = Reader { bytes };
    let flags = reader.byte()?;
    if flags & !FLAGS != 0 {
        return Err(format!("unknown flags {flags:#x}"));
    }
    let distance = reader.varint()?;
    let path = (flags & OWN_PATH != 0)
        .then(|| reader.string())
        .transpose()?;
    let language = (flags & OWN_LANGUAGE != 0)
        .then(|| reader.string())
        .transpose()?;
    let commit = match (flags & OWN_COMMIT != 0, flags & HAS_COMMIT != 0) {
        (false, _) => None,
        (true, false) => Some(None),
        (true, true) => Some(Some(reader.string()?)),
    };
    let kind = reader.kind()?;
    let symbol = reader.string()?;
    let (start_line, end_line) = reader.span()?;
    let (byte_start, byte_end) = reader.span()?;
    let count = reader.varint()? as usize;
    // Each symbol takes at least four bytes: a count beyond that is damage, not an allocation.
    if count > reader.bytes.len() / 4 {
        return Err(format!("{count} symbols in {} bytes", reader.bytes.len()));
    }
    let mut symbols = Vec::with_capacity(count);
    for _ in 0..count {
        let shared = reader.varint()? as usize;
        let prefix = symbol
            .get(..shared)
            .ok_or_else(|| format!("a symbol shares {shared} bytes of {symbol:?}"))?;
        let rest = reader.str()?;
        let kind = reader.kind()?;
        let (start_line, end_line) = reader.span()?;
        symbols.push(SymbolRecord {
            symbol: format!("{prefix}{rest}"),
            kind,
            start_line,
            end_line,
        });
    }
    if !reader.bytes.is_empty() {
        return Err(format!("{} bytes after the record", reader.bytes.len()));
    }
    Ok(ChunkRecord {
        distance,
        path,
        language,
        commit,
        kind,
        symbol,
        start_line,
        end_line,
        byte_start,
        byte_end,
        symbols,
    })
}

fn shared_prefix(a: &str, b: &str) -> usize {
    let mut shared = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    // The rest is stored as a string of its own: it must start on a character boundary.
    while !b.is_char_boundary(shared) {
        shared -= 1;
    }
    shared
}

fn put_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u32);
    out.extend_from_slice(text.as_bytes());
}

fn put_kind(out: &mut Vec<u8>, kind: &str) {
    match KINDS.iter().position(|known| *known == kind) {
        Some(index) => out.push(index as u8 + 1),
        None => {
            out.push(0);
            put_str(out, kind);
        }
    }
}

/// A start and an end stored as the start and the distance to the end (usually small).
fn put_span(out: &mut Vec<u8>, start: u32, end: u32) {
    put_varint(out, start);
    put_varint(out, end.wrapping_sub(start));
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let (&first, rest) = self.bytes.split_first().ok_or("the record ends early")?;
        self.bytes = rest;
        Ok(first)
    }

    fn varint(&mut self) -> Result<u32, String> {
        let mut value = 0u32;
        for shift in [0, 7, 14, 21, 28] {
            let byte = self.byte()?;
            let bits = u32::from(byte & 0x7f);
            if shift == 28 && bits > 0x0f {
                return Err("a number over 32 bits".into());
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a number over 32 bits".into())
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let len = self.varint()? as usize;
        if len > self.bytes.len() {
            return Err(format!("a string of {len} bytes in {}", self.bytes.len()));
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        std::str::from_utf8(text).map_err(|error| error.to_string())
    }

    fn string(&mut self) -> Result<String, String> {
        self.str().map(str::to_owned)
    }

    fn kind(&mut self) -> Result<String, String> {
        match self.byte()? {
            0 => self.string(),
            index => KINDS
                .get(usize::from(index) - 1)
                .map(|kind| (*kind).to_owned())
                .ok_or_else(|| format!("unknown kind {index}")),
        }
    }

    fn span(&mut self) -> Result<(u32, u32), String> {
        let start = self.varint()?;
        Ok((start, start.wrapping_add(self.varint()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> FileHead {
        FileHead {
            path: "src/parse.rs".into(),
            language: "rust".into(),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        }
    }

    fn meta() -> ChunkMeta {
        ChunkMeta {
            path: "src/parse.rs".into(),
            language: "rust".into(),
            kind: "method".into(),
            symbol: "parse::Parser::header".into(),
            start_line: 120,
            end_line: 164,
            byte_start: 4_000,
            byte_end: 5_900,
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            symbols: vec![
                SymbolRecord {
                    symbol: "parse::Parser::header".into(),
                    kind: "method".into(),
                    start_line: 120,
                    end_line: 164,
                },
                SymbolRecord {
                    symbol: "parse::Parser::héader_line".into(),
                    kind: "closure".into(),
                    start_line: 130,
                    end_line: 131,
                },
            ],
        }
    }

    #[test]
    fn a_chunk_like_its_file_stores_neither_path_nor_commit_and_comes_back_whole() {
        use heed::BytesEncode;
        let meta = meta();
        let stored = encode(&meta, 7, &head());
        let bincode = heed::types::SerdeBincode::<ChunkMeta>::bytes_encode(&meta).unwrap();
        assert!(
            stored.len() * 3 < bincode.len(),
            "{} bytes, {} in bincode",
            stored.len(),
            bincode.len()
        );
        let record = decode(&stored).unwrap();
        assert_eq!(record.head_id(107), Some(100));
        assert_eq!(record.into_meta(&head()), meta);
    }

    #[test]
    fn a_chunk_unlike_its_file_keeps_its_own_path_language_and_commit() {
        let mut own = meta();
        own.path = "src/other.rs".into();
        own.language = "markdown".into();
        own.commit = None;
        own.kind = "heading".into();
        own.end_line = 3;
        let record = decode(&encode(&own, 0, &head())).unwrap();
        assert_eq!(record.into_meta(&head()), own);
        own.commit = Some("feedface".into());
        let record = decode(&encode(&own, 0, &head())).unwrap();
        assert_eq!(record.into_meta(&head()), own);
    }

    #[test]
    fn a_damaged_record_is_an_error() {
        let stored = encode(&meta(), 7, &head());
        for len in 0..stored.len() {
            assert!(decode(&stored[..len]).is_err(), "truncated to {len}");
        }
        let mut longer = stored.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        assert!(decode(&[0x80, 0]).is_err());
        assert!(decode(&[0, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
        // A huge symbol count is refused before anything is allocated for it.
        let mut huge = vec![0, 0, 1, 0, 0, 0, 0, 0];
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(decode(&huge).is_err());
        assert!(decode(&[0, 0, 200]).is_err());
    }
}
