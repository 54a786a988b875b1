//! `audit`, `import` and the GitOps kit, run as a user runs them: the real binary against
//! `tagrec sandbox serve` over loopback, with a long-term read-only key wherever only reading is
//! needed, and the CI files executed step by step as the runners would.

use std::path::Path;
use std::process::Output;

use proptest::prelude::*;
use saphyr::{LoadableYamlNode, Yaml};
use serde_json::{Value, json};

use crate::support::{
    AMBIENT, Account, assert_exit, code, project, stderr, stdout, tagrec, tagrec_path,
};

const READ_KEY: &str = "ro-key-for-tests";
const WRITE_KEY: &str = "rw-key-for-tests";
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// An emulator seeded with `projects`, accepting a read-only key and a read-write key (the
/// test's own reads use the latter), beside the repository's example policy.
fn start(projects: &Value) -> Account {
    let account = Account::start(
        projects,
        &["--read-only-api-key", READ_KEY, "--api-key", WRITE_KEY],
    )
    .reading_with(WRITE_KEY);
    account.ws.copy_policies();
    account
}

/// `tagrec --endpoint <the emulator> ARGS` in the account's folder, with `key` as the key and
/// the region in the environment.
fn run(account: &Account, key: &str, args: &[&str]) -> Output {
    account
        .command(Some(key), args)
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("tagrec runs")
}

fn good_tags(app: &str) -> Value {
    json!({"Application": app, "Environment": "Staging", "Team": "Risk",
           "CostCenter": "CC-2040", "Owner": "bob"})
}

/// Two compliant projects (one managed by name, one pinned by id), two that are not (one with a
/// name a CSV or a markdown table must escape), an archived non-compliant one and `default`.
fn mixed_account() -> Account {
    start(&json!([
        project("default", "default", json!({})),
        project("proj_aaaaaaaaaaaaaaaaaaa1", "Alpha", good_tags("Alpha")),
        project(
            "proj_bbbbbbbbbbbbbbbbbbb2",
            "Beta-Renamed",
            good_tags("Beta")
        ),
        project(
            "proj_ccccccccccccccccccc3",
            "Team \"Growth\", | bots",
            json!({"Team": "Growth", "CostCenter": "1234"})
        ),
        project(
            "proj_ddddddddddddddddddd4",
            "Delta",
            json!({"Application": "Delta", "Environment": "Production", "Team": "Risk",
                   "CostCenter": "CC-2040", "Owner": "bob"})
        ),
        json!({"id": "proj_eeeeeeeeeeeeeeeeeee5", "name": "Old-Thing", "status": "archived",
               "archived_at": 1759276800, "tags": {}}),
    ]))
}

const AUDIT_MANIFEST: &str = "version: 1
target: {region: us-east-1}
policy: policies/required-tags.yaml
projects:
  - name: Alpha
    tags: {Application: Alpha, Environment: Staging, Team: Risk, CostCenter: CC-2040, Owner: bob}
  - name: Beta
    id: proj_bbbbbbbbbbbbbbbbbbb2
    tags: {Application: Beta, Environment: Staging, Team: Risk, CostCenter: CC-2040, Owner: bob}
";

#[track_caller]
fn assert_only_list_requests(account: &Account) {
    let requests = account.requests();
    assert!(!requests.is_empty(), "the emulator saw no request");
    for r in &requests {
        assert_eq!(r["method"], "GET", "not a list request: {r}");
        assert_eq!(r["path"], "/v1/organization/projects", "not a list: {r}");
        assert_eq!(r["status"], 200, "{r}");
    }
}

#[test]
fn audit_text_lists_every_active_project_with_its_violations_and_exits_2() {
    let account = mixed_account();
    account.ws.write("projects.yaml", AUDIT_MANIFEST);
    let out = run(&account, READ_KEY, &["audit"]);
    assert_exit(&out, 2);
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("proj_")).collect();
    assert_eq!(
        rows.len(),
        4,
        "one row per active project but default:\n{text}"
    );
    assert!(
        !text.contains("Old-Thing"),
        "archived projects are not audited"
    );
    assert!(!text.lines().any(|l| l.starts_with("default ")), "{text}");
    let row = |id: &str| *rows.iter().find(|r| r.contains(id)).unwrap();
    assert!(
        row("proj_aaaaaaaaaaaaaaaaaaa1").contains(" yes "),
        "by name"
    );
    assert!(row("proj_bbbbbbbbbbbbbbbbbbb2").contains(" yes "), "by id");
    assert!(row("proj_ccccccccccccccccccc3").contains(" no "));
    assert!(
        row("proj_ccccccccccccccccccc3")
            .contains("missing required tags Application, Environment, Owner;"),
        "the missing tags in one sentence, as validate and plan say it: {text}"
    );
    assert!(row("proj_ddddddddddddddddddd4").contains("DataClassification"));
    assert!(row("proj_aaaaaaaaaaaaaaaaaaa1").trim_end().ends_with('-'));
    assert!(
        text.contains("Compliance: 2 of 4 projects (50.0%)."),
        "{text}"
    );
    assert!(
        text.contains("cost allocation tags in AWS Billing"),
        "{text}"
    );
    // The count per violated rule: DataClassification is missing on one project only.
    assert!(
        text.lines()
            .any(|l| l.trim() == "1  missing required tag DataClassification"),
        "{text}"
    );
    assert_only_list_requests(&account);
}

