//! The spend the emulated Cost Explorer reports: the rows of `--costs FILE` (a JSON array of
//! `{"date", "service", "project_id", "amount"}`), read once and indexed by day, and the exact
//! sums of `GetCostAndUsage` over them: by period, filtered, grouped by tag value or service.
//! Which tags a row carries is decided per call by the caller (the projects' tags at that time,
//! active keys only), so nothing here knows about projects or billing.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};

use crate::api::model::{DEFAULT_PROJECT_ID, Tags};
use crate::rules::is_project_id;

use super::day::Day;
use super::store::shorten;

/// The costs file could not be used; the message names the file, the place and the row.
#[derive(Debug, thiserror::Error)]
pub enum CostsError {
    #[error("cannot read the costs file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{}:{line}:{column}: {row}{message}. A costs file is a JSON array of spend rows such as \
         {{\"date\": \"2026-11-03\", \"service\": \"Amazon Bedrock\", \"project_id\": \"proj_…\", \"amount\": \"12.34\"}}",
        path.display(),
        row = row.map(|n| format!("row {n}: ")).unwrap_or_default()
    )]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        /// 1-based position of the row in the array, when the problem is in one.
        row: Option<usize>,
        message: String,
    },
}

/// Every spend row, indexed for sums over days.
#[derive(Debug, Default)]
pub struct Spend {
    services: Vec<String>,
    /// Project ids (`default` included).
    projects: Vec<String>,
    /// Each (service, project) that has rows, by index into the two lists above.
    pairs: Vec<(u32, u32)>,
    /// The rows of each day: (pair, amount).
    days: BTreeMap<Day, Vec<(u32, Decimal)>>,
    /// The last day with spend of each project (by index into `projects`).
    last_day: Vec<Day>,
    rows: usize,
}

/// How results are cut into periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Daily,
    Monthly,
}

/// A `GetCostAndUsage` filter, as far as the emulator evaluates one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// The `SERVICE` dimension is one of these.
    Service(Vec<String>),
    /// The tag `key` has one of `values` (an absent key has the value ""), or, when `absent`, the
    /// key is absent (or empty).
    Tag {
        key: String,
        values: Vec<String>,
        absent: bool,
    },
}

/// One `GroupBy` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// `TAG`: groups `KEY$VALUE`; spend without the key (or with the key not active) is `KEY$`.
    Tag(String),
    /// `DIMENSION` `SERVICE`: groups named after the service.
    Service,
}

/// The sums of each period, and the groups' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sums {
    /// The keys of each group (`["CostCenter$CC-1"]`), sorted; one empty name without GroupBy.
    pub names: Vec<Vec<String>>,
    pub periods: Vec<PeriodSums>,
}

/// The sums of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodSums {
    pub start: Day,
    /// Exclusive.
    pub end: Day,
    /// Everything the filter lets through.
    pub total: Decimal,
    /// (index into `Sums::names`, sum), in the order of the names; only groups with rows in the
    /// period, and none without GroupBy.
    pub groups: Vec<(usize, Decimal)>,
}

impl Sums {
    /// The groups of period `n` by name, for tests and messages.
    pub fn named(&self, n: usize) -> Vec<(Vec<String>, Decimal)> {
        self.periods[n]
            .groups
            .iter()
            .map(|&(group, sum)| (self.names[group].clone(), sum))
            .collect()
    }
}

/// An exact sum needs more than the 28 significant digits of a decimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overflow;

