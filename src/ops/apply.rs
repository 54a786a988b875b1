//! Applying: a saved plan is read, its manifest and target found from what it records, and
//! checked against the live account (its target, then the stale check) before anything is
//! written; then the Applier runs its passes until the deadline, and Ctrl-C is turned into "no
//! new change or pass starts" (first) and "stop at once" (second).

use std::collections::HashSet;
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use futures_util::stream::{self, StreamExt};

use crate::api::LiveProject;
use crate::apply::{self, ApplyOptions, ApplyReport, Deadline, Interrupt, Progress, Unlisted};
use crate::manifest::Manifest;
use crate::plan::Plan;
use crate::plan::stale::stale_reasons;

use super::connect::{ConnectOptions, Connection, Resolved, connect, resolve};
use super::plan::{apply_command, credential_flags, shell_word};
use super::validate::Loaded;

/// A saved plan that still fits the account, ready to apply.
pub struct Saved {
    pub plan: Plan,
    pub connection: Connection,
    pub known_ids: HashSet<String>,
}

/// Reads a plan file (the JSON of `plan --out`).
pub fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the plan file {}", path.display()))?;
    Plan::from_json(&text).map_err(|e| anyhow::anyhow!("{} {e}", path.display()))
}

/// Where a saved plan's manifest is, and the folder the plan was made in (the one its relative
/// paths start from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// As it is best shown from the current folder.
    pub manifest: PathBuf,
    pub planned_in: PathBuf,
}

/// Finds the manifest of a saved plan: `-f` when given; else the path the plan records (relative
/// to the folder plan ran in), looked for from the plan file's folder and each folder above it,
/// then from the current folder. So `tagrec apply plans/plan.json` works from anywhere when the
/// plan was made in the repository that holds it, and a plan downloaded elsewhere works from the
/// repository's folder.
pub fn locate_manifest(
    plan: &Plan,
    plan_path: &Path,
    explicit: Option<&Path>,
) -> anyhow::Result<Located> {
    let cwd = std::env::current_dir().context("could not read the current folder")?;
    if let Some(manifest) = explicit {
        return Ok(Located {
            manifest: manifest.to_path_buf(),
            planned_in: cwd,
        });
    }
    let recorded = Path::new(&plan.manifest);
    if recorded.as_os_str().is_empty() {
        bail!(
            "{} records no manifest: give it with -f",
            plan_path.display()
        );
    }
    if recorded.is_absolute() {
        if recorded.is_file() {
            return Ok(Located {
                manifest: from_cwd(recorded, &cwd),
                planned_in: cwd,
            });
        }
    } else {
        let plan_dir = std::fs::canonicalize(plan_path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        // `../x.yaml` from a folder below the plan's may be another file than from the folder
        // plan ran in: with two candidates, refuse rather than guess.
        if recorded
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            let mut found: Vec<PathBuf> = plan_dir
                .iter()
                .flat_map(|d| d.ancestors())
                .chain(std::iter::once(cwd.as_path()))
                .filter_map(|dir| std::fs::canonicalize(dir.join(recorded)).ok())
                .filter(|candidate| candidate.is_file())
                .collect();
            found.sort();
            found.dedup();
            if found.len() > 1 {
                let names: Vec<String> = found.iter().map(|f| f.display().to_string()).collect();
                bail!(
                    "{plan} was made from the manifest {recorded}, which could be {}: apply it from the folder `tagrec plan` ran in, or give the manifest with -f",
                    names.join(" or "),
                    plan = plan_path.display(),
                    recorded = recorded.display()
                );
            }
        }
        for dir in plan_dir.iter().flat_map(|d| d.ancestors()) {
            let candidate = dir.join(recorded);
            if candidate.is_file() {
                return Ok(Located {
                    manifest: from_cwd(&candidate, &cwd),
                    planned_in: dir.to_path_buf(),
                });
            }
        }
        if cwd.join(recorded).is_file() {
            return Ok(Located {
                manifest: recorded.to_path_buf(),
                planned_in: cwd,
            });
        }
    }
    bail!(
        "{plan} was made from the manifest {recorded}, which is neither in the plan file's folder or one above it, nor in the current folder: give it with -f",
        plan = plan_path.display(),
        recorded = recorded.display()
    )
}

