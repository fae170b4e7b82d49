//! Project use cases: resolve names, enforce the tree's rules, then store.

use openzero_core::{
    Domain, NewProject, Priority, Progress, Project, ProjectPatch, Status, check_parent,
    check_unique, resolve, validate_name,
};
use std::collections::HashMap;

use openzero_core::ProjectId;
use openzero_store::board::CardQuery;
use openzero_store::{ProjectStore, Removed, Store};

use crate::AppError;

/// Options for a new project; the parent is given as the owner typed it
/// (`12`, `#12` or a name).
#[derive(Debug, Clone, Default)]
pub struct AddProject {
    pub name: String,
    pub parent: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub domain: Option<Domain>,
    pub progress: Option<Progress>,
    pub description: Option<String>,
}

/// Changes to a project; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UpdateProject {
    pub name: Option<String>,
    /// `Some(None)`: move to the top level.
    pub parent: Option<Option<String>>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub domain: Option<Domain>,
    pub progress: Option<Progress>,
    pub description: Option<Option<String>>,
}

/// The rule for progress: a project with tasks linked to it (on any board,
/// not archived) shows the share of them in done lists, rounded — unless
/// its progress was set by hand (`--progress`, `/project progress`, Z's
/// `project_update`), which then stays as set.
const PROGRESS_RULE: &str = "manual";

fn manual_key(id: ProjectId) -> String {
    format!("project.{id}.progress")
}

/// Linked tasks per project whose progress comes from them: (done, total).
pub async fn progress_from_tasks(
    store: &dyn Store,
    projects: &[Project],
) -> Result<HashMap<ProjectId, (usize, usize)>, AppError> {
    let cards = store
        .cards(&CardQuery {
            include_done: true,
            ..CardQuery::default()
        })
        .await?;
    let mut counts: HashMap<ProjectId, (usize, usize)> = HashMap::new();
    for c in &cards {
        if let Some(p) = c.project_id {
            let e = counts.entry(p).or_default();
            e.1 += 1;
            if c.list_done {
                e.0 += 1;
            }
        }
    }
    let mut out = HashMap::new();
    for p in projects {
        if let Some(&(done, total)) = counts.get(&p.id)
            && store.get_preference(&manual_key(p.id)).await?.as_deref() != Some(PROGRESS_RULE)
        {
            out.insert(p.id, (done, total));
        }
    }
    Ok(out)
}

/// Every project, progress as the rule above says.
pub async fn list(store: &dyn Store) -> Result<Vec<Project>, AppError> {
    let mut all = store.list_projects().await?;
    let from_tasks = progress_from_tasks(store, &all).await?;
    for p in &mut all {
        if let Some(&(done, total)) = from_tasks.get(&p.id)
            && let Ok(v) = Progress::try_from(((done * 100 + total / 2) / total.max(1)) as i64)
        {
            p.progress = v;
        }
    }
    Ok(all)
}

pub async fn tree(store: &dyn Store) -> Result<String, AppError> {
    Ok(openzero_core::render_tree(&list(store).await?))
}

/// Marks a project's progress as set by hand (tasks no longer decide it).
async fn set_by_hand(store: &dyn Store, id: ProjectId) -> Result<(), AppError> {
    Ok(store.set_preference(&manual_key(id), PROGRESS_RULE).await?)
}

pub async fn find(store: &dyn ProjectStore, query: &str) -> Result<Project, AppError> {
    let all = store.list_projects().await?;
    Ok(resolve(&all, query)?.clone())
}

pub async fn add(store: &dyn Store, req: AddProject) -> Result<Project, AppError> {
    let by_hand = req.progress.is_some();
    let all = store.list_projects().await?;
    let mut p = NewProject::new(&req.name)?;
    if let Some(parent) = &req.parent {
        let parent = resolve(&all, parent)?;
        p.parent_id = Some(parent.id);
        // A child inherits its parent's domain unless told otherwise.
        p.domain = parent.domain;
    }
    check_unique(&all, &p.name, p.parent_id, None)?;
    if let Some(s) = req.status {
        p.status = s;
    }
    if let Some(v) = req.priority {
        p.priority = v;
    }
    if let Some(v) = req.domain {
        p.domain = v;
    }
    if let Some(v) = req.progress {
        p.progress = v;
    }
    p.description = req.description.filter(|d| !d.trim().is_empty());
    let created = store.create_project(&p).await?;
    if by_hand {
        set_by_hand(store, created.id).await?;
    }
    tracing::info!(id = created.id, "project added");
    Ok(created)
}

pub async fn update(
    store: &dyn Store,
    query: &str,
    req: UpdateProject,
) -> Result<Project, AppError> {
    let by_hand = req.progress.is_some();
    let all = store.list_projects().await?;
    let current = resolve(&all, query)?;
    let mut patch = ProjectPatch {
        name: req.name.as_deref().map(validate_name).transpose()?,
        status: req.status,
        priority: req.priority,
        domain: req.domain,
        progress: req.progress,
        description: req.description.map(|d| d.filter(|d| !d.trim().is_empty())),
        ..Default::default()
    };
    if let Some(parent) = &req.parent {
        let parent_id = match parent {
            Some(q) => Some(resolve(&all, q)?.id),
            None => None,
        };
        check_parent(&all, current.id, parent_id)?;
        patch.parent_id = Some(parent_id);
    }
    if patch.is_empty() {
        return Err(AppError::EmptyUpdate);
    }
    let next = patch.apply(current);
    if next.name.to_lowercase() != current.name.to_lowercase()
        || next.parent_id != current.parent_id
    {
        check_unique(&all, &next.name, next.parent_id, Some(current.id))?;
    }
    let updated = store.update_project(current.id, &patch).await?;
    if by_hand {
        set_by_hand(store, updated.id).await?;
    }
    tracing::info!(id = updated.id, "project updated");
    Ok(updated)
}

pub async fn remove(store: &dyn ProjectStore, query: &str) -> Result<Removed, AppError> {
    let all = store.list_projects().await?;
    let p = resolve(&all, query)?;
    let removed = store.remove_project(p.id).await?;
    tracing::info!(
        id = p.id,
        children_moved = removed.children_moved,
        "project removed"
    );
    Ok(removed)
}
