//! `tagrec manifests`: the manifests that `-f` and `--changed-since` select, for a CI matrix that
//! fans an estate out over the CI system's own runners.

use crate::cli::{ManifestsFormat, ManifestsListArgs};
use crate::render;
use crate::shell::{Exit, Shell};

/// The most jobs GitHub runs from one matrix.
const GITHUB_MATRIX_LIMIT: usize = 256;

pub fn run(shell: &Shell, args: ManifestsListArgs) -> anyhow::Result<Exit> {
    let selected = super::select(shell, &args.manifests)?;
    if args.format == ManifestsFormat::GithubMatrix && selected.files.len() > GITHUB_MATRIX_LIMIT {
        shell.warn(format!(
            "{} manifests: GitHub runs at most {GITHUB_MATRIX_LIMIT} jobs from one matrix and refuses the workflow above that; plan them in one job (`tagrec plan -f … --jobs N`), or split the matrix",
            selected.files.len()
        ));
    }
    shell.print(&match args.format {
        ManifestsFormat::Text => render::estate::manifests_text(&selected.files),
        ManifestsFormat::Json => render::estate::manifests_json(&selected.files),
        ManifestsFormat::GithubMatrix => render::estate::github_matrix(&selected.files),
    });
    Ok(Exit::Success)
}
