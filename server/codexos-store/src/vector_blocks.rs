//! Quantized vectors stored in blocks of consecutive ids: one LMDB value per block, a bitmap
//! of its live slots then their vectors in slot order. A value per vector cost LMDB a node
//! header, a key and the unused end of each 4 KB page (about 5.9 vectors of 520 bytes a page:
//! 705 bytes each); a block fills eight overflow pages to 98% at 512 dimensions.

use crate::ChunkId;

/// Bytes of one value that eight overflow pages hold (their first page's header apart).
const BLOCK_BYTES: usize = 8 * 4096 - 16;
const MAX_SLOTS: u32 = 128;
const BITMAP_BYTES: usize = MAX_SLOTS as usize / 8;

/// How a space's ids map to blocks: it depends on the dimension only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockShape {
    pub slots: u32,
    /// Bytes of one quantized vector (`8 + dim`).
    pub stride: usize,
}

impl BlockShape {
    pub fn new(dim: usize) -> Self {
        let stride = 8 + dim;
        let slots = ((BLOCK_BYTES - BITMAP_BYTES) / stride).clamp(1, MAX_SLOTS as usize) as u32;
        Self { slots, stride }
    }

    /// The block and the slot of `id`.
    pub fn locate(&self, id: ChunkId) -> (u32, u32) {
        (id / self.slots, id % self.slots)
    }

    /// The id in `slot` of `block`, `None` for a block number no id maps to.
    pub fn id(&self, block: u32, slot: u32) -> Option<ChunkId> {
        block.checked_mul(self.slots)?.checked_add(slot)
    }
}

fn damaged(message: String) -> heed::Error {
    heed::Error::Decoding(format!("a vector block is damaged: {message}").into())
}

/// A stored block, read in place.
pub(crate) struct StoredBlock<'a> {
    live: u128,
    values: &'a [u8],
    stride: usize,
}

impl<'a> StoredBlock<'a> {
    pub fn parse(bytes: &'a [u8], shape: BlockShape) -> heed::Result<Self> {
        let (bitmap, values) = bytes
            .split_at_checked(BITMAP_BYTES)
            .ok_or_else(|| damaged(format!("{} bytes", bytes.len())))?;
        let live = u128::from_le_bytes(bitmap.try_into().unwrap_or_default());
        if shape.slots < MAX_SLOTS && live >> shape.slots != 0 {
            return Err(damaged(format!("slots live beyond {}", shape.slots)));
        }
        if values.len() != live.count_ones() as usize * shape.stride {
            return Err(damaged(format!(
                "{} live vectors in {} bytes",
                live.count_ones(),
                values.len()
            )));
        }
        Ok(Self {
            live,
            values,
            stride: shape.stride,
        })
    }

    /// The vector in `slot`, if it is live.
    pub fn get(&self, slot: u32) -> Option<&'a [u8]> {
        let bit = 1u128.checked_shl(slot)?;
        if self.live & bit == 0 {
            return None;
        }
        let index = (self.live & (bit - 1)).count_ones() as usize;
        self.values
            .get(index * self.stride..(index + 1) * self.stride)
    }

    /// The live slots and their vectors, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'a [u8])> + '_ {
        let values = self.values;
        let stride = self.stride;
        (0..MAX_SLOTS)
            .filter(move |slot| self.live & (1 << slot) != 0)
            .zip(values.chunks_exact(stride))
    }
}

/// A block being written, every slot at its place.
pub(crate) struct OpenBlock {
    live: u128,
    values: Vec<u8>,
    shape: BlockShape,
}

impl OpenBlock {
    pub fn new(shape: BlockShape) -> Self {
        Self {
            live: 0,
            values: vec![0; shape.slots as usize * shape.stride],
            shape,
        }
    }

    pub fn from_stored(stored: &StoredBlock<'_>, shape: BlockShape) -> Self {
        let mut block = Self::new(shape);
        for (slot, value) in stored.iter() {
            block.set(slot, value);
        }
        block
    }

