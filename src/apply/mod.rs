//! The Applier: the only code that writes. It carries out a `Plan` through `ProjectsApi` in
//! passes: archives first, then creates and updates, at most `concurrency` at once; a create is
//! never retried blind; every change made is verified on a re-list. A change that failed in a way
//! that may heal (throttling, 5xx, a lost answer, a write not yet listed) is re-planned from the
//! live state and run again in the next pass, until all are done, only failures that will not
//! change remain, or the deadline passes.

mod create;
mod replan;
pub mod verify;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::api::{ApiError, LiveProject, ProjectsApi};
use crate::manifest::TagPatterns;
use crate::plan::{Action, Change, Plan};

use replan::Replanned;

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub concurrency: usize,
    pub allow_archive: bool,
    /// How long to keep looking for a project whose create answer was lost, and to re-check a
    /// verification mismatch, since lists may lag writes.
    pub settle: Vec<Duration>,
    /// The outer bound of the passes: no pass and no change starts after it.
    pub deadline: Deadline,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 8,
            allow_archive: false,
            settle: settle_window(Duration::from_secs(2)),
            deadline: Deadline::after(DEFAULT_TIMEOUT),
        }
    }
}

/// `--timeout`'s default: long enough for a rate-limited account of a thousand projects, short
/// enough for a CI job.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// When apply stops trying: an instant, and the timeout it came from (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            // A timeout too large for the clock is as good as none.
            at: now
                .checked_add(timeout)
                .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400)),
            timeout,
        }
    }

    /// Moves the deadline later, e.g. by the time a person took to answer the prompt.
    pub fn extended(self, by: Duration) -> Deadline {
        Deadline {
            at: self.at.checked_add(by).unwrap_or(self.at),
            timeout: self.timeout,
        }
    }

    pub fn at(&self) -> Instant {
        self.at
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `the --timeout of 10m`.
    pub fn describe(&self) -> String {
        format!(
            "the --timeout of {}",
            humantime::format_duration(self.timeout)
        )
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
    /// How many passes ran (1 when every change went through the first time).
    pub passes: usize,
    /// The timeout, when it passed with changes still unfinished.
    pub timed_out: Option<Duration>,
}

/// Set by the Ctrl-C handler: no new change or pass starts; running ones finish.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<InterruptState>);

#[derive(Debug, Default)]
struct InterruptState {
    set: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    pub fn trigger(&self) {
        self.0.set.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_set(&self) -> bool {
        self.0.set.load(Ordering::SeqCst)
    }

    /// Resolves once `trigger` has been called (at once if it already was).
    pub async fn triggered(&self) {
        let notified = self.0.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_set() {
            return;
        }
        notified.await;
    }
}

/// What the Applier tells as it goes: a progress bar, or a line per event in CI logs.
pub trait Progress: Send + Sync {
    /// A change reached its end in this run: done (before verification), or failed for good.
    fn finished(&self, result: &ChangeResult);
    /// A change failed in a way that may heal (its `error` says how); the next pass tries again.
    fn unfinished(&self, _result: &ChangeResult) {}
    fn verifying(&self) {}
    /// Pass `number` (2 or more) starts with `left` changes.
    fn pass(&self, _number: usize, _left: usize) {}
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

/// How one try of a change ended.
struct Tried {
    result: ChangeResult,
    /// Failed in a way that may heal: re-plan it and try again in the next pass.
    again: bool,
}

/// A failure of one change, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub message: String,
    pub again: bool,
    /// The project it concerns, when one was made or found on the way (an adopted create).
    pub id: Option<String>,
}

impl Failure {
    fn of(error: &ApiError) -> Failure {
        Failure {
            message: error.to_string(),
            again: may_heal(error),
            id: None,
        }
    }

    fn for_good(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            again: false,
            id: None,
        }
    }
}

/// Whether the same change may succeed later: throttling, server errors, lost answers and
/// connections that failed. A 400, 403, 404 or 409 (any other 4xx) will not change, and neither
/// will a host that does not resolve, a certificate not trusted, or an answer that is not the API's.
pub(crate) fn may_heal(error: &ApiError) -> bool {
    match error {
        ApiError::Api { status, .. } => *status == 408 || *status == 429 || *status >= 500,
        ApiError::Connect { .. } | ApiError::NoAnswer(_) => true,
        ApiError::UnknownHost { .. }
        | ApiError::Untrusted { .. }
        | ApiError::Decode(_)
        | ApiError::Protocol(_)
        | ApiError::Local(_) => false,
    }
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
    let deadline = options.deadline;
    let ctx = Arc::new(Context {
        api,
        options,
        known_ids,
        claimed: Mutex::new(HashSet::new()),
    });
    let mut results: Vec<Option<ChangeResult>> = vec![None; plan.changes.len()];
    // What each unfinished change sends next: at first the plan's own change.
    let mut todo: Vec<(usize, Change)> = plan.changes.iter().cloned().enumerate().collect();
    // Unfinished changes with nothing to send in this pass (a write not listed yet).
    let mut waiting: Vec<(usize, ChangeResult)> = Vec::new();
    // Notes that outlive a pass: a create adopted on a re-list, then finished in the next pass.
    let mut notes: Vec<Option<String>> = vec![None; plan.changes.len()];
    // How many times each change was written and then not seen by verification.
    let mut unseen: Vec<usize> = vec![0; plan.changes.len()];
    let mut passes = 0;
    let mut timed_out = None;
    loop {
        passes += 1;
        let tried = run_pass(&ctx, plan, &todo, progress, interrupt).await;
        let mut unfinished: Vec<(usize, ChangeResult)> = std::mem::take(&mut waiting);
        let mut done: Vec<(usize, ChangeResult)> = Vec::new();
        for (index, t) in tried {
            match t.result.status {
                Status::Done => done.push((index, t.result)),
                Status::Failed if t.again => {
                    progress.unfinished(&t.result);
                    unfinished.push((index, t.result));
                }
                _ => results[index] = Some(t.result),
            }
        }
        if !done.is_empty() {
            progress.verifying();
            let checks: Vec<(&Change, &ChangeResult)> = done
                .iter()
                .map(|(index, result)| (&plan.changes[*index], result))
                .collect();
            let failures =
                verify::verify(ctx.api.as_ref(), &checks, &ignore, &ctx.options.settle).await;
            let mut failed: HashMap<usize, String> = failures.into_iter().collect();
            for (position, (index, mut result)) in done.into_iter().enumerate() {
                match failed.remove(&position) {
                    // A write the list does not show (yet), or that someone undid: re-planned,
                    // unless that keeps happening.
                    Some(message) => {
                        result.status = Status::Failed;
                        unseen[index] += 1;
                        if unseen[index] >= WRITES_UNSEEN {
                            result.error = Some(format!(
                                "{message}; written {WRITES_UNSEEN} times and each time listed otherwise: something else changes it back (a console user, another tool, a second apply), or the account's list lags far behind its writes; find what, then run apply again"
                            ));
                            progress.finished(&result);
                            results[index] = Some(result);
                        } else {
                            result.error = Some(message);
                            progress.unfinished(&result);
                            unfinished.push((index, result));
                        }
                    }
                    None => results[index] = Some(result),
                }
            }
        }
        if unfinished.is_empty() {
            break;
        }
        let out_of_time = format!("still unfinished when {} passed", deadline.describe());
        if interrupt.is_set() {
            give_up(&mut results, unfinished, None, progress);
            break;
        }
        if deadline.passed() {
            timed_out = Some(deadline.timeout());
            give_up(&mut results, unfinished, Some(&out_of_time), progress);
            break;
        }

        // Let a throttled or failing server breathe before the next pass (not past the end).
        let pause = pass_pause(passes);
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(
                (Instant::now() + pause).min(deadline.at()),
            )) => {}
            _ = interrupt.triggered() => {}
        }
        let listed = if interrupt.is_set() {
            Err(Unlisted::Interrupted)
        } else if deadline.passed() {
            Err(Unlisted::TimedOut(String::new()))
        } else {
            list_until(ctx.api.as_ref(), &deadline, interrupt).await
        };
        let live = match listed {
            Ok(live) => live,
            Err(Unlisted::Interrupted) => {
                give_up(&mut results, unfinished, None, progress);
                break;
            }
            Err(Unlisted::TimedOut(_)) => {
                timed_out = Some(deadline.timeout());
                give_up(&mut results, unfinished, Some(&out_of_time), progress);
                break;
            }
            Err(Unlisted::Failed(message)) => {
                give_up(&mut results, unfinished, Some(&message), progress);
                break;
            }
        };

        let items: Vec<(&Change, Option<&str>)> = unfinished
            .iter()
            .map(|(index, result)| (&plan.changes[*index], result.id.as_deref()))
            .collect();
        let outcomes = {
            let mut claimed = match ctx.claimed.lock() {
                Ok(claimed) => claimed,
                Err(poisoned) => poisoned.into_inner(),
            };
            replan::replan(&items, &live, &ignore, &ctx.known_ids, &mut claimed)
        };
        todo.clear();
        for ((index, mut result), outcome) in unfinished.into_iter().zip(outcomes) {
            match outcome {
                Replanned::Again { change, adopted } => {
                    if adopted {
                        notes[index] = Some(ADOPTED.to_string());
                    }
                    todo.push((index, *change));
                }
                Replanned::Wait(message) => {
                    result.error = Some(message);
                    waiting.push((index, result));
                }
                Replanned::Done { id, adopted } => {
                    result.status = Status::Done;
                    result.error = None;
                    if id.is_some() {
                        result.id = id;
                    }
                    if adopted {
                        result.note = Some(ADOPTED.to_string());
                    }
                    progress.finished(&result);
                    results[index] = Some(result);
                }
                Replanned::Failed(message) => {
                    result.status = Status::Failed;
                    result.error = Some(message);
                    progress.finished(&result);
                    results[index] = Some(result);
                }
            }
        }
        progress.pass(passes + 1, todo.len() + waiting.len());
    }

    let results: Vec<ChangeResult> = results
        .into_iter()
        .zip(notes)
        .filter_map(|(result, note)| {
            let mut result = result?;
            if result.note.is_none() && result.status == Status::Done {
                result.note = note;
            }
            Some(result)
        })
        .collect();
    let mut summary = ApplySummary::default();
    for r in &results {
        match r.status {
            Status::Done => summary.done += 1,
            Status::Failed => summary.failed += 1,
            Status::Skipped => summary.skipped += 1,
        }
    }
    // Changes the deadline kept from starting count as the timeout's doing too.
    let interrupted = interrupt.is_set();
    if timed_out.is_none() && !interrupted && summary.done < results.len() && deadline.passed() {
        timed_out = Some(deadline.timeout());
    }
    ApplyReport {
        results,
        summary,
        interrupted,
        passes,
        timed_out,
    }
}

