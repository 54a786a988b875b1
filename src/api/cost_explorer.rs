//! AWS Cost Explorer, for `billing` and `costs`: the AWS SDK's own client (awsJson 1.1, SigV4
//! service `ce`, region `us-east-1`) on the same stack as the credential chain, wrapped in the few
//! calls tagrec makes, with their batching and paging, and a count of every request sent (each
//! `GetCostAndUsage` costs the user $0.01, retries included).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_costexplorer as ce;
use aws_sdk_costexplorer::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_costexplorer::types::{
    CostAllocationTagStatus, CostAllocationTagStatusEntry, DateInterval, Dimension,
    DimensionValues, Expression, GroupDefinition, GroupDefinitionType,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::chain::{SigV4Source, sdk_http_client};

/// Cost Explorer is called in us-east-1, whatever the caller's region.
pub const REGION: &str = "us-east-1";
/// The keys `ListCostAllocationTags` takes at once.
pub const LIST_CHUNK: usize = 100;
/// The keys `UpdateCostAllocationTagsStatus` takes at once.
pub const UPDATE_BATCH: usize = 20;
/// What `GetCostAndUsage` sums.
pub const METRIC: &str = "UnblendedCost";

/// A cost allocation tag key as Billing knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostTag {
    pub key: String,
    pub active: bool,
    /// "the last month that the tag was used on an AWS resource".
    pub last_used: Option<String>,
}

/// A key `UpdateCostAllocationTagsStatus` did not update, in its 200 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub key: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Daily,
    Monthly,
}

/// What `GetCostAndUsage` is asked.
#[derive(Debug, Clone)]
pub struct CostQuery {
    /// Inclusive, `YYYY-MM-DD`.
    pub start: String,
    /// Exclusive, `YYYY-MM-DD`.
    pub end: String,
    pub granularity: Granularity,
    /// The `SERVICE` dimension's values (`Amazon Bedrock`).
    pub services: Vec<String>,
    /// The tag key spend is grouped by.
    pub key: String,
}

/// One result period: its start, and each group's key (`KEY$VALUE`) with its amount as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub start: String,
    pub groups: Vec<(String, String)>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    pub from: String,
    pub requested_at: Option<String>,
    pub completed_at: Option<String>,
    pub status: String,
}

/// Why a Cost Explorer call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CeError {
    /// The account may not read or change cost allocation tags: a member (linked) account.
    #[error(
        "{message} This is a member account: cost allocation tags are managed in the organization's management (payer) account. Run it with the payer account's credentials (--profile PAYER, or `billing: {{profile: …}}` in the manifest)."
    )]
    LinkedAccount { message: String },
    #[error("Cost Explorer refused the request ({code}): {message}")]
    Service { code: String, message: String },
    #[error("Cost Explorer could not be reached at {endpoint}: {message}")]
    Transport { endpoint: String, message: String },
}

impl CeError {
    /// The same error, its message followed by `note`.
    fn with_note(self, note: &str) -> CeError {
        match self {
            CeError::LinkedAccount { message } => CeError::LinkedAccount {
                message: format!("{message} ({note})"),
            },
            CeError::Service { code, message } => CeError::Service {
                code,
                message: format!("{message}: {note}"),
            },
            CeError::Transport { endpoint, message } => CeError::Transport {
                endpoint,
                message: format!("{message}: {note}"),
            },
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            CeError::LinkedAccount { .. } => Some("AccessDeniedException"),
            CeError::Service { code, .. } => Some(code),
            CeError::Transport { .. } => None,
        }
    }
}

/// The Cost Explorer client, counting what it sends.
pub struct CostExplorer {
    client: ce::Client,
    endpoint: String,
    sent: Arc<AtomicUsize>,
    /// Signing with placeholder keys (`with_placeholder_keys`).
    placeholder: bool,
}

impl CostExplorer {
    /// A client for `endpoint` (None: AWS's own), signing with `credentials`.
    pub fn new(endpoint: Option<&str>, credentials: Arc<SigV4Source>) -> CostExplorer {
        Self::build(endpoint, credentials, false)
    }

