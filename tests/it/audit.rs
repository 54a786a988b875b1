//! `audit` and `import`, run as a user runs them: the real binary against
//! `tagrec sandbox serve` over loopback, with a long-term read-only key wherever only reading is
//! needed.

use std::path::Path;
use std::process::Output;

use proptest::prelude::*;
use saphyr::{LoadableYamlNode, Yaml};
use serde_json::{Value, json};

use crate::support::{Account, assert_exit, both, code, project, stderr, stdout, tagrec};

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

/// Three active projects named "Search": one claimed by a pin (on an entry that renames it), two
/// that the manifest's unpinned "Search" cannot tell apart; one of those breaks the policy.
fn conflict_account() -> Account {
    let account = start(&json!([
        project("proj_sssssssssssssssssss1", "Search", good_tags("Search")),
        project(
            "proj_sssssssssssssssssss2",
            "Search",
            json!({"Application": "Search"})
        ),
        project("proj_sssssssssssssssssss3", "Search", good_tags("Search")),
    ]));
    account.ws.write(
        "projects.yaml",
        "version: 1
target: {region: us-east-1}
policy: policies/required-tags.yaml
projects:
  - name: Search
    tags: {Application: Search, Environment: Staging, Team: Risk, CostCenter: CC-2040, Owner: bob}
  - name: Search-Old
    id: proj_sssssssssssssssssss3
    tags: {Application: Search, Environment: Staging, Team: Risk, CostCenter: CC-2040, Owner: bob}
",
    );
    account
}

const CONFLICT: &str = "2 active projects are named \"Search\" (proj_sssssssssssssssssss1, proj_sssssssssssssssssss2) and the manifest declares the name without `id:`: neither is managed, and plan stops on it; pin one with `id:` (or declare each with its own `id:`)";

#[test]
fn audit_shows_a_name_declared_without_id_and_carried_twice_as_a_conflict() {
    let account = conflict_account();

    let out = run(&account, READ_KEY, &["audit", "--format", "json"]);
    assert_exit(&out, 2);
    let audit: Value = serde_json::from_slice(&out.stdout).unwrap();
    let flags: Vec<(&str, bool, bool)> = audit["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                p["managed"].as_bool().unwrap(),
                p["conflict"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("proj_sssssssssssssssssss1", false, true),
            ("proj_sssssssssssssssssss2", false, true),
            ("proj_sssssssssssssssssss3", true, false),
        ],
        "sorted by name then id; the pinned one is managed"
    );

    let out = run(&account, READ_KEY, &["audit"]);
    assert_exit(&out, 2);
    let text = stdout(&out);
    let row = |id: &str| {
        text.lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{text}"))
            .to_string()
    };
    assert!(
        row("proj_sssssssssssssssssss1").contains("  conflict  "),
        "{text}"
    );
    assert!(
        row("proj_sssssssssssssssssss2").contains("  conflict  "),
        "{text}"
    );
    assert!(
        row("proj_sssssssssssssssssss3").contains("  yes  "),
        "{text}"
    );
    assert!(text.contains(&format!("conflict: {CONFLICT}")), "{text}");

    let out = run(&account, READ_KEY, &["audit", "--format", "csv"]);
    assert_exit(&out, 2);
    let rows = read_csv(&stdout(&out));
    let conflict_rows: Vec<Vec<&str>> = rows
        .iter()
        .filter(|r| r[2] == "conflict")
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        conflict_rows
            .iter()
            .filter(|r| r[3] == "conflict")
            .map(|r| (r[1], r[4]))
            .collect::<Vec<_>>(),
        [
            ("proj_sssssssssssssssssss1", CONFLICT),
            ("proj_sssssssssssssssssss2", CONFLICT)
        ],
        "each project in the conflict has a row, even the compliant one"
    );
    assert!(
        conflict_rows
            .iter()
            .any(|r| r[1] == "proj_sssssssssssssssssss2" && r[3] == "policy"),
        "its violations keep their rows: {rows:?}"
    );

    let out = run(&account, READ_KEY, &["audit", "--format", "markdown"]);
    assert_exit(&out, 2);
    let markdown = stdout(&out);
    assert!(
        markdown.contains("| Search | `proj_sssssssssssssssssss1` | conflict |"),
        "{markdown}"
    );
    assert!(markdown.contains("**Conflict:**"), "{markdown}");

    // And plan agrees: the same name is a conflict there.
    let plan = run(&account, READ_KEY, &["plan"]);
    assert_exit(&plan, 1);
    assert!(
        stderr(&plan).contains("proj_sssssssssssssssssss1, proj_sssssssssssssssssss2"),
        "{}",
        stderr(&plan)
    );
    assert_only_list_requests(&account);
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

    // Into another folder: `--policy` is named from here, as every path on the command line,
    // and written as the manifest in its folder must name it.
    let out = run(
        &account,
        READ_KEY,
        &[
            "import",
            "-f",
            "bare.yaml",
            "--out",
            "accounts/prod/us-east-1.yaml",
            "--policy",
            "policies/required-tags.yaml",
        ],
    );
    assert_exit(&out, 0);
    let written = account.ws.read("accounts/prod/us-east-1.yaml");
    assert_eq!(
        get(&yaml_doc(&written), "policy").as_str(),
        Some("../../policies/required-tags.yaml"),
        "{written}"
    );
    let validate = account
        .ws
        .tagrec(&["validate", "-f", "accounts/prod/us-east-1.yaml"])
        .output()
        .unwrap();
    assert!(
        stdout(&validate).contains("error[policy]: missing required tags")
            && !both(&validate).contains("cannot read"),
        "the policy is found from the manifest's folder: {}",
        both(&validate)
    );
    // A policy that is not there yet: written all the same, with a word.
    let out = run(
        &account,
        READ_KEY,
        &[
            "import",
            "-f",
            "bare.yaml",
            "--out",
            "accounts/dev/us-east-1.yaml",
            "--policy",
            "policies/tags.yaml",
        ],
    );
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("--policy policies/tags.yaml: no such file here; the manifest names it as `policy: ../../policies/tags.yaml`"),
        "{}",
        stderr(&out)
    );
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
        // All tags but AWS's and tagrec's own; `protect: true` exactly for "true".
        let mut expected = live["tags"].as_object().cloned().unwrap_or_default();
        let protect = expected.remove("tagrec:protect");
        expected.retain(|k, _| !k.to_ascii_lowercase().starts_with("aws:"));
        assert_eq!(Value::Object(tags), Value::Object(expected), "{text}");
        assert_eq!(
            p.as_mapping_get("protect").and_then(Yaml::as_bool),
            (protect == Some(json!("true"))).then_some(true),
            "{id}: protect\n{text}"
        );
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

