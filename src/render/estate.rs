//! Printers of an estate: the list of manifests (for a CI matrix), and the frame around each
//! manifest's own result when a run covers several.

use std::path::PathBuf;

use serde_json::json;

use crate::plan::Plan;

fn names(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|f| f.display().to_string()).collect()
}

/// One manifest per line.
pub fn manifests_text(files: &[PathBuf]) -> String {
    names(files).into_iter().map(|name| name + "\n").collect()
}

/// `{"manifests": ["FILE", ...]}`.
pub fn manifests_json(files: &[PathBuf]) -> String {
    let mut out =
        serde_json::to_string_pretty(&json!({"manifests": names(files)})).unwrap_or_default();
    out.push('\n');
    out
}

/// `{"include": [{"manifest": "FILE"}, ...]}` on one line, as `$GITHUB_OUTPUT` wants it for
/// `strategy.matrix: ${{ fromJSON(...) }}`.
pub fn github_matrix(files: &[PathBuf]) -> String {
    let include: Vec<_> = names(files)
        .into_iter()
        .map(|manifest| json!({"manifest": manifest}))
        .collect();
    format!("{}\n", json!({"include": include}))
}

/// `1 manifest`, `3 manifests`: the count an estate's summary line starts with.
pub fn manifests(count: usize) -> String {
    if count == 1 {
        "1 manifest".to_string()
    } else {
        format!("{count} manifests")
    }
}

/// One manifest's part of an estate's text: its file, its target when known, and its result.
pub struct Section {
    pub manifest: String,
    pub target: Option<String>,
    pub body: String,
}

/// A manifest's plan as its section: the plan, then the errors that kept a part of it from being
/// planned; or the error that kept the whole manifest from being planned.
pub fn plan_section(manifest: &str, planned: Result<(&Plan, &[String]), &String>) -> Section {
    match planned {
        Ok((plan, errors)) => {
            let mut body = super::plan::text(plan);
            if !errors.is_empty() {
                body.push('\n');
                for line in errors {
                    body.push_str(&format!("error: {line}\n"));
                }
            }
            Section {
                manifest: manifest.to_string(),
                target: Some(plan.target.endpoint.clone()),
                body,
            }
        }
        Err(error) => Section {
            manifest: manifest.to_string(),
            target: None,
            body: format!("error: {error}\n"),
        },
    }
}

/// Each manifest under a header line `== FILE (target) ==`, then the estate's summary line.
pub fn text(sections: &[Section], summary: &str) -> String {
    let mut out = String::new();
    for section in sections {
        match &section.target {
            Some(target) => out.push_str(&format!("== {} ({target}) ==\n", section.manifest)),
            None => out.push_str(&format!("== {} ==\n", section.manifest)),
        }
        out.push_str(&section.body);
        if !section.body.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(summary);
    out.push('\n');
    out
}

/// One manifest's part of an estate's JSON.
pub enum Entry {
    /// The command's own 0.1 JSON for this manifest.
    Done(serde_json::Value),
    /// The manifest failed: why, and what the command still has to show (validate's problems).
    Failed {
        error: String,
        result: Option<serde_json::Value>,
    },
}

/// `{"format_version": "1", "manifests": [{"manifest", "ok", "<command>": …} | {"manifest", "ok":
/// false, "error"}], "summary": {"manifests", "failed", …}}`. Each manifest's part is made and
/// written in turn from `entries` (which may make them lazily), so that only one of them is a
/// JSON tree at a time: an estate's output grows as text, not as trees.
pub fn json(
    command: &str,
    entries: impl IntoIterator<Item = (String, Entry)>,
    summary: serde_json::Value,
) -> String {
    let mut out = String::from("{\n  \"format_version\": \"1\",\n  \"manifests\": [");
    let mut first = true;
    for (manifest, entry) in entries {
        let item = match entry {
            Entry::Done(result) => json!({"manifest": manifest, "ok": true, command: result}),
            Entry::Failed { error, result } => {
                let mut item = json!({"manifest": manifest, "ok": false, "error": error});
                if let Some(result) = result {
                    item[command] = result;
                }
                item
            }
        };
        out.push_str(if first { "\n" } else { ",\n" });
        first = false;
        nest(&mut out, &item, "    ");
    }
    out.push_str(if first { "],\n" } else { "\n  ],\n" });
    out.push_str("  \"summary\": ");
    let mut summary_text = String::new();
    nest(&mut summary_text, &summary, "  ");
    out.push_str(summary_text.trim_start());
    out.push_str("\n}\n");
    out
}

/// `value` pretty-printed, each line after `indent`: what `to_string_pretty` of the whole
/// document prints for it at that depth.
fn nest(out: &mut String, value: &serde_json::Value, indent: &str) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    for (n, line) in text.lines().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(indent);
        out.push_str(line);
    }
}

