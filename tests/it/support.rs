//! Shared test support, for every integration test file and the benches: the binary run with
//! none of the caller's ambient credentials, a `tagrec sandbox serve` on a free loopback port with
//! a plain HTTP/1.1 client for it (raw bytes too, for hostile requests and lost answers), a
//! workspace folder, and an `Account` (a workspace with a seeded emulator and its request log).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Variables of the developer's shell (or the CI runner) that would change what tagrec does.
pub const AMBIENT: &[&str] = &[
    "TAGREC_API_KEY",
    "TAGREC_ENDPOINT",
    "AWS_BEARER_TOKEN_BEDROCK",
    "BEDROCK_API_KEY",
    "OPENAI_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
    "NO_COLOR",
    "TAGREC_REGION",
    "TAGREC_BILLING_ENDPOINT",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SSO",
    "AWS_ENDPOINT_URL_COST_EXPLORER",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_CA_BUNDLE",
];

/// A path that is no file, for the AWS config files of a test that names none.
pub const NO_AWS_FILE: &str = "/nonexistent/tagrec-tests/aws";

/// `tagrec` as built by cargo for these tests, with none of the ambient variables, none of the
/// developer's AWS config files, and the EC2 instance metadata off (tests never reach
/// 169.254.169.254). A test sets what it needs.
pub fn tagrec() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("tagrec").expect("the tagrec binary is built");
    for name in AMBIENT {
        command.env_remove(name);
    }
    command
        .env("AWS_CONFIG_FILE", NO_AWS_FILE)
        .env("AWS_SHARED_CREDENTIALS_FILE", NO_AWS_FILE)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

pub fn tagrec_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("tagrec")
}

