//! `tagrec sandbox serve`: the store over HTTP, as `api.md` describes the endpoint, with its
//! credentials, faults, lagging lists and request log, and `POST /` for STS and Cost Explorer.
//! Every answer, error or not, is the API's JSON (or STS's XML); no request, however odd, stops
//! the server. The same server runs in-process for a manifest's `target.sandbox`
//! (`start_in_process`), then sharing its state file with other tagrec processes.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::response::Response;
use http::header::{ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;

use crate::api::model::{CreateProject, ModifyProject};
use crate::rules::same_secret;

use super::cost_explorer::{self, CeError, CostExplorer, Operation};
use super::costs::{CostsError, Spend};
use super::faults::{FaultSettings, Faults};
use super::sigv4::{self, RefusedKind, SigV4Key};
use super::state::{self, StateError, StateFile, StateLock};
use super::store::{self, ListQuery, Refusal, Store};
use super::sts;
use crate::api::auth::SIGV4_SERVICE;

/// The largest request body accepted (413 past it).
pub const MAX_BODY: usize = 1 << 20;
const PREFIX: &str = "/v1/organization/projects";
/// How long a write of the in-process server waits for another process's (as the embedded
/// target's writes do).
const SHARED_LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub api_key: Option<String>,
    pub read_only_api_key: Option<String>,
    pub sigv4: Option<SigV4Key>,
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long credentials from the emulated STS last (when the call names no duration).
    pub sts_duration: Duration,
    pub listen: String,
    pub state: Option<PathBuf>,
    pub seed: Option<PathBuf>,
    pub region: String,
    pub account_id: String,
    pub credentials: Credentials,
    pub faults: FaultSettings,
    pub list_lag: Duration,
    pub request_log: Option<PathBuf>,
    /// Spend rows for Cost Explorer (none when absent).
    pub costs: Option<PathBuf>,
    /// Result periods per `GetCostAndUsage` page (all in one when absent).
    pub ce_page_size: Option<usize>,
    /// Cost allocation tag keys active from the start (once seen).
    pub active_cost_tags: Vec<String>,
    /// Cost Explorer answers as for a member account: access denied.
    pub linked_account: bool,
}

// The io errors are part of the sentences, not `source`s: printed as a chain, each reason would
// be said twice.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "cannot listen on {listen}: the address is already in use (another `tagrec sandbox serve`?); \
         choose another port, or `--listen 127.0.0.1:0` for a free one (the first line of output says which)"
    )]
    AddressInUse { listen: String },
    #[error("cannot listen on {listen}: {error}; give an address and port such as 127.0.0.1:4010")]
    Bind {
        listen: String,
        error: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Costs(#[from] CostsError),
    #[error("cannot open the request log {}: {error}", path.display())]
    RequestLog {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Stopped(std::io::Error),
}

impl ServeError {
    fn bind(listen: &str, error: std::io::Error) -> ServeError {
        let listen = listen.to_string();
        match error.kind() {
            std::io::ErrorKind::AddrInUse => ServeError::AddressInUse { listen },
            _ => ServeError::Bind { listen, error },
        }
    }
}

/// The account as the server holds it: the current store, and past versions for lagging lists.
struct Account {
    current: Arc<Store>,
    /// (since when, version), oldest first; only kept when lists lag.
    history: VecDeque<(Instant, Arc<Store>)>,
}

/// How the server holds its state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locking {
    /// Locked for the server's life, and the server's memory is the account (`sandbox serve`).
    Held,
    /// Read afresh for every request and locked only while a write is saved, as the embedded
    /// target does, so that another tagrec process (an `apply`) may write it meanwhile.
    PerWrite,
}

/// The state file, and the one writer at a time: reads never wait for a write's fsync.
struct Persistence {
    state: Option<StateFile>,
    /// With `Locking::Held`: held for the server's life, nobody else writes this state meanwhile.
    _lock: Option<StateLock>,
}

struct Server {
    account: Mutex<Account>,
    persistence: Mutex<Persistence>,
    credentials: Credentials,
    /// Credentials the emulated STS issued; its SigV4 checks accept them until they expire.
    issued: sts::Issued,
    sts_duration: Duration,
    faults: Faults,
    list_lag: Duration,
    region: String,
    account_id: String,
    /// The state file, for reads that must not queue behind a write (`Locking::PerWrite`).
    state_file: Option<StateFile>,
    seed: Option<PathBuf>,
    locking: Locking,
    cost_explorer: CostExplorer,
    log: Option<Mutex<File>>,
}

/// The server's state opened and its address bound: the listener, the address it got (port 0
/// gives a free one), and the routes.
async fn open(
    options: &ServeOptions,
    locking: Locking,
) -> Result<(tokio::net::TcpListener, SocketAddr, Router), ServeError> {
    let server = Arc::new(Server::open(options, locking)?);
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .map_err(|error| ServeError::bind(&options.listen, error))?;
    let addr = listener
        .local_addr()
        .map_err(|error| ServeError::bind(&options.listen, error))?;
    Ok((
        listener,
        addr,
        Router::new().fallback(handle).with_state(server),
    ))
}

/// Binds, then calls `ready` with the address (the caller prints it), then serves until Ctrl-C or
/// SIGTERM.
pub async fn serve(
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let (listener, addr, app) = open(&options, Locking::Held).await?;
    ready(addr);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(ServeError::Stopped)
}

/// A server started in-process: where it listens, and the task serving; dropping it stops it.
pub struct Running {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // A write under way finishes on its blocking thread (saves are atomic); no new request
        // is taken.
        self.task.abort();
    }
}

