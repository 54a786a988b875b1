//! `tagrec sandbox serve` over real HTTP on loopback: every operation and rule, the faults, the
//! credentials, hostile requests, and the state file surviving a kill.

use serde_json::{Value, json};

use crate::support::Sandbox;

fn create(sandbox: &Sandbox, body: Value) -> Value {
    let reply = sandbox.post("/organization/projects", &body.to_string());
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

#[test]
fn first_line_names_the_address_and_default_exists() {
    let sandbox = Sandbox::start(&[]);
    assert!(sandbox.base_url.starts_with("http://127.0.0.1:"));
    let list = sandbox.get("/organization/projects").json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["id"], "default");
    assert_eq!(list["data"][0]["tags"], json!({}));
    assert_eq!(list["has_more"], false);
}

#[test]
fn create_retrieve_modify_archive() {
    let sandbox = Sandbox::start(&["--region", "eu-west-1", "--account-id", "111122223333"]);
    let project = create(
        &sandbox,
        json!({"name": "Fraud-Prod", "tags": {"Team": "Risk", "Legacy": "yes"}}),
    );
    let id = project["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("proj_") && id.len() == 25, "{id}");
    assert!(
        id[5..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(
        project["arn"],
        format!("arn:aws:bedrock-mantle:eu-west-1:111122223333:project/{id}")
    );
    assert_eq!(project["status"], "active");
    assert!(
        project.get("archived_at").is_none(),
        "AWS omits archived_at while active"
    );
    assert_eq!(project["data_retention"], json!({"mode": "inherit"}));

    let fetched = sandbox.get(&format!("/organization/projects/{id}")).json();
    assert_eq!(fetched, project);

    let modified = sandbox
        .post(
            &format!("/organization/projects/{id}"),
            &json!({"name": "Fraud-Scoring", "add_tags": {"Owner": "carol", "Team": "Fraud"}, "remove_tag_keys": ["Legacy"]}).to_string(),
        )
        .json();
    assert_eq!(modified["name"], "Fraud-Scoring");
    assert_eq!(modified["tags"], json!({"Owner": "carol", "Team": "Fraud"}));

    let archived = sandbox.post(&format!("/organization/projects/{id}/archive"), "");
    assert_eq!(archived.status, 200);
    let archived = archived.json();
    assert_eq!(archived["status"], "archived");
    let at = archived["archived_at"].as_i64().unwrap();
    assert!(at >= project["created_at"].as_i64().unwrap());

    // Idempotent: the same project back, the same archived_at.
    let again = sandbox
        .post(&format!("/organization/projects/{id}/archive"), "")
        .json();
    assert_eq!(again, archived);

    // Terminal: no more changes.
    let refused = sandbox.post(
        &format!("/organization/projects/{id}"),
        &json!({"add_tags": {"A": "b"}}).to_string(),
    );
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_type(), "invalid_request_error");

    // Listed only with include_archived.
    let active = sandbox.get("/organization/projects").json();
    assert_eq!(active["data"].as_array().unwrap().len(), 1);
    let all = sandbox
        .get("/organization/projects?include_archived=true")
        .json();
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
}

fn error_of(reply: &crate::support::Reply) -> (u16, String, String) {
    let body = reply.json();
    (
        reply.status,
        body["error"]["type"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn every_rule_is_enforced_with_the_api_error_body() {
    let sandbox = Sandbox::start(&[]);
    let long = "x".repeat(129);
    let cases = [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": long}),
        json!({"name": "ok", "tags": {"aws:cloudformation:stack": "x"}}),
        json!({"name": "ok", "tags": {"AWS:Thing": "x"}}),
        json!({"name": "ok", "tags": {"": "x"}}),
        json!({"name": "ok", "tags": {"k".repeat(129): "x"}}),
        json!({"name": "ok", "tags": {"k": "v".repeat(257)}}),
        json!({"name": "ok", "tags": (0..201).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
    ];
    for body in cases {
        let reply = sandbox.post("/organization/projects", &body.to_string());
        let (status, kind, message) = error_of(&reply);
        assert_eq!(
            (status, kind.as_str()),
            (400, "invalid_request_error"),
            "{body}: {message}"
        );
        assert!(!message.is_empty());
        assert!(message.len() < 400, "messages stay short: {message}");
    }
    // The limits themselves pass: 128-character names, 200 tags, 128/256-character keys/values.
    let edge = create(
        &sandbox,
        json!({"name": "n".repeat(128), "tags": (0..199).map(|i| (format!("k{i}"), json!(""))).chain([("k".repeat(128), json!("v".repeat(256)))]).collect::<serde_json::Map<_, _>>()}),
    );
    let id = edge["id"].as_str().unwrap();
    // A modify that would make 201 tags is refused as a whole.
    let reply = sandbox.post(
        &format!("/organization/projects/{id}"),
        &json!({"name": "renamed", "add_tags": {"one-more": "x"}}).to_string(),
    );
    assert_eq!(reply.status, 400);
    let unchanged = sandbox.get(&format!("/organization/projects/{id}")).json();
    assert_eq!(unchanged["name"], "n".repeat(128));
    // aws: keys can be neither set nor removed by modify either.
    for body in [
        json!({"add_tags": {"aws:x": "y"}}),
        json!({"remove_tag_keys": ["aws:x"]}),
        json!({"name": ""}),
    ] {
        let reply = sandbox.post(&format!("/organization/projects/{id}"), &body.to_string());
        assert_eq!(reply.status, 400, "{body}");
    }
    // Duplicate names are allowed.
    let a = create(&sandbox, json!({"name": "Same"}));
    let b = create(&sandbox, json!({"name": "Same"}));
    assert_ne!(a["id"], b["id"]);
}

#[test]
fn the_default_project_and_unknown_ids() {
    let sandbox = Sandbox::start(&[]);
    let reply = sandbox.post(
        "/organization/projects/default",
        &json!({"add_tags": {"Team": "x"}}).to_string(),
    );
    assert_eq!(
        error_of(&reply),
        (
            400,
            "invalid_request_error".to_string(),
            "Cannot update the default project.".to_string()
        )
    );
    let reply = sandbox.post("/organization/projects/default/archive", "");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error_type(), "invalid_request_error");
    assert_eq!(
        sandbox.get("/organization/projects/default").json()["status"],
        "active"
    );

    for path in [
        "/organization/projects/proj_doesnotexist000000",
        "/organization/projects/proj_doesnotexist000000/archive",
    ] {
        let method = if path.ends_with("archive") {
            "POST"
        } else {
            "GET"
        };
        let reply = sandbox.request(method, path, None);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.error_type(), "not_found_error");
    }
    let reply = sandbox.post(
        "/organization/projects/proj_doesnotexist000000",
        &json!({"name": "x"}).to_string(),
    );
    assert_eq!(reply.status, 404);
}

fn write_seed(dir: &std::path::Path, projects: &[Value]) -> String {
    let path = dir.join("seed.json");
    std::fs::write(&path, serde_json::to_vec(projects).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

fn seeded_id(i: usize) -> String {
    format!("proj_seed{i:015}")
}

#[test]
fn a_thousand_active_projects_is_the_limit_not_counting_default_or_archived() {
    let dir = tempfile::tempdir().unwrap();
    let mut projects: Vec<Value> = (0..1000)
        .map(|i| json!({"id": seeded_id(i), "name": format!("p{i}")}))
        .collect();
    projects.push(json!({"id": "proj_archived0000000000", "name": "gone", "status": "archived"}));
    let seed = write_seed(dir.path(), &projects);
    let sandbox = Sandbox::start(&["--seed", &seed]);
    let reply = sandbox.post(
        "/organization/projects",
        &json!({"name": "one-too-many"}).to_string(),
    );
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1000")
    );
    let archived = sandbox.post(
        &format!("/organization/projects/{}/archive", seeded_id(7)),
        "",
    );
    assert_eq!(archived.status, 200);
    create(&sandbox, json!({"name": "fits-now"}));
}

#[test]
fn pages_follow_creation_order_and_the_last_id_cursor() {
    let dir = tempfile::tempdir().unwrap();
    // Created out of id order, two in the same second, a few archived.
    let projects: Vec<Value> = (0..250)
        .map(|i| {
            let mut p = json!({"id": seeded_id(249 - i), "name": format!("p{i}"), "created_at": 1_770_000_000 + (i / 2) as i64});
            if i % 10 == 3 {
                p["status"] = json!("archived");
            }
            p
        })
        .collect();
    let seed = write_seed(dir.path(), &projects);
    let sandbox = Sandbox::start(&["--seed", &seed]);

    let walk = |query: &str, limit: usize| {
        let mut seen: Vec<Value> = Vec::new();
        let mut pages = 0;
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/organization/projects?limit={limit}{query}");
            if let Some(after) = &after {
                path.push_str(&format!("&after={after}"));
            }
            let page = sandbox.get(&path).json();
            pages += 1;
            let data = page["data"].as_array().unwrap().clone();
            assert!(data.len() <= limit);
            assert_eq!(page["first_id"], data[0]["id"]);
            assert_eq!(page["last_id"], data[data.len() - 1]["id"]);
            seen.extend(data);
            if page["has_more"] == false {
                break;
            }
            after = Some(page["last_id"].as_str().unwrap().to_string());
        }
        (seen, pages)
    };
    let (all, pages) = walk("&include_archived=true", 100);
    assert_eq!(all.len(), 251, "every project once, default included");
    assert_eq!(pages, 3, "251 projects take ceil(251/100) pages");
    assert_eq!(all[0]["id"], "default");
    let keys: Vec<(i64, String)> = all
        .iter()
        .map(|p| {
            (
                p["created_at"].as_i64().unwrap(),
                p["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "ordered by creation, then id");

    let (active, _) = walk("", 7);
    assert_eq!(active.len(), 251 - 25);
    assert!(active.iter().all(|p| p["status"] == "active"));

    // The default page size is 20.
    let first = sandbox.get("/organization/projects").json();
    assert_eq!(first["data"].as_array().unwrap().len(), 20);
    assert_eq!(first["has_more"], true);

    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "include_archived=maybe",
        "after=proj_nope",
    ] {
        let reply = sandbox.get(&format!("/organization/projects?{query}"));
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.error_type(), "invalid_request_error");
    }
}

#[test]
fn the_seed_is_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let seed = write_seed(
        dir.path(),
        &[
            json!({"id": "proj_minimal", "name": "Minimal"}),
            json!({"id": "proj_old", "name": "Old", "status": "archived", "tags": {"Team": "R"}}),
        ],
    );
    let sandbox = Sandbox::start(&["--seed", &seed, "--region", "ap-northeast-1"]);
    let minimal = sandbox.get("/organization/projects/proj_minimal").json();
    assert_eq!(
        minimal["arn"],
        "arn:aws:bedrock-mantle:ap-northeast-1:123456789012:project/proj_minimal"
    );
    assert_eq!(minimal["status"], "active");
    assert_eq!(minimal["tags"], json!({}));
    assert!(minimal["created_at"].as_i64().unwrap() > 0);
    let old = sandbox.get("/organization/projects/proj_old").json();
    assert!(old["archived_at"].as_i64().is_some());
    assert_eq!(sandbox.get("/organization/projects/default").status, 200);

    let bad = write_seed(dir.path(), &[json!({"name": "no id"})]);
    let error = Sandbox::try_start(&["--seed", &bad]).err().unwrap();
    assert!(
        error.contains("seed.json") && error.contains("id"),
        "{error}"
    );
}

/// The keys of a JSON object.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/api")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

#[test]
fn answers_have_the_shape_of_the_published_aws_examples() {
    let sandbox = Sandbox::start(&[]);
    let created = create(
        &sandbox,
        json!({"name": "Project ABC", "tags": {"Owner": "TeamAlpha"}}),
    );
    let published = fixture("aws-create-response.json");
    // AWS's create example has no data_retention; its archived projects do, and so does ours.
    let mut expected = keys(&published);
    expected.push("data_retention".to_string());
    expected.sort();
    assert_eq!(keys(&created), expected);
    for key in keys(&published) {
        assert_eq!(
            std::mem::discriminant(&created[&key]),
            std::mem::discriminant(&published[&key]),
            "{key} has the published JSON type"
        );
    }

    let id = created["id"].as_str().unwrap();
    let archived = sandbox
        .post(&format!("/organization/projects/{id}/archive"), "")
        .json();
    assert_eq!(keys(&archived), keys(&fixture("aws-archived-project.json")));

    let list = sandbox.get("/organization/projects").json();
    let published = fixture("aws-list-response.json");
    assert_eq!(keys(&list), keys(&published));
    let default = &list["data"][0];
    let published_default = &published["data"][0];
    assert_eq!(default["id"], published_default["id"]);
    assert_eq!(default["name"], published_default["name"]);
    assert_eq!(default["tags"], published_default["tags"]);

    let refused = sandbox.post("/organization/projects/default", "{}");
    assert_eq!(refused.json(), fixture("openai-error-default-project.json"));
}

#[test]
fn api_keys_and_read_only_keys() {
    let sandbox = Sandbox::start(&["--api-key", "full-key", "--read-only-api-key", "ro-key"]);
    let body = json!({"name": "p"}).to_string();
    let list = "/organization/projects";

    let none = sandbox.get(list);
    assert_eq!(
        (none.status, none.error_type().as_str()),
        (401, "authentication_error")
    );
    let wrong = sandbox.request_with("GET", list, &[("Authorization", "Bearer nope")], None);
    assert_eq!(wrong.status, 401);

    let bearer = sandbox.request_with(
        "POST",
        list,
        &[("Authorization", "Bearer full-key")],
        Some(body.as_bytes()),
    );
    assert_eq!(bearer.status, 200);
    let x_api_key = sandbox.request_with(
        "POST",
        list,
        &[("x-api-key", "full-key")],
        Some(body.as_bytes()),
    );
    assert_eq!(x_api_key.status, 200);

    let read = sandbox.request_with("GET", list, &[("Authorization", "Bearer ro-key")], None);
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["data"].as_array().unwrap().len(), 3);
    let write = sandbox.request_with(
        "POST",
        list,
        &[("Authorization", "Bearer ro-key")],
        Some(body.as_bytes()),
    );
    assert_eq!(write.status, 403);
    assert_eq!(write.error_type(), "permission_error");
    assert!(
        write.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bedrock-mantle:CreateProject")
    );
    // The refused write did nothing.
    let after = sandbox.request_with("GET", list, &[("x-api-key", "ro-key")], None);
    assert_eq!(after.json()["data"].as_array().unwrap().len(), 3);
}

const AKID: &str = "AKIDSANDBOXTEST";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Signs like a real client would (aws-sigv4), returning the headers to send.
fn sign(
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    body: &[u8],
    secret: &str,
    service: &str,
    time: std::time::SystemTime,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new(AKID, secret, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = sandbox.addr.to_string();
    let url = format!("http://{host}/v1{path}");
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
    ];
    let request =
        SignableRequest::new(method, url, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn send_signed(
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(String, String)],
) -> crate::support::Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // The raw client sends Content-Type: application/json on POST; GETs add it here to match.
    let mut all = headers.clone();
    if method == "GET" {
        all.push(("Content-Type", "application/json"));
    }
    sandbox.request_with(
        method,
        path,
        &all,
        if method == "POST" { Some(body) } else { None },
    )
}

#[test]
fn sigv4_signatures_are_verified() {
    let sandbox = Sandbox::start(&["--sigv4", &format!("{AKID}:{SECRET}")]);
    let now = std::time::SystemTime::now();
    let path = "/organization/projects?limit=5&include_archived=true";
    let headers = sign(&sandbox, "GET", path, b"", SECRET, "bedrock-mantle", now);
    assert_eq!(
        send_signed(&sandbox, "GET", path, b"", &headers).status,
        200
    );

    let body = json!({"name": "Signed", "tags": {"Team": "Risk"}}).to_string();
    let path = "/organization/projects";
    let headers = sign(
        &sandbox,
        "POST",
        path,
        body.as_bytes(),
        SECRET,
        "bedrock-mantle",
        now,
    );
    let created = send_signed(&sandbox, "POST", path, body.as_bytes(), &headers);
    assert_eq!(
        created.status,
        200,
        "{}",
        String::from_utf8_lossy(&created.body)
    );

    // The same signature on a changed body: refused, and nothing written.
    let tampered = json!({"name": "Signed", "tags": {"Team": "Evil"}}).to_string();
    let reply = send_signed(&sandbox, "POST", path, tampered.as_bytes(), &headers);
    assert_eq!(
        (reply.status, reply.error_type().as_str()),
        (401, "authentication_error")
    );
    // A changed query.
    let get_headers = sign(
        &sandbox,
        "GET",
        "/organization/projects?limit=5",
        b"",
        SECRET,
        "bedrock-mantle",
        now,
    );
    assert_eq!(
        send_signed(
            &sandbox,
            "GET",
            "/organization/projects?limit=6",
            b"",
            &get_headers
        )
        .status,
        401
    );
    // Signed as `bedrock`, with a wrong secret, or ten minutes ago.
    let as_bedrock = sign(&sandbox, "GET", path, b"", SECRET, "bedrock", now);
    let reply = send_signed(&sandbox, "GET", path, b"", &as_bedrock);
    assert_eq!(reply.status, 401);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bedrock-mantle")
    );
    let wrong_secret = sign(
        &sandbox,
        "GET",
        path,
        b"",
        "not-the-secret",
        "bedrock-mantle",
        now,
    );
    assert_eq!(
        send_signed(&sandbox, "GET", path, b"", &wrong_secret).status,
        401
    );
    let stale = sign(
        &sandbox,
        "GET",
        path,
        b"",
        SECRET,
        "bedrock-mantle",
        now - std::time::Duration::from_secs(600),
    );
    let reply = send_signed(&sandbox, "GET", path, b"", &stale);
    assert_eq!(reply.status, 401);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("clock")
    );
    // No credentials at all.
    assert_eq!(sandbox.get(path).status, 401);

    let projects = send_signed(
        &sandbox,
        "GET",
        "/organization/projects?limit=5&include_archived=true",
        b"",
        &sign(
            &sandbox,
            "GET",
            "/organization/projects?limit=5&include_archived=true",
            b"",
            SECRET,
            "bedrock-mantle",
            now,
        ),
    )
    .json();
    let names: Vec<&str> = projects["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "Signed"]);
    assert_eq!(projects["data"][1]["tags"], json!({"Team": "Risk"}));
}

fn statuses(sandbox: &Sandbox, count: usize) -> Vec<u16> {
    (0..count)
        .map(|_| sandbox.get("/organization/projects?limit=1").status)
        .collect()
}

#[test]
fn fail_rate_gives_500s_that_a_fault_seed_replays() {
    let args = ["--fail-rate", "0.5", "--fault-seed", "42"];
    let first = statuses(&Sandbox::start(&args), 40);
    let second = statuses(&Sandbox::start(&args), 40);
    assert_eq!(first, second, "the same seed gives the same faults");
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
    assert!(first.iter().all(|s| *s == 200 || *s == 500));
    let other = statuses(
        &Sandbox::start(&["--fail-rate", "0.5", "--fault-seed", "43"]),
        40,
    );
    assert_ne!(first, other);

    let sandbox = Sandbox::start(&["--fail-rate", "1"]);
    let reply = sandbox.post(
        "/organization/projects",
        &json!({"name": "never"}).to_string(),
    );
    assert_eq!(
        (reply.status, reply.error_type().as_str()),
        (500, "server_error")
    );
}

#[test]
fn fail_rate_fails_before_doing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sandbox = Sandbox::start(&[
        "--fail-rate",
        "0.5",
        "--fault-seed",
        "1",
        "--request-log",
        log.to_str().unwrap(),
    ]);
    let mut acknowledged = 0;
    for i in 0..30 {
        let reply = sandbox.post(
            "/organization/projects",
            &json!({"name": format!("p{i}")}).to_string(),
        );
        if reply.status == 200 {
            acknowledged += 1;
        }
    }
    assert!(acknowledged > 0 && acknowledged < 30);
    drop(sandbox);
    let lines = std::fs::read_to_string(&log).unwrap();
    let entries: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 30);
    let committed = entries.iter().filter(|e| e["committed"] == true).count();
    assert_eq!(committed, acknowledged);
    for entry in &entries {
        assert_eq!(entry["method"], "POST");
        assert_eq!(entry["path"], "/v1/organization/projects");
        assert_eq!(entry["query"], Value::Null);
        if entry["status"] == 500 {
            assert_eq!(entry["committed"], false);
            assert_eq!(entry["id"], Value::Null);
        } else {
            assert_eq!(entry["status"], 200);
            assert!(entry["id"].as_str().unwrap().starts_with("proj_"));
        }
    }
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let sandbox = Sandbox::start(&["--rate-limit", "0.5"]);
    let replies: Vec<_> = (0..5)
        .map(|_| sandbox.get("/organization/projects"))
        .collect();
    assert_eq!(
        replies[0].status, 200,
        "the first request fits in the bucket"
    );
    let throttled: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(!throttled.is_empty());
    for reply in throttled {
        assert_eq!(reply.error_type(), "rate_limit_exceeded");
        let seconds: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=2).contains(&seconds), "{seconds}");
    }
}

