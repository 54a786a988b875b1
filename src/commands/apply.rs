//! `tagrec apply [PLANFILE]`: plan now (and ask) or load a saved plan (its manifest and target
//! found from what it records, checked not stale), then let the Applier write in passes until
//! done or `--timeout`, showing progress, and report. With several manifests (or a folder of
//! saved plans), each is planned `--jobs` at a time, all the plans are shown, the question is
//! asked once for all of them, and each is applied with its own passes and `--timeout`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;

use crate::apply::{
    ApplyOptions, ApplyReport, ChangeResult, Deadline, Progress, Status, settle_window,
};
use crate::cli::{ApplyArgs, ApplyFormat, ManifestsArgs};
use crate::ops;
use crate::ops::apply::{Outcome, Ready};
use crate::ops::plan::Unmatched;
use crate::plan::{Action, Plan};
use crate::render;
use crate::render::estate::{self, Entry, Section};
use crate::shell::{self, Exit, Shell};

pub async fn run(shell: &Shell, args: ApplyArgs) -> anyhow::Result<Exit> {
    if let Some(path) = &args.planfile {
        if args.manifests.len() > 1 || args.changed_since.is_some() {
            bail!(
                "a plan file records its manifest: give it alone (at most one -f, no --changed-since), or a folder of plans made by `tagrec plan -f … --out DIR`"
            );
        }
        if path.is_dir() {
            return saved_estate(shell, &args, path).await;
        }
        return one(shell, &args, args.manifests.first().map(PathBuf::from)).await;
    }
    let manifests = ManifestsArgs {
        manifests: if args.manifests.is_empty() {
            vec!["projects.yaml".to_string()]
        } else {
            args.manifests.clone()
        },
        changed_since: args.changed_since.clone(),
        jobs: args.jobs,
    };
    let selected = super::select(shell, &manifests)?;
    if selected.estate {
        return estate(shell, &args, &selected.files).await;
    }
    match selected.files.first() {
        Some(file) => one(shell, &args, Some(file.clone())).await,
        None => Ok(Exit::Success),
    }
}