#[test]
fn audit_json_has_the_summary_and_every_project() {
    let account = mixed_account();
    account.ws.write("projects.yaml", AUDIT_MANIFEST);
    let out = run(&account, READ_KEY, &["audit", "--format", "json"]);
    assert_exit(&out, 2);
    let audit: Value = serde_json::from_slice(&out.stdout).expect("audit --format json is JSON");
    assert_eq!(audit["format_version"], "1");
    assert_eq!(audit["summary"]["projects"], 4);
    assert_eq!(audit["summary"]["compliant"], 2);
    assert_eq!(audit["summary"]["rate"], 0.5);
    let projects = audit["projects"].as_array().unwrap();
    let names: Vec<&str> = projects
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Alpha", "Beta-Renamed", "Delta", "Team \"Growth\", | bots"]
    );
    let managed: Vec<bool> = projects.iter().map(|p| p["managed"] == true).collect();
    assert_eq!(managed, [true, true, false, false]);
    assert_eq!(projects[3]["tags"]["CostCenter"], "1234");
    let violations = projects[3]["violations"].as_array().unwrap();
    assert!(violations.iter().all(|v| v["rule"] == "policy"));
    assert!(
        violations
            .iter()
            .any(|v| v["message"].as_str().unwrap().contains("1234")),
        "{violations:?}"
    );
    assert!(projects[0]["violations"].as_array().unwrap().is_empty());
    assert_only_list_requests(&account);
}

/// A strict RFC 4180 reader: quoted fields may hold commas, doubled quotes and line breaks.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field: {text}");
                quoted = true;
            }
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "a CR not followed by LF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\n') => panic!("a bare LF ends a record: RFC 4180 wants CRLF"),
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "an unterminated quoted field");
    assert!(
        row.is_empty() && field.is_empty(),
        "the last record lacks its CRLF"
    );
    rows
}

#[test]
fn audit_csv_is_one_row_per_violation_with_rfc_4180_quoting() {
    let awkward = "Team \"Growth\", | bots\nsecond line";
    let account = start(&json!([
        project("proj_aaaaaaaaaaaaaaaaaaa1", "Alpha", good_tags("Alpha")),
        project(
            "proj_ccccccccccccccccccc3",
            awkward,
            json!({"Application": "x", "Environment": "Staging", "Team": "Growth",
                   "CostCenter": "12,\"34\"", "Owner": "z"})
        ),
        project("proj_fffffffffffffffffff6", "Bare", json!({})),
    ]));
    account.ws.write("projects.yaml", AUDIT_MANIFEST);
    let out = run(&account, READ_KEY, &["audit", "--format", "csv"]);
    assert_exit(&out, 2);
    let rows = read_csv(&stdout(&out));
    assert_eq!(rows[0], ["name", "id", "managed", "rule", "message"]);
    assert!(rows.iter().all(|r| r.len() == 5), "{rows:?}");
    let of = |id: &str| rows.iter().filter(|r| r[1] == id).collect::<Vec<_>>();
    assert!(
        of("proj_aaaaaaaaaaaaaaaaaaa1").is_empty(),
        "compliant: no row"
    );
    // Bare misses the five required tags: five rows.
    assert_eq!(of("proj_fffffffffffffffffff6").len(), 5);
    let awkward_rows = of("proj_ccccccccccccccccccc3");
    assert_eq!(awkward_rows.len(), 1, "{rows:?}");
    assert_eq!(awkward_rows[0][0], awkward, "the name reads back exactly");
    assert_eq!(awkward_rows[0][2], "false");
    assert_eq!(awkward_rows[0][3], "policy");
    assert!(
        awkward_rows[0][4].contains("12,\\\"34\\\"") || awkward_rows[0][4].contains("12,\"34\""),
        "the message names the value: {:?}",
        awkward_rows[0][4]
    );
}

#[test]
fn audit_markdown_is_a_table_with_one_row_per_project() {
    let account = mixed_account();
    account.ws.write("projects.yaml", AUDIT_MANIFEST);
    let out = run(&account, READ_KEY, &["audit", "--format", "markdown"]);
    assert_exit(&out, 2);
    let md = stdout(&out);
    assert!(md.contains("Compliance: 2 of 4 projects (50.0%)."), "{md}");
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table[0], "| Project | Id | Managed | Violations |");
    assert_eq!(
        table.len(),
        2 + 4,
        "header, rule, one row per project:\n{md}"
    );
    // Every row has exactly four cells: the `|` in a project's name is escaped.
    for row in &table[2..] {
        let cells = row.replace("\\|", "").matches('|').count();
        assert_eq!(cells, 5, "{row}");
    }
    let growth = table.iter().find(|r| r.contains("proj_ccc")).unwrap();
    assert!(growth.contains("Team \"Growth\", \\| bots"), "{growth}");
    assert!(growth.contains("<br>"), "violations one per line: {growth}");
    assert!(md.contains("cost allocation tags"), "{md}");
}

