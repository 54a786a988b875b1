//! The Projects API over HTTP (reqwest with rustls): one request per call, signed by the
//! credentials, errors classified for the caller. Reads, modify and archive are retried here;
//! create is sent exactly once, because a create whose answer is lost may still have happened.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::{Credentials, SIGV4_SERVICE};
use super::model::{ErrorBody, ProjectList};
use super::retry::{RetryPolicy, parse_retry_after, with_retries};
use super::{ApiError, CreateProject, LiveProject, ModifyProject, ProjectsApi};

/// The page size tagrec asks for: the API's maximum, so 1,000 projects take 10 requests.
pub const PAGE_LIMIT: usize = 100;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a body that is not the API's JSON goes into a message.
const BODY_EXCERPT_CHARS: usize = 300;

/// Characters escaped in a path segment (a project id): everything but unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error(
        "the endpoint `{endpoint}` is not a URL ({reason}): give one like https://bedrock-mantle.us-east-1.api.aws/v1"
    )]
    NotAUrl { endpoint: String, reason: String },
    #[error(
        "the endpoint `{endpoint}` uses {scheme}: tagrec sends credentials, so it requires https \
         (plain http is allowed only for loopback hosts such as 127.0.0.1 and localhost)"
    )]
    Insecure { endpoint: String, scheme: String },
    #[error(
        "the endpoint `{endpoint}` names {host}, the address a server listens on, not one to connect to: use {instead}"
    )]
    Unspecified {
        endpoint: String,
        host: String,
        instead: String,
    },
    #[error(
        "the endpoint must not carry a user name or password (it would end up in plans and logs): \
         put credentials in TAGREC_API_KEY or the AWS_* variables"
    )]
    HasUserInfo,
    #[error(
        "the endpoint `{endpoint}` must not have a query or fragment: give the API's base URL, ending in /v1"
    )]
    HasQuery { endpoint: String },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// Checks an endpoint and returns it without a trailing slash: https anywhere, http only on
/// loopback (the emulator), no user info (it would be printed as the plan's target).
pub fn parse_endpoint(endpoint: &str) -> Result<Url, EndpointError> {
    let mut url = Url::parse(endpoint.trim()).map_err(|e| EndpointError::NotAUrl {
        endpoint: endpoint.to_string(),
        reason: e.to_string(),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::HasUserInfo);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(EndpointError::HasQuery {
            endpoint: endpoint.to_string(),
        });
    }
    // `--listen 0.0.0.0:4010` copied into `--endpoint`: the server is reached on loopback.
    let unspecified = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
        _ => false,
    };
    if unspecified {
        let host = url.host_str().unwrap_or_default().to_string();
        let mut instead = url.clone();
        let loopback = if host.starts_with('[') {
            "[::1]"
        } else {
            "127.0.0.1"
        };
        let _ = instead.set_host(Some(loopback));
        return Err(EndpointError::Unspecified {
            endpoint: endpoint.to_string(),
            host,
            instead: instead.as_str().trim_end_matches('/').to_string(),
        });
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        scheme => {
            return Err(EndpointError::Insecure {
                endpoint: endpoint.to_string(),
                scheme: scheme.to_string(),
            });
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(EndpointError::NotAUrl {
            endpoint: endpoint.to_string(),
            reason: "no host".to_string(),
        });
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

/// A host of this machine (the emulator): the only place plain http is allowed.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

/// The `ProjectsApi` over HTTP.
pub struct HttpApi {
    http: reqwest::Client,
    /// The base URL, ending in `/v1` without a slash.
    base: Url,
    credentials: Credentials,
    retry: RetryPolicy,
}

impl std::fmt::Debug for HttpApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpApi")
            .field("base", &self.base.as_str())
            .field("credentials", &self.credentials.describe())
            .field("retry", &self.retry)
            .finish()
    }
}

/// What one request is, for signing, sending and messages.
struct Call<'a> {
    method: reqwest::Method,
    url: Url,
    body: Option<Vec<u8>>,
    /// For a 403: whether it was a write (the hint about read-only keys applies).
    write: bool,
    what: &'a str,
}

