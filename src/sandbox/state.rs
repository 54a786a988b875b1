//! Where an emulated account lives between runs: the seed (a JSON array of projects in the API's
//! shape) and the state file, written atomically (temporary file, fsync, rename) under a lock file
//! so that a kill leaves the old or the new state and two processes never interleave their writes.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::api::model::{DEFAULT_PROJECT_ID, DataRetention, LiveProject, ProjectStatus, Tags};
use crate::files::write_atomically;
use crate::rules::is_project_id;

use super::billing::Billing;
use super::store::{self, Store, StoreSnapshot};

/// The state file format this build writes and reads.
const STATE_VERSION: u32 = 1;
/// When a seed project has no `created_at`: 2026-01-01, plus its position, so that a seeded
/// account lists in the seed's order and is the same on every run.
const SEED_CREATED_AT: i64 = 1_767_225_600;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    // The io error is part of the sentence, not a `source`: printed as a chain, it would say its
    // reason twice.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{} is not a valid sandbox state: {message}. Fix it, or delete it to start again from the seed (`tagrec sandbox reset -f MANIFEST` deletes a manifest's)",
        path.display()
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("{} is not a valid seed: {message}", path.display())]
    Seed { path: PathBuf, message: String },
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{} is locked by another process (a running `tagrec sandbox serve` or `apply` on the same state); wait for it to finish or stop it",
        path.display()
    )]
    Locked { path: PathBuf },
}

/// A state file and its lock file (`<state>.lock`, beside it).
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

/// Held while writing (or, for a server, while it runs); the OS releases it when the process dies,
/// so a `kill -9` never leaves a stale lock behind.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

#[derive(Deserialize)]
struct StateDocument {
    version: u32,
    projects: Vec<LiveProject>,
    /// Absent from state files written before the emulator had a Cost Explorer.
    #[serde(default)]
    billing: Billing,
}

/// What an account starts from: its projects and its Billing settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Saved {
    pub projects: Vec<LiveProject>,
    pub billing: Billing,
}

/// A seed project: only `id` and `name` are required; the rest is filled in.
#[derive(Deserialize)]
struct SeedProject {
    id: String,
    name: String,
    #[serde(default)]
    arn: Option<String>,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    status: Option<ProjectStatus>,
    #[serde(default)]
    archived_at: Option<i64>,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default)]
    data_retention: Option<DataRetention>,
}

impl StateFile {
    pub fn new(path: &Path) -> StateFile {
        StateFile {
            path: path.to_path_buf(),
        }
    }

    pub fn lock_path(&self) -> PathBuf {
        sibling(&self.path, ".lock")
    }

