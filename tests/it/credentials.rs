//! SigV4 credentials from the AWS SDK's chain, end to end: the real binary against the emulator,
//! which checks SigV4 and answers STS (`AssumeRole`, `AssumeRoleWithWebIdentity`) with temporary
//! credentials that it accepts until they expire. AWS config files live in the test's folder;
//! the EC2 instance metadata is off or on a closed loopback port.

use serde_json::{Value, json};

use crate::support::{Account, Workspace, assert_exit, both, project, stderr};

const KEY_ID: &str = "AKIACREDTEST00000001";
const SECRET: &str = "cred/Test+Secret00000000000000000000000";
const ROLE: &str = "arn:aws:iam::222222222222:role/tagrec-deployer";

fn seed() -> Value {
    json!([project(
        "proj_cred00000000000001",
        "Alpha",
        json!({"Team": "a"})
    )])
}

/// The emulator in `region`, checking SigV4 with the static key (and whatever its STS issues).
fn account(region: &str, extra: &[&str]) -> Account {
    let sigv4 = format!("{KEY_ID}:{SECRET}");
    let mut flags = vec!["--sigv4", sigv4.as_str(), "--region", region];
    flags.extend_from_slice(extra);
    Account::start(&seed(), &flags)
}

fn manifest(target: &str) -> String {
    format!("version: 1\ntarget: {target}\nprojects:\n  - name: Alpha\n    tags: {{Team: a}}\n")
}

/// The emulator's root, where STS answers (`POST /`).
fn sts_url(account: &Account) -> String {
    account.sandbox.base_url.trim_end_matches("/v1").to_string()
}

fn operations(account: &Account) -> Vec<Value> {
    account
        .requests()
        .into_iter()
        .filter(|r| r.get("operation").is_some())
        .collect()
}

#[test]
fn a_named_profile_signs_wins_over_bearer_keys_and_gives_its_region() {
    let account = account("eu-west-1", &[]);
    account.ws.write(
        "aws/config",
        "[profile prod]\nregion = eu-west-1\n\n[profile other]\nregion = us-east-1\n",
    );
    account.ws.write(
        "aws/credentials",
        &format!("[prod]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"),
    );
    account.ws.write("projects.yaml", &manifest("{}"));
    let plan = |args: &[&str]| {
        let mut all = vec!["plan", "--detailed-exitcode", "-v"];
        all.extend_from_slice(args);
        account
            .command(Some("a-bearer-key-the-emulator-refuses"), &all)
            .env("AWS_CONFIG_FILE", account.path("aws/config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                account.path("aws/credentials"),
            )
            .output()
            .unwrap()
    };
    // --profile: SigV4 with the profile's keys, in the profile's region; the bearer key is not used.
    let output = plan(&["--profile", "prod"]);
    assert_exit(&output, 0);
    let err = stderr(&output);
    assert!(err.contains("SigV4 credentials from profile prod"), "{err}");
    assert!(err.contains("region eu-west-1"), "{err}");
    assert!(
        err.contains("bearer keys in the environment are not used"),
        "{err}"
    );
    // target.profile does the same from the manifest.
    account
        .ws
        .write("projects.yaml", &manifest("{profile: prod}"));
    assert_exit(&plan(&[]), 0);
    // A profile that does not exist is named, not skipped.
    let output = plan(&["--profile", "nosuch"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("nosuch"), "{}", both(&output));
}

#[test]
fn web_identity_from_a_token_file_is_exchanged_at_the_sts_endpoint() {
    let account = account("us-east-1", &[]);
    account
        .ws
        .write("projects.yaml", &manifest("{region: us-east-1}"));
    account.ws.write("oidc-token", "header.payload.signature\n");
    let output = account
        .command(None, &["plan", "--detailed-exitcode"])
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", account.path("oidc-token"))
        .env("AWS_ROLE_ARN", ROLE)
        .env("AWS_ROLE_SESSION_NAME", "ci-run-1")
        .env("AWS_ENDPOINT_URL_STS", sts_url(&account))
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let calls = operations(&account);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["operation"], "AssumeRoleWithWebIdentity");
    assert_eq!(calls[0]["role_arn"], ROLE);
    // The plan's list was signed with the issued credentials (the emulator checks SigV4).
    let lists = account
        .requests()
        .iter()
        .filter(|r| r["method"] == "GET")
        .count();
    assert!(lists >= 1);
}

#[test]
fn the_manifests_role_is_assumed_with_the_chains_credentials_and_its_external_id() {
    let account = account("us-east-1", &[]);
    account.ws.write(
        "projects.yaml",
        &manifest(&format!(
            "{{region: us-east-1, role_arn: '{ROLE}', external_id: ext-2024}}"
        )),
    );
    let output = account
        .command(None, &["plan", "--detailed-exitcode", "-v"])
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_ENDPOINT_URL", sts_url(&account))
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let calls = operations(&account);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["operation"], "AssumeRole");
    assert_eq!(
        calls[0]["status"], 200,
        "signed with the chain's keys: {calls:?}"
    );
    assert_eq!(calls[0]["external_id"], "ext-2024");
    let err = stderr(&output);
    assert!(err.contains(&format!("role {ROLE}")), "{err}");
    assert!(!err.contains(SECRET), "{err}");

    // Refused by STS (keys it does not know): the error names the role, and nothing is listed.
    let refused = account
        .command(None, &["plan"])
        .env("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000")
        .env("AWS_SECRET_ACCESS_KEY", "wrong-secret")
        .env("AWS_ENDPOINT_URL_STS", sts_url(&account))
        .output()
        .unwrap();
    assert_exit(&refused, 1);
    assert!(stderr(&refused).contains(ROLE), "{}", both(&refused));
}

