//! Import: a manifest of the live active projects (not `default`), each pinned by id, so that
//! `import` then `plan` shows no changes. Refuses to overwrite a file without `--force`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::api::LiveProject;
use crate::files::write_atomically;
use crate::manifest::Manifest;
use crate::render::manifest::{ImportedManifest, ImportedProject, ImportedSandbox, yaml};
use crate::rules::{DEFAULT_PROJECT_ID, OWNER_TAG, PROTECT_TAG, is_aws_key, is_protected};

use super::connect::{ConnectOptions, connect};
use super::plan::list_live;

pub struct ImportOptions {
    /// Where the manifest goes; `-` is stdout.
    pub out: PathBuf,
    pub force: bool,
    pub policy: Option<PathBuf>,
    pub owner: Option<String>,
}

impl ImportOptions {
    pub fn to_stdout(&self) -> bool {
        self.out.as_os_str() == "-"
    }
}

/// The manifest written, and what the user should know about it.
pub struct Imported {
    pub text: String,
    pub count: usize,
    pub warnings: Vec<String>,
}

/// Refuses at once (before any request) to overwrite a file without `--force`.
pub fn check_out(options: &ImportOptions) -> anyhow::Result<()> {
    if !options.to_stdout() && options.out.exists() && !options.force {
        bail!(
            "{} exists: import does not overwrite a file without --force (or write elsewhere with --out FILE, or --out - for stdout)",
            options.out.display()
        );
    }
    Ok(())
}

/// Reads the account that `manifest`'s target (or `--endpoint`) points at and returns the
/// manifest of it. `manifest` is the existing one, or an empty one for a first import.
pub async fn import(
    manifest: &Manifest,
    connect_options: &ConnectOptions,
    options: &ImportOptions,
) -> anyhow::Result<Imported> {
    let connection = connect(connect_options, manifest).await?;
    let live = list_live(&connection).await?;

    // A manifest may not declare a project named `default` (it would be taken for the account's
    // own): such a live project is left out, with a word, rather than written into a manifest
    // that `validate` rejects.
    let (unnamed, live): (Vec<LiveProject>, Vec<LiveProject>) = live
        .into_iter()
        .partition(|p| p.is_active() && !p.is_default() && p.name == DEFAULT_PROJECT_ID);
    let mut warnings: Vec<String> = Vec::new();
    warnings.extend(unnamed.iter().map(|p| format!(
        "left out project {} named `default`: a manifest cannot declare that name; rename the project to manage it with tagrec",
        p.id
    )));
    if let Some(owner) = options.owner.as_deref() {
        warnings.extend(ownership_warning(&live, owner));
    }
    let projects = imported(&live, options.owner.as_deref());
    let count = projects.len();
    // The written manifest targets what this import read: an explicit --endpoint wins, else the
    // manifest's sandbox (its paths re-rooted at the new file's folder), else its endpoint.
    // Where stdout will be saved is unknown: its paths are written from the folder of the
    // manifest given with -f (the likeliest place, and portable, unlike absolute paths), and a
    // warning says so.
    let folder = if options.to_stdout() {
        folder_of(&manifest.file)
    } else {
        folder_of(&options.out)
    };
    let sandbox = match (&connect_options.endpoint, &manifest.target.sandbox) {
        (None, Some(sandbox)) => Some(ImportedSandbox {
            state: relative_to(&sandbox.state, folder),
            seed: sandbox
                .seed
                .as_deref()
                .map(|seed| relative_to(seed, folder)),
            costs: sandbox
                .costs
                .as_deref()
                .map(|costs| relative_to(costs, folder)),
            active_cost_tags: sandbox.active_cost_tags.clone(),
            linked_account: sandbox.linked_account,
        }),
        _ => None,
    };
    // `--policy` names the file from the current folder, as every path of the command line; the
    // manifest names it from its own folder.
    let policy = options.policy.as_deref().map(|p| relative_to(p, folder));
    if let Some(given) = &options.policy
        && !given.is_file()
    {
        warnings.push(format!(
            "--policy {}: no such file here; the manifest names it as `policy: {}`: create it there before the next validate or plan",
            given.display(),
            policy.as_deref().unwrap_or_default()
        ));
    }
    if options.to_stdout() && (sandbox.is_some() || (policy.is_some() && folder != Path::new(".")))
    {
        warnings.push(stdout_paths_warning(
            sandbox.as_ref(),
            policy.as_deref(),
            folder,
            &manifest.file,
        ));
    }
    let document = ImportedManifest {
        region: connection.target.region.clone(),
        endpoint: match &sandbox {
            Some(_) => None,
            None => connect_options
                .endpoint
                .clone()
                .or(manifest.target.endpoint.clone()),
        },
        sandbox,
        policy,
        owner: options.owner.clone(),
        projects,
    };
    Ok(Imported {
        text: yaml(&document),
        count,
        warnings,
    })
}

