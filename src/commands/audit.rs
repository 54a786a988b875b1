//! `tagrec audit`: every live active project (not `default`) against the policy, in a table,
//! JSON, CSV or markdown; exit 2 when any project breaks the policy. With several manifests,
//! each account is audited (`--jobs` at a time) and the results are printed together.

use serde_json::json;

use crate::cli::{AuditArgs, AuditFormat};
use crate::ops;
use crate::render;
use crate::render::audit::Audit;
use crate::render::estate::{self, Entry, MarkdownSection, Section};
use crate::shell::{Exit, Shell};

pub async fn run(shell: &Shell, args: AuditArgs) -> anyhow::Result<Exit> {
    let selected = super::select(shell, &args.manifests)?;
    let connect = super::connect_options(&args.target);
    if !selected.estate {
        let Some(file) = selected.files.first() else {
            return Ok(Exit::Success);
        };
        let Some(loaded) = super::load(shell, file) else {
            return Ok(Exit::Failure);
        };
        let (audit, _) = ops::audit::audit(&loaded, &connect).await?;
        shell.print(&match args.format {
            AuditFormat::Text => render::audit::text(&audit),
            AuditFormat::Json => render::audit::json(&audit),
            AuditFormat::Csv => render::audit::csv(&audit),
            AuditFormat::Markdown => render::audit::markdown(&audit),
        });
        return Ok(exit_of(&audit));
    }
    super::no_endpoint_for_an_estate(&connect)?;
    let results = ops::estate::for_each(&selected.files, args.manifests.jobs.into(), |file| {
        let connect = &connect;
        async move {
            let loaded = ops::validate::load(&file).map_err(|checked| super::problems(&checked))?;
            ops::audit::audit(&loaded, connect)
                .await
                .map_err(|e| super::sentence(&e))
        }
    })
    .await;
    let files: Vec<String> = selected
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let exit = Exit::combine(results.iter().map(|r| match r {
        Ok((audit, _)) => exit_of(audit),
        Err(_) => Exit::Failure,
    }));
    let failed = results.iter().filter(|r| r.is_err()).count();
    let projects: usize = results
        .iter()
        .flatten()
        .map(|(a, _)| a.projects.len())
        .sum();
    let compliant: usize = results.iter().flatten().map(|(a, _)| a.compliant).sum();
    let summary = format!(
        "Estate: {}, {projects} projects, {compliant} compliant, {failed} failed.",
        crate::render::estate::manifests(files.len())
    );
    shell.print(&match args.format {
        AuditFormat::Text => estate::text(
            &files
                .iter()
                .zip(&results)
                .map(|(file, result)| Section {
                    manifest: file.clone(),
                    target: result.as_ref().ok().map(|(_, t)| t.endpoint.clone()),
                    body: match result {
                        Ok((audit, _)) => render::audit::text(audit),
                        Err(error) => format!("error: {error}\n"),
                    },
                })
                .collect::<Vec<_>>(),
            &summary,
        ),
        AuditFormat::Json => estate::json(
            "audit",
            files
                .iter()
                .zip(&results)
                .map(|(file, result)| {
                    let entry = match result {
                        Ok((audit, _)) => Entry::Done(render::audit::json_value(audit)),
                        Err(error) => Entry::Failed {
                            error: error.clone(),
                            result: None,
                        },
                    };
                    (file.clone(), entry)
                }),
            json!({"manifests": files.len(), "failed": failed, "projects": projects, "compliant": compliant}),
        ),
        AuditFormat::Csv => {
            let mut out = String::from("manifest,name,id,managed,rule,message\r\n");
            for (file, result) in files.iter().zip(&results) {
                if let Ok((audit, _)) = result {
                    out.push_str(&render::audit::csv_rows(audit, Some(file)));
                }
            }
            out
        }
        AuditFormat::Markdown => estate::markdown(
            "tagrec audit",
            &summary,
            &files
                .iter()
                .zip(&results)
                .map(|(file, result)| match result {
                    Ok((audit, target)) => MarkdownSection {
                        manifest: file.clone(),
                        target: Some(target.endpoint.clone()),
                        headline: format!(
                            "Compliance: {} of {} projects.",
                            audit.compliant,
                            audit.projects.len()
                        ),
                        body: (audit.compliant < audit.projects.len()
                            || !audit.conflicts.is_empty())
                        .then(|| render::audit::markdown_table(audit)),
                    },
                    Err(error) => MarkdownSection {
                        manifest: file.clone(),
                        target: None,
                        headline: "**failed**".to_string(),
                        body: Some(format!("```\n{error}\n```")),
                    },
                })
                .collect::<Vec<_>>(),
            render::plan::MARKDOWN_LIMIT,
        ),
    });
    // The text report says each failure in its section; beside the other forms, stderr does.
    if failed > 0 && args.format != AuditFormat::Text {
        for (file, result) in files.iter().zip(&results) {
            if let Err(error) = result {
                shell.error(super::about(file, error));
            }
        }
    }
    Ok(exit)
}

fn exit_of(audit: &Audit) -> Exit {
    if audit.compliant == audit.projects.len() {
        Exit::Success
    } else {
        Exit::Changes
    }
}
