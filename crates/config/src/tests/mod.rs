use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn dir_with(toml: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(CONFIG_FILE_NAME), toml).unwrap();
    d
}

fn load_in(d: &tempfile::TempDir, pairs: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    load(&Inputs {
        data_dir: Some(d.path().to_owned()),
        env: env(pairs),
        ..Default::default()
    })
}

#[test]
fn defaults_without_file_or_env() {
    let d = tempfile::tempdir().unwrap();
    let l = load_in(&d, &[]).unwrap();
    assert!(!l.config_file_found);
    assert_eq!(l.settings.server.bind.0.to_string(), "127.0.0.1:8000");
    assert_eq!(l.settings.general.timezone.0, chrono_tz::Tz::UTC);
    assert!(l.settings.database.url.is_none());
    assert_eq!(l.settings.llm.provider, LlmProvider::Embedded);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn layers_file_then_legacy_env_then_openzero_env_then_flags() {
    let d =
        dir_with("[general]\ntimezone = \"Europe/Berlin\"\n[server]\nbind = \"127.0.0.1:9000\"\n");
    let l = load_in(&d, &[]).unwrap();
    assert_eq!(l.settings.general.timezone.0.name(), "Europe/Berlin");
    assert_eq!(l.settings.server.bind.0.port(), 9000);

    let l = load_in(&d, &[("USER_TIMEZONE", "America/New_York")]).unwrap();
    assert_eq!(l.settings.general.timezone.0.name(), "America/New_York");
    assert_eq!(l.origins["general.timezone"], "environment USER_TIMEZONE");

    let l = load_in(
        &d,
        &[
            ("USER_TIMEZONE", "America/New_York"),
            ("OPENZERO__GENERAL__TIMEZONE", "Asia/Tokyo"),
        ],
    )
    .unwrap();
    assert_eq!(l.settings.general.timezone.0.name(), "Asia/Tokyo");

    let l = load(&Inputs {
        data_dir: Some(d.path().to_owned()),
        env: env(&[("OPENZERO__SERVER__BIND", "127.0.0.1:9100")]),
        overrides: vec![Override {
            path: "server.bind".into(),
            value: toml::Value::String("127.0.0.1:9200".into()),
            origin: "--bind".into(),
        }],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(l.settings.server.bind.0.port(), 9200);
}

#[test]
fn original_deployment_names_are_accepted() {
    let d = tempfile::tempdir().unwrap();
    let l = load_in(
        &d,
        &[
            ("TELEGRAM_BOT_TOKEN", "123:abc"),
            ("TELEGRAM_ALLOWED_USER_ID", "111, 222"),
            ("OLLAMA_BASE_URL", "http://ollama:11434"),
            ("QDRANT_HOST", "qdrant"),
            ("QDRANT_PORT", "6334"),
            ("QDRANT_API_KEY", "qk"),
            ("PLANKA_BASE_URL", "http://planka:3000"),
            ("PLANKA_ADMIN_EMAIL", "me@example.org"),
            ("PLANKA_ADMIN_PASSWORD", "pp"),
            ("LLM_PROVIDER", "groq"),
            ("GROQ_API_KEY", "gk"),
            ("OPENAI_API_KEY", "ok"),
            ("DEEP_THINK_PROVIDER", "openai"),
            ("DEEP_THINK_MODEL", "gpt-4o"),
            ("DATABASE_URL", "postgres://u:p@db:5432/oz"),
        ],
    )
    .unwrap();
    let s = &l.settings;
    assert_eq!(
        s.telegram.bot_token.as_ref().map(Secret::expose),
        Some("123:abc")
    );
    assert_eq!(s.telegram.allowed_user_ids, [111, 222]);
    assert_eq!(s.llm.ollama_base_url, "http://ollama:11434");
    assert_eq!(s.qdrant.host.as_deref(), Some("qdrant"));
    assert_eq!(s.qdrant.port, 6334);
    assert_eq!(s.qdrant.api_key.as_ref().map(Secret::expose), Some("qk"));
    assert_eq!(s.planka.admin_email.as_deref(), Some("me@example.org"));
    assert_eq!(s.llm.provider, LlmProvider::Groq);
    assert_eq!(s.llm.deep_think_provider, Some(LlmProvider::Openai));
    assert_eq!(s.llm.deep_think_model.as_deref(), Some("gpt-4o"));
    let db = s.database.url.as_ref().unwrap();
    assert_eq!(db.kind(), DbKind::Postgres);
    assert_eq!(db.expose(), "postgres://u:p@db:5432/oz");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn secrets_from_files_in_env_and_toml() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("tok"), "from-env-file\n").unwrap();
    std::fs::write(d.path().join("pw"), "from-toml-file").unwrap();
    std::fs::write(
        d.path().join(CONFIG_FILE_NAME),
        "[planka]\nadmin_password_file = \"pw\"\n",
    )
    .unwrap();
    let tok = d.path().join("tok");
    let l = load_in(&d, &[("TELEGRAM_BOT_TOKEN_FILE", tok.to_str().unwrap())]).unwrap();
    assert_eq!(
        l.settings.telegram.bot_token.as_ref().map(Secret::expose),
        Some("from-env-file")
    );
    assert_eq!(
        l.settings
            .planka
            .admin_password
            .as_ref()
            .map(Secret::expose),
        Some("from-toml-file")
    );
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);

    let err = load_in(&d, &[("OPENAI_API_KEY_FILE", "/nonexistent/key")]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/key") && msg.contains("OPENAI_API_KEY_FILE"),
        "{msg}"
    );
}

#[test]
fn secrets_never_appear_in_debug_or_serialized_output() {
    let d = tempfile::tempdir().unwrap();
    let l = load_in(
        &d,
        &[
            ("TELEGRAM_BOT_TOKEN", "tg-SECRET-1"),
            ("OPENAI_API_KEY", "sk-SECRET-2"),
            ("DATABASE_URL", "postgres://oz:SECRET-3@db/oz"),
            ("PLANKA_ADMIN_PASSWORD", "SECRET-4"),
        ],
    )
    .unwrap();
    let debug = format!("{:?} {:#?}", l.settings, l);
    let shown = toml::to_string(&l.settings).unwrap();
    for s in [&debug, &shown] {
        assert!(!s.contains("SECRET"), "leaked: {s}");
    }
    assert!(shown.contains("postgres://oz:********@db/oz"), "{shown}");
}

#[test]
fn unknown_keys_and_variables_warn_but_load() {
    let d = dir_with("[general]\ntimezone = \"UTC\"\ncolour = \"blue\"\n[nonsense]\nx = 1\n");
    let l = load_in(
        &d,
        &[
            ("OPENZERO__LLM__TEMPERATURE", "0.2"),
            ("OPENZERO_DATADIR", "/x"),
        ],
    )
    .unwrap();
    let w = l.warnings.join("\n");
    assert!(w.contains("general.colour"), "{w}");
    assert!(w.contains("nonsense"), "{w}");
    assert!(w.contains("OPENZERO__LLM__TEMPERATURE"), "{w}");
    assert!(w.contains("OPENZERO_DATADIR"), "{w}");
}

#[test]
fn invalid_values_name_the_key_the_source_and_what_is_accepted() {
    let d = dir_with("[llm]\nprovider = \"skynet\"\n");
    let msg = load_in(&d, &[]).unwrap_err().to_string();
    assert!(msg.contains("llm.provider"), "{msg}");
    assert!(msg.contains(CONFIG_FILE_NAME), "{msg}");
    assert!(msg.contains("ollama") && msg.contains("embedded"), "{msg}");

    let d = tempfile::tempdir().unwrap();
    let msg = load_in(&d, &[("USER_TIMEZONE", "Mars/Olympus")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("general.timezone") && msg.contains("USER_TIMEZONE"),
        "{msg}"
    );
    assert!(msg.contains("IANA"), "{msg}");

    let msg = load_in(&d, &[("QDRANT_PORT", "many")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("qdrant.port") && msg.contains("whole number"),
        "{msg}"
    );

    let msg = load_in(&d, &[("QDRANT_PORT", "70000")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("qdrant.port"), "{msg}");

    let msg = load_in(&d, &[("DATABASE_URL", "mysql://x")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("database.url") && msg.contains("postgres://"),
        "{msg}"
    );

    let msg = load_in(&d, &[("OPENZERO__SERVER__BIND", "localhost")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("server.bind") && msg.contains("127.0.0.1:8000"),
        "{msg}"
    );
}

#[test]
fn malformed_toml_gives_file_line_and_column_on_one_line() {
    let d = dir_with("[general]\ntimezone = \"UTC\"\nlog_level = \n");
    let msg = load_in(&d, &[]).unwrap_err().to_string();
    assert!(msg.contains("openzero.toml:3:"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn explicit_config_path_must_exist() {
    let d = tempfile::tempdir().unwrap();
    let err = load(&Inputs {
        data_dir: Some(d.path().to_owned()),
        config_file: Some(d.path().join("nope.toml")),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::Missing { .. }));
}

#[test]
fn data_dir_from_flag_env_or_xdg() {
    let l = load(&Inputs {
        env: env(&[("OPENZERO_DATA_DIR", "/srv/oz")]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(l.data_dir, PathBuf::from("/srv/oz"));
    assert_eq!(l.config_file, PathBuf::from("/srv/oz/openzero.toml"));
    let l = load(&Inputs {
        env: env(&[("HOME", "/home/me")]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(l.data_dir, PathBuf::from("/home/me/.local/share/openzero"));
    let l = load(&Inputs {
        env: env(&[("HOME", "/home/me"), ("XDG_DATA_HOME", "/xdg")]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(l.data_dir, PathBuf::from("/xdg/openzero"));
}

#[test]
fn template_loads_cleanly_and_mentions_every_key() {
    let t = template(Some("Europe/Berlin"));
    let d = dir_with(&t);
    let l = load_in(&d, &[]).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.settings.general.timezone.0.name(), "Europe/Berlin");
    for def in KEYS {
        assert!(
            t.contains(&format!("{} =", def.key())),
            "{} missing",
            def.path
        );
    }
}

#[test]
fn every_documented_key_is_a_real_setting_with_a_valid_example() {
    for def in KEYS {
        let (section, key) = def.path.split_once('.').unwrap();
        let d = dir_with(&format!("[{section}]\n{key} = {}\n", def.example));
        let l = load_in(&d, &[]).unwrap_or_else(|e| panic!("{}: {e}", def.path));
        assert!(l.warnings.is_empty(), "{}: {:?}", def.path, l.warnings);
        if let Some(default) = def.default {
            let d = dir_with(&format!("[{section}]\n{key} = {default}\n"));
            load_in(&d, &[]).unwrap_or_else(|e| panic!("{} default: {e}", def.path));
        }
    }
}

#[test]
fn env_example_in_repo_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.env.example");
    let want = env_example();
    if std::env::var_os("OPENZERO_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        ".env.example is out of date: run OPENZERO_BLESS=1 cargo test -p openzero-config"
    );
    for def in KEYS {
        assert!(want.contains(&def.env_name()));
        for l in def.legacy_env {
            assert!(want.contains(l));
        }
    }
}

/// Names the compose file defines for its own containers (not OpenZero's).
const COMPOSE_ONLY: &[&str] = &[
    "POSTGRES_PASSWORD",
    "PLANKA_SECRET_KEY",
    "PLANKA_PUBLIC_URL",
];

fn repo_file(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `NAME=` assignments and `${NAME…}` uses in a text.
fn env_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let word = |s: &str| -> Option<String> {
        let n: String = s
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        (n.len() > 2 && n.starts_with(|c: char| c.is_ascii_uppercase())).then_some(n)
    };
    for (i, _) in text.match_indices("${") {
        if let Some(n) = word(&text[i + 2..]) {
            out.insert(n);
        }
    }
    for token in text.split(|c: char| c.is_whitespace() || c == '`' || c == '"') {
        if let Some((name, _)) = token.split_once('=')
            && word(name).as_deref() == Some(name)
        {
            out.insert(name.to_owned());
        }
    }
    out
}

#[test]
fn deployment_files_use_only_known_configuration_names() {
    let compose = repo_file("deploy/docker-compose.yml");
    let mut names = env_names(&compose);
    // The openzero service's own `environment:` block (`KEY: value`).
    let service = compose
        .split("\n  openzero:\n")
        .nth(1)
        .and_then(|s| s.split("\n  postgres:\n").next())
        .unwrap();
    let block = service.split("    environment:\n").nth(1).unwrap();
    for line in block.lines().take_while(|l| l.starts_with("      ")) {
        if let Some((k, _)) = line.trim().split_once(':')
            && !k.starts_with('#')
        {
            names.insert(k.to_owned());
        }
    }
    names.extend(env_names(&repo_file("deploy/Dockerfile")));
    names.extend(env_names(&repo_file("deploy/openzero.service")));
    let docs = repo_file("docs/deployment.md");
    for block in docs.split("```sh").skip(1) {
        names.extend(env_names(block.split("```").next().unwrap_or_default()));
    }
    // Names of the other containers' own settings, set inside the compose
    // file from ours: not read by OpenZero, so not checked.
    for theirs in [
        "POSTGRES_USER",
        "POSTGRES_DB",
        "BASE_URL",
        "SECRET_KEY",
        "DEFAULT_ADMIN_EMAIL",
        "DEFAULT_ADMIN_PASSWORD",
        "DEFAULT_ADMIN_NAME",
        "DEFAULT_ADMIN_USERNAME",
        // The image build's own shell.
        "HOME",
    ] {
        names.remove(theirs);
    }
    for must in [
        "DATABASE_URL",
        "OPENZERO_DATA_DIR",
        "TELEGRAM_BOT_TOKEN_FILE",
        "LLM_PROVIDER",
    ] {
        assert!(
            names.contains(must),
            "{must} not found: the parser lost track ({names:?})"
        );
    }
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !crate::is_known_env(n) && !COMPOSE_ONLY.contains(&n.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "deploy/ or docs/deployment.md use names OpenZero does not read: {unknown:?}"
    );
    assert!(!crate::is_known_env("OPENZERO_SERVER_BIND"));
    assert!(crate::is_known_env("OPENZERO_PUBLIC_URL"));
    assert!(crate::is_known_env("DATABASE_URL_FILE"));
    assert!(
        !crate::is_known_env("USER_TIMEZONE_FILE"),
        "only secrets come from files"
    );
}
