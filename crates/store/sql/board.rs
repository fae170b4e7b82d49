//! The boards port: boards, lists, cards and their history.
//!
//! Shared by both SQL adapters (`#[path]` module in each): every query here
//! is one both dialects accept, with `$N` placeholders the adapter's
//! `sql()` renders.

use super::*;
use openzero_core::when::Due;
use openzero_store::board::{
    BoardRow, BoardStore, CardPatch, CardQuery, CardRow, ListRow, NewCard, checklist_from,
    labels_from, to_json,
};

#[derive(sqlx::FromRow)]
struct CardDb {
    id: i64,
    board_id: i64,
    board: String,
    list_id: i64,
    list: String,
    list_done: bool,
    title: String,
    description: String,
    due_date: Option<String>,
    due_at: Option<DateTime<Utc>>,
    labels: String,
    checklist: String,
    project_id: Option<i64>,
    position: i64,
    archived: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    done_at: Option<DateTime<Utc>>,
    repeat: Option<String>,
}

const CARD_SELECT: &str = "SELECT c.id, c.board_id, b.name AS board, c.list_id, l.name AS list, \
     l.done AS list_done, c.title, c.description, c.due_date, c.due_at, c.labels, c.checklist, \
     c.project_id, c.position, c.archived, c.created_at, c.updated_at, c.done_at, c.repeat \
     FROM cards c JOIN board_lists l ON l.id = c.list_id JOIN boards b ON b.id = c.board_id";

fn card_row(c: CardDb) -> Result<CardRow, StoreError> {
    let bad = |what: &str| StoreError::InvalidData(format!("card {}: {what}", c.id));
    let due = match (&c.due_date, c.due_at) {
        (_, Some(at)) => Some(Due::At { at }),
        (Some(d), None) => Some(Due::Day {
            date: d.parse().map_err(|_| bad("unreadable due date"))?,
        }),
        (None, None) => None,
    };
    let labels = labels_from(&c.labels).ok_or_else(|| bad("unreadable labels"))?;
    let checklist = checklist_from(&c.checklist).ok_or_else(|| bad("unreadable checklist"))?;
    Ok(CardRow {
        id: c.id,
        board_id: c.board_id,
        board: c.board,
        list_id: c.list_id,
        list: c.list,
        list_done: c.list_done,
        title: c.title,
        description: c.description,
        due,
        labels,
        checklist,
        project_id: c.project_id,
        position: c.position,
        archived: c.archived,
        created_at: c.created_at,
        updated_at: c.updated_at,
        done_at: c.done_at,
        repeat: c.repeat,
    })
}

fn due_columns(due: &Option<Due>) -> (Option<String>, Option<DateTime<Utc>>) {
    match due {
        None => (None, None),
        Some(Due::Day { date }) => (Some(date.to_string()), None),
        Some(Due::At { at }) => (None, Some(*at)),
    }
}

type ListTuple = (i64, i64, String, i64, bool, bool);

