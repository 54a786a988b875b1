use crate::cli::{AuditArgs, GlobalArgs};
use crate::shell::{Exit, Shell};

// TODO(skeleton): replaced by the issue that builds `audit`.
pub async fn run(_shell: &Shell, _global: &GlobalArgs, _args: AuditArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tagrec audit` is not built yet")
}
