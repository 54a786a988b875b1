//! Printers of a `Plan`: text (Terraform's shape, for terminals and CI logs), markdown (a
//! pull-request comment) and JSON (the saved-plan format). They only format; the plan is data.

use std::fmt::Write;

use anstyle::Style;
use similar::{ChangeTag, TextDiff};

use crate::manifest::{OWNER_TAG, TagSource};
use crate::plan::{Action, Change, Plan, TagChange, TagOp, Unmanaged};
use crate::render::markdown_text;
use crate::shell::{BOLD, GREEN, RED, YELLOW};

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
    let width = line.chars().count();
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
    if unmanaged.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Unmanaged projects (not in the manifest): {}",
        unmanaged.len()
    );
    for u in unmanaged {
        let mut notes = Vec::new();
        if u.protected {
            notes.push("protected".to_string());
        }
        let violations = violation_summary(u);
        if !violations.is_empty() {
            notes.push(violations);
        }
        let mark = if u.violations.is_empty() { " " } else { "!" };
        let rest = if notes.is_empty() {
            String::new()
        } else {
            format!(": {}", notes.join("; "))
        };
        let _ = writeln!(out, "  {mark} {} ({}){rest}", quote(&u.name), u.id);
    }
    out.push('\n');
}

/// "missing Application, CostCenter, Owner; Environment: ..." — missing tags folded into one.
pub fn violation_summary(u: &Unmanaged) -> String {
    let mut missing = Vec::new();
    let mut other = Vec::new();
    for v in &u.violations {
        match v.message.strip_prefix("missing required tag ") {
            Some(key) => missing.push(key.to_string()),
            None => other.push(v.message.clone()),
        }
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing {}", missing.join(", ")));
    }
    parts.extend(other);
    parts.join("; ")
}

/// The pull-request comment: summary first, a table of changes, the text plan folded as a diff
/// block, unmanaged projects and warnings; cut to `MARKDOWN_LIMIT` characters, saying what was cut.
pub fn markdown(plan: &Plan) -> String {
    let head = format!("### tagrec plan\n\n**{}**\n\n", summary_line(plan));
    let mut rows: Vec<String> = plan.changes.iter().map(table_row).collect();
    let diff_lines: Vec<String> = strip_ansi(&text(plan)).lines().map(diff_line).collect();
    let tail = markdown_tail(plan);

    let mut cut_diff = 0;
    let mut cut_rows = 0;
    loop {
        let doc = assemble(&head, &rows, cut_rows, &diff_lines, cut_diff, &tail);
        if doc.chars().count() <= MARKDOWN_LIMIT {
            return doc;
        }
        if cut_diff < diff_lines.len() {
            // Cut the folded plan first, in large steps: the table keeps the overview.
            cut_diff = (cut_diff + diff_lines.len() / 8 + 50).min(diff_lines.len());
        } else if !rows.is_empty() {
            let step = rows.len() / 8 + 10;
            let keep = rows.len().saturating_sub(step);
            cut_rows += rows.len() - keep;
            rows.truncate(keep);
        } else {
            return doc.chars().take(MARKDOWN_LIMIT).collect();
        }
    }
}

fn assemble(
    head: &str,
    rows: &[String],
    cut_rows: usize,
    diff_lines: &[String],
    cut_diff: usize,
    tail: &str,
) -> String {
    let mut out = head.to_string();
    if !rows.is_empty() || cut_rows > 0 {
        out.push_str("| Action | Project | Id | Changes |\n|---|---|---|---|\n");
        for r in rows {
            out.push_str(r);
        }
        if cut_rows > 0 {
            let _ = writeln!(
                out,
                "\n_{cut_rows} more changes not shown: this comment is limited to {MARKDOWN_LIMIT} characters; the whole plan is in the job log and the plan file._"
            );
        }
        out.push('\n');
    }
    let kept = diff_lines.len() - cut_diff;
    if kept > 0 {
        out.push_str("<details><summary>Show the plan</summary>\n\n```diff\n");
        for l in &diff_lines[..kept] {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str("```\n");
        if cut_diff > 0 {
            let _ = writeln!(
                out,
                "\n_{cut_diff} more lines of the plan not shown (comment size limit); the whole plan is in the job log._"
            );
        }
        out.push_str("\n</details>\n\n");
    } else if cut_diff > 0 {
        out.push_str(
            "_The text plan is not shown (comment size limit); it is in the job log._\n\n",
        );
    }
    out.push_str(tail);
    out
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

fn markdown_tail(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "**Unmanaged projects (not in the manifest): {}**\n",
            plan.unmanaged.len()
        );
        for u in &plan.unmanaged {
            let mut notes = Vec::new();
            if u.protected {
                notes.push("protected".to_string());
            }
            let v = violation_summary(u);
            if !v.is_empty() {
                notes.push(v);
            }
            let rest = if notes.is_empty() {
                String::new()
            } else {
                format!(": {}", markdown_text(&notes.join("; ")))
            };
            let _ = writeln!(out, "- {} ({}){rest}", code(&u.name), code(&u.id));
        }
        out.push('\n');
    }
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
    if s.contains('`') {
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
