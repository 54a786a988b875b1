//! What tagrec says, as a newcomer meets it: one wording per problem in validate, plan and audit;
//! projects this manifest owns told apart from the ones it never managed; YAML indentation and
//! policy mistakes explained; no sentence printed twice; tables that stay aligned whatever the
//! names are written in.

use serde_json::{Value, json};

use crate::support::{
    Account, Sandbox, Workspace, assert_exit, both, code, project, stderr, stdout, tagrec,
};

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

/// `tagrec validate` on `manifest` (beside `POLICY` as policy.yaml): exit code and text.
fn validate(manifest: &str) -> (i32, String) {
    validate_with(POLICY, manifest)
}

fn validate_with(policy: &str, manifest: &str) -> (i32, String) {
    let ws = Workspace::new();
    ws.write("policy.yaml", policy);
    ws.write("projects.yaml", manifest);
    let output = ws
        .tagrec(&["validate", "--color", "never"])
        .output()
        .unwrap();
    (code(&output), stdout(&output))
}

/// Asserts that `text` reports `message` at `place` (`projects.yaml:L:C`) with `help`.
#[track_caller]
fn reports(text: &str, message: &str, place: &str, help: &str) {
    let at = text
        .find(&format!("{message}\n"))
        .unwrap_or_else(|| panic!("{message:?} not reported:\n{text}"));
    let block = &text[at..];
    let block = &block[..block.find("\n\n").unwrap_or(block.len())];
    assert!(
        block.contains(&format!("--> {place}\n")),
        "{message:?} not at {place}:\n{text}"
    );
    assert!(
        block.contains(&format!("= help: {help}")),
        "{message:?} without the help {help:?}:\n{text}"
    );
}

#[test]
fn indentation_mistakes_get_the_hint_that_fits() {
    let (code, text) = validate(
        "version: 1\nprojects:\n  - name: A\n    tags:\n      Application: x\n       Team: y\n",
    );
    assert_eq!(code, 1);
    reports(
        &text,
        "error[yaml]: this line is indented more than the line above (7 spaces, not 6)",
        "projects.yaml:6:8",
        "indent it like the line above: YAML reads a deeper line as part of the value on line 5",
    );
    assert!(
        text.contains("6 |        Team: y\n  |        ^^^^\n"),
        "{text}"
    );

    let (code, text) = validate("version: 1\nprojects:\n  - name: A\n    tags: {}\n   - name: B\n");
    assert_eq!(code, 1);
    reports(
        &text,
        "error[yaml]: this list item is indented 3 spaces, but the item on line 3 is indented 2",
        "projects.yaml:5:4",
        "start every `-` of one list in the same column",
    );

    let (_, text) = validate(
        "version: 1\nprojects:\n  - name: A\n    tags:\n      Application: x\n     Team: y\n",
    );
    reports(
        &text,
        "error[yaml]: this line is indented 5 spaces, which lines up with no line above",
        "projects.yaml:6:6",
        "indent it like line 5 (6 spaces)",
    );
}

#[test]
fn a_tag_written_at_project_level_is_pointed_under_tags() {
    // `tags:` with its tags not indented below it: they land at project level.
    let (code, text) = validate(
        "version: 1\npolicy: policy.yaml\nprojects:\n  - name: A\n    tags:\n    CostCenter: CC-1\n    Owner: alice\n",
    );
    assert_eq!(code, 1);
    reports(
        &text,
        "error[unknown-key]: unknown key `Owner` in a project",
        "projects.yaml:7:5",
        "did you mean to put `Owner` under `tags:`? indent it below `tags:` (line 5)",
    );
    reports(
        &text,
        "error[unknown-key]: unknown key `CostCenter` in a project",
        "projects.yaml:6:5",
        "did you mean to put `CostCenter` under `tags:`? indent it below `tags:` (line 5)",
    );
    // A key the policy requires, in the wrong case and beside flow-style tags; a capitalised key
    // with no tags at all; a near typo of a project key keeps its own hint.
    let (_, text) = validate(
        "version: 1\npolicy: policy.yaml\nprojects:\n  - name: A\n    owner: alice\n    tags: {CostCenter: CC-1, Owner: a}\n  - name: B\n    Team: search\n    Tag: x\n",
    );
    reports(
        &text,
        "error[unknown-key]: unknown key `owner` in a project",
        "projects.yaml:5:5",
        "did you mean to put `Owner` under `tags:`? add it to the `tags:` mapping on line 6",
    );
    reports(
        &text,
        "error[unknown-key]: unknown key `Team` in a project",
        "projects.yaml:8:5",
        "did you mean to put `Team` under `tags:`? tags go in a `tags:` mapping: `tags: {Team: …}`",
    );
    reports(
        &text,
        "error[unknown-key]: unknown key `Tag` in a project",
        "projects.yaml:9:5",
        "did you mean `tags`?",
    );
    let (_, text) = validate("version: 1\ndefaults:\n  Environment: Production\nprojects: []\n");
    reports(
        &text,
        "error[unknown-key]: unknown key `Environment` in defaults",
        "projects.yaml:3:3",
        "did you mean to put `Environment` under `tags:`? tags go in a `tags:` mapping: `tags: {Environment: …}`",
    );
}

