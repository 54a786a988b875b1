//! `tagrec sandbox serve` as AWS Cost Explorer, over HTTP: each operation, its errors in the
//! awsJson 1.1 shape, paging, the spend of `--costs` grouped by the tags the projects carry at the
//! time of the call, `--active-cost-tags`, `--linked-account`, `--sigv4`, and Billing's settings
//! kept in the state file across a restart.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tagrec::sandbox::day::{self, Day};

use crate::support::{Reply, Sandbox, Workspace, assert_exit, http, project, read_log, stderr};

/// Three projects with spend in November 2026 (and `default`), one without.
fn seed() -> Value {
    json!([
        project(
            "proj_chat",
            "Chat",
            json!({"CostCenter": "CC-1001", "Team": "Risk"})
        ),
        project("proj_search", "Search", json!({"CostCenter": "CC-2002"})),
        project("proj_batch", "Batch", json!({"Team": "Data"})),
        project("proj_idle", "Idle", json!({"Owner": "zoe"})),
    ])
}

fn row(date: &str, project: &str, amount: &str) -> Value {
    json!({"date": date, "service": "Amazon Bedrock", "project_id": project, "amount": amount})
}

fn costs() -> Value {
    json!([
        row("2026-11-01", "proj_chat", "10.1000000001"),
        row("2026-11-01", "proj_search", "0.1"),
        row("2026-11-02", "proj_search", "0.2"),
        row("2026-11-02", "proj_batch", "3.00"),
        row("2026-11-03", "default", "1.5"),
        {"date": "2026-11-03", "service": "Claude Sonnet 4.5 (Amazon Bedrock Edition)", "project_id": "proj_chat", "amount": "7"},
        row("2026-10-15", "proj_chat", "2"),
    ])
}

