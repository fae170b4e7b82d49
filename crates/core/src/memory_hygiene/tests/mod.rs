#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::TimeZone;

use super::*;

fn cand(id: MemoryId, day: u32, text: &str, v: &[f32]) -> Candidate {
    Candidate {
        id,
        created_at: Utc.with_ymd_and_hms(2026, 3, day, 9, 0, 0).unwrap(),
        text: text.into(),
        vector: v.to_vec(),
        reviewed: false,
    }
}

/// A unit vector at `deg` degrees in the plane: cosines are chosen exactly.
fn at(deg: f32) -> Vec<f32> {
    let r = deg.to_radians();
    vec![r.cos(), r.sin()]
}

fn seeds(c: &[Candidate]) -> Vec<(MemoryId, Vec<MemoryId>)> {
    c.iter()
        .map(|s| (s.id, c.iter().map(|o| o.id).collect()))
        .collect()
}

#[test]
fn duplicates_keep_the_newest_and_ids_are_stable() {
    let c = vec![
        cand(1, 1, "Anna moves to Lisbon in June", &at(0.0)),
        cand(2, 5, "My sister Anna moves to Lisbon in June", &at(5.0)),
        cand(3, 2, "the bike needs new brakes", &at(90.0)),
    ];
    let p = propose(&c, &seeds(&c));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].kind, ProposalKind::Duplicates);
    assert_eq!((p[0].members.clone(), p[0].keep), (vec![1, 2], Some(2)));
    assert!(p[0].min_similarity >= DUPLICATE_MIN);
    assert!(p[0].id.starts_with('d') && p[0].id.len() == 7);
    // Same group, same id, whatever the seed order; another group, another id.
    let mut rev = seeds(&c);
    rev.reverse();
    assert_eq!(propose(&c, &rev)[0].id, p[0].id);
    assert_ne!(proposal_id(ProposalKind::Duplicates, &[1, 3]), p[0].id);
    assert_ne!(proposal_id(ProposalKind::Cluster, &[1, 2]), p[0].id);
}

#[test]
fn groups_never_chain_from_one_subject_to_another() {
    // 1~2 and 2~3 are duplicates, 1 and 3 are not: complete linkage keeps
    // 3 out of 1's group.
    let c = vec![
        cand(1, 1, "a", &at(0.0)),
        cand(2, 2, "b", &at(14.0)),
        cand(3, 3, "c", &at(28.0)),
    ];
    let p = propose(&c, &seeds(&c));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].members, vec![1, 2]);
}

#[test]
fn small_memories_on_one_subject_make_a_cluster() {
    let c = vec![
        cand(1, 1, "tea: oolong", &at(0.0)),
        cand(2, 2, "tea: sencha", &at(20.0)),
        cand(3, 3, "tea: assam", &at(40.0)),
        cand(4, 4, &"a long note about tea ".repeat(20), &at(60.0)),
        cand(5, 5, "bike brakes", &at(120.0)),
    ];
    let p = propose(&c, &seeds(&c));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].kind, ProposalKind::Cluster);
    assert_eq!((p[0].members.clone(), p[0].keep), (vec![1, 2, 3], None));
    // Two alike are not a cluster.
    let two = &c[..2];
    assert!(propose(two, &seeds(two)).is_empty());
}

#[test]
fn groups_already_looked_at_are_not_proposed_until_a_new_one_joins() {
    let mut c = vec![
        cand(1, 1, "Anna moves to Lisbon", &at(0.0)),
        cand(2, 2, "Anna moves to Lisbon!", &at(3.0)),
    ];
    c[0].reviewed = true;
    c[1].reviewed = true;
    assert!(propose(&c, &seeds(&c)).is_empty());
    c.push(cand(3, 3, "Anna is moving to Lisbon", &at(6.0)));
    assert_eq!(propose(&c, &seeds(&c))[0].members, vec![1, 2, 3]);
    // Unknown ids in the neighbour lists are ignored.
    assert_eq!(
        propose(&c, &[(9, vec![1, 2]), (1, vec![42, 2, 3])]).len(),
        1
    );
}

#[test]
fn the_joined_summary_keeps_every_text_once_in_time_order() {
    let t = |d| Utc.with_ymd_and_hms(2026, 3, d, 9, 0, 0).unwrap();
    assert_eq!(
        joined_summary(&[
            (t(3), "tea: assam."),
            (t(1), "tea: oolong"),
            (t(2), "Tea: Oolong")
        ]),
        "tea: oolong; tea: assam"
    );
}

#[test]
fn a_model_summary_keeps_every_number_and_invents_nothing() {
    let notes = ["Anna lands at 14:20 on 3 May", "Anna's flight is TP 1234"];
    assert_eq!(
        check_summary(&notes, "Anna lands at 14:20 on 3 May, flight TP 1234.").unwrap(),
        "Anna lands at 14:20 on 3 May, flight TP 1234."
    );
    assert!(
        check_summary(&notes, "Anna lands at 14:20, flight TP 1234.")
            .unwrap_err()
            .contains("lost the number 3")
    );
    assert!(
        check_summary(&notes, "Anna lands at 14:25 on 3 May, TP 1234.")
            .unwrap_err()
            .contains("made up")
    );
    assert!(
        check_summary(&notes, "Anna and Bob land at 14:20 on 3 May, TP 1234.")
            .unwrap_err()
            .contains("Bob")
    );
    assert!(check_summary(&notes, "  ").is_err());
    assert!(
        summary_prompt(&notes)[1]
            .content
            .contains("- Anna lands at 14:20 on 3 May")
    );
}

#[test]
fn the_weekly_notice_counts_or_stays_quiet() {
    assert_eq!(notice(0, 0), None);
    let n = notice(1, 2).unwrap();
    assert!(
        n.contains("1 near-duplicate group,") && n.contains("2 clusters"),
        "{n}"
    );
    assert!(n.contains("openzero memory consolidate"));
}
