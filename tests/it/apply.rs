//! `tagrec apply` end to end: the real binary against `tagrec sandbox serve` over loopback, with
//! the emulator's faults, its request log as the witness of what was written, and the live list
//! as the witness of what is there now.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

use crate::support::{
    Account, assert_exit, both, collect, project, stderr, stdout, tagrec, tagrec_path, wait_for,
};

const KEY: &str = "test-key";
const READ_ONLY_KEY: &str = "long-term-key";
const OWNER: &str = "platform/bedrock-projects";

/// The emulator seeded with `seed`; the test's own reads send `KEY`.
fn start(seed: &[Value], flags: &[&str]) -> Account {
    Account::start(&Value::from(seed.to_vec()), flags).reading_with(KEY)
}

/// The writes that happened (answered or not).
fn committed(requests: &[Value]) -> Vec<&Value> {
    requests.iter().filter(|r| r["committed"] == true).collect()
}

/// Committed creates: `POST /v1/organization/projects`.
fn committed_creates(requests: &[Value]) -> Vec<String> {
    committed(requests)
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/organization/projects")
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn names_of(projects: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = projects
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

fn by_name<'a>(projects: &'a [Value], name: &str) -> Vec<&'a Value> {
    projects.iter().filter(|p| p["name"] == name).collect()
}

/// A small account: one project to fix, one already right, one owned and no longer declared.
fn small_seed() -> Vec<Value> {
    vec![
        project(
            "proj_fix00000000000000001",
            "Billing-Prod",
            json!({"Team": "old", "Legacy": "yes", "ManagedBy": OWNER}),
        ),
        project(
            "proj_same0000000000000001",
            "Search-Prod",
            json!({"Team": "search", "ManagedBy": OWNER}),
        ),
        project(
            "proj_gone0000000000000001",
            "Old-Experiment",
            json!({"Team": "lab", "ManagedBy": OWNER}),
        ),
    ]
}

const SMALL_MANIFEST: &str = r#"version: 1
target:
  region: us-east-1
owner: platform/bedrock-projects
prune: true
projects:
  - name: Billing-Prod
    tags: {Team: billing}
  - name: Search-Prod
    tags: {Team: search}
  - name: Chat-New
    tags: {Team: chat, CostCenter: "007"}
"#;

