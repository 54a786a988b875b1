//! The emulator's Cost Explorer checked with the AWS SDK for Rust's own client (the one `tagrec
//! billing` and `tagrec costs` use), signing with SigV4: every operation decodes, the per-key
//! `Errors` come through, paging works, a member account's refusal has its code, and the SDK's
//! signature is the one checked (service `ce`, region `us-east-1`).

use aws_sdk_costexplorer as ce;
use ce::error::ProvideErrorMetadata;
use ce::types::{
    CostAllocationTagStatus, CostAllocationTagStatusEntry, CostAllocationTagType, DateInterval,
    Dimension, DimensionValues, Expression, Granularity, GroupDefinition, GroupDefinitionType,
};
use serde_json::{Value, json};
use tagrec::sandbox::day::Day;

use crate::support::{Sandbox, Workspace, project, read_log};

const KEY: &str = "AKIDCOSTEXPLORER";
const SECRET: &str = "ce/secret+EXAMPLEKEY";

/// A seed with `keys` tag keys on the project with spend, and five days of spend.
fn start(ws: &Workspace, keys: usize, flags: &[&str]) -> Sandbox {
    let mut tags = serde_json::Map::new();
    tags.insert("CostCenter".into(), json!("CC-1001"));
    for i in 0..keys.saturating_sub(1) {
        tags.insert(format!("Extra{i:03}"), json!("x"));
    }
    let seed = json!([
        project("proj_chat", "Chat", Value::Object(tags)),
        project("proj_search", "Search", json!({"CostCenter": "CC-2002"})),
    ]);
    let mut rows = Vec::new();
    for day in 1..=5 {
        let date = format!("2026-11-0{day}");
        rows.push(json!({"date": date, "service": "Amazon Bedrock", "project_id": "proj_chat", "amount": "10.0000000001"}));
        rows.push(json!({"date": date, "service": "Amazon Bedrock", "project_id": "proj_search", "amount": "0.1"}));
        rows.push(json!({"date": date, "service": "Amazon Bedrock", "project_id": "default", "amount": "0.2"}));
    }
    let costs = ws.write("costs.json", &Value::from(rows).to_string());
    let costs = costs.display().to_string();
    let log = ws.path("requests.jsonl").display().to_string();
    let sigv4 = format!("{KEY}:{SECRET}");
    let mut args = vec![
        "--costs",
        costs.as_str(),
        "--sigv4",
        sigv4.as_str(),
        "--request-log",
        log.as_str(),
    ];
    args.extend_from_slice(flags);
    ws.serve(&seed, &args)
}

/// The SDK's client as tagrec builds it: us-east-1 set explicitly, the emulator's root as
/// `endpoint_url`, rustls with ring.
fn client(sandbox: &Sandbox, region: &str, credentials: ce::config::Credentials) -> ce::Client {
    let config = ce::Config::builder()
        .behavior_version(ce::config::BehaviorVersion::latest())
        .region(ce::config::Region::new(region.to_string()))
        .endpoint_url(format!("http://{}/", sandbox.addr))
        .credentials_provider(credentials)
        .http_client(tagrec::api::chain::sdk_http_client())
        .build();
    ce::Client::from_conf(config)
}

fn signing(sandbox: &Sandbox) -> ce::Client {
    client(
        sandbox,
        "us-east-1",
        ce::config::Credentials::new(KEY, SECRET, None, None, "test"),
    )
}

fn november() -> DateInterval {
    DateInterval::builder()
        .start("2026-11-01")
        .end("2026-11-06")
        .build()
        .unwrap()
}

fn bedrock() -> Expression {
    Expression::builder()
        .dimensions(
            DimensionValues::builder()
                .key(Dimension::Service)
                .values("Amazon Bedrock")
                .build(),
        )
        .build()
}

