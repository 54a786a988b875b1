//! `tagrec apply [PLANFILE]`: plan now (and ask) or load a saved plan (its manifest and target
//! found from what it records, checked not stale), then let the Applier write in passes until
//! done or `--timeout`, showing progress, and report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::apply::{
    ApplyOptions, ApplyReport, ChangeResult, Deadline, Progress, Status, settle_window,
};
use crate::cli::{ApplyArgs, ApplyFormat};
use crate::ops;
use crate::ops::apply::Outcome;
use crate::plan::{Action, Plan};
use crate::render;
use crate::shell::{self, Exit, Shell};

pub async fn run(shell: &Shell, args: ApplyArgs) -> anyhow::Result<Exit> {
    let mut deadline = Deadline::after(args.timeout);
    let connect = super::connect_options(&args.target);
    // For a saved plan: how to make it again, should its archives be skipped.
    let mut plan_again: Option<String> = None;
    let (plan, connection, known_ids) = match &args.planfile {
        Some(path) => {
            if !args.targets.is_empty() {
                bail!(
                    "--target cannot be used with a plan file: the plan is applied exactly as saved; make a new plan with --target instead"
                );
            }
            let plan = ops::apply::read_plan(path)?;
            let located = ops::apply::locate_manifest(&plan, path, args.manifest.as_deref())?;
            let Some(loaded) = super::load(shell, &located.manifest) else {
                return Ok(Exit::Failure);
            };
            let saved =
                ops::apply::check_saved(path, plan, &loaded, &located, &connect, &deadline).await?;
            if skipped_archives(&saved.plan, args.allow_archive) > 0 {
                archive_notice(shell, &saved.plan);
                plan_again = Some(format!(
                    "`{}`, then `{}`",
                    ops::apply::plan_command(
                        &saved.plan,
                        &loaded.manifest,
                        &located,
                        path,
                        &connect
                    ),
                    ops::plan::apply_command(path, &saved.plan, &connect)
                ));
            }
            (saved.plan, saved.connection, saved.known_ids)
        }
        None => {
            let manifest = args
                .manifest
                .clone()
                .unwrap_or_else(|| PathBuf::from("projects.yaml"));
            let Some(loaded) = super::load(shell, &manifest) else {
                return Ok(Exit::Failure);
            };
            let prepared = ops::apply::prepare(&loaded, &connect, &args.targets, &deadline).await?;
            let text = render::plan::text(&prepared.plan);
            match args.format {
                ApplyFormat::Text => shell.print(&text),
                ApplyFormat::Json => shell.eprint(&text),
            }
            if !prepared.errors.is_empty() {
                super::report_plan_errors(shell, &prepared.errors);
                shell.error("nothing was applied: the plan has errors");
                return Ok(Exit::Failure);
            }
            let plan = &prepared.plan;
            let skipped = skipped_archives(plan, args.allow_archive);
            if skipped > 0 {
                archive_notice(shell, plan);
                shell.status("To archive too, add --allow-archive.");
            }
            // Ask only about what will be done: nothing to ask when only skipped archives remain.
            if plan.changes.len() > skipped && !args.auto_approve {
                let asked = Instant::now();
                let yes = confirm(shell, plan, skipped)?;
                // The time a person takes to answer is not apply's to count.
                deadline = deadline.extended(asked.elapsed());
                if !yes {
                    return Ok(Exit::Failure);
                }
            }
            let known = prepared.known_ids();
            (prepared.plan, prepared.connection, known)
        }
    };

    if !plan.has_changes() {
        if args.format == ApplyFormat::Json {
            shell.print(&render::apply::json(&ApplyReport::default()));
        }
        return Ok(Exit::Success);
    }

    let progress = Arc::new(Reporter(shell.progress(plan.changes.len() as u64)));
    let options = ApplyOptions {
        concurrency: usize::from(args.concurrency),
        allow_archive: args.allow_archive,
        settle: settle_window(Duration::from_millis(args.settle_ms)),
        deadline,
    };
    let warn = shell.clone();
    let stop = progress.clone();
    let on_interrupt = move || {
        stop.0.stop();
        warn.warn("interrupted: no new change or pass starts; waiting for the running ones (Ctrl-C again to stop at once)");
    };
    let outcome = ops::apply::run(
        &connection,
        &plan,
        known_ids,
        options,
        progress.as_ref(),
        on_interrupt,
    )
    .await;
    progress.0.finish();
    let report = match outcome {
        Outcome::Report(report) => report,
        Outcome::Abandoned => {
            shell.error("interrupted twice: stopped at once. Changes that were running may or may not have happened; run apply again to finish (it adopts projects whose create answer was lost).");
            return Ok(Exit::Interrupted);
        }
    };
    shell.print(&match args.format {
        ApplyFormat::Json => render::apply::json(&report),
        ApplyFormat::Text => render::apply::text(&report),
    });
    if let Some(again) = plan_again {
        shell.status(format!(
            "The plan's archives were skipped and its other changes are made, so the plan file no longer applies as it is. To archive, plan again: {again}."
        ));
    }
    Ok(if report.interrupted {
        Exit::Interrupted
    } else if report.summary.failed > 0 || report.summary.skipped > 0 {
        Exit::Failure
    } else {
        Exit::Success
    })
}

