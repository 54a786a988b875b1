//! One file per command: each turns flags into options, calls one `ops` function, and renders
//! what it returns through the `Shell`. `run` is where an error becomes exit code 1, once.

mod apply;
mod audit;
mod billing;
mod costs;
mod import;
mod init;
mod manifests;
mod output;
mod plan;
mod sandbox;
mod validate;

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, Command, ManifestsArgs, TargetArgs};
use crate::ops::connect::ConnectOptions;
use crate::ops::estate::{self, Manifests};
use crate::ops::validate::Loaded;
use crate::render;
use crate::shell::{Exit, Shell, Verbosity};

pub fn run(cli: Cli) -> i32 {
    let verbosity = if cli.global.quiet {
        Verbosity::Quiet
    } else if cli.global.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let shell = Shell::new(cli.global.color.into(), verbosity);
    shell.install_log();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&shell, args),
        Command::Plan(args) => block_on(plan::run(&shell, args)),
        Command::Apply(args) => block_on(apply::run(&shell, args)),
        Command::Audit(args) => block_on(audit::run(&shell, args)),
        Command::Import(args) => block_on(import::run(&shell, args)),
        Command::Init => init::run(&shell),
        Command::Sandbox(cmd) => sandbox::run(&shell, cmd),
        Command::Output(args) => block_on(output::run(&shell, args)),
        Command::Billing(command) => block_on(billing::run(&shell, command)),
        Command::Costs(args) => block_on(costs::run(&shell, args)),
        Command::Manifests(args) => manifests::run(&shell, args),
        Command::Schema => {
            shell.print(&crate::manifest::schema::manifest_schema_text());
            Ok(Exit::Success)
        }
        Command::Completions { shell: target } => {
            let mut out = Vec::new();
            clap_complete::generate(target, &mut Cli::command(), "tagrec", &mut out);
            shell.print(&String::from_utf8_lossy(&out));
            Ok(Exit::Success)
        }
    };
    match result {
        Ok(exit) => exit.code(),
        Err(error) => {
            shell.error(sentence(&error));
            Exit::Failure.code()
        }
    }
}

/// A manifest's problems as plain text, for a manifest of an estate that did not load.
fn problems(checked: &crate::ops::validate::Checked) -> String {
    let count = checked.error_count();
    let mut text = format!(
        "{count} problem{} in the manifest:\n",
        if count == 1 { "" } else { "s" }
    );
    text.push_str(&render::diagnostics::text(
        &checked.diagnostics,
        &checked.sources,
        false,
    ));
    text.trim_end().to_string()
}

/// `--endpoint` names one account: with several manifests it would point all of them there.
fn no_endpoint_for_an_estate(connect: &ConnectOptions) -> anyhow::Result<()> {
    if connect.endpoint.is_some() {
        anyhow::bail!(
            "--endpoint (or TAGREC_ENDPOINT) names one account, but several manifests were given: set each manifest's `target` instead, or run them one at a time"
        );
    }
    Ok(())
}

/// `ops::estate::check_overrides` for a loaded manifest of an estate.
fn check_estate_overrides(loaded: &Loaded, connect: &ConnectOptions) -> Result<(), String> {
    crate::ops::estate::check_overrides(
        &loaded.manifest.target,
        &loaded.manifest.file,
        connect.region.as_deref(),
        connect.profile.as_deref(),
    )
}

/// The account a planned manifest of an estate reaches.
fn account_of(loaded: &Loaded, plan: &crate::plan::Plan, connect: &ConnectOptions) -> String {
    crate::ops::estate::account_of(
        &plan.target.endpoint,
        &loaded.manifest.target,
        connect.profile.as_deref(),
    )
}

/// `FILE: error`, for a manifest's error among others', unless the error names the file already.
fn about(file: &str, error: &str) -> String {
    if error.contains(file) {
        error.to_string()
    } else {
        format!("{file}: {error}")
    }
}

