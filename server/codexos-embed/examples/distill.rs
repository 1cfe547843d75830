//! Distils the static embedder from a MiniLM folder:
//! `cargo run -p codexos-embed --example distill -- [--if-stale] MODEL_DIR OUT_FILE`
//! (scripts/fetch-models runs it after fetching the model). With `--if-stale` an existing
//! OUT_FILE that loads (right format, not damaged) is kept.

use std::path::PathBuf;
use std::process::ExitCode;

use codexos_embed::{DistillOptions, EmbedError, StaticEmbedder, distill};

fn main() -> ExitCode {
    let mut arguments: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let if_stale = arguments
        .first()
        .is_some_and(|first| first.as_os_str() == "--if-stale");
    if if_stale {
        arguments.remove(0);
    }
    let [model_dir, out_path] = arguments.as_slice() else {
        eprintln!("usage: distill [--if-stale] MODEL_DIR OUT_FILE");
        return ExitCode::from(2);
    };
    if if_stale {
        match StaticEmbedder::load(out_path) {
            Ok(_) => return ExitCode::SUCCESS,
            Err(EmbedError::MissingModelFile { .. }) => {
                eprintln!("distill: building {}", out_path.display())
            }
            Err(reason) => eprintln!("distill: rebuilding, because {reason}"),
        }
    }
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