/// `reports`, for a problem in policy.yaml.
#[track_caller]
fn policy_reports(policy: &str, message: &str, place: &str, help: &str) {
    let (code, text) = validate_with(policy, "version: 1\npolicy: policy.yaml\nprojects: []\n");
    assert_eq!(code, 1, "{text}");
    reports(
        &text,
        &format!("error[policy-file]: {message}"),
        place,
        help,
    );
    assert!(!text.contains("anyOf"), "{text}");
}

#[test]
fn an_invalid_policy_names_the_keyword_and_its_valid_choices() {
    let types = "`type` is one of: array, boolean, integer, null, number, object, string (or a list of them)";
    policy_reports(
        "type: objekt\n",
        "`type: objekt` is not a JSON Schema type: did you mean `object`?",
        "policy.yaml:1:7",
        types,
    );
    policy_reports(
        "type: object\nproperties:\n  tags:\n    type: [object, dict]\n",
        "`dict` in `type` is not a JSON Schema type: did you mean `object`?",
        "policy.yaml:4:20",
        types,
    );
    policy_reports(
        "$schema: https://json-schema.org/draft/2021-12/schema\n",
        "`$schema: https://json-schema.org/draft/2021-12/schema` names no JSON Schema draft: did you mean `https://json-schema.org/draft/2020-12/schema`?",
        "policy.yaml:1:10",
        "`$schema` is one of: https://json-schema.org/draft/2020-12/schema, https://json-schema.org/draft/2019-09/schema, http://json-schema.org/draft-07/schema#, http://json-schema.org/draft-06/schema#, http://json-schema.org/draft-04/schema# (or leave it out for draft 2020-12)",
    );
    policy_reports(
        "properties:\n  tags:\n    additionalProperties: no\n",
        "`additionalProperties` must be true, false or a schema (a mapping), not the text `no`",
        "policy.yaml:3:27",
        "write `additionalProperties: false` to refuse other keys, or a schema they must match (YAML reads only true and false as booleans, not yes or no)",
    );
    policy_reports(
        "properties:\n  tags:\n    required: Owner\n",
        "`required` must be a list, not the text `Owner`",
        "policy.yaml:3:15",
        "write `required: [Owner, Team]`",
    );
    // A valid schema all the same, whose rule JSON Schema would ignore.
    policy_reports(
        "type: object\nproperties:\n  tags:\n    type: object\n    requried: [Owner]\n",
        "`requried` is not a JSON Schema keyword: did you mean `required`?",
        "policy.yaml:5:5",
        "a JSON Schema validator ignores keywords it does not know, so this rule would never be checked: write `required` (or, for an annotation of your own, a name starting with `x-`)",
    );
}

/// Every sentence of `text` (split at `: ` and `; `) said once.
#[track_caller]
fn said_once(text: &str) {
    let mut seen = std::collections::BTreeSet::new();
    for line in text.lines() {
        for part in line
            .split([':', ';'])
            .map(str::trim)
            .filter(|p| p.len() > 12)
        {
            assert!(
                seen.insert(part.to_string()),
                "said twice: {part:?}\n{text}"
            );
        }
    }
}

