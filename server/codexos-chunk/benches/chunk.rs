//! Chunking throughput on real sources found on this machine: Rust crates under
//! `~/.cargo/registry/src` and Python's standard library. A corpus that is not there is
//! skipped with a note. The other languages with a parser are measured on one small file
//! each (`benches/inputs/`), repeated as many files. Run:
//! `cargo bench -p codexos-chunk --bench chunk`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use codexos_chunk::{ChunkConfig, Chunker};
use divan::Bencher;
use divan::counter::BytesCount;

/// Enough text for stable numbers without making a run take minutes.
const CORPUS_BYTES: usize = 8 << 20;
/// Files are skipped above this size, as the indexer's walker would.
const MAX_FILE_BYTES: u64 = 1 << 20;

struct Corpus {
    files: Vec<(PathBuf, String)>,
    bytes: usize,
}

fn collect(roots: &[PathBuf], extension: &str) -> Corpus {
    let mut files = Vec::new();
    let mut bytes = 0;
    let mut pending: Vec<PathBuf> = roots.to_vec();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|found| found == extension) {
                let small = entry
                    .metadata()
                    .is_ok_and(|meta| meta.len() <= MAX_FILE_BYTES);
                if let (true, Ok(text)) = (small, fs::read_to_string(&path)) {
                    bytes += text.len();
                    files.push((path, text));
                    if bytes >= CORPUS_BYTES {
                        return Corpus { files, bytes };
                    }
                }
            }
        }
    }
    Corpus { files, bytes }
}

static RUST: LazyLock<Corpus> = LazyLock::new(|| {
    let registry = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .map(|home| home.join("registry/src"));
    collect(&registry.into_iter().collect::<Vec<_>>(), "rs")
});

static PYTHON: LazyLock<Corpus> = LazyLock::new(|| {
    let stdlib = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
        ])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    collect(&stdlib.into_iter().collect::<Vec<_>>(), "py")
});

/// A corpus of each other language: about this many bytes, in copies of its input file.
const REPEATED_BYTES: usize = 1 << 20;

const INPUTS: &[(&str, &str, &str)] = &[
    (
        "typescript",
        "src/shop/cart.ts",
        include_str!("inputs/cart.ts"),
    ),
    (
        "tsx",
        "src/shop/CartView.tsx",
        include_str!("inputs/CartView.tsx"),
    ),
    (
        "javascript",
        "src/shop/cart.js",
        include_str!("inputs/cart.js"),
    ),
    ("go", "shop/cart.go", include_str!("inputs/cart.go")),
    (
        "java",
        "src/main/java/com/acme/shop/Cart.java",
        include_str!("inputs/Cart.java"),
    ),
    ("c", "src/cart.c", include_str!("inputs/cart.c")),
    ("cpp", "src/cart.cpp", include_str!("inputs/cart.cpp")),
    ("csharp", "src/Shop/Cart.cs", include_str!("inputs/Cart.cs")),
    ("ruby", "lib/shop/cart.rb", include_str!("inputs/cart.rb")),
    ("php", "src/Shop/Cart.php", include_str!("inputs/Cart.php")),
];

fn repeated(language: &str) -> Corpus {
    let Some(&(_, path, text)) = INPUTS.iter().find(|(name, _, _)| *name == language) else {
        return Corpus {
            files: Vec::new(),
            bytes: 0,
        };
    };
    let copies = REPEATED_BYTES.div_ceil(text.len());
    Corpus {
        files: vec![(PathBuf::from(path), text.to_owned()); copies],
        bytes: copies * text.len(),
    }
}

static CHUNKER: LazyLock<Chunker> = LazyLock::new(|| {
    Chunker::new(ChunkConfig::default())
        .expect("the default config and built-in grammars are valid")
});

fn bench_corpus(bencher: Bencher, name: &str, corpus: &Corpus) {
    if corpus.files.is_empty() {
        eprintln!("{name}: no sources found on this machine, skipped");
        return;
    }
    eprintln!(
        "{name}: {} files, {:.1} MB",
        corpus.files.len(),
        corpus.bytes as f64 / 1e6
    );
    // Compiles the language's query (once per chunker) before the clock starts.
    if let Some((path, text)) = corpus.files.first() {
        let _ = CHUNKER.chunk(path, text);
    }
    bencher.counter(BytesCount::new(corpus.bytes)).bench(|| {
        let mut chunks = 0;
        for (path, text) in &corpus.files {
            chunks += CHUNKER.chunk(path, text).map_or(0, |found| found.len());
        }
        chunks
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn rust_registry_sources(bencher: Bencher) {
    bench_corpus(bencher, "rust", &RUST);
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn python_standard_library(bencher: Bencher) {
    bench_corpus(bencher, "python", &PYTHON);
}

#[divan::bench(
    sample_count = 5,
    sample_size = 1,
    args = ["typescript", "tsx", "javascript", "go", "java", "c", "cpp", "csharp", "ruby", "php"],
)]
fn other_languages(bencher: Bencher, language: &str) {
    bench_corpus(bencher, language, &repeated(language));
}

fn main() {
    divan::main();
}