#[test]
fn audit_exits_0_when_every_project_is_compliant() {
    let account = start(&json!([
        project("default", "default", json!({})),
        project("proj_aaaaaaaaaaaaaaaaaaa1", "Alpha", good_tags("Alpha")),
        project("proj_bbbbbbbbbbbbbbbbbbb2", "Unmanaged", good_tags("Other")),
    ]));
    account.ws.write("projects.yaml", AUDIT_MANIFEST);
    for format in ["text", "json", "csv", "markdown"] {
        let out = run(&account, READ_KEY, &["audit", "--format", format]);
        assert_exit(&out, 0);
        if format == "csv" {
            assert_eq!(read_csv(&stdout(&out)).len(), 1, "only the header");
        }
        if format == "text" {
            assert!(stdout(&out).contains("2 of 2 projects (100.0%)"));
        }
    }
    assert_only_list_requests(&account);
}

#[test]
fn audit_exits_1_on_errors_and_says_why() {
    let account = mixed_account();
    account.ws.write("projects.yaml", AUDIT_MANIFEST);
    let out = run(&account, "not-a-key", &["audit"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).is_empty(), "no half audit on stdout");
    assert!(
        !stderr(&out).contains("not-a-key"),
        "credentials never printed"
    );

    account.ws.write(
        "nopolicy.yaml",
        "version: 1\ntarget: {region: us-east-1}\nprojects: []\n",
    );
    let out = run(&account, READ_KEY, &["audit", "-f", "nopolicy.yaml"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("policy"), "{}", stderr(&out));

    let out = run(&account, READ_KEY, &["audit", "-f", "missing.yaml"]);
    assert_exit(&out, 1);
}

fn yaml_doc(text: &str) -> Yaml<'_> {
    let mut docs = Yaml::load_from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert_eq!(docs.len(), 1, "one YAML document");
    docs.remove(0)
}

fn get<'a, 'b>(node: &'a Yaml<'b>, key: &str) -> &'a Yaml<'b> {
    node.as_mapping_get(key)
        .unwrap_or_else(|| panic!("no `{key}` in {node:?}"))
}

