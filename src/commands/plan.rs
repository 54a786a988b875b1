//! `tagrec plan`: load and check the manifest, read the live projects, plan, print; with
//! `--out FILE` save the plan for `tagrec apply FILE` (`--out -`: the plan JSON on stdout).
//! With several manifests, each is planned (`--jobs` at a time) and the plans are printed
//! together; `--out DIR` saves one plan per manifest for `tagrec apply DIR`.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::cli::{PlanArgs, PlanFormat};
use crate::ops;
use crate::ops::connect::ConnectOptions;
use crate::ops::plan::Unmatched;
use crate::plan::{Action, Plan};
use crate::render;
use crate::render::estate::{self, Entry, MarkdownSection, Section};
use crate::shell::{Exit, Shell};

pub async fn run(shell: &Shell, args: PlanArgs) -> anyhow::Result<Exit> {
    let selected = super::select(shell, &args.manifests)?;
    let connect = super::connect_options(&args.target);
    if selected.estate {
        return estate_plan(shell, &args, &selected.files, &connect).await;
    }
    let Some(file) = selected.files.first() else {
        return Ok(Exit::Success);
    };
    let Some(loaded) = super::load(shell, file) else {
        return Ok(Exit::Failure);
    };
    let prepared = ops::plan::prepare(&loaded, &connect, &args.targets).await?;
    let plan = &prepared.plan;
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    let shown = match args.format {
        PlanFormat::Text => render::plan::text(plan),
        PlanFormat::Json => render::plan::json(plan),
        PlanFormat::Markdown => render::plan::markdown(plan),
    };
    // With `--out -` stdout carries the plan file alone; the plan for people goes to stderr.
    match (to_stdout, args.format) {
        (false, _) => shell.print(&shown),
        (true, PlanFormat::Json) => {}
        (true, _) => shell.eprint(&shown),
    }
    shell.append_step_summary(&render::plan::markdown(plan))?;
    if !prepared.errors.is_empty() {
        super::report_plan_errors(shell, &prepared.errors);
        if let Some(out) = &args.out {
            let place = if to_stdout {
                "stdout".to_string()
            } else {
                out.display().to_string()
            };
            shell.status(format!("no plan written to {place}: the plan has errors"));
        }
        return Ok(Exit::Failure);
    }
    match &args.out {
        Some(_) if to_stdout => {
            shell.print(&render::plan::json(plan));
            shell.status(
                "Wrote the plan to stdout: save it to a file, then `tagrec apply FILE` makes exactly these changes.",
            );
        }
        Some(out) => {
            ops::plan::save(plan, out)?;
            shell.status(format!(
                "Saved the plan to {}: run `{}` to make exactly these changes.",
                out.display(),
                ops::plan::apply_command(out, plan, &connect)
            ));
        }
        None => {}
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}

/// One manifest of an estate, planned. Its live list is dropped as soon as the plan is made:
/// what is kept grows with the estate's plans, the rest with `--jobs`.
struct Planned {
    /// The account it reaches (`ops::estate::account_of`).
    account: String,
    plan: Plan,
    /// The plan's problems (conflicts, the quota), each with its place: not applicable.
    errors: Vec<String>,
    unmatched: Vec<Unmatched>,
}

async fn estate_plan(
    shell: &Shell,
    args: &PlanArgs,
    files: &[PathBuf],
    connect: &ConnectOptions,
) -> anyhow::Result<Exit> {
    super::no_endpoint_for_an_estate(connect)?;
    let out = match args.out.as_deref() {
        Some(dir) if dir == Path::new("-") => anyhow::bail!(
            "--out - writes one plan, and several manifests were given: give a folder (--out DIR) to save one plan per manifest"
        ),
        Some(dir) => Some((dir, ops::plan::estate_plan_paths(dir, files)?)),
        None => None,
    };
    let targets = &args.targets;
    let results: Vec<Result<Planned, String>> =
        ops::estate::for_each(files, args.manifests.jobs.into(), |file| async move {
            let loaded = super::load_in_estate(file).await?;
            super::check_estate_overrides(&loaded, connect)?;
            let (prepared, unmatched) = ops::plan::prepare_in_estate(&loaded, connect, targets)
                .await
                .map_err(|e| super::sentence(&e))?;
            Ok(Planned {
                account: super::account_of(&loaded, &prepared.plan, connect),
                errors: super::plan_error_lines(&prepared.errors),
                plan: prepared.plan,
                unmatched,
            })
        })
        .await;
    let unmatched = results.iter().flatten().map(|p| p.unmatched.as_slice());
    if let Some(message) = ops::plan::unmatched_everywhere(unmatched) {
        anyhow::bail!(message);
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let mut results = results;
    ops::estate::refuse_shared_accounts(&names, &mut results, |planned| &planned.account);
    let summary = summary(&results);
    let markdown = markdown(&names, &results, &summary.line);
    shell.print(&match args.format {
        PlanFormat::Text => text(&names, &results, &summary.line),
        PlanFormat::Json => estate::json(
            "plan",
            names
                .iter()
                .zip(&results)
                .map(|(name, result)| (name.clone(), json_entry(result))),
            summary.json,
        ),
        PlanFormat::Markdown => markdown.clone(),
    });
    shell.append_step_summary(&markdown)?;
    if args.format != PlanFormat::Text {
        // The text form shows each failure in its manifest's section; the others are for
        // programs, and the log needs to say what failed.
        for (name, result) in names.iter().zip(&results) {
            match result {
                Err(error) => shell.error(format!("{name}: {error}")),
                Ok(planned) => {
                    for line in &planned.errors {
                        shell.error(format!("{name}: {line}"));
                    }
                }
            }
        }
    }
    if let Some((dir, paths)) = out {
        save_plans(shell, dir, &names, &results, &paths, connect)?;
    }
    Ok(Exit::combine(results.iter().map(|result| match result {
        Ok(planned) if planned.errors.is_empty() => {
            if args.detailed_exitcode && planned.plan.has_changes() {
                Exit::Changes
            } else {
                Exit::Success
            }
        }
        _ => Exit::Failure,
    })))
}

struct Summary {
    line: String,
    json: serde_json::Value,
}

/// The counts of the manifests that planned without errors; the others are `failed`.
fn summary(results: &[Result<Planned, String>]) -> Summary {
    let good: Vec<&Plan> = results
        .iter()
        .flatten()
        .filter(|p| p.errors.is_empty())
        .map(|p| &p.plan)
        .collect();
    let failed = results.len() - good.len();
    let create: usize = good.iter().map(|p| p.summary.create).sum();
    let update: usize = good.iter().map(|p| p.summary.update).sum();
    let archive: usize = good.iter().map(|p| p.summary.archive).sum();
    Summary {
        line: format!(
            "Estate: {}, {create} to create, {update} to update, {archive} to archive, {failed} failed.",
            estate::manifests(results.len())
        ),
        json: json!({"manifests": results.len(), "failed": failed, "create": create,
            "update": update, "archive": archive}),
    }
}

fn text(names: &[String], results: &[Result<Planned, String>], summary: &str) -> String {
    let sections: Vec<Section> = names
        .iter()
        .zip(results)
        .map(|(name, result)| {
            estate::plan_section(
                name,
                result
                    .as_ref()
                    .map(|planned| (&planned.plan, planned.errors.as_slice())),
            )
        })
        .collect();
    estate::text(&sections, summary)
}

fn json_entry(result: &Result<Planned, String>) -> Entry {
    match result {
        Ok(planned) if planned.errors.is_empty() => {
            Entry::Done(render::plan::json_value(&planned.plan))
        }
        Ok(planned) => Entry::Failed {
            error: format!("the plan has errors: {}", planned.errors.join("; ")),
            result: Some(render::plan::json_value(&planned.plan)),
        },
        Err(error) => Entry::Failed {
            error: error.clone(),
            result: None,
        },
    }
}

/// One comment: the manifests with changes (or problems) get a section with their table and
/// plan, sharing the comment's room; the others one line each.
fn markdown(names: &[String], results: &[Result<Planned, String>], summary: &str) -> String {
    let mut sections: Vec<MarkdownSection> = names
        .iter()
        .zip(results)
        .map(|(name, result)| match result {
            Ok(planned) if planned.errors.is_empty() && !planned.plan.has_changes() => {
                let unmanaged = planned.plan.unmanaged.len();
                MarkdownSection {
                    manifest: name.clone(),
                    target: Some(planned.plan.target.endpoint.clone()),
                    headline: match unmanaged {
                        0 => "No changes.".to_string(),
                        1 => "No changes (1 unmanaged project).".to_string(),
                        n => format!("No changes ({n} unmanaged projects)."),
                    },
                    body: None,
                }
            }
            Ok(planned) => MarkdownSection {
                manifest: name.clone(),
                target: Some(planned.plan.target.endpoint.clone()),
                headline: if planned.errors.is_empty() {
                    render::plan::summary_line(&planned.plan)
                } else {
                    "**Failed: the plan has errors** (nothing of it can be applied).".to_string()
                },
                body: Some(String::new()),
            },
            Err(_) => MarkdownSection {
                manifest: name.clone(),
                target: None,
                headline: "**Failed.**".to_string(),
                body: Some(String::new()),
            },
        })
        .collect();
    // The headings and one-liners first (at most their room); what is left is shared by the
    // sections with a body.
    let line = |s: &MarkdownSection| {
        s.manifest.len() + s.target.as_deref().map_or(0, str::len) + s.headline.len() + 20
    };
    let quiet: usize = sections.iter().filter(|s| s.body.is_none()).map(line).sum();
    let fixed = sections
        .iter()
        .filter(|s| s.body.is_some())
        .map(line)
        .sum::<usize>()
        + quiet.min(estate::QUIET_ROOM);
    let bodies = sections.iter().filter(|s| s.body.is_some()).count();
    let share = estate::markdown_share(fixed, bodies, render::plan::MARKDOWN_LIMIT);
    for (section, result) in sections.iter_mut().zip(results) {
        if section.body.is_none() {
            continue;
        }
        section.body = Some(match result {
            Ok(planned) => {
                let mut body = String::new();
                for line in &planned.errors {
                    body.push_str(&format!("- {}\n", render::markdown_text(line)));
                }
                if !body.is_empty() {
                    body.push('\n');
                }
                let room = share.saturating_sub(body.len());
                body.push_str(&render::plan::markdown_section(&planned.plan, room));
                body
            }
            Err(error) => {
                let shown: String = error.chars().take(share.saturating_sub(20)).collect();
                format!("```text\n{shown}\n```")
            }
        });
    }
    estate::markdown(
        "tagrec plan",
        summary,
        &sections,
        render::plan::MARKDOWN_LIMIT,
    )
}

/// `--out DIR`: each plan without errors is saved (without changes too, so that `apply DIR`
/// sees the whole estate), and the user told how to apply them.
fn save_plans(
    shell: &Shell,
    dir: &Path,
    names: &[String],
    results: &[Result<Planned, String>],
    paths: &[PathBuf],
    connect: &ConnectOptions,
) -> anyhow::Result<()> {
    let mut saved = 0;
    let mut archives = false;
    let mut not_saved = Vec::new();
    for ((name, result), path) in names.iter().zip(results).zip(paths) {
        match result {
            Ok(planned) if planned.errors.is_empty() => {
                ops::plan::save(&planned.plan, path)?;
                saved += 1;
                archives |= planned
                    .plan
                    .changes
                    .iter()
                    .any(|c| c.action == Action::Archive);
            }
            _ => not_saved.push(name.as_str()),
        }
    }
    if !not_saved.is_empty() {
        shell.status(format!(
            "No plan saved for {}: {} failed.",
            not_saved.join(", "),
            if not_saved.len() == 1 {
                "its plan"
            } else {
                "their plans"
            }
        ));
    }
    if saved > 0 {
        let mut command = format!(
            "tagrec apply {}",
            ops::plan::shell_word(&dir.display().to_string())
        );
        if archives {
            command.push_str(" --allow-archive");
        }
        command.push_str(&ops::plan::credential_flags(connect));
        shell.status(format!(
            "Saved {saved} plan{} to {}: run `{command}` to make exactly these changes.",
            if saved == 1 { "" } else { "s" },
            dir.display()
        ));
    }
    Ok(())
}