/// Archives that will not happen for want of `--allow-archive`.
fn skipped_archives(plan: &Plan, allow_archive: bool) -> usize {
    if allow_archive {
        return 0;
    }
    plan.changes
        .iter()
        .filter(|c| c.action == Action::Archive)
        .count()
}

/// Says, before anything is asked or written, which archives will be skipped and why.
fn archive_notice(shell: &Shell, plan: &Plan) {
    let archives: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Archive)
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    let others = plan.changes.len() - archives.len();
    let shown = if archives.len() > 5 {
        format!(
            "{} and {} more",
            archives[..5].join(", "),
            archives.len() - 5
        )
    } else {
        archives.join(", ")
    };
    let count = if archives.len() == 1 {
        "1 archive".to_string()
    } else {
        format!("{} archives", archives.len())
    };
    let rest = match others {
        0 => "nothing else is to be done".to_string(),
        1 => "only the other change will be made".to_string(),
        n => format!("only the other {n} changes will be made"),
    };
    shell.warn(format!(
        "this plan's {count} ({shown}) will be skipped: archiving needs --allow-archive (it cannot be undone); {rest}"
    ));
}

/// Asks on the terminal; with no terminal it refuses rather than guess.
fn confirm(shell: &Shell, plan: &Plan, skipped: usize) -> anyhow::Result<bool> {
    if !shell.stdin_is_terminal() {
        shell.error(
            "no terminal to ask for confirmation: run with --auto-approve, or apply a saved plan (`tagrec plan --out plan.json`, then `tagrec apply plan.json`). Nothing was written.",
        );
        return Ok(false);
    }
    let question = if skipped == 0 {
        "Apply these changes?".to_string()
    } else {
        let count = |action: Action| plan.changes.iter().filter(|c| c.action == action).count();
        let mut parts = Vec::new();
        for (action, verb) in [(Action::Create, "create"), (Action::Update, "update")] {
            let n = count(action);
            if n > 0 {
                parts.push(format!("{n} to {verb}"));
            }
        }
        format!(
            "Apply these changes ({}; not the {skipped} archive{})?",
            parts.join(", "),
            if skipped == 1 { "" } else { "s" }
        )
    };
    let yes = shell.confirm(&question)?;
    if !yes {
        shell.status("Apply cancelled. Nothing was written.");
    }
    Ok(yes)
}

/// The Applier's progress on the shell's display: a bar, or a line per event in CI logs.
struct Reporter(shell::Progress);

impl Progress for Reporter {
    fn finished(&self, result: &ChangeResult) {
        self.0.finished(
            &render::apply::result_line(result),
            result.status == Status::Done,
        );
    }

    fn unfinished(&self, result: &ChangeResult) {
        self.0.note(&render::apply::unfinished_line(result));
    }

    fn verifying(&self) {
        self.0
            .phase("verifying", "Verifying: re-listing the projects...");
    }

    fn pass(&self, number: usize, left: usize) {
        self.0.restart(
            left as u64,
            format!("pass {number}"),
            &render::apply::pass_line(number, left),
        );
    }
}
