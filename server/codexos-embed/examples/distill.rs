//! Distils the static embedder from a MiniLM folder:
//! `cargo run -p codexos-embed --example distill -- MODEL_DIR OUT_FILE`
//! (scripts/fetch-models runs it after fetching the model).

use std::path::PathBuf;
use std::process::ExitCode;

use codexos_embed::{DistillOptions, distill};

fn main() -> ExitCode {
    let arguments: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [model_dir, out_path] = arguments.as_slice() else {
        eprintln!("usage: distill MODEL_DIR OUT_FILE");
        return ExitCode::from(2);
    };
    match distill(model_dir, out_path, &DistillOptions::default()) {
        Ok(report) => {
            eprintln!(
                "distilled {} tokens into {} dims in {:.1} s: {}",
                report.tokens,
                report.dim,
                report.seconds,
                report.path.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("distill: {error}");
            ExitCode::FAILURE
        }
    }
}
