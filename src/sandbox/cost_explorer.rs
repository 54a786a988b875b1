//! The part of AWS Cost Explorer that `tagrec billing` and `tagrec costs` call, as the AWS API
//! answers it (awsJson 1.1: `POST /`, `X-Amz-Target: AWSInsightsIndexService.<Op>`, errors as
//! `{"__type", "message"}` with `x-amzn-ErrorType`), so that the AWS SDKs' own `ce` clients work
//! against it unchanged. It reads the projects and Billing settings of the store it is given, and
//! the spend of `--costs`; the server decides who may call and saves what a write changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::model::Tags;

use super::billing::{BackfillView, TagStatus};
use super::costs::{self, Filter, Granularity, Grouping, Spend};
use super::day::{self, Day};
use super::store::{Store, shorten};

/// The `X-Amz-Target` prefix of every Cost Explorer operation.
pub const TARGET_PREFIX: &str = "AWSInsightsIndexService.";
/// The SigV4 scope of Cost Explorer, whatever the caller's region.
pub const SIGV4_SERVICE: &str = "ce";
pub const SIGV4_REGION: &str = "us-east-1";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The most keys one `ListCostAllocationTags` page holds (the botocore model's cap), and the
/// bounds of its `MaxResults` and `TagKeys`.
pub const TAGS_PAGE_CAP: usize = 100;
const MAX_RESULTS: i64 = 1_000;
const DEFAULT_MAX_RESULTS: usize = 100;
const MAX_TAG_KEYS: usize = 100;
const MAX_KEY_CHARS: usize = 1_024;
/// The most entries one `UpdateCostAllocationTagsStatus` takes.
pub const MAX_STATUS_UPDATES: usize = 20;
/// The most `GroupBy` entries of one `GetCostAndUsage`.
const MAX_GROUP_BY: usize = 2;
/// The metrics that are amounts of money: the sandbox has no discounts, credits or
/// reservations, so each is the same sum.
const COST_METRICS: &[&str] = &[
    "AmortizedCost",
    "BlendedCost",
    "NetAmortizedCost",
    "NetUnblendedCost",
    "UnblendedCost",
];
const USAGE_METRICS: &[&str] = &["NormalizedUsageAmount", "UsageQuantity"];

/// A Cost Explorer error: HTTP status, the code (`__type`, `x-amzn-ErrorType`) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl CeError {
    pub fn validation(message: impl Into<String>) -> CeError {
        CeError::new("ValidationException", message)
    }

    pub fn new(code: &'static str, message: impl Into<String>) -> CeError {
        CeError {
            status: 400,
            code,
            message: message.into(),
        }
    }

    /// The awsJson 1.1 error body.
    pub fn body(&self) -> Value {
        json!({"__type": self.code, "message": self.message})
    }
}

/// The operations the emulator answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ListCostAllocationTags,
    UpdateCostAllocationTagsStatus,
    GetCostAndUsage,
    StartCostAllocationTagBackfill,
    ListCostAllocationTagBackfillHistory,
}

impl Operation {
    const ALL: [Operation; 5] = [
        Operation::ListCostAllocationTags,
        Operation::UpdateCostAllocationTagsStatus,
        Operation::GetCostAndUsage,
        Operation::StartCostAllocationTagBackfill,
        Operation::ListCostAllocationTagBackfillHistory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::ListCostAllocationTags => "ListCostAllocationTags",
            Operation::UpdateCostAllocationTagsStatus => "UpdateCostAllocationTagsStatus",
            Operation::GetCostAndUsage => "GetCostAndUsage",
            Operation::StartCostAllocationTagBackfill => "StartCostAllocationTagBackfill",
            Operation::ListCostAllocationTagBackfillHistory => {
                "ListCostAllocationTagBackfillHistory"
            }
        }
    }

    /// The operation an `X-Amz-Target` names.
    pub fn from_target(target: &str) -> Result<Operation, CeError> {
        let name = target.strip_prefix(TARGET_PREFIX).unwrap_or("");
        Operation::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Operation::ALL.iter().map(|op| op.name()).collect();
                CeError::new(
                    "UnknownOperationException",
                    format!(
                        "Unknown operation {}: the sandbox's Cost Explorer answers {TARGET_PREFIX}{{{}}}",
                        shorten(target),
                        names.join(", ")
                    ),
                )
            })
    }

    /// Whether it changes Billing's settings.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Operation::UpdateCostAllocationTagsStatus | Operation::StartCostAllocationTagBackfill
        )
    }

    /// What a member (linked) account gets: AWS's own words for the tag calls.
    pub fn linked_account_denial(self) -> CeError {
        let failed = match self {
            Operation::ListCostAllocationTags => "Failed to list Cost Allocation Tags",
            Operation::UpdateCostAllocationTagsStatus => "Failed to update Cost Allocation Tag",
            Operation::GetCostAndUsage => "Failed to get cost and usage",
            Operation::StartCostAllocationTagBackfill => {
                "Failed to start Cost Allocation Tag backfill"
            }
            Operation::ListCostAllocationTagBackfillHistory => {
                "Failed to list Cost Allocation Tag backfill history"
            }
        };
        CeError::new(
            "AccessDeniedException",
            format!("{failed}: Linked account doesn't have access to cost allocation tags."),
        )
    }
}

