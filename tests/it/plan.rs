//! `tagrec plan` end to end: the real binary against `tagrec sandbox serve` over HTTP (or the
//! embedded sandbox of `examples/`), asserting what a user sees: exit codes, messages, the saved
//! plan, the JSON contract, the three formats, and how many requests a plan costs.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{Sandbox, Workspace, archived, project, stderr, stdout, tagrec};

const OWNER: &str = "platform/bedrock-projects";

/// `tagrec plan` in a workspace, the way every test here runs it.
trait Plan {
    /// `tagrec plan -f projects.yaml --endpoint <the emulator> --color never ARGS...` with a key.
    fn plan(&self, sandbox: &Sandbox, args: &[&str]) -> assert_cmd::Command;
    /// The same against any endpoint, with no credentials.
    fn plan_at(&self, endpoint: &str, args: &[&str]) -> assert_cmd::Command;
}

impl Plan for Workspace {
    fn plan(&self, sandbox: &Sandbox, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.plan_at(&sandbox.base_url, args);
        cmd.env("TAGREC_API_KEY", "test-key");
        cmd
    }

    fn plan_at(&self, endpoint: &str, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.tagrec(&["plan", "-f", "projects.yaml", "--color", "never"]);
        cmd.args(["--endpoint", endpoint]).args(args);
        cmd
    }
}

fn live(id: &str, name: &str, tags: Value) -> Value {
    project(id, name, tags)
}

/// A manifest with `owner`, `prune: true`, `Environment: Production` from defaults and the given
/// `projects:` entries (YAML flow mappings, one per item).
fn manifest(extra_top: &str, projects: &[&str]) -> String {
    let mut out = format!(
        "version: 1\ntarget: {{region: us-east-1}}\nowner: {OWNER}\nprune: true\n{extra_top}\
         defaults:\n  tags:\n    Environment: Production\nprojects:\n"
    );
    if projects.is_empty() {
        out = out.replace("projects:\n", "projects: []\n");
    }
    for p in projects {
        out.push_str(&format!("  - {p}\n"));
    }
    out
}

/// The tags of a project as the manifest below makes them (defaults and owner included).
fn managed_tags(team: &str) -> Value {
    json!({"Environment": "Production", "Team": team, "ManagedBy": OWNER})
}

/// An account where the plan has one of each: archive, create, update (change, key-case rename,
/// remove, add from defaults) and an unmanaged project with policy violations.
fn mixed_account(ws: &Workspace) -> Sandbox {
    ws.write(
        "policy.yaml",
        "type: object\nproperties:\n  tags:\n    type: object\n    required: [Team, Environment]\n",
    );
    ws.write(
        "projects.yaml",
        &manifest(
            "policy: policy.yaml\n",
            &[
                "{name: Same, tags: {Team: Core}}",
                "{name: Fraud-Prod, tags: {Team: Risk, Owner: carol, CostCenter: CC-2001}}",
                "{name: Search-Prod, tags: {Team: Discovery}}",
            ],
        ),
    );
    ws.serve(
        &json!([
            live("proj_same00000000000000", "Same", managed_tags("Core")),
            live(
                "proj_fraud0000000000000",
                "Fraud-Prod",
                json!({"Team": "Risk", "Owner": "bob", "costcenter": "CC-2001",
                       "Legacy": "yes", "ManagedBy": OWNER, "aws:cloudformation:stack-name": "f"})
            ),
            live(
                "proj_old00000000000000",
                "Old-Experiment",
                managed_tags("Research")
            ),
            live("proj_shadow00000000000", "Shadow-IT", json!({"Owner": "x"})),
        ]),
        &[],
    )
}

// ---- exit codes ----

#[test]
fn no_changes_exits_0_even_with_detailed_exitcode() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        &manifest("", &["{name: Same, tags: {Team: Core}}"]),
    );
    let sandbox = ws.serve(
        &json!([live(
            "proj_same00000000000000",
            "Same",
            managed_tags("Core")
        )]),
        &[],
    );
    let output = ws
        .plan(&sandbox, &["--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("No changes. Live projects match the manifest."),
        "{}",
        stdout(&output)
    );
}

