//! Many manifests in one run: `-f` repeated and with globs, `--changed-since` in a real git
//! repository, and `tagrec manifests` for a CI matrix.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{Workspace, assert_exit, stderr, stdout};

const MANIFEST: &str =
    "version: 1\ntarget: {region: us-east-1}\nprojects:\n  - name: A\n    tags: {Team: a}\n";

/// accounts/<name>/<region>.yaml, as the README's estate layout has it.
fn estate() -> Workspace {
    let ws = Workspace::new();
    for file in [
        "accounts/prod/us-east-1.yaml",
        "accounts/prod/eu-west-1.yaml",
        "accounts/dev/us-east-1.yaml",
    ] {
        ws.write(file, MANIFEST);
    }
    ws
}

fn list(ws: &Workspace, args: &[&str]) -> Value {
    let mut all = vec!["manifests", "--format", "json"];
    all.extend_from_slice(args);
    let output = ws.tagrec(&all).output().unwrap();
    assert_exit(&output, 0);
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn globs_expand_sorted_and_repeated_files_keep_their_order() {
    let ws = estate();
    assert_eq!(
        list(&ws, &["-f", "accounts/*/*.yaml"]),
        json!({"manifests": [
            "accounts/dev/us-east-1.yaml",
            "accounts/prod/eu-west-1.yaml",
            "accounts/prod/us-east-1.yaml"
        ]})
    );
    assert_eq!(
        list(
            &ws,
            &[
                "-f",
                "accounts/prod/us-east-1.yaml",
                "-f",
                "accounts/dev/*.yaml",
                "-f",
                "./accounts/prod/us-east-1.yaml"
            ]
        ),
        json!({"manifests": ["accounts/prod/us-east-1.yaml", "accounts/dev/us-east-1.yaml"]}),
        "a file named twice is listed once"
    );
}

#[test]
fn a_glob_that_matches_nothing_is_an_error_naming_it() {
    let ws = estate();
    let output = ws
        .tagrec(&["manifests", "-f", "acounts/*.yaml"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("-f 'acounts/*.yaml' matches no file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_github_matrix_is_one_line_of_include_entries() {
    let ws = estate();
    let output = ws
        .tagrec(&[
            "manifests",
            "-f",
            "accounts/prod/*.yaml",
            "--format",
            "github-matrix",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"include": [
            {"manifest": "accounts/prod/eu-west-1.yaml"},
            {"manifest": "accounts/prod/us-east-1.yaml"}
        ]})
    );
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn changed_since_keeps_the_manifests_whose_files_changed() {
    let ws = estate();
    ws.write("policies/common.yaml", "$defs: {team: {type: string}}\n");
    ws.write(
        "policies/tags.yaml",
        "properties: {tags: {properties: {Team: {$ref: common.yaml#/$defs/team}}}}\n",
    );
    ws.write(
        "accounts/prod/us-east-1.yaml",
        &MANIFEST.replace("projects:", "policy: ../../policies/tags.yaml\nprojects:"),
    );
    ws.write("accounts/dev/live.json", "[]");
    ws.write(
        "accounts/dev/us-east-1.yaml",
        &MANIFEST.replace(
            "target: {region: us-east-1}",
            "target: {sandbox: {state: .tagrec/s.json, seed: live.json}}",
        ),
    );
    let root = ws.root();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "estate"]);
    git(root, &["checkout", "-q", "-b", "change"]);
    let changed =
        |ws: &Workspace| list(ws, &["-f", "accounts/*/*.yaml", "--changed-since", "main"]);

    assert_eq!(
        changed(&ws),
        json!({"manifests": []}),
        "nothing changed yet"
    );

    // A file a policy's $ref names: the manifest using that policy.
    ws.write(
        "policies/common.yaml",
        "$defs: {team: {type: string, minLength: 2}}\n",
    );
    assert_eq!(
        changed(&ws),
        json!({"manifests": ["accounts/prod/us-east-1.yaml"]})
    );
    git(root, &["commit", "-q", "-am", "policy"]);
    assert_eq!(
        changed(&ws),
        json!({"manifests": ["accounts/prod/us-east-1.yaml"]}),
        "committed on the branch: still changed since main"
    );

    // A sandbox seed: its manifest. A manifest itself: that one.
    ws.write("accounts/dev/live.json", "[ ]");
    ws.write(
        "accounts/prod/eu-west-1.yaml",
        &format!("{MANIFEST}# edited\n"),
    );
    assert_eq!(
        changed(&ws),
        json!({"manifests": [
            "accounts/dev/us-east-1.yaml",
            "accounts/prod/eu-west-1.yaml",
            "accounts/prod/us-east-1.yaml"
        ]})
    );
}

#[test]
fn a_manifest_that_cannot_be_read_is_kept_by_changed_since() {
    // Broken and unchanged: it must fail loudly in the run, not be left out of it.
    let ws = estate();
    ws.write("accounts/dev/us-east-1.yaml", "version: [1\n");
    git(ws.root(), &["init", "-q", "-b", "main"]);
    git(ws.root(), &["add", "-A"]);
    git(ws.root(), &["commit", "-q", "-m", "estate"]);
    let listed = list(
        &ws,
        &["-f", "accounts/dev/*.yaml", "--changed-since", "main"],
    );
    assert_eq!(
        listed,
        json!({"manifests": ["accounts/dev/us-east-1.yaml"]})
    );
}

#[test]
fn changed_since_outside_git_or_with_an_unknown_ref_says_why() {
    let ws = estate();
    let output = ws
        .tagrec(&[
            "manifests",
            "-f",
            "accounts/*/*.yaml",
            "--changed-since",
            "main",
        ])
        .env("GIT_CEILING_DIRECTORIES", ws.root().parent().unwrap())
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("git repository"),
        "{}",
        stderr(&output)
    );

    git(ws.root(), &["init", "-q", "-b", "main"]);
    git(ws.root(), &["add", "-A"]);
    git(ws.root(), &["commit", "-q", "-m", "estate"]);
    let output = ws
        .tagrec(&["manifests", "--changed-since", "origin/main"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--changed-since origin/main"),
        "{}",
        stderr(&output)
    );
}

// ---- validate and audit over several manifests ----

const POLICY: &str = "type: object\nproperties:\n  tags:\n    type: object\n    required: [Team]\n";

fn account_manifest(endpoint: &str) -> String {
    format!(
        "version: 1\ntarget: {{endpoint: '{endpoint}'}}\npolicy: ../../policy.yaml\nprojects:\n  - name: A\n    tags: {{Team: a}}\n"
    )
}

#[test]
fn validate_checks_each_manifest_and_one_broken_one_fails_the_run() {
    let ws = estate();
    ws.write(
        "accounts/dev/us-east-1.yaml",
        "version: 1\nprojects:\n  - name: A\n    tags: {Team: }\n",
    );
    let output = ws
        .tagrec(&["validate", "-f", "accounts/*/*.yaml"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let text = stdout(&output);
    for header in [
        "== accounts/dev/us-east-1.yaml ==",
        "== accounts/prod/eu-west-1.yaml ==",
        "== accounts/prod/us-east-1.yaml ==",
    ] {
        assert!(text.contains(header), "{header}:\n{text}");
    }
    assert!(
        text.contains("accounts/prod/eu-west-1.yaml is valid: 1 project"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("Estate: 3 manifests, 2 valid, 1 failed."),
        "{text}"
    );

    let output = ws
        .tagrec(&["validate", "-f", "accounts/*/*.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["format_version"], "1");
    assert_eq!(
        json["summary"],
        json!({"manifests": 3, "failed": 1, "valid": 2})
    );
    let dev = &json["manifests"][0];
    assert_eq!(dev["manifest"], "accounts/dev/us-east-1.yaml");
    assert_eq!(dev["ok"], false);
    assert!(dev["error"].as_str().unwrap().contains("1 error"), "{dev}");
    assert_eq!(dev["validate"][0]["line"], 4, "{dev}");
    assert_eq!(json["manifests"][1]["ok"], true);
    assert_eq!(json["manifests"][1]["validate"], json!([]));

    let output = ws
        .tagrec(&["validate", "-f", "accounts/*/*.yaml", "--format", "github"])
        .output()
        .unwrap();
    assert!(
        stdout(&output).contains("::error file=accounts/dev/us-east-1.yaml,line=4"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn audit_runs_every_account_and_one_that_fails_stops_no_other() {
    let ws = estate();
    ws.write("policy.yaml", POLICY);
    let good = crate::support::Sandbox::start(&[
        "--seed",
        ws.write(
            "good.json",
            &json!([
                {"id": "proj_good0000000000000001", "name": "A", "tags": {"Team": "a"}},
                {"id": "proj_good0000000000000002", "name": "Shadow", "tags": {}}
            ])
            .to_string(),
        )
        .to_str()
        .unwrap(),
    ]);
    ws.write(
        "accounts/prod/us-east-1.yaml",
        &account_manifest(&good.base_url),
    );
    // Nothing listens on port 9: this account cannot be reached.
    ws.write(
        "accounts/prod/eu-west-1.yaml",
        &account_manifest("http://127.0.0.1:9/v1"),
    );
    ws.write(
        "accounts/dev/us-east-1.yaml",
        &account_manifest(&good.base_url),
    );
    let output = ws
        .tagrec(&[
            "audit",
            "-f",
            "accounts/*/*.yaml",
            "--format",
            "json",
            "--jobs",
            "2",
        ])
        .env("TAGREC_API_KEY", "k")
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["summary"]["manifests"], 3);
    assert_eq!(json["summary"]["failed"], 1);
    let by_file = |file: &str| {
        json["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["manifest"] == file)
            .cloned()
            .unwrap()
    };
    let unreachable = by_file("accounts/prod/eu-west-1.yaml");
    assert_eq!(unreachable["ok"], false);
    assert!(
        unreachable["error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:9"),
        "{unreachable}"
    );
    let reached = by_file("accounts/prod/us-east-1.yaml");
    assert_eq!(reached["ok"], true);
    assert_eq!(reached["audit"]["summary"]["projects"], 2);
    assert_eq!(reached["audit"]["summary"]["compliant"], 1);

    // The text form: a header per account with its target, the summary last.
    let output = ws
        .tagrec(&[
            "audit",
            "-f",
            "accounts/prod/us-east-1.yaml",
            "-f",
            "accounts/dev/us-east-1.yaml",
        ])
        .env("TAGREC_API_KEY", "k")
        .output()
        .unwrap();
    assert_exit(&output, 2);
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "== accounts/prod/us-east-1.yaml ({}) ==",
            good.base_url
        )),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("Estate: 2 manifests, 4 projects, 2 compliant, 0 failed."),
        "{text}"
    );
    // CSV names the manifest of each row.
    let output = ws
        .tagrec(&[
            "audit",
            "-f",
            "accounts/prod/us-east-1.yaml",
            "-f",
            "accounts/dev/us-east-1.yaml",
            "--format",
            "csv",
        ])
        .env("TAGREC_API_KEY", "k")
        .output()
        .unwrap();
    let csv = stdout(&output);
    assert!(
        csv.starts_with("manifest,name,id,managed,rule,message\r\n"),
        "{csv}"
    );
    assert!(csv.contains("accounts/dev/us-east-1.yaml,Shadow,"), "{csv}");
}

#[test]
fn an_endpoint_for_several_manifests_is_refused() {
    let ws = estate();
    let output = ws
        .tagrec(&[
            "audit",
            "-f",
            "accounts/*/*.yaml",
            "--endpoint",
            "http://127.0.0.1:9/v1",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--endpoint (or TAGREC_ENDPOINT) names one account"),
        "{}",
        stderr(&output)
    );
}