/// A request, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    ListTags(ListTags),
    UpdateStatus(Vec<(String, TagStatus)>),
    GetCostAndUsage(CostQuery),
    StartBackfill { from: i64 },
    BackfillHistory { start: usize, page: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListTags {
    pub status: Option<TagStatus>,
    pub keys: Option<BTreeSet<String>>,
    /// `AWSGenerated` lists nothing: the sandbox has user-defined keys only.
    pub user_defined: bool,
    /// List keys after this one.
    pub after: Option<String>,
    pub page: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CostQuery {
    pub start: Day,
    pub end: Day,
    pub granularity: Granularity,
    pub metrics: Vec<String>,
    pub filter: Option<Filter>,
    pub group_by: Vec<Grouping>,
    /// The request's `GroupBy`, echoed as `GroupDefinitions`.
    pub definitions: Vec<(String, String)>,
    /// The first period of the page asked for.
    pub first: usize,
    /// Identifies the request without its page token, so that a token of another request is
    /// refused.
    pub fingerprint: u64,
}

/// Reads the body of `op` (empty means `{}`).
pub fn parse(op: Operation, body: &[u8]) -> Result<Request, CeError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        CeError::new(
            "SerializationException",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    match op {
        Operation::ListCostAllocationTags => list_tags(typed(value)?).map(Request::ListTags),
        Operation::UpdateCostAllocationTagsStatus => {
            update_status(typed(value)?).map(Request::UpdateStatus)
        }
        Operation::GetCostAndUsage => {
            let fingerprint = fingerprint(&value);
            cost_query(typed(value)?, fingerprint).map(Request::GetCostAndUsage)
        }
        Operation::StartCostAllocationTagBackfill => {
            let request: StartBackfillBody = typed(value)?;
            let text = required(request.backfill_from, "BackfillFrom")?;
            let from = day::parse_timestamp(&text).ok_or_else(|| {
                CeError::validation(format!(
                    "BackfillFrom '{}' is not a time such as 2026-03-01T00:00:00Z",
                    shorten(&text)
                ))
            })?;
            Ok(Request::StartBackfill { from })
        }
        Operation::ListCostAllocationTagBackfillHistory => {
            let request: PageBody = typed(value)?;
            let page = max_results(request.max_results)?;
            let start = match request.next_token {
                None => 0,
                Some(token) => token
                    .strip_prefix("backfills-")
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid_token("NextToken", &token))?,
            };
            Ok(Request::BackfillHistory { start, page })
        }
    }
}

/// The settings of the emulated Cost Explorer and the spend it reports.
#[derive(Debug, Default)]
pub struct CostExplorer {
    spend: Spend,
    active_from_start: BTreeSet<String>,
    page_size: Option<usize>,
    linked_account: bool,
}

impl CostExplorer {
    /// `page_size`: result periods per `GetCostAndUsage` page (all in one when `None`).
    pub fn new(
        spend: Spend,
        active_from_start: impl IntoIterator<Item = String>,
        page_size: Option<usize>,
        linked_account: bool,
    ) -> CostExplorer {
        CostExplorer {
            spend,
            active_from_start: active_from_start.into_iter().collect(),
            page_size: page_size.filter(|n| *n > 0),
            linked_account,
        }
    }

    pub fn linked_account(&self) -> bool {
        self.linked_account
    }

    /// Answers a request that changes nothing: the JSON body.
    pub fn read(&self, request: &Request, store: &Store, now: i64) -> Result<Vec<u8>, CeError> {
        let answer = match request {
            Request::GetCostAndUsage(query) => return self.cost_and_usage(query, store, now),
            Request::ListTags(list) => self.list_tags(list, store)?,
            Request::BackfillHistory { start, page } => {
                let history = store.billing().backfill_history(now);
                if *start > 0 && *start >= history.len() {
                    return Err(invalid_token("NextToken", &format!("backfills-{start}")));
                }
                let end = (*start + *page).min(history.len());
                let mut answer = json!({
                    "BackfillRequests": history[*start..end].iter().map(backfill_json).collect::<Vec<_>>(),
                });
                if end < history.len() {
                    answer["NextToken"] = json!(format!("backfills-{end}"));
                }
                answer
            }
            Request::UpdateStatus(_) | Request::StartBackfill { .. } => {
                return Err(CeError::new(
                    "InternalFailure",
                    "a write was answered as a read",
                ));
            }
        };
        Ok(answer.to_string().into_bytes())
    }

    /// Answers a request that may change Billing's settings in `store`: the JSON body, and
    /// `true` when it changed them.
    pub fn write(
        &self,
        request: &Request,
        store: &mut Store,
        now: i64,
    ) -> Result<(Vec<u8>, bool), CeError> {
        let (answer, changed) = match request {
            Request::UpdateStatus(changes) => {
                let seen = self.seen(store);
                let (errors, changed) = store.billing_mut().update(changes, &seen, now);
                let errors: Vec<Value> = errors
                    .iter()
                    .map(|e| json!({"TagKey": e.key, "Code": e.code, "Message": e.message}))
                    .collect();
                (json!({"Errors": errors}), changed)
            }
            Request::StartBackfill { from } => {
                let started = store.billing_mut().start_backfill(*from, now)?;
                (json!({"BackfillRequest": backfill_json(&started)}), true)
            }
            _ => return self.read(request, store, now).map(|answer| (answer, false)),
        };
        Ok((answer.to_string().into_bytes(), changed))
    }

    fn seen(&self, store: &Store) -> BTreeMap<String, super::billing::SeenKey> {
        store
            .billing()
            .seen_keys(&self.spend, store.projects(), &self.active_from_start)
    }

    fn list_tags(&self, list: &ListTags, store: &Store) -> Result<Value, CeError> {
        let seen = self.seen(store);
        let mut matching = seen
            .values()
            .filter(|_| list.user_defined)
            .filter(|k| list.status.is_none_or(|s| s == k.status))
            .filter(|k| list.keys.as_ref().is_none_or(|keys| keys.contains(&k.key)))
            .filter(|k| list.after.as_ref().is_none_or(|after| &k.key > after));
        let page: Vec<Value> = matching
            .by_ref()
            .take(list.page)
            .map(|k| {
                let mut tag = json!({
                    "TagKey": k.key,
                    "Type": "UserDefined",
                    "Status": k.status.as_str(),
                });
                if let Some(updated) = k.last_updated {
                    tag["LastUpdatedDate"] = json!(day::timestamp(updated));
                }
                tag["LastUsedDate"] = json!(k.last_used.timestamp());
                tag
            })
            .collect();
        let more = matching.next().is_some();
        let last = page
            .last()
            .and_then(|t| t["TagKey"].as_str())
            .map(key_token);
        let mut answer = json!({"CostAllocationTags": page});
        if more && let Some(token) = last {
            answer["NextToken"] = json!(token);
        }
        Ok(answer)
    }

    fn cost_and_usage(
        &self,
        query: &CostQuery,
        store: &Store,
        now: i64,
    ) -> Result<Vec<u8>, CeError> {
        let all = costs::periods(query.start, query.end, query.granularity);
        let page = self.page_size.unwrap_or(all.len().max(1));
        if query.first > 0 && (query.first >= all.len() || !query.first.is_multiple_of(page)) {
            return Err(invalid_token(
                "NextPageToken",
                &page_token(query.first, query.fingerprint),
            ));
        }
        let end = (query.first + page).min(all.len());
        let periods = &all[query.first..end];

        // A row carries its project's tags now, active keys only.
        let active: BTreeSet<String> = self
            .seen(store)
            .into_values()
            .filter(|k| k.status == TagStatus::Active)
            .map(|k| k.key)
            .collect();
        let carried: Vec<(&str, Tags)> = store
            .projects()
            .iter()
            .map(|p| {
                let tags: Tags = p
                    .tags
                    .iter()
                    .filter(|(k, _)| active.contains(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (p.id.as_str(), tags)
            })
            .collect();
        let tags: HashMap<&str, &Tags> = carried.iter().map(|(id, t)| (*id, t)).collect();
        let sums = self
            .spend
            .sums(periods, query.filter.as_ref(), &query.group_by, &tags)
            .map_err(|_| {
                CeError::validation(
                    "The exact sum of the spend rows needs more than 28 significant digits",
                )
            })?;

        // Written straight from the sums (no JSON tree): a year of daily groups is large.
        let this_month = Day::from_unix(now).first_of_month();
        let grouped = !query.group_by.is_empty();
        let answer = CostAnswer {
            group_definitions: grouped.then(|| {
                query
                    .definitions
                    .iter()
                    .map(|(kind, key)| GroupDefinitionJson { kind, key })
                    .collect()
            }),
            results_by_time: sums
                .periods
                .iter()
                .map(|period| ResultByTimeJson {
                    time_period: PeriodJson {
                        start: period.start.to_string(),
                        end: period.end.to_string(),
                    },
                    // Grouped results have an empty total, as AWS answers them.
                    total: MetricsJson {
                        names: &query.metrics,
                        amount: (!grouped).then(|| period.total.to_string()),
                    },
                    groups: period
                        .groups
                        .iter()
                        .map(|(group, sum)| GroupJson {
                            keys: &sums.names[*group],
                            metrics: MetricsJson {
                                names: &query.metrics,
                                amount: Some(sum.to_string()),
                            },
                        })
                        .collect(),
                    // Spend of a month not closed yet is an estimate.
                    estimated: period.end > this_month,
                })
                .collect(),
            dimension_value_attributes: Vec::new(),
            next_page_token: (end < all.len()).then(|| page_token(end, query.fingerprint)),
        };
        serde_json::to_vec(&answer)
            .map_err(|e| CeError::new("InternalFailure", format!("cannot write the answer: {e}")))
    }
}

/// `GetCostAndUsage`'s answer, in the API's field names.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CostAnswer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    group_definitions: Option<Vec<GroupDefinitionJson<'a>>>,
    results_by_time: Vec<ResultByTimeJson<'a>>,
    dimension_value_attributes: Vec<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

#[derive(Serialize)]
struct GroupDefinitionJson<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "Key")]
    key: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResultByTimeJson<'a> {
    time_period: PeriodJson,
    total: MetricsJson<'a>,
    groups: Vec<GroupJson<'a>>,
    estimated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PeriodJson {
    start: String,
    end: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GroupJson<'a> {
    keys: &'a [String],
    metrics: MetricsJson<'a>,
}

/// `{"UnblendedCost": {"Amount": "1.5", "Unit": "USD"}, …}`: every metric asked for, one amount;
/// `{}` without one.
struct MetricsJson<'a> {
    names: &'a [String],
    amount: Option<String>,
}

