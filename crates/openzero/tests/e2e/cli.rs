//! The real binary, driven as a user would, on SQLite (and PostgreSQL where
//! marked). Each test gets its own data directory and an empty environment.

use crate::common;

use common::{Oz, read_dir_bytes};
use predicates::prelude::*;

#[test]
fn every_command_has_help_with_examples() {
    let oz = Oz::new();
    for args in [
        vec!["--help"],
        vec!["init", "--help"],
        vec!["serve", "--help"],
        vec!["doctor", "--help"],
        vec!["config", "show", "--help"],
        vec!["config", "paths", "--help"],
        vec!["project", "add", "--help"],
        vec!["project", "update", "--help"],
        vec!["project", "remove", "--help"],
        vec!["project", "list", "--help"],
        vec!["tree", "--help"],
    ] {
        oz.cmd()
            .args(&args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:"));
    }
}

#[test]
fn unknown_subcommand_is_a_one_line_error_with_usage_exit_2() {
    let oz = Oz::new();
    oz.cmd()
        .arg("frobnicate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unrecognized subcommand 'frobnicate'",
        ));
}

#[test]
fn init_creates_dir_config_and_database_and_never_overwrites() {
    let oz = Oz::new();
    oz.cmd()
        .arg("init")
        .assert()
        .success()
        .stdout(predicate::str::contains("Created data directory"))
        .stdout(predicate::str::contains("Database ready: sqlite"));
    let cfg = oz.data.join("openzero.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("[general]") && text.contains("# bind = \"127.0.0.1:8000\""));
    assert!(oz.data.join("openzero.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&oz.data).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "data dir is owner-only: {mode:o}");
    }

    std::fs::write(&cfg, "[general]\ntimezone = \"Asia/Tokyo\"\n").unwrap();
    oz.cmd()
        .arg("init")
        .assert()
        .success()
        .stdout(predicate::str::contains("already exists; left unchanged"));
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "[general]\ntimezone = \"Asia/Tokyo\"\n"
    );
}

#[test]
fn project_commands_build_the_documented_tree() {
    let oz = Oz::new();
    oz.ok(&["tree"]).stdout("No projects found.\n");
    oz.ok(&["project", "list"]).stdout("No projects found.\n");
    oz.ok(&[
        "project",
        "add",
        "Career",
        "--priority",
        "1",
        "--progress",
        "40",
        "--domain",
        "career",
    ])
    .stdout(predicate::str::contains("Added #1 Career [ACTIVE] [40%]"));
    oz.ok(&["project", "add", "Family", "--priority", "2"]);
    oz.ok(&[
        "project",
        "add",
        "Job Applications",
        "--parent",
        "career",
        "--status",
        "paused",
    ])
    .stdout(predicate::str::contains(
        "Career / Job Applications [PAUSED]",
    ));
    oz.ok(&[
        "project",
        "add",
        "Kindergarten Registration",
        "--parent",
        "2",
    ]);
    oz.ok(&["project", "update", "job applications", "--progress", "20"]);
    oz.ok(&["project", "update", "Family", "--progress", "60%"]);
    oz.ok(&[
        "project",
        "update",
        "Kindergarten Registration",
        "--status",
        "done",
        "--progress",
        "100",
    ]);
    oz.ok(&["tree"]).stdout(
        "[ACTIVE] Career [40%]\n  [PAUSED] Job Applications [20%]\n[ACTIVE] Family [60%]\n  [DONE] Kindergarten Registration [100%]\n",
    );

    // A child inherits the parent's domain; JSON lists every field.
    let out = oz
        .ok(&["project", "list", "--json"])
        .get_output()
        .stdout
        .clone();
    let list: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let job = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Job Applications")
        .unwrap();
    assert_eq!(job["domain"], "career");
    assert_eq!(job["status"], "paused");
    assert_eq!(job["parent_id"], 1);
    assert_eq!(job["progress"], 20);
    assert_eq!(job["priority"], 3);
    assert!(job["created_at"].as_str().unwrap().contains('T'));

    // The table is in tree order with indented names.
    let table = oz.ok(&["project", "list"]).get_output().stdout.clone();
    let table = String::from_utf8(table).unwrap();
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split("  ").last().unwrap_or("").trim())
        .collect();
    assert_eq!(
        names,
        [
            "Career",
            "Job Applications",
            "Family",
            "Kindergarten Registration"
        ]
    );
}