    /// A client for an emulator on loopback when no credentials were found: it signs with
    /// placeholder keys (an emulator that checks none takes them), named as such in its errors.
    pub fn with_placeholder_keys(endpoint: &str) -> CostExplorer {
        let keys = SigV4Source::fixed("no credentials (an emulator)", "tagrec", "tagrec", None);
        Self::build(Some(endpoint), Arc::new(keys), true)
    }

    fn build(
        endpoint: Option<&str>,
        credentials: Arc<SigV4Source>,
        placeholder: bool,
    ) -> CostExplorer {
        let sent = Arc::new(AtomicUsize::new(0));
        let mut config = ce::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(sdk_http_client())
            // An overridden endpoint is signed in the client's region: it must be CE's.
            .region(Region::from_static(REGION))
            .credentials_provider(SharedCredentialsProvider::new(Refreshing(credentials)))
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .interceptor(Counter(sent.clone()));
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        CostExplorer {
            client: ce::Client::from_conf(config.build()),
            endpoint: endpoint
                .unwrap_or("https://ce.us-east-1.amazonaws.com")
                .to_string(),
            sent,
            placeholder,
        }
    }

    /// Requests sent so far, retries included.
    pub fn requests(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    /// The seen keys among `keys`, in chunks of 100 keys, every page of each.
    pub async fn tags(&self, keys: &[String]) -> Result<Vec<CostTag>, CeError> {
        let mut tags = Vec::new();
        for chunk in keys.chunks(LIST_CHUNK) {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list_cost_allocation_tags()
                    .set_tag_keys(Some(chunk.to_vec()))
                    .max_results(100)
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| self.error(e))?;
                tags.extend(page.cost_allocation_tags().iter().map(|t| CostTag {
                    key: t.tag_key().to_string(),
                    active: t.status() == &CostAllocationTagStatus::Active,
                    last_used: t.last_used_date().map(str::to_string),
                }));
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(tags)
    }

    /// Activates `keys`, 20 at a time; returns the keys Billing did not activate, with why.
    /// Never deactivates anything.
    pub async fn activate(&self, keys: &[String]) -> Result<Vec<KeyError>, CeError> {
        let mut errors = Vec::new();
        let mut sent: Vec<&str> = Vec::new();
        for batch in keys.chunks(UPDATE_BATCH) {
            let entries = batch
                .iter()
                .map(|key| {
                    CostAllocationTagStatusEntry::builder()
                        .tag_key(key)
                        .status(CostAllocationTagStatus::Active)
                        .build()
                        .map_err(|e| CeError::Service {
                            code: "InvalidRequest".into(),
                            message: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let answer = self
                .client
                .update_cost_allocation_tags_status()
                .set_cost_allocation_tags_status(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    let error = self.error(e);
                    if sent.is_empty() {
                        return error;
                    }
                    // Earlier batches went through: say which keys, so that nothing is lost.
                    error.with_note(&format!(
                        "the batches before this one were sent ({}); the rest were not: run `tagrec billing status` to see where each key stands, then `tagrec billing activate` again",
                        sent.join(", ")
                    ))
                })?;
            sent.extend(batch.iter().map(String::as_str));
            errors.extend(answer.errors().iter().map(|e| KeyError {
                key: e.tag_key().unwrap_or_default().to_string(),
                code: e.code().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().to_string(),
            }));
        }
        Ok(errors)
    }

    /// Every result period of `GetCostAndUsage`, through every page.
    pub async fn cost_and_usage(&self, query: &CostQuery) -> Result<Vec<Period>, CeError> {
        let period = DateInterval::builder()
            .start(&query.start)
            .end(&query.end)
            .build()
            .map_err(|e| CeError::Service {
                code: "InvalidRequest".into(),
                message: e.to_string(),
            })?;
        let granularity = match query.granularity {
            Granularity::Daily => ce::types::Granularity::Daily,
            Granularity::Monthly => ce::types::Granularity::Monthly,
        };
        let filter = Expression::builder()
            .dimensions(
                DimensionValues::builder()
                    .key(Dimension::Service)
                    .set_values(Some(query.services.clone()))
                    .build(),
            )
            .build();
        let group = GroupDefinition::builder()
            .r#type(GroupDefinitionType::Tag)
            .key(&query.key)
            .build();
        let mut periods = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_cost_and_usage()
                .time_period(period.clone())
                .granularity(granularity.clone())
                .metrics(METRIC)
                .filter(filter.clone())
                .group_by(group.clone())
                .set_next_page_token(token.clone())
                .send()
                .await
                .map_err(|e| self.error(e))?;
            for result in page.results_by_time() {
                let mut unit = None;
                let groups = result
                    .groups()
                    .iter()
                    .filter_map(|g| {
                        let metric = g.metrics()?.get(METRIC)?;
                        unit = unit.take().or(metric.unit().map(str::to_string));
                        Some((g.keys().first()?.clone(), metric.amount()?.to_string()))
                    })
                    .collect();
                periods.push(Period {
                    start: result
                        .time_period()
                        .map(|p| p.start().to_string())
                        .unwrap_or_default(),
                    groups,
                    unit,
                });
            }
            token = page.next_page_token().map(str::to_string);
            if token.is_none() {
                return Ok(periods);
            }
        }
    }

    /// Asks Billing to apply the keys' status to the months from `from` (`YYYY-MM-01T00:00:00Z`).
    pub async fn start_backfill(&self, from: &str) -> Result<Option<Backfill>, CeError> {
        let answer = self
            .client
            .start_cost_allocation_tag_backfill()
            .backfill_from(from)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(answer.backfill_request().map(backfill))
    }

    /// Every backfill requested, as Billing lists them.
    pub async fn backfills(&self) -> Result<Vec<Backfill>, CeError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_cost_allocation_tag_backfill_history()
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| self.error(e))?;
            all.extend(page.backfill_requests().iter().map(backfill));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(all);
            }
        }
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        error: SdkError<E, aws_smithy_runtime_api::http::Response>,
    ) -> CeError {
        match &error {
            SdkError::ServiceError(service) if error.code().is_none() => {
                // Not Cost Explorer's error shape: most often a URL that is not Cost Explorer's.
                let status = service.raw().status().as_u16();
                CeError::Service {
                    code: format!("HTTP {status}"),
                    message: format!(
                        "{} answered without a Cost Explorer error: is it Cost Explorer's URL? (the emulator's is its root, the `cost explorer on` line of `tagrec sandbox serve`, without /v1)",
                        self.endpoint
                    ),
                }
            }
            SdkError::ServiceError(_) => {
                let code = error.code().unwrap_or("UnknownError").to_string();
                let message = error.message().unwrap_or_default().to_string();
                if code == "AccessDeniedException" && message.contains("Linked account") {
                    CeError::LinkedAccount { message }
                } else if self.placeholder
                    && matches!(
                        code.as_str(),
                        "UnrecognizedClientException" | "InvalidSignatureException"
                    )
                {
                    CeError::Service {
                        code,
                        message: format!(
                            "{message}: tagrec found no AWS credentials and signed with placeholder keys; give the ones this server takes (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --profile)"
                        ),
                    }
                } else {
                    CeError::Service { code, message }
                }
            }
            // Never the Debug form: it can hold the raw answer.
            _ => {
                let mut message = super::error_chain(&error);
                if super::tls::is_untrusted(&message) {
                    message = format!(
                        "{message}: the server's certificate is not trusted: {}",
                        super::tls::UNTRUSTED_HELP
                    );
                }
                CeError::Transport {
                    endpoint: self.endpoint.clone(),
                    message,
                }
            }
        }
    }
}

fn backfill(b: &ce::types::CostAllocationTagBackfillRequest) -> Backfill {
    Backfill {
        from: b.backfill_from().unwrap_or_default().to_string(),
        requested_at: b.requested_at().map(str::to_string),
        completed_at: b.completed_at().map(str::to_string),
        status: b
            .backfill_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// The chain's credentials, fetched again before they expire, for the SDK's client.
#[derive(Debug)]
struct Refreshing(Arc<SigV4Source>);

impl ProvideCredentials for Refreshing {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.0.credentials().await.map_err(|message| {
                aws_credential_types::provider::error::CredentialsError::provider_error(message)
            })
        })
    }
}

/// Counts every request as it goes out, retries included.
#[derive(Debug)]
struct Counter(Arc<AtomicUsize>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "tagrec request counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