/// A running `tagrec sandbox serve --listen 127.0.0.1:0 ARGS...`, killed when dropped.
pub struct Sandbox {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`, as printed on the server's first stdout line.
    pub base_url: String,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Sandbox {
    /// Starts the emulator; panics with its stderr if it does not come up.
    pub fn start(args: &[&str]) -> Sandbox {
        match Sandbox::try_start(args) {
            Ok(sandbox) => sandbox,
            Err(stderr) => panic!("tagrec sandbox serve {args:?} did not start:\n{stderr}"),
        }
    }

    /// Starts the emulator; `Err(stderr)` when it exits before printing its address.
    pub fn try_start(args: &[&str]) -> Result<Sandbox, String> {
        let mut child = Command::new(tagrec_path())
            .args(["sandbox", "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tagrec can be started");
        let (stderr, stderr_done) = collect(child.stderr.take().expect("stderr is piped"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = sender.send(line);
            // Keep the pipe open (and drained) for the server's life.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        });
        let line = receiver
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_default();
        let Some(base_url) = line
            .trim_end()
            .strip_prefix("listening on ")
            .map(str::to_string)
        else {
            let _ = child.kill();
            let _ = child.wait();
            // The child is gone: its stderr pipe ends, and the reader has all of it.
            let _ = stderr_done.join();
            let stderr = stderr.lock().unwrap().clone();
            return Err(format!("first stdout line {line:?}\nstderr:\n{stderr}"));
        };
        let addr = base_url
            .trim_start_matches("http://")
            .trim_end_matches("/v1")
            .parse()
            .expect("the address in the first line is HOST:PORT");
        Ok(Sandbox {
            child,
            base_url,
            addr,
            stderr,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A request to `/v1{path}` with a JSON body.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        self.request_with(method, path, &[], body.map(str::as_bytes))
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.request("POST", path, Some(body))
    }

    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        http(self.addr, method, &format!("/v1{path}"), headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Sends raw bytes and returns everything the server sent back before closing.
    pub fn raw(&self, request: &[u8]) -> std::io::Result<Vec<u8>> {
        raw(self.addr, request)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} answered a body that is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The `error.type` of an error body.
    pub fn error_type(&self) -> String {
        self.json()["error"]["type"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", String::from_utf8_lossy(&self.body)))
            .to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Reply> {
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() || method == "POST" {
        request.push_str("Content-Type: application/json\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    let answer = raw(addr, &bytes)?;
    parse_reply(&answer).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "no complete HTTP answer ({} bytes: {:?})",
                answer.len(),
                String::from_utf8_lossy(&answer)
            ),
        )
    })
}

pub fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => Ok(answer),
        // A reset after a partial answer: keep what arrived.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(answer),
        Err(e) => Err(e),
    }
}

fn parse_reply(answer: &[u8]) -> Option<Reply> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = answer[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Reply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// A temporary folder for manifests, policies, seeds and plans, removed when dropped.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file, making its folder.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the folder can be made");
        }
        std::fs::write(&path, text).expect("the file can be written");
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_else(|e| panic!("{name} was not written: {e}"))
    }

    /// The repository's example policy (`policies/required-tags.yaml` and the `common.yaml` it
    /// refers to), copied to `policies/`.
    pub fn copy_policies(&self) {
        for policy in ["required-tags.yaml", "common.yaml"] {
            let from = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("policies")
                .join(policy);
            self.write(
                &format!("policies/{policy}"),
                &std::fs::read_to_string(from).expect("the example policy"),
            );
        }
    }

    /// Writes `seed.json` (the emulator's initial projects, a JSON array) and starts the
    /// emulator on it with `flags`.
    pub fn serve(&self, seed: &Value, flags: &[&str]) -> Sandbox {
        let seed_path = self.write("seed.json", &seed.to_string());
        let mut args = vec!["--seed".to_string(), seed_path.display().to_string()];
        args.extend(flags.iter().map(|f| f.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Sandbox::start(&args)
    }

    /// `tagrec ARGS` in this folder.
    pub fn tagrec(&self, args: &[&str]) -> assert_cmd::Command {
        let mut command = tagrec();
        command.current_dir(self.root()).args(args);
        command
    }
}

/// A workspace and an emulator serving an account seeded from `seed.json`, logging every request
/// to `requests.jsonl`.
pub struct Account {
    pub ws: Workspace,
    pub sandbox: Sandbox,
    /// The key the test's own reads send (the emulator may require one).
    pub reader_key: Option<String>,
}

impl Account {
    /// Starts an emulator on `seed` (a JSON array of projects in the API's shape) with `flags`.
    pub fn start(seed: &Value, flags: &[&str]) -> Account {
        let ws = Workspace::new();
        let log = ws.path("requests.jsonl").display().to_string();
        let mut args = vec!["--request-log", log.as_str()];
        args.extend_from_slice(flags);
        Account {
            sandbox: ws.serve(seed, &args),
            ws,
            reader_key: None,
        }
    }

    /// The key the test's own reads send from now on.
    pub fn reading_with(mut self, key: &str) -> Account {
        self.reader_key = Some(key.to_string());
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.ws.path(name)
    }

    /// `tagrec ARGS --endpoint <the emulator>` in the account's folder, with `key` as the only
    /// credential (none when `None`), no colour and no terminal.
    pub fn command(&self, key: Option<&str>, args: &[&str]) -> assert_cmd::Command {
        let mut command = self.ws.tagrec(args);
        command
            .args(["--endpoint", &self.sandbox.base_url])
            .env("NO_COLOR", "1");
        if let Some(key) = key {
            command.env("TAGREC_API_KEY", key);
        }
        command
    }

    pub fn run(&self, key: Option<&str>, args: &[&str]) -> Output {
        self.command(key, args).output().expect("tagrec runs")
    }

    /// Every request the emulator logged so far.
    pub fn requests(&self) -> Vec<Value> {
        read_log(&self.path("requests.jsonl"))
    }

    /// All projects, archived included, through every page (retrying the emulator's faults).
    pub fn projects(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = "/organization/projects?limit=100&include_archived=true".to_string();
            if let Some(id) = &after {
                path.push_str(&format!("&after={id}"));
            }
            let page = self.get_until_ok(&path);
            let data = page["data"].as_array().cloned().unwrap_or_default();
            after = data.last().and_then(|p| p["id"].as_str()).map(String::from);
            all.extend(data);
            if page["has_more"] != json!(true) {
                return all;
            }
        }
    }

    pub fn active(&self) -> Vec<Value> {
        self.projects()
            .into_iter()
            .filter(|p| p["status"] == "active")
            .collect()
    }

    pub fn project(&self, id: &str) -> Value {
        self.get_until_ok(&format!("/organization/projects/{id}"))
    }

    /// A GET, repeated through the emulator's injected faults (429 and 5xx) until it answers 200.
    pub fn get_until_ok(&self, path: &str) -> Value {
        let bearer = self.reader_key.as_ref().map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("Authorization", b.as_str()))
            .collect();
        for _ in 0..200 {
            let reply = self.sandbox.request_with("GET", path, &headers, None);
            if reply.status == 200 {
                return reply.json();
            }
            assert!(
                reply.status == 429 || reply.status >= 500,
                "GET {path}: {} {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("GET {path} never answered 200");
    }

    /// Writes to a project behind tagrec's back, as a colleague in the console would.
    pub fn modify(&self, id: &str, body: Value) {
        let bearer = self.reader_key.as_ref().map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("Authorization", b.as_str()))
            .collect();
        let reply = self.sandbox.request_with(
            "POST",
            &format!("/organization/projects/{id}"),
            &headers,
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
}

/// The lines of an emulator's request log.
pub fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("a request log line is JSON"))
        .collect()
}

/// An active project in the API's shape, for seeds.
pub fn project(id: &str, name: &str, tags: Value) -> Value {
    json!({"id": id, "name": name, "status": "active", "tags": tags})
}

pub fn archived(id: &str, name: &str, tags: Value) -> Value {
    json!({"id": id, "name": name, "status": "archived", "tags": tags})
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn both(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    )
}

#[track_caller]
pub fn assert_exit(output: &Output, expected: i32) {
    assert_eq!(code(output), expected, "exit code\n{}", both(output));
}

/// Polls `done` until it holds, for events a test can observe but not be told of; fails after a
/// minute naming what never happened.
#[track_caller]
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a child's pipe to the end in a thread; `join` the handle for everything it wrote, the
/// shared string for what it wrote so far.
pub fn collect(
    pipe: impl Read + Send + 'static,
) -> (Arc<Mutex<String>>, std::thread::JoinHandle<()>) {
    let sink = Arc::new(Mutex::new(String::new()));
    let writer = sink.clone();
    let handle = std::thread::spawn(move || {
        let mut pipe = pipe;
        let mut buffer = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buffer) {
            if n == 0 {
                break;
            }
            writer
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    (sink, handle)
}
