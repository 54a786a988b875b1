//! Which API a command talks to, and as whom: endpoint, region and credentials resolved in
//! `product.md`'s order from the flags, the environment and the manifest's `target`.
//! Everything above gets a `ProjectsApi`, the same whatever the target.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use url::Url;

use crate::api::ProjectsApi;
use crate::api::auth::{self, AuthError, AuthMode, AuthRequest, Credentials};
use crate::api::chain::{self, Chain, ChainOptions};
use crate::api::client::{EndpointError, HttpApi, parse_endpoint};
use crate::manifest::{Manifest, Target};
use crate::plan::PlanTarget;

/// Regions that have the bedrock-mantle endpoint (api.md); another one gets a warning, not an
/// error, since AWS adds regions faster than tagrec is released.
pub const KNOWN_REGIONS: [&str; 14] = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-southeast-3",
    "ap-south-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-south-1",
    "eu-north-1",
    "sa-east-1",
    "us-gov-west-1",
];

/// The command-line side of a connection: `--endpoint` (or `TAGREC_ENDPOINT`), `--region` (or
/// `TAGREC_REGION`) and `--auth`.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub auth: AuthMode,
    /// `--profile`: wins over the manifest's `target.profile`.
    pub profile: Option<String>,
}

pub struct Connection {
    pub api: Arc<dyn ProjectsApi>,
    pub target: PlanTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "no region to build the endpoint's URL from: give --region (or TAGREC_REGION), set \
         `target.region` in {manifest} (e.g. us-east-1), or AWS_REGION; or name the endpoint \
         with --endpoint"
    )]
    NoRegion { manifest: String },
    #[error(
        "the region `{region}` (from {source_name}) is not a region name: use one like us-east-1"
    )]
    BadRegion { region: String, source_name: String },
    // Transparent: the inner error is the whole sentence; `{0}` and a source would print it twice.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// The region of an embedded sandbox whose manifest names none.
pub const SANDBOX_REGION: &str = "us-east-1";

/// The target resolved, before anything is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A region is there when one was found; it is needed only to build the URL (then it is
    /// always there) and to sign with SigV4.
    Http { base: Url, region: Option<String> },
    Sandbox {
        state: PathBuf,
        seed: Option<PathBuf>,
        region: String,
    },
}

/// Decides the target: `--endpoint`/`TAGREC_ENDPOINT` (already merged into `endpoint` by clap),
/// else the manifest's sandbox, else `target.endpoint`, else the region's public endpoint.
pub fn resolve(
    endpoint: Option<&str>,
    region: Option<&str>,
    target: &Target,
    manifest: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, ConnectError> {
    resolve_with(endpoint, region, target, manifest, env, None)
}

/// `resolve`, with the profile's region as the last resort.
fn resolve_with(
    endpoint: Option<&str>,
    region: Option<&str>,
    target: &Target,
    manifest: &str,
    env: &dyn Fn(&str) -> Option<String>,
    profile_region: Option<&str>,
) -> Result<Resolved, ConnectError> {
    let region = find_region(region, target, manifest, env)?.or(profile_region.map(str::to_string));
    if let Some(endpoint) = endpoint.filter(|e| !e.trim().is_empty()) {
        return Ok(Resolved::Http {
            base: parse_endpoint(endpoint)?,
            region,
        });
    }
    if let Some(sandbox) = &target.sandbox {
        return Ok(Resolved::Sandbox {
            state: sandbox.state.clone(),
            seed: sandbox.seed.clone(),
            region: region.unwrap_or_else(|| SANDBOX_REGION.to_string()),
        });
    }
    if let Some(endpoint) = &target.endpoint {
        return Ok(Resolved::Http {
            base: parse_endpoint(endpoint)?,
            region,
        });
    }
    let Some(region) = region else {
        return Err(ConnectError::NoRegion {
            manifest: manifest.to_string(),
        });
    };
    let base = parse_endpoint(&format!("https://bedrock-mantle.{region}.api.aws/v1"))?;
    Ok(Resolved::Http {
        base,
        region: Some(region),
    })
}

/// The region, first found: `--region` (or TAGREC_REGION, merged by clap), `target.region`,
/// AWS_REGION, AWS_DEFAULT_REGION. A value that is not a region name is an error naming where it
/// came from.
fn find_region(
    flag: Option<&str>,
    target: &Target,
    manifest: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConnectError> {
    let found = flag
        .filter(|r| !r.trim().is_empty())
        .map(|r| (r.to_string(), "--region or TAGREC_REGION".to_string()))
        .or_else(|| {
            target
                .region
                .clone()
                .map(|r| (r, format!("target.region in {manifest}")))
        })
        .or_else(|| {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|name| {
                    env(name)
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| (v, name.to_string()))
                })
        });
    let Some((region, source_name)) = found else {
        return Ok(None);
    };
    let region = region.trim().to_string();
    let well_formed = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if !well_formed {
        return Err(ConnectError::BadRegion {
            region,
            source_name,
        });
    }
    Ok(Some(region))
}

