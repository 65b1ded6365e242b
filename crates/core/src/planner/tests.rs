//! Unit tests of the decision table; the property tests live in `tests/planner_props.rs`.

use super::*;

fn p(s: &str) -> RelPath {
    RelPath::new(s).expect("valid test path")
}

fn file(path: &str, content: &str, id: &str) -> Node {
    Node {
        path: p(path),
        kind: Kind::File,
        size: content.len() as u64,
        mtime_ns: 1,
        hash: Some(format!("sha256:{content}")),
        id: Some(id.to_string()),
        rev: None,
    }
}

fn dir(path: &str, id: &str) -> Node {
    Node::dir(p(path), Some(id.to_string()))
}

struct Fixture {
    local: Tree,
    remote: Tree,
    synced: SyncedTree,
    settings: ConnectionSettings,
    caps: Capabilities,
    ignored: BTreeSet<RelPath>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            local: Tree::new(),
            remote: Tree::new(),
            synced: SyncedTree::new(),
            settings: ConnectionSettings::default(),
            caps: Capabilities::local_folder(),
            ignored: BTreeSet::new(),
        }
    }

    /// Puts `node` on both sides and in the synced tree (ids differ per side).
    fn both(&mut self, node: Node) -> &mut Self {
        let key = node.path.key();
        let mut remote = node.clone();
        remote.id = node.id.as_ref().map(|i| format!("r{i}"));
        self.local.insert(key.clone(), node.clone());
        self.remote.insert(key.clone(), remote.clone());
        self.synced.insert(
            key,
            SyncedNode {
                local: node,
                remote,
            },
        );
        self
    }

    fn plan(&self) -> Plan {
        plan(&PlanInput {
            local: &self.local,
            remote: &self.remote,
            synced: &self.synced,
            settings: &self.settings,
            caps: &self.caps,
            host: "nas",
            now_secs: 1_795_000_000,
            ignored: &self.ignored,
        })
    }
}

#[test]
fn nothing_changed_plans_nothing() {
    let mut f = Fixture::new();
    f.both(dir("d", "1")).both(file("d/a", "x", "2"));
    assert!(f.plan().is_empty());
}

#[test]
fn new_local_file_is_uploaded_after_its_folder() {
    let mut f = Fixture::new();
    f.local.insert(p("d"), dir("d", "1"));
    f.local.insert(p("d/a"), file("d/a", "x", "2"));
    let plan = f.plan();
    assert_eq!(plan.batches.len(), 2);
    assert!(matches!(
        plan.batches[0].ops[0],
        Op::MakeDir {
            side: Side::Remote,
            ..
        }
    ));
    assert!(matches!(plan.batches[1].ops[0], Op::Upload { .. }));
}

#[test]
fn edit_beats_delete_both_ways() {
    let mut f = Fixture::new();
    f.both(file("a", "x", "1")).both(file("b", "y", "2"));
    f.local.remove(&p("a"));
    f.remote.insert(p("a"), file("a", "x2", "r1"));
    f.remote.remove(&p("b"));
    f.local.insert(p("b"), file("b", "y2", "2"));
    let ops: Vec<Op> = f.plan().ops().cloned().collect();
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(ops
        .iter()
        .any(|o| matches!(o, Op::Download { key, .. } if key.as_str() == "a")));
    assert!(ops
        .iter()
        .any(|o| matches!(o, Op::Upload { key, .. } if key.as_str() == "b")));
}

#[test]
fn folder_move_is_one_op() {
    let mut f = Fixture::new();
    f.both(dir("d", "1"));
    for i in 0..20 {
        f.both(file(&format!("d/f{i}"), "x", &format!("f{i}")));
    }
    let moved: Vec<(RelPath, Node)> = f
        .local
        .iter()
        .map(|(k, n)| {
            let nk = k.rebase(&p("d"), &p("e")).expect("under d");
            let mut n = n.clone();
            n.path = nk.clone();
            (nk, n)
        })
        .collect();
    f.local = moved.into_iter().collect();
    let ops: Vec<Op> = f.plan().ops().cloned().collect();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert!(
        matches!(&ops[0], Op::Move { side: Side::Remote, from_key, to_key, .. }
        if from_key.as_str() == "d" && to_key.as_str() == "e")
    );
}

#[test]
fn deleted_folder_is_one_op_unless_something_below_was_edited() {
    let mut f = Fixture::new();
    f.both(dir("d", "1"))
        .both(file("d/a", "x", "2"))
        .both(file("d/b", "y", "3"));
    f.local.clear();
    let ops: Vec<Op> = f.plan().ops().cloned().collect();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert!(matches!(
        &ops[0],
        Op::Delete {
            side: Side::Remote,
            files: 2,
            ..
        }
    ));

    f.remote.insert(p("d/b"), file("d/b", "y2", "r3"));
    let ops: Vec<Op> = f.plan().ops().cloned().collect();
    assert!(
        ops.iter().any(
            |o| matches!(o, Op::MakeDir { side: Side::Local, key, .. } if key.as_str() == "d")
        ),
        "{ops:?}"
    );
    assert!(ops
        .iter()
        .any(|o| matches!(o, Op::Download { key, .. } if key.as_str() == "d/b")));
    assert!(ops
        .iter()
        .any(|o| matches!(o, Op::Delete { side: Side::Remote, key, .. } if key.as_str() == "d/a")));
}

#[test]
fn conflict_keep_local_without_revisions_keeps_remote_as_copy() {
    let mut f = Fixture::new();
    f.both(file("a.txt", "x", "1"));
    f.local.insert(p("a.txt"), file("a.txt", "L", "1"));
    f.remote.insert(p("a.txt"), file("a.txt", "R", "r1"));
    let ops: Vec<Op> = f.plan().ops().cloned().collect();
    match &ops[..] {
        [Op::Conflict {
            resolution:
                Resolution::RemoteToCopy {
                    copy,
                    download_copy: true,
                },
            ..
        }] => {
            assert!(copy.as_str().starts_with("a (conflicted copy "), "{copy}");
            assert!(copy.as_str().ends_with(" from nas).txt"), "{copy}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn no_delete_leaves_the_destination_alone() {
    let mut f = Fixture::new();
    f.settings.no_delete = true;
    f.both(file("a", "x", "1"));
    f.local.clear();
    assert!(f.plan().is_empty());
}

#[test]
fn ignored_entries_are_never_touched() {
    let mut f = Fixture::new();
    f.both(dir("d", "1")).both(file("d/big", "x", "2"));
    f.local.remove(&p("d/big"));
    f.ignored.insert(p("d/big"));
    assert!(f.plan().is_empty());
    // Deleting the folder locally does not take the skipped file on the remote with it.
    f.local.clear();
    let ops: Vec<Op> = f.plan().ops().cloned().collect();
    assert!(ops.is_empty(), "{ops:?}");
}

#[test]
fn trailing_dot_is_renamed_where_it_appears() {
    let mut f = Fixture::new();
    let mut n = file("report.", "x", "1");
    n.mtime_ns = 1_795_478_400_000_000_000; // 2026-11-24 UTC
    f.local.insert(p("report."), n);
    let ops: Vec<Op> = f.plan().ops().cloned().collect();
    match &ops[..] {
        [Op::Move {
            side: Side::Local,
            to_path,
            reason: MoveReason::TailCharacter,
            ..
        }] => {
            assert_eq!(
                to_path.as_str(),
                "report._nas_20261124_TailCharacterConflict"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