impl Serialize for MetricsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(amount) = &self.amount else {
            return serializer.serialize_map(Some(0))?.end();
        };
        let mut map = serializer.serialize_map(Some(self.names.len()))?;
        for name in self.names {
            map.serialize_entry(
                name,
                &AmountJson {
                    amount,
                    unit: "USD",
                },
            )?;
        }
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AmountJson<'a> {
    amount: &'a str,
    unit: &'a str,
}

fn backfill_json(view: &BackfillView) -> Value {
    let mut backfill = json!({
        "BackfillFrom": day::timestamp(view.backfill_from),
        "RequestedAt": day::timestamp(view.requested_at),
    });
    if let Some(completed) = view.completed_at {
        backfill["CompletedAt"] = json!(day::timestamp(completed));
    }
    backfill["BackfillStatus"] = json!(view.status);
    backfill["LastUpdatedAt"] = json!(day::timestamp(view.last_updated_at));
    backfill
}

fn invalid_token(name: &str, token: &str) -> CeError {
    CeError::new(
        "InvalidNextTokenException",
        format!(
            "The {name} '{}' is not one this endpoint gave for this request: send the previous page's {name} unchanged, or none for the first page",
            shorten(token)
        ),
    )
}

/// A `ListCostAllocationTags` token: the last key of the page, in hex.
fn key_token(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn key_from_token(token: &str) -> Option<String> {
    if token.is_empty() || !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// A `GetCostAndUsage` token: the first period of the next page, and the request's fingerprint.
fn page_token(first: usize, fingerprint: u64) -> String {
    format!("{first}.{fingerprint:016x}")
}

/// FNV-1a of the request without its page token: the same request gives the same value.
fn fingerprint(request: &Value) -> u64 {
    let mut request = request.clone();
    if let Some(object) = request.as_object_mut() {
        object.remove("NextPageToken");
    }
    let text = request.to_string();
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A request body in its operation's shape; a field it does not have is refused, naming it.
fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, CeError> {
    serde_json::from_value(value).map_err(|e| {
        CeError::new(
            "SerializationException",
            format!("The request body does not fit the operation: {e}"),
        )
    })
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, CeError> {
    value.ok_or_else(|| {
        CeError::validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn enum_value<'a>(text: &str, name: &str, allowed: &[&'a str]) -> Result<&'a str, CeError> {
    allowed
        .iter()
        .find(|a| **a == text)
        .copied()
        .ok_or_else(|| {
            CeError::validation(format!(
                "1 validation error detected: Value '{}' at '{name}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                shorten(text),
                allowed.join(", ")
            ))
        })
}

fn status(text: &str, name: &str) -> Result<TagStatus, CeError> {
    match enum_value(text, name, &["Active", "Inactive"])? {
        "Active" => Ok(TagStatus::Active),
        _ => Ok(TagStatus::Inactive),
    }
}

fn max_results(value: Option<i64>) -> Result<usize, CeError> {
    match value {
        None => Ok(DEFAULT_MAX_RESULTS),
        Some(n) if (1..=MAX_RESULTS).contains(&n) => Ok(n as usize),
        Some(n) => Err(CeError::validation(format!(
            "MaxResults is {n}; it must be from 1 to {MAX_RESULTS}"
        ))),
    }
}

fn check_key(key: &str, name: &str) -> Result<(), CeError> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(CeError::validation(format!(
            "{name} '{}' has {chars} characters; a tag key has 1 to {MAX_KEY_CHARS}",
            shorten(key)
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct ListTagsBody {
    status: Option<String>,
    tag_keys: Option<Vec<String>>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn list_tags(body: ListTagsBody) -> Result<ListTags, CeError> {
    let status = body
        .status
        .as_deref()
        .map(|s| status(s, "status"))
        .transpose()?;
    let keys = match body.tag_keys {
        None => None,
        Some(keys) => {
            if keys.is_empty() || keys.len() > MAX_TAG_KEYS {
                return Err(CeError::validation(format!(
                    "TagKeys has {} keys; it takes 1 to {MAX_TAG_KEYS}",
                    keys.len()
                )));
            }
            for key in &keys {
                check_key(key, "The tag key")?;
            }
            Some(keys.into_iter().collect())
        }
    };
    let user_defined = match body.kind.as_deref() {
        None => true,
        Some(kind) => enum_value(kind, "type", &["AWSGenerated", "UserDefined"])? == "UserDefined",
    };
    let after = body
        .next_token
        .map(|token| key_from_token(&token).ok_or_else(|| invalid_token("NextToken", &token)))
        .transpose()?;
    Ok(ListTags {
        status,
        keys,
        user_defined,
        after,
        page: max_results(body.max_results)?.min(TAGS_PAGE_CAP),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct UpdateStatusBody {
    cost_allocation_tags_status: Option<Vec<StatusEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct StatusEntry {
    tag_key: Option<String>,
    status: Option<String>,
}

fn update_status(body: UpdateStatusBody) -> Result<Vec<(String, TagStatus)>, CeError> {
    let entries = required(body.cost_allocation_tags_status, "costAllocationTagsStatus")?;
    if entries.is_empty() || entries.len() > MAX_STATUS_UPDATES {
        return Err(CeError::validation(format!(
            "CostAllocationTagsStatus has {} entries; it takes 1 to {MAX_STATUS_UPDATES} (send more in several requests)",
            entries.len()
        )));
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let at = format!("costAllocationTagsStatus.{}.member", i + 1);
            let key = required(entry.tag_key, &format!("{at}.tagKey"))?;
            check_key(&key, "The tag key")?;
            let text = required(entry.status, &format!("{at}.status"))?;
            Ok((key, status(&text, &format!("{at}.status"))?))
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct StartBackfillBody {
    backfill_from: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct PageBody {
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct CostBody {
    time_period: Option<TimePeriod>,
    granularity: Option<String>,
    filter: Option<Expression>,
    metrics: Option<Vec<String>>,
    group_by: Option<Vec<GroupDefinition>>,
    /// Accepted and ignored: the sandbox has one billing view.
    #[allow(dead_code)]
    billing_view_arn: Option<String>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct TimePeriod {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct GroupDefinition {
    #[serde(rename = "Type")]
    kind: Option<String>,
    key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct Expression {
    or: Option<Vec<Expression>>,
    and: Option<Vec<Expression>>,
    not: Option<Box<Expression>>,
    dimensions: Option<Values>,
    tags: Option<Values>,
    cost_categories: Option<Values>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct Values {
    key: Option<String>,
    values: Option<Vec<String>>,
    match_options: Option<Vec<String>>,
}

fn cost_query(body: CostBody, fingerprint: u64) -> Result<CostQuery, CeError> {
    let period = required(body.time_period, "timePeriod")?;
    let date = |value: Option<String>, name: &str| -> Result<Day, CeError> {
        let text = required(value, &format!("timePeriod.{name}"))?;
        Day::parse(&text).ok_or_else(|| {
            CeError::validation(format!(
                "TimePeriod.{} '{}' is not a date written YYYY-MM-DD",
                if name == "start" { "Start" } else { "End" },
                shorten(&text)
            ))
        })
    };
    let start = date(period.start, "start")?;
    let end = date(period.end, "end")?;
    if start >= end {
        return Err(CeError::validation(
            "Start date (and hour) should be before end date (and hour)",
        ));
    }
    let granularity = match enum_value(
        &required(body.granularity, "granularity")?,
        "granularity",
        &["DAILY", "MONTHLY", "HOURLY"],
    )? {
        "DAILY" => Granularity::Daily,
        "MONTHLY" => Granularity::Monthly,
        _ => {
            return Err(CeError::validation(
                "HOURLY granularity is not available in the sandbox: its spend rows are daily; ask for DAILY or MONTHLY",
            ));
        }
    };
    let metrics = required(body.metrics, "metrics")?;
    if metrics.is_empty() {
        return Err(CeError::validation(
            "Metrics is empty; name at least one, such as UnblendedCost",
        ));
    }
    for metric in &metrics {
        if USAGE_METRICS.contains(&metric.as_str()) {
            return Err(CeError::validation(format!(
                "The sandbox's spend rows have amounts only, no usage quantities: ask for one of {} instead of {metric}",
                COST_METRICS.join(", ")
            )));
        }
        if !COST_METRICS.contains(&metric.as_str()) {
            return Err(CeError::validation(format!(
                "Invalid metric '{}': the metrics are {}, {}",
                shorten(metric),
                COST_METRICS.join(", "),
                USAGE_METRICS.join(", ")
            )));
        }
    }
    let definitions = body.group_by.unwrap_or_default();
    if definitions.len() > MAX_GROUP_BY {
        return Err(CeError::validation(format!(
            "GroupBy has {} entries; it takes at most {MAX_GROUP_BY}",
            definitions.len()
        )));
    }
    let mut group_by = Vec::new();
    let mut echoed = Vec::new();
    for definition in definitions {
        let kind = required(definition.kind, "groupBy.type")?;
        let kind = enum_value(
            &kind,
            "groupBy.type",
            &["DIMENSION", "TAG", "COST_CATEGORY"],
        )?;
        let key = required(definition.key, "groupBy.key")?;
        group_by.push(match kind {
            "TAG" => {
                check_key(&key, "The GroupBy tag key")?;
                Grouping::Tag(key.clone())
            }
            "DIMENSION" if key == "SERVICE" => Grouping::Service,
            "DIMENSION" => {
                return Err(CeError::validation(format!(
                    "The sandbox groups by the dimension SERVICE only (or by TAG), not '{}'",
                    shorten(&key)
                )));
            }
            _ => {
                return Err(CeError::validation(
                    "The sandbox has no cost categories: group by TAG or by the dimension SERVICE",
                ));
            }
        });
        echoed.push((kind.to_string(), key));
    }
    let filter = body.filter.map(filter).transpose()?;
    let first = match body.next_page_token {
        None => 0,
        Some(token) => {
            let parsed = token.split_once('.').and_then(|(first, print)| {
                Some((
                    first.parse::<usize>().ok().filter(|n| *n > 0)?,
                    u64::from_str_radix(print, 16).ok()?,
                ))
            });
            match parsed {
                None => return Err(invalid_token("NextPageToken", &token)),
                Some((_, print)) if print != fingerprint => {
                    return Err(CeError::new(
                        "RequestChangedException",
                        "Your request parameters changed between pages. Try again with the old parameters or without a pagination token.",
                    ));
                }
                Some((first, _)) => first,
            }
        }
    };
    Ok(CostQuery {
        start,
        end,
        granularity,
        metrics,
        filter,
        group_by,
        definitions: echoed,
        first,
        fingerprint,
    })
}

fn filter(expression: Expression) -> Result<Filter, CeError> {
    let Expression {
        or,
        and,
        not,
        dimensions,
        tags,
        cost_categories,
    } = expression;
    let given = [
        or.is_some(),
        and.is_some(),
        not.is_some(),
        dimensions.is_some(),
        tags.is_some(),
        cost_categories.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(CeError::validation(
            "A filter Expression holds exactly one of And, Or, Not, Dimensions, Tags and CostCategories",
        ));
    }
    let list = |all: Vec<Expression>, name: &str| -> Result<Vec<Filter>, CeError> {
        if all.is_empty() {
            return Err(CeError::validation(format!(
                "{name} is empty; it takes expressions"
            )));
        }
        all.into_iter().map(filter).collect()
    };
    if let Some(all) = and {
        return Ok(Filter::And(list(all, "And")?));
    }
    if let Some(any) = or {
        return Ok(Filter::Or(list(any, "Or")?));
    }
    if let Some(inner) = not {
        return Ok(Filter::Not(Box::new(filter(*inner)?)));
    }
    if cost_categories.is_some() {
        return Err(CeError::validation(
            "The sandbox has no cost categories: filter on Tags or on the dimension SERVICE",
        ));
    }
    if let Some(values) = dimensions {
        let key = required(values.key, "filter.dimensions.key")?;
        if key != "SERVICE" {
            return Err(CeError::validation(format!(
                "The sandbox filters on the dimension SERVICE only (or on Tags), not '{}'",
                shorten(&key)
            )));
        }
        let options = values.match_options.unwrap_or_default();
        if options.iter().any(|o| o != "EQUALS") {
            return Err(CeError::validation(format!(
                "The sandbox matches dimensions with EQUALS only, not {}",
                options.join(", ")
            )));
        }
        return Ok(Filter::Service(values.values.unwrap_or_default()));
    }
    let Some(values) = tags else {
        // One of the six is given (checked above).
        return Err(CeError::validation("A filter Expression is empty"));
    };
    let key = required(values.key, "filter.tags.key")?;
    let options = values.match_options.unwrap_or_default();
    if let Some(other) = options.iter().find(|o| *o != "EQUALS" && *o != "ABSENT") {
        return Err(CeError::validation(format!(
            "The sandbox matches tags with EQUALS and ABSENT only, not {}",
            shorten(other)
        )));
    }
    let values_given = values.values.as_ref().is_some_and(|v| !v.is_empty());
    // A key without values matches the spend without the key, as AWS documents.
    let absent = options.iter().any(|o| o == "ABSENT") || (!values_given && options.is_empty());
    Ok(Filter::Tag {
        key,
        values: values.values.unwrap_or_default(),
        absent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::{LiveProject, ProjectStatus};

    const NOW: i64 = 1_796_040_000; // 2026-11-30T12:00:00Z

    fn project(id: &str, tags: &[(&str, &str)]) -> LiveProject {
        LiveProject {
            id: id.to_string(),
            object: "organization.project".to_string(),
            name: id.to_string(),
            arn: None,
            created_at: 1,
            status: ProjectStatus::Active,
            archived_at: None,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            data_retention: None,
        }
    }

    fn store() -> Store {
        Store::new(
            "us-east-1",
            "123456789012",
            vec![
                project("proj_a", &[("CostCenter", "CC-1"), ("Team", "Risk")]),
                project("proj_b", &[("CostCenter", "CC-2")]),
            ],
        )
    }

    fn explorer(page_size: Option<usize>) -> CostExplorer {
        let mut rows = Vec::new();
        for (i, day) in ["2026-11-01", "2026-11-02", "2026-11-03"]
            .iter()
            .enumerate()
        {
            for project in ["proj_a", "proj_b", "default"] {
                rows.push(json!({"date": day, "service": "Amazon Bedrock", "project_id": project, "amount": format!("1.{i}1")}));
            }
        }
        let spend = Spend::parse(Value::from(rows).to_string().as_bytes()).unwrap();
        CostExplorer::new(spend, ["Team".to_string()], page_size, false)
    }

    fn ask(explorer: &CostExplorer, store: &Store, op: Operation, body: Value) -> Value {
        let request = parse(op, body.to_string().as_bytes()).unwrap();
        serde_json::from_slice(&explorer.read(&request, store, NOW).unwrap()).unwrap()
    }

    fn write(explorer: &CostExplorer, store: &mut Store, request: &Request) -> (Value, bool) {
        let (answer, changed) = explorer.write(request, store, NOW).unwrap();
        (serde_json::from_slice(&answer).unwrap(), changed)
    }

    fn refused(op: Operation, body: Value) -> CeError {
        parse(op, body.to_string().as_bytes()).unwrap_err()
    }

    #[test]
    fn targets_name_operations() {
        assert_eq!(
            Operation::from_target("AWSInsightsIndexService.GetCostAndUsage").unwrap(),
            Operation::GetCostAndUsage
        );
        let unknown =
            Operation::from_target("AWSInsightsIndexService.GetDimensionValues").unwrap_err();
        assert_eq!(unknown.code, "UnknownOperationException");
        assert!(unknown.message.contains("GetDimensionValues"));
        assert!(Operation::from_target("GetCostAndUsage").is_err());
        assert_eq!(
            Operation::ListCostAllocationTags
                .linked_account_denial()
                .message,
            "Failed to list Cost Allocation Tags: Linked account doesn't have access to cost allocation tags."
        );
    }

    #[test]
    fn grouping_follows_active_keys_only() {
        let explorer = explorer(None);
        let store = store();
        let body = |key: &str| {
            json!({"TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"}, "Granularity": "MONTHLY",
                   "Metrics": ["UnblendedCost"], "Filter": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
                   "GroupBy": [{"Type": "TAG", "Key": key}]})
        };
        // CostCenter is seen but inactive: everything is `CostCenter$`.
        let answer = ask(
            &explorer,
            &store,
            Operation::GetCostAndUsage,
            body("CostCenter"),
        );
        assert_eq!(
            answer["ResultsByTime"][0]["Groups"],
            json!([{"Keys": ["CostCenter$"], "Metrics": {"UnblendedCost": {"Amount": "9.99", "Unit": "USD"}}}])
        );
        assert_eq!(answer["ResultsByTime"][0]["Total"], json!({}));
        assert_eq!(
            answer["GroupDefinitions"],
            json!([{"Type": "TAG", "Key": "CostCenter"}])
        );
        // Team is active: proj_a's spend carries it.
        let answer = ask(&explorer, &store, Operation::GetCostAndUsage, body("Team"));
        let groups: Vec<(String, String)> = answer["ResultsByTime"][0]["Groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["Keys"][0].as_str().unwrap().to_string(),
                    g["Metrics"]["UnblendedCost"]["Amount"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        assert_eq!(
            groups,
            [
                ("Team$".to_string(), "6.66".to_string()),
                ("Team$Risk".to_string(), "3.33".to_string())
            ]
        );
    }

    #[test]
    fn result_periods_are_paged_with_a_token_bound_to_the_request() {
        let explorer = explorer(Some(2));
        let store = store();
        let body = json!({"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-04"}, "Granularity": "DAILY", "Metrics": ["UnblendedCost", "BlendedCost"]});
        let first = ask(&explorer, &store, Operation::GetCostAndUsage, body.clone());
        assert_eq!(first["ResultsByTime"].as_array().unwrap().len(), 2);
        assert_eq!(
            first["ResultsByTime"][1]["Total"]["BlendedCost"]["Amount"],
            "3.33"
        );
        assert!(first.get("GroupDefinitions").is_none());
        let token = first["NextPageToken"].as_str().unwrap().to_string();
        let mut second_body = body.clone();
        second_body["NextPageToken"] = json!(token);
        let second = ask(&explorer, &store, Operation::GetCostAndUsage, second_body);
        assert_eq!(second["ResultsByTime"].as_array().unwrap().len(), 1);
        assert_eq!(
            second["ResultsByTime"][0]["TimePeriod"]["Start"],
            "2026-11-03"
        );
        assert!(second.get("NextPageToken").is_none());

        let mut changed = body.clone();
        changed["Granularity"] = json!("MONTHLY");
        changed["NextPageToken"] = json!(token);
        assert_eq!(
            refused(Operation::GetCostAndUsage, changed).code,
            "RequestChangedException"
        );
        let mut bogus = body.clone();
        bogus["NextPageToken"] = json!("p2");
        assert_eq!(
            refused(Operation::GetCostAndUsage, bogus).code,
            "InvalidNextTokenException"
        );
        // A well-formed token past the end is refused too.
        let mut past = body;
        past["NextPageToken"] = json!(page_token(10, fingerprint(&past)));
        let request = parse(Operation::GetCostAndUsage, past.to_string().as_bytes()).unwrap();
        assert_eq!(
            explorer.read(&request, &store, NOW).unwrap_err().code,
            "InvalidNextTokenException"
        );
    }

    #[test]
    fn tag_lists_page_and_filter() {
        let explorer = explorer(None);
        let store = store();
        let answer = ask(
            &explorer,
            &store,
            Operation::ListCostAllocationTags,
            json!({"MaxResults": 1}),
        );
        assert_eq!(
            answer["CostAllocationTags"],
            json!([{"TagKey": "CostCenter", "Type": "UserDefined", "Status": "Inactive", "LastUsedDate": "2026-11-01T00:00:00Z"}])
        );
        let token = answer["NextToken"].as_str().unwrap();
        let next = ask(
            &explorer,
            &store,
            Operation::ListCostAllocationTags,
            json!({"MaxResults": 1, "NextToken": token}),
        );
        assert_eq!(next["CostAllocationTags"][0]["TagKey"], "Team");
        assert_eq!(next["CostAllocationTags"][0]["Status"], "Active");
        assert!(next.get("NextToken").is_none());

        let active = ask(
            &explorer,
            &store,
            Operation::ListCostAllocationTags,
            json!({"Status": "Active", "TagKeys": ["CostCenter", "Team", "Nope"]}),
        );
        assert_eq!(active["CostAllocationTags"].as_array().unwrap().len(), 1);
        let generated = ask(
            &explorer,
            &store,
            Operation::ListCostAllocationTags,
            json!({"Type": "AWSGenerated"}),
        );
        assert_eq!(generated["CostAllocationTags"], json!([]));
    }

    #[test]
    fn bad_requests_get_validation_errors() {
        let keys: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
        let too_many = refused(Operation::ListCostAllocationTags, json!({"TagKeys": keys}));
        assert_eq!(too_many.code, "ValidationException");
        assert!(
            too_many.message.contains("1 to 100"),
            "{}",
            too_many.message
        );
        for body in [
            json!({"TagKeys": []}),
            json!({"MaxResults": 0}),
            json!({"MaxResults": 1001}),
            json!({"Status": "Enabled"}),
        ] {
            assert_eq!(
                refused(Operation::ListCostAllocationTags, body).code,
                "ValidationException"
            );
        }
        assert_eq!(
            refused(
                Operation::ListCostAllocationTags,
                json!({"NextToken": "zz"})
            )
            .code,
            "InvalidNextTokenException"
        );
        assert_eq!(
            refused(Operation::ListCostAllocationTags, json!({"Tagkeys": ["a"]})).code,
            "SerializationException"
        );

        let entries: Vec<Value> = (0..21)
            .map(|i| json!({"TagKey": format!("k{i}"), "Status": "Active"}))
            .collect();
        let batch = refused(
            Operation::UpdateCostAllocationTagsStatus,
            json!({"CostAllocationTagsStatus": entries}),
        );
        assert!(batch.message.contains("1 to 20"), "{}", batch.message);
        assert_eq!(
            refused(
                Operation::UpdateCostAllocationTagsStatus,
                json!({"CostAllocationTagsStatus": []})
            )
            .code,
            "ValidationException"
        );
        assert_eq!(
            refused(Operation::UpdateCostAllocationTagsStatus, json!({})).code,
            "ValidationException"
        );

        let cost = |change: Value| {
            let mut body = json!({"TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"}, "Granularity": "MONTHLY", "Metrics": ["UnblendedCost"]});
            for (k, v) in change.as_object().unwrap() {
                body[k] = v.clone();
            }
            refused(Operation::GetCostAndUsage, body)
        };
        let backwards = cost(json!({"TimePeriod": {"Start": "2026-12-01", "End": "2026-11-01"}}));
        assert!(backwards.message.contains("before end date"));
        assert!(
            cost(json!({"TimePeriod": {"Start": "2026-11-1", "End": "2026-12-01"}}))
                .message
                .contains("YYYY-MM-DD")
        );
        assert!(
            cost(json!({"Granularity": "HOURLY"}))
                .message
                .contains("DAILY or MONTHLY")
        );
        assert!(
            cost(json!({"Metrics": ["UsageQuantity"]}))
                .message
                .contains("usage")
        );
        assert!(
            cost(json!({"Metrics": ["Cost"]}))
                .message
                .contains("Invalid metric")
        );
        assert!(cost(json!({"GroupBy": [{"Type": "TAG", "Key": "a"}, {"Type": "TAG", "Key": "b"}, {"Type": "TAG", "Key": "c"}]})).message.contains("at most 2"));
        assert!(
            cost(json!({"GroupBy": [{"Type": "DIMENSION", "Key": "REGION"}]}))
                .message
                .contains("SERVICE")
        );
        assert!(cost(json!({"Filter": {}})).message.contains("exactly one"));
        assert!(
            cost(json!({"Filter": {"Tags": {"Key": "a", "MatchOptions": ["STARTS_WITH"]}}}))
                .message
                .contains("STARTS_WITH")
        );

        assert!(
            refused(
                Operation::StartCostAllocationTagBackfill,
                json!({"BackfillFrom": "March"})
            )
            .message
            .contains("2026-03-01T00:00:00Z")
        );
        assert_eq!(
            refused(Operation::StartCostAllocationTagBackfill, json!({})).code,
            "ValidationException"
        );
        assert_eq!(
            refused(Operation::GetCostAndUsage, json!([1])).code,
            "SerializationException"
        );
        assert_eq!(
            parse(Operation::GetCostAndUsage, b"{not json")
                .unwrap_err()
                .code,
            "SerializationException"
        );
    }

    #[test]
    fn writes_change_billing_and_say_so() {
        let explorer = explorer(None);
        let mut store = store();
        let request = parse(
            Operation::UpdateCostAllocationTagsStatus,
            json!({"CostAllocationTagsStatus": [{"TagKey": "CostCenter", "Status": "Active"}, {"TagKey": "tagC", "Status": "Active"}]})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let (answer, changed) = write(&explorer, &mut store, &request);
        assert!(changed);
        assert_eq!(
            answer,
            json!({"Errors": [{"TagKey": "tagC", "Code": "TagKeysNotFoundException", "Message": "Failed to update Cost Allocation Tag: tagC"}]})
        );
        let (_, again) = write(&explorer, &mut store, &request);
        assert!(!again, "setting the status a key has is a no-op");
        let listed = ask(
            &explorer,
            &store,
            Operation::ListCostAllocationTags,
            json!({"TagKeys": ["CostCenter"]}),
        );
        assert_eq!(
            listed["CostAllocationTags"][0]["LastUpdatedDate"],
            "2026-11-30T12:00:00Z"
        );

        let backfill = parse(
            Operation::StartCostAllocationTagBackfill,
            br#"{"BackfillFrom": "2026-03-01T00:00:00Z"}"#,
        )
        .unwrap();
        let (answer, changed) = write(&explorer, &mut store, &backfill);
        assert!(changed);
        assert_eq!(
            answer,
            json!({"BackfillRequest": {"BackfillFrom": "2026-03-01T00:00:00Z", "RequestedAt": "2026-11-30T12:00:00Z", "BackfillStatus": "PROCESSING", "LastUpdatedAt": "2026-11-30T12:00:00Z"}})
        );
        let history: Value = serde_json::from_slice(
            &explorer
                .read(
                    &parse(Operation::ListCostAllocationTagBackfillHistory, b"").unwrap(),
                    &store,
                    NOW + 60,
                )
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            history["BackfillRequests"][0]["BackfillStatus"],
            "SUCCEEDED"
        );
        assert_eq!(
            history["BackfillRequests"][0]["CompletedAt"],
            "2026-11-30T12:01:00Z"
        );
    }
}
