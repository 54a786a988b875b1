//! Printers of a `Plan`: text (Terraform's shape, for terminals and CI logs), markdown (a
//! pull-request comment) and JSON (the saved-plan format). They only format; the plan is data.

use std::fmt::Write;

use anstyle::Style;
use similar::{ChangeTag, TextDiff};
use unicode_width::UnicodeWidthStr;

use crate::manifest::TagSource;
use crate::plan::{Action, Change, Plan, TagChange, TagOp, Unmanaged};
use crate::policy::sentences;
use crate::render::markdown_text;
use crate::render::style::{BOLD, GREEN, RED, YELLOW};
use crate::rules::OWNER_TAG;

/// GitHub refuses comments over 65,536 characters; keep a margin for the note of what was cut.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// Column where the trailing notes (`(from defaults)`, `# owned by ...`) start.
const NOTE_COLUMN: usize = 50;

pub fn json(plan: &Plan) -> String {
    // Serializing plain data with string keys cannot fail.
    let mut out = serde_json::to_string_pretty(plan).unwrap_or_default();
    out.push('\n');
    out
}

/// The plan object, as one manifest's part of an estate's JSON.
pub fn json_value(plan: &Plan) -> serde_json::Value {
    serde_json::to_value(plan).unwrap_or_default()
}

pub fn summary_line(plan: &Plan) -> String {
    if plan.changes.is_empty() {
        "No changes. Live projects match the manifest.".to_string()
    } else {
        format!(
            "Plan: {} to create, {} to update, {} to archive.",
            plan.summary.create, plan.summary.update, plan.summary.archive
        )
    }
}

/// The text plan, with ANSI styles (the shell strips them when colour is off).
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.changes.is_empty() {
        out.push_str("tagrec will perform the following actions:\n");
        for change in &plan.changes {
            out.push('\n');
            change_lines(&mut out, change);
        }
        out.push('\n');
    }
    unmanaged_lines(&mut out, &plan.unmanaged);
    if !plan.warnings.is_empty() {
        for w in &plan.warnings {
            let _ = writeln!(out, "{YELLOW}Warning:{YELLOW:#} {w}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{BOLD}{}{BOLD:#}", summary_line(plan));
    out
}

fn change_lines(out: &mut String, change: &Change) {
    let id = change
        .id
        .as_deref()
        .map(|id| format!(" ({id})"))
        .unwrap_or_default();
    match change.action {
        Action::Archive => {
            let owner = change
                .observed
                .as_ref()
                .and_then(|o| o.tags.get(OWNER_TAG))
                .map(|o| format!("owned by {o}, no longer declared"))
                .unwrap_or_else(|| change.reason.clone().unwrap_or_default());
            let head = format!("  - archive {}{id}", quote(&change.name));
            let _ = writeln!(
                out,
                "{RED}{}{RED:#}",
                with_note(&head, &format!("# {owner}"))
            );
        }
        Action::Create => {
            let _ = writeln!(out, "{GREEN}  + create {}{GREEN:#}", quote(&change.name));
        }
        Action::Update => {
            let _ = writeln!(
                out,
                "{YELLOW}  ~ update {}{id}{YELLOW:#}",
                quote(&change.name)
            );
        }
    }
    for tc in &change.tag_changes {
        let _ = writeln!(out, "{}", tag_change_line(tc));
    }
}

fn tag_change_line(tc: &TagChange) -> String {
    let key = tc.key.as_deref().unwrap_or("");
    let before = tc.before.as_deref().unwrap_or("");
    let after = tc.after.as_deref().unwrap_or("");
    let source = source_note(tc.source);
    match tc.op {
        TagOp::Add => {
            let line = format!("      + {key} = {}", quote(after));
            format!("{GREEN}{}{GREEN:#}", with_note(&line, &source))
        }
        TagOp::Remove => format!("{RED}      - {key} = {}{RED:#}", quote(before)),
        TagOp::Change => {
            let (b, a) = highlight(before, after);
            let plain = format!("      ~ {key} = {} -> {}", quote(before), quote(after));
            let styled = format!("{YELLOW}      ~ {key} = {YELLOW:#}{b}{YELLOW} -> {YELLOW:#}{a}");
            styled + &note_padding(&plain, &source) + &source
        }
        TagOp::Rename => {
            let from = tc.from_key.as_deref().unwrap_or("");
            let mut plain = format!("      ~ {from} -> {key}");
            let mut styled = format!("{YELLOW}{plain}{YELLOW:#}");
            if before != after {
                let (b, a) = highlight(before, after);
                plain.push_str(&format!(" = {} -> {}", quote(before), quote(after)));
                styled.push_str(&format!(
                    "{YELLOW} = {YELLOW:#}{b}{YELLOW} -> {YELLOW:#}{a}"
                ));
            }
            let note = "(key case)";
            styled + &note_padding(&plain, note) + note
        }
        TagOp::RenameProject => format!(
            "{YELLOW}      ~ name = {} -> {}{YELLOW:#}",
            quote(before),
            quote(after)
        ),
    }
}

fn source_note(source: Option<TagSource>) -> String {
    match source {
        Some(TagSource::Defaults) => "(from defaults)".into(),
        Some(TagSource::Owner) => "(from owner)".into(),
        Some(TagSource::Protect) => "(from protect)".into(),
        Some(TagSource::Project) | None => String::new(),
    }
}

fn with_note(line: &str, note: &str) -> String {
    format!("{line}{}{note}", note_padding(line, note))
}

fn note_padding(line: &str, note: &str) -> String {
    if note.is_empty() {
        return String::new();
    }
    // By display width, so that the notes line up after CJK and emoji names and values.
    let width = line.width();
    " ".repeat(NOTE_COLUMN.saturating_sub(width).max(3))
}

/// Values are shown JSON-quoted, so that spaces, newlines and empty values are visible.
fn quote(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""))
}

