//! Distills the static model with contextual averaging (see `DistillOptions::corpus`): the
//! experiment `docs/retrieval.md` reports, not how `codexos models install` distills.
//!
//!     cargo run --release -p codexos-embed --example distill_with_corpus -- \
//!         MINILM_DIR OUT.bin TEXTS PRIOR FILE_LIST
//!
//! FILE_LIST names one source file a line; `corpus_windows` cuts them into TEXTS texts. Point `CODEXOS_MODELS_DIR` at a folder
//! holding OUT.bin (as `static-minilm-256.bin`) and MiniLM to evaluate it with `codexos eval`.

use std::path::Path;

use codexos_embed::{DistillOptions, corpus_windows, distill};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [model_dir, out, texts, prior, file_list] = arguments.as_slice() else {
        return Err("usage: distill_with_corpus MINILM_DIR OUT.bin TEXTS PRIOR FILE_LIST".into());
    };
    let files: Vec<String> = std::fs::read_to_string(file_list)?
        .lines()
        // Unreadable or non-UTF-8 files are not corpus text.
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect();
    let corpus = corpus_windows(files.iter().map(String::as_str), texts.parse()?);
    let options = DistillOptions {
        corpus,
        context_prior: prior.parse()?,
        corpus_name: format!("{file_list}, {texts} texts"),
        ..DistillOptions::default()
    };
    let report = distill(Path::new(model_dir), Path::new(out), &options)?;
    println!(
        "{} tokens, {} corpus texts, {:.0} s: {}",
        report.tokens,
        options.corpus.len(),
        report.seconds,
        report.path.display()
    );
    Ok(())
}
