//! Text rendering of the project tree, as shown by `openzero tree`, `/tree`
//! and in the agent's context.

use std::collections::{HashMap, HashSet};

use crate::project::{Project, ProjectId};

/// Text shown when there is nothing to render.
pub const EMPTY_TREE: &str = "No projects found.";

/// Renders the tree: one line per project, two spaces of indent per level,
/// siblings ordered by priority (1 first) then name.
///
/// ```
/// # use openzero_core::render_tree;
/// assert_eq!(render_tree(&[]), "No projects found.");
/// ```
pub fn render_tree(projects: &[Project]) -> String {
    if projects.is_empty() {
        return EMPTY_TREE.to_owned();
    }
    ordered(projects)
        .into_iter()
        .map(|(p, depth)| line(p, depth))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Projects in tree order (depth-first, siblings by priority then name),
/// each with its depth. Every project appears exactly once.
pub fn ordered(projects: &[Project]) -> Vec<(&Project, usize)> {
    let ids: HashSet<ProjectId> = projects.iter().map(|p| p.id).collect();
    let mut children: HashMap<Option<ProjectId>, Vec<&Project>> = HashMap::new();
    for p in projects {
        // A parent that does not exist makes the project a root rather than hiding it.
        let parent = p.parent_id.filter(|id| ids.contains(id));
        children.entry(parent).or_default().push(p);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
                .then_with(|| a.id.cmp(&b.id))
        });
    }

    let mut out = Vec::with_capacity(projects.len());
    let mut seen = HashSet::with_capacity(projects.len());
    let mut stack: Vec<(&Project, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|p| (*p, 0)).collect())
        .unwrap_or_default();
    loop {
        while let Some((p, depth)) = stack.pop() {
            if !seen.insert(p.id) {
                continue;
            }
            out.push((p, depth));
            if let Some(kids) = children.get(&Some(p.id)) {
                stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
            }
        }
        // Projects caught in a parent cycle (only possible with corrupt data)
        // are still shown, as roots, instead of silently disappearing.
        match projects.iter().find(|p| !seen.contains(&p.id)) {
            Some(p) => stack.push((p, 0)),
            None => break,
        }
    }
    out
}

fn line(p: &Project, depth: usize) -> String {
    format!(
        "{}{} {} [{}%]",
        "  ".repeat(depth),
        p.status.tag(),
        p.name,
        p.progress.get()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::tests::project;
    use crate::{Priority, Progress, Status};

    fn with(mut p: Project, status: Status, progress: i64, priority: i64) -> Project {
        p.status = status;
        p.progress = Progress::try_from(progress).unwrap_or_default();
        p.priority = Priority::try_from(priority).unwrap_or_default();
        p
    }

    #[test]
    fn renders_the_documented_example() {
        let ps = vec![
            with(project(3, "Family", None), Status::Active, 60, 2),
            with(project(1, "Career", None), Status::Active, 40, 1),
            with(
                project(2, "Job Applications", Some(1)),
                Status::Paused,
                20,
                3,
            ),
            with(
                project(4, "Kindergarten Registration", Some(3)),
                Status::Completed,
                100,
                3,
            ),
        ];
        assert_eq!(
            render_tree(&ps),
            "[ACTIVE] Career [40%]\n  [PAUSED] Job Applications [20%]\n[ACTIVE] Family [60%]\n  [DONE] Kindergarten Registration [100%]"
        );
    }

    #[test]
    fn empty_tree_says_so() {
        assert_eq!(render_tree(&[]), "No projects found.");
    }

    #[test]
    fn siblings_by_priority_then_name_case_insensitive() {
        let ps = vec![
            with(project(1, "zeta", None), Status::Active, 0, 1),
            with(project(2, "beta", None), Status::Active, 0, 2),
            with(project(3, "Alpha", None), Status::Archived, 0, 2),
        ];
        assert_eq!(
            render_tree(&ps),
            "[ACTIVE] zeta [0%]\n[ARCHIVED] Alpha [0%]\n[ACTIVE] beta [0%]"
        );
    }

    #[test]
    fn deep_nesting_indents_two_spaces_per_level() {
        let ps = vec![
            project(1, "a", None),
            project(2, "b", Some(1)),
            project(3, "c", Some(2)),
        ];
        let t = render_tree(&ps);
        assert_eq!(t.lines().nth(2), Some("    [ACTIVE] c [0%]"));
    }

    #[test]
    fn corrupt_cycles_and_orphans_are_still_shown() {
        let ps = vec![
            project(1, "a", Some(2)),
            project(2, "b", Some(1)),
            project(3, "orphan", Some(99)),
        ];
        let t = render_tree(&ps);
        assert_eq!(t.lines().count(), 3, "{t}");
        assert!(t.contains("orphan"));
    }
}
