//! `tagrec plan`: load and check the manifest, read the live projects, plan, print; with
//! `--out FILE` save the plan for `tagrec apply FILE` (`--out -`: the plan JSON on stdout).

use std::path::Path;

use crate::cli::{PlanArgs, PlanFormat};
use crate::ops;
use crate::render;
use crate::shell::{Exit, Shell};

pub async fn run(shell: &Shell, args: PlanArgs) -> anyhow::Result<Exit> {
    let Some(loaded) = super::load(shell, &args.manifest.manifest) else {
        return Ok(Exit::Failure);
    };
    let connect = super::connect_options(&args.target);
    let prepared = ops::plan::prepare(&loaded, &connect, &args.targets).await?;
    let plan = &prepared.plan;
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    let shown = match args.format {
        PlanFormat::Text => render::plan::text(plan),
        PlanFormat::Json => render::plan::json(plan),
        PlanFormat::Markdown => render::plan::markdown(plan),
    };
    // With `--out -` stdout carries the plan file alone; the plan for people goes to stderr.
    match (to_stdout, args.format) {
        (false, _) => shell.print(&shown),
        (true, PlanFormat::Json) => {}
        (true, _) => shell.eprint(&shown),
    }
    shell.append_step_summary(&render::plan::markdown(plan))?;
    if !prepared.errors.is_empty() {
        super::report_plan_errors(shell, &prepared.errors);
        if let Some(out) = &args.out {
            let place = if to_stdout {
                "stdout".to_string()
            } else {
                out.display().to_string()
            };
            shell.status(format!("no plan written to {place}: the plan has errors"));
        }
        return Ok(Exit::Failure);
    }
    match &args.out {
        Some(_) if to_stdout => {
            shell.print(&render::plan::json(plan));
            shell.status(
                "Wrote the plan to stdout: save it to a file, then `tagrec apply FILE` makes exactly these changes.",
            );
        }
        Some(out) => {
            ops::plan::save(plan, out)?;
            shell.status(format!(
                "Saved the plan to {}: run `{}` to make exactly these changes.",
                out.display(),
                ops::plan::apply_command(out, plan, &connect)
            ));
        }
        None => {}
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