fn example_live() -> Value {
    let text = std::fs::read_to_string(Path::new(REPO).join("examples/live.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn import_pins_ids_turns_protect_into_a_flag_and_leaves_aws_keys_out() {
    let account = start(&example_live());
    let out = run(&account, READ_KEY, &["import", "--out", "imported.yaml"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).is_empty(), "the manifest went to the file");
    let text = account.ws.read("imported.yaml");
    let doc = yaml_doc(&text);
    assert_eq!(get(&doc, "version").as_integer(), Some(1));
    assert_eq!(
        get(get(&doc, "target"), "region").as_str(),
        Some("us-east-1")
    );
    assert!(doc.as_mapping_get("owner").is_none());
    assert!(doc.as_mapping_get("policy").is_none());
    let projects = get(&doc, "projects").as_vec().unwrap();
    let names: Vec<&str> = projects
        .iter()
        .map(|p| get(p, "name").as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    // Active projects but default: 13 in the example; not the archived Summer-Pilot.
    assert_eq!(names.len(), 13, "{names:?}");
    assert!(!names.contains(&"default") && !names.contains(&"Summer-Pilot"));
    for p in projects {
        assert!(
            get(p, "id").as_str().unwrap().starts_with("proj_"),
            "pinned"
        );
        let tags = get(p, "tags").as_mapping().unwrap();
        for key in tags.keys() {
            let key = key.as_str().unwrap();
            assert!(!key.starts_with("aws:") && key != "tagrec:protect", "{key}");
        }
    }
    let by_name = |n: &str| {
        projects
            .iter()
            .find(|p| get(p, "name").as_str() == Some(n))
            .unwrap()
    };
    assert_eq!(
        get(by_name("Legal-Review"), "protect").as_bool(),
        Some(true)
    );
    assert!(by_name("Fraud-Scoring").as_mapping_get("protect").is_none());
    assert_eq!(
        get(get(by_name("Translation-Prod"), "tags"), "ModelVersion").as_str(),
        Some("1.10"),
        "a version keeps its text"
    );
    // Without --owner, ManagedBy is an ordinary tag and stays.
    assert_eq!(
        get(get(by_name("Old-Experiment"), "tags"), "ManagedBy").as_str(),
        Some("platform/bedrock-projects")
    );

    let plan = run(
        &account,
        READ_KEY,
        &["plan", "-f", "imported.yaml", "--detailed-exitcode"],
    );
    assert_exit(&plan, 0);
    assert!(stdout(&plan).contains("No changes."), "{}", stdout(&plan));
    assert_only_list_requests(&account);
}

#[test]
fn import_to_stdout_writes_no_file_and_is_deterministic() {
    let account = start(&example_live());
    let first = run(&account, READ_KEY, &["import", "--out", "-"]);
    assert_exit(&first, 0);
    let second = run(&account, READ_KEY, &["import", "--out", "-"]);
    assert_eq!(stdout(&first), stdout(&second), "byte-identical");
    assert!(!account.path("projects.yaml").exists());
    assert!(!account.path("-").exists());
    let text = stdout(&first);
    assert!(text.contains("id: proj_2z766pfxmkij5vwubv75"), "{text}");
    assert!(!text.contains("aws:cloudformation"), "{text}");
}

#[test]
fn import_refuses_to_overwrite_without_force() {
    let account = start(&example_live());
    account
        .ws
        .write("projects.yaml", "# my hand-written manifest\n");
    // No manifest to read the target from here: region from AWS_REGION, endpoint from the flag.
    let out = run(&account, READ_KEY, &["import", "-f", "none.yaml"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        account.ws.read("projects.yaml"),
        "# my hand-written manifest\n"
    );

    let out = run(
        &account,
        READ_KEY,
        &["import", "-f", "none.yaml", "--force"],
    );
    assert_exit(&out, 0);
    assert!(account.ws.read("projects.yaml").contains("Fraud-Scoring"));
}

#[test]
fn import_with_owner_and_policy_plans_no_changes_for_owned_projects() {
    let account = start(&json!([
        project(
            "proj_aaaaaaaaaaaaaaaaaaa1",
            "Alpha",
            json!({"Application": "Alpha", "ManagedBy": "platform/bedrock", "Team": "x"})
        ),
        project(
            "proj_bbbbbbbbbbbbbbbbbbb2",
            "Beta",
            json!({"ManagedBy": "platform/bedrock", "tagrec:protect": "true", "aws:x": "y"})
        ),
    ]));
    let out = run(
        &account,
        READ_KEY,
        &[
            "import",
            "--out",
            "projects.yaml",
            "--owner",
            "platform/bedrock",
            "--policy",
            "policies/required-tags.yaml",
        ],
    );
    assert_exit(&out, 0);
    let text = account.ws.read("projects.yaml");
    let doc = yaml_doc(&text);
    assert_eq!(get(&doc, "owner").as_str(), Some("platform/bedrock"));
    assert_eq!(
        get(&doc, "policy").as_str(),
        Some("policies/required-tags.yaml")
    );
    assert!(!text.contains("ManagedBy"), "left to `owner:`:\n{text}");
    assert!(!text.contains("aws:x"), "{text}");
    let beta = &get(&doc, "projects").as_vec().unwrap()[1];
    assert_eq!(get(beta, "protect").as_bool(), Some(true));
    assert!(get(beta, "tags").as_mapping().unwrap().is_empty());

    // The policy is in force now: plan reports the violations (exit 1), but validate is the
    // offline proof that the written manifest is well-formed.
    let validate = account.ws.tagrec(&["validate"]).output().unwrap();
    assert!(
        stdout(&validate).contains("policy") || stderr(&validate).contains("policy"),
        "the imported policy is applied"
    );
    // Without the policy the same manifest plans no changes.
    let bare = text.replace("policy: policies/required-tags.yaml\n", "");
    account.ws.write("bare.yaml", &bare);
    let plan = run(
        &account,
        READ_KEY,
        &["plan", "-f", "bare.yaml", "--detailed-exitcode"],
    );
    assert_exit(&plan, 0);
}

#[test]
fn import_with_owner_says_which_projects_it_would_take_over() {
    let account = start(&json!([
        project(
            "proj_aaaaaaaaaaaaaaaaaaa1",
            "Mine",
            json!({"ManagedBy": "platform"})
        ),
        project(
            "proj_bbbbbbbbbbbbbbbbbbb2",
            "Theirs",
            json!({"ManagedBy": "data-team"})
        ),
        project("proj_ccccccccccccccccccc3", "Nobodys", json!({})),
    ]));
    let out = run(
        &account,
        READ_KEY,
        &[
            "import",
            "-f",
            "none.yaml",
            "--out",
            "m.yaml",
            "--owner",
            "platform",
        ],
    );
    assert_exit(&out, 0);
    let warning = stderr(&out);
    assert!(warning.contains("2 of the imported projects"), "{warning}");
    assert!(
        warning.contains("Theirs (proj_bbbbbbbbbbbbbbbbbbb2)"),
        "{warning}"
    );
    assert!(warning.contains("Nobodys"), "{warning}");
    assert!(!warning.contains("Mine"), "{warning}");
    // And it is true: the plan takes exactly those two over.
    let plan = run(
        &account,
        READ_KEY,
        &["plan", "-f", "m.yaml", "--format", "json"],
    );
    assert_exit(&plan, 0);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let mut updated: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    updated.sort();
    assert_eq!(updated, ["Nobodys", "Theirs"]);
}

/// Strings that a YAML reader (1.1 or 1.2) would read as something else, or not at all, if they
/// were written plainly.
const AWKWARD: &[&str] = &[
    "NO",
    "no",
    "yes",
    "Yes",
    "on",
    "Off",
    "y",
    "n",
    "true",
    "False",
    "007",
    "1.10",
    "1e3",
    "0x1F",
    "0o17",
    ".inf",
    "-.inf",
    ".nan",
    "~",
    "null",
    "Null",
    "",
    " ",
    " lead",
    "trail ",
    "a # b",
    "#x",
    "a: b",
    "a:",
    "line\nbreak",
    "tab\there",
    "\ttab",
    "Zürich",
    "東京",
    "emoji 🚀",
    "- dash",
    "-",
    "? q",
    "[x]",
    "{x}",
    "*alias",
    "&anchor",
    "!tag",
    "%pct",
    "@at",
    "`tick",
    "'single'",
    "\"double\"",
    "|pipe",
    ">fold",
    "a,b",
    "back\\slash",
    "crlf\r\n",
    "2024-01-01",
    "12:30",
    "+1",
    "-1",
    "1_000",
    "<<",
    "=",
    "CC-0070",
    "plain words",
];

fn awkward_account(projects: &[(String, Vec<(String, String)>)]) -> Value {
    let list: Vec<Value> = projects
        .iter()
        .enumerate()
        .map(|(i, (name, tags))| {
            let tags: serde_json::Map<String, Value> = tags
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            project(&format!("proj_{i:020}"), name, Value::Object(tags))
        })
        .collect();
    Value::Array(list)
}

#[track_caller]
fn assert_import_then_plan_is_empty(live: &Value) {
    let account = start(live);
    let out = run(
        &account,
        READ_KEY,
        &["import", "-f", "none.yaml", "--out", "m.yaml"],
    );
    assert_exit(&out, 0);
    // A standard YAML 1.2 reader (not only tagrec's own) reads back every name and value as
    // the same string: nothing plain that it would take for a number, a bool or a null.
    let text = account.ws.read("m.yaml");
    let doc = yaml_doc(&text);
    for p in get(&doc, "projects").as_vec().unwrap() {
        let id = get(p, "id").as_str().unwrap();
        let live = live
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .unwrap();
        assert_eq!(get(p, "name").as_str(), live["name"].as_str(), "{text}");
        let tags: serde_json::Map<String, Value> = get(p, "tags")
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let k = k
                    .as_str()
                    .unwrap_or_else(|| panic!("key {k:?} is not a string"));
                let v = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{k}: {v:?} is not a string"));
                (k.to_string(), Value::String(v.to_string()))
            })
            .collect();
        assert_eq!(Value::Object(tags), live["tags"], "{text}");
    }
    let plan = run(
        &account,
        READ_KEY,
        &["plan", "-f", "m.yaml", "--detailed-exitcode"],
    );
    assert_eq!(
        code(&plan),
        0,
        "import then plan must show no changes\n--- manifest\n{}\n--- plan\n{}{}",
        account.ws.read("m.yaml"),
        stdout(&plan),
        stderr(&plan)
    );
}

#[test]
fn import_round_trips_every_awkward_value_as_key_value_and_name() {
    let mut projects = Vec::new();
    let tags: Vec<(String, String)> = AWKWARD
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("K{i}"), v.to_string()))
        .collect();
    projects.push(("values".to_string(), tags));
    let keys: Vec<(String, String)> = AWKWARD
        .iter()
        .filter(|k| !k.is_empty())
        .map(|k| (k.to_string(), "v".to_string()))
        .collect();
    projects.push(("keys".to_string(), keys));
    for name in AWKWARD.iter().filter(|n| !n.trim().is_empty()) {
        projects.push((
            name.to_string(),
            vec![("Name".to_string(), name.to_string())],
        ));
    }
    assert_import_then_plan_is_empty(&awkward_account(&projects));
}

