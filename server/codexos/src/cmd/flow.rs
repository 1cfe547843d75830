//! `codexos flow templates [--json]` and `codexos flow new --template NAME [PATH] [--id ID]`.
//!
//! Templates are flows to fork ([`codexos_service::templates`]): the shipped ones and those of the
//! workspace's `[flows] template_dirs`; the ones that fail the checks are reported on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use codexos_flow::FLOW_SUFFIX;
use codexos_service::templates::{fork, template_name, templates};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: FlowCommand,
}

#[derive(clap::Subcommand)]
enum FlowCommand {
    /// List the templates a new flow can start from.
    Templates {
        /// Print a JSON array (name, id, title, description, tags, source).
        #[arg(long)]
        json: bool,
    },
    /// Fork a template into the workspace under a new id.
    New {
        /// The template's name (its file name without `.flow.json`) or its id.
        #[arg(long)]
        template: String,
        /// The new file, or a folder to put `<template>.flow.json` in (default: `flows/`).
        path: Option<PathBuf>,
        /// The new flow's id (default: the new file's name without `.flow.json`).
        #[arg(long)]
        id: Option<String>,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let workspace = super::discover_workspace(&cwd)?;
    let (templates, rejected) = templates(&workspace);
    for rejected in &rejected {
        eprintln!(
            "warning: template {} is not offered: {}",
            rejected.source, rejected.reason
        );
    }
    match args.command {
        FlowCommand::Templates { json } => {
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &templates)?;
                writeln!(out)?;
            } else {
                for template in &templates {
                    writeln!(
                        out,
                        "{:<18} {} [{}]",
                        template.name,
                        template.description,
                        template.tags.join(", ")
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::New { template, path, id } => {
            let Some(chosen) = templates
                .iter()
                .find(|t| t.name == template || t.id == template)
            else {
                let names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
                bail!(
                    "no template named `{template}`; the templates are: {}",
                    names.join(", ")
                );
            };
            let target = target_path(path.as_deref(), &chosen.name);
            let id = match id {
                Some(id) => id,
                None => id_from_path(&target)?,
            };
            let text = fork(&chosen.text, &id).map_err(|reason| anyhow!(reason))?;
            write_new(&target, &text)?;
            println!("{}", target.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn target_path(path: Option<&Path>, template: &str) -> PathBuf {
    let file = format!("{template}{FLOW_SUFFIX}");
    match path {
        None => Path::new("flows").join(file),
        Some(path) if path.is_dir() => path.join(file),
        Some(path) => path.to_owned(),
    }
}

/// `flows/my-review.flow.json` → `my-review` (characters an id cannot hold become `-`).
fn id_from_path(path: &Path) -> anyhow::Result<String> {
    let name = template_name(path);
    if !path.to_string_lossy().ends_with(FLOW_SUFFIX) || name.is_empty() {
        bail!(
            "{}: a flow file's name ends with `{FLOW_SUFFIX}` (e.g. `flows/my-agent{FLOW_SUFFIX}`)",
            path.display()
        );
    }
    Ok(name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect())
}

/// Writes a new file atomically (temporary file, fsync, rename), never over an existing one.
pub fn write_new(target: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", target.display()))?;
    file.persist_noclobber(target).map_err(|error| {
        if error.error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!("{} already exists; choose another path", target.display())
        } else {
            anyhow::anyhow!("cannot write {}: {}", target.display(), error.error)
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_id_comes_from_the_file_name() {
        let id = id_from_path(Path::new("flows/my review.flow.json")).map_err(|e| e.to_string());
        assert_eq!(id, Ok("my-review".to_owned()));
        let error = id_from_path(Path::new("flows/notes.json")).map_err(|e| e.to_string());
        assert_eq!(
            error,
            Err("flows/notes.json: a flow file's name ends with `.flow.json` (e.g. `flows/my-agent.flow.json`)".to_owned())
        );
    }

    #[test]
    fn a_new_flow_never_overwrites_an_existing_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("a.flow.json");
        std::fs::write(&target, "mine").expect("write");
        let error = write_new(&target, "theirs").map_err(|e| e.to_string());
        assert_eq!(
            error,
            Err(format!(
                "{} already exists; choose another path",
                target.display()
            ))
        );
        assert_eq!(
            std::fs::read_to_string(&target).ok().as_deref(),
            Some("mine")
        );
    }
}