#[test]
fn changes_exit_0_without_detailed_exitcode_and_2_with_it() {
    let ws = Workspace::new();
    let sandbox = mixed_account(&ws);
    let plain = ws.plan(&sandbox, &[]).output().unwrap();
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    assert!(
        stdout(&plain).contains("Plan: 1 to create, 1 to update, 1 to archive."),
        "{}",
        stdout(&plain)
    );
    let detailed = ws
        .plan(&sandbox, &["--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(detailed.status.code(), Some(2), "{}", stderr(&detailed));
    assert_eq!(stdout(&detailed), stdout(&plain));
}

#[test]
fn only_unmanaged_projects_are_not_changes_for_detailed_exitcode() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        &manifest("", &["{name: Same, tags: {Team: Core}}"]),
    );
    let sandbox = ws.serve(
        &json!([
            live("proj_same00000000000000", "Same", managed_tags("Core")),
            live(
                "proj_shadow00000000000",
                "Shadow-IT",
                json!({"Team": "Growth"})
            ),
        ]),
        &[],
    );
    let output = ws
        .plan(&sandbox, &["--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("\"Shadow-IT\" (proj_shadow00000000000)"),
        "{out}"
    );
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn an_invalid_manifest_exits_1_with_its_place_and_sends_no_request() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        "version: 1\ntarget: {region: us-east-1}\nprojects:\n  - name: A\n    tagz: {Team: x}\n",
    );
    let log = ws.path("requests.jsonl");
    let log_arg = log.display().to_string();
    let sandbox = ws.serve(&json!([]), &["--request-log", &log_arg]);
    let out_file = ws.path("plan.json");
    let output = ws.plan(&sandbox, &["--out", "plan.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("projects.yaml:5:5"), "{err}");
    assert!(
        err.contains("tags"),
        "the nearest valid key is suggested: {err}"
    );
    assert_eq!(stdout(&output), "", "no plan on stdout");
    assert!(!out_file.exists(), "no plan file on error");
    let requests = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(requests, "", "an invalid manifest must not reach the API");
}

#[test]
fn a_desired_project_that_breaks_the_policy_exits_1_and_saves_nothing() {
    let ws = Workspace::new();
    ws.write(
        "policy.yaml",
        "type: object\nproperties:\n  tags:\n    type: object\n    required: [CostCenter]\n    \
         properties:\n      CostCenter: {pattern: '^CC-[0-9]{4}$'}\n",
    );
    ws.write(
        "projects.yaml",
        &manifest(
            "policy: policy.yaml\n",
            &[
                "{name: Good, tags: {Team: Core, CostCenter: CC-1000}}",
                "{name: Bad, tags: {Team: Core, CostCenter: '1234'}}",
            ],
        ),
    );
    let sandbox = ws.serve(&json!([]), &[]);
    let output = ws
        .plan(&sandbox, &["--out", "plan.json", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    // The wrong value's own place: line 11 is `- {name: Bad, ...}`, the value in column 45.
    assert!(err.contains("projects.yaml:11:"), "{err}");
    assert!(err.contains("policy"), "{err}");
    assert!(err.contains("1234"), "{err}");
    assert!(!ws.path("plan.json").exists(), "no plan file on error");
}

#[test]
fn two_active_projects_with_one_name_are_a_conflict_with_ids_and_the_id_hint() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        &manifest(
            "",
            &[
                "{name: Twin, tags: {Team: Core}}",
                "{name: Other, tags: {Team: Core}}",
            ],
        ),
    );
    let sandbox = ws.serve(
        &json!([
            live("proj_twinb000000000000", "Twin", json!({"Team": "B"})),
            live("proj_twina000000000000", "Twin", json!({"Team": "A"})),
            // Archived projects are never matched by name, so not part of the conflict.
            archived("proj_twinc000000000000", "Twin", json!({})),
        ]),
        &[],
    );
    let output = ws
        .plan(&sandbox, &["--out", "plan.json", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("\"Twin\""), "{err}");
    assert!(
        err.contains("proj_twina000000000000, proj_twinb000000000000"),
        "both ids, sorted: {err}"
    );
    assert!(
        !err.contains("proj_twinc"),
        "the archived one is no match: {err}"
    );
    assert!(err.contains("`id:`"), "the hint to pin id: {err}");
    assert!(!ws.path("plan.json").exists(), "no plan file on error");
    // Nothing planned for the conflicting name (neither create nor update nor archive of a twin);
    // the rest of the plan is still shown.
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let names: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Other"]);
    assert!(
        plan["unmanaged"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["name"] != "Twin"),
        "{plan}"
    );
}

#[test]
fn creates_past_the_quota_of_1000_active_projects_exit_1() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        &manifest("", &["{name: One-Too-Many, tags: {Team: Core}}"]),
    );
    let seed: Vec<Value> = (0..1000)
        .map(|i| {
            live(
                &format!("proj_q{i:019}"),
                &format!("Team-{i:04}"),
                json!({"Team": "x"}),
            )
        })
        .collect();
    let sandbox = ws.serve(&Value::Array(seed), &[]);
    let output = ws
        .plan(&sandbox, &["--out", "plan.json", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("1001"), "{err}");
    assert!(err.contains("1000"), "{err}");
    assert!(!ws.path("plan.json").exists(), "no plan file on error");

    // One archive makes room: the same create then fits.
    let mut seed: Vec<Value> = (0..999)
        .map(|i| {
            live(
                &format!("proj_q{i:019}"),
                &format!("Team-{i:04}"),
                json!({"Team": "x"}),
            )
        })
        .collect();
    seed.push(live("proj_owned000000000000", "Retired", managed_tags("x")));
    let ws2 = Workspace::new();
    ws2.write(
        "projects.yaml",
        &manifest("", &["{name: One-Too-Many, tags: {Team: Core}}"]),
    );
    let sandbox = ws2.serve(&Value::Array(seed), &[]);
    let output = ws2
        .plan(&sandbox, &["--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn an_unknown_target_is_an_error_naming_it() {
    let ws = Workspace::new();
    let sandbox = mixed_account(&ws);
    let output = ws
        .plan(
            &sandbox,
            &[
                "--target",
                "Search-Prod",
                "--target",
                "Serch-Prod",
                "--out",
                "p.json",
            ],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("\"Serch-Prod\""), "{err}");
    assert!(!err.contains("\"Search-Prod\" matches no"), "{err}");
    assert!(!ws.path("p.json").exists());
}

#[test]
fn an_unknown_target_is_refused_before_any_plan_with_the_nearest_names() {
    let ws = Workspace::new();
    let sandbox = mixed_account(&ws);
    for (typed, meant) in [
        ("fraud-prod", "Fraud-Prod"),
        ("Serch-Prod", "Search-Prod"),
        // Not in the manifest, but owned and planned for archive: a target it may take.
        ("old-experimnt", "Old-Experiment"),
    ] {
        let output = ws.plan(&sandbox, &["--target", typed]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(&format!(
                "--target \"{typed}\" matches no project of the manifest and no project to archive: did you mean `{meant}`?"
            )),
            "{err}"
        );
        assert!(err.contains("repeat it: --target A --target B"), "{err}");
        assert_eq!(stdout(&output), "", "no plan is printed before the error");
    }
    // Several names in one flag: the hint says to repeat it.
    let output = ws
        .plan(&sandbox, &["--target", "Fraud-Prod,Search-Prod"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("repeat it"), "{}", stderr(&output));
    assert!(!stdout(&output).contains("No changes"));
}

#[test]
fn out_dash_writes_the_plan_json_to_stdout_and_the_plan_for_people_to_stderr() {
    let ws = Workspace::new();
    let sandbox = mixed_account(&ws);
    let output = ws.plan(&sandbox, &["--out", "-"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!ws.path("-").exists(), "no file named `-`");
    let json_out = ws.plan(&sandbox, &["--format", "json"]).output().unwrap();
    assert_eq!(
        stdout(&output),
        stdout(&json_out),
        "stdout is the plan file"
    );
    let err = stderr(&output);
    assert!(
        err.contains("tagrec will perform the following actions"),
        "{err}"
    );
    assert!(err.contains("tagrec apply FILE"), "{err}");
    // `--format json --out -`: the object once.
    let once = ws
        .plan(&sandbox, &["--format", "json", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(stdout(&once), stdout(&json_out));

    // Piped into a file, it applies.
    ws.write("piped.json", &stdout(&output));
    let applied = ws
        .tagrec(&["apply", "piped.json", "--allow-archive"])
        .env("TAGREC_API_KEY", "test-key")
        .output()
        .unwrap();
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
}

#[test]
fn an_unreachable_endpoint_exits_1_naming_it() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        &manifest("", &["{name: A, tags: {Team: Core}}"]),
    );
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}/v1");
    let output = ws
        .plan_at(&endpoint, &["--out", "plan.json"])
        .env("TAGREC_API_KEY", "test-key")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(
        !err.contains("test-key"),
        "credentials are never printed: {err}"
    );
    assert_eq!(stdout(&output), "");
    assert!(!ws.path("plan.json").exists());
}

// ---- --out, --target, GITHUB_STEP_SUMMARY ----

#[test]
fn out_writes_the_json_plan_with_what_it_observed() {
    let ws = Workspace::new();
    let sandbox = mixed_account(&ws);
    // A folder that cannot be made (a file is in the way) is an error naming the plan file.
    let output = ws
        .plan(&sandbox, &["--out", "projects.yaml/next.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("could not write the plan to projects.yaml/next.json"),
        "{}",
        stderr(&output)
    );
    // A missing folder is made.
    let output = ws
        .plan(&sandbox, &["--out", "plans/next.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(ws.path("plans/next.json").is_file());

    let output = ws.plan(&sandbox, &["--out", "next.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("tagrec apply next.json"),
        "says how to use it: {}",
        stderr(&output)
    );
    let saved = std::fs::read_to_string(ws.path("next.json")).unwrap();
    let json_out = ws.plan(&sandbox, &["--format", "json"]).output().unwrap();
    assert_eq!(saved, stdout(&json_out), "--out writes the same object");
    let plan: Value = serde_json::from_str(&saved).unwrap();
    let update = &plan["changes"][2];
    assert_eq!(update["action"], "update");
    assert_eq!(
        update["observed"],
        json!({"name": "Fraud-Prod", "status": "active", "tags": {
            "Legacy": "yes", "ManagedBy": OWNER, "Owner": "bob", "Team": "Risk",
            "aws:cloudformation:stack-name": "f", "costcenter": "CC-2001"}}),
        "observed keeps every live key, aws: ones included"
    );
    assert!(!saved.contains("test-key"), "no credential in a plan file");
}

#[test]
fn target_limits_the_plan_to_the_named_projects() {
    let ws = Workspace::new();
    let sandbox = mixed_account(&ws);
    let output = ws
        .plan(
            &sandbox,
            &[
                "--target",
                "Fraud-Prod",
                "--format",
                "json",
                "--detailed-exitcode",
            ],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let names: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Fraud-Prod"]);
    assert_eq!(plan["summary"]["create"], 0);
    assert_eq!(plan["summary"]["archive"], 0);

    // A project to archive can be targeted by its live name.
    let output = ws
        .plan(&sandbox, &["--target", "Old-Experiment"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("- archive \"Old-Experiment\""), "{out}");
    assert!(
        out.contains("Plan: 0 to create, 0 to update, 1 to archive."),
        "{out}"
    );

    // An unchanged target: no changes.
    let output = ws
        .plan(&sandbox, &["--target", "Same", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn github_step_summary_gets_the_markdown_appended() {
    let ws = Workspace::new();
    let sandbox = mixed_account(&ws);
    let summary = ws.write("summary.md", "# Earlier step\n\n");
    let markdown = ws
        .plan(&sandbox, &["--format", "markdown"])
        .output()
        .unwrap();
    for _ in 0..2 {
        let output = ws
            .plan(&sandbox, &[])
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(
            stdout(&output).starts_with("tagrec will perform"),
            "stdout keeps the chosen format"
        );
    }
    let written = std::fs::read_to_string(&summary).unwrap();
    let once = format!("{}\n", stdout(&markdown));
    assert_eq!(written, format!("# Earlier step\n\n{once}{once}"));
}

// ---- the JSON contract ----

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn json_has_exactly_the_fields_of_the_product_example() {
    let ws = Workspace::new();
    let sandbox = mixed_account(&ws);
    let output = ws.plan(&sandbox, &["--format", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();

    // The example's fields, in its order; `ignore_tags` (the saved plan's record of what its
    // stale check must leave out) is the one addition.
    assert_eq!(
        keys(&plan),
        vec![
            "format_version",
            "tagrec_version",
            "manifest",
            "target",
            "summary",
            "changes",
            "unmanaged",
            "warnings",
            "ignore_tags"
        ]
    );
    assert_eq!(plan["format_version"], "1");
    assert_eq!(plan["tagrec_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(plan["manifest"], "projects.yaml");
    assert_eq!(
        plan["target"],
        json!({"endpoint": sandbox.base_url, "region": "us-east-1"})
    );
    assert_eq!(
        plan["summary"],
        json!({"create": 1, "update": 1, "archive": 1, "unchanged": 1, "unmanaged": 1, "protected": 0})
    );
    assert_eq!(
        keys(&plan["summary"]),
        vec![
            "create",
            "update",
            "archive",
            "unchanged",
            "unmanaged",
            "protected"
        ]
    );

    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3);
    let (archive, create, update) = (&changes[0], &changes[1], &changes[2]);

    assert_eq!(
        keys(archive),
        vec!["action", "name", "id", "reason", "observed"]
    );
    assert_eq!(archive["action"], "archive");
    assert_eq!(archive["name"], "Old-Experiment");
    assert_eq!(archive["id"], "proj_old00000000000000");
    assert_eq!(archive["reason"], "owned, no longer declared");
    assert_eq!(keys(&archive["observed"]), vec!["name", "status", "tags"]);
    assert_eq!(archive["observed"]["status"], "active");

    assert_eq!(
        keys(create),
        vec!["action", "name", "id", "request", "tag_changes", "observed"]
    );
    assert_eq!(create["action"], "create");
    assert_eq!(create["id"], Value::Null);
    assert_eq!(create["observed"], Value::Null);
    assert_eq!(
        create["request"],
        json!({"name": "Search-Prod", "tags": {"Environment": "Production", "ManagedBy": OWNER, "Team": "Discovery"}})
    );
    assert_eq!(
        create["tag_changes"],
        json!([
            {"op": "add", "key": "Environment", "after": "Production", "source": "defaults"},
            {"op": "add", "key": "ManagedBy", "after": OWNER, "source": "owner"},
            {"op": "add", "key": "Team", "after": "Discovery", "source": "project"},
        ])
    );

    assert_eq!(
        keys(update),
        vec!["action", "name", "id", "request", "tag_changes", "observed"]
    );
    assert_eq!(update["id"], "proj_fraud0000000000000");
    assert_eq!(
        update["request"],
        json!({"add_tags": {"CostCenter": "CC-2001", "Environment": "Production", "Owner": "carol"},
               "remove_tag_keys": ["Legacy", "costcenter"]})
    );
    assert_eq!(
        update["tag_changes"],
        json!([
            {"op": "rename", "key": "CostCenter", "from_key": "costcenter", "before": "CC-2001", "after": "CC-2001", "source": "project"},
            {"op": "add", "key": "Environment", "after": "Production", "source": "defaults"},
            {"op": "remove", "key": "Legacy", "before": "yes"},
            {"op": "change", "key": "Owner", "before": "bob", "after": "carol", "source": "project"},
        ]),
        "aws: keys are never compared"
    );

    let unmanaged = plan["unmanaged"].as_array().unwrap();
    assert_eq!(unmanaged.len(), 1);
    assert_eq!(
        keys(&unmanaged[0]),
        vec!["name", "id", "protected", "owned", "tags", "violations"]
    );
    assert_eq!(unmanaged[0]["name"], "Shadow-IT");
    assert_eq!(unmanaged[0]["protected"], false);
    assert_eq!(unmanaged[0]["owned"], false);
    let violations = unmanaged[0]["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 2, "{violations:?}");
    for v in violations {
        assert_eq!(keys(v), vec!["rule", "message"]);
        assert_eq!(v["rule"], "policy");
    }
    assert_eq!(plan["warnings"], json!([]));
}

#[test]
fn a_pinned_rename_is_a_rename_project_change_with_the_name_in_the_request() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        &manifest(
            "",
            &["{name: Fraud-Scoring, id: proj_fraud0000000000000, tags: {Team: Risk}}"],
        ),
    );
    let sandbox = ws.serve(
        &json!([live(
            "proj_fraud0000000000000",
            "Fraud-Prod",
            managed_tags("Risk")
        )]),
        &[],
    );
    let output = ws.plan(&sandbox, &["--format", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let change = &plan["changes"][0];
    assert_eq!(change["name"], "Fraud-Scoring");
    assert_eq!(change["request"], json!({"name": "Fraud-Scoring"}));
    assert_eq!(
        change["tag_changes"],
        json!([{"op": "rename-project", "before": "Fraud-Prod", "after": "Fraud-Scoring"}])
    );
}

#[test]
fn a_create_beside_an_archive_with_the_same_tags_warns_of_a_rename_without_id() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        &manifest("", &["{name: Fraud-Scoring, tags: {Team: Risk}}"]),
    );
    let sandbox = ws.serve(
        &json!([live(
            "proj_fraud0000000000000",
            "Fraud-Prod",
            managed_tags("Risk")
        )]),
        &[],
    );
    let output = ws.plan(&sandbox, &["--format", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let warnings = plan["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{plan}");
    let w = warnings[0].as_str().unwrap();
    assert!(w.contains("id: proj_fraud0000000000000"), "{w}");
    let text = ws.plan(&sandbox, &[]).output().unwrap();
    assert!(stdout(&text).contains("Warning:"), "{}", stdout(&text));
}

// ---- the examples: snapshots of the three formats ----

/// `examples/` and `policies/` copied to a temporary folder, so that nothing (a sandbox state
/// file) can be left in the repository.
fn examples_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["examples", "policies"] {
        copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".tagrec" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn plan_examples(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = tagrec();
    cmd.current_dir(dir)
        .args(["plan", "-f", "examples/projects.yaml"])
        .args(args);
    if !args.contains(&"--color") {
        cmd.args(["--color", "never"]);
    }
    cmd.output().unwrap()
}

#[test]
fn the_examples_plan_in_text() {
    let dir = examples_copy();
    let output = plan_examples(dir.path(), &["--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    insta::assert_snapshot!("examples_text", stdout(&output));
    assert!(
        !dir.path().join("examples/.tagrec").exists(),
        "plan writes no sandbox state"
    );
}

#[test]
fn the_examples_plan_in_json() {
    let dir = examples_copy();
    let output = plan_examples(dir.path(), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    insta::assert_snapshot!("examples_json", stdout(&output));
}

#[test]
fn the_examples_plan_in_markdown() {
    let dir = examples_copy();
    let output = plan_examples(dir.path(), &["--format", "markdown"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    insta::assert_snapshot!("examples_markdown", stdout(&output));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let dir = examples_copy();
    let coloured = plan_examples(dir.path(), &["--color", "always"]);
    let plain = plan_examples(dir.path(), &[]);
    assert!(stdout(&coloured).contains("\u{1b}[31m"), "archives in red");
    assert!(stdout(&coloured).contains("\u{1b}[32m"), "creates in green");
    assert!(!stdout(&plain).contains('\u{1b}'));
    // Piped (not a terminal) with `auto`: no colour either.
    let mut cmd = tagrec();
    cmd.current_dir(dir.path())
        .args(["plan", "-f", "examples/projects.yaml"]);
    let auto = cmd.output().unwrap();
    assert_eq!(stdout(&auto), stdout(&plain));
}

// ---- determinism, size, requests ----

/// A larger account whose seed order is shuffled by `rotate`: the plan must not depend on it.
fn big_seed(n: usize, rotate: usize) -> Value {
    let mut projects: Vec<Value> = (0..n)
        .map(|i| {
            let mut tags = json!({"Team": format!("T{}", i % 7), "ManagedBy": OWNER,
                                  "Environment": "Production"});
            if i % 3 == 0 {
                tags["Legacy"] = json!("yes");
            }
            if i % 5 == 0 {
                tags["team"] = tags["Team"].take();
                tags.as_object_mut().unwrap().remove("Team");
            }
            let name = if i % 11 == 0 {
                format!("Gone-{i:04}")
            } else {
                format!("P-{i:04}")
            };
            live(&format!("proj_d{i:019}"), &name, tags)
        })
        .collect();
    projects.rotate_left(rotate % n.max(1));
    Value::Array(projects)
}

fn big_manifest(n: usize) -> String {
    let projects: Vec<String> = (0..n)
        .map(|i| format!("{{name: P-{i:04}, tags: {{Team: T{}}}}}", i % 7))
        .collect();
    let refs: Vec<&str> = projects.iter().map(String::as_str).collect();
    manifest("", &refs)
}

#[test]
fn the_same_inputs_give_byte_identical_output() {
    let ws = Workspace::new();
    ws.write("projects.yaml", &big_manifest(300));
    let first = ws.serve(&big_seed(300, 0), &[]);
    let second_ws = Workspace::new();
    second_ws.write("projects.yaml", &big_manifest(300));
    let second = second_ws.serve(&big_seed(300, 137), &[]);
    for format in ["text", "json", "markdown"] {
        let a = ws.plan(&first, &["--format", format]).output().unwrap();
        let b = ws.plan(&first, &["--format", format]).output().unwrap();
        assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
        assert_eq!(a.stdout, b.stdout, "{format}: two runs differ");
        // Another account listing the same projects in another order: the same plan.
        let c = second_ws
            .plan(&second, &["--format", format])
            .output()
            .unwrap();
        let c = stdout(&c).replace(&second.base_url, &first.base_url);
        assert_eq!(stdout(&a), c, "{format}: the order of the live list leaks");
    }
}

#[test]
fn markdown_is_cut_at_65000_characters_with_a_note() {
    let ws = Workspace::new();
    let projects: Vec<String> = (0..900)
        .map(|i| {
            format!(
                "{{name: Generated-Project-{i:04}, tags: {{Application: App-{i}, Team: Team-{i}, \
                 CostCenter: CC-{i:04}, Owner: owner-{i}, Description: a rather long description \
                 of generated project {i}}}}}"
            )
        })
        .collect();
    let refs: Vec<&str> = projects.iter().map(String::as_str).collect();
    ws.write("projects.yaml", &manifest("", &refs));
    let sandbox = ws.serve(&json!([]), &[]);
    let summary = ws.path("summary.md");
    let output = ws
        .plan(&sandbox, &["--format", "markdown"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let md = stdout(&output);
    let chars = md.chars().count();
    assert!(chars <= 65_000, "{chars} characters");
    assert!(
        chars > 45_000,
        "cut no more than needed: {chars} characters"
    );
    assert!(
        md.starts_with("### tagrec plan\n\n**Plan: 900 to create, 0 to update, 0 to archive.**"),
        "the summary comes first, whatever is cut: {}",
        &md[..200]
    );
    assert!(
        md.contains("limited to 65000 characters"),
        "says what it cut"
    );
    let table_rows = md.lines().filter(|l| l.starts_with("| create |")).count();
    assert!(table_rows > 0 && table_rows < 900, "{table_rows} rows");
    assert!(
        md.contains(&format!("_{} more changes not shown", 900 - table_rows)),
        "the note counts what was cut"
    );
    // The step summary gets the same, cut, markdown.
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        format!("{md}\n")
    );

    // The text plan is never cut.
    let text = ws.plan(&sandbox, &[]).output().unwrap();
    assert_eq!(
        stdout(&text).matches("  + create ").count(),
        900,
        "the text plan lists every create"
    );
}

/// Reads the emulator's request log: one JSON object per line.
fn requests(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_plan_costs_exactly_one_list_request_per_page_of_100() {
    // N projects in all: default, active and archived alike.
    for (active, archived_count) in [(0usize, 0usize), (99, 0), (60, 40), (250, 30)] {
        let ws = Workspace::new();
        let mut seed: Vec<Value> = (0..active)
            .map(|i| {
                live(
                    &format!("proj_a{i:019}"),
                    &format!("P-{i:04}"),
                    managed_tags("x"),
                )
            })
            .collect();
        seed.extend(
            (0..archived_count)
                .map(|i| archived(&format!("proj_z{i:019}"), &format!("Old-{i:04}"), json!({}))),
        );
        let all = 1 + active + archived_count;
        let names: Vec<String> = (0..active / 2)
            .map(|i| format!("{{name: P-{i:04}, tags: {{Team: y}}}}"))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        ws.write("projects.yaml", &manifest("", &refs));
        let log = ws.path("requests.jsonl");
        let log_arg = log.display().to_string();
        let sandbox = ws.serve(&Value::Array(seed), &["--request-log", &log_arg]);
        let output = ws.plan(&sandbox, &[]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let seen = requests(&log);
        let pages = all.div_ceil(100);
        assert_eq!(
            seen.len(),
            pages,
            "{all} projects in all: {pages} pages expected, got {seen:?}"
        );
        for r in &seen {
            assert_eq!(r["method"], "GET");
            assert_eq!(r["path"], "/v1/organization/projects");
            assert_eq!(r["status"], 200);
            let query = r["query"].as_str().unwrap_or_default();
            assert!(query.contains("limit=100"), "{query}");
            assert!(query.contains("include_archived=true"), "{query}");
        }
    }
}

#[test]
fn markdown_of_an_account_with_many_unmanaged_projects_keeps_the_changes() {
    // A brownfield account: a few declared projects, hundreds of untagged ones that break the
    // policy. The list of unmanaged projects is cut before the changes are.
    let ws = Workspace::new();
    ws.write(
        "policy.yaml",
        "type: object\nproperties:\n  tags:\n    type: object\n    \
         required: [Application, Team, CostCenter, Owner, DataClassification]\n",
    );
    ws.write(
        "projects.yaml",
        &manifest(
            "policy: policy.yaml\n",
            &["{name: Declared, tags: {Application: A, Team: T, CostCenter: C, Owner: o, DataClassification: Internal}}"],
        ),
    );
    let seed: Vec<Value> = (0..900)
        .map(|i| {
            live(
                &format!("proj_u{i:019}"),
                &format!("Someone-Elses-Project-{i:04}"),
                json!({}),
            )
        })
        .collect();
    let sandbox = ws.serve(&Value::Array(seed), &[]);
    let output = ws
        .plan(&sandbox, &["--format", "markdown"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let md = stdout(&output);
    assert!(
        md.chars().count() <= 65_000,
        "{} characters",
        md.chars().count()
    );
    assert!(
        md.contains("| create | `Declared` |"),
        "the change survives the cut"
    );
    assert!(
        md.contains("**Unmanaged projects (not in the manifest): 900**"),
        "the count stays exact"
    );
    let listed = md
        .lines()
        .filter(|l| l.starts_with("- `Someone-Elses"))
        .count();
    assert!(listed > 0 && listed < 900, "{listed} listed");
    assert!(
        md.contains(&format!(
            "_{} more unmanaged projects not shown",
            900 - listed
        )),
        "says what it cut"
    );
}

#[test]
fn a_saved_plan_of_the_embedded_sandbox_applies_from_the_plan_alone() {
    // The tour: plan the examples from the repository's folder, apply the file from another one.
    let dir = examples_copy();
    let output = plan_examples(dir.path(), &["--out", "plans/plan.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("run `tagrec apply plans/plan.json --allow-archive`"),
        "{}",
        stderr(&output)
    );
    let output = tagrec()
        .current_dir(dir.path().join("plans"))
        .args(["apply", "plan.json", "--allow-archive", "--color", "never"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("Apply complete:"),
        "{}",
        stdout(&output)
    );
    // The state was written beside the manifest, where the plan was made.
    assert!(dir.path().join("examples/.tagrec/sandbox.json").is_file());
    let again = plan_examples(dir.path(), &["--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}