#[test]
fn an_endpoint_of_0_0_0_0_is_explained_once() {
    let ws = Workspace::new();
    ws.write("projects.yaml", "version: 1\nprojects: []\n");
    let output = ws
        .tagrec(&["plan", "--endpoint", "http://0.0.0.0:4010/v1"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert_eq!(
        text,
        "error: the endpoint `http://0.0.0.0:4010/v1` names 0.0.0.0, the address a server listens on, not one to connect to: use http://127.0.0.1:4010/v1\n"
    );
    said_once(&text);
}

#[test]
fn a_port_in_use_is_said_once_with_port_0_as_the_way_out() {
    let first = Sandbox::start(&[]);
    let listen = first.addr.to_string();
    let output = tagrec()
        .args(["sandbox", "serve", "--listen", &listen])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert_eq!(
        text,
        format!(
            "error: cannot listen on {listen}: the address is already in use (another `tagrec sandbox serve`?); choose another port, or `--listen 127.0.0.1:0` for a free one (the first line of output says which)\n"
        )
    );
    said_once(&text);
}

#[test]
fn no_error_names_a_temporary_file() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        "version: 1\ntarget: {sandbox: {state: .tagrec/state.json}}\nprojects: []\n",
    );
    // /proc exists and takes no new file, even for root.
    let output = ws
        .tagrec(&["plan", "--out", "/proc/plan.json"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.starts_with("error: could not write the plan to /proc/plan.json: "),
        "{text}"
    );
    assert!(!text.contains(".tagrec-"), "{text}");
    said_once(&text);
}

#[test]
fn limits_are_said_the_same_way_by_the_loader_and_the_emulator() {
    let long = "v".repeat(257);
    let (code, text) = validate(&format!(
        "version: 1\nprojects:\n  - name: A\n    tags:\n      Long: {long}\n"
    ));
    assert_eq!(code, 1);
    assert!(
        text.contains(
            "error[tag-limit]: the value of tag `Long` is 257 characters; the limit is 256\n --> projects.yaml:5:13\n"
        ),
        "{text}"
    );
    let sandbox = Sandbox::start(&[]);
    let reply = sandbox.post(
        "/organization/projects",
        &json!({"name": "A", "tags": {"Long": long}}).to_string(),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["error"]["message"],
        "The value of tag 'Long' is 257 characters; the limit is 256."
    );
    let key = "K".repeat(129);
    let (_, text) = validate(&format!(
        "version: 1\nprojects:\n  - name: A\n    tags:\n      {key}: x\n"
    ));
    assert!(
        text.contains(
            "error[tag-limit]: tag key `KKKKKKKKKKKKKKKKKKKKKKKK…` is 129 characters; the limit is 128\n"
        ),
        "{text}"
    );
}

#[test]
fn without_a_manifest_here_the_manifests_below_are_named() {
    let ws = Workspace::new();
    let manifest = "version: 1\nprojects: []\n";
    ws.write("examples/projects.yaml", manifest);
    ws.write("teams/search/projects.yml", manifest);
    ws.write("a/b/c/too-deep/projects.yaml", manifest);
    ws.write("node_modules/x/projects.yaml", manifest);
    ws.write(".git/projects.yaml", manifest);
    ws.write("policies/required-tags.yaml", POLICY);
    ws.write("notes.yaml", "version: 3\n");
    for command in ["validate", "plan", "audit"] {
        let output = ws.tagrec(&[command, "--color", "never"]).output().unwrap();
        assert_exit(&output, 1);
        let text = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            text.contains(
                "error[file]: no projects.yaml here; manifests below: examples/projects.yaml, teams/search/projects.yml (use -f)\n"
            ),
            "{command}: {text}"
        );
        assert!(
            text.contains(
                "= help: name the manifest with `-f FILE`, e.g. `-f examples/projects.yaml`"
            ),
            "{command}: {text}"
        );
    }
    // A path in a folder that does not exist: the manifests near it, those of its name first.
    ws.write("accounts/dev/eu-west-1.yaml", manifest);
    ws.write("accounts/dev/us-east-1.yaml", manifest);
    let output = ws
        .tagrec(&[
            "plan",
            "-f",
            "accounts/qa/us-east-1.yaml",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        both(&output).contains(
            "error[file]: no file accounts/qa/us-east-1.yaml; manifests nearby: accounts/dev/us-east-1.yaml, accounts/dev/eu-west-1.yaml\n"
        ),
        "{}",
        both(&output)
    );
    assert!(
        both(&output).contains("= help: check the path given with -f"),
        "{}",
        both(&output)
    );
    // A pattern where one manifest is read, and an empty path.
    let output = ws
        .tagrec(&[
            "import",
            "-f",
            "accounts/*.yaml",
            "--out",
            "-",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        both(&output)
            .contains("no file is named accounts/*.yaml: import reads one manifest, not a pattern"),
        "{}",
        both(&output)
    );
    let output = ws
        .tagrec(&["validate", "-f", "", "--color", "never"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        both(&output).contains("-f names no file (an empty path)"),
        "{}",
        both(&output)
    );
    let empty = Workspace::new();
    let output = empty.tagrec(&["validate"]).output().unwrap();
    assert!(
        stdout(&output).contains("error[file]: no projects.yaml here\n"),
        "{}",
        both(&output)
    );
    assert!(
        stdout(&output).contains("`tagrec init`"),
        "{}",
        both(&output)
    );
}
