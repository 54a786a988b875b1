//! The layering of ARCHITECTURE.md, checked on the source: a module may name only modules of
//! lower layers (`use crate::x`, `crate::x::…`), never one of its own layer or above. This keeps
//! the API client free of the command line, the manifest and the policy free of each other, and
//! the planner free of everything that does I/O.

use std::collections::BTreeSet;
use std::path::Path;

/// Top layer first. A module may name the modules of the layers after its own.
const LAYERS: &[&[&str]] = &[
    &["main"],
    &["commands"],
    &["cli"],
    &["shell"],
    &["ops"],
    &["render"],
    &["apply"],
    &["plan"],
    &["manifest", "policy"],
    &["sandbox"],
    &["api"],
    &["source"],
    &["diagnostics", "files"],
    &["rules"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a file of `src/` belongs to (`src/plan/diff.rs` -> `plan`).
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The modules a source text names through `crate::`, comments left out.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a, b::c}`: the first segment of each item (on this line).
                let inside = group.split('}').next().unwrap_or("");
                for item in inside.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        named.insert(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    named.insert(name);
                }
            }
        }
    }
    named
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ can be read") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_names_one_of_its_own_layer_or_above() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("a file under src/");
        if relative == Path::new("lib.rs") {
            continue; // declares the modules, names none
        }
        let module = module_of(relative);
        let Some(own) = layer_of(&module) else {
            problems.push(format!(
                "{}: module `{module}` is in no layer: add it to LAYERS here and to ARCHITECTURE.md",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a source file can be read");
        for named in named_modules(&text) {
            if named == module {
                continue;
            }
            match layer_of(&named) {
                Some(layer) if layer > own => {}
                Some(_) => problems.push(format!(
                    "{}: `{module}` names `{named}`, which is not below it",
                    relative.display()
                )),
                None => problems.push(format!(
                    "{}: `{module}` names `crate::{named}`, which is in no layer",
                    relative.display()
                )),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the layers of ARCHITECTURE.md are broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_every_form_of_use() {
    let text = "use crate::api::X;\nuse crate::{plan, policy::Violation};\nlet x = crate::shell::Exit; // crate::cli in a comment\n";
    let named: Vec<String> = named_modules(text).into_iter().collect();
    assert_eq!(named, ["api", "plan", "policy", "shell"]);
}
