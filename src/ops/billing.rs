//! Cost allocation tags as code: which keys the manifests use, where Billing stands on each, and
//! activating (never deactivating) them, through the payer account's Cost Explorer.

use std::collections::BTreeSet;

use anyhow::bail;

use crate::api::auth::{self, AuthMode, AuthRequest, Credentials};
use crate::api::chain::{Chain, ChainOptions};
use crate::api::cost_explorer::{self, Backfill, CostExplorer, KeyError};
use crate::manifest::SandboxTarget;
use crate::render::billing::{Activation, KeyFailure, KeyState, KeyStatus, not_seen_advice};
use crate::rules::{PROTECT_TAG, is_aws_key};
use crate::sandbox::{EmbeddedServer, EmbeddedServerOptions};

use super::connect::SANDBOX_REGION;
use super::validate::Loaded;

/// The command line's say on where Cost Explorer is and as whom.
#[derive(Debug, Clone, Default)]
pub struct BillingOptions {
    /// `--billing-endpoint` (or TAGREC_BILLING_ENDPOINT, merged by clap).
    pub endpoint: Option<String>,
    /// `--profile`: the payer account's profile; wins over the manifests' `billing.profile`.
    pub profile: Option<String>,
    /// `--region`: where STS is asked to assume `billing.role_arn`.
    pub region: Option<String>,
}

