//! Which account a command talks to, and in which region: `--region` and TAGREC_REGION first,
//! a region only where it matters (building the URL, signing with SigV4), and a host that does
//! not resolve reported at once. The real binary against the real emulator.

use serde_json::{Value, json};

use crate::support::{Account, Workspace, assert_exit, both, project, stderr, stdout};

const KEY: &str = "region-test-key";
const ACCESS_KEY_ID: &str = "AKIAREGIONTEST000001";
const SECRET: &str = "region/Test+Secret000000000000000000000";

fn seed() -> Value {
    json!([project(
        "proj_region0000000000001",
        "Alpha",
        json!({"Team": "a"})
    )])
}

const NO_REGION: &str = "version: 1\ntarget: {}\nprojects:\n  - name: Alpha\n    tags: {Team: a}\n";

#[test]
fn an_endpoint_with_a_bearer_key_needs_no_region_and_the_plan_records_null() {
    let account = Account::start(&seed(), &["--api-key", KEY]);
    account.ws.write("projects.yaml", NO_REGION);
    let output = account.run(Some(KEY), &["plan", "--out", "plan.json"]);
    assert_exit(&output, 0);
    let plan: Value = serde_json::from_str(&account.ws.read("plan.json")).unwrap();
    assert_eq!(plan["target"]["region"], Value::Null, "{plan}");
    assert_eq!(plan["format_version"], "1");

    // The saved plan applies against the same endpoint, still without a region.
    let applied = account.run(Some(KEY), &["apply", "plan.json"]);
    assert_exit(&applied, 0);
}

#[test]
fn import_from_an_endpoint_in_the_environment_needs_no_region() {
    let account = Account::start(&seed(), &["--api-key", KEY]);
    let output = account
        .ws
        .tagrec(&["import", "--out", "-"])
        .env("TAGREC_ENDPOINT", &account.sandbox.base_url)
        .env("TAGREC_API_KEY", KEY)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("name: Alpha"), "{text}");
    assert!(!text.contains("region:"), "no region was used: {text}");
}

#[test]
fn sigv4_without_a_region_says_where_to_set_one() {
    let account = Account::start(&seed(), &[]);
    account.ws.write("projects.yaml", NO_REGION);
    let output = account
        .command(None, &["plan"])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("SigV4 signs for a region"), "{err}");
    assert!(err.contains("--region"), "{err}");
    assert!(account.requests().is_empty(), "nothing was sent");
}

#[test]
fn region_flag_and_tagrec_region_come_before_the_manifest_and_aws_region() {
    // The emulator checks SigV4 for eu-west-1; the manifest and AWS_REGION say us-east-1.
    let sigv4 = format!("{ACCESS_KEY_ID}:{SECRET}");
    let account = Account::start(&seed(), &["--sigv4", &sigv4, "--region", "eu-west-1"]);
    account.ws.write(
        "projects.yaml",
        &NO_REGION.replace("target: {}", "target: {region: us-east-1}"),
    );
    let plan = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["plan", "--detailed-exitcode"];
        args.extend_from_slice(extra);
        let mut command = account.command(None, &args);
        command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let signed_for_manifest = plan(&[], &[]);
    assert_exit(&signed_for_manifest, 1);
    assert!(
        stderr(&signed_for_manifest).contains("401"),
        "{}",
        both(&signed_for_manifest)
    );
    assert_exit(&plan(&["--region", "eu-west-1"], &[]), 0);
    assert_exit(&plan(&[], &[("TAGREC_REGION", "eu-west-1")]), 0);
    // The flag wins over the variable.
    assert_exit(
        &plan(
            &["--region", "eu-west-1"],
            &[("TAGREC_REGION", "us-east-1")],
        ),
        0,
    );
}

#[test]
fn a_bad_region_names_where_it_came_from() {
    let ws = Workspace::new();
    ws.write("projects.yaml", NO_REGION);
    let output = ws
        .tagrec(&["plan", "--region", "us east 1"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("--region or TAGREC_REGION"), "{err}");
}

#[test]
fn a_sandbox_without_a_region_is_in_us_east_1() {
    let ws = Workspace::new();
    ws.write("live.json", &seed().to_string());
    ws.write(
        "projects.yaml",
        "version: 1\ntarget:\n  sandbox: {state: .tagrec/state.json, seed: live.json}\nprojects:\n  - name: Beta\n    tags: {Team: b}\n",
    );
    let output = ws
        .tagrec(&["apply", "--auto-approve", "--format", "json"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let state: Value = serde_json::from_str(&ws.read(".tagrec/state.json")).unwrap();
    let beta = state["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Beta")
        .cloned()
        .unwrap();
    assert!(
        beta["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:bedrock-mantle:us-east-1:"),
        "{beta}"
    );
}

#[test]
fn a_host_that_does_not_resolve_is_reported_at_once_not_retried() {
    let ws = Workspace::new();
    ws.write("projects.yaml", NO_REGION);
    // `.invalid` never resolves (RFC 6761).
    let output = ws
        .tagrec(&[
            "plan",
            "--endpoint",
            "https://bedrock-mantle.nowhere.invalid/v1",
        ])
        .env("TAGREC_API_KEY", KEY)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("the host bedrock-mantle.nowhere.invalid does not resolve"),
        "{err}"
    );
    assert!(err.contains("check the region"), "{err}");
    assert!(!err.contains("attempts"), "not retried: {err}");
}
