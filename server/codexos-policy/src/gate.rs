//! The gate every tool call passes: the policy's answer, the user's when the policy asks for it,
//! and the [`Decision`] that the run's trace records either way.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::policy::{DecidedBy, Evaluation, Grant, Policy, Question, WorkspaceRequests};
use crate::store::{TrustFile, WorkspaceTrust};

/// Whether a call may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allowed,
    Refused,
}

/// One decision, with what was asked: what the trace records and the editor shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub tool: String,
    pub action: Action,
    pub verdict: Verdict,
    pub by: DecidedBy,
    pub reason: String,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.verdict == Verdict::Allowed
    }

    /// A refusal the policy makes without asking anyone (an unlisted tool, a sub-flow outside
    /// the workspace).
    pub fn refused(tool: &str, action: Action, reason: impl Into<String>) -> Decision {
        Decision {
            tool: tool.to_owned(),
            action,
            verdict: Verdict::Refused,
            by: DecidedBy::Policy,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            Verdict::Allowed => "allowed",
            Verdict::Refused => "refused",
        };
        write!(
            f,
            "{verdict} by {}: {}: {}",
            self.by.as_str(),
            self.action,
            self.reason
        )
    }
}

/// Decides whether a tool call may do what it would do; may wait for the user.
pub trait Gate: Send + Sync {
    /// `asker` says who asks, for the user's prompt (`node \`fix\` of \`triage\``).
    fn decide<'a>(
        &'a self,
        tool: &'a str,
        action: &'a Action,
        asker: Option<&'a str>,
    ) -> BoxFuture<'a, Decision>;
}

/// The user's answer to a [`Prompt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Allowed, and remembered for the workspace in the trust store.
    Allow,
    /// Allowed this time only.
    AllowOnce,
    Deny,
}

/// What the user is asked, with the exact command, URL or path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub tool: String,
    pub action: Action,
    pub why: String,
    /// What "Allow" remembers.
    pub grant: Grant,
    pub asker: Option<String>,
    pub workspace: PathBuf,
}

impl Prompt {
    /// The whole question as one message, for a dialog or a terminal.
    pub fn message(&self) -> String {
        let who = self.asker.as_deref().unwrap_or("an agent");
        format!(
            "CodexOS: {who} wants to {} (tool `{}`).\n{}. \"Allow\" remembers {} for {}; \"Allow once\" allows this call only.",
            self.action,
            self.tool,
            capitalized(&self.why),
            self.grant,
            self.workspace.display()
        )
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Asks the user: a dialog in the editor, a question in the terminal.
pub trait Approver: Send + Sync {
    fn ask<'a>(&'a self, prompt: &'a Prompt) -> BoxFuture<'a, Answer>;
}

/// Who answers when the policy asks for the user.
#[derive(Clone)]
pub enum Approval {
    /// Nobody can be asked (MCP, a terminal that is not interactive): the call is refused, and
    /// the message ends with `why` (`"codexos mcp cannot ask you"`).
    Nobody {
        why: String,
    },
    /// `--yes`: everything that would be asked is allowed for this run, and not remembered.
    Yes,
    Ask(Arc<dyn Approver>),
}

/// How a workspace's gate is set up.
#[derive(Clone)]
pub struct GateConfig {
    /// The canonical workspace root: what the trust store is keyed by.
    pub root: PathBuf,
    pub requests: WorkspaceRequests,
    /// This run is offline, whatever the workspace says.
    pub offline: bool,
    /// `None`: no trust store (nothing remembered, nothing can be).
    pub trust: Option<TrustFile>,
    pub approval: Approval,
}

/// The [`Gate`] of one workspace: its policy, its user's trust store and whoever answers.
pub struct PolicyGate {
    config: GateConfig,
    /// One question at a time: a second run asking the same thing waits and then finds the
    /// first answer remembered.
    asking: tokio::sync::Mutex<()>,
    /// This workspace's entry of the trust store as last read, with the file's identity then:
    /// parsed again only when the file changed (`codexos trust`, another editor's "Allow").
    cached: std::sync::Mutex<Option<(FileIdentity, WorkspaceTrust)>>,
}

/// What tells that a file changed: a rewrite (temporary file renamed over it) is a new inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileIdentity {
    inode: u64,
    length: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileIdentity {
    fn of(path: &Path) -> Option<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).ok()?;
        Some(FileIdentity {
            inode: metadata.ino(),
            length: metadata.len(),
            modified: metadata.modified().ok(),
        })
    }
}