/// Both values quoted, with the characters that differ emphasised.
fn highlight(before: &str, after: &str) -> (String, String) {
    let diff = TextDiff::from_chars(before, after);
    let emphasis = Style::new().bold().underline();
    let (mut b, mut a) = (String::from("\""), String::from("\""));
    for change in diff.iter_all_changes() {
        let text = escape_inner(change.value());
        match change.tag() {
            ChangeTag::Equal => {
                b.push_str(&text);
                a.push_str(&text);
            }
            ChangeTag::Delete => b.push_str(&format!("{RED}{emphasis}{text}{emphasis:#}{RED:#}")),
            ChangeTag::Insert => {
                a.push_str(&format!("{GREEN}{emphasis}{text}{emphasis:#}{GREEN:#}"))
            }
        }
    }
    b.push('"');
    a.push('"');
    (b, a)
}

fn escape_inner(s: &str) -> String {
    let q = quote(s);
    q[1..q.len() - 1].to_string()
}

fn unmanaged_lines(out: &mut String, unmanaged: &[Unmanaged]) {
    let (owned, others): (Vec<&Unmanaged>, Vec<&Unmanaged>) =
        unmanaged.iter().partition(|u| u.owned);
    if !owned.is_empty() {
        let _ = writeln!(out, "{}", owned_heading(&owned, owned.len()));
        for u in &owned {
            unmanaged_line(out, u);
        }
        out.push('\n');
    }
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "Unmanaged projects (not in the manifest): {}",
            others.len()
        );
        for u in &others {
            unmanaged_line(out, u);
        }
        out.push('\n');
    }
}

fn unmanaged_line(out: &mut String, u: &Unmanaged) {
    let mark = if u.violations.is_empty() { " " } else { "!" };
    let notes = unmanaged_notes(u);
    let rest = if notes.is_empty() {
        String::new()
    } else {
        format!(": {notes}")
    };
    let _ = writeln!(out, "  {mark} {} ({}){rest}", quote(&u.name), u.id);
}

