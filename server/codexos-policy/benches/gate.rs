//! What the gate adds to a tool call: a decision that needs no trust store (a read), and one
//! that reads and parses the user's trust store (a command it allows), with 100 workspaces of 20
//! grants each in the store.

use std::path::PathBuf;

use codexos_policy::{
    Action, Approval, Gate, GateConfig, PolicyGate, TrustFile, WorkspaceRequests,
};

fn main() {
    divan::main();
}

struct Fixture {
    _dir: tempfile::TempDir,
    gate: PolicyGate,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let trust = TrustFile::at(dir.path().join("trust.toml"));
    trust
        .update(|store| {
            for workspace in 0..100 {
                let entry =
                    store.workspace_mut(&PathBuf::from(format!("/work/project-{workspace}")));
                for grant in 0..20 {
                    entry.commands.push(format!("cargo test -p crate-{grant}"));
                }
            }
        })
        .expect("trust store");
    let gate = PolicyGate::new(GateConfig {
        root: PathBuf::from("/work/project-50"),
        requests: WorkspaceRequests {
            allow_shell: true,
            ..WorkspaceRequests::default()
        },
        offline: false,
        trust: Some(trust),
        approval: Approval::Nobody {
            why: "benchmark".to_owned(),
        },
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    Fixture {
        _dir: dir,
        gate,
        runtime,
    }
}

#[divan::bench]
fn a_read(bencher: divan::Bencher) {
    let fixture = fixture();
    let read = Action::Read {
        path: "src/main.rs".to_owned(),
    };
    bencher.bench_local(|| {
        fixture
            .runtime
            .block_on(fixture.gate.decide("read_file", &read, None))
    });
}

#[divan::bench]
fn a_command_the_trust_store_allows(bencher: divan::Bencher) {
    let fixture = fixture();
    let command = Action::Command {
        tool: "shell".to_owned(),
        command: "cargo test -p crate-19".to_owned(),
    };
    bencher.bench_local(|| {
        let decision = fixture
            .runtime
            .block_on(fixture.gate.decide("shell", &command, None));
        assert!(decision.allowed());
        decision
    });
}
