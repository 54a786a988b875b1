//! The spend by tag: Cost Explorer's `GetCostAndUsage` grouped by one key, summed exactly, each
//! value matched to the declared projects that carry it, and the untagged share explained.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use anyhow::{Context as _, bail};
use rust_decimal::Decimal;
use time::Date;
use time::macros::format_description;

use crate::api::cost_explorer::{CostExplorer, CostQuery, Granularity, Period};
use crate::render::billing::KeyState;
use crate::render::costs::{CostGroup, Costs, ratio};

use super::billing;
use super::validate::Loaded;

/// The service Bedrock's own spend is billed under.
pub const BEDROCK: &str = "Amazon Bedrock";

#[derive(Debug, Clone)]
pub struct CostsOptions {
    pub by: String,
    pub since: Option<String>,
    pub until: Option<String>,
    /// `--granularity`: the periods asked of Cost Explorer and shown as each group's series.
    pub granularity: Option<Granularity>,
    /// `--service`: replaces `Amazon Bedrock` (e.g. a Marketplace model's own service name).
    pub services: Vec<String>,
}

/// `[since, until)`: `--since` defaults to the first day of this month (of the previous month on
/// a month's first day), `--until` to today (exclusive, as in Cost Explorer). UTC.
pub fn period(
    since: Option<&str>,
    until: Option<&str>,
    today: Date,
) -> anyhow::Result<(Date, Date)> {
    let parse = |flag: &str, text: &str| -> anyhow::Result<Date> {
        Date::parse(text, format_description!("[year]-[month]-[day]")).map_err(|_| {
            anyhow::anyhow!("{flag} {text} is not a date: give YYYY-MM-DD (e.g. {today})")
        })
    };
    let first_of_month = |date: Date| date.replace_day(1).unwrap_or(date);
    let default_since = if today.day() == 1 {
        first_of_month(today.previous_day().unwrap_or(today))
    } else {
        first_of_month(today)
    };
    let since = match since {
        Some(text) => parse("--since", text)?,
        None => default_since,
    };
    if since > today {
        bail!(
            "--since {since} is after today ({today}, UTC): Cost Explorer has no spend for it yet"
        );
    }
    let until = match until {
        Some(text) => parse("--until", text)?,
        None => today,
    };
    // Cost Explorer refuses an end past the beginning of next month.
    let next_month = first_of_month(today)
        .checked_add(time::Duration::days(31))
        .map_or(today, first_of_month);
    if until > next_month {
        bail!(
            "--until {until} is past the start of next month: Cost Explorer refuses that; give at most --until {next_month}"
        );
    }
    if since >= until {
        bail!(
            "the period is empty: --since {since} must come before --until {until} (the end is exclusive)"
        );
    }
    Ok((since, until))
}

/// The tag key asked for, checked against the manifests' keys before any request (each costs
/// $0.01): a key no declared project uses but one nearly spelt so is a typo (keys are
/// case-sensitive in Billing).
pub fn check_key(manifests: &[Loaded], by: &str) -> anyhow::Result<()> {
    if by.trim().is_empty() {
        bail!("--by needs a tag key, e.g. --by CostCenter");
    }
    let keys = billing::keys_of(manifests);
    if keys.iter().any(|k| k == by) {
        return Ok(());
    }
    let valid: Vec<&str> = keys.iter().map(String::as_str).collect();
    if let Some(near) = crate::manifest::load::nearest(by, &valid) {
        bail!(
            "--by {by}: no declared project carries that key: did you mean --by {near}? (tag keys are case-sensitive)"
        );
    }
    Ok(())
}

/// Asks Cost Explorer and makes the report. `manifests` give the declared projects and values.
pub async fn costs(
    manifests: &[Loaded],
    ce: &CostExplorer,
    options: &CostsOptions,
    today: Date,
) -> anyhow::Result<Costs> {
    let (start, end) = period(options.since.as_deref(), options.until.as_deref(), today)?;
    let key_status = billing::status(ce, std::slice::from_ref(&options.by))
        .await?
        .first()
        .map_or(KeyState::NotSeen, |k| k.status);
    let services = if options.services.is_empty() {
        vec![BEDROCK.to_string()]
    } else {
        options.services.clone()
    };
    let query = CostQuery {
        start: start.to_string(),
        end: end.to_string(),
        granularity: options.granularity.unwrap_or(Granularity::Monthly),
        services,
        key: options.by.clone(),
    };
    let periods = ce.cost_and_usage(&query).await?;
    let mut costs = sum(
        &options.by,
        &periods,
        declared_values(manifests, &options.by),
    )?;
    costs.start = query.start;
    costs.end = query.end;
    costs.key_status = key_status;
    // A key not active is not grouped at all: its declared values have spend all the same.
    if key_status != KeyState::Active {
        costs.declared_without_spend.clear();
    }
    costs.services = query.services;
    costs.series = options.granularity.is_some();
    costs.requests = ce.requests();
    Ok(costs)
}