    /// The saved account, or `None` when there is no state file yet.
    pub fn load(&self) -> Result<Option<Saved>, StateError> {
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: self.path.clone(),
                    error: source,
                });
            }
        };
        let corrupt = |message: String| StateError::Corrupt {
            path: self.path.clone(),
            message,
        };
        let document: StateDocument =
            serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
        if document.version != STATE_VERSION {
            return Err(corrupt(format!(
                "its version is {}, this tagrec reads version {STATE_VERSION}",
                document.version
            )));
        }
        check_unique_ids(&document.projects).map_err(corrupt)?;
        Ok(Some(Saved {
            projects: document.projects,
            billing: document.billing,
        }))
    }

    /// Replaces the state file with `store`'s projects and Billing settings. The caller holds the
    /// lock.
    pub fn save(&self, store: &Store) -> Result<(), StateError> {
        let write_error = |source| StateError::Write {
            path: self.path.clone(),
            error: source,
        };
        let mut text = serde_json::to_vec_pretty(&StoreSnapshot {
            version: STATE_VERSION,
            projects: store.projects(),
            billing: store.billing(),
        })
        .map_err(|e| write_error(std::io::Error::other(e)))?;
        text.push(b'\n');
        write_atomically(&self.path, &text).map_err(write_error)
    }

    /// Takes the exclusive lock, waiting up to `wait` for another process to release it.
    pub fn lock(&self, wait: Duration) -> Result<StateLock, StateError> {
        let path = self.lock_path();
        if let Some(folder) = self.folder() {
            fs::create_dir_all(folder).map_err(|source| StateError::Write {
                path: path.clone(),
                error: source,
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StateError::Write {
                path: path.clone(),
                error: source,
            })?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(StateLock { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TryLockError::WouldBlock) => return Err(StateError::Locked { path }),
                Err(TryLockError::Error(source)) => {
                    return Err(StateError::Write {
                        path,
                        error: source,
                    });
                }
            }
        }
    }

    fn folder(&self) -> Option<&Path> {
        self.path.parent().filter(|p| !p.as_os_str().is_empty())
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn check_unique_ids(projects: &[LiveProject]) -> Result<(), String> {
    let mut ids: Vec<&str> = projects.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    match ids.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(format!("the id '{}' appears twice", pair[0])),
        None => Ok(()),
    }
}

/// Reads a seed: a JSON array of projects in the API's shape, with defaults filled in.
pub fn load_seed(
    path: &Path,
    region: &str,
    account_id: &str,
) -> Result<Vec<LiveProject>, StateError> {
    let text = fs::read(path).map_err(|source| StateError::Read {
        path: path.to_path_buf(),
        error: source,
    })?;
    let seed_error = |message: String| StateError::Seed {
        path: path.to_path_buf(),
        message,
    };
    let seeds: Vec<SeedProject> = serde_json::from_slice(&text).map_err(|e| {
        seed_error(format!(
            "{e} (expected a JSON array of projects, each with at least \"id\" and \"name\")"
        ))
    })?;
    let mut projects = Vec::with_capacity(seeds.len());
    for (position, seed) in seeds.into_iter().enumerate() {
        let valid_id = seed.id == DEFAULT_PROJECT_ID || is_project_id(&seed.id);
        if !valid_id {
            return Err(seed_error(format!(
                "project {} has the id '{}'; an id is `default` or `proj_` followed by lowercase letters and digits",
                position + 1,
                store::shorten(&seed.id)
            )));
        }
        let status = seed.status.unwrap_or(ProjectStatus::Active);
        let created_at = seed.created_at.unwrap_or(SEED_CREATED_AT + position as i64);
        projects.push(LiveProject {
            arn: Some(
                seed.arn
                    .unwrap_or_else(|| store::arn(region, account_id, &seed.id)),
            ),
            object: "organization.project".to_string(),
            name: seed.name,
            created_at,
            status,
            archived_at: match status {
                ProjectStatus::Active => None,
                ProjectStatus::Archived => Some(seed.archived_at.unwrap_or(created_at)),
            },
            tags: seed.tags.unwrap_or_default(),
            data_retention: Some(seed.data_retention.unwrap_or_else(store::inherit)),
            id: seed.id,
        });
    }
    check_unique_ids(&projects).map_err(seed_error)?;
    Ok(projects)
}

/// What an account starts from: the state file when there is one, else the seed (with Billing's
/// defaults), else no project (the store adds `default`).
pub fn initial_account(
    state: Option<&StateFile>,
    seed: Option<&Path>,
    region: &str,
    account_id: &str,
) -> Result<Saved, StateError> {
    if let Some(state) = state
        && let Some(saved) = state.load()?
    {
        return Ok(saved);
    }
    let projects = match seed {
        Some(seed) => load_seed(seed, region, account_id)?,
        None => Vec::new(),
    };
    Ok(Saved {
        projects,
        billing: Billing::default(),
    })
}

/// The store of an account that starts from `saved`.
pub fn store(saved: Saved, region: &str, account_id: &str) -> Store {
    Store::new(region, account_id, saved.projects).with_billing(saved.billing)
}

/// Deletes a state file and its lock. `false` when there was no state file.
pub fn reset(state: &Path) -> Result<bool, StateError> {
    let file = StateFile::new(state);
    let lock = file.lock(Duration::from_secs(5))?;
    let existed = match fs::remove_file(state) {
        Ok(()) => true,
        Err(error) if error.kind() == ErrorKind::NotFound => false,
        Err(source) => {
            return Err(StateError::Write {
                path: state.to_path_buf(),
                error: source,
            });
        }
    };
    drop(lock);
    let _ = fs::remove_file(file.lock_path());
    Ok(existed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(&dir.path().join("sub/state.json"));
        assert!(file.load().unwrap().is_none());
        let store = Store::new("eu-west-1", "111122223333", Vec::new());
        let _lock = file.lock(Duration::ZERO).unwrap();
        file.save(&store).unwrap();
        let saved = file.load().unwrap().unwrap();
        assert_eq!(saved.projects, store.projects());
        assert_eq!(saved.billing, Billing::default());
        let text = fs::read_to_string(dir.path().join("sub/state.json")).unwrap();
        assert!(
            !text.contains("billing"),
            "no Billing settings, no key: {text}"
        );
    }

    #[test]
    fn billing_settings_are_kept_and_an_older_state_without_them_loads() {
        use super::super::billing::{StatusChange, TagStatus};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, r#"{"version": 1, "projects": []}"#).unwrap();
        let file = StateFile::new(&path);
        assert_eq!(file.load().unwrap().unwrap(), Saved::default());

        let mut billing = Billing::default();
        billing.cost_allocation_tags.insert(
            "CostCenter".to_string(),
            StatusChange {
                status: TagStatus::Active,
                last_updated: 1_796_040_000,
            },
        );
        let store = Store::new("us-east-1", "123456789012", Vec::new()).with_billing(billing);
        let _lock = file.lock(Duration::ZERO).unwrap();
        file.save(&store).unwrap();
        let saved = file.load().unwrap().unwrap();
        assert_eq!(&saved.billing, store.billing());
    }

    #[test]
    fn a_corrupt_state_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, "{\"version\": 1, \"projects\": [").unwrap();
        let error = StateFile::new(&path).load().unwrap_err().to_string();
        assert!(error.contains("state.json"), "{error}");
        assert!(error.contains("sandbox reset"), "{error}");
    }

    #[test]
    fn seed_fills_in_missing_fields_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.json");
        fs::write(
            &path,
            r#"[{"id": "proj_b", "name": "B"}, {"id": "proj_a", "name": "A", "status": "archived"}]"#,
        )
        .unwrap();
        let projects = load_seed(&path, "us-east-1", "123456789012").unwrap();
        assert_eq!(projects[0].created_at + 1, projects[1].created_at);
        assert_eq!(projects[1].archived_at, Some(projects[1].created_at));
        assert_eq!(
            projects[0].arn.as_deref(),
            Some("arn:aws:bedrock-mantle:us-east-1:123456789012:project/proj_b")
        );
    }

    #[test]
    fn seed_rejects_bad_and_duplicate_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.json");
        fs::write(&path, r#"[{"id": "x", "name": "B"}]"#).unwrap();
        assert!(load_seed(&path, "r", "a").is_err());
        fs::write(
            &path,
            r#"[{"id": "proj_a", "name": "A"}, {"id": "proj_a", "name": "B"}]"#,
        )
        .unwrap();
        assert!(
            load_seed(&path, "r", "a")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn a_held_lock_is_refused_then_reset_removes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let file = StateFile::new(&path);
        let lock = file.lock(Duration::ZERO).unwrap();
        file.save(&Store::new("r", "a", Vec::new())).unwrap();
        assert!(matches!(
            file.lock(Duration::from_millis(30)),
            Err(StateError::Locked { .. })
        ));
        drop(lock);
        assert!(reset(&path).unwrap());
        assert!(!path.exists());
        assert!(!file.lock_path().exists());
        assert!(!reset(&path).unwrap());
    }
}