impl PolicyGate {
    pub fn new(config: GateConfig) -> PolicyGate {
        PolicyGate {
            config,
            asking: tokio::sync::Mutex::new(()),
            cached: std::sync::Mutex::new(None),
        }
    }

    /// The defaults alone: no trust store and nobody to ask. Reads and ordinary writes are
    /// allowed; commands, plug-ins, MCP servers and the network are refused.
    pub fn defaults(root: &Path) -> PolicyGate {
        PolicyGate::new(GateConfig {
            root: root.to_owned(),
            requests: WorkspaceRequests::default(),
            offline: false,
            trust: None,
            approval: Approval::Nobody {
                why: "nothing here can ask you".to_owned(),
            },
        })
    }

    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// What the user allowed here, or why the trust store cannot say.
    fn trust(&self) -> Result<WorkspaceTrust, String> {
        let Some(file) = &self.config.trust else {
            return Ok(WorkspaceTrust::default());
        };
        let identity = FileIdentity::of(file.path());
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let (Some(identity), Some((known, trust))) = (identity, cached.as_ref())
            && identity == *known
        {
            return Ok(trust.clone());
        }
        let trust = file
            .load()
            .map(|store| store.workspace(&self.config.root))
            .map_err(|error| error.to_string())?;
        *cached = identity.map(|identity| (identity, trust.clone()));
        Ok(trust)
    }

    fn evaluate(&self, action: &Action, trust: &WorkspaceTrust) -> Evaluation {
        Policy {
            requests: &self.config.requests,
            trust,
            offline: self.config.offline || self.config.requests.offline,
        }
        .evaluate(action)
    }

    async fn remember(&self, grant: &Grant) -> Result<(), String> {
        let Some(file) = self.config.trust.clone() else {
            return Err("there is no trust store".to_owned());
        };
        let root = self.config.root.clone();
        let grant = grant.clone();
        tokio::task::spawn_blocking(move || {
            file.update(|store| grant.apply(store.workspace_mut(&root)))
        })
        .await
        .map_err(|error| error.to_string())?
        .map(|_| ())
        .map_err(|error| error.to_string())
    }

