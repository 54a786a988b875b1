//! The diff of one matched project: desired effective tags against the live tags, over the keys
//! tagrec manages (never `aws:`, never `ignore_tags`). A live key that differs from a desired key
//! only by case is a rename, so `costcenter` becomes `CostCenter` in one modify request.
//! `tagrec:protect` is compared only when the entry sets `protect:`; otherwise the live tag, with
//! whatever value, is the project's own and is left alone.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{ModifyProject, Tags};
use crate::manifest::{DesiredTag, TagPatterns, is_managed_key};
use crate::rules::PROTECT_TAG;

use super::model::{TagChange, TagOp};

/// The tag changes of one project and the one modify request that makes them. `add_tags` and
/// `remove_tag_keys` never share a key, so the API's order of the two does not matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagDiff {
    pub changes: Vec<TagChange>,
    pub request: ModifyProject,
}

/// `protect` is the entry's `protect:`: `None` leaves the live `tagrec:protect` untouched.
pub fn diff_tags(
    desired: &BTreeMap<String, DesiredTag>,
    live: &Tags,
    ignore: &TagPatterns,
    protect: Option<bool>,
) -> TagDiff {
    let compared = |k: &str| is_managed_key(k, ignore) && (protect.is_some() || k != PROTECT_TAG);
    let managed_live: BTreeMap<&str, &str> = live
        .iter()
        .filter(|(k, _)| compared(k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Live keys that no desired key claims exactly: candidates for a case rename, else removed.
    let mut unclaimed: BTreeSet<&str> = managed_live
        .keys()
        .copied()
        .filter(|k| !desired.contains_key(*k))
        .collect();

    let mut diff = TagDiff::default();
    for (key, tag) in desired.iter().filter(|(k, _)| compared(k)) {
        match managed_live.get(key.as_str()) {
            Some(value) if *value == tag.value => {}
            Some(value) => {
                diff.changes.push(TagChange {
                    op: TagOp::Change,
                    key: Some(key.clone()),
                    from_key: None,
                    before: Some((*value).to_string()),
                    after: Some(tag.value.clone()),
                    source: Some(tag.source),
                });
                diff.request.add_tags.insert(key.clone(), tag.value.clone());
            }
            None => {
                let variant = unclaimed
                    .iter()
                    .copied()
                    .find(|k| k.to_lowercase() == key.to_lowercase());
                match variant {
                    Some(old_key) => {
                        unclaimed.remove(old_key);
                        diff.changes.push(TagChange {
                            op: TagOp::Rename,
                            key: Some(key.clone()),
                            from_key: Some(old_key.to_string()),
                            before: Some(managed_live[old_key].to_string()),
                            after: Some(tag.value.clone()),
                            source: Some(tag.source),
                        });
                        diff.request.remove_tag_keys.push(old_key.to_string());
                    }
                    None => diff.changes.push(TagChange {
                        op: TagOp::Add,
                        key: Some(key.clone()),
                        from_key: None,
                        before: None,
                        after: Some(tag.value.clone()),
                        source: Some(tag.source),
                    }),
                }
                diff.request.add_tags.insert(key.clone(), tag.value.clone());
            }
        }
    }
    for key in unclaimed {
        diff.changes.push(TagChange {
            op: TagOp::Remove,
            key: Some(key.to_string()),
            from_key: None,
            before: Some(managed_live[key].to_string()),
            after: None,
            source: None,
        });
        diff.request.remove_tag_keys.push(key.to_string());
    }
    diff.request.remove_tag_keys.sort();
    // Shown in key order whatever the op, as Terraform lists attributes.
    diff.changes
        .sort_by(|a, b| a.key.cmp(&b.key).then(a.op.cmp(&b.op)));
    diff
}

/// Tags restricted to the keys tagrec manages.
pub fn managed_tags(tags: &Tags, ignore: &TagPatterns) -> Tags {
    tags.iter()
        .filter(|(k, _)| is_managed_key(k, ignore))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::desired_tags as desired;

    use crate::rules::tags_of as tags;

    #[test]
    fn equal_tags_give_no_change() {
        let d = diff_tags(
            &desired(&[("A", "1")]),
            &tags(&[("A", "1")]),
            &TagPatterns::default(),
            None,
        );
        assert!(d.changes.is_empty());
        assert!(d.request.is_empty());
    }

    #[test]
    fn add_change_remove() {
        let d = diff_tags(
            &desired(&[("Owner", "carol"), ("Team", "Risk")]),
            &tags(&[("Owner", "bob"), ("Legacy", "yes")]),
            &TagPatterns::default(),
            None,
        );
        let ops: Vec<_> = d
            .changes
            .iter()
            .map(|c| (c.op, c.key.clone().unwrap()))
            .collect();
        assert_eq!(
            ops,
            vec![
                (TagOp::Remove, "Legacy".into()),
                (TagOp::Change, "Owner".into()),
                (TagOp::Add, "Team".into())
            ]
        );
        assert_eq!(
            d.request.add_tags,
            tags(&[("Owner", "carol"), ("Team", "Risk")])
        );
        assert_eq!(d.request.remove_tag_keys, vec!["Legacy".to_string()]);
    }

    #[test]
    fn case_only_difference_is_one_rename() {
        let d = diff_tags(
            &desired(&[("CostCenter", "CC-2001")]),
            &tags(&[("costcenter", "CC-2001")]),
            &TagPatterns::default(),
            None,
        );
        assert_eq!(d.changes.len(), 1);
        let c = &d.changes[0];
        assert_eq!(c.op, TagOp::Rename);
        assert_eq!(c.from_key.as_deref(), Some("costcenter"));
        assert_eq!(d.request.add_tags, tags(&[("CostCenter", "CC-2001")]));
        assert_eq!(d.request.remove_tag_keys, vec!["costcenter".to_string()]);
    }

    #[test]
    fn aws_and_ignored_keys_are_never_touched() {
        let ignore = TagPatterns(vec!["Backup*".into()]);
        let d = diff_tags(
            &desired(&[("A", "1")]),
            &tags(&[("A", "1"), ("aws:createdBy", "x"), ("BackupPlan", "daily")]),
            &ignore,
            None,
        );
        assert!(d.request.is_empty(), "{:?}", d.request);
    }

    #[test]
    fn request_never_shares_a_key_between_add_and_remove() {
        let d = diff_tags(
            &desired(&[("CostCenter", "1"), ("costcenter", "2")]),
            &tags(&[("COSTCENTER", "0"), ("costcenter", "3")]),
            &TagPatterns::default(),
            None,
        );
        for k in &d.request.remove_tag_keys {
            assert!(!d.request.add_tags.contains_key(k));
        }
        let after = d
            .request
            .apply_to(&tags(&[("COSTCENTER", "0"), ("costcenter", "3")]));
        assert_eq!(after, tags(&[("CostCenter", "1"), ("costcenter", "2")]));
    }
}
