//! The emulated account: its projects and every rule of `api.md`. The HTTP server and the embedded
//! target both call this one type, so a rule (and its error) is the same whichever way it is reached.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::Serialize;

use crate::api::model::{
    CreateProject, DEFAULT_PROJECT_ID, DataRetention, ErrorBody, ErrorDetail, LiveProject,
    ModifyProject, ProjectList, ProjectStatus, Tags,
};
use crate::rules::{
    MAX_KEY_CHARS, MAX_NAME_CHARS, MAX_TAGS, MAX_VALUE_CHARS, PROJECT_QUOTA, is_aws_key,
};

use super::billing::Billing;

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// When the `default` project was made, for accounts whose seed does not say (the date of the
/// published AWS example), so that a seeded account is the same on every run.
pub const DEFAULT_PROJECT_CREATED_AT: i64 = 1_764_460_800;

/// Why the API refused a request: the HTTP status and the OpenAI-style error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {kind}: {message}")]
pub struct Refusal {
    pub status: u16,
    pub kind: &'static str,
    pub message: String,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
}

impl Refusal {
    pub fn invalid(param: Option<&'static str>, message: impl Into<String>) -> Refusal {
        Refusal {
            status: 400,
            kind: "invalid_request_error",
            message: message.into(),
            param,
            code: None,
        }
    }

    pub fn not_found(id: &str) -> Refusal {
        Refusal {
            status: 404,
            kind: "not_found_error",
            message: format!("No project found with id '{}'.", shorten(id)),
            param: Some("project_id"),
            code: None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                message: self.message.clone(),
                kind: self.kind.to_string(),
                param: self.param.map(str::to_string),
                code: self.code.map(str::to_string),
            },
        }
    }
}

/// Ids and names echoed in messages are cut, so that a hostile 10 KB id gives a short answer.
pub fn shorten(text: &str) -> String {
    const KEEP: usize = 64;
    if text.chars().count() <= KEEP {
        text.to_string()
    } else {
        let head: String = text.chars().take(KEEP).collect();
        format!("{head}...")
    }
}

/// `GET /organization/projects` parameters, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: usize,
    pub after: Option<String>,
    pub include_archived: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            limit: DEFAULT_LIMIT,
            after: None,
            include_archived: false,
        }
    }
}