impl HttpApi {
    pub fn new(base: Url, credentials: Credentials) -> Result<Self, EndpointError> {
        // reqwest is built without a crypto provider; ring is the one tagrec ships. A second
        // install (tests, a second client) reports "already installed", which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder();
        // Only HTTPS needs them; an emulator on loopback is plain HTTP (and the platform's
        // store takes milliseconds to read).
        let extra = if base.scheme() == "https" {
            super::tls::extra_roots().map_err(EndpointError::Client)?
        } else {
            Vec::new()
        };
        for cert in extra {
            let cert = reqwest::Certificate::from_der(cert)
                .map_err(|e| EndpointError::Client(super::error_chain(&e)))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .user_agent(concat!("tagrec/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .https_only(base.scheme() == "https")
            // The API does not redirect; following one could carry `x-api-key` to another host
            // (reqwest drops only `Authorization` across hosts) and turn a POST into a GET.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EndpointError::Client(super::error_chain(&e)))?;
        Ok(HttpApi {
            http,
            base,
            credentials,
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base.path().trim_end_matches('/')));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn project_path(id: &str) -> String {
        format!(
            "/organization/projects/{}",
            utf8_percent_encode(id, SEGMENT)
        )
    }

    /// Sends one request, once, and decodes a 2xx answer.
    async fn send_once<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, ApiError> {
        let body = call.body.as_deref().unwrap_or_default();
        let mut headers: Vec<(&str, &str)> = vec![("accept", "application/json")];
        if call.body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let auth = self
            .credentials
            .headers_for(
                call.method.as_str(),
                call.url.as_str(),
                &headers,
                body,
                SystemTime::now(),
            )
            .await
            .map_err(|e| ApiError::Local(e.to_string()))?;
        let mut request = self.http.request(call.method.clone(), call.url.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        for (name, value) in &auth {
            request = request.header(name.as_str(), value.as_str());
        }
        if call.body.is_some() {
            request = request.body(body.to_vec());
        }

        let started = Instant::now();
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        tracing::debug!(
            "{} {} -> {} ({} ms)",
            call.method,
            call.url,
            status.as_u16(),
            started.elapsed().as_millis()
        );
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::Decode(format!(
                    "{} answered {} with a body that is not {}: {e}; the body starts: {}",
                    call.url,
                    status.as_u16(),
                    call.what,
                    excerpt(&bytes)
                ))
            });
        }
        let mut error = self.status_error(status, &bytes, retry_after, call.write);
        if let (true, Some(location), ApiError::Api { message, .. }) =
            (status.is_redirection(), location, &mut error)
        {
            message.push_str(&format!(
                " (redirected to {location}: tagrec does not follow redirects; if that is the \
                 API, give its base URL as --endpoint)"
            ));
        }
        Err(error)
    }

    /// An error status as an `ApiError`, with the API's own message and type when the body is
    /// the API's JSON, and what to do about credentials on 401/403.
    fn status_error(
        &self,
        status: reqwest::StatusCode,
        body: &[u8],
        retry_after: Option<Duration>,
        write: bool,
    ) -> ApiError {
        let (kind, mut message, code) = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => (parsed.error.kind, parsed.error.message, parsed.error.code),
            Err(_) => {
                let reason = status.canonical_reason().unwrap_or("");
                let shown = if body.is_empty() {
                    "(empty body)".to_string()
                } else {
                    excerpt(body)
                };
                (
                    "http_error".to_string(),
                    format!("HTTP {} {reason}: {shown}", status.as_u16()),
                    None,
                )
            }
        };
        let message_end = if message.ends_with('.') { " " } else { ". " };
        match status.as_u16() {
            401 => {
                message.push_str(message_end);
                message.push_str(&self.unauthenticated_hint());
            }
            // The server may already say what a write needs (the emulator does); then only
            // which credentials were used is added.
            403 if write && message.contains("bedrock-mantle:CreateProject") => {
                message.push_str(message_end);
                message.push_str(&format!("Sent: {}", self.credentials.describe()));
            }
            403 => {
                message.push_str(message_end);
                message.push_str(&self.forbidden_hint(write));
            }
            _ => {}
        }
        ApiError::Api {
            status: status.as_u16(),
            kind,
            message,
            code,
            retry_after,
        }
    }

    fn unauthenticated_hint(&self) -> String {
        match &self.credentials {
            Credentials::None => "No credentials were found: set TAGREC_API_KEY (or \
                AWS_BEARER_TOKEN_BEDROCK, BEDROCK_API_KEY) to an Amazon Bedrock API key, or give \
                AWS credentials for SigV4 (a profile with --profile or AWS_PROFILE, \
                AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, web identity), or OPENAI_API_KEY"
                .to_string(),
            Credentials::SigV4 { region, .. } => format!(
                "The server refused {}: check that they are current (temporary credentials \
                 expire; `aws sso login` renews a profile's), and that region {region} is the \
                 endpoint's region (SigV4 signs for service {SIGV4_SERVICE})",
                self.credentials.describe()
            ),
            Credentials::Bearer { .. } => format!(
                "The server refused {}: check that the key is valid, not expired, and for this \
                 endpoint's region",
                self.credentials.describe()
            ),
        }
    }

    fn forbidden_hint(&self, write: bool) -> String {
        let used = self.credentials.describe();
        if write {
            format!(
                "Sent: {used}, which may not change projects. Long-term Amazon Bedrock API keys can only get \
                 and list projects; creating, updating and archiving need a short-term API key or \
                 SigV4 credentials (a profile, a role, or AWS_ACCESS_KEY_ID and its secret; \
                 with --auth sigv4 if a bearer key is also set) allowed \
                 bedrock-mantle:CreateProject, UpdateProject, ArchiveProject, TagResource, \
                 UntagResource and ListTagsForResource"
            )
        } else {
            format!(
                "{used} may not read projects: the identity needs permission to list and get bedrock-mantle projects"
            )
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> ApiError {
        let message = super::error_chain(error);
        // hyper's resolver says "dns error"; a name that does not resolve will not heal.
        if error.is_connect() && message.contains("dns error") {
            return ApiError::UnknownHost {
                host: self.base.host_str().unwrap_or_default().to_string(),
                message: message.rsplit(": ").next().unwrap_or(&message).to_string(),
            };
        }
        if error.is_connect() && super::tls::is_untrusted(&message) {
            return ApiError::Untrusted {
                host: self.base.host_str().unwrap_or_default().to_string(),
                message: root_cause(error),
            };
        }
        if error.is_connect() {
            // reqwest's outer sentences repeat the URL ("error sending request for url (…)");
            // the innermost cause is the reason ("Connection refused (os error 111)").
            ApiError::Connect {
                endpoint: self.base.to_string(),
                message: root_cause(error),
            }
        } else if error.is_timeout() {
            ApiError::NoAnswer(format!(
                "{message} (no answer within {} s; the request may have been carried out)",
                REQUEST_TIMEOUT.as_secs()
            ))
        } else {
            ApiError::NoAnswer(format!(
                "{message} (the connection failed after the request was sent; it may have been carried out)"
            ))
        }
    }

    /// Sends an idempotent request, retrying as the policy allows.
    async fn send_retried<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, ApiError> {
        let on_retry = |error: &ApiError, delay: Duration, attempt: usize| {
            tracing::debug!(
                "{} {}: {error}; attempt {attempt} of {} in {} ms",
                call.method,
                call.url,
                self.retry.max_attempts,
                delay.as_millis()
            );
        };
        with_retries(&self.retry, on_retry, || self.send_once(&call)).await
    }

    async fn list_page(&self, after: Option<&str>) -> Result<ProjectList, ApiError> {
        let limit = PAGE_LIMIT.to_string();
        let mut query = vec![("limit", limit.as_str()), ("include_archived", "true")];
        if let Some(after) = after {
            query.push(("after", after));
        }
        self.send_retried(Call {
            method: reqwest::Method::GET,
            url: self.url("/organization/projects", &query),
            body: None,
            write: false,
            what: "a list of projects",
        })
        .await
    }
}

#[async_trait]
impl ProjectsApi for HttpApi {
    async fn list(&self) -> Result<Vec<LiveProject>, ApiError> {
        let mut projects = Vec::new();
        let mut seen = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list_page(after.as_deref()).await?;
            // The next cursor is the last id on the page, not `last_id`: AWS's own published
            // example has a `last_id` that is not on its page.
            let last = page.data.last().map(|p| p.id.clone());
            let stuck = last.as_ref().is_some_and(|id| seen.contains(id));
            for project in page.data {
                // A server that ignores `after` may repeat projects; each id is listed once.
                if seen.insert(project.id.clone()) {
                    projects.push(project);
                }
            }
            if !page.has_more {
                return Ok(projects);
            }
            let Some(last) = last else {
                return Err(ApiError::Protocol(format!(
                    "{} answered an empty page that says has_more: true; tagrec stops rather \
                     than loop (after {} projects)",
                    self.base,
                    projects.len()
                )));
            };
            if stuck {
                return Err(ApiError::Protocol(format!(
                    "{} does not page: asked for projects after `{last}`, it answered a page \
                     ending with `{last}` again and has_more: true (it seems to ignore the \
                     `after` parameter); tagrec stops rather than loop or miss projects",
                    self.base
                )));
            }
            after = Some(last);
        }
    }

    async fn retrieve(&self, id: &str) -> Result<LiveProject, ApiError> {
        self.send_retried(Call {
            method: reqwest::Method::GET,
            url: self.url(&Self::project_path(id), &[]),
            body: None,
            write: false,
            what: "a project",
        })
        .await
    }

    async fn create(&self, request: &CreateProject) -> Result<LiveProject, ApiError> {
        let body = serde_json::to_vec(request).map_err(|e| ApiError::Local(e.to_string()))?;
        // Exactly once: the API has no idempotency key, names need not be unique, and a lost
        // answer may hide a created project. The caller re-lists and adopts instead.
        self.send_once(&Call {
            method: reqwest::Method::POST,
            url: self.url("/organization/projects", &[]),
            body: Some(body),
            write: true,
            what: "a project",
        })
        .await
    }

    async fn modify(&self, id: &str, request: &ModifyProject) -> Result<LiveProject, ApiError> {
        let body = serde_json::to_vec(request).map_err(|e| ApiError::Local(e.to_string()))?;
        self.send_retried(Call {
            method: reqwest::Method::POST,
            url: self.url(&Self::project_path(id), &[]),
            body: Some(body),
            write: true,
            what: "a project",
        })
        .await
    }

    async fn archive(&self, id: &str) -> Result<LiveProject, ApiError> {
        self.send_retried(Call {
            method: reqwest::Method::POST,
            url: self.url(&format!("{}/archive", Self::project_path(id)), &[]),
            body: None,
            write: true,
            what: "a project",
        })
        .await
    }
}

/// The first part of a body, on one line, for messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown: String = flat.chars().take(BODY_EXCERPT_CHARS).collect();
    if flat.chars().count() > BODY_EXCERPT_CHARS {
        shown.push('…');
    }
    shown
}

/// The last error of a chain: the one that says what happened.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut last = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        last = cause.to_string();
        source = cause.source();
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::ErrorBody;

