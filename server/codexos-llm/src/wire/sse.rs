//! Server-sent events framing: bytes in, `(event, data)` records out, whatever the chunking.
//!
//! Lines end with `\n` or `\r\n` (a lone `\r` is not treated as a line end: no LLM server
//! uses it, and honouring it would mean holding back every chunk that ends in `\r`).
//! Unlike a browser, this framer rejects lines that are not SSE fields: an HTML error page
//! or a JSON body served where an event stream was expected is reported at its first line,
//! instead of being skipped until the stream ends with nothing.

use super::{StreamDecoder, WireError};
use crate::types::StreamEvent;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the server sent one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseFramer {
    pending: Vec<u8>,
    line_number: usize,
    event: Option<String>,
    data: Option<String>,
}

impl SseFramer {
    pub fn new() -> SseFramer {
        SseFramer::default()
    }

    /// Feeds the next bytes of the stream; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, WireError> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            let line = strip_cr(&self.pending[start..end]).to_vec();
            start = end + 1;
            self.line(&line, &mut events)?;
        }
        self.pending.drain(..start);
        Ok(events)
    }

    /// Ends the stream: a last line without its newline and an event without its blank line
    /// are still delivered, since servers that close right after the data are common.
    pub fn finish(&mut self) -> Result<Vec<SseEvent>, WireError> {
        let mut events = Vec::new();
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.line(strip_cr(&line), &mut events)?;
        }
        self.dispatch(&mut events);
        Ok(events)
    }

    fn line(&mut self, raw: &[u8], events: &mut Vec<SseEvent>) -> Result<(), WireError> {
        self.line_number += 1;
        let raw = if self.line_number == 1 {
            raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw)
        } else {
            raw
        };
        let line = std::str::from_utf8(raw).map_err(|err| {
            WireError::Invalid(format!(
                "line {} of the event stream is not UTF-8: {err}",
                self.line_number
            ))
        })?;
        if line.is_empty() {
            self.dispatch(events);
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            "id" | "retry" => {}
            _ => {
                return Err(WireError::Invalid(format!(
                    "line {} is not an event-stream line: `{}`",
                    self.line_number,
                    super::excerpt(line)
                )));
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if let Some(data) = self.data.take() {
            events.push(SseEvent { event, data });
        }
    }
}

/// What a format does with its events; [`SseDecoder`] does the framing.
pub trait SseHandler: Send + Sync {
    fn event(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), WireError>;
    /// The body ended before the format's end marker.
    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), WireError>;
    fn is_done(&self) -> bool;
}

/// A [`StreamDecoder`] for an event-stream format.
#[derive(Debug, Default)]
pub struct SseDecoder<H> {
    framer: SseFramer,
    handler: H,
}

impl<H: SseHandler> StreamDecoder for SseDecoder<H> {
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, WireError> {
        let mut out = Vec::new();
        for event in self.framer.push(bytes)? {
            self.handler.event(event, &mut out)?;
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, WireError> {
        let mut out = Vec::new();
        for event in self.framer.finish()? {
            self.handler.event(event, &mut out)?;
        }
        if !self.handler.is_done() {
            self.handler.end(&mut out)?;
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.handler.is_done()
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(chunks: &[&[u8]]) -> Result<Vec<SseEvent>, WireError> {
        let mut framer = SseFramer::new();
        let mut events = Vec::new();
        for chunk in chunks {
            events.extend(framer.push(chunk)?);
        }
        events.extend(framer.finish()?);
        Ok(events)
    }

    fn data(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let events = frame(&[
            b"event: ping\nda",
            b"ta: {\"a\"",
            b":1}\r\n\r",
            b"\ndata: x\n\n",
        ])
        .unwrap();
        assert_eq!(
            events,
            vec![data(Some("ping"), "{\"a\":1}"), data(None, "x")]
        );
    }

    #[test]
    fn comments_ids_and_retry_fields_are_ignored() {
        let events = frame(&[b": keep-alive\nid: 7\nretry: 100\ndata: hi\n\n"]).unwrap();
        assert_eq!(events, vec![data(None, "hi")]);
    }

    #[test]
    fn several_data_lines_join_with_newlines() {
        let events = frame(&[b"data: one\ndata:two\n\n"]).unwrap();
        assert_eq!(events, vec![data(None, "one\ntwo")]);
    }

    #[test]
    fn a_last_event_without_its_blank_line_is_still_delivered() {
        let events = frame(&[b"data: [DONE]"]).unwrap();
        assert_eq!(events, vec![data(None, "[DONE]")]);
    }

    #[test]
    fn a_character_split_between_chunks_survives() {
        let text = "data: h\u{e9}llo\n\n".as_bytes();
        let events = frame(&[&text[..8], &text[8..]]).unwrap();
        assert_eq!(events, vec![data(None, "h\u{e9}llo")]);
    }

    #[test]
    fn an_html_page_is_rejected_at_its_first_line() {
        let err = frame(&[b"<!DOCTYPE html>\n<html><title>502 Bad Gateway</title>\n"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1 is not an event-stream line: `<!DOCTYPE html>`"
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err = frame(&[b"data: ok\n\ndata: \xff\n\n"]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 3 of the event stream is not UTF-8"),
            "{err}"
        );
    }
}