#[test]
fn latency_is_added_to_every_answer() {
    let sandbox = Sandbox::start(&["--latency-ms", "300"]);
    let start = std::time::Instant::now();
    assert_eq!(sandbox.get("/organization/projects").status, 200);
    // A lower bound only: the sleep guarantees it, however slow the machine.
    assert!(start.elapsed() >= std::time::Duration::from_millis(300));
}

#[test]
fn a_dropped_answer_still_commits_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sandbox = Sandbox::start(&[
        "--drop-after-commit-rate",
        "1",
        "--request-log",
        log.to_str().unwrap(),
    ]);
    let body = json!({"name": "Lost-Answer"}).to_string();
    let request = format!(
        "POST /v1/organization/projects HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        sandbox.addr,
        body.len()
    );
    let answer = sandbox.raw(request.as_bytes()).unwrap();
    assert!(
        answer.is_empty(),
        "no status line arrives: {:?}",
        String::from_utf8_lossy(&answer)
    );

    // Reads are answered; the project exists.
    let list = sandbox.get("/organization/projects").json();
    let created = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Lost-Answer")
        .cloned()
        .expect("the create happened");
    // A modify is dropped too, and happened too.
    let id = created["id"].as_str().unwrap();
    let tags = json!({"add_tags": {"A": "b"}}).to_string();
    let modify = format!(
        "POST /v1/organization/projects/{id} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{tags}",
        tags.len()
    );
    assert!(sandbox.raw(modify.as_bytes()).unwrap().is_empty());
    assert_eq!(
        sandbox.get(&format!("/organization/projects/{id}")).json()["tags"],
        json!({"A": "b"})
    );
    // A refused write is answered: nothing was committed.
    assert_eq!(sandbox.post("/organization/projects", "{}").status, 400);

    drop(sandbox);
    let entries: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        entries[0],
        json!({"method": "POST", "path": "/v1/organization/projects", "query": null, "status": null, "id": id, "committed": true})
    );
    assert_eq!(entries[1]["query"], Value::Null);
    assert_eq!(entries[1]["status"], 200);
    assert_eq!(entries[1]["committed"], false);
    assert_eq!(entries[2]["status"], Value::Null);
    assert_eq!(entries[2]["committed"], true);
    assert_eq!(entries.last().unwrap()["status"], 400);
    assert_eq!(entries.last().unwrap()["committed"], false);
}