/// Starts the server on `options.listen` in the current tokio runtime, for as long as the
/// returned `Running` lives. Its state file is not held locked: every request reads it afresh
/// and every write locks it only while it saves, so other tagrec processes on the same state
/// (an `apply`) go on working and their writes are seen at once.
pub async fn start_in_process(options: ServeOptions) -> Result<Running, ServeError> {
    let (listener, addr, app) = open(&options, Locking::PerWrite).await?;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!("the in-process sandbox stopped: {error}");
        }
    });
    Ok(Running { addr, task })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl Server {
    fn open(options: &ServeOptions, locking: Locking) -> Result<Server, ServeError> {
        let state = options.state.as_deref().map(StateFile::new);
        let lock = match (&state, locking) {
            (Some(file), Locking::Held) => Some(file.lock(Duration::from_secs(2))?),
            _ => None,
        };
        let saved = state::initial_account(
            state.as_ref(),
            options.seed.as_deref(),
            &options.region,
            &options.account_id,
        )?;
        let store = Arc::new(state::store(saved, &options.region, &options.account_id));
        let spend = match &options.costs {
            Some(path) => Spend::load(path)?,
            None => Spend::default(),
        };
        let cost_explorer = CostExplorer::new(
            spend,
            options.active_cost_tags.iter().cloned(),
            options.ce_page_size,
            options.linked_account,
        );
        let log = match &options.request_log {
            Some(path) => Some(Mutex::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|error| ServeError::RequestLog {
                        path: path.clone(),
                        error,
                    })?,
            )),
            None => None,
        };
        let state_file = state.clone();
        let mut history = VecDeque::new();
        if !options.list_lag.is_zero() {
            history.push_back((Instant::now(), store.clone()));
        }
        Ok(Server {
            account: Mutex::new(Account {
                current: store,
                history,
            }),
            persistence: Mutex::new(Persistence { state, _lock: lock }),
            credentials: options.credentials.clone(),
            issued: sts::Issued::default(),
            sts_duration: options.sts_duration,
            faults: Faults::new(options.faults.clone()),
            list_lag: options.list_lag,
            region: options.region.clone(),
            account_id: options.account_id.clone(),
            state_file,
            seed: options.seed.clone(),
            locking,
            cost_explorer,
            log,
        })
    }

    /// With `Locking::PerWrite`, reads the state file again (another process may have written
    /// it); the server's memory is the account otherwise.
    fn refresh(&self) -> Result<(), StateError> {
        if self.locking == Locking::Held {
            return Ok(());
        }
        let store = self.load()?;
        self.account().current = Arc::new(store);
        Ok(())
    }

    /// The account as the state file (or else the seed) has it now.
    fn load(&self) -> Result<Store, StateError> {
        // Reads do not wait for a write under way: the file is replaced atomically.
        let saved = state::initial_account(
            self.state_file.as_ref(),
            self.seed.as_deref(),
            &self.region,
            &self.account_id,
        )?;
        Ok(state::store(saved, &self.region, &self.account_id))
    }

    fn account(&self) -> std::sync::MutexGuard<'_, Account> {
        // A panic elsewhere while holding the lock leaves a whole store (writes swap an Arc).
        self.account.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn current(&self) -> Arc<Store> {
        self.account().current.clone()
    }

    /// The store as it was `list_lag` ago (AWS lists may lag writes).
    fn listed(&self) -> Arc<Store> {
        let mut account = self.account();
        if self.list_lag.is_zero() {
            return account.current.clone();
        }
        self.forget_old_versions(&mut account);
        account
            .history
            .front()
            .map_or(account.current.clone(), |v| v.1.clone())
    }

    /// Runs a write on a copy of the store, saves it, then makes it current: a write that cannot
    /// be saved is not done.
    fn write<T>(
        &self,
        change: impl FnOnce(&mut Store) -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        self.commit(
            |store| change(store).map(|result| (result, true)),
            |message| Refusal {
                status: 500,
                kind: "server_error",
                message,
                param: None,
                code: None,
            },
        )
    }

    /// `write` for any error type; `change` says whether it changed anything (nothing is saved
    /// when it did not). With `Locking::PerWrite`, the state file is locked, read again and
    /// saved, as the embedded target writes it.
    fn commit<T, E>(
        &self,
        change: impl FnOnce(&mut Store) -> Result<(T, bool), E>,
        failed: impl Fn(String) -> E,
    ) -> Result<T, E> {
        let persistence = self.persistence.lock().unwrap_or_else(|p| p.into_inner());
        let (_file_lock, mut next) = match (&persistence.state, self.locking) {
            (Some(file), Locking::PerWrite) => {
                let lock = file
                    .lock(SHARED_LOCK_WAIT)
                    .map_err(|e| failed(format!("The sandbox could not write its state: {e}")))?;
                let saved = state::initial_account(
                    Some(file),
                    self.seed.as_deref(),
                    &self.region,
                    &self.account_id,
                )
                .map_err(|e| failed(format!("The sandbox could not read its state: {e}")))?;
                (
                    Some(lock),
                    state::store(saved, &self.region, &self.account_id),
                )
            }
            _ => (None, Store::clone(&self.current())),
        };
        let (result, changed) = change(&mut next)?;
        if !changed {
            return Ok(result);
        }
        if let Some(file) = &persistence.state
            && let Err(error) = file.save(&next)
        {
            return Err(failed(format!(
                "The sandbox could not save its state: {error}"
            )));
        }
        let mut account = self.account();
        let next = Arc::new(next);
        account.current = next.clone();
        if !self.list_lag.is_zero() {
            account.history.push_back((Instant::now(), next));
            self.forget_old_versions(&mut account);
        }
        Ok(result)
    }

    /// Keeps the newest version at least `list_lag` old, and everything newer.
    fn forget_old_versions(&self, account: &mut Account) {
        let Some(cutoff) = Instant::now().checked_sub(self.list_lag) else {
            return;
        };
        while account.history.len() > 1 && account.history[1].0 <= cutoff {
            account.history.pop_front();
        }
    }

    fn check_credentials(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Refusal> {
        let credentials = &self.credentials;
        if credentials.api_key.is_none()
            && credentials.read_only_api_key.is_none()
            && credentials.sigv4.is_none()
        {
            return Ok(());
        }
        let authorization = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if authorization.starts_with("AWS4-HMAC-SHA256") {
            if credentials.sigv4.is_none() && !self.issued.any() {
                return Err(unauthorized(
                    "This endpoint does not accept SigV4 signatures; use an API key.",
                ));
            }
            return sigv4::verify(
                &|id| self.known(id),
                &sigv4::Scope {
                    service: SIGV4_SERVICE,
                    region: Some(&self.region),
                    api: "the Projects API",
                },
                method.as_str(),
                path_and_query,
                headers,
                body,
                SystemTime::now(),
            )
            .map_err(|reason| {
                unauthorized(&format!("The SigV4 signature was refused: {reason}."))
            });
        }
        let key = authorization
            .strip_prefix("Bearer ")
            .map(str::trim)
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
        let Some(key) = key else {
            return Err(unauthorized(
                "No credentials: send Authorization: Bearer <API key>, an x-api-key header, or a SigV4 signature for the service bedrock-mantle.",
            ));
        };
        let matches = |expected: &Option<String>| {
            expected
                .as_deref()
                .is_some_and(|expected| same_secret(expected.as_bytes(), key.as_bytes()))
        };
        if matches(&credentials.api_key) {
            return Ok(());
        }
        if matches(&credentials.read_only_api_key) {
            if method == Method::POST {
                return Err(Refusal {
                    status: 403,
                    kind: "permission_error",
                    message: "This API key may only get and list projects (a long-term Amazon Bedrock API key). Creating, updating and archiving projects needs a short-term API key or SigV4 credentials allowed bedrock-mantle:CreateProject, UpdateProject, ArchiveProject, TagResource, UntagResource and ListTagsForResource.".to_string(),
                    param: None,
                    code: None,
                });
            }
            return Ok(());
        }
        Err(unauthorized("Incorrect API key provided."))
    }

    /// The secret of an access key id: the `--sigv4` key's, or one the emulated STS issued.
    fn known(&self, access_key_id: &str) -> Option<sigv4::Known> {
        if let Some(known) = self
            .credentials
            .sigv4
            .as_ref()
            .and_then(|key| key.known(access_key_id))
        {
            return Some(known);
        }
        self.issued.get(access_key_id).map(|key| sigv4::Known {
            secret: key.secret,
            session_token: Some(key.session_token),
            expires: Some(key.expires),
        })
    }

    /// An STS call (`POST /` with a form body): `AssumeRole` is SigV4-checked (service `sts`, in
    /// the caller's region) when `--sigv4` is given; `AssumeRoleWithWebIdentity` is unsigned, as
    /// in AWS.
    fn sts(&self, parts: &http::request::Parts, body: &[u8]) -> Outcome {
        let call = match sts::parse(body) {
            Ok(call) => call,
            Err(error) => return sts_outcome(&error, None),
        };
        if matches!(call, sts::Call::AssumeRole { .. }) && self.credentials.sigv4.is_some() {
            let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
            let checked = sigv4::verify(
                &|id| self.known(id),
                &sigv4::Scope {
                    service: "sts",
                    region: None,
                    api: "STS",
                },
                parts.method.as_str(),
                path_and_query,
                &parts.headers,
                body,
                SystemTime::now(),
            );
            if let Err(reason) = checked {
                let error =
                    sts::StsError::denied(format!("The SigV4 signature was refused: {reason}."));
                return sts_outcome(&error, Some(&call));
            }
        }
        let xml = sts::answer(&call, &self.issued, self.sts_duration);
        let mut response = Response::new(Body::from(xml));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        Outcome {
            operation: Some(call.action().to_string()),
            sts: Some(call),
            ..Outcome::new(response)
        }
    }

    /// A Cost Explorer call (`POST /` with `X-Amz-Target`), checked as AWS checks it: the
    /// operation, the body's content type, the SigV4 signature (service `ce`, region `us-east-1`,
    /// when `--sigv4` is given), the emulator's faults, a member account's refusal, then the
    /// request itself.
    fn cost_explorer(&self, parts: &Parts, body: &[u8]) -> Outcome {
        let target = parts
            .headers
            .get("x-amz-target")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let name = target
            .strip_prefix(cost_explorer::TARGET_PREFIX)
            .unwrap_or(&target);
        let answered =
            Operation::from_target(&target).and_then(|op| self.cost_explorer_call(op, parts, body));
        let (answer, committed) = match answered {
            Ok((answer, committed)) => (Ok(answer), committed),
            Err(error) => (Err(error), false),
        };
        Outcome {
            operation: Some(store::shorten(name)),
            committed,
            ..ce_outcome(answer)
        }
    }

    fn cost_explorer_call(
        &self,
        op: Operation,
        parts: &Parts,
        body: &[u8],
    ) -> Result<(Vec<u8>, bool), CeError> {
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != cost_explorer::CONTENT_TYPE && mime != "application/json" {
            return Err(CeError::new(
                "SerializationException",
                format!(
                    "Cost Explorer takes Content-Type: {}, not '{}'",
                    cost_explorer::CONTENT_TYPE,
                    store::shorten(content_type)
                ),
            ));
        }
        if self.credentials.sigv4.is_some() {
            let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
            sigv4::verify(
                &|id| self.known(id),
                &sigv4::Scope {
                    service: cost_explorer::SIGV4_SERVICE,
                    region: Some(cost_explorer::SIGV4_REGION),
                    api: "Cost Explorer",
                },
                parts.method.as_str(),
                path_and_query,
                &parts.headers,
                body,
                SystemTime::now(),
            )
            .map_err(|refused| {
                let (code, message) = match refused.kind {
                    RefusedKind::Missing => (
                        "MissingAuthenticationTokenException",
                        "Missing Authentication Token: sign the request with SigV4 for the service ce in us-east-1".to_string(),
                    ),
                    RefusedKind::UnknownKey => (
                        "UnrecognizedClientException",
                        format!("The security token included in the request is invalid: {refused}."),
                    ),
                    RefusedKind::Expired => (
                        "ExpiredTokenException",
                        "The security token included in the request is expired".to_string(),
                    ),
                    RefusedKind::Invalid => (
                        "InvalidSignatureException",
                        format!("The SigV4 signature was refused: {refused}."),
                    ),
                };
                CeError::new(code, message)
            })?;
        }
        if self.faults.throttle().is_some() {
            return Err(CeError::new(
                "LimitExceededException",
                "You made too many calls in a short period of time. Try again later.",
            ));
        }
        if self.faults.should_fail() {
            return Err(CeError {
                status: 500,
                code: "InternalFailure",
                message: "The request processing has failed because of an unknown error (an injected fault: --fail-rate). Retry it.".to_string(),
            });
        }
        if self.cost_explorer.linked_account() {
            return Err(op.linked_account_denial());
        }
        let request = cost_explorer::parse(op, body)?;
        let internal = |message: String| CeError {
            status: 500,
            code: "InternalFailure",
            message,
        };
        let now = store::unix_now();
        if op.writes() {
            return self.commit(
                |store| {
                    self.cost_explorer
                        .write(&request, store, now)
                        .map(|(answer, changed)| ((answer, changed), changed))
                },
                internal,
            );
        }
        self.refresh()
            .map_err(|e| internal(format!("The sandbox could not read its state: {e}")))?;
        let answer = self.cost_explorer.read(&request, &self.current(), now)?;
        Ok((answer, false))
    }

    fn log(&self, entry: &LogEntry<'_>) {
        let Some(log) = &self.log else { return };
        let Ok(mut line) = serde_json::to_vec(entry) else {
            return;
        };
        line.push(b'\n');
        let mut file = log.lock().unwrap_or_else(|p| p.into_inner());
        // A full disk must not take the emulator down; the log is a testing aid.
        let _ = file.write_all(&line);
    }
}

