//! Throughput of each embedder on realistic code: 40-line chunks of the Rust crates in
//! `~/.cargo/registry/src` (every machine that built this workspace has them).
//! `cargo bench -p codexos-embed`; chunks/s and MB/s are divan's item and byte rates.
//! Embedders whose model files are missing (`codexos models install`) are reported and skipped.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use codexos_embed::{
    Embedder, HashingEmbedder, MiniLmEmbedder, ModelPaths, StaticEmbedder, default_models_dir,
};
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};

const LINES_PER_CHUNK: usize = 40;
const CHUNKS: usize = 2000;
/// MiniLM manages tens of chunks a second; a smaller sample keeps the bench to seconds.
const MINILM_CHUNKS: usize = 32;

fn main() {
    divan::main();
}

fn chunks() -> &'static [String] {
    static CHUNKS_OF_CODE: OnceLock<Vec<String>> = OnceLock::new();
    CHUNKS_OF_CODE.get_or_init(|| {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let mut files = Vec::new();
        for registry in sorted_entries(&home.join(".cargo/registry/src")) {
            rust_files(&registry, &mut files);
        }
        files.sort();
        let mut chunks = Vec::new();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            chunks.extend(
                lines
                    .chunks(LINES_PER_CHUNK)
                    .map(|window| window.join("\n")),
            );
            if chunks.len() >= CHUNKS {
                break;
            }
        }
        chunks.truncate(CHUNKS);
        assert!(
            !chunks.is_empty(),
            "no Rust sources under ~/.cargo/registry/src: build the workspace first"
        );
        chunks
    })
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    entries
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for path in sorted_entries(dir) {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

fn run(bencher: Bencher, embedder: Option<&dyn Embedder>, count: usize) {
    let Some(embedder) = embedder else { return };
    let texts: Vec<&str> = chunks().iter().take(count).map(String::as_str).collect();
    let bytes: usize = texts.iter().map(|text| text.len()).sum();
    bencher
        .counter(ItemsCount::new(texts.len()))
        .counter(BytesCount::new(bytes))
        .bench(|| embedder.embed(divan::black_box(&texts)).unwrap());
}

fn models() -> Option<ModelPaths> {
    default_models_dir().map(|dir| ModelPaths::in_dir(&dir))
}

fn loaded<E>(
    cell: &'static OnceLock<Option<E>>,
    load: impl FnOnce(&ModelPaths) -> Result<E, codexos_embed::EmbedError>,
) -> Option<&'static E> {
    cell.get_or_init(|| match models().map(|paths| load(&paths)) {
        Some(Ok(embedder)) => Some(embedder),
        Some(Err(error)) => {
            eprintln!("skipped: {error}");
            None
        }
        None => None,
    })
    .as_ref()
}

#[divan::bench]
fn builtin_hashing(bencher: Bencher) {
    run(bencher, Some(&HashingEmbedder::new()), CHUNKS);
}

#[divan::bench]
fn static_minilm(bencher: Bencher) {
    static MODEL: OnceLock<Option<StaticEmbedder>> = OnceLock::new();
    run(
        bencher,
        loaded(&MODEL, |paths| StaticEmbedder::load(&paths.static_model))
            .map(|e| e as &dyn Embedder),
        CHUNKS,
    );
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn minilm(bencher: Bencher) {
    static MODEL: OnceLock<Option<MiniLmEmbedder>> = OnceLock::new();
    run(
        bencher,
        loaded(&MODEL, |paths| MiniLmEmbedder::load(&paths.minilm_dir)).map(|e| e as &dyn Embedder),
        MINILM_CHUNKS,
    );
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn minilm_load() {
    if let Some(paths) = models() {
        divan::black_box(MiniLmEmbedder::load(&paths.minilm_dir).ok());
    }
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn static_minilm_load() {
    if let Some(paths) = models() {
        divan::black_box(StaticEmbedder::load(&paths.static_model).ok());
    }
}
