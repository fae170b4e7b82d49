//! The dashboard port's conformance cases (part of [`crate::testsuite`]).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, SubsecRound, Utc};

use crate::Store;
use crate::dashboard::NewWebSession;

pub async fn dashboard_sessions_links_lockout_and_audit(s: &dyn Store) {
    let now = Utc::now().trunc_subsecs(3);
    assert_eq!(s.web_password().await.unwrap(), None);
    s.web_password_set("$argon2id$first", now).await.unwrap();
    s.web_password_set("$argon2id$second", now).await.unwrap();
    assert_eq!(
        s.web_password().await.unwrap().as_deref(),
        Some("$argon2id$second")
    );

    let new = |hash: &'static str, hours: i64| NewWebSession {
        token_hash: hash,
        csrf: "csrf-1",
        via: "password",
        user_agent: "Firefox",
        now,
        expires_at: now + Duration::hours(hours),
    };
    let a = s.web_session_add(&new("hash-a", 24)).await.unwrap();
    let b = s.web_session_add(&new("hash-b", 24)).await.unwrap();
    assert!(b.id > a.id);
    let later = now + Duration::minutes(5);
    let got = s.web_session_get("hash-a", later).await.unwrap().unwrap();
    assert_eq!((got.session.id, got.csrf.as_str()), (a.id, "csrf-1"));
    assert_eq!(got.session.last_seen_at, later);
    // Seen again within the minute: not written again.
    let soon = later + Duration::seconds(20);
    let again = s.web_session_get("hash-a", soon).await.unwrap().unwrap();
    assert_eq!(again.session.last_seen_at, later);
    assert_eq!(s.web_session_get("nope", later).await.unwrap(), None);
    // Expired: not found, not listed.
    assert_eq!(
        s.web_session_get("hash-a", now + Duration::hours(25))
            .await
            .unwrap(),
        None
    );
    let ids: Vec<_> = s
        .web_sessions(later)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(ids, vec![b.id, a.id]);
    assert!(s.web_session_revoke(a.id, later).await.unwrap());
    assert!(!s.web_session_revoke(a.id, later).await.unwrap());
    assert_eq!(s.web_session_get("hash-a", later).await.unwrap(), None);
    // A new password signs every session out.
    s.web_password_set("$argon2id$third", later).await.unwrap();
    assert_eq!(s.web_session_get("hash-b", later).await.unwrap(), None);
    assert!(s.web_sessions(later).await.unwrap().is_empty());

    // Login links are used once, and not after they expire.
    s.web_link_add("link-1", now, now + Duration::minutes(10))
        .await
        .unwrap();
    s.web_link_add("link-2", now, now + Duration::minutes(10))
        .await
        .unwrap();
    assert!(s.web_link_take("link-1", later).await.unwrap());
    assert!(!s.web_link_take("link-1", later).await.unwrap());
    assert!(
        !s.web_link_take("link-2", now + Duration::minutes(11))
            .await
            .unwrap()
    );
    assert!(!s.web_link_take("never", later).await.unwrap());

    for m in [20, 10, 3, 2] {
        s.web_login_failed(now - Duration::minutes(m))
            .await
            .unwrap();
    }
    let since = s
        .web_login_failures(now - Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(
        since,
        vec![
            now - Duration::minutes(10),
            now - Duration::minutes(3),
            now - Duration::minutes(2)
        ]
    );

    s.web_audit_add(Some(b.id), "project.add", "Garden <b>", now)
        .await
        .unwrap();
    s.web_audit_add(None, "login.failed", "", later)
        .await
        .unwrap();
    let audit = s.web_audit(10).await.unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].action, "login.failed");
    assert_eq!(
        (audit[1].session_id, audit[1].detail.as_str()),
        (Some(b.id), "Garden <b>")
    );
    assert_eq!(s.web_audit(1).await.unwrap().len(), 1);

    // Pruning drops what can no longer sign in, keeps what still can and
    // the audit log.
    let live = s.web_session_add(&new("hash-live", 24 * 60)).await.unwrap();
    let later = now + Duration::hours(30);
    s.web_prune(later).await.unwrap();
    let left: Vec<_> = s
        .web_sessions(later)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(left, vec![live.id]);
    assert!(
        s.web_login_failures(now - Duration::hours(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.web_audit(10).await.unwrap().len(), 2);
}

pub async fn memory_uses_are_kept_and_go_with_the_memory(s: &dyn Store) {
    let now = Utc::now().trunc_subsecs(3);
    let record = |text: &str| crate::MemoryRecord {
        text: text.into(),
        created_at: now,
        source: openzero_core::memory::Source::new("cli").unwrap(),
        external_id: None,
        metadata: None,
        embedding: None,
    };
    let (a, _) = s.add_memory(&record("Dentist on Tuesday")).await.unwrap();
    let (b, _) = s
        .add_memory(&record("Spare key under the pot"))
        .await
        .unwrap();
    s.memory_used(&[a.id, b.id], "chat (telegram)", now)
        .await
        .unwrap();
    s.memory_used(&[a.id], "a /think question", now + Duration::minutes(1))
        .await
        .unwrap();
    s.memory_used(&[], "nothing", now).await.unwrap();
    assert_eq!(
        s.memory_uses(a.id, 10).await.unwrap(),
        vec![
            (now + Duration::minutes(1), "a /think question".to_owned()),
            (now, "chat (telegram)".to_owned()),
        ]
    );
    assert_eq!(s.memory_uses(a.id, 1).await.unwrap().len(), 1);
    assert!(s.forget_memory(b.id).await.unwrap());
    assert!(s.memory_uses(b.id, 10).await.unwrap().is_empty());
    // A memory forgotten before its use is recorded is skipped, not an error.
    s.memory_used(&[b.id, a.id], "chat (dashboard)", now)
        .await
        .unwrap();
    assert_eq!(s.memory_uses(a.id, 10).await.unwrap().len(), 3);
    assert!(s.memory_uses(b.id, 10).await.unwrap().is_empty());
}
