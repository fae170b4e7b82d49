//! The backup file, with no I/O of its own (it reads and writes the streams
//! it is given).
//!
//! A backup is one [age](https://age-encryption.org/v1) file; decrypted it
//! is a zstd stream; decompressed it is JSON lines, so an owner can read it
//! with standard tools (`age -d f | zstd -d`):
//!
//! ```text
//! {"openzero_backup":1,"created_at":"…","openzero":"0.1.0","backend":"sqlite","schema_version":22}
//! {"table":"projects","columns":["id","name",…]}
//! [1,"Garden",null,…]                       ← one line per row
//! {"sequences":[["projects",7],…]}          ← id counters
//! {"file":"persona.md","data":"<base64>"}   ← the owner's files
//! {"manifest":{"tables":{"projects":{"rows":1,"sha256":"…"}},"files":{…},"sha256":"…"}}
//! ```
//!
//! Values: `null`, numbers (an integer has no point, a real always does),
//! strings, booleans, and tagged objects `{"t":"2026-…Z"}` (time),
//! `{"b64":"…"}` (bytes), `{"f32":"…"}` (a vector, little-endian `f32` in
//! base64), `{"real":"NaN"}` (a real JSON cannot hold).
//!
//! **Invariants:** a backup is good only if it decrypts, decompresses, every
//! line parses, and the last line is a manifest whose row counts, per-table
//! SHA-256 and whole-stream SHA-256 match what came before it. A reader
//! hands out nothing as final before that: [`Reader::next_entry`] returns the
//! manifest check as its last step, and a file cut anywhere fails it.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};

use age::secrecy::SecretString;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, SecondsFormat, Utc};
use openzero_store::backup::{DumpItem, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

pub use age;
pub use retention::{Keep, to_remove};

mod retention;

/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// zstd level: fast enough to keep up with the database, well compressed.
const ZSTD_LEVEL: i32 = 3;

/// Longest line a reader accepts (a memory with its vector is ~3 KB; a file
/// line holds a whole persona): bounds memory on a hostile file.
const MAX_LINE: usize = 64 << 20;

/// What went wrong, phrased for the owner.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "this backup cannot be opened with the passphrase or key given (wrong passphrase, or a backup made for other keys); nothing was changed"
    )]
    WrongKey,
    #[error(
        "this backup is encrypted with a passphrase: set BACKUP_PASSPHRASE (or BACKUP_PASSPHRASE_FILE, or backup.passphrase)"
    )]
    NeedsPassphrase,
    #[error(
        "this backup is encrypted to age keys: give the secret key file with BACKUP_IDENTITY_FILE (or backup.identity_file)"
    )]
    NeedsIdentity,
    #[error("this is not an OpenZero backup ({0}); nothing was changed")]
    NotABackup(String),
    #[error(
        "the backup is damaged or cut short ({0}); it cannot be trusted and nothing was changed"
    )]
    Damaged(String),
    #[error("the backup was written by a newer OpenZero (format {0}); upgrade openzero to read it")]
    TooNew(u32),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the backup key is not usable: {0}")]
    Key(String),
}

/// How a backup is encrypted: a passphrase (scrypt) or age X25519
/// recipients (the server can write backups it cannot read).
pub enum Seal {
    Passphrase(SecretString),
    Recipients(Vec<age::x25519::Recipient>),
}

impl fmt::Debug for Seal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seal::Passphrase(_) => f.write_str("Seal::Passphrase(…)"),
            Seal::Recipients(r) => write!(f, "Seal::Recipients({} keys)", r.len()),
        }
    }
}

/// What may open a backup: a passphrase (for passphrase backups) and age
/// identities, secret keys (for recipient backups); the file says which.
#[derive(Default)]
pub struct Unseal {
    pub passphrase: Option<SecretString>,
    pub identities: Vec<age::x25519::Identity>,
}

impl Unseal {
    pub fn passphrase(p: SecretString) -> Self {
        Self {
            passphrase: Some(p),
            identities: Vec::new(),
        }
    }

    pub fn identities(ids: Vec<age::x25519::Identity>) -> Self {
        Self {
            passphrase: None,
            identities: ids,
        }
    }
}