/// Connects to the target the plan records (`--endpoint` only confirms it: another one is
/// refused), then refuses a stale plan, saying how to plan again. Nothing is written here.
pub async fn check_saved(
    path: &Path,
    plan: Plan,
    loaded: &Loaded,
    located: &Located,
    options: &ConnectOptions,
    deadline: &Deadline,
) -> anyhow::Result<Saved> {
    let recorded = &plan.target.endpoint;
    let mut options = options.clone();
    if options.endpoint.is_none() && !recorded.starts_with(SANDBOX) {
        options.endpoint = Some(recorded.clone());
    }
    if options.region.is_none() {
        options.region = plan.target.region.clone();
    }
    let connection = connect(&options, &loaded.manifest).await?;
    if !same_target(recorded, &connection.target.endpoint, &located.planned_in) {
        bail!(
            "{} was planned against {}, but this run targets {}: apply it against the target it was made for, or make a new plan",
            path.display(),
            recorded,
            connection.target.endpoint
        );
    }
    tracing::debug!(
        "applying {} (manifest {}, target {})",
        path.display(),
        located.manifest.display(),
        connection.target.endpoint
    );
    let live = list_live_until(&connection, deadline).await?;
    let reasons = stale_reasons(&plan, &live);
    if !reasons.is_empty() {
        let mut message = format!(
            "{} is stale: the live projects it changes are not as they were when it was made. Nothing was written. Plan again: `{}`, then `{}`.",
            path.display(),
            plan_command(&plan, &loaded.manifest, located, path, &options),
            apply_command(path, &plan, &options)
        );
        for r in reasons {
            message.push_str("\n  - ");
            message.push_str(&r);
        }
        bail!(message);
    }
    let known_ids = super::plan::known_ids(&live, &plan);
    Ok(Saved {
        plan,
        connection,
        known_ids,
    })
}

const SANDBOX: &str = "sandbox:";

/// The command that makes this plan again, from the current folder, against the same target.
pub fn plan_command(
    plan: &Plan,
    manifest: &Manifest,
    located: &Located,
    out: &Path,
    options: &ConnectOptions,
) -> String {
    let mut command = format!(
        "tagrec plan -f {}",
        shell_word(&located.manifest.display().to_string())
    );
    let recorded = &plan.target.endpoint;
    // The manifest alone (no flags) may point elsewhere: then the plan was made with --endpoint
    // or --region, and making it again needs them too.
    let own = resolve(
        None,
        None,
        &manifest.target,
        &manifest.file.display().to_string(),
        &|name| std::env::var(name).ok(),
    );
    let (own_endpoint, own_region) = match own {
        Ok(Resolved::Http { base, region }) => (Some(base.to_string()), region),
        Ok(Resolved::Sandbox { region, .. }) => (None, Some(region)),
        Err(_) => (None, None),
    };
    if !recorded.starts_with(SANDBOX) && own_endpoint.as_deref() != Some(recorded.as_str()) {
        command.push_str(&format!(" --endpoint {}", shell_word(recorded)));
    }
    if let Some(region) = &plan.target.region
        && own_region.as_deref() != Some(region.as_str())
    {
        command.push_str(&format!(" --region {}", shell_word(region)));
    }
    command.push_str(&credential_flags(options));
    command.push_str(&format!(
        " --out {}",
        shell_word(&out.display().to_string())
    ));
    command
}