#[test]
fn removing_a_parent_moves_children_up() {
    let oz = Oz::new();
    oz.ok(&["project", "add", "Health"]);
    oz.ok(&["project", "add", "Running", "--parent", "Health"]);
    oz.ok(&["project", "add", "Marathon", "--parent", "Running"]);
    oz.ok(&["project", "add", "5k", "--parent", "Running"]);
    oz.ok(&["project", "remove", "running"])
        .stdout(predicate::str::contains(
            "Removed #2 Running; its 2 children moved up to 'Health'",
        ));
    oz.ok(&["tree"])
        .stdout("[ACTIVE] Health [0%]\n  [ACTIVE] 5k [0%]\n  [ACTIVE] Marathon [0%]\n");
    oz.ok(&["project", "remove", "Health"])
        .stdout(predicate::str::contains("moved up to the top level"));
    oz.ok(&["tree"])
        .stdout("[ACTIVE] 5k [0%]\n[ACTIVE] Marathon [0%]\n");
}

#[test]
fn cycles_ambiguity_and_bad_values_are_refused_clearly() {
    let oz = Oz::new();
    oz.ok(&["project", "add", "Career"]);
    oz.ok(&["project", "add", "Family"]);
    oz.ok(&["project", "add", "Admin", "--parent", "Career"]);
    oz.ok(&["project", "add", "admin", "--parent", "Family"]);
    oz.ok(&["project", "add", "Deep", "--parent", "3"]);

    oz.fails(&["project", "update", "Career", "--parent", "Deep"])
        .stderr(predicate::str::contains(
            "moving 'Career' under 'Deep' would make a cycle",
        ));
    oz.fails(&["project", "update", "Career", "--parent", "Career"])
        .stderr(predicate::str::contains("cannot be its own parent"));
    oz.fails(&["project", "update", "ADMIN", "--progress", "5"])
        .stderr(predicate::str::contains("#3 Career / Admin"))
        .stderr(predicate::str::contains("#4 Family / admin"))
        .stderr(predicate::str::contains("use the id instead"));
    oz.fails(&["project", "add", "career"])
        .stderr(predicate::str::contains("already exists at the top level"));
    oz.fails(&["project", "remove", "Nope"])
        .stderr(predicate::str::contains("no project matches 'Nope'"));
    oz.fails(&["project", "update", "Career"])
        .stderr(predicate::str::contains("nothing to change"));
    oz.cmd()
        .args(["project", "add", "X", "--priority", "9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("from 1 (highest) to 5"));
    oz.cmd()
        .args(["project", "add", "X", "--status", "finished"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "active, paused, completed, archived",
        ));
    oz.cmd()
        .args(["project", "add", "X", "--progress", "140"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("from 0 to 100"));
    // Nothing was changed by the refused commands.
    oz.ok(&["tree"]).stdout(
        "[ACTIVE] Career [0%]\n  [ACTIVE] Admin [0%]\n    [ACTIVE] Deep [0%]\n[ACTIVE] Family [0%]\n  [ACTIVE] admin [0%]\n",
    );
}

#[test]
fn config_show_masks_secrets_and_names_sources() {
    let oz = Oz::new();
    std::fs::create_dir_all(&oz.data).unwrap();
    std::fs::write(
        oz.data.join("openzero.toml"),
        "[general]\ntimezone = \"Europe/Berlin\"\n",
    )
    .unwrap();
    let out = oz
        .cmd()
        .args(["config", "show"])
        .env("TELEGRAM_BOT_TOKEN", "123456:TOPSECRET")
        .env("DATABASE_URL", "postgres://oz:PGSECRET@127.0.0.1:1/oz")
        .env("OPENAI_API_KEY", "sk-SECRETKEY")
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    for s in [&stdout, &stderr] {
        assert!(
            !s.contains("TOPSECRET") && !s.contains("PGSECRET") && !s.contains("SECRETKEY"),
            "{s}"
        );
    }
    assert!(
        stdout.contains("bot_token = \"********\"  # from environment TELEGRAM_BOT_TOKEN"),
        "{stdout}"
    );
    assert!(
        stdout.contains("postgres://oz:********@127.0.0.1:1/oz"),
        "{stdout}"
    );
    assert!(
        stdout.contains("timezone = \"Europe/Berlin\"  # from"),
        "{stdout}"
    );
    assert!(stdout.contains("bind = \"127.0.0.1:8000\""), "{stdout}");

    let json = oz
        .cmd()
        .args(["config", "show", "--json"])
        .env("TELEGRAM_BOT_TOKEN", "123456:TOPSECRET")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["settings"]["telegram"]["bot_token"], "********");
    assert_eq!(v["settings"]["general"]["timezone"], "Europe/Berlin");
}

#[test]
fn dotenv_in_working_dir_is_read_and_real_env_wins() {
    let oz = Oz::new();
    std::fs::write(
        oz.work.join(".env"),
        "USER_TIMEZONE=America/New_York\nOPENZERO__SERVER__BIND=127.0.0.1:9999\n",
    )
    .unwrap();
    let out = oz
        .cmd()
        .args(["config", "show", "--json"])
        .env("OPENZERO__SERVER__BIND", "127.0.0.1:7777")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["settings"]["general"]["timezone"], "America/New_York");
    assert_eq!(v["settings"]["server"]["bind"], "127.0.0.1:7777");
}

#[test]
fn unknown_config_key_warns_and_runs() {
    let oz = Oz::new();
    std::fs::create_dir_all(&oz.data).unwrap();
    std::fs::write(
        oz.data.join("openzero.toml"),
        "[general]\ncolour = \"blue\"\n",
    )
    .unwrap();
    oz.ok(&["tree"]).stderr(predicate::str::contains(
        "unknown configuration key general.colour",
    ));
}

#[test]
fn malformed_config_fails_in_one_line_and_touches_nothing() {
    let oz = Oz::new();
    oz.ok(&["project", "add", "Keep me"]);
    let cfg = oz.data.join("openzero.toml");
    std::fs::write(
        &cfg,
        "[general]\nlog_level = \"info\"\ntimezone = Europe/Berlin\n",
    )
    .unwrap();
    let before = read_dir_bytes(&oz.data);
    let out = oz.fails(&["tree"]).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("openzero.toml:3:") && stderr.contains("not valid TOML"),
        "{stderr}"
    );
    assert_eq!(read_dir_bytes(&oz.data), before);

    std::fs::write(&cfg, "[general]\ntimezone = \"Mars/Olympus\"\n").unwrap();
    oz.fails(&["tree"]).stderr(predicate::str::contains(
        "invalid value for general.timezone",
    ));
    std::fs::remove_file(&cfg).unwrap();
    oz.ok(&["tree"]).stdout(predicate::str::contains("Keep me"));
}

