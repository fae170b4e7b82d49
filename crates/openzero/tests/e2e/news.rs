//! News end to end: real-world feeds (the public fixtures, malformed ones
//! included) served by a local HTTP server with ETags, followed one by one
//! and by OPML, fetched with conditional GETs, one connection to the host at
//! a time, a dead feed and a rate-limited one waiting without stopping the
//! others, the same story from two feeds shown once, and the most relevant
//! stories (by `about-me.md`, with the real embedding model) in the morning
//! briefing, each once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::Oz;
use serde_json::Value;

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("OPENZERO_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join("feeds").is_dir() {
        return Some(dir.join("feeds"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no fixtures at {}: set OPENZERO_FIXTURES",
        dir.display()
    );
    None
}

#[derive(Default)]
struct Served {
    root: PathBuf,
    /// Requests per path.
    hits: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    /// Extra documents by path.
    extra: Mutex<HashMap<String, String>>,
}

async fn serve_file(
    State(s): State<Arc<Served>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.most_in_flight.fetch_max(now, Ordering::SeqCst);
    *s.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    // Long enough that two requests at once would overlap.
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let answer = match path.as_str() {
        "dead.xml" => StatusCode::NOT_FOUND.into_response(),
        "busy.xml" => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "7200")],
            "slow down",
        )
            .into_response(),
        _ => {
            let body = match s.extra.lock().unwrap().get(&path) {
                Some(b) => Some(b.clone().into_bytes()),
                None => std::fs::read(s.root.join(&path)).ok(),
            };
            match body {
                None => StatusCode::NOT_FOUND.into_response(),
                Some(b) => {
                    let etag = format!(
                        "\"{:x}-{}\"",
                        b.len(),
                        b.iter().map(|x| *x as u64).sum::<u64>()
                    );
                    if headers
                        .get(header::IF_NONE_MATCH)
                        .is_some_and(|v| v.to_str().ok() == Some(etag.as_str()))
                    {
                        StatusCode::NOT_MODIFIED.into_response()
                    } else {
                        ([(header::ETAG, etag)], b).into_response()
                    }
                }
            }
        }
    };
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    answer
}

async fn start(root: PathBuf) -> (String, Arc<Served>) {
    let served = Arc::new(Served {
        root,
        ..Served::default()
    });
    let app = axum::Router::new()
        .route("/f/{*path}", axum::routing::get(serve_file))
        .with_state(served.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/f"), served)
}

fn story_feed(name: &str, link: &str, title: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title><link>https://{name}.example/</link>
<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{name}-1</guid>
<description>&lt;p&gt;The trail race series adds a mountain half marathon in June. Entries open Monday.&lt;/p&gt;</description>
<pubDate>Mon, 30 Nov 2026 06:00:00 GMT</pubDate></item>
<item><title>{name} quarterly bond yields edge up</title><link>https://{name}.example/bonds</link><guid isPermaLink="false">{name}-2</guid>
<description>Treasury yields moved two basis points as traders priced the central bank's next decision.</description>
<pubDate>Mon, 30 Nov 2026 06:30:00 GMT</pubDate></item>
</channel></rss>"#
    )
}