/// A workspace with `seed.json` and `costs.json`, and the emulator on them with `flags`.
fn serve(ws: &Workspace, costs: &Value, flags: &[&str]) -> Sandbox {
    let costs_path = ws.write("costs.json", &costs.to_string());
    let log = ws.path("requests.jsonl");
    let mut args = vec![
        "--costs".to_string(),
        costs_path.display().to_string(),
        "--request-log".to_string(),
        log.display().to_string(),
    ];
    args.extend(flags.iter().map(|f| f.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ws.serve(&seed(), &args)
}

/// A Cost Explorer call, as a hand-written client sends it (`Content-Type: application/json`).
fn ce(sandbox: &Sandbox, op: &str, body: &Value) -> Reply {
    let target = format!("AWSInsightsIndexService.{op}");
    http(
        sandbox.addr,
        "POST",
        "/",
        &[("X-Amz-Target", &target)],
        Some(body.to_string().as_bytes()),
    )
    .unwrap_or_else(|e| panic!("{op}: {e}"))
}

/// The body of a 200 answer.
#[track_caller]
fn ok(reply: &Reply) -> Value {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    reply.json()
}

/// The code and message of an awsJson 1.1 error, checked to be in the header too.
#[track_caller]
fn error(reply: &Reply) -> (u16, String, String) {
    let body = reply.json();
    let code = body["__type"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        reply.header("x-amzn-ErrorType"),
        Some(code.as_str()),
        "{body}"
    );
    (
        reply.status,
        code,
        body["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn by_tag(key: &str, start: &str, end: &str, granularity: &str) -> Value {
    json!({
        "TimePeriod": {"Start": start, "End": end},
        "Granularity": granularity,
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "TAG", "Key": key}],
    })
}

/// `KEYS -> amount` of each group of each period.
fn groups(answer: &Value) -> Vec<Vec<(String, String)>> {
    answer["ResultsByTime"]
        .as_array()
        .unwrap()
        .iter()
        .map(|period| {
            period["Groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    (
                        g["Keys"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|k| k.as_str().unwrap())
                            .collect::<Vec<_>>()
                            .join(" "),
                        g["Metrics"]["UnblendedCost"]["Amount"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                    )
                })
                .collect()
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn operations(ws: &Workspace) -> Vec<String> {
    read_log(&ws.path("requests.jsonl"))
        .iter()
        .filter_map(|line| line["operation"].as_str().map(str::to_string))
        .collect()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn the_first_lines_name_both_endpoints() {
    let mut child = std::process::Command::new(crate::support::tagrec_path())
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = [String::new(), String::new()];
    for line in &mut lines {
        std::io::BufRead::read_line(&mut reader, line).unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    let addr = lines[0]
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.strip_suffix("/v1"))
        .unwrap_or_else(|| panic!("{lines:?}"))
        .to_string();
    assert_eq!(lines[1].trim(), format!("cost explorer on http://{addr}/"));
}

#[test]
fn tags_are_seen_on_projects_with_spend_and_start_inactive_unless_listed() {
    let ws = Workspace::new();
    let sandbox = serve(&ws, &costs(), &["--active-cost-tags", "Team"]);
    let listed = ok(&ce(&sandbox, "ListCostAllocationTags", &json!({})));
    // Owner is only on a project without spend: not seen, not listed.
    assert_eq!(
        listed,
        json!({"CostAllocationTags": [
            {"TagKey": "CostCenter", "Type": "UserDefined", "Status": "Inactive", "LastUsedDate": "2026-11-01T00:00:00Z"},
            {"TagKey": "Team", "Type": "UserDefined", "Status": "Active", "LastUsedDate": "2026-11-01T00:00:00Z"},
        ]})
    );
    let filtered = ok(&ce(
        &sandbox,
        "ListCostAllocationTags",
        &json!({"Status": "Inactive", "TagKeys": ["CostCenter", "Team", "Owner"]}),
    ));
    assert_eq!(filtered["CostAllocationTags"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["CostAllocationTags"][0]["TagKey"], "CostCenter");
    let generated = ok(&ce(
        &sandbox,
        "ListCostAllocationTags",
        &json!({"Type": "AWSGenerated"}),
    ));
    assert_eq!(generated, json!({"CostAllocationTags": []}));
    assert_eq!(operations(&ws), ["ListCostAllocationTags"; 3]);
}

#[test]
fn activating_answers_200_with_a_per_key_error_for_unseen_keys() {
    let ws = Workspace::new();
    let sandbox = serve(&ws, &costs(), &[]);
    let body = json!({"CostAllocationTagsStatus": [
        {"TagKey": "CostCenter", "Status": "Active"},
        {"TagKey": "Owner", "Status": "Active"},
    ]});
    let answer = ok(&ce(&sandbox, "UpdateCostAllocationTagsStatus", &body));
    assert_eq!(
        answer,
        json!({"Errors": [{"TagKey": "Owner", "Code": "TagKeysNotFoundException", "Message": "Failed to update Cost Allocation Tag: Owner"}]})
    );
    let listed = ok(&ce(
        &sandbox,
        "ListCostAllocationTags",
        &json!({"TagKeys": ["CostCenter"]}),
    ));
    let tag = &listed["CostAllocationTags"][0];
    assert_eq!(tag["Status"], "Active");
    let updated = tag["LastUpdatedDate"].as_str().unwrap().to_string();
    assert!(
        day::parse_timestamp(&updated).is_some_and(|t| (now() - t).abs() < 600),
        "{updated}"
    );

    // Again: a no-op, nothing written (the log says so), the date unchanged.
    let again = ok(&ce(
        &sandbox,
        "UpdateCostAllocationTagsStatus",
        &json!({"CostAllocationTagsStatus": [{"TagKey": "CostCenter", "Status": "Active"}]}),
    ));
    assert_eq!(again, json!({"Errors": []}));
    let log = read_log(&ws.path("requests.jsonl"));
    let committed: Vec<bool> = log
        .iter()
        .filter(|l| l["operation"] == "UpdateCostAllocationTagsStatus")
        .map(|l| l["committed"].as_bool().unwrap())
        .collect();
    assert_eq!(committed, [true, false]);
    let listed = ok(&ce(
        &sandbox,
        "ListCostAllocationTags",
        &json!({"TagKeys": ["CostCenter"]}),
    ));
    assert_eq!(listed["CostAllocationTags"][0]["LastUpdatedDate"], updated);
}

#[test]
fn spend_is_grouped_by_active_tags_as_the_projects_carry_them_now() {
    let ws = Workspace::new();
    let sandbox = serve(&ws, &costs(), &[]);
    let november = by_tag("CostCenter", "2026-11-01", "2026-12-01", "MONTHLY");

    // Not active: all of it is `CostCenter$`, summed exactly.
    let answer = ok(&ce(&sandbox, "GetCostAndUsage", &november));
    assert_eq!(
        groups(&answer),
        [pairs(&[("CostCenter$", "14.9000000001")])]
    );
    assert_eq!(
        answer["GroupDefinitions"],
        json!([{"Type": "TAG", "Key": "CostCenter"}])
    );
    assert_eq!(answer["ResultsByTime"][0]["Total"], json!({}));
    assert_eq!(answer["ResultsByTime"][0]["Estimated"], false);
    assert_eq!(answer["DimensionValueAttributes"], json!([]));

    ok(&ce(
        &sandbox,
        "UpdateCostAllocationTagsStatus",
        &json!({"CostAllocationTagsStatus": [{"TagKey": "CostCenter", "Status": "Active"}]}),
    ));
    let answer = ok(&ce(&sandbox, "GetCostAndUsage", &november));
    // 0.1 + 0.2 is 0.3 exactly; Batch (no CostCenter) and `default` are `CostCenter$`; the
    // Marketplace model's spend is filtered out by SERVICE.
    assert_eq!(
        groups(&answer),
        [pairs(&[
            ("CostCenter$", "4.50"),
            ("CostCenter$CC-1001", "10.1000000001"),
            ("CostCenter$CC-2002", "0.3"),
        ])]
    );

    // A colleague retags Search: its past spend follows the tag it has now.
    sandbox
        .request(
            "POST",
            "/organization/projects/proj_search",
            Some(r#"{"add_tags": {"CostCenter": "CC-3003"}}"#),
        )
        .json();
    let answer = ok(&ce(&sandbox, "GetCostAndUsage", &november));
    assert!(
        groups(&answer)[0].contains(&("CostCenter$CC-3003".to_string(), "0.3".to_string())),
        "{answer}"
    );

    // Daily, without a filter, by service and tag; and without GroupBy, the total.
    let daily = json!({
        "TimePeriod": {"Start": "2026-11-02", "End": "2026-11-04"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost", "AmortizedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "TAG", "Key": "CostCenter"}],
    });
    let answer = ok(&ce(&sandbox, "GetCostAndUsage", &daily));
    assert_eq!(
        groups(&answer),
        [
            pairs(&[
                ("Amazon Bedrock CostCenter$", "3.00"),
                ("Amazon Bedrock CostCenter$CC-3003", "0.2"),
            ]),
            pairs(&[
                ("Amazon Bedrock CostCenter$", "1.5"),
                (
                    "Claude Sonnet 4.5 (Amazon Bedrock Edition) CostCenter$CC-1001",
                    "7"
                ),
            ]),
        ]
    );
    let mut total = daily.clone();
    total.as_object_mut().unwrap().remove("GroupBy");
    let answer = ok(&ce(&sandbox, "GetCostAndUsage", &total));
    assert_eq!(
        answer["ResultsByTime"][1]["Total"],
        json!({"UnblendedCost": {"Amount": "8.5", "Unit": "USD"}, "AmortizedCost": {"Amount": "8.5", "Unit": "USD"}})
    );
    assert_eq!(answer["ResultsByTime"][1]["Groups"], json!([]));
    assert!(answer.get("GroupDefinitions").is_none());

    // Untagged spend, as AWS documents the filter: the key without values.
    let untagged = json!({
        "TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"And": [
            {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
            {"Tags": {"Key": "CostCenter"}},
        ]},
    });
    let answer = ok(&ce(&sandbox, "GetCostAndUsage", &untagged));
    assert_eq!(
        answer["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"],
        "4.50"
    );
}

#[test]
fn more_keys_than_a_page_and_more_periods_than_a_page_are_paged() {
    let ws = Workspace::new();
    // 150 keys on one project with spend.
    let tags: serde_json::Map<String, Value> = (0..150)
        .map(|i| (format!("Key{i:03}"), json!("v")))
        .collect();
    let seed = json!([project("proj_many", "Many", Value::Object(tags))]);
    let costs = json!(
        (1..=5)
            .map(|d| row(&format!("2026-11-0{d}"), "proj_many", "1.25"))
            .collect::<Vec<_>>()
    );
    let costs_path = ws.write("costs.json", &costs.to_string());
    let log = ws.path("requests.jsonl").display().to_string();
    let costs_arg = costs_path.display().to_string();
    let sandbox = ws.serve(
        &seed,
        &[
            "--costs",
            &costs_arg,
            "--ce-page-size",
            "2",
            "--request-log",
            &log,
        ],
    );

    // MaxResults 1000 is allowed, but a page holds at most 100 keys.
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"MaxResults": 1000});
        if let Some(token) = &token {
            body["NextToken"] = json!(token);
        }
        let page = ok(&ce(&sandbox, "ListCostAllocationTags", &body));
        pages += 1;
        let tags = page["CostAllocationTags"].as_array().unwrap();
        assert!(tags.len() <= 100);
        keys.extend(
            tags.iter()
                .map(|t| t["TagKey"].as_str().unwrap().to_string()),
        );
        match page["NextToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    let expected: Vec<String> = (0..150).map(|i| format!("Key{i:03}")).collect();
    assert_eq!(keys, expected);

    // Five daily periods, two per page: three pages, every period once.
    let request = json!({"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-06"}, "Granularity": "DAILY", "Metrics": ["UnblendedCost"]});
    let mut starts = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = request.clone();
        if let Some(token) = &token {
            body["NextPageToken"] = json!(token);
        }
        let page = ok(&ce(&sandbox, "GetCostAndUsage", &body));
        for period in page["ResultsByTime"].as_array().unwrap() {
            assert_eq!(period["Total"]["UnblendedCost"]["Amount"], "1.25");
            starts.push(period["TimePeriod"]["Start"].as_str().unwrap().to_string());
        }
        match page["NextPageToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(
        starts,
        [
            "2026-11-01",
            "2026-11-02",
            "2026-11-03",
            "2026-11-04",
            "2026-11-05"
        ]
    );
    let counted = operations(&ws)
        .iter()
        .filter(|op| *op == "GetCostAndUsage")
        .count();
    assert_eq!(counted, 3, "each page is one logged request");

    // Tokens that this endpoint did not give, or from another request.
    let mut bogus = request.clone();
    bogus["NextPageToken"] = json!("page-2");
    let (status, code, _) = error(&ce(&sandbox, "GetCostAndUsage", &bogus));
    assert_eq!((status, code.as_str()), (400, "InvalidNextTokenException"));
    let first = ok(&ce(&sandbox, "GetCostAndUsage", &request));
    let mut other = request.clone();
    other["TimePeriod"]["End"] = json!("2026-11-05");
    other["NextPageToken"] = first["NextPageToken"].clone();
    assert_eq!(
        error(&ce(&sandbox, "GetCostAndUsage", &other)).1,
        "RequestChangedException"
    );
    let (_, code, _) = error(&ce(
        &sandbox,
        "ListCostAllocationTags",
        &json!({"NextToken": "not-a-token"}),
    ));
    assert_eq!(code, "InvalidNextTokenException");
}

#[test]
fn bad_requests_get_awsjson_errors_and_the_server_keeps_serving() {
    let ws = Workspace::new();
    let sandbox = serve(&ws, &costs(), &[]);

    let unknown = ce(&sandbox, "GetDimensionValues", &json!({}));
    let (status, code, message) = error(&unknown);
    assert_eq!((status, code.as_str()), (400, "UnknownOperationException"));
    assert!(message.contains("GetDimensionValues"), "{message}");

    let batch: Vec<Value> = (0..21)
        .map(|i| json!({"TagKey": format!("K{i}"), "Status": "Active"}))
        .collect();
    let (status, code, message) = error(&ce(
        &sandbox,
        "UpdateCostAllocationTagsStatus",
        &json!({"CostAllocationTagsStatus": batch}),
    ));
    assert_eq!((status, code.as_str()), (400, "ValidationException"));
    assert!(message.contains("1 to 20"), "{message}");

    let keys: Vec<String> = (0..101).map(|i| format!("K{i}")).collect();
    let (_, code, message) = error(&ce(
        &sandbox,
        "ListCostAllocationTags",
        &json!({"TagKeys": keys}),
    ));
    assert_eq!(code, "ValidationException");
    assert!(message.contains("1 to 100"), "{message}");

    let (_, code, message) = error(&ce(
        &sandbox,
        "ListCostAllocationTags",
        &json!({"MaxResults": 0}),
    ));
    assert_eq!(code, "ValidationException");
    assert!(message.contains("1 to 1000"), "{message}");

    let (_, code, message) = error(&ce(
        &sandbox,
        "GetCostAndUsage",
        &by_tag("CostCenter", "2026-11-01", "2026-11-31", "MONTHLY"),
    ));
    assert_eq!(code, "ValidationException");
    assert!(message.contains("2026-11-31"), "{message}");

    let (_, code, message) = error(&ce(
        &sandbox,
        "ListCostAllocationTags",
        &json!({"Tagkeys": ["CostCenter"]}),
    ));
    assert_eq!(code, "SerializationException");
    assert!(message.contains("Tagkeys"), "{message}");

    let broken = http(
        sandbox.addr,
        "POST",
        "/",
        &[("X-Amz-Target", "AWSInsightsIndexService.GetCostAndUsage")],
        Some(b"{\"TimePeriod\": "),
    )
    .unwrap();
    assert_eq!(error(&broken).1, "SerializationException");

    // A form body is STS's; a JSON call says its content type.
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: text/plain\r\nX-Amz-Target: AWSInsightsIndexService.ListCostAllocationTags\r\nContent-Length: 2\r\n\r\n{{}}",
        sandbox.addr
    );
    let answer = String::from_utf8(sandbox.raw(raw.as_bytes()).unwrap()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("application/x-amz-json-1.1"), "{answer}");

    // Still serving, and every call was logged with its operation.
    ok(&ce(&sandbox, "ListCostAllocationTags", &json!({})));
    let ops = operations(&ws);
    assert_eq!(ops.first().map(String::as_str), Some("GetDimensionValues"));
    assert_eq!(ops.len(), 9);
}

#[test]
fn backfills_follow_awss_rules_and_are_listed_newest_first() {
    let ws = Workspace::new();
    let sandbox = serve(&ws, &costs(), &[]);
    let this_month = Day::from_unix(now()).first_of_month();
    let backfill = |from: Day| {
        ce(
            &sandbox,
            "StartCostAllocationTagBackfill",
            &json!({"BackfillFrom": from.timestamp()}),
        )
    };

    let (_, code, message) = error(&backfill(this_month.add_months(1)));
    assert_eq!(code, "ValidationException");
    assert!(message.contains("future"), "{message}");
    let (_, code, message) = error(&backfill(this_month.add_months(-13)));
    assert_eq!(code, "ValidationException");
    assert!(message.contains("12 months"), "{message}");
    let (_, code, message) = error(&backfill(this_month.next()));
    assert_eq!(code, "ValidationException");
    assert!(message.contains("first day of a month"), "{message}");

    let from = this_month.add_months(-12);
    let started = ok(&backfill(from));
    let request = &started["BackfillRequest"];
    assert_eq!(request["BackfillFrom"], from.timestamp());
    assert_eq!(request["BackfillStatus"], "PROCESSING");
    assert!(request.get("CompletedAt").is_none());

    let (status, code, message) = error(&backfill(this_month));
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            400,
            "BackfillLimitExceededException",
            "A request to backfill is already in progress"
        )
    );
    let history = ok(&ce(
        &sandbox,
        "ListCostAllocationTagBackfillHistory",
        &json!({}),
    ));
    assert_eq!(
        history,
        json!({"BackfillRequests": [request.clone()]}),
        "the refused one is not listed"
    );
}

