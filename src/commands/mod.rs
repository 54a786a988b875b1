//! One file per command: each turns flags into options, calls the core, and renders the result.
//! `run` is where an error becomes exit code 1, once.

mod apply;
mod audit;
mod import;
mod plan;
mod sandbox;
mod validate;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::shell::{Exit, Shell, Verbosity};

pub fn run(cli: Cli) -> i32 {
    let verbosity = if cli.global.quiet {
        Verbosity::Quiet
    } else if cli.global.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let shell = Shell::new(cli.global.color, verbosity);
    let result = match cli.command {
        Command::Validate(args) => validate::run(&shell, &cli.global, args),
        Command::Plan(args) => block_on(plan::run(&shell, &cli.global, args)),
        Command::Apply(args) => block_on(apply::run(&shell, &cli.global, args)),
        Command::Audit(args) => block_on(audit::run(&shell, &cli.global, args)),
        Command::Import(args) => block_on(import::run(&shell, &cli.global, args)),
        Command::Sandbox(cmd) => sandbox::run(&shell, &cli.global, cmd),
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
            shell.error(format!("{error:#}"));
            Exit::Failure.code()
        }
    }
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
