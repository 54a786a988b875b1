//! `tagrec sandbox serve` (the emulator over HTTP) and `tagrec sandbox reset`.

use std::time::Duration;

use anyhow::Context;

use crate::cli::{GlobalArgs, SandboxCommand, ServeArgs};
use crate::sandbox::faults::FaultSettings;
use crate::sandbox::server::{self, Credentials, ServeOptions};
use crate::sandbox::sigv4::SigV4Key;
use crate::shell::{Exit, Shell};

pub fn run(shell: &Shell, global: &GlobalArgs, cmd: SandboxCommand) -> anyhow::Result<Exit> {
    match cmd {
        SandboxCommand::Serve(args) => serve(shell, *args),
        SandboxCommand::Reset => reset(shell, global),
    }
}

/// Deletes the state of the manifest's embedded sandbox, so the next plan starts from the seed.
fn reset(shell: &Shell, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let Some((manifest, _)) = super::plan::load_manifest(shell, &global.manifest) else {
        return Ok(Exit::Failure);
    };
    let Some(sandbox) = &manifest.target.sandbox else {
        anyhow::bail!(
            "{} has no `target.sandbox`: there is no sandbox state to reset (tagrec never deletes anything in a real account)",
            manifest.file.display()
        );
    };
    let existed = crate::sandbox::embedded::reset(&sandbox.state)
        .with_context(|| format!("could not reset {}", sandbox.state.display()))?;
    shell.status(if existed {
        format!(
            "Deleted {}: the sandbox starts again from its seed.",
            sandbox.state.display()
        )
    } else {
        format!(
            "{} does not exist: the sandbox is already at its seed.",
            sandbox.state.display()
        )
    });
    Ok(Exit::Success)
}

fn serve(shell: &Shell, args: ServeArgs) -> anyhow::Result<Exit> {
    let options = options(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let log = shell.clone();
    runtime.block_on(server::serve(options, move |addr| {
        // The first stdout line is a contract: tests and scripts read the address from it.
        log.print(&format!("listening on http://{addr}/v1\n"));
    }))?;
    Ok(Exit::Success)
}

fn options(args: ServeArgs) -> anyhow::Result<ServeOptions> {
    for (flag, rate) in [
        ("--fail-rate", args.fail_rate),
        ("--drop-after-commit-rate", args.drop_after_commit_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            anyhow::bail!("{flag} is a probability from 0 to 1, not {rate}");
        }
    }
    if let Some(rate) = args.rate_limit
        && !(rate.is_finite() && rate > 0.0)
    {
        anyhow::bail!("--rate-limit is a number of requests per second above 0, not {rate}");
    }
    let sigv4 = args
        .sigv4
        .as_deref()
        .map(SigV4Key::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    Ok(ServeOptions {
        listen: args.listen,
        state: args.state,
        seed: args.seed,
        region: args.region,
        account_id: args.account_id,
        credentials: Credentials {
            api_key: args.api_key,
            read_only_api_key: args.read_only_api_key,
            sigv4,
        },
        faults: FaultSettings {
            latency: Duration::from_millis(args.latency_ms),
            fail_rate: args.fail_rate,
            rate_limit: args.rate_limit,
            drop_after_commit_rate: args.drop_after_commit_rate,
            seed: args.fault_seed,
        },
        list_lag: Duration::from_millis(args.list_lag_ms),
        request_log: args.request_log,
    })
}
