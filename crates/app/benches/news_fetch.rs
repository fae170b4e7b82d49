//! `cargo bench -p openzero-app --bench news_fetch`: fetching 100 feeds
//! (30 items each) from local servers that take 100 ms to answer, as a
//! distant site does: spread over 10 hosts (127.0.0.1–10), six at once and
//! one per host, beside the same 100 feeds fetched one at a time (all on
//! one host) as the baseline. Target (news issue): ≤ 10 s. Then the same
//! fetch again, every feed answering 304.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use openzero_app::news::fetch::fetch_all;
use openzero_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FEEDS: usize = 100;
const HOSTS: usize = 10;
const LATENCY: Duration = Duration::from_millis(100);

fn feed(n: usize) -> String {
    let mut items = String::new();
    for i in 0..30 {
        items.push_str(&format!(
            "<item><title>Story {i} of feed {n}: something happened somewhere today</title>\
             <link>https://site{n}.example/story/{i}</link><guid>https://site{n}.example/story/{i}</guid>\
             <description>&lt;p&gt;A paragraph about story {i}. It has a second sentence with more words in it.&lt;/p&gt;</description>\
             <pubDate>Mon, 30 Nov 2026 0{}:00:00 GMT</pubDate></item>",
            i % 10
        ));
    }
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {n}</title><link>https://site{n}.example/</link>{items}</channel></rss>"
    )
}

/// A plain HTTP/1.1 server on `ip`: `/feed/N` after [`LATENCY`], with an
/// ETag (304 when it matches).
async fn server(ip: &str) -> u16 {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_lowercase();
                let n: usize = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.rsplit('/').next())
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0);
                tokio::time::sleep(LATENCY).await;
                let etag = format!("\"f{n}\"");
                let resp = if head.contains(&format!("if-none-match: {etag}")) {
                    format!(
                        "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                    )
                } else {
                    let body = feed(n);
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    port
}

async fn store(dir: &std::path::Path, name: &str) -> Arc<dyn Store> {
    Arc::new(
        openzero_store_sqlite::SqliteStore::open(&dir.join(name))
            .await
            .unwrap(),
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut ports = Vec::new();
        for h in 1..=HOSTS {
            ports.push(server(&format!("127.0.0.{h}")).await);
        }
        let client = openzero_app::news::fetch::client().unwrap();

        // Spread over ten hosts.
        let spread = store(dir.path(), "spread.db").await;
        for n in 0..FEEDS {
            let h = n % HOSTS;
            let url = format!("http://127.0.0.{}:{}/feed/{n}", h + 1, ports[h]);
            spread.news_feed_add(&url, "", None).await.unwrap();
        }
        let feeds = spread.news_feeds().await.unwrap();
        let now = openzero_app::clock::now();
        let t = Instant::now();
        let r = fetch_all(spread.clone(), &client, feeds.clone(), true, now).await;
        let spread_time = t.elapsed();
        assert!(r.iter().all(|x| x.error.is_none()), "{r:?}");
        assert_eq!(r.iter().map(|x| x.new).sum::<usize>(), FEEDS * 30);
        let feeds = spread.news_feeds().await.unwrap();
        let t = Instant::now();
        let again = fetch_all(spread.clone(), &client, feeds, true, now).await;
        let unchanged_time = t.elapsed();
        assert!(again.iter().all(|x| x.unchanged), "{again:?}");

        // The baseline: the same feeds on one host, so one at a time.
        let one = store(dir.path(), "one.db").await;
        for n in 0..FEEDS {
            let url = format!("http://127.0.0.1:{}/feed/{n}", ports[0]);
            one.news_feed_add(&url, "", None).await.unwrap();
        }
        let feeds = one.news_feeds().await.unwrap();
        let t = Instant::now();
        let r = fetch_all(one.clone(), &client, feeds, true, now).await;
        let one_time = t.elapsed();
        assert!(r.iter().all(|x| x.error.is_none()));

        println!("News fetch: {FEEDS} feeds of 30 items, each answer after {} ms (local servers), SQLite", LATENCY.as_millis());
        println!();
        println!("| run | time | target |");
        println!("|---|---:|---|");
        println!("| one at a time (one host; baseline) | {:.2} s | — |", one_time.as_secs_f64());
        println!("| 10 hosts, 6 at once, 1 per host | {:.2} s | ≤ 10 s |", spread_time.as_secs_f64());
        println!("| again, every feed 304 Not Modified | {:.2} s | — |", unchanged_time.as_secs_f64());
    });
}
