//! `action/install.sh`, the installer of the GitHub Action and of the GitLab jobs, run with bash
//! against a temporary directory laid out like a GitHub release (`v<version>/<archive>` and
//! `v<version>/SHA256SUMS`), whose archives hold the tagrec binary these tests were built with. No
//! network: `cargo` (and, for one test, `uname`) are fakes first on the PATH that record how they
//! were called.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// What the binary under test says it is, so the archives hold "the release" of this version.
const VERSION: &str = env!("CARGO_PKG_VERSION");
const LINUX: &str = "x86_64-unknown-linux-musl";
const WINDOWS: &str = "x86_64-pc-windows-msvc";

fn real_tagrec() -> PathBuf {
    assert_cmd::cargo::cargo_bin("tagrec")
}

/// A scratch directory with a release layout (`release/`), a place to install to (`bin/`), and a
/// `fakes/` directory put first on the PATH.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let scratch = Scratch {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        fs::create_dir_all(scratch.release_dir()).unwrap();
        fs::create_dir_all(scratch.path("fakes")).unwrap();
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn release_dir(&self) -> PathBuf {
        self.path("release").join(format!("v{VERSION}"))
    }

    fn install_dir(&self) -> PathBuf {
        self.path("bin")
    }

    /// Publishes the archive of the real binary for `target` (`.zip` for Windows, else `.tar.gz`)
    /// and rewrites SHA256SUMS to list every archive of the release.
    fn publish(&self, target: &str) {
        let (archive, _) = archive_for(target);
        let name = archive.file_name().unwrap();
        let published = self.release_dir().join(name);
        if fs::hard_link(&archive, &published).is_err() {
            fs::copy(&archive, &published).unwrap();
        }
        self.write_sums(|_, sum| sum);
    }

    /// SHA256SUMS of the release's archives, each sum passed through `edit(name, sum)`.
    fn write_sums(&self, edit: impl Fn(&str, String) -> String) {
        let mut names: Vec<String> = fs::read_dir(self.release_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "SHA256SUMS")
            .collect();
        names.sort();
        let sums: String = names
            .iter()
            .map(|name| {
                let target = name
                    .strip_prefix(&format!("tagrec-{VERSION}-"))
                    .and_then(|n| n.split('.').next())
                    .unwrap();
                format!("{}  {name}\n", edit(name, archive_for(target).1))
            })
            .collect();
        fs::write(self.release_dir().join("SHA256SUMS"), sums).unwrap();
    }

    /// A fake `cargo` that logs its arguments to `cargo.log` and "installs" the real binary where
    /// `cargo binstall --install-path` or `cargo install --root` would put it. `cargo binstall -V`
    /// succeeds only when `with_binstall`, as when cargo-binstall is installed.
    fn fake_cargo(&self, with_binstall: bool) {
        let script = format!(
            r#"#!/usr/bin/env bash
echo "$*" >> '{log}'
if [ "$1 $2" = "binstall -V" ]; then
  if {with_binstall}; then echo "cargo-binstall 1.10.0"; exit 0; fi
  echo "error: no such command: \`binstall\`" >&2; exit 101
fi
dest=
while [ $# -gt 0 ]; do
  case "$1" in
    --install-path) dest=$2; shift ;;
    --root) dest=$2/bin; shift ;;
  esac
  shift
done
mkdir -p "$dest" && cp '{tagrec}' "$dest/tagrec"
"#,
            log = self.path("cargo.log").display(),
            tagrec = real_tagrec().display(),
        );
        self.fake("cargo", &script);
    }

    fn fake(&self, name: &str, script: &str) {
        let path = self.path("fakes").join(name);
        fs::write(&path, script).unwrap();
        make_executable(&path);
    }

    fn cargo_calls(&self) -> Vec<String> {
        fs::read_to_string(self.path("cargo.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Runs the install script with the release base, the install directory and `env`, as the
    /// action's step does (GITHUB_PATH and GITHUB_OUTPUT files included).
    fn install(&self, env: &[(&str, &str)]) -> Output {
        self.run(&[], env)
    }

    /// `install.sh --resolve`, as the action runs it before restoring its cache.
    fn resolve(&self, env: &[(&str, &str)]) -> Output {
        self.run(&["--resolve"], env)
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.path("fakes").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("bash");
        for name in [
            "TAGREC_VERSION",
            "TAGREC_REPOSITORY",
            "TAGREC_RELEASE_URL",
            "TAGREC_TARGET",
            "TAGREC_INSTALL_DIR",
            "RUNNER_TOOL_CACHE",
            "XDG_CACHE_HOME",
            "GITHUB_PATH",
            "GITHUB_OUTPUT",
        ] {
            command.env_remove(name);
        }
        command
            .arg(Path::new(REPO).join("action/install.sh"))
            .args(args)
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("TAGREC_VERSION", VERSION)
            .env(
                "TAGREC_RELEASE_URL",
                format!("file://{}", self.path("release").display()),
            )
            .env("TAGREC_INSTALL_DIR", self.install_dir())
            .env("GITHUB_PATH", self.path("github_path"))
            .env("GITHUB_OUTPUT", self.path("github_output"));
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("bash runs")
    }

    /// The last value written to GITHUB_OUTPUT under `name`.
    fn output(&self, name: &str) -> Option<String> {
        let text = fs::read_to_string(self.path("github_output")).unwrap_or_default();
        let prefix = format!("{name}=");
        text.lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .next_back()
            .map(str::to_string)
    }

    /// `--version` of the installed binary (`exe` is `tagrec` or `tagrec.exe`).
    fn installed_version(&self, exe: &str) -> String {
        let out = Command::new(self.install_dir().join(exe))
            .arg("--version")
            .output()
            .expect("the installed binary runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// The release archive of the real binary for `target` and its sha256, made once per test run
/// (the debug binary is large) under cargo's temporary directory for tests.
fn archive_for(target: &str) -> (PathBuf, String) {
    static ARCHIVES: Mutex<BTreeMap<String, (PathBuf, String)>> = Mutex::new(BTreeMap::new());
    let mut archives = ARCHIVES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(made) = archives.get(target) {
        return made.clone();
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-release");
    fs::create_dir_all(&dir).unwrap();
    let stem = format!("tagrec-{VERSION}-{target}");
    let archive = if target.contains("windows") {
        let binary = fs::read(real_tagrec()).expect("the tagrec binary is built");
        let archive = dir.join(format!("{stem}.zip"));
        fs::write(&archive, stored_zip(&format!("{stem}/tagrec.exe"), &binary)).unwrap();
        archive
    } else {
        let staging = dir.join("staging");
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(staging.join(&stem)).unwrap();
        fs::copy(real_tagrec(), staging.join(&stem).join("tagrec")).unwrap();
        let archive = dir.join(format!("{stem}.tar.gz"));
        // gzip -1: the archive only has to be a real one, not a small one.
        let status = Command::new("bash")
            .args([
                "-c",
                "set -o pipefail; tar -cf - -C \"$1\" \"$2\" | gzip -1 > \"$3\"",
            ])
            .arg("tar")
            .arg(&staging)
            .arg(&stem)
            .arg(&archive)
            .status()
            .expect("bash runs");
        assert!(status.success(), "could not make {}", archive.display());
        fs::remove_dir_all(&staging).unwrap();
        archive
    };
    let sum = format!("{:x}", Sha256::digest(fs::read(&archive).unwrap()));
    archives.insert(target.to_string(), (archive.clone(), sum.clone()));
    (archive, sum)
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(not(unix))]
fn make_executable(_: &Path) {}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// A zip archive holding one file, stored without compression (what `unzip` reads like any other).
fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data);
    let size = u32::try_from(data.len()).expect("under 4 GiB");
    let name_len = u16::try_from(name.len()).unwrap();
    let mut zip = Vec::new();
    // Local file header: version 2.0, no flags, stored, no time, crc, sizes, name.
    zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
    for field in [crc, size, size] {
        zip.extend_from_slice(&field.to_le_bytes());
    }
    zip.extend_from_slice(&name_len.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(name.as_bytes());
    zip.extend_from_slice(data);
    let central = zip.len();
    // Central directory entry: made by unix (3), mode 0755 in the external attributes.
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
    for field in [crc, size, size] {
        zip.extend_from_slice(&field.to_le_bytes());
    }
    zip.extend_from_slice(&name_len.to_le_bytes());
    zip.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
    zip.extend_from_slice(&(0o100_755u32 << 16).to_le_bytes());
    zip.extend_from_slice(&0u32.to_le_bytes()); // offset of the local header
    zip.extend_from_slice(name.as_bytes());
    let central_len = u32::try_from(zip.len() - central).unwrap();
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    zip.extend_from_slice(&central_len.to_le_bytes());
    zip.extend_from_slice(&u32::try_from(central).unwrap().to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (n, entry) in (0u32..).zip(table.iter_mut()) {
        let mut c = n;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
        *entry = c;
    }
    !data.iter().fold(!0u32, |crc, &byte| {
        table[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8)
    })
}

#[test]
fn installs_the_archive_for_the_detected_platform_and_puts_it_on_the_path() {
    let scratch = Scratch::new();
    // What the script detects here (x86_64 Linux on CI): publish the archive for exactly that.
    let out = scratch.resolve(&[]);
    assert_exit(&out, 0);
    let target = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("target="))
        .unwrap()
        .to_string();
    scratch.fake_cargo(true);
    scratch.publish(&target);

    let out = scratch.install(&[]);
    assert_exit(&out, 0);
    let dir = scratch.install_dir();
    assert_eq!(stdout(&out).trim(), dir.display().to_string());
    assert_eq!(
        scratch.installed_version("tagrec"),
        format!("tagrec {VERSION}")
    );
    assert_eq!(
        fs::read_to_string(scratch.path("github_path"))
            .unwrap()
            .trim(),
        dir.display().to_string(),
        "the job's next steps find tagrec on the PATH"
    );
    assert_eq!(scratch.output("method").as_deref(), Some("release"));
    assert_eq!(scratch.output("version").as_deref(), Some(VERSION));
    assert!(scratch.cargo_calls().is_empty(), "no fallback needed");
}

#[test]
fn a_checksum_mismatch_is_refused_and_installs_nothing() {
    let scratch = Scratch::new();
    scratch.fake_cargo(true);
    scratch.publish(LINUX);
    // SHA256SUMS that does not match the archive (a corrupted or replaced download).
    scratch.write_sums(|_, sum| sum.chars().rev().collect());

    let out = scratch.install(&[("TAGREC_TARGET", LINUX)]);
    assert_exit(&out, 1);
    let message = stderr(&out);
    assert!(
        message.contains("checksum mismatch")
            && message.contains(&format!("tagrec-{VERSION}-{LINUX}.tar.gz")),
        "{message}"
    );
    assert!(
        !scratch.install_dir().join("tagrec").exists(),
        "nothing installed"
    );
    assert!(
        scratch.cargo_calls().is_empty(),
        "a mismatch is never papered over by building from source: {:?}",
        scratch.cargo_calls()
    );
    assert!(
        fs::read_to_string(scratch.path("github_path"))
            .unwrap_or_default()
            .is_empty()
    );
}

#[test]
fn an_unknown_platform_falls_back_to_cargo_binstall() {
    let scratch = Scratch::new();
    scratch.fake_cargo(true);
    scratch.publish(LINUX);
    scratch.fake(
        "uname",
        "#!/bin/sh\ncase \"$1\" in -s) echo FreeBSD ;; -m) echo riscv64 ;; *) echo FreeBSD ;; esac\n",
    );

    let out = scratch.install(&[]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("no prebuilt tagrec for FreeBSD riscv64"),
        "{}",
        stderr(&out)
    );
    let calls = scratch.cargo_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0], "binstall -V");
    assert!(
        calls[1].starts_with("binstall --no-confirm --force --locked")
            && calls[1].contains(&format!("--version {VERSION} "))
            && calls[1].ends_with(" tagrec"),
        "{calls:?}"
    );
    assert_eq!(
        scratch.installed_version("tagrec"),
        format!("tagrec {VERSION}")
    );
    assert_eq!(scratch.output("method").as_deref(), Some("binstall"));
    assert_eq!(
        scratch.output("target").as_deref(),
        Some("unknown-freebsd-riscv64"),
        "a cache key that no other platform shares"
    );
}

#[test]
fn without_cargo_binstall_a_missing_archive_falls_back_to_cargo_install_locked() {
    let scratch = Scratch::new();
    scratch.fake_cargo(false);
    scratch.publish(LINUX);

    // A target the release has no archive for.
    let out = scratch.install(&[("TAGREC_TARGET", "riscv64gc-unknown-linux-gnu")]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(&format!(
            "release v{VERSION} has no tagrec-{VERSION}-riscv64gc-unknown-linux-gnu.tar.gz"
        )),
        "{}",
        stderr(&out)
    );
    let calls = scratch.cargo_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0], "binstall -V");
    assert!(
        calls[1].starts_with(&format!(
            "install --locked --force --version {VERSION} --root "
        )) && calls[1].ends_with(" tagrec"),
        "{calls:?}"
    );
    assert_eq!(
        scratch.installed_version("tagrec"),
        format!("tagrec {VERSION}")
    );
    assert_eq!(scratch.output("method").as_deref(), Some("cargo"));
}

#[test]
fn a_cached_binary_is_reused_without_a_second_download() {
    let scratch = Scratch::new();
    scratch.fake_cargo(true);
    scratch.publish(LINUX);
    let out = scratch.install(&[("TAGREC_TARGET", LINUX)]);
    assert_exit(&out, 0);
    assert_eq!(scratch.output("method").as_deref(), Some("release"));

    // The release is gone (or unreachable): only the installed binary can satisfy the next run.
    fs::remove_dir_all(scratch.path("release")).unwrap();
    let out = scratch.install(&[("TAGREC_TARGET", LINUX)]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("downloading"), "{}", stderr(&out));
    assert!(stderr(&out).contains("already in"), "{}", stderr(&out));
    assert_eq!(scratch.output("method").as_deref(), Some("cached"));
    assert_eq!(
        scratch.installed_version("tagrec"),
        format!("tagrec {VERSION}")
    );
    assert!(scratch.cargo_calls().is_empty());
}

#[test]
fn a_binary_of_another_version_in_the_install_dir_is_replaced() {
    let scratch = Scratch::new();
    scratch.fake_cargo(true);
    scratch.publish(LINUX);
    fs::create_dir_all(scratch.install_dir()).unwrap();
    let old = scratch.install_dir().join("tagrec");
    fs::write(&old, "#!/bin/sh\necho 'tagrec 0.0.1'\n").unwrap();
    make_executable(&old);

    let out = scratch.install(&[("TAGREC_TARGET", LINUX)]);
    assert_exit(&out, 0);
    assert_eq!(scratch.output("method").as_deref(), Some("release"));
    assert_eq!(
        scratch.installed_version("tagrec"),
        format!("tagrec {VERSION}")
    );
}

#[test]
fn the_windows_zip_is_unpacked_to_tagrec_exe() {
    let scratch = Scratch::new();
    scratch.fake_cargo(true);
    scratch.publish(WINDOWS);

    let out = scratch.install(&[("TAGREC_TARGET", WINDOWS)]);
    assert_exit(&out, 0);
    // The archive holds this machine's binary under the Windows name, so it runs here.
    assert_eq!(
        scratch.installed_version("tagrec.exe"),
        format!("tagrec {VERSION}")
    );
    assert!(!scratch.install_dir().join("tagrec").exists());
    assert!(scratch.cargo_calls().is_empty());
}

#[test]
fn resolve_gives_the_cache_key_and_installs_nothing() {
    let scratch = Scratch::new();
    let cache = scratch.path("toolcache");
    let out = scratch.resolve(&[
        ("TAGREC_VERSION", &format!("v{VERSION}")),
        ("TAGREC_TARGET", LINUX),
        ("TAGREC_INSTALL_DIR", ""),
        ("RUNNER_TOOL_CACHE", cache.to_str().unwrap()),
    ]);
    assert_exit(&out, 0);
    let dir = cache.join("tagrec").join(VERSION).join(LINUX);
    let expected = format!("version={VERSION}\ntarget={LINUX}\ndir={}\n", dir.display());
    assert_eq!(stdout(&out), expected);
    assert_eq!(
        fs::read_to_string(scratch.path("github_output")).unwrap(),
        expected,
        "the action keys its cache on these"
    );
    assert!(!cache.exists(), "nothing installed");
}

#[test]
fn a_version_that_is_not_one_is_refused() {
    let scratch = Scratch::new();
    scratch.fake_cargo(true);
    let out = scratch.install(&[("TAGREC_VERSION", "main")]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("not a version: 'main'"),
        "{}",
        stderr(&out)
    );
    assert!(scratch.cargo_calls().is_empty());
}