#[test]
fn statuses_and_backfills_are_kept_in_the_state_file_across_a_restart() {
    let ws = Workspace::new();
    let state = ws.path("state.json").display().to_string();
    let mut sandbox = serve(&ws, &costs(), &["--state", &state]);
    ok(&ce(
        &sandbox,
        "UpdateCostAllocationTagsStatus",
        &json!({"CostAllocationTagsStatus": [{"TagKey": "CostCenter", "Status": "Active"}]}),
    ));
    let before = ok(&ce(&sandbox, "ListCostAllocationTags", &json!({})));
    assert_eq!(before["CostAllocationTags"][0]["Status"], "Active");
    sandbox.kill();
    let saved: Value = serde_json::from_str(&ws.read("state.json")).unwrap();
    assert_eq!(saved["version"], 1, "the state format is the same");
    assert_eq!(
        saved["billing"]["cost_allocation_tags"]["CostCenter"]["status"],
        "Active"
    );

    // A backfill asked for two days ago, as an earlier run would have saved it.
    let now = now();
    let this_month = Day::from_unix(now).first_of_month();
    let old_from = this_month.add_months(-2);
    let mut edited = saved.clone();
    edited["billing"]["backfills"] = json!([{"backfill_from": old_from.timestamp(), "requested_at": day::timestamp(now - 2 * 86_400)}]);
    ws.write("state.json", &edited.to_string());

    // Restarted on the same state: the same statuses and dates.
    let mut sandbox = serve(&ws, &costs(), &["--state", &state]);
    assert_eq!(
        ok(&ce(&sandbox, "ListCostAllocationTags", &json!({}))),
        before
    );
    let history = ok(&ce(
        &sandbox,
        "ListCostAllocationTagBackfillHistory",
        &json!({}),
    ));
    assert_eq!(
        history["BackfillRequests"][0]["BackfillStatus"],
        "SUCCEEDED"
    );
    assert!(history["BackfillRequests"][0]["CompletedAt"].is_string());
    // More than 24 hours ago: a new one is allowed.
    ok(&ce(
        &sandbox,
        "StartCostAllocationTagBackfill",
        &json!({"BackfillFrom": this_month.timestamp()}),
    ));
    sandbox.kill();

    // And again: the new backfill is kept, newest first, and still counts for the 24 hours.
    let sandbox = serve(&ws, &costs(), &["--state", &state]);
    let history = ok(&ce(
        &sandbox,
        "ListCostAllocationTagBackfillHistory",
        &json!({}),
    ));
    let froms: Vec<&str> = history["BackfillRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["BackfillFrom"].as_str().unwrap())
        .collect();
    assert_eq!(froms, [this_month.timestamp(), old_from.timestamp()]);
    let (_, code, _) = error(&ce(
        &sandbox,
        "StartCostAllocationTagBackfill",
        &json!({"BackfillFrom": this_month.timestamp()}),
    ));
    assert_eq!(code, "BackfillLimitExceededException");
}

#[test]
fn a_member_account_is_refused_every_call_with_awss_words() {
    let ws = Workspace::new();
    let sandbox = serve(&ws, &costs(), &["--linked-account"]);
    let calls = [
        (
            "ListCostAllocationTags",
            json!({}),
            "Failed to list Cost Allocation Tags",
        ),
        (
            "UpdateCostAllocationTagsStatus",
            json!({"CostAllocationTagsStatus": [{"TagKey": "CostCenter", "Status": "Active"}]}),
            "Failed to update Cost Allocation Tag",
        ),
        (
            "GetCostAndUsage",
            by_tag("CostCenter", "2026-11-01", "2026-12-01", "MONTHLY"),
            "Failed to get cost and usage",
        ),
        (
            "StartCostAllocationTagBackfill",
            json!({"BackfillFrom": "2026-03-01T00:00:00Z"}),
            "Failed to start Cost Allocation Tag backfill",
        ),
        (
            "ListCostAllocationTagBackfillHistory",
            json!({}),
            "Failed to list Cost Allocation Tag backfill history",
        ),
    ];
    for (op, body, failed) in calls {
        let (status, code, message) = error(&ce(&sandbox, op, &body));
        assert_eq!(
            (status, code.as_str(), message),
            (
                400,
                "AccessDeniedException",
                format!("{failed}: Linked account doesn't have access to cost allocation tags.")
            ),
            "{op}"
        );
    }
}

#[test]
fn with_sigv4_unsigned_calls_are_refused_and_without_it_they_pass() {
    let ws = Workspace::new();
    let sandbox = serve(&ws, &costs(), &["--sigv4", "AKIDCE:secret"]);
    let (status, code, _) = error(&ce(&sandbox, "ListCostAllocationTags", &json!({})));
    assert_eq!(
        (status, code.as_str()),
        (400, "MissingAuthenticationTokenException")
    );
    // The Projects API's own bearer keys are no credentials for Cost Explorer.
    let ws = Workspace::new();
    let open = serve(&ws, &costs(), &["--api-key", "k"]);
    ok(&ce(&open, "ListCostAllocationTags", &json!({})));
}

#[test]
fn injected_faults_come_in_cost_explorers_shape() {
    let ws = Workspace::new();
    let sandbox = serve(&ws, &costs(), &["--fail-rate", "1"]);
    let (status, code, message) = error(&ce(&sandbox, "ListCostAllocationTags", &json!({})));
    assert_eq!((status, code.as_str()), (500, "InternalFailure"));
    assert!(message.contains("--fail-rate"), "{message}");
}

#[test]
fn a_bad_costs_file_stops_the_server_naming_the_file_row_and_place() {
    let ws = Workspace::new();
    let cases = [
        (
            "[\n  {\"date\": \"2026-11-03\", \"service\": \"Amazon Bedrock\", \"project_id\": \"default\", \"amount\": \"1\"},\n  {\"date\": \"03/11/2026\", \"service\": \"Amazon Bedrock\", \"project_id\": \"default\", \"amount\": \"1\"}\n]",
            ":3:",
            "row 2: the date \"03/11/2026\" is not a day written YYYY-MM-DD",
        ),
        (
            r#"[{"date": "2026-11-03", "service": "Amazon Bedrock", "project_id": "default", "amount": "12.3.4"}]"#,
            ":1:",
            "row 1: the amount \"12.3.4\" is not a decimal number",
        ),
        (
            r#"[{"date": "2026-11-03", "service": "Amazon Bedrock", "amount": "1"}]"#,
            ":1:",
            "row 1: missing field `project_id`",
        ),
    ];
    for (text, place, message) in cases {
        let path = ws.write("costs.json", text);
        let output = ws
            .tagrec(&[
                "sandbox",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--costs",
                &path.display().to_string(),
            ])
            .output()
            .unwrap();
        assert_exit(&output, 1);
        let stderr = stderr(&output);
        assert!(
            stderr.contains(&format!("{}{place}", path.display())),
            "{stderr}"
        );
        assert!(stderr.contains(message), "{stderr}");
    }
    let missing = ws
        .tagrec(&["sandbox", "serve", "--costs", "nope.json"])
        .output()
        .unwrap();
    assert_exit(&missing, 1);
    assert!(
        stderr(&missing).contains("nope.json"),
        "{}",
        stderr(&missing)
    );
    let zero = ws
        .tagrec(&["sandbox", "serve", "--ce-page-size", "0"])
        .output()
        .unwrap();
    assert_exit(&zero, 1);
    assert!(
        stderr(&zero).contains("'0' for '--ce-page-size <N>'"),
        "{}",
        stderr(&zero)
    );
}
