use crate::cli::{GlobalArgs, PlanArgs};
use crate::shell::{Exit, Shell};

// TODO(skeleton): replaced by the issue that builds `plan`.
pub async fn run(_shell: &Shell, _global: &GlobalArgs, _args: PlanArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tagrec plan` is not built yet")
}
