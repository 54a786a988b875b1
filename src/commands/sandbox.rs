use crate::cli::{GlobalArgs, SandboxCommand};
use crate::shell::{Exit, Shell};

// TODO(skeleton): replaced by the sandbox issue.
pub fn run(_shell: &Shell, _global: &GlobalArgs, _cmd: SandboxCommand) -> anyhow::Result<Exit> {
    anyhow::bail!("`tagrec sandbox` is not built yet")
}
