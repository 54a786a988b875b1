//! Printers of an apply: the line for one finished change (progress and CI logs), and the final
//! report in text or JSON.

use crate::apply::{ApplyReport, ChangeResult, Status};
use crate::plan::{Action, FORMAT_VERSION};

/// `created "A" (proj_x)`, `FAILED to update "B" (proj_y): …`, `skipped archive "C" (…): …`.
pub fn result_line(r: &ChangeResult) -> String {
    let id =
        r.id.as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default();
    let done = match r.action {
        Action::Archive => "archived",
        Action::Create => "created",
        Action::Update => "updated",
    };
    let error = r.error.as_deref().unwrap_or("");
    match r.status {
        Status::Done => match &r.note {
            Some(note) => format!("{done} \"{}\"{id} ({note})", r.name),
            None => format!("{done} \"{}\"{id}", r.name),
        },
        Status::Failed => format!(
            "FAILED to {} \"{}\"{id}: {error}",
            r.action.as_str(),
            r.name
        ),
        Status::Skipped => format!("skipped {} \"{}\"{id}: {error}", r.action.as_str(), r.name),
    }
}

/// `update "B" (proj_y) is not done yet: …; it is tried again in the next pass`.
pub fn unfinished_line(r: &ChangeResult) -> String {
    let id =
        r.id.as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default();
    format!(
        "{} \"{}\"{id} is not done yet: {}; it is tried again in the next pass",
        r.action.as_str(),
        r.name,
        r.error.as_deref().unwrap_or("")
    )
}

/// `pass 2: 3 changes left`.
pub fn pass_line(number: usize, left: usize) -> String {
    let changes = if left == 1 { "change" } else { "changes" };
    format!("pass {number}: {left} {changes} left")
}

/// The changes that did not go through, then the summary line and what to do next.
pub fn text(report: &ApplyReport) -> String {
    let mut out = String::new();
    let problems: Vec<&ChangeResult> = report
        .results
        .iter()
        .filter(|r| r.status != Status::Done)
        .collect();
    if !problems.is_empty() {
        out.push('\n');
        for r in &problems {
            out.push_str(&result_line(r));
            out.push('\n');
        }
    }
    let s = &report.summary;
    let head = if report.interrupted {
        "Apply interrupted"
    } else if s.failed > 0 || s.skipped > 0 {
        "Apply incomplete"
    } else {
        "Apply complete"
    };
    out.push_str(&format!(
        "\n{head}: {} done, {} failed, {} skipped.\n",
        s.done, s.failed, s.skipped
    ));
    if report.interrupted {
        out.push_str("Run apply again to finish: it plans from the live state, and adopts projects whose create answer was lost.\n");
    } else if let Some(timeout) = report.timed_out {
        out.push_str(&format!(
            "The --timeout of {} passed before every change was done ({} passes): run apply again to finish, or give it a longer --timeout.\n",
            humantime::format_duration(timeout),
            report.passes
        ));
    } else if s.failed > 0 {
        out.push_str("These failures will not go away by trying again: fix what each one says, then run apply again.\n");
    }
    out
}

/// `{"format_version", "summary": {"done", "failed", "skipped"}, "results": [...]}`.
pub fn json(report: &ApplyReport) -> String {
    let mut out = serde_json::to_string_pretty(&json_value(report)).unwrap_or_default();
    out.push('\n');
    out
}

/// The report object, as one manifest's part of an estate's JSON.
pub fn json_value(report: &ApplyReport) -> serde_json::Value {
    serde_json::json!({
        "format_version": FORMAT_VERSION,
        "summary": report.summary,
        "results": report.results,
    })
}