impl fmt::Debug for Unseal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Unseal {{ passphrase: {}, identities: {} }}",
            if self.passphrase.is_some() {
                "…"
            } else {
                "none"
            },
            self.identities.len()
        )
    }
}

/// Reads `age1…` recipients (one per entry; blank entries and `#` comments
/// skipped).
pub fn parse_recipients<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<age::x25519::Recipient>, BackupError> {
    let mut out = Vec::new();
    for l in lines {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        out.push(
            l.parse()
                .map_err(|e| BackupError::Key(format!("{l:.12}… is not an age recipient: {e}")))?,
        );
    }
    Ok(out)
}

/// Reads an age identity file (`AGE-SECRET-KEY-1…` lines, `#` comments).
pub fn parse_identities(text: &str) -> Result<Vec<age::x25519::Identity>, BackupError> {
    let mut out = Vec::new();
    for l in text.lines() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        out.push(l.parse().map_err(|_| {
            BackupError::Key("a line of the identity file is not an age secret key".into())
        })?);
    }
    if out.is_empty() {
        return Err(BackupError::Key("the identity file holds no key".into()));
    }
    Ok(out)
}

/// The first line: what wrote the backup and from which schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub openzero_backup: u32,
    pub created_at: DateTime<Utc>,
    /// The OpenZero version that wrote it.
    pub openzero: String,
    /// The backend it was taken from (`sqlite`, `postgres`).
    pub backend: String,
    /// The schema version (highest migration) of the data.
    pub schema_version: i64,
}

/// Rows and checksum of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSum {
    pub rows: u64,
    pub sha256: String,
}

/// Size and checksum of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub bytes: u64,
    pub sha256: String,
}

/// The last line: every table and file with its checksum, and the SHA-256
/// of every line before this one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub tables: BTreeMap<String, TableSum>,
    pub files: BTreeMap<String, FileSum>,
    pub sha256: String,
}

impl Manifest {
    pub fn rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A value as one JSON element.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Int(n) => json!(n),
        Value::Real(x) if x.is_finite() => json!(x),
        Value::Real(x) => json!({ "real": x.to_string() }),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Bytes(b) => json!({ "b64": B64.encode(b) }),
        Value::Time(t) => json!({ "t": t.to_rfc3339_opts(SecondsFormat::Micros, true) }),
        Value::Vector(x) => {
            let bytes: Vec<u8> = x.iter().flat_map(|f| f.to_le_bytes()).collect();
            json!({ "f32": B64.encode(bytes) })
        }
    }
}

/// Inverse of [`value_to_json`].
pub fn value_from_json(j: Json) -> Result<Value, String> {
    Ok(match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::String(s) => Value::Text(s),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(x) = n.as_f64() {
                Value::Real(x)
            } else {
                return Err(format!("number {n} out of range"));
            }
        }
        Json::Object(mut m) if m.len() == 1 => {
            let (k, v) = m
                .iter_mut()
                .next()
                .map(|(k, v)| (k.clone(), v.take()))
                .ok_or("empty")?;
            let Json::String(s) = v else {
                return Err(format!("tag {k} without a string"));
            };
            match k.as_str() {
                "t" => Value::Time(
                    DateTime::parse_from_rfc3339(&s)
                        .map_err(|e| format!("time {s}: {e}"))?
                        .with_timezone(&Utc),
                ),
                "b64" => Value::Bytes(B64.decode(&s).map_err(|e| format!("bytes: {e}"))?),
                "f32" => {
                    let b = B64.decode(&s).map_err(|e| format!("vector: {e}"))?;
                    if !b.len().is_multiple_of(4) {
                        return Err("vector of partial floats".into());
                    }
                    Value::Vector(
                        b.chunks_exact(4)
                            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                            .collect(),
                    )
                }
                "real" => Value::Real(s.parse().map_err(|_| format!("real {s}"))?),
                other => return Err(format!("unknown tag {other}")),
            }
        }
        other => return Err(format!("unexpected {other}")),
    })
}

/// Writes one backup: header, items and files, then the manifest.
pub struct Writer<W: Write> {
    out: zstd::stream::write::Encoder<'static, age::stream::StreamWriter<W>>,
    whole: Sha256,
    table: Option<(String, u64, Sha256)>,
    manifest: Manifest,
    line: Vec<u8>,
}