fn unauthorized(message: &str) -> Refusal {
    Refusal {
        status: 401,
        kind: "authentication_error",
        message: message.to_string(),
        param: None,
        code: None,
    }
}

#[derive(Serialize)]
struct LogEntry<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    status: Option<u16>,
    id: Option<&'a str>,
    committed: bool,
    /// The operation of a call to `/` (STS's `Action`, Cost Explorer's `X-Amz-Target`).
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
}

/// What a request came to: an answer, the project it wrote (if any), whether a write was saved,
/// and the STS or Cost Explorer call it was.
struct Outcome {
    response: Response,
    written: Option<String>,
    /// A write that changed the account without writing a project (Billing's settings).
    committed: bool,
    sts: Option<sts::Call>,
    operation: Option<String>,
}

impl Outcome {
    fn new(response: Response) -> Outcome {
        Outcome {
            response,
            written: None,
            committed: false,
            sts: None,
            operation: None,
        }
    }
}

fn sts_outcome(error: &sts::StsError, call: Option<&sts::Call>) -> Outcome {
    let mut response = Response::new(Body::from(error.xml()));
    *response.status_mut() = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    Outcome {
        operation: call.map(|c| c.action().to_string()),
        sts: call.cloned(),
        ..Outcome::new(response)
    }
}

