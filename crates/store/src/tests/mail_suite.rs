//! The mail port's conformance cases (part of [`crate::testsuite`]).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, Utc};
use openzero_core::mail::{Action, MatchKind};

use crate::Store;
use crate::mail::{MailQuery, NewMail, NewRule, Watermark};

fn mail(key: &str, subject: &str, action: Action) -> NewMail {
    NewMail {
        account: "personal".into(),
        folder: "INBOX".into(),
        uid: Some(7),
        key: key.into(),
        from: "Mrs Patel <patel@school.org>".into(),
        to: "me@home.org".into(),
        subject: subject.into(),
        date: Some(Utc::now() - Duration::hours(1)),
        body: "The trip moves to Friday. Ünïcödé ✓".into(),
        attachments: "[]".into(),
        problems: String::new(),
        action,
        rule_id: None,
        rule: None,
        summary: Some(format!("{subject} in one line")),
        pending: action != Action::Archive,
    }
}

pub async fn mail_is_kept_once_with_its_watermark(s: &dyn Store) {
    assert_eq!(s.mail_watermark("personal", "INBOX").await.unwrap(), None);
    let batch = [
        mail("<1@x>", "Trip", Action::Urgent),
        mail("<2@x>", "Menu", Action::Summarize),
        mail("<3@x>", "Sale", Action::Archive),
    ];
    let mark = Watermark {
        uidvalidity: 99,
        uid: 3,
    };
    let ids = s
        .mail_ingest(&batch, Some(("personal", "INBOX", mark)))
        .await
        .unwrap();
    assert!(ids.iter().all(Option::is_some), "{ids:?}");
    let ids: Vec<i64> = ids.into_iter().flatten().collect();
    assert_eq!(
        s.mail_watermark("personal", "INBOX").await.unwrap(),
        Some(mark)
    );
    // Seen again (a resync, another folder): nothing new, the mark moves.
    let mark2 = Watermark {
        uidvalidity: 100,
        uid: 1,
    };
    let again = s
        .mail_ingest(&batch[..2], Some(("personal", "INBOX", mark2)))
        .await
        .unwrap();
    assert_eq!(again, [None, None]);
    assert_eq!(
        s.mail_watermark("personal", "INBOX").await.unwrap(),
        Some(mark2)
    );
    let known = s
        .mail_known("personal", &["<2@x>".into(), "<9@x>".into()])
        .await
        .unwrap();
    assert_eq!(known, ["<2@x>"]);
    assert!(
        s.mail_known("work", &["<2@x>".into()])
            .await
            .unwrap()
            .is_empty()
    );
    // The same key in another account is another message.
    let mut other = mail("<1@x>", "Trip", Action::Urgent);
    other.account = "work".into();
    let mut imported = mail("<4@x>", "Old", Action::Urgent);
    imported.pending = false;
    let got = s.mail_ingest(&[other, imported], None).await.unwrap();
    assert!(got[0].is_some() && got[1].is_some(), "{got:?}");

    // Urgent and summarised mail is pending until delivered; archived is not.
    let pending = s.mail_pending(10).await.unwrap();
    let subjects: Vec<&str> = pending.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["Trip", "Menu", "Trip"]);
    s.mail_delivered(pending[0].id).await.unwrap();
    assert_eq!(s.mail_pending(10).await.unwrap().len(), 2);

    let got = s.mail_get(ids[0]).await.unwrap().unwrap();
    assert_eq!(got.body, "The trip moves to Friday. Ünïcödé ✓");
    assert_eq!(got.action, Action::Urgent);
    assert!(got.delivered_at.is_some());
    assert_eq!(s.mail_get(9999).await.unwrap(), None);
}

pub async fn mail_list_filters_and_searches(s: &dyn Store) {
    let mut old = mail("<old@x>", "Old news", Action::Summarize);
    old.date = Some(Utc::now() - Duration::days(10));
    let batch = [
        old,
        mail("<a@x>", "School trip", Action::Urgent),
        mail("<b@x>", "Bike repair", Action::Summarize),
        mail("<c@x>", "Newsletter", Action::Archive),
    ];
    s.mail_ingest(&batch, None).await.unwrap();
    let subjects = |rows: Vec<crate::mail::MailRow>| -> Vec<String> {
        rows.into_iter().map(|m| m.subject).collect()
    };
    let all = s.mail_list(&MailQuery::default()).await.unwrap();
    assert_eq!(
        subjects(all),
        ["Bike repair", "School trip", "Old news"],
        "newest first, archived left out"
    );
    let q = MailQuery {
        include_archived: true,
        ..Default::default()
    };
    assert_eq!(s.mail_list(&q).await.unwrap().len(), 4);
    let q = MailQuery {
        urgent_only: true,
        ..Default::default()
    };
    assert_eq!(subjects(s.mail_list(&q).await.unwrap()), ["School trip"]);
    let q = MailQuery {
        since: Some(Utc::now() - Duration::days(2)),
        ..Default::default()
    };
    assert_eq!(s.mail_list(&q).await.unwrap().len(), 2);
    let q = MailQuery {
        words: vec!["BIKE".into(), "friday".into()],
        ..Default::default()
    };
    assert_eq!(subjects(s.mail_list(&q).await.unwrap()), ["Bike repair"]);
    let q = MailQuery {
        words: vec!["ünïcödé".into()],
        limit: 1,
        ..Default::default()
    };
    assert_eq!(s.mail_list(&q).await.unwrap().len(), 1);
}

