//! Benchmark: listing an account of 1,000 projects in all (default included) through the HTTP
//! client, against `tagrec sandbox serve --latency-ms 50`. The target (issue 4): exactly 10 list
//! requests per listing, and under 1.2 x 10 x 50 ms = 600 ms. Run: `cargo bench --bench client_list`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tagrec::api::ProjectsApi;
use tagrec::api::auth::Credentials;
use tagrec::api::client::{HttpApi, parse_endpoint};

const PROJECTS: usize = 1_000;
const LATENCY_MS: u64 = 50;
const RUNS: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let seed: Vec<serde_json::Value> = (1..PROJECTS)
        .map(|i| {
            serde_json::json!({
                "id": format!("proj_b{i:019}"),
                "name": format!("Bench-{i:04}"),
                "tags": {"Application": "Bench", "CostCenter": format!("CC-{i}")},
            })
        })
        .collect();
    let seed_path = dir.path().join("seed.json");
    std::fs::write(&seed_path, serde_json::to_vec(&seed)?)?;
    let log = dir.path().join("requests.jsonl");

    let mut server = Command::new(env!("CARGO_BIN_EXE_tagrec"))
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0"])
        .args(["--latency-ms", &LATENCY_MS.to_string()])
        .arg("--seed")
        .arg(&seed_path)
        .arg("--request-log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = server.stdout.take().ok_or("no stdout")?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = sender.send(line);
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
    });
    let line = receiver.recv_timeout(Duration::from_secs(60))?;
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("the emulator did not start: {line:?}"))?
        .to_string();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let api = HttpApi::new(parse_endpoint(&base)?, Credentials::None)?;
    let list_requests = || -> usize {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"GET\"") && l.contains("/organization/projects\""))
            .count()
    };

    // One listing to warm the connection pool up, as a plan's later reads would find it.
    let warm = runtime.block_on(api.list())?;
    assert_eq!(warm.len(), PROJECTS, "the account has {PROJECTS} projects");

    let mut times = Vec::with_capacity(RUNS);
    let mut requests = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let before = list_requests();
        let started = Instant::now();
        let projects = runtime.block_on(api.list())?;
        times.push(started.elapsed());
        // The log line is written as the answer goes out; give the last one a moment.
        std::thread::sleep(Duration::from_millis(20));
        requests.push(list_requests() - before);
        assert_eq!(projects.len(), PROJECTS);
    }
    let _ = server.kill();
    let _ = server.wait();

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
