//! `tagrec validate` as a user runs it: the real binary on files in a temporary folder. Every bad
//! input of the issue gets exit 1 and a problem placed at file:line:column; the four output
//! formats are pinned by snapshots.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn tagrec(dir: &Path, args: &[&str]) -> Run {
    let output = Command::cargo_bin("tagrec")
        .unwrap_or_else(|e| panic!("no tagrec binary: {e}"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tagrec: {e}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A folder holding `projects.yaml` (and any other files), plus the example policy beside it.
fn folder(manifest: &[u8], others: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::write(dir.path().join("projects.yaml"), manifest).unwrap_or_else(|e| panic!("{e}"));
    for policy in ["required-tags.yaml", "common.yaml"] {
        std::fs::copy(
            repo().join("policies").join(policy),
            dir.path().join(policy),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    for (name, text) in others {
        std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

/// Runs `validate --format json` and returns the exit code and the problems.
fn problems(dir: &Path) -> (i32, Vec<Value>) {
    let run = tagrec(dir, &["validate", "--format", "json"]);
    let parsed: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    let list = parsed.as_array().cloned().unwrap_or_default();
    (run.code, list)
}

/// Asserts exit 1 and a problem of `rule` at `line:column` whose message contains `says`.
fn expect(manifest: &str, rule: &str, line: u64, column: u64, says: &str) {
    expect_bytes(manifest.as_bytes(), &[], rule, line, column, says);
}

fn expect_bytes(
    manifest: &[u8],
    others: &[(&str, &[u8])],
    rule: &str,
    line: u64,
    column: u64,
    says: &str,
) {
    let dir = folder(manifest, others);
    let (code, list) = problems(dir.path());
    assert_eq!(code, 1, "exit code; problems: {list:#?}");
    let found = list.iter().any(|p| {
        p["rule"] == rule
            && p["line"] == line
            && p["column"] == column
            && p["message"].as_str().is_some_and(|m| m.contains(says))
    });
    assert!(
        found,
        "no `{rule}` at {line}:{column} saying {says:?}; got {list:#?}"
    );
}

const GOOD_PROJECT: &str = "  - name: Search-Prod\n    tags: {Application: Search, Environment: Staging, Team: Discovery, CostCenter: CC-3300, Owner: dmitri}\n";

fn with_projects(head: &str, projects: &str) -> String {
    format!("version: 1\n{head}projects:\n{projects}")
}

#[test]
fn the_example_is_valid() {
    let run = tagrec(&repo(), &["validate", "-f", "examples/projects.yaml"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "examples/projects.yaml is valid: 12 projects\n");
    let (code, list) = problems_of(&repo(), "examples/projects.yaml");
    assert_eq!((code, list.len()), (0, 0));
}

fn problems_of(dir: &Path, manifest: &str) -> (i32, Vec<Value>) {
    let run = tagrec(dir, &["validate", "-f", manifest, "--format", "json"]);
    let parsed: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    (run.code, parsed.as_array().cloned().unwrap_or_default())
}

#[test]
fn tab_indentation() {
    expect("version: 1\nprojects:\n\t- name: A\n", "yaml", 3, 2, "tab");
}

#[test]
fn unclosed_quote() {
    expect(
        "version: 1\nprojects:\n  - name: \"A\n    tags: {}\n",
        "yaml",
        3,
        11,
        "invalid YAML",
    );
}

#[test]
fn bare_colon() {
    let text = with_projects("", &format!("{GOOD_PROJECT}  - : x\n"));
    expect(&text, "unknown-key", 5, 5, "unknown key");
}

#[test]
fn duplicate_keys_also_when_one_is_quoted() {
    expect(
        "version: 1\n\"version\": 1\nprojects: []\n",
        "duplicate-key",
        2,
        1,
        "duplicate key `version`",
    );
    let text = with_projects(
        "",
        "  - name: A\n    tags: {Application: a, \"Application\": b}\n",
    );
    expect(&text, "duplicate-key", 4, 28, "first at line 4, column 12");
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let dir = folder(b"version: 1\nprojcts: []\n", &[]);
    let run = tagrec(dir.path(), &["validate"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("error[unknown-key]: unknown key `projcts` in the manifest"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("help: did you mean `projects`?"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("--> projects.yaml:2:1"),
        "{}",
        run.stdout
    );
}

#[test]
fn tags_as_a_list() {
    let text = with_projects("", "  - name: A\n    tags: [Application, Team]\n");
    expect(&text, "type", 4, 11, "tags must be a mapping");
}

#[test]
fn tag_value_mapping_sequence_or_null() {
    let text = with_projects(
        "",
        "  - name: A\n    tags:\n      Owner: {first: a}\n      Team: [a, b]\n      Application: ~\n      Environment:\n",
    );
    expect(
        &text,
        "type",
        5,
        15,
        "tag `Owner` must be text, not a mapping",
    );
    expect(&text, "type", 6, 13, "tag `Team` must be text, not a list");
    expect(&text, "type", 7, 20, "tag `Application` has no value");
    let dir = folder(text.as_bytes(), &[]);
    let run = tagrec(dir.path(), &["validate"]);
    assert!(
        run.stdout
            .contains("quote it (`Application: \"~\"`) if the text is meant"),
        "{}",
        run.stdout
    );
}

#[test]
fn protect_maybe() {
    let text = with_projects("", "  - name: A\n    protect: maybe\n");
    expect(
        &text,
        "type",
        4,
        14,
        "protect must be true or false, not `maybe`",
    );
}

#[test]
fn two_projects_with_one_name_or_one_id() {
    let text = with_projects("", "  - name: A\n  - name: A\n");
    expect(&text, "duplicate-project", 4, 11, "the first at line 3");
    let text = with_projects(
        "",
        "  - name: A\n    id: proj_abc123\n  - name: B\n    id: proj_abc123\n",
    );
    expect(
        &text,
        "duplicate-project",
        6,
        9,
        "two projects pin id `proj_abc123`",
    );
}

#[test]
fn empty_blank_long_and_default_names() {
    expect(
        &with_projects("", "  - name: \"\"\n"),
        "name",
        3,
        11,
        "empty or blank",
    );
    expect(
        &with_projects("", "  - name: '   '\n"),
        "name",
        3,
        11,
        "empty or blank",
    );
    let long = "n".repeat(129);
    expect(
        &with_projects("", &format!("  - name: {long}\n")),
        "name",
        3,
        11,
        "129 characters",
    );
    expect(
        &with_projects("", "  - name: default\n"),
        "name",
        3,
        11,
        "default project",
    );
    // 128 is still fine.
    let ok = "n".repeat(128);
    let dir = folder(
        with_projects("", &format!("  - name: {ok}\n")).as_bytes(),
        &[],
    );
    assert_eq!(problems(dir.path()).0, 0);
}

#[test]
fn two_hundred_and_one_tags() {
    let tags: String = (0..201).map(|i| format!("      K{i}: v\n")).collect();
    let text = with_projects("", &format!("  - name: A\n    tags:\n{tags}"));
    expect(&text, "tag-limit", 4, 5, "201 tags");
    // Defaults count too: 199 + 2 defaults is 201.
    let tags: String = (0..199).map(|i| format!("      K{i}: v\n")).collect();
    let text = with_projects(
        "defaults:\n  tags: {D1: a, D2: b}\n",
        &format!("  - name: A\n    tags:\n{tags}"),
    );
    expect(&text, "tag-limit", 6, 5, "201 tags");
}

#[test]
fn long_key_and_long_value() {
    let key = "K".repeat(129);
    let value = "v".repeat(257);
    let text = with_projects(
        "",
        &format!("  - name: A\n    tags:\n      {key}: a\n      B: {value}\n"),
    );
    expect(&text, "tag-limit", 5, 7, "129 characters");
    expect(&text, "tag-limit", 6, 10, "257 characters");
}

#[test]
fn aws_keys_and_tagrec_own_tags_are_reserved() {
    let text = with_projects(
        "owner: platform\n",
        "  - name: A\n    tags:\n      aws:createdBy: me\n      tagrec:protect: \"true\"\n      ManagedBy: someone\n",
    );
    expect(&text, "reserved-key", 6, 7, "AWS reserves");
    expect(&text, "reserved-key", 7, 7, "tagrec's own");
    expect(&text, "reserved-key", 8, 7, "set from `owner`");
}

#[test]
fn version_two() {
    expect(
        "version: 2\nprojects: []\n",
        "version",
        1,
        10,
        "unsupported manifest version `2`",
    );
}

#[test]
fn alias_bomb_is_refused() {
    let mut text = String::from("version: 1\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "x{i}: &x{i} [*x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}]\n"
        ));
    }
    text.push_str("projects: []\n");
    let dir = folder(text.as_bytes(), &[]);
    let (code, list) = problems(dir.path());
    assert_eq!(code, 1);
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["rule"], "yaml");
    assert!(
        list[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("alias"))
    );
    assert_eq!(
        list[0]["line"], 6,
        "placed at the alias that crossed the budget"
    );
}

#[test]
fn non_utf8_file() {
    expect_bytes(
        b"version: 1\nprojects:\n  - name: caf\xe9\n",
        &[],
        "file",
        3,
        14,
        "not UTF-8",
    );
}

#[test]
fn empty_and_blank_files() {
    for text in ["", "\n\n", "# only a comment\n"] {
        expect(text, "file", 1, 1, "is empty");
    }
}

#[test]
fn missing_manifest() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run = tagrec(dir.path(), &["validate", "-f", "nope.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("error[file]: no file nope.yaml\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("check the path given with -f"),
        "says what to do: {}",
        run.stdout
    );
}

#[test]
fn missing_policy_is_shown_where_the_manifest_names_it() {
    let text = with_projects("policy: nowhere.yaml\n", GOOD_PROJECT);
    expect(&text, "file", 2, 9, "cannot read the policy nowhere.yaml");
}

#[test]
fn policy_that_is_not_a_schema() {
    let text = with_projects("policy: bad.yaml\n", GOOD_PROJECT);
    let dir = folder(
        text.as_bytes(),
        &[(
            "bad.yaml",
            b"type: object\nproperties:\n  tags:\n    type: 12\n",
        )],
    );
    let (code, list) = problems(dir.path());
    assert_eq!(code, 1);
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["rule"], "policy-file");
    assert_eq!(list[0]["file"], "bad.yaml");
    assert_eq!(
        (list[0]["line"].clone(), list[0]["column"].clone()),
        (4.into(), 11.into())
    );
}

#[test]
fn policy_with_a_remote_ref_is_refused_and_nothing_is_fetched() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let policy = format!(
        "type: object\nproperties:\n  tags:\n    $ref: http://127.0.0.1:{port}/tags.json\n"
    );
    let text = with_projects("policy: remote.yaml\n", GOOD_PROJECT);
    let dir = folder(text.as_bytes(), &[("remote.yaml", policy.as_bytes())]);
    let (code, list) = problems(dir.path());
    assert_eq!(code, 1);
    assert_eq!(list[0]["rule"], "policy-file", "{list:#?}");
    assert!(
        list[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("refused")),
        "{list:#?}"
    );
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "tagrec connected to the $ref's server"
    );
}

#[test]
fn a_local_ref_beside_the_policy_is_resolved() {
    // The example policy refers to common.yaml for the CostCenter pattern.
    let text = with_projects(
        "policy: required-tags.yaml\n",
        "  - name: A\n    tags: {Application: a, Environment: Staging, Team: t, CostCenter: CC-12, Owner: o}\n",
    );
    expect(
        &text,
        "policy",
        5,
        71,
        "CostCenter: \"CC-12\" does not match the pattern ^CC-[0-9]{4}$",
    );
}

#[test]
fn policy_violations_are_placed_where_the_fix_goes() {
    let text = "version: 1\npolicy: required-tags.yaml\ndefaults:\n  tags:\n    Environment: prod\nprojects:\n  - name: A\n    tags:\n      Application: a\n      Team: t\n      CostCenter: CC-1234\n  - name: B\n";
    // The inherited value at the defaults line, naming the project that inherited it.
    expect(
        text,
        "policy",
        5,
        18,
        "is not one of Production, Staging, Development, Sandbox (inherited from defaults by project A)",
    );
    // A missing tag at the project's `tags:` line; without `tags:`, at its name.
    expect(text, "policy", 8, 5, "missing required tag Owner");
    expect(
        text,
        "policy",
        12,
        11,
        "missing required tags Application, Team, CostCenter, Owner",
    );
}

#[test]
fn values_keep_their_source_text() {
    // `007`, `1.10`, `NO` and `on` are text as written; with a policy that wants exactly these
    // strings, a loader that read them as numbers or booleans would fail.
    let policy = "properties:\n  tags:\n    properties:\n      A: {const: \"007\"}\n      B: {const: \"1.10\"}\n      C: {const: \"NO\"}\n      D: {const: \"on\"}\n";
    let text = with_projects(
        "policy: exact.yaml\n",
        "  - name: X\n    tags: {A: 007, B: 1.10, C: NO, D: on}\n",
    );
    let dir = folder(text.as_bytes(), &[("exact.yaml", policy.as_bytes())]);
    let (code, list) = problems(dir.path());
    assert_eq!((code, list.len()), (0, 0), "{list:#?}");
}

/// One manifest with a problem of most kinds, for the format snapshots.
const BROKEN: &str = "version: 1\npolicy: required-tags.yaml\nowner: platform\ndefaults:\n  tags:\n    Environment: prod\nprojcts: []\nprojects:\n  - name: Chatbot\n    protect: maybe\n    tags:\n      Application: Chatbot\n      Team: ~\n      costcenter: CC-1001\n      aws:source: x\n  - name: Chatbot\n";

#[test]
fn text_format() {
    let dir = folder(BROKEN.as_bytes(), &[]);
    let run = tagrec(dir.path(), &["validate"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("validate_text", run.stdout);
}

#[test]
fn json_format() {
    let dir = folder(BROKEN.as_bytes(), &[]);
    let run = tagrec(dir.path(), &["validate", "--format", "json"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("validate_json", run.stdout);
}

#[test]
fn github_format() {
    let dir = folder(BROKEN.as_bytes(), &[]);
    let run = tagrec(dir.path(), &["validate", "--format", "github"]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l.starts_with("::error file=projects.yaml,"))
    );
    insta::assert_snapshot!("validate_github", run.stdout);
}

#[test]
fn github_names_files_as_given_on_the_command_line() {
    let dir = folder(BROKEN.as_bytes(), &[]);
    let sub = dir.path().join("infra");
    std::fs::create_dir(&sub).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(dir.path().join("projects.yaml"), sub.join("projects.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    for policy in ["required-tags.yaml", "common.yaml"] {
        std::fs::rename(dir.path().join(policy), sub.join(policy))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let run = tagrec(
        dir.path(),
        &[
            "validate",
            "-f",
            "infra/projects.yaml",
            "--format",
            "github",
        ],
    );
    assert!(
        run.stdout
            .contains("::error file=infra/projects.yaml,line=7,col=1,"),
        "{}",
        run.stdout
    );
}

#[test]
fn sarif_format() {
    let dir = folder(BROKEN.as_bytes(), &[]);
    let run = tagrec(dir.path(), &["validate", "--format", "sarif"]);
    assert_eq!(run.code, 1);
    let log: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["tool"]["driver"]["name"], "tagrec");
    let results = log["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!results.is_empty());
    for result in &results {
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().is_some(), "{result}");
        // Every result's rule is in the driver's list, at its index.
        let index = result["ruleIndex"].as_u64().unwrap_or(99) as usize;
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"][index]["id"],
            result["ruleId"]
        );
    }
    insta::assert_snapshot!("validate_sarif", run.stdout);
}

#[test]
fn valid_manifest_in_every_format() {
    let dir = folder(
        with_projects("policy: required-tags.yaml\n", GOOD_PROJECT).as_bytes(),
        &[],
    );
    let text = tagrec(dir.path(), &["validate"]);
    assert_eq!(
        (text.code, text.stdout.as_str()),
        (0, "projects.yaml is valid: 1 project\n")
    );
    let json = tagrec(dir.path(), &["validate", "--format", "json"]);
    assert_eq!((json.code, json.stdout.trim()), (0, "[]"));
    let github = tagrec(dir.path(), &["validate", "--format", "github"]);
    assert_eq!(
        (github.code, github.stdout.as_str()),
        (0, "tagrec: no problems found\n")
    );
    let sarif = tagrec(dir.path(), &["validate", "--format", "sarif"]);
    let log: Value = serde_json::from_str(&sarif.stdout).unwrap_or(Value::Null);
    assert_eq!(
        (sarif.code, log["runs"][0]["results"].clone()),
        (0, Value::Array(vec![]))
    );
}

#[test]
fn colour_only_when_asked() {
    let dir = folder(b"version: 2\nprojects: []\n", &[]);
    let plain = tagrec(dir.path(), &["validate"]);
    assert!(!plain.stdout.contains('\u{1b}'));
    let output = Command::cargo_bin("tagrec")
        .unwrap_or_else(|e| panic!("{e}"))
        .current_dir(dir.path())
        .args(["validate", "--color", "always"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&output.stdout).contains('\u{1b}'));
}

#[test]
fn schema_describes_the_manifest() {
    let run = tagrec(&repo(), &["schema"]);
    assert_eq!(run.code, 0);
    let schema: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    assert_eq!(schema["title"], "tagrec manifest");
    let keys: Vec<&String> = schema["properties"]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    for key in [
        "version",
        "target",
        "policy",
        "owner",
        "prune",
        "ignore_tags",
        "defaults",
        "projects",
    ] {
        assert!(
            keys.iter().any(|k| *k == key),
            "{key} missing from {keys:?}"
        );
    }
}

#[test]
fn completions_for_bash() {
    let run = tagrec(&repo(), &["completions", "bash"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("validate") && run.stdout.contains("--format"));
}
