//! The certificates tagrec trusts. Both HTTP clients (reqwest for the projects API, the AWS
//! SDK's for STS and Cost Explorer) trust the platform's store, where a company installs the CA of
//! its TLS-inspecting proxy; reqwest also has Mozilla's roots built in. `AWS_CA_BUNDLE`, a PEM
//! file of CA certificates, adds to both, as the AWS CLI and SDKs read it. On a system without CA
//! certificates the SDK's client gets an empty store (its own loader asserts there are some).

use std::ffi::OsString;
use std::path::Path;
use std::sync::OnceLock;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

pub const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

/// The platform's root certificates that rustls takes, read once per process (an estate builds
/// a client per manifest). Empty on a system without CA certificates.
pub fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!("reading the platform's certificates: {error}");
        }
        found
            .certs
            .into_iter()
            .filter(|cert| rustls::RootCertStore::empty().add(cert.clone()).is_ok())
            .collect()
    })
}

/// Every certificate the projects API's client adds to Mozilla's roots: the platform's and
/// `AWS_CA_BUNDLE`'s.
pub fn extra_roots() -> Result<Vec<&'static CertificateDer<'static>>, String> {
    let bundle = ca_bundle()?;
    Ok(native_roots()
        .iter()
        .chain(bundle.into_iter().flat_map(|b| &b.certs))
        .collect())
}

/// The certificates of `AWS_CA_BUNDLE`, each checked to be usable as a root (the SDK's client
/// would panic on one that is not).
#[derive(Debug)]
pub struct CaBundle {
    pub pem: Vec<u8>,
    pub certs: Vec<CertificateDer<'static>>,
}

/// `AWS_CA_BUNDLE`, read once: none when it is unset or empty, an error that names the variable,
/// the file and what to do when it cannot be used.
pub fn ca_bundle() -> Result<Option<&'static CaBundle>, String> {
    static BUNDLE: OnceLock<Result<Option<CaBundle>, String>> = OnceLock::new();
    match BUNDLE.get_or_init(|| read(std::env::var_os(CA_BUNDLE_VAR))) {
        Ok(bundle) => Ok(bundle.as_ref()),
        Err(message) => Err(message.clone()),
    }
}

fn read(path: Option<OsString>) -> Result<Option<CaBundle>, String> {
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let shown = Path::new(&path).display().to_string();
    let fix = "name a PEM file of CA certificates (-----BEGIN CERTIFICATE-----), or unset it";
    let pem = std::fs::read(&path)
        .map_err(|e| format!("{CA_BUNDLE_VAR}={shown}: cannot read it ({e}): {fix}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{CA_BUNDLE_VAR}={shown} is not a PEM file ({e}): {fix}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{CA_BUNDLE_VAR}={shown} holds no certificate: {fix}"
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    for (n, cert) in certs.iter().enumerate() {
        roots.add(cert.clone()).map_err(|e| {
            format!(
                "{CA_BUNDLE_VAR}={shown}: certificate {} of {} cannot be a root of trust ({e}): {fix}",
                n + 1,
                certs.len()
            )
        })?;
    }
    Ok(Some(CaBundle { pem, certs }))
}

/// Whether an error's text says the server's certificate was not trusted (rustls' words).
pub fn is_untrusted(message: &str) -> bool {
    message.contains("invalid peer certificate")
}

/// What to do about a certificate that is not trusted, for every client's message.
pub const UNTRUSTED_HELP: &str = "if a proxy or a private CA signs it, name that CA's PEM file with AWS_CA_BUNDLE (or install it in the system's certificates)";

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> OsString {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
            .into_os_string()
    }

    #[test]
    fn a_bundle_is_read_checked_and_every_bad_one_says_what_to_do() {
        assert!(read(None).unwrap().is_none());
        assert!(read(Some(OsString::new())).unwrap().is_none());
        let bundle = read(Some(fixture("ca.pem"))).unwrap().unwrap();
        assert_eq!(bundle.certs.len(), 1);

        let missing = read(Some(fixture("nowhere.pem"))).unwrap_err();
        assert!(
            missing.starts_with("AWS_CA_BUNDLE=")
                && missing.contains("nowhere.pem: cannot read it"),
            "{missing}"
        );
        let key = read(Some(fixture("server.key"))).unwrap_err();
        assert!(key.contains("holds no certificate"), "{key}");
        assert!(key.ends_with("or unset it"), "{key}");
    }
}