/// The projects of an imported manifest, by id: (name, protect, tags).
fn imported_by_id(text: &str) -> std::collections::BTreeMap<String, (String, Option<bool>, Value)> {
    let doc = yaml_doc(text);
    get(&doc, "projects")
        .as_vec()
        .unwrap()
        .iter()
        .map(|p| {
            let tags: serde_json::Map<String, Value> = get(p, "tags")
                .as_mapping()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str().unwrap().to_string(), json!(v.as_str().unwrap())))
                .collect();
            (
                get(p, "id").as_str().unwrap().to_string(),
                (
                    get(p, "name").as_str().unwrap().to_string(),
                    p.as_mapping_get("protect").and_then(Yaml::as_bool),
                    Value::Object(tags),
                ),
            )
        })
        .collect()
}

#[test]
fn import_round_trips_projects_that_share_a_name_and_any_protect_value() {
    let account = start(&json!([
        project(
            "proj_aaaaaaaaaaaaaaaaaaa1",
            "Search",
            json!({"Team": "one"})
        ),
        project(
            "proj_aaaaaaaaaaaaaaaaaaa2",
            "Search",
            json!({"Team": "two"})
        ),
        project(
            "proj_bbbbbbbbbbbbbbbbbbb1",
            "Legal",
            json!({"tagrec:protect": "true"})
        ),
        project(
            "proj_ccccccccccccccccccc1",
            "Console",
            json!({"tagrec:protect": "yes", "Team": "c"})
        ),
        project(
            "proj_ddddddddddddddddddd1",
            "Blank",
            json!({"tagrec:protect": ""})
        ),
    ]));
    let out = run(
        &account,
        READ_KEY,
        &["import", "-f", "none.yaml", "--out", "m.yaml"],
    );
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("Wrote 5 projects to m.yaml"),
        "{}",
        stderr(&out)
    );
    let text = account.ws.read("m.yaml");
    let projects = imported_by_id(&text);
    let row = |id: &str| projects[id].clone();
    assert_eq!(
        row("proj_aaaaaaaaaaaaaaaaaaa1"),
        ("Search".into(), None, json!({"Team": "one"}))
    );
    assert_eq!(
        row("proj_aaaaaaaaaaaaaaaaaaa2"),
        ("Search".into(), None, json!({"Team": "two"}))
    );
    assert_eq!(
        row("proj_bbbbbbbbbbbbbbbbbbb1"),
        ("Legal".into(), Some(true), json!({}))
    );
    // A value other than "true" does not protect: nothing is written for it, and the project
    // keeps it, since an entry without `protect:` leaves the live tag alone.
    assert_eq!(
        row("proj_ccccccccccccccccccc1"),
        ("Console".into(), None, json!({"Team": "c"}))
    );
    assert_eq!(
        row("proj_ddddddddddddddddddd1"),
        ("Blank".into(), None, json!({}))
    );
    let validate = account
        .ws
        .tagrec(&["validate", "-f", "m.yaml"])
        .output()
        .unwrap();
    assert_exit(&validate, 0);
    let plan = run(
        &account,
        READ_KEY,
        &["plan", "-f", "m.yaml", "--detailed-exitcode"],
    );
    assert_exit(&plan, 0);
    assert!(stdout(&plan).contains("No changes."), "{}", stdout(&plan));
    assert_only_list_requests(&account);

    // Setting `protect:` is what changes the hand-written values: false removes, true writes.
    let edited = text
        .replace(
            "  - name: Console\n    id: proj_ccccccccccccccccccc1\n",
            "  - name: Console\n    id: proj_ccccccccccccccccccc1\n    protect: false\n",
        )
        .replace(
            "  - name: Blank\n    id: proj_ddddddddddddddddddd1\n",
            "  - name: Blank\n    id: proj_ddddddddddddddddddd1\n    protect: true\n",
        );
    assert_ne!(
        edited, text,
        "the entries are where import wrote them:\n{text}"
    );
    account.ws.write("m.yaml", &edited);
    let plan = run(
        &account,
        READ_KEY,
        &["plan", "-f", "m.yaml", "--format", "json"],
    );
    assert_exit(&plan, 0);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let requests: Vec<(&str, &Value)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), &c["request"]))
        .collect();
    assert_eq!(
        requests,
        [
            (
                "proj_ddddddddddddddddddd1",
                &json!({"add_tags": {"tagrec:protect": "true"}})
            ),
            (
                "proj_ccccccccccccccccccc1",
                &json!({"remove_tag_keys": ["tagrec:protect"]})
            ),
        ]
    );
}

