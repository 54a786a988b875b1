//! Creates without duplicates. The API has no idempotency key and names need not be unique, so a
//! create whose answer is lost is never simply sent again: tagrec lists, and adopts the project if
//! it was made (a new id with that name, unknown before this run); only when none shows up within
//! the settle window does it create again. A create that still fails is re-planned by the next
//! pass, which adopts the project the same way (`replan`).

use std::time::Duration;

use rand::Rng;

use crate::api::{ApiError, Certainty, CreateProject, LiveProject, ModifyProject};

use super::{Context, Failure, may_heal};

/// Attempts of one create, counting re-sends after "not done" answers (429, refused connection)
/// and after lost answers whose project never showed up.
const MAX_ATTEMPTS: u32 = 6;

pub struct Created {
    pub id: String,
    pub note: Option<String>,
}

pub(crate) async fn create(ctx: &Context, request: &CreateProject) -> Result<Created, Failure> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let error = match ctx.api.create(request).await {
            Ok(project) => {
                claim(ctx, &project.id);
                return Ok(Created {
                    id: project.id,
                    note: None,
                });
            }
            Err(error) => error,
        };
        match error.certainty() {
            Certainty::NotDone => {
                if !retryable(&error) || attempt >= MAX_ATTEMPTS {
                    return Err(Failure::of(&error));
                }
                tokio::time::sleep(backoff(attempt, &error)).await;
            }
            Certainty::Ambiguous => match find_created(ctx, request).await {
                Ok(Some(project)) => return adopt(ctx, request, project).await,
                Ok(None) if attempt < MAX_ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt, &error)).await;
                }
                Ok(None) => {
                    return Err(Failure {
                        message: format!(
                            "{error}; after {attempt} attempts no project named \"{}\" was found",
                            request.name
                        ),
                        again: true,
                        id: None,
                    });
                }
                Err(list_error) => {
                    // The next pass lists again and adopts the project if it exists.
                    return Err(Failure {
                        message: format!(
                            "the create may or may not have happened ({error}), and listing to find out failed ({list_error})"
                        ),
                        again: may_heal(&list_error),
                        id: None,
                    });
                }
            },
        }
    }
}

fn retryable(error: &ApiError) -> bool {
    match error {
        ApiError::Api { status, .. } => *status == 429 || *status == 408,
        ApiError::Connect { .. } => true,
        _ => false,
    }
}

fn backoff(attempt: u32, error: &ApiError) -> Duration {
    if let ApiError::Api {
        retry_after: Some(wait),
        ..
    } = error
    {
        return (*wait).min(Duration::from_secs(30));
    }
    let base = 200u64.saturating_mul(1 << attempt.min(5)).min(5_000);
    let jitter = rand::rng().random_range(0..=base / 2);
    Duration::from_millis(base / 2 + jitter)
}

fn claim(ctx: &Context, id: &str) -> bool {
    match ctx.claimed.lock() {
        Ok(mut claimed) => claimed.insert(id.to_string()),
        Err(poisoned) => poisoned.into_inner().insert(id.to_string()),
    }
}

fn is_claimed(ctx: &Context, id: &str) -> bool {
    match ctx.claimed.lock() {
        Ok(claimed) => claimed.contains(id),
        Err(poisoned) => poisoned.into_inner().contains(id),
    }
}

/// Lists until an active project with the name, new to this account since the plan, shows up,
/// or the settle window passes (lists may lag writes).
async fn find_created(
    ctx: &Context,
    request: &CreateProject,
) -> Result<Option<LiveProject>, ApiError> {
    let waits = std::iter::once(Duration::ZERO).chain(ctx.options.settle.iter().copied());
    for wait in waits {
        tokio::time::sleep(wait).await;
        let live = ctx.api.list().await?;
        let mut found: Vec<LiveProject> = live
            .into_iter()
            .filter(|p| {
                p.is_active()
                    && p.name == request.name
                    && !ctx.known_ids.contains(&p.id)
                    && !is_claimed(ctx, &p.id)
            })
            .collect();
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        if let Some(project) = found.into_iter().next()
            && claim(ctx, &project.id)
        {
            return Ok(Some(project));
        }
    }
    Ok(None)
}

/// The lost create did happen: take that project, and finish its tags if they differ.
async fn adopt(
    ctx: &Context,
    request: &CreateProject,
    project: LiveProject,
) -> Result<Created, Failure> {
    let mut fix = ModifyProject::default();
    for (k, v) in &request.tags {
        if project.tags.get(k) != Some(v) {
            fix.add_tags.insert(k.clone(), v.clone());
        }
    }
    if !fix.is_empty() {
        ctx.api
            .modify(&project.id, &fix)
            .await
            .map_err(|e| Failure {
                message: format!("adopted {} but could not set its tags: {e}", project.id),
                again: may_heal(&e),
                // The project is this run's now: the next pass finishes its tags, never creates.
                id: Some(project.id.clone()),
            })?;
    }
    Ok(Created {
        id: project.id,
        note: Some(super::ADOPTED.into()),
    })
}