/// After this many writes of one change that verification did not see, the change fails: a
/// list that lags is seen through within a pass or two (each verification waits up to the settle
/// window); another writer that undoes the change would keep apply busy until `--timeout`.
const WRITES_UNSEEN: usize = 3;

pub(crate) const ADOPTED: &str =
    "adopted: its create answer was lost, the project was found by name";

/// The wait before pass `after + 1`: 1, 2, 4 ... seconds, at most 15.
fn pass_pause(after: usize) -> Duration {
    let exponent = u32::try_from(after.saturating_sub(1)).unwrap_or(4).min(4);
    Duration::from_secs(1 << exponent).min(Duration::from_secs(15))
}

/// The unfinished changes end as failures, with their last error and why no pass follows.
fn give_up(
    results: &mut [Option<ChangeResult>],
    unfinished: Vec<(usize, ChangeResult)>,
    why: Option<&str>,
    progress: &dyn Progress,
) {
    for (index, mut result) in unfinished {
        result.status = Status::Failed;
        if let Some(why) = why {
            let last = result.error.take().unwrap_or_default();
            result.error = Some(if last.is_empty() {
                why.to_string()
            } else {
                format!("{last} ({why})")
            });
        }
        // After Ctrl-C the run says so itself; a change is reported once, in the report.
        if why.is_some() {
            progress.finished(&result);
        }
        results[index] = Some(result);
    }
}