impl<W: Write> fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, seal: &Seal, header: &Header) -> Result<Self, BackupError> {
        let enc = match seal {
            Seal::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
            Seal::Recipients(rs) => {
                age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| BackupError::Key(e.to_string()))?
            }
        };
        let sealed = enc.wrap_output(out)?;
        let mut w = Self {
            out: zstd::stream::write::Encoder::new(sealed, ZSTD_LEVEL)?,
            whole: Sha256::new(),
            table: None,
            manifest: Manifest::default(),
            line: Vec::with_capacity(4096),
        };
        let head = serde_json::to_value(header).map_err(|e| io::Error::other(e.to_string()))?;
        w.write_line(&head)?;
        Ok(w)
    }

    fn write_line(&mut self, j: &Json) -> Result<(), BackupError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, j).map_err(|e| io::Error::other(e.to_string()))?;
        self.line.push(b'\n');
        if self.line.len() > MAX_LINE {
            return Err(BackupError::Io(io::Error::other(format!(
                "a record of {} MB is over the {} MB a backup line may hold",
                self.line.len() >> 20,
                MAX_LINE >> 20
            ))));
        }
        self.whole.update(&self.line);
        if let Some((_, rows, h)) = self.table.as_mut()
            && j.is_array()
        {
            *rows += 1;
            h.update(&self.line);
        }
        self.out.write_all(&self.line)?;
        Ok(())
    }

    fn close_table(&mut self) {
        if let Some((name, rows, h)) = self.table.take() {
            self.manifest.tables.insert(
                name,
                TableSum {
                    rows,
                    sha256: hex(h.finalize()),
                },
            );
        }
    }

    /// Writes one item of a dump (`End` is only noted: call [`Writer::finish`]).
    pub fn item(&mut self, item: &DumpItem) -> Result<(), BackupError> {
        match item {
            DumpItem::Table { name, columns } => {
                self.close_table();
                self.write_line(&json!({ "table": name, "columns": columns }))?;
                self.table = Some((name.clone(), 0, Sha256::new()));
            }
            DumpItem::Row(values) => {
                if self.table.is_none() {
                    return Err(BackupError::Damaged("a row came before any table".into()));
                }
                let row = Json::Array(values.iter().map(value_to_json).collect());
                self.write_line(&row)?;
            }
            DumpItem::Sequences(s) => {
                self.close_table();
                self.write_line(&json!({ "sequences": s }))?;
            }
            DumpItem::End => self.close_table(),
        }
        Ok(())
    }

    /// Adds one of the owner's files (persona, configuration, …).
    pub fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), BackupError> {
        self.close_table();
        if bytes.len() > MAX_LINE / 2 {
            return Err(BackupError::Io(io::Error::other(format!(
                "{name} is too large to back up ({} MB)",
                bytes.len() >> 20
            ))));
        }
        self.write_line(&json!({ "file": name, "data": B64.encode(bytes) }))?;
        self.manifest.files.insert(
            name.to_owned(),
            FileSum {
                bytes: bytes.len() as u64,
                sha256: hex(Sha256::digest(bytes)),
            },
        );
        Ok(())
    }

    /// Writes the manifest and closes compression and encryption; returns
    /// the output (to be synced by the caller) and the manifest.
    pub fn finish(mut self) -> Result<(W, Manifest), BackupError> {
        self.close_table();
        self.manifest.sha256 = hex(self.whole.clone().finalize());
        let m = json!({ "manifest": self.manifest });
        self.line.clear();
        serde_json::to_writer(&mut self.line, &m).map_err(|e| io::Error::other(e.to_string()))?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        let sealed = self.out.finish()?;
        let out = sealed.finish()?;
        Ok((out, self.manifest))
    }
}

/// One entry read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Item(DumpItem),
    File { name: String, bytes: Vec<u8> },
}

/// Reads a backup, checking everything against its manifest.
pub struct Reader<R: Read> {
    lines: BufReader<zstd::stream::read::Decoder<'static, BufReader<age::stream::StreamReader<R>>>>,
    header: Header,
    whole: Sha256,
    table: Option<(String, u64, Sha256)>,
    seen: Manifest,
    buf: Vec<u8>,
    done: bool,
    manifest: Option<Manifest>,
}

