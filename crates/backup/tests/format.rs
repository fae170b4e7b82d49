//! The backup file round-trips every kind of value, and refuses a wrong key,
//! a cut file, a changed byte and a plaintext that disagrees with its
//! manifest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use age::secrecy::SecretString;
use chrono::{DateTime, Utc};
use openzero_backup::{
    BackupError, Entry, Header, Reader, Seal, Unseal, Writer, parse_identities, parse_recipients,
    verify,
};
use openzero_store::backup::{DumpItem, Value};

fn header() -> Header {
    Header {
        openzero_backup: 1,
        created_at: DateTime::parse_from_rfc3339("2026-11-30T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        openzero: "0.1.0".into(),
        backend: "sqlite".into(),
        schema_version: 22,
    }
}

fn items() -> Vec<DumpItem> {
    let t = DateTime::parse_from_rfc3339("2026-11-30T07:55:42.488231Z")
        .unwrap()
        .with_timezone(&Utc);
    vec![
        DumpItem::Table {
            name: "projects".into(),
            columns: vec!["id".into(), "name".into(), "parent_id".into()],
        },
        DumpItem::Row(vec![
            Value::Int(1),
            Value::Text("Garden 🌱 \"quoted\"\n".into()),
            Value::Null,
        ]),
        DumpItem::Row(vec![
            Value::Int(2),
            Value::Text("Shed".into()),
            Value::Int(1),
        ]),
        DumpItem::Table {
            name: "memories".into(),
            columns: vec![
                "id".into(),
                "at".into(),
                "v".into(),
                "b".into(),
                "x".into(),
                "ok".into(),
            ],
        },
        DumpItem::Row(vec![
            Value::Int(i64::MIN),
            Value::Time(t),
            Value::Vector(vec![0.1, -3.5e-39, f32::MAX, 1.0]),
            Value::Bytes(vec![0, 255, 10, 13]),
            Value::Real(1.0),
            Value::Bool(true),
        ]),
        DumpItem::Row(vec![
            Value::Int(i64::MAX),
            Value::Text("2026-11-30 07:55:42+00:00".into()),
            Value::Null,
            Value::Bytes(vec![]),
            Value::Real(f64::INFINITY),
            Value::Bool(false),
        ]),
        DumpItem::Table {
            name: "empty".into(),
            columns: vec!["id".into()],
        },
        DumpItem::Sequences(vec![("projects".into(), 9)]),
        DumpItem::End,
    ]
}

fn write(seal: &Seal) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), seal, &header()).unwrap();
    for i in items() {
        w.item(&i).unwrap();
    }
    w.file("persona.md", "You are Z.\n".as_bytes()).unwrap();
    let (bytes, manifest) = w.finish().unwrap();
    assert_eq!(manifest.rows(), 4);
    assert_eq!(manifest.tables["empty"].rows, 0);
    bytes
}

fn read_all(bytes: &[u8], unseal: &Unseal) -> Result<Vec<Entry>, BackupError> {
    let mut r = Reader::open(bytes, unseal)?;
    assert_eq!(r.header(), &header());
    let mut out = Vec::new();
    while let Some(e) = r.next_entry()? {
        out.push(e);
    }
    Ok(out)
}

fn pass(p: &str) -> SecretString {
    SecretString::from(p.to_owned())
}

#[test]
fn a_passphrase_backup_reads_back_value_for_value() {
    let bytes = write(&Seal::Passphrase(pass("correct horse")));
    let got = read_all(&bytes, &Unseal::passphrase(pass("correct horse"))).unwrap();
    let mut want: Vec<Entry> = items()
        .into_iter()
        .filter(|i| *i != DumpItem::End)
        .map(Entry::Item)
        .collect();
    want.push(Entry::File {
        name: "persona.md".into(),
        bytes: b"You are Z.\n".to_vec(),
    });
    assert_eq!(got, want);
    // A wrong passphrase is told as such, not as damage.
    let err = read_all(&bytes, &Unseal::passphrase(pass("wrong horse"))).unwrap_err();
    assert!(matches!(err, BackupError::WrongKey), "{err}");
    assert!(err.to_string().contains("passphrase"));
}

#[test]
fn a_recipients_backup_opens_only_with_a_matching_identity() {
    let id = age::x25519::Identity::generate();
    let other = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let recipients = parse_recipients(["# the laptop", public.as_str(), ""]).unwrap();
    let bytes = write(&Seal::Recipients(recipients));
    let ids = parse_identities(&format!("# created\n{}\n", secret(&id))).unwrap();
    assert_eq!(read_all(&bytes, &Unseal::identities(ids)).unwrap().len(), 9);
    let wrong = Unseal::identities(vec![other]);
    assert!(matches!(
        read_all(&bytes, &wrong),
        Err(BackupError::WrongKey)
    ));
    // A passphrase cannot open a recipients backup: the owner is told
    // which key it needs.
    let err = read_all(&bytes, &Unseal::passphrase(pass("x"))).unwrap_err();
    assert!(matches!(err, BackupError::NeedsIdentity), "{err}");
    assert!(err.to_string().contains("BACKUP_IDENTITY_FILE"));
    assert!(parse_recipients(["age1notakey"]).is_err());
    assert!(parse_identities("# nothing here\n").is_err());
}

