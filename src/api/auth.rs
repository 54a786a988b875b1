//! Credentials for the Projects API, found in the environment in `product.md`'s order, and how
//! each signs a request: a bearer key in `Authorization`, or AWS SigV4 for service
//! `bedrock-mantle`. A secret is held in a type whose `Debug` never shows it.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

use super::chain::{Chain, ChainError, SigV4Source};

/// Which credentials to use: the first found in `product.md`'s order, or one kind forced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthMode {
    #[default]
    Auto,
    Bearer,
    Sigv4,
}

/// The SigV4 service name of the endpoint; signing as `bedrock` gets a 401.
pub const SIGV4_SERVICE: &str = "bedrock-mantle";

/// Bearer-key variables in the order they are tried, before SigV4.
pub const BEARER_VARIABLES: [&str; 3] = [
    "TAGREC_API_KEY",
    "AWS_BEARER_TOKEN_BEDROCK",
    "BEDROCK_API_KEY",
];
/// The bearer-key variable tried last, after SigV4 (AWS's OpenAI-SDK examples use it).
pub const OPENAI_VARIABLE: &str = "OPENAI_API_KEY";

/// A secret string. Never displayed; `Debug` prints a placeholder so that a stray `{:?}` of any
/// struct holding one cannot leak it into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone)]
pub enum Credentials {
    /// `Authorization: Bearer <key>`; `variable` names where it came from, for messages.
    Bearer { key: Secret, variable: &'static str },
    /// AWS SigV4 from the SDK's credential chain (or a role assumed with it), refreshed as they
    /// expire.
    SigV4 {
        source: Arc<SigV4Source>,
        region: String,
    },
    /// Nothing found: requests go out unauthenticated (a local emulator without keys accepts
    /// them; anything else answers 401, which then says what to set).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "--auth bearer was given but none of TAGREC_API_KEY, AWS_BEARER_TOKEN_BEDROCK, \
         BEDROCK_API_KEY, OPENAI_API_KEY is set: export one of them with an Amazon Bedrock API key"
    )]
    NoBearerKey,
    #[error("no AWS credentials found; tried:{}", bullets(tried))]
    NoSigV4Credentials { tried: Vec<String> },
    #[error("no credentials found for {endpoint}; tried:{}", bullets(tried))]
    NothingFound {
        endpoint: String,
        tried: Vec<String>,
    },
    #[error("{variable} is set but AWS_SECRET_ACCESS_KEY is not: SigV4 needs both")]
    IncompleteSigV4 { variable: &'static str },
    #[error(
        "SigV4 signs for a region, and none is set: give --region (or TAGREC_REGION), \
         `target.region` in the manifest, AWS_REGION, or `region` in the AWS profile"
    )]
    NoRegion,
    #[error("{0}")]
    Chain(#[from] ChainError),
    #[error("cannot sign the request with SigV4: {0}")]
    Signing(String),
}

fn bullets(lines: &[String]) -> String {
    lines.iter().map(|l| format!("\n  - {l}")).collect()
}

/// Where SigV4 credentials are looked for: the SDK's chain in the binary, a fixed answer in tests.
#[async_trait]
pub trait SigV4Lookup: Send + Sync {
    /// Every source but the EC2 instance metadata, in order.
    async fn find(&self, tried: &mut Vec<String>) -> Result<Option<Arc<SigV4Source>>, ChainError>;
    /// The EC2 instance metadata, tried last of all.
    async fn find_on_ec2(
        &self,
        tried: &mut Vec<String>,
    ) -> Result<Option<Arc<SigV4Source>>, ChainError>;
}

#[async_trait]
impl SigV4Lookup for Chain {
    async fn find(&self, tried: &mut Vec<String>) -> Result<Option<Arc<SigV4Source>>, ChainError> {
        Ok(Chain::find(self, tried).await?.map(|f| f.source))
    }

    async fn find_on_ec2(
        &self,
        tried: &mut Vec<String>,
    ) -> Result<Option<Arc<SigV4Source>>, ChainError> {
        Ok(Chain::find_on_ec2(self, tried).await?.map(|f| f.source))
    }
}

