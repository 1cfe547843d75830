use std::fmt;

use serde::{Deserialize, Serialize};

/// Names a vector space: the model, the vector dimension and a version of the model's weights or
/// algorithm. Two embedders with equal ids produce comparable vectors; a store that finds a
/// different id for its vectors rebuilds that space instead of mixing them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SpaceId {
    model: String,
    dim: usize,
    version: String,
}

impl SpaceId {
    pub fn new(model: impl Into<String>, dim: usize, version: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            dim,
            version: version.into(),
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// A compact key that is safe as a file or database name: `model-dDIM-VERSION` with every
    /// character outside `[A-Za-z0-9._-]` replaced by `_`.
    pub fn key(&self) -> String {
        format!("{}-d{}-{}", self.model, self.dim, self.version)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl fmt::Display for SpaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} dims, {})", self.model, self.dim, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_keeps_model_dimension_and_version_apart_and_file_safe() {
        let space = SpaceId::new("http:ollama/nomic embed", 768, "v1");
        assert_eq!(space.key(), "http_ollama_nomic_embed-d768-v1");
        assert_ne!(
            space.key(),
            SpaceId::new("http:ollama/nomic embed", 384, "v1").key()
        );
    }
}