impl Spend {
    /// Reads and indexes a costs file.
    pub fn load(path: &Path) -> Result<Spend, CostsError> {
        let text = std::fs::read(path).map_err(|error| CostsError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Spend::parse(&text).map_err(|failure| CostsError::Invalid {
            path: path.to_path_buf(),
            line: failure.line,
            column: failure.column,
            row: failure.row,
            message: failure.message,
        })
    }

    /// Reads the rows of a costs file's text.
    pub fn parse(text: &[u8]) -> Result<Spend, ParseFailure> {
        let mut spend = Spend::default();
        let count = Cell::new(0usize);
        let started = Cell::new(false);
        let mut deserializer = serde_json::Deserializer::from_slice(text);
        let read = RowsSeed {
            spend: &mut spend,
            count: &count,
            started: &started,
        }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
        match read {
            Ok(()) => Ok(spend),
            Err(error) => {
                let message = error.to_string();
                // serde_json appends the place; it is given separately.
                let message = match message.rsplit_once(" at line ") {
                    Some((message, _)) => message.to_string(),
                    None => message,
                };
                let message = if started.get() {
                    message
                } else {
                    message.replace("expected spend rows", "expected a JSON array of spend rows")
                };
                Err(ParseFailure {
                    line: error.line(),
                    column: error.column().max(1),
                    row: started.get().then(|| count.get() + 1),
                    message,
                })
            }
        }
    }

    fn add(&mut self, row: Row<'_>, interned: &mut Interned) {
        let service = intern(&mut self.services, &mut interned.services, &row.service);
        let project = intern(&mut self.projects, &mut interned.projects, &row.project_id);
        if self.last_day.len() < self.projects.len() {
            self.last_day.push(row.date);
        }
        let last = &mut self.last_day[project as usize];
        *last = (*last).max(row.date);
        let pair = *interned.pairs.entry((service, project)).or_insert_with(|| {
            self.pairs.push((service, project));
            (self.pairs.len() - 1) as u32
        });
        self.days
            .entry(row.date)
            .or_default()
            .push((pair, row.amount.0));
        self.rows += 1;
    }

    /// How many rows were read.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Each project with spend rows, and the last day it has spend.
    pub fn projects_with_spend(&self) -> impl Iterator<Item = (&str, Day)> {
        self.projects
            .iter()
            .map(String::as_str)
            .zip(self.last_day.iter().copied())
    }

    /// The sums of each period, for the spend that `filter` lets through, grouped by `group_by`
    /// (no groups when it is empty). `tags` gives the tags a project's spend carries (missing:
    /// none).
    pub fn sums(
        &self,
        periods: &[(Day, Day)],
        filter: Option<&Filter>,
        group_by: &[Grouping],
        tags: &HashMap<&str, &Tags>,
    ) -> Result<Sums, Overflow> {
        // Each (service, project) is decided once: through the filter or not, and into which group.
        let mut names: Vec<Vec<String>> = Vec::new();
        let mut group_of: HashMap<Vec<String>, usize> = HashMap::new();
        let empty = Tags::new();
        let route: Vec<Option<usize>> = self
            .pairs
            .iter()
            .map(|&(service, project)| {
                let service = self.services[service as usize].as_str();
                let project_tags = tags
                    .get(self.projects[project as usize].as_str())
                    .copied()
                    .unwrap_or(&empty);
                if !filter.is_none_or(|f| f.matches(service, project_tags)) {
                    return None;
                }
                let keys: Vec<String> = group_by
                    .iter()
                    .map(|grouping| match grouping {
                        Grouping::Tag(key) => {
                            format!("{key}${}", project_tags.get(key).map_or("", String::as_str))
                        }
                        Grouping::Service => service.to_string(),
                    })
                    .collect();
                let next = names.len();
                let group = *group_of.entry(keys.clone()).or_insert(next);
                if group == next {
                    names.push(keys);
                }
                Some(group)
            })
            .collect();
        // Group indices in the order of their names, so that each period's groups come sorted.
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|a, b| names[*a].cmp(&names[*b]));
        let mut rank = vec![0; names.len()];
        for (position, group) in order.iter().enumerate() {
            rank[*group] = position;
        }
        let route: Vec<Option<usize>> = route.iter().map(|g| g.map(|g| rank[g])).collect();
        let names: Vec<Vec<String>> = order.into_iter().map(|g| names[g].clone()).collect();

        let mut results = Vec::with_capacity(periods.len());
        let (Some(first), Some(last)) = (periods.first(), periods.last()) else {
            return Ok(Sums {
                names,
                periods: results,
            });
        };
        let mut rows = self.days.range(first.0..last.1).peekable();
        for &(start, end) in periods {
            let mut sums: Vec<Option<Decimal>> = vec![None; names.len()];
            while let Some((_, day_rows)) = rows.next_if(|(day, _)| **day < end) {
                for &(pair, amount) in day_rows {
                    let Some(group) = route[pair as usize] else {
                        continue;
                    };
                    let sum = sums[group].get_or_insert(Decimal::ZERO);
                    *sum = exact_add(*sum, amount).ok_or(Overflow)?;
                }
            }
            // The groups part the spend: the total is their sum (one addition per group, not
            // per row).
            let mut total = Decimal::ZERO;
            for sum in sums.iter().flatten() {
                total = exact_add(total, *sum).ok_or(Overflow)?;
            }
            let groups: Vec<(usize, Decimal)> = if group_by.is_empty() {
                Vec::new()
            } else {
                sums.iter()
                    .enumerate()
                    .filter_map(|(group, sum)| sum.map(|sum| (group, sum)))
                    .collect()
            };
            results.push(PeriodSums {
                start,
                end,
                total,
                groups,
            });
        }
        Ok(Sums {
            names,
            periods: results,
        })
    }
}

