//! The HTTP client against the real emulator (`tagrec sandbox serve` on a free loopback port):
//! every operation, paging, faults, credentials; and against tiny stubs for the two server
//! behaviours the emulator does not have (ignoring paging parameters, accepting only x-api-key).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tagrec::api::auth::AuthMode;
use tagrec::api::auth::{Credentials, Secret};
use tagrec::api::chain::SigV4Source;
use tagrec::api::client::{HttpApi, parse_endpoint};
use tagrec::api::retry::RetryPolicy;
use tagrec::api::{ApiError, Certainty, CreateProject, ModifyProject, ProjectsApi, Tags};
use tagrec::manifest::{Manifest, Target};
use tagrec::ops::connect::{ConnectOptions, connect_with_env};
use tagrec::plan::PlanTarget;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::Account;

const KEY: &str = "tagrec-test-key-8c1f0e6a";
const READ_ONLY_KEY: &str = "tagrec-read-only-key-51b2";
const ACCESS_KEY_ID: &str = "AKIATAGRECTEST0001";
const SECRET_ACCESS_KEY: &str = "s3cr3t/TagrecTest+Key0000000000000000000";

/// The emulator of `support::Account` (a seed, a request log), and HTTP clients for it.
struct Emulator {
    account: Account,
    base: String,
}

impl Emulator {
    fn start(args: &[&str]) -> Emulator {
        Emulator::start_with_seed(args, None)
    }

    fn start_with_seed(args: &[&str], seed: Option<&Value>) -> Emulator {
        let account = Account::start(seed.unwrap_or(&json!([])), args);
        Emulator {
            base: account.sandbox.base_url.clone(),
            account,
        }
    }

    fn api(&self, credentials: Credentials) -> HttpApi {
        client(&self.base, credentials)
    }

    fn requests(&self) -> Vec<Value> {
        self.account.requests()
    }

    fn requests_to(&self, method: &str, path_suffix: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["method"] == method && r["path"].as_str().unwrap().ends_with(path_suffix))
            .collect()
    }
}

/// Short waits, so that tests of retries take milliseconds, not the default's seconds.
fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        budget: Duration::from_secs(20),
    }
}

fn client(base: &str, credentials: Credentials) -> HttpApi {
    HttpApi::new(parse_endpoint(base).unwrap(), credentials)
        .unwrap()
        .with_retry_policy(fast_retries())
}

fn bearer(key: &str, variable: &'static str) -> Credentials {
    Credentials::Bearer {
        key: Secret::new(key),
        variable,
    }
}