#[test]
fn corrupt_database_is_reported_and_left_untouched() {
    let oz = Oz::new();
    std::fs::create_dir_all(&oz.data).unwrap();
    let db = oz.data.join("openzero.db");
    let garbage: Vec<u8> = (0..16384u32).map(|i| (i * 31 % 253) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    let out = oz.fails(&["project", "add", "x"]).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a valid SQLite database"), "{stderr}");
    assert!(stderr.contains("left untouched"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
    oz.cmd()
        .arg("doctor")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("storage"))
        .stdout(predicate::str::contains("FAIL"));
}

#[test]
fn unreachable_postgres_is_a_clear_error() {
    let oz = Oz::new();
    let out = oz
        .cmd()
        .args(["project", "list"])
        .env("DATABASE_URL", "postgres://oz:hunter2@127.0.0.1:1/oz")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot reach the database at postgres://oz@127.0.0.1:1/oz"),
        "{stderr}"
    );
    assert!(stderr.contains("is PostgreSQL running"), "{stderr}");
    assert!(!stderr.contains("hunter2"));
}

#[test]
fn data_dir_that_is_a_file_is_a_clear_error() {
    let oz = Oz::new();
    std::fs::write(&oz.data, "not a dir").unwrap();
    oz.fails(&["tree"])
        .stderr(predicate::str::contains("is a file, not a directory"));
    assert_eq!(std::fs::read_to_string(&oz.data).unwrap(), "not a dir");
}

#[test]
fn doctor_reports_a_table_and_succeeds_on_defaults() {
    let oz = Oz::new();
    oz.ok(&["doctor"])
        .stdout(predicate::str::contains("CHECK"))
        .stdout(predicate::str::contains("storage"))
        .stdout(predicate::str::contains("sqlite at"))
        .stdout(predicate::str::contains("telegram"));
    let out = oz.ok(&["doctor", "--json"]).get_output().stdout.clone();
    let checks: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let storage = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "storage")
        .unwrap();
    assert_eq!(storage["outcome"], "ok");
}