/// `a + b`, or `None` when the exact sum does not fit a decimal (rust_decimal would round it to
/// fewer decimals rather than fail: that is refused too, amounts are never rounded).
fn exact_add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let sum = a.checked_add(b)?;
    (sum.scale() >= a.scale().max(b.scale())).then_some(sum)
}

/// The periods of `[start, end)`: one per day, or one per calendar month (the first and last cut
/// at `start` and `end`), as Cost Explorer returns them.
pub fn periods(start: Day, end: Day, granularity: Granularity) -> Vec<(Day, Day)> {
    let mut periods = Vec::new();
    let mut from = start;
    while from < end {
        let next = match granularity {
            Granularity::Daily => from.next(),
            Granularity::Monthly => from.add_months(1).min(end),
        };
        periods.push((from, next));
        from = next;
    }
    periods
}

impl Filter {
    fn matches(&self, service: &str, tags: &Tags) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(service, tags)),
            Filter::Or(any) => any.iter().any(|f| f.matches(service, tags)),
            Filter::Not(filter) => !filter.matches(service, tags),
            Filter::Service(values) => values.iter().any(|v| v == service),
            Filter::Tag {
                key,
                values,
                absent,
            } => {
                let value = tags.get(key).map_or("", String::as_str);
                (*absent && value.is_empty()) || values.iter().any(|v| v == value)
            }
        }
    }
}

/// Where and why a costs file did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailure {
    pub line: usize,
    pub column: usize,
    pub row: Option<usize>,
    pub message: String,
}

impl fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if let Some(row) = self.row {
            write!(f, "row {row}: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Default)]
struct Interned {
    services: HashMap<String, u32>,
    projects: HashMap<String, u32>,
    pairs: HashMap<(u32, u32), u32>,
}

fn intern(list: &mut Vec<String>, index: &mut HashMap<String, u32>, name: &str) -> u32 {
    if let Some(&found) = index.get(name) {
        return found;
    }
    let id = list.len() as u32;
    list.push(name.to_string());
    index.insert(name.to_string(), id);
    id
}

/// One spend row; each field checked as it is read, so that an error has its line and column.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row<'a> {
    date: Day,
    #[serde(borrow)]
    service: Service<'a>,
    #[serde(borrow)]
    project_id: ProjectId<'a>,
    amount: Amount,
}

/// Reads the array row by row, counting, so that an error can say which row it is in.
struct RowsSeed<'s> {
    spend: &'s mut Spend,
    count: &'s Cell<usize>,
    started: &'s Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("spend rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.started.set(true);
        let mut interned = Interned::default();
        while let Some(row) = seq.next_element::<Row<'de>>()? {
            self.spend.add(row, &mut interned);
            self.count.set(self.count.get() + 1);
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Day, D::Error> {
        struct DayVisitor;
        impl Visitor<'_> for DayVisitor {
            type Value = Day;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date written \"YYYY-MM-DD\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Day, E> {
                Day::parse(text).ok_or_else(|| {
                    E::custom(format!(
                        "the date \"{}\" is not a day written YYYY-MM-DD (such as \"2026-11-03\")",
                        shorten(text)
                    ))
                })
            }
        }
        deserializer.deserialize_str(DayVisitor)
    }
}

