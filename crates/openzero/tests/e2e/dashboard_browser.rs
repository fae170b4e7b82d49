//! The dashboard in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/test`), driven over WebDriver:
//! sign in, add a project, forget a memory, approve a thought, the pages on
//! a phone-sized screen, the installable app's service worker, and the
//! lockout after wrong passwords. With `OPENZERO_SCREENSHOTS=DIR`, it saves
//! a PNG of each main page there (how `docs/screenshots/` is made).

use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, PointerAction, TouchActions};
use fantoccini::{Client, ClientBuilder, Locator};

use crate::common::{self, Oz};
use crate::dashboard::{PASSWORD, set_password};

/// A chromedriver on a free port, stopped on drop.
struct Driver {
    child: std::process::Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chromium and its driver, or `None` outside CI when they are missing.
async fn chromium() -> Option<(Driver, Client)> {
    let driver = std::env::var("OPENZERO_TEST_CHROMEDRIVER")
        .unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    let browser =
        std::env::var("OPENZERO_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !std::path::Path::new(&driver).exists() || !std::path::Path::new(&browser).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is required in CI: scripts/test installs chromium and chromium-driver"
        );
        eprintln!("skipped: no {driver} / {browser} (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let d = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    let start = Instant::now();
    while reqwest::get(format!("{}/status", d.url)).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": browser,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", d._profile.path().display()),
            ],
            // A phone's screen (headless windows are never narrower than 500 px).
            "mobileEmulation": {
                "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0, "touch": true},
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"
            }
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&d.url)
        .await
        .expect("a Chromium session");
    Some((d, client))
}

