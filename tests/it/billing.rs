//! `tagrec billing` through the binary against the emulator's Cost Explorer (`sandbox serve
//! --costs`, or a manifest's embedded sandbox): each exit code, the member-account refusal,
//! batches of 20, paging past 100 keys, backfills.

use serde_json::{Value, json};

use crate::support::{Sandbox, Workspace, assert_exit, both, read_log, stderr, stdout};

/// A workspace whose manifest targets the embedded sandbox with spend on Alpha only: its keys
/// are seen (CostCenter active, Team inactive); Beta's own key `Budget` is not.
fn embedded() -> Workspace {
    let ws = Workspace::new();
    ws.write(
        "live.json",
        &json!([
            {"id": "proj_alpha00000000000001", "name": "Alpha", "tags": {"CostCenter": "CC-1", "Team": "a"}},
            {"id": "proj_beta000000000000001", "name": "Beta", "tags": {"CostCenter": "CC-2", "Budget": "b"}}
        ])
        .to_string(),
    );
    ws.write(
        "costs.json",
        &json!([
            {"date": "2026-11-02", "service": "Amazon Bedrock", "project_id": "proj_alpha00000000000001", "amount": "1.50"}
        ])
        .to_string(),
    );
    ws.write(
        "projects.yaml",
        "version: 1\ntarget:\n  sandbox: {state: .tagrec/state.json, seed: live.json, costs: costs.json, active_cost_tags: [CostCenter]}\nprojects:\n  - name: Alpha\n    tags: {CostCenter: CC-1, Team: a}\n  - name: Beta\n    tags: {CostCenter: CC-2, Budget: b}\n",
    );
    ws
}

fn status(ws: &Workspace, args: &[&str]) -> std::process::Output {
    let mut all = vec!["billing", "status"];
    all.extend_from_slice(args);
    ws.tagrec(&all).output().unwrap()
}

#[test]
fn status_says_active_inactive_and_not_seen_and_detailed_exitcode_gives_2() {
    let ws = embedded();
    let output = status(&ws, &["--format", "json"]);
    assert_exit(&output, 0);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["format_version"], "1");
    let keys: Vec<(String, String)> = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key"].as_str().unwrap().into(),
                k["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("Budget".into(), "not-seen".into()),
            ("CostCenter".into(), "active".into()),
            ("Team".into(), "inactive".into()),
        ]
    );
    assert_exit(&status(&ws, &["--detailed-exitcode"]), 2);
    let text = stdout(&status(&ws, &[]));
    assert!(
        text.contains("1 of 3 keys active, 1 inactive, 1 not seen by Billing yet."),
        "{text}"
    );
    assert!(text.contains("Not seen (Budget): "), "{text}");
}

#[test]
fn activate_asks_then_activates_and_reports_each_key_billing_refused() {
    let ws = embedded();
    // No terminal and no --auto-approve: nothing is changed.
    let refused = ws.tagrec(&["billing", "activate"]).output().unwrap();
    assert_exit(&refused, 1);
    assert!(stdout(&refused).contains("+ Team"), "{}", both(&refused));
    assert!(
        stderr(&refused).contains("--auto-approve"),
        "{}",
        both(&refused)
    );
    let json: Value = serde_json::from_str(&stdout(&status(&ws, &["--format", "json"]))).unwrap();
    assert_eq!(
        json["keys"][2],
        json!({"key": "Team", "status": "inactive", "last_used": "2026-11-01T00:00:00Z"})
    );

    let output = ws
        .tagrec(&["billing", "activate", "--auto-approve"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(text.contains("activated Team"), "{text}");
    assert!(
        text.contains("FAILED to activate Budget (TagKeysNotFoundException"),
        "{text}"
    );
    assert!(
        text.contains("send an inference request with the id of a project that carries it"),
        "{text}"
    );
    assert!(
        text.contains("Activation: 1 activated, 1 failed, 1 already active."),
        "{text}"
    );
    // Kept in the sandbox's state: Team is active now, and nothing was deactivated.
    let json: Value = serde_json::from_str(&stdout(&status(&ws, &["--format", "json"]))).unwrap();
    let active: Vec<&str> = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] == "active")
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(active, ["CostCenter", "Team"]);
}