/// The keys of the manifests' effective tags (defaults and `ManagedBy` included; never
/// `tagrec:protect` or `aws:` keys), each once, sorted.
pub fn keys_of(manifests: &[Loaded]) -> Vec<String> {
    manifests
        .iter()
        .flat_map(|l| &l.manifest.projects)
        .flat_map(|p| p.tags.keys())
        .filter(|k| k.as_str() != PROTECT_TAG && !is_aws_key(k))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The payer account's Cost Explorer, and the embedded sandbox serving it when the manifests'
/// target is one (it stops when this is dropped).
pub struct Payer {
    pub ce: CostExplorer,
    _sandbox: Option<EmbeddedServer>,
}

/// Connects to the payer account's Cost Explorer: the endpoint first found (the manifests'
/// embedded sandbox, `--billing-endpoint`, AWS_ENDPOINT_URL_COST_EXPLORER, AWS_ENDPOINT_URL,
/// AWS's), with SigV4 credentials from `--profile`, else the manifests' `billing:`, else the
/// default chain; never the target's own.
pub async fn connect(
    manifests: &[Loaded],
    options: &BillingOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Payer> {
    let sandbox = match embedded_sandbox(manifests)? {
        Some(target) => Some(
            EmbeddedServer::start(EmbeddedServerOptions {
                state: target.state.clone(),
                seed: target.seed.clone(),
                region: SANDBOX_REGION.to_string(),
                costs: target.costs.clone(),
                active_cost_tags: target.active_cost_tags.clone(),
                linked_account: target.linked_account,
            })
            .await
            .map_err(|e| anyhow::anyhow!("could not start the embedded sandbox: {e}"))?,
        ),
        None => None,
    };
    let endpoint = sandbox
        .as_ref()
        .map(|s| (s.cost_explorer_url(), "the embedded sandbox"))
        .or_else(|| {
            options
                .endpoint
                .clone()
                .map(|e| (e, "--billing-endpoint (or TAGREC_BILLING_ENDPOINT)"))
        })
        .or_else(|| {
            env("AWS_ENDPOINT_URL_COST_EXPLORER").map(|e| (e, "AWS_ENDPOINT_URL_COST_EXPLORER"))
        })
        .or_else(|| env("AWS_ENDPOINT_URL").map(|e| (e, "AWS_ENDPOINT_URL")))
        .filter(|(e, _)| !e.trim().is_empty());
    let endpoint = match endpoint {
        Some((endpoint, from)) => Some(crate::api::client::parse_endpoint(&endpoint).map_err(
            |_| {
                anyhow::anyhow!(
                    "{from} `{endpoint}` is not a URL: give Cost Explorer's, e.g. https://ce.us-east-1.amazonaws.com, or an emulator's root, e.g. http://127.0.0.1:4010"
                )
            },
        )?),
        None => None,
    };
    let billing = payer(manifests)?;
    let profile = options.profile.clone().or(billing.profile);
    let loopback = endpoint
        .as_ref()
        .is_some_and(crate::api::client::is_loopback);
    let chain = Chain::new(ChainOptions {
        profile: profile.clone(),
        region: options.region.clone(),
        role_arn: billing.role_arn.clone(),
        external_id: None,
    })
    .await;
    let request = AuthRequest {
        mode: AuthMode::Sigv4,
        region: Some(cost_explorer::REGION),
        sigv4_named: true,
        ec2: !loopback,
    };
    let endpoint = endpoint.as_ref().map(|e| e.as_str().trim_end_matches('/'));
    let ce = match auth::resolve(&request, &chain, env).await {
        Ok(found) => match found.credentials {
            Credentials::SigV4 { source, .. } => {
                tracing::debug!(
                    "Cost Explorer at {} with SigV4 credentials from {}",
                    endpoint.unwrap_or("https://ce.us-east-1.amazonaws.com"),
                    source.label()
                );
                CostExplorer::new(endpoint, source)
            }
            other => bail!(
                "Cost Explorer is called with SigV4 only, not {}",
                other.describe()
            ),
        },
        // An emulator on loopback takes any signature when it checks none.
        Err(auth::AuthError::NoSigV4Credentials { .. }) if loopback => {
            CostExplorer::with_placeholder_keys(endpoint.unwrap_or_default())
        }
        Err(error) => return Err(error.into()),
    };
    Ok(Payer {
        ce,
        _sandbox: sandbox,
    })
}

/// The sandbox whose Cost Explorer answers, when the manifests target one: all of them the same
/// state (one account), or none.
fn embedded_sandbox(manifests: &[Loaded]) -> anyhow::Result<Option<&SandboxTarget>> {
    let sandboxes: Vec<(&Loaded, Option<&SandboxTarget>)> = manifests
        .iter()
        .map(|l| (l, l.manifest.target.sandbox.as_ref()))
        .collect();
    let Some((first, Some(target))) = sandboxes.first().copied() else {
        if let Some((other, Some(_))) = sandboxes.iter().find(|(_, s)| s.is_some()) {
            bail!(
                "{} targets an embedded sandbox but {} does not: billing and costs call one payer account; run the sandbox manifests apart",
                other.manifest.file.display(),
                manifests[0].manifest.file.display()
            );
        }
        return Ok(None);
    };
    if let Some((other, _)) = sandboxes
        .iter()
        .find(|(_, s)| s.is_none_or(|s| s.state != target.state))
    {
        bail!(
            "{} and {} are not one embedded sandbox: billing and costs call one payer account; run them apart",
            first.manifest.file.display(),
            other.manifest.file.display()
        );
    }
    Ok(Some(target))
}

/// The manifests' `billing:` (one payer account): they must not name two.
fn payer(manifests: &[Loaded]) -> anyhow::Result<crate::manifest::Billing> {
    let mut named = manifests
        .iter()
        .map(|l| (&l.manifest.file, &l.manifest.billing))
        .filter(|(_, b)| b.profile.is_some() || b.role_arn.is_some());
    let Some((first_file, first)) = named.next() else {
        return Ok(Default::default());
    };
    if let Some((file, _)) = named.find(|(_, b)| *b != first) {
        bail!(
            "{} and {} name different `billing:` accounts: billing and costs call one payer account; give the same `billing:` in every manifest, or --profile",
            first_file.display(),
            file.display()
        );
    }
    Ok(first.clone())
}

/// Where Billing stands on each of `keys`: active, inactive, or not seen yet.
pub async fn status(ce: &CostExplorer, keys: &[String]) -> anyhow::Result<Vec<KeyStatus>> {
    let tags = ce.tags(keys).await?;
    Ok(keys
        .iter()
        .map(|key| match tags.iter().find(|t| &t.key == key) {
            Some(tag) => KeyStatus {
                key: key.clone(),
                status: if tag.active {
                    KeyState::Active
                } else {
                    KeyState::Inactive
                },
                last_used: tag.last_used.clone(),
            },
            None => KeyStatus {
                key: key.clone(),
                status: KeyState::NotSeen,
                last_used: None,
            },
        })
        .collect())
}

/// Activates the keys not active yet (not-seen ones too: Billing may have seen them since, and it
/// answers for each). Every refused key comes back with what to do about it.
pub async fn activate(ce: &CostExplorer, statuses: &[KeyStatus]) -> anyhow::Result<Activation> {
    let to_activate: Vec<String> = statuses
        .iter()
        .filter(|k| k.status != KeyState::Active)
        .map(|k| k.key.clone())
        .collect();
    let already_active = statuses
        .iter()
        .filter(|k| k.status == KeyState::Active)
        .map(|k| k.key.clone())
        .collect();
    let errors = if to_activate.is_empty() {
        Vec::new()
    } else {
        ce.activate(&to_activate).await?
    };
    let failed: Vec<KeyFailure> = errors.into_iter().map(failure).collect();
    let activated = to_activate
        .into_iter()
        .filter(|k| !failed.iter().any(|f| &f.key == k))
        .collect();
    Ok(Activation {
        activated,
        failed,
        already_active,
    })
}

fn failure(error: KeyError) -> KeyFailure {
    let advice = match error.code.as_str() {
        "TagKeysNotFoundException" => not_seen_advice(1),
        _ => "check the key and run `tagrec billing activate` again".to_string(),
    };
    KeyFailure {
        key: error.key,
        code: error.code,
        message: error.message,
        advice,
    }
}

/// Checks `YYYY-MM` for a backfill: a month at most 12 back, not in the future. Returns the
/// timestamp Cost Explorer takes (`YYYY-MM-01T00:00:00Z`).
pub fn backfill_from(month: &str, today: time::Date) -> anyhow::Result<String> {
    let invalid = || {
        anyhow::anyhow!(
            "--from {month} is not a month: give YYYY-MM (e.g. {:04}-{:02})",
            today.year(),
            u8::from(today.month())
        )
    };
    let (year, number) = month.split_once('-').ok_or_else(invalid)?;
    let digits = year
        .bytes()
        .chain(number.bytes())
        .all(|b| b.is_ascii_digit());
    if !(year.len() == 4 && number.len() == 2 && digits) {
        return Err(invalid());
    }
    let (year, number): (i32, u8) = (
        year.parse().map_err(|_| invalid())?,
        number.parse().map_err(|_| invalid())?,
    );
    if year < 1000 || month.len() != 7 {
        return Err(invalid());
    }
    time::Month::try_from(number).map_err(|_| invalid())?;
    let months = |y: i32, m: u8| y * 12 + i32::from(m) - 1;
    let asked = months(year, number);
    let now = months(today.year(), u8::from(today.month()));
    if asked > now {
        bail!("--from {month} is in the future: a backfill applies to past months");
    }
    if now - asked > 12 {
        bail!(
            "--from {month} is more than 12 months back: Billing backfills at most 12 months (from {} at the earliest)",
            {
                let earliest = now - 12;
                format!("{:04}-{:02}", earliest / 12, earliest % 12 + 1)
            }
        );
    }
    Ok(format!("{year:04}-{number:02}-01T00:00:00Z"))
}

/// Requests a backfill from `from`, then lists every backfill so far.
pub async fn backfill(
    ce: &CostExplorer,
    from: &str,
) -> anyhow::Result<(Option<Backfill>, Vec<Backfill>)> {
    let requested = match ce.start_backfill(from).await {
        Ok(requested) => requested,
        Err(error) if error.code() == Some("BackfillLimitExceededException") => {
            // Say when the last one was asked for, so that the user knows when to come back.
            let last = ce
                .backfills()
                .await
                .unwrap_or_default()
                .into_iter()
                .max_by(|a, b| a.requested_at.cmp(&b.requested_at));
            let last = last.map_or(String::new(), |b| {
                format!(
                    " The last one: from {}, requested {}, {}.",
                    b.from,
                    b.requested_at.as_deref().unwrap_or("at an unknown time"),
                    b.status
                )
            });
            bail!(
                "{error}. Billing runs one backfill at a time, and at most one every 24 hours: ask again 24 hours after the last request.{last}"
            );
        }
        Err(error) => return Err(error.into()),
    };
    let history = ce.backfills().await?;
    Ok((requested, history))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn backfill_months_are_checked_against_today() {
        let today = date!(2026 - 12 - 05);
        assert_eq!(
            backfill_from("2026-03", today).unwrap(),
            "2026-03-01T00:00:00Z"
        );
        assert_eq!(
            backfill_from("2025-12", today).unwrap(),
            "2025-12-01T00:00:00Z"
        );
        let far = backfill_from("2025-11", today).unwrap_err().to_string();
        assert!(far.contains("more than 12 months back"), "{far}");
        assert!(far.contains("2025-12"), "{far}");
        let future = backfill_from("2027-01", today).unwrap_err().to_string();
        assert!(future.contains("future"), "{future}");
        for bad in [
            "2026-3",
            "2026-13",
            "march",
            "2026-03-01",
            "2026-+3",
            "+026-03",
        ] {
            let error = backfill_from(bad, today).unwrap_err().to_string();
            assert!(error.contains("is not a month"), "{bad}: {error}");
        }
    }
}