impl Db {
    /// Puts `id` at `position` (1-based, clamped) among `others` (in order)
    /// and numbers the rows of `table` 1, 2, … in that order.
    async fn renumber(
        &self,
        tx: &mut sqlx::Transaction<'static, DbKind>,
        table: &'static str,
        mut others: Vec<i64>,
        id: i64,
        position: i64,
    ) -> Result<(), StoreError> {
        let at = (position.max(1) as usize - 1).min(others.len());
        others.insert(at, id);
        let q = sql(&format!("UPDATE {table} SET position = $1 WHERE id = $2"));
        for (i, row) in others.iter().enumerate() {
            sqlx::query(&q)
                .bind(i as i64 + 1)
                .bind(row)
                .execute(&mut **tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn card_in<'c, E>(&self, id: i64, exec: E) -> Result<Option<CardRow>, StoreError>
    where
        E: sqlx::Executor<'c, Database = DbKind>,
    {
        let row: Option<CardDb> = sqlx::query_as(&sql(&format!("{CARD_SELECT} WHERE c.id = $1")))
            .bind(id)
            .fetch_optional(exec)
            .await
            .map_err(|e| self.err(e))?;
        row.map(card_row).transpose()
    }
}

#[async_trait]
impl BoardStore for Db {
    async fn boards(&self) -> Result<Vec<BoardRow>, StoreError> {
        let boards: Vec<(i64, String, Option<String>, i64, bool)> = sqlx::query_as(
            "SELECT id, name, domain, position, archived FROM boards ORDER BY position, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let lists: Vec<ListTuple> = sqlx::query_as(
            "SELECT id, board_id, name, position, done, archived FROM board_lists \
             ORDER BY board_id, position, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(boards
            .into_iter()
            .map(|(id, name, domain, position, archived)| BoardRow {
                lists: lists
                    .iter()
                    .filter(|l| l.1 == id)
                    .map(|l| ListRow {
                        id: l.0,
                        board_id: l.1,
                        name: l.2.clone(),
                        position: l.3,
                        done: l.4,
                        archived: l.5,
                    })
                    .collect(),
                id,
                name,
                domain,
                position,
                archived,
            })
            .collect())
    }

    async fn board_add(
        &self,
        name: &str,
        domain: Option<&str>,
        lists: &[(String, bool)],
    ) -> Result<Option<BoardRow>, StoreError> {
        let mut tx = self.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(&sql(
            "INSERT INTO boards (name, domain, position) VALUES ($1, $2, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM boards)) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
        ))
        .bind(name)
        .bind(domain)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let Some(id) = id else {
            return Ok(None);
        };
        for (i, (list, done)) in lists.iter().enumerate() {
            sqlx::query(&sql(
                "INSERT INTO board_lists (board_id, name, position, done) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (board_id, name) DO NOTHING",
            ))
            .bind(id)
            .bind(list)
            .bind(i as i64 + 1)
            .bind(done)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(self.boards().await?.into_iter().find(|b| b.id == id))
    }

    async fn board_rename(&self, id: i64, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let taken: Option<i64> =
            sqlx::query_scalar(&sql("SELECT id FROM boards WHERE name = $1 AND id <> $2"))
                .bind(name)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        if taken.is_some() {
            return Ok(false);
        }
        sqlx::query(&sql("UPDATE boards SET name = $1 WHERE id = $2"))
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(true)
    }

    async fn board_archive(&self, id: i64, archived: bool) -> Result<(), StoreError> {
        sqlx::query(&sql("UPDATE boards SET archived = $1 WHERE id = $2"))
            .bind(archived)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn list_add(
        &self,
        board_id: i64,
        name: &str,
        done: bool,
    ) -> Result<Option<ListRow>, StoreError> {
        let row: Option<ListTuple> = sqlx::query_as(&sql(
            "INSERT INTO board_lists (board_id, name, position, done) VALUES ($1, $2, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM board_lists WHERE board_id = $1), $3) \
             ON CONFLICT (board_id, name) DO NOTHING \
             RETURNING id, board_id, name, position, done, archived",
        ))
        .bind(board_id)
        .bind(name)
        .bind(done)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|l| ListRow {
            id: l.0,
            board_id: l.1,
            name: l.2,
            position: l.3,
            done: l.4,
            archived: l.5,
        }))
    }

    async fn list_rename(&self, id: i64, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let taken: Option<i64> = sqlx::query_scalar(&sql(
            "SELECT o.id FROM board_lists o JOIN board_lists l ON l.board_id = o.board_id \
             WHERE l.id = $1 AND o.name = $2 AND o.id <> $1",
        ))
        .bind(id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        if taken.is_some() {
            return Ok(false);
        }
        sqlx::query(&sql("UPDATE board_lists SET name = $1 WHERE id = $2"))
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(true)
    }

    async fn list_archive(&self, id: i64, archived: bool) -> Result<(), StoreError> {
        sqlx::query(&sql("UPDATE board_lists SET archived = $1 WHERE id = $2"))
            .bind(archived)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn list_move(&self, id: i64, position: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let board: Option<i64> =
            sqlx::query_scalar(&sql("SELECT board_id FROM board_lists WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        let Some(board) = board else {
            return Ok(());
        };
        let others: Vec<i64> = sqlx::query_scalar(&sql(
            "SELECT id FROM board_lists WHERE board_id = $1 AND id <> $2 ORDER BY position, id",
        ))
        .bind(board)
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        self.renumber(&mut tx, "board_lists", others, id, position)
            .await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn board_move(&self, id: i64, position: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let others: Vec<i64> = sqlx::query_scalar(&sql(
            "SELECT id FROM boards WHERE id <> $1 ORDER BY position, id",
        ))
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        self.renumber(&mut tx, "boards", others, id, position)
            .await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn card_add(&self, c: &NewCard) -> Result<CardRow, StoreError> {
        let mut tx = self.begin().await?;
        let at = now();
        let (due_date, due_at) = due_columns(&c.due);
        let done: Option<bool> =
            sqlx::query_scalar(&sql("SELECT done FROM board_lists WHERE id = $1"))
                .bind(c.list_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        let Some(done) = done else {
            return Err(StoreError::InvalidData(format!(
                "list {} does not exist",
                c.list_id
            )));
        };
        let id: i64 = sqlx::query_scalar(&sql(
            "INSERT INTO cards (board_id, list_id, title, description, due_date, due_at, labels, \
             project_id, position, created_at, updated_at, done_at, repeat) \
             VALUES ((SELECT board_id FROM board_lists WHERE id = $1), $1, $2, $3, $4, $5, $6, $7, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM cards WHERE list_id = $1), $8, $8, $9, $10) \
             RETURNING id",
        ))
        .bind(c.list_id)
        .bind(&c.title)
        .bind(&c.description)
        .bind(due_date)
        .bind(due_at)
        .bind(to_json(&c.labels))
        .bind(c.project_id)
        .bind(at)
        .bind(done.then_some(at))
        .bind(&c.repeat)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(&sql(
            "INSERT INTO card_history (card_id, at, what) VALUES ($1, $2, $3)",
        ))
        .bind(id)
        .bind(at)
        .bind("created")
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let row = self.card_in(id, &mut *tx).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        row.ok_or_else(|| StoreError::Other(format!("card {id} vanished after insert")))
    }

    async fn card_get(&self, id: i64) -> Result<Option<CardRow>, StoreError> {
        self.card_in(id, &self.pool).await
    }

    async fn card_update(
        &self,
        id: i64,
        p: &CardPatch,
        what: &str,
    ) -> Result<Option<CardRow>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(cur) = self.card_in(id, &mut *tx).await? else {
            return Ok(None);
        };
        let title = p.title.clone().unwrap_or(cur.title);
        let description = p.description.clone().unwrap_or(cur.description);
        let due = p.due.unwrap_or(cur.due);
        let labels = p.labels.clone().unwrap_or(cur.labels);
        let checklist = p.checklist.clone().unwrap_or(cur.checklist);
        let project = p.project_id.unwrap_or(cur.project_id);
        let archived = p.archived.unwrap_or(cur.archived);
        let repeat = p.repeat.clone().unwrap_or(cur.repeat);
        let (due_date, due_at) = due_columns(&due);
        let at = now();
        sqlx::query(&sql(
            "UPDATE cards SET title = $1, description = $2, due_date = $3, due_at = $4, \
             labels = $5, checklist = $6, project_id = $7, archived = $8, updated_at = $9, \
             repeat = $10 WHERE id = $11",
        ))
        .bind(&title)
        .bind(&description)
        .bind(due_date)
        .bind(due_at)
        .bind(to_json(&labels))
        .bind(to_json(&checklist))
        .bind(project)
        .bind(archived)
        .bind(at)
        .bind(&repeat)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(&sql(
            "INSERT INTO card_history (card_id, at, what) VALUES ($1, $2, $3)",
        ))
        .bind(id)
        .bind(at)
        .bind(what)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let row = self.card_in(id, &mut *tx).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(row)
    }

    async fn card_move(&self, id: i64, list_id: i64) -> Result<Option<CardRow>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(cur) = self.card_in(id, &mut *tx).await? else {
            return Ok(None);
        };
        let target: Option<(i64, String, bool, String)> = sqlx::query_as(&sql(
            "SELECT l.board_id, l.name, l.done, b.name FROM board_lists l \
             JOIN boards b ON b.id = l.board_id WHERE l.id = $1",
        ))
        .bind(list_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let Some((board_id, list, done, board)) = target else {
            return Err(StoreError::InvalidData(format!(
                "list {list_id} does not exist"
            )));
        };
        if cur.list_id == list_id {
            return Ok(Some(cur));
        }
        let at = now();
        let done_at = if done {
            cur.done_at.filter(|_| cur.list_done).or(Some(at))
        } else {
            None
        };
        sqlx::query(&sql(
            "UPDATE cards SET board_id = $1, list_id = $2, updated_at = $3, done_at = $4, \
             position = (SELECT COALESCE(MAX(position), 0) + 1 FROM cards WHERE list_id = $2) \
             WHERE id = $5",
        ))
        .bind(board_id)
        .bind(list_id)
        .bind(at)
        .bind(done_at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let what = if board_id == cur.board_id {
            format!("moved from {} to {list}", cur.list)
        } else {
            format!("moved from {}/{} to {board}/{list}", cur.board, cur.list)
        };
        sqlx::query(&sql(
            "INSERT INTO card_history (card_id, at, what) VALUES ($1, $2, $3)",
        ))
        .bind(id)
        .bind(at)
        .bind(what)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let row = self.card_in(id, &mut *tx).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(row)
    }

    async fn cards(&self, q: &CardQuery) -> Result<Vec<CardRow>, StoreError> {
        let mut wheres = Vec::new();
        if q.board_id.is_some() {
            wheres.push("c.board_id = $1");
        }
        if q.list_id.is_some() {
            wheres.push("c.list_id = $2");
        }
        if q.project_id.is_some() {
            wheres.push("c.project_id = $3");
        }
        if !q.include_done {
            wheres.push("l.done = $4");
        }
        if !q.include_archived {
            wheres.push("c.archived = $5 AND l.archived = $5 AND b.archived = $5");
        }
        if q.due_only {
            wheres.push("(c.due_date IS NOT NULL OR c.due_at IS NOT NULL)");
        }
        let filter = if wheres.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", wheres.join(" AND "))
        };
        // Every placeholder is bound (unused ones are harmless on both).
        let text = format!(
            "{CARD_SELECT}{filter} AND $1 = $1 AND $2 = $2 AND $3 = $3 AND $4 = $4 AND $5 = $5 \
             ORDER BY b.position, b.id, l.position, l.id, c.position, c.id"
        );
        let text = if wheres.is_empty() {
            text.replacen(" AND $1 = $1", " WHERE $1 = $1", 1)
        } else {
            text
        };
        let rows: Vec<CardDb> = sqlx::query_as(&sql(&text))
            .bind(q.board_id.unwrap_or(0))
            .bind(q.list_id.unwrap_or(0))
            .bind(q.project_id.unwrap_or(0))
            .bind(false)
            .bind(false)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(card_row).collect()
    }

    async fn card_history(&self, id: i64) -> Result<Vec<(DateTime<Utc>, String)>, StoreError> {
        sqlx::query_as(&sql(
            "SELECT at, what FROM card_history WHERE card_id = $1 ORDER BY id",
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }
}
