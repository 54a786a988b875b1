//! `tagrec import`: a manifest of the live active projects (not `default`), each pinned by id,
//! so that `import` then `plan` shows no changes. Refuses to overwrite a file without `--force`.

use std::path::Path;

use anyhow::{Context as _, bail};

use crate::api::LiveProject;
use crate::api::connect::connect;
use crate::cli::{GlobalArgs, ImportArgs};
use crate::manifest::{AWS_PREFIX, Manifest, OWNER_TAG, PROTECT_TAG, TagPatterns, Target};
use crate::render::manifest::{ImportedManifest, ImportedProject, yaml};
use crate::shell::{Exit, Shell};

use super::plan::{load_manifest, write_atomically};

pub async fn run(shell: &Shell, global: &GlobalArgs, args: ImportArgs) -> anyhow::Result<Exit> {
    let to_stdout = args.out.as_os_str() == "-";
    if !to_stdout && args.out.exists() && !args.force {
        bail!(
            "{} exists: import does not overwrite a file without --force (or write elsewhere with --out FILE, or --out - for stdout)",
            args.out.display()
        );
    }
    // The target comes from an existing manifest when there is one; a first import has none and
    // takes it from --endpoint / TAGREC_ENDPOINT and AWS_REGION.
    let manifest = if global.manifest.exists() {
        match load_manifest(shell, &global.manifest) {
            Some((manifest, _)) => manifest,
            None => return Ok(Exit::Failure),
        }
    } else {
        bare_manifest(&global.manifest)
    };
    let connection = connect(global, &manifest, shell)?;
    let live = connection.api.list().await.with_context(|| {
        format!(
            "could not list the projects at {}",
            connection.target.endpoint
        )
    })?;

    let imported = imported(&live, args.owner.as_deref());
    let count = imported.len();
    let document = ImportedManifest {
        region: Some(connection.target.region.clone()),
        endpoint: (manifest.target.sandbox.is_none())
            .then(|| global.endpoint.clone().or(manifest.target.endpoint.clone()))
            .flatten(),
        policy: args.policy.as_ref().map(|p| p.display().to_string()),
        owner: args.owner.clone(),
        projects: imported,
    };
    let text = yaml(&document);
    if to_stdout {
        shell.print(&text);
    } else {
        write_atomically(&args.out, text.as_bytes())
            .with_context(|| format!("could not write {}", args.out.display()))?;
        shell.status(format!(
            "Wrote {count} projects to {}. Next: `tagrec plan -f {}` should show no changes.",
            args.out.display(),
            args.out.display()
        ));
    }
    Ok(Exit::Success)
}

/// The live active projects as manifest entries: all tags but `aws:` ones; `tagrec:protect`
/// becomes `protect: true` (the tag may not be written by hand); with an owner, `ManagedBy` is
/// left to `owner:` (it may not be written by hand then either).
pub fn imported(live: &[LiveProject], owner: Option<&str>) -> Vec<ImportedProject> {
    let mut projects: Vec<ImportedProject> = live
        .iter()
        .filter(|p| p.is_active() && !p.is_default())
        .map(|p| {
            let protect = p.tags.get(PROTECT_TAG).map(String::as_str) == Some("true");
            let tags = p
                .tags
                .iter()
                .filter(|(k, _)| {
                    !k.starts_with(AWS_PREFIX)
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

fn bare_manifest(path: &Path) -> Manifest {
    Manifest {
        file: path.to_path_buf(),
        version: 1,
        target: Target::default(),
        policy: None,
        owner: None,
        prune: false,
        ignore_tags: TagPatterns::default(),
        defaults: Default::default(),
        projects: Vec::new(),
    }
}