fn sigv4(secret: &str, region: &str) -> Credentials {
    Credentials::SigV4 {
        source: std::sync::Arc::new(SigV4Source::fixed("test keys", ACCESS_KEY_ID, secret, None)),
        region: region.to_string(),
    }
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn create_request(name: &str) -> CreateProject {
    CreateProject {
        name: name.to_string(),
        tags: tags(&[("Team", "Risk"), ("CostCenter", "007")]),
        data_retention: None,
    }
}

/// `n` projects in all with the default one, a few of them archived.
fn seed_of(n: usize) -> Value {
    let projects: Vec<Value> = (1..n)
        .map(|i| {
            let mut project = json!({
                "id": format!("proj_t{i:019}"),
                "name": format!("Seeded-{i:04}"),
                "tags": {"Index": i.to_string()},
            });
            if i % 7 == 0 {
                project["status"] = json!("archived");
                project["archived_at"] = json!(1_780_000_000);
            }
            project
        })
        .collect();
    Value::Array(projects)
}

#[tokio::test]
async fn every_operation_round_trips_through_the_emulator() {
    let emulator = Emulator::start(&["--api-key", KEY]);
    let api = emulator.api(bearer(KEY, "TAGREC_API_KEY"));

    let before = api.list().await.unwrap();
    assert_eq!(
        before.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["default"]
    );

    let created = api.create(&create_request("Fraud-Scoring")).await.unwrap();
    assert!(created.id.starts_with("proj_"), "{}", created.id);
    assert!(created.is_active());
    assert_eq!(
        created.tags,
        tags(&[("Team", "Risk"), ("CostCenter", "007")])
    );

    let fetched = api.retrieve(&created.id).await.unwrap();
    assert_eq!(fetched, created);

    let change = ModifyProject {
        name: Some("Fraud-Scoring-Prod".into()),
        add_tags: tags(&[("Owner", "bob"), ("Team", "Fraud")]),
        remove_tag_keys: vec!["CostCenter".into()],
        data_retention: None,
    };
    let modified = api.modify(&created.id, &change).await.unwrap();
    assert_eq!(modified.name, "Fraud-Scoring-Prod");
    assert_eq!(modified.tags, tags(&[("Owner", "bob"), ("Team", "Fraud")]));

    let archived = api.archive(&created.id).await.unwrap();
    assert!(!archived.is_active());
    assert!(archived.archived_at.is_some());
    // Archiving is terminal and idempotent: a second archive succeeds and changes nothing.
    let again = api.archive(&created.id).await.unwrap();
    assert_eq!(again.archived_at, archived.archived_at);

    let after = api.list().await.unwrap();
    let listed = after.iter().find(|p| p.id == created.id).unwrap();
    assert!(!listed.is_active(), "archived projects are listed too");
    assert_eq!(listed.name, "Fraud-Scoring-Prod");

    // The requests a user's proxy would see: the documented paths and paging parameters.
    let lists = emulator.requests_to("GET", "/organization/projects");
    assert!(!lists.is_empty());
    for list in &lists {
        let query = list["query"].as_str().unwrap_or_default();
        assert!(query.contains("limit=100"), "{query}");
        assert!(query.contains("include_archived=true"), "{query}");
    }
    assert_eq!(
        emulator
            .requests_to(
                "POST",
                &format!("/organization/projects/{}/archive", created.id)
            )
            .len(),
        2
    );
}

#[tokio::test]
async fn errors_carry_the_apis_message_and_type() {
    let emulator = Emulator::start(&[]);
    let api = emulator.api(Credentials::None);

    let change = ModifyProject {
        add_tags: tags(&[("Team", "Platform")]),
        ..ModifyProject::default()
    };
    let error = api.modify("default", &change).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.certainty(), Certainty::NotDone);
    let message = error.to_string();
    assert!(message.contains("invalid_request_error"), "{message}");
    assert!(message.contains("default project"), "{message}");

    let missing = api.retrieve("proj_doesnotexist0000000").await.unwrap_err();
    assert_eq!(missing.status(), Some(404));
    assert!(missing.to_string().contains("not_found_error"), "{missing}");
    // A 4xx is not retried: it would answer the same.
    assert_eq!(
        emulator
            .requests_to("GET", "/organization/projects/proj_doesnotexist0000000")
            .len(),
        1
    );

    let created = api.create(&create_request("Short-Lived")).await.unwrap();
    api.archive(&created.id).await.unwrap();
    let refused = api.modify(&created.id, &change).await.unwrap_err();
    assert!(
        matches!(refused.status(), Some(400..=499)),
        "modifying an archived project: {refused}"
    );
}

#[tokio::test]
async fn list_reads_every_page_in_ceil_n_over_100_requests() {
    for total in [1usize, 2, 99, 100, 101, 1000] {
        let emulator = Emulator::start_with_seed(&[], Some(&seed_of(total)));
        let api = emulator.api(Credentials::None);
        let projects = api.list().await.unwrap();
        let ids: BTreeSet<&str> = projects.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(projects.len(), total, "{total} projects in all");
        assert_eq!(ids.len(), total, "each project once ({total})");
        assert!(ids.contains("default"));
        if total > 7 {
            assert!(
                projects.iter().any(|p| !p.is_active()),
                "archived ones listed"
            );
        }
        let pages = emulator.requests_to("GET", "/organization/projects");
        assert_eq!(
            pages.len(),
            total.div_ceil(100),
            "list requests for {total}"
        );
        for (i, page) in pages.iter().enumerate() {
            let query = page["query"].as_str().unwrap_or_default();
            assert_eq!(query.contains("after="), i > 0, "page {i}: {query}");
        }
    }
}