/// Writes the imported manifest to `--out`, atomically.
pub fn write(options: &ImportOptions, imported: &Imported) -> anyhow::Result<()> {
    write_atomically(&options.out, imported.text.as_bytes())
        .with_context(|| format!("could not write {}", options.out.display()))
}

/// The folder a file is in; `.` for a bare file name.
fn folder_of(file: &Path) -> &Path {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// What to do with a manifest printed on stdout whose paths (the sandbox's, the policy's) only
/// hold from one folder.
fn stdout_paths_warning(
    sandbox: Option<&ImportedSandbox>,
    policy: Option<&str>,
    folder: &Path,
    manifest: &Path,
) -> String {
    let mut paths: Vec<String> = Vec::new();
    if let Some(sandbox) = sandbox {
        paths.push(format!("`state: {}`", sandbox.state));
        if let Some(seed) = &sandbox.seed {
            paths.push(format!("`seed: {seed}`"));
        }
        if let Some(costs) = &sandbox.costs {
            paths.push(format!("`costs: {costs}`"));
        }
    }
    if let Some(policy) = policy {
        paths.push(format!("`policy: {policy}`"));
    }
    let paths = match paths.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    let from = if folder == Path::new(".") {
        format!("the current folder (where {} is)", manifest.display())
    } else {
        format!("{}, the folder of {}", folder.display(), manifest.display())
    };
    format!(
        "the paths written on stdout ({paths}) are relative to {from}: save the manifest in that folder, or adjust them (`--out FILE` writes them relative to FILE)"
    )
}

/// With `--owner`, every imported project gets `ManagedBy: <owner>`: say which ones do not carry
/// it yet, since the first plan will show them as updates (taking them over), not as no change.
fn ownership_warning(live: &[LiveProject], owner: &str) -> Option<String> {
    let others: Vec<String> = live
        .iter()
        .filter(|p| p.is_active() && !p.is_default())
        .filter(|p| p.tags.get(OWNER_TAG).map(String::as_str) != Some(owner))
        .map(|p| format!("{} ({})", p.name, p.id))
        .collect();
    if others.is_empty() {
        return None;
    }
    const SHOWN: usize = 5;
    let more = match others.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let (verb, them) = if others.len() == 1 {
        ("does", "it")
    } else {
        ("do", "them")
    };
    Some(format!(
        "{} of the imported projects {verb} not carry `{OWNER_TAG}: {owner}`: the next apply sets it on {them} (taking {them} over): {}{more}",
        others.len(),
        others[..others.len().min(SHOWN)].join(", ")
    ))
}

/// The live active projects as manifest entries, sorted by name then id (names may repeat: each
/// entry is pinned): all tags but `aws:` ones; `tagrec:protect: "true"` becomes `protect: true`
/// (the tag may not be written by hand), and any other value is not written at all: an entry
/// without `protect:` leaves it on the project. With an owner, `ManagedBy` is left to `owner:`
/// (it may not be written by hand then either).
pub fn imported(live: &[LiveProject], owner: Option<&str>) -> Vec<ImportedProject> {
    let mut projects: Vec<ImportedProject> = live
        .iter()
        .filter(|p| p.is_active() && !p.is_default())
        .map(|p| {
            let protect = is_protected(&p.tags);
            let tags = p
                .tags
                .iter()
                .filter(|(k, _)| {
                    !is_aws_key(k)
                        && k.as_str() != PROTECT_TAG
                        && !(k.as_str() == OWNER_TAG && owner.is_some())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            ImportedProject {
                name: p.name.clone(),
                id: p.id.clone(),
                protect,
                tags,
            }
        })
        .collect();
    projects.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    projects
}

/// `path` as seen from `folder` (both relative to the working directory, or absolute), so that
/// a manifest written into `folder` finds it; unchanged when no relative path leads there.
fn relative_to(path: &Path, folder: &Path) -> String {
    let (Ok(to), Ok(from)) = (std::path::absolute(path), std::path::absolute(folder)) else {
        return path.display().to_string();
    };
    let (to, from) = (crate::files::lexical(&to), crate::files::lexical(&from));
    let common = to
        .components()
        .zip(from.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return to.display().to_string();
    }
    let mut relative = PathBuf::new();
    for _ in from.components().skip(common) {
        relative.push("..");
    }
    for part in to.components().skip(common) {
        relative.push(part);
    }
    relative.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    use crate::api::ProjectStatus;
    use crate::manifest::Manifest;
    use crate::plan::planner::Planned;
    use crate::plan::{Action, PlanOptions, TagOp, plan};
    use crate::render::manifest::ImportedManifest;
    use crate::rules::Tags;

    /// Text that YAML would read as something else if written plainly, and the odd ones out:
    /// spaces around, line breaks, quotes, unicode, the empty string.
    const AWKWARD: &[&str] = &[
        "NO",
        "yes",
        "On",
        "y",
        "true",
        "False",
        "007",
        "1.10",
        "1e3",
        "0x1F",
        ".inf",
        "~",
        "null",
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
        "Zürich",
        "東京",
        "emoji 🚀",
        "- dash",
        "-",
        "? q",
        "[x]",
        "{x}",
        "*a",
        "&a",
        "!t",
        "%p",
        "@a",
        "`t",
        "'s'",
        "\"d\"",
        "|p",
        ">f",
        "a,b",
        "back\\slash",
        "crlf\r\n",
        "2024-01-01",
        "12:30",
        "+1",
        "<<",
        "=",
        "CC-0070",
        "plain words",
        "ManagedBy",
        "Tagrec:Protect",
        "\u{feff}bom",
        "\u{85}nel",
        "\u{2028}ls",
    ];

    fn awkward() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(AWKWARD).prop_map(str::to_string),
            1 => "[a-zA-Z0-9 #:'\"\\\t\n.~!&*?{}\\[\\],|>%@`éü東-]{0,10}",
        ]
    }

    /// A live account: names drawn from a few (so they repeat), awkward keys and values, `aws:`
    /// keys, `tagrec:protect` absent, "true" or anything else, some projects archived.
    fn account() -> impl Strategy<Value = Vec<LiveProject>> {
        let name = prop_oneof![
            awkward(),
            prop::sample::select(&["Search", "Search", "Chat"][..]).prop_map(str::to_string),
        ]
        .prop_filter(
            "a name is 1-128 characters, not blank, not `default`",
            |n| !n.trim().is_empty() && n != DEFAULT_PROJECT_ID,
        );
        let key = prop_oneof![
            4 => awkward(),
            1 => awkward().prop_map(|k| format!("aws:{k}")),
        ]
        .prop_filter("a key is 1-128 characters, and not tagrec's", |k| {
            !k.is_empty() && k != PROTECT_TAG
        });
        let protect = prop::option::of(prop_oneof![
            2 => Just("true".to_string()),
            1 => awkward(),
        ]);
        let project = (
            name,
            prop::collection::btree_map(key, awkward(), 0..5),
            protect,
            prop::bool::weighted(0.15),
        );
        prop::collection::vec(project, 0..10).prop_map(|projects| {
            projects
                .into_iter()
                .enumerate()
                .map(|(i, (name, mut tags, protect, archived))| {
                    if let Some(v) = protect {
                        tags.insert(PROTECT_TAG.to_string(), v);
                    }
                    LiveProject {
                        id: format!("proj_{i:03}"),
                        object: "organization.project".into(),
                        name,
                        arn: None,
                        created_at: 0,
                        status: if archived {
                            ProjectStatus::Archived
                        } else {
                            ProjectStatus::Active
                        },
                        archived_at: None,
                        tags,
                        data_retention: None,
                    }
                })
                .collect()
        })
    }

    /// The manifest `import` writes for `live`, read back by the loader as any manifest is.
    fn import_and_load(live: &[LiveProject], owner: Option<&str>) -> (String, Manifest) {
        let text = yaml(&ImportedManifest {
            region: Some("us-east-1".into()),
            endpoint: None,
            sandbox: None,
            policy: None,
            owner: owner.map(str::to_string),
            projects: imported(live, owner),
        });
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("projects.yaml");
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        match super::super::validate::load(&path) {
            Ok(loaded) => (text, loaded.manifest),
            Err(checked) => panic!(
                "the imported manifest does not load: {:?}\n{text}",
                checked.diagnostics
            ),
        }
    }

    fn plan_of(manifest: &Manifest, live: &[LiveProject]) -> Planned {
        plan(
            &manifest.projects,
            live,
            &PlanOptions {
                owner: manifest.owner.as_deref(),
                prune: true,
                ignore: &manifest.ignore_tags,
                targets: &[],
                violations: &|_| Vec::new(),
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn import_then_plan_shows_no_changes_for_any_live_state(live in account()) {
            let (text, manifest) = import_and_load(&live, None);
            let planned = plan_of(&manifest, &live);
            prop_assert!(planned.errors.is_empty(), "{:?}\n{}", planned.errors, text);
            prop_assert!(planned.changes.is_empty(), "{:?}\n{}", planned.changes, text);
            prop_assert!(planned.unmanaged.is_empty(), "{:?}\n{}", planned.unmanaged, text);
            let active = live.iter().filter(|p| p.is_active()).count();
            prop_assert_eq!(manifest.projects.len(), active);
        }

        #[test]
        fn import_with_owner_takes_over_exactly_the_projects_it_warns_about(live in account()) {
            let owner = "platform/bedrock";
            let (text, manifest) = import_and_load(&live, Some(owner));
            let planned = plan_of(&manifest, &live);
            prop_assert!(planned.errors.is_empty(), "{:?}\n{}", planned.errors, text);
            for change in &planned.changes {
                prop_assert_eq!(change.action, Action::Update);
                let keys: Vec<Option<&str>> =
                    change.tag_changes.iter().map(|c| c.key.as_deref()).collect();
                prop_assert_eq!(keys, vec![Some(OWNER_TAG)], "{:?}\n{}", change, text);
                prop_assert!(matches!(change.tag_changes[0].op, TagOp::Add | TagOp::Change));
            }
            let warned = ownership_warning(&live, owner)
                .and_then(|w| w.split(' ').next().and_then(|n| n.parse::<usize>().ok()))
                .unwrap_or(0);
            prop_assert_eq!(planned.changes.len(), warned);
        }
    }

    #[test]
    fn the_ownership_warning_agrees_in_number() {
        let project = |id: &str, tags: Tags| LiveProject {
            id: id.into(),
            object: "organization.project".into(),
            name: id.into(),
            arn: None,
            created_at: 0,
            status: ProjectStatus::Active,
            archived_at: None,
            tags,
            data_retention: None,
        };
        let one = ownership_warning(&[project("proj_a", Tags::new())], "me");
        assert_eq!(
            one.as_deref(),
            Some(
                "1 of the imported projects does not carry `ManagedBy: me`: the next apply sets it on it (taking it over): proj_a (proj_a)"
            )
        );
        let two = ownership_warning(
            &[
                project("proj_a", Tags::new()),
                project("proj_b", Tags::new()),
            ],
            "me",
        );
        assert!(
            two.as_deref().is_some_and(|w| w.starts_with(
                "2 of the imported projects do not carry `ManagedBy: me`: the next apply sets it on them (taking them over)"
            )),
            "{two:?}"
        );
    }

    #[test]
    fn sandbox_paths_are_re_rooted_at_the_written_file() {
        let rel = |p: &str, f: &str| relative_to(Path::new(p), Path::new(f));
        assert_eq!(
            rel("examples/.tagrec/sandbox.json", "."),
            "examples/.tagrec/sandbox.json"
        );
        assert_eq!(rel("examples/./live.json", "examples"), "live.json");
        assert_eq!(
            rel("examples/live.json", "out/sub"),
            "../../examples/live.json"
        );
        assert_eq!(rel("examples/../live.json", "examples"), "../live.json");
        assert_eq!(rel("/abs/live.json", "/abs/x"), "../live.json");
    }
}
