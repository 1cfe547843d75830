//! Prints how files are chunked, for checking a grammar folder by eye:
//! `cargo run -p codexos-chunk --example chunk -- [--grammars DIR] [--symbols] FILE...`

use std::path::PathBuf;
use std::process::ExitCode;

use codexos_chunk::{ChunkConfig, Chunker};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let show_symbols = args.iter().any(|arg| arg == "--symbols");
    args.retain(|arg| arg != "--symbols");
    let grammars = match args.iter().position(|arg| arg == "--grammars") {
        Some(at) if at + 1 < args.len() => {
            let folder = PathBuf::from(args.remove(at + 1));
            args.remove(at);
            Some(folder)
        }
        _ => None,
    };
    let chunker = match &grammars {
        Some(folder) => Chunker::with_grammar_folder(ChunkConfig::default(), folder),
        None => Chunker::new(ChunkConfig::default()),
    };
    let chunker = match chunker {
        Ok(chunker) => chunker,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for file in args.iter().map(PathBuf::from) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: {}: {error}", file.display());
                failed = true;
                continue;
            }
        };
        match chunker.chunk(&file, &text) {
            Ok(chunks) => {
                println!(
                    "{} ({}, {} chunks)",
                    file.display(),
                    chunker.language_of(&file),
                    chunks.len()
                );
                for chunk in chunks {
                    println!(
                        "  {:>5}-{:<5} {:>4} tokens  {:<8} {}",
                        chunk.start_line, chunk.end_line, chunk.tokens, chunk.kind, chunk.symbol
                    );
                    for symbol in chunk.symbols.iter().filter(|_| show_symbols) {
                        println!(
                            "                      {}-{} {} {}",
                            symbol.start_line, symbol.end_line, symbol.kind, symbol.symbol
                        );
                    }
                }
            }
            Err(error) => {
                eprintln!("error: {error}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
