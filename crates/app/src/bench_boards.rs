//! `openzero bench boards`: listing a board of 1,000 cards (with their
//! lists, labels and checklists) from a scratch SQLite database, the median
//! of repeated runs, beside the target the boards issue sets (≤ 20 ms).
//! The Planka sync's figures join this benchmark when the sync lands.

use std::path::Path;
use std::time::Instant;

use openzero_store::Database as _;
use openzero_store::board::{BoardStore, CardQuery, NewCard};
use openzero_store_sqlite::SqliteStore;

use crate::AppError;
use crate::bench::{Report, fig, machine, median};

/// The target for listing a board of 1,000 cards, in ms.
pub const TARGET_MS: f64 = 20.0;

/// Runs the boards benchmark in `work_dir` (a scratch database).
pub async fn boards(work_dir: &Path, cards: usize, repeat: usize) -> Result<Report, AppError> {
    let mut report = Report {
        figures: Vec::new(),
        notes: vec![machine()],
    };
    std::fs::create_dir_all(work_dir)
        .map_err(|e| AppError::Invalid(format!("{}: {e}", work_dir.display())))?;
    // A fresh database each run: the board holds exactly the cards asked for.
    let path = work_dir.join("bench-boards.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = SqliteStore::open(&path).await?;
    let result = run(&store, cards, repeat, &mut report).await;
    store.close().await;
    result?;
    Ok(report)
}

async fn run(
    store: &SqliteStore,
    cards: usize,
    repeat: usize,
    report: &mut Report,
) -> Result<(), AppError> {
    let boards = store.boards().await?;
    let career = boards
        .iter()
        .find(|b| b.name == "Career")
        .ok_or_else(|| AppError::Invalid("no Career board in the scratch database".into()))?;
    let t = Instant::now();
    for i in 0..cards {
        let list = &career.lists[i % career.lists.len()];
        store
            .card_add(&NewCard {
                list_id: list.id,
                title: format!("Task {i}: follow up with the client about the proposal"),
                description: "Notes from the call, next steps and who owns them.".into(),
                due: None,
                labels: vec!["work".into(), format!("q{}", i % 4 + 1)],
                project_id: None,
                repeat: None,
            })
            .await?;
    }
    let add_ms = t.elapsed().as_secs_f64() * 1000.0 / cards.max(1) as f64;
    let mut times = Vec::new();
    let mut listed = 0;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let _ = store.boards().await?;
        listed = store
            .cards(&CardQuery {
                board_id: Some(career.id),
                include_done: true,
                ..CardQuery::default()
            })
            .await?
            .len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report.figures.push(fig(
        "boards",
        &format!("list a board of {listed} cards with its lists (SQLite)"),
        "ms",
        median(times),
        false,
    ));
    report.figures.push(fig(
        "boards",
        "add a card (SQLite, one transaction each)",
        "ms",
        add_ms,
        false,
    ));
    report.notes.push(format!(
        "target: a board of 1,000 cards listed in ≤ {TARGET_MS} ms"
    ));
    report.notes.push(
        "no baseline here: Planka cannot run on this machine; the sync figures come with the sync"
            .into(),
    );
    Ok(())
}
