//! Read-only by construction: no IMAP command that changes a mailbox is
//! written anywhere in this crate's source (the Dovecot tests check the
//! protocol log too).

#[test]
fn no_mailbox_changing_command_is_written_in_the_source() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let forbidden = [
        ".select(",
        ".select_condstore(",
        ".store(",
        ".uid_store(",
        ".copy(",
        ".uid_copy(",
        ".mv(",
        ".uid_mv(",
        ".append(",
        ".expunge(",
        ".uid_expunge(",
        ".create(",
        ".delete(",
        ".rename(",
        ".subscribe(",
        ".close()",
        "\"SELECT",
        "\"STORE",
        "\"COPY",
        "\"MOVE",
        "\"APPEND",
        "\"EXPUNGE",
        "BODY[]",
        "RFC822)",
        "(RFC822",
    ];
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for f in forbidden {
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                assert!(
                    !code.contains(f),
                    "{}:{}: {f} changes a mailbox: {line}",
                    path.display(),
                    n + 1
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 3);
    let imap = std::fs::read_to_string(src.join("imap.rs")).unwrap();
    assert!(imap.contains("self.session.examine("));
    assert!(imap.contains("BODY.PEEK[]"));
}
