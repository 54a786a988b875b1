use crate::cli::{GlobalArgs, ImportArgs};
use crate::shell::{Exit, Shell};

// TODO(skeleton): replaced by the issue that builds `import`.
pub async fn run(_shell: &Shell, _global: &GlobalArgs, _args: ImportArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tagrec import` is not built yet")
}
