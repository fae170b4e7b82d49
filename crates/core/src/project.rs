//! Projects: the owner's hierarchical tree of what they are working on.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Database id of a project.
pub type ProjectId = i64;

/// Longest project name we accept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// What can go wrong with a project operation, phrased for the owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectError {
    #[error("no project matches '{0}'; see `openzero project list`")]
    NotFound(String),
    #[error("'{query}' matches more than one project: {}; use the id instead", format_candidates(.candidates))]
    Ambiguous {
        query: String,
        candidates: Vec<(ProjectId, String)>,
    },
    #[error("a project cannot be its own parent")]
    SelfParent,
    #[error(
        "moving '{project}' under '{parent}' would make a cycle ('{parent}' is inside '{project}')"
    )]
    Cycle { project: String, parent: String },
    #[error("project name must not be empty")]
    EmptyName,
    #[error("project name is too long ({0} characters; at most {MAX_NAME_CHARS})")]
    NameTooLong(usize),
    #[error("project name must be a single line")]
    MultilineName,
    #[error("a project named '{name}' already exists {where_}", where_ = match .parent { Some(p) => format!("under '{p}'"), None => "at the top level".to_owned() })]
    Duplicate {
        name: String,
        parent: Option<String>,
    },
    #[error("invalid priority '{0}': expected a whole number from 1 (highest) to 5 (lowest)")]
    InvalidPriority(String),
    #[error("invalid progress '{0}': expected a whole number from 0 to 100")]
    InvalidProgress(String),
    #[error("invalid status '{0}': expected one of active, paused, completed, archived")]
    InvalidStatus(String),
    #[error(
        "invalid domain '{0}': expected one of career, health, family, finance, creative, general"
    )]
    InvalidDomain(String),
}

fn format_candidates(c: &[(ProjectId, String)]) -> String {
    c.iter()
        .map(|(id, name)| format!("#{id} {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lifecycle state of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Active,
    Paused,
    Completed,
    Archived,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::Paused,
        Status::Completed,
        Status::Archived,
    ];

    /// The name stored in the database and accepted on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Paused => "paused",
            Status::Completed => "completed",
            Status::Archived => "archived",
        }
    }

    /// The tag shown in the tree, e.g. `[DONE]`.
    pub fn tag(self) -> &'static str {
        match self {
            Status::Active => "[ACTIVE]",
            Status::Paused => "[PAUSED]",
            Status::Completed => "[DONE]",
            Status::Archived => "[ARCHIVED]",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = ProjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Status::Active),
            "paused" => Ok(Status::Paused),
            "completed" | "done" => Ok(Status::Completed),
            "archived" => Ok(Status::Archived),
            _ => Err(ProjectError::InvalidStatus(s.to_owned())),
        }
    }
}

/// Life domain a project belongs to; also names the task boards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Career,
    Health,
    Family,
    Finance,
    Creative,
    #[default]
    General,
}

impl Domain {
    pub const ALL: [Domain; 6] = [
        Domain::Career,
        Domain::Health,
        Domain::Family,
        Domain::Finance,
        Domain::Creative,
        Domain::General,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Career => "career",
            Domain::Health => "health",
            Domain::Family => "family",
            Domain::Finance => "finance",
            Domain::Creative => "creative",
            Domain::General => "general",
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Domain {
    type Err = ProjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Domain::ALL
            .into_iter()
            .find(|d| d.as_str() == lower)
            .ok_or_else(|| ProjectError::InvalidDomain(s.to_owned()))
    }
}

/// Priority 1 (highest) to 5 (lowest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Priority(u8);

impl Priority {
    pub const DEFAULT: Priority = Priority(3);
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for Priority {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<i64> for Priority {
    type Error = ProjectError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        if (1..=5).contains(&v) {
            Ok(Priority(v as u8))
        } else {
            Err(ProjectError::InvalidPriority(v.to_string()))
        }
    }
}

impl From<Priority> for i64 {
    fn from(p: Priority) -> i64 {
        i64::from(p.0)
    }
}

impl FromStr for Priority {
    type Err = ProjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<i64>()
            .map_err(|_| ProjectError::InvalidPriority(s.to_owned()))
            .and_then(Priority::try_from)
    }
}

/// Progress in percent, 0 to 100.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Progress(u8);

impl Progress {
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Progress {
    type Error = ProjectError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        if (0..=100).contains(&v) {
            Ok(Progress(v as u8))
        } else {
            Err(ProjectError::InvalidProgress(v.to_string()))
        }
    }
}

impl From<Progress> for i64 {
    fn from(p: Progress) -> i64 {
        i64::from(p.0)
    }
}

impl FromStr for Progress {
    type Err = ProjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .trim_end_matches('%')
            .parse::<i64>()
            .map_err(|_| ProjectError::InvalidProgress(s.to_owned()))
            .and_then(Progress::try_from)
    }
}

