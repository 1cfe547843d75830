//! Picking the embedder for `[index] embedder = "..."`: the configured one when its files are
//! there, otherwise the next best with a notice saying what is missing and how to get it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::http::{HttpEmbedder, HttpEmbedderConfig};
use crate::minilm::{MINILM_DIR_NAME, MiniLmEmbedder};
use crate::model_files::default_models_dir;
use crate::static_model::{STATIC_MODEL_FILE, StaticEmbedder};
use crate::{EmbedError, Embedder, HashingEmbedder};

/// `[index] embedder = "static" | "minilm" | "builtin" | "http"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderKind {
    /// The static model distilled from MiniLM: the default, fast enough for any workspace.
    #[default]
    Static,
    /// all-MiniLM-L6-v2 itself: better vectors, about a hundred times slower.
    Minilm,
    /// Feature hashing; needs no files.
    Builtin,
    /// An HTTP embeddings server, configured in `[index.http]`.
    Http,
}

impl EmbedderKind {
    /// Every kind, by the name `codexos.toml` and `--embedder` use.
    pub const ALL: [(&'static str, EmbedderKind); 4] = [
        ("static", EmbedderKind::Static),
        ("minilm", EmbedderKind::Minilm),
        ("builtin", EmbedderKind::Builtin),
        ("http", EmbedderKind::Http),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or("static", |(name, _)| name)
    }
}

impl std::str::FromStr for EmbedderKind {
    type Err = EmbedError;

    fn from_str(name: &str) -> Result<Self, EmbedError> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|(known, _)| *known).collect();
                EmbedError::Config(format!(
                    "unknown embedder `{name}`; known: {}",
                    known.join(", ")
                ))
            })
    }
}

/// The embedding part of `[index]` in `codexos.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedderConfig {
    #[serde(default)]
    pub embedder: EmbedderKind,
    #[serde(default)]
    pub http: Option<HttpEmbedderConfig>,
}

/// The embedder chosen, and what to tell the user when it is not the one configured.
pub struct SelectedEmbedder {
    pub embedder: Arc<dyn Embedder>,
    pub notice: Option<String>,
}

/// Where the models live inside a models directory.
#[derive(Clone, Debug)]
pub struct ModelPaths {
    pub minilm_dir: PathBuf,
    pub static_model: PathBuf,
}

impl ModelPaths {
    pub fn in_dir(models_dir: &Path) -> Self {
        Self {
            minilm_dir: models_dir.join(MINILM_DIR_NAME),
            static_model: models_dir.join(STATIC_MODEL_FILE),
        }
    }
}

/// The best available embedder for `config`, reading models from `models_dir` (default:
/// [`default_models_dir`]). Local models fall back — MiniLM to the static model, the static model
/// to the built-in one — with a notice, so indexing never fails for lack of a model. An HTTP
/// embedder that cannot be reached is an error: the user asked for that server's vectors.
pub fn select_embedder(
    models_dir: Option<&Path>,
    config: &EmbedderConfig,
) -> Result<SelectedEmbedder, EmbedError> {
    let models_dir = models_dir
        .map(Path::to_path_buf)
        .or_else(default_models_dir);
    let paths = models_dir.as_deref().map(ModelPaths::in_dir);
    let mut problems = Vec::new();
    if config.embedder == EmbedderKind::Http {
        let http = config.http.clone().ok_or_else(|| {
            EmbedError::Config(
                "[index] embedder = \"http\" needs an [index.http] table with api, url and model"
                    .into(),
            )
        })?;
        return Ok(SelectedEmbedder {
            embedder: Arc::new(HttpEmbedder::connect(http)?),
            notice: None,
        });
    }
    if config.embedder == EmbedderKind::Minilm {
        match paths
            .as_ref()
            .map(|paths| MiniLmEmbedder::load(&paths.minilm_dir))
        {
            Some(Ok(minilm)) => {
                return Ok(SelectedEmbedder {
                    embedder: Arc::new(minilm),
                    notice: None,
                });
            }
            Some(Err(error)) => problems.push(error.to_string()),
            None => problems.push(no_models_dir()),
        }
    }
    if matches!(config.embedder, EmbedderKind::Minilm | EmbedderKind::Static) {
        match paths
            .as_ref()
            .map(|paths| StaticEmbedder::load(&paths.static_model))
        {
            Some(Ok(static_model)) => {
                return Ok(SelectedEmbedder {
                    embedder: Arc::new(static_model),
                    notice: fallback_notice(&problems, "the static embedder"),
                });
            }
            Some(Err(error)) => problems.push(error.to_string()),
            None => problems.push(no_models_dir()),
        }
    }
    Ok(SelectedEmbedder {
        embedder: Arc::new(HashingEmbedder::new()),
        notice: fallback_notice(&problems, "the built-in hashing embedder"),
    })
}

fn no_models_dir() -> String {
    "no models directory (set CODEXOS_MODELS_DIR or HOME)".to_string()
}

fn fallback_notice(problems: &[String], using: &str) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "{}: using {using}; run `codexos models install` to install them",
        problems.join("; ")
    ))
}