#[test]
fn lists_lag_writes_when_asked_but_reads_by_id_do_not() {
    // A lag no test run comes near: the list cannot show the write, whatever the machine's speed.
    let sandbox = Sandbox::start(&["--list-lag-ms", "600000"]);
    let created = create(&sandbox, json!({"name": "Fresh"}));
    let id = created["id"].as_str().unwrap();
    assert!(
        !listed(&sandbox, id),
        "a list after the write comes from the older snapshot"
    );
    assert_eq!(
        sandbox.get(&format!("/organization/projects/{id}")).status,
        200,
        "a read by id sees the write at once"
    );
}

#[test]
fn a_lagging_list_shows_a_write_once_the_lag_has_passed() {
    let sandbox = Sandbox::start(&["--list-lag-ms", "300"]);
    let before_the_write = std::time::Instant::now();
    let created = create(&sandbox, json!({"name": "Fresh"}));
    let id = created["id"].as_str().unwrap();
    crate::support::wait_for("the write to show in the list", || listed(&sandbox, id));
    // A lower bound only, which the lag guarantees however slow the machine.
    assert!(before_the_write.elapsed() >= std::time::Duration::from_millis(300));
}

fn listed(sandbox: &Sandbox, id: &str) -> bool {
    sandbox.get("/organization/projects").json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == id)
}

