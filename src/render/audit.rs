//! Printers of an audit: a text table, JSON, CSV (one row per violation, RFC 4180) and markdown.

use std::fmt::Write;

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::policy::{Violation, sentences};
use crate::render::pad;
use crate::render::{csv_field, markdown_text};
use crate::rules::Tags;

pub const BILLING_REMINDER: &str = "Tags count in Cost Explorer only once activated as cost allocation tags in AWS Billing (it takes up to 24 hours).";

#[derive(Debug, Clone, Serialize)]
pub struct AuditedProject {
    pub name: String,
    pub id: String,
    pub managed: bool,
    /// The manifest declares this name without `id:` and more than one active project has it:
    /// the entry matches neither (plan stops on it).
    pub conflict: bool,
    pub tags: Tags,
    pub violations: Vec<Violation>,
}

/// A name declared without `id:` that several active projects carry (ids sorted).
#[derive(Debug, Clone)]
pub struct NameConflict {
    pub name: String,
    pub ids: Vec<String>,
}

impl NameConflict {
    /// The sentence every format shows.
    pub fn message(&self) -> String {
        format!(
            "{} active projects are named \"{}\" ({}) and the manifest declares the name without `id:`: neither is managed, and plan stops on it; pin one with `id:` (or declare each with its own `id:`)",
            self.ids.len(),
            self.name,
            self.ids.join(", ")
        )
    }
}

/// An audit as computed by `ops::audit`: the projects, and the summary the printers show.
#[derive(Debug, Clone)]
pub struct Audit {
    pub projects: Vec<AuditedProject>,
    /// By name.
    pub conflicts: Vec<NameConflict>,
    pub compliant: usize,
    /// Share of compliant projects; 1.0 for an account with none.
    pub rate: f64,
    /// How many projects break each kind of problem, most frequent first.
    pub counts: Vec<(String, usize)>,
}

/// The MANAGED column of text, csv and markdown.
fn managed(p: &AuditedProject) -> &'static str {
    match (p.conflict, p.managed) {
        (true, _) => "conflict",
        (false, true) => "yes",
        (false, false) => "no",
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

pub fn text(audit: &Audit) -> String {
    let mut out = String::new();
    let width = |f: &dyn Fn(&AuditedProject) -> usize, min: usize| {
        audit.projects.iter().map(f).max().unwrap_or(0).max(min)
    };
    // Columns by display width: a CJK character or an emoji takes two cells of a terminal.
    let name_w = width(&|p| p.name.width(), 7);
    let id_w = width(&|p| p.id.width(), 2);
    let managed_w = width(&|p| managed(p).len(), 7);
    let _ = writeln!(
        out,
        "{}  {}  {:managed_w$}  VIOLATIONS",
        pad("PROJECT", name_w),
        pad("ID", id_w),
        "MANAGED"
    );
    for p in &audit.projects {
        let violations = if p.violations.is_empty() {
            "-".to_string()
        } else {
            sentences(&p.violations).join("; ")
        };
        let _ = writeln!(
            out,
            "{}  {}  {:managed_w$}  {violations}",
            pad(&p.name, name_w),
            pad(&p.id, id_w),
            managed(p)
        );
    }
    if !audit.conflicts.is_empty() {
        out.push('\n');
        for c in &audit.conflicts {
            let _ = writeln!(out, "conflict: {}", c.message());
        }
    }
    let _ = writeln!(
        out,
        "\nCompliance: {} of {} projects ({}).",
        audit.compliant,
        audit.projects.len(),
        percent(audit.rate)
    );
    if !audit.counts.is_empty() {
        out.push_str("Violations:\n");
        for (message, n) in &audit.counts {
            let _ = writeln!(out, "  {n:>5}  {message}");
        }
    }
    let _ = writeln!(out, "\n{BILLING_REMINDER}");
    out
}

pub fn json(audit: &Audit) -> String {
    let mut out = serde_json::to_string_pretty(&json_value(audit)).unwrap_or_default();
    out.push('\n');
    out
}

/// The JSON object of `audit --format json` (also one manifest's part of an estate's).
pub fn json_value(audit: &Audit) -> serde_json::Value {
    serde_json::json!({
        "format_version": "1",
        "summary": {
            "projects": audit.projects.len(),
            "compliant": audit.compliant,
            "rate": audit.rate,
        },
        "projects": audit.projects,
    })
}

pub fn csv(audit: &Audit) -> String {
    let mut out = String::from("name,id,managed,rule,message\r\n");
    out.push_str(&csv_rows(audit, None));
    out
}

/// The rows of `csv` (no header), each after a `manifest` column when one is given (an estate).
pub fn csv_rows(audit: &Audit, manifest: Option<&str>) -> String {
    let mut out = String::new();
    let mut row = |p: &AuditedProject, rule: &str, message: &str| {
        let managed = match (p.conflict, p.managed) {
            (true, _) => "conflict",
            (false, true) => "true",
            (false, false) => "false",
        };
        let fields = [p.name.as_str(), p.id.as_str(), managed, rule, message];
        let row: Vec<String> = manifest
            .iter()
            .chain(fields.iter())
            .map(|f| csv_field(f))
            .collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    };
    for p in &audit.projects {
        // A conflict has a row of its own, so that a project in one shows even when compliant.
        if p.conflict
            && let Some(c) = audit.conflicts.iter().find(|c| c.ids.contains(&p.id))
        {
            row(p, "conflict", &c.message());
        }
        for v in &p.violations {
            row(p, v.rule.as_str(), &v.message);
        }
    }
    out
}

pub fn markdown(audit: &Audit) -> String {
    let mut out = format!(
        "### tagrec audit\n\n**Compliance: {} of {} projects ({}).**\n\n",
        audit.compliant,
        audit.projects.len(),
        percent(audit.rate)
    );
    out.push_str(&markdown_table(audit));
    let _ = writeln!(out, "_{BILLING_REMINDER}_");
    out
}

/// The table of projects and the conflicts, without title or reminder (an estate's sections).
pub fn markdown_table(audit: &Audit) -> String {
    let mut out = String::new();
    if !audit.projects.is_empty() {
        out.push_str("| Project | Id | Managed | Violations |\n|---|---|---|---|\n");
        for p in &audit.projects {
            let v = if p.violations.is_empty() {
                "none".to_string()
            } else {
                sentences(&p.violations)
                    .iter()
                    .map(|v| markdown_text(v))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {v} |",
                markdown_text(&p.name),
                p.id,
                managed(p)
            );
        }
        out.push('\n');
    }
    for c in &audit.conflicts {
        let _ = writeln!(out, "**Conflict:** {}\n", markdown_text(&c.message()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_per_rfc_4180() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
