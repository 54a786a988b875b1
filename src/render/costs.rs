//! Printers of `tagrec costs`: the spend by tag value, with what no declared project carries
//! flagged, the untagged share explained, and the request count. Amounts are exact decimals:
//! JSON and CSV print them unrounded, text and markdown round to cents.

use std::fmt::Write;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value as Json, json};

use crate::render::{csv_field, markdown_prose, markdown_text, pad, width};

use super::billing::KeyState;

#[derive(Debug, Clone, PartialEq)]
pub struct Costs {
    pub by: String,
    /// Inclusive start and exclusive end, `YYYY-MM-DD`.
    pub start: String,
    pub end: String,
    pub currency: String,
    pub total: Decimal,
    /// Spend with no value for the key (`KEY$`).
    pub untagged: Decimal,
    pub key_status: KeyState,
    /// Every Cost Explorer request made (each costs $0.01).
    pub requests: usize,
    /// Tagged values, largest first.
    pub groups: Vec<CostGroup>,
    pub declared_without_spend: Vec<String>,
    /// Declared projects that do not carry the key: part of the untagged spend may be theirs.
    pub projects_without_key: Vec<String>,
    /// The services whose spend it is (`Amazon Bedrock`, or `--service`'s).
    pub services: Vec<String>,
    /// Whether `--granularity` was asked (then each group has its series).
    pub series: bool,
}