struct Service<'a>(Cow<'a, str>);

impl std::ops::Deref for Service<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Service<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = Cow::<'a, str>::deserialize(deserializer)?;
        if name.trim().is_empty() {
            return Err(de::Error::custom(
                "the service is empty; write the name Cost Explorer gives it, such as \"Amazon Bedrock\"",
            ));
        }
        Ok(Service(name))
    }
}

struct ProjectId<'a>(Cow<'a, str>);

impl std::ops::Deref for ProjectId<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ProjectId<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = Cow::<'a, str>::deserialize(deserializer)?;
        if id != DEFAULT_PROJECT_ID && !is_project_id(&id) {
            return Err(de::Error::custom(format!(
                "the project_id \"{}\" is not a project id: write `default` or `proj_` followed by lowercase letters and digits",
                shorten(&id)
            )));
        }
        Ok(ProjectId(id))
    }
}

/// An amount, written as a decimal string so that no digit is lost.
struct Amount(Decimal);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        struct AmountVisitor;
        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount written as a decimal string, such as \"12.34\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Amount, E> {
                parse_amount(text).map(Amount).ok_or_else(|| {
                    E::custom(format!(
                        "the amount \"{}\" is not a decimal number such as \"12.34\" (digits, an optional sign and point, at most 28 significant digits)",
                        shorten(text)
                    ))
                })
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Amount, E> {
                Err(E::custom(format!(
                    "the amount {value} is a JSON number; write it as a string (\"{value}\") so that no digit is lost"
                )))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Amount, E> {
                self.visit_f64(value as f64)
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Amount, E> {
                self.visit_f64(value as f64)
            }
        }
        deserializer.deserialize_any(AmountVisitor)
    }
}

