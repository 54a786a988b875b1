//! `tagrec apply [PLANFILE]`: plan now (and ask) or load a saved plan (checked not stale), then
//! let the Applier write, showing progress, and report.

use std::time::Duration;

use anyhow::bail;

use crate::apply::{ApplyOptions, ApplyReport, ChangeResult, Progress, Status, settle_window};
use crate::cli::{ApplyArgs, ApplyFormat};
use crate::ops;
use crate::ops::apply::Outcome;
use crate::render;
use crate::shell::{self, Exit, Shell};

pub async fn run(shell: &Shell, args: ApplyArgs) -> anyhow::Result<Exit> {
    let Some(loaded) = super::load(shell, &args.manifest.manifest) else {
        return Ok(Exit::Failure);
    };
    let connect = super::connect_options(&args.target);
    let (plan, connection, known_ids) = match &args.planfile {
        Some(path) => {
            if !args.targets.is_empty() {
                bail!(
                    "--target cannot be used with a plan file: the plan is applied exactly as saved; make a new plan with --target instead"
                );
            }
            let saved = ops::apply::load_saved(path, &loaded, &connect).await?;
            (saved.plan, saved.connection, saved.known_ids)
        }
        None => {
            let prepared = ops::plan::prepare(&loaded, &connect, &args.targets).await?;
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
            if prepared.plan.has_changes() && !args.auto_approve && !confirm(shell)? {
                return Ok(Exit::Failure);
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

    let progress = Reporter(shell.progress(plan.changes.len() as u64));
    let options = ApplyOptions {
        concurrency: usize::from(args.concurrency),
        allow_archive: args.allow_archive,
        settle: settle_window(Duration::from_millis(args.settle_ms)),
    };
    let warn = shell.clone();
    let on_interrupt = move || {
        warn.warn("interrupted: no new change starts; waiting for the running ones (Ctrl-C again to stop at once)");
    };
    let outcome = ops::apply::run(
        &connection,
        &plan,
        known_ids,
        options,
        &progress,
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
    Ok(if report.interrupted {
        Exit::Interrupted
    } else if report.summary.failed > 0 || report.summary.skipped > 0 {
        Exit::Failure
    } else {
        Exit::Success
    })
}

/// Asks on the terminal; with no terminal it refuses rather than guess.
fn confirm(shell: &Shell) -> anyhow::Result<bool> {
    if !shell.stdin_is_terminal() {
        shell.error(
            "no terminal to ask for confirmation: run with --auto-approve, or apply a saved plan (`tagrec plan --out plan.json`, then `tagrec apply plan.json`). Nothing was written.",
        );
        return Ok(false);
    }
    let yes = shell.confirm("Apply these changes?")?;
    if !yes {
        shell.status("Apply cancelled. Nothing was written.");
    }
    Ok(yes)
}

/// The Applier's progress on the shell's display: a bar, or a line per change in CI logs.
struct Reporter(shell::Progress);

impl Progress for Reporter {
    fn finished(&self, result: &ChangeResult) {
        self.0.finished(
            &render::apply::result_line(result),
            result.status == Status::Done,
        );
    }

    fn verifying(&self) {
        self.0
            .phase("verifying", "Verifying: re-listing the projects...");
    }
}
