//! `tagrec validate`: the manifest and its policy checked offline, every problem printed in the
//! chosen format (stdout, since the problems are the result), exit 1 when there is any error.
//! With several manifests, each is checked and the results are printed together.

use serde_json::json;

use crate::cli::{ValidateArgs, ValidateFormat};
use crate::ops;
use crate::ops::validate::Checked;
use crate::render::diagnostics as printer;
use crate::render::estate::{self, Entry, Section};
use crate::shell::{Exit, Shell};
use crate::source::Sources;

pub fn run(shell: &Shell, args: ValidateArgs) -> anyhow::Result<Exit> {
    let selected = super::select(shell, &args.manifests)?;
    let checks: Vec<(String, Checked)> = selected
        .files
        .iter()
        .map(|file| (file.display().to_string(), ops::validate::check(file)))
        .collect();
    let exit = Exit::combine(checks.iter().map(|(_, c)| exit_of(c)));
    let output = if selected.estate {
        estate_output(shell, args.format, checks)
    } else {
        let Some((file, checked)) = checks.into_iter().next() else {
            return Ok(Exit::Success);
        };
        match args.format {
            ValidateFormat::Text => text(shell, &file, &checked),
            ValidateFormat::Json => printer::json(&checked.diagnostics, &checked.sources),
            ValidateFormat::Github => printer::github(&checked.diagnostics, &checked.sources),
            ValidateFormat::Sarif => printer::sarif(&checked.diagnostics, &checked.sources),
        }
    };
    shell.print(&output);
    Ok(exit)
}

fn exit_of(checked: &Checked) -> Exit {
    if checked.has_errors() {
        Exit::Failure
    } else {
        Exit::Success
    }
}

/// The problems, then `N errors in FILE` or `FILE is valid: N projects`.
fn text(shell: &Shell, file: &str, checked: &Checked) -> String {
    let mut out = printer::text(
        &checked.diagnostics,
        &checked.sources,
        shell.stdout_colored(),
    );
    out.push_str(&verdict(file, checked));
    out.push('\n');
    out
}

fn verdict(file: &str, checked: &Checked) -> String {
    let errors = checked.error_count();
    if errors > 0 {
        let s = if errors == 1 { "" } else { "s" };
        if file.is_empty() {
            format!("{errors} error{s}")
        } else {
            format!("{errors} error{s} in {file}")
        }
    } else {
        let projects = checked.manifest.as_ref().map_or(0, |m| m.projects.len());
        let s = if projects == 1 { "" } else { "s" };
        format!("{file} is valid: {projects} project{s}")
    }
}

fn estate_output(shell: &Shell, format: ValidateFormat, checks: Vec<(String, Checked)>) -> String {
    let failed = checks.iter().filter(|(_, c)| c.has_errors()).count();
    let total = checks.len();
    match format {
        ValidateFormat::Text => {
            let sections: Vec<Section> = checks
                .iter()
                .map(|(file, checked)| Section {
                    manifest: file.clone(),
                    target: None,
                    body: text(shell, file, checked),
                })
                .collect();
            estate::text(
                &sections,
                &format!(
                    "Estate: {}, {} valid, {failed} failed.",
                    estate::manifests(total),
                    total - failed
                ),
            )
        }
        ValidateFormat::Json => {
            let entries = checks.into_iter().map(|(file, checked)| {
                let result = printer::json_value(&checked.diagnostics);
                let entry = if checked.has_errors() {
                    Entry::Failed {
                        error: verdict(&file, &checked),
                        result: Some(result),
                    }
                } else {
                    Entry::Done(result)
                };
                (file, entry)
            });
            estate::json(
                "validate",
                entries,
                json!({"manifests": total, "failed": failed, "valid": total - failed}),
            )
        }
        // Annotations and code scanning results carry their file: one list for the estate.
        ValidateFormat::Github | ValidateFormat::Sarif => {
            let mut diagnostics = Vec::new();
            let mut sources = Sources::default();
            for (_, checked) in checks {
                diagnostics.extend(checked.diagnostics);
                sources.extend(checked.sources);
            }
            match format {
                ValidateFormat::Github => printer::github(&diagnostics, &sources),
                _ => printer::sarif(&diagnostics, &sources),
            }
        }
    }
}
