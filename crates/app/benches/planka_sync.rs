//! `cargo bench -p openzero-app --bench planka_sync`: the two-way Planka
//! sync of 1,000 cards on five boards against the fake Planka on loopback
//! (SQLite store): the first sync (every card created in Planka) as the
//! baseline, then syncs with nothing changed — the boards issue's target is
//! ≤ 2 s and a bounded number of requests per board (one board detail per
//! board, plus the project list; nothing written).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use openzero_app::planka_sync::sync_over;
use openzero_planka::Planka;
use openzero_planka::fake::{EMAIL, FakePlanka, PASSWORD};
use openzero_store::board::NewCard;
use openzero_store::prelude::*;

const CARDS: usize = 1_000;
const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = openzero_store_sqlite::SqliteStore::open(&dir.path().join("bench.db"))
            .await
            .unwrap();
        let boards = store.boards().await.unwrap();
        for i in 0..CARDS {
            let b = &boards[i % boards.len()];
            let l = &b.lists[i % b.lists.len()];
            store
                .card_add(&NewCard {
                    list_id: l.id,
                    title: format!("Task {i}"),
                    description: format!("Details of task {i}"),
                    due: None,
                    labels: vec![format!("l{}", i % 4)],
                    project_id: None,
                    repeat: None,
                })
                .await
                .unwrap();
        }
        let fake = FakePlanka::start().await;
        let planka = Planka::login(fake.url(), EMAIL, PASSWORD, Duration::from_secs(30))
            .await
            .unwrap();
        let tz = chrono_tz::Europe::Paris;
        let t = Instant::now();
        let first = sync_over(&store, &planka, "OpenZero", tz).await.unwrap();
        let first_time = t.elapsed();
        assert_eq!(first.created_there, CARDS);
        let mut times = Vec::new();
        let mut requests = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let r = sync_over(&store, &planka, "OpenZero", tz).await.unwrap();
            times.push(t.elapsed());
            assert!(!r.changed(), "{r:?}");
            requests = r.requests;
        }
        let unchanged = median(times);
        println!("Planka sync, {CARDS} cards on {} boards (fake Planka on loopback, SQLite), median of {RUNS}", boards.len());
        println!();
        println!("| run | time | requests | target |");
        println!("|---|---:|---:|---|");
        println!(
            "| first sync, every card created (baseline) | {:.0} ms | {} | — |",
            first_time.as_secs_f64() * 1e3,
            first.requests
        );
        println!(
            "| sync with nothing changed | {:.0} ms | {requests} ({:.1} per board) | ≤ 2,000 ms; 1 + 1 per board, no write |",
            unchanged.as_secs_f64() * 1e3,
            requests as f64 / boards.len() as f64
        );
    });
}
