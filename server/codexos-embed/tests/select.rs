mod common;

use codexos_embed::{EmbedError, EmbedderConfig, EmbedderKind, ModelPaths, select_embedder};

fn config(embedder: EmbedderKind) -> EmbedderConfig {
    EmbedderConfig {
        embedder,
        http: None,
    }
}

#[test]
fn without_models_the_builtin_embedder_is_used_with_a_notice_saying_how_to_get_them() {
    let dir = tempfile::tempdir().unwrap();
    let selected = select_embedder(Some(dir.path()), &config(EmbedderKind::Static)).unwrap();
    assert_eq!(selected.embedder.space().model(), "builtin-hashing");
    let notice = selected.notice.unwrap_or_default();
    assert!(
        notice.contains("static-minilm-256.bin") && notice.contains("codexos models install"),
        "{notice}"
    );
    assert!(notice.contains("built-in hashing embedder"), "{notice}");
}

#[test]
fn asking_for_the_builtin_embedder_gives_it_without_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let selected = select_embedder(Some(dir.path()), &config(EmbedderKind::Builtin)).unwrap();
    assert_eq!(selected.embedder.space().model(), "builtin-hashing");
    assert!(selected.notice.is_none());
}

#[test]
fn the_http_embedder_without_its_table_is_a_configuration_error() {
    let result = select_embedder(None, &config(EmbedderKind::Http));
    assert!(
        matches!(&result, Err(EmbedError::Config(message)) if message.contains("[index.http]"))
    );
}

#[test]
fn the_static_model_is_used_when_present_and_stands_in_for_a_missing_minilm() {
    let Some(minilm) = common::minilm_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let paths = ModelPaths::in_dir(dir.path());
    common::distill_small(&minilm, &paths.static_model, &["load the config"]);

    let selected = select_embedder(Some(dir.path()), &config(EmbedderKind::Static)).unwrap();
    assert_eq!(selected.embedder.space().model(), "static-minilm");
    assert!(selected.notice.is_none());

    let selected = select_embedder(Some(dir.path()), &config(EmbedderKind::Minilm)).unwrap();
    assert_eq!(selected.embedder.space().model(), "static-minilm");
    let notice = selected.notice.unwrap_or_default();
    assert!(
        notice.contains("all-MiniLM-L6-v2/config.json") && notice.contains("static embedder"),
        "{notice}"
    );
}

#[test]
fn the_config_reads_from_the_index_table_of_codexos_toml() {
    let config: EmbedderConfig = toml::from_str(
        r#"
embedder = "http"
[http]
api = "ollama"
url = "http://127.0.0.1:11434"
model = "nomic-embed-text"
"#,
    )
    .unwrap();
    assert_eq!(config.embedder, EmbedderKind::Http);
    let http = config.http.unwrap();
    assert_eq!(
        (http.batch_size, http.timeout_secs, http.api_key_env),
        (64, 60, None)
    );
    let default: EmbedderConfig = toml::from_str("").unwrap();
    assert_eq!(default.embedder, EmbedderKind::Static);
}

#[test]
fn embedder_names_round_trip_and_an_unknown_name_lists_the_known_ones() {
    for (name, kind) in EmbedderKind::ALL {
        assert_eq!(name.parse::<EmbedderKind>().unwrap(), kind);
        assert_eq!(kind.name(), name);
    }
    let message = "bert"
        .parse::<EmbedderKind>()
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("`bert`") && message.contains("static, minilm, builtin, http"),
        "{message}"
    );
}