/// Checks and normalises a project name: trimmed, non-empty, one line, bounded.
pub fn validate_name(name: &str) -> Result<String, ProjectError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ProjectError::EmptyName);
    }
    if name.contains(['\n', '\r']) {
        return Err(ProjectError::MultilineName);
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(ProjectError::NameTooLong(chars));
    }
    Ok(name.to_owned())
}

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub parent_id: Option<ProjectId>,
    pub status: Status,
    pub priority: Priority,
    pub domain: Domain,
    pub progress: Progress,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_reviewed_at: Option<DateTime<Utc>>,
}

/// A project about to be created. Construct with [`NewProject::new`] so the
/// name is validated once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    pub name: String,
    pub parent_id: Option<ProjectId>,
    pub status: Status,
    pub priority: Priority,
    pub domain: Domain,
    pub progress: Progress,
    pub description: Option<String>,
}

impl NewProject {
    pub fn new(name: &str) -> Result<Self, ProjectError> {
        Ok(Self {
            name: validate_name(name)?,
            parent_id: None,
            status: Status::default(),
            priority: Priority::default(),
            domain: Domain::default(),
            progress: Progress::default(),
            description: None,
        })
    }
}

/// A change to a project; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectPatch {
    pub name: Option<String>,
    /// `Some(None)` moves the project to the top level.
    pub parent_id: Option<Option<ProjectId>>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub domain: Option<Domain>,
    pub progress: Option<Progress>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
}

impl ProjectPatch {
    pub fn is_empty(&self) -> bool {
        *self == ProjectPatch::default()
    }

    /// Applies the patch to a copy of `p` (without touching timestamps).
    pub fn apply(&self, p: &Project) -> Project {
        let mut out = p.clone();
        if let Some(n) = &self.name {
            out.name.clone_from(n);
        }
        if let Some(parent) = self.parent_id {
            out.parent_id = parent;
        }
        if let Some(s) = self.status {
            out.status = s;
        }
        if let Some(v) = self.priority {
            out.priority = v;
        }
        if let Some(v) = self.domain {
            out.domain = v;
        }
        if let Some(v) = self.progress {
            out.progress = v;
        }
        if let Some(d) = &self.description {
            out.description.clone_from(d);
        }
        out
    }
}

/// Finds one project by id (`12` or `#12`) or by name (case-insensitive).
///
/// A number that is an existing id wins over a project whose name is that
/// number; several projects sharing a name is an error listing them all.
pub fn resolve<'a>(projects: &'a [Project], query: &str) -> Result<&'a Project, ProjectError> {
    let q = query.trim();
    if let Ok(id) = q.trim_start_matches('#').parse::<ProjectId>()
        && let Some(p) = projects.iter().find(|p| p.id == id)
    {
        return Ok(p);
    }
    let lower = q.to_lowercase();
    let matches: Vec<&Project> = projects
        .iter()
        .filter(|p| p.name.to_lowercase() == lower)
        .collect();
    match matches.as_slice() {
        [] => Err(ProjectError::NotFound(q.to_owned())),
        [one] => Ok(one),
        many => Err(ProjectError::Ambiguous {
            query: q.to_owned(),
            candidates: many
                .iter()
                .map(|p| (p.id, path_of(projects, p.id)))
                .collect(),
        }),
    }
}

/// `Career / Job Applications`: the project's name with its ancestors.
pub fn path_of(projects: &[Project], id: ProjectId) -> String {
    let mut parts = Vec::new();
    let mut cur = Some(id);
    while let Some(c) = cur {
        let Some(p) = projects.iter().find(|p| p.id == c) else {
            break;
        };
        if parts.len() > projects.len() {
            break; // corrupt data with a cycle: stop rather than loop
        }
        parts.push(p.name.as_str());
        cur = p.parent_id;
    }
    parts.reverse();
    parts.join(" / ")
}

/// Checks that `project` may be placed under `new_parent` without making a cycle.
pub fn check_parent(
    projects: &[Project],
    project: ProjectId,
    new_parent: Option<ProjectId>,
) -> Result<(), ProjectError> {
    let Some(parent) = new_parent else {
        return Ok(());
    };
    if parent == project {
        return Err(ProjectError::SelfParent);
    }
    let name = |id| {
        projects
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| format!("#{id}"))
    };
    let mut cur = Some(parent);
    let mut steps = 0;
    while let Some(c) = cur {
        if c == project {
            return Err(ProjectError::Cycle {
                project: name(project),
                parent: name(parent),
            });
        }
        steps += 1;
        if steps > projects.len() {
            break;
        }
        cur = projects
            .iter()
            .find(|p| p.id == c)
            .and_then(|p| p.parent_id);
    }
    Ok(())
}