/// "Owned by platform/bedrock-projects, not in the manifest: 2": projects this manifest made or
/// adopted (their `ManagedBy` is its `owner`) that it no longer declares, and that are kept.
fn owned_heading(owned: &[&Unmanaged], count: usize) -> String {
    match owned.first().and_then(|u| u.tags.get(OWNER_TAG)) {
        Some(owner) => format!("Owned by {owner}, not in the manifest: {count}"),
        None => format!("Owned projects not in the manifest: {count}"),
    }
}

/// What the text and markdown plans say of a project not in the manifest: why an owned one is
/// kept, protected, and its violations.
fn unmanaged_notes(u: &Unmanaged) -> String {
    let mut notes = Vec::new();
    if u.owned && u.protected {
        notes.push("protected, so never archived".to_string());
    } else if u.owned {
        notes.push("kept: `prune` is off".to_string());
    } else if u.protected {
        notes.push("protected".to_string());
    }
    let violations = violation_summary(u);
    if !violations.is_empty() {
        notes.push(violations);
    }
    notes.join("; ")
}

/// "missing required tags Application, Owner; Environment: ..." — the same sentences as
/// validate and audit.
pub fn violation_summary(u: &Unmanaged) -> String {
    sentences(&u.violations).join("; ")
}

/// The pull-request comment: summary first, a table of changes, the text plan folded as a diff
/// block, unmanaged projects and warnings; cut to `MARKDOWN_LIMIT` characters, saying what was cut.
/// What goes first is what matters least: the folded plan (it is in the job log), then the list
/// of unmanaged projects (often long in an account adopting tagrec), then rows of the table.
pub fn markdown(plan: &Plan) -> String {
    let head = format!("### tagrec plan\n\n**{}**\n\n", summary_line(plan));
    markdown_within(plan, &head, MARKDOWN_LIMIT, "this comment is limited")
}

/// One manifest's part of an estate's comment: the table, the folded plan, unmanaged projects
/// and warnings (no heading, no summary line: the estate's section has them), within `limit`
/// characters, its share of the comment.
pub fn markdown_section(plan: &Plan, limit: usize) -> String {
    markdown_within(
        plan,
        "",
        limit,
        "this manifest's part of the comment is limited",
    )
    .trim_end()
    .to_string()
}

/// The markdown form cut to `limit` characters; `limited` says what the limit is of.
fn markdown_within(plan: &Plan, head: &str, limit: usize, limited: &str) -> String {
    let mut parts = MarkdownParts {
        limit,
        limited: limited.to_string(),
        rows: plan.changes.iter().map(table_row).collect(),
        cut_rows: 0,
        diff_lines: strip_ansi(&text(plan)).lines().map(diff_line).collect(),
        cut_diff: 0,
        owned_heading: {
            let owned: Vec<&Unmanaged> = plan.unmanaged.iter().filter(|u| u.owned).collect();
            owned_heading(&owned, owned.len())
        },
        owned_total: plan.unmanaged.iter().filter(|u| u.owned).count(),
        unmanaged_total: plan.unmanaged.iter().filter(|u| !u.owned).count(),
        // Owned projects first: the list is cut from its end, and they are the fewer.
        unmanaged: plan
            .unmanaged
            .iter()
            .filter(|u| u.owned)
            .chain(plan.unmanaged.iter().filter(|u| !u.owned))
            .map(|u| (u.owned, unmanaged_item(u)))
            .collect(),
        warnings: warnings_block(plan),
    };
    loop {
        let doc = parts.assemble(head);
        if doc.chars().count() <= limit {
            return doc;
        }
        let diff_len = parts.diff_lines.len();
        if parts.cut_diff < diff_len {
            // In large steps: each try assembles the whole comment again.
            parts.cut_diff = (parts.cut_diff + diff_len / 8 + 50).min(diff_len);
        } else if !parts.unmanaged.is_empty() {
            let keep = parts
                .unmanaged
                .len()
                .saturating_sub(parts.unmanaged.len() / 8 + 10);
            parts.unmanaged.truncate(keep);
        } else if !parts.rows.is_empty() {
            let keep = parts.rows.len().saturating_sub(parts.rows.len() / 8 + 10);
            parts.cut_rows += parts.rows.len() - keep;
            parts.rows.truncate(keep);
        } else {
            // Only the warnings are left to cut: keep their start, and say so.
            let note = format!(
                "\n\n_Cut here: {limited} to {limit} characters; the whole plan is in the job log._\n"
            );
            let keep = limit.saturating_sub(note.chars().count());
            let mut cut: String = doc.chars().take(keep).collect();
            cut.push_str(&note);
            return cut;
        }
    }
}

