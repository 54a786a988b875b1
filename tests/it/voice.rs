//! What tagrec says, as a newcomer meets it: one wording per problem in validate, plan and audit;
//! projects this manifest owns told apart from the ones it never managed; YAML indentation and
//! policy mistakes explained; no sentence printed twice; tables that stay aligned whatever the
//! names are written in.

use serde_json::{Value, json};

use crate::support::{Account, assert_exit, both, project, stdout};

const OWNER: &str = "platform/bedrock-projects";

/// A policy requiring CostCenter and Owner.
const POLICY: &str =
    "type: object\nproperties:\n  tags:\n    type: object\n    required: [CostCenter, Owner]\n";

fn manifest(prune: bool, projects: &str) -> String {
    format!(
        "version: 1\npolicy: policy.yaml\nowner: {OWNER}\nprune: {prune}\nprojects:\n{projects}"
    )
}

const COMPLIANT: &str = "  - name: Declared\n    tags: {CostCenter: CC-1, Owner: alice}\n";

fn account(extra: Vec<Value>) -> Account {
    let mut seed = vec![
        project("default", "default", json!({})),
        project(
            "proj_declared0000000000",
            "Declared",
            json!({"CostCenter": "CC-1", "Owner": "alice", "ManagedBy": OWNER}),
        ),
        project("proj_shadow00000000000", "Shadow", json!({"Team": "x"})),
    ];
    seed.extend(extra);
    let account = Account::start(&Value::Array(seed), &[]);
    account.ws.write("policy.yaml", POLICY);
    account
}

#[test]
fn missing_tags_read_the_same_in_validate_plan_and_audit() {
    let sentence = "missing required tags CostCenter, Owner";
    let account = account(Vec::new());
    account.ws.write(
        "broken.yaml",
        &manifest(false, "  - name: Declared\n    tags: {Team: x}\n"),
    );
    let validate = account
        .ws
        .tagrec(&["validate", "-f", "broken.yaml"])
        .output()
        .unwrap();
    assert_exit(&validate, 1);
    assert!(
        stdout(&validate).contains(&format!("error[policy]: {sentence}\n")),
        "{}",
        both(&validate)
    );

    account
        .ws
        .write("projects.yaml", &manifest(false, COMPLIANT));
    let plan = account.run(None, &["plan"]);
    assert_exit(&plan, 0);
    assert!(
        stdout(&plan).contains(&format!(
            "! \"Shadow\" (proj_shadow00000000000): {sentence}\n"
        )),
        "{}",
        both(&plan)
    );
    let markdown = account.run(None, &["plan", "--format", "markdown"]);
    assert!(
        stdout(&markdown).contains(&format!("(`proj_shadow00000000000`): {sentence}\n")),
        "{}",
        both(&markdown)
    );

    let audit = account.run(None, &["audit"]);
    assert_exit(&audit, 2);
    let row = stdout(&audit)
        .lines()
        .find(|l| l.starts_with("Shadow "))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no row for Shadow: {}", both(&audit)));
    assert!(row.ends_with(&format!("  no       {sentence}")), "{row:?}");
    // Counted per tag, each in the same words: "missing required tag Owner".
    assert!(
        stdout(&audit)
            .lines()
            .any(|l| l.trim() == "1  missing required tag Owner"),
        "{}",
        both(&audit)
    );
}