#[test]
fn import_leaves_out_a_project_named_default_and_says_so() {
    // The API lets a project other than the account's own be named `default`; a manifest may not
    // declare that name, so importing it would write a manifest that validate rejects.
    let account = start(&json!([
        project("default", "default", json!({})),
        project("proj_aaaaaaaaaaaaaaaaaaa1", "default", json!({"Team": "x"})),
        project("proj_bbbbbbbbbbbbbbbbbbb2", "Alpha", json!({"Team": "y"})),
    ]));
    let out = run(
        &account,
        READ_KEY,
        &["import", "-f", "none.yaml", "--out", "m.yaml"],
    );
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("proj_aaaaaaaaaaaaaaaaaaa1"),
        "{}",
        stderr(&out)
    );
    assert!(
        !account
            .ws
            .read("m.yaml")
            .contains("proj_aaaaaaaaaaaaaaaaaaa1")
    );
    let plan = run(
        &account,
        READ_KEY,
        &["plan", "-f", "m.yaml", "--detailed-exitcode"],
    );
    assert_exit(&plan, 0);
}

#[test]
fn import_round_trips_the_example_account_through_its_sandbox_manifest() {
    // The user's path: the example manifest targets the embedded emulator seeded from live.json.
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "examples/projects.yaml",
        "examples/live.json",
        "policies/required-tags.yaml",
        "policies/common.yaml",
    ] {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(Path::new(REPO).join(file), to).unwrap();
    }
    let run = |args: &[&str]| {
        tagrec()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    // Written into another folder: the sandbox's paths must be re-rooted there.
    std::fs::create_dir(dir.path().join("imported")).unwrap();
    let out = run(&[
        "import",
        "-f",
        "examples/projects.yaml",
        "--out",
        "imported/projects.yaml",
    ]);
    assert_exit(&out, 0);
    let plan = run(&[
        "plan",
        "-f",
        "imported/projects.yaml",
        "--detailed-exitcode",
    ]);
    assert_exit(&plan, 0);
    assert!(stdout(&plan).contains("No changes."), "{}", stdout(&plan));
    let text = std::fs::read_to_string(dir.path().join("imported/projects.yaml")).unwrap();
    let doc = yaml_doc(&text);
    let sandbox = get(get(&doc, "target"), "sandbox");
    assert_eq!(get(sandbox, "seed").as_str(), Some("../examples/live.json"));
    assert!(get(&doc, "target").as_mapping_get("endpoint").is_none());
}