/// Whether the target a plan records is the one this run reaches: the same URL, or the same
/// sandbox state file (the recorded path starts from the folder the plan was made in).
fn same_target(recorded: &str, now: &str, planned_in: &Path) -> bool {
    match (recorded.strip_prefix(SANDBOX), now.strip_prefix(SANDBOX)) {
        (Some(then), Some(now)) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            same_file(&planned_in.join(then), &cwd.join(now))
        }
        (None, None) => recorded == now,
        _ => false,
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        // The state file does not exist before the first apply: compare the paths themselves.
        _ => normalize(a) == normalize(b),
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` as typed from `cwd`: relative when it is below it, else as it is.
fn from_cwd(path: &Path, cwd: &Path) -> PathBuf {
    let canonical_cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    match path.strip_prefix(&canonical_cwd) {
        Ok(relative) if !relative.as_os_str().is_empty() => relative.to_path_buf(),
        _ => path.to_path_buf(),
    }
}

/// Every project of the account, trying again while the failure may heal, until the deadline.
pub async fn list_live_until(
    connection: &Connection,
    deadline: &Deadline,
) -> anyhow::Result<Vec<LiveProject>> {
    tracing::debug!("listing projects at {}", connection.target.endpoint);
    let never = Interrupt::default();
    match apply::list_until(connection.api.as_ref(), deadline, &never).await {
        Ok(live) => Ok(live),
        Err(Unlisted::TimedOut(why) | Unlisted::Failed(why)) => bail!(
            "could not list the projects at {}: {why}",
            connection.target.endpoint
        ),
        Err(Unlisted::Interrupted) => bail!("interrupted before the projects were listed"),
    }
}

/// How an apply ended.
pub enum Outcome<T = ApplyReport> {
    /// Every change was tried (or skipped after a first Ctrl-C) and verified.
    Report(T),
    /// A second Ctrl-C: the run was dropped at once, running requests abandoned.
    Abandoned,
}

/// Runs the Applier until it finishes or Ctrl-C is pressed twice. `on_interrupt` hears of the
/// first Ctrl-C (the caller says what it means); from then on no new change or pass starts.
pub async fn run(
    connection: &Connection,
    plan: &Plan,
    known_ids: HashSet<String>,
    options: ApplyOptions,
    progress: &dyn Progress,
    on_interrupt: impl Fn() + Send + 'static,
) -> Outcome {
    let api = connection.api.clone();
    interruptible(
        |interrupt| async move {
            apply::apply(api, plan, known_ids, options, progress, &interrupt).await
        },
        on_interrupt,
    )
    .await
}

/// One manifest's plan, ready to apply: its connection, and the ids the Applier must not adopt.
pub struct Ready {
    pub plan: Plan,
    pub connection: Connection,
    pub known_ids: HashSet<String>,
}

/// Applies several manifests' plans, `jobs` at a time, each with its own passes and deadline
/// (`options` is asked for them when that manifest starts, so a manifest waiting for a free job
/// does not spend its `--timeout` waiting). The first Ctrl-C stops new changes in all of them,
/// those not started yet included (their changes are reported skipped); the second stops at once.
/// Reports come back in the order of `ready`.
pub async fn run_all(
    ready: Vec<(Ready, Arc<dyn Progress>)>,
    jobs: usize,
    options: impl Fn() -> ApplyOptions,
    on_interrupt: impl Fn() + Send + 'static,
) -> Outcome<Vec<ApplyReport>> {
    let options = &options;
    interruptible(
        |interrupt| async move {
            let interrupt = &interrupt;
            let mut reports: Vec<(usize, ApplyReport)> =
                stream::iter(ready.into_iter().enumerate().map(
                    |(index, (ready, progress))| async move {
                        let Ready {
                            plan,
                            connection,
                            known_ids,
                        } = ready;
                        let report = apply::apply(
                            connection.api.clone(),
                            &plan,
                            known_ids,
                            options(),
                            progress.as_ref(),
                            interrupt,
                        )
                        .await;
                        (index, report)
                    },
                ))
                // The next manifest starts when any running one finishes.
                .buffer_unordered(jobs.max(1))
                .collect()
                .await;
            reports.sort_by_key(|(index, _)| *index);
            reports.into_iter().map(|(_, report)| report).collect()
        },
        on_interrupt,
    )
    .await
}

/// Runs `work` with an `Interrupt` that the first Ctrl-C triggers (`on_interrupt` hears of it
/// too), and drops it at once on the second.
async fn interruptible<T, Fut>(
    work: impl FnOnce(Interrupt) -> Fut,
    on_interrupt: impl Fn() + Send + 'static,
) -> Outcome<T>
where
    Fut: Future<Output = T>,
{
    let interrupt = Interrupt::default();
    let first = interrupt.clone();
    let (second, stopped) = tokio::sync::oneshot::channel::<()>();
    // The handler replaces the default one for the whole process: without listening for a second
    // Ctrl-C, one during a long wait (a hung server, a Retry-After) would do nothing.
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            first.trigger();
            on_interrupt();
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = second.send(());
            }
        }
    });
    let outcome = tokio::select! {
        result = work(interrupt) => Outcome::Report(result),
        Ok(()) = stopped => Outcome::Abandoned,
    };
    watcher.abort();
    outcome
}

/// `prepare` for one manifest of several: a `--target` it does not have is returned, not refused.
pub async fn prepare_in_estate(
    loaded: &Loaded,
    options: &ConnectOptions,
    targets: &[String],
    deadline: &Deadline,
) -> anyhow::Result<(super::plan::Prepared, Vec<super::plan::Unmatched>)> {
    let connection = connect(options, &loaded.manifest).await?;
    // As `plan` does: the client's own attempts, then this manifest fails; one account that does
    // not answer must not hold up the others until --timeout.
    let live = tokio::time::timeout_at(
        tokio::time::Instant::from_std(deadline.at()),
        super::plan::list_live(&connection),
    )
    .await
    .map_err(|_| anyhow::anyhow!("{} passed before the list was read", deadline.describe()))??;
    Ok(super::plan::plan_live_in_estate(
        loaded, connection, live, targets,
    ))
}

/// The saved plans in a folder (`tagrec plan --out DIR` of several manifests): every `.json`
/// file below it, sorted by path.
pub fn plan_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("could not read the folder {}", folder.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("could not read the folder {}", folder.display()))?
                .path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    if files.is_empty() {
        bail!(
            "{} holds no plan (.json) file: make them with `tagrec plan -f 'accounts/*/*.yaml' --out {}`",
            dir.display(),
            dir.display()
        );
    }
    files.sort();
    Ok(files)
}

/// Plans now, for `apply` without a plan file: the manifest's target, listed (trying again
/// until the deadline while the failure may heal), and planned.
pub async fn prepare(
    loaded: &Loaded,
    options: &ConnectOptions,
    targets: &[String],
    deadline: &Deadline,
) -> anyhow::Result<super::plan::Prepared> {
    let connection = connect(options, &loaded.manifest).await?;
    let live = list_live_until(&connection, deadline).await?;
    super::plan::plan_live(loaded, connection, live, targets)
}