impl ListQuery {
    /// Parses a raw query string; unknown parameters are ignored, as OpenAI-compatible servers do.
    pub fn parse(query: Option<&str>) -> Result<ListQuery, Refusal> {
        let mut parsed = ListQuery::default();
        let Some(query) = query else {
            return Ok(parsed);
        };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "limit" => {
                    parsed.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                        .ok_or_else(|| {
                            Refusal::invalid(
                                Some("limit"),
                                format!(
                                    "Invalid 'limit': '{}'. It must be an integer from 1 to {MAX_LIMIT}.",
                                    shorten(&value)
                                ),
                            )
                        })?;
                }
                "after" => parsed.after = Some(value.into_owned()),
                "include_archived" => {
                    parsed.include_archived = match value.as_ref() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(Refusal::invalid(
                                Some("include_archived"),
                                format!(
                                    "Invalid 'include_archived': '{}'. It must be true or false.",
                                    shorten(other)
                                ),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(parsed)
    }
}

/// One page of a list, from `projects` sorted by creation then id (a store, or a lagging snapshot
/// of one). The cursor is found among all projects, archived ones too, so that a project archived
/// between two pages does not break the walk.
pub fn page(projects: &[LiveProject], query: &ListQuery) -> Result<ProjectList, Refusal> {
    let start = match &query.after {
        None => 0,
        Some(after) => match projects.iter().position(|p| &p.id == after) {
            Some(position) => position + 1,
            None => {
                return Err(Refusal::invalid(
                    Some("after"),
                    format!(
                        "Invalid 'after': no project with id '{}'. Use the id of the last project of the previous page.",
                        shorten(after)
                    ),
                ));
            }
        },
    };
    let mut visible = projects[start..]
        .iter()
        .filter(|p| query.include_archived || p.is_active());
    let data: Vec<LiveProject> = visible.by_ref().take(query.limit).cloned().collect();
    let has_more = visible.next().is_some();
    Ok(ProjectList {
        object: "list".to_string(),
        first_id: data.first().map(|p| p.id.clone()),
        last_id: data.last().map(|p| p.id.clone()),
        has_more,
        data,
    })
}

/// The projects of one account in one region.
#[derive(Debug, Clone)]
pub struct Store {
    region: String,
    account_id: String,
    /// Sorted by (created_at, id): the list order.
    projects: Vec<LiveProject>,
    /// The payer account's Billing settings, for the emulated Cost Explorer.
    billing: Billing,
}

/// The state file's content: the projects, in the API's own shape, and Billing's settings once
/// there are any.
#[derive(Debug, Serialize)]
pub struct StoreSnapshot<'a> {
    pub version: u32,
    pub projects: &'a [LiveProject],
    #[serde(skip_serializing_if = "Billing::is_empty")]
    pub billing: &'a Billing,
}

impl Store {
    /// An account made of `projects` (already checked by the caller); `default` is added if absent.
    pub fn new(region: &str, account_id: &str, mut projects: Vec<LiveProject>) -> Store {
        if !projects.iter().any(LiveProject::is_default) {
            projects.push(LiveProject {
                id: DEFAULT_PROJECT_ID.to_string(),
                object: "organization.project".to_string(),
                name: DEFAULT_PROJECT_ID.to_string(),
                arn: Some(arn(region, account_id, DEFAULT_PROJECT_ID)),
                created_at: DEFAULT_PROJECT_CREATED_AT,
                status: ProjectStatus::Active,
                archived_at: None,
                tags: Tags::new(),
                data_retention: Some(inherit()),
            });
        }
        projects.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Store {
            region: region.to_string(),
            account_id: account_id.to_string(),
            projects,
            billing: Billing::default(),
        }
    }

    /// The same account with `billing` as its Billing settings.
    pub fn with_billing(mut self, billing: Billing) -> Store {
        self.billing = billing;
        self
    }

    pub fn projects(&self) -> &[LiveProject] {
        &self.projects
    }

    pub fn billing(&self) -> &Billing {
        &self.billing
    }

    pub fn billing_mut(&mut self) -> &mut Billing {
        &mut self.billing
    }

    pub fn list(&self, query: &ListQuery) -> Result<ProjectList, Refusal> {
        page(&self.projects, query)
    }

    pub fn retrieve(&self, id: &str) -> Result<LiveProject, Refusal> {
        self.projects
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .ok_or_else(|| Refusal::not_found(id))
    }

    pub fn create(&mut self, request: &CreateProject) -> Result<LiveProject, Refusal> {
        check_name(&request.name)?;
        check_tags(&request.tags, "tags")?;
        if request.tags.len() > MAX_TAGS {
            return Err(too_many_tags(request.tags.len()));
        }
        let active = self
            .projects
            .iter()
            .filter(|p| p.is_active() && !p.is_default())
            .count();
        if active >= PROJECT_QUOTA {
            return Err(Refusal {
                status: 400,
                kind: "invalid_request_error",
                message: format!(
                    "The account has {active} active projects, the most allowed ({PROJECT_QUOTA}). Archive projects that are no longer used before creating more."
                ),
                param: None,
                code: Some("project_limit_exceeded"),
            });
        }
        let id = self.new_id();
        let project = LiveProject {
            arn: Some(arn(&self.region, &self.account_id, &id)),
            id,
            object: "organization.project".to_string(),
            name: request.name.clone(),
            created_at: unix_now(),
            status: ProjectStatus::Active,
            archived_at: None,
            tags: request.tags.clone(),
            data_retention: Some(request.data_retention.clone().unwrap_or_else(inherit)),
        };
        let key = (project.created_at, project.id.as_str());
        let at = self
            .projects
            .partition_point(|p| (p.created_at, p.id.as_str()) < key);
        self.projects.insert(at, project.clone());
        Ok(project)
    }

    /// Applies `add_tags`, then `remove_tag_keys`, then the name: all or nothing.
    pub fn modify(&mut self, id: &str, request: &ModifyProject) -> Result<LiveProject, Refusal> {
        let index = self.index_of(id)?;
        let current = &self.projects[index];
        if current.is_default() {
            return Err(Refusal::invalid(None, "Cannot update the default project."));
        }
        if !current.is_active() {
            return Err(Refusal::invalid(
                None,
                format!(
                    "Cannot update project '{}': it is archived, and archived projects cannot be modified.",
                    current.id
                ),
            ));
        }
        if let Some(name) = &request.name {
            check_name(name)?;
        }
        check_tags(&request.add_tags, "add_tags")?;
        for key in &request.remove_tag_keys {
            if is_aws_key(key) {
                return Err(Refusal::invalid(
                    Some("remove_tag_keys"),
                    format!(
                        "Tag key '{}' uses the reserved prefix 'aws:' and cannot be removed.",
                        shorten(key)
                    ),
                ));
            }
        }
        let tags = request.apply_to(&current.tags);
        if tags.len() > MAX_TAGS {
            return Err(too_many_tags(tags.len()));
        }
        let project = &mut self.projects[index];
        project.tags = tags;
        if let Some(name) = &request.name {
            project.name = name.clone();
        }
        if let Some(retention) = &request.data_retention {
            project.data_retention = Some(retention.clone());
        }
        Ok(project.clone())
    }

    /// Archiving is terminal and idempotent: an archived project is returned as it is.
    pub fn archive(&mut self, id: &str) -> Result<LiveProject, Refusal> {
        let index = self.index_of(id)?;
        let project = &mut self.projects[index];
        if project.is_default() {
            return Err(Refusal::invalid(
                None,
                "Cannot archive the default project.",
            ));
        }
        if project.is_active() {
            project.status = ProjectStatus::Archived;
            project.archived_at = Some(unix_now());
        }
        Ok(project.clone())
    }

    fn index_of(&self, id: &str) -> Result<usize, Refusal> {
        self.projects
            .iter()
            .position(|p| p.id == id)
            .ok_or_else(|| Refusal::not_found(id))
    }

    fn new_id(&self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        loop {
            let suffix: String = (0..20)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect();
            let id = format!("proj_{suffix}");
            if !self.projects.iter().any(|p| p.id == id) {
                return id;
            }
        }
    }
}

pub fn arn(region: &str, account_id: &str, id: &str) -> String {
    format!("arn:aws:bedrock-mantle:{region}:{account_id}:project/{id}")
}

pub fn inherit() -> DataRetention {
    DataRetention {
        mode: "inherit".to_string(),
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn check_name(name: &str) -> Result<(), Refusal> {
    let chars = name.chars().count();
    if chars == 0 || name.trim().is_empty() {
        return Err(Refusal::invalid(
            Some("name"),
            "Invalid 'name': it must not be empty or blank.",
        ));
    }
    if chars > MAX_NAME_CHARS {
        return Err(Refusal::invalid(
            Some("name"),
            format!("Invalid 'name': it is {chars} characters; the limit is {MAX_NAME_CHARS}."),
        ));
    }
    Ok(())
}

fn check_tags(tags: &BTreeMap<String, String>, param: &'static str) -> Result<(), Refusal> {
    for (key, value) in tags {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_KEY_CHARS {
            return Err(Refusal::invalid(
                Some(param),
                format!(
                    "Invalid tag key '{}': it is {key_chars} characters; a key has 1 to {MAX_KEY_CHARS}.",
                    shorten(key)
                ),
            ));
        }
        if is_aws_key(key) {
            return Err(Refusal::invalid(
                Some(param),
                format!(
                    "Tag key '{}' uses the reserved prefix 'aws:' and cannot be set.",
                    shorten(key)
                ),
            ));
        }
        let value_chars = value.chars().count();
        if value_chars > MAX_VALUE_CHARS {
            return Err(Refusal::invalid(
                Some(param),
                format!(
                    "The value of tag '{}' is {value_chars} characters; the limit is {MAX_VALUE_CHARS}.",
                    shorten(key)
                ),
            ));
        }
    }
    Ok(())
}

fn too_many_tags(count: usize) -> Refusal {
    Refusal::invalid(
        Some("tags"),
        format!("A project can have at most {MAX_TAGS} tags; this request would give it {count}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new("us-east-1", "123456789012", Vec::new())
    }

    fn create(store: &mut Store, name: &str) -> LiveProject {
        store
            .create(&CreateProject {
                name: name.to_string(),
                tags: Tags::new(),
                data_retention: None,
            })
            .unwrap()
    }

    #[test]
    fn a_new_account_has_only_default() {
        let store = store();
        let list = store.list(&ListQuery::default()).unwrap();
        assert_eq!(list.data.len(), 1);
        assert_eq!(list.data[0].id, "default");
        assert!(!list.has_more);
    }

    #[test]
    fn pages_walk_every_project_once_in_creation_order() {
        let mut store = store();
        let created: Vec<String> = (0..45)
            .map(|i| create(&mut store, &format!("p{i}")).id)
            .collect();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list(&ListQuery {
                    limit: 10,
                    after: after.clone(),
                    include_archived: false,
                })
                .unwrap();
            seen.extend(page.data.iter().map(|p| p.id.clone()));
            if !page.has_more {
                break;
            }
            after = page.last_id;
        }
        assert_eq!(seen.len(), 46);
        let mut expected: Vec<String> = created.clone();
        expected.push("default".to_string());
        expected.sort();
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
        assert_eq!(seen[0], "default");
    }

    #[test]
    fn archived_projects_are_listed_only_on_request() {
        let mut store = store();
        let id = create(&mut store, "old").id;
        store.archive(&id).unwrap();
        assert_eq!(store.list(&ListQuery::default()).unwrap().data.len(), 1);
        let all = store
            .list(&ListQuery {
                include_archived: true,
                ..ListQuery::default()
            })
            .unwrap();
        assert_eq!(all.data.len(), 2);
    }

    #[test]
    fn modify_adds_then_removes() {
        let mut store = store();
        let id = create(&mut store, "p").id;
        let request = ModifyProject {
            add_tags: [("A".to_string(), "1".to_string())].into(),
            remove_tag_keys: vec!["A".to_string()],
            ..ModifyProject::default()
        };
        assert!(store.modify(&id, &request).unwrap().tags.is_empty());
    }

    #[test]
    fn limits_in_query_are_checked() {
        assert!(ListQuery::parse(Some("limit=0")).is_err());
        assert!(ListQuery::parse(Some("limit=101")).is_err());
        assert!(ListQuery::parse(Some("limit=x")).is_err());
        assert_eq!(ListQuery::parse(Some("limit=100")).unwrap().limit, 100);
        assert!(ListQuery::parse(Some("include_archived=yes")).is_err());
        assert!(ListQuery::parse(Some("whatever=1")).is_ok());
    }
}
