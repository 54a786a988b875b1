//! `tagrec init`: a starter repository for someone with no account to import: a commented
//! manifest on the built-in sandbox, the example policy, and the pull-request workflow, written
//! into a folder. A file that is already there is never overwritten.

use std::path::{Path, PathBuf};

use crate::files::create_atomically;

/// The CI workflow `init` writes: the pull-request plan workflow of `examples/ci/github/`,
/// embedded as it is. To ship another workflow, change this one line.
const WORKFLOW: &str = include_str!("../../examples/ci/github/tagrec-plan.yml");

/// A file `init` writes: where (relative to the folder), what, and what it is for.
#[derive(Debug, Clone, Copy)]
pub struct Starter {
    pub path: &'static str,
    pub text: &'static str,
    pub what: &'static str,
}

/// Everything `init` writes, in order. The manifest names the policy by this path.
pub const STARTERS: &[Starter] = &[
    Starter {
        path: "projects.yaml",
        text: include_str!("init/projects.yaml"),
        what: "a starter manifest with two example projects, on tagrec's built-in sandbox",
    },
    Starter {
        path: "policies/required-tags.yaml",
        text: include_str!("../../policies/required-tags.yaml"),
        what: "the tag policy every project must meet (a JSON Schema)",
    },
    Starter {
        path: "policies/common.yaml",
        text: include_str!("../../policies/common.yaml"),
        what: "definitions the policy shares by `$ref`",
    },
    Starter {
        path: ".github/workflows/tagrec.yml",
        text: WORKFLOW,
        what: "on every pull request that changes the manifest or the policy, validates and posts the plan as a comment",
    },
];

/// What became of one file.
#[derive(Debug)]
pub enum Outcome {
    Written,
    /// A file was already there: left as it is.
    Existed,
    Failed(std::io::Error),
}

#[derive(Debug)]
pub struct Written {
    /// The path as shown to the user: relative to the folder `init` ran in.
    pub path: PathBuf,
    pub starter: Starter,
    pub outcome: Outcome,
}

/// Writes every starter file into `folder` that is not there yet; one that cannot be written
/// does not stop the others.
pub fn init(folder: &Path) -> Vec<Written> {
    STARTERS
        .iter()
        .map(|starter| {
            let outcome =
                match create_atomically(&folder.join(starter.path), starter.text.as_bytes()) {
                    Ok(()) => Outcome::Written,
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        Outcome::Existed
                    }
                    Err(error) => Outcome::Failed(error),
                };
            Written {
                path: PathBuf::from(starter.path),
                starter: *starter,
                outcome,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_names_the_policy_init_writes() {
        let manifest = STARTERS[0].text;
        assert!(
            STARTERS
                .iter()
                .any(|s| manifest.contains(&format!("policy: {}\n", s.path))),
            "{manifest}"
        );
    }

    #[test]
    fn nothing_is_overwritten_and_a_second_run_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("projects.yaml"), "mine").unwrap();
        let first = init(dir.path());
        assert!(matches!(first[0].outcome, Outcome::Existed));
        assert!(
            first[1..]
                .iter()
                .all(|w| matches!(w.outcome, Outcome::Written))
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("projects.yaml")).unwrap(),
            "mine"
        );
        let second = init(dir.path());
        assert!(second.iter().all(|w| matches!(w.outcome, Outcome::Existed)));
    }
}
