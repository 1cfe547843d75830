//! A real Chroma server for tests of the shared base index: `chroma run` from PyPI's chromadb,
//! which `scripts/setup-tools chroma` installs into `.tools/chroma-venv` (or `$CODEXOS_CHROMA`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn running_in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// `$CODEXOS_CHROMA` when set (it must exist then), else the one `scripts/setup-tools` installs.
fn find_chroma() -> Option<PathBuf> {
    if let Some(configured) = std::env::var_os("CODEXOS_CHROMA") {
        let configured = PathBuf::from(configured);
        assert!(
            configured.is_file(),
            "CODEXOS_CHROMA is {}, which is not a file: run scripts/setup-tools chroma",
            configured.display()
        );
        return Some(configured);
    }
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/chroma");
    installed.is_file().then_some(installed)
}

/// A `chroma run` on a free loopback port, killed when dropped.
pub struct ChromaServer {
    chroma: PathBuf,
    child: Option<Child>,
    port: u16,
    data: tempfile::TempDir,
}

impl ChromaServer {
    /// A server from the installed chroma, or `None` (said on stderr) when chroma is not
    /// installed; under CI a missing chroma fails the test.
    pub fn start_if_installed() -> Option<ChromaServer> {
        let Some(chroma) = find_chroma() else {
            assert!(
                !running_in_ci(),
                "chroma is not installed under CI: scripts/setup-tools chroma"
            );
            eprintln!("skipped: no chroma (scripts/setup-tools chroma installs it)");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = ChromaServer {
            chroma,
            child: None,
            port,
            data: tempfile::tempdir().expect("temp dir"),
        };
        server.restart();
        Some(server)
    }

    /// Starts the server (again, after [`ChromaServer::stop`]: same port, same data).
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new(&self.chroma)
            .args([
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--path",
            ])
            .arg(self.data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chroma starts");
        self.child = Some(child);
        let started = Instant::now();
        while !self.answers_heartbeat() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "chroma did not answer on port {} within 60 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn answers_heartbeat(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let request = "GET /api/v2/heartbeat HTTP/1.0\r\nHost: localhost\r\n\r\n";
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.0 200")
    }

    /// `chroma://127.0.0.1:PORT/team`.
    pub fn url(&self) -> String {
        format!("chroma://127.0.0.1:{}/team", self.port)
    }

    /// Kills the server (a server gone mid-session).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChromaServer {
    fn drop(&mut self) {
        self.stop();
    }
}
