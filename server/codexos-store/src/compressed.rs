//! Chunk texts as LMDB holds them: consecutive chunks of one file LZ4-compressed together, in
//! groups of about 4 KB, each group under its first chunk's id. Alone, a chunk (560 bytes on
//! average) compresses to 0.59 of its size; 4 KB of code together to about 0.42 (measured on
//! 1,500 Rust and Python files), and a group still fits inside an LMDB page, so a chunk is read
//! back by decompressing 4 KB, a few microseconds.
//!
//! A value is `count · length of each text · LZ4 block of the texts one after the other`, the
//! numbers as LEB128 varints.

use crate::ChunkId;

/// Raw bytes a group gathers before the next chunk starts a new one.
const GROUP_BYTES: usize = 4096;
/// The largest value LMDB keeps inside a 4 KB page; a larger group is split in two (a single
/// larger chunk is stored alone, on pages of its own).
const INLINE_BYTES: usize = 2000;
/// The largest text a stored group may claim: a bigger claim is a damaged value, refused
/// instead of allocated.
const MAX_TEXT_BYTES: usize = 64 << 20;

/// The groups `texts` (one file's chunks, ids consecutive from `first`) are stored as: the first
/// id of each, and its value.
pub(crate) fn groups(first: ChunkId, texts: &[&str]) -> Vec<(ChunkId, Vec<u8>)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, text) in texts.iter().enumerate() {
        if index > start && bytes + text.len() > GROUP_BYTES {
            split(first, start, &texts[start..index], &mut out);
            start = index;
            bytes = 0;
        }
        bytes += text.len();
    }
    if start < texts.len() {
        split(first, start, &texts[start..], &mut out);
    }
    out
}

/// Stores `texts` as one group, or as two halves (recursively) when it does not fit a page.
fn split(first: ChunkId, start: usize, texts: &[&str], out: &mut Vec<(ChunkId, Vec<u8>)>) {
    let value = encode(texts);
    if value.len() > INLINE_BYTES && texts.len() > 1 {
        let half = texts.len() / 2;
        split(first, start, &texts[..half], out);
        split(first, start + half, &texts[half..], out);
    } else {
        out.push((first + start as ChunkId, value));
    }
}

fn encode(texts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, texts.len());
    for text in texts {
        put_varint(&mut out, text.len());
    }
    let joined = texts.concat();
    out.extend_from_slice(&lz4_flex::block::compress(joined.as_bytes()));
    out
}

/// How many chunks the group `value` holds (its header only: nothing is decompressed).
pub(crate) fn count(value: &[u8]) -> Result<usize, String> {
    Reader { bytes: value }.varint()
}

/// A group's texts, decompressed.
pub(crate) struct Group {
    first: ChunkId,
    text: String,
    /// Where each chunk's text ends in `text`.
    ends: Vec<usize>,
}

impl Group {
    pub fn decode(first: ChunkId, value: &[u8]) -> Result<Self, String> {
        let mut reader = Reader { bytes: value };
        let count = reader.varint()?;
        if count > value.len() {
            return Err(format!("{count} texts in {} bytes", value.len()));
        }
        let mut ends = Vec::with_capacity(count);
        let mut total = 0usize;
        for _ in 0..count {
            total = total
                .checked_add(reader.varint()?)
                .filter(|&total| total <= MAX_TEXT_BYTES)
                .ok_or("the texts claim more than 64 MB")?;
            ends.push(total);
        }
        let raw = lz4_flex::block::decompress(reader.bytes, total).map_err(|e| e.to_string())?;
        if raw.len() != total {
            return Err(format!("{} bytes where {total} were written", raw.len()));
        }
        let text = String::from_utf8(raw).map_err(|e| e.to_string())?;
        if ends.iter().any(|&end| !text.is_char_boundary(end)) {
            return Err("a text ends inside a character".into());
        }
        Ok(Self { first, text, ends })
    }

    /// The text of chunk `id`, if this group holds it.
    pub fn get(&self, id: ChunkId) -> Option<&str> {
        let index = id.checked_sub(self.first)? as usize;
        let end = *self.ends.get(index)?;
        let start = index
            .checked_sub(1)
            .map_or(0, |previous| self.ends[previous]);
        self.text.get(start..end)
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<usize, String> {
        let mut value = 0usize;
        for shift in (0..32).step_by(7) {
            let (&byte, rest) = self.bytes.split_first().ok_or("the group ends early")?;
            self.bytes = rest;
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a number over 32 bits".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(count: usize) -> Vec<String> {
        (0..count)
            .map(|n| format!("fn f{n}() {{\n    println!(\"héllo {n}\");\n}}\n").repeat(1 + n % 7))
            .collect()
    }

    #[test]
    fn a_file_s_texts_come_back_from_groups_that_fit_a_page_and_take_half_the_bytes() {
        let texts = texts(200);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let stored_groups = groups(1000, &refs);
        assert!(stored_groups.len() > 1 && stored_groups[0].0 == 1000);
        assert!(
            stored_groups
                .iter()
                .all(|(_, value)| value.len() <= INLINE_BYTES)
        );
        let stored: usize = stored_groups.iter().map(|(_, value)| value.len()).sum();
        let raw: usize = texts.iter().map(String::len).sum();
        assert!(stored * 2 < raw, "{stored} of {raw}");
        let mut read = Vec::new();
        for (first, value) in &stored_groups {
            let group = Group::decode(*first, value).unwrap();
            for id in *first..*first + count(value).unwrap() as ChunkId {
                read.push(group.get(id).unwrap().to_owned());
            }
            assert_eq!(group.get(first - 1), None);
        }
        assert_eq!(read, texts);
    }

    #[test]
    fn a_chunk_too_big_for_a_page_is_a_group_of_its_own() {
        // Text LZ4 cannot shrink: a pseudo-random run of letters.
        let mut state = 0x2545_f491_u32;
        let big: String = (0..3000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect();
        let stored = groups(7, &["small", &big, "tail"]);
        let firsts: Vec<ChunkId> = stored.iter().map(|(first, _)| *first).collect();
        assert_eq!(firsts, [7, 8, 9]);
        assert_eq!(
            Group::decode(8, &stored[1].1).unwrap().get(8),
            Some(big.as_str())
        );
        assert!(groups(0, &[]).is_empty());
        assert_eq!(groups(0, &[""]).len(), 1);
    }

    #[test]
    fn a_damaged_group_is_an_error() {
        let texts = texts(5);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (_, value) = groups(0, &refs).remove(0);
        assert!(Group::decode(0, &value).is_ok());
        for len in 0..value.len() {
            assert!(
                Group::decode(0, &value[..len]).is_err(),
                "truncated to {len}"
            );
        }
        let mut longer = value.clone();
        longer[1] += 1;
        assert!(Group::decode(0, &longer).is_err());
        // Lengths claiming more than a group may hold are refused before anything is allocated.
        assert!(Group::decode(0, &[2, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0]).is_err());
        assert!(Group::decode(0, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        // A length that disagrees with the compressed text.
        let (_, split) = groups(0, &["é"]).remove(0);
        let mut inside = split.clone();
        inside[1] = 1;
        assert!(Group::decode(0, &inside).is_err());
    }
}
