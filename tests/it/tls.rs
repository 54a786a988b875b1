//! HTTPS through a TLS proxy in front of the emulator, its certificate signed by a test CA
//! (`tests/fixtures/tls/`): a certificate tagrec does not trust is said at once with what to do,
//! and `AWS_CA_BUNDLE` makes both clients (the projects API's and the AWS SDK's for Cost
//! Explorer) trust it, as a company's TLS-inspecting proxy needs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::support::{Account, Sandbox, Workspace, assert_exit, both, stdout};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// TLS on 127.0.0.1 (certificate for `localhost` and `127.0.0.1`), each connection's bytes
/// carried to `upstream`; counts the connections it accepts. Stops when dropped.
struct TlsProxy {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl TlsProxy {
    fn start(upstream: SocketAddr) -> TlsProxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
        TlsProxy {
            addr,
            accepted,
            _runtime: runtime,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }
}

const KEY: &str = "tls-test-key";

#[test]
fn an_untrusted_certificate_is_said_at_once_and_aws_ca_bundle_trusts_it() {
    let account = Account::start(
        &serde_json::json!([{"id": "proj_tls00000000000000001", "name": "Search",
            "status": "active", "tags": {"Team": "search"}}]),
        &["--api-key", KEY],
    );
    account.ws.write(
        "projects.yaml",
        "version: 1\nprojects:\n  - name: Search\n    tags: {Team: search}\n",
    );
    let proxy = TlsProxy::start(account.sandbox.addr);
    let endpoint = proxy.url("/v1");
    let plan = |bundle: Option<&Path>| {
        let mut command = account
            .ws
            .tagrec(&["plan", "--endpoint", &endpoint, "--color", "never"]);
        command.env("TAGREC_API_KEY", KEY);
        if let Some(bundle) = bundle {
            command.env("AWS_CA_BUNDLE", bundle);
        }
        command.output().unwrap()
    };

    let untrusted = plan(None);
    assert_exit(&untrusted, 1);
    assert!(
        both(&untrusted).contains("the certificate of 127.0.0.1 is not trusted (")
            && both(&untrusted).contains(
                "if a proxy or a private CA signs it, name that CA's PEM file with AWS_CA_BUNDLE"
            ),
        "{}",
        both(&untrusted)
    );
    assert_eq!(
        proxy.accepted.load(Ordering::SeqCst),
        1,
        "a certificate that is not trusted is not tried again"
    );

    let trusted = plan(Some(&fixture("ca.pem")));
    assert_exit(&trusted, 0);
    assert!(
        stdout(&trusted).contains("No changes."),
        "{}",
        both(&trusted)
    );

    let missing = plan(Some(Path::new("/nonexistent/ca.pem")));
    assert_exit(&missing, 1);
    assert!(
        both(&missing).contains("AWS_CA_BUNDLE=/nonexistent/ca.pem: cannot read it (")
            && both(&missing).contains("name a PEM file of CA certificates"),
        "{}",
        both(&missing)
    );
    let not_a_certificate = plan(Some(&fixture("server.key")));
    assert_exit(&not_a_certificate, 1);
    assert!(
        both(&not_a_certificate).contains("holds no certificate"),
        "{}",
        both(&not_a_certificate)
    );
}

#[test]
fn cost_explorer_through_the_aws_sdk_trusts_aws_ca_bundle_too() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let sandbox = Sandbox::start(&[
        "--seed",
        root.join("live.json").to_str().unwrap(),
        "--costs",
        root.join("costs.json").to_str().unwrap(),
        "--active-cost-tags",
        "CostCenter",
    ]);
    let proxy = TlsProxy::start(sandbox.addr);
    let ws = Workspace::new();
    ws.write(
        "projects.yaml",
        "version: 1\ntarget: {region: us-east-1}\nprojects:\n  - name: Search\n    tags: {CostCenter: CC-1001}\n",
    );
    let billing = proxy.url("");
    let costs = |bundle: Option<&Path>| {
        let mut command = ws.tagrec(&[
            "costs",
            "--by",
            "CostCenter",
            "--since",
            "2026-11-01",
            "--until",
            "2026-12-01",
            "--format",
            "json",
            "--billing-endpoint",
            &billing,
        ]);
        command
            .env("AWS_ACCESS_KEY_ID", "AKIDTLSTEST")
            .env("AWS_SECRET_ACCESS_KEY", "tls-test-secret");
        if let Some(bundle) = bundle {
            command.env("AWS_CA_BUNDLE", bundle);
        }
        command.output().unwrap()
    };

    let untrusted = costs(None);
    assert_exit(&untrusted, 1);
    assert!(
        both(&untrusted).contains("the server's certificate is not trusted")
            && both(&untrusted).contains("AWS_CA_BUNDLE"),
        "{}",
        both(&untrusted)
    );

    let trusted = costs(Some(&fixture("ca.pem")));
    assert_exit(&trusted, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&trusted)).unwrap();
    assert!(json["requests"].as_u64().unwrap() >= 1, "{json}");
}

#[test]
fn a_system_without_ca_certificates_still_runs_and_aws_ca_bundle_is_enough() {
    // SSL_CERT_FILE and SSL_CERT_DIR name the platform's store; here they name an empty one, as
    // on a slim container image without ca-certificates.
    let ws = Workspace::new();
    ws.write("empty.pem", "");
    let empty = ws.path("empty.pem");
    // No credentials anywhere: tagrec builds the AWS SDK's credential chain, and its client.
    let account = Account::start(&serde_json::json!([]), &[]);
    account
        .ws
        .write("projects.yaml", "version: 1\nprojects: []\n");
    let proxy = TlsProxy::start(account.sandbox.addr);
    let endpoint = proxy.url("/v1");
    let plan = |bundle: Option<&Path>| {
        let mut command = account.ws.tagrec(&["plan", "--endpoint", &endpoint]);
        command
            .env("SSL_CERT_FILE", &empty)
            .env("SSL_CERT_DIR", ws.path("no-such-folder"));
        if let Some(bundle) = bundle {
            command.env("AWS_CA_BUNDLE", bundle);
        }
        command.output().unwrap()
    };
    // No panic (the AWS SDK's client asserts that the store it reads has certificates): the
    // credential chain is built, the call is made, and the certificate is not trusted.
    let bare = plan(None);
    assert_exit(&bare, 1);
    assert!(
        both(&bare).contains("the certificate of 127.0.0.1 is not trusted"),
        "{}",
        both(&bare)
    );
    let bundled = plan(Some(&fixture("ca.pem")));
    assert_exit(&bundled, 0);
}