#[test]
fn credentials_that_expire_during_an_apply_are_fetched_again() {
    // STS credentials last 3 s; the apply takes longer (one change at a time, 300 ms each).
    let account = account("us-east-1", &["--sts-duration", "3", "--latency-ms", "300"]);
    let mut text = manifest(&format!("{{region: us-east-1, role_arn: '{ROLE}'}}"));
    for i in 0..14 {
        text.push_str(&format!("  - name: Slow-{i:02}\n    tags: {{Team: s}}\n"));
    }
    account.ws.write("projects.yaml", &text);
    let output = account
        .command(
            None,
            &[
                "apply",
                "--auto-approve",
                "--concurrency",
                "1",
                "--settle-ms",
                "200",
            ],
        )
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_ENDPOINT_URL_STS", sts_url(&account))
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let assumed = operations(&account)
        .iter()
        .filter(|r| r["operation"] == "AssumeRole")
        .count();
    assert!(assumed >= 2, "the role was assumed again: {assumed}");
    // Every project request was accepted: none went out with expired credentials.
    let refused: Vec<Value> = account
        .requests()
        .into_iter()
        .filter(|r| r["status"] == 401)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    let created = account
        .requests()
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/organization/projects")
        .filter(|r| r["status"] == 200)
        .count();
    assert_eq!(created, 14, "{}", both(&output));
}

#[test]
fn nothing_configured_against_aws_says_what_was_tried_without_waiting() {
    let ws = Workspace::new();
    ws.write("projects.yaml", &manifest("{region: us-east-1}"));
    // The instance metadata on a closed loopback port: looked at, not found.
    let output = ws
        .tagrec(&["plan"])
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("no credentials found for https://bedrock-mantle.us-east-1.api.aws/v1"),
        "{err}"
    );
    for source in [
        "bearer keys",
        "the environment (AWS_ACCESS_KEY_ID)",
        "the default profile",
        "web identity",
        "container credentials",
        "OPENAI_API_KEY",
        "EC2 instance metadata",
    ] {
        assert!(err.contains(source), "names {source}: {err}");
    }
}

#[test]
fn forced_sigv4_with_nothing_configured_fails_even_on_loopback() {
    let account = account("us-east-1", &[]);
    account
        .ws
        .write("projects.yaml", &manifest("{region: us-east-1}"));
    let output = account
        .command(Some("a-bearer-key"), &["plan", "--auth", "sigv4"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("no AWS credentials found; tried:"),
        "{}",
        both(&output)
    );
    assert!(account.requests().is_empty(), "nothing was sent");
}