fn awkward_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(AWKWARD).prop_map(str::to_string),
        1 => "[a-zA-Z0-9 #:'\"\\-\\t\\n.~!&*?{}\\[\\],|>%@`éü東]{0,12}",
    ]
}

fn live_state() -> impl Strategy<Value = Vec<(String, Vec<(String, String)>)>> {
    let name = awkward_text().prop_filter("a name is not blank", |n| !n.trim().is_empty());
    // Names are unique here: a manifest may not repeat a name (product.md), even pinned by id.
    let key = awkward_text().prop_filter("a key is 1-128 characters, not aws: or tagrec's", |k| {
        !k.is_empty() && !k.starts_with("aws:") && k != "tagrec:protect"
    });
    let tags = proptest::collection::btree_map(key, awkward_text(), 0..6)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>());
    proptest::collection::btree_map(name, tags, 1..8).prop_map(|m| m.into_iter().collect())
}

proptest! {
    // Each case starts an emulator and runs the binary twice: a modest number of cases.
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn import_then_plan_shows_no_changes_for_any_live_state(projects in live_state()) {
        assert_import_then_plan_is_empty(&awkward_account(&projects));
    }
}

// ---- The GitOps kit --------------------------------------------------------------------------

fn kit_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(REPO).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `tagrec ...` command lines of a script, as written.
fn tagrec_lines(script: &str) -> Vec<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("tagrec "))
        .map(str::to_string)
        .collect()
}

/// The `run:` scripts of a GitHub workflow's single job, by step name.
fn github_steps(workflow: &str) -> Vec<(String, String)> {
    let doc = yaml_doc(workflow);
    let jobs = get(&doc, "jobs").as_mapping().unwrap();
    assert_eq!(jobs.len(), 1, "one job");
    let job = jobs.values().next().unwrap();
    get(job, "steps")
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|step| {
            let run = step.as_mapping_get("run")?.as_str()?.to_string();
            let name = get(step, "name").as_str().unwrap().to_string();
            Some((name, run))
        })
        .collect()
}

fn step<'a>(steps: &'a [(String, String)], name: &str) -> &'a str {
    &steps
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no step {name:?}"))
        .1
}

const PLAN_LINE: &str = "tagrec plan -f \"$TAGREC_MANIFEST\" --format markdown --detailed-exitcode --out plan.json > plan.md";
const VALIDATE_LINE: &str = "tagrec validate -f \"$TAGREC_MANIFEST\" --format github";
const APPLY_LINE: &str = "tagrec apply -f \"$TAGREC_MANIFEST\" $flags";

