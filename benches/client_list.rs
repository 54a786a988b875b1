//! Benchmark: listing an account of 1,000 projects in all (default included) through the HTTP
//! client, against `tagrec sandbox serve --latency-ms 50`. The target (issue 4): exactly 10 list
//! requests per listing, and under 1.2 x 10 x 50 ms = 600 ms. Run: `cargo bench --bench client_list`.

#[path = "../tests/it/support.rs"]
mod support;

use std::time::{Duration, Instant};

use tagrec::api::ProjectsApi;
use tagrec::api::auth::Credentials;
use tagrec::api::client::{HttpApi, parse_endpoint};

const PROJECTS: usize = 1_000;
const LATENCY_MS: u64 = 50;
const RUNS: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: Vec<serde_json::Value> = (1..PROJECTS)
        .map(|i| {
            serde_json::json!({
                "id": format!("proj_b{i:019}"),
                "name": format!("Bench-{i:04}"),
                "tags": {"Application": "Bench", "CostCenter": format!("CC-{i}")},
            })
        })
        .collect();
    let latency = LATENCY_MS.to_string();
    let mut account = support::Account::start(&seed.into(), &["--latency-ms", &latency]);
    let base = account.sandbox.base_url.clone();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let api = HttpApi::new(parse_endpoint(&base)?, Credentials::None)?;
    let list_requests = |account: &support::Account| -> usize {
        account
            .requests()
            .iter()
            .filter(|r| r["method"] == "GET" && r["path"] == "/v1/organization/projects")
            .count()
    };

    // One listing to warm the connection pool up, as a plan's later reads would find it.
    let warm = runtime.block_on(api.list())?;
    assert_eq!(warm.len(), PROJECTS, "the account has {PROJECTS} projects");

    let mut times = Vec::with_capacity(RUNS);
    let mut requests = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let before = list_requests(&account);
        let started = Instant::now();
        let projects = runtime.block_on(api.list())?;
        times.push(started.elapsed());
        // The log line is written as the answer goes out; give the last one a moment.
        std::thread::sleep(Duration::from_millis(20));
        requests.push(list_requests(&account) - before);
        assert_eq!(projects.len(), PROJECTS);
    }
    account.sandbox.kill();

    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[RUNS / 2]);
    let bound = 1.2 * 10.0 * LATENCY_MS as f64;
    println!(
        "list {PROJECTS} projects, --latency-ms {LATENCY_MS}, {RUNS} runs: min {:.1} ms, median {median:.1} ms, max {:.1} ms (bound {bound:.0} ms: {})",
        ms(times[0]),
        ms(times[RUNS - 1]),
        if ms(times[RUNS - 1]) < bound {
            "all under"
        } else {
            "EXCEEDED"
        }
    );
    requests.sort();
    requests.dedup();
    println!("list requests per listing: {requests:?} (target: [10])");
    Ok(())
}