/// One manifest, or one saved plan: the 0.1 forms.
async fn one(shell: &Shell, args: &ApplyArgs, manifest: Option<PathBuf>) -> anyhow::Result<Exit> {
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
            let located = ops::apply::locate_manifest(&plan, path, manifest.as_deref())?;
            let Some(loaded) = super::load(shell, &located.manifest) else {
                return Ok(Exit::Failure);
            };
            let saved =
                ops::apply::check_saved(path, plan, &loaded, &located, &connect, &deadline).await?;
            if skipped_archives(&saved.plan, args.allow_archive) > 0 {
                archive_notice(shell, &saved.plan, "");
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
            let manifest = manifest.unwrap_or_else(|| PathBuf::from("projects.yaml"));
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
                archive_notice(shell, plan, "");
                shell.status("To archive too, add --allow-archive.");
            }
            // Ask only about what will be done: nothing to ask when only skipped archives remain.
            if plan.changes.len() > skipped && !args.auto_approve {
                let asked = Instant::now();
                let yes = confirm(shell, &[plan], skipped)?;
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

    let progress = Arc::new(Reporter {
        display: Arc::new(shell.progress(plan.changes.len() as u64)),
        manifest: None,
    });
    let options = ApplyOptions {
        concurrency: usize::from(args.concurrency),
        allow_archive: args.allow_archive,
        settle: settle_window(Duration::from_millis(args.settle_ms)),
        deadline,
    };
    let warn = shell.clone();
    let stop = progress.display.clone();
    let on_interrupt = move || {
        stop.stop();
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
    progress.display.finish();
    let report = match outcome {
        Outcome::Report(report) => report,
        Outcome::Abandoned => {
            shell.error(ABANDONED);
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
    Ok(exit_of(&report))
}

const ABANDONED: &str = "interrupted twice: stopped at once. Changes that were running may or may not have happened; run apply again to finish (it adopts projects whose create answer was lost).";

fn exit_of(report: &ApplyReport) -> Exit {
    if report.interrupted {
        Exit::Interrupted
    } else if report.summary.failed > 0 || report.summary.skipped > 0 {
        Exit::Failure
    } else {
        Exit::Success
    }
}

/// One manifest of an estate, planned (or its saved plan checked) and ready to apply, or why
/// it is not: its plan has errors.
struct Candidate {
    /// The account it reaches (`ops::estate::account_of`).
    account: String,
    ready: Ready,
    errors: Vec<String>,
    unmatched: Vec<Unmatched>,
}

/// Several manifests: plan each, show every plan, ask once, apply each.
async fn estate(shell: &Shell, args: &ApplyArgs, files: &[PathBuf]) -> anyhow::Result<Exit> {
    let connect = super::connect_options(&args.target);
    super::no_endpoint_for_an_estate(&connect)?;
    let connect = &connect;
    let targets = &args.targets;
    let results: Vec<Result<Candidate, String>> =
        ops::estate::for_each(files, args.jobs.into(), |file| async move {
            let loaded = super::load_in_estate(file).await?;
            super::check_estate_overrides(&loaded, connect)?;
            // Listing gets the client's attempts, within the manifest's own timeout.
            let deadline = Deadline::after(args.timeout);
            let (prepared, unmatched) =
                ops::apply::prepare_in_estate(&loaded, connect, targets, &deadline)
                    .await
                    .map_err(|e| super::sentence(&e))?;
            let known_ids = prepared.known_ids();
            Ok(Candidate {
                account: super::account_of(&loaded, &prepared.plan, connect),
                errors: super::plan_error_lines(&prepared.errors),
                ready: Ready {
                    plan: prepared.plan,
                    connection: prepared.connection,
                    known_ids,
                },
                unmatched,
            })
        })
        .await;
    let unmatched = results.iter().flatten().map(|c| c.unmatched.as_slice());
    if let Some(message) = ops::plan::unmatched_everywhere(unmatched) {
        bail!(message);
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let mut results = results;
    ops::estate::refuse_shared_accounts(&names, &mut results, |planned| &planned.account);
    let plans = plans_text(&names, &results);
    match args.format {
        ApplyFormat::Text => shell.print(&plans),
        ApplyFormat::Json => shell.eprint(&plans),
    }
    // The text report says each failure in its manifest's section; beside JSON, stderr does.
    if args.format == ApplyFormat::Json {
        report_failures(shell, &names, &results);
    }
    let skipped = archive_notices(shell, &names, &results, args.allow_archive);
    if skipped > 0 {
        shell.status("To archive too, add --allow-archive.");
    }
    let to_apply: Vec<&Plan> = results
        .iter()
        .flatten()
        .filter(|c| c.errors.is_empty())
        .map(|c| &c.ready.plan)
        .collect();
    let changes: usize = to_apply.iter().map(|p| p.changes.len()).sum();
    if changes > skipped && !args.auto_approve && !confirm(shell, &to_apply, skipped)? {
        return Ok(Exit::Failure);
    }
    apply_all(shell, args, names, results, None, true).await
}

/// A folder of saved plans (`tagrec plan --out DIR` of several manifests): each checked not
/// stale against its own target, then applied, as `apply PLANFILE` does for one; nothing asked.
async fn saved_estate(shell: &Shell, args: &ApplyArgs, dir: &Path) -> anyhow::Result<Exit> {
    if !args.targets.is_empty() {
        bail!(
            "--target cannot be used with saved plans: they are applied exactly as saved; make new plans with --target instead"
        );
    }
    if !args.manifests.is_empty() {
        bail!(
            "-f cannot be used with a folder of plans: each plan records its manifest, found from the folder the plan was made in"
        );
    }
    let connect = super::connect_options(&args.target);
    super::no_endpoint_for_an_estate(&connect)?;
    let connect = &connect;
    let files = ops::apply::plan_files(dir)?;
    // Each plan's manifest, as found, or the plan file when it cannot be.
    let results: Vec<(String, Result<Candidate, String>)> =
        ops::estate::for_each(&files, args.jobs.into(), |path| async move {
            let plan = match ops::apply::read_plan(&path) {
                Ok(plan) => plan,
                Err(e) => return (path.display().to_string(), Err(super::sentence(&e))),
            };
            let located = match ops::apply::locate_manifest(&plan, &path, None) {
                Ok(located) => located,
                Err(e) => return (path.display().to_string(), Err(super::sentence(&e))),
            };
            let name = located.manifest.display().to_string();
            let loaded = match ops::validate::load(&located.manifest) {
                Ok(loaded) => loaded,
                Err(checked) => return (name, Err(super::problems(&checked))),
            };
            let deadline = Deadline::after(args.timeout);
            let checked =
                ops::apply::check_saved(&path, plan, &loaded, &located, connect, &deadline).await;
            let candidate = checked
                .map(|saved| Candidate {
                    account: super::account_of(&loaded, &saved.plan, connect),
                    ready: Ready {
                        plan: saved.plan,
                        connection: saved.connection,
                        known_ids: saved.known_ids,
                    },
                    errors: Vec::new(),
                    unmatched: Vec::new(),
                })
                .map_err(|e| super::about(&path.display().to_string(), &super::sentence(&e)));
            (name, candidate)
        })
        .await;
    let (names, mut results): (Vec<String>, Vec<Result<Candidate, String>>) =
        results.into_iter().unzip();
    ops::estate::refuse_shared_accounts(&names, &mut results, |planned| &planned.account);
    // The text report says each failure in its manifest's section; beside JSON, stderr does.
    if args.format == ApplyFormat::Json {
        report_failures(shell, &names, &results);
    }
    let skipped = archive_notices(shell, &names, &results, args.allow_archive);
    let again = (skipped > 0).then(|| {
        format!(
            "The saved plans' archives were skipped and their other changes are made, so the plans no longer apply as they are. To archive, plan again: `tagrec plan -f … --out NEW_DIR`, then `tagrec apply NEW_DIR --allow-archive{}`.",
            ops::plan::credential_flags(connect)
        )
    });
    apply_all(shell, args, names, results, again, false).await
}

/// Applies every candidate without errors (`--jobs` at a time), then reports each manifest and
/// the estate (a blank line apart from the plans, when they were shown).
async fn apply_all(
    shell: &Shell,
    args: &ApplyArgs,
    names: Vec<String>,
    results: Vec<Result<Candidate, String>>,
    plan_again: Option<String>,
    after_plans: bool,
) -> anyhow::Result<Exit> {
    let total: usize = results
        .iter()
        .flatten()
        .filter(|c| c.errors.is_empty())
        .map(|c| c.ready.plan.changes.len())
        .sum();
    let display = Arc::new(shell.progress(total as u64));
    // What goes to the Applier, and where each manifest's report goes back.
    let mut work: Vec<(Ready, Arc<dyn Progress>)> = Vec::new();
    let mut outcomes: Vec<Pending> = Vec::with_capacity(results.len());
    for (name, result) in names.iter().zip(results) {
        outcomes.push(match result {
            Err(error) => Pending::Failed(error),
            Ok(candidate) if !candidate.errors.is_empty() => Pending::Failed(format!(
                "not applied: the plan has errors: {}",
                candidate.errors.join("; ")
            )),
            Ok(candidate) if !candidate.ready.plan.has_changes() => {
                Pending::NoChanges(candidate.ready.plan.target.endpoint.clone())
            }
            Ok(candidate) => {
                let target = candidate.ready.plan.target.endpoint.clone();
                let reporter: Arc<dyn Progress> = Arc::new(Reporter {
                    display: display.clone(),
                    manifest: Some(name.clone()),
                });
                work.push((candidate.ready, reporter));
                Pending::Applying(target)
            }
        });
    }
    let reports = if work.is_empty() {
        Vec::new()
    } else {
        let warn = shell.clone();
        let stop = display.clone();
        let on_interrupt = move || {
            stop.stop();
            warn.warn("interrupted: no new change or pass starts in any manifest; waiting for the running ones (Ctrl-C again to stop at once)");
        };
        let options = || ApplyOptions {
            concurrency: usize::from(args.concurrency),
            allow_archive: args.allow_archive,
            settle: settle_window(Duration::from_millis(args.settle_ms)),
            // Each manifest's own --timeout, from when it starts.
            deadline: Deadline::after(args.timeout),
        };
        let outcome = ops::apply::run_all(work, args.jobs.into(), options, on_interrupt).await;
        display.finish();
        match outcome {
            Outcome::Report(reports) => reports,
            Outcome::Abandoned => {
                shell.error(ABANDONED);
                return Ok(Exit::Interrupted);
            }
        }
    };
    let mut reports = reports.into_iter();
    let finished: Vec<Finished> = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Pending::Failed(error) => Finished::Failed(error),
            Pending::NoChanges(target) => Finished::Applied(target, ApplyReport::default()),
            Pending::Applying(target) => {
                Finished::Applied(target, reports.next().unwrap_or_default())
            }
        })
        .collect();
    let exit = Exit::combine(finished.iter().map(|f| match f {
        Finished::Failed(_) => Exit::Failure,
        Finished::Applied(_, report) => exit_of(report),
    }));
    let failed = finished
        .iter()
        .filter(|f| match f {
            Finished::Failed(_) => true,
            Finished::Applied(_, report) => exit_of(report) == Exit::Failure,
        })
        .count();
    let (mut done, mut failed_changes, mut skipped) = (0, 0, 0);
    for f in &finished {
        if let Finished::Applied(_, report) = f {
            done += report.summary.done;
            failed_changes += report.summary.failed;
            skipped += report.summary.skipped;
        }
    }
    let interrupted = finished
        .iter()
        .filter(
            |f| matches!(f, Finished::Applied(_, report) if exit_of(report) == Exit::Interrupted),
        )
        .count();
    let line = format!(
        "Estate: {}, {done} done, {failed_changes} failed, {skipped} skipped, {failed} manifest{} failed{}.",
        estate::manifests(finished.len()),
        if failed == 1 { "" } else { "s" },
        if interrupted > 0 {
            format!(", {interrupted} interrupted")
        } else {
            String::new()
        }
    );
    if after_plans && args.format == ApplyFormat::Text {
        shell.print("\n");
    }
    shell.print(&match args.format {
        ApplyFormat::Text => estate::text(
            &names
                .iter()
                .zip(&finished)
                .map(|(name, f)| match f {
                    // Said in full in the plans above; a saved plan's failure is said here.
                    Finished::Failed(_) if after_plans => Section {
                        manifest: name.clone(),
                        target: None,
                        body: "not applied: its plan failed (above)\n".to_string(),
                    },
                    Finished::Failed(error) => Section {
                        manifest: name.clone(),
                        target: None,
                        body: format!("error: {error}\n"),
                    },
                    Finished::Applied(target, report) => Section {
                        manifest: name.clone(),
                        target: Some(target.clone()),
                        body: if report.results.is_empty() && !report.interrupted {
                            "No changes.\n".to_string()
                        } else {
                            render::apply::text(report).trim_start().to_string()
                        },
                    },
                })
                .collect::<Vec<_>>(),
            &line,
        ),
        ApplyFormat::Json => estate::json(
            "apply",
            names.iter().zip(&finished).map(|(name, f)| {
                let entry = match f {
                    Finished::Failed(error) => Entry::Failed {
                        error: error.clone(),
                        result: None,
                    },
                    Finished::Applied(_, report) => match exit_of(report) {
                        Exit::Success => Entry::Done(render::apply::json_value(report)),
                        _ => Entry::Failed {
                            error: incomplete(report),
                            result: Some(render::apply::json_value(report)),
                        },
                    },
                };
                (name.clone(), entry)
            }),
            json!({"manifests": finished.len(), "failed": failed, "interrupted": interrupted,
                "changes": {"done": done, "failed": failed_changes, "skipped": skipped}}),
        ),
    });
    if let Some(again) = plan_again {
        shell.status(again);
    }
    Ok(exit)
}

/// Where a manifest of an estate stands before it is applied.
enum Pending {
    Failed(String),
    NoChanges(String),
    Applying(String),
}

/// How a manifest of an estate ended: its target and report, or why it was not applied.
enum Finished {
    Failed(String),
    Applied(String, ApplyReport),
}

/// Why an applied manifest is not `ok`: `2 changes failed, 1 skipped`, or interrupted.
fn incomplete(report: &ApplyReport) -> String {
    if report.interrupted {
        return "interrupted".to_string();
    }
    let s = &report.summary;
    format!(
        "{} change{} failed, {} skipped",
        s.failed,
        if s.failed == 1 { "" } else { "s" },
        s.skipped
    )
}

/// Every manifest's plan under its header, then the estate's counts (of the plans that will be
/// applied: a plan with errors is not).
fn plans_text(names: &[String], results: &[Result<Candidate, String>]) -> String {
    let sections: Vec<Section> = names
        .iter()
        .zip(results)
        .map(|(name, result)| {
            estate::plan_section(
                name,
                result
                    .as_ref()
                    .map(|candidate| (&candidate.ready.plan, candidate.errors.as_slice())),
            )
        })
        .collect();
    let good: Vec<&Plan> = results
        .iter()
        .flatten()
        .filter(|c| c.errors.is_empty())
        .map(|c| &c.ready.plan)
        .collect();
    let sum = |f: fn(&Plan) -> usize| -> usize { good.iter().map(|p| f(p)).sum() };
    estate::text(
        &sections,
        &format!(
            "Estate: {}, {} to create, {} to update, {} to archive, {} failed.",
            estate::manifests(results.len()),
            sum(|p| p.summary.create),
            sum(|p| p.summary.update),
            sum(|p| p.summary.archive),
            results.len() - good.len()
        ),
    )
}

/// On stderr, before anything is asked: which manifests will not be applied, and why.
fn report_failures(shell: &Shell, names: &[String], results: &[Result<Candidate, String>]) {
    for (name, result) in names.iter().zip(results) {
        match result {
            Err(error) => shell.error(format!("{name}: not applied: {error}")),
            Ok(candidate) if !candidate.errors.is_empty() => shell.error(format!(
                "{name}: not applied: the plan has errors ({})",
                candidate.errors.join("; ")
            )),
            Ok(_) => {}
        }
    }
}

/// Says, for each manifest, which archives will be skipped; returns how many in all.
fn archive_notices(
    shell: &Shell,
    names: &[String],
    results: &[Result<Candidate, String>],
    allow_archive: bool,
) -> usize {
    let mut skipped = 0;
    for (name, result) in names.iter().zip(results) {
        if let Ok(candidate) = result
            && candidate.errors.is_empty()
        {
            let plan = &candidate.ready.plan;
            let n = skipped_archives(plan, allow_archive);
            if n > 0 {
                archive_notice(shell, plan, &format!("{name}: "));
                skipped += n;
            }
        }
    }
    skipped
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
fn archive_notice(shell: &Shell, plan: &Plan, prefix: &str) {
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
        "{prefix}this plan's {count} ({shown}) will be skipped: archiving needs --allow-archive (it cannot be undone); {rest}"
    ));
}

/// Asks once on the terminal, for every plan shown; with no terminal it refuses rather than
/// guess.
fn confirm(shell: &Shell, plans: &[&Plan], skipped: usize) -> anyhow::Result<bool> {
    if !shell.stdin_is_terminal() {
        let saved = if plans.len() > 1 {
            "apply saved plans (`tagrec plan -f … --out DIR`, then `tagrec apply DIR`)"
        } else {
            "apply a saved plan (`tagrec plan --out plan.json`, then `tagrec apply plan.json`)"
        };
        shell.error(format!(
            "no terminal to ask for confirmation: run with --auto-approve, or {saved}. Nothing was written."
        ));
        return Ok(false);
    }
    let count = |action: Action| -> usize {
        plans
            .iter()
            .map(|p| p.changes.iter().filter(|c| c.action == action).count())
            .sum()
    };
    let manifests = plans.iter().filter(|p| p.has_changes()).count();
    let of = if plans.len() > 1 {
        format!(
            " to {manifests} manifest{}",
            if manifests == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    let question = if skipped == 0 {
        format!("Apply these changes{of}?")
    } else {
        let mut parts = Vec::new();
        for (action, verb) in [(Action::Create, "create"), (Action::Update, "update")] {
            let n = count(action);
            if n > 0 {
                parts.push(format!("{n} to {verb}"));
            }
        }
        format!(
            "Apply these changes{of} ({}; not the {skipped} archive{})?",
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

/// The Applier's progress on the shell's display: a bar, or a line per event in CI logs. In an
/// estate, every manifest shares one display and its lines start with the manifest.
struct Reporter {
    display: Arc<shell::Progress>,
    manifest: Option<String>,
}

impl Reporter {
    fn line(&self, line: String) -> String {
        match &self.manifest {
            Some(manifest) => format!("{manifest}: {line}"),
            None => line,
        }
    }
}

impl Progress for Reporter {
    fn finished(&self, result: &ChangeResult) {
        self.display.finished(
            &self.line(render::apply::result_line(result)),
            result.status == Status::Done,
        );
    }

    fn unfinished(&self, result: &ChangeResult) {
        self.display
            .note(&self.line(render::apply::unfinished_line(result)));
    }

    fn verifying(&self) {
        match &self.manifest {
            Some(manifest) => self.display.note(&format!(
                "{manifest}: verifying: re-listing the projects..."
            )),
            None => self
                .display
                .phase("verifying", "Verifying: re-listing the projects..."),
        }
    }

    fn pass(&self, number: usize, left: usize) {
        let line = self.line(render::apply::pass_line(number, left));
        match &self.manifest {
            // Other manifests share the bar: it counts every change once, when it ends.
            Some(_) => self.display.note(&line),
            None => self
                .display
                .restart(left as u64, format!("pass {number}"), &line),
        }
    }
}
