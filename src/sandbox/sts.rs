//! The part of AWS STS that tagrec's credential chain calls, as the STS query API answers it
//! (form-encoded request, XML answer): `AssumeRole` (a role from the manifest, assumed with the
//! chain's credentials) and `AssumeRoleWithWebIdentity` (what CI's OIDC tokens are exchanged
//! through). The credentials it issues are temporary: the emulator's SigV4 check accepts them until
//! they expire, so that tests see role assumption and refresh end to end.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::Rng;

/// The STS API version every call names.
pub const VERSION: &str = "2011-06-15";
/// The bounds AWS puts on `DurationSeconds`.
const MIN_DURATION: u64 = 900;
const MAX_DURATION: u64 = 43_200;

/// Credentials the emulator issued, by access key id.
#[derive(Default)]
pub struct Issued {
    keys: Mutex<HashMap<String, IssuedKey>>,
}

#[derive(Clone)]
pub struct IssuedKey {
    pub secret: String,
    pub session_token: String,
    pub expires: SystemTime,
}

impl Issued {
    /// Whether any credentials were issued yet.
    pub fn any(&self) -> bool {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        !keys.is_empty()
    }

    pub fn get(&self, access_key_id: &str) -> Option<IssuedKey> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.get(access_key_id).cloned()
    }

    fn issue(&self, lifetime: Duration) -> (String, IssuedKey) {
        let access_key_id = format!("ASIA{}", random(16, UPPER));
        let key = IssuedKey {
            secret: random(40, MIXED),
            session_token: random(120, MIXED),
            expires: SystemTime::now() + lifetime,
        };
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.insert(access_key_id.clone(), key.clone());
        (access_key_id, key)
    }
}

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random(length: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..length)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// An STS call, from its form body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    AssumeRole {
        role_arn: String,
        session_name: String,
        external_id: Option<String>,
        duration: Option<u64>,
    },
    AssumeRoleWithWebIdentity {
        role_arn: String,
        session_name: String,
        duration: Option<u64>,
    },
}

impl Call {
    pub fn action(&self) -> &'static str {
        match self {
            Call::AssumeRole { .. } => "AssumeRole",
            Call::AssumeRoleWithWebIdentity { .. } => "AssumeRoleWithWebIdentity",
        }
    }

    pub fn role_arn(&self) -> &str {
        match self {
            Call::AssumeRole { role_arn, .. }
            | Call::AssumeRoleWithWebIdentity { role_arn, .. } => role_arn,
        }
    }

    pub fn external_id(&self) -> Option<&str> {
        match self {
            Call::AssumeRole { external_id, .. } => external_id.as_deref(),
            Call::AssumeRoleWithWebIdentity { .. } => None,
        }
    }
}

/// An STS error: its HTTP status, code and message, answered as STS's `ErrorResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl StsError {
    fn invalid(code: &'static str, message: impl Into<String>) -> StsError {
        StsError {
            status: 400,
            code,
            message: message.into(),
        }
    }

    pub fn denied(message: impl Into<String>) -> StsError {
        StsError {
            status: 403,
            code: "AccessDenied",
            message: message.into(),
        }
    }

    pub fn xml(&self) -> String {
        let kind = if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/{VERSION}/\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            self.code,
            escape(&self.message),
            request_id()
        )
    }
}

/// Reads the form body of an STS call.
pub fn parse(body: &[u8]) -> Result<Call, StsError> {
    let fields: HashMap<String, String> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| fields.get(name).map(String::as_str);
    let required = |name: &str| -> Result<String, StsError> {
        field(name)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                StsError::invalid(
                    "ValidationError",
                    format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"),
                )
            })
    };
    let duration = match field("DurationSeconds") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(seconds) if (MIN_DURATION..=MAX_DURATION).contains(&seconds) => Some(seconds),
            _ => {
                return Err(StsError::invalid(
                    "ValidationError",
                    format!(
                        "DurationSeconds must be from {MIN_DURATION} to {MAX_DURATION}, not '{}'",
                        super::store::shorten(text)
                    ),
                ));
            }
        },
    };
    let role_arn = |arn: String| -> Result<String, StsError> {
        let valid = arn.starts_with("arn:aws") && arn.contains(":iam::") && arn.contains(":role/");
        if valid {
            Ok(arn)
        } else {
            Err(StsError::invalid(
                "ValidationError",
                format!(
                    "'{}' is not the ARN of an IAM role",
                    super::store::shorten(&arn)
                ),
            ))
        }
    };
    match field("Action") {
        Some("AssumeRole") => Ok(Call::AssumeRole {
            role_arn: role_arn(required("RoleArn")?)?,
            session_name: required("RoleSessionName")?,
            external_id: field("ExternalId").map(str::to_string),
            duration,
        }),
        Some("AssumeRoleWithWebIdentity") => {
            // A token file is sent byte for byte: a trailing newline is not part of the token.
            required("WebIdentityToken").map_err(|_| {
                StsError::invalid("InvalidIdentityToken", "the web identity token is empty")
            })?;
            Ok(Call::AssumeRoleWithWebIdentity {
                role_arn: role_arn(required("RoleArn")?)?,
                session_name: required("RoleSessionName")?,
                duration,
            })
        }
        Some(other) => Err(StsError::invalid(
            "InvalidAction",
            format!(
                "Could not find operation {} for version {VERSION} (the emulator answers AssumeRole and AssumeRoleWithWebIdentity)",
                super::store::shorten(other)
            ),
        )),
        None => Err(StsError::invalid("MissingAction", "Missing Action")),
    }
}

