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
        json!({"name": "Fraud-Prod", "tags": {"Team": "Risk", "Legacy": "yes"}, "extra": 1}),
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
