mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use codexos_embed::{DistillOptions, EmbedError, Embedder, StaticEmbedder, cosine, distill};

const QUERY: &str = "read the configuration file";
const RELATED: &str = "fn load_config(path: &Path) -> Config { let text = std::fs::read_to_string(path)?; toml::from_str(&text) }";
const UNRELATED: &str =
    "def draw_circle(canvas, radius, color): canvas.fill_ellipse(radius, color)";

/// One small distilled model shared by the tests of this file (distilling takes seconds).
fn small_model() -> Option<PathBuf> {
    static MODEL: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let minilm = common::minilm_dir()?;
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("static.bin");
            common::distill_small(
                &minilm,
                &path,
                &[QUERY, RELATED, UNRELATED, "parse the http request"],
            );
            Some((dir, path))
        })
        .as_ref()
        .map(|(_, path)| path.clone())
}

#[test]
fn a_distilled_model_ranks_code_about_the_query_above_unrelated_code() {
    let Some(path) = small_model() else { return };
    let model = StaticEmbedder::load(&path).unwrap();
    let query = model.embed_query(QUERY).unwrap();
    let vectors = model.embed(&[RELATED, UNRELATED]).unwrap();
    let (related, unrelated) = (cosine(&query, &vectors[0]), cosine(&query, &vectors[1]));
    assert!(
        related > unrelated + 0.1,
        "related {related}, unrelated {unrelated}"
    );
}

#[test]
fn every_identifier_style_gets_the_vector_of_its_words() {
    let Some(path) = small_model() else { return };
    let model = StaticEmbedder::load(&path).unwrap();
    let words = model.distilled("parse http request");
    for identifier in ["parse_http_request", "parseHttpRequest", "ParseHTTPRequest"] {
        let similarity = cosine(&words, &model.distilled(identifier));
        assert!(similarity > 0.999, "{identifier}: {similarity}");
    }
}

#[test]
fn vectors_are_normalised_and_repeatable_across_loads() {
    let Some(path) = small_model() else { return };
    let first = StaticEmbedder::load(&path).unwrap();
    let second = StaticEmbedder::load(&path).unwrap();
    assert_eq!(first.space(), second.space());
    assert_eq!(
        first.dim(),
        64 + 256,
        "64 distilled dimensions and 256 lexical ones"
    );
    let vector = first.embed_one(RELATED);
    assert_eq!(vector, second.embed_one(RELATED));
    let length: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((length - 1.0).abs() < 1e-5, "length {length}");
    assert!(
        first.embed_one("∑ ≠ ∞ %%%").iter().all(|&x| x == 0.0),
        "text without known words has no direction"
    );
}

#[test]
fn a_truncated_model_file_is_rejected_with_its_path_and_sizes() {
    let Some(path) = small_model() else { return };
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.bin");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let message = StaticEmbedder::load(&truncated)
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("truncated.bin") && message.contains("expected"),
        "{message}"
    );
}

#[test]
fn a_file_that_is_not_a_static_model_is_rejected_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("static-minilm-256.bin");
    std::fs::write(&path, "hello").unwrap();
    let message = StaticEmbedder::load(&path)
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("static-minilm-256.bin") && message.contains("not a CodexOS static model"),
        "{message}"
    );
    let mut older_format = b"CXSTATIC".to_vec();
    older_format.extend_from_slice(&1u32.to_le_bytes());
    std::fs::write(&path, older_format).unwrap();
    let message = StaticEmbedder::load(&path)
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("format version 1") && message.contains("codexos models install"),
        "{message}"
    );
    let missing = StaticEmbedder::load(&dir.path().join("absent.bin"));
    assert!(
        matches!(missing, Err(EmbedError::MissingModelFile { path }) if path.ends_with("absent.bin"))
    );
}

#[test]
fn distilling_into_an_unwritable_place_names_that_place_and_leaves_nothing_behind() {
    let Some(minilm) = common::minilm_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let out = dir.path().join("a-file/static.bin");
    let options = DistillOptions {
        dim: 8,
        only_tokens: Some(vec!["cat".into(), "dog".into()]),
        ..DistillOptions::default()
    };
    let message = distill(&minilm, &out, &options)
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(message.contains("a-file/static.bin"), "{message}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["a-file"]);
}

#[test]
fn a_corpus_moves_the_distilled_vectors_the_same_way_on_every_run_and_is_named_in_the_model() {
    let Some(minilm) = common::minilm_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tokens: Vec<String> = ["cat", "mat", "sat", "the", "on", "car", "engine", "tax"]
        .map(String::from)
        .to_vec();
    let distilled = |name: &str, corpus: &[&str]| {
        let out = dir.path().join(name);
        let options = DistillOptions {
            dim: 6,
            only_tokens: Some(tokens.clone()),
            corpus: corpus.iter().map(|text| text.to_string()).collect(),
            context_prior: 1.0,
            corpus_name: "two sentences".into(),
        };
        distill(&minilm, &out, &options).unwrap_or_else(|error| panic!("{error}"));
        let model = StaticEmbedder::load(&out).unwrap_or_else(|error| panic!("{error}"));
        (model.distilled("cat"), model.corpus().to_string())
    };
    let corpus = ["the cat sat on the mat", "a tax on the car engine"];
    let (alone, no_corpus) = distilled("alone.bin", &[]);
    let (in_context, corpus_name) = distilled("context.bin", &corpus);
    let (again, _) = distilled("again.bin", &corpus);
    assert_eq!(
        (no_corpus.as_str(), corpus_name.as_str()),
        ("", "two sentences")
    );
    assert!(
        cosine(&alone, &in_context) < 0.999,
        "the corpus changed nothing: {alone:?}"
    );
    assert_eq!(in_context, again);
}

#[test]
fn a_query_by_meaning_is_the_distilled_half_alone_and_a_plain_query_is_embedded_whole() {
    let Some(path) = small_model() else { return };
    let model = StaticEmbedder::load(&path).unwrap();
    assert!(model.has_meaning_queries());
    let meaning = model.embed_query_meaning(QUERY).unwrap();
    let distilled = model.distilled(QUERY);
    assert_eq!(meaning.len(), model.dim());
    assert_eq!(meaning[..distilled.len()], distilled[..]);
    assert!(meaning[distilled.len()..].iter().all(|&x| x == 0.0));
    assert_eq!(
        model.embed_query(QUERY).unwrap(),
        model.embed(&[QUERY]).unwrap()[0]
    );
    // Its cosine with a stored vector is the distilled halves' own, over √2.
    let stored = model.embed(&[RELATED]).unwrap().remove(0);
    let halves = cosine(&distilled, &model.distilled(RELATED));
    assert!((cosine(&meaning, &stored) - halves / 2f32.sqrt()).abs() < 1e-4);
}
