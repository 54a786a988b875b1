//! `tagrec output`: the declared projects' live ids for applications, through the binary against
//! the emulator: JSON, the OpenAI SDKs' two variables, a dotenv, and what is refused.

use serde_json::{Value, json};

use crate::support::{Account, assert_exit, stderr, stdout};

const KEY: &str = "output-key";

fn account() -> Account {
    Account::start(
        &json!([
            {"id": "proj_chat0000000000000001", "name": "Chat-Prod", "tags": {}},
            {"id": "proj_twin0000000000000001", "name": "Twin", "tags": {}},
            {"id": "proj_twin0000000000000002", "name": "Twin", "tags": {}},
            {"id": "proj_gone0000000000000001", "name": "Gone", "status": "archived", "tags": {}}
        ]),
        &["--api-key", KEY, "--region", "eu-west-1"],
    )
}

const MANIFEST: &str = "version: 1\ntarget: {region: eu-west-1}\nprojects:\n  - name: Chat-Prod\n  - name: Twin\n    id: proj_twin0000000000000002\n  - name: Twin\n    id: proj_twin0000000000000001\n";

#[test]
fn json_lists_the_declared_projects_with_ids_and_arns() {
    let account = account();
    account.ws.write("projects.yaml", MANIFEST);
    let output = account.run(Some(KEY), &["output"]);
    assert_exit(&output, 0);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["format_version"], "1");
    assert_eq!(json["region"], "eu-west-1");
    assert_eq!(json["base_url"], account.sandbox.base_url);
    let projects = json["projects"].as_array().unwrap();
    let ids: Vec<&str> = projects.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "proj_chat0000000000000001",
            "proj_twin0000000000000001",
            "proj_twin0000000000000002"
        ],
        "sorted by name, then id"
    );
    assert_eq!(
        projects[0],
        json!({"name": "Chat-Prod", "id": "proj_chat0000000000000001",
               "arn": "arn:aws:bedrock-mantle:eu-west-1:123456789012:project/proj_chat0000000000000001",
               "status": "active"})
    );
    // Only list pages were read.
    assert!(account.requests().iter().all(|r| r["method"] == "GET"));
}

#[test]
fn env_gives_the_two_variables_of_one_project_by_name_or_id() {
    let account = account();
    account.ws.write("projects.yaml", MANIFEST);
    let output = account.run(
        Some(KEY),
        &["output", "--format", "env", "--project", "Chat-Prod"],
    );
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        format!(
            "OPENAI_PROJECT_ID=proj_chat0000000000000001\nOPENAI_BASE_URL={}\n",
            account.sandbox.base_url
        )
    );
    let by_id = account.run(
        Some(KEY),
        &[
            "output",
            "--format",
            "env",
            "--project",
            "proj_twin0000000000000002",
        ],
    );
    assert!(stdout(&by_id).starts_with("OPENAI_PROJECT_ID=proj_twin0000000000000002\n"));

    // A name two pinned entries share: the ids to choose from.
    let twin = account.run(
        Some(KEY),
        &["output", "--format", "env", "--project", "Twin"],
    );
    assert_exit(&twin, 1);
    let err = stderr(&twin);
    assert!(
        err.contains("2 declared projects are named `Twin` (proj_twin0000000000000001, proj_twin0000000000000002)"),
        "{err}"
    );
    // A typo: the nearest name.
    let typo = account.run(
        Some(KEY),
        &["output", "--format", "env", "--project", "chat-prod"],
    );
    assert_exit(&typo, 1);
    assert!(
        stderr(&typo).contains("did you mean `Chat-Prod`?"),
        "{}",
        stderr(&typo)
    );
    // env without --project, and --project without env, are usage mistakes said plainly.
    let bare = account.run(Some(KEY), &["output", "--format", "env"]);
    assert_exit(&bare, 1);
    assert!(
        stderr(&bare).contains("--project NAME"),
        "{}",
        stderr(&bare)
    );
}

#[test]
fn dotenv_has_a_line_per_project_and_refuses_names_that_collide() {
    let account = account();
    account.ws.write(
        "projects.yaml",
        "version: 1\ntarget: {region: eu-west-1}\nprojects:\n  - name: Chat-Prod\n",
    );
    let output = account.run(Some(KEY), &["output", "--format", "dotenv"]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "TAGREC_PROJECT_ID_CHAT_PROD=proj_chat0000000000000001\n"
    );
    account.ws.write("projects.yaml", MANIFEST);
    let twins = account.run(Some(KEY), &["output", "--format", "dotenv"]);
    assert_exit(&twins, 1);
    assert!(
        stderr(&twins).contains("both become TAGREC_PROJECT_ID_TWIN"),
        "{}",
        stderr(&twins)
    );
}

#[test]
fn a_declared_project_that_does_not_exist_yet_says_to_apply_first() {
    let account = account();
    account.ws.write(
        "projects.yaml",
        &format!(
            "{MANIFEST}  - name: New-Project\n  - name: Gone\n    id: proj_gone0000000000000001\n"
        ),
    );
    let output = account.run(Some(KEY), &["output"]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("\"New-Project\" does not exist yet: run `tagrec apply` first"),
        "{err}"
    );
    assert!(
        err.contains("\"Gone\" is pinned to id proj_gone0000000000000001"),
        "{err}"
    );
    assert!(
        stdout(&output).is_empty(),
        "nothing half-printed for a program to read"
    );
}