/// `Amazon Bedrock`, or `A and B`, or `A, B and C`.
fn services(costs: &Costs) -> String {
    match costs.services.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CostGroup {
    pub value: String,
    pub amount: Decimal,
    pub share: f64,
    /// Declared projects carrying this value.
    pub projects: Vec<String>,
    pub declared: bool,
    /// (period start, amount), in order.
    pub series: Vec<(String, Decimal)>,
}

fn cents(amount: Decimal) -> String {
    format!(
        "{:.2}",
        amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

fn share(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn untagged_share(costs: &Costs) -> f64 {
    if costs.total.is_zero() {
        0.0
    } else {
        ratio(costs.untagged, costs.total)
    }
}

/// `part / whole` as a float, for shares only (never summed again).
pub fn ratio(part: Decimal, whole: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    if whole.is_zero() {
        return 0.0;
    }
    (part / whole).to_f64().unwrap_or(0.0)
}

/// Why spend has no value for the key: Cost Explorer has no project dimension, so tagrec names
/// the causes rather than split the amount.
pub fn untagged_causes(costs: &Costs) -> Vec<String> {
    let mut causes = Vec::new();
    match costs.key_status {
        KeyState::Active => {}
        KeyState::Inactive => causes.push(format!(
            "`{}` is inactive as a cost allocation tag, so Cost Explorer groups none of the spend by it: run `tagrec billing activate`",
            costs.by
        )),
        KeyState::NotSeen => causes.push(format!(
            "Billing has not seen `{}` on a billed resource yet, so Cost Explorer groups none of the spend by it: see `tagrec billing status`",
            costs.by
        )),
    }
    causes.push(
        "the `default` project: every inference request sent without a project id (`project=` in the OpenAI SDK; `tagrec output` gives the ids)".to_string(),
    );
    if !costs.projects_without_key.is_empty() {
        causes.push(format!(
            "declared projects without `{}`: {}",
            costs.by,
            costs.projects_without_key.join(", ")
        ));
    }
    causes.push(format!(
        "projects these manifests do not manage, or whose live tags lack `{}` until they are applied (`tagrec plan` shows both)",
        costs.by
    ));
    causes
}

pub fn text(costs: &Costs) -> String {
    const BAR: usize = 30;
    let mut out = format!(
        "Spend on {} by {}, {} to {} (exclusive), {}:\n\n",
        services(costs),
        costs.by,
        costs.start,
        costs.end,
        costs.currency
    );
    let untagged_label = format!("(no {})", costs.by);
    let label_width = costs
        .groups
        .iter()
        .map(|g| width(&g.value))
        .chain([width(&untagged_label), 5])
        .max()
        .unwrap_or(5);
    let largest = costs
        .groups
        .iter()
        .map(|g| g.amount)
        .chain([costs.untagged])
        .max()
        .unwrap_or_default();
    let amount_width = costs
        .groups
        .iter()
        .map(|g| cents(g.amount).len())
        .chain([cents(costs.untagged).len(), cents(costs.total).len()])
        .max()
        .unwrap_or(4);
    let bar = |amount: Decimal| {
        let cells = (ratio(amount, largest) * BAR as f64).round() as usize;
        let cells = if cells == 0 && amount > Decimal::ZERO {
            1
        } else {
            cells
        };
        format!("{:BAR$}", "#".repeat(cells))
    };
    for g in &costs.groups {
        let note = if g.declared {
            g.projects.join(", ")
        } else {
            "! no declared project carries this value (a typo, or an unmanaged project)".to_string()
        };
        let _ = writeln!(
            out,
            "  {}  {:>amount_width$}  {}  {:>6}  {note}",
            pad(&g.value, label_width),
            cents(g.amount),
            bar(g.amount),
            share(g.share)
        );
    }
    let _ = writeln!(
        out,
        "  {}  {:>amount_width$}  {}  {:>6}  untagged",
        pad(&untagged_label, label_width),
        cents(costs.untagged),
        bar(costs.untagged),
        share(untagged_share(costs))
    );
    let _ = writeln!(
        out,
        "  {}  {:>amount_width$}",
        pad("Total", label_width),
        cents(costs.total)
    );
    if !costs.untagged.is_zero() || costs.key_status != KeyState::Active {
        let _ = writeln!(
            out,
            "\nUntagged spend ({} {}) comes from:",
            cents(costs.untagged),
            costs.currency
        );
        for cause in untagged_causes(costs) {
            let _ = writeln!(out, "  - {cause}");
        }
    }
    if !costs.declared_without_spend.is_empty() {
        let _ = writeln!(
            out,
            "\nDeclared values without spend: {}",
            costs.declared_without_spend.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\n{} Cost Explorer request{} ($0.01 each).",
        costs.requests,
        if costs.requests == 1 { "" } else { "s" }
    );
    out
}

pub fn json(costs: &Costs) -> String {
    let groups: Vec<Json> = costs
        .groups
        .iter()
        .map(|g| {
            let mut group = json!({
                "value": g.value,
                "amount": g.amount.to_string(),
                "share": g.share,
                "projects": g.projects,
                "declared": g.declared,
            });
            if costs.series {
                group["series"] = g
                    .series
                    .iter()
                    .map(|(start, amount)| json!({"start": start, "amount": amount.to_string()}))
                    .collect();
            }
            group
        })
        .collect();
    let value = json!({
        "format_version": "1",
        "by": costs.by,
        "period": {"start": costs.start, "end": costs.end},
        "currency": costs.currency,
        "total": costs.total.to_string(),
        "untagged": costs.untagged.to_string(),
        "key_status": costs.key_status.as_str(),
        "requests": costs.requests,
        "groups": groups,
        "declared_without_spend": costs.declared_without_spend,
    });
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}

/// `value,amount,share,projects,declared`, RFC 4180; the untagged spend last, with an empty value.
pub fn csv(costs: &Costs) -> String {
    let mut out = String::from("value,amount,share,projects,declared\r\n");
    for g in &costs.groups {
        let _ = write!(
            out,
            "{},{},{},{},{}\r\n",
            csv_field(&g.value),
            g.amount,
            g.share,
            csv_field(&g.projects.join(";")),
            g.declared
        );
    }
    let _ = write!(out, ",{},{},,\r\n", costs.untagged, untagged_share(costs));
    out
}

/// A table and a mermaid `xychart-beta` bar chart, for a job summary or a pull request.
pub fn markdown(costs: &Costs) -> String {
    let mut out = format!(
        "### {} spend by `{}`\n\n{} to {} (exclusive), {} {} in all, {} untagged.\n\n",
        markdown_text(&services(costs)),
        costs.by.replace('`', "'"),
        costs.start,
        costs.end,
        cents(costs.total),
        costs.currency,
        cents(costs.untagged)
    );
    out.push_str("| Value | Amount | Share | Projects |\n|---|---:|---:|---|\n");
    for g in &costs.groups {
        let projects = if g.declared {
            markdown_text(&g.projects.join(", "))
        } else {
            "⚠️ no declared project".to_string()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {projects} |",
            markdown_text(&g.value),
            cents(g.amount),
            share(g.share)
        );
    }
    let _ = writeln!(
        out,
        "| _untagged_ | {} | {} | |",
        cents(costs.untagged),
        share(untagged_share(costs))
    );
    // Mermaid's labels are quoted strings: a quote in a tag value would end one.
    let label = |s: &str| s.replace('"', "'");
    let mut labels: Vec<String> = costs.groups.iter().map(|g| label(&g.value)).collect();
    let mut amounts: Vec<String> = costs.groups.iter().map(|g| cents(g.amount)).collect();
    labels.push("untagged".to_string());
    amounts.push(cents(costs.untagged));
    let _ = write!(
        out,
        "\n```mermaid\nxychart-beta\n    title \"Spend by {} ({})\"\n    x-axis [{}]\n    y-axis \"{}\"\n    bar [{}]\n```\n",
        label(&costs.by),
        costs.currency,
        labels
            .iter()
            .map(|l| format!("\"{l}\""))
            .collect::<Vec<_>>()
            .join(", "),
        costs.currency,
        amounts.join(", ")
    );
    if !costs.untagged.is_zero() || costs.key_status != KeyState::Active {
        out.push_str("\n**Untagged spend comes from:**\n\n");
        for cause in untagged_causes(costs) {
            let _ = writeln!(out, "- {}", markdown_prose(&cause));
        }
    }
    if !costs.declared_without_spend.is_empty() {
        let _ = writeln!(
            out,
            "\nDeclared values without spend: {}",
            markdown_text(&costs.declared_without_spend.join(", "))
        );
    }
    let _ = writeln!(
        out,
        "\n_{} Cost Explorer request{}, $0.01 each._",
        costs.requests,
        if costs.requests == 1 { "" } else { "s" }
    );
    out
}