/// `-?DIGITS(.DIGITS)?`, exactly (no exponent, no rounding).
pub fn parse_amount(text: &str) -> Option<Decimal> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) {
        return None;
    }
    Decimal::from_str_exact(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Day {
        Day::parse(text).unwrap()
    }

    fn rows(json: &str) -> Spend {
        Spend::parse(json.as_bytes()).unwrap()
    }

    use crate::rules::tags_of as tags;

    const FILE: &str = r#"[
        {"date": "2026-10-31", "service": "Amazon Bedrock", "project_id": "proj_a", "amount": "1.10"},
        {"date": "2026-11-01", "service": "Amazon Bedrock", "project_id": "proj_a", "amount": "0.1"},
        {"date": "2026-11-01", "service": "Amazon Bedrock", "project_id": "proj_a", "amount": "0.2"},
        {"date": "2026-11-02", "service": "Amazon Bedrock", "project_id": "proj_b", "amount": "12.3400000001"},
        {"date": "2026-11-02", "service": "Amazon Bedrock", "project_id": "default", "amount": "3"},
        {"date": "2026-11-03", "service": "Claude (Amazon Bedrock Edition)", "project_id": "proj_a", "amount": "5.5"}
    ]"#;

    #[test]
    fn sums_are_exact_and_grouped_by_tag_value() {
        let spend = rows(FILE);
        assert_eq!(spend.rows(), 6);
        let a = tags(&[("CostCenter", "CC-1")]);
        let b = tags(&[("Team", "Risk")]);
        let projects: HashMap<&str, &Tags> = HashMap::from([("proj_a", &a), ("proj_b", &b)]);
        let bedrock = Filter::Service(vec!["Amazon Bedrock".into()]);
        let month = periods(day("2026-11-01"), day("2026-12-01"), Granularity::Monthly);
        let sums = spend
            .sums(
                &month,
                Some(&bedrock),
                &[Grouping::Tag("CostCenter".into())],
                &projects,
            )
            .unwrap();
        assert_eq!(sums.periods.len(), 1);
        let groups: Vec<(String, String)> = sums
            .named(0)
            .iter()
            .map(|(keys, sum)| (keys.join(","), sum.to_string()))
            .collect();
        // 0.1 + 0.2 is exactly 0.3; proj_b (no CostCenter) and default are `CostCenter$`.
        assert_eq!(
            groups,
            vec![
                ("CostCenter$".to_string(), "15.3400000001".to_string()),
                ("CostCenter$CC-1".to_string(), "0.3".to_string()),
            ]
        );
        assert_eq!(sums.periods[0].total.to_string(), "15.6400000001");
    }

    #[test]
    fn days_outside_the_period_and_filtered_services_are_left_out() {
        let spend = rows(FILE);
        let none = HashMap::new();
        let daily = periods(day("2026-11-01"), day("2026-11-04"), Granularity::Daily);
        let sums = spend
            .sums(&daily, None, &[Grouping::Service], &none)
            .unwrap();
        let totals: Vec<String> = sums.periods.iter().map(|p| p.total.to_string()).collect();
        assert_eq!(totals, ["0.3", "15.3400000001", "5.5"]);
        assert_eq!(
            sums.named(2),
            vec![(
                vec!["Claude (Amazon Bedrock Edition)".to_string()],
                Decimal::new(55, 1)
            )]
        );
        let not_bedrock = Filter::Not(Box::new(Filter::Service(vec!["Amazon Bedrock".into()])));
        let sums = spend.sums(&daily, Some(&not_bedrock), &[], &none).unwrap();
        assert_eq!(sums.periods[0].total, Decimal::ZERO);
        assert!(
            sums.periods[2].groups.is_empty(),
            "no groups without GroupBy"
        );
        assert_eq!(sums.periods[2].total.to_string(), "5.5");
    }

    #[test]
    fn tag_filters_match_values_and_absence() {
        let spend = rows(FILE);
        let a = tags(&[("CostCenter", "CC-1")]);
        let projects: HashMap<&str, &Tags> = HashMap::from([("proj_a", &a)]);
        let all = periods(day("2026-10-01"), day("2026-12-01"), Granularity::Monthly);
        let total = |filter: Filter| -> Vec<String> {
            spend
                .sums(&all, Some(&filter), &[], &projects)
                .unwrap()
                .periods
                .iter()
                .map(|p| p.total.to_string())
                .collect()
        };
        let cc1 = Filter::Tag {
            key: "CostCenter".into(),
            values: vec!["CC-1".into()],
            absent: false,
        };
        assert_eq!(total(cc1), ["1.10", "5.8"]);
        let absent = Filter::Tag {
            key: "CostCenter".into(),
            values: vec![],
            absent: true,
        };
        assert_eq!(total(absent), ["0", "15.3400000001"]);
    }

    #[test]
    fn monthly_periods_are_cut_at_the_request_and_at_month_ends() {
        let cut = periods(day("2026-10-15"), day("2027-01-10"), Granularity::Monthly);
        let text: Vec<String> = cut.iter().map(|(s, e)| format!("{s}..{e}")).collect();
        assert_eq!(
            text,
            [
                "2026-10-15..2026-11-01",
                "2026-11-01..2026-12-01",
                "2026-12-01..2027-01-01",
                "2027-01-01..2027-01-10"
            ]
        );
        assert_eq!(
            periods(day("2026-02-27"), day("2026-03-02"), Granularity::Daily).len(),
            3
        );
        assert!(periods(day("2026-03-02"), day("2026-03-02"), Granularity::Daily).is_empty());
    }

    #[test]
    fn the_last_day_of_spend_is_kept_per_project() {
        let spend = rows(FILE);
        let last: Vec<(String, String)> = spend
            .projects_with_spend()
            .map(|(id, day)| (id.to_string(), day.to_string()))
            .collect();
        assert_eq!(
            last,
            [
                ("proj_a".to_string(), "2026-11-03".to_string()),
                ("proj_b".to_string(), "2026-11-02".to_string()),
                ("default".to_string(), "2026-11-02".to_string()),
            ]
        );
    }

    #[test]
    fn a_sum_that_would_be_rounded_is_refused() {
        let fine = Decimal::from_str_exact("0.0000000000000000000000000001").unwrap();
        assert_eq!(
            exact_add(fine, fine).unwrap().to_string(),
            "0.0000000000000000000000000002"
        );
        let big = Decimal::from_str_exact("7922816251426433759354395.0335").unwrap();
        // Exactly, this needs a 29th digit: rust_decimal would drop a decimal.
        assert!(big.checked_add(fine).is_some());
        assert_eq!(exact_add(big, fine), None);
        let spend = rows(
            r#"[{"date": "2026-11-01", "service": "S", "project_id": "default", "amount": "7922816251426433759354395.0335"},
                {"date": "2026-11-01", "service": "S", "project_id": "default", "amount": "0.0000000000000000000000000001"}]"#,
        );
        let one_day = periods(day("2026-11-01"), day("2026-11-02"), Granularity::Daily);
        assert_eq!(
            spend.sums(&one_day, None, &[], &HashMap::new()),
            Err(Overflow)
        );
    }

    #[test]
    fn amounts_are_plain_decimals() {
        assert_eq!(parse_amount("12.34").unwrap().to_string(), "12.34");
        assert_eq!(parse_amount("-0.5").unwrap().to_string(), "-0.5");
        assert_eq!(parse_amount("7").unwrap().to_string(), "7");
        for bad in [
            "", "1e3", "1.", ".5", "+1", "1,5", "NaN", "0x10", " 1", "1.2.3",
        ] {
            assert!(parse_amount(bad).is_none(), "{bad}");
        }
        // More digits than a decimal holds is refused, never rounded.
        assert!(parse_amount("0.12345678901234567890123456789").is_none());
    }

    #[test]
    fn bad_rows_name_the_row_and_the_place() {
        let fail = |json: &str| Spend::parse(json.as_bytes()).unwrap_err();
        let date = fail(
            "[\n{\"date\": \"2026-11-03\", \"service\": \"S\", \"project_id\": \"default\", \"amount\": \"1\"},\n{\"date\": \"2026-11-31\", \"service\": \"S\", \"project_id\": \"default\", \"amount\": \"1\"}\n]",
        );
        assert_eq!((date.row, date.line), (Some(2), 3));
        assert!(date.message.contains("2026-11-31"), "{}", date.message);
        assert!(date.message.contains("YYYY-MM-DD"), "{}", date.message);

        let amount = fail(
            r#"[{"date": "2026-11-03", "service": "S", "project_id": "default", "amount": 12.34}]"#,
        );
        assert_eq!(amount.row, Some(1));
        assert!(amount.message.contains("JSON number"), "{}", amount.message);
        let amount = fail(
            r#"[{"date": "2026-11-03", "service": "S", "project_id": "default", "amount": "12,34"}]"#,
        );
        assert!(amount.message.contains("\"12,34\""), "{}", amount.message);

        let missing = fail(r#"[{"date": "2026-11-03", "service": "S", "project_id": "default"}]"#);
        assert_eq!(missing.row, Some(1));
        assert!(missing.message.contains("`amount`"), "{}", missing.message);

        let id =
            fail(r#"[{"date": "2026-11-03", "service": "S", "project_id": "p1", "amount": "1"}]"#);
        assert!(id.message.contains("\"p1\""), "{}", id.message);

        let unknown = fail(
            r#"[{"date": "2026-11-03", "service": "S", "project_id": "default", "amount": "1", "cost": "2"}]"#,
        );
        assert!(unknown.message.contains("`cost`"), "{}", unknown.message);

        let not_array = fail(r#"{"rows": []}"#);
        assert_eq!(not_array.row, None);
        assert!(
            not_array.message.contains("a JSON array of spend rows"),
            "{}",
            not_array.message
        );
        assert!(fail("[] []").message.contains("trailing"));
    }
}