pub async fn mail_rules_keep_their_order(s: &dyn Store) {
    assert!(s.mail_rules().await.unwrap().is_empty());
    let a = s
        .mail_rule_add(&NewRule {
            sender: "school.org".into(),
            subject: None,
            kind: MatchKind::Substring,
            action: Action::Summarize,
            position: None,
        })
        .await
        .unwrap();
    let b = s
        .mail_rule_add(&NewRule {
            sender: "*@bank.com".into(),
            subject: Some("fraud".into()),
            kind: MatchKind::Glob,
            action: Action::Urgent,
            position: None,
        })
        .await
        .unwrap();
    let c = s
        .mail_rule_add(&NewRule {
            sender: "school.org".into(),
            subject: Some("urgent".into()),
            kind: MatchKind::Substring,
            action: Action::Urgent,
            position: Some(a.position),
        })
        .await
        .unwrap();
    let ids: Vec<i64> = s.mail_rules().await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, [c.id, a.id, b.id], "inserted before the first");
    let got = &s.mail_rules().await.unwrap()[2];
    assert_eq!(
        (got.kind, got.action, got.subject.as_deref()),
        (MatchKind::Glob, Action::Urgent, Some("fraud"))
    );
    assert!(s.mail_rule_remove(a.id).await.unwrap());
    assert!(!s.mail_rule_remove(a.id).await.unwrap());
    assert_eq!(s.mail_rules().await.unwrap().len(), 2);

    // A proposal is not in force until confirmed, and confirmed once.
    let p = s
        .mail_rule_propose(&NewRule {
            sender: "boss@work.example".into(),
            subject: None,
            kind: MatchKind::Substring,
            action: Action::Urgent,
            position: None,
        })
        .await
        .unwrap();
    assert_eq!(s.mail_rules().await.unwrap().len(), 2);
    let proposed = s.mail_rules_proposed().await.unwrap();
    assert_eq!(proposed.len(), 1);
    assert_eq!(proposed[0].0.sender, "boss@work.example");
    assert!(s.mail_rule_confirm(p.id).await.unwrap());
    assert!(!s.mail_rule_confirm(p.id).await.unwrap(), "confirmed twice");
    let rules = s.mail_rules().await.unwrap();
    assert_eq!(rules.last().map(|r| r.id), Some(p.id), "last in the order");
    assert!(s.mail_rules_proposed().await.unwrap().is_empty());
    assert!(!s.mail_rule_confirm(9999).await.unwrap());
}

pub async fn outbox_keys_queue_once(s: &dyn Store) {
    let m = crate::OutMessage {
        chat_id: 42,
        text: "urgent: trip".into(),
        buttons: None,
    };
    assert!(
        s.tg_queue_once("mail:1", std::slice::from_ref(&m))
            .await
            .unwrap()
    );
    assert!(
        !s.tg_queue_once("mail:1", std::slice::from_ref(&m))
            .await
            .unwrap()
    );
    assert!(s.tg_queue_once("mail:2", &[m]).await.unwrap());
    let out = s.tg_outbox(10).await.unwrap();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|o| !o.in_doubt));
    // A send that began and was never recorded is in doubt when read again;
    // a failed one is not.
    s.tg_sending(out[0].id).await.unwrap();
    s.tg_sending(out[1].id).await.unwrap();
    s.tg_send_failed(out[1].id, "HTTP 502").await.unwrap();
    let again = s.tg_outbox(10).await.unwrap();
    assert_eq!(
        again.iter().map(|o| o.in_doubt).collect::<Vec<_>>(),
        [true, false]
    );
    s.tg_sent(out[0].id, 77).await.unwrap();
    assert_eq!(s.tg_outbox(10).await.unwrap().len(), 1);
}
