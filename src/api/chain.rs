//! SigV4 credentials from the AWS SDK's providers, in `product.md`'s order, each source named for
//! messages: environment keys, the shared config and credentials files (a profile: static keys,
//! IAM Identity Center, `credential_process`, a role), web identity (what GitHub's and GitLab's
//! OIDC give), ECS, and last the EC2 instance metadata, bounded so that a laptop or a CI runner
//! without it is told within a second. A role from the manifest is assumed on top. The found
//! credentials are cached and fetched again before they expire: a long apply outlives a session.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::imds;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::meta::region::ProvideRegion;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials as AwsCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The region STS and Identity Center are asked in when nothing names one.
const FALLBACK_REGION: &str = "us-east-1";

/// The HTTP client of the SDK's providers: rustls with ring, as tagrec's own client (no aws-lc,
/// no OpenSSL), trusting the platform's root certificates and `AWS_CA_BUNDLE`'s (an unusable
/// bundle is reported by the projects and Cost Explorer clients, which refuse to start).
pub fn sdk_http_client() -> SharedHttpClient {
    use aws_smithy_http_client::{Builder, tls};
    let builder = Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    // The SDK reads the platform's store itself, and asserts, in builds with debug assertions
    // (the tests'), that it found some: there, without any, it gets none to read. A release
    // build leaves the reading to the SDK alone (once: milliseconds).
    let native = !cfg!(debug_assertions) || !super::tls::native_roots().is_empty();
    let mut store = tls::TrustStore::empty().with_native_roots(native);
    if let Ok(Some(bundle)) = super::tls::ca_bundle() {
        store = store.with_pem_certificate(bundle.pem.clone());
    }
    match tls::TlsContext::builder().with_trust_store(store).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        Err(_) => builder.build_https(),
    }
}

/// The `region` of the profile (`profile`, else AWS_PROFILE, else `default`) in the AWS config
/// file, the last place tagrec looks for a region.
pub async fn profile_region(profile: Option<&str>) -> Option<String> {
    let config = ProviderConfig::without_region().with_http_client(sdk_http_client());
    let mut provider = ProfileFileRegionProvider::builder().configure(&config);
    if let Some(profile) = profile {
        provider = provider.profile_name(profile);
    }
    provider.build().region().await.map(|r| r.to_string())
}

/// What the command line and the manifest say about SigV4 credentials.
#[derive(Debug, Clone, Default)]
pub struct ChainOptions {
    /// `--profile`, else `target.profile`: an explicit profile wins over environment keys.
    pub profile: Option<String>,
    /// The region tagrec resolved (flag, manifest, environment), for STS; else the profile's.
    pub region: Option<String>,
    /// `target.role_arn`: assumed with the chain's credentials.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

/// One place credentials may come from, named as the user knows it.
#[derive(Clone)]
struct Step {
    label: String,
    provider: SharedCredentialsProvider,
}

/// Where to look, in order: `steps` before the bearer key of `OPENAI_API_KEY`, `imds` after it.
pub struct Chain {
    steps: Vec<Step>,
    imds: Step,
    options: ChainOptions,
    region: Region,
    http: SharedHttpClient,
}

/// Why no credentials came from the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A source is configured but does not work (a profile that does not exist, a token file
    /// that cannot be read, an STS refusal): tagrec stops there rather than try the next one.
    #[error("the credentials from {source_label} could not be loaded: {message}")]
    Broken {
        source_label: String,
        message: String,
    },
}

/// Credentials found, with where they came from.
pub struct Found {
    pub source: Arc<SigV4Source>,
}