/// Declared values of `key`, each with the projects carrying it; and the projects without it.
pub struct Declared {
    pub values: BTreeMap<String, Vec<String>>,
    pub without_key: Vec<String>,
}

pub fn declared_values(manifests: &[Loaded], key: &str) -> Declared {
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut without_key = BTreeSet::new();
    for project in manifests.iter().flat_map(|l| &l.manifest.projects) {
        match project.tags.get(key) {
            Some(tag) => values
                .entry(tag.value.clone())
                .or_default()
                .push(project.name.clone()),
            None => {
                without_key.insert(project.name.clone());
            }
        }
    }
    for names in values.values_mut() {
        names.sort();
        names.dedup();
    }
    Declared {
        values,
        without_key: without_key.into_iter().collect(),
    }
}

/// Sums the groups of every period exactly, by value (`KEY$VALUE`; `KEY$` is untagged).
pub fn sum(key: &str, periods: &[Period], declared: Declared) -> anyhow::Result<Costs> {
    let prefix = format!("{key}$");
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut series: BTreeMap<String, Vec<(String, Decimal)>> = BTreeMap::new();
    let mut currency = None;
    for period in periods {
        if currency.is_none() {
            currency = period.unit.clone();
        }
        for (group, amount) in &period.groups {
            let value = group.strip_prefix(&prefix).unwrap_or(group).to_string();
            let amount = decimal(amount).with_context(|| {
                format!(
                    "Cost Explorer's amount for {group} in the period from {}",
                    period.start
                )
            })?;
            *totals.entry(value.clone()).or_default() += amount;
            let points = series.entry(value).or_default();
            match points.last_mut() {
                Some((start, sum)) if *start == period.start => *sum += amount,
                _ => points.push((period.start.clone(), amount)),
            }
        }
    }
    let untagged = totals.remove("").unwrap_or_default();
    let total = totals.values().copied().sum::<Decimal>() + untagged;
    let mut groups: Vec<CostGroup> = totals
        .into_iter()
        .map(|(value, amount)| {
            let projects = declared.values.get(&value).cloned().unwrap_or_default();
            CostGroup {
                share: ratio(amount, total),
                declared: !projects.is_empty(),
                projects,
                series: series.remove(&value).unwrap_or_default(),
                value,
                amount,
            }
        })
        .collect();
    groups.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.value.cmp(&b.value)));
    let declared_without_spend = declared
        .values
        .keys()
        .filter(|v| !groups.iter().any(|g| &g.value == *v))
        .cloned()
        .collect();
    Ok(Costs {
        by: key.to_string(),
        start: String::new(),
        end: String::new(),
        currency: currency.unwrap_or_else(|| "USD".to_string()),
        total,
        untagged,
        key_status: KeyState::Active,
        requests: 0,
        groups,
        declared_without_spend,
        projects_without_key: declared.without_key,
        services: vec![BEDROCK.to_string()],
        series: false,
    })
}