/// Why the projects could not be listed before the deadline.
pub enum Unlisted {
    Interrupted,
    /// The deadline passed; the message names it and the last error.
    TimedOut(String),
    /// An error that trying again will not change.
    Failed(String),
}

/// Lists every project, trying again (after the client's own retries) while the failure may
/// heal, until the deadline: a list is a read, so it is simply dropped when time is up.
pub async fn list_until(
    api: &dyn ProjectsApi,
    deadline: &Deadline,
    interrupt: &Interrupt,
) -> Result<Vec<LiveProject>, Unlisted> {
    let mut last: Option<ApiError> = None;
    let mut round: u32 = 0;
    loop {
        let until = tokio::time::Instant::from_std(deadline.at());
        let listed = tokio::select! {
            listed = tokio::time::timeout_at(until, api.list()) => listed,
            _ = interrupt.triggered() => return Err(Unlisted::Interrupted),
        };
        match listed {
            Ok(Ok(live)) => return Ok(live),
            Ok(Err(error)) if may_heal(&error) => {
                tracing::debug!("listing failed ({error}); trying again until the deadline");
                last = Some(error);
            }
            Ok(Err(error)) => return Err(Unlisted::Failed(error.to_string())),
            Err(_) => {}
        }
        if deadline.passed() {
            let why = match &last {
                Some(error) => format!("{} passed; the last error: {error}", deadline.describe()),
                None => format!("{} passed before the list was read", deadline.describe()),
            };
            return Err(Unlisted::TimedOut(why));
        }
        round += 1;
        let pause = Duration::from_millis(500 * u64::from(round.min(10)));
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(
                (Instant::now() + pause).min(deadline.at()),
            )) => {}
            _ = interrupt.triggered() => return Err(Unlisted::Interrupted),
        }
    }
}