fn run(oz: &Oz, env: &[(&str, String)], args: &[&str]) -> String {
    let out = oz
        .cmd()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn feeds_are_followed_fetched_politely_and_told_once() {
    let Some(root) = fixtures() else { return };
    let (base, served) = start(root).await;
    {
        let mut extra = served.extra.lock().unwrap();
        extra.insert(
            "alpha.xml".into(),
            story_feed(
                "alpha",
                "https://www.trailnews.example/races/june-half?utm_source=alpha",
                "Mountain half marathon joins the trail series",
            ),
        );
        extra.insert(
            "beta.xml".into(),
            story_feed(
                "beta",
                "https://trailnews.example/races/june-half/",
                "New mountain half marathon in June",
            ),
        );
    }
    let oz = Oz::new();
    let mut env = vec![
        ("USER_TIMEZONE", "Europe/Berlin".to_owned()),
        // The briefing reads what is new since a day and a half: the
        // serve-time clock is now; published dates do not matter for that.
    ];
    if let Ok(m) = std::env::var("OPENZERO_TEST_MINILM_DIR") {
        env.push(("OPENZERO__MEMORY__MODEL_DIR", m));
    }
    run(&oz, &env, &["init"]);
    std::fs::write(
        oz.data.join("about-me.md"),
        "I run trail races and I am training for a half marathon in the mountains.\n\nI like cooking.\n",
    )
    .unwrap();

    let out = run(
        &oz,
        &env,
        &[
            "news",
            "add",
            &format!("{base}/rss/rss2sample.xml"),
            "--tag",
            "space",
        ],
    );
    assert!(out.contains("Liftoff News — 4 items"), "{out}");
    let out = run(&oz, &env, &["news", "add", &format!("{base}/dead.xml")]);
    assert!(out.contains("first fetch failed (HTTP 404)"), "{out}");
    for f in [
        "alpha.xml",
        "beta.xml",
        "busy.xml",
        "gofeed/parser/json/version_json_11.json",
    ] {
        run(&oz, &env, &["news", "add", &format!("{base}/{f}")]);
    }
    let err = oz
        .cmd()
        .args(["news", "add", &format!("{base}/alpha.xml")])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains("followed already"));

    // The same story from two feeds: once, with both sources.
    let stories: Vec<Value> = run(&oz, &env, &["news", "list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let half: Vec<&Value> = stories
        .iter()
        .filter(|s| s["title"].as_str().unwrap().contains("half marathon"))
        .collect();
    assert_eq!(half.len(), 1, "{half:?}");
    assert_eq!(half[0]["sources"].as_array().unwrap().len(), 2);
    assert!(
        stories
            .iter()
            .any(|s| s["title"] == "Star City" && s["feed"] == "Liftoff News")
    );
    for s in &stories {
        for k in ["feed", "title", "link", "published"] {
            assert!(s.get(k).is_some(), "{k} in {s}");
        }
    }

    // Fetching again: unchanged feeds answer 304, the dead and the busy
    // ones wait (not asked again), the others are not held up by them.
    let hits_before = served.hits.lock().unwrap().clone();
    let out = run(&oz, &env, &["news", "fetch"]);
    assert!(out.contains("Liftoff News: unchanged"), "{out}");
    let hits = served.hits.lock().unwrap().clone();
    assert_eq!(
        hits.get("dead.xml"),
        hits_before.get("dead.xml"),
        "a failed feed waits"
    );
    assert_eq!(
        hits.get("busy.xml"),
        hits_before.get("busy.xml"),
        "Retry-After is honoured"
    );
    let feeds: Vec<Value> = run(&oz, &env, &["news", "feeds", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let busy = feeds
        .iter()
        .find(|f| f["url"].as_str().unwrap().ends_with("busy.xml"))
        .unwrap();
    assert!(busy["last_error"].as_str().unwrap().contains("429"));
    let dead = feeds
        .iter()
        .find(|f| f["url"].as_str().unwrap().ends_with("dead.xml"))
        .unwrap();
    assert_eq!(dead["failures"], 1);
    let out = run(&oz, &env, &["news", "fetch", "--all"]);
    assert!(out.contains("dead.xml: failed: HTTP 404"), "{out}");
    assert_eq!(
        served.most_in_flight.load(Ordering::SeqCst),
        1,
        "one connection per host"
    );

    // OPML out and back in; then every public fixture as a feed: the
    // malformed ones are reported, none stops the others.
    let opml = run(&oz, &env, &["news", "export-opml"]);
    assert!(
        opml.contains("<outline") && opml.contains("space"),
        "{opml}"
    );
    let mut outlines = String::new();
    let mut n = 0;
    let mut stack = vec![fixtures().unwrap()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "xml" || x == "json") {
                let rel = p
                    .strip_prefix(fixtures().unwrap())
                    .unwrap()
                    .display()
                    .to_string();
                outlines.push_str(&format!(
                    "<outline text=\"{rel}\" type=\"rss\" xmlUrl=\"{base}/{rel}\"/>\n"
                ));
                n += 1;
            }
        }
    }
    let file = oz.work.join("corpus.opml");
    std::fs::write(
        &file,
        format!("<?xml version=\"1.0\"?><opml version=\"2.0\"><head/><body><outline text=\"corpus\">{outlines}</outline></body></opml>"),
    )
    .unwrap();
    let out = run(&oz, &env, &["news", "import-opml", file.to_str().unwrap()]);
    assert!(out.contains("new feeds"), "{out}");
    let reports: Vec<Value> = run(&oz, &env, &["news", "fetch", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        reports.len() >= n,
        "{} reports for {n} files",
        reports.len()
    );
    let failed = reports.iter().filter(|r| !r["error"].is_null()).count();
    let read = reports.iter().filter(|r| r["error"].is_null()).count();
    assert!(read > 140 && failed >= 3, "read {read}, failed {failed}");

    // The briefing: the most relevant stories first, each told once.
    let Ok(_) = std::env::var("OPENZERO_TEST_MINILM_DIR") else {
        return;
    };
    let text = run(&oz, &env, &["briefing", "daily"]);
    let news = text
        .split("News")
        .nth(1)
        .unwrap_or_else(|| panic!("no News in {text}"));
    let first = news
        .lines()
        .find(|l| l.trim_start().starts_with(['-', '•', '*']))
        .unwrap_or_default();
    assert!(
        first.contains("half marathon"),
        "the runner's story first: {news}"
    );
    assert_eq!(
        news.lines().filter(|l| l.contains("half marathon")).count(),
        1,
        "one story from two feeds, once: {news}"
    );
    assert!(first.contains("alpha") && first.contains("beta"), "{first}");
    let again = run(&oz, &env, &["briefing", "daily", "--dry-run"]);
    assert!(
        !again.contains("Mountain half marathon joins")
            && !again.contains("New mountain half marathon"),
        "told once: {again}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_model_summarises_articles_and_an_invented_line_is_refused() {
    let Some(root) = fixtures() else { return };
    let (base, served) = start(root).await;
    {
        let mut extra = served.extra.lock().unwrap();
        extra.insert(
            "alpine.xml".into(),
            format!(
                r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Alpine News</title>
<item><title>Pass closed</title><link>{base}/grimsel.html</link><guid>{base}/grimsel.html</guid>
<description>Short teaser.</description></item>
<item><title>Cable car record</title><link>{base}/cable.html</link><guid>{base}/cable.html</guid>
<description>Another teaser.</description></item></channel></rss>"#
            ),
        );
        let page = |lead: &str| {
            format!(
                "<html><body><nav><p>Home | Sports | Weather | and the rest of the long menu bar</p></nav>\
<article><h1>x</h1><p>{lead}</p><p>The canton's road service said crews would work through the week \
to clear the upper section, and drivers were asked to use the Furka route meanwhile.</p></article></body></html>"
            )
        };
        extra.insert(
            "grimsel.html".into(),
            page("A storm closed the Grimsel pass on Monday after heavy snow fell overnight."),
        );
        extra.insert(
            "cable.html".into(),
            page("The cable car above Zermatt carried more passengers in November than ever."),
        );
    }
    let (ollama, seen) = common::ollama(|req| {
        let text = req["messages"].to_string();
        let line = if text.contains("Grimsel") {
            "A storm closed the Grimsel pass on Monday."
        } else {
            // Invents a name and a number: must be refused.
            "Elon Musk bought the cable car for 5 billion."
        };
        serde_json::json!({"role": "assistant", "content": line})
    })
    .await;
    let oz = Oz::new();
    let env = vec![
        ("USER_TIMEZONE", "Europe/Berlin".to_owned()),
        ("LLM_PROVIDER", "ollama".to_owned()),
        ("OLLAMA_BASE_URL", ollama.clone()),
    ];
    run(&oz, &env, &["init"]);
    run(&oz, &env, &["news", "add", &format!("{base}/alpine.xml")]);
    let out = run(&oz, &env, &["news", "fetch", "--all"]);
    assert!(out.contains("1 articles summarised"), "{out}");
    let stories: Vec<Value> = run(&oz, &env, &["news", "list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pass = stories
        .iter()
        .find(|s| s["title"] == "Pass closed")
        .unwrap();
    assert_eq!(
        pass["summary"],
        "A storm closed the Grimsel pass on Monday."
    );
    let cable = stories
        .iter()
        .find(|s| s["title"] == "Cable car record")
        .unwrap();
    assert_eq!(
        cable["summary"], "Another teaser.",
        "the invented line was refused"
    );
    // The article reached the model as quoted data, without the page's menu.
    let asked = seen.lock().unwrap().clone();
    let prompt = asked
        .iter()
        .map(|r| r["messages"].to_string())
        .find(|m| m.contains("Grimsel"))
        .unwrap();
    assert!(
        prompt.contains("untrusted data") && !prompt.contains("menu bar"),
        "{prompt}"
    );
    // A second fetch does not summarise the same article again; the
    // refused one is tried again (the model may do better).
    let n_before = asked.len();
    let again = run(&oz, &env, &["news", "fetch", "--all"]);
    assert!(!again.contains("summarised"), "{again}");
    let now_asked = seen.lock().unwrap().clone();
    assert_eq!(
        now_asked.len(),
        n_before + 1,
        "only the refused one is asked again"
    );
    assert!(
        !now_asked[n_before]["messages"]
            .to_string()
            .contains("Grimsel")
    );
}
