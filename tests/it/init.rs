//! `tagrec init`: the starter files of a new repository, for someone with no account to import.
//! What it writes validates against the policy it writes, and plans and applies at once against
//! the built-in sandbox; nothing already there is ever overwritten.

use std::path::Path;

use crate::support::{Workspace, assert_exit, both, stderr, stdout};

/// The repository's own copy of a file `init` embeds.
fn repository(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

const WRITTEN: &[&str] = &[
    "projects.yaml",
    "policies/required-tags.yaml",
    "policies/common.yaml",
    ".github/workflows/tagrec.yml",
];

#[test]
fn init_writes_a_manifest_that_validates_plans_and_applies_at_once() {
    let ws = Workspace::new();
    let output = ws.tagrec(&["init"]).output().unwrap();
    assert_exit(&output, 0);
    let text = stdout(&output);
    for path in WRITTEN {
        assert!(text.contains(&format!("Wrote {path}: ")), "{text}");
        assert!(ws.path(path).is_file(), "{path} not written");
    }
    assert!(text.contains("\nNext:\n  tagrec validate "), "{text}");
    assert!(
        text.contains("tagrec import --force --policy policies/required-tags.yaml"),
        "{text}"
    );
    assert_eq!(
        ws.read("policies/required-tags.yaml"),
        repository("policies/required-tags.yaml")
    );
    assert_eq!(
        ws.read("policies/common.yaml"),
        repository("policies/common.yaml")
    );
    assert_eq!(
        ws.read(".github/workflows/tagrec.yml"),
        repository("examples/ci/github/tagrec-plan.yml")
    );
    let manifest = ws.read("projects.yaml");
    assert!(
        manifest.starts_with("# "),
        "a commented manifest:\n{manifest}"
    );
    assert!(manifest.contains("policy: policies/required-tags.yaml\n"));

    // Valid against the policy it came with.
    let validate = ws.tagrec(&["validate"]).output().unwrap();
    assert_exit(&validate, 0);
    assert_eq!(stdout(&validate), "projects.yaml is valid: 2 projects\n");

    // Planned against the built-in sandbox, with no account and no credentials.
    let plan = ws
        .tagrec(&["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_exit(&plan, 2);
    assert!(
        stdout(&plan).contains("Plan: 2 to create, 0 to update, 0 to archive."),
        "{}",
        both(&plan)
    );
    let apply = ws.tagrec(&["apply", "--auto-approve"]).output().unwrap();
    assert_exit(&apply, 0);
    let again = ws
        .tagrec(&["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_exit(&again, 0);
    assert!(stdout(&again).contains("No changes."), "{}", both(&again));
    let audit = ws.tagrec(&["audit"]).output().unwrap();
    assert_exit(&audit, 0);
}

#[test]
fn init_never_overwrites_and_says_what_it_left() {
    let ws = Workspace::new();
    ws.write("projects.yaml", "# mine\n");
    let output = ws.tagrec(&["init"]).output().unwrap();
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(
        text.contains("projects.yaml exists: left as it is\n"),
        "{text}"
    );
    assert!(
        text.contains("Wrote policies/required-tags.yaml: "),
        "{text}"
    );
    assert_eq!(ws.read("projects.yaml"), "# mine\n");

    // All there: nothing written, each said, still a success.
    let output = ws.tagrec(&["init"]).output().unwrap();
    assert_exit(&output, 0);
    let text = stdout(&output);
    for path in WRITTEN {
        assert!(
            text.contains(&format!("{path} exists: left as it is\n")),
            "{text}"
        );
    }
    assert!(!text.contains("Wrote"), "{text}");
    assert!(text.contains("Next:"), "{text}");
}

#[test]
fn a_file_init_cannot_write_is_named_and_the_others_are_written() {
    let ws = Workspace::new();
    // A file where the policies folder should be.
    ws.write("policies", "not a folder\n");
    let output = ws.tagrec(&["init"]).output().unwrap();
    assert_exit(&output, 1);
    let errors = stderr(&output);
    assert!(
        errors.contains("error: could not write policies/required-tags.yaml: "),
        "{}",
        both(&output)
    );
    assert!(
        errors.contains("error: could not write policies/common.yaml: "),
        "{errors}"
    );
    assert!(!errors.contains(".tagrec-"), "{errors}");
    assert!(ws.path("projects.yaml").is_file());
    assert!(ws.path(".github/workflows/tagrec.yml").is_file());
}
