//! `tagrec plan`: load and check the manifest, read the live projects, plan, print.

use crate::cli::{PlanArgs, PlanFormat};
use crate::ops;
use crate::render;
use crate::shell::{Exit, Shell};

pub async fn run(shell: &Shell, args: PlanArgs) -> anyhow::Result<Exit> {
    let Some(loaded) = super::load(shell, &args.manifest.manifest) else {
        return Ok(Exit::Failure);
    };
    let prepared = ops::plan::prepare(
        &loaded,
        &super::connect_options(&args.target),
        &args.targets,
    )
    .await?;
    let plan = &prepared.plan;
    shell.print(&match args.format {
        PlanFormat::Text => render::plan::text(plan),
        PlanFormat::Json => render::plan::json(plan),
        PlanFormat::Markdown => render::plan::markdown(plan),
    });
    shell.append_step_summary(&render::plan::markdown(plan))?;
    if !prepared.errors.is_empty() {
        super::report_plan_errors(shell, &prepared.errors);
        if let Some(out) = &args.out {
            shell.status(format!(
                "no plan written to {}: the plan has errors",
                out.display()
            ));
        }
        return Ok(Exit::Failure);
    }
    if let Some(out) = &args.out {
        ops::plan::save(plan, out)?;
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
