//! `openzero serve` as a process: listens, answers /health, stops cleanly on SIGTERM.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Oz;

#[tokio::test]
async fn serve_answers_health_and_stops_on_sigterm() {
    let oz = Oz::new();
    // The model's files where health looks for them (contents are the embedder tests' job).
    let model = oz.data.join("models").join("all-MiniLM-L6-v2");
    std::fs::create_dir_all(&model).unwrap();
    for f in openzero_embed::MODEL_FILES {
        std::fs::write(model.join(f), b"").unwrap();
    }
    std::fs::write(
        oz.data
            .join("models")
            .join("SmolLM2-135M-Instruct.Q4_1.gguf"),
        b"",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_openzero"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_clear()
        .env("HOME", &oz.home)
        .env("OPENZERO_DATA_DIR", &oz.data)
        .current_dir(&oz.work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The first stdout line names the real address.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let body: serde_json::Value = reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["components"]["storage"]["status"], "ok");
    assert_eq!(body["components"]["memory"]["status"], "ok");
    assert_eq!(body["components"]["llm"]["status"], "ok");

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(stderr.contains("stopped cleanly"), "{stderr}");
}

#[test]
fn serve_on_a_busy_port_says_so() {
    let oz = Oz::new();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    oz.fails(&["serve", "--bind", &addr])
        .stderr(predicates::str::contains(format!(
            "cannot listen on {addr}"
        )))
        .stderr(predicates::str::contains("--bind"));
}

#[test]
fn serve_with_a_bad_bind_names_the_flag() {
    let oz = Oz::new();
    oz.fails(&["serve", "--bind", "localhost"])
        .stderr(predicates::str::contains(
            "invalid value for server.bind (from --bind)",
        ));
}