#[test]
fn hostile_requests_get_json_4xx_and_the_server_keeps_serving() {
    let sandbox = Sandbox::start(&[]);
    let existing = create(&sandbox, json!({"name": "Target"}));
    let id = existing["id"].as_str().unwrap().to_string();
    let long_id = "a".repeat(10_000);
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1 << 20));
    let cases: Vec<(&str, String, Option<Vec<u8>>, u16)> = vec![
        (
            "POST",
            "/organization/projects".into(),
            Some(b"{\"name\": ".to_vec()),
            400,
        ),
        (
            "POST",
            "/organization/projects".into(),
            Some(b"[1, 2]".to_vec()),
            400,
        ),
        (
            "POST",
            "/organization/projects".into(),
            Some(b"{\"name\": 5}".to_vec()),
            400,
        ),
        (
            "POST",
            "/organization/projects".into(),
            Some(b"{\"name\": \"a\", \"tags\": {\"k\": 1}}".to_vec()),
            400,
        ),
        (
            "POST",
            "/organization/projects".into(),
            Some(b"{\"name\": \"a\", \"tags\": [\"k\"]}".to_vec()),
            400,
        ),
        (
            "POST",
            "/organization/projects".into(),
            Some(b"{\"name\": \"\xff\xfe\"}".to_vec()),
            400,
        ),
        (
            "POST",
            "/organization/projects".into(),
            Some(big.into_bytes()),
            413,
        ),
        (
            "POST",
            format!("/organization/projects/{id}"),
            Some(b"{\"remove_tag_keys\": \"Team\"}".to_vec()),
            400,
        ),
        (
            "POST",
            format!("/organization/projects/{id}"),
            Some(b"{\"add_tags\": null, \"name\": null}".to_vec()),
            400,
        ),
        (
            "GET",
            "/organization/projects/..%2F..%2Fetc%2Fpasswd".into(),
            None,
            404,
        ),
        (
            "GET",
            "/organization/projects/../projects".into(),
            None,
            404,
        ),
        (
            "GET",
            format!("/organization/projects/{long_id}"),
            None,
            404,
        ),
        ("GET", "/organization/projects/%ff%fe".into(), None, 404),
        ("GET", "/organization/projects/a/b/c".into(), None, 404),
        ("GET", "/organizations".into(), None, 404),
        ("DELETE", format!("/organization/projects/{id}"), None, 405),
        (
            "PUT",
            "/organization/projects".into(),
            Some(b"{}".to_vec()),
            405,
        ),
        (
            "GET",
            format!("/organization/projects/{id}/archive"),
            None,
            405,
        ),
    ];
    for (method, path, body, expected) in cases {
        let reply = sandbox.request_with(method, &path, &[], body.as_deref());
        let shown: String = path.chars().take(60).collect();
        assert_eq!(
            reply.status,
            expected,
            "{method} {shown}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let error = reply.json();
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty() && m.len() < 600),
            "{method} {shown}: {error}"
        );
        assert!(error["error"]["type"].is_string());
    }
    // The /openai/v1 router does not serve projects.
    let openai = crate::support::http(
        sandbox.addr,
        "GET",
        "/openai/v1/organization/projects",
        &[],
        None,
    )
    .unwrap();
    assert_eq!(openai.status, 404);
    assert_eq!(openai.error_type(), "not_found_error");
    // A percent-encoded id names the same project; an unknown field is refused, and nothing of
    // the request is done.
    let encoded: String = id.bytes().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(
        sandbox
            .get(&format!("/organization/projects/{encoded}"))
            .json()["id"],
        id.as_str()
    );
    let refused = sandbox.post(
        &format!("/organization/projects/{id}"),
        &json!({"unknown": [1], "add_tags": {"T": "1"}}).to_string(),
    );
    assert_eq!(refused.status, 400);
    assert_eq!(
        sandbox.get(&format!("/organization/projects/{id}")).json()["tags"],
        json!({})
    );
    // Not HTTP at all, then a body cut short: the server survives both.
    let _ = sandbox.raw(b"\x00\x01GARBAGE\r\n\r\n");
    let _ = std::net::TcpStream::connect(sandbox.addr).and_then(|mut s| {
        use std::io::Write;
        s.write_all(b"POST /v1/organization/projects HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na")
    });
    let list = sandbox.get("/organization/projects").json();
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        2,
        "nothing hostile was created"
    );
}

