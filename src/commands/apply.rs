use crate::cli::{ApplyArgs, GlobalArgs};
use crate::shell::{Exit, Shell};

// TODO(skeleton): replaced by the issue that builds `apply`.
pub async fn run(_shell: &Shell, _global: &GlobalArgs, _args: ApplyArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tagrec apply` is not built yet")
}