/// Refuses a second project with the same name (case-insensitive) under the same parent.
pub fn check_unique(
    projects: &[Project],
    name: &str,
    parent: Option<ProjectId>,
    except: Option<ProjectId>,
) -> Result<(), ProjectError> {
    let lower = name.to_lowercase();
    let clash = projects
        .iter()
        .any(|p| Some(p.id) != except && p.parent_id == parent && p.name.to_lowercase() == lower);
    if clash {
        return Err(ProjectError::Duplicate {
            name: name.to_owned(),
            parent: parent.map(|id| path_of(projects, id)),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn project(id: ProjectId, name: &str, parent: Option<ProjectId>) -> Project {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        Project {
            id,
            name: name.to_owned(),
            parent_id: parent,
            status: Status::Active,
            priority: Priority::DEFAULT,
            domain: Domain::General,
            progress: Progress::default(),
            description: None,
            created_at: t,
            updated_at: t,
            last_reviewed_at: None,
        }
    }

    #[test]
    fn parses_status_names_and_done_alias() {
        assert_eq!("Completed".parse::<Status>(), Ok(Status::Completed));
        assert_eq!("done".parse::<Status>(), Ok(Status::Completed));
        let err = "finished".parse::<Status>().unwrap_err().to_string();
        assert!(err.contains("active, paused, completed, archived"), "{err}");
    }

    #[test]
    fn priority_and_progress_bounds() {
        assert!("0".parse::<Priority>().is_err());
        assert!("6".parse::<Priority>().is_err());
        assert_eq!("1".parse::<Priority>().map(Priority::get), Ok(1));
        assert_eq!("40%".parse::<Progress>().map(Progress::get), Ok(40));
        assert!("101".parse::<Progress>().is_err());
        assert!("-1".parse::<Progress>().is_err());
        assert!("abc".parse::<Progress>().is_err());
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(validate_name("  Career ").as_deref(), Ok("Career"));
        assert_eq!(validate_name("   "), Err(ProjectError::EmptyName));
        assert_eq!(validate_name("a\nb"), Err(ProjectError::MultilineName));
        assert!(matches!(
            validate_name(&"x".repeat(201)),
            Err(ProjectError::NameTooLong(201))
        ));
    }

    #[test]
    fn resolve_by_id_and_name_case_insensitively() {
        let ps = vec![project(1, "Career", None), project(2, "Family", None)];
        assert_eq!(resolve(&ps, "2").map(|p| p.id), Ok(2));
        assert_eq!(resolve(&ps, "#1").map(|p| p.id), Ok(1));
        assert_eq!(resolve(&ps, "cAREER").map(|p| p.id), Ok(1));
        assert_eq!(
            resolve(&ps, "Health"),
            Err(ProjectError::NotFound("Health".into()))
        );
    }

    #[test]
    fn ambiguous_name_lists_every_candidate_with_its_path() {
        let ps = vec![
            project(1, "Career", None),
            project(2, "Family", None),
            project(3, "Admin", Some(1)),
            project(4, "admin", Some(2)),
        ];
        let err = resolve(&ps, "ADMIN").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("#3 Career / Admin"), "{msg}");
        assert!(msg.contains("#4 Family / admin"), "{msg}");
    }

    #[test]
    fn refuses_cycles_and_self_parent() {
        // 1 > 2 > 3
        let ps = vec![
            project(1, "A", None),
            project(2, "B", Some(1)),
            project(3, "C", Some(2)),
        ];
        assert_eq!(check_parent(&ps, 1, Some(1)), Err(ProjectError::SelfParent));
        let err = check_parent(&ps, 1, Some(3)).unwrap_err();
        assert_eq!(
            err,
            ProjectError::Cycle {
                project: "A".into(),
                parent: "C".into()
            }
        );
        assert_eq!(check_parent(&ps, 3, Some(1)), Ok(()));
        assert_eq!(check_parent(&ps, 2, None), Ok(()));
    }

    #[test]
    fn duplicate_names_are_refused_only_among_siblings() {
        let ps = vec![project(1, "Career", None), project(2, "Admin", Some(1))];
        assert!(check_unique(&ps, "career", None, None).is_err());
        assert!(check_unique(&ps, "Admin", None, None).is_ok());
        assert!(check_unique(&ps, "admin", Some(1), None).is_err());
        assert!(check_unique(&ps, "admin", Some(1), Some(2)).is_ok());
    }

    #[test]
    fn patch_applies_only_given_fields() {
        let p = project(1, "A", Some(7));
        let patch = ProjectPatch {
            parent_id: Some(None),
            progress: Some(Progress::try_from(50).unwrap_or_default()),
            ..Default::default()
        };
        let q = patch.apply(&p);
        assert_eq!(q.parent_id, None);
        assert_eq!(q.progress.get(), 50);
        assert_eq!(q.name, "A");
        assert!(ProjectPatch::default().is_empty());
    }
}
