//! `tagrec audit`: every live active project (not `default`) against the policy, in a table,
//! JSON, CSV or markdown; exit 2 when any project breaks the policy.

use crate::cli::{AuditArgs, AuditFormat};
use crate::ops;
use crate::render;
use crate::shell::{Exit, Shell};

pub async fn run(shell: &Shell, args: AuditArgs) -> anyhow::Result<Exit> {
    let Some(loaded) = super::load(shell, &args.manifest.manifest) else {
        return Ok(Exit::Failure);
    };
    let audit = ops::audit::audit(&loaded, &super::connect_options(&args.target)).await?;
    shell.print(&match args.format {
        AuditFormat::Text => render::audit::text(&audit),
        AuditFormat::Json => render::audit::json(&audit),
        AuditFormat::Csv => render::audit::csv(&audit),
        AuditFormat::Markdown => render::audit::markdown(&audit),
    });
    Ok(if audit.compliant == audit.projects.len() {
        Exit::Success
    } else {
        Exit::Changes
    })
}