impl Chain {
    /// The sources for these options. Reading the profile's region is the only I/O here.
    pub async fn new(options: ChainOptions) -> Chain {
        let http = sdk_http_client();
        let base = ProviderConfig::without_region().with_http_client(http.clone());
        let region = match &options.region {
            Some(region) => Region::new(region.clone()),
            None => {
                let mut provider = ProfileFileRegionProvider::builder().configure(&base);
                if let Some(profile) = &options.profile {
                    provider = provider.profile_name(profile);
                }
                provider
                    .build()
                    .region()
                    .await
                    .unwrap_or_else(|| Region::from_static(FALLBACK_REGION))
            }
        };
        let config = base.with_region(Some(region.clone()));

        let mut steps = Vec::new();
        // An explicit profile wins over environment keys (the AWS CLI's rule for --profile).
        if options.profile.is_none() {
            steps.push(step(
                "the environment (AWS_ACCESS_KEY_ID)",
                EnvironmentVariableCredentialsProvider::new(),
            ));
        }
        let mut profile = ProfileFileCredentialsProvider::builder().configure(&config);
        let profile_label = match &options.profile {
            Some(name) => {
                profile = profile.profile_name(name);
                format!("profile {name} of the AWS config files")
            }
            None => match std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()) {
                Some(name) => format!("profile {name} (AWS_PROFILE) of the AWS config files"),
                None => "the default profile of the AWS config files".to_string(),
            },
        };
        steps.push(step(profile_label, profile.build()));
        steps.push(step(
            "web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN)",
            WebIdentityTokenCredentialsProvider::builder()
                .configure(&config)
                .build(),
        ));
        steps.push(step(
            "container credentials (AWS_CONTAINER_CREDENTIALS_*)",
            EcsCredentialsProvider::builder()
                .configure(&config)
                .connect_timeout(Duration::from_millis(500))
                .read_timeout(Duration::from_secs(2))
                .build(),
        ));
        // Off EC2 the metadata endpoint does not exist: one short attempt, so that "nothing
        // configured" is said within a second instead of after the SDK's default retries.
        let imds_client = imds::Client::builder()
            .configure(&config)
            .connect_timeout(Duration::from_millis(300))
            .read_timeout(Duration::from_millis(500))
            .operation_attempt_timeout(Duration::from_millis(1000))
            .operation_timeout(Duration::from_millis(1000))
            .max_attempts(1)
            .build();
        let imds = step(
            "EC2 instance metadata",
            ImdsCredentialsProvider::builder()
                .configure(&config)
                .imds_client(imds_client)
                .build(),
        );
        Chain {
            steps,
            imds,
            options,
            region,
            http,
        }
    }

    /// The first source with credentials, before the EC2 metadata step. `Ok(None)` when none has
    /// any; `tried` gets a line per source looked at.
    pub async fn find(&self, tried: &mut Vec<String>) -> Result<Option<Found>, ChainError> {
        for step in &self.steps {
            if let Some(found) = self.try_step(step, tried, false).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The EC2 metadata step, last of all (after `OPENAI_API_KEY`).
    pub async fn find_on_ec2(&self, tried: &mut Vec<String>) -> Result<Option<Found>, ChainError> {
        self.try_step(&self.imds, tried, true).await
    }

    async fn try_step(
        &self,
        step: &Step,
        tried: &mut Vec<String>,
        last: bool,
    ) -> Result<Option<Found>, ChainError> {
        match step.provider.provide_credentials().await {
            Ok(credentials) => {
                tracing::debug!("SigV4 credentials from {}", step.label);
                let found = Step {
                    label: step.label.clone(),
                    provider: step.provider.clone(),
                };
                Ok(Some(self.with_role(found, credentials).await?))
            }
            Err(e @ CredentialsError::CredentialsNotLoaded(_)) => {
                tried.push(format!("{}: {}", step.label, super::error_chain(&e)));
                Ok(None)
            }
            // The metadata step is last and an endpoint that does not answer is its usual
            // failure: "not there", not "broken".
            Err(e) if last => {
                tried.push(format!("{}: {}", step.label, super::error_chain(&e)));
                Ok(None)
            }
            Err(e) => Err(ChainError::Broken {
                source_label: step.label.clone(),
                message: super::error_chain(&e),
            }),
        }
    }

    /// Assumes `target.role_arn` with the found credentials, when the manifest names one.
    async fn with_role(&self, found: Step, first: AwsCredentials) -> Result<Found, ChainError> {
        let Some(role_arn) = &self.options.role_arn else {
            return Ok(Found {
                source: Arc::new(SigV4Source::new(found.label, found.provider, Some(first))),
            });
        };
        // A config with the region and credentials given, so that loading it asks nothing of the
        // instance metadata; it reads AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL, as the SDKs do.
        let config: SdkConfig = aws_config::defaults(BehaviorVersion::latest())
            .http_client(self.http.clone())
            .region(self.region.clone())
            .credentials_provider(found.provider.clone())
            .load()
            .await;
        let mut builder = AssumeRoleProvider::builder(role_arn.clone())
            .session_name("tagrec")
            .configure(&config);
        if let Some(external_id) = &self.options.external_id {
            builder = builder.external_id(external_id.clone());
        }
        let role = SharedCredentialsProvider::new(builder.build().await);
        let label = format!("role {role_arn} (assumed with {})", found.label);
        let credentials = role
            .provide_credentials()
            .await
            .map_err(|e| ChainError::Broken {
                source_label: label.clone(),
                message: super::error_chain(&e),
            })?;
        tracing::debug!("assumed {role_arn}");
        Ok(Found {
            source: Arc::new(SigV4Source::new(label, role, Some(credentials))),
        })
    }
}

fn step(label: impl Into<String>, provider: impl ProvideCredentials + 'static) -> Step {
    Step {
        label: label.into(),
        provider: SharedCredentialsProvider::new(provider),
    }
}

/// SigV4 credentials and where they come from, fetched again before they expire. `Debug` shows
/// the source only: neither the key id nor the secret.
pub struct SigV4Source {
    label: String,
    provider: SharedCredentialsProvider,
    cached: tokio::sync::Mutex<Option<(AwsCredentials, SystemTime)>>,
}

impl std::fmt::Debug for SigV4Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigV4Source")
            .field("source", &self.label)
            .finish()
    }
}

