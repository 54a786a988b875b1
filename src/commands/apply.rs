//! `tagrec apply [PLANFILE]`: plan now (and ask) or load a saved plan (and check it is not
//! stale), then let the Applier write, and report.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::api::connect::connect;
use crate::apply::{self, ApplyOptions, ApplyReport, ChangeResult, Interrupt, Progress, Status};
use crate::cli::{ApplyArgs, ApplyFormat, GlobalArgs};
use crate::plan::model::FORMAT_VERSION;
use crate::plan::stale::stale_reasons;
use crate::plan::{Action, Plan};
use crate::render;
use crate::shell::{Exit, Shell};

use super::plan::{load_manifest, prepare, report_errors};

pub async fn run(shell: &Shell, global: &GlobalArgs, args: ApplyArgs) -> anyhow::Result<Exit> {
    let (plan, api, known_ids) = match &args.planfile {
        Some(path) => {
            if !args.targets.is_empty() {
                bail!(
                    "--target cannot be used with a plan file: the plan is applied exactly as saved; make a new plan with --target instead"
                );
            }
            let plan = read_plan(path)?;
            let Some((manifest, _)) = load_manifest(shell, &global.manifest) else {
                return Ok(Exit::Failure);
            };
            let connection = connect(global, &manifest, shell)?;
            if connection.target.endpoint != plan.target.endpoint {
                bail!(
                    "{} was planned against {}, but this run targets {}: apply it against the target it was made for, or make a new plan",
                    path.display(),
                    plan.target.endpoint,
                    connection.target.endpoint
                );
            }
            let live = super::plan::list_live(shell, &connection).await?;
            let reasons = stale_reasons(&plan, &live);
            if !reasons.is_empty() {
                let mut message = format!(
                    "{} is stale: the live projects it changes are not as they were when it was made. Nothing was written. Make a new plan.",
                    path.display()
                );
                for r in reasons {
                    message.push_str("\n  - ");
                    message.push_str(&r);
                }
                bail!(message);
            }
            let known = live.iter().map(|p| p.id.clone()).collect();
            (plan, connection.api, known)
        }
        None => {
            let Some(prepared) = prepare(shell, global, &args.targets).await? else {
                return Ok(Exit::Failure);
            };
            let text = render::plan::text(&prepared.plan);
            match args.format {
                ApplyFormat::Text => shell.print(&text),
                ApplyFormat::Json => shell.eprint(&text),
            }
            if !prepared.errors.is_empty() {
                report_errors(shell, &prepared.errors);
                shell.error("nothing was applied: the plan has errors");
                return Ok(Exit::Failure);
            }
            if prepared.plan.has_changes() && !args.auto_approve && !confirm(shell)? {
                return Ok(Exit::Failure);
            }
            let known = prepared.known_ids();
            (prepared.plan, prepared.connection.api, known)
        }
    };

    if !plan.has_changes() {
        if args.format == ApplyFormat::Json {
            shell.print(&report_json(&ApplyReport {
                results: Vec::new(),
                summary: Default::default(),
                interrupted: false,
            }));
        }
        return Ok(Exit::Success);
    }

    let interrupt = Interrupt::default();
    let on_signal = interrupt.clone();
    let signal_shell = shell.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.trigger();
            signal_shell.warn(
                "interrupted: no new change starts; waiting for the running ones (Ctrl-C again to stop at once)",
            );
            // The handler replaces the default one for the whole process: without this, a
            // second Ctrl-C during a long wait (a hung server, a Retry-After) would do nothing.
            if tokio::signal::ctrl_c().await.is_ok() {
                signal_shell.error(
                    "interrupted twice: stopped at once. Changes that were running may or may not have happened; run apply again to finish (it adopts projects whose create answer was lost).",
                );
                std::process::exit(Exit::Interrupted.code());
            }
        }
    });

    let progress = Reporter::new(shell, plan.changes.len() as u64);
    let options = ApplyOptions {
        concurrency: usize::from(args.concurrency),
        allow_archive: args.allow_archive,
        ..ApplyOptions::default()
    };
    let report = apply::apply(api, &plan, known_ids, options, &progress, &interrupt).await;
    progress.finish();
    watcher.abort();

    match args.format {
        ApplyFormat::Json => shell.print(&report_json(&report)),
        ApplyFormat::Text => shell.print(&report_text(&report)),
    }
    Ok(if report.interrupted {
        Exit::Interrupted
    } else if report.summary.failed > 0 || report.summary.skipped > 0 {
        Exit::Failure
    } else {
        Exit::Success
    })
}

fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the plan file {}", path.display()))?;
    // The version is checked before the shape, so that a newer plan says so rather than
    // failing on a field this tagrec does not know.
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a tagrec plan (damaged JSON); make a new one with `tagrec plan --out`",
            path.display()
        )
    })?;
    match value.get("format_version").and_then(|v| v.as_str()) {
        Some(FORMAT_VERSION) => {}
        Some(other) => bail!(
            "{} has plan format {other}, but this tagrec ({}) reads format {FORMAT_VERSION}: apply it with the tagrec that made it, or make a new plan",
            path.display(),
            env!("CARGO_PKG_VERSION")
        ),
        None => bail!(
            "{} is not a tagrec plan (no format_version); make one with `tagrec plan --out`",
            path.display()
        ),
    }
    serde_json::from_value(value).with_context(|| {
        format!(
            "{} is damaged (its fields are not a tagrec plan); make a new one with `tagrec plan --out`",
            path.display()
        )
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
    shell.eprint("\nApply these changes? Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("could not read the answer")?;
    if answer.trim() == "yes" {
        Ok(true)
    } else {
        shell.status("Apply cancelled. Nothing was written.");
        Ok(false)
    }
}

/// A progress bar on a terminal; one line per finished change otherwise (CI logs).
struct Reporter {
    shell: Shell,
    bar: Option<ProgressBar>,
    lines: Mutex<()>,
}

impl Reporter {
    fn new(shell: &Shell, total: u64) -> Self {
        let bar = (shell.stderr_is_terminal()
            && shell.verbosity() > crate::shell::Verbosity::Quiet)
            .then(|| {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                if let Ok(style) =
                    ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar
            });
        Reporter {
            shell: shell.clone(),
            bar,
            lines: Mutex::new(()),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn finished(&self, result: &ChangeResult) {
        let line = result_line(result);
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if result.status != Status::Done {
                    bar.println(line);
                }
            }
            None => {
                let _guard = self.lines.lock();
                self.shell.status(line);
            }
        }
    }

    fn verifying(&self) {
        match &self.bar {
            Some(bar) => bar.set_message("verifying"),
            None => self.shell.status("Verifying: re-listing the projects..."),
        }
    }
}

fn result_line(r: &ChangeResult) -> String {
    let id =
        r.id.as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default();
    let done = match r.action {
        Action::Archive => "archived",
        Action::Create => "created",
        Action::Update => "updated",
    };
    match r.status {
        Status::Done => match &r.note {
            Some(note) => format!("{done} \"{}\"{id} ({note})", r.name),
            None => format!("{done} \"{}\"{id}", r.name),
        },
        Status::Failed => format!(
            "FAILED to {} \"{}\"{id}: {}",
            r.action.as_str(),
            r.name,
            r.error.as_deref().unwrap_or("")
        ),
        Status::Skipped => format!(
            "skipped {} \"{}\"{id}: {}",
            r.action.as_str(),
            r.name,
            r.error.as_deref().unwrap_or("")
        ),
    }
}

fn report_text(report: &ApplyReport) -> String {
    let mut out = String::new();
    let problems: Vec<&ChangeResult> = report
        .results
        .iter()
        .filter(|r| r.status != Status::Done)
        .collect();
    if !problems.is_empty() {
        out.push('\n');
        for r in &problems {
            out.push_str(&result_line(r));
            out.push('\n');
        }
    }
    let s = &report.summary;
    let head = if report.interrupted {
        "Apply interrupted"
    } else if s.failed > 0 || s.skipped > 0 {
        "Apply incomplete"
    } else {
        "Apply complete"
    };
    out.push_str(&format!(
        "\n{head}: {} done, {} failed, {} skipped.\n",
        s.done, s.failed, s.skipped
    ));
    if report.interrupted || s.failed > 0 {
        out.push_str("Run apply again to finish: it plans from the live state, and adopts projects whose create answer was lost.\n");
    }
    out
}

fn report_json(report: &ApplyReport) -> String {
    let value = serde_json::json!({
        "format_version": FORMAT_VERSION,
        "summary": report.summary,
        "results": report.results,
    });
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}
