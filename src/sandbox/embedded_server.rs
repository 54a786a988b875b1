//! The emulator served over HTTP inside a tagrec command, for a manifest's `target.sandbox`: the
//! AWS SDK's Cost Explorer client speaks HTTP only, so `billing` and `costs` reach the embedded
//! sandbox through this server on `127.0.0.1:0`, for as long as the command holds it.
//!
//! Locking: unlike `tagrec sandbox serve`, it does not hold the state file's lock while it runs.
//! Like `EmbeddedApi`, every request reads the state file afresh (projects and their tags as they
//! are at that moment, Billing's settings), and a write (a status change, a backfill) takes the
//! lock, reads the file again, changes it and replaces it atomically, then lets go. So a `tagrec
//! apply` on the same embedded state, in another process or this one, is never blocked for longer
//! than one save, never loses its writes, and its new tags are seen by the next Cost Explorer call.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::embedded::ACCOUNT_ID;
use super::server::{self, Credentials, Running, ServeError, ServeOptions};

/// What a manifest's `target.sandbox` says, for its Cost Explorer.
#[derive(Debug, Clone, Default)]
pub struct EmbeddedServerOptions {
    pub state: PathBuf,
    pub seed: Option<PathBuf>,
    /// The region of the Projects API (Cost Explorer is in us-east-1 whatever it is).
    pub region: String,
    /// Spend rows (`target.sandbox.costs`).
    pub costs: Option<PathBuf>,
    /// Keys active from the start (`target.sandbox.active_cost_tags`).
    pub active_cost_tags: Vec<String>,
    /// Answer as a member account does (`target.sandbox.linked_account`).
    pub linked_account: bool,
}

/// The embedded sandbox served on loopback; stops when dropped.
pub struct EmbeddedServer {
    running: Running,
}

impl EmbeddedServer {
    /// Starts it in the current tokio runtime. Fails (naming the file) when the state, the seed
    /// or the costs file cannot be read.
    pub async fn start(options: EmbeddedServerOptions) -> Result<EmbeddedServer, ServeError> {
        let running = server::start_in_process(ServeOptions {
            listen: "127.0.0.1:0".to_string(),
            state: Some(options.state),
            seed: options.seed,
            region: options.region,
            account_id: ACCOUNT_ID.to_string(),
            credentials: Credentials::default(),
            faults: Default::default(),
            list_lag: Duration::ZERO,
            request_log: None,
            sts_duration: Duration::from_secs(3600),
            costs: options.costs,
            ce_page_size: None,
            active_cost_tags: options.active_cost_tags,
            linked_account: options.linked_account,
        })
        .await?;
        Ok(EmbeddedServer { running })
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// The Cost Explorer endpoint (`endpoint_url` of the SDK's client): `http://127.0.0.1:PORT/`.
    pub fn cost_explorer_url(&self) -> String {
        format!("http://{}/", self.running.addr)
    }

    /// The Projects API's base URL on the same server: `http://127.0.0.1:PORT/v1`.
    pub fn projects_url(&self) -> String {
        format!("http://{}/v1", self.running.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CreateProject, ModifyProject, ProjectsApi, Tags};
    use crate::sandbox::EmbeddedApi;

    async fn post(url: &str, op: &str, body: &str) -> (u16, serde_json::Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("AWSInsightsIndexService.{op}"))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn it_shares_the_state_with_embedded_writes_and_stops_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".tagrec/state.json");
        let seed = dir.path().join("seed.json");
        std::fs::write(
            &seed,
            r#"[{"id": "proj_a", "name": "A", "tags": {"CostCenter": "CC-1"}}]"#,
        )
        .unwrap();
        let costs = dir.path().join("costs.json");
        std::fs::write(
            &costs,
            r#"[{"date": "2026-11-03", "service": "Amazon Bedrock", "project_id": "proj_a", "amount": "2.50"},
                {"date": "2026-11-03", "service": "Amazon Bedrock", "project_id": "proj_b", "amount": "1"}]"#,
        )
        .unwrap();
        let server = EmbeddedServer::start(EmbeddedServerOptions {
            state: state.clone(),
            seed: Some(seed.clone()),
            region: "eu-west-1".to_string(),
            costs: Some(costs),
            active_cost_tags: vec!["CostCenter".to_string()],
            linked_account: false,
        })
        .await
        .unwrap();
        let url = server.cost_explorer_url();
        let (status, tags) = post(&url, "ListCostAllocationTags", "{}").await;
        assert_eq!(status, 200);
        assert_eq!(tags["CostAllocationTags"][0]["Status"], "Active");

        // Another writer of the same state, as `apply` is: it is not blocked by the server, and
        // the server sees its change at once (Team is now on a project with spend: seen).
        let api = EmbeddedApi::open(&state, Some(&seed), "eu-west-1").unwrap();
        api.modify(
            "proj_a",
            &ModifyProject {
                add_tags: Tags::from([("Team".to_string(), "Risk".to_string())]),
                ..ModifyProject::default()
            },
        )
        .await
        .unwrap();
        let (_, tags) = post(&url, "ListCostAllocationTags", "{}").await;
        assert_eq!(tags["CostAllocationTags"][1]["TagKey"], "Team");
        let created = api
            .create(&CreateProject {
                name: "B".to_string(),
                tags: Tags::new(),
                data_retention: None,
            })
            .await
            .unwrap();

        // A status change through the server is saved in the same file, and the embedded
        // writer's next write keeps it.
        let (status, answer) = post(
            &url,
            "UpdateCostAllocationTagsStatus",
            r#"{"CostAllocationTagsStatus": [{"TagKey": "CostCenter", "Status": "Inactive"}]}"#,
        )
        .await;
        assert_eq!((status, answer), (200, serde_json::json!({"Errors": []})));
        api.archive(&created.id).await.unwrap();
        let text = std::fs::read_to_string(&state).unwrap();
        assert!(text.contains("\"Inactive\""), "{text}");
        let (_, tags) = post(&url, "ListCostAllocationTags", "{}").await;
        assert_eq!(tags["CostAllocationTags"][0]["Status"], "Inactive");

        let addr = server.addr();
        drop(server);
        // Stopped: no new connection is answered.
        let mut refused = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "the server still listens after being dropped");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bad_costs_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let costs = dir.path().join("costs.json");
        std::fs::write(&costs, r#"[{"date": "2026-11-3"}]"#).unwrap();
        let error = EmbeddedServer::start(EmbeddedServerOptions {
            state: dir.path().join("state.json"),
            costs: Some(costs),
            region: "us-east-1".to_string(),
            ..Default::default()
        })
        .await
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("costs.json:1:"), "{error}");
        assert!(error.contains("row 1"), "{error}");
    }
}
