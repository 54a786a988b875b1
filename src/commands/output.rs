//! `tagrec output`: the declared projects' live ids, as JSON, as `OPENAI_PROJECT_ID` and
//! `OPENAI_BASE_URL` for one project, or as a dotenv of all.

use anyhow::bail;
use serde_json::json;

use crate::cli::{OutputArgs, OutputFormat};
use crate::ops;
use crate::render;
use crate::render::estate::{self, Entry};
use crate::render::output::Output;
use crate::shell::{Exit, Shell};

pub async fn run(shell: &Shell, args: OutputArgs) -> anyhow::Result<Exit> {
    match (args.format, &args.project) {
        (OutputFormat::Env, None) => {
            bail!("--format env prints one project's id: name it with --project NAME (or its id)")
        }
        (OutputFormat::Json | OutputFormat::Dotenv, Some(_)) => {
            bail!("--project goes with --format env; json and dotenv list every declared project")
        }
        _ => {}
    }
    let selected = super::select(shell, &args.manifests)?;
    let connect = super::connect_options(&args.target);
    if selected.estate {
        super::no_endpoint_for_an_estate(&connect)?;
    }
    let results = if selected.estate {
        ops::estate::for_each(&selected.files, args.manifests.jobs.into(), |file| {
            let connect = &connect;
            async move {
                let loaded = ops::validate::load(&file).map_err(|c| super::problems(&c))?;
                ops::output::output(&loaded, connect)
                    .await
                    .map_err(|e| super::sentence(&e))
            }
        })
        .await
    } else {
        let Some(file) = selected.files.first() else {
            return Ok(Exit::Success);
        };
        let Some(loaded) = super::load(shell, file) else {
            return Ok(Exit::Failure);
        };
        vec![
            ops::output::output(&loaded, &connect)
                .await
                .map_err(|e| super::sentence(&e)),
        ]
    };
    let files: Vec<String> = selected
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let failed: Vec<(&String, &String)> = files
        .iter()
        .zip(&results)
        .filter_map(|(file, r)| r.as_ref().err().map(|e| (file, e)))
        .collect();
    if selected.estate && args.format == OutputFormat::Json {
        let entries = files.iter().zip(&results).map(|(file, result)| {
            let entry = match result {
                Ok(output) => Entry::Done(render::output::json_value(output)),
                Err(error) => Entry::Failed {
                    error: error.clone(),
                    result: None,
                },
            };
            (file.clone(), entry)
        });
        shell.print(&estate::json(
            "output",
            entries,
            json!({"manifests": files.len(), "failed": failed.len()}),
        ));
        return Ok(if failed.is_empty() {
            Exit::Success
        } else {
            Exit::Failure
        });
    }
    // env and dotenv are for a program to read: all or nothing.
    if let Some((file, error)) = failed.first() {
        if selected.estate {
            bail!(super::about(file, error));
        }
        bail!("{error}");
    }
    let outputs: Vec<&Output> = results.iter().flatten().collect();
    shell.print(&match args.format {
        OutputFormat::Json => match outputs.first() {
            Some(output) => render::output::json(output),
            None => return Ok(Exit::Success),
        },
        OutputFormat::Dotenv => {
            let all: Vec<_> = outputs.iter().flat_map(|o| &o.projects).collect();
            render::output::dotenv(&all).map_err(anyhow::Error::msg)?
        }
        OutputFormat::Env => {
            let wanted = args.project.as_deref().unwrap_or_default();
            let found: Vec<_> = files
                .iter()
                .zip(&results)
                .filter_map(|(file, r)| r.as_ref().ok().map(|o| (file, o)))
                .filter_map(|(file, o)| ops::output::pick(o, wanted).ok().map(|p| (file, o, p)))
                .collect();
            match found.as_slice() {
                [(_, output, project)] => render::output::env(output, project),
                [] => {
                    // The first manifest's answer says why, with the nearest name.
                    let first = outputs.first().map(|o| ops::output::pick(o, wanted));
                    match first {
                        Some(Err(error)) => return Err(error),
                        _ => bail!("no declared project is named or has the id `{wanted}`"),
                    }
                }
                many => {
                    let places: Vec<String> = many
                        .iter()
                        .map(|(file, _, project)| format!("{file} ({})", project.id))
                        .collect();
                    bail!(
                        "{} manifests declare a project `{wanted}`: {}: name the one with -f",
                        many.len(),
                        places.join(", ")
                    )
                }
            }
        }
    });
    Ok(Exit::Success)
}
