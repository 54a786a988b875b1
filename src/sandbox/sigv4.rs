//! SigV4 verification as AWS does it: the signature of the request as received is computed again
//! (same method, path, query, signed headers, body and timestamp) and compared, so a tampered
//! request, a wrong secret, region or service, or a stale timestamp is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::HeaderMap;

use crate::rules::same_secret;

/// How far the signature's time may be from the server's clock, as in AWS.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

#[derive(Clone)]
pub struct SigV4Key {
    access_key_id: String,
    secret: String,
}

impl std::fmt::Debug for SigV4Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        write!(f, "SigV4Key({})", self.access_key_id)
    }
}

/// A secret the server knows for an access key id: the `--sigv4` key, or one its STS issued
/// (then with the session token that must come with it, and when it expires).
pub struct Known {
    pub secret: String,
    pub session_token: Option<String>,
    pub expires: Option<SystemTime>,
}

/// What a signature must be made for: the API's service name, and its region (`None`: any, as
/// for STS, which the SDK signs in the caller's region).
pub struct Scope<'a> {
    pub service: &'a str,
    pub region: Option<&'a str>,
    /// The API's name in messages ("the Projects API").
    pub api: &'a str,
}

impl SigV4Key {
    /// The secret of this key, if `access_key_id` is its id.
    pub fn known(&self, access_key_id: &str) -> Option<Known> {
        (access_key_id == self.access_key_id).then(|| Known {
            secret: self.secret.clone(),
            session_token: None,
            expires: None,
        })
    }

    /// Parses `ACCESS_KEY_ID:SECRET`.
    pub fn parse(text: &str) -> Result<SigV4Key, String> {
        match text.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => Ok(SigV4Key {
                access_key_id: id.to_string(),
                secret: secret.to_string(),
            }),
            _ => Err("--sigv4 takes ACCESS_KEY_ID:SECRET (both non-empty)".to_string()),
        }
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, String> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("the Authorization header is not AWS4-HMAC-SHA256")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or("the Authorization header has no Credential")?;
    let signed = signed.ok_or("the Authorization header has no SignedHeaders")?;
    let signature = signature.ok_or("the Authorization header has no Signature")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err("the Credential is not KEY/DATE/REGION/SERVICE/aws4_request".to_string());
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// `20260130T101500Z` to a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let at = time::PrimitiveDateTime::parse(text, format)
        .ok()?
        .assume_utc();
    UNIX_EPOCH.checked_add(Duration::from_secs(
        u64::try_from(at.unix_timestamp()).ok()?,
    ))
}

/// Why a signature was refused: what kind of failure (AWS answers each with its own error code)
/// and a sentence that says it (shown as the error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub kind: RefusedKind,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedKind {
    /// No `Authorization` header.
    Missing,
    /// The access key id is not one the server knows.
    UnknownKey,
    /// Temporary credentials past their expiry.
    Expired,
    /// Anything else: another service, region or secret, a changed request, a stale time.
    Invalid,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl From<String> for Refused {
    fn from(reason: String) -> Refused {
        Refused {
            kind: RefusedKind::Invalid,
            reason,
        }
    }
}

impl From<&str> for Refused {
    fn from(reason: &str) -> Refused {
        Refused::from(reason.to_string())
    }
}

