//! Many manifests in one run: `-f` repeated and with globs, `--changed-since` in a real git
//! repository, and `tagrec manifests` for a CI matrix.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{Workspace, assert_exit, both, stderr, stdout};

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

/// A git repository at `root` holding everything in it as one commit on `main`.
fn commit_all(root: &Path) {
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "estate"]);
}

/// `commit_all`, then a branch `change` to make a change on, as a pull request does.
fn branch_off_main(root: &Path) {
    commit_all(root);
    git(root, &["checkout", "-q", "-b", "change"]);
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
    branch_off_main(root);
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
    commit_all(ws.root());
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

    commit_all(ws.root());
    let output = ws
        .tagrec(&["manifests", "--changed-since", "origin/main"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains(
            "--changed-since origin/main: no such commit here: fetch it first (`git fetch origin main`; in CI, check out with fetch-depth: 0)"
        ),
        "{}",
        stderr(&output)
    );
    // An option is no reference: never handed to git as one.
    let output = ws
        .tagrec(&["manifests", "--changed-since=-h"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--changed-since needs a git reference"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn changed_since_sees_a_path_in_any_script_and_globs_skip_hidden_folders() {
    let ws = Workspace::new();
    let manifest = "version: 1\ntarget: {sandbox: {state: .tagrec/s.json}}\nprojects: []\n";
    ws.write("accounts/équipe/us-east-1.yaml", manifest);
    ws.write("accounts/ops/us-east-1.yaml", manifest);
    ws.write(".github/workflows/ci.yaml", "on: push\n");
    ws.write("accounts/ops/.tagrec/old.yaml", manifest);
    branch_off_main(ws.root());
    ws.write(
        "accounts/équipe/us-east-1.yaml",
        &format!("{manifest}# changed\n"),
    );
    let output = ws
        .tagrec(&["manifests", "-f", "**/*.yaml", "--changed-since", "main"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "accounts/équipe/us-east-1.yaml\n");
    let output = ws
        .tagrec(&["manifests", "-f", "**/*.yaml"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&output),
        "accounts/ops/us-east-1.yaml\naccounts/équipe/us-east-1.yaml\n",
        "no .github or .tagrec file"
    );
}

#[test]
fn two_manifests_on_one_account_are_refused_and_nothing_is_written() {
    let ws = Workspace::new();
    for name in ["a", "b"] {
        ws.write(
            &format!("accounts/{name}.yaml"),
            &format!(
                "version: 1\ntarget: {{sandbox: {{state: .tagrec/shared.json}}}}\nowner: platform/x\nprune: true\nprojects:\n  - name: Only-{name}\n"
            ),
        );
    }
    ws.write(
        "accounts/c.yaml",
        "version: 1\ntarget: {sandbox: {state: .tagrec/own.json}}\nprojects:\n  - name: Own\n",
    );
    let plan = run(&ws, &["plan", "-f", "accounts/*.yaml"]);
    assert_exit(&plan, 1);
    assert!(
        stdout(&plan).contains(
            "error: accounts/a.yaml reaches the same account as accounts/b.yaml (sandbox:accounts/.tagrec/shared.json): each would archive or create again what the other declares"
        ),
        "{}",
        both(&plan)
    );
    let apply = run(
        &ws,
        &[
            "apply",
            "-f",
            "accounts/*.yaml",
            "--auto-approve",
            "--allow-archive",
        ],
    );
    assert_exit(&apply, 1);
    assert!(
        !ws.path("accounts/.tagrec/shared.json").exists(),
        "nothing written there"
    );
    assert!(
        ws.read("accounts/.tagrec/own.json").contains("\"Own\""),
        "the others applied"
    );
}

#[test]
fn region_and_profile_fill_in_a_target_but_never_replace_it() {
    let ws = Workspace::new();
    ws.write(
        "acc/us-east-1.yaml",
        "version: 1\ntarget: {region: us-east-1}\nprojects: []\n",
    );
    ws.write(
        "acc/dev.yaml",
        "version: 1\ntarget: {region: eu-west-1, profile: dev}\nprojects: []\n",
    );
    let output = run(
        &ws,
        &[
            "plan",
            "-f",
            "acc/*.yaml",
            "--region",
            "eu-west-1",
            "--profile",
            "prod",
        ],
    );
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(
        text.contains("error: --region eu-west-1 (or TAGREC_REGION) would replace `target.region: us-east-1` of acc/us-east-1.yaml"),
        "{}",
        both(&output)
    );
    assert!(
        text.contains("error: --profile prod would replace `target.profile: dev` of acc/dev.yaml"),
        "{}",
        both(&output)
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

// ---- plan and apply over several manifests ----

/// An account of the estate served by its own emulator, logging its requests.
struct Emulated {
    sandbox: crate::support::Sandbox,
    log: std::path::PathBuf,
}

impl Emulated {
    fn start(ws: &Workspace, name: &str, seed: Value, flags: &[&str]) -> Emulated {
        let seed = ws.write(&format!("{name}-seed.json"), &seed.to_string());
        let log = ws.path(&format!("{name}-requests.jsonl"));
        let mut args = vec![
            "--seed".to_string(),
            seed.display().to_string(),
            "--request-log".to_string(),
            log.display().to_string(),
        ];
        args.extend(flags.iter().map(|f| f.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Emulated {
            sandbox: crate::support::Sandbox::start(&args),
            log,
        }
    }

    /// The writes the emulator committed.
    fn writes(&self) -> Vec<Value> {
        crate::support::read_log(&self.log)
            .into_iter()
            .filter(|r| r["committed"] == true)
            .collect()
    }

    fn active_names(&self) -> Vec<String> {
        let reply = self
            .sandbox
            .get("/organization/projects?limit=100&include_archived=false");
        let mut names: Vec<String> = reply.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }
}

/// A manifest for an emulated account: `projects` is YAML list items.
fn emulated_manifest(endpoint: &str, projects: &str) -> String {
    format!("version: 1\ntarget: {{endpoint: '{endpoint}'}}\nprojects:\n{projects}")
}

/// A manifest on the embedded sandbox (`live.json` beside it, the state in `.tagrec/`).
fn sandboxed(ws: &Workspace, file: &str, live: Value, projects: &str) {
    let folder = Path::new(file).parent().unwrap().display().to_string();
    ws.write(&format!("{folder}/live.json"), &live.to_string());
    ws.write(
        file,
        &format!(
            "version: 1\ntarget: {{sandbox: {{state: .tagrec/state.json, seed: live.json}}}}\nprojects:\n{projects}"
        ),
    );
}

fn p(id: &str, name: &str, team: &str) -> Value {
    json!({"id": id, "name": name, "status": "active", "tags": {"Team": team}})
}

/// Two emulated accounts and one embedded sandbox, each with something to do:
/// prod creates `New` and updates `A`; dev updates `B`; the sandbox creates `Local`.
fn three_accounts() -> (Workspace, Emulated, Emulated) {
    let ws = Workspace::new();
    let prod = Emulated::start(
        &ws,
        "prod",
        json!([p("proj_prod0000000000000001", "A", "old")]),
        &[],
    );
    let dev = Emulated::start(
        &ws,
        "dev",
        json!([p("proj_dev00000000000000001", "B", "old")]),
        &[],
    );
    ws.write(
        "accounts/prod/us-east-1.yaml",
        &emulated_manifest(
            &prod.sandbox.base_url,
            "  - {name: A, tags: {Team: a}}\n  - {name: New, tags: {Team: n}}\n",
        ),
    );
    ws.write(
        "accounts/dev/us-east-1.yaml",
        &emulated_manifest(&dev.sandbox.base_url, "  - {name: B, tags: {Team: b}}\n"),
    );
    sandboxed(
        &ws,
        "accounts/local/eu-west-1.yaml",
        json!([]),
        "  - {name: Local, tags: {Team: l}}\n",
    );
    (ws, prod, dev)
}

/// An emulated account `twins` where two active projects share the name `Twin`, and its manifest
/// `accounts/twins/us-east-1.yaml` with these projects: planning it fails with a conflict.
fn twins_account(ws: &Workspace, projects: &str) -> Emulated {
    let twins = Emulated::start(
        ws,
        "twins",
        json!([
            p("proj_twin0000000000000001", "Twin", "t"),
            p("proj_twin0000000000000002", "Twin", "t")
        ]),
        &[],
    );
    ws.write(
        "accounts/twins/us-east-1.yaml",
        &emulated_manifest(&twins.sandbox.base_url, projects),
    );
    twins
}

const ALL: &str = "accounts/*/*.yaml";

fn run(ws: &Workspace, args: &[&str]) -> std::process::Output {
    ws.tagrec(args).env("NO_COLOR", "1").output().unwrap()
}

fn by_manifest<'a>(json: &'a Value, file: &str) -> &'a Value {
    json["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manifest"] == file)
        .unwrap_or_else(|| panic!("{file} is not in {json}"))
}

#[test]
fn plan_shows_every_account_under_its_header_and_the_estate_counts() {
    let (ws, prod, dev) = three_accounts();
    let output = run(&ws, &["plan", "-f", ALL, "--jobs", "2"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("== ")).collect();
    assert_eq!(
        headers,
        [
            format!(
                "== accounts/dev/us-east-1.yaml ({}) ==",
                dev.sandbox.base_url
            ),
            "== accounts/local/eu-west-1.yaml (sandbox:accounts/local/.tagrec/state.json) =="
                .to_string(),
            format!(
                "== accounts/prod/us-east-1.yaml ({}) ==",
                prod.sandbox.base_url
            ),
        ],
        "{text}"
    );
    assert!(text.contains("+ create \"New\""), "{text}");
    assert!(text.contains("~ Team = \"old\" -> \"b\""), "{text}");
    assert!(
        text.trim_end()
            .ends_with("Estate: 3 manifests, 2 to create, 2 to update, 0 to archive, 0 failed."),
        "{text}"
    );
    // Planning writes nothing anywhere.
    assert!(prod.writes().is_empty() && dev.writes().is_empty());
    assert!(!ws.path("accounts/local/.tagrec/state.json").exists());

    let output = run(&ws, &["plan", "-f", ALL, "--format", "json"]);
    assert_exit(&output, 0);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["format_version"], "1");
    assert_eq!(
        json["summary"],
        json!({"manifests": 3, "failed": 0, "create": 2, "update": 2, "archive": 0})
    );
    let prod_plan = by_manifest(&json, "accounts/prod/us-east-1.yaml");
    assert_eq!(prod_plan["ok"], true);
    // The 0.1 plan object, as `plan --format json` of that manifest alone prints it.
    let alone = run(
        &ws,
        &[
            "plan",
            "-f",
            "accounts/prod/us-east-1.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        prod_plan["plan"],
        serde_json::from_str::<Value>(&stdout(&alone)).unwrap()
    );
}

#[test]
fn a_broken_manifest_among_good_ones_fails_alone() {
    let (ws, _prod, dev) = three_accounts();
    // Unreadable YAML, an account that cannot be reached, and a name two live projects share.
    ws.write(
        "accounts/broken/us-east-1.yaml",
        "version: 1\nprojects: [\n",
    );
    ws.write(
        "accounts/gone/us-east-1.yaml",
        &emulated_manifest("http://127.0.0.1:9/v1", "  - {name: A, tags: {Team: a}}\n"),
    );
    let twins = twins_account(&ws, "  - {name: Twin, tags: {Team: t}}\n");
    let output = run(&ws, &["plan", "-f", ALL, "--format", "json"]);
    assert_exit(&output, 1);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        json["summary"],
        json!({"manifests": 6, "failed": 3, "create": 2, "update": 2, "archive": 0})
    );
    let broken = by_manifest(&json, "accounts/broken/us-east-1.yaml");
    assert_eq!(broken["ok"], false);
    assert!(
        broken["error"].as_str().unwrap().contains("problem"),
        "{broken}"
    );
    let gone = by_manifest(&json, "accounts/gone/us-east-1.yaml");
    assert_eq!(gone["ok"], false);
    assert!(
        gone["error"].as_str().unwrap().contains("127.0.0.1:9"),
        "{gone}"
    );
    // A conflict: the plan is shown, with its error, and is not to be applied.
    let conflict = by_manifest(&json, "accounts/twins/us-east-1.yaml");
    assert_eq!(conflict["ok"], false);
    let error = conflict["error"].as_str().unwrap();
    assert!(
        error.contains("proj_twin0000000000000001") && error.contains("proj_twin0000000000000002"),
        "{conflict}"
    );
    assert_eq!(conflict["plan"]["format_version"], "1");
    // The others are planned as if alone.
    let good = by_manifest(&json, "accounts/dev/us-east-1.yaml");
    assert_eq!(good["ok"], true);
    assert_eq!(good["plan"]["summary"]["update"], 1);
    // stderr names each failure with its manifest.
    let err = stderr(&output);
    for file in [
        "accounts/broken/us-east-1.yaml",
        "accounts/gone/us-east-1.yaml",
        "accounts/twins/us-east-1.yaml",
    ] {
        assert!(err.contains(&format!("error: {file}: ")), "{file}: {err}");
    }

    // The text form: each failure in its section, the count in the last line; exit 1 even with
    // --detailed-exitcode and changes elsewhere.
    let output = run(&ws, &["plan", "-f", ALL, "--detailed-exitcode"]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(
        text.contains("== accounts/gone/us-east-1.yaml ==\nerror: "),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("Estate: 6 manifests, 2 to create, 2 to update, 0 to archive, 3 failed."),
        "{text}"
    );
    // Nothing was written to the reachable accounts.
    assert!(dev.writes().is_empty() && twins.writes().is_empty());
}

#[test]
fn detailed_exitcode_combines_as_the_contract_says() {
    let ws = Workspace::new();
    let same = json!([p("proj_same0000000000000001", "S", "s")]);
    sandboxed(
        &ws,
        "a/same.yaml",
        same.clone(),
        "  - {name: S, tags: {Team: s}}\n",
    );
    sandboxed(&ws, "b/same.yaml", same, "  - {name: S, tags: {Team: s}}\n");
    sandboxed(
        &ws,
        "c/changed.yaml",
        json!([]),
        "  - {name: C, tags: {Team: c}}\n",
    );
    ws.write("d/broken.yaml", "version: 2\nprojects: []\n");
    let code = |files: &[&str], detailed: bool| {
        let mut args = vec!["plan", "-q"];
        for f in files {
            args.extend(["-f", f]);
        }
        if detailed {
            args.push("--detailed-exitcode");
        }
        crate::support::code(&run(&ws, &args))
    };
    assert_eq!(code(&["a/same.yaml", "b/same.yaml"], true), 0, "no changes");
    assert_eq!(code(&["a/same.yaml", "c/changed.yaml"], true), 2, "changes");
    assert_eq!(
        code(&["a/same.yaml", "c/changed.yaml"], false),
        0,
        "changes, not asked for"
    );
    assert_eq!(
        code(&["c/changed.yaml", "d/broken.yaml"], true),
        1,
        "a failure wins over changes"
    );
    assert_eq!(code(&["*/same.yaml"], true), 0, "a glob of unchanged ones");
}

#[test]
fn one_markdown_comment_a_section_per_manifest_with_changes_a_line_for_the_others() {
    let (ws, _prod, dev) = three_accounts();
    sandboxed(
        &ws,
        "accounts/quiet/us-east-1.yaml",
        json!([p("proj_quiet000000000000001", "Q", "q")]),
        "  - {name: Q, tags: {Team: q}}\n",
    );
    ws.write(
        "accounts/broken/us-east-1.yaml",
        "version: 1\nprojects: [\n",
    );
    let summary = ws.path("step-summary.md");
    let output = ws
        .tagrec(&["plan", "-f", ALL, "--format", "markdown"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let md = stdout(&output);
    assert!(
        md.starts_with(
            "### tagrec plan\n\n**Estate: 5 manifests, 2 to create, 2 to update, 0 to archive, 1 failed.**\n"
        ),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "#### `accounts/dev/us-east-1.yaml` ({})\n\nPlan: 0 to create, 1 to update, 0 to archive.\n\n| Action | Project | Id | Changes |",
            dev.sandbox.base_url
        )),
        "{md}"
    );
    assert!(md.contains("```diff\n"), "{md}");
    assert!(
        md.contains("#### `accounts/broken/us-east-1.yaml`\n\n**Failed.**\n\n```text\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "- `accounts/quiet/us-east-1.yaml` (sandbox:accounts/quiet/.tagrec/state.json): No changes.\n"
        ),
        "{md}"
    );
    assert!(!md.contains("#### `accounts/quiet/"), "{md}");
    // The job summary gets the same comment, once.
    let written = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(written.matches("### tagrec plan").count(), 1, "{written}");
    assert_eq!(written.trim_end(), md.trim_end());
}

#[test]
fn the_markdown_comment_stays_within_the_limit_and_keeps_every_manifest() {
    let ws = Workspace::new();
    let mut projects = String::new();
    for i in 0..700 {
        projects.push_str(&format!(
            "  - {{name: Project-With-A-Long-Name-{i:04}, tags: {{Team: team-{i}, Application: application-{i}, CostCenter: CC-{i:04}}}}}\n"
        ));
    }
    for account in ["a", "b", "c"] {
        sandboxed(
            &ws,
            &format!("{account}/projects.yaml"),
            json!([]),
            &projects,
        );
    }
    let output = run(
        &ws,
        &["plan", "-f", "*/projects.yaml", "--format", "markdown"],
    );
    assert_exit(&output, 0);
    let md = stdout(&output);
    assert!(md.chars().count() <= 65_000, "{} characters", md.len());
    for account in ["a", "b", "c"] {
        // Each manifest keeps its section, its share of the room cut with a note.
        assert!(
            md.contains(&format!("#### `{account}/projects.yaml`")),
            "{account}"
        );
    }
    assert_eq!(
        md.matches("more changes not shown: this manifest's part of the comment is limited to")
            .count(),
        3,
        "{md}"
    );
}

#[test]
fn changed_since_plans_only_what_the_branch_touched() {
    let ws = Workspace::new();
    for account in ["a", "b"] {
        sandboxed(
            &ws,
            &format!("accounts/{account}/us-east-1.yaml"),
            json!([]),
            "  - {name: X, tags: {Team: x}}\n",
        );
    }
    let root = ws.root();
    branch_off_main(root);
    let plan = |ws: &Workspace| run(ws, &["plan", "-f", ALL, "--changed-since", "main"]);

    let output = plan(&ws);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "Estate: 0 manifests, 0 to create, 0 to update, 0 to archive, 0 failed.\n"
    );

    sandboxed(
        &ws,
        "accounts/b/us-east-1.yaml",
        json!([]),
        "  - {name: X, tags: {Team: x}}\n  - {name: Y, tags: {Team: y}}\n",
    );
    git(root, &["commit", "-q", "-am", "b gets Y"]);
    let output = plan(&ws);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("== accounts/b/us-east-1.yaml ("), "{text}");
    assert!(!text.contains("accounts/a/"), "{text}");
    assert!(
        text.trim_end()
            .ends_with("Estate: 1 manifest, 2 to create, 0 to update, 0 to archive, 0 failed."),
        "{text}"
    );
}

#[test]
fn a_target_is_looked_for_in_every_manifest() {
    let (ws, _prod, _dev) = three_accounts();
    let output = run(&ws, &["plan", "-f", ALL, "--target", "B"]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output)
            .trim_end()
            .ends_with("Estate: 3 manifests, 0 to create, 1 to update, 0 to archive, 0 failed."),
        "{}",
        both(&output)
    );
    let output = run(&ws, &["plan", "-f", ALL, "--target", "Locl"]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains(
            "--target \"Locl\" matches no project of any manifest and no project to archive: did you mean `Local`?"
        ),
        "{}",
        both(&output)
    );
    assert_eq!(stdout(&output), "", "nothing shown before the error");
}

#[test]
fn apply_applies_every_account_and_plans_nothing_afterwards() {
    let (ws, prod, dev) = three_accounts();
    let output = run(&ws, &["apply", "-f", ALL, "--auto-approve", "--jobs", "2"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    // The plans first, then each manifest's report and the estate's.
    assert!(
        text.contains("Estate: 3 manifests, 2 to create, 2 to update, 0 to archive, 0 failed."),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "== accounts/prod/us-east-1.yaml ({}) ==\nApply complete: 2 done, 0 failed, 0 skipped.",
            prod.sandbox.base_url
        )),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("Estate: 3 manifests, 4 done, 0 failed, 0 skipped, 0 manifests failed."),
        "{text}"
    );
    // Each change's line names its manifest.
    assert!(
        stderr(&output).contains("accounts/prod/us-east-1.yaml: created \"New\" (proj_"),
        "{}",
        both(&output)
    );
    assert_eq!(prod.active_names(), ["A", "New", "default"]);
    assert_eq!(dev.active_names(), ["B", "default"]);
    assert!(ws.path("accounts/local/.tagrec/state.json").exists());

    let again = run(&ws, &["plan", "-f", ALL, "--detailed-exitcode"]);
    assert_exit(&again, 0);
    let json = run(
        &ws,
        &["apply", "-f", ALL, "--auto-approve", "--format", "json"],
    );
    assert_exit(&json, 0);
    let json: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(
        json["summary"],
        json!({"manifests": 3, "failed": 0, "interrupted": 0, "changes": {"done": 0, "failed": 0, "skipped": 0}})
    );
    assert_eq!(
        by_manifest(&json, "accounts/dev/us-east-1.yaml")["apply"]["results"],
        json!([])
    );
}

#[test]
fn apply_without_a_terminal_or_auto_approve_writes_nothing_anywhere() {
    let (ws, prod, dev) = three_accounts();
    let output = ws
        .tagrec(&["apply", "-f", ALL])
        .env("NO_COLOR", "1")
        .write_stdin("yes\n")
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert_eq!(
        err.matches("no terminal to ask for confirmation").count(),
        1,
        "asked once for all: {err}"
    );
    assert!(err.contains("Nothing was written."), "{err}");
    assert!(prod.writes().is_empty() && dev.writes().is_empty());
    assert!(!ws.path("accounts/local/.tagrec/state.json").exists());
}

#[test]
fn apply_asks_once_on_a_terminal_for_the_whole_estate() {
    let (ws, prod, dev) = three_accounts();
    // `script` gives tagrec a terminal; the answer is typed into it.
    let command = format!(
        "{} apply -f '{ALL}' --color never",
        crate::support::tagrec_path().display()
    );
    let mut script = std::process::Command::new("script");
    for name in crate::support::AMBIENT {
        script.env_remove(name);
    }
    let output = script
        .args(["-qec", &command, "/dev/null"])
        .current_dir(ws.root())
        .env("NO_COLOR", "1")
        .env("AWS_CONFIG_FILE", crate::support::NO_AWS_FILE)
        .env("AWS_SHARED_CREDENTIALS_FILE", crate::support::NO_AWS_FILE)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(b"yes\n")?;
            child.wait_with_output()
        })
        .expect("script runs");
    assert_exit(&output, 0);
    let shown = stdout(&output);
    assert_eq!(
        shown
            .matches("Apply these changes to 3 manifests? Only 'yes' is accepted:")
            .count(),
        1,
        "{shown}"
    );
    assert!(
        shown.contains("Estate: 3 manifests, 4 done, 0 failed, 0 skipped, 0 manifests failed."),
        "{shown}"
    );
    assert_eq!(prod.active_names(), ["A", "New", "default"]);
    assert_eq!(dev.writes().len(), 1);
}

#[test]
fn apply_skips_a_manifest_whose_plan_failed_and_applies_the_others() {
    let (ws, prod, dev) = three_accounts();
    let twins = twins_account(
        &ws,
        "  - {name: Twin, tags: {Team: new}}\n  - {name: Other, tags: {Team: o}}\n",
    );
    let output = run(
        &ws,
        &["apply", "-f", ALL, "--auto-approve", "--format", "json"],
    );
    assert_exit(&output, 1);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["summary"]["manifests"], 4);
    // In text, the failure is said once, in the twins' plan; its result section points there.
    let text = run(
        &ws,
        &[
            "apply",
            "-f",
            "accounts/twins/*.yaml",
            "-f",
            "accounts/dev/*.yaml",
            "--auto-approve",
        ],
    );
    assert_exit(&text, 1);
    assert_eq!(
        both(&text).matches("2 active projects are named").count(),
        1,
        "{}",
        both(&text)
    );
    assert!(
        stdout(&text).contains(
            "== accounts/twins/us-east-1.yaml ==\nnot applied: its plan failed (above)\n"
        ),
        "{}",
        both(&text)
    );
    assert_eq!(json["summary"]["failed"], 1);
    assert_eq!(json["summary"]["changes"]["done"], 4);
    let twin = by_manifest(&json, "accounts/twins/us-east-1.yaml");
    assert_eq!(twin["ok"], false);
    assert!(
        twin["error"]
            .as_str()
            .unwrap()
            .starts_with("not applied: the plan has errors"),
        "{twin}"
    );
    assert!(twins.writes().is_empty(), "{:?}", twins.writes());
    assert_eq!(prod.active_names(), ["A", "New", "default"]);
    assert_eq!(dev.writes().len(), 1);
    assert!(
        stderr(&output)
            .contains("error: accounts/twins/us-east-1.yaml: not applied: the plan has errors"),
        "{}",
        both(&output)
    );
}