/// A Cost Explorer answer in awsJson 1.1: the body, its content type, a request id, and for an
/// error its code in `x-amzn-ErrorType`, as the AWS SDKs read it.
fn ce_outcome(answer: Result<Vec<u8>, CeError>) -> Outcome {
    let (status, body, code) = match answer {
        Ok(body) => (StatusCode::OK, body, None),
        Err(error) => (
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
            error.body().to_string().into_bytes(),
            Some(error.code),
        ),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(cost_explorer::CONTENT_TYPE),
    );
    if let Ok(id) = HeaderValue::from_str(&sts::request_id()) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(code) = code {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(code));
    }
    Outcome::new(response)
}

async fn handle(State(server): State<Arc<Server>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    // With `-v`, each request is logged as it arrives and as it is answered, so that someone
    // watching (or a test) can tell a request in flight from one not sent yet.
    tracing::debug!("{method} {} received", request.uri());
    let latency = server.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let outcome = answer(&server, request).await;
    let dropped = outcome.written.is_some() && server.faults.should_drop_answer();
    server.log(&LogEntry {
        method: method.as_str(),
        path: &path,
        query: query.as_deref(),
        status: if dropped {
            None
        } else {
            Some(outcome.response.status().as_u16())
        },
        id: outcome.written.as_deref(),
        committed: outcome.written.is_some() || outcome.committed,
        operation: outcome.operation.as_deref(),
        role_arn: outcome.sts.as_ref().map(sts::Call::role_arn),
        external_id: outcome.sts.as_ref().and_then(sts::Call::external_id),
    });
    match (dropped, outcome.written.as_deref()) {
        (true, _) => tracing::debug!("{method} {path}: done, answer dropped"),
        (false, written) => tracing::debug!(
            "{method} {path} -> {}{}",
            outcome.response.status().as_u16(),
            written.map(|id| format!(" ({id})")).unwrap_or_default()
        ),
    }
    if dropped {
        // The write is done; the client gets no answer at all (hyper closes the connection
        // when the body fails before a byte of the response is sent).
        return Response::new(Body::new(LostAnswer));
    }
    outcome.response
}

