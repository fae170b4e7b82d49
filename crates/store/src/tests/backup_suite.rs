//! The backup port's conformance cases (part of [`crate::testsuite`]).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use openzero_core::NewProject;

use crate::Store;
use crate::backup::{DumpItem, SEEDED_TABLES, Value};

/// A dump reads one snapshot: rows written while it runs are not in it,
/// whatever table they land in; its tables come referenced-first; and a new
/// store holds no data until the owner adds some.
pub async fn a_dump_is_one_snapshot_in_dependency_order(s: &dyn Store) {
    assert!(!s.holds_data().await.unwrap(), "a new store holds no data");
    let counts = s.table_counts().await.unwrap();
    for seeded in SEEDED_TABLES {
        assert!(counts[*seeded] > 0, "{seeded} is seeded");
    }
    assert!(
        !counts.contains_key("memory_changes"),
        "derived tables are not backed up"
    );
    for i in 0..5 {
        s.create_project(&NewProject::new(&format!("P{i}")).unwrap())
            .await
            .unwrap();
    }
    assert!(s.holds_data().await.unwrap());

    // A channel of one: the dump waits on us after its first item.
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let dumping = async { s.dump(tx).await.unwrap() };
    let reading = async {
        let first = rx.recv().await.unwrap();
        // Written after the dump's snapshot was taken.
        s.create_project(&NewProject::new("Late").unwrap())
            .await
            .unwrap();
        let mut items = vec![first];
        while let Some(i) = rx.recv().await {
            items.push(i);
        }
        items
    };
    let ((), items) = tokio::join!(dumping, reading);
    assert_eq!(items.last(), Some(&DumpItem::End));
    let mut table = String::new();
    let mut order = Vec::new();
    let mut names = Vec::new();
    for i in &items {
        match i {
            DumpItem::Table { name, columns } => {
                table = name.clone();
                order.push(name.clone());
                if name == "projects" {
                    names = Vec::new();
                    assert!(columns.contains(&"parent_id".to_string()));
                }
            }
            DumpItem::Row(v) if table == "projects" => {
                if let Some(Value::Text(n)) = v.get(1) {
                    names.push(n.clone());
                }
            }
            _ => {}
        }
    }
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(!names.contains(&"Late".to_string()));
    let pos = |t: &str| order.iter().position(|x| x == t).unwrap();
    assert!(pos("boards") < pos("board_lists"));
    assert!(pos("board_lists") < pos("cards"));
    assert!(pos("projects") < pos("cards"));
    assert!(pos("memories") < pos("memory_uses"));
    assert_eq!(s.table_counts().await.unwrap()["projects"], 6);
}
