//! The printer of a manifest, for `tagrec import`: YAML that tagrec's loader reads back to exactly
//! the same names and values. Anything that is not plainly a string to every YAML reader (`NO`,
//! `007`, `1.10`, `~`, leading spaces, `#`, `: `, control or non-ASCII characters) is quoted.

use std::fmt::Write;

use crate::api::Tags;

pub struct ImportedProject {
    pub name: String,
    pub id: String,
    pub protect: bool,
    pub tags: Tags,
}

/// `target.sandbox` of an imported manifest, its paths relative to the written file's folder.
pub struct ImportedSandbox {
    pub state: String,
    pub seed: Option<String>,
    pub costs: Option<String>,
    pub active_cost_tags: Vec<String>,
    pub linked_account: bool,
}

pub struct ImportedManifest {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub sandbox: Option<ImportedSandbox>,
    pub policy: Option<String>,
    pub owner: Option<String>,
    pub projects: Vec<ImportedProject>,
}

pub fn yaml(m: &ImportedManifest) -> String {
    let mut out = String::from(
        "# Written by `tagrec import`: the live active projects, each pinned by id.\nversion: 1\ntarget:\n",
    );
    if let Some(region) = &m.region {
        let _ = writeln!(out, "  region: {}", scalar(region));
    }
    if let Some(endpoint) = &m.endpoint {
        let _ = writeln!(out, "  endpoint: {}", scalar(endpoint));
    }
    if let Some(sandbox) = &m.sandbox {
        out.push_str("  sandbox:\n");
        let _ = writeln!(out, "    state: {}", scalar(&sandbox.state));
        if let Some(seed) = &sandbox.seed {
            let _ = writeln!(out, "    seed: {}", scalar(seed));
        }
        if let Some(costs) = &sandbox.costs {
            let _ = writeln!(out, "    costs: {}", scalar(costs));
        }
        if !sandbox.active_cost_tags.is_empty() {
            let keys: Vec<String> = sandbox.active_cost_tags.iter().map(|k| scalar(k)).collect();
            let _ = writeln!(out, "    active_cost_tags: [{}]", keys.join(", "));
        }
        if sandbox.linked_account {
            out.push_str("    linked_account: true\n");
        }
    }
    if let Some(policy) = &m.policy {
        let _ = writeln!(out, "policy: {}", scalar(policy));
    }
    if let Some(owner) = &m.owner {
        let _ = writeln!(out, "owner: {}", scalar(owner));
    }
    if m.projects.is_empty() {
        out.push_str("projects: []\n");
        return out;
    }
    out.push_str("projects:\n");
    for p in &m.projects {
        let _ = writeln!(out, "  - name: {}", scalar(&p.name));
        let _ = writeln!(out, "    id: {}", scalar(&p.id));
        if p.protect {
            out.push_str("    protect: true\n");
        }
        if p.tags.is_empty() {
            out.push_str("    tags: {}\n");
        } else {
            out.push_str("    tags:\n");
            for (k, v) in &p.tags {
                let _ = writeln!(out, "      {}: {}", scalar(k), scalar(v));
            }
        }
    }
    out
}

/// A YAML scalar that reads back as exactly `s`, as a string.
pub fn scalar(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        // A JSON string is a valid YAML double-quoted scalar with the same escapes.
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !first.is_ascii_alphabetic() && first != '_' {
        return false;
    }
    if s.ends_with(' ') || s.ends_with(':') || s.contains(": ") || s.contains(" #") {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-./@+=:".contains(c))
    {
        return false;
    }
    // Words that YAML 1.1 readers take for booleans or null, in any case.
    const SPECIAL: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
    ];
    !SPECIAL.contains(&s.to_ascii_lowercase().as_str()) && !s.to_ascii_lowercase().starts_with(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_values_are_quoted_and_plain_ones_are_not() {
        for v in [
            "NO", "yes", "on", "007", "1.10", "~", "null", "", " a", "a ", "a #b", "a: b", "x\ny",
            "t\tab", "Zürich", "-x", "*x", "&x", "!x", "%x", "@x", "`x", "{x", "[x", "'x", "\"x",
            "|x", ">x", "#x", "?x", ",x",
        ] {
            assert!(scalar(v).starts_with('"'), "{v:?} must be quoted");
        }
        for v in [
            "CustomerChatbot",
            "CC-1001",
            "alice",
            "platform/bedrock-projects",
            "Team A",
        ] {
            assert_eq!(scalar(v), v);
        }
    }
}