fn secret(id: &age::x25519::Identity) -> String {
    use age::secrecy::ExposeSecret;
    id.to_string().expose_secret().to_owned()
}

fn keyed() -> (Vec<u8>, Unseal) {
    let id = age::x25519::Identity::generate();
    let bytes = write(&Seal::Recipients(vec![id.to_public()]));
    (bytes, Unseal::identities(vec![id]))
}

#[test]
fn a_file_cut_anywhere_is_refused() {
    let (bytes, unseal) = keyed();
    for cut in [
        0,
        10,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 17,
        bytes.len() - 1,
    ] {
        let err = verify(&bytes[..cut], &unseal).unwrap_err();
        assert!(
            matches!(err, BackupError::Damaged(_) | BackupError::NotABackup(_)),
            "cut at {cut}: {err}"
        );
    }
    assert!(verify(&bytes[..], &unseal).is_ok());
}

#[test]
fn a_changed_byte_is_refused() {
    let (bytes, unseal) = keyed();
    for at in [bytes.len() / 2, bytes.len() - 5] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        let err = verify(&bad[..], &unseal).unwrap_err();
        assert!(matches!(err, BackupError::Damaged(_)), "byte {at}: {err}");
    }
}

/// Seals a plaintext as a backup would, to test the manifest check alone.
fn seal_plain(text: &str, id: &age::x25519::Identity) -> Vec<u8> {
    let r = id.to_public();
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = enc.wrap_output(Vec::new()).unwrap();
    let z = zstd::encode_all(text.as_bytes(), 3).unwrap();
    out.write_all(&z).unwrap();
    out.finish().unwrap()
}

fn plaintext(bytes: &[u8], id: &age::x25519::Identity) -> String {
    let dec = age::Decryptor::new(bytes).unwrap();
    let mut r = dec
        .decrypt(std::iter::once(id as &dyn age::Identity))
        .unwrap();
    let mut z = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut z).unwrap();
    String::from_utf8(zstd::decode_all(&z[..]).unwrap()).unwrap()
}

#[test]
fn a_plaintext_that_disagrees_with_its_manifest_is_refused() {
    let id = age::x25519::Identity::generate();
    let good = write(&Seal::Recipients(vec![id.to_public()]));
    let text = plaintext(&good, &id);
    assert!(text.lines().last().unwrap().starts_with("{\"manifest\""));
    let unseal = Unseal::identities(vec![id.clone()]);
    assert!(verify(&seal_plain(&text, &id)[..], &unseal).is_ok());

    // A row dropped: its table's count and checksum no longer match.
    let dropped: String = text
        .lines()
        .filter(|l| !l.starts_with("[2,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let err = verify(&seal_plain(&dropped, &id)[..], &unseal).unwrap_err();
    assert!(err.to_string().contains("projects"), "{err}");

    // A file edited: its checksum no longer matches.
    let edited = text.replace(
        "\"data\":\"WW91IGFyZSBaLgo=\"",
        "\"data\":\"WW91IGFyZSBYLgo=\"",
    );
    assert_ne!(edited, text);
    assert!(verify(&seal_plain(&edited, &id)[..], &unseal).is_err());

    // The manifest line missing: the file ends before its manifest.
    let cut: String = text
        .lines()
        .filter(|l| !l.starts_with("{\"manifest\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let err = verify(&seal_plain(&cut, &id)[..], &unseal).unwrap_err();
    assert!(err.to_string().contains("manifest"), "{err}");

    // The sequences changed: only the whole-stream checksum sees it.
    let seq = text.replace("[\"projects\",9]", "[\"projects\",1]");
    assert_ne!(seq, text);
    let err = verify(&seal_plain(&seq, &id)[..], &unseal).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");

    // A newer format is refused by name.
    let newer = text.replacen("\"openzero_backup\":1", "\"openzero_backup\":99", 1);
    assert!(matches!(
        verify(&seal_plain(&newer, &id)[..], &unseal),
        Err(BackupError::TooNew(99))
    ));
}

#[test]
fn something_else_entirely_is_not_a_backup() {
    let unseal = Unseal::passphrase(pass("x"));
    let err = verify(
        &b"PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"[..],
        &unseal,
    )
    .unwrap_err();
    assert!(matches!(err, BackupError::NotABackup(_)), "{err}");
}