async fn answer(server: &Arc<Server>, request: Request) -> Outcome {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return refused(&too_large());
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return refused(&too_large());
        }
        Err(error) => {
            return refused(&Refusal::invalid(
                None,
                format!("The request body could not be read: {error}"),
            ));
        }
    };
    if parts.uri.path() == "/" && parts.method == Method::POST {
        if !parts.headers.contains_key("x-amz-target") {
            return server.sts(&parts, &body);
        }
        let server = server.clone();
        // Reads of the state file, writes and sums over the spend: off the async threads.
        return match tokio::task::spawn_blocking(move || server.cost_explorer(&parts, &body)).await
        {
            Ok(outcome) => outcome,
            Err(error) => ce_outcome(Err(CeError {
                status: 500,
                code: "InternalFailure",
                message: format!("The sandbox failed on this request: {error}"),
            })),
        };
    }
    let path_and_query = parts.uri.path_and_query().map_or_else(
        || parts.uri.path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    if let Err(refusal) =
        server.check_credentials(&parts.method, &path_and_query, &parts.headers, &body)
    {
        return refused(&refusal);
    }
    if let Some(wait) = server.faults.throttle() {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut outcome = refused(&Refusal {
            status: 429,
            kind: "rate_limit_exceeded",
            message: format!("Rate limit reached. Retry in {seconds}s."),
            param: None,
            code: Some("rate_limit_exceeded"),
        });
        outcome
            .response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        return outcome;
    }
    if server.faults.should_fail() {
        return refused(&Refusal {
            status: 500,
            kind: "server_error",
            message: "The server had an error while processing your request (an injected fault: --fail-rate). Retry it.".to_string(),
            param: None,
            code: None,
        });
    }
    let route = match Route::parse(parts.uri.path()) {
        Some(route) => route,
        None => {
            return refused(&Refusal {
                status: 404,
                kind: "not_found_error",
                message: format!(
                    "Unknown route {} {}: projects are at /v1/organization/projects.",
                    parts.method,
                    store::shorten(parts.uri.path())
                ),
                param: None,
                code: None,
            });
        }
    };
    if let Err(error) = server.refresh() {
        return refused(&Refusal {
            status: 500,
            kind: "server_error",
            message: format!("The sandbox could not read its state: {error}"),
            param: None,
            code: None,
        });
    }
    let method = parts.method.clone();
    let query = parts.uri.query().map(str::to_string);
    if method != Method::POST {
        return dispatch(server, &method, route, query, &body);
    }
    let server = server.clone();
    // Writes fsync the state file: off the async threads.
    match tokio::task::spawn_blocking(move || dispatch(&server, &method, route, query, &body)).await
    {
        Ok(outcome) => outcome,
        Err(error) => refused(&Refusal {
            status: 500,
            kind: "server_error",
            message: format!("The sandbox failed on this request: {error}"),
            param: None,
            code: None,
        }),
    }
}