    /// Copies of `shared/fixtures/api/`, the published shapes of the API's answers.
    fn fixture(name: &str) -> Option<String> {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/api/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .ok()
    }

    #[test]
    fn every_fixture_decodes() {
        let list = fixture("aws-list-response.json").unwrap();
        let list: ProjectList = serde_json::from_str(&list).unwrap();
        assert_eq!(list.data.len(), 2);
        assert!(list.data[0].is_default());
        assert_eq!(list.data[1].id, "proj_2z766pfxmkij5vwubv75");
        assert!(list.data[1].arn.is_some());
        assert!(!list.has_more);

        let list = fixture("openai-list-response.json").unwrap();
        let list: ProjectList = serde_json::from_str(&list).unwrap();
        assert_eq!(list.data.len(), 1);
        assert!(list.data[0].tags.is_empty());
        assert_eq!(list.data[0].archived_at, None);
        assert!(list.data[0].is_active());

        let project: LiveProject =
            serde_json::from_str(&fixture("openai-project.json").unwrap()).unwrap();
        assert_eq!(project.name, "Project ABC");

        let project: LiveProject =
            serde_json::from_str(&fixture("aws-create-response.json").unwrap()).unwrap();
        assert_eq!(
            project.tags.get("CostCenter").map(String::as_str),
            Some("21524")
        );
        assert_eq!(project.tags.len(), 4);

        let project: LiveProject =
            serde_json::from_str(&fixture("aws-archived-project.json").unwrap()).unwrap();
        assert!(!project.is_active());
        assert_eq!(project.archived_at, Some(1_786_614_394));
        assert_eq!(
            project.data_retention.map(|d| d.mode).as_deref(),
            Some("inherit")
        );

        let error: ErrorBody =
            serde_json::from_str(&fixture("openai-error-default-project.json").unwrap()).unwrap();
        assert_eq!(error.error.kind, "invalid_request_error");
        assert_eq!(error.error.message, "Cannot update the default project.");
    }