/// What decides the credentials besides the environment.
pub struct AuthRequest<'a> {
    pub mode: AuthMode,
    /// The SigV4 region (the target's); SigV4 credentials without one are an error.
    pub region: Option<&'a str>,
    /// A profile or a role was named (`--profile`, `target.profile`, `target.role_arn`): that is
    /// SigV4, and bearer keys in the environment are not used.
    pub sigv4_named: bool,
    /// Whether the EC2 instance metadata is worth asking: not for an emulator on loopback, where
    /// an instance role's credentials could never be the ones it checks.
    pub ec2: bool,
}

/// The credentials and, when none were found, what was looked at (for the caller's message).
pub struct Resolved {
    pub credentials: Credentials,
    pub tried: Vec<String>,
}

/// Finds the credentials to use, in `product.md`'s order: the bearer variables; SigV4 from the
/// chain (environment, profile, web identity, container); `OPENAI_API_KEY`; the EC2 instance
/// metadata. `env` looks a variable up (the process environment in the binary, a map in tests);
/// empty values count as unset, as a CI secret that is not configured expands to an empty string.
pub async fn resolve(
    request: &AuthRequest<'_>,
    chain: &dyn SigV4Lookup,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, AuthError> {
    let lookup = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let bearer = |names: &[&'static str]| {
        names.iter().find_map(|&variable| {
            lookup(variable).map(|key| Credentials::Bearer {
                key: Secret::new(key.trim()),
                variable,
            })
        })
    };
    let found = |credentials| {
        Ok(Resolved {
            credentials,
            tried: Vec::new(),
        })
    };
    let sigv4 = |source: Arc<SigV4Source>| -> Result<Resolved, AuthError> {
        let region = request.region.ok_or(AuthError::NoRegion)?.to_string();
        found(Credentials::SigV4 { source, region })
    };
    // A key id without its secret is a mistake worth saying, not a reason to go on silently.
    if !request.sigv4_named
        && lookup("AWS_ACCESS_KEY_ID").is_some()
        && lookup("AWS_SECRET_ACCESS_KEY").is_none()
        && request.mode != AuthMode::Bearer
    {
        return Err(AuthError::IncompleteSigV4 {
            variable: "AWS_ACCESS_KEY_ID",
        });
    }
    let mut tried = Vec::new();
    match request.mode {
        AuthMode::Bearer => {
            let mut names = BEARER_VARIABLES.to_vec();
            names.push(OPENAI_VARIABLE);
            bearer(&names).map_or(Err(AuthError::NoBearerKey), found)
        }
        AuthMode::Sigv4 => {
            if let Some(source) = chain.find(&mut tried).await? {
                return sigv4(source);
            }
            if request.ec2
                && let Some(source) = chain.find_on_ec2(&mut tried).await?
            {
                return sigv4(source);
            }
            Err(AuthError::NoSigV4Credentials { tried })
        }
        AuthMode::Auto => {
            if request.sigv4_named {
                tracing::debug!(
                    "a profile or role is named: SigV4 only, bearer keys in the environment are not used"
                );
            } else if let Some(credentials) = bearer(&BEARER_VARIABLES) {
                return found(credentials);
            }
            tried.push(format!(
                "bearer keys: none of {} is set",
                BEARER_VARIABLES.join(", ")
            ));
            if let Some(source) = chain.find(&mut tried).await? {
                return sigv4(source);
            }
            if !request.sigv4_named {
                if let Some(credentials) = bearer(&[OPENAI_VARIABLE]) {
                    return found(credentials);
                }
                tried.push(format!("{OPENAI_VARIABLE}: not set"));
            }
            if request.ec2
                && let Some(source) = chain.find_on_ec2(&mut tried).await?
            {
                return sigv4(source);
            }
            Ok(Resolved {
                credentials: Credentials::None,
                tried,
            })
        }
    }
}

impl Credentials {
    /// What was used, in words fit for an error message: the kind and the source, never a value.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Bearer { variable, .. } => format!("the bearer key from {variable}"),
            Credentials::SigV4 { source, region } => format!(
                "SigV4 credentials from {} (service {SIGV4_SERVICE}, region {region})",
                source.label()
            ),
            Credentials::None => "no credentials".to_string(),
        }
    }

    /// The headers that authenticate one request. `url` must be the exact URL sent (already
    /// percent-encoded), `headers` the other headers that will be sent, `body` the exact bytes.
    /// SigV4 credentials are fetched again here when they are about to expire.
    pub async fn headers_for(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, AuthError> {
        match self {
            Credentials::None => Ok(Vec::new()),
            // Both headers: the API accepts either, and some gateways in front of it only
            // pass `x-api-key` through.
            Credentials::Bearer { key, .. } => Ok(vec![
                (
                    "authorization".to_string(),
                    format!("Bearer {}", key.expose()),
                ),
                ("x-api-key".to_string(), key.expose().to_string()),
            ]),
            Credentials::SigV4 { source, region } => {
                let identity = source
                    .credentials()
                    .await
                    .map_err(AuthError::Signing)?
                    .into();
                let params = v4::SigningParams::builder()
                    .identity(&identity)
                    .region(region)
                    .name(SIGV4_SERVICE)
                    .time(now)
                    .settings(SigningSettings::default())
                    .build()
                    .map_err(|e| AuthError::Signing(e.to_string()))?
                    .into();
                let signable = SignableRequest::new(
                    method,
                    url,
                    headers.iter().copied(),
                    SignableBody::Bytes(body),
                )
                .map_err(|e| AuthError::Signing(e.to_string()))?;
                let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
                    .map_err(|e| AuthError::Signing(e.to_string()))?
                    .into_parts();
                Ok(instructions
                    .headers()
                    .map(|(name, value)| (name.to_string(), value.to_string()))
                    .collect())
            }
        }
    }
}