/// Checks a request; the error says why it was refused (it goes back in the 401 body).
#[allow(clippy::too_many_arguments)]
pub fn verify(
    known: &dyn Fn(&str) -> Option<Known>,
    scope: &Scope<'_>,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), Refused> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(Refused {
            kind: RefusedKind::Missing,
            reason: "no Authorization header".to_string(),
        })?
        .to_str()
        .map_err(|_| "the Authorization header is not text")?;
    let auth = parse_authorization(value)?;
    let Some(key) = known(auth.access_key_id) else {
        return Err(Refused {
            kind: RefusedKind::UnknownKey,
            reason: format!(
                "the access key id '{}' is not known to this server",
                crate::sandbox::store::shorten(auth.access_key_id)
            ),
        });
    };
    if key.expires.is_some_and(|expires| now >= expires) {
        return Err(Refused {
            kind: RefusedKind::Expired,
            reason: "the security token included in the request is expired".to_string(),
        });
    }
    if let Some(token) = &key.session_token {
        let sent = headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same_secret(sent.as_bytes(), token.as_bytes()) {
            return Err(
                "the session token (X-Amz-Security-Token) is missing or is not the one issued with this access key"
                    .into(),
            );
        }
    }
    if auth.service != scope.service {
        return Err(format!(
            "the request is signed for the service '{}'; {} is signed as '{}'",
            crate::sandbox::store::shorten(auth.service),
            scope.api,
            scope.service
        )
        .into());
    }
    if let Some(region) = scope.region
        && auth.region != region
    {
        return Err(format!(
            "the request is signed for the region '{}'; this endpoint is in '{region}'",
            crate::sandbox::store::shorten(auth.region)
        )
        .into());
    }
    for required in ["host", "x-amz-date"] {
        if !auth.signed_headers.contains(&required) {
            return Err(format!("the header '{required}' must be signed").into());
        }
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or("no X-Amz-Date header")?;
    let time = parse_amz_date(amz_date).ok_or("the X-Amz-Date header is not YYYYMMDDTHHMMSSZ")?;
    if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
        return Err("the Credential's date is not the X-Amz-Date's date"
            .to_string()
            .into());
    }
    let skew = now
        .duration_since(time)
        .or_else(|e| Ok::<Duration, ()>(e.duration()))
        .unwrap_or(Duration::MAX);
    if skew > MAX_SKEW {
        return Err(format!(
            "the signature's time {amz_date} is {}s from the server's clock (at most {}s allowed)",
            skew.as_secs(),
            MAX_SKEW.as_secs()
        )
        .into());
    }
    let mut signed: Vec<(&str, &str)> = Vec::new();
    for name in &auth.signed_headers {
        let mut found = false;
        for value in headers.get_all(*name) {
            let value = value
                .to_str()
                .map_err(|_| format!("the signed header '{name}' is not text"))?;
            signed.push((name, value));
            found = true;
        }
        if !found {
            return Err(format!("the signed header '{name}' is missing").into());
        }
    }
    // No session token in the identity: when one was sent, it is among the signed headers.
    let identity: Identity = Credentials::new(
        auth.access_key_id.to_string(),
        key.secret.clone(),
        None,
        None,
        "tagrec-sandbox",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Exactly the headers the client listed are signed again, no more, no fewer.
    settings.excluded_headers = Some(Vec::new());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(scope.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot verify the signature: {e}"))?
        .into();
    // The host comes from the signed Host header; this authority only makes the URI absolute.
    let uri = format!("http://sandbox.invalid{path_and_query}");
    let request = SignableRequest::new(method, uri, signed.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| format!("cannot verify the signature: {e}"))?;
    let expected = sign(request, &params)
        .map_err(|e| format!("cannot verify the signature: {e}"))?
        .signature()
        .to_string();
    if same_secret(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err("the signature does not match the request (wrong secret, or the request was changed after signing)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_parse_to_unix_time() {
        let t = parse_amz_date("20260227T193348Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_772_220_828
        );
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(UNIX_EPOCH));
        assert!(parse_amz_date("2026-02-27T19:33:48Z").is_none());
        assert!(parse_amz_date("20261327T193348Z").is_none());
    }

    #[test]
    fn authorization_header_parts() {
        let auth = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20260130/us-east-1/bedrock-mantle/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab12",
        )
        .unwrap();
        assert_eq!(auth.access_key_id, "AKID");
        assert_eq!(auth.service, "bedrock-mantle");
        assert_eq!(auth.signed_headers, vec!["host", "x-amz-date"]);
        assert_eq!(auth.signature, "ab12");
        assert!(parse_authorization("Bearer x").is_err());
        assert!(
            parse_authorization("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=h, Signature=s")
                .is_err()
        );
    }

    #[test]
    fn key_parse_needs_both_halves() {
        assert!(SigV4Key::parse("AKID:secret:with:colons").is_ok());
        assert!(SigV4Key::parse("AKID").is_err());
        assert!(SigV4Key::parse(":x").is_err());
    }
}
