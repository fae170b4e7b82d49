//! A read-only or full disk under the data directory: a clear one-line
//! error, a non-zero exit, and every accepted byte still there afterwards.
//! Needs root to mount a small tmpfs (CI runs as root); skipped otherwise.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Oz;
use predicates::prelude::*;

/// Tests that mount and remount run one at a time: run in parallel, one
/// test's mount changes were seen to disturb the other's.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A tmpfs of `size` mounted on a fresh directory; unmounted on drop,
/// before its directory is removed.
struct Mount {
    point: PathBuf,
    _tmp: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl Mount {
    fn new(size: &str) -> Option<Self> {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0\n"))
            .unwrap_or(false);
        if !is_root {
            assert!(
                std::env::var_os("CI").is_none(),
                "disk tests must run in CI, which runs as root"
            );
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let point = tmp.path().join("mnt");
        std::fs::create_dir(&point).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&point)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs failed");
        let fs = Command::new("stat")
            .args(["-f", "-c", "%T"])
            .arg(&point)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&fs.stdout).trim(), "tmpfs");
        Some(Mount {
            point,
            _tmp: tmp,
            _serial: serial,
        })
    }

    /// Free bytes on the mount.
    fn free(&self) -> u64 {
        let out = Command::new("stat")
            .args(["-f", "-c", "%a %S"])
            .arg(&self.point)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
        it.next().unwrap() * it.next().unwrap()
    }

    /// Appends zeros to `file` until the mount has no free block left.
    fn fill(&self, file: &Path) {
        for _ in 0..5 {
            let _ = Command::new("dd")
                .args(["if=/dev/zero", "bs=4k", "oflag=append", "conv=notrunc"])
                .arg(format!("of={}", file.display()))
                .output()
                .unwrap();
            if self.free() == 0 {
                return;
            }
        }
        panic!(
            "could not fill {}: {} bytes still free",
            self.point.display(),
            self.free()
        );
    }

    fn remount(&self, opts: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.point)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {opts} failed");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.point).status();
    }
}

fn oz_on(point: &Path) -> Oz {
    let tmp = tempfile::tempdir().unwrap();
    let mut oz = Oz::in_dir(tmp);
    oz.data = point.join("data");
    oz
}

#[test]
fn read_only_data_dir_is_a_clear_error_and_data_survives() {
    let Some(mount) = Mount::new("8m") else {
        return;
    };
    let oz = oz_on(&mount.point);
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Precious", "--progress", "70"]);

    mount.remount("ro");
    let out = oz.fails(&["project", "add", "More"]).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("read-only"), "{stderr}");
    assert!(stderr.contains("--data-dir"), "{stderr}");
    oz.cmd()
        .arg("doctor")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("read-only"));

    mount.remount("rw");
    oz.ok(&["tree"]).stdout("[ACTIVE] Precious [70%]\n");
}

#[test]
fn full_disk_is_a_clear_error_and_data_survives() {
    let Some(mount) = Mount::new("2m") else {
        return;
    };
    let oz = oz_on(&mount.point);
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Precious", "--progress", "70"]);

    // Fill every block but a reserve of 16 KiB, so small writes work and the
    // database's own write is the one that hits the wall.
    let reserve = mount.point.join("reserve");
    std::fs::write(&reserve, vec![1u8; 16 * 1024]).unwrap();
    let filler = mount.point.join("filler");
    mount.fill(&filler);
    std::fs::remove_file(&reserve).unwrap();
    // Keep adding large projects until the disk refuses: that refusal must
    // be a clean error, and every project accepted before it must survive.
    let mut accepted = Vec::new();
    let mut refusal = None;
    for i in 0..40 {
        let name = format!("Big {i:02}");
        let out = oz
            .cmd()
            .args(["project", "add", &name, "--description"])
            .arg("y".repeat(100_000))
            .output()
            .unwrap();
        if out.status.success() {
            accepted.push(name);
        } else {
            refusal = Some(out);
            break;
        }
    }
    let out = refusal.expect("the disk never filled up");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is full"), "{stderr}");
    assert!(stderr.contains("free some space"), "{stderr}");

    // Completely full: even preparing the data directory fails, just as clearly.
    mount.fill(&mount.point.join("filler2"));
    oz.fails(&["project", "add", "Tiny"])
        .stderr(predicate::str::contains("full"))
        .stderr(predicate::str::contains("free some space"));
    std::fs::remove_file(mount.point.join("filler2")).unwrap();

    std::fs::remove_file(&filler).unwrap();
    let tree = oz.ok(&["tree"]).get_output().stdout.clone();
    let tree = String::from_utf8(tree).unwrap();
    assert!(tree.contains("[ACTIVE] Precious [70%]"), "{tree}");
    for name in &accepted {
        assert!(
            tree.contains(name.as_str()),
            "{name} was accepted, then lost: {tree}"
        );
    }
    assert_eq!(tree.lines().count(), accepted.len() + 1, "{tree}");
    oz.ok(&["project", "add", "After"]);
}
