//! The Applier: the only code that writes. It carries out a `Plan` through `ProjectsApi`:
//! archives first, then creates and updates, at most `concurrency` at once; a create is never
//! retried blind; then it re-lists and verifies every change it made.

mod create;
pub mod verify;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::ProjectsApi;
use crate::manifest::TagPatterns;
use crate::plan::{Action, Change, Plan};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub concurrency: usize,
    pub allow_archive: bool,
    /// How long to keep looking for a project whose create answer was lost, and to re-check a
    /// verification mismatch, since lists may lag writes.
    pub settle: Vec<Duration>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 8,
            allow_archive: false,
            settle: settle_window(Duration::from_secs(2)),
        }
    }
}

/// Four waits growing to `longest` (0.5, 1, 1.5, 2 s for 2 s): a lagging list is looked at
/// again sooner than it takes to give up on it.
pub fn settle_window(longest: Duration) -> Vec<Duration> {
    (1..=4).map(|step| longest * step / 4).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Done,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeResult {
    pub action: Action,
    pub name: String,
    pub id: Option<String>,
    pub status: Status,
    pub error: Option<String>,
    /// How the change was done when it was not plain: "adopted" after a lost create answer.
    #[serde(skip)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    pub done: usize,
    pub failed: usize,
    pub skipped: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// In plan order (archives, creates, updates), not in order of completion.
    pub results: Vec<ChangeResult>,
    pub summary: ApplySummary,
    pub interrupted: bool,
}

/// Set by the Ctrl-C handler: no new change starts; running ones finish.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Called once per finished change (progress bar or CI log line) and once per phase.
pub trait Progress: Send + Sync {
    fn finished(&self, result: &ChangeResult);
    fn verifying(&self) {}
}

/// Everything a running change needs, shared by the tasks.
struct Context {
    api: Arc<dyn ProjectsApi>,
    options: ApplyOptions,
    /// Ids that existed before this run: a project found by name after a lost create answer is
    /// adopted only if it is not one of these.
    known_ids: HashSet<String>,
    /// Ids created or adopted by this run, so that one project is never adopted twice.
    claimed: Mutex<HashSet<String>>,
}

pub async fn apply(
    api: Arc<dyn ProjectsApi>,
    plan: &Plan,
    known_ids: HashSet<String>,
    options: ApplyOptions,
    progress: &dyn Progress,
    interrupt: &Interrupt,
) -> ApplyReport {
    let ignore = TagPatterns(plan.ignore_tags.clone());
    let ctx = Arc::new(Context {
        api,
        options,
        known_ids,
        claimed: Mutex::new(HashSet::new()),
    });
    let mut results: Vec<Option<ChangeResult>> = vec![None; plan.changes.len()];

    // Archives first: near the quota they make room for the creates.
    let phases = [
        plan.changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.action == Action::Archive)
            .collect::<Vec<_>>(),
        plan.changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.action != Action::Archive)
            .collect::<Vec<_>>(),
    ];
    for phase in phases {
        run_phase(&ctx, phase, &mut results, progress, interrupt).await;
    }

    let mut results: Vec<ChangeResult> = results.into_iter().flatten().collect();
    let done: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].status == Status::Done)
        .collect();
    if !done.is_empty() {
        progress.verifying();
        let checks: Vec<(&Change, &ChangeResult)> = done
            .iter()
            .map(|&i| (&plan.changes[i], &results[i]))
            .collect();
        let failures =
            verify::verify(ctx.api.as_ref(), &checks, &ignore, &ctx.options.settle).await;
        for (i, message) in failures {
            let r = &mut results[done[i]];
            r.status = Status::Failed;
            r.error = Some(message);
        }
    }

    let mut summary = ApplySummary::default();
    for r in &results {
        match r.status {
            Status::Done => summary.done += 1,
            Status::Failed => summary.failed += 1,
            Status::Skipped => summary.skipped += 1,
        }
    }
    ApplyReport {
        results,
        summary,
        interrupted: interrupt.is_set(),
    }
}

async fn run_phase(
    ctx: &Arc<Context>,
    phase: Vec<(usize, &Change)>,
    results: &mut [Option<ChangeResult>],
    progress: &dyn Progress,
    interrupt: &Interrupt,
) {
    let permits = Arc::new(Semaphore::new(ctx.options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, (usize, &Change)> = HashMap::new();
    let mut pending = phase.into_iter();
    loop {
        // Start as many changes as there are free permits; stop starting on interrupt.
        while !interrupt.is_set() && permits.available_permits() > 0 {
            let Some((index, change)) = pending.next() else {
                break;
            };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let ctx = ctx.clone();
            let owned = change.clone();
            let handle = tasks.spawn(async move {
                let result = run_change(&ctx, &owned).await;
                drop(permit);
                result
            });
            running.insert(handle.id(), (index, change));
        }
        let (task, result) = match tasks.join_next_with_id().await {
            Some(Ok((task, result))) => (task, result),
            Some(Err(join_error)) => {
                // A task that panicked is a bug; its change is reported failed, never lost.
                let Some(&(_, change)) = running.get(&join_error.id()) else {
                    continue;
                };
                let mut result = skipped(change, "");
                result.status = Status::Failed;
                result.error = Some(format!("internal error: {join_error}"));
                (join_error.id(), result)
            }
            None => break,
        };
        if let Some((index, _)) = running.remove(&task) {
            progress.finished(&result);
            results[index] = Some(result);
        }
    }
    for (index, change) in pending {
        let result = skipped(change, "interrupted before it started");
        progress.finished(&result);
        results[index] = Some(result);
    }
}

fn skipped(change: &Change, why: &str) -> ChangeResult {
    ChangeResult {
        action: change.action,
        name: change.name.clone(),
        id: change.id.clone(),
        status: Status::Skipped,
        error: Some(why.to_string()),
        note: None,
    }
}

async fn run_change(ctx: &Context, change: &Change) -> ChangeResult {
    let mut result = ChangeResult {
        action: change.action,
        name: change.name.clone(),
        id: change.id.clone(),
        status: Status::Done,
        error: None,
        note: None,
    };
    let outcome = match change.action {
        Action::Archive if !ctx.options.allow_archive => {
            return skipped(
                change,
                "archives need --allow-archive (they cannot be undone)",
            );
        }
        Action::Archive => match change.id.as_deref() {
            Some(id) => ctx
                .api
                .archive(id)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            None => Err("the plan has no id for this archive".into()),
        },
        Action::Update => match (change.id.as_deref(), change.modify_request()) {
            (Some(id), Some(request)) => ctx
                .api
                .modify(id, request)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            _ => Err("the plan has no id or request for this update".into()),
        },
        Action::Create => match change.create_request() {
            Some(request) => match create::create(ctx, request).await {
                Ok(created) => {
                    result.id = Some(created.id);
                    result.note = created.note;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            None => Err("the plan has no request for this create".into()),
        },
    };
    if let Err(message) = outcome {
        result.status = Status::Failed;
        result.error = Some(message);
    }
    result
}
