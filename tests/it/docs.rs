//! The docs run: every ```console example of README.md and of docs/ (recursively) is run against
//! the embedded sandbox by `cargo test`, and its output checked, so that none fails when pasted.
//!
//! trycmd (from the authors of clap) reads the blocks: a `$ tagrec …` line is a command, the lines
//! after it its exact output (stdout and stderr together, as a terminal shows them), `? N` under
//! the command an exit code other than 0, `...` on a line of its own any lines, and `[..]` any
//! text within a line. ```sh blocks are not run (they need an AWS account or a shell), nor
//! ```console,ignore blocks, which only the pages of `PENDING` may have.
//!
//! Each page runs in a folder of its own: a fresh copy of the repository's `FIXTURES` (without
//! the sandbox state `.tagrec/` of a past run), so that a user at the repository's root sees what
//! the page shows. A page's blocks run top to bottom as one scenario: `apply`, then `plan` says
//! "No changes.". After a failed step the page's later steps are skipped.
//!
//! The commands run with none of the caller's credentials or AWS settings: this test runs itself
//! again in a child process without them (trycmd can add variables, not remove them).
//!
//! trycmd turns every `\` of an output into `/` before comparing (for Windows paths): an output
//! line with a backslash (an escaped quote in JSON) is written with `[..]` in the page.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{AMBIENT, NO_AWS_FILE, tagrec_path};

/// What every page starts from, copied from the repository's root.
const FIXTURES: &[&str] = &["examples", "policies", "docs/examples"];

/// Pages that start in an empty folder instead (`tagrec init` writes into it).
const EMPTY_FOLDER: &[&str] = &["docs/commands/init.md"];

/// Pages that may hold ```console,ignore blocks, and why they cannot run yet. Remove a page from
/// here (and `,ignore` from its blocks) once its examples run.
const PENDING: &[(&str, &str)] = &[];

/// Set in the child process: the folder the pages run in.
const CHILD: &str = "TAGREC_DOCS_FOLDER";

const TEST: &str = "every_console_example_of_the_docs_runs_as_written";

#[test]
fn every_console_example_of_the_docs_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = pages(root);
    assert!(
        pages.iter().any(|p| p == Path::new("README.md")) && pages.len() > 1,
        "README.md and docs/ are run: {pages:?}"
    );
    match std::env::var_os(CHILD) {
        Some(folder) => run_pages(root, &pages, Path::new(&folder)),
        None => run_in_a_clean_environment(),
    }
}

/// Every ```console block runs: none is indented (trycmd sees only blocks at the margin), and
/// only the pages of `PENDING` hold ```console,ignore blocks.
#[test]
fn every_console_block_is_run_or_pending() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut unexpected, mut indented) = (Vec::new(), Vec::new());
    for page in pages(root) {
        let text = std::fs::read_to_string(root.join(&page)).unwrap();
        let page = page.to_string_lossy().replace('\\', "/");
        for (number, line) in text.lines().enumerate() {
            let info = line.trim_start().trim_start_matches('`');
            let fence = line.trim_start().starts_with("```");
            let console = fence && info.starts_with("console");
            let place = format!("{page}:{}", number + 1);
            if console && line.starts_with(char::is_whitespace) {
                indented.push(place);
            } else if console && info.contains("ignore") && !PENDING.iter().any(|(p, _)| *p == page)
            {
                unexpected.push(place);
            }
        }
    }
    assert!(
        indented.is_empty(),
        "these ```console blocks are indented, so the tests do not run them: {}. Start the fence \
         and the `$` lines at the margin (out of the list item).",
        indented.join(", ")
    );
    assert!(
        unexpected.is_empty(),
        "```console,ignore blocks are not run by the tests; these pages are not in PENDING \
         (tests/it/docs.rs): {}. Make the example run, or write it as ```sh if it needs an AWS \
         account.",
        unexpected.join(", ")
    );
}

/// README.md and every markdown file under docs/, relative to the repository's root, sorted.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md")];
    let mut folders = vec![PathBuf::from("docs")];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&folder)) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let path = folder.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
    }
    pages.sort();
    pages
}

/// Runs this test again in a child process without the caller's credentials and AWS settings,
/// and reports its failures with the pages' own paths (`docs/commands/plan.md:12`).
fn run_in_a_clean_environment() {
    let folder = tempfile::tempdir().unwrap();
    let name = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, rest)| rest);
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args([&format!("{name}::{TEST}"), "--exact", "--test-threads", "1"]);
    for variable in AMBIENT {
        child.env_remove(variable);
    }
    child
        .env(CHILD, folder.path())
        .env("AWS_CONFIG_FILE", NO_AWS_FILE)
        .env("AWS_SHARED_CREDENTIALS_FILE", NO_AWS_FILE)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    // The child's own panic is the failure reported here, once and without a backtrace.
    child.env_remove("RUST_BACKTRACE");
    let output = child.output().unwrap();
    let prefix = format!("{}/", folder.path().display());
    // The pages' own paths, and only what failed (trycmd also lists every step that passed).
    let report = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .replace(&prefix, "")
            .lines()
            .filter(|line| {
                !(line.starts_with("Testing ")
                    && (line.contains(" ... ok") || line.ends_with(" ... ignored")))
            })
            .map(|line| format!("{line}\n"))
            .collect::<String>()
    };
    let (stdout, stderr) = (report(&output.stdout), report(&output.stderr));
    assert!(
        output.status.success(),
        "{}\nAn example of the docs no longer does what it shows: each failed `$` line is named \
         above as FILE:LINE, with the difference (`...` in a page stands for any lines, `[..]` for \
         any text in a line). Fix the page, or, if tagrec's new output is intended, write it into \
         the page with `TRYCMD=overwrite cargo test --test it {name}::{TEST}` and review the diff.",
        if stderr.contains("Testing ") {
            stderr
        } else {
            format!("{stderr}{stdout}")
        }
    );
    assert!(
        stdout.contains("1 passed"),
        "the child process ran no test:\n{stdout}"
    );
}

/// In the child: lays out each page beside its starting folder (`plan.md`, `plan.in/`) and runs
/// them with trycmd.
fn run_pages(root: &Path, pages: &[PathBuf], folder: &Path) {
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("tagrec", tagrec_path())
        .timeout(Duration::from_secs(120));
    for page in pages {
        let link = folder.join(page);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        // A link, so that `TRYCMD=overwrite` writes into the page itself.
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join(page), &link).unwrap();
        #[cfg(not(unix))]
        std::fs::copy(root.join(page), &link).unwrap();
        let start = link.with_extension("in");
        std::fs::create_dir_all(&start).unwrap();
        if !EMPTY_FOLDER.iter().any(|p| Path::new(p) == page) {
            for fixture in FIXTURES {
                copy_tree(&root.join(fixture), &start.join(fixture));
            }
        }
        // An (empty) expected folder makes trycmd run the page in a copy of `start` and skip
        // the steps after a failed one.
        std::fs::create_dir_all(link.with_extension("out")).unwrap();
        cases.case(&link);
    }
    cases.run();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if entry.file_type().unwrap().is_dir() {
            if name != ".tagrec" {
                copy_tree(&entry.path(), &to.join(&name));
            }
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}
