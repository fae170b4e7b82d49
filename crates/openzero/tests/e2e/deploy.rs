//! Running OpenZero as a service: the systemd unit `service install`
//! writes, and `doctor --security`.

use crate::common::Oz;
use predicates::prelude::*;

#[test]
fn service_install_writes_the_hardened_unit_with_this_binary_and_data_dir() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    let out = oz.ok(&["service", "install", "--print", "--user", "zed"]);
    let unit = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let data = oz.data.display().to_string();
    for line in [
        format!("ExecStart={} serve", env!("CARGO_BIN_EXE_openzero")),
        format!("ReadWritePaths={data}"),
        format!("Environment=OPENZERO_DATA_DIR={data}"),
        "User=zed".to_owned(),
        "ProtectSystem=strict".to_owned(),
        "NoNewPrivileges=yes".to_owned(),
        "PrivateTmp=yes".to_owned(),
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6".to_owned(),
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "{line} missing from:\n{unit}"
        );
    }
    for placeholder in ["@BIN@", "@DATA_DIR@", "@USER@"] {
        assert!(
            !unit.contains(placeholder),
            "{placeholder} left in:\n{unit}"
        );
    }

    let dir = oz.work.join("units");
    std::fs::create_dir_all(&dir).unwrap();
    oz.ok(&["service", "install", "--unit-dir", dir.to_str().unwrap()])
        .stdout(predicate::str::contains("systemctl daemon-reload"));
    let written = std::fs::read_to_string(dir.join("openzero.service")).unwrap();
    assert!(written.contains("User=openzero"));
    // Not writable: a readable error, exit 1.
    oz.fails(&["service", "install", "--unit-dir", "/proc/nonexistent"])
        .stderr(predicate::str::contains("--print"));
    oz.cmd()
        .args(["service", "install", "--print", "--user", "root; rm -rf /"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("plain user name"));
}

#[test]
fn doctor_security_says_what_to_fix() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    // A fresh setup: loopback, an owner-only data directory, no password yet.
    let out = oz.ok(&["doctor", "--security", "--json"]);
    let checks: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let outcome = |checks: &serde_json::Value, name: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| {
                (
                    c["outcome"].as_str().unwrap().to_owned(),
                    c["detail"].as_str().unwrap().to_owned(),
                )
            })
            .unwrap_or_else(|| panic!("no {name} in {checks}"))
    };
    assert_eq!(outcome(&checks, "listen").0, "ok");
    assert_eq!(outcome(&checks, "data dir").0, "ok");
    assert_eq!(
        outcome(&checks, "config file").0,
        "ok",
        "init writes openzero.toml owner-only"
    );
    assert_eq!(outcome(&checks, "secrets").1, "none set");
    let (o, d) = outcome(&checks, "dashboard");
    assert_eq!(o, "warn");
    assert!(d.contains("openzero dashboard set-password"));

    // What a careless deployment looks like.
    let secret = oz.work.join("token");
    std::fs::write(&secret, "123456:from-a-file\n").unwrap();
    let out = oz
        .cmd()
        .args(["doctor", "--security", "--json"])
        .env("OPENZERO__SERVER__BIND", "0.0.0.0:8000")
        .env("TELEGRAM_BOT_TOKEN", "123456:in-the-environment")
        .assert()
        .code(1);
    let checks: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(outcome(&checks, "listen").0, "warn");
    let (o, d) = outcome(&checks, "secrets");
    assert_eq!(o, "warn");
    assert!(d.contains("TELEGRAM_BOT_TOKEN_FILE="), "{d}");
    let (o, d) = outcome(&checks, "telegram owner");
    assert_eq!(o, "fail", "a bot that answers nobody: {d}");
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("in-the-environment"));

    // Fixed: the token from a file, the owner set, a password.
    oz.cmd()
        .args(["dashboard", "set-password", "--stdin"])
        .write_stdin("correct horse battery staple\n")
        .assert()
        .success();
    let out = oz
        .cmd()
        .args(["doctor", "--security"])
        .env("TELEGRAM_BOT_TOKEN_FILE", &secret)
        .env("TELEGRAM_ALLOWED_USER_ID", "4242")
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("all read from files"), "{text}");
    assert!(text.contains("a password is set"), "{text}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&oz.data, std::fs::Permissions::from_mode(0o755)).unwrap();
        oz.ok(&["doctor", "--security"])
            .stdout(predicate::str::contains("chmod 700"));
    }
}