/// The pieces of the markdown comment, and how much of each was cut.
struct MarkdownParts {
    limit: usize,
    /// What the limit is of: "this comment is limited".
    limited: String,
    rows: Vec<String>,
    cut_rows: usize,
    diff_lines: Vec<String>,
    cut_diff: usize,
    owned_heading: String,
    owned_total: usize,
    unmanaged_total: usize,
    /// Every project not in the manifest, owned ones first: (owned, list item).
    unmanaged: Vec<(bool, String)>,
    warnings: String,
}

impl MarkdownParts {
    fn assemble(&self, head: &str) -> String {
        let mut out = head.to_string();
        if !self.rows.is_empty() || self.cut_rows > 0 {
            out.push_str("| Action | Project | Id | Changes |\n|---|---|---|---|\n");
            for r in &self.rows {
                out.push_str(r);
            }
            if self.cut_rows > 0 {
                let _ = writeln!(
                    out,
                    "\n_{} more changes not shown: {} to {} characters; the whole plan is in the job log and the plan file._",
                    self.cut_rows, self.limited, self.limit
                );
            }
            out.push('\n');
        }
        let kept = self.diff_lines.len() - self.cut_diff;
        if kept > 0 {
            out.push_str("<details><summary>Show the plan</summary>\n\n```diff\n");
            for l in &self.diff_lines[..kept] {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str("```\n");
            if self.cut_diff > 0 {
                let _ = writeln!(
                    out,
                    "\n_{} more lines of the plan not shown (comment size limit); the whole plan is in the job log._",
                    self.cut_diff
                );
            }
            out.push_str("\n</details>\n\n");
        } else if self.cut_diff > 0 {
            out.push_str(
                "_The text plan is not shown (comment size limit); it is in the job log._\n\n",
            );
        }
        for (owned, heading, total) in [
            (true, self.owned_heading.clone(), self.owned_total),
            (
                false,
                format!(
                    "Unmanaged projects (not in the manifest): {}",
                    self.unmanaged_total
                ),
                self.unmanaged_total,
            ),
        ] {
            if total == 0 {
                continue;
            }
            let _ = writeln!(out, "**{}**\n", markdown_text(&heading));
            let mut shown = 0;
            for (_, item) in self.unmanaged.iter().filter(|(o, _)| *o == owned) {
                out.push_str(item);
                shown += 1;
            }
            let cut = total - shown;
            if cut > 0 {
                let what = if owned { "owned" } else { "unmanaged" };
                let _ = writeln!(
                    out,
                    "\n_{cut} more {what} projects not shown (comment size limit); `tagrec audit` lists them all._"
                );
            }
            out.push('\n');
        }
        out.push_str(&self.warnings);
        out
    }
}

fn table_row(c: &Change) -> String {
    let summary = match c.action {
        Action::Archive => c.reason.clone().unwrap_or_default(),
        _ => c
            .tag_changes
            .iter()
            .map(|t| {
                let key = t.key.as_deref().unwrap_or("");
                match t.op {
                    TagOp::Add => format!("+{key}"),
                    TagOp::Change => format!("~{key}"),
                    TagOp::Remove => format!("-{key}"),
                    TagOp::Rename => {
                        format!("~{}→{key}", t.from_key.as_deref().unwrap_or(""))
                    }
                    TagOp::RenameProject => format!(
                        "name {}→{}",
                        t.before.as_deref().unwrap_or(""),
                        t.after.as_deref().unwrap_or("")
                    ),
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!(
        "| {} | {} | {} | {} |\n",
        c.action.as_str(),
        code(&c.name),
        c.id.as_deref().map(code).unwrap_or_default(),
        markdown_text(&summary)
    )
}

fn unmanaged_item(u: &Unmanaged) -> String {
    let notes = unmanaged_notes(u);
    let rest = if notes.is_empty() {
        String::new()
    } else {
        format!(": {}", markdown_text(&notes))
    };
    format!("- {} ({}){rest}\n", code(&u.name), code(&u.id))
}

fn warnings_block(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.warnings.is_empty() {
        out.push_str("**Warnings**\n\n");
        for w in &plan.warnings {
            let _ = writeln!(out, "- {}", markdown_text(w));
        }
        out.push('\n');
    }
    out
}

/// Lines of the text plan as a `diff` block: the sign in column one so GitHub colours it
/// (`~` becomes `!`, which GitHub shows as changed).
fn diff_line(line: &str) -> String {
    let trimmed = line.trim_start();
    let indent = line.len() - trimmed.len();
    match trimmed.chars().next() {
        Some(sign @ ('+' | '-' | '~' | '!')) if indent > 0 => {
            let sign = if sign == '~' { '!' } else { sign };
            format!("{sign}{}{}", " ".repeat(indent), &trimmed[1..])
        }
        _ => line.to_string(),
    }
}

fn code(s: &str) -> String {
    // A backtick inside a code span needs a longer fence; names with one are rare enough to
    // fall back to escaping.
    // A line break would end the table row (or the list item) in the middle.
    if s.contains(['`', '\n', '\r']) {
        markdown_text(s)
    } else {
        format!("`{}`", s.replace('|', "\\|"))
    }
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanTarget;
    use crate::plan::Summary;

    fn plan_with(unmanaged: usize, warnings: usize) -> Plan {
        Plan {
            format_version: "1".into(),
            tagrec_version: "0.2.0".into(),
            manifest: "projects.yaml".into(),
            target: PlanTarget {
                endpoint: "http://127.0.0.1:1/v1".into(),
                region: Some("us-east-1".into()),
            },
            summary: Summary {
                unmanaged,
                ..Summary::default()
            },
            changes: Vec::new(),
            unmanaged: (0..unmanaged)
                .map(|i| Unmanaged {
                    name: format!("Project-{i:05}"),
                    id: format!("proj_{i:020}"),
                    protected: false,
                    owned: false,
                    tags: Default::default(),
                    violations: Vec::new(),
                })
                .collect(),
            warnings: (0..warnings)
                .map(|i| format!("warning {i}: {}", "x".repeat(200)))
                .collect(),
            ignore_tags: Vec::new(),
        }
    }

    #[test]
    fn a_name_with_a_line_break_stays_on_its_line() {
        let mut plan = plan_with(1, 0);
        plan.unmanaged[0].name = "Two\nLines | pipe".into();
        let md = markdown(&plan);
        assert!(md.contains("- Two Lines \\| pipe (`proj_"), "{md}");
    }

    #[test]
    fn a_short_plan_is_not_cut() {
        let md = markdown(&plan_with(3, 1));
        assert!(
            !md.contains("not shown") && !md.contains("Cut here"),
            "{md}"
        );
        assert!(md.contains("- `Project-00002`"), "{md}");
    }

    #[test]
    fn unmanaged_projects_are_cut_with_a_count_of_the_rest() {
        let md = markdown(&plan_with(5000, 0));
        assert!(md.chars().count() <= MARKDOWN_LIMIT);
        let listed = md.lines().filter(|l| l.starts_with("- `Project-")).count();
        assert!(listed > 0 && listed < 5000);
        assert!(md.contains(&format!(
            "_{} more unmanaged projects not shown",
            5000 - listed
        )));
    }

    #[test]
    fn when_only_warnings_are_left_the_cut_still_says_so() {
        let md = markdown(&plan_with(0, 1000));
        assert!(
            md.chars().count() <= MARKDOWN_LIMIT,
            "{}",
            md.chars().count()
        );
        assert!(
            md.trim_end()
                .ends_with("the whole plan is in the job log._")
        );
        assert!(md.starts_with("### tagrec plan\n\n**No changes."));
    }
}