fn too_large() -> Refusal {
    Refusal {
        status: 413,
        kind: "invalid_request_error",
        message: format!("The request body is larger than {MAX_BODY} bytes."),
        param: None,
        code: None,
    }
}

/// Where a request goes. Ids are percent-decoded; one that is not UTF-8 cannot name a project.
enum Route {
    Collection,
    Project(String),
    Archive(String),
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix(PREFIX)?;
        if rest.is_empty() {
            return Some(Route::Collection);
        }
        let rest = rest.strip_prefix('/')?;
        let decode = |segment: &str| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned()
        };
        match rest.split('/').collect::<Vec<_>>()[..] {
            [id] => Some(Route::Project(decode(id))),
            [id, "archive"] => Some(Route::Archive(decode(id))),
            _ => None,
        }
    }

    fn allowed(&self) -> &'static str {
        match self {
            Route::Collection | Route::Project(_) => "GET, POST",
            Route::Archive(_) => "POST",
        }
    }
}

fn dispatch(
    server: &Server,
    method: &Method,
    route: Route,
    query: Option<String>,
    body: &Bytes,
) -> Outcome {
    let result = match (&route, method) {
        (Route::Collection, &Method::GET) => ListQuery::parse(query.as_deref())
            .and_then(|query| server.listed().list(&query))
            .map(|list| (json(StatusCode::OK, &list), None)),
        (Route::Collection, &Method::POST) => {
            parse_body::<CreateProject>(body, false, CREATE_FIELDS)
                .and_then(|request| server.write(|store| store.create(&request)))
                .map(|project| {
                    let id = project.id.clone();
                    (json(StatusCode::OK, &project), Some(id))
                })
        }
        (Route::Project(id), &Method::GET) => server
            .current()
            .retrieve(id)
            .map(|project| (json(StatusCode::OK, &project), None)),
        (Route::Project(id), &Method::POST) => {
            parse_body::<ModifyProject>(body, true, MODIFY_FIELDS)
                .and_then(|request| server.write(|store| store.modify(id, &request)))
                .map(|project| (json(StatusCode::OK, &project), Some(project.id)))
        }
        (Route::Archive(id), &Method::POST) => server
            .write(|store| store.archive(id))
            .map(|project| (json(StatusCode::OK, &project), Some(project.id))),
        _ => {
            let mut outcome = refused(&Refusal {
                status: 405,
                kind: "invalid_request_error",
                message: format!(
                    "Method {method} is not allowed here; use {}.",
                    route.allowed()
                ),
                param: None,
                code: None,
            });
            outcome
                .response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(route.allowed()));
            return outcome;
        }
    };
    match result {
        Ok((response, written)) => Outcome {
            written,
            ..Outcome::new(response)
        },
        Err(refusal) => refused(&refusal),
    }
}