#[test]
fn the_ci_files_parse_and_run_exactly_the_commands_this_suite_runs() {
    let plan = kit_file("examples/ci/github/tagrec-plan.yml");
    let apply = kit_file("examples/ci/github/tagrec-apply.yml");
    let gitlab = kit_file("examples/ci/gitlab/.gitlab-ci.yml");
    let hooks = kit_file(".pre-commit-hooks.yaml");

    let plan_doc = yaml_doc(&plan);
    assert!(
        get(get(&plan_doc, "on"), "pull_request")
            .as_mapping()
            .is_some()
    );
    assert_eq!(
        get(get(&plan_doc, "permissions"), "pull-requests").as_str(),
        Some("write"),
        "the plan comment needs it"
    );
    let plan_steps = github_steps(&plan);
    let all: Vec<String> = plan_steps
        .iter()
        .flat_map(|(_, s)| tagrec_lines(s))
        .collect();
    assert_eq!(all, [VALIDATE_LINE, PLAN_LINE]);
    let comment = step(
        &plan_steps,
        "Comment the plan (one comment, updated in place)",
    );
    assert!(comment.contains("PATCH"), "updates the comment in place");
    let uploads: Vec<String> = {
        let job = get(&plan_doc, "jobs")
            .as_mapping()
            .unwrap()
            .values()
            .next()
            .unwrap();
        get(job, "steps")
            .as_vec()
            .unwrap()
            .iter()
            .filter(|s| {
                s.as_mapping_get("uses")
                    .and_then(|u| u.as_str())
                    .is_some_and(|u| u.starts_with("actions/upload-artifact"))
            })
            .map(|s| get(get(s, "with"), "path").as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(uploads, ["plan.json"], "the plan file is kept");

    let apply_doc = yaml_doc(&apply);
    assert_eq!(
        get(get(get(&apply_doc, "on"), "push"), "branches")
            .as_vec()
            .unwrap()[0]
            .as_str(),
        Some("main")
    );
    let concurrency = get(&apply_doc, "concurrency");
    assert!(get(concurrency, "group").as_str().is_some());
    assert_eq!(
        get(concurrency, "cancel-in-progress").as_bool(),
        Some(false),
        "an apply is never cut short"
    );
    let apply_steps = github_steps(&apply);
    let all: Vec<String> = apply_steps
        .iter()
        .flat_map(|(_, s)| tagrec_lines(s))
        .collect();
    assert_eq!(all, [VALIDATE_LINE, APPLY_LINE]);
    assert!(step(&apply_steps, "Apply").contains("flags=\"--auto-approve\""));
    assert!(step(&apply_steps, "Apply").contains("--allow-archive"));

    let gitlab_doc = yaml_doc(&gitlab);
    let script = |job: &str| -> Vec<String> {
        get(get(&gitlab_doc, job), "script")
            .as_vec()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    };
    let lines = |job: &str| -> Vec<String> {
        script(job)
            .iter()
            .flat_map(|s| tagrec_lines(s))
            .map(|l| l.split("; code=$?").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        lines("validate"),
        [
            "tagrec validate -f \"$TAGREC_MANIFEST\" --format json > validate.json || (cat validate.json; exit 1)"
        ]
    );
    assert_eq!(lines("plan"), [PLAN_LINE]);
    assert_eq!(lines("apply"), [APPLY_LINE]);
    assert_eq!(
        get(get(&gitlab_doc, "apply"), "resource_group").as_str(),
        Some("tagrec-apply"),
        "one apply at a time"
    );

    let hooks_doc = yaml_doc(&hooks);
    let hook = &hooks_doc.as_vec().unwrap()[0];
    assert_eq!(get(hook, "id").as_str(), Some("tagrec-validate"));
    assert_eq!(get(hook, "entry").as_str(), Some("tagrec validate"));
    assert_eq!(get(hook, "pass_filenames").as_bool(), Some(false));
}

/// A repository of the kit's kind: a manifest that renames a tag, creates one project and prunes
/// one owned project, in an account with a read-write key (what apply needs).
fn gitops_account() -> Account {
    let owned = json!({"Application": "Old", "Environment": "Staging", "Team": "Risk",
                       "CostCenter": "CC-2040", "Owner": "bob", "ManagedBy": "platform/bedrock"});
    let account = start(&json!([
        project(
            "proj_aaaaaaaaaaaaaaaaaaa1",
            "Alpha",
            json!({"Application": "Alpha", "Environment": "Staging", "Team": "Risk",
                   "costcenter": "CC-2040", "Owner": "bob", "ManagedBy": "platform/bedrock"})
        ),
        project("proj_ooooooooooooooooooo9", "Old-Experiment", owned),
    ]));
    account.ws.write(
        "projects.yaml",
        "version: 1
target: {region: us-east-1}
policy: policies/required-tags.yaml
owner: platform/bedrock
prune: true
defaults:
  tags: {Environment: Staging, Team: Risk, CostCenter: CC-2040, Owner: bob}
projects:
  - name: Alpha
    tags: {Application: Alpha}
  - name: Search
    tags: {Application: Search}
",
    );
    account
}

/// Runs a CI script with bash as the runner does (`bash -e`), `tagrec` on the PATH and the
/// credentials and endpoint in the environment, as the OIDC or secret step would leave them.
fn run_script(account: &Account, script: &str, key: &str) -> Output {
    let bin = tagrec_path();
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = std::process::Command::new("bash");
    for name in AMBIENT {
        command.env_remove(name);
    }
    command
        .current_dir(account.ws.root())
        .env("PATH", path)
        .env("TAGREC_MANIFEST", "projects.yaml")
        .env("TAGREC_API_KEY", key)
        .env("TAGREC_ENDPOINT", &account.sandbox.base_url)
        .env("GITHUB_OUTPUT", account.path("github_output"))
        .env("GITHUB_STEP_SUMMARY", account.path("step_summary.md"))
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .output()
        .expect("bash runs")
}

fn github_exitcode(account: &Account) -> String {
    let out = std::fs::read_to_string(account.path("github_output")).unwrap_or_default();
    let last = out
        .lines()
        .filter_map(|l| l.strip_prefix("exitcode="))
        .next_back();
    last.unwrap_or_default().to_string()
}

#[test]
fn the_github_workflows_take_a_pull_request_from_plan_to_applied() {
    let account = gitops_account();
    let plan_steps = github_steps(&kit_file("examples/ci/github/tagrec-plan.yml"));
    let apply_steps = github_steps(&kit_file("examples/ci/github/tagrec-apply.yml"));

    // Pull request: validate, then plan with a read-only key (the plan role needs list only).
    let out = run_script(&account, step(&plan_steps, "Validate"), READ_KEY);
    assert_exit(&out, 0);
    assert!(!stdout(&out).contains("::error"), "{}", stdout(&out));
    let out = run_script(&account, step(&plan_steps, "Plan"), READ_KEY);
    assert_exit(&out, 0);
    assert_eq!(
        github_exitcode(&account),
        "2",
        "changes, and the job passes"
    );
    let md = account.ws.read("plan.md");
    assert!(md.contains("Search"), "the comment shows the create:\n{md}");
    assert!(md.contains("Old-Experiment"), "and the archive:\n{md}");
    let saved: Value = serde_json::from_str(&account.ws.read("plan.json")).unwrap();
    assert_eq!(saved["summary"]["create"], 1);
    assert_eq!(saved["summary"]["update"], 1);
    assert_eq!(saved["summary"]["archive"], 1);
    assert!(
        account.ws.read("step_summary.md").contains("Search"),
        "the job summary gets the plan too"
    );
    assert!(
        account.requests().iter().all(|r| r["method"] == "GET"),
        "a pull request writes nothing"
    );

    // Merge: validate, then apply with write credentials; prune: true allows the archive.
    let out = run_script(&account, step(&apply_steps, "Validate"), WRITE_KEY);
    assert_exit(&out, 0);
    let out = run_script(&account, step(&apply_steps, "Apply"), WRITE_KEY);
    assert_exit(&out, 0);
    let live = account.projects();
    let status = |name: &str| {
        live.iter()
            .filter(|p| p["name"] == name)
            .map(|p| p["status"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(status("Old-Experiment"), ["archived"]);
    assert_eq!(status("Search"), ["active"]);
    let alpha = live.iter().find(|p| p["name"] == "Alpha").unwrap();
    assert_eq!(alpha["tags"]["CostCenter"], "CC-2040");
    assert!(alpha["tags"].get("costcenter").is_none());

    // The next pull request: nothing left to do.
    let out = run_script(&account, step(&plan_steps, "Plan"), READ_KEY);
    assert_exit(&out, 0);
    assert_eq!(github_exitcode(&account), "0");
    assert!(account.ws.read("plan.md").contains("No changes"));
}

#[test]
fn the_github_plan_job_fails_on_errors_and_annotates_invalid_manifests() {
    let account = gitops_account();
    let plan_steps = github_steps(&kit_file("examples/ci/github/tagrec-plan.yml"));
    // A plan that cannot be made (wrong key) fails the job, rather than passing as "changes".
    let out = run_script(&account, step(&plan_steps, "Plan"), "wrong-key");
    assert_exit(&out, 1);
    assert!(
        !account.path("plan.json").exists(),
        "no plan file from an error"
    );

    account.ws.write(
        "projects.yaml",
        "version: 1\ntarget: {region: us-east-1}\nprojects:\n  - name: A\n    tagz: {}\n",
    );
    let out = run_script(&account, step(&plan_steps, "Validate"), READ_KEY);
    assert_exit(&out, 1);
    let annotations = stdout(&out);
    assert!(
        annotations
            .lines()
            .any(|l| l.starts_with("::error file=projects.yaml,line=5,")),
        "{annotations}"
    );
}

#[test]
fn the_apply_job_skips_archives_when_the_manifest_does_not_prune() {
    let account = gitops_account();
    let manifest = account
        .ws
        .read("projects.yaml")
        .replace("prune: true", "prune: false");
    account.ws.write("projects.yaml", &manifest);
    let apply_steps = github_steps(&kit_file("examples/ci/github/tagrec-apply.yml"));
    let out = run_script(&account, step(&apply_steps, "Apply"), WRITE_KEY);
    assert_exit(&out, 0);
    let live = account.projects();
    let old = live.iter().find(|p| p["name"] == "Old-Experiment").unwrap();
    assert_eq!(old["status"], "active", "no prune, no archive");
}

#[test]
fn the_gitlab_pipeline_runs_the_same_stages() {
    let account = gitops_account();
    let gitlab = kit_file("examples/ci/gitlab/.gitlab-ci.yml");
    let doc = yaml_doc(&gitlab);
    // The runner runs a job's script lines in one shell, stopping at the first failure; the note
    // (a GitLab API call) is left out here.
    let script = |job: &str| -> String {
        get(get(&doc, job), "script")
            .as_vec()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .filter(|l| !l.contains("CI_API_V4_URL"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let out = run_script(&account, &script("validate"), READ_KEY);
    assert_exit(&out, 0);
    let plan = format!("{}\necho \"code=$code\"", script("plan"));
    let out = run_script(&account, &plan, READ_KEY);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("code=2"), "{}", stdout(&out));
    assert!(account.path("plan.json").exists());
    let out = run_script(&account, &script("apply"), WRITE_KEY);
    assert_exit(&out, 0);
    let out = run_script(&account, &plan, READ_KEY);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("code=0"), "{}", stdout(&out));
}