impl<R: Read> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

fn damaged(e: io::Error) -> BackupError {
    BackupError::Damaged(e.to_string())
}

impl<R: Read> Reader<R> {
    /// Opens a backup: decrypts its header and reads the first line.
    pub fn open(input: R, unseal: &Unseal) -> Result<Self, BackupError> {
        let dec = age::Decryptor::new(input).map_err(|e| match e {
            age::DecryptError::Io(io) => BackupError::NotABackup(io.to_string()),
            other => BackupError::NotABackup(other.to_string()),
        })?;
        let stream = if dec.is_scrypt() {
            let Some(p) = &unseal.passphrase else {
                return Err(BackupError::NeedsPassphrase);
            };
            let id = age::scrypt::Identity::new(p.clone());
            dec.decrypt(std::iter::once(&id as &dyn age::Identity))
        } else {
            if unseal.identities.is_empty() {
                return Err(BackupError::NeedsIdentity);
            }
            dec.decrypt(unseal.identities.iter().map(|i| i as &dyn age::Identity))
        }
        .map_err(|e| match e {
            age::DecryptError::Io(io) => BackupError::Damaged(io.to_string()),
            age::DecryptError::ExcessiveWork { .. } => {
                BackupError::Damaged("its passphrase work factor is too high to try".into())
            }
            // The key opened it but the header does not check out: changed.
            age::DecryptError::InvalidMac | age::DecryptError::InvalidHeader => {
                BackupError::Damaged("its header does not check out".into())
            }
            _ => BackupError::WrongKey,
        })?;
        let dec = zstd::stream::read::Decoder::new(stream).map_err(damaged)?;
        let mut r = Self {
            lines: BufReader::with_capacity(1 << 16, dec),
            header: Header {
                openzero_backup: 0,
                created_at: DateTime::<Utc>::MIN_UTC,
                openzero: String::new(),
                backend: String::new(),
                schema_version: 0,
            },
            whole: Sha256::new(),
            table: None,
            seen: Manifest::default(),
            buf: Vec::new(),
            done: false,
            manifest: None,
        };
        let first = r
            .read_line()?
            .ok_or_else(|| BackupError::Damaged("it is empty".into()))?;
        // The header line counts towards the whole-stream checksum.
        r.whole.update(&r.buf);
        let version = first
            .get("openzero_backup")
            .and_then(Json::as_u64)
            .ok_or_else(|| BackupError::NotABackup("no OpenZero header".into()))?;
        if version > u64::from(FORMAT_VERSION) {
            return Err(BackupError::TooNew(
                u32::try_from(version).unwrap_or(u32::MAX),
            ));
        }
        r.header = serde_json::from_value(first)
            .map_err(|e| BackupError::NotABackup(format!("header: {e}")))?;
        Ok(r)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The manifest, once [`Reader::next_entry`] returned `None`.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    fn read_line(&mut self) -> Result<Option<Json>, BackupError> {
        self.buf.clear();
        let n = (&mut self.lines)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(damaged)?;
        if n == 0 {
            return Ok(None);
        }
        if n > MAX_LINE || self.buf.last() != Some(&b'\n') {
            return Err(BackupError::Damaged("a line is cut or too long".into()));
        }
        let j: Json = serde_json::from_slice(&self.buf)
            .map_err(|e| BackupError::Damaged(format!("a line does not parse: {e}")))?;
        Ok(Some(j))
    }

    fn close_table(&mut self) {
        if let Some((name, rows, h)) = self.table.take() {
            self.seen.tables.insert(
                name,
                TableSum {
                    rows,
                    sha256: hex(h.finalize()),
                },
            );
        }
    }

    /// The next entry; `Ok(None)` only after the manifest matched every
    /// table, file and line before it. After `None`, `DumpItem::End` is
    /// safe to act on.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, BackupError> {
        if self.done {
            return Ok(None);
        }
        let Some(j) = self.read_line()? else {
            return Err(BackupError::Damaged("it ends before its manifest".into()));
        };
        if let Json::Array(values) = j {
            let Some((_, rows, h)) = self.table.as_mut() else {
                return Err(BackupError::Damaged("a row before any table".into()));
            };
            *rows += 1;
            h.update(&self.buf);
            self.whole.update(&self.buf);
            let row = values
                .into_iter()
                .map(value_from_json)
                .collect::<Result<Vec<_>, _>>()
                .map_err(BackupError::Damaged)?;
            return Ok(Some(Entry::Item(DumpItem::Row(row))));
        }
        let Json::Object(mut m) = j else {
            return Err(BackupError::Damaged(
                "a line is neither a row nor a record".into(),
            ));
        };
        if let Some(man) = m.remove("manifest") {
            self.close_table();
            let man: Manifest = serde_json::from_value(man)
                .map_err(|e| BackupError::Damaged(format!("manifest: {e}")))?;
            self.check(&man)?;
            if self.read_line()?.is_some() {
                return Err(BackupError::Damaged("lines follow its manifest".into()));
            }
            self.done = true;
            self.manifest = Some(man);
            return Ok(None);
        }
        self.whole.update(&self.buf);
        if let Some(name) = m.get("table").and_then(Json::as_str) {
            self.close_table();
            let columns = string_list(&m, "columns")?;
            self.table = Some((name.to_owned(), 0, Sha256::new()));
            return Ok(Some(Entry::Item(DumpItem::Table {
                name: name.to_owned(),
                columns,
            })));
        }
        if let Some(s) = m.remove("sequences") {
            self.close_table();
            let s: Vec<(String, i64)> = serde_json::from_value(s)
                .map_err(|e| BackupError::Damaged(format!("sequences: {e}")))?;
            return Ok(Some(Entry::Item(DumpItem::Sequences(s))));
        }
        if let Some(name) = m.get("file").and_then(Json::as_str) {
            self.close_table();
            let data = m
                .get("data")
                .and_then(Json::as_str)
                .ok_or_else(|| BackupError::Damaged(format!("file {name} without data")))?;
            let bytes = B64
                .decode(data)
                .map_err(|e| BackupError::Damaged(format!("file {name}: {e}")))?;
            self.seen.files.insert(
                name.to_owned(),
                FileSum {
                    bytes: bytes.len() as u64,
                    sha256: hex(Sha256::digest(&bytes)),
                },
            );
            return Ok(Some(Entry::File {
                name: name.to_owned(),
                bytes,
            }));
        }
        Err(BackupError::Damaged("a record of an unknown kind".into()))
    }