#[test]
fn state_survives_a_restart_and_a_corrupt_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nested/state.json");
    let state_arg = state.to_str().unwrap();
    let seed = write_seed(
        dir.path(),
        &[json!({"id": "proj_seeded", "name": "Seeded"})],
    );
    let mut sandbox = Sandbox::start(&["--state", state_arg, "--seed", &seed]);
    assert!(!state.exists(), "reads do not write the state");
    let created = create(&sandbox, json!({"name": "Kept", "tags": {"Team": "Risk"}}));
    assert!(state.exists());
    // A second server on the same state is refused while the first runs.
    let error = Sandbox::try_start(&["--state", state_arg]).err().unwrap();
    assert!(error.contains("locked"), "{error}");
    sandbox.kill();

    // The state wins over the seed from now on.
    let sandbox = Sandbox::start(&["--state", state_arg, "--seed", &seed]);
    let kept = sandbox
        .get(&format!(
            "/organization/projects/{}",
            created["id"].as_str().unwrap()
        ))
        .json();
    assert_eq!(kept, created);
    assert_eq!(
        sandbox.get("/organization/projects/proj_seeded").status,
        200
    );
    drop(sandbox);

    std::fs::write(&state, "{\"version\": 1, \"projects\": [{\"id\": ").unwrap();
    let error = Sandbox::try_start(&["--state", state_arg]).err().unwrap();
    assert!(
        error.contains("state.json") && error.contains("not a valid sandbox state"),
        "{error}"
    );
    // Never silently replaced.
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "{\"version\": 1, \"projects\": [{\"id\": "
    );
}