/// Issues credentials for `call`, lasting its `DurationSeconds` or else `default_lifetime`, and
/// returns STS's XML answer.
pub fn answer(call: &Call, issued: &Issued, default_lifetime: Duration) -> String {
    let duration = match call {
        Call::AssumeRole { duration, .. } | Call::AssumeRoleWithWebIdentity { duration, .. } => {
            *duration
        }
    };
    let lifetime = duration.map_or(default_lifetime, Duration::from_secs);
    let (access_key_id, key) = issued.issue(lifetime);
    let (role_arn, session) = match call {
        Call::AssumeRole {
            role_arn,
            session_name,
            ..
        }
        | Call::AssumeRoleWithWebIdentity {
            role_arn,
            session_name,
            ..
        } => (role_arn, session_name),
    };
    let assumed = assumed_role_arn(role_arn, session);
    let action = call.action();
    let extra = match call {
        Call::AssumeRoleWithWebIdentity { .. } => {
            "<SubjectFromWebIdentityToken>tagrec-sandbox</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience><Provider>tagrec-sandbox</Provider>"
        }
        Call::AssumeRole { .. } => "",
    };
    format!(
        "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/{VERSION}/\"><{action}Result>{extra}<AssumedRoleUser><Arn>{}</Arn><AssumedRoleId>AROASANDBOX:{}</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>{access_key_id}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials></{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(&assumed),
        escape(session),
        key.secret,
        key.session_token,
        timestamp(key.expires),
        request_id()
    )
}

/// `arn:aws:iam::123:role/path/Name` assumed as session `s`: `arn:aws:sts::123:assumed-role/Name/s`.
fn assumed_role_arn(role_arn: &str, session: &str) -> String {
    let mut parts = role_arn.splitn(6, ':');
    let (Some(_), Some(partition), _, _, Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return role_arn.to_string();
    };
    let name = resource.rsplit('/').next().unwrap_or(resource);
    format!("arn:{partition}:sts::{account}:assumed-role/{name}/{session}")
}

/// ISO 8601 in UTC to the second, as STS writes `Expiration`.
fn timestamp(time: SystemTime) -> String {
    let seconds = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    aws_smithy_types::DateTime::from_secs(seconds)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// A request id in AWS's form (a UUID).
pub fn request_id() -> String {
    let hex = random(32, b"0123456789abcdef");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_read_from_the_form_the_sdk_sends() {
        let body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Ftagrec&RoleSessionName=tagrec&ExternalId=ext-123";
        assert_eq!(
            parse(body).unwrap(),
            Call::AssumeRole {
                role_arn: "arn:aws:iam::222222222222:role/tagrec".into(),
                session_name: "tagrec".into(),
                external_id: Some("ext-123".into()),
                duration: None,
            }
        );
        let web = b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fci&RoleSessionName=run-1&WebIdentityToken=jwt%0A";
        assert_eq!(parse(web).unwrap().action(), "AssumeRoleWithWebIdentity");
    }

    #[test]
    fn bad_calls_get_sts_errors() {
        let missing = parse(b"Action=AssumeRole&RoleSessionName=s").unwrap_err();
        assert_eq!((missing.status, missing.code), (400, "ValidationError"));
        let token = parse(b"Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&RoleSessionName=s&WebIdentityToken=%0A").unwrap_err();
        assert_eq!(token.code, "InvalidIdentityToken");
        assert_eq!(
            parse(b"Action=GetCallerIdentity").unwrap_err().code,
            "InvalidAction"
        );
        let duration = parse(b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&RoleSessionName=s&DurationSeconds=5").unwrap_err();
        assert!(duration.message.contains("900"), "{}", duration.message);
    }

    #[test]
    fn issued_credentials_are_in_the_answer_and_remembered() {
        let issued = Issued::default();
        let call = parse(b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Fteam%2Ftagrec&RoleSessionName=s1").unwrap();
        let xml = answer(&call, &issued, Duration::from_secs(60));
        let id = xml
            .split("<AccessKeyId>")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap();
        let key = issued.get(id).unwrap();
        assert!(xml.contains(&format!(
            "<SessionToken>{}</SessionToken>",
            key.session_token
        )));
        assert!(xml.contains("arn:aws:sts::222222222222:assumed-role/tagrec/s1"));
        let expiration = xml
            .split("<Expiration>")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap();
        assert!(
            expiration.len() == 20 && expiration.ends_with('Z'),
            "ISO 8601 in UTC, as the SDK reads it: {expiration}"
        );
    }
}
