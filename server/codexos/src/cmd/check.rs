//! `codexos check [PATH...] [--format human|json]`.
//!
//! Human output is one line per finding, `path:line:col: severity[code]: message` (one-based
//! line and column, the column in characters, as rustc and ruff print them), related places as
//! indented `note` lines, then a summary. `--format json` prints JSON lines, one finding a line
//! (`path`, `line`, `column`, `end_line`, `end_column`, `severity`, `code`, `message`, `related`,
//! `fixes`), like `codexos search`: easy to stream, grep and `jq`; nothing at all when the flows
//! are clean. Paths that cannot be read go to stderr.
//!
//! Exit status: 0 when no finding is an error (warnings alone pass), 1 when any is, 2 when the
//! command could not do its job (bad arguments, unreadable paths, a broken `codexos.toml`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use codexos_flow::Severity;
use codexos_service::{CheckReport, CheckedFile};
use serde::Serialize;

#[derive(clap::Args)]
pub struct Args {
    /// Flow files, or folders to search for `*.flow.json` (default: the current folder).
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Human,
    Json,
}

/// How long an approved MCP server may take to start and list its tools when the workspace
/// does not set `[tools] timeout_secs`.
const MCP_LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let mut workspace = super::discover_workspace(&cwd)?;
    for warning in &workspace.config().warnings {
        eprintln!("warning: {warning}");
    }
    // The MCP servers you approved list their tools, so a tool node's `args` are checked
    // against their schemas too (the others are never started here).
    let timeout = workspace
        .tool_config()
        .map_or(MCP_LIST_TIMEOUT, |config| config.timeout);
    let (mcp_tools, left_out) =
        super::agent::runtime()?.block_on(workspace.approved_mcp_tools(timeout));
    for note in left_out {
        eprintln!("note: {note}");
    }
    workspace = workspace.with_tools(mcp_tools);
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let report = workspace.check_paths(&paths);
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Human => print_human(&report, &mut stdout),
        Format::Json => print_json(&report, &mut stdout),
    }
    .context("cannot write the report")?;
    for error in &report.errors {
        eprintln!("error: {error}");
    }
    Ok(if !report.errors.is_empty() {
        ExitCode::from(2)
    } else if report.count(Severity::Error) > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A path as the user would type it: `flows/a.flow.json`, not `./flows/a.flow.json`.
fn shown(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}

fn print_human(report: &CheckReport, out: &mut impl Write) -> std::io::Result<()> {
    for file in &report.files {
        let path = shown(&file.path);
        for finding in &file.findings {
            let (line, col) = file.position(finding.range.start);
            let severity = finding.severity.as_str();
            writeln!(
                out,
                "{path}:{line}:{col}: {severity}[{}]: {}",
                finding.code, finding.message
            )?;
            for related in &finding.related {
                let (line, col) = file.position(related.range.start);
                writeln!(out, "  {path}:{line}:{col}: note: {}", related.message)?;
            }
        }
    }
    let (errors, warnings) = (
        report.count(Severity::Error),
        report.count(Severity::Warning),
    );
    let files = report.files.len();
    let flows = if files == 1 { "flow" } else { "flows" };
    if errors + warnings == 0 {
        writeln!(out, "Checked {files} {flows}: no problems.")
    } else {
        writeln!(
            out,
            "Checked {files} {flows}: {errors} error(s), {warnings} warning(s)."
        )
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    path: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    severity: &'static str,
    code: &'static str,
    message: &'a str,
    related: Vec<JsonRelated<'a>>,
    fixes: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    line: u32,
    column: u32,
    message: &'a str,
}

fn print_json(report: &CheckReport, out: &mut impl Write) -> std::io::Result<()> {
    for finding in report.files.iter().flat_map(json_findings) {
        serde_json::to_writer(&mut *out, &finding)?;
        writeln!(out)?;
    }
    Ok(())
}

fn json_findings(file: &CheckedFile) -> impl Iterator<Item = JsonFinding<'_>> {
    file.findings.iter().map(move |finding| {
        let (line, column) = file.position(finding.range.start);
        let (end_line, end_column) = file.position(finding.range.end);
        JsonFinding {
            path: shown(&file.path),
            line,
            column,
            end_line,
            end_column,
            severity: finding.severity.as_str(),
            code: finding.code.as_str(),
            message: &finding.message,
            related: finding
                .related
                .iter()
                .map(|related| {
                    let (line, column) = file.position(related.range.start);
                    JsonRelated {
                        line,
                        column,
                        message: &related.message,
                    }
                })
                .collect(),
            fixes: finding.fixes.iter().map(|fix| fix.title.as_str()).collect(),
        }
    })
}
