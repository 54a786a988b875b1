//! `tagrec init`: writes the starter files into the current folder, says what became of each,
//! and what to do next.

use crate::ops;
use crate::ops::init::Outcome;
use crate::shell::{Exit, Shell};

pub fn run(shell: &Shell) -> anyhow::Result<Exit> {
    let written = ops::init::init(std::path::Path::new(""));
    let mut out = String::new();
    let mut failed = false;
    for file in &written {
        let path = file.path.display();
        match &file.outcome {
            Outcome::Written => out.push_str(&format!("Wrote {path}: {}\n", file.starter.what)),
            Outcome::Existed => out.push_str(&format!("{path} exists: left as it is\n")),
            Outcome::Failed(error) => {
                failed = true;
                shell.error(format!("could not write {path}: {error}"));
            }
        }
    }
    out.push_str(NEXT);
    shell.print(&out);
    Ok(if failed { Exit::Failure } else { Exit::Success })
}

const NEXT: &str = "
Next:
  tagrec validate    check the manifest against the policy, offline
  tagrec plan        what apply would change, here in the built-in sandbox (no AWS account)
  tagrec apply       make those changes (the sandbox keeps them in .tagrec/sandbox.json)
Then declare your own projects in projects.yaml, or start from your account's: remove
`sandbox:` from `target:` and run `tagrec import --force --policy policies/required-tags.yaml`.
Before pushing, read the first lines of .github/workflows/tagrec.yml: they say what the
workflow needs to run (credentials; \"Use it in CI\" in tagrec's README has the steps).
";
