//! `tagrec validate`: the manifest and its policy checked offline, every problem printed in the
//! chosen format (stdout, since the problems are the result), exit 1 when there is any error.

use crate::cli::{ValidateArgs, ValidateFormat};
use crate::ops;
use crate::render::diagnostics as printer;
use crate::shell::{Exit, Shell};

pub fn run(shell: &Shell, args: ValidateArgs) -> anyhow::Result<Exit> {
    let checked = ops::validate::check(&args.manifest.manifest);
    let file = args.manifest.manifest.display().to_string();
    let output = match args.format {
        ValidateFormat::Text => {
            let mut out = printer::text(
                &checked.diagnostics,
                &checked.sources,
                shell.stdout_colored(),
            );
            let errors = checked.error_count();
            if errors > 0 {
                let s = if errors == 1 { "" } else { "s" };
                out.push_str(&format!("{errors} error{s} in {file}\n"));
            } else {
                let projects = checked.manifest.as_ref().map_or(0, |m| m.projects.len());
                let s = if projects == 1 { "" } else { "s" };
                out.push_str(&format!("{file} is valid: {projects} project{s}\n"));
            }
            out
        }
        ValidateFormat::Json => printer::json(&checked.diagnostics, &checked.sources),
        ValidateFormat::Github => printer::github(&checked.diagnostics, &checked.sources),
        ValidateFormat::Sarif => printer::sarif(&checked.diagnostics, &checked.sources),
    };
    shell.print(&output);
    Ok(if checked.has_errors() {
        Exit::Failure
    } else {
        Exit::Success
    })
}