#[test]
fn converges_in_one_run_through_errors_lost_answers_and_throttling() {
    let mut seed = Vec::new();
    let mut manifest = String::from(
        "version: 1\ntarget:\n  region: us-east-1\nowner: platform/bedrock-projects\nprune: true\nprojects:\n",
    );
    for i in 0..40 {
        manifest.push_str(&format!(
            "  - name: New-{i:02}\n    tags: {{Team: t{i}, CostCenter: CC-{i}}}\n"
        ));
    }
    for i in 0..25 {
        seed.push(project(
            &format!("proj_upd{i:017}"),
            &format!("Fix-{i:02}"),
            json!({"Team": "wrong", "Legacy": "x", "ManagedBy": OWNER}),
        ));
        manifest.push_str(&format!("  - name: Fix-{i:02}\n    tags: {{Team: t{i}}}\n"));
    }
    for i in 0..5 {
        seed.push(project(
            &format!("proj_arc{i:017}"),
            &format!("Gone-{i:02}"),
            json!({"ManagedBy": OWNER}),
        ));
    }
    let account = start(
        &seed,
        &[
            "--fail-rate",
            "0.2",
            "--drop-after-commit-rate",
            "0.2",
            "--rate-limit",
            "50",
            "--fault-seed",
            "11",
        ],
    );
    account.ws.write("projects.yaml", &manifest);

    let output = account.run(Some(KEY), &["apply", "--auto-approve", "--allow-archive"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stdout(&output).contains("Apply complete: 70 done, 0 failed, 0 skipped."),
        "{}",
        both(&output)
    );

    // The faults did happen: lost answers of committed writes, and refusals.
    let requests = account.requests();
    let lost = requests
        .iter()
        .filter(|r| r["committed"] == true && r["status"].is_null())
        .count();
    let refused = requests
        .iter()
        .filter(|r| matches!(r["status"].as_u64(), Some(429 | 500)))
        .count();
    assert!(lost > 0 && refused > 0, "lost {lost}, refused {refused}");

    // Each create committed exactly once: 40 creates, 40 distinct ids, each one of the 40 names.
    let created = committed_creates(&requests);
    let distinct: BTreeSet<&String> = created.iter().collect();
    assert_eq!(created.len(), 40, "committed creates: {created:?}");
    assert_eq!(distinct.len(), 40);
    let all = account.projects();
    let active = account.active();
    let names = names_of(&active);
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "duplicate names: {names:?}");
    for id in &created {
        let project = all
            .iter()
            .find(|p| p["id"] == id.as_str())
            .expect("a created id is listed");
        assert_eq!(project["status"], "active");
        assert!(project["name"].as_str().unwrap_or("").starts_with("New-"));
    }
    for i in 0..5 {
        let gone = account.project(&format!("proj_arc{i:017}"));
        assert_eq!(gone["status"], "archived");
    }

    // And planning again finds nothing to do.
    let plan = account.run(Some(KEY), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
    assert!(stdout(&plan).contains("No changes."), "{}", both(&plan));
}

#[test]
fn a_saved_plan_whose_projects_changed_is_refused_and_nothing_is_written() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let plan = account.run(Some(KEY), &["plan", "--out", "plan.json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));

    // A colleague re-tags the project the plan updates.
    account.modify(
        "proj_fix00000000000000001",
        json!({"add_tags": {"Owner": "someone"}}),
    );
    let before = account.requests().len();
    let output = account.run(Some(KEY), &["apply", "plan.json", "--allow-archive"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let message = stderr(&output);
    assert!(message.contains("is stale"), "{message}");
    assert!(message.contains("Billing-Prod"), "{message}");
    assert!(message.contains("proj_fix00000000000000001"), "{message}");
    assert!(message.contains("Nothing was written"), "{message}");
    let requests = account.requests();
    assert!(
        committed(&requests[before..]).is_empty(),
        "writes after a stale plan: {:?}",
        &requests[before..]
    );
    assert!(
        !by_name(&account.active(), "Old-Experiment").is_empty(),
        "the archive of a stale plan happened"
    );

    // It says how to plan again, exactly: those two commands, pasted, finish the job.
    let plan_again = between(&message, "Plan again: `", "`");
    let apply_again = between(&message, "`, then `", "`");
    assert_eq!(
        plan_again,
        format!(
            "tagrec plan -f projects.yaml --endpoint {} --out plan.json",
            account.sandbox.base_url
        )
    );
    assert_eq!(apply_again, "tagrec apply plan.json --allow-archive");
    assert_exit(&pasted(&account, &account.path(""), &plan_again), 0);
    let applied = pasted(&account, &account.path(""), &apply_again);
    assert_exit(&applied, 0);
    assert_eq!(
        account.project("proj_fix00000000000000001")["tags"],
        json!({"Team": "billing", "ManagedBy": OWNER})
    );
}

/// The text between `start` and the next `end` after it.
fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in:\n{text}"))
        + start.len();
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end:?} after {start:?} in:\n{text}"));
    text[from..from + len].to_string()
}

/// Runs a command line that tagrec printed, as a user pasting it in `dir` would (with the key in
/// the environment, and this build as `tagrec`).
fn pasted(account: &Account, dir: &std::path::Path, line: &str) -> Output {
    let line = line
        .strip_prefix("tagrec ")
        .unwrap_or_else(|| panic!("not a tagrec command: {line}"));
    Command::new("sh")
        .arg("-c")
        .arg(format!("\"$TAGREC\" {line}"))
        .env("TAGREC", tagrec_path())
        .env("TAGREC_API_KEY", KEY)
        .env("NO_COLOR", "1")
        .env_remove("TAGREC_ENDPOINT")
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("sh runs in {}: {e}", account.ws.root().display()))
}

#[test]
fn a_saved_plan_is_stale_when_a_project_it_would_create_appeared() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let plan = account.run(Some(KEY), &["plan", "--out", "plan.json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));

    let reply = account.sandbox.post(
        "/organization/projects",
        &json!({"name": "Chat-New", "tags": {"Team": "chat"}}).to_string(),
    );
    assert_eq!(reply.status, 200);
    let before = account.requests().len();
    let output = account.run(Some(KEY), &["apply", "plan.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert!(
        stderr(&output).contains("\"Chat-New\" would be created"),
        "{}",
        both(&output)
    );
    assert!(committed(&account.requests()[before..]).is_empty());
    assert_eq!(by_name(&account.active(), "Chat-New").len(), 1);
}

#[test]
fn a_saved_plan_is_applied_exactly_despite_changes_to_projects_it_does_not_touch() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let plan = account.run(Some(KEY), &["plan", "--out", "plan.json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));

    // Search-Prod is not in the plan (it was right); a project nobody manages appears.
    account.modify(
        "proj_same0000000000000001",
        json!({"add_tags": {"Note": "edited in the console"}}),
    );
    let reply = account.sandbox.post(
        "/organization/projects",
        &json!({"name": "Shadow-IT"}).to_string(),
    );
    assert_eq!(reply.status, 200);
    // The manifest changes too: the saved plan, not the manifest, is what gets applied.
    account.ws.write(
        "projects.yaml",
        &SMALL_MANIFEST.replace("Team: billing", "Team: payments"),
    );

    let output = account.run(Some(KEY), &["apply", "plan.json", "--allow-archive"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stdout(&output).contains("Apply complete: 3 done, 0 failed, 0 skipped."),
        "{}",
        both(&output)
    );
    let fixed = account.project("proj_fix00000000000000001");
    assert_eq!(
        fixed["tags"],
        json!({"Team": "billing", "ManagedBy": OWNER}),
        "the plan's tags, not the edited manifest's"
    );
    assert_eq!(
        account.project("proj_gone0000000000000001")["status"],
        "archived"
    );
    let untouched = account.project("proj_same0000000000000001");
    assert_eq!(untouched["tags"]["Note"], "edited in the console");
    let chat = by_name(&account.active(), "Chat-New")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(chat.len(), 1);
    assert_eq!(
        chat[0]["tags"],
        json!({"Team": "chat", "CostCenter": "007", "ManagedBy": OWNER})
    );
}

#[test]
fn without_a_terminal_or_auto_approve_nothing_is_written() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let output = account.run(Some(KEY), &["apply", "--allow-archive"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert!(
        stderr(&output).contains("--auto-approve"),
        "{}",
        both(&output)
    );
    // The plan was shown, so the refusal is about approval, not about the plan.
    assert!(
        stdout(&output).contains("+ create \"Chat-New\""),
        "{}",
        both(&output)
    );
    assert!(committed(&account.requests()).is_empty());
    let plan = account.run(Some(KEY), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", both(&plan));
}

#[test]
fn archives_without_allow_archive_are_skipped_and_the_exit_is_1() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let output = account.run(Some(KEY), &["apply", "--auto-approve"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let out = stdout(&output);
    assert!(
        out.contains("skipped archive \"Old-Experiment\" (proj_gone0000000000000001): archives need --allow-archive"),
        "{}",
        both(&output)
    );
    assert!(
        out.contains("Apply incomplete: 2 done, 0 failed, 1 skipped."),
        "{}",
        both(&output)
    );
    // The rest was done; the archive was not.
    assert_eq!(
        account.project("proj_gone0000000000000001")["status"],
        "active"
    );
    assert_eq!(
        account.project("proj_fix00000000000000001")["tags"]["Team"],
        "billing"
    );
    assert!(
        !account
            .requests()
            .iter()
            .any(|r| r["path"].as_str().unwrap_or("").ends_with("/archive")),
        "an archive request was sent"
    );

    let again = account.run(Some(KEY), &["apply", "--auto-approve", "--allow-archive"]);
    assert_eq!(again.status.code(), Some(0), "{}", both(&again));
    assert_eq!(
        account.project("proj_gone0000000000000001")["status"],
        "archived"
    );
}

#[test]
fn default_protected_and_unowned_projects_are_never_archived() {
    let seed = vec![
        project("default", "default", json!({})),
        project(
            "proj_prot000000000000001",
            "Fraud-Scoring",
            json!({"ManagedBy": OWNER, "tagrec:protect": "true"}),
        ),
        project(
            "proj_othr000000000000001",
            "Someone-Elses",
            json!({"ManagedBy": "another/team"}),
        ),
        project("proj_nown000000000000001", "No-Owner", json!({"Team": "x"})),
        project(
            "proj_gone000000000000001",
            "Old-Experiment",
            json!({"ManagedBy": OWNER}),
        ),
    ];
    let account = start(&seed, &[]);
    // Everything left the manifest, and prune is on.
    account.ws.write("projects.yaml", 
        "version: 1\ntarget:\n  region: us-east-1\nowner: platform/bedrock-projects\nprune: true\nprojects: []\n",
    );
    let output = account.run(Some(KEY), &["apply", "--auto-approve", "--allow-archive"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let archived: Vec<String> = committed(&account.requests())
        .into_iter()
        .map(|r| r["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        archived,
        vec!["/v1/organization/projects/proj_gone000000000000001/archive".to_string()]
    );
    let active = names_of(&account.active());
    assert_eq!(
        active,
        vec!["Fraud-Scoring", "No-Owner", "Someone-Elses", "default"]
    );
}

#[test]
fn an_interrupted_apply_exits_130_and_the_next_one_finishes_without_duplicates() {
    let account = start(&[], &["--latency-ms", "40"]);
    let mut manifest = String::from("version: 1\ntarget:\n  region: us-east-1\nprojects:\n");
    for i in 0..300 {
        manifest.push_str(&format!(
            "  - name: Bulk-{i:03}\n    tags: {{Team: bulk}}\n"
        ));
    }
    account.ws.write("projects.yaml", &manifest);

    let child = spawn_apply(&account);
    wait_for("20 creates in the request log", || {
        committed_creates(&account.requests()).len() >= 20
    });
    interrupt(child.id());
    let output = child.wait_with_output().expect("tagrec ends");
    assert_eq!(output.status.code(), Some(130), "{}", both(&output));
    let out = stdout(&output);
    assert!(out.contains("Apply interrupted:"), "{}", both(&output));
    assert!(out.contains("Run apply again"), "{}", both(&output));

    // It stopped part way, and what it reported done is what was written.
    let first = committed_creates(&account.requests());
    assert!(
        first.len() < 300,
        "all 300 were created before the interrupt"
    );
    // Each change it did not start is reported once (in the report), not also by the progress.
    let everything = format!("{out}{}", stderr(&output));
    assert!(
        everything.contains("interrupted before it started"),
        "{}",
        both(&output)
    );
    for i in 0..300 {
        let line = format!("skipped create \"Bulk-{i:03}\"");
        assert!(
            everything.matches(&line).count() <= 1,
            "{line} reported twice:\n{}",
            both(&output)
        );
    }
    let done: usize = out
        .split("Apply interrupted: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the summary counts what was done");
    assert_eq!(done, first.len(), "{}", both(&output));

    let again = account.run(Some(KEY), &["apply", "--auto-approve"]);
    assert_eq!(again.status.code(), Some(0), "{}", both(&again));
    let created = committed_creates(&account.requests());
    assert_eq!(created.len(), 300);
    let active = account.active();
    let names = names_of(&active);
    let expected: Vec<String> = (0..300)
        .map(|i| format!("Bulk-{i:03}"))
        .chain(["default".to_string()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(names, expected, "each of the 300 exists exactly once");
}

#[test]
fn a_403_on_writes_names_the_long_term_key_and_every_change_is_reported_failed() {
    let account = Account::start(
        &Value::from(small_seed()),
        &["--read-only-api-key", READ_ONLY_KEY],
    )
    .reading_with(READ_ONLY_KEY);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let output = account.run(
        Some(READ_ONLY_KEY),
        &[
            "apply",
            "--auto-approve",
            "--allow-archive",
            "--format",
            "json",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}): {}", both(&output)));
    assert_eq!(
        report["summary"],
        json!({"done": 0, "failed": 3, "skipped": 0})
    );
    for result in report["results"].as_array().expect("results") {
        assert_eq!(result["status"], "failed", "{result}");
        let error = result["error"].as_str().unwrap_or_default();
        assert!(error.contains("403"), "{error}");
        assert!(
            error
                .to_lowercase()
                .contains("long-term amazon bedrock api key"),
            "{error}"
        );
    }
    // The log lines on stderr say the same for each change.
    let log = stderr(&output);
    for name in ["Old-Experiment", "Chat-New", "Billing-Prod"] {
        assert!(
            log.lines()
                .any(|line| line.starts_with("FAILED to") && line.contains(name)),
            "{log}"
        );
    }
    assert!(committed(&account.requests()).is_empty());
    assert_eq!(
        account.project("proj_fix00000000000000001")["tags"]["Team"],
        "old"
    );
}

#[test]
fn a_lagging_list_still_verifies_and_exits_0() {
    let account = start(&small_seed(), &["--list-lag-ms", "1000"]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    // The first list sees the seed, as a real account's would.
    wait_for("the seed in the lagging list", || {
        account.active().len() == 4
    });
    let output = account.run(Some(KEY), &["apply", "--auto-approve", "--allow-archive"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stdout(&output).contains("Apply complete: 3 done, 0 failed, 0 skipped."),
        "{}",
        both(&output)
    );
    assert!(stderr(&output).contains("Verifying"), "{}", both(&output));
    // Verification listed more than once: the first list could not show the writes yet.
    let requests = account.requests();
    let last_write = requests
        .iter()
        .rposition(|r| r["committed"] == true)
        .expect("writes were logged");
    let lists_after = requests[last_write..]
        .iter()
        .filter(|r| r["method"] == "GET")
        .count();
    assert!(lists_after >= 2, "{lists_after} lists after the last write");
    assert_eq!(committed_creates(&requests).len(), 1);

    wait_for("the writes in the lagging list", || {
        names_of(&account.active()) == ["Billing-Prod", "Chat-New", "Search-Prod", "default"]
    });
    let plan = account.run(Some(KEY), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
}

#[test]
fn json_format_is_the_documented_object_and_alone_on_stdout() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let output = account.run(Some(KEY), &["apply", "--auto-approve", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    let created = by_name(&account.active(), "Chat-New")[0]["id"].clone();
    assert_eq!(
        report,
        json!({
            "format_version": "1",
            "summary": {"done": 2, "failed": 0, "skipped": 1},
            "results": [
                {"action": "archive", "name": "Old-Experiment", "id": "proj_gone0000000000000001",
                 "status": "skipped", "error": "archives need --allow-archive (they cannot be undone)"},
                {"action": "create", "name": "Chat-New", "id": created, "status": "done", "error": null},
                {"action": "update", "name": "Billing-Prod", "id": "proj_fix00000000000000001",
                 "status": "done", "error": null},
            ]
        })
    );
    // The plan went to stderr with the progress.
    assert!(stderr(&output).contains("+ create \"Chat-New\""));

    let nothing = account.run(Some(KEY), &["apply", "--auto-approve", "--format", "json"]);
    let report: Value = serde_json::from_slice(&nothing.stdout).expect("stdout is JSON");
    assert_eq!(report["summary"]["skipped"], 1, "{}", both(&nothing));
}

/// Runs `apply plan.json` on a plan file edited by `damage`; returns the output, and checks that
/// nothing was written.
fn apply_edited_plan(damage: impl FnOnce(String) -> String) -> Output {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let plan = account.run(Some(KEY), &["plan", "--out", "plan.json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
    let text = std::fs::read_to_string(account.path("plan.json")).expect("the plan");
    std::fs::write(account.path("plan.json"), damage(text)).expect("plan rewritten");
    let output = account.run(Some(KEY), &["apply", "plan.json", "--allow-archive"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert!(committed(&account.requests()).is_empty());
    output
}

#[test]
fn a_damaged_plan_file_is_refused() {
    let truncated = apply_edited_plan(|text| text[..text.len() / 2].to_string());
    assert!(
        stderr(&truncated).contains("plan.json is not a tagrec plan (damaged JSON)"),
        "{}",
        both(&truncated)
    );
    let wrong_shape = apply_edited_plan(|text| {
        let mut plan: Value = serde_json::from_str(&text).expect("JSON");
        plan["changes"][0]["action"] = json!("delete");
        plan.to_string()
    });
    assert!(
        stderr(&wrong_shape).contains("plan.json is damaged"),
        "{}",
        both(&wrong_shape)
    );
}

#[test]
fn a_plan_of_a_newer_format_is_refused() {
    let output = apply_edited_plan(|text| {
        let mut plan: Value = serde_json::from_str(&text).expect("JSON");
        plan["format_version"] = json!("2");
        plan["new_field"] = json!({"from": "the future"});
        plan.to_string()
    });
    assert!(
        stderr(&output).contains("plan.json has plan format 2, but this tagrec"),
        "{}",
        both(&output)
    );
}

#[test]
fn a_plan_made_for_another_endpoint_is_refused() {
    let planned = start(&small_seed(), &[]);
    planned.ws.write("projects.yaml", SMALL_MANIFEST);
    let plan = planned.run(Some(KEY), &["plan", "--out", "plan.json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));

    let other = start(&small_seed(), &[]);
    let output = planned
        .ws
        .tagrec(&["apply", "plan.json", "--endpoint", &other.sandbox.base_url])
        .env("TAGREC_API_KEY", KEY)
        .output()
        .expect("tagrec runs");
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("was planned against {}", planned.sandbox.base_url))
            && message.contains(&other.sandbox.base_url),
        "{message}"
    );
    assert!(other.requests().is_empty(), "{:?}", other.requests());
    let planned_writes = planned.requests();
    assert!(committed(&planned_writes).is_empty());
}

#[test]
fn the_plan_printed_before_applying_matches_what_is_applied_for_targets() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let output = account.run(
        Some(KEY),
        &["apply", "--auto-approve", "--target", "Billing-Prod"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let writes: Vec<String> = committed(&account.requests())
        .into_iter()
        .map(|r| r["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        writes,
        vec!["/v1/organization/projects/proj_fix00000000000000001".to_string()]
    );
    let tags: BTreeMap<String, Value> =
        serde_json::from_value(account.project("proj_fix00000000000000001")["tags"].clone())
            .expect("tags");
    assert_eq!(
        tags.keys().cloned().collect::<Vec<_>>(),
        vec!["ManagedBy", "Team"]
    );
}

/// Reads a child's pipe into a shared string as it arrives.
#[test]
fn a_second_ctrl_c_stops_at_once_and_the_next_apply_finishes() {
    // Every answer takes 3 s: the first Ctrl-C has running calls to wait for.
    let account = start(&[], &["--latency-ms", "3000", "-v"]);
    let mut manifest = String::from("version: 1\ntarget:\n  region: us-east-1\nprojects:\n");
    for i in 0..9 {
        manifest.push_str(&format!("  - name: Slow-{i}\n    tags: {{Team: slow}}\n"));
    }
    account.ws.write("projects.yaml", &manifest);

    let mut child = spawn_apply(&account);
    let (out, out_done) = collect(child.stdout.take().expect("stdout"));
    let (err, err_done) = collect(child.stderr.take().expect("stderr"));
    // The emulator logs each request as it arrives (`-v`): creates are in flight.
    wait_for("a create to reach the emulator", || {
        account
            .sandbox
            .stderr()
            .contains("POST /v1/organization/projects received")
    });
    interrupt(child.id());
    wait_for("the first interrupt's warning", || {
        err.lock().unwrap().contains("interrupted: no new change")
    });
    interrupt(child.id());
    let status = child.wait().expect("tagrec ends");
    out_done.join().expect("stdout read");
    err_done.join().expect("stderr read");
    let (out, err) = (out.lock().unwrap().clone(), err.lock().unwrap().clone());
    assert_eq!(status.code(), Some(130), "{out}\n{err}");
    assert!(err.contains("interrupted twice: stopped at once"), "{err}");
    // It did not wait for the running creates to report them.
    assert!(!out.contains("Apply interrupted:"), "{out}\n{err}");

    let again = account.run(Some(KEY), &["apply", "--auto-approve"]);
    assert_eq!(again.status.code(), Some(0), "{}", both(&again));
    let names = names_of(&account.active());
    let mut expected: Vec<String> = (0..9).map(|i| format!("Slow-{i}")).collect();
    expected.push("default".into());
    assert_eq!(names, expected);
}

/// `tagrec apply --auto-approve` against the account, in the background, its output piped.
fn spawn_apply(account: &Account) -> Child {
    Command::new(tagrec_path())
        .env("TAGREC_API_KEY", KEY)
        .env("NO_COLOR", "1")
        .env_remove("TAGREC_ENDPOINT")
        .current_dir(account.ws.root())
        .args(["apply", "--auto-approve"])
        .args(["--endpoint", &account.sandbox.base_url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tagrec starts")
}

/// Ctrl-C, as a terminal sends it.
fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// `apply --target Billing-Prod` (one tag to fix) on an emulator whose list lags `lag_ms`, with
/// the settle window and the timeout given.
fn apply_billing_prod_behind_a_lagging_list(
    lag_ms: &str,
    settle_ms: &str,
    timeout: &str,
) -> (Account, std::process::Output) {
    let account = start(&small_seed(), &["--list-lag-ms", lag_ms]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let output = account.run(
        Some(KEY),
        &[
            "apply",
            "--auto-approve",
            "--settle-ms",
            settle_ms,
            "--timeout",
            timeout,
            "--target",
            "Billing-Prod",
        ],
    );
    (account, output)
}

#[test]
fn a_write_that_never_shows_in_the_list_is_a_failure_naming_the_project_and_tag() {
    // The list lags far longer than tagrec's settle window (shortened to 200 ms for the test)
    // and than its --timeout: verification never sees the write, pass after pass.
    let (account, output) = apply_billing_prod_behind_a_lagging_list("60000", "200", "3s");
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let out = stdout(&output);
    assert!(
        out.contains(
            "FAILED to update \"Billing-Prod\" (proj_fix00000000000000001): verification failed: \"Billing-Prod\" (proj_fix00000000000000001): tag Team is \"old\", expected \"billing\""
        ),
        "{}",
        both(&output)
    );
    assert!(
        out.contains("Apply incomplete: 0 done, 1 failed, 0 skipped."),
        "{}",
        both(&output)
    );
    // It kept trying until the deadline, and says so.
    assert!(
        stderr(&output).contains("pass 2: 1 change left"),
        "{}",
        both(&output)
    );
    assert!(
        out.contains("still unfinished when the --timeout of 3s passed")
            && out.contains("The --timeout of 3s passed before every change was done"),
        "{}",
        both(&output)
    );
    // The write itself happened: the failure is about what could be verified.
    assert_eq!(
        account.project("proj_fix00000000000000001")["tags"]["Team"],
        "billing"
    );
}

#[test]
fn a_write_undone_again_and_again_fails_after_three_writes_not_at_the_timeout() {
    // Each write goes through and each verification lists the old value, as when another writer
    // sets it back: after three writes the change fails, long before the --timeout.
    let (account, output) = apply_billing_prod_behind_a_lagging_list("600000", "100", "10m");
    assert_exit(&output, 1);
    let out = stdout(&output);
    assert!(
        out.contains("tag Team is \"old\", expected \"billing\"; written 3 times and each time listed otherwise: something else changes it back"),
        "{}",
        both(&output)
    );
    assert!(!out.contains("--timeout"), "{}", both(&output));
    assert!(
        stderr(&output).contains("pass 3: 1 change left") && !stderr(&output).contains("pass 4"),
        "{}",
        both(&output)
    );
    let writes = account
        .requests()
        .into_iter()
        .filter(|r| r["committed"] == true && r["method"] == "POST")
        .count();
    assert_eq!(writes, 3, "one write per pass");
}

// ---- passes and --timeout ----

/// An account of `creates` new projects and `updates` projects with a wrong tag, all owned.
fn fault_account(creates: usize, updates: usize, flags: &[&str]) -> Account {
    let mut seed = Vec::new();
    let mut manifest = String::from(
        "version: 1\ntarget:\n  region: us-east-1\nowner: platform/bedrock-projects\nprojects:\n",
    );
    for i in 0..creates {
        manifest.push_str(&format!("  - name: New-{i:03}\n    tags: {{Team: t{i}}}\n"));
    }
    for i in 0..updates {
        seed.push(project(
            &format!("proj_upd{i:017}"),
            &format!("Fix-{i:03}"),
            json!({"Team": "wrong", "ManagedBy": OWNER}),
        ));
        manifest.push_str(&format!("  - name: Fix-{i:03}\n    tags: {{Team: t{i}}}\n"));
    }
    let account = start(&seed, flags);
    account.ws.write("projects.yaml", &manifest);
    account
}

/// Each name once among the active projects, and each create committed once.
#[track_caller]
fn assert_no_duplicate(account: &Account, creates: usize) {
    let created = committed_creates(&account.requests());
    assert_eq!(created.len(), creates, "committed creates: {created:?}");
    let names = names_of(&account.active());
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "duplicate names: {names:?}");
}

#[test]
fn under_heavy_faults_apply_converges_in_one_run_for_every_seed() {
    for seed in ["1", "2", "3", "4"] {
        let account = fault_account(
            20,
            20,
            &[
                "--fail-rate",
                "0.3",
                "--drop-after-commit-rate",
                "0.3",
                "--rate-limit",
                "50",
                "--fault-seed",
                seed,
            ],
        );
        let output = account.run(Some(KEY), &["apply", "--auto-approve"]);
        assert_exit(&output, 0);
        assert!(
            stdout(&output).contains("Apply complete: 40 done, 0 failed, 0 skipped."),
            "seed {seed}: {}",
            both(&output)
        );
        // A change that was not done in a pass is reported, and a next pass follows.
        let log = stderr(&output);
        if log.contains("is not done yet") {
            assert!(log.contains("pass 2: "), "seed {seed}: {log}");
        }
        assert_no_duplicate(&account, 20);
        let plan = account.run(Some(KEY), &["plan", "--detailed-exitcode"]);
        assert_exit(&plan, 0);
    }
}

#[test]
fn writes_the_list_shows_late_are_finished_by_later_passes_without_a_second_create() {
    // The list lags 2.5 s, far more than the settle window (200 ms here): the first pass cannot
    // verify anything; later passes re-list, send the idempotent writes again, wait for the
    // created project to show, and never create it again.
    let account = start(&small_seed(), &["--list-lag-ms", "2500"]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    wait_for("the seed in the lagging list", || {
        account.active().len() == 4
    });
    let output = account.run(
        Some(KEY),
        &[
            "apply",
            "--auto-approve",
            "--allow-archive",
            "--settle-ms",
            "200",
        ],
    );
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("Apply complete: 3 done, 0 failed, 0 skipped."),
        "{}",
        both(&output)
    );
    let log = stderr(&output);
    assert!(log.contains("pass 2: 3 changes left"), "{log}");
    assert!(
        log.contains("create \"Chat-New\" (proj_") && log.contains("is not done yet"),
        "{log}"
    );
    assert_eq!(committed_creates(&account.requests()).len(), 1);
    wait_for("the writes in the lagging list", || {
        names_of(&account.active()) == ["Billing-Prod", "Chat-New", "Search-Prod", "default"]
    });
}

#[test]
fn a_timeout_that_passes_is_named_and_exits_1() {
    let account = start(&small_seed(), &["--fail-rate", "1"]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let output = account.run(Some(KEY), &["apply", "--auto-approve", "--timeout", "2s"]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("the --timeout of 2s passed"), "{err}");
    assert!(committed(&account.requests()).is_empty());
}

#[test]
fn a_timeout_that_is_not_a_duration_is_a_usage_error() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    for bad in ["soon", "10", "0s", "5 parsecs"] {
        let output = account.run(Some(KEY), &["apply", "--auto-approve", "--timeout", bad]);
        assert_exit(&output, 1);
        let err = stderr(&output);
        assert!(err.contains("--timeout"), "{bad}: {err}");
    }
    let output = account.run(Some(KEY), &["apply", "--auto-approve", "--timeout", "soon"]);
    assert!(
        stderr(&output).contains("like 90s, 10m or 1h"),
        "{}",
        both(&output)
    );
    assert!(account.requests().is_empty(), "nothing was sent");
}

// ---- saved plans ----

#[test]
fn a_saved_plan_applies_from_another_folder_with_no_manifest_or_endpoint_flag() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let plan = account.run(Some(KEY), &["plan", "--out", "plans/plan.json"]);
    assert_exit(&plan, 0);
    // The hint is the exact command, with --allow-archive since the plan archives.
    let hint = between(&stderr(&plan), "run `", "`");
    assert_eq!(hint, "tagrec apply plans/plan.json --allow-archive");

    // Applied from a folder elsewhere, with neither -f nor --endpoint: the plan says both.
    let elsewhere = account.path("elsewhere/deeper");
    std::fs::create_dir_all(&elsewhere).expect("a folder");
    let output = tagrec()
        .current_dir(&elsewhere)
        .env("TAGREC_API_KEY", KEY)
        .env("NO_COLOR", "1")
        .args(["apply", "../../plans/plan.json", "--allow-archive"])
        .output()
        .expect("tagrec runs");
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("Apply complete: 3 done, 0 failed, 0 skipped."),
        "{}",
        both(&output)
    );
    assert_eq!(by_name(&account.active(), "Chat-New").len(), 1);
    assert_eq!(
        account.project("proj_gone0000000000000001")["status"],
        "archived"
    );
}

#[test]
fn the_hint_after_plan_out_is_a_command_that_works_as_pasted() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let plan = account.run(Some(KEY), &["plan", "--out", "my plans/next plan.json"]);
    assert_exit(&plan, 0);
    let hint = between(&stderr(&plan), "run `", "`");
    assert_eq!(
        hint,
        "tagrec apply 'my plans/next plan.json' --allow-archive"
    );
    let applied = pasted(&account, &account.path(""), &hint);
    assert_exit(&applied, 0);
    assert!(
        stdout(&applied).contains("Apply complete: 3 done"),
        "{}",
        both(&applied)
    );
}

#[test]
fn a_saved_plan_is_confirmed_by_the_same_endpoint() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let plan = account.run(Some(KEY), &["plan", "--out", "plan.json"]);
    assert_exit(&plan, 0);
    // `account.run` passes --endpoint: the same one as the plan's.
    let output = account.run(Some(KEY), &["apply", "plan.json", "--allow-archive"]);
    assert_exit(&output, 0);
}

#[test]
fn archives_without_allow_archive_are_announced_before_anything_is_asked_or_written() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let notice = "this plan's 1 archive (\"Old-Experiment\") will be skipped: archiving needs --allow-archive";

    // No terminal: the notice comes before the refusal to ask.
    let refused = account.run(Some(KEY), &["apply"]);
    assert_exit(&refused, 1);
    let err = stderr(&refused);
    let at_notice = err.find(notice).unwrap_or_else(|| panic!("{err}"));
    let at_refusal = err.find("no terminal").unwrap_or_else(|| panic!("{err}"));
    assert!(at_notice < at_refusal, "{err}");
    assert!(
        err.contains("only the other 2 changes will be made"),
        "{err}"
    );
    assert!(committed(&account.requests()).is_empty());

    // Approved: the notice still comes first, with the command that archives too.
    let output = account.run(Some(KEY), &["apply", "--auto-approve"]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    let at_notice = err.find(notice).unwrap_or_else(|| panic!("{err}"));
    let at_write = err
        .find("created \"Chat-New\"")
        .unwrap_or_else(|| panic!("{err}"));
    assert!(at_notice < at_write, "{err}");
    assert!(
        err.contains("To archive too, add --allow-archive."),
        "{err}"
    );
    // The skipped archive is reported once, in the report.
    let everything = format!("{}{err}", stdout(&output));
    assert_eq!(
        everything
            .matches("skipped archive \"Old-Experiment\"")
            .count(),
        1,
        "{}",
        both(&output)
    );
}

#[test]
fn a_saved_plan_whose_archives_were_skipped_says_how_to_plan_again() {
    let account = start(&small_seed(), &[]);
    account.ws.write("projects.yaml", SMALL_MANIFEST);
    let plan = account.run(Some(KEY), &["plan", "--out", "plan.json"]);
    assert_exit(&plan, 0);
    let output = account.run(Some(KEY), &["apply", "plan.json"]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("will be skipped"), "{err}");
    let plan_again = between(&err, "To archive, plan again: `", "`");
    let apply_again = between(&err, "`, then `", "`");
    assert_eq!(apply_again, "tagrec apply plan.json --allow-archive");
    assert_exit(&pasted(&account, &account.path(""), &plan_again), 0);
    assert_exit(&pasted(&account, &account.path(""), &apply_again), 0);
    assert_eq!(
        account.project("proj_gone0000000000000001")["status"],
        "archived"
    );
}

#[test]
fn a_saved_plan_that_only_renames_a_pinned_project_applies() {
    let account = start(
        &[project(
            "proj_rename00000000000001",
            "Old-Name",
            json!({"Team": "a"}),
        )],
        &[],
    );
    account.ws.write(
        "projects.yaml",
        "version: 1\ntarget: {region: us-east-1}\nprojects:\n  - name: New-Name\n    id: proj_rename00000000000001\n    tags: {Team: a}\n",
    );
    let plan = account.run(Some(KEY), &["plan", "--out", "plan.json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
    let applied = account.run(Some(KEY), &["apply", "plan.json"]);
    assert_eq!(applied.status.code(), Some(0), "{}", both(&applied));
    assert_eq!(
        account.project("proj_rename00000000000001")["name"],
        "New-Name"
    );
}
