//! `tagrec plan`: load and check the manifest, read the live projects, plan, print.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;

use crate::api::LiveProject;
use crate::api::connect::{Connection, connect};
use crate::cli::{GlobalArgs, PlanArgs, PlanFormat};
use crate::diagnostics::Severity;
use crate::manifest::{self, Manifest};
use crate::plan::model::{FORMAT_VERSION, PlanTarget};
use crate::plan::{Plan, PlanError, PlanOptions, plan};
use crate::policy::{Policy, Violation};
use crate::render;
use crate::shell::{Exit, Shell};

/// Everything `plan` and `apply` compute before they print or write.
pub(crate) struct Prepared {
    pub connection: Connection,
    pub live: Vec<LiveProject>,
    pub plan: Plan,
    pub errors: Vec<PlanError>,
}

impl Prepared {
    /// Ids that exist in the account now: a project found by name after a lost create answer
    /// is adopted only if it is new.
    pub fn known_ids(&self) -> HashSet<String> {
        self.live.iter().map(|p| p.id.clone()).collect()
    }
}

/// Loads the manifest (printing its diagnostics and failing when it has errors), connects,
/// lists and plans. `Ok(None)` means the manifest was invalid and its errors were printed.
pub(crate) async fn prepare(
    shell: &Shell,
    global: &GlobalArgs,
    targets: &[String],
) -> anyhow::Result<Option<Prepared>> {
    let Some((manifest, policy)) = load_manifest(shell, &global.manifest) else {
        return Ok(None);
    };
    let connection = connect(global, &manifest, shell)?;
    let live = list_live(shell, &connection).await?;
    shell.verbose(|| {
        format!(
            "{} projects in the account (archived and default included)",
            live.len()
        )
    });

    let owner = manifest.owner.clone();
    let violations = |p: &LiveProject| -> Vec<Violation> {
        match &policy {
            Some(policy) => policy.check_project(&p.name, &p.tags, owner.as_deref()),
            None => Vec::new(),
        }
    };
    let planned = plan(
        &manifest.projects,
        &live,
        &PlanOptions {
            owner: manifest.owner.as_deref(),
            prune: manifest.prune,
            ignore: &manifest.ignore_tags,
            targets,
            violations: &violations,
        },
    );
    let plan = Plan {
        format_version: FORMAT_VERSION.to_string(),
        tagrec_version: env!("CARGO_PKG_VERSION").to_string(),
        manifest: manifest.file.display().to_string(),
        target: PlanTarget {
            endpoint: connection.target.endpoint.clone(),
            region: connection.target.region.clone(),
        },
        summary: planned.summary,
        changes: planned.changes,
        unmanaged: planned.unmanaged,
        warnings: planned.warnings,
        ignore_tags: manifest.ignore_tags.0.clone(),
    };
    Ok(Some(Prepared {
        connection,
        live,
        plan,
        errors: planned.errors,
    }))
}

/// Every project of the account (all pages, archived and `default` included).
pub(crate) async fn list_live(
    shell: &Shell,
    connection: &Connection,
) -> anyhow::Result<Vec<LiveProject>> {
    shell.verbose(|| format!("listing projects at {}", connection.target.endpoint));
    connection.api.list().await.with_context(|| {
        format!(
            "could not list the projects at {}",
            connection.target.endpoint
        )
    })
}

/// The manifest and its policy, or `None` after printing why not (with file:line:column).
pub(crate) fn load_manifest(shell: &Shell, path: &Path) -> Option<(Manifest, Option<Policy>)> {
    let checked = manifest::check(path);
    if !checked.diagnostics.is_empty() {
        shell.eprint(&render::diagnostics::text(
            &checked.diagnostics,
            &checked.sources,
            shell.stderr_colored(),
        ));
    }
    let has_errors = checked
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error);
    let manifest = checked.manifest.filter(|_| !has_errors)?;
    Some((manifest, checked.policy))
}

pub(crate) fn report_errors(shell: &Shell, errors: &[PlanError]) {
    for e in errors {
        shell.error(e);
    }
}

pub async fn run(shell: &Shell, global: &GlobalArgs, args: PlanArgs) -> anyhow::Result<Exit> {
    let Some(prepared) = prepare(shell, global, &args.targets).await? else {
        return Ok(Exit::Failure);
    };
    let plan = &prepared.plan;
    let rendered = match args.format {
        PlanFormat::Text => render::plan::text(plan),
        PlanFormat::Json => render::plan::json(plan),
        PlanFormat::Markdown => render::plan::markdown(plan),
    };
    shell.print(&rendered);
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        append(Path::new(&path), &render::plan::markdown(plan)).with_context(|| {
            format!(
                "could not append the plan to GITHUB_STEP_SUMMARY ({})",
                Path::new(&path).display()
            )
        })?;
    }
    if !prepared.errors.is_empty() {
        report_errors(shell, &prepared.errors);
        if let Some(out) = &args.out {
            shell.status(format!(
                "no plan written to {}: the plan has errors",
                out.display()
            ));
        }
        return Ok(Exit::Failure);
    }
    if let Some(out) = &args.out {
        write_atomically(out, render::plan::json(plan).as_bytes())
            .with_context(|| format!("could not write the plan to {}", out.display()))?;
        shell.status(format!(
            "Saved the plan to {}: run `tagrec apply {}` to make exactly these changes.",
            out.display(),
            out.display()
        ));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

/// Temporary file beside the target, then rename: a reader never sees half a plan.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