/// An environment made of these pairs, for tests of variable lookup.
#[cfg(test)]
pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// A chain that finds what it is given, and says so in `tried` otherwise.
    struct Fixed {
        main: Option<Arc<SigV4Source>>,
        ec2: Option<Arc<SigV4Source>>,
    }

    #[async_trait]
    impl SigV4Lookup for Fixed {
        async fn find(
            &self,
            tried: &mut Vec<String>,
        ) -> Result<Option<Arc<SigV4Source>>, ChainError> {
            tried.push("profile default: not set".into());
            Ok(self.main.clone())
        }

        async fn find_on_ec2(
            &self,
            tried: &mut Vec<String>,
        ) -> Result<Option<Arc<SigV4Source>>, ChainError> {
            tried.push("EC2 instance metadata: not there".into());
            Ok(self.ec2.clone())
        }
    }

    fn keys(label: &str) -> Option<Arc<SigV4Source>> {
        Some(Arc::new(SigV4Source::fixed(
            label,
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token-value"),
        )))
    }

    const NONE: Fixed = Fixed {
        main: None,
        ec2: None,
    };

    fn request(mode: AuthMode) -> AuthRequest<'static> {
        AuthRequest {
            mode,
            region: Some("us-east-1"),
            sigv4_named: false,
            ec2: true,
        }
    }

    async fn found(
        request: &AuthRequest<'_>,
        chain: &Fixed,
        pairs: &[(&str, &str)],
    ) -> Result<Resolved, AuthError> {
        resolve(request, chain, &env_of(pairs)).await
    }

    fn source_of(credentials: &Credentials) -> String {
        match credentials {
            Credentials::Bearer { variable, .. } => variable.to_string(),
            Credentials::SigV4 { source, .. } => source.label().to_string(),
            Credentials::None => "none".into(),
        }
    }

    #[tokio::test]
    async fn bearer_variables_win_in_order_over_sigv4() {
        let chain = Fixed {
            main: keys("environment"),
            ec2: None,
        };
        let mut pairs = vec![
            ("OPENAI_API_KEY", "o"),
            ("BEDROCK_API_KEY", "b"),
            ("AWS_BEARER_TOKEN_BEDROCK", "a"),
        ];
        let auto = request(AuthMode::Auto);
        let got = found(&auto, &chain, &pairs).await.unwrap();
        assert_eq!(source_of(&got.credentials), "AWS_BEARER_TOKEN_BEDROCK");
        pairs.push(("TAGREC_API_KEY", "t"));
        let got = found(&auto, &chain, &pairs).await.unwrap();
        assert_eq!(source_of(&got.credentials), "TAGREC_API_KEY");
    }

    #[tokio::test]
    async fn the_chain_comes_before_openai_key_and_ec2_after_it() {
        let auto = request(AuthMode::Auto);
        let openai = [("OPENAI_API_KEY", "o")];
        let chain = Fixed {
            main: keys("profile prod"),
            ec2: keys("EC2"),
        };
        let got = found(&auto, &chain, &openai).await.unwrap();
        assert_eq!(source_of(&got.credentials), "profile prod");
        let only_ec2 = Fixed {
            main: None,
            ec2: keys("EC2"),
        };
        let got = found(&auto, &only_ec2, &openai).await.unwrap();
        assert_eq!(source_of(&got.credentials), "OPENAI_API_KEY");
        let got = found(&auto, &only_ec2, &[]).await.unwrap();
        assert_eq!(source_of(&got.credentials), "EC2");
    }

    #[tokio::test]
    async fn a_named_profile_or_role_means_sigv4_and_skips_bearer_keys() {
        let named = AuthRequest {
            sigv4_named: true,
            ..request(AuthMode::Auto)
        };
        let chain = Fixed {
            main: keys("profile prod"),
            ec2: None,
        };
        let pairs = [("TAGREC_API_KEY", "t"), ("OPENAI_API_KEY", "o")];
        let got = found(&named, &chain, &pairs).await.unwrap();
        assert_eq!(source_of(&got.credentials), "profile prod");
        // Nothing from the chain: still not the bearer keys.
        let got = found(&named, &NONE, &pairs).await.unwrap();
        assert_eq!(source_of(&got.credentials), "none");
    }

    #[tokio::test]
    async fn nothing_found_says_what_was_tried() {
        let got = found(&request(AuthMode::Auto), &NONE, &[]).await.unwrap();
        assert_eq!(source_of(&got.credentials), "none");
        assert_eq!(
            got.tried,
            [
                "bearer keys: none of TAGREC_API_KEY, AWS_BEARER_TOKEN_BEDROCK, BEDROCK_API_KEY is set",
                "profile default: not set",
                "OPENAI_API_KEY: not set",
                "EC2 instance metadata: not there"
            ]
        );
    }

    #[tokio::test]
    async fn empty_variables_count_as_unset() {
        let pairs = [
            ("TAGREC_API_KEY", ""),
            ("BEDROCK_API_KEY", "  "),
            ("OPENAI_API_KEY", "o"),
        ];
        let got = found(&request(AuthMode::Auto), &NONE, &pairs)
            .await
            .unwrap();
        assert_eq!(source_of(&got.credentials), "OPENAI_API_KEY");
    }

    #[tokio::test]
    async fn forced_modes_skip_the_others_and_fail_clearly() {
        let chain = Fixed {
            main: keys("environment"),
            ec2: None,
        };
        let sigv4 = request(AuthMode::Sigv4);
        let got = found(&sigv4, &chain, &[("TAGREC_API_KEY", "t")])
            .await
            .unwrap();
        assert_eq!(source_of(&got.credentials), "environment");
        let bearer = found(&request(AuthMode::Bearer), &chain, &[]).await;
        assert_eq!(bearer.err(), Some(AuthError::NoBearerKey));
        let only_openai = [("OPENAI_API_KEY", "o")];
        let got = found(&request(AuthMode::Bearer), &chain, &only_openai)
            .await
            .unwrap();
        assert_eq!(source_of(&got.credentials), "OPENAI_API_KEY");
        let message = found(&sigv4, &NONE, &only_openai)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.contains("no AWS credentials found; tried:"),
            "{message}"
        );
        assert!(message.contains("EC2 instance metadata"), "{message}");
    }

    #[tokio::test]
    async fn an_access_key_without_its_secret_is_an_error() {
        let err = found(
            &request(AuthMode::Auto),
            &NONE,
            &[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")],
        )
        .await
        .err()
        .unwrap();
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"));
    }

    #[tokio::test]
    async fn sigv4_without_a_region_is_an_error() {
        let no_region = AuthRequest {
            region: None,
            ..request(AuthMode::Auto)
        };
        let chain = Fixed {
            main: keys("environment"),
            ec2: None,
        };
        let err = found(&no_region, &chain, &[]).await.err();
        assert_eq!(err, Some(AuthError::NoRegion));
    }

    #[tokio::test]
    async fn descriptions_and_debug_never_show_secrets() {
        let chain = Fixed {
            main: keys("the environment (AWS_ACCESS_KEY_ID)"),
            ec2: None,
        };
        let sigv4 = found(&request(AuthMode::Sigv4), &chain, &[])
            .await
            .unwrap()
            .credentials;
        let bearer = found(
            &request(AuthMode::Auto),
            &NONE,
            &[("BEDROCK_API_KEY", "bedrock-key-value")],
        )
        .await
        .unwrap()
        .credentials;
        for shown in [
            sigv4.describe(),
            format!("{sigv4:?}"),
            bearer.describe(),
            format!("{bearer:?}"),
        ] {
            for secret in [
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI",
                "session-token-value",
                "bedrock-key-value",
            ] {
                assert!(!shown.contains(secret), "{shown} shows {secret}");
            }
        }
        assert!(bearer.describe().contains("BEDROCK_API_KEY"));
        assert!(sigv4.describe().contains("AWS_ACCESS_KEY_ID"));
    }

    #[tokio::test]
    async fn bearer_key_goes_in_authorization() {
        let credentials = Credentials::Bearer {
            key: Secret::new("k-123"),
            variable: "TAGREC_API_KEY",
        };
        let headers = credentials
            .headers_for("GET", "http://127.0.0.1/v1", &[], b"", SystemTime::now())
            .await
            .unwrap();
        assert_eq!(
            headers,
            [
                ("authorization".into(), "Bearer k-123".into()),
                ("x-api-key".into(), "k-123".into())
            ]
        );
    }

    fn fixed_sigv4(region: &str, token: Option<&str>) -> Credentials {
        Credentials::SigV4 {
            source: Arc::new(SigV4Source::fixed(
                "test",
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                token,
            )),
            region: region.to_string(),
        }
    }

    /// The signature must match AWS's own algorithm; this recomputes it by hand from the
    /// published SigV4 steps (canonical request, string to sign, derived key).
    #[tokio::test]
    async fn sigv4_signature_matches_the_published_algorithm() {
        use hmac_sha256 as h;
        let credentials = fixed_sigv4("us-east-1", None);
        let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let body = br#"{"name":"A"}"#;
        let url = "https://bedrock-mantle.us-east-1.api.aws/v1/organization/projects?limit=100";
        let sent = [("content-type", "application/json")];
        let headers = credentials
            .headers_for("POST", url, &sent, body, now)
            .await
            .unwrap();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(get("x-amz-date"), "20150830T123600Z");
        let authorization = get("authorization");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock-mantle/aws4_request, "
            ),
            "{authorization}"
        );
        let signed_headers = "content-type;host;x-amz-date";
        assert!(authorization.contains(&format!("SignedHeaders={signed_headers},")));

        let canonical = format!(
            "POST\n/v1/organization/projects\nlimit=100\ncontent-type:application/json\n\
             host:bedrock-mantle.us-east-1.api.aws\nx-amz-date:20150830T123600Z\n\n\
             {signed_headers}\n{}",
            h::hex(&h::sha256(body))
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/bedrock-mantle/aws4_request\n{}",
            h::hex(&h::sha256(canonical.as_bytes()))
        );
        let mut key = h::hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20150830");
        for part in [&b"us-east-1"[..], b"bedrock-mantle", b"aws4_request"] {
            key = h::hmac(&key, part);
        }
        let expected = h::hex(&h::hmac(&key, to_sign.as_bytes()));
        assert!(
            authorization.ends_with(&format!("Signature={expected}")),
            "{authorization} vs {expected}"
        );
    }

    #[tokio::test]
    async fn session_token_is_sent_and_signed() {
        let credentials = fixed_sigv4("us-west-2", Some("tok"));
        let headers = credentials
            .headers_for(
                "GET",
                "http://127.0.0.1:9/v1/x",
                &[],
                b"",
                SystemTime::now(),
            )
            .await
            .unwrap();
        assert!(headers.contains(&("x-amz-security-token".to_string(), "tok".to_string())));
    }

    /// SHA-256 and HMAC written out for the test above, so that it does not check the signing
    /// crate against itself.
    mod hmac_sha256 {
        use sha2::{Digest, Sha256};

        pub fn sha256(data: &[u8]) -> Vec<u8> {
            Sha256::digest(data).to_vec()
        }

        pub fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
            let mut block = [0u8; 64];
            if key.len() > 64 {
                block[..32].copy_from_slice(&sha256(key));
            } else {
                block[..key.len()].copy_from_slice(key);
            }
            let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
            let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
            let mut hasher = Sha256::new();
            hasher.update(&inner);
            hasher.update(data);
            let inner_hash = hasher.finalize();
            let mut hasher = Sha256::new();
            hasher.update(&outer);
            hasher.update(inner_hash);
            hasher.finalize().to_vec()
        }

        pub fn hex(bytes: &[u8]) -> String {
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}
