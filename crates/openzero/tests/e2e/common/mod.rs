//! Helpers shared by the binary's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One user's world: a data directory, a home and a working directory,
/// with nothing inherited from the developer's environment.
pub struct Oz {
    _tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub home: PathBuf,
    pub work: PathBuf,
}

impl Oz {
    pub fn new() -> Self {
        Self::in_dir(tempfile::tempdir().unwrap())
    }

    pub fn in_dir(tmp: tempfile::TempDir) -> Self {
        let root = tmp.path().to_owned();
        let home = root.join("home");
        let work = root.join("work");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        Self {
            data: root.join("data"),
            home,
            work,
            _tmp: tmp,
        }
    }

    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_openzero"));
        c.env_clear()
            .env("HOME", &self.home)
            .env("OPENZERO_DATA_DIR", &self.data)
            .env("TZ", "UTC")
            .current_dir(&self.work)
            .timeout(std::time::Duration::from_secs(60));
        c
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.cmd().args(args).assert().success()
    }

    /// Runs and asserts exit status 1 (a handled error).
    pub fn fails(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.cmd().args(args).assert().code(1)
    }
}

/// Every file under `dir` with its bytes: to prove nothing changed.
pub fn read_dir_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(read_dir_bytes(&p));
        } else {
            out.insert(p.clone(), std::fs::read(&p).unwrap());
        }
    }
    out
}

/// A running `openzero serve`, stopped with SIGTERM.
pub struct Served {
    child: std::process::Child,
    /// Its address, from the first line it prints.
    pub url: String,
    /// Where its log goes (a file: a pipe nobody reads would fill up).
    pub log: PathBuf,
}

impl Served {
    /// Resident memory of the serve process now, in MB.
    pub fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb / 1024.0
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it (SIGTERM, as systemd or Ctrl-C would) and returns its log.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let start = std::time::Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(40),
                "serve did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        self.log()
    }
}

impl Drop for Served {
    /// A test that fails before `stop` must not leave its server running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `openzero serve --bind 127.0.0.1:0 EXTRA…` for `oz` with `env`
/// and nothing else from the environment; returns once it listens.
pub fn serve<K: AsRef<std::ffi::OsStr>, V: AsRef<std::ffi::OsStr>>(
    oz: &Oz,
    extra: &[&str],
    env: impl IntoIterator<Item = (K, V)>,
) -> Served {
    use std::io::BufRead;
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let log = oz.work.join(format!("serve-{n}.log"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openzero"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .env_clear()
        .env("HOME", &oz.home)
        .env("OPENZERO_DATA_DIR", &oz.data)
        .envs(env)
        .current_dir(&oz.work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| {
            panic!(
                "no address in {line:?}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
        .to_owned();
    Served { child, url, log }
}

/// Requests an Ollama-shaped fake received, each as JSON.
pub type Seen = std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

/// A local Ollama server fake speaking `/api/chat` (newline-delimited JSON
/// chunks, as Ollama streams): `answer` turns each request into the
/// assistant's message (`{"role": "assistant", "content", "tool_calls"?}`).
/// Returns its base URL and the requests seen.
pub async fn ollama<F>(answer: F) -> (String, Seen)
where
    F: Fn(&serde_json::Value) -> serde_json::Value + Clone + Send + Sync + 'static,
{
    use axum::routing::post;
    let seen: Seen = Seen::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/api/chat",
        post(move |body: String| {
            let (kept, answer) = (kept.clone(), answer.clone());
            async move {
                let req: serde_json::Value = serde_json::from_str(&body).unwrap();
                let msg = answer(&req);
                kept.lock().unwrap().push(req);
                let line = |m: serde_json::Value, done: bool| {
                    let mut v = serde_json::json!({"model": "m", "created_at": "2026-11-24T07:00:00Z",
                        "message": m, "done": done});
                    if done {
                        v["done_reason"] = "stop".into();
                    }
                    format!("{v}\n")
                };
                let out = line(msg, false)
                    + &line(serde_json::json!({"role": "assistant", "content": ""}), true);
                ([("content-type", "application/x-ndjson")], out)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

/// `openzero chat TEXT` with Z on an Ollama-shaped model at `base` (and
/// `env`), run off the async runtime; asserts it succeeded.
pub async fn chat_with(
    oz: &std::sync::Arc<Oz>,
    base: &str,
    env: &[(&str, &str)],
    text: &str,
) -> std::process::Output {
    let (run, base, text) = (oz.clone(), base.to_owned(), text.to_owned());
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let out = tokio::task::spawn_blocking(move || {
        run.cmd()
            .envs(env)
            .env("LLM_PROVIDER", "ollama")
            .env("OLLAMA_BASE_URL", &base)
            .env("OPENZERO__LLM__MODEL", "llama3.2")
            .args(["chat", &text])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// How many tool results a chat request carries.
pub fn tool_results(req: &serde_json::Value) -> usize {
    req["messages"]
        .as_array()
        .map_or(0, |m| m.iter().filter(|m| m["role"] == "tool").count())
}

/// The JSON lines a command prints, after checking that it succeeded.
pub fn json_lines(cmd: &mut assert_cmd::Command) -> Vec<serde_json::Value> {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The shared public corpus `kind` (`finance`, `activities`…):
/// `OPENZERO_FIXTURES`, or `../shared/fixtures` beside the repository.
/// `None` (skip) only outside CI.
pub fn fixtures(kind: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("OPENZERO_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join(kind).is_dir() {
        return Some(dir.join(kind));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no fixtures at {}: set OPENZERO_FIXTURES",
        dir.display()
    );
    eprintln!("skipped: no fixtures at {}", dir.display());
    None
}

/// The MiniLM model directory `scripts/test` prepared (required in CI;
/// elsewhere a test without it is skipped with a line on stderr).
pub fn minilm() -> Option<String> {
    match std::env::var("OPENZERO_TEST_MINILM_DIR") {
        Ok(d) => Some(d),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "OPENZERO_TEST_MINILM_DIR must be set in CI (scripts/test sets it)"
            );
            eprintln!("skipped: OPENZERO_TEST_MINILM_DIR not set");
            None
        }
    }
}
