//! Backups through the binary: a store filled the way a user fills it is
//! backed up, restored SQLite → SQLite, SQLite → PostgreSQL and PostgreSQL
//! → SQLite, and shows the same projects, memories (and search results),
//! tasks, mail, calendar, money and training; a wrong passphrase, a cut or
//! changed file is refused and nothing changes; `--force` backs up first; a
//! `kill -9` mid-backup leaves no file that looks good; an older backup is
//! brought up to date.

use std::path::{Path, PathBuf};

use crate::common::{self, Oz};
use predicates::prelude::*;

const PASS: &str = "correct horse battery staple";

/// A command for `oz` with the backup passphrase, the model and, when
/// given, a PostgreSQL database.
fn cmd(oz: &Oz, model: &str, db: Option<&str>) -> assert_cmd::Command {
    let mut c = oz.cmd();
    c.env("BACKUP_PASSPHRASE", PASS)
        .env("OPENZERO__MEMORY__MODEL_DIR", model)
        .env("USER_TIMEZONE", "Europe/Berlin");
    if let Some(url) = db {
        c.env("DATABASE_URL", url);
    }
    c
}

fn out(oz: &Oz, model: &str, db: Option<&str>, args: &[&str]) -> String {
    let a = cmd(oz, model, db).args(args).assert().success();
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

/// Fills a store through the commands a user runs: every capability that
/// keeps data without a network service.
fn fill(oz: &Oz, model: &str, db: Option<&str>) {
    let run = |args: &[&str]| out(oz, model, db, args);
    run(&["init"]);
    run(&[
        "project",
        "add",
        "Career",
        "--priority",
        "1",
        "--progress",
        "40",
    ]);
    run(&[
        "project",
        "add",
        "Job applications",
        "--parent",
        "Career",
        "--status",
        "paused",
    ]);
    run(&["project", "add", "Family"]);
    // A parent made after its child: the restore must not depend on id order.
    run(&["project", "update", "Career", "--parent", "Family"]);
    run(&["project", "add", "Short-lived"]);
    run(&["project", "remove", "Short-lived"]);
    let mems = oz.work.join("m.jsonl");
    std::fs::write(
        &mems,
        concat!(
            "{\"text\": \"Talked to my sister about the move to Lyon in May\", \"created_at\": \"2026-04-02T18:00:00Z\"}\n",
            "{\"text\": \"Decided to sell the old bike and keep the gravel one\", \"metadata\": {\"topic\": \"bike\"}}\n",
            "{\"text\": \"Dentist appointment is every six months\", \"source\": \"notes\", \"id\": \"n-7\"}\n",
        ),
    )
    .unwrap();
    run(&["memory", "import", mems.to_str().unwrap()]);
    run(&[
        "memory",
        "add",
        "Emoji 🧗 and <b>markup</b> survive & quotes \" too",
    ]);
    run(&["task", "add", "Renew passport", "--board", "family"]);
    run(&["task", "add", "Update the CV", "--board", "career"]);
    run(&["task", "move", "2", "In Progress"]);
    run(&["task", "done", "1"]);
    let ics = oz.work.join("cal.ics");
    std::fs::write(
        &ics,
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:dentist@x\r\nSUMMARY:Dentist\r\n\
         DTSTART;TZID=Europe/Berlin:20261201T093000\r\nDURATION:PT45M\r\n\
         RRULE:FREQ=MONTHLY;COUNT=6\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    run(&[
        "calendar",
        "import",
        ics.to_str().unwrap(),
        "--name",
        "Health",
    ]);
    if let Some(mail) = common::fixtures("email") {
        run(&[
            "mail",
            "import",
            mail.join("mailparse/nested.eml").to_str().unwrap(),
        ]);
    }
    if let Some(fin) = common::fixtures("finance") {
        run(&[
            "finance",
            "import",
            fin.join("ofxparse/bank_medium.ofx").to_str().unwrap(),
        ]);
    }
    if let Some(act) = common::fixtures("activities") {
        run(&[
            "training",
            "import",
            act.join("python-tcxparser/test.tcx").to_str().unwrap(),
        ]);
    }
    cmd(oz, model, db)
        .args(["dashboard", "set-password", "--stdin"])
        .write_stdin("a long dashboard password\n")
        .assert()
        .success();
    std::fs::write(
        oz.data.join("about-me.md"),
        "I run, I climb, I live in Köln.\n",
    )
    .unwrap();
}

/// Everything a user sees, as text to compare between two stores.
fn view(oz: &Oz, model: &str, db: Option<&str>) -> Vec<(String, String)> {
    let views: &[&[&str]] = &[
        &["project", "list", "--json"],
        &["tree"],
        &[
            "memory",
            "search",
            "when did I talk to my sister about the move",
            "--json",
        ],
        &["memory", "search", "bike", "--json"],
        &["task", "list", "--json"],
        &["task", "show", "2"],
        &[
            "calendar",
            "agenda",
            "--from",
            "2026-12-01",
            "--to",
            "2027-03-31",
            "--json",
        ],
        &["mail", "list", "--json"],
        &["finance", "list", "--json"],
        &["training", "list", "--json"],
        &["disclosures", "--json"],
    ];
    let mut got: Vec<(String, String)> = views
        .iter()
        .map(|a| (a.join(" "), out(oz, model, db, a)))
        .collect();
    let export = oz.work.join(format!("export-{}.jsonl", db.is_some()));
    out(
        oz,
        model,
        db,
        &["memory", "export", export.to_str().unwrap()],
    );
    got.push((
        "memory export".into(),
        std::fs::read_to_string(&export).unwrap(),
    ));
    got.push((
        "about-me.md".into(),
        std::fs::read_to_string(oz.data.join("about-me.md")).unwrap_or_default(),
    ));
    got
}

fn assert_same(a: &[(String, String)], b: &[(String, String)]) {
    for ((what, x), (_, y)) in a.iter().zip(b) {
        assert_eq!(x, y, "`{what}` differs after the restore");
    }
}

fn create(oz: &Oz, model: &str, db: Option<&str>) -> PathBuf {
    let stdout = out(oz, model, db, &["backup", "create"]);
    let last = stdout.lines().last().unwrap().to_owned();
    let path = PathBuf::from(last);
    assert!(path.is_file(), "{stdout}");
    path
}

fn restore(oz: &Oz, model: &str, db: Option<&str>, file: &Path) -> String {
    let mut c = cmd(oz, model, None);
    c.args(["backup", "restore", file.to_str().unwrap()]);
    if let Some(url) = db {
        c.args(["--database-url", url]);
    }
    String::from_utf8_lossy(&c.assert().success().get_output().stdout).into_owned()
}

#[tokio::test]
async fn a_filled_store_comes_back_the_same_on_either_backend() {
    let Some(model) = common::minilm() else {
        return;
    };
    let home = Oz::new();
    fill(&home, &model, None);
    let seen = view(&home, &model, None);
    assert!(seen[0].1.contains("Job applications"), "{:?}", seen[0]);
    assert!(seen[4].1.contains("Update the CV"), "{:?}", seen[4]);
    let file = create(&home, &model, None);
    assert!(
        file.file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with(".jsonl.zst.age"),
        "{}",
        file.display()
    );
    // It is encrypted: no text of the owner's is readable in it.
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    assert!(!String::from_utf8_lossy(&bytes).contains("sister"));
    out(
        &home,
        &model,
        None,
        &["backup", "verify", file.to_str().unwrap()],
    );

    // SQLite → SQLite, in a new data directory.
    let sqlite = Oz::new();
    let said = restore(&sqlite, &model, None, &file);
    assert!(said.contains("restored"), "{said}");
    assert_same(&seen, &view(&sqlite, &model, None));
    // Ids go on from where they were (a removed project's id is not reused).
    let added = out(
        &sqlite,
        &model,
        None,
        &["project", "add", "After the restore"],
    );
    assert!(added.contains("#5"), "{added}");

    let Some(url) = openzero_store_postgres::testing::fresh_database_url().await else {
        return;
    };
    // SQLite → PostgreSQL.
    let pg = Oz::new();
    restore(&pg, &model, Some(&url), &file);
    assert_same(&seen, &view(&pg, &model, Some(&url)));

    // PostgreSQL → SQLite, after a change made on PostgreSQL.
    out(
        &pg,
        &model,
        Some(&url),
        &["memory", "add", "Written on PostgreSQL"],
    );
    let from_pg = create(&pg, &model, Some(&url));
    let pg_seen = view(&pg, &model, Some(&url));
    let back = Oz::new();
    restore(&back, &model, None, &from_pg);
    assert_same(&pg_seen, &view(&back, &model, None));
    let hits = out(
        &back,
        &model,
        None,
        &["memory", "search", "written on postgres", "--json"],
    );
    let hits: Vec<serde_json::Value> = serde_json::from_str(&hits).unwrap();
    assert_eq!(hits[0]["text"], "Written on PostgreSQL", "{hits:?}");
}

#[test]
fn a_bad_backup_or_a_store_in_use_changes_nothing() {
    let Some(model) = common::minilm() else {
        return;
    };
    let home = Oz::new();
    fill(&home, &model, None);
    let file = create(&home, &model, None);
    let bytes = std::fs::read(&file).unwrap();
    let target = Oz::new();
    let bad = |name: &str, data: &[u8], pass: &str, says: &str| {
        let f = target.work.join(name);
        std::fs::write(&f, data).unwrap();
        cmd(&target, &model, None)
            .env("BACKUP_PASSPHRASE", pass)
            .args(["backup", "restore", f.to_str().unwrap()])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(says))
            .stderr(predicate::str::contains("nothing was changed"));
        assert!(
            !target.data.join("openzero.db").exists(),
            "{name} touched the store"
        );
    };
    bad("wrong.age", &bytes, "not the passphrase", "passphrase");
    bad(
        "cut.age",
        &bytes[..bytes.len() * 2 / 3],
        PASS,
        "damaged or cut short",
    );
    let mut changed = bytes.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x40;
    bad("changed.age", &changed, PASS, "damaged or cut short");
    bad(
        "other.age",
        b"PRAGMA foreign_keys=OFF;\n",
        PASS,
        "not an OpenZero backup",
    );
    // No passphrase at all: told which setting is missing.
    target
        .cmd()
        .args(["backup", "restore", file.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("BACKUP_PASSPHRASE"));

    // Not while `serve` runs on it …
    let served = common::serve(&home, &[], [("BACKUP_PASSPHRASE", PASS)]);
    cmd(&home, &model, None)
        .args(["backup", "restore", file.to_str().unwrap(), "--force"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`openzero serve` is running"));
    served.stop();
    // … a store that holds data is not replaced without --force …
    let before = common::read_dir_bytes(&home.data.join("backups"));
    cmd(&home, &model, None)
        .args(["backup", "restore", file.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already holds data"));
    assert_eq!(before, common::read_dir_bytes(&home.data.join("backups")));
    // … and with --force, what is there is backed up first.
    out(
        &home,
        &model,
        None,
        &["project", "add", "Made after the backup"],
    );
    let said = out(
        &home,
        &model,
        None,
        &["backup", "restore", file.to_str().unwrap(), "--force"],
    );
    assert!(said.contains("what was there is backed up in"), "{said}");
    let tree = out(&home, &model, None, &["tree"]);
    assert!(!tree.contains("Made after the backup"), "{tree}");
    // The replaced database file itself is kept aside, not deleted.
    assert!(home.data.join("openzero.db.before-restore").is_file());
    let safety = said
        .lines()
        .find_map(|l| l.strip_prefix("what was there is backed up in "))
        .unwrap();
    let undo = Oz::new();
    restore(&undo, &model, None, Path::new(safety));
    assert!(out(&undo, &model, None, &["tree"]).contains("Made after the backup"));
}

#[test]
fn a_backup_killed_midway_leaves_no_file_that_looks_good() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    // Enough rows that writing takes a while (no model: texts only, fast to
    // import), and age keys rather than a passphrase, so writing starts at
    // once instead of after a second of key derivation.
    let mems = oz.work.join("many.jsonl");
    let lines: String = (0..60_000)
        .map(|i| {
            format!("{{\"text\": \"note number {i} about the garden, the bike and the move, with enough words to weigh something\"}}\n")
        })
        .collect();
    std::fs::write(&mems, lines).unwrap();
    oz.cmd()
        .env("OPENZERO__MEMORY__MODEL_DIR", "/nonexistent")
        .args(["memory", "import", mems.to_str().unwrap()])
        .assert()
        .success();
    let id = openzero_backup::age::x25519::Identity::generate();
    let key = oz.work.join("key.txt");
    {
        use openzero_backup::age::secrecy::ExposeSecret;
        std::fs::write(&key, format!("{}\n", id.to_string().expose_secret())).unwrap();
    }
    let public = id.to_public().to_string();
    let keyed = |args: &[&str]| {
        let mut c = oz.cmd();
        c.env("BACKUP_RECIPIENTS", &public)
            .env("BACKUP_IDENTITY_FILE", &key)
            .args(args);
        c
    };
    let dir = oz.data.join("backups");
    let mut cut_midway = 0;
    for delay in [100u64, 200, 300, 450, 600, 800] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openzero"))
            .env_clear()
            .env("HOME", &oz.home)
            .env("OPENZERO_DATA_DIR", &oz.data)
            .env("BACKUP_RECIPIENTS", &public)
            .args(["backup", "create"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        // Whatever it left is either whole and good or not named a backup.
        for b in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = b.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") {
                if b.metadata().unwrap().len() > 0 {
                    cut_midway += 1;
                    std::fs::remove_file(b.path()).unwrap();
                }
                continue;
            }
            keyed(&["backup", "verify", b.path().to_str().unwrap()])
                .assert()
                .success();
        }
    }
    assert!(
        cut_midway > 0,
        "no kill landed while a backup was being written"
    );
    // And the next backup works.
    keyed(&["backup", "create"]).assert().success();
    let listed = String::from_utf8(
        keyed(&["backup", "list", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        !listed.is_empty() && !listed.contains(".partial"),
        "{listed}"
    );
}

#[tokio::test]
async fn the_jobs_back_up_drill_and_keep_health_honest() {
    let Some(model) = common::minilm() else {
        return;
    };
    let oz = Oz::new();
    out(&oz, &model, None, &["init"]);
    // No key: backups are "not set up", and the job says why.
    oz.cmd()
        .args(["jobs", "run", "backup"])
        .assert()
        .success()
        .stdout(predicate::str::contains("no backup key"));
    out(&oz, &model, None, &["project", "add", "Garden"]);
    // With a key but no backup yet, doctor says so.
    let doc = cmd(&oz, &model, None)
        .args(["doctor"])
        .assert()
        .get_output()
        .stdout
        .clone();
    assert!(
        String::from_utf8_lossy(&doc).contains("no backup yet"),
        "{}",
        String::from_utf8_lossy(&doc)
    );
    let ran = out(&oz, &model, None, &["jobs", "run", "backup"]);
    assert!(ran.contains("rows"), "{ran}");
    let drill = out(&oz, &model, None, &["jobs", "run", "restore-drill"]);
    assert!(drill.contains("read it back"), "{drill}");
    let doc = out(&oz, &model, None, &["doctor"]);
    assert!(doc.contains("newest"), "{doc}");
    // A second directory gets a checked copy.
    let second = oz.work.join("usb");
    let made = String::from_utf8_lossy(
        &cmd(&oz, &model, None)
            .env("BACKUP_SECOND_DIR", &second)
            .args(["backup", "create"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .into_owned();
    assert!(made.contains("copied to"), "{made}");
    let copies: Vec<_> = std::fs::read_dir(&second).unwrap().flatten().collect();
    assert_eq!(copies.len(), 1);
    out(
        &oz,
        &model,
        None,
        &["backup", "verify", copies[0].path().to_str().unwrap()],
    );

    // The dashboard's Backups page shows them, and the drill that passed.
    crate::dashboard::set_password(&oz);
    let served = common::serve(
        &oz,
        &[],
        [
            ("BACKUP_PASSPHRASE", PASS),
            ("OPENZERO__MEMORY__MODEL_DIR", model.as_str()),
        ],
    );
    let mut b = crate::dashboard::Browser::new(&served.url);
    b.login(crate::dashboard::PASSWORD).await;
    let (status, _, page) = b.get("/backups").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    let newest = std::fs::read_dir(oz.data.join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".age"))
        .max()
        .unwrap();
    assert!(page.contains(&newest), "{page}");
    assert!(page.contains("status ok"), "{page}");
    assert!(page.contains("Back up now"), "{page}");
    assert!(
        page.contains("<td>ok</td>"),
        "the drill that passed: {page}"
    );
    served.stop();

    // Three days on without a backup: /health turns degraded and says why.
    let later = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let served = common::serve(
        &oz,
        &["--clock", &later],
        [
            ("BACKUP_PASSPHRASE", PASS),
            ("OPENZERO__MEMORY__MODEL_DIR", model.as_str()),
        ],
    );
    let body: serde_json::Value = reqwest::get(format!("{}/health", served.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let backup = &body["components"]["backup"];
    assert_eq!(backup["status"], "degraded", "{body}");
    assert!(
        backup["detail"].as_str().unwrap().starts_with("overdue"),
        "{body}"
    );
    assert_eq!(body["status"], "degraded", "{body}");
    served.stop();
}

#[test]
fn recipients_let_the_server_write_backups_it_cannot_read() {
    let Some(model) = common::minilm() else {
        return;
    };
    let oz = Oz::new();
    out(&oz, &model, None, &["init"]);
    out(&oz, &model, None, &["project", "add", "Secret garden"]);
    let id = openzero_backup::age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let made = String::from_utf8_lossy(
        &oz.cmd()
            .env("BACKUP_RECIPIENTS", &public)
            .args(["backup", "create"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .into_owned();
    assert!(made.contains("this machine cannot read it"), "{made}");
    let file = made.lines().last().unwrap().to_owned();
    oz.cmd()
        .args(["backup", "verify", &file])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("BACKUP_IDENTITY_FILE"));
    let key = oz.work.join("key.txt");
    {
        use openzero_backup::age::secrecy::ExposeSecret;
        std::fs::write(
            &key,
            format!("# test key\n{}\n", id.to_string().expose_secret()),
        )
        .unwrap();
    }
    let laptop = Oz::new();
    laptop
        .cmd()
        .env("BACKUP_IDENTITY_FILE", &key)
        .args(["backup", "restore", &file])
        .assert()
        .success();
    laptop
        .ok(&["tree"])
        .stdout(predicate::str::contains("Secret garden"));
}

#[tokio::test]
async fn a_backup_from_an_older_schema_is_brought_up_to_date() {
    use openzero_store::BackupStore;
    use openzero_store::backup::DumpItem;
    let Some(model) = common::minilm() else {
        return;
    };
    let home = Oz::new();
    out(&home, &model, None, &["init"]);
    out(&home, &model, None, &["project", "add", "Old garden"]);
    out(
        &home,
        &model,
        None,
        &["memory", "add", "The shed roof leaks"],
    );
    let store = openzero_store_sqlite::SqliteStore::open(&home.data.join("openzero.db"))
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1 << 16);
    store.dump(tx).await.unwrap();
    // What OpenZero wrote before migration 22 (training): no activities
    // table, and none of what later migrations added (24: memory merges).
    let later_tables = ["activities", "memory_merges", "memory_merge_members"];
    let later_columns = ["merged_into", "reviewed_at"];
    let mut items = Vec::new();
    let mut skipping = false;
    let mut drop_at: Vec<usize> = Vec::new();
    while let Some(i) = rx.recv().await {
        let i = match i {
            DumpItem::Table { name, columns } => {
                skipping = later_tables.contains(&name.as_str());
                drop_at = columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| later_columns.contains(&c.as_str()))
                    .map(|(n, _)| n)
                    .collect();
                let columns = columns
                    .into_iter()
                    .filter(|c| !later_columns.contains(&c.as_str()))
                    .collect();
                DumpItem::Table { name, columns }
            }
            DumpItem::Row(values) => DumpItem::Row(
                values
                    .into_iter()
                    .enumerate()
                    .filter(|(n, _)| !drop_at.contains(n))
                    .map(|(_, v)| v)
                    .collect(),
            ),
            DumpItem::Sequences(seq) => DumpItem::Sequences(
                seq.into_iter()
                    .filter(|(t, _)| !later_tables.contains(&t.as_str()))
                    .collect(),
            ),
            other => other,
        };
        if !skipping || matches!(i, DumpItem::Sequences(_) | DumpItem::End) {
            items.push(i);
        }
    }
    let file = home.work.join("openzero-old.jsonl.zst.age");
    let header = openzero_backup::Header {
        openzero_backup: 1,
        created_at: chrono::Utc::now(),
        openzero: "0.0.9".into(),
        backend: "sqlite".into(),
        schema_version: 21,
    };
    let seal = openzero_backup::Seal::Passphrase(PASS.to_owned().into());
    let mut w = openzero_backup::Writer::new(std::fs::File::create(&file).unwrap(), &seal, &header)
        .unwrap();
    for i in &items {
        w.item(i).unwrap();
    }
    w.finish().unwrap();

    let new = Oz::new();
    let said = restore(&new, &model, None, &file);
    assert!(said.contains("backup schema 21"), "{said}");
    assert!(out(&new, &model, None, &["tree"]).contains("Old garden"));
    // Migration 22 ran after the rows went in: training works.
    let listed = out(&new, &model, None, &["training", "list", "--json"]);
    assert_eq!(listed.trim(), "[]", "{listed}");
    let doc = out(&new, &model, None, &["doctor"]);
    assert!(doc.contains("schema v24"), "{doc}");
}
