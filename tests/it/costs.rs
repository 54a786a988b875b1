//! `tagrec costs` through the binary against the emulator's Cost Explorer: the example account's
//! November in the four formats (snapshots), exact sums, the untagged share in each of its three
//! causes, paging, every request counted, and the exit codes.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{Sandbox, Workspace, assert_exit, both, read_log, stderr, stdout};

const NOVEMBER: [&str; 4] = ["--since", "2026-11-01", "--until", "2026-12-01"];

/// A copy of the repository's examples and policies: the example account, with its costs file.
fn examples() -> Workspace {
    let ws = Workspace::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["examples", "policies"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
                ws.write(&name, &std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    ws
}

fn costs(ws: &Workspace, by: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["costs", "-f", "examples/projects.yaml", "--by", by];
    args.extend_from_slice(&NOVEMBER);
    args.extend_from_slice(extra);
    ws.tagrec(&args).output().unwrap()
}

#[test]
fn the_example_accounts_november_in_four_formats() {
    let ws = examples();
    for (format, name) in [
        ("text", "costs_text"),
        ("json", "costs_json"),
        ("csv", "costs_csv"),
        ("markdown", "costs_markdown"),
    ] {
        let output = costs(&ws, "CostCenter", &["--format", format]);
        assert_exit(&output, 0);
        insta::assert_snapshot!(name, stdout(&output));
    }
}

#[test]
fn sums_are_exact_and_values_are_matched_to_the_declared_projects() {
    let ws = examples();
    let output = costs(&ws, "CostCenter", &["--format", "json"]);
    assert_exit(&output, 0);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["by"], "CostCenter");
    assert_eq!(
        json["period"],
        json!({"start": "2026-11-01", "end": "2026-12-01"})
    );
    assert_eq!(json["key_status"], "active");
    assert_eq!(
        json["requests"], 2,
        "the key's status and one page of spend"
    );
    let groups = json["groups"].as_array().unwrap();
    let total: rust_decimal::Decimal = groups
        .iter()
        .map(|g| {
            g["amount"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum::<rust_decimal::Decimal>()
        + json["untagged"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap();
    assert_eq!(
        total.to_string(),
        json["total"].as_str().unwrap(),
        "the parts add up to the total exactly"
    );
    let hackathon = groups.iter().find(|g| g["value"] == "1234").unwrap();
    assert_eq!(
        hackathon["declared"], false,
        "a value no declared project carries is flagged"
    );
    let chatbot = groups.iter().find(|g| g["value"] == "CC-1001").unwrap();
    assert_eq!(
        chatbot["projects"],
        json!(["CustomerChatbot-Prod", "CustomerChatbot-Staging"])
    );
    assert_eq!(
        json["declared_without_spend"],
        json!(["CC-1002", "CC-3300", "CC-6010"])
    );
    // A Marketplace model's own service name replaces Amazon Bedrock when asked.
    let output = costs(
        &ws,
        "CostCenter",
        &[
            "--format",
            "json",
            "--service",
            "Claude Sonnet 4.5 (Amazon Bedrock Edition)",
        ],
    );
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["total"], "18.8490");
    assert_eq!(json["groups"][0]["value"], "CC-1001");
}

#[test]
fn the_untagged_share_is_explained_by_each_of_its_causes() {
    let ws = examples();
    // The key active: the default project and the projects without it.
    let text = stdout(&costs(&ws, "CostCenter", &[]));
    assert!(
        text.contains("the `default` project: every inference request sent without a project id"),
        "{text}"
    );
    // The key not active in Billing: everything is untagged, and that is said first.
    let output = costs(&ws, "Application", &["--format", "json"]);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["key_status"], "inactive");
    assert_eq!(json["groups"], json!([]));
    assert_eq!(json["untagged"], json["total"]);
    let text = stdout(&costs(&ws, "Application", &[]));
    assert!(
        text.contains("`Application` is inactive as a cost allocation tag, so Cost Explorer groups none of the spend by it: run `tagrec billing activate`"),
        "{text}"
    );
    // Declared projects without the key are named (and a key Billing has not seen is said so).
    let text = stdout(&costs(&ws, "ModelVersion", &[]));
    assert!(
        text.contains("Billing has not seen `ModelVersion` on a billed resource yet"),
        "{text}"
    );
    assert!(
        text.contains(
            "declared projects without `ModelVersion`: Analytics-Insights, CodeAssistant-Dev"
        ),
        "{text}"
    );
}

#[test]
fn every_page_is_read_and_every_request_counted() {
    let ws = examples();
    // Not the embedded sandbox (it would answer first): an emulator over HTTP, in pages of 7.
    ws.write(
        "examples/projects.yaml",
        &ws.read("examples/projects.yaml").replace(
            "  sandbox:\n    state: .tagrec/sandbox.json\n    seed: live.json\n    costs: costs.json                    # November's spend, for `tagrec billing` and `tagrec costs`\n    active_cost_tags: [CostCenter, Team] # activated in the emulated Billing; the others are not\n",
            "",
        ),
    );
    assert!(!ws.read("examples/projects.yaml").contains("sandbox:"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let log = ws.path("requests.jsonl").display().to_string();
    let sandbox = Sandbox::start(&[
        "--seed",
        root.join("live.json").to_str().unwrap(),
        "--costs",
        root.join("costs.json").to_str().unwrap(),
        "--active-cost-tags",
        "CostCenter",
        "--ce-page-size",
        "7",
        "--request-log",
        &log,
    ]);
    let billing = sandbox.base_url.trim_end_matches("/v1").to_string();
    let output = costs(
        &ws,
        "CostCenter",
        &[
            "--format",
            "json",
            "--granularity",
            "daily",
            "--billing-endpoint",
            &billing,
        ],
    );
    assert_exit(&output, 0);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let pages = read_log(&ws.path("requests.jsonl"))
        .iter()
        .filter(|r| r["operation"] == "GetCostAndUsage")
        .count();
    assert_eq!(pages, 5, "30 days in pages of 7");
    assert_eq!(json["requests"], 6, "5 pages and the key's status");
    let series = json["groups"][0]["series"].as_array().unwrap();
    assert_eq!(series.len(), 30, "a day each: {series:?}");
    // The same total as one monthly page.
    let monthly: Value = serde_json::from_str(&stdout(&costs(
        &ws,
        "CostCenter",
        &["--format", "json", "--billing-endpoint", &billing],
    )))
    .unwrap();
    assert_eq!(json["total"], monthly["total"]);
}

#[test]
fn bad_periods_and_member_accounts_exit_1_saying_why() {
    let ws = examples();
    let output = ws
        .tagrec(&[
            "costs",
            "-f",
            "examples/projects.yaml",
            "--by",
            "CostCenter",
            "--since",
            "2026-11-31",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("--since 2026-11-31 is not a date"),
        "{}",
        both(&output)
    );
    ws.write(
        "examples/projects.yaml",
        &ws.read("examples/projects.yaml").replace(
            "    active_cost_tags: [CostCenter, Team]",
            "    active_cost_tags: [CostCenter, Team]\n    linked_account: true",
        ),
    );
    let output = costs(&ws, "CostCenter", &[]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("payer"), "{}", both(&output));
}

#[test]
fn a_mistyped_key_or_a_period_to_come_is_refused_before_any_paid_request() {
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        "version: 1\ntarget: {region: us-east-1}\nprojects:\n  - name: Search\n    tags: {CostCenter: CC-1001}\n",
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let log = ws.path("requests.jsonl").display().to_string();
    let sandbox = Sandbox::start(&[
        "--costs",
        root.join("costs.json").to_str().unwrap(),
        "--request-log",
        &log,
    ]);
    let billing = sandbox.base_url.trim_end_matches("/v1").to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["costs", "--billing-endpoint", &billing];
        all.extend_from_slice(args);
        ws.tagrec(&all).output().unwrap()
    };
    let typo = run(&["--by", "costcenter"]);
    assert_exit(&typo, 1);
    assert!(
        stderr(&typo).contains(
            "--by costcenter: no declared project carries that key: did you mean --by CostCenter? (tag keys are case-sensitive)"
        ),
        "{}",
        both(&typo)
    );
    let blank = run(&["--by", " "]);
    assert_exit(&blank, 1);
    assert!(
        stderr(&blank).contains("--by needs a tag key"),
        "{}",
        both(&blank)
    );
    let future = run(&["--by", "CostCenter", "--since", "2999-01-01"]);
    assert_exit(&future, 1);
    assert!(
        stderr(&future).contains("--since 2999-01-01 is after today"),
        "{}",
        both(&future)
    );
    let late = run(&["--by", "CostCenter", "--until", "2999-01-01"]);
    assert_exit(&late, 1);
    assert!(
        stderr(&late).contains("--until 2999-01-01 is past the start of next month"),
        "{}",
        both(&late)
    );
    assert!(
        read_log(&ws.path("requests.jsonl")).is_empty(),
        "no request reached Cost Explorer"
    );
    // A key no declared project carries, and nothing like one: asked all the same.
    let other = run(&["--by", "Budget"]);
    assert_exit(&other, 0);
    assert!(!read_log(&ws.path("requests.jsonl")).is_empty());
}

#[test]
fn another_service_is_named_in_the_report_and_an_inactive_key_lists_no_values_as_without_spend() {
    let ws = examples();
    let output = costs(
        &ws,
        "CostCenter",
        &["--service", "Claude (Amazon Bedrock Edition)"],
    );
    assert_exit(&output, 0);
    assert!(
        stdout(&output).starts_with("Spend on Claude (Amazon Bedrock Edition) by CostCenter,"),
        "{}",
        both(&output)
    );
    let markdown = costs(
        &ws,
        "CostCenter",
        &[
            "--service",
            "Claude (Amazon Bedrock Edition)",
            "--format",
            "markdown",
        ],
    );
    assert!(
        stdout(&markdown).starts_with("### Claude (Amazon Bedrock Edition) spend by `CostCenter`"),
        "{}",
        both(&markdown)
    );
    // Application is not active: Cost Explorer groups none of the spend by it, so no declared
    // value is "without spend".
    let inactive = costs(&ws, "Application", &["--format", "json"]);
    assert_exit(&inactive, 0);
    let json: Value = serde_json::from_str(&stdout(&inactive)).unwrap();
    assert_eq!(json["key_status"], "inactive");
    assert_eq!(json["declared_without_spend"], json!([]), "{json}");
}