#[test]
fn doctor_fails_when_the_configured_database_is_broken() {
    let oz = Oz::new();
    oz.cmd()
        .arg("doctor")
        .env("DATABASE_URL", "postgres://oz:pw@127.0.0.1:1/oz")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL"))
        .stdout(predicate::str::contains("cannot reach the database"));
}

/// The `llm` line of `doctor --json` with these variables set.
fn doctor_llm(oz: &Oz, env: &[(&str, &str)]) -> String {
    let mut cmd = oz.cmd();
    cmd.args(["doctor", "--json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let llm = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "llm")
        .unwrap();
    llm["detail"].as_str().unwrap().to_owned()
}

#[test]
fn a_chat_server_name_is_local_when_it_resolves_privately_or_is_declared() {
    let oz = Oz::new();
    // The seed's compose file names its Ollama service `ollama`. Here the
    // name does not resolve, so it cannot be shown to be local: cloud.
    let seed = [
        ("LLM_PROVIDER", "ollama"),
        ("OLLAMA_BASE_URL", "http://ollama:11434"),
    ];
    let d = doctor_llm(&oz, &seed);
    assert!(d.contains("(cloud: does not resolve"), "{d}");
    // The owner declares it theirs.
    let mut declared = seed.to_vec();
    declared.push(("OPENZERO__LLM__LOCAL_HOSTS", "gpu-box, Ollama"));
    let d = doctor_llm(&oz, &declared);
    assert!(
        d.contains("(your network: declared local in llm.local_hosts"),
        "{d}"
    );
    // A name that resolves only to loopback or private addresses is local
    // without being declared: this machine's own name does on Debian.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let url = format!("http://{}:11434", host.trim());
    let d = doctor_llm(
        &oz,
        &[("LLM_PROVIDER", "ollama"), ("OLLAMA_BASE_URL", &url)],
    );
    assert!(
        d.contains("(your network: resolves only to private addresses"),
        "{d}"
    );
    // A URL that only looks like loopback to a careless parser.
    let d = doctor_llm(
        &oz,
        &[
            ("LLM_PROVIDER", "llamacpp"),
            ("OPENAI_BASE_URL", "http://evil.example#@127.0.0.1:8080/v1"),
        ],
    );
    assert!(d.contains("(cloud:"), "{d}");
}
