//! Printers of `tagrec output`: the declared projects' ids as JSON, as the two variables the
//! OpenAI SDKs read, or as a dotenv of all.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Serialize)]
pub struct OutputProject {
    pub name: String,
    pub id: String,
    pub arn: Option<String>,
    pub status: String,
}

#[derive(Debug, Clone)]
pub struct Output {
    pub region: Option<String>,
    /// The endpoint in use: the OpenAI-compatible base URL of the projects' region.
    pub base_url: String,
    pub projects: Vec<OutputProject>,
}

/// `{"format_version": "1", "region", "base_url", "projects": [{"name", "id", "arn", "status"}]}`.
pub fn json_value(output: &Output) -> serde_json::Value {
    json!({
        "format_version": "1",
        "region": output.region,
        "base_url": output.base_url,
        "projects": output.projects,
    })
}

pub fn json(output: &Output) -> String {
    let mut out = serde_json::to_string_pretty(&json_value(output)).unwrap_or_default();
    out.push('\n');
    out
}

/// Two bare lines (no `export`): for `set -a; eval "$(…)"; set +a`, a `.env` file or
/// `$GITHUB_ENV`.
pub fn env(output: &Output, project: &OutputProject) -> String {
    format!(
        "OPENAI_PROJECT_ID={}\nOPENAI_BASE_URL={}\n",
        shell_word(&project.id),
        shell_word(&output.base_url)
    )
}

/// A value as one word for `eval`: as it is when it is safe (ids and AWS's URLs always are),
/// else single-quoted (a sandbox path with a space).
fn shell_word(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// `TAGREC_PROJECT_ID_<NAME>` for a project name: upper-cased, every character outside A-Z and
/// 0-9 replaced by `_`.
pub fn variable(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            if c.is_ascii_uppercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("TAGREC_PROJECT_ID_{upper}")
}

/// One line per project; two projects that map to one variable are an error naming both.
pub fn dotenv(projects: &[&OutputProject]) -> Result<String, String> {
    let mut lines: BTreeMap<String, &OutputProject> = BTreeMap::new();
    for project in projects {
        let name = variable(&project.name);
        if let Some(first) = lines.get(&name) {
            return Err(format!(
                "\"{}\" ({}) and \"{}\" ({}) both become {name}: rename one, or use --format json",
                first.name, first.id, project.name, project.id
            ));
        }
        lines.insert(name, project);
    }
    let mut out = String::new();
    for (name, project) in lines {
        let _ = writeln!(out, "{name}={}", project.id);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_variables() {
        assert_eq!(
            variable("CustomerChatbot-Prod"),
            "TAGREC_PROJECT_ID_CUSTOMERCHATBOT_PROD"
        );
        assert_eq!(
            variable("fraud scoring 2"),
            "TAGREC_PROJECT_ID_FRAUD_SCORING_2"
        );
        assert_eq!(variable("Prüfung"), "TAGREC_PROJECT_ID_PR_FUNG");
    }

    #[test]
    fn two_names_for_one_variable_are_refused() {
        let a = OutputProject {
            name: "Chat-Prod".into(),
            id: "proj_a".into(),
            arn: None,
            status: "active".into(),
        };
        let b = OutputProject {
            name: "chat prod".into(),
            id: "proj_b".into(),
            ..a.clone()
        };
        let error = dotenv(&[&a, &b]).unwrap_err();
        assert!(error.contains("TAGREC_PROJECT_ID_CHAT_PROD"), "{error}");
        assert!(
            error.contains("proj_a") && error.contains("proj_b"),
            "{error}"
        );
    }
}
