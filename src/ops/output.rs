//! The declared projects' live ids, for the applications: every inference request must carry its
//! project's id (`project=` in the OpenAI SDK), or its cost lands on the untagged `default` project.

use anyhow::bail;

use crate::plan::PlanTarget;
use crate::plan::matching::{Match, match_projects};
use crate::render::output::{Output, OutputProject};

use super::connect::{ConnectOptions, connect};
use super::plan::list_live;
use super::validate::Loaded;

/// Reads the live projects (list pages only) and returns the declared ones with their ids. A
/// declared project that does not exist yet, or that cannot be told apart, is an error.
pub async fn output(loaded: &Loaded, options: &ConnectOptions) -> anyhow::Result<Output> {
    let manifest = &loaded.manifest;
    let connection = connect(options, manifest).await?;
    let live = list_live(&connection).await?;
    let matching = match_projects(&manifest.projects, &live);
    let mut projects = Vec::new();
    let mut problems = Vec::new();
    for (desired, found) in manifest.projects.iter().zip(&matching.matches) {
        let name = &desired.name;
        match found {
            Match::Live(p) => projects.push(OutputProject {
                name: name.clone(),
                id: p.id.clone(),
                arn: p.arn.clone(),
                status: p.status.as_str().to_string(),
            }),
            Match::Missing => problems.push(format!(
                "\"{name}\" does not exist yet: run `tagrec apply` first"
            )),
            Match::PinnedMissing | Match::PinnedArchived | Match::PinnedDefault => {
                problems.push(format!(
                    "\"{name}\" is pinned to id {}, which is not an active project: run `tagrec plan` to see why",
                    desired.id.as_deref().unwrap_or("?")
                ))
            }
            Match::Conflict(many) => problems.push(format!(
                "{} active projects are named \"{name}\" ({}): pin one with `id:`",
                many.len(),
                many.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} declares projects without a live id at {}:\n  - {}",
            manifest.file.display(),
            connection.target.endpoint,
            problems.join("\n  - ")
        );
    }
    projects.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let PlanTarget { endpoint, region } = connection.target;
    Ok(Output {
        region,
        base_url: endpoint,
        projects,
    })
}

/// The project `--project NAME|ID` names: by id, else by name; a name two pinned entries share
/// is an error that lists their ids.
pub fn pick<'a>(output: &'a Output, wanted: &str) -> anyhow::Result<&'a OutputProject> {
    if let Some(project) = output.projects.iter().find(|p| p.id == wanted) {
        return Ok(project);
    }
    let named: Vec<&OutputProject> = output
        .projects
        .iter()
        .filter(|p| p.name == wanted)
        .collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => {
            let names: Vec<&str> = output.projects.iter().map(|p| p.name.as_str()).collect();
            match crate::manifest::load::nearest(wanted, &names) {
                Some(near) => bail!(
                    "no declared project is named or has the id `{wanted}`; did you mean `{near}`?"
                ),
                None => bail!(
                    "no declared project is named or has the id `{wanted}` (declared: {})",
                    names.join(", ")
                ),
            }
        }
        many => bail!(
            "{} declared projects are named `{wanted}` ({}): give the id with --project",
            many.len(),
            many.iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
