//! `tagrec manifests`: the manifests that `-f` and `--changed-since` select, for a CI matrix that
//! fans an estate out over the CI system's own runners.

use crate::cli::{ManifestsFormat, ManifestsListArgs};
use crate::render;
use crate::shell::{Exit, Shell};

pub fn run(shell: &Shell, args: ManifestsListArgs) -> anyhow::Result<Exit> {
    let selected = super::select(&args.manifests)?;
    shell.print(&match args.format {
        ManifestsFormat::Text => render::estate::manifests_text(&selected.files),
        ManifestsFormat::Json => render::estate::manifests_json(&selected.files),
        ManifestsFormat::GithubMatrix => render::estate::github_matrix(&selected.files),
    });
    Ok(Exit::Success)
}