/// One pass: archives first (near the quota they make room for the creates), then the rest.
/// Results come back with the plan's own action and name, whatever the re-planned change was.
async fn run_pass(
    ctx: &Arc<Context>,
    plan: &Plan,
    todo: &[(usize, Change)],
    progress: &dyn Progress,
    interrupt: &Interrupt,
) -> Vec<(usize, Tried)> {
    let mut tried = Vec::new();
    let archives = todo
        .iter()
        .filter(|(_, c)| c.action == Action::Archive)
        .collect::<Vec<_>>();
    let others = todo
        .iter()
        .filter(|(_, c)| c.action != Action::Archive)
        .collect::<Vec<_>>();
    for phase in [archives, others] {
        run_phase(ctx, phase, &mut tried, progress, interrupt).await;
    }
    for (index, t) in &mut tried {
        let planned = &plan.changes[*index];
        t.result.action = planned.action;
        t.result.name = planned.name.clone();
    }
    tried
}

async fn run_phase(
    ctx: &Arc<Context>,
    phase: Vec<&(usize, Change)>,
    tried: &mut Vec<(usize, Tried)>,
    progress: &dyn Progress,
    interrupt: &Interrupt,
) {
    let permits = Arc::new(Semaphore::new(ctx.options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, (usize, &Change)> = HashMap::new();
    let mut pending = phase.into_iter();
    let deadline = ctx.options.deadline;
    loop {
        // Start as many changes as there are free permits; none after Ctrl-C or the deadline.
        while !interrupt.is_set() && !deadline.passed() && permits.available_permits() > 0 {
            let Some((index, change)) = pending.next() else {
                break;
            };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let ctx = ctx.clone();
            let owned = change.clone();
            let handle = tasks.spawn(async move {
                let tried = run_change(&ctx, &owned).await;
                drop(permit);
                tried
            });
            running.insert(handle.id(), (*index, change));
        }
        let (task, t) = match tasks.join_next_with_id().await {
            Some(Ok((task, t))) => (task, t),
            Some(Err(join_error)) => {
                // A task that panicked is a bug; its change is reported failed, never lost.
                let Some(&(_, change)) = running.get(&join_error.id()) else {
                    continue;
                };
                let mut result = skipped(change, "");
                result.status = Status::Failed;
                result.error = Some(format!("internal error: {join_error}"));
                (
                    join_error.id(),
                    Tried {
                        result,
                        again: false,
                    },
                )
            }
            None => break,
        };
        if let Some((index, _)) = running.remove(&task) {
            if t.result.status == Status::Done || (t.result.status == Status::Failed && !t.again) {
                progress.finished(&t.result);
            }
            tried.push((index, t));
        }
    }
    // Not started: reported once, in the final report.
    let why = if interrupt.is_set() {
        "interrupted before it started".to_string()
    } else {
        format!("not started: {} passed", deadline.describe())
    };
    for (index, change) in pending {
        tried.push((
            *index,
            Tried {
                result: skipped(change, &why),
                again: false,
            },
        ));
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

async fn run_change(ctx: &Context, change: &Change) -> Tried {
    let mut result = ChangeResult {
        action: change.action,
        name: change.name.clone(),
        id: change.id.clone(),
        status: Status::Done,
        error: None,
        note: None,
    };
    let outcome: Result<(), Failure> = match change.action {
        Action::Archive if !ctx.options.allow_archive => {
            return Tried {
                result: skipped(
                    change,
                    "archives need --allow-archive (they cannot be undone)",
                ),
                again: false,
            };
        }
        Action::Archive => match change.id.as_deref() {
            Some(id) => ctx
                .api
                .archive(id)
                .await
                .map(|_| ())
                .map_err(|e| Failure::of(&e)),
            None => Err(Failure::for_good("the plan has no id for this archive")),
        },
        Action::Update => match (change.id.as_deref(), change.modify_request()) {
            (Some(id), Some(request)) => ctx
                .api
                .modify(id, request)
                .await
                .map(|_| ())
                .map_err(|e| Failure::of(&e)),
            _ => Err(Failure::for_good(
                "the plan has no id or request for this update",
            )),
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
            None => Err(Failure::for_good("the plan has no request for this create")),
        },
    };
    match outcome {
        Ok(()) => Tried {
            result,
            again: false,
        },
        Err(failure) => {
            result.status = Status::Failed;
            result.error = Some(failure.message);
            if failure.id.is_some() {
                result.id = failure.id;
            }
            Tried {
                result,
                again: failure.again,
            }
        }
    }
}