    /// Whatever is added to the fixtures later must decode too, as one of the API's answers.
    #[test]
    fn every_file_in_the_fixtures_is_an_answer_the_client_reads() {
        let dir = format!("{}/tests/fixtures/api", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        assert!(names.len() >= 6, "{names:?}");
        for path in names {
            let text = std::fs::read_to_string(&path).unwrap();
            let decoded = serde_json::from_str::<ProjectList>(&text).is_ok()
                || serde_json::from_str::<LiveProject>(&text).is_ok()
                || serde_json::from_str::<ErrorBody>(&text).is_ok();
            assert!(decoded, "{} does not decode", path.display());
        }
    }

    #[test]
    fn unknown_fields_and_null_tags_are_accepted() {
        let project: LiveProject = serde_json::from_str(
            r#"{"id":"proj_x","name":"X","status":"active","tags":null,"new_field":{"a":1},
                "created_at":1}"#,
        )
        .unwrap();
        assert!(project.tags.is_empty());
    }

    #[test]
    fn endpoints_need_https_except_on_loopback() {
        for ok in [
            "https://bedrock-mantle.us-east-1.api.aws/v1",
            "https://bedrock-mantle.us-east-1.api.aws/v1/",
            "http://127.0.0.1:4010/v1",
            "http://localhost:4010/v1",
            "http://[::1]:4010/v1",
            "http://127.0.0.2/v1",
        ] {
            let url = parse_endpoint(ok).unwrap();
            assert!(url.path().ends_with("/v1"), "{url}");
        }
        for insecure in [
            "http://bedrock-mantle.us-east-1.api.aws/v1",
            "http://10.0.0.1/v1",
            "http://localhost.example.com/v1",
            "ftp://127.0.0.1/v1",
        ] {
            assert!(
                matches!(
                    parse_endpoint(insecure),
                    Err(EndpointError::Insecure { .. })
                ),
                "{insecure}"
            );
        }
        assert_eq!(
            parse_endpoint("https://user:pw@example.com/v1"),
            Err(EndpointError::HasUserInfo)
        );
        assert!(matches!(
            parse_endpoint("https://example.com/v1?x=1"),
            Err(EndpointError::HasQuery { .. })
        ));
        assert!(matches!(
            parse_endpoint("bedrock-mantle.us-east-1.api.aws"),
            Err(EndpointError::NotAUrl { .. })
        ));
        let message = parse_endpoint("http://example.com/v1")
            .unwrap_err()
            .to_string();
        assert!(message.contains("https"), "{message}");
    }

    #[test]
    fn urls_keep_the_base_path_and_escape_ids() {
        let api = HttpApi::new(
            parse_endpoint("http://127.0.0.1:9/v1/").unwrap(),
            Credentials::None,
        )
        .unwrap();
        let url = api.url(
            "/organization/projects",
            &[("limit", "100"), ("after", "proj_a")],
        );
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/v1/organization/projects?limit=100&after=proj_a"
        );
        let url = api.url(&HttpApi::project_path("a/../b c"), &[]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/v1/organization/projects/a%2F..%2Fb%20c"
        );
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        assert_eq!(
            excerpt(b"<html>\n  <b>Bad</b>\n</html>"),
            "<html> <b>Bad</b> </html>"
        );
        let long = "x".repeat(1000);
        assert_eq!(
            excerpt(long.as_bytes()).chars().count(),
            BODY_EXCERPT_CHARS + 1
        );
    }
}