/// An error and its causes on one line, each after a colon, as `{:#}` prints them, except that a
/// cause already said (by a wrapper whose message includes its source) is not said again.
fn sentence(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// The commands that talk to the API run on one multi-threaded runtime.
fn block_on<F: std::future::Future<Output = anyhow::Result<Exit>>>(
    future: F,
) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(future)
}

/// The manifest and its policy, or `None` after printing why not (with file:line:column).
fn load(shell: &Shell, path: &Path) -> Option<Loaded> {
    match crate::ops::validate::load(path) {
        Ok(loaded) => Some(loaded),
        Err(checked) => {
            shell.eprint(&render::diagnostics::text(
                &checked.diagnostics,
                &checked.sources,
                shell.stderr_colored(),
            ));
            None
        }
    }
}

/// One manifest of an estate, loaded on the blocking pool: reading and checking a large manifest
/// is CPU work that would otherwise hold up the other manifests' requests. As many load at once
/// as there are cores (more would not be faster, and each holds its YAML tree). Its problems as
/// text.
async fn load_in_estate(file: std::path::PathBuf) -> Result<Loaded, String> {
    static LOADING: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let loading = LOADING.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from))
    });
    let _turn = loading
        .acquire()
        .await
        .map_err(|e| format!("loading the manifest stopped: {e}"))?;
    tokio::task::spawn_blocking(move || crate::ops::validate::load(&file).map_err(|c| problems(&c)))
        .await
        .map_err(|e| format!("loading the manifest stopped: {e}"))?
}

/// Every manifest `-f` selects, loaded; `None` after printing the problems of those that do not
/// load (a command over the union of them cannot go on without all).
fn load_all(shell: &Shell, args: &ManifestsArgs) -> anyhow::Result<Option<Vec<Loaded>>> {
    let selected = select(shell, args)?;
    let mut loaded = Vec::with_capacity(selected.files.len());
    let mut failed = false;
    for file in &selected.files {
        match load(shell, file) {
            Some(manifest) => loaded.push(manifest),
            None => failed = true,
        }
    }
    Ok((!failed).then_some(loaded))
}

/// Asks on the terminal before a change that cannot be taken back; without a terminal and
/// without `--auto-approve`, refuses rather than guess.
fn ask(shell: &Shell, question: &str, auto_approve: bool) -> anyhow::Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !shell.stdin_is_terminal() {
        shell.error(
            "no terminal to ask for confirmation: run with --auto-approve. Nothing was changed.",
        );
        return Ok(false);
    }
    let yes = shell.confirm(question)?;
    if !yes {
        shell.status("Cancelled. Nothing was changed.");
    }
    Ok(yes)
}

/// The manifests `-f` names (globs expanded), narrowed by `--changed-since`.
fn select(shell: &Shell, args: &ManifestsArgs) -> anyhow::Result<Manifests> {
    let mut selected = estate::resolve(&args.manifests)?;
    if let Some(reference) = &args.changed_since {
        let (files, deleted) = estate::changes_since(&selected.files, &args.manifests, reference)?;
        for file in deleted {
            shell.warn(format!(
                "{} was deleted since {reference}: no run looks at its account any more, and its projects stay as they are (archive them first, or keep the manifest with `prune: true` and no projects)",
                file.display()
            ));
        }
        selected.files = files;
        selected.estate = true;
    }
    Ok(selected)
}

fn connect_options(target: &TargetArgs) -> ConnectOptions {
    ConnectOptions {
        endpoint: target.endpoint.clone(),
        region: target.region.clone(),
        auth: target.auth.into(),
        profile: target.profile.clone(),
    }
}

/// Each problem of a plan on its own line, with the place of the project it concerns.
fn report_plan_errors(shell: &Shell, errors: &[crate::plan::PlanError]) {
    for line in plan_error_lines(errors) {
        shell.error(line);
    }
}

/// A plan's problems as lines: `place: problem`, or the problem alone when it has no place.
fn plan_error_lines(errors: &[crate::plan::PlanError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| match e.place() {
            Some(place) => format!("{place}: {e}"),
            None => e.to_string(),
        })
        .collect()
}