#[test]
fn an_owned_project_left_out_of_the_manifest_is_listed_as_owned_not_unmanaged() {
    let account = account(vec![
        project(
            "proj_keptprotected0000",
            "Kept",
            json!({"CostCenter": "CC-2", "Owner": "bo", "ManagedBy": OWNER, "tagrec:protect": "true"}),
        ),
        project(
            "proj_otherowner0000000",
            "Theirs",
            json!({"CostCenter": "CC-3", "Owner": "cy", "ManagedBy": "someone-else"}),
        ),
    ]);
    account
        .ws
        .write("projects.yaml", &manifest(true, COMPLIANT));
    let plan = account.run(None, &["plan"]);
    assert_exit(&plan, 0);
    let text = stdout(&plan);
    let owned = format!(
        "Owned by {OWNER}, not in the manifest: 1\n    \"Kept\" (proj_keptprotected0000): protected, so never archived\n\n"
    );
    assert!(text.contains(&owned), "{text}");
    assert!(
        text.contains("Unmanaged projects (not in the manifest): 2\n"),
        "{text}"
    );
    let unmanaged = &text[text.find("Unmanaged").unwrap_or(0)..];
    assert!(!unmanaged.contains("\"Kept\""), "{text}");
    assert!(unmanaged.contains("\"Theirs\""), "{text}");

    let json: Value =
        serde_json::from_str(&stdout(&account.run(None, &["plan", "--format", "json"]))).unwrap();
    let items = json["unmanaged"].as_array().unwrap();
    let owned_of = |name: &str| {
        items
            .iter()
            .find(|u| u["name"] == name)
            .map(|u| (u["owned"].clone(), u["protected"].clone()))
    };
    assert_eq!(owned_of("Kept"), Some((json!(true), json!(true))));
    assert_eq!(owned_of("Theirs"), Some((json!(false), json!(false))));
    assert_eq!(owned_of("Shadow"), Some((json!(false), json!(false))));
    assert_eq!(json["summary"]["unmanaged"], 3);
    assert_eq!(json["summary"]["protected"], 1);

    let markdown = stdout(&account.run(None, &["plan", "--format", "markdown"]));
    assert!(
        markdown.contains(&format!(
            "**Owned by {OWNER}, not in the manifest: 1**\n\n- `Kept` (`proj_keptprotected0000`): protected, so never archived\n"
        )),
        "{markdown}"
    );

    // Without prune, an owned project is kept because of that, and said so.
    account
        .ws
        .write("projects.yaml", &manifest(false, COMPLIANT));
    account.modify(
        "proj_keptprotected0000",
        json!({"remove_tag_keys": ["tagrec:protect"]}),
    );
    let text = stdout(&account.run(None, &["plan"]));
    assert!(
        text.contains("    \"Kept\" (proj_keptprotected0000): kept: `prune` is off\n"),
        "{text}"
    );
}

/// The terminal column where `needle` starts on `line` (display width of what precedes it).
fn column_of(line: &str, needle: &str) -> usize {
    use unicode_width::UnicodeWidthStr;
    let at = line
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {line:?}"));
    line[..at].width()
}

#[test]
fn tables_line_up_cjk_and_emoji_names_by_display_width() {
    let names = ["顧客チャットボット", "🚀-Launch", "Plain"];
    let mut seed = vec![project("default", "default", json!({}))];
    for (i, name) in names.iter().enumerate() {
        seed.push(project(
            &format!("proj_wide{i}000000000000"),
            name,
            json!({"Team": "x"}),
        ));
    }
    let account = Account::start(&Value::Array(seed), &[]);
    account.ws.write("policy.yaml", POLICY);
    account.ws.write(
        "projects.yaml",
        &format!(
            "version: 1\npolicy: policy.yaml\nowner: {OWNER}\nprune: true\ndefaults:\n  tags: {{Note: 備考, CostCenter: CC-1, Owner: o}}\nprojects:\n  - name: 新しい\n    tags: {{Team: 検索}}\n"
        ),
    );
    let audit = stdout(&account.run(None, &["audit"]));
    let rows: Vec<&str> = audit
        .lines()
        .filter(|l| l.starts_with("PROJECT") || l.contains("proj_wide"))
        .collect();
    assert_eq!(rows.len(), 4, "{audit}");
    for column in ["proj_wide", "no ", "missing required tags"] {
        let columns: Vec<usize> = rows[1..].iter().map(|r| column_of(r, column)).collect();
        assert!(
            columns.windows(2).all(|w| w[0] == w[1]),
            "{column}: {columns:?}\n{audit}"
        );
    }
    assert_eq!(column_of(rows[0], "ID"), column_of(rows[1], "proj_wide"));
    assert_eq!(
        column_of(rows[0], "VIOLATIONS"),
        column_of(rows[1], "missing")
    );

    let plan = stdout(&account.run(None, &["plan"]));
    let notes: Vec<usize> = plan
        .lines()
        .filter(|l| l.contains("(from "))
        .map(|l| column_of(l, "(from "))
        .collect();
    assert_eq!(notes.len(), 4, "{plan}");
    assert!(notes.windows(2).all(|w| w[0] == w[1]), "{notes:?}\n{plan}");
}