/// A decimal amount as Cost Explorer writes it (`12.3400000001`, or `1.2E-7`).
fn decimal(text: &str) -> anyhow::Result<Decimal> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| anyhow::anyhow!("`{text}` is not a decimal amount"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn period_of(start: &str, groups: &[(&str, &str)]) -> Period {
        Period {
            start: start.to_string(),
            groups: groups
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            unit: Some("USD".into()),
        }
    }

    fn declared(pairs: &[(&str, &[&str])], without: &[&str]) -> Declared {
        Declared {
            values: pairs
                .iter()
                .map(|(v, ps)| (v.to_string(), ps.iter().map(|p| p.to_string()).collect()))
                .collect(),
            without_key: without.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn sums_are_exact_and_groups_sorted_by_amount() {
        let periods = [
            period_of(
                "2026-11-01",
                &[
                    ("CostCenter$CC-1", "0.1"),
                    ("CostCenter$CC-2", "0.2"),
                    ("CostCenter$", "1.0000000001"),
                ],
            ),
            period_of(
                "2026-11-02",
                &[("CostCenter$CC-1", "0.2"), ("CostCenter$CC-9", "5")],
            ),
        ];
        let costs = sum(
            "CostCenter",
            &periods,
            declared(
                &[("CC-1", &["A", "B"]), ("CC-2", &["C"]), ("CC-3", &["D"])],
                &["E"],
            ),
        )
        .unwrap();
        // 0.1 + 0.2 is 0.3 exactly, not 0.30000000000000004.
        let values: Vec<(&str, String)> = costs
            .groups
            .iter()
            .map(|g| (g.value.as_str(), g.amount.to_string()))
            .collect();
        assert_eq!(
            values,
            [
                ("CC-9", "5".into()),
                ("CC-1", "0.3".into()),
                ("CC-2", "0.2".into())
            ]
        );
        assert_eq!(costs.untagged.to_string(), "1.0000000001");
        assert_eq!(costs.total.to_string(), "6.5000000001");
        assert!(
            !costs.groups[0].declared,
            "CC-9 is carried by no declared project"
        );
        assert_eq!(costs.groups[1].projects, ["A", "B"]);
        assert_eq!(costs.declared_without_spend, ["CC-3"]);
        assert_eq!(costs.projects_without_key, ["E"]);
        assert_eq!(
            costs.groups[1].series,
            [
                ("2026-11-01".to_string(), Decimal::from_str("0.1").unwrap()),
                ("2026-11-02".to_string(), Decimal::from_str("0.2").unwrap())
            ]
        );
        let shares: f64 =
            costs.groups.iter().map(|g| g.share).sum::<f64>() + ratio(costs.untagged, costs.total);
        assert!((shares - 1.0).abs() < 1e-9);
    }

    #[test]
    fn an_amount_that_is_not_a_decimal_is_an_error_naming_the_group() {
        let periods = [period_of("2026-11-01", &[("CostCenter$CC-1", "12,5")])];
        let error = sum("CostCenter", &periods, declared(&[], &[])).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("CostCenter$CC-1"), "{message}");
        assert!(message.contains("12,5"), "{message}");
    }

    #[test]
    fn the_default_period_is_this_month_or_the_last_on_a_first() {
        let (s, u) = period(None, None, date!(2026 - 12 - 05)).unwrap();
        assert_eq!(
            (s.to_string(), u.to_string()),
            ("2026-12-01".into(), "2026-12-05".into())
        );
        let (s, u) = period(None, None, date!(2026 - 12 - 01)).unwrap();
        assert_eq!(
            (s.to_string(), u.to_string()),
            ("2026-11-01".into(), "2026-12-01".into())
        );
        let (s, _) = period(None, None, date!(2026 - 01 - 01)).unwrap();
        assert_eq!(s.to_string(), "2025-12-01");
        let error = period(Some("2026-11-31"), None, date!(2026 - 12 - 05))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--since 2026-11-31 is not a date"),
            "{error}"
        );
        let empty = period(
            Some("2026-12-05"),
            Some("2026-12-05"),
            date!(2026 - 12 - 05),
        )
        .unwrap_err()
        .to_string();
        assert!(empty.contains("the period is empty"), "{empty}");
    }

    #[test]
    fn a_period_in_the_future_or_past_next_month_is_refused_before_any_request() {
        let today = date!(2026 - 12 - 05);
        let future = period(Some("2027-01-01"), None, today)
            .unwrap_err()
            .to_string();
        assert_eq!(
            future,
            "--since 2027-01-01 is after today (2026-12-05, UTC): Cost Explorer has no spend for it yet"
        );
        let late = period(Some("2026-11-01"), Some("2027-06-01"), today)
            .unwrap_err()
            .to_string();
        assert!(late.contains("give at most --until 2027-01-01"), "{late}");
        // The start of next month is the furthest end Cost Explorer takes.
        assert!(period(Some("2026-12-01"), Some("2027-01-01"), today).is_ok());
        let (_, until) = period(None, None, date!(2026 - 12 - 31)).unwrap();
        assert_eq!(until.to_string(), "2026-12-31");
    }
}
