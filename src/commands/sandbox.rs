//! `tagrec sandbox serve` (the emulator over HTTP) and `tagrec sandbox reset`.

use std::time::Duration;

use crate::cli::{SandboxCommand, ServeArgs};
use crate::ops;
use crate::sandbox::faults::FaultSettings;
use crate::sandbox::server::{Credentials, ServeOptions};
use crate::sandbox::sigv4::SigV4Key;
use crate::shell::{Exit, Shell};

pub fn run(shell: &Shell, cmd: SandboxCommand) -> anyhow::Result<Exit> {
    match cmd {
        SandboxCommand::Serve(args) => {
            let out = shell.clone();
            ops::sandbox::serve(options(*args)?, move |addr| {
                // The first stdout lines are a contract: tests and scripts read the address from
                // them.
                out.print(&format!(
                    "listening on http://{addr}/v1\ncost explorer on http://{addr}/\n"
                ));
            })?;
            Ok(Exit::Success)
        }
        SandboxCommand::Reset(manifest) => {
            let Some(loaded) = super::load(shell, &manifest.manifest) else {
                return Ok(Exit::Failure);
            };
            let (state, existed) = ops::sandbox::reset(&loaded.manifest)?;
            shell.status(if existed {
                format!(
                    "Deleted {}: the sandbox starts again from its seed.",
                    state.display()
                )
            } else {
                format!(
                    "{} does not exist: the sandbox is already at its seed.",
                    state.display()
                )
            });
            Ok(Exit::Success)
        }
    }
}

fn options(args: ServeArgs) -> anyhow::Result<ServeOptions> {
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
        sts_duration: Duration::from_secs(args.sts_duration),
        costs: args.costs,
        ce_page_size: args.ce_page_size.map(|n| n as usize),
        active_cost_tags: args
            .active_cost_tags
            .into_iter()
            .map(|key| key.trim().to_string())
            .filter(|key| !key.is_empty())
            .collect(),
        linked_account: args.linked_account,
    })
}