/// One manifest's part of an estate's markdown: a line, and a body when it has something to show.
pub struct MarkdownSection {
    pub manifest: String,
    pub target: Option<String>,
    pub headline: String,
    pub body: Option<String>,
}

/// Characters the comment keeps aside for its heading, its summary and the note on what was cut.
const MARKDOWN_RESERVE: usize = 2_000;

/// How many characters each of `bodies` sections' bodies may take so that the comment stays
/// within `limit`, after the `fixed` characters of the section headings and the one-line
/// manifests. A body may hold characters of several bytes, and the limit counts bytes here: the
/// share keeps a tenth aside for them.
pub fn markdown_share(fixed: usize, bodies: usize, limit: usize) -> usize {
    let room = limit.saturating_sub(MARKDOWN_RESERVE + fixed);
    room / bodies.max(1) * 9 / 10
}

/// The room an estate's comment gives the manifests with nothing to show, a line each; past it,
/// they are counted, so that hundreds of quiet accounts leave room for the one with changes.
pub const QUIET_ROOM: usize = 8_000;

/// One comment for the whole estate: a section per manifest that has something to show, one line
/// for each that has not (as many as `QUIET_ROOM` holds, the rest counted), within `limit`
/// characters (a section that does not fit is named with its headline).
pub fn markdown(title: &str, summary: &str, sections: &[MarkdownSection], limit: usize) -> String {
    let name = |s: &MarkdownSection| match &s.target {
        Some(target) => format!(
            "`{}` ({})",
            crate::render::markdown_text(&s.manifest),
            crate::render::markdown_text(target)
        ),
        None => format!("`{}`", crate::render::markdown_text(&s.manifest)),
    };
    let mut quiet = String::new();
    let mut uncounted = 0;
    for section in sections.iter().filter(|s| s.body.is_none()) {
        let line = format!("- {}: {}\n", name(section), section.headline);
        if uncounted == 0 && quiet.len() + line.len() <= QUIET_ROOM {
            quiet.push_str(&line);
        } else {
            uncounted += 1;
        }
    }
    if uncounted > 0 {
        quiet.push_str(&format!(
            "- and {uncounted} more manifest{} with nothing to show (see the job log)\n",
            if uncounted == 1 { "" } else { "s" }
        ));
    }
    let mut out = format!("### {title}\n\n**{summary}**\n\n");
    let mut cut: Vec<String> = Vec::new();
    for section in sections {
        let Some(body) = &section.body else { continue };
        let part = format!(
            "#### {}\n\n{}\n\n{}\n\n",
            name(section),
            section.headline,
            body
        );
        // Room is kept for the one-line manifests and the note on what was cut.
        if out.len() + part.len() + quiet.len() + MARKDOWN_RESERVE > limit {
            cut.push(format!("`{}` ({})", section.manifest, section.headline));
        } else {
            out.push_str(&part);
        }
    }
    if !quiet.is_empty() {
        out.push_str(&quiet);
        out.push('\n');
    }
    if !cut.is_empty() {
        let mut note = format!(
            "_Cut to stay within {limit} characters: the details of {} manifest{}: {}; see the job log._\n",
            cut.len(),
            if cut.len() == 1 { "" } else { "s" },
            cut.join(", ")
        );
        if out.len() + note.len() > limit {
            note = format!(
                "_Cut: the details of {} manifests; see the job log._\n",
                cut.len()
            );
        }
        out.push_str(&note);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_is_the_pretty_print_of_the_whole_document() {
        for entries in [
            vec![],
            vec![
                (
                    "a.yaml".to_string(),
                    Entry::Done(json!({"x": [1, {"y": []}], "z": {}})),
                ),
                (
                    "b.yaml".to_string(),
                    Entry::Failed {
                        error: "broken\nline".into(),
                        result: Some(json!([])),
                    },
                ),
                (
                    "c.yaml".to_string(),
                    Entry::Failed {
                        error: "gone".into(),
                        result: None,
                    },
                ),
            ],
        ] {
            let summary = json!({"manifests": entries.len(), "failed": 2, "nested": {"a": 1}});
            let whole: Vec<serde_json::Value> = entries
                .iter()
                .map(|(manifest, entry)| match entry {
                    Entry::Done(r) => json!({"manifest": manifest, "ok": true, "plan": r}),
                    Entry::Failed { error, result } => {
                        let mut item = json!({"manifest": manifest, "ok": false, "error": error});
                        if let Some(r) = result {
                            item["plan"] = r.clone();
                        }
                        item
                    }
                })
                .collect();
            let expected = serde_json::to_string_pretty(&json!({
                "format_version": "1",
                "manifests": whole,
                "summary": summary,
            }))
            .unwrap()
                + "\n";
            assert_eq!(json("plan", entries, summary), expected);
        }
    }

    #[test]
    fn hundreds_of_quiet_manifests_are_counted_and_leave_room_for_the_one_with_changes() {
        let mut sections: Vec<MarkdownSection> = (0..700)
            .map(|i| MarkdownSection {
                manifest: format!("accounts/account-{i:03}-production-payments/us-east-1.yaml"),
                target: Some("sandbox:accounts/.tagrec/s.json".into()),
                headline: "No changes.".into(),
                body: None,
            })
            .collect();
        sections.push(MarkdownSection {
            manifest: "accounts/busy/us-east-1.yaml".into(),
            target: None,
            headline: "Plan: 1 to create.".into(),
            body: Some("+ create New".into()),
        });
        let out = markdown("tagrec plan", "Estate: 701 manifests", &sections, 65_000);
        assert!(
            out.len() < 65_000 && out.len() < QUIET_ROOM + 2_000,
            "{}",
            out.len()
        );
        assert!(
            out.contains(
                "#### `accounts/busy/us-east-1.yaml`\n\nPlan: 1 to create.\n\n+ create New"
            )
        );
        let shown = out.matches(": No changes.").count();
        assert!(shown > 10, "{shown}");
        assert!(
            out.contains(&format!(
                "- and {} more manifests with nothing to show",
                700 - shown
            )),
            "{out}"
        );
    }

    #[test]
    fn a_section_that_does_not_fit_is_named_with_its_headline() {
        let sections: Vec<MarkdownSection> = ["a", "b"]
            .iter()
            .map(|name| MarkdownSection {
                manifest: format!("{name}.yaml"),
                target: None,
                headline: format!("Compliance: 0 of 299 projects in {name}."),
                body: Some("x".repeat(4_000)),
            })
            .collect();
        let out = markdown("tagrec audit", "Estate", &sections, 7_000);
        assert!(out.len() <= 7_000, "{}", out.len());
        assert!(
            out.contains(
                "the details of 1 manifest: `b.yaml` (Compliance: 0 of 299 projects in b.)"
            ),
            "{out}"
        );
    }
}
