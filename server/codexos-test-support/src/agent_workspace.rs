//! A workspace whose `codexos lsp` calls its models at a test's fake provider: a temporary
//! folder with a `codexos.toml`, a home of its own (no local model, no identity file from the
//! machine) and no provider key from the environment.

use std::path::Path;

use serde_json::{Value, json};

use crate::{LspClient, file_uri};

/// Environment variables that would route models or secrets away from the test's own.
const FOREIGN_VARIABLES: &[&str] = &[
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OLLAMA_HOST",
    "OLLAMA_MODEL",
    "CODEXOS_MODELS_DIR",
    "XDG_DATA_HOME",
];

pub struct AgentWorkspace {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl AgentWorkspace {
    /// `files` (path, text) in a new workspace; `codexos.toml` is empty unless given.
    pub fn new(files: &[(&str, &str)]) -> AgentWorkspace {
        let workspace = AgentWorkspace {
            dir: tempfile::tempdir().expect("temp dir"),
            home: tempfile::tempdir().expect("temp home"),
        };
        workspace.write("codexos.toml", "");
        for (path, text) in files {
            workspace.write(path, text);
        }
        workspace
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, path: &str, text: &str) {
        let path = self.root().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, text).expect("write");
    }

    pub fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.root().join(path)).ok()
    }

    pub fn uri(&self, path: &str) -> String {
        file_uri(&self.root().join(path))
    }

    /// `binary lsp` in the workspace, calling OpenAI-compatible models at `llm_url` (the fake
    /// provider's), initialized with `capabilities`.
    pub fn start(&self, binary: &Path, llm_url: &str, capabilities: Value) -> LspClient {
        let home = self.home.path().to_owned();
        let base_url = format!("{llm_url}/v1");
        let mut client = LspClient::start_with(binary, self.root(), |command| {
            for name in FOREIGN_VARIABLES {
                command.env_remove(name);
            }
            command
                .env("HOME", &home)
                .env(
                    "VAULT_MASTER_KEY",
                    "agent-workspace-test-master-key-0123456789",
                )
                .env("OPENAI_BASE_URL", &base_url);
        });
        client.initialize(self.root(), capabilities);
        client
    }

    /// Capabilities of an editor that shows progress and applies versioned edits that may
    /// create files.
    pub fn editor_capabilities() -> Value {
        json!({
            "window": { "workDoneProgress": true },
            "workspace": {
                "workspaceEdit": {
                    "documentChanges": true,
                    "resourceOperations": ["create"]
                }
            }
        })
    }
}