/// A local Ollama that streams its answer in pieces, `gap` apart.
async fn slow_ollama(pieces: &'static [&'static str], gap: Duration) -> String {
    use axum::body::{Body, Bytes};
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/api/chat",
        post(move || async move {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::convert::Infallible>>(16);
            tokio::spawn(async move {
                let line = |content: &str, done: bool| {
                    let mut v = serde_json::json!({"model": "m", "created_at": "2026-11-30T07:00:00Z",
                        "message": {"role": "assistant", "content": content}, "done": done});
                    if done {
                        v["done_reason"] = "stop".into();
                    }
                    Bytes::from(format!("{v}\n"))
                };
                for p in pieces {
                    let _ = tx.send(Ok(line(p, false))).await;
                    tokio::time::sleep(gap).await;
                }
                let _ = tx.send(Ok(line("", true))).await;
            });
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            ([("content-type", "application/x-ndjson")], Body::from_stream(stream))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn text(c: &Client) -> String {
    // One script: no element to go stale while a page loads.
    c.execute(
        "var m = document.querySelector('main'); return m ? m.innerText : '';",
        vec![],
    )
    .await
    .map(|v| v.as_str().unwrap_or_default().to_owned())
    .unwrap_or_default()
}

/// Waits until the page's text holds `what`.
async fn see(c: &Client, what: &str) {
    let start = Instant::now();
    loop {
        let t = text(c).await;
        if t.contains(what) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what:?} not on {}: {t}",
            c.current_url().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `text` into the field with id `id`.
async fn fill(c: &Client, id: &str, text: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// Clicks the element `css` (without waiting for a page).
async fn press(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn shot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("OPENZERO_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// Nothing on the page is wider than the phone's screen.
async fn fits(c: &Client, page: &str) {
    let v = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (w, inner) = (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
    assert!(inner <= 420, "a phone-sized window ({inner})");
    assert!(w <= inner, "{page} is {w}px wide on a {inner}px screen");
}

async fn sign_in(c: &Client, base: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    let field = c.find(Locator::Id("password")).await.unwrap();
    field.send_keys(password).await.unwrap();
    click_and_wait(c, "#sign-in").await;
}

/// Clicks `css` and waits for the next page to have loaded.
async fn click_and_wait(c: &Client, css: &str) {
    c.execute("window.__before = true;", vec![]).await.unwrap();
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let v = c
            .execute(
                "return window.__before === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(v, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no new page after {css}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_uses_the_dashboard_in_chromium() {
    let Some((_driver, c)) = chromium().await else {
        return;
    };
    let (cloud, seen) = crate::consent::fake_cloud(crate::consent::REPLY, None).await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    set_password(&oz);
    oz.ok(&["memory", "add", "The spare key is under the blue flowerpot"]);
    oz.ok(&["memory", "add", "Dentist on Tuesday at 9:30"]);
    oz.ok(&["project", "add", "Health"]);
    oz.ok(&["task", "add", "Renew the passport", "--board", "Career"]);
    let ollama = slow_ollama(
        &["Tuesday: ", "dentist at 9:30. ", "The rest ", "is free."],
        Duration::from_millis(400),
    )
    .await;
    let think_env = [
        ("LLM_PROVIDER", "ollama"),
        ("OLLAMA_BASE_URL", ollama.as_str()),
        ("OPENZERO__LLM__MODEL", "llama3.2"),
        ("DEEP_THINK_PROVIDER", "openai"),
        ("DEEP_THINK_MODEL", "gpt-test"),
        ("OPENAI_BASE_URL", cloud.as_str()),
        ("OPENAI_API_KEY", "sk-test-secret"),
    ];
    oz.cmd()
        .envs(think_env)
        .args(["think", "When should I write to anna@example.org?"])
        .assert()
        .success();
    let served = common::serve(&oz, &[], think_env);
    let base = served.url.trim_end_matches('/').to_owned();

    // Signed out: the sign-in page, whatever the address.
    c.goto(&format!("{base}/projects")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    shot(&c, "login").await;
    sign_in(&c, &base, PASSWORD).await;
    see(&c, "Good to see you").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/");
    let pending = c.find(Locator::Id("pending-count")).await.unwrap();
    assert_eq!(pending.text().await.unwrap(), "1", "one thought waits");
    fits(&c, "home").await;
    shot(&c, "home").await;

    // The installable app: the service worker takes the page over.
    let start = Instant::now();
    loop {
        let v = c
            .execute("return !!navigator.serviceWorker.controller;", vec![])
            .await
            .unwrap();
        if v.as_bool() == Some(true) {
            break;
        }
        if start.elapsed() > Duration::from_secs(3) {
            // First visit: it controls pages from the next load on.
            c.refresh().await.unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no service worker"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Add a project under another.
    c.goto(&format!("{base}/projects")).await.unwrap();
    fill(&c, "project-name", "Run a half marathon").await;
    c.find(Locator::Id("project-parent"))
        .await
        .unwrap()
        .select_by_label("Health")
        .await
        .unwrap();
    press(&c, "#add-project button").await;
    see(&c, "Added Run a half marathon.").await;
    fits(&c, "projects").await;
    shot(&c, "projects").await;
    oz.ok(&["project", "list"])
        .stdout(predicates::str::contains("Run a half marathon"));
    let tree = String::from_utf8(oz.ok(&["project", "list"]).get_output().stdout.clone()).unwrap();
    let (h, r) = (
        tree.find("Health").unwrap(),
        tree.find("Run a half marathon").unwrap(),
    );
    assert!(h < r, "under Health: {tree}");

    // Forget a memory, after a confirmation.
    c.goto(&format!("{base}/memory")).await.unwrap();
    see(&c, "blue flowerpot").await;
    fits(&c, "memory").await;
    shot(&c, "memory").await;
    press(&c, "li[data-id='1'] a.forget").await;
    see(&c, "Forget this memory?").await;
    press(&c, "#confirm-forget").await;
    see(&c, "Forgot memory #1.").await;
    assert!(!text(&c).await.contains("blue flowerpot"));
    let export =
        String::from_utf8(oz.ok(&["memory", "export"]).get_output().stdout.clone()).unwrap();
    assert!(
        !export.contains("flowerpot") && export.contains("Dentist"),
        "{export}"
    );

    // Import a JSONL file with a progress bar; a broken line is named, the rest kept.
    let file = oz.work.join("memories.jsonl");
    let mut jsonl: String = (0..300)
        .map(|i| format!("{{\"text\": \"Imported note number {i}\", \"source\": \"notes\"}}\n"))
        .collect();
    jsonl.push_str("{not json\n");
    std::fs::write(&file, jsonl).unwrap();
    c.goto(&format!("{base}/memory")).await.unwrap();
    fill(&c, "import-file", file.to_str().unwrap()).await;
    press(&c, "#import-start").await;
    see(&c, "Imported 300 new memories").await;
    see(&c, "1 lines skipped (line 301:").await;
    let bar = c
        .execute(
            "return document.getElementById('import-progress').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bar.as_f64(), Some(100.0));
    let listed =
        String::from_utf8(oz.ok(&["memory", "export"]).get_output().stdout.clone()).unwrap();
    assert_eq!(listed.matches("Imported note number").count(), 300);

    // Approve the held thought: exactly what was shown leaves, once.
    c.goto(&format!("{base}/thoughts")).await.unwrap();
    see(&c, "Exactly this would leave this machine").await;
    assert!(
        text(&c).await.contains("[email 1]"),
        "the address is redacted"
    );
    fits(&c, "thoughts").await;
    shot(&c, "thoughts").await;
    assert!(seen.lock().unwrap().is_empty(), "nothing left before Send");
    press(&c, "button.send").await;
    see(&c, "the answer is below").await;
    see(&c, "Write to anna@example.org before Friday.").await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    let sent = String::from_utf8(seen.lock().unwrap()[0].body.clone()).unwrap();
    assert!(!sent.contains("anna@example.org"), "{sent}");
    assert!(
        text(&c).await.contains("owner (dashboard)"),
        "the disclosure log names who approved"
    );

    for (page, name) in [
        ("/jobs", "jobs"),
        ("/audit", "audit"),
        ("/sessions", "sessions"),
        ("/settings", "settings"),
    ] {
        c.goto(&format!("{base}{page}")).await.unwrap();
        fits(&c, page).await;
        shot(&c, name).await;
    }
    see(&c, "secrets are shown as ********").await;

    // Drag a card to Done with a finger: the board scrolls while the card
    // is held at its edge, and the card lands in the last list.
    c.goto(&format!("{base}/boards")).await.unwrap();
    see(&c, "Renew the passport").await;
    fits(&c, "boards").await;
    shot(&c, "boards").await;
    let grip = c
        .find(Locator::Css("li[data-card='1'] .grip"))
        .await
        .unwrap();
    let edge = c
        .execute(
            "var g = document.querySelector(\"li[data-card='1'] .grip\").getBoundingClientRect(); return [window.innerWidth, g.top + g.height / 2];",
            vec![],
        )
        .await
        .unwrap();
    // Along the card's row to the right edge of the screen.
    let (w, y) = (edge[0].as_f64().unwrap(), edge[1].as_f64().unwrap());
    let finger = TouchActions::new("finger".into())
        .then(PointerAction::MoveToElement {
            element: grip,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(300)),
            x: w - 12.0,
            y,
        })
        .then(PointerAction::Pause {
            duration: Duration::from_millis(2500),
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(finger).await.unwrap();
    let start = Instant::now();
    loop {
        let moved = c
            .execute(
                "var c = document.querySelector(\"li[data-card='1']\"); return c && c.getAttribute('data-moved') !== null && !!c.closest('.column.done');",
                vec![],
            )
            .await
            .unwrap();
        if moved.as_bool() == Some(true) {
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let state = c
                .execute(
                    "var c = document.querySelector(\"li[data-card='1']\"); var b = document.getElementById('board'); return [b.scrollLeft, b.scrollWidth, c.closest('.column').getAttribute('data-list'), c.getAttribute('data-moved'), c.className];",
                    vec![],
                )
                .await
                .unwrap();
            shot(&c, "drag-failed").await;
            panic!("the card did not land in Done: {state}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = String::from_utf8(
        oz.ok(&["task", "list", "--all", "--json"])
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    // One JSON object per line.
    let renew: serde_json::Value = shown
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|t| t["title"] == "Renew the passport")
        .unwrap();
    assert_eq!(renew["list"], "Done", "the server has it in Done: {renew}");

    // Persona and about-me: preview shows what Z will be given; save writes
    // the files Z reads with the next message.
    c.goto(&format!("{base}/persona")).await.unwrap();
    let about = c.find(Locator::Id("about-me")).await.unwrap();
    about.clear().await.unwrap();
    about
        .send_keys("I train for a half marathon in March.")
        .await
        .unwrap();
    click_and_wait(&c, "#preview").await;
    see(&c, "What Z will be given").await;
    see(&c, "About me:\nI train for a half marathon in March.").await;
    assert!(
        !oz.data.join("about-me.md").exists(),
        "a preview saves nothing"
    );
    click_and_wait(&c, "#save-persona").await;
    see(&c, "Saved: Z uses it from the next message.").await;
    assert_eq!(
        std::fs::read_to_string(oz.data.join("about-me.md")).unwrap(),
        "I train for a half marathon in March."
    );
    shot(&c, "persona").await;

    // Chat: the answer grows in the page as the model writes it.
    c.goto(&format!("{base}/chat")).await.unwrap();
    fill(&c, "chat-text", "How is my week?").await;
    press(&c, "#chat-send").await;
    let start = Instant::now();
    let mut partial = false;
    loop {
        let t = text(&c).await;
        if t.contains("dentist at 9:30.") && !t.contains("is free.") {
            partial = true;
        }
        if t.contains("Tuesday: dentist at 9:30. The rest is free.") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no answer: {t}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(partial, "the answer was shown growing, not all at once");
    fits(&c, "chat").await;
    shot(&c, "chat").await;
    // The end of the answer is marked once Z has finished (and kept it).
    let start = Instant::now();
    while c
        .execute(
            "return !!document.querySelector('[data-streaming]');",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        == Some(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the answer never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Kept: the conversation is there after a reload.
    c.goto(&format!("{base}/chat")).await.unwrap();
    see(&c, "How is my week?").await;
    see(&c, "The rest is free.").await;

    // Live logs: a line written by the server shows up on the open page.
    c.goto(&format!("{base}/logs")).await.unwrap();
    see(&c, "Live.").await;
    let mut other = crate::dashboard::Browser::new(&base);
    other.login(PASSWORD).await;
    let csrf = other.csrf("/projects").await;
    let asked = Instant::now();
    other
        .post("/projects", &[("csrf", &csrf), ("name", "Watch the logs")])
        .await;
    let projects = String::from_utf8(
        oz.ok(&["project", "list", "--json"])
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    assert!(projects.contains("Watch the logs"));
    see(&c, "project added").await;
    eprintln!(
        "log line on the page {:?} after the request",
        asked.elapsed()
    );
    fits(&c, "logs").await;
    shot(&c, "logs").await;
    // Paused, the page takes no new line.
    press(&c, "#log-pause").await;
    see(&c, "Paused.").await;
    let before = text(&c).await.matches("project added").count();
    other
        .post("/projects", &[("csrf", &csrf), ("name", "While paused")])
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(text(&c).await.matches("project added").count(), before);
    press(&c, "#log-pause").await;
    let start = Instant::now();
    while text(&c).await.matches("project added").count() != before + 1 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "resume brings the missed line"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Sign out, then five wrong passwords lock the door, even for the right one.
    c.goto(&format!("{base}/")).await.unwrap();
    press(&c, ".logout button").await;
    see(&c, "Sign in to Z").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    for _ in 0..5 {
        sign_in(&c, &base, "not my password").await;
    }
    see(&c, "sign-in is locked until").await;
    sign_in(&c, &base, PASSWORD).await;
    see(&c, "sign-in is locked until").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    c.close().await.unwrap();
    served.stop();
}
