//! Printers of an audit: a text table, JSON, CSV (one row per violation, RFC 4180) and markdown.

use std::fmt::Write;

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::policy::{Violation, sentences};
use crate::render::markdown_text;
use crate::render::pad;
use crate::rules::Tags;

pub const BILLING_REMINDER: &str = "Tags count in Cost Explorer only once activated as cost allocation tags in AWS Billing (it takes up to 24 hours).";

#[derive(Debug, Clone, Serialize)]
pub struct AuditedProject {
    pub name: String,
    pub id: String,
    pub managed: bool,
    pub tags: Tags,
    pub violations: Vec<Violation>,
}

/// An audit as computed by `ops::audit`: the projects, and the summary the printers show.
#[derive(Debug, Clone)]
pub struct Audit {
    pub projects: Vec<AuditedProject>,
    pub compliant: usize,
    /// Share of compliant projects; 1.0 for an account with none.
    pub rate: f64,
    /// How many projects break each kind of problem, most frequent first.
    pub counts: Vec<(String, usize)>,
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
    let _ = writeln!(
        out,
        "{}  {}  {:7}  VIOLATIONS",
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
        let managed = if p.managed { "yes" } else { "no" };
        let _ = writeln!(
            out,
            "{}  {}  {managed:7}  {violations}",
            pad(&p.name, name_w),
            pad(&p.id, id_w)
        );
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
    let value = serde_json::json!({
        "format_version": "1",
        "summary": {
            "projects": audit.projects.len(),
            "compliant": audit.compliant,
            "rate": audit.rate,
        },
        "projects": audit.projects,
    });
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}

pub fn csv(audit: &Audit) -> String {
    let mut out = String::from("name,id,managed,rule,message\r\n");
    for p in &audit.projects {
        for v in &p.violations {
            let fields = [
                p.name.as_str(),
                p.id.as_str(),
                if p.managed { "true" } else { "false" },
                v.rule.as_str(),
                v.message.as_str(),
            ];
            let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

/// RFC 4180: quote a field holding a comma, quote or line break, doubling its quotes.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn markdown(audit: &Audit) -> String {
    let mut out = format!(
        "### tagrec audit\n\n**Compliance: {} of {} projects ({}).**\n\n",
        audit.compliant,
        audit.projects.len(),
        percent(audit.rate)
    );
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
                if p.managed { "yes" } else { "no" }
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "_{BILLING_REMINDER}_");
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