    async fn decide_now(&self, tool: &str, action: &Action, asker: Option<&str>) -> Decision {
        let decision = |verdict, by, reason: String| Decision {
            tool: tool.to_owned(),
            action: action.clone(),
            verdict,
            by,
            reason,
        };
        // Reads, searches and calls into running servers never depend on what the user
        // allowed: the trust store is not read for them (they are most of an agent's calls).
        let needs_trust = !matches!(
            action,
            Action::Read { .. }
                | Action::Search
                | Action::Internal
                | Action::McpTool { .. }
                | Action::UnlistedTool { .. }
                | Action::SubFlow { .. }
        );
        let (trust, store_problem) = if needs_trust {
            match self.trust() {
                Ok(trust) => (trust, None),
                Err(problem) => (WorkspaceTrust::default(), Some(problem)),
            }
        } else {
            (WorkspaceTrust::default(), None)
        };
        let question = match self.evaluate(action, &trust) {
            Evaluation::Allowed { by, reason } => {
                return decision(Verdict::Allowed, by, reason);
            }
            Evaluation::Refused { reason } => {
                return decision(Verdict::Refused, DecidedBy::Policy, reason);
            }
            Evaluation::Ask(question) => question,
        };
        let Question { why, grant, .. } = question;
        match &self.config.approval {
            Approval::Yes => decision(
                Verdict::Allowed,
                DecidedBy::Yes,
                format!("{why}; --yes allowed it for this run"),
            ),
            Approval::Nobody { why: nobody } => {
                let store = store_problem
                    .map(|problem| format!(" ({problem})"))
                    .unwrap_or_default();
                decision(
                    Verdict::Refused,
                    DecidedBy::Policy,
                    format!(
                        "{why}, and {nobody}{store}; to allow it: {}",
                        grant.command_line()
                    ),
                )
            }
            Approval::Ask(approver) => {
                let _turn = self.asking.lock().await;
                // Another run may have been asked the same while this one waited its turn.
                if let Ok(trust) = self.trust()
                    && let Evaluation::Allowed { by, reason } = self.evaluate(action, &trust)
                {
                    return decision(Verdict::Allowed, by, reason);
                }
                let prompt = Prompt {
                    tool: tool.to_owned(),
                    action: action.clone(),
                    why: why.clone(),
                    grant: grant.clone(),
                    asker: asker.map(str::to_owned),
                    workspace: self.config.root.clone(),
                };
                match approver.ask(&prompt).await {
                    Answer::Allow => match self.remember(&grant).await {
                        Ok(()) => decision(
                            Verdict::Allowed,
                            DecidedBy::User,
                            format!("you allowed it; {grant} is remembered for this workspace"),
                        ),
                        Err(problem) => decision(
                            Verdict::Allowed,
                            DecidedBy::User,
                            format!("you allowed it, but it could not be remembered: {problem}"),
                        ),
                    },
                    Answer::AllowOnce => decision(
                        Verdict::Allowed,
                        DecidedBy::User,
                        "you allowed it this once".to_owned(),
                    ),
                    Answer::Deny => decision(
                        Verdict::Refused,
                        DecidedBy::User,
                        format!("you denied it ({why})"),
                    ),
                }
            }
        }
    }
}

