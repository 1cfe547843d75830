//! Newline-delimited JSON framing: bytes in, complete non-blank lines out.

use super::WireError;

#[derive(Debug, Default)]
pub struct LineFramer {
    pending: Vec<u8>,
    line_number: usize,
}

impl LineFramer {
    pub fn new() -> LineFramer {
        LineFramer::default()
    }

    /// Feeds the next bytes; returns the lines they complete, with their 1-based numbers.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<(usize, String)>, WireError> {
        self.pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            let raw = self.pending[start..end].to_vec();
            start = end + 1;
            self.line(&raw, &mut lines)?;
        }
        self.pending.drain(..start);
        Ok(lines)
    }

    /// Ends the stream, delivering a last line that has no newline.
    pub fn finish(&mut self) -> Result<Vec<(usize, String)>, WireError> {
        let mut lines = Vec::new();
        let raw = std::mem::take(&mut self.pending);
        if !raw.is_empty() {
            self.line(&raw, &mut lines)?;
        }
        Ok(lines)
    }

    fn line(&mut self, raw: &[u8], lines: &mut Vec<(usize, String)>) -> Result<(), WireError> {
        self.line_number += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|err| {
            WireError::Invalid(format!("line {} is not UTF-8: {err}", self.line_number))
        })?;
        if !line.trim().is_empty() {
            lines.push((self.line_number, line.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_come_out_whole_and_numbered() {
        let mut framer = LineFramer::new();
        let mut lines = framer.push(b"{\"a\":").unwrap();
        lines.extend(framer.push(b"1}\r\n\n{\"b\"").unwrap());
        lines.extend(framer.push(b":2}").unwrap());
        lines.extend(framer.finish().unwrap());
        assert_eq!(
            lines,
            vec![(1, "{\"a\":1}".to_owned()), (3, "{\"b\":2}".to_owned())]
        );
    }
}
