use crate::cli::{GlobalArgs, ValidateArgs};
use crate::shell::{Exit, Shell};

// TODO(skeleton): replaced by the issue that builds `validate`.
pub fn run(_shell: &Shell, _global: &GlobalArgs, _args: ValidateArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("`tagrec validate` is not built yet")
}
