//! Applying: a saved plan is read and checked against the live account (its target, then the
//! stale check) before anything is written; then the Applier runs, and Ctrl-C is turned into
//! "no new change starts" (first) and "stop at once" (second).

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context as _, bail};

use crate::apply::{self, ApplyOptions, ApplyReport, Interrupt, Progress};
use crate::plan::Plan;
use crate::plan::stale::stale_reasons;

use super::connect::{ConnectOptions, Connection, connect};
use super::plan::list_live;
use super::validate::Loaded;

/// A saved plan that still fits the account, ready to apply.
pub struct Saved {
    pub plan: Plan,
    pub connection: Connection,
    pub known_ids: HashSet<String>,
}

/// Reads the plan file, connects to the manifest's target (refusing another one than the plan
/// was made for) and refuses a stale plan, listing why. Nothing is written here.
pub async fn load_saved(
    path: &Path,
    loaded: &Loaded,
    options: &ConnectOptions,
) -> anyhow::Result<Saved> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the plan file {}", path.display()))?;
    let plan = Plan::from_json(&text).map_err(|e| anyhow::anyhow!("{} {e}", path.display()))?;
    let connection = connect(options, &loaded.manifest).await?;
    if connection.target.endpoint != plan.target.endpoint {
        bail!(
            "{} was planned against {}, but this run targets {}: apply it against the target it was made for, or make a new plan",
            path.display(),
            plan.target.endpoint,
            connection.target.endpoint
        );
    }
    let live = list_live(&connection).await?;
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
    let known_ids = live.iter().map(|p| p.id.clone()).collect();
    Ok(Saved {
        plan,
        connection,
        known_ids,
    })
}

/// How an apply ended.
pub enum Outcome {
    /// Every change was tried (or skipped after a first Ctrl-C) and verified.
    Report(ApplyReport),
    /// A second Ctrl-C: the run was dropped at once, running requests abandoned.
    Abandoned,
}

/// Runs the Applier until it finishes or Ctrl-C is pressed twice. `on_interrupt` hears of the
/// first Ctrl-C (the caller says what it means); from then on no new change starts.
pub async fn run(
    connection: &Connection,
    plan: &Plan,
    known_ids: HashSet<String>,
    options: ApplyOptions,
    progress: &dyn Progress,
    on_interrupt: impl Fn() + Send + 'static,
) -> Outcome {
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
    let api = connection.api.clone();
    let outcome = tokio::select! {
        report = apply::apply(api, plan, known_ids, options, progress, &interrupt) => {
            Outcome::Report(report)
        }
        Ok(()) = stopped => Outcome::Abandoned,
    };
    watcher.abort();
    outcome
}