/// An emulator with one project carrying `keys` tags and spend, and its request log.
fn many_keys(keys: usize, flags: &[&str]) -> (Workspace, Sandbox) {
    let ws = Workspace::new();
    let tags: serde_json::Map<String, Value> = (0..keys)
        .map(|i| (format!("Key{i:03}"), json!("v")))
        .collect();
    ws.write(
        "seed.json",
        &json!([{"id": "proj_many0000000000000001", "name": "Many", "tags": tags}]).to_string(),
    );
    ws.write(
        "costs.json",
        &json!([{"date": "2026-11-02", "service": "Amazon Bedrock", "project_id": "proj_many0000000000000001", "amount": "1"}]).to_string(),
    );
    let seed = ws.path("seed.json").display().to_string();
    let costs = ws.path("costs.json").display().to_string();
    let log = ws.path("requests.jsonl").display().to_string();
    let mut args = vec!["--seed", &seed, "--costs", &costs, "--request-log", &log];
    args.extend_from_slice(flags);
    let sandbox = Sandbox::start(&args);
    let tags_yaml: Vec<String> = (0..keys).map(|i| format!("Key{i:03}: v")).collect();
    ws.write(
        "projects.yaml",
        &format!(
            "version: 1\ntarget: {{region: us-east-1}}\nprojects:\n  - name: Many\n    tags: {{{}}}\n",
            tags_yaml.join(", ")
        ),
    );
    (ws, sandbox)
}

fn operations(ws: &Workspace, operation: &str) -> usize {
    read_log(&ws.path("requests.jsonl"))
        .iter()
        .filter(|r| r["operation"] == operation)
        .count()
}

fn billing(ws: &Workspace, sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    let root = sandbox.base_url.trim_end_matches("/v1").to_string();
    let mut all = vec!["billing"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--billing-endpoint", &root]);
    ws.tagrec(&all).output().unwrap()
}

#[test]
fn keys_are_listed_100_at_a_time_and_activated_20_at_a_time() {
    let (ws, sandbox) = many_keys(150, &[]);
    let output = billing(&ws, &sandbox, &["status", "--format", "json"]);
    assert_exit(&output, 0);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["keys"].as_array().unwrap().len(), 150);
    assert!(
        json["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["status"] == "inactive")
    );
    assert_eq!(
        operations(&ws, "ListCostAllocationTags"),
        2,
        "150 keys: 2 chunks of at most 100"
    );

    let output = billing(&ws, &sandbox, &["activate", "--auto-approve"]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("Activation: 150 activated, 0 failed, 0 already active."),
        "{}",
        both(&output)
    );
    assert_eq!(
        operations(&ws, "UpdateCostAllocationTagsStatus"),
        8,
        "150 keys: 8 batches of at most 20"
    );
    let output = billing(&ws, &sandbox, &["status", "--detailed-exitcode"]);
    assert_exit(&output, 0);
}

#[test]
fn a_member_account_is_told_to_use_the_payer_accounts_credentials() {
    let (ws, sandbox) = many_keys(3, &["--linked-account"]);
    for args in [&["status"][..], &["activate", "--auto-approve"]] {
        let output = billing(&ws, &sandbox, args);
        assert_exit(&output, 1);
        let err = stderr(&output);
        assert!(
            err.contains("Linked account doesn't have access to cost allocation tags"),
            "{err}"
        );
        assert!(err.contains("management (payer) account"), "{err}");
        assert!(err.contains("--profile PAYER"), "{err}");
    }
}

#[test]
fn backfill_checks_the_month_then_asks_billing_once_a_day() {
    let (ws, sandbox) = many_keys(3, &[]);
    let today = time::OffsetDateTime::now_utc().date();
    let this_month = format!("{:04}-{:02}", today.year(), u8::from(today.month()));
    let far = format!("{:04}-{:02}", today.year() - 2, u8::from(today.month()));
    let output = billing(
        &ws,
        &sandbox,
        &["backfill", "--from", &far, "--auto-approve"],
    );
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("more than 12 months back"),
        "{}",
        both(&output)
    );
    assert_eq!(
        operations(&ws, "StartCostAllocationTagBackfill"),
        0,
        "refused before asking"
    );

    let output = billing(
        &ws,
        &sandbox,
        &["backfill", "--from", &this_month, "--auto-approve"],
    );
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "Backfill from {this_month}-01T00:00:00Z requested"
        )),
        "{text}"
    );
    assert!(text.contains("PROCESSING"), "{text}");

    let again = billing(
        &ws,
        &sandbox,
        &["backfill", "--from", &this_month, "--auto-approve"],
    );
    assert_exit(&again, 1);
    assert!(
        stderr(&again).contains("BackfillLimitExceededException"),
        "{}",
        both(&again)
    );
}

