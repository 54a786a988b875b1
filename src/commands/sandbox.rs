//! `tagrec sandbox serve` (the emulator over HTTP) and `tagrec sandbox reset`.

use std::time::Duration;

use anyhow::Context;

use crate::cli::{GlobalArgs, SandboxCommand, ServeArgs};
use crate::sandbox::faults::FaultSettings;
use crate::sandbox::server::{self, Credentials, ServeOptions};
use crate::sandbox::sigv4::SigV4Key;
use crate::shell::{Exit, Shell};

pub fn run(shell: &Shell, _global: &GlobalArgs, cmd: SandboxCommand) -> anyhow::Result<Exit> {
    match cmd {
        SandboxCommand::Serve(args) => serve(shell, *args),
        // Needs the manifest loader (target.sandbox.state, relative to the manifest), which is
        // another issue's; `crate::sandbox::reset(state)` does the deleting once it is wired.
        SandboxCommand::Reset => anyhow::bail!(
            "`tagrec sandbox reset` needs the manifest loader, which is not merged yet; delete the state file named by `target.sandbox.state` (and its `.lock`) by hand meanwhile"
        ),
    }
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
