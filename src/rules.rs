//! The facts of the Bedrock Projects API and of tagrec's own tags, written once: the loader checks a
//! manifest against them, the planner plans within them, and the emulator enforces them. This
//! module is the bottom layer: it names no other module of tagrec.

use std::collections::BTreeMap;

/// A project's tags, key to value, in key order (so that nothing hash-ordered leaks into output).
pub type Tags = BTreeMap<String, String>;

/// `&[("Team", "search")]` as `Tags`, for the tests of every layer.
#[cfg(test)]
pub fn tags_of(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The id (and name) of the project every account has; it can be neither modified nor archived.
pub const DEFAULT_PROJECT_ID: &str = "default";

/// Active projects an account may hold (`api.md`), `default` not counted.
pub const PROJECT_QUOTA: usize = 1_000;
/// A project name is 1 to this many characters, and not blank.
pub const MAX_NAME_CHARS: usize = 128;
/// Tags on one project, tagrec's own included.
pub const MAX_TAGS: usize = 200;
/// A tag key is 1 to this many characters.
pub const MAX_KEY_CHARS: usize = 128;
/// A tag value is 0 to this many characters.
pub const MAX_VALUE_CHARS: usize = 256;

/// The tag tagrec writes on every project of a manifest that sets `owner`.
pub const OWNER_TAG: &str = "ManagedBy";
/// The tag that keeps a project from being archived, on the live project itself.
pub const PROTECT_TAG: &str = "tagrec:protect";
/// The only value of `tagrec:protect` that protects (and the one tagrec writes).
pub const PROTECT_VALUE: &str = "true";

/// Keys with the prefix `aws:` (in any case, as everywhere in AWS tagging) are AWS's: never set,
/// removed or compared.
pub fn is_aws_key(key: &str) -> bool {
    key.get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:"))
}

/// Whether live tags carry `tagrec:protect: "true"`.
pub fn is_protected(tags: &Tags) -> bool {
    tags.get(PROTECT_TAG).map(String::as_str) == Some(PROTECT_VALUE)
}

/// The id of a project other than `default`: `proj_` and lowercase letters and digits.
pub fn is_project_id(id: &str) -> bool {
    id.strip_prefix("proj_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids() {
        assert!(is_project_id("proj_2z766pfxmkij5vwubv75"));
        assert!(!is_project_id("default"));
        assert!(!is_project_id("proj_"));
        assert!(!is_project_id("proj_ABC"));
        assert!(!is_project_id("project"));
    }

    #[test]
    fn aws_keys_in_any_case() {
        assert!(is_aws_key("aws:x"));
        assert!(is_aws_key("AWS:x"));
        assert!(!is_aws_key("aw"));
        assert!(!is_aws_key("awsx"));
        assert!(!is_aws_key("é"));
    }

    #[test]
    fn only_true_protects() {
        let tags = |v: &str| Tags::from([(PROTECT_TAG.to_string(), v.to_string())]);
        assert!(is_protected(&tags("true")));
        assert!(!is_protected(&tags("yes")));
        assert!(!is_protected(&Tags::new()));
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
    }
}