impl Gate for PolicyGate {
    fn decide<'a>(
        &'a self,
        tool: &'a str,
        action: &'a Action,
        asker: Option<&'a str>,
    ) -> BoxFuture<'a, Decision> {
        Box::pin(self.decide_now(tool, action, asker))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Answers from a script and keeps every prompt.
    struct Scripted {
        answers: Mutex<Vec<Answer>>,
        asked: Mutex<Vec<Prompt>>,
    }

    impl Scripted {
        fn new(answers: &[Answer]) -> Arc<Scripted> {
            Arc::new(Scripted {
                answers: Mutex::new(answers.iter().rev().copied().collect()),
                asked: Mutex::new(Vec::new()),
            })
        }

        fn asked(&self) -> Vec<String> {
            self.asked
                .lock()
                .map(|asked| asked.iter().map(Prompt::message).collect())
                .unwrap_or_default()
        }
    }

    impl Approver for Scripted {
        fn ask<'a>(&'a self, prompt: &'a Prompt) -> BoxFuture<'a, Answer> {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(prompt.clone());
            }
            let answer = self
                .answers
                .lock()
                .ok()
                .and_then(|mut answers| answers.pop())
                .unwrap_or(Answer::Deny);
            Box::pin(async move { answer })
        }
    }

    fn gate(dir: &Path, approval: Approval) -> PolicyGate {
        PolicyGate::new(GateConfig {
            root: PathBuf::from("/work/project"),
            requests: WorkspaceRequests {
                allow_shell: true,
                ..WorkspaceRequests::default()
            },
            offline: false,
            trust: Some(TrustFile::at(dir.join("trust.toml"))),
            approval,
        })
    }

    fn ls() -> Action {
        Action::Command {
            tool: "shell".to_owned(),
            command: "ls -la".to_owned(),
        }
    }

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[test]
    fn allow_is_remembered_so_the_user_is_asked_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let user = Scripted::new(&[Answer::Allow]);
        let gate = gate(dir.path(), Approval::Ask(user.clone()));
        let first = block_on(gate.decide("shell", &ls(), Some("node `list`")));
        let second = block_on(gate.decide("shell", &ls(), Some("node `list`")));
        assert_eq!(
            first.to_string(),
            "allowed by you: run the shell command `ls -la`: you allowed it; the command `ls -la` is remembered for this workspace"
        );
        assert_eq!(
            second.to_string(),
            "allowed by trust store: run the shell command `ls -la`: you allowed `ls -la` in this workspace"
        );
        expect_test::expect![[r#"
            [
                "CodexOS: node `list` wants to run the shell command `ls -la` (tool `shell`).\nAgents run commands only with your approval. \"Allow\" remembers the command `ls -la` for /work/project; \"Allow once\" allows this call only.",
            ]
        "#]]
        .assert_debug_eq(&user.asked());
    }

    #[test]
    fn allow_once_and_deny_are_not_remembered() {
        let dir = tempfile::tempdir().expect("temp dir");
        let user = Scripted::new(&[Answer::AllowOnce, Answer::Deny]);
        let gate = gate(dir.path(), Approval::Ask(user.clone()));
        let once = block_on(gate.decide("shell", &ls(), None));
        let denied = block_on(gate.decide("shell", &ls(), None));
        assert_eq!(
            (once.verdict, once.by, denied.verdict, denied.by),
            (
                Verdict::Allowed,
                DecidedBy::User,
                Verdict::Refused,
                DecidedBy::User
            )
        );
        assert_eq!(
            denied.reason,
            "you denied it (agents run commands only with your approval)"
        );
        assert_eq!(user.asked().len(), 2);
        assert!(!dir.path().join("trust.toml").exists());
    }

    #[test]
    fn with_nobody_to_ask_the_call_is_refused_with_the_command_that_allows_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let gate = gate(
            dir.path(),
            Approval::Nobody {
                why: "the terminal is not interactive (pass --yes to allow for this run)"
                    .to_owned(),
            },
        );
        let decision = block_on(gate.decide("shell", &ls(), None));
        assert_eq!(
            decision.to_string(),
            "refused by policy: run the shell command `ls -la`: agents run commands only with your approval, and the terminal is not interactive (pass --yes to allow for this run); to allow it: codexos trust allow command 'ls -la'"
        );
    }

    #[test]
    fn yes_allows_for_the_run_without_remembering() {
        let dir = tempfile::tempdir().expect("temp dir");
        let gate = gate(dir.path(), Approval::Yes);
        let decision = block_on(gate.decide("shell", &ls(), None));
        assert_eq!(
            (decision.verdict, decision.by),
            (Verdict::Allowed, DecidedBy::Yes)
        );
        assert!(!dir.path().join("trust.toml").exists());
        let write = Action::Write {
            path: "codexos.toml".to_owned(),
        };
        let protected = block_on(gate.decide("write_file", &write, None));
        assert_eq!(
            protected.verdict,
            Verdict::Refused,
            "--yes never opens a protected path"
        );
    }

    #[test]
    fn a_change_to_the_trust_store_is_seen_by_the_next_decision() {
        let dir = tempfile::tempdir().expect("temp dir");
        let gate = gate(
            dir.path(),
            Approval::Nobody {
                why: "nobody can be asked".to_owned(),
            },
        );
        assert!(!block_on(gate.decide("shell", &ls(), None)).allowed());
        TrustFile::at(dir.path().join("trust.toml"))
            .update(|store| {
                store
                    .workspace_mut(Path::new("/work/project"))
                    .commands
                    .push("ls -la".to_owned())
            })
            .expect("allow");
        assert!(block_on(gate.decide("shell", &ls(), None)).allowed());
        TrustFile::at(dir.path().join("trust.toml"))
            .update(|store| {
                store
                    .workspace_mut(Path::new("/work/project"))
                    .commands
                    .clear()
            })
            .expect("revoke");
        assert!(!block_on(gate.decide("shell", &ls(), None)).allowed());
    }

    #[test]
    fn a_broken_trust_store_trusts_nothing_and_says_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("trust.toml"), "workspaces = 3\n").expect("write");
        let gate = gate(
            dir.path(),
            Approval::Nobody {
                why: "nobody can be asked".to_owned(),
            },
        );
        let decision = block_on(gate.decide("shell", &ls(), None));
        assert_eq!(decision.verdict, Verdict::Refused);
        assert!(
            decision.reason.contains("invalid trust store"),
            "{}",
            decision.reason
        );
    }
}
