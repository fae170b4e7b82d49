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
