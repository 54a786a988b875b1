//! Times the pure planner (`tagrec::plan::plan`) on N desired x N live projects, N = 10k, 50k and
//! 100k, to show it stays under a second at 100k and grows linearly. Run it with
//! `cargo bench --bench plan` (release profile); numbers go in BENCHMARKS.md, section `plan`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use tagrec::api::{LiveProject, ProjectStatus};
use tagrec::manifest::{DesiredProject, DesiredTag, TagPatterns, TagSource};
use tagrec::plan::{PlanOptions, plan};
use tagrec::policy::Violation;
use tagrec::rules::OWNER_TAG;

const OWNER: &str = "platform/bedrock-projects";
const RUNS: usize = 5;

/// A realistic mix: of N desired, 80% match unchanged, 10% need a tag change, 5% a key-case
/// rename, 5% are new; the live side adds 5% owned projects that left the manifest (archives)
/// and keeps N projects in all.
fn account(n: usize) -> (Vec<DesiredProject>, Vec<LiveProject>) {
    let mut desired = Vec::with_capacity(n);
    let mut live = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("Project-{i:06}");
        let tags: BTreeMap<String, String> = [
            ("Application", format!("App{}", i % 97)),
            ("Environment", "Production".to_string()),
            ("Team", format!("Team{}", i % 13)),
            ("CostCenter", format!("CC-{:04}", i % 10_000)),
            ("Owner", format!("owner{}", i % 211)),
            (OWNER_TAG, OWNER.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        desired.push(DesiredProject {
            name: name.clone(),
            id: None,
            protect: None,
            tags: tags
                .iter()
                .map(|(k, v)| {
                    let source = if k == OWNER_TAG {
                        TagSource::Owner
                    } else {
                        TagSource::Project
                    };
                    (
                        k.clone(),
                        DesiredTag {
                            value: v.clone(),
                            source,
                        },
                    )
                })
                .collect(),
            place: None,
        });
        let mut live_tags = tags;
        let live_name = match i % 20 {
            0 | 1 => {
                live_tags.insert("Owner".into(), "someone-else".into());
                name
            }
            2 => {
                let value = live_tags.remove("CostCenter").unwrap_or_default();
                live_tags.insert("costcenter".into(), value);
                name
            }
            // Not live under this name: the desired project is a create, and this live one
            // (owned, no longer declared) an archive.
            3 => format!("Retired-{i:06}"),
            _ => name,
        };
        live.push(LiveProject {
            id: format!("proj_{i:020}"),
            object: "organization.project".into(),
            name: live_name,
            arn: None,
            created_at: 0,
            status: ProjectStatus::Active,
            archived_at: None,
            tags: live_tags,
            data_retention: None,
        });
    }
    (desired, live)
}

fn no_violations(_: &LiveProject) -> Vec<Violation> {
    Vec::new()
}

fn main() {
    println!("planner: N desired x N live projects, best and median of {RUNS} runs");
    println!(
        "{:>8} {:>10} {:>10} {:>12}",
        "N", "best", "median", "per project"
    );
    for n in [10_000, 50_000, 100_000] {
        let (desired, live) = account(n);
        let ignore = TagPatterns(vec!["Backup*".into()]);
        let options = PlanOptions {
            owner: Some(OWNER),
            prune: true,
            ignore: &ignore,
            targets: &[],
            violations: &no_violations,
        };
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let planned = plan(black_box(&desired), black_box(&live), &options);
                let elapsed = start.elapsed();
                black_box(planned);
                elapsed
            })
            .collect();
        times.sort();
        let best = times[0];
        let median = times[RUNS / 2];
        println!(
            "{n:>8} {:>8.1}ms {:>8.1}ms {:>10.2}µs",
            best.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e6 / n as f64
        );
    }
}
