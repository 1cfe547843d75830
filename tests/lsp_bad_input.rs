//! Bad input to `codexos lsp`: the server answers with a clear error or ignores, never panics,
//! never hangs. Every test ends by checking the process is alive and still answers.
