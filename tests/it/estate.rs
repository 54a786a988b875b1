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