#[test]
fn plan_out_dir_saves_a_plan_per_manifest_that_apply_dir_applies() {
    let (ws, prod, dev) = three_accounts();
    let output = run(&ws, &["plan", "-f", ALL, "--out", "plans"]);
    assert_exit(&output, 0);
    assert!(
        stderr(&output).contains("Saved 3 plans to plans: run `tagrec apply plans`"),
        "{}",
        both(&output)
    );
    for plan in [
        "plans/accounts/dev/us-east-1.json",
        "plans/accounts/local/eu-west-1.json",
        "plans/accounts/prod/us-east-1.json",
    ] {
        let saved: Value = serde_json::from_str(&ws.read(plan)).unwrap();
        assert_eq!(saved["format_version"], "1", "{plan}");
    }
    // Planning again into the same folder would leave old plans beside new ones: refused.
    let output = run(&ws, &["plan", "-f", ALL, "--out", "plans"]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--out plans: the folder is not empty"),
        "{}",
        both(&output)
    );
    let output = run(&ws, &["plan", "-f", ALL, "--out", "-"]);
    assert_exit(&output, 1);

    // Applied from another folder: each plan finds its manifest from where it was made.
    let output = ws
        .tagrec(&["apply", "../plans"])
        .current_dir(ws.path("accounts"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(
        stdout(&output)
            .trim_end()
            .ends_with("Estate: 3 manifests, 4 done, 0 failed, 0 skipped, 0 manifests failed."),
        "{}",
        both(&output)
    );
    assert_eq!(prod.active_names(), ["A", "New", "default"]);
    assert_eq!(dev.writes().len(), 1);

    // Applied again, the plans are stale: refused, nothing written.
    let before = prod.writes().len();
    let output = run(&ws, &["apply", "plans"]);
    assert_exit(&output, 1);
    assert!(stdout(&output).contains("is stale"), "{}", both(&output));
    assert_eq!(prod.writes().len(), before);
}

#[test]
fn the_first_ctrl_c_stops_new_changes_in_every_manifest() {
    let ws = Workspace::new();
    let slow = Emulated::start(&ws, "slow", json!([]), &["--latency-ms", "300", "-v"]);
    let other = Emulated::start(&ws, "other", json!([]), &[]);
    let mut projects = String::new();
    for i in 0..20 {
        projects.push_str(&format!("  - {{name: P-{i:02}, tags: {{Team: t}}}}\n"));
    }
    ws.write(
        "a/slow.yaml",
        &emulated_manifest(&slow.sandbox.base_url, &projects),
    );
    ws.write(
        "b/other.yaml",
        &emulated_manifest(&other.sandbox.base_url, &projects),
    );
    let mut child = std::process::Command::new(crate::support::tagrec_path())
        .current_dir(ws.root())
        .env("NO_COLOR", "1")
        .args(["apply", "-f", "*/*.yaml", "--auto-approve", "--jobs", "1"])
        .args(["--concurrency", "2"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (out, out_done) = crate::support::collect(child.stdout.take().unwrap());
    let (err, err_done) = crate::support::collect(child.stderr.take().unwrap());
    crate::support::wait_for("a create to reach the slow account", || {
        slow.sandbox
            .stderr()
            .contains("POST /v1/organization/projects received")
    });
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    out_done.join().unwrap();
    err_done.join().unwrap();
    let (out, err) = (out.lock().unwrap().clone(), err.lock().unwrap().clone());
    assert_eq!(status.code(), Some(130), "{out}\n{err}");
    assert!(
        err.contains("interrupted: no new change or pass starts in any manifest"),
        "{err}"
    );
    // The running creates finished; the manifest waiting for a job never started.
    let created = slow.writes().len();
    assert!((1..20).contains(&created), "{created} creates");
    assert!(other.writes().is_empty(), "{:?}", other.writes());
    assert!(out.contains("== b/other.yaml ("), "{out}");
    assert!(
        out.contains("Apply interrupted: 0 done, 0 failed, 20 skipped."),
        "{out}"
    );
    assert!(
        out.contains(", 2 interrupted."),
        "both manifests counted as stopped: {out}"
    );
}

#[test]
fn output_env_names_each_manifest_and_id_when_several_declare_the_project() {
    let ws = Workspace::new();
    sandboxed(
        &ws,
        "accounts/a/us-east-1.yaml",
        json!([p("proj_dupa0000000000000001", "Dup", "a")]),
        "  - {name: Dup, tags: {Team: a}}\n",
    );
    sandboxed(
        &ws,
        "accounts/b b/us-east-1.yaml",
        json!([p("proj_dupb0000000000000001", "Dup", "b")]),
        "  - {name: Dup, tags: {Team: b}}\n",
    );
    let output = run(
        &ws,
        &["output", "-f", ALL, "--format", "env", "--project", "Dup"],
    );
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains(
            "2 manifests declare a project `Dup`: accounts/a/us-east-1.yaml (proj_dupa0000000000000001), accounts/b b/us-east-1.yaml (proj_dupb0000000000000001): name the one with -f"
        ),
        "{}",
        both(&output)
    );
    // One manifest: its lines are words for `eval`, a sandbox path with a space quoted.
    let output = run(
        &ws,
        &[
            "output",
            "-f",
            "accounts/b b/us-east-1.yaml",
            "--format",
            "env",
            "--project",
            "Dup",
        ],
    );
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "OPENAI_PROJECT_ID=proj_dupb0000000000000001\nOPENAI_BASE_URL='sandbox:accounts/b b/.tagrec/state.json'\n"
    );
}

#[test]
fn apply_over_an_estate_does_not_wait_for_an_account_that_does_not_answer() {
    // Before, listing an estate's manifest was retried until --timeout (10 minutes by default):
    // now it gets the client's attempts, as `plan`, and the other manifests go on.
    let ws = Workspace::new();
    ws.write(
        "acc/down.yaml",
        &emulated_manifest("http://127.0.0.1:9/v1", "  - {name: A, tags: {Team: a}}\n"),
    );
    sandboxed(
        &ws,
        "acc/up/us-east-1.yaml",
        json!([]),
        "  - {name: Up, tags: {Team: u}}\n",
    );
    let output = run(
        &ws,
        &[
            "apply",
            "-f",
            "acc/down.yaml",
            "-f",
            "acc/up/us-east-1.yaml",
            "--auto-approve",
        ],
    );
    assert_exit(&output, 1);
    assert!(
        both(&output).contains("127.0.0.1:9") && !both(&output).contains("--timeout"),
        "{}",
        both(&output)
    );
    assert!(ws.read("acc/up/.tagrec/state.json").contains("\"Up\""));
}

#[test]
fn apply_dir_refuses_a_plan_whose_manifest_path_could_be_two_files() {
    let ws = Workspace::new();
    let manifest = |name: &str| {
        format!(
            "version: 1\ntarget: {{sandbox: {{state: .tagrec/s.json}}}}\nowner: o\nprojects:\n  - name: {name}\n"
        )
    };
    ws.write("x.yaml", &manifest("Outer"));
    ws.write("work/x.yaml", &manifest("Inner"));
    let work = ws.path("work");
    let plan = ws
        .tagrec(&[
            "plan",
            "-f",
            "../x.yaml",
            "-f",
            "x.yaml",
            "--out",
            "plans",
            "-q",
        ])
        .current_dir(&work)
        .output()
        .unwrap();
    assert_exit(&plan, 0);
    let apply = ws
        .tagrec(&["apply", "plans", "--auto-approve"])
        .current_dir(&work)
        .output()
        .unwrap();
    assert_exit(&apply, 1);
    assert!(
        both(&apply).contains("was made from the manifest ../x.yaml, which could be"),
        "{}",
        both(&apply)
    );
    // The other plan is applied; "Outer" is never created in the wrong account.
    assert!(ws.read("work/.tagrec/s.json").contains("\"Inner\""));
    assert!(!ws.read("work/.tagrec/s.json").contains("\"Outer\""));
}

#[test]
fn a_matrix_larger_than_github_runs_is_said_on_stderr() {
    let ws = Workspace::new();
    for i in 0..257 {
        ws.write(
            &format!("accounts/a{i:03}.yaml"),
            "version: 1\nprojects: []\n",
        );
    }
    let output = run(
        &ws,
        &[
            "manifests",
            "-f",
            "accounts/*.yaml",
            "--format",
            "github-matrix",
        ],
    );
    assert_exit(&output, 0);
    let matrix: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(matrix["include"].as_array().unwrap().len(), 257);
    assert!(
        stderr(&output).contains("257 manifests: GitHub runs at most 256 jobs from one matrix"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_manifest_deleted_since_the_base_is_said_with_what_it_leaves_behind() {
    let ws = Workspace::new();
    let manifest = "version: 1\ntarget: {sandbox: {state: .tagrec/s.json}}\nprojects: []\n";
    ws.write("accounts/old/us-east-1.yaml", manifest);
    ws.write("accounts/new/us-east-1.yaml", manifest);
    ws.write("notes/readme.yaml", "not: a manifest\n");
    branch_off_main(ws.root());
    std::fs::remove_file(ws.path("accounts/old/us-east-1.yaml")).unwrap();
    std::fs::remove_file(ws.path("notes/readme.yaml")).unwrap();
    let output = run(
        &ws,
        &[
            "manifests",
            "-f",
            "accounts/*/*.yaml",
            "--changed-since",
            "main",
        ],
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "");
    let err = stderr(&output);
    assert!(
        err.contains("accounts/old/us-east-1.yaml was deleted since main: no run looks at its account any more"),
        "{err}"
    );
    assert!(
        !err.contains("notes/readme.yaml"),
        "not selected by -f: {err}"
    );
}
