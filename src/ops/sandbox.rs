//! The emulator as a user runs it: served over HTTP, or a manifest's embedded state reset to its
//! seed.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};

use crate::manifest::Manifest;
use crate::sandbox::server::{self, ServeOptions};

/// Deletes the state of the manifest's embedded sandbox, so the next plan starts from the seed.
/// Returns the state file and whether it existed.
pub fn reset(manifest: &Manifest) -> anyhow::Result<(PathBuf, bool)> {
    let Some(sandbox) = &manifest.target.sandbox else {
        bail!(
            "{} has no `target.sandbox`: there is no sandbox state to reset (tagrec never deletes anything in a real account)",
            manifest.file.display()
        );
    };
    let existed = crate::sandbox::reset(&sandbox.state)
        .with_context(|| format!("could not reset {}", sandbox.state.display()))?;
    Ok((sandbox.state.clone(), existed))
}

/// Checks the fault settings, then serves until Ctrl-C or SIGTERM; `ready` hears the address
/// once the server listens.
pub fn serve(options: ServeOptions, ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let faults = &options.faults;
    for (flag, rate) in [
        ("--fail-rate", faults.fail_rate),
        ("--drop-after-commit-rate", faults.drop_after_commit_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            bail!("{flag} is a probability from 0 to 1, not {rate}");
        }
    }
    if let Some(rate) = faults.rate_limit
        && !(rate.is_finite() && rate > 0.0)
    {
        bail!("--rate-limit is a number of requests per second above 0, not {rate}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(server::serve(options, ready))?;
    Ok(())
}
