//! Focused reproductions of the bugs the model found, each stating the behaviour the design
//! asks for. Both are fixed in the client's push (client-core/src/sync.rs `push_all`): a unit
//! created and deleted before any server saw it is not sent, and deletions go first,
//! deepest first.

use client_core::sync::{Remote, SyncReport};
use client_core::{Direction, NewChild, Replica};
use e2e::{CITY, JINJIANG, TestServer, login_request, registration, replica_dir, spawn_server};
use tempfile::TempDir;

/// The city admin, registered, logged in, with a synced replica.
fn city(server: &TestServer) -> (TempDir, Remote, Replica) {
    let remote = Remote::new(&server.url).unwrap();
    remote
        .register(&registration(&server.first_code, CITY, 1, "张三"))
        .unwrap();
    let login = remote.login(&login_request(1)).unwrap();
    let (dir, path) = replica_dir();
    let mut replica = Replica::create_for_login(&path, &server.url, &login).unwrap();
    sync(&mut replica, &remote);
    (dir, remote, replica)
}

fn sync(r: &mut Replica, remote: &Remote) -> SyncReport {
    r.sync(remote, &mut |_, _, _| {}).unwrap()
}

fn kid(category: &str, name: &str) -> NewChild {
    NewChild {
        category: category.into(),
        short_name: name.into(),
        ..NewChild::default()
    }
}

/// Bug 1. A unit created offline and deleted again before any sync is pushed as a new
/// document that is already deleted; the server refuses it (`tree.created_deleted`) at
/// every sync, for ever: the replica never gets back to "nothing pending", and
/// `rejections()` shows an organization the user deleted and cannot see or correct.
///
/// Expected: the sync succeeds with nothing refused and nothing pending (the client need
/// not push a never-acknowledged document that is deleted, or the server may store the
/// tombstone); the server holds no live organization of that name.
#[test]
fn an_organization_created_and_deleted_offline_is_not_refused_for_ever() {
    let server = spawn_server();
    let (_d, remote, mut city) = city(&server);
    let id = city
        .create_child(JINJIANG, &kid("团支部", "临时团支部"))
        .unwrap();
    city.delete_child(&id).unwrap();
    let first = sync(&mut city, &remote);
    let second = sync(&mut city, &remote);
    assert!(
        first.rejected.is_empty() && second.rejected.is_empty(),
        "refused: {:?}",
        second.rejected
    );
    assert_eq!(city.counts().unwrap().1, 0, "nothing pending");
    assert!(city.rejections().unwrap().is_empty());
    assert!(city.children(JINJIANG).unwrap().is_empty());
}

/// Bug 2a. Deleting a branch (a unit, then its parent: each allowed locally once its
/// children are gone) and syncing: the push sends documents parents first, so the server
/// judges the parent's deletion while the child is still live and refuses it
/// (`delete.has_children`), then accepts the child's deletion in the same push. After the
/// sync the server's state no longer justifies the refusal; the next sync is accepted.
///
/// Expected: one sync, nothing refused (deletions pushed children first).
#[test]
fn deleting_a_branch_is_accepted_in_one_sync() {
    let server = spawn_server();
    let (_d, remote, mut city) = city(&server);
    let town = city
        .create_child(JINJIANG, &kid("团工委", "春熙路街道团工委"))
        .unwrap();
    let branch = city
        .create_child(&town, &kid("团支部", "红星路社区团支部"))
        .unwrap();
    sync(&mut city, &remote);
    city.delete_child(&branch).unwrap();
    city.delete_child(&town).unwrap();
    let report = sync(&mut city, &remote);
    assert!(report.rejected.is_empty(), "refused: {:?}", report.rejected);
    assert_eq!(city.counts().unwrap().1, 0, "nothing pending");
}

/// Bug 2b. Replacing a unit by a new one of the same name (delete it, create the new one,
/// move the new one up): the renumbering gives the new unit the deleted one's place
/// (`sort_key`), the push orders siblings by `sort_key` then id, and when the new unit comes
/// first the server refuses it (`short_name.duplicate`: the old one is still live at that
/// point of the push), then accepts the deletion. The next sync is accepted.
///
/// Expected: one sync, nothing refused (deletions before creations and renames).
#[test]
fn replacing_a_deleted_unit_by_name_is_accepted_in_one_sync() {
    let server = spawn_server();
    let (_d, remote, mut city) = city(&server);
    // The order among siblings of one sort_key is by random id: try until the new unit is
    // pushed before the deleted one (half the time), at most 20 times.
    for round in 0..20 {
        let name = format!("第{round}团支部");
        let other = format!("第{round}号团委");
        let old = city.create_child(JINJIANG, &kid("团支部", &name)).unwrap();
        city.create_child(JINJIANG, &kid("团委", &other)).unwrap();
        sync(&mut city, &remote);
        city.delete_child(&old).unwrap();
        let new = city.create_child(JINJIANG, &kid("团支部", &name)).unwrap();
        city.move_child(&new, Direction::Up).unwrap();
        let report = sync(&mut city, &remote);
        assert!(
            report.rejected.is_empty(),
            "round {round}: {name} replaced, refused: {:?}",
            report.rejected
        );
        assert_eq!(city.counts().unwrap().1, 0, "nothing pending");
    }
}