#[test]
fn state_survives_kill_9_during_a_burst_of_writes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap().to_string();
    let mut sandbox = Sandbox::start(&["--state", &state_arg]);
    let addr = sandbox.addr;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let acknowledged = acknowledged.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body =
                        json!({"name": format!("w{w}-{i}"), "tags": {"Writer": w.to_string()}})
                            .to_string();
                    match crate::support::http(
                        addr,
                        "POST",
                        "/v1/organization/projects",
                        &[],
                        Some(body.as_bytes()),
                    ) {
                        Ok(reply) if reply.status == 200 => {
                            acknowledged
                                .lock()
                                .unwrap()
                                .push(reply.json()["id"].as_str().unwrap().to_string());
                        }
                        Ok(reply) => panic!("unexpected {}", reply.status),
                        // The kill: the answer is lost, the write may or may not have landed.
                        Err(_) => break,
                    }
                    i += 1;
                }
            })
        })
        .collect();
    crate::support::wait_for("40 acknowledged writes", || {
        acknowledged.lock().unwrap().len() >= 40
    });
    sandbox.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    // The state is whole (old or new, never torn) and holds every acknowledged write.
    let sandbox = Sandbox::start(&["--state", &state_arg]);
    let mut live = Vec::new();
    let mut after = String::new();
    loop {
        let page = sandbox
            .get(&format!("/organization/projects?limit=100{after}"))
            .json();
        live.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string()),
        );
        if page["has_more"] == false {
            break;
        }
        after = format!("&after={}", page["last_id"].as_str().unwrap());
    }
    for id in &acknowledged {
        assert!(live.contains(id), "acknowledged {id} was lost");
    }
    // At most the writes in flight at the kill (one per writer) landed without an answer.
    assert!(
        live.len() <= acknowledged.len() + 1 + 4,
        "{} live, {} acknowledged",
        live.len(),
        acknowledged.len()
    );
}