    fn check(&self, man: &Manifest) -> Result<(), BackupError> {
        if man.tables != self.seen.tables {
            let which = man
                .tables
                .iter()
                .find(|(k, v)| self.seen.tables.get(*k) != Some(v))
                .map(|(k, _)| k.clone())
                .or_else(|| {
                    self.seen
                        .tables
                        .keys()
                        .find(|k| !man.tables.contains_key(*k))
                        .cloned()
                })
                .unwrap_or_default();
            return Err(BackupError::Damaged(format!(
                "table {which} does not match its manifest"
            )));
        }
        if man.files != self.seen.files {
            return Err(BackupError::Damaged(
                "its files do not match the manifest".into(),
            ));
        }
        let whole = hex(self.whole.clone().finalize());
        if man.sha256 != whole {
            return Err(BackupError::Damaged("its checksum does not match".into()));
        }
        Ok(())
    }
}

fn string_list(m: &Map<String, Json>, key: &str) -> Result<Vec<String>, BackupError> {
    m.get(key)
        .and_then(Json::as_array)
        .and_then(|a| a.iter().map(|c| c.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| BackupError::Damaged(format!("a table without its {key}")))
}

/// Reads a whole backup and checks it; returns its header and manifest.
pub fn verify<R: Read>(input: R, unseal: &Unseal) -> Result<(Header, Manifest), BackupError> {
    let mut r = Reader::open(input, unseal)?;
    while r.next_entry()?.is_some() {}
    let m = r
        .manifest()
        .cloned()
        .ok_or_else(|| BackupError::Damaged("no manifest".into()))?;
    Ok((r.header.clone(), m))
}