#[test]
fn import_with_owner_names_one_project_in_the_singular() {
    let account = start(&json!([
        project(
            "proj_aaaaaaaaaaaaaaaaaaa1",
            "Mine",
            json!({"ManagedBy": "platform"})
        ),
        project("proj_bbbbbbbbbbbbbbbbbbb2", "Theirs", json!({})),
    ]));
    let out = run(
        &account,
        READ_KEY,
        &[
            "import",
            "-f",
            "none.yaml",
            "--out",
            "-",
            "--owner",
            "platform",
        ],
    );
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(
            "1 of the imported projects does not carry `ManagedBy: platform`: the next apply sets it on it (taking it over): Theirs (proj_bbbbbbbbbbbbbbbbbbb2)"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn import_out_into_a_folder_that_does_not_exist_makes_it() {
    let account = start(&example_live());
    let out = run(
        &account,
        READ_KEY,
        &[
            "import",
            "-f",
            "none.yaml",
            "--out",
            "new/sub/projects.yaml",
        ],
    );
    assert_exit(&out, 0);
    let text = account.ws.read("new/sub/projects.yaml");
    assert!(text.contains("id: proj_2z766pfxmkij5vwubv75"), "{text}");
    let left: Vec<String> = std::fs::read_dir(account.path("new/sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["projects.yaml"], "no temporary file is left");
    let plan = run(
        &account,
        READ_KEY,
        &["plan", "-f", "new/sub/projects.yaml", "--detailed-exitcode"],
    );
    assert_exit(&plan, 0);
}

#[test]
fn import_to_stdout_writes_sandbox_paths_from_the_manifest_folder_and_says_so() {
    // The README's line: `tagrec import -f examples/projects.yaml --out - > examples/imported.yaml`.
    let dir = tempfile::tempdir().unwrap();
    for file in ["examples/projects.yaml", "examples/live.json"] {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(Path::new(REPO).join(file), to).unwrap();
    }
    let run_in = |folder: &Path, args: &[&str]| {
        tagrec()
            .current_dir(folder)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    // Without the policy: this test is about paths, and the example account breaks it.
    let manifest = std::fs::read_to_string(dir.path().join("examples/projects.yaml")).unwrap();
    let bare: String = manifest
        .lines()
        .filter(|l| !l.starts_with("policy:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("examples/projects.yaml"), bare).unwrap();

    let out = run_in(
        dir.path(),
        &["import", "-f", "examples/projects.yaml", "--out", "-"],
    );
    assert_exit(&out, 0);
    let text = stdout(&out);
    let doc = yaml_doc(&text);
    let sandbox = get(get(&doc, "target"), "sandbox");
    assert_eq!(get(sandbox, "seed").as_str(), Some("live.json"), "{text}");
    // The emulated Billing goes along: the same keys active, the same spend.
    assert_eq!(get(sandbox, "costs").as_str(), Some("costs.json"), "{text}");
    assert!(
        text.contains("    active_cost_tags: [CostCenter, Team]\n"),
        "{text}"
    );
    let warning = stderr(&out);
    assert!(
        warning.contains("are relative to examples, the folder of examples/projects.yaml: save the manifest in that folder, or adjust them"),
        "{warning}"
    );
    std::fs::write(dir.path().join("examples/imported.yaml"), &text).unwrap();
    // Planned from the repository's root, and from inside the folder: no changes either way.
    let plan = run_in(
        dir.path(),
        &[
            "plan",
            "-f",
            "examples/imported.yaml",
            "--detailed-exitcode",
        ],
    );
    assert_exit(&plan, 0);
    assert!(stdout(&plan).contains("No changes."), "{}", stdout(&plan));
    let plan = run_in(
        &dir.path().join("examples"),
        &["plan", "-f", "imported.yaml", "--detailed-exitcode"],
    );
    assert_exit(&plan, 0);
    // Written to a file instead, no warning: import knows where the paths are read from.
    let out = run_in(
        dir.path(),
        &[
            "import",
            "-f",
            "examples/projects.yaml",
            "--out",
            "elsewhere/m.yaml",
        ],
    );
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let plan = run_in(
        dir.path(),
        &["plan", "-f", "elsewhere/m.yaml", "--detailed-exitcode"],
    );
    assert_exit(&plan, 0);
}

fn awkward_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(AWKWARD).prop_map(str::to_string),
        1 => "[a-zA-Z0-9 #:'\"\\-\\t\\n.~!&*?{}\\[\\],|>%@`éü東]{0,12}",
    ]
}

/// Live projects: names drawn partly from a few (so that they repeat), awkward keys and values,
/// `aws:` keys, and `tagrec:protect` absent, "true" or any other value.
fn live_state() -> impl Strategy<Value = Vec<(String, Vec<(String, String)>)>> {
    let name = prop_oneof![
        2 => awkward_text(),
        1 => proptest::sample::select(&["Search", "Chat"][..]).prop_map(str::to_string),
    ]
    .prop_filter("a name is not blank, nor `default`", |n| {
        !n.trim().is_empty() && n != "default"
    });
    let key = prop_oneof![
        4 => awkward_text(),
        1 => awkward_text().prop_map(|k| format!("aws:{k}")),
    ]
    .prop_filter("a key is 1-128 characters, not tagrec's", |k| {
        !k.is_empty() && k != "tagrec:protect"
    });
    let protect = proptest::option::of(prop_oneof![Just("true".to_string()), awkward_text()]);
    let project = (
        name,
        proptest::collection::btree_map(key, awkward_text(), 0..6),
        protect,
    )
        .prop_map(|(name, tags, protect)| {
            let mut tags: Vec<(String, String)> = tags.into_iter().collect();
            tags.extend(protect.map(|v| ("tagrec:protect".to_string(), v)));
            (name, tags)
        });
    proptest::collection::vec(project, 1..8)
}

proptest! {
    // Each case starts an emulator and runs the binary twice: a modest number of cases (the
    // in-process property in `ops::import` runs many more through the same loader and planner).
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn import_then_plan_shows_no_changes_for_any_live_state(projects in live_state()) {
        assert_import_then_plan_is_empty(&awkward_account(&projects));
    }
}
