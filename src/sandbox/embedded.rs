//! The emulator in-process, for a manifest's `target.sandbox`: the same store and rules as the
//! HTTP server, on a state file that every call reads afresh and every write replaces under the
//! lock, so two tagrec processes on one state see each other's writes and never interleave.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::api::{ApiError, CreateProject, LiveProject, ModifyProject, ProjectsApi};

use super::state::{self, StateError, StateFile};
use super::store::{Refusal, Store};

/// The account id of an embedded sandbox (the one in AWS's documentation examples).
pub const ACCOUNT_ID: &str = "123456789012";
/// How long a write waits for another process's write (or a server on the same state).
const LOCK_WAIT: Duration = Duration::from_secs(10);

pub struct EmbeddedApi {
    inner: Arc<Inner>,
}

struct Inner {
    state: StateFile,
    seed: Option<PathBuf>,
    region: String,
    /// Writes of this process queue here rather than polling the file lock.
    writing: Mutex<()>,
}

impl EmbeddedApi {
    /// `state` need not exist: then the seed (or just `default`) is the live state, read only; the
    /// first write creates the state file. A corrupt state file or seed is an error here.
    pub fn open(state: &Path, seed: Option<&Path>, region: &str) -> Result<EmbeddedApi, ApiError> {
        let inner = Inner {
            state: StateFile::new(state),
            seed: seed.map(Path::to_path_buf),
            region: region.to_string(),
            writing: Mutex::new(()),
        };
        inner.load()?;
        Ok(EmbeddedApi {
            inner: Arc::new(inner),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Inner) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let inner = self.inner.clone();
        // File reads, fsync and the lock wait must not hold up the async threads.
        tokio::task::spawn_blocking(move || call(&inner))
            .await
            .map_err(|e| ApiError::Local(format!("the embedded sandbox failed: {e}")))?
    }
}

impl Inner {
    fn load(&self) -> Result<Store, ApiError> {
        // Billing's settings come along, so that a write of projects keeps them.
        let saved = state::initial_account(
            Some(&self.state),
            self.seed.as_deref(),
            &self.region,
            ACCOUNT_ID,
        )
        .map_err(local)?;
        Ok(state::store(saved, &self.region, ACCOUNT_ID))
    }

    fn write<T>(
        &self,
        change: impl FnOnce(&mut Store) -> Result<T, Refusal>,
    ) -> Result<T, ApiError> {
        let _queue = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let _lock = self.state.lock(LOCK_WAIT).map_err(local)?;
        let mut store = self.load()?;
        let result = change(&mut store).map_err(refused)?;
        self.state.save(&store).map_err(local)?;
        Ok(result)
    }
}

fn local(error: StateError) -> ApiError {
    ApiError::Local(error.to_string())
}

fn refused(refusal: Refusal) -> ApiError {
    ApiError::Api {
        status: refusal.status,
        kind: refusal.kind.to_string(),
        message: refusal.message,
        code: refusal.code.map(str::to_string),
        retry_after: None,
    }
}

#[async_trait]
impl ProjectsApi for EmbeddedApi {
    async fn list(&self) -> Result<Vec<LiveProject>, ApiError> {
        self.run(|inner| Ok(inner.load()?.projects().to_vec()))
            .await
    }

    async fn retrieve(&self, id: &str) -> Result<LiveProject, ApiError> {
        let id = id.to_string();
        self.run(move |inner| inner.load()?.retrieve(&id).map_err(refused))
            .await
    }

    async fn create(&self, request: &CreateProject) -> Result<LiveProject, ApiError> {
        let request = request.clone();
        self.run(move |inner| inner.write(|store| store.create(&request)))
            .await
    }

    async fn modify(&self, id: &str, request: &ModifyProject) -> Result<LiveProject, ApiError> {
        let (id, request) = (id.to_string(), request.clone());
        self.run(move |inner| inner.write(|store| store.modify(&id, &request)))
            .await
    }

    async fn archive(&self, id: &str) -> Result<LiveProject, ApiError> {
        let id = id.to_string();
        self.run(move |inner| inner.write(|store| store.archive(&id)))
            .await
    }
}

/// Deletes a sandbox's state file (and its lock): the account goes back to its seed. `false` when
/// there was no state file.
pub fn reset(state: &Path) -> Result<bool, StateError> {
    state::reset(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Tags;

    fn create_request(name: &str) -> CreateProject {
        CreateProject {
            name: name.to_string(),
            tags: Tags::from([("Team".to_string(), "Risk".to_string())]),
            data_retention: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_never_create_the_state_and_the_first_write_does() {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed.json");
        std::fs::write(&seed, r#"[{"id": "proj_seeded", "name": "Seeded"}]"#).unwrap();
        let state = dir.path().join(".tagrec/state.json");
        let api = EmbeddedApi::open(&state, Some(&seed), "eu-west-1").unwrap();
        let live = api.list().await.unwrap();
        assert_eq!(live.len(), 2);
        assert!(api.retrieve("proj_seeded").await.is_ok());
        assert!(!state.exists());

        let created = api.create(&create_request("New")).await.unwrap();
        assert!(state.exists());
        assert!(
            created
                .arn
                .unwrap()
                .starts_with("arn:aws:bedrock-mantle:eu-west-1:")
        );

        // A second process (a second handle) sees the write, and its own writes keep it.
        let other = EmbeddedApi::open(&state, Some(&seed), "eu-west-1").unwrap();
        other.archive("proj_seeded").await.unwrap();
        let live = api.list().await.unwrap();
        assert_eq!(live.len(), 3);
        assert!(live.iter().any(|p| p.id == "proj_seeded" && !p.is_active()));

        assert!(reset(&state).unwrap());
        assert_eq!(api.list().await.unwrap().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rules_come_back_as_api_errors() {
        let dir = tempfile::tempdir().unwrap();
        let api = EmbeddedApi::open(&dir.path().join("s.json"), None, "us-east-1").unwrap();
        let error = api
            .modify("default", &ModifyProject::default())
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(400));
        assert!(
            error
                .to_string()
                .contains("Cannot update the default project.")
        );
        assert_eq!(
            api.retrieve("proj_nope").await.unwrap_err().status(),
            Some(404)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let api = Arc::new(EmbeddedApi::open(&state, None, "us-east-1").unwrap());
        let other = Arc::new(EmbeddedApi::open(&state, None, "us-east-1").unwrap());
        let mut tasks = Vec::new();
        for i in 0..20 {
            let api = if i % 2 == 0 {
                api.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                api.create(&create_request(&format!("p{i}"))).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(api.list().await.unwrap().len(), 21);
    }

    #[test]
    fn a_corrupt_state_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        std::fs::write(&state, "not json").unwrap();
        let error = EmbeddedApi::open(&state, None, "us-east-1").err().unwrap();
        assert!(error.to_string().contains("s.json"));
    }
}