/// Opens the API the flags and the manifest point at. Credentials are looked up only for an
/// HTTP target: the embedded sandbox needs none.
pub async fn connect(options: &ConnectOptions, manifest: &Manifest) -> anyhow::Result<Connection> {
    connect_with_env(options, manifest, &|name| std::env::var(name).ok()).await
}

/// `connect` with the environment of tagrec's own variables given as a lookup (tests pass a map:
/// changing the process environment is unsafe while other threads run). The AWS SDK's providers
/// read the process environment and the AWS config files themselves.
pub async fn connect_with_env(
    options: &ConnectOptions,
    manifest: &Manifest,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Connection> {
    let manifest_name = manifest.file.display().to_string();
    let target = &manifest.target;
    let profile = options.profile.clone().or(target.profile.clone());
    let resolve = |profile_region: Option<&str>| {
        resolve_with(
            options.endpoint.as_deref(),
            options.region.as_deref(),
            target,
            &manifest_name,
            env,
            profile_region,
        )
    };
    let mut resolved = resolve(None);
    // The profile's region, last in the order, is read only when nothing else gave one.
    if matches!(
        resolved,
        Err(ConnectError::NoRegion { .. }) | Ok(Resolved::Http { region: None, .. })
    ) && let Some(region) = chain::profile_region(profile.as_deref()).await
    {
        resolved = resolve(Some(&region));
    }
    match resolved? {
        Resolved::Http { base, region } => {
            let from_region = options.endpoint.is_none() && target.endpoint.is_none();
            if let Some(region) = region.as_deref().filter(|_| from_region)
                && !KNOWN_REGIONS.contains(&region)
            {
                tracing::warn!(
                    "region {region} is not one where Amazon Bedrock projects are known to be \
                     available ({}); trying {base}",
                    KNOWN_REGIONS.join(", ")
                );
            }
            let chain = Chain::new(ChainOptions {
                profile: profile.clone(),
                region: region.clone(),
                role_arn: target.role_arn.clone(),
                external_id: target.external_id.clone(),
            })
            .await;
            let request = AuthRequest {
                mode: options.auth,
                region: region.as_deref(),
                sigv4_named: profile.is_some() || target.role_arn.is_some(),
                ec2: !crate::api::client::is_loopback(&base),
            };
            let found = auth::resolve(&request, &chain, env).await?;
            let credentials = match found.credentials {
                // Against AWS, or when a kind was asked for, nothing found is an error that says
                // what was looked at; an emulator on loopback takes unauthenticated requests.
                Credentials::None if is_aws(&base) || options.auth != AuthMode::Auto => {
                    return Err(AuthError::NothingFound {
                        endpoint: base.to_string(),
                        tried: found.tried,
                    }
                    .into());
                }
                credentials => credentials,
            };
            tracing::debug!(
                "API {base} (region {}) with {}",
                region.as_deref().unwrap_or("none"),
                credentials.describe()
            );
            let target = PlanTarget {
                endpoint: base.to_string(),
                region,
            };
            let api = HttpApi::new(base, credentials)?;
            Ok(Connection {
                api: Arc::new(api),
                target,
            })
        }
        Resolved::Sandbox {
            state,
            seed,
            region,
        } => {
            tracing::debug!("embedded sandbox, state {}", state.display());
            let api = crate::sandbox::EmbeddedApi::open(&state, seed.as_deref(), &region)
                // The cause names the state file (or the seed) and what is wrong with it.
                .context("could not open the manifest's sandbox (`target.sandbox`)")?;
            Ok(Connection {
                api: Arc::new(api),
                target: PlanTarget {
                    endpoint: format!("sandbox:{}", state.display()),
                    region: Some(region),
                },
            })
        }
    }
}

/// An AWS endpoint (where unauthenticated requests can only fail).
fn is_aws(base: &Url) -> bool {
    base.host_str().is_some_and(|host| {
        let host = host.to_ascii_lowercase();
        host.ends_with(".api.aws")
            || host.ends_with(".amazonaws.com")
            || host.ends_with(".amazonaws.com.cn")
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::api::auth::env_of;
    use crate::manifest::SandboxTarget;

    fn target(region: Option<&str>, endpoint: Option<&str>, sandbox: bool) -> Target {
        Target {
            region: region.map(str::to_string),
            endpoint: endpoint.map(str::to_string),
            sandbox: sandbox.then(|| SandboxTarget {
                state: PathBuf::from("repo/.tagrec/sandbox.json"),
                seed: Some(PathBuf::from("repo/live.json")),
                ..SandboxTarget::default()
            }),
            ..Target::default()
        }
    }

    fn http(resolved: Resolved) -> (String, String) {
        match resolved {
            Resolved::Http { base, region } => (base.to_string(), region.unwrap_or_default()),
            other => panic!("expected an HTTP target, got {other:?}"),
        }
    }

    #[test]
    fn region_builds_the_public_endpoint() {
        let resolved = resolve(
            None,
            None,
            &target(Some("eu-west-1"), None, false),
            "p.yaml",
            &env_of(&[]),
        );
        assert_eq!(
            http(resolved.unwrap()),
            (
                "https://bedrock-mantle.eu-west-1.api.aws/v1".to_string(),
                "eu-west-1".to_string()
            )
        );
    }

    #[test]
    fn region_order_is_manifest_then_aws_region_then_default() {
        let both = env_of(&[
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-west-2"),
        ]);
        let only_default = env_of(&[("AWS_DEFAULT_REGION", "eu-west-2")]);
        let region = |t: Target, env: &dyn Fn(&str) -> Option<String>| {
            http(resolve(None, None, &t, "p.yaml", env).unwrap()).1
        };
        assert_eq!(
            region(target(Some("us-east-2"), None, false), &both),
            "us-east-2"
        );
        assert_eq!(region(target(None, None, false), &both), "us-west-2");
        assert_eq!(
            region(target(None, None, false), &only_default),
            "eu-west-2"
        );
        let none = resolve(
            None,
            None,
            &target(None, None, false),
            "p.yaml",
            &env_of(&[]),
        );
        let message = none.unwrap_err().to_string();
        assert!(message.contains("`target.region` in p.yaml"), "{message}");
        assert!(message.contains("AWS_REGION"), "{message}");
    }

    #[test]
    fn a_malformed_region_is_refused_with_its_source() {
        let env = env_of(&[("AWS_REGION", "us-east-1/../evil")]);
        let message = resolve(None, None, &target(None, None, false), "p.yaml", &env)
            .unwrap_err()
            .to_string();
        assert!(message.contains("AWS_REGION"), "{message}");
    }

    #[test]
    fn endpoint_flag_wins_over_sandbox_and_manifest_endpoint() {
        let t = target(
            Some("us-east-1"),
            Some("https://proxy.example.com/v1"),
            true,
        );
        let env = env_of(&[]);
        let flag = resolve(Some("http://127.0.0.1:4010/v1"), None, &t, "p.yaml", &env).unwrap();
        assert_eq!(http(flag).0, "http://127.0.0.1:4010/v1");
        match resolve(None, None, &t, "p.yaml", &env).unwrap() {
            Resolved::Sandbox { state, region, .. } => {
                assert_eq!(state, PathBuf::from("repo/.tagrec/sandbox.json"));
                assert_eq!(region, "us-east-1");
            }
            other => panic!("expected the sandbox, got {other:?}"),
        }
        let t = target(
            Some("us-east-1"),
            Some("https://proxy.example.com/v1/"),
            false,
        );
        let (base, region) = http(resolve(None, None, &t, "p.yaml", &env).unwrap());
        assert_eq!(base, "https://proxy.example.com/v1");
        assert_eq!(region, "us-east-1");
    }

    #[test]
    fn a_plain_http_endpoint_off_loopback_is_refused() {
        let t = target(Some("us-east-1"), None, false);
        let err = resolve(
            Some("http://api.example.com/v1"),
            None,
            &t,
            "p.yaml",
            &env_of(&[]),
        );
        assert!(matches!(
            err,
            Err(ConnectError::Endpoint(EndpointError::Insecure { .. }))
        ));
    }
}