#[test]
fn an_unknown_body_field_is_refused_naming_it_and_every_documented_one_is_accepted() {
    let sandbox = Sandbox::start(&[]);
    // Every field api.md documents, `geography` included (AWS says it ignores it).
    let created = sandbox.post(
        "/organization/projects",
        &json!({"name": "Chatbot", "tags": {"Team": "x"}, "data_retention": {"mode": "inherit"}, "geography": "us"}).to_string(),
    );
    assert_eq!(
        created.status,
        200,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let id = created.json()["id"].as_str().unwrap().to_string();
    let path = format!("/organization/projects/{id}");
    let modified = sandbox.post(
        &path,
        &json!({"name": "Chatbot-Prod", "add_tags": {"Owner": "a"}, "remove_tag_keys": ["Team"], "data_retention": {"mode": "inherit"}}).to_string(),
    );
    assert_eq!(
        modified.status,
        200,
        "{}",
        String::from_utf8_lossy(&modified.body)
    );
    assert_eq!(modified.json()["tags"], json!({"Owner": "a"}));

    // `tags` is a create field: sent to modify, it used to answer 200 and change nothing.
    let reply = sandbox.post(&path, &json!({"tags": {"Owner": "b"}}).to_string());
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"error": {
            "message": "Unrecognized request argument supplied: tags. This operation takes name, add_tags, remove_tag_keys, data_retention.",
            "type": "invalid_request_error", "param": null, "code": null}})
    );
    let reply = sandbox.post(
        "/organization/projects",
        &json!({"name": "X", "add_tags": {}, "owner": "me"}).to_string(),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["error"]["message"],
        "Unrecognized request arguments supplied: add_tags, owner. This operation takes name, tags, data_retention, geography."
    );
    // Nothing of a refused request is done.
    assert_eq!(sandbox.get(&path).json()["tags"], json!({"Owner": "a"}));
    let names: Vec<Value> = sandbox.get("/organization/projects").json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, [json!("default"), json!("Chatbot-Prod")]);
}

