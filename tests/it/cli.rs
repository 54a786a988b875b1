//! The command line itself: usage errors exit 1 (never 2, which means "changes" to `plan
//! --detailed-exitcode` and "violations" to `audit`), and each command's help lists only the
//! flags it uses, each with a description.

use crate::support::{assert_exit, code, stderr, stdout, tagrec};

const COMMANDS: &[&[&str]] = &[
    &["validate"],
    &["plan"],
    &["apply"],
    &["audit"],
    &["import"],
    &["init"],
    &["sandbox", "serve"],
    &["sandbox", "reset"],
    &["schema"],
    &["completions", "bash"],
];

#[test]
fn every_usage_error_exits_1_for_every_command() {
    for command in COMMANDS {
        let mut unknown_flag = command.to_vec();
        unknown_flag.push("--formt");
        let output = tagrec().args(&unknown_flag).output().unwrap();
        assert_exit(&output, 1);
        assert!(
            stderr(&output).contains("unexpected argument '--formt'"),
            "{command:?}: {}",
            stderr(&output)
        );
    }
    for bad in [
        &["plan", "--detailed-exitcode", "--format", "yaml"][..],
        &["validate", "--format", "xml"],
        &["audit", "--format", "pdf"],
        &["apply", "--concurrency", "0"],
        &["plan", "--auth", "magic"],
        &["--color", "sometimes", "validate"],
        &["sandbox", "serve", "--latency-ms", "soon"],
    ] {
        let output = tagrec().args(bad).output().unwrap();
        assert_eq!(code(&output), 1, "{bad:?}: {}", stderr(&output));
    }
    for missing in [
        &["plan", "--out"][..],
        &["completions"],
        &["sandbox"],
        &[],
        &["plan", "-f"],
    ] {
        let output = tagrec().args(missing).output().unwrap();
        assert_eq!(code(&output), 1, "{missing:?}: {}", stderr(&output));
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["plan", "--help"],
        &["help"],
    ] {
        let output = tagrec().args(args).output().unwrap();
        assert_exit(&output, 0);
        assert!(!stdout(&output).is_empty(), "{args:?}");
    }
}

/// The long flags a command's help lists.
fn flags(command: &[&str]) -> Vec<String> {
    let mut args = command.to_vec();
    args.push("--help");
    let output = tagrec().args(&args).output().unwrap();
    assert_exit(&output, 0);
    let mut flags: Vec<String> = stdout(&output)
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let at = line.find("--")?;
            // Flag lines start with the flag (`-f, --manifest <FILE>` or `--out <FILE>`).
            (at <= 4).then(|| {
                line[at..]
                    .split([' ', ','])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        })
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

#[test]
fn each_command_lists_only_the_flags_it_uses() {
    let target = ["--endpoint", "--region", "--auth"];
    for command in [
        &["validate"][..],
        &["schema"],
        &["completions"],
        &["sandbox", "reset"],
        &["init"],
    ] {
        let listed = flags(command);
        for flag in target {
            assert!(
                !listed.iter().any(|f| f == flag),
                "{command:?} lists {flag}: {listed:?}"
            );
        }
    }
    let serve = flags(&["sandbox", "serve"]);
    for flag in ["--manifest", "--endpoint", "--auth"] {
        assert!(!serve.iter().any(|f| f == flag), "serve lists {flag}");
    }
    for flag in ["--region", "--account-id", "--listen"] {
        assert!(serve.iter().any(|f| f == flag), "serve lacks {flag}");
    }
    for command in [&["plan"][..], &["apply"], &["audit"], &["import"]] {
        let listed = flags(command);
        for flag in target.iter().chain(&["--manifest"]) {
            assert!(
                listed.iter().any(|f| f == flag),
                "{command:?} lacks {flag}: {listed:?}"
            );
        }
    }
}

#[test]
fn every_flag_has_a_description() {
    for command in COMMANDS {
        let command = &command[..command.len().min(2)];
        let command: Vec<&str> = command
            .iter()
            .copied()
            .filter(|word| *word != "bash")
            .collect();
        let mut args = command.clone();
        args.push("--help");
        let help = stdout(&tagrec().args(&args).output().unwrap());
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_flag = trimmed.starts_with("--") || trimmed.starts_with('-');
            if !is_flag || line.len() - trimmed.len() > 6 {
                continue;
            }
            // The long help puts the description on the next line.
            let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
            assert!(
                !next.is_empty() && !next.starts_with('['),
                "{command:?}: `{}` has no description:\n{help}",
                trimmed
            );
        }
    }
}
