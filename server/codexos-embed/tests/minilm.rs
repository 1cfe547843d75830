mod common;

use std::path::Path;

use codexos_embed::{EmbedError, Embedder, MiniLmEmbedder, cosine};

fn load() -> Option<MiniLmEmbedder> {
    let dir = common::minilm_dir()?;
    Some(MiniLmEmbedder::load(&dir).unwrap_or_else(|error| panic!("{error}")))
}

#[test]
fn a_paraphrase_is_closer_than_an_unrelated_sentence() {
    let Some(model) = load() else { return };
    let vectors = model
        .embed(&[
            "a cat sits on the mat",
            "a kitten is sitting on a rug",
            "the stock market crashed",
        ])
        .unwrap();
    let paraphrase = cosine(&vectors[0], &vectors[1]);
    let unrelated = cosine(&vectors[0], &vectors[2]);
    assert!(paraphrase > 0.5, "paraphrase {paraphrase}");
    assert!(
        paraphrase > unrelated + 0.3,
        "paraphrase {paraphrase}, unrelated {unrelated}"
    );
}

/// Values from tests/reference/minilm_reference.py, a numpy implementation of the model that
/// shares no code with candle or the tokenizers crate.
#[test]
fn vectors_match_an_independent_reference_implementation() {
    let Some(model) = load() else { return };
    let cases: [(&str, [f32; 8]); 2] = [
        (
            "a cat sits on the mat",
            [
                0.128725, -0.032673, -0.022916, 0.040231, -0.035454, 0.031558, 0.049991, 0.028024,
            ],
        ),
        (
            "fn parse_http_request(buf: &[u8]) -> Request",
            [
                -0.032997, 0.053191, -0.039449, -0.053824, -0.004965, -0.043561, 0.014388, -0.00236,
            ],
        ),
    ];
    for (text, expected) in cases {
        let vector = model.embed_query(text).unwrap();
        assert_eq!(vector.len(), 384);
        for (index, (got, want)) in vector.iter().zip(expected).enumerate() {
            assert!(
                (got - want).abs() < 1e-4,
                "{text:?} dimension {index}: {got} vs reference {want}"
            );
        }
    }
}

#[test]
fn a_batch_of_different_lengths_gives_each_text_its_own_vector() {
    let Some(model) = load() else { return };
    let texts = [
        "short",
        "a somewhat longer sentence about parsing configuration files",
        "x = 1",
    ];
    let batch = model.embed(&texts).unwrap();
    for (text, in_batch) in texts.iter().zip(&batch) {
        let alone = model.embed_query(text).unwrap();
        assert!(
            cosine(&alone, in_batch) > 0.9999,
            "{text:?} changed when padded in a batch"
        );
        let length: f32 = in_batch.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((length - 1.0).abs() < 1e-4);
    }
}

#[test]
fn texts_longer_than_the_model_window_are_truncated_not_rejected() {
    let Some(model) = load() else { return };
    let long = "fn step(state: &mut State) { state.advance(); }\n".repeat(200);
    let vectors = model.embed(&[&long]).unwrap();
    assert_eq!(vectors[0].len(), 384);
}

#[test]
fn the_space_names_the_model_and_its_dimension() {
    let Some(model) = load() else { return };
    assert_eq!(model.space().model(), "all-MiniLM-L6-v2");
    assert_eq!(model.dim(), 384);
}

fn error_text(dir: &Path) -> String {
    match MiniLmEmbedder::load(dir) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_missing_model_folder_names_the_file_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let message = error_text(&dir.path().join("all-MiniLM-L6-v2"));
    assert!(
        message.contains("all-MiniLM-L6-v2/config.json"),
        "{message}"
    );
    assert!(message.contains("codexos models install"), "{message}");
}

#[test]
fn a_corrupt_file_is_named_with_what_is_wrong_with_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
    let message = error_text(dir.path());
    assert!(
        message.contains("config.json") && message.contains("cannot be used"),
        "{message}"
    );

    let Some(real) = common::minilm_dir() else {
        return;
    };
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(real.join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(
        dir.path().join("model.safetensors"),
        b"\x08\x00\x00\x00\x00\x00\x00\x00garbage!",
    )
    .unwrap();
    let message = error_text(dir.path());
    assert!(
        message.contains("model.safetensors") && message.contains("cannot be used"),
        "{message}"
    );

    std::fs::write(dir.path().join("tokenizer.json"), "[]").unwrap();
    let message = error_text(dir.path());
    assert!(message.contains("tokenizer.json"), "{message}");
    assert!(matches!(
        MiniLmEmbedder::load(dir.path()),
        Err(EmbedError::BadModelFile { .. })
    ));
}
