//! Token buffering for streamed model text.

/// Holds streamed text back to the last whitespace, so a secret split over two tokens is
/// redacted whole before it leaves (secrets are single words).
#[derive(Default)]
pub(super) struct TokenBuffer {
    held: String,
}

impl TokenBuffer {
    pub(super) fn push(&mut self, delta: &str) -> Option<String> {
        self.held.push_str(delta);
        let cut = self
            .held
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map(|(index, c)| index + c.len_utf8())?;
        let rest = self.held.split_off(cut);
        Some(std::mem::replace(&mut self.held, rest))
    }

    pub(super) fn flush(&mut self) -> Option<String> {
        (!self.held.is_empty()).then(|| std::mem::take(&mut self.held))
    }
}

#[cfg(test)]
mod tests {
    use super::TokenBuffer;

    #[test]
    fn streamed_text_is_held_back_to_the_last_space() {
        let mut buffer = TokenBuffer::default();
        assert_eq!(
            buffer.push("the key is sk-"),
            Some("the key is ".to_owned())
        );
        assert_eq!(buffer.push("abc"), None);
        assert_eq!(buffer.push("123 ok"), Some("sk-abc123 ".to_owned()));
        assert_eq!(buffer.flush(), Some("ok".to_owned()));
        assert_eq!(buffer.flush(), None);
    }
}