    fn range(&self, slot: u32) -> std::ops::Range<usize> {
        let start = slot as usize * self.shape.stride;
        start..start + self.shape.stride
    }

    pub fn get(&self, slot: u32) -> Option<&[u8]> {
        (self.live & (1 << slot) != 0).then(|| &self.values[self.range(slot)])
    }

    /// Stores `value` (`stride` bytes) in `slot`; returns whether the slot was empty.
    pub fn set(&mut self, slot: u32, value: &[u8]) -> bool {
        let range = self.range(slot);
        self.values[range].copy_from_slice(value);
        let was_empty = self.live & (1 << slot) == 0;
        self.live |= 1 << slot;
        was_empty
    }

    /// Empties `slot`; returns whether it was live.
    pub fn clear(&mut self, slot: u32) -> bool {
        let was_live = self.live & (1 << slot) != 0;
        self.live &= !(1 << slot);
        was_live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The stored form: the bitmap, then the live slots' vectors.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(BITMAP_BYTES + self.live.count_ones() as usize * self.shape.stride);
        out.extend_from_slice(&self.live.to_le_bytes());
        for slot in 0..self.shape.slots {
            if let Some(value) = self.get(slot) {
                out.extend_from_slice(value);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_of_512_dimension_vectors_fills_eight_pages() {
        let shape = BlockShape::new(512);
        assert_eq!(shape.slots, 62);
        let full = BITMAP_BYTES + shape.slots as usize * shape.stride;
        assert!(
            full <= BLOCK_BYTES && full * 100 / BLOCK_BYTES >= 98,
            "{full}"
        );
        assert_eq!(BlockShape::new(4).slots, MAX_SLOTS);
        assert_eq!(BlockShape::new(100_000).slots, 1);
        assert_eq!(shape.locate(130), (2, 6));
        assert_eq!(shape.id(2, 6), Some(130));
        assert_eq!(shape.id(u32::MAX, 1), None);
    }

    #[test]
    fn vectors_come_back_from_their_slots_and_emptied_slots_are_gone() {
        let shape = BlockShape::new(4);
        let mut block = OpenBlock::new(shape);
        assert!(block.set(3, &[3; 12]));
        assert!(block.set(127, &[127; 12]));
        assert!(!block.set(3, &[4; 12]));
        assert!(block.set(0, &[1; 12]));
        assert!(block.clear(0));
        assert!(!block.clear(0));
        let stored = block.encode();
        assert_eq!(stored.len(), BITMAP_BYTES + 2 * 12);
        let read = StoredBlock::parse(&stored, shape).unwrap();
        assert_eq!(read.get(3), Some(&[4; 12][..]));
        assert_eq!(read.get(127), Some(&[127; 12][..]));
        assert_eq!(read.get(0), None);
        assert_eq!(read.get(200), None);
        let slots: Vec<u32> = read.iter().map(|(slot, _)| slot).collect();
        assert_eq!(slots, [3, 127]);
        let reopened = OpenBlock::from_stored(&read, shape);
        assert_eq!(reopened.encode(), stored);
        assert!(OpenBlock::new(shape).is_empty());
    }

    #[test]
    fn a_damaged_block_is_an_error() {
        let shape = BlockShape::new(512);
        let mut block = OpenBlock::new(shape);
        block.set(5, &[7; 520]);
        let stored = block.encode();
        assert!(StoredBlock::parse(&stored, shape).is_ok());
        assert!(StoredBlock::parse(&stored[..stored.len() - 1], shape).is_err());
        assert!(StoredBlock::parse(&stored[..3], shape).is_err());
        let mut beyond = stored.clone();
        beyond[15] = 0x80;
        assert!(StoredBlock::parse(&beyond, shape).is_err());
        // Written for another dimension.
        assert!(StoredBlock::parse(&stored, BlockShape::new(384)).is_err());
    }
}