/// A one-connection-at-a-time HTTP server: `answer(request line, headers, body)` gives status,
/// headers and body. Records when each request arrived. Enough for the behaviours the emulator
/// does not have.
async fn stub<F>(answer: F) -> (String, Arc<Mutex<Vec<(Instant, String)>>>)
where
    F: Fn(&str, &str) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let Ok(n) = socket.read(&mut chunk).await else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                buffer.extend_from_slice(&chunk[..n]);
                if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(at);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
            let request_line = head.lines().next().unwrap_or_default().to_string();
            let headers = head.to_ascii_lowercase();
            record
                .lock()
                .unwrap()
                .push((Instant::now(), request_line.clone()));
            let (status, extra, body) = answer(&request_line, &headers);
            let mut response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in extra {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (base, seen)
}

fn page(ids: &[&str], has_more: bool) -> String {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "organization.project", "name": id, "created_at": 1, "status": "active", "archived_at": null}))
        .collect();
    json!({"object": "list", "data": data, "first_id": ids.first(), "last_id": "proj_not_on_page", "has_more": has_more}).to_string()
}

#[tokio::test]
async fn a_server_that_ignores_after_is_detected_not_looped_on() {
    // Always the same page, always "has_more": a client following it would loop forever.
    let (base, seen) =
        stub(|_, _| (200, vec![], page(&["default", "proj_a", "proj_b"], true))).await;
    let error = client(&base, Credentials::None).list().await.unwrap_err();
    assert!(matches!(error, ApiError::Protocol(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("after"), "{message}");
    assert!(message.contains("proj_b"), "{message}");
    assert_eq!(seen.lock().unwrap().len(), 2, "stops at the second page");
}

#[tokio::test]
async fn a_server_that_ignores_limit_and_answers_everything_at_once_is_read() {
    let ids: Vec<String> = (0..250).map(|i| format!("proj_{i:020}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let body = page(&refs, false);
    let (base, seen) = stub(move |_, _| (200, vec![], body.clone())).await;
    let projects = client(&base, Credentials::None).list().await.unwrap();
    assert_eq!(projects.len(), 250);
    // The cursor is the last id of the page, never the (wrong, in AWS's example) `last_id`.
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_next_cursor_is_the_last_id_on_the_page() {
    let (base, seen) = stub(|line, _| {
        if line.contains("after=proj_b") {
            (200, vec![], page(&["proj_c"], false))
        } else {
            (200, vec![], page(&["default", "proj_a", "proj_b"], true))
        }
    })
    .await;
    let projects = client(&base, Credentials::None).list().await.unwrap();
    assert_eq!(projects.len(), 4);
    let lines: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, l)| l.clone())
        .collect();
    assert!(lines[1].contains("after=proj_b"), "{lines:?}");
}

#[tokio::test]
async fn non_json_error_bodies_are_reported_readably() {
    let (base, _) = stub(|_, _| {
        (
            502,
            vec![("content-type", "text/html".to_string())],
            "<html>\n<body>Bad Gateway: upstream bedrock-mantle timed out</body>\n</html>".into(),
        )
    })
    .await;
    let api = HttpApi::new(parse_endpoint(&base).unwrap(), Credentials::None)
        .unwrap()
        .with_retry_policy(RetryPolicy::never());
    let message = api.retrieve("proj_a").await.unwrap_err().to_string();
    assert!(message.contains("502"), "{message}");
    assert!(
        message.contains("upstream bedrock-mantle timed out"),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
}

#[tokio::test]
async fn retry_after_is_honoured_before_the_next_attempt() {
    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let (base, seen) = stub(move |_, _| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        if *n == 1 {
            let body = json!({"error": {"message": "Rate exceeded", "type": "rate_limit_exceeded", "param": null, "code": null}});
            (429, vec![("retry-after", "1".to_string())], body.to_string())
        } else {
            (200, vec![], page(&["default"], false))
        }
    })
    .await;
    let projects = client(&base, Credentials::None).list().await.unwrap();
    assert_eq!(projects.len(), 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    // The test's backoff alone is at most 100 ms: a gap of a second is the server's Retry-After.
    assert!(seen[1].0 - seen[0].0 >= Duration::from_secs(1));
}

#[tokio::test]
async fn an_x_api_key_only_server_accepts_the_bearer_key() {
    let (base, _) = stub(|_, headers| {
        if headers.contains(&format!("x-api-key: {KEY}")) {
            (200, vec![], page(&["default"], false))
        } else {
            let body = json!({"error": {"message": "missing x-api-key", "type": "authentication_error", "param": null, "code": null}});
            (401, vec![], body.to_string())
        }
    })
    .await;
    let projects = client(&base, bearer(KEY, "BEDROCK_API_KEY"))
        .list()
        .await
        .unwrap();
    assert_eq!(projects.len(), 1);
}

#[tokio::test]
async fn reads_are_retried_through_server_errors() {
    let emulator = Emulator::start_with_seed(
        &["--fail-rate", "0.5", "--fault-seed", "11"],
        Some(&seed_of(250)),
    );
    let api = emulator.api(Credentials::None);
    let projects = api.list().await.unwrap();
    assert_eq!(projects.len(), 250);
    for project in projects.iter().take(5) {
        assert_eq!(api.retrieve(&project.id).await.unwrap().id, project.id);
    }
    let failures = emulator
        .requests()
        .into_iter()
        .filter(|r| r["status"] == 500)
        .count();
    assert!(failures > 0, "the fault was injected and retried through");
}

#[tokio::test]
async fn a_failed_create_is_sent_once_and_reported_ambiguous() {
    let emulator = Emulator::start(&["--fail-rate", "1"]);
    let api = emulator.api(Credentials::None);
    let error = api.create(&create_request("Once")).await.unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(error.certainty(), Certainty::Ambiguous);
    assert_eq!(
        emulator.requests_to("POST", "/organization/projects").len(),
        1
    );
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_not_retried_and_did_happen() {
    let emulator = Emulator::start(&["--drop-after-commit-rate", "1"]);
    let api = emulator.api(Credentials::None);
    let error = api
        .create(&create_request("Lost-Answer"))
        .await
        .unwrap_err();
    assert!(matches!(error, ApiError::NoAnswer(_)), "{error:?}");
    assert_eq!(error.certainty(), Certainty::Ambiguous);
    let creates = emulator.requests_to("POST", "/organization/projects");
    assert_eq!(creates.len(), 1, "never retried: {creates:?}");
    assert_eq!(creates[0]["committed"], true);
    // What the caller does next: list, and find the project the lost answer created.
    let listed = api.list().await.unwrap();
    assert_eq!(listed.iter().filter(|p| p.name == "Lost-Answer").count(), 1);
}

#[tokio::test]
async fn modify_and_archive_are_retried_after_lost_answers() {
    let emulator = Emulator::start_with_seed(&["--drop-after-commit-rate", "1"], Some(&seed_of(3)));
    let api = emulator.api(Credentials::None);
    let id = "proj_t0000000000000000001";
    let change = ModifyProject {
        add_tags: tags(&[("Owner", "carol")]),
        ..ModifyProject::default()
    };
    let error = api.modify(id, &change).await.unwrap_err();
    assert_eq!(error.certainty(), Certainty::Ambiguous);
    assert!(
        error.to_string().contains("gave up after 6 attempts"),
        "{error}"
    );
    let modifies = emulator.requests_to("POST", &format!("/organization/projects/{id}"));
    assert_eq!(modifies.len(), 6, "retried up to the policy's attempts");
    assert!(modifies.iter().all(|r| r["committed"] == true));

    let error = api.archive(id).await.unwrap_err();
    assert_eq!(error.certainty(), Certainty::Ambiguous);
    assert_eq!(
        emulator
            .requests_to("POST", &format!("/organization/projects/{id}/archive"))
            .len(),
        6
    );
}

#[tokio::test]
async fn throttled_reads_wait_and_succeed() {
    let emulator = Emulator::start_with_seed(&["--rate-limit", "5"], Some(&seed_of(3)));
    let api = emulator.api(Credentials::None);
    for _ in 0..12 {
        assert_eq!(
            api.retrieve("proj_t0000000000000000002")
                .await
                .unwrap()
                .name,
            "Seeded-0002"
        );
    }
    let throttled = emulator
        .requests()
        .into_iter()
        .filter(|r| r["status"] == 429)
        .count();
    assert!(
        throttled > 0,
        "the emulator throttled and the client waited it out"
    );
}

#[tokio::test]
async fn bearer_keys_are_checked_and_refusals_name_the_variable_not_the_value() {
    let emulator = Emulator::start(&["--api-key", KEY]);
    assert_eq!(
        emulator
            .api(bearer(KEY, "AWS_BEARER_TOKEN_BEDROCK"))
            .list()
            .await
            .unwrap()
            .len(),
        1
    );

    let wrong = "wrong-key-3f9a";
    let error = emulator
        .api(bearer(wrong, "AWS_BEARER_TOKEN_BEDROCK"))
        .list()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(401));
    let message = error.to_string();
    assert!(message.contains("AWS_BEARER_TOKEN_BEDROCK"), "{message}");
    assert!(!message.contains(wrong), "{message}");

    let message = emulator
        .api(Credentials::None)
        .list()
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("No credentials were found"), "{message}");
    assert!(message.contains("TAGREC_API_KEY"), "{message}");
}

#[tokio::test]
async fn a_read_only_key_reads_and_a_write_says_what_is_needed() {
    let emulator = Emulator::start(&["--api-key", KEY, "--read-only-api-key", READ_ONLY_KEY]);
    let api = emulator.api(bearer(READ_ONLY_KEY, "BEDROCK_API_KEY"));
    assert_eq!(api.list().await.unwrap().len(), 1);
    assert_eq!(api.retrieve("default").await.unwrap().name, "default");

    let error = api
        .create(&create_request("Needs-Write"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert_eq!(error.certainty(), Certainty::NotDone);
    let message = error.to_string();
    for expected in [
        "permission_error",
        "BEDROCK_API_KEY",
        "long-term",
        "SigV4",
        "bedrock-mantle:CreateProject",
    ] {
        assert!(
            message.contains(expected),
            "{expected} missing from: {message}"
        );
    }
    assert_eq!(
        message.matches("CreateProject").count(),
        1,
        "said once: {message}"
    );
    assert!(!message.contains(READ_ONLY_KEY));
    assert_eq!(
        emulator.requests_to("POST", "/organization/projects").len(),
        1
    );
}

/// AWS does not document its 403 body; whatever it says, the client adds what a write needs.
#[tokio::test]
async fn a_bare_403_on_a_write_explains_long_term_keys() {
    let (base, _) = stub(|line, _| {
        if line.starts_with("POST") {
            let body = json!({"error": {"message": "Access denied.", "type": "permission_error", "param": null, "code": null}});
            (403, vec![], body.to_string())
        } else {
            (200, vec![], page(&["default"], false))
        }
    })
    .await;
    let api = client(&base, bearer(KEY, "AWS_BEARER_TOKEN_BEDROCK"));
    assert_eq!(api.list().await.unwrap().len(), 1);
    let message = api.archive("proj_a").await.unwrap_err().to_string();
    for expected in [
        "Access denied.",
        "AWS_BEARER_TOKEN_BEDROCK",
        "Long-term Amazon Bedrock API keys can only get and list projects",
        "short-term API key or SigV4 credentials",
        "bedrock-mantle:CreateProject, UpdateProject, ArchiveProject, TagResource",
    ] {
        assert!(
            message.contains(expected),
            "{expected} missing from: {message}"
        );
    }
    assert!(!message.contains(KEY));
}

#[tokio::test]
async fn sigv4_is_accepted_and_a_tampered_signature_refused() {
    let emulator = Emulator::start(&[
        "--region",
        "eu-west-1",
        "--sigv4",
        &format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"),
    ]);
    let api = emulator.api(sigv4(SECRET_ACCESS_KEY, "eu-west-1"));
    let created = api.create(&create_request("Signed")).await.unwrap();
    let change = ModifyProject {
        add_tags: tags(&[("Owner", "dana")]),
        ..ModifyProject::default()
    };
    assert_eq!(
        api.modify(&created.id, &change).await.unwrap().tags["Owner"],
        "dana"
    );
    assert_eq!(api.list().await.unwrap().len(), 2);

    // Signed with the wrong secret, or for another region: refused, and said so without secrets.
    for (secret, region) in [
        ("not-the-secret", "eu-west-1"),
        (SECRET_ACCESS_KEY, "us-east-1"),
    ] {
        let error = emulator
            .api(sigv4(secret, region))
            .list()
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(401), "{error}");
        let message = error.to_string();
        assert!(
            message.contains("SigV4 credentials from test keys"),
            "{message}"
        );
        assert!(!message.contains(secret), "{message}");
    }

    // A correct signature with one character changed, sent by hand.
    let url = format!(
        "{}/organization/projects?limit=100&include_archived=true",
        emulator.base
    );
    let signed = sigv4(SECRET_ACCESS_KEY, "eu-west-1")
        .headers_for("GET", &url, &[], b"", SystemTime::now())
        .await
        .unwrap();
    let send = |headers: Vec<(String, String)>| {
        let url = url.clone();
        async move {
            let mut request = reqwest::Client::new().get(&url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(
        send(signed.clone()).await,
        200,
        "the untouched signature passes"
    );
    let tampered: Vec<(String, String)> = signed
        .into_iter()
        .map(|(name, value)| {
            if name.eq_ignore_ascii_case("authorization") {
                let last = value.chars().last().unwrap();
                let flipped = if last == '0' { '1' } else { '0' };
                (name, format!("{}{flipped}", &value[..value.len() - 1]))
            } else {
                (name, value)
            }
        })
        .collect();
    assert_eq!(send(tampered).await, 401);
}

fn manifest_at(path: &Path, target: Target) -> Manifest {
    Manifest::empty(path.to_path_buf(), target)
}

fn global(endpoint: Option<&str>, auth: AuthMode) -> ConnectOptions {
    ConnectOptions {
        endpoint: endpoint.map(str::to_string),
        region: None,
        auth,
        profile: None,
    }
}

#[tokio::test]
async fn no_secret_appears_in_any_message_log_or_file() {
    let emulator = Emulator::start(&[
        "--read-only-api-key",
        READ_ONLY_KEY,
        "--sigv4",
        &format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"),
    ]);
    let mut shown = Vec::new();
    let apis = [
        emulator.api(bearer(READ_ONLY_KEY, "TAGREC_API_KEY")),
        emulator.api(bearer(KEY, "OPENAI_API_KEY")),
        emulator.api(sigv4(SECRET_ACCESS_KEY, "us-east-1")),
        emulator.api(sigv4("wrong-secret-value-77", "us-east-1")),
    ];
    for api in &apis {
        shown.push(format!("{api:?}"));
        for result in [
            api.list().await.map(|_| ()),
            api.create(&create_request("Probe")).await.map(|_| ()),
            api.modify("default", &ModifyProject::default())
                .await
                .map(|_| ()),
            api.archive("proj_missing00000000000").await.map(|_| ()),
        ] {
            if let Err(error) = result {
                shown.push(error.to_string());
                shown.push(format!("{error:?}"));
            }
        }
    }
    shown
        .push(std::fs::read_to_string(emulator.account.path("requests.jsonl")).unwrap_or_default());
    // The emulator is tagrec too: what it printed must not carry a key either.
    shown.push(emulator.account.sandbox.stderr());
    let text = shown.join("\n");
    assert!(
        text.contains("401") && text.contains("403"),
        "refusals were seen"
    );
    for secret in [
        READ_ONLY_KEY,
        KEY,
        SECRET_ACCESS_KEY,
        "wrong-secret-value-77",
    ] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
}

#[tokio::test]
async fn a_sandbox_target_opens_the_embedded_emulator_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("live.json");
    std::fs::write(&seed, serde_json::to_vec(&seed_of(5)).unwrap()).unwrap();
    let state = dir.path().join(".tagrec/sandbox.json");
    let manifest = manifest_at(
        &dir.path().join("projects.yaml"),
        Target {
            region: Some("us-east-1".into()),
            endpoint: None,
            sandbox: Some(tagrec::manifest::SandboxTarget {
                state: state.clone(),
                seed: Some(seed),
                ..Default::default()
            }),
            ..Target::default()
        },
    );
    // `--auth sigv4` with no AWS variables would fail for an HTTP target; the sandbox needs none.
    let connection = connect_with_env(&global(None, AuthMode::Sigv4), &manifest, &|_| None)
        .await
        .unwrap();
    assert_eq!(
        connection.target,
        PlanTarget {
            endpoint: format!("sandbox:{}", state.display()),
            region: Some("us-east-1".into())
        }
    );
    let projects = connection.api.list().await.unwrap();
    assert_eq!(projects.len(), 5);
    assert!(!state.exists(), "reading does not write the state file");

    // --endpoint still wins over the sandbox.
    let emulator = Emulator::start(&[]);
    let connection = connect_with_env(
        &global(Some(&emulator.base), AuthMode::Auto),
        &manifest,
        &|_| None,
    )
    .await
    .unwrap();
    assert_eq!(connection.target.endpoint, emulator.base);
    assert_eq!(connection.api.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_redirect_is_reported_not_followed_with_the_key() {
    let (base, seen) = stub(|_, _| {
        (
            307,
            vec![(
                "location",
                "https://elsewhere.example.com/v1/organization/projects".to_string(),
            )],
            String::new(),
        )
    })
    .await;
    let error = client(&base, bearer(KEY, "TAGREC_API_KEY"))
        .list()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(307));
    assert!(
        error.to_string().contains("elsewhere.example.com"),
        "{error}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// The binary itself, not only the library: with `--verbose` on, through plan, a saved plan,
/// apply, audit and a refused key, no credential shows in stdout, stderr or any file written.
#[test]
fn no_credential_appears_in_the_binarys_output_or_files() {
    const KEY: &str = "sk-bedrock-binary-secret-4242";
    const WRONG: &str = "sk-bedrock-wrong-secret-7373";
    let account = Account::start(&json!([]), &["--api-key", KEY]);
    account.ws.write(
        "policy.yaml",
        "type: object\nproperties:\n  tags:\n    required: [Team]\n",
    );
    account.ws.write(
        "projects.yaml",
        "version: 1\ntarget: {region: us-east-1}\npolicy: policy.yaml\nprojects:\n  - name: Secret-Check\n    tags: {Team: t}\n",
    );
    let run = |key: &str, args: &[&str]| {
        let mut all = vec!["-v"];
        all.extend_from_slice(args);
        let output = account.run(Some(key), &all);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    };

    let (code, text) = run(KEY, &["plan", "--out", "plan.json"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text2) = run(KEY, &["apply", "plan.json"]);
    assert_eq!(code, Some(0), "{text2}");
    let (code, text3) = run(KEY, &["audit"]);
    assert_eq!(code, Some(0), "{text3}");
    let (code, refused) = run(WRONG, &["plan"]);
    assert_eq!(code, Some(1), "{refused}");
    assert!(
        refused.contains("TAGREC_API_KEY"),
        "the refusal names the variable: {refused}"
    );

    for (what, text) in [
        ("plan", &text),
        ("apply", &text2),
        ("audit", &text3),
        ("refused", &refused),
    ] {
        assert!(
            !text.contains(KEY) && !text.contains(WRONG),
            "{what} printed a key: {text}"
        );
    }
    for file in ["plan.json", "requests.jsonl"] {
        let content = account.ws.read(file);
        assert!(
            !content.contains(KEY) && !content.contains(WRONG),
            "{file} holds a key"
        );
    }
    assert!(!account.sandbox.stderr().contains(KEY));
}
