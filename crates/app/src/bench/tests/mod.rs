#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn p(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "p50 {:>8.3} ms  p99 {:>8.3} ms",
        v[v.len() / 2].as_secs_f64() * 1e3,
        v[v.len() * 99 / 100].as_secs_f64() * 1e3
    )
}

/// Where a search's time goes at 100k (run by hand, in release:
/// `cargo test --release -p openzero-app --lib search_breakdown -- --ignored --nocapture`).
#[tokio::test]
#[ignore = "timing, by hand"]
async fn search_breakdown() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(n, 300).unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
    fill(&sqlite, &data).await.unwrap();
    let index = Arc::new(MemoryIndex::default());
    drop(index.synced(&sqlite).await.unwrap());
    let service = MemoryService::with_index(
        &sqlite,
        Err(openzero_embed::EmbedError::Inference("not needed".into())),
        index.clone(),
    );
    let f = Filters::default();
    let last = sqlite.memory_changes(0).await.unwrap().last;
    let (mut sync, mut dense, mut words, mut changes, mut get) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (text, q) in &data.queries {
        let t = Instant::now();
        let ix = index.synced(&sqlite).await.unwrap();
        sync.push(t.elapsed());
        let t = Instant::now();
        let hits = ix.search(q, 50, MIN_SIMILARITY, &f);
        dense.push(t.elapsed());
        drop(ix);
        let terms = openzero_core::memory::query_terms(text);
        let t = Instant::now();
        std::hint::black_box(sqlite.text_search(&terms, &f, 50).await.unwrap());
        words.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(sqlite.memory_changes(last).await.unwrap());
        changes.push(t.elapsed());
        let ids: Vec<MemoryId> = hits.iter().take(20).map(|h| h.0).collect();
        let t = Instant::now();
        std::hint::black_box(sqlite.get_memories(&ids).await.unwrap());
        get.push(t.elapsed());
    }
    println!("n {n}");
    println!("synced        {}", p(sync));
    println!("dense k=50    {}", p(dense));
    println!("text_search   {}", p(words));
    println!("changes       {}", p(changes));
    println!("get 20        {}", p(get));
    for ranking in [Ranking::Dense, Ranking::Hybrid, Ranking::Full] {
        let mut all = vec![];
        for (text, q) in &data.queries {
            let question = [Question::now(text)];
            let t = Instant::now();
            std::hint::black_box(
                service
                    .search_ranked(
                        &question,
                        Some(std::slice::from_ref(q)),
                        None,
                        K,
                        &f,
                        ranking,
                    )
                    .await
                    .unwrap(),
            );
            all.push(t.elapsed());
        }
        println!("{ranking:?}  {}", p(all));
    }
    sqlite.close().await;
}