/// The docs' example of changing tags by hand (`curl -X POST … -d '{…}'` in
/// docs/commands/sandbox.md), sent as written to an emulator seeded like the example: it works,
/// and the plan shows the drift the page says it shows.
#[test]
fn the_docs_curl_example_changes_tags_by_hand() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let section = std::fs::read_to_string(root.join("docs/commands/sandbox.md")).unwrap();
    let command = &section[section.find("curl -s -X POST ").unwrap()..];
    let url = command["curl -s -X POST ".len()..]
        .split_whitespace()
        .next()
        .unwrap();
    let body = command[command.find("-d '").unwrap() + 4..]
        .split('\'')
        .next()
        .unwrap();
    let path = url
        .strip_prefix("http://127.0.0.1:4010/v1")
        .unwrap_or_else(|| panic!("{url}"));
    let seed = root.join("examples/live.json").display().to_string();
    let sandbox = Sandbox::start(&["--seed", &seed]);
    let reply = sandbox.post(path, body);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["tags"]["Owner"], "zoe");

    let plan = crate::support::tagrec()
        .current_dir(root)
        .args(["plan", "-f", "examples/projects.yaml", "--color", "never"])
        .args(["--endpoint", &sandbox.base_url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains(
            "  ~ update \"CustomerChatbot-Prod\" (proj_5d5ykleja6cwpirysbb7)\n      + DataClassification = \"Internal\"           (from defaults)\n      ~ Owner = \"zoe\" -> \"alice\"\n"
        ),
        "{text}"
    );
}