#[test]
fn a_wrong_billing_endpoint_or_missing_keys_say_what_to_change() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        "version: 1\ntarget: {region: us-east-1}\nprojects:\n  - name: Search\n    tags: {Team: search}\n",
    );
    let sandbox = Sandbox::start(&["--sigv4", "AKIDBILLING:billing-secret"]);
    // The projects API's URL, not Cost Explorer's (the emulator's root).
    let output = ws
        .tagrec(&["billing", "status", "--billing-endpoint", &sandbox.base_url])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("Cost Explorer refused the request (HTTP 4")
            && stderr(&output)
                .contains("answered without a Cost Explorer error: is it Cost Explorer's URL?"),
        "{}",
        both(&output)
    );
    let root = sandbox.base_url.trim_end_matches("/v1").to_string();
    let output = ws
        .tagrec(&["billing", "status", "--billing-endpoint", &root])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains(
            "tagrec found no AWS credentials and signed with placeholder keys; give the ones this server takes"
        ),
        "{}",
        both(&output)
    );
    let output = ws
        .tagrec(&["billing", "status", "--billing-endpoint", &root])
        .env("AWS_ACCESS_KEY_ID", "AKIDBILLING")
        .env("AWS_SECRET_ACCESS_KEY", "billing-secret")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let output = ws
        .tagrec(&["billing", "status", "--billing-endpoint", "not-a-url"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--billing-endpoint (or TAGREC_BILLING_ENDPOINT) `not-a-url` is not a URL: give Cost Explorer's"),
        "{}",
        both(&output)
    );
}

#[test]
fn a_batch_that_fails_after_others_went_through_names_the_keys_sent() {
    let ws = Workspace::new();
    let tags: Vec<String> = (0..25).map(|i| format!("K{i:02}: v")).collect();
    ws.write(
        "projects.yaml",
        &format!(
            "version: 1\ntarget: {{region: us-east-1}}\nprojects:\n  - name: A\n    tags: {{{}}}\n",
            tags.join(", ")
        ),
    );
    ws.write(
        "costs.json",
        r#"[{"date": "2026-11-01", "service": "Amazon Bedrock", "project_id": "proj_a", "amount": "1"}]"#,
    );
    // With this seed the first batch of 20 goes through and the second fails every attempt.
    let costs = ws.path("costs.json").display().to_string();
    let sandbox = Sandbox::start(&["--costs", &costs, "--fail-rate", "0.5", "--fault-seed", "1"]);
    let root = sandbox.base_url.trim_end_matches("/v1").to_string();
    let output = ws
        .tagrec(&[
            "billing",
            "activate",
            "--auto-approve",
            "--billing-endpoint",
            &root,
        ])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains(
            "the batches before this one were sent (K00, K01, K02, K03, K04, K05, K06, K07, K08, K09, K10, K11, K12, K13, K14, K15, K16, K17, K18, K19); the rest were not"
        ),
        "{}",
        both(&output)
    );
}

#[test]
fn billing_and_costs_take_the_region_every_command_that_talks_to_a_target_takes() {
    let ws = embedded();
    let flag = status(&ws, &["--region", "eu-west-1"]);
    assert_exit(&flag, 0);
    let env = ws
        .tagrec(&["costs", "--by", "CostCenter", "--format", "json"])
        .env("TAGREC_REGION", "eu-west-1")
        .output()
        .unwrap();
    assert_exit(&env, 0);
    // Cost Explorer answered all the same: its region is its own.
    let json: Value = serde_json::from_str(&stdout(&env)).unwrap();
    assert_eq!(json["by"], "CostCenter", "{json}");
}
