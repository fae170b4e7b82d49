//! PostgreSQL: the project tree and preferences.

use super::*;

#[async_trait]
impl ProjectStore for PgStore {
    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| to_row(r).map_err(|e| self.err(e))?.try_into())
            .collect()
    }

    async fn get_project(&self, id: ProjectId) -> Result<Option<Project>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        row.map(|r| to_row(&r).map_err(|e| self.err(e))?.try_into())
            .transpose()
    }

    async fn create_project(&self, p: &NewProject) -> Result<Project, StoreError> {
        let t = now();
        // An explicit transaction: with a bare INSERT ... RETURNING, the
        // implicit commit happens after the row is read, and a failure there
        // (disk full) would be lost, reporting success for unsaved data.
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO projects (name, parent_id, status, priority, domain, progress, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(&p.name)
        .bind(p.parent_id)
        .bind(p.status.as_str())
        .bind(i16::from(p.priority.get()))
        .bind(p.domain.as_str())
        .bind(i16::from(p.progress.get()))
        .bind(&p.description)
        .bind(t)
        .bind(t)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        to_row(&row).map_err(|e| self.err(e))?.try_into()
    }

    async fn update_project(
        &self,
        id: ProjectId,
        patch: &ProjectPatch,
    ) -> Result<Project, StoreError> {
        let mut tx = self.begin().await?;
        let current: Project = Self::fetch_in(&mut tx, id, true)
            .await
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::ProjectNotFound(id))?
            .try_into()?;
        let next = patch.apply(&current);
        let row = sqlx::query(&format!(
            "UPDATE projects SET name = $1, parent_id = $2, status = $3, priority = $4, domain = $5, progress = $6, \
             description = $7, updated_at = $8 WHERE id = $9 RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(&next.name)
        .bind(next.parent_id)
        .bind(next.status.as_str())
        .bind(i16::from(next.priority.get()))
        .bind(next.domain.as_str())
        .bind(i16::from(next.progress.get()))
        .bind(&next.description)
        .bind(now())
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        to_row(&row).map_err(|e| self.err(e))?.try_into()
    }

    async fn remove_project(&self, id: ProjectId) -> Result<Removed, StoreError> {
        let mut tx = self.begin().await?;
        let project: Project = Self::fetch_in(&mut tx, id, true)
            .await
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::ProjectNotFound(id))?
            .try_into()?;
        let moved =
            sqlx::query("UPDATE projects SET parent_id = $1, updated_at = $2 WHERE parent_id = $3")
                .bind(project.parent_id)
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
                .rows_affected();
        sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Removed {
            project,
            children_moved: moved,
        })
    }

    async fn mark_reviewed(&self, id: ProjectId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE projects SET last_reviewed_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::ProjectNotFound(id));
        }
        Ok(())
    }
}

#[async_trait]
impl PreferenceStore for PgStore {
    async fn get_preference(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM preferences WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    async fn set_preference(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO preferences (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now())
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    async fn list_preferences(&self) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as("SELECT key, value FROM preferences ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }
}
