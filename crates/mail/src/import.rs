//! Local archives the owner already has: single `.eml` files, Maildir
//! folders and mbox files, found under the paths given, one raw message at
//! a time (an mbox of gigabytes is streamed, not read whole).
//!
//! **Invariant:** reads only; a file that cannot be read is reported with
//! its path and the walk goes on.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// A message larger than this is reported, not read.
pub const MAX_MESSAGE_BYTES: u64 = 50 * 1024 * 1024;

/// One raw message found, or why a file was skipped.
#[derive(Debug)]
pub enum Found {
    /// `label` names where it came from: a path, or `path#N` in an mbox.
    Message {
        label: String,
        raw: Vec<u8>,
    },
    Skipped {
        label: String,
        reason: String,
    },
}

/// Every message under `paths`, in a stable order (sorted by name).
pub fn walk(paths: &[PathBuf]) -> impl Iterator<Item = Found> {
    let mut stack: Vec<Entry> = paths.iter().rev().cloned().map(Entry::Path).collect();
    std::iter::from_fn(move || {
        loop {
            let entry = stack.pop()?;
            match entry {
                Entry::Mbox {
                    label,
                    mut iter,
                    mut n,
                } => {
                    let next = iter.next();
                    n += 1;
                    let item = match next {
                        None => continue,
                        Some(Ok(m)) => Found::Message {
                            label: format!("{label}#{n}"),
                            raw: m.unwrap_contents(),
                        },
                        Some(Err(e)) => {
                            // A read error ends this mbox; report it once.
                            return Some(Found::Skipped {
                                label: format!("{label}#{n}"),
                                reason: e.to_string(),
                            });
                        }
                    };
                    stack.push(Entry::Mbox { label, iter, n });
                    return Some(item);
                }
                Entry::Path(path) => {
                    if let Some(found) = visit(&path, &mut stack) {
                        return Some(found);
                    }
                }
            }
        }
    })
}

type MboxIter = mail_parser::mailbox::mbox::MessageIterator<BufReader<File>>;

enum Entry {
    Path(PathBuf),
    Mbox {
        label: String,
        iter: Box<MboxIter>,
        n: usize,
    },
}

fn visit(path: &Path, stack: &mut Vec<Entry>) -> Option<Found> {
    let label = path.display().to_string();
    let skipped = |reason: String| {
        Some(Found::Skipped {
            label: label.clone(),
            reason,
        })
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return skipped(e.to_string()),
    };
    if meta.is_dir() {
        let mut children = Vec::new();
        if is_maildir(path) {
            // A Maildir: its messages are in new/ and cur/ (tmp/ holds
            // deliveries in progress); its sub-folders (".Sent") follow.
            for sub in ["cur", "new"] {
                match list(&path.join(sub)) {
                    Ok(c) => children.extend(c),
                    Err(e) => return skipped(e),
                }
            }
            match list(path) {
                Ok(c) => children.extend(c.into_iter().filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with('.'))
                })),
                Err(e) => return skipped(e),
            }
        } else {
            match list(path) {
                Ok(c) => children.extend(c.into_iter().filter(|p| !hidden(p))),
                Err(e) => return skipped(e),
            }
        }
        stack.extend(children.into_iter().rev().map(Entry::Path));
        return None;
    }
    if meta.len() > MAX_MESSAGE_BYTES && !looks_like_mbox(path) {
        return skipped(format!(
            "{} MB, larger than the {} MB a message may be",
            meta.len() / 1_000_000,
            MAX_MESSAGE_BYTES / 1_000_000
        ));
    }
    if looks_like_mbox(path) {
        match File::open(path) {
            Ok(f) => stack.push(Entry::Mbox {
                label,
                iter: Box::new(mail_parser::mailbox::mbox::MessageIterator::new(
                    BufReader::new(f),
                )),
                n: 0,
            }),
            Err(e) => return skipped(e.to_string()),
        }
        return None;
    }
    match std::fs::read(path) {
        Ok(raw) => Some(Found::Message { label, raw }),
        Err(e) => skipped(e.to_string()),
    }
}

fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() && dir.join("new").is_dir()
}

fn hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n == "tmp")
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in rd {
        match entry {
            Ok(e) => out.push(e.path()),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    out.sort();
    Ok(out)
}

/// An mbox starts with a "From " separator line (a message file starts
/// with a header).
fn looks_like_mbox(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut head = [0u8; 5];
    let mut r = BufReader::new(f);
    match r.read_exact(&mut head) {
        Ok(()) => {
            if &head != b"From " {
                return false;
            }
            // "From " followed by an address line, not a "From: " header.
            let mut rest = String::new();
            r.read_line(&mut rest).is_ok() && !rest.starts_with(':')
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(paths: &[PathBuf]) -> Vec<String> {
        walk(paths)
            .map(|f| match f {
                Found::Message { label, .. } => label,
                Found::Skipped { label, reason } => format!("skipped {label}: {reason}"),
            })
            .collect()
    }

    #[test]
    fn eml_maildir_and_mbox_are_all_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        std::fs::write(d.join("a.eml"), "Subject: a\n\nA\n").expect("write");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(d.join("Maildir").join(sub)).expect("mkdir");
        }
        std::fs::write(d.join("Maildir/cur/1:2,S"), "Subject: seen\n\nx\n").expect("w");
        std::fs::write(d.join("Maildir/new/2"), "Subject: new\n\ny\n").expect("w");
        std::fs::write(d.join("Maildir/tmp/3"), "Subject: partial\n").expect("w");
        std::fs::write(
            d.join("archive.mbox"),
            "From a@b Sat Jan  3 01:05:34 1996\nSubject: one\n\n>From here\n\nFrom c@d Sat Jan  3 01:05:34 1996\nSubject: two\n\nz\n",
        )
        .expect("w");
        let found: Vec<Found> = walk(&[d.to_path_buf(), d.join("missing.eml")]).collect();
        let names = labels(&[d.to_path_buf(), d.join("missing.eml")]);
        assert_eq!(found.len(), 6, "{names:?}");
        assert!(names[0].ends_with("Maildir/cur/1:2,S"), "{names:?}");
        assert!(names[1].ends_with("Maildir/new/2"), "{names:?}");
        assert!(names[2].ends_with("a.eml"), "{names:?}");
        assert!(names[3].ends_with("archive.mbox#1"), "{names:?}");
        assert!(names[4].ends_with("archive.mbox#2"), "{names:?}");
        assert!(names[5].starts_with("skipped "), "{names:?}");
        match &found[3] {
            Found::Message { raw, .. } => {
                let text = String::from_utf8_lossy(raw);
                assert!(text.contains("\nFrom here"), "unquoted: {text:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
