//! `tagrec billing status|activate|backfill`: the manifests' tag keys as cost allocation tags, in
//! the payer account's Billing.

use crate::cli::{BillingCommand, BillingFormat, PayerArgs};
use crate::ops;
use crate::ops::billing::BillingOptions;
use crate::render;
use crate::render::billing::KeyState;
use crate::shell::{Exit, Shell};

pub async fn run(shell: &Shell, command: BillingCommand) -> anyhow::Result<Exit> {
    match command {
        BillingCommand::Status(args) => {
            let Some(manifests) = super::load_all(shell, &args.manifests)? else {
                return Ok(Exit::Failure);
            };
            let payer = connect(&manifests, &args.payer).await?;
            let ce = &payer.ce;
            let keys = ops::billing::status(ce, &ops::billing::keys_of(&manifests)).await?;
            shell.print(&match args.format {
                BillingFormat::Text => render::billing::status_text(&keys),
                BillingFormat::Json => render::billing::status_json(&keys),
            });
            let all_active = keys.iter().all(|k| k.status == KeyState::Active);
            Ok(if args.detailed_exitcode && !all_active {
                Exit::Changes
            } else {
                Exit::Success
            })
        }
        BillingCommand::Activate(args) => {
            let Some(manifests) = super::load_all(shell, &args.manifests)? else {
                return Ok(Exit::Failure);
            };
            let payer = connect(&manifests, &args.payer).await?;
            let ce = &payer.ce;
            let keys = ops::billing::status(ce, &ops::billing::keys_of(&manifests)).await?;
            let to_activate: Vec<_> = keys
                .iter()
                .filter(|k| k.status != KeyState::Active)
                .collect();
            let active = keys.len() - to_activate.len();
            shell.print(&render::billing::activation_preview(&to_activate, active));
            if to_activate.is_empty() {
                return Ok(Exit::Success);
            }
            if !super::ask(
                shell,
                "Activate these cost allocation tags?",
                args.auto_approve,
            )? {
                return Ok(Exit::Failure);
            }
            let activation = ops::billing::activate(ce, &keys).await?;
            shell.print(&render::billing::activation_text(&activation));
            Ok(if activation.failed.is_empty() {
                Exit::Success
            } else {
                Exit::Failure
            })
        }
        BillingCommand::Backfill(args) => {
            let Some(manifests) = super::load_all(shell, &args.manifests)? else {
                return Ok(Exit::Failure);
            };
            let today = time::OffsetDateTime::now_utc().date();
            let from = ops::billing::backfill_from(&args.from, today)?;
            let payer = connect(&manifests, &args.payer).await?;
            let ce = &payer.ce;
            shell.print(&format!(
                "tagrec billing will ask Billing to apply today's cost allocation tag status to the months from {}.\n",
                &from[..7]
            ));
            if !super::ask(shell, "Request this backfill?", args.auto_approve)? {
                return Ok(Exit::Failure);
            }
            let (requested, history) = ops::billing::backfill(ce, &from).await?;
            shell.print(&render::billing::backfill_text(
                requested.as_ref(),
                &history,
            ));
            Ok(Exit::Success)
        }
    }
}

async fn connect(
    manifests: &[crate::ops::validate::Loaded],
    payer: &PayerArgs,
) -> anyhow::Result<ops::billing::Payer> {
    ops::billing::connect(
        manifests,
        &BillingOptions {
            endpoint: payer.billing_endpoint.clone(),
            profile: payer.profile.clone(),
            region: payer.region.clone(),
        },
        &|name| std::env::var(name).ok(),
    )
    .await
}
