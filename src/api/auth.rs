//! Credentials for the Projects API, found in the environment in `product.md`'s order, and how
//! each signs a request: a bearer key in `Authorization`, or AWS SigV4 for service
//! `bedrock-mantle`. A secret is held in a type whose `Debug` never shows it.

use std::fmt;
use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Authorization: Bearer <key>`; `variable` names where it came from, for messages.
    Bearer { key: Secret, variable: &'static str },
    /// AWS SigV4 from the standard environment (what OIDC role assumption gives CI jobs).
    SigV4 {
        access_key_id: Secret,
        secret_access_key: Secret,
        session_token: Option<Secret>,
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
    #[error(
        "--auth sigv4 was given but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set: \
         export them (and AWS_SESSION_TOKEN for temporary credentials), e.g. from an OIDC role \
         assumption in CI"
    )]
    NoSigV4Credentials,
    #[error("{variable} is set but AWS_SECRET_ACCESS_KEY is not: SigV4 needs both")]
    IncompleteSigV4 { variable: &'static str },
    #[error(
        "SigV4 signs for a region, and none is set: give --region (or TAGREC_REGION), \
         `target.region` in the manifest, or AWS_REGION"
    )]
    NoRegion,
    #[error("cannot sign the request with SigV4: {0}")]
    Signing(String),
}

/// Finds the credentials to use. `env` looks a variable up (the process environment in the
/// binary, a map in tests); empty values count as unset, as a CI secret that is not configured
/// expands to an empty string.
pub fn resolve(
    mode: AuthMode,
    region: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials, AuthError> {
    let lookup = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let bearer = |names: &[&'static str]| {
        names.iter().find_map(|&variable| {
            lookup(variable).map(|key| Credentials::Bearer {
                key: Secret::new(key.trim()),
                variable,
            })
        })
    };
    let sigv4 = || -> Result<Option<Credentials>, AuthError> {
        match (lookup("AWS_ACCESS_KEY_ID"), lookup("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Ok(Some(Credentials::SigV4 {
                access_key_id: Secret::new(id.trim()),
                secret_access_key: Secret::new(secret.trim()),
                session_token: lookup("AWS_SESSION_TOKEN").map(|t| Secret::new(t.trim())),
                region: region.ok_or(AuthError::NoRegion)?.to_string(),
            })),
            (Some(_), None) => Err(AuthError::IncompleteSigV4 {
                variable: "AWS_ACCESS_KEY_ID",
            }),
            _ => Ok(None),
        }
    };
    match mode {
        AuthMode::Bearer => {
            let mut names = BEARER_VARIABLES.to_vec();
            names.push(OPENAI_VARIABLE);
            bearer(&names).ok_or(AuthError::NoBearerKey)
        }
        AuthMode::Sigv4 => sigv4()?.ok_or(AuthError::NoSigV4Credentials),
        AuthMode::Auto => {
            if let Some(found) = bearer(&BEARER_VARIABLES) {
                return Ok(found);
            }
            if let Some(found) = sigv4()? {
                return Ok(found);
            }
            Ok(bearer(&[OPENAI_VARIABLE]).unwrap_or(Credentials::None))
        }
    }
}

impl Credentials {
    /// What was used, in words fit for an error message: the kind and the variable, never a value.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Bearer { variable, .. } => format!("the bearer key from {variable}"),
            Credentials::SigV4 {
                session_token,
                region,
                ..
            } => {
                let token = if session_token.is_some() {
                    " and AWS_SESSION_TOKEN"
                } else {
                    ""
                };
                format!(
                    "SigV4 credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY{token} \
                     (service {SIGV4_SERVICE}, region {region})"
                )
            }
            Credentials::None => "no credentials".to_string(),
        }
    }

    /// The headers that authenticate one request. `url` must be the exact URL sent (already
    /// percent-encoded), `headers` the other headers that will be sent, `body` the exact bytes.
    pub fn headers_for(
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
            Credentials::SigV4 {
                access_key_id,
                secret_access_key,
                session_token,
                region,
            } => {
                let identity = aws_credential_types::Credentials::new(
                    access_key_id.expose(),
                    secret_access_key.expose(),
                    session_token.as_ref().map(|t| t.expose().to_string()),
                    None,
                    "tagrec-environment",
                )
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

    fn variable_of(credentials: &Credentials) -> &'static str {
        match credentials {
            Credentials::Bearer { variable, .. } => variable,
            Credentials::SigV4 { .. } => "sigv4",
            Credentials::None => "none",
        }
    }

    const SIGV4_ENV: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
    ];

    #[test]
    fn bearer_variables_win_in_order_over_sigv4() {
        let mut pairs = SIGV4_ENV.to_vec();
        pairs.extend([
            ("OPENAI_API_KEY", "o"),
            ("BEDROCK_API_KEY", "b"),
            ("AWS_BEARER_TOKEN_BEDROCK", "a"),
        ]);
        let found = resolve(AuthMode::Auto, Some("us-east-1"), &env_of(&pairs)).unwrap();
        assert_eq!(variable_of(&found), "AWS_BEARER_TOKEN_BEDROCK");
        pairs.push(("TAGREC_API_KEY", "t"));
        let found = resolve(AuthMode::Auto, Some("us-east-1"), &env_of(&pairs)).unwrap();
        assert_eq!(variable_of(&found), "TAGREC_API_KEY");
    }

    #[test]
    fn sigv4_comes_before_openai_key() {
        let mut pairs = SIGV4_ENV.to_vec();
        pairs.push(("OPENAI_API_KEY", "o"));
        let found = resolve(AuthMode::Auto, Some("eu-west-1"), &env_of(&pairs)).unwrap();
        match found {
            Credentials::SigV4 { region, .. } => assert_eq!(region, "eu-west-1"),
            other => panic!("expected SigV4, got {other:?}"),
        }
        let found = resolve(
            AuthMode::Auto,
            Some("eu-west-1"),
            &env_of(&[("OPENAI_API_KEY", "o")]),
        );
        assert_eq!(variable_of(&found.unwrap()), "OPENAI_API_KEY");
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let pairs = [
            ("TAGREC_API_KEY", ""),
            ("BEDROCK_API_KEY", "  "),
            ("OPENAI_API_KEY", "o"),
        ];
        let found = resolve(AuthMode::Auto, Some("us-east-1"), &env_of(&pairs)).unwrap();
        assert_eq!(variable_of(&found), "OPENAI_API_KEY");
        let none = resolve(AuthMode::Auto, Some("us-east-1"), &env_of(&[])).unwrap();
        assert_eq!(none, Credentials::None);
    }

    #[test]
    fn forced_modes_skip_the_others_and_fail_clearly() {
        let mut pairs = SIGV4_ENV.to_vec();
        pairs.push(("TAGREC_API_KEY", "t"));
        let sigv4 = resolve(AuthMode::Sigv4, Some("us-east-1"), &env_of(&pairs)).unwrap();
        assert_eq!(variable_of(&sigv4), "sigv4");
        let bearer = resolve(AuthMode::Bearer, Some("us-east-1"), &env_of(&SIGV4_ENV));
        assert_eq!(bearer, Err(AuthError::NoBearerKey));
        let only_openai = env_of(&[("OPENAI_API_KEY", "o")]);
        let bearer = resolve(AuthMode::Bearer, Some("us-east-1"), &only_openai).unwrap();
        assert_eq!(variable_of(&bearer), "OPENAI_API_KEY");
        let sigv4 = resolve(AuthMode::Sigv4, Some("us-east-1"), &only_openai);
        assert_eq!(sigv4, Err(AuthError::NoSigV4Credentials));
    }

    #[test]
    fn an_access_key_without_its_secret_is_an_error() {
        let env = env_of(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")]);
        let err = resolve(AuthMode::Auto, Some("us-east-1"), &env).unwrap_err();
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn descriptions_and_debug_never_show_secrets() {
        let mut pairs = SIGV4_ENV.to_vec();
        pairs.push(("AWS_SESSION_TOKEN", "session-token-value"));
        let sigv4 = resolve(AuthMode::Sigv4, Some("us-east-1"), &env_of(&pairs)).unwrap();
        let bearer = resolve(
            AuthMode::Auto,
            Some("us-east-1"),
            &env_of(&[("BEDROCK_API_KEY", "bedrock-key-value")]),
        )
        .unwrap();
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
        assert!(sigv4.describe().contains("AWS_SESSION_TOKEN"));
    }

    #[test]
    fn bearer_key_goes_in_authorization() {
        let credentials = Credentials::Bearer {
            key: Secret::new("k-123"),
            variable: "TAGREC_API_KEY",
        };
        let headers = credentials
            .headers_for("GET", "http://127.0.0.1/v1", &[], b"", SystemTime::now())
            .unwrap();
        assert_eq!(
            headers,
            [
                ("authorization".into(), "Bearer k-123".into()),
                ("x-api-key".into(), "k-123".into())
            ]
        );
    }

    /// The signature must match AWS's own algorithm; this recomputes it by hand from the
    /// published SigV4 steps (canonical request, string to sign, derived key).
    #[test]
    fn sigv4_signature_matches_the_published_algorithm() {
        use hmac_sha256 as h;
        let credentials = resolve(AuthMode::Sigv4, Some("us-east-1"), &env_of(&SIGV4_ENV)).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let body = br#"{"name":"A"}"#;
        let url = "https://bedrock-mantle.us-east-1.api.aws/v1/organization/projects?limit=100";
        let sent = [("content-type", "application/json")];
        let headers = credentials
            .headers_for("POST", url, &sent, body, now)
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

    #[test]
    fn session_token_is_sent_and_signed() {
        let mut pairs = SIGV4_ENV.to_vec();
        pairs.push(("AWS_SESSION_TOKEN", "tok"));
        let credentials = resolve(AuthMode::Auto, Some("us-west-2"), &env_of(&pairs)).unwrap();
        let headers = credentials
            .headers_for(
                "GET",
                "http://127.0.0.1:9/v1/x",
                &[],
                b"",
                SystemTime::now(),
            )
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
