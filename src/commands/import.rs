//! `tagrec import`: the live account as a manifest, to a file or (`--out -`) to stdout.

use crate::cli::ImportArgs;
use crate::manifest::{Manifest, Target};
use crate::ops;
use crate::ops::import::ImportOptions;
use crate::shell::{Exit, Shell};

pub async fn run(shell: &Shell, args: ImportArgs) -> anyhow::Result<Exit> {
    let connect = super::connect_options(&args.target);
    let options = ImportOptions {
        out: args.out,
        force: args.force,
        policy: args.policy,
        owner: args.owner,
    };
    ops::import::check_out(&options)?;
    // The target comes from an existing manifest when there is one; a first import has none and
    // takes it from --endpoint / TAGREC_ENDPOINT and AWS_REGION.
    if !args.manifest.exists() && args.manifest.to_string_lossy().contains(['*', '?', '[']) {
        anyhow::bail!(
            "no file is named {}: import reads one manifest, not a pattern; name one with -f",
            args.manifest.display()
        );
    }
    let manifest = if args.manifest.exists() {
        match super::load(shell, &args.manifest) {
            Some(loaded) => loaded.manifest,
            None => return Ok(Exit::Failure),
        }
    } else {
        Manifest::empty(args.manifest.clone(), Target::default())
    };
    let imported = ops::import::import(&manifest, &connect, &options).await?;
    for warning in &imported.warnings {
        shell.warn(warning);
    }
    if options.to_stdout() {
        shell.print(&imported.text);
    } else {
        ops::import::write(&options, &imported)?;
        let projects = if imported.count == 1 {
            "project"
        } else {
            "projects"
        };
        shell.status(format!(
            "Wrote {} {projects} to {}. Next: `tagrec plan -f {}` should show no changes.",
            imported.count,
            options.out.display(),
            options.out.display()
        ));
    }
    Ok(Exit::Success)
}