fn by(key: &str) -> GroupDefinition {
    GroupDefinition::builder()
        .r#type(GroupDefinitionType::Tag)
        .key(key)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_decodes_in_the_sdk() {
    let ws = Workspace::new();
    let sandbox = start(&ws, 2, &[]);
    let ce = signing(&sandbox);

    let listed = ce
        .list_cost_allocation_tags()
        .tag_keys("CostCenter")
        .tag_keys("Extra000")
        .max_results(100)
        .send()
        .await
        .unwrap();
    let tags = listed.cost_allocation_tags();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[0].tag_key(), "CostCenter");
    assert_eq!(tags[0].status(), &CostAllocationTagStatus::Inactive);
    assert_eq!(tags[0].r#type(), &CostAllocationTagType::UserDefined);
    assert_eq!(tags[0].last_used_date(), Some("2026-11-01T00:00:00Z"));
    assert_eq!(tags[0].last_updated_date(), None);
    assert!(listed.next_token().is_none());

    let entry = |key: &str| {
        CostAllocationTagStatusEntry::builder()
            .tag_key(key)
            .status(CostAllocationTagStatus::Active)
            .build()
            .unwrap()
    };
    let updated = ce
        .update_cost_allocation_tags_status()
        .cost_allocation_tags_status(entry("CostCenter"))
        .cost_allocation_tags_status(entry("tagC"))
        .send()
        .await
        .unwrap();
    let errors = updated.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].tag_key(), Some("tagC"));
    assert_eq!(errors[0].code(), Some("TagKeysNotFoundException"));
    assert_eq!(
        errors[0].message(),
        Some("Failed to update Cost Allocation Tag: tagC")
    );

    let costs = ce
        .get_cost_and_usage()
        .time_period(november())
        .granularity(Granularity::Monthly)
        .filter(bedrock())
        .metrics("UnblendedCost")
        .group_by(by("CostCenter"))
        .send()
        .await
        .unwrap();
    assert_eq!(costs.group_definitions()[0].key(), Some("CostCenter"));
    let period = &costs.results_by_time()[0];
    assert_eq!(period.time_period().map(|p| p.start()), Some("2026-11-01"));
    assert!(!period.estimated());
    let groups: Vec<(String, String)> = period
        .groups()
        .iter()
        .map(|g| {
            let amount = g
                .metrics()
                .and_then(|m| m.get("UnblendedCost"))
                .and_then(|m| m.amount())
                .unwrap();
            (g.keys().join(","), amount.to_string())
        })
        .collect();
    // Amounts arrive as the exact strings: no float on the way.
    assert_eq!(
        groups,
        [
            ("CostCenter$".to_string(), "1.0".to_string()),
            (
                "CostCenter$CC-1001".to_string(),
                "50.0000000005".to_string()
            ),
            ("CostCenter$CC-2002".to_string(), "0.5".to_string()),
        ]
    );

    let this_month = Day::from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    )
    .first_of_month();
    let started = ce
        .start_cost_allocation_tag_backfill()
        .backfill_from(this_month.timestamp())
        .send()
        .await
        .unwrap();
    let request = started.backfill_request().unwrap();
    assert_eq!(
        request.backfill_from(),
        Some(this_month.timestamp().as_str())
    );
    assert_eq!(
        request.backfill_status().map(|s| s.as_str()),
        Some("PROCESSING")
    );
    let again = ce
        .start_cost_allocation_tag_backfill()
        .backfill_from(this_month.timestamp())
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("BackfillLimitExceededException"));
    assert!(
        again
            .as_service_error()
            .is_some_and(|e| e.is_backfill_limit_exceeded_exception()),
        "the SDK knows this error: {again:?}"
    );
    let history = ce
        .list_cost_allocation_tag_backfill_history()
        .send()
        .await
        .unwrap();
    assert_eq!(history.backfill_requests().len(), 1);
    assert_eq!(
        history.backfill_requests()[0].requested_at(),
        request.requested_at()
    );

    let operations: Vec<String> = read_log(&ws.path("requests.jsonl"))
        .iter()
        .map(|l| l["operation"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        operations,
        [
            "ListCostAllocationTags",
            "UpdateCostAllocationTagsStatus",
            "GetCostAndUsage",
            "StartCostAllocationTagBackfill",
            "StartCostAllocationTagBackfill",
            "ListCostAllocationTagBackfillHistory",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_pages_through_keys_and_result_periods() {
    let ws = Workspace::new();
    let sandbox = start(&ws, 250, &["--ce-page-size", "2"]);
    let ce = signing(&sandbox);

    // The SDK's own paginator: 250 keys, 100 a page, whatever MaxResults says.
    let pages: Vec<_> = ce
        .list_cost_allocation_tags()
        .max_results(1000)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|page| page.as_ref().unwrap().cost_allocation_tags().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);

    let mut token: Option<String> = None;
    let mut days = Vec::new();
    let mut requests = 0;
    loop {
        let page = ce
            .get_cost_and_usage()
            .time_period(november())
            .granularity(Granularity::Daily)
            .filter(bedrock())
            .metrics("UnblendedCost")
            .group_by(by("CostCenter"))
            .set_next_page_token(token.clone())
            .send()
            .await
            .unwrap();
        requests += 1;
        for period in page.results_by_time() {
            days.push(period.time_period().unwrap().start().to_string());
            assert_eq!(period.groups().len(), 1, "CostCenter is not active");
        }
        token = page.next_page_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(requests, 3);
    assert_eq!(
        days,
        [
            "2026-11-01",
            "2026-11-02",
            "2026-11-03",
            "2026-11-04",
            "2026-11-05"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_account_gets_access_denied() {
    let ws = Workspace::new();
    let sandbox = start(&ws, 1, &["--linked-account"]);
    let error = signing(&sandbox)
        .list_cost_allocation_tags()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("AccessDeniedException"));
    assert_eq!(
        error.message(),
        Some(
            "Failed to list Cost Allocation Tags: Linked account doesn't have access to cost allocation tags."
        )
    );
    let error = signing(&sandbox)
        .update_cost_allocation_tags_status()
        .cost_allocation_tags_status(
            CostAllocationTagStatusEntry::builder()
                .tag_key("CostCenter")
                .status(CostAllocationTagStatus::Active)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("AccessDeniedException"));
    assert!(
        error
            .message()
            .unwrap_or_default()
            .starts_with("Failed to update Cost Allocation Tag: Linked account"),
        "{error:?}"
    );
    // Not retried: one request each.
    assert_eq!(read_log(&ws.path("requests.jsonl")).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signatures_for_ce_in_us_east_1_with_a_known_key_pass() {
    let ws = Workspace::new();
    let sandbox = start(&ws, 1, &[]);

    // The SDK signs with the client's region when the endpoint is overridden: eu-west-1 is
    // refused, as AWS would.
    let error = client(
        &sandbox,
        "eu-west-1",
        ce::config::Credentials::new(KEY, SECRET, None, None, "test"),
    )
    .list_cost_allocation_tags()
    .send()
    .await
    .unwrap_err();
    assert_eq!(error.code(), Some("InvalidSignatureException"));
    assert!(
        error.message().unwrap_or_default().contains("'eu-west-1'"),
        "{error:?}"
    );

    let error = client(
        &sandbox,
        "us-east-1",
        ce::config::Credentials::new(KEY, "wrong-secret", None, None, "test"),
    )
    .list_cost_allocation_tags()
    .send()
    .await
    .unwrap_err();
    assert_eq!(error.code(), Some("InvalidSignatureException"));

    let error = client(
        &sandbox,
        "us-east-1",
        ce::config::Credentials::new("AKIDSOMEONEELSE", SECRET, None, None, "test"),
    )
    .list_cost_allocation_tags()
    .send()
    .await
    .unwrap_err();
    assert_eq!(error.code(), Some("UnrecognizedClientException"));

    // A request signed for another service (the Projects API's) is refused.
    let body = b"{}";
    let headers = sign_for(&sandbox, "bedrock-mantle", body);
    let mut all: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.push((
        "X-Amz-Target",
        "AWSInsightsIndexService.ListCostAllocationTags",
    ));
    let reply = crate::support::http(sandbox.addr, "POST", "/", &all, Some(body)).unwrap();
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["__type"], "InvalidSignatureException");
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("'bedrock-mantle'"),
        "{}",
        reply.json()
    );
    // The same request signed for `ce` passes.
    let headers = sign_for(&sandbox, "ce", body);
    let mut all: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.push((
        "X-Amz-Target",
        "AWSInsightsIndexService.ListCostAllocationTags",
    ));
    let reply = crate::support::http(sandbox.addr, "POST", "/", &all, Some(body)).unwrap();
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_issued_by_the_emulated_sts_are_accepted() {
    let ws = Workspace::new();
    let sandbox = start(&ws, 1, &[]);
    let form = b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fpayer&RoleSessionName=ci&WebIdentityToken=jwt";
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        sandbox.addr,
        form.len()
    );
    let mut request = raw.into_bytes();
    request.extend_from_slice(form);
    let answer = String::from_utf8(sandbox.raw(&request).unwrap()).unwrap();
    let field = |name: &str| {
        answer
            .split(&format!("<{name}>"))
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_else(|| panic!("no {name} in {answer}"))
            .to_string()
    };
    let credentials = ce::config::Credentials::new(
        field("AccessKeyId"),
        field("SecretAccessKey"),
        Some(field("SessionToken")),
        None,
        "sts",
    );
    let listed = client(&sandbox, "us-east-1", credentials)
        .list_cost_allocation_tags()
        .send()
        .await
        .unwrap();
    assert_eq!(listed.cost_allocation_tags()[0].tag_key(), "CostCenter");
}

/// Headers of `POST /` with `body` signed as a client would, for `service` in us-east-1.
fn sign_for(sandbox: &Sandbox, service: &str, body: &[u8]) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new(KEY, SECRET, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let host = sandbox.addr.to_string();
    let url = format!("http://{host}/");
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
        (
            "x-amz-target",
            "AWSInsightsIndexService.ListCostAllocationTags",
        ),
    ];
    let request =
        SignableRequest::new("POST", url, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
