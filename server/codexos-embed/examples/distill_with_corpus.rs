//! Distills the static model with contextual averaging (see `DistillOptions::corpus`): the
//! experiment `docs/retrieval.md` reports, not how `codexos models install` distills.
//!
//!     cargo run --release -p codexos-embed --example distill_with_corpus -- \
//!         MINILM_DIR OUT.bin TEXTS PRIOR FILE_LIST
//!
//! FILE_LIST names one source file a line; each is cut into windows of 12 lines and TEXTS
//! windows are taken at an even stride across all of them. Point `CODEXOS_MODELS_DIR` at a folder
//! holding OUT.bin (as `static-minilm-256.bin`) and MiniLM to evaluate it with `codexos eval`.

use std::path::Path;

use codexos_embed::{DistillOptions, distill};

const WINDOW_LINES: usize = 12;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [model_dir, out, texts, prior, file_list] = arguments.as_slice() else {
        return Err("usage: distill_with_corpus MINILM_DIR OUT.bin TEXTS PRIOR FILE_LIST".into());
    };
    let wanted: usize = texts.parse()?;
    let mut windows = Vec::new();
    for path in std::fs::read_to_string(file_list)?.lines() {
        // Unreadable or non-UTF-8 files are not corpus text.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        windows.extend(
            lines
                .chunks(WINDOW_LINES)
                .map(|window| window.join("\n"))
                .filter(|window| window.trim().len() > 40),
        );
    }
    let stride = (windows.len() / wanted.max(1)).max(1);
    let corpus: Vec<String> = windows.into_iter().step_by(stride).take(wanted).collect();
    let options = DistillOptions {
        corpus,
        context_prior: prior.parse()?,
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
