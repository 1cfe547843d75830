//! Size limits, all in the chunker's estimated tokens (see [`crate::estimate_tokens`]).

use crate::error::SetupError;

/// How big chunks get. The defaults keep code chunks close to the seed's 300-token window,
/// so code and prose chunks weigh alike in search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkConfig {
    /// A code item, section or key larger than this is split: at its children (code), its
    /// lines (Markdown, config files). Default 400.
    pub max_tokens: usize,
    /// Pieces smaller than this are merged with their neighbours (as long as the result
    /// stays within `max_tokens`); items at least this big keep a chunk of their own. Default 40.
    pub min_tokens: usize,
    /// Sliding window size for text without structure (the seed's `window`). Default 300.
    pub window_tokens: usize,
    /// Tokens shared by consecutive windows (the seed's `overlap`). Default 50.
    pub overlap_tokens: usize,
    /// Files larger than this are refused with [`crate::ChunkError::FileTooLarge`] rather than
    /// parsed: a tree-sitter tree costs many times the file's size. Default 8 MiB.
    pub max_file_bytes: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self {
            max_tokens: 400,
            min_tokens: 40,
            window_tokens: 300,
            overlap_tokens: 50,
            max_file_bytes: 8 << 20,
        }
    }
}

impl ChunkConfig {
    pub(crate) fn validate(&self) -> Result<(), SetupError> {
        let invalid = |field, message: String| Err(SetupError::InvalidConfig { field, message });
        if self.max_tokens == 0 {
            return invalid("max_tokens", "must be at least 1".into());
        }
        if self.min_tokens > self.max_tokens {
            return invalid(
                "min_tokens",
                format!(
                    "{} is more than max_tokens {}",
                    self.min_tokens, self.max_tokens
                ),
            );
        }
        if self.window_tokens == 0 {
            return invalid("window_tokens", "must be at least 1".into());
        }
        if self.overlap_tokens >= self.window_tokens {
            return invalid(
                "overlap_tokens",
                format!(
                    "{} must be less than window_tokens {}, or windows would never advance",
                    self.overlap_tokens, self.window_tokens
                ),
            );
        }
        Ok(())
    }
}
