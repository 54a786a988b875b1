//! `tagrec costs --by KEY`: the spend on Amazon Bedrock by tag value, matched to the declared
//! projects, with the untagged share explained.

use crate::api::cost_explorer::Granularity;
use crate::cli::{CostsArgs, CostsFormat, CostsGranularity};
use crate::ops;
use crate::ops::billing::BillingOptions;
use crate::ops::costs::CostsOptions;
use crate::render;
use crate::shell::{Exit, Shell};

pub async fn run(shell: &Shell, args: CostsArgs) -> anyhow::Result<Exit> {
    let Some(manifests) = super::load_all(shell, &args.manifests)? else {
        return Ok(Exit::Failure);
    };
    let options = CostsOptions {
        by: args.by,
        since: args.since,
        until: args.until,
        granularity: args.granularity.map(|g| match g {
            CostsGranularity::Daily => Granularity::Daily,
            CostsGranularity::Monthly => Granularity::Monthly,
        }),
        services: args.services,
    };
    let today = time::OffsetDateTime::now_utc().date();
    // The period is checked before anything is asked of Cost Explorer (each request costs).
    ops::costs::period(options.since.as_deref(), options.until.as_deref(), today)?;
    ops::costs::check_key(&manifests, &options.by)?;
    let payer = ops::billing::connect(
        &manifests,
        &BillingOptions {
            endpoint: args.payer.billing_endpoint,
            profile: args.payer.profile,
            region: args.payer.region,
        },
        &|name| std::env::var(name).ok(),
    )
    .await?;
    let costs = ops::costs::costs(&manifests, &payer.ce, &options, today).await?;
    shell.print(&match args.format {
        CostsFormat::Text => render::costs::text(&costs),
        CostsFormat::Json => render::costs::json(&costs),
        CostsFormat::Csv => render::costs::csv(&costs),
        CostsFormat::Markdown => render::costs::markdown(&costs),
    });
    Ok(Exit::Success)
}