/// The fields a create body may hold (`api.md`); AWS documents `geography` and ignores it.
const CREATE_FIELDS: &[&str] = &["name", "tags", "data_retention", "geography"];
/// The fields a modify body may hold.
const MODIFY_FIELDS: &[&str] = &["name", "add_tags", "remove_tag_keys", "data_retention"];

/// A request body, checked as the OpenAI API checks it: a field it does not know is refused
/// (400, naming it), not silently ignored, so that `{"tags": …}` sent to modify fails instead of
/// answering 200 with nothing done. An empty body is `{}` where every field is optional.
fn parse_body<T: serde::de::DeserializeOwned>(
    body: &Bytes,
    empty_is_object: bool,
    fields: &[&str],
) -> Result<T, Refusal> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) && empty_is_object {
        b"{}"
    } else {
        body
    };
    let invalid = |error: serde_json::Error| {
        Refusal::invalid(
            None,
            format!("The request body is not valid for this operation: {error}."),
        )
    };
    let value: serde_json::Value = serde_json::from_slice(text).map_err(invalid)?;
    if let serde_json::Value::Object(map) = &value {
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| !fields.contains(&k.as_str()))
            .map(|k| store::shorten(k))
            .collect();
        if !unknown.is_empty() {
            let s = if unknown.len() == 1 { "" } else { "s" };
            return Err(Refusal::invalid(
                None,
                format!(
                    "Unrecognized request argument{s} supplied: {}. This operation takes {}.",
                    unknown.join(", "),
                    fields.join(", ")
                ),
            ));
        }
    }
    serde_json::from_value(value).map_err(invalid)
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn refused(refusal: &Refusal) -> Outcome {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Outcome::new(json(status, &refusal.body()))
}

/// A response body that fails before its first byte: hyper then closes the connection without
/// sending the status line, which is what a client sees when an answer is lost.
struct LostAnswer;

impl HttpBody for LostAnswer {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "answer dropped on purpose (--drop-after-commit-rate)",
        ))))
    }
}
