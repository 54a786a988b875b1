//! Printers of `tagrec billing`: the status of the manifest's keys as cost allocation tags, what
//! an activation did (key by key, with what to do about each that failed), and backfills.

use std::fmt::Write;

use serde::Serialize;
use serde_json::json;

use crate::render::pad;

/// Where a key stands in Billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    Active,
    Inactive,
    /// Billing has not seen the key on a billed resource yet: it cannot be activated.
    NotSeen,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Inactive => "inactive",
            KeyState::NotSeen => "not-seen",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    pub key: String,
    pub status: KeyState,
    pub last_used: Option<String>,
}

/// A key Billing did not activate, and what the user can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFailure {
    pub key: String,
    pub code: String,
    pub message: String,
    pub advice: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activation {
    pub activated: Vec<String>,
    pub failed: Vec<KeyFailure>,
    pub already_active: Vec<String>,
}

/// What `not-seen` means, and what to do: said wherever keys are not seen.
pub fn not_seen_advice(keys: usize) -> String {
    let (them, it) = if keys == 1 {
        ("this key", "it")
    } else {
        ("these keys", "them")
    };
    format!(
        "Billing has not seen {them} on a billed resource yet: send an inference request with the id of a project that carries {it} (`project=` in the OpenAI SDK, see `tagrec output`), then run `tagrec billing activate` again once Billing has seen {it} (it can take up to 24 hours)"
    )
}

pub fn status_text(keys: &[KeyStatus]) -> String {
    if keys.is_empty() {
        return "The manifests use no tag keys: nothing to activate in Billing.\n".to_string();
    }
    let width = keys
        .iter()
        .map(|k| crate::render::width(&k.key))
        .max()
        .unwrap_or(0)
        .max(3);
    let mut out = format!("{}  {:8}  LAST USED\n", pad("KEY", width), "STATUS");
    for k in keys {
        let _ = writeln!(
            out,
            "{}  {:8}  {}",
            pad(&k.key, width),
            k.status.as_str(),
            k.last_used.as_deref().unwrap_or("-")
        );
    }
    let count = |state| keys.iter().filter(|k| k.status == state).count();
    let (inactive, not_seen) = (count(KeyState::Inactive), count(KeyState::NotSeen));
    let _ = writeln!(
        out,
        "\n{} of {} keys active, {inactive} inactive, {not_seen} not seen by Billing yet.",
        count(KeyState::Active),
        keys.len()
    );
    if inactive > 0 {
        out.push_str(
            "Inactive keys are not in Cost Explorer: `tagrec billing activate` activates them (it takes up to 24 hours to show).\n",
        );
    }
    if not_seen > 0 {
        let names: Vec<&str> = keys
            .iter()
            .filter(|k| k.status == KeyState::NotSeen)
            .map(|k| k.key.as_str())
            .collect();
        let _ = writeln!(
            out,
            "Not seen ({}): {}.",
            names.join(", "),
            not_seen_advice(names.len())
        );
    }
    out
}

pub fn status_json(keys: &[KeyStatus]) -> String {
    pretty(&json!({"format_version": "1", "keys": keys}))
}

/// What `billing activate` would do, before it asks.
pub fn activation_preview(to_activate: &[&KeyStatus], active: usize) -> String {
    let mut out = String::new();
    if to_activate.is_empty() {
        let _ = match active {
            0 => writeln!(out, "The manifests use no tag keys. Nothing to activate."),
            1 => writeln!(
                out,
                "The one key is active as a cost allocation tag. Nothing to activate."
            ),
            _ => writeln!(
                out,
                "All {active} keys are active as cost allocation tags. Nothing to activate."
            ),
        };
        return out;
    }
    out.push_str("tagrec billing will activate these cost allocation tags (account-wide, in the payer account):\n\n");
    for k in to_activate {
        let note = match k.status {
            KeyState::NotSeen => "  (not seen by Billing yet: this may fail)",
            _ => "",
        };
        let _ = writeln!(out, "  + {}{note}", k.key);
    }
    let _ = writeln!(
        out,
        "\nActivate: {} to activate, {active} already active. tagrec never deactivates a key.",
        to_activate.len()
    );
    out
}

pub fn activation_text(activation: &Activation) -> String {
    let mut out = String::new();
    for key in &activation.activated {
        let _ = writeln!(out, "activated {key}");
    }
    for f in &activation.failed {
        let _ = writeln!(
            out,
            "FAILED to activate {} ({}: {}): {}",
            f.key, f.code, f.message, f.advice
        );
    }
    let _ = write!(
        out,
        "\nActivation: {} activated, {} failed, {} already active.",
        activation.activated.len(),
        activation.failed.len(),
        activation.already_active.len()
    );
    if !activation.activated.is_empty() {
        out.push_str(" Activated keys take up to 24 hours to show in Cost Explorer; `tagrec billing backfill --from YYYY-MM` applies them to earlier months.");
    }
    out.push('\n');
    out
}

pub fn backfill_text(requested: Option<&Backfill>, history: &[Backfill]) -> String {
    let mut out = String::new();
    if let Some(b) = requested {
        let _ = writeln!(
            out,
            "Backfill from {} requested ({}): Billing applies today's tag status to the months since.\n",
            b.from, b.status
        );
    }
    out.push_str("FROM                  STATUS      REQUESTED             COMPLETED\n");
    for b in history {
        let _ = writeln!(
            out,
            "{:20}  {:10}  {:20}  {}",
            b.from,
            b.status,
            b.requested_at.as_deref().unwrap_or("-"),
            b.completed_at.as_deref().unwrap_or("-")
        );
    }
    out
}

pub use crate::api::cost_explorer::Backfill;

fn pretty(value: &serde_json::Value) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_default();
    out.push('\n');
    out
}