impl SigV4Source {
    pub fn new(
        label: impl Into<String>,
        provider: SharedCredentialsProvider,
        first: Option<AwsCredentials>,
    ) -> SigV4Source {
        SigV4Source {
            label: label.into(),
            provider,
            cached: tokio::sync::Mutex::new(first.map(|c| (c, SystemTime::now()))),
        }
    }

    /// Fixed keys (the emulator's tests, the benches).
    pub fn fixed(
        label: impl Into<String>,
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
    ) -> SigV4Source {
        let credentials = AwsCredentials::new(
            access_key_id,
            secret_access_key,
            session_token.map(str::to_string),
            None,
            "tagrec",
        );
        SigV4Source::new(
            label,
            SharedCredentialsProvider::new(credentials.clone()),
            Some(credentials),
        )
    }

    /// Where the credentials come from, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Credentials good for the next request: the cached ones, unless they expire within a
    /// quarter of their lifetime (at most 5 minutes); then fresh ones. One fetch at a time.
    pub async fn credentials(&self) -> Result<AwsCredentials, String> {
        let mut cached = self.cached.lock().await;
        if let Some((credentials, fetched)) = &*cached {
            match credentials.expiry() {
                None => return Ok(credentials.clone()),
                Some(expiry) => {
                    let lifetime = expiry.duration_since(*fetched).unwrap_or_default();
                    let margin = (lifetime / 4).min(Duration::from_secs(300));
                    if SystemTime::now() + margin < expiry {
                        return Ok(credentials.clone());
                    }
                }
            }
        }
        let fresh = self.provider.provide_credentials().await.map_err(|e| {
            format!(
                "could not refresh the credentials from {}: {}",
                self.label,
                super::error_chain(&e)
            )
        })?;
        tracing::debug!("fresh SigV4 credentials from {}", self.label);
        *cached = Some((fresh.clone(), SystemTime::now()));
        Ok(fresh)
    }
}
