//! Crash safety of the replica (store.rs: WAL, `synchronous=FULL`, one transaction per
//! operation): `zhtj stress-create` creates branches one at a time and prints each id only
//! after `create_child` returned; the test kills it with SIGKILL at random moments (some
//! before the first create, most in the middle of the run), then reopens the replica and
//! checks that
//!
//! - every printed id is there (a create that returned is durable),
//! - `PRAGMA integrity_check` is "ok",
//! - every document is a whole child of the own unit (no half-created organization), at
//!   most one more than were printed in the cycle (the one killed between its commit and
//!   its print), and each stored document loads and matches its projection.
//!
//! The kill moments come from a seeded RNG; the seed is in every failure message and can be
//! set with `ZHTJ_CRASH_SEED`. Sleeps here only choose kill points: nothing waits on time
//! for correctness (the ids come through the pipe, `wait` reaps the process).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use client_core::Replica;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tempfile::TempDir;

const CYCLES: usize = 20;
/// Kill delays are drawn in 0..=MAX_DELAY_MS from spawn.
const MAX_DELAY_MS: u64 = 300;
/// One cycle in EARLY_EVERY kills right after spawn, before the first create can commit.
const EARLY_EVERY: usize = 5;
const DEFAULT_SEED: u64 = 0x2017_1220_0070;

fn zhtj(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zhtj"));
    c.arg("--data").arg(data).env_remove("ZHTJ_DATA");
    c
}

/// The complete lines of `r`, in order; a last line cut by the kill is left out.
fn complete_lines(r: impl Read) -> Vec<String> {
    let mut reader = BufReader::new(r);
    let mut out = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.ends_with('\n') => out.push(line.trim_end().to_owned()),
            Ok(_) => break,
        }
    }
    out
}

fn integrity_check(path: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare("PRAGMA integrity_check").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn killed_at_random_moments_the_replica_keeps_every_reported_create() {
    let seed = std::env::var("ZHTJ_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let init = zhtj(&data).args(["init", "团锦江区委"]).output().unwrap();
    assert!(init.status.success(), "{init:?}");
    let path = data.join("replica.sqlite3");
    let own = Replica::open(&path).unwrap().own_id().to_owned();

    let started = Instant::now();
    let mut printed_total = 0usize;
    let mut every_printed: Vec<String> = Vec::new();
    let mut children_before = 0usize;
    let (mut empty_cycles, mut busy_cycles, mut unprinted_commits) = (0, 0, 0);
    for cycle in 0..CYCLES {
        let delay = if cycle % EARLY_EVERY == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(rng.random_range(0..=MAX_DELAY_MS))
        };
        let at = format!("seed {seed} (ZHTJ_CRASH_SEED), cycle {cycle}, kill after {delay:?}");

        let mut child = zhtj(&data)
            .args(["stress-create", "--count", "100000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = thread::spawn(move || complete_lines(stdout));
        // A random kill point (not a synchronization: the pipe and `wait` are).
        thread::sleep(delay);
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let printed = reader.join().unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(9),
                "{at}: stress-create ended by itself ({status:?}), stderr:\n{stderr}"
            );
        }

        // The file is sound, and every create that returned is there.
        assert_eq!(integrity_check(&path), ["ok"], "{at}");
        let replica = Replica::open(&path).unwrap_or_else(|e| panic!("{at}: reopen: {e}"));
        for id in &printed {
            let view = replica
                .org(id)
                .unwrap_or_else(|e| panic!("{at}: printed id {id} lost: {e}"));
            assert_eq!(view.record.parent, own, "{at}: {id}");
            assert!(view.record.short_name.starts_with("压力测试"), "{at}: {id}");
        }
        // Every document is a child of the own unit, whole: no half-created organization.
        let children = replica.children(&own).unwrap();
        let (docs, _) = replica.counts().unwrap();
        assert_eq!(docs as usize, 1 + children.len(), "{at}: stray documents");
        let new = children.len() - children_before;
        assert!(
            new == printed.len() || new == printed.len() + 1,
            "{at}: {new} created, {} printed",
            printed.len()
        );
        for c in &children[children_before..] {
            let bytes = replica.doc_bytes(&c.id).unwrap();
            let doc = automerge::AutoCommit::load(&bytes)
                .unwrap_or_else(|e| panic!("{at}: document {} does not load: {e}", c.id));
            let record = client_core::doc::read(&doc);
            assert_eq!(&record, c, "{at}: document and projection differ");
        }
        // Sort keys stay distinct (each create saw the previous one).
        let mut keys: Vec<i64> = children.iter().map(|c| c.sort_key).collect();
        keys.dedup();
        assert_eq!(keys.len(), children.len(), "{at}: duplicate sort keys");

        unprinted_commits += new - printed.len();
        if printed.is_empty() {
            empty_cycles += 1;
        } else {
            busy_cycles += 1;
        }
        printed_total += printed.len();
        every_printed.extend(printed);
        children_before = children.len();
    }

    // Nothing printed in an earlier cycle was lost later, and the replica still works.
    let replica = Replica::open(&path).unwrap();
    for id in &every_printed {
        assert!(
            replica.org(id).is_ok(),
            "seed {seed}: id {id} lost by the end"
        );
    }
    drop(replica);
    let after = zhtj(&data)
        .args(["create", "--category", "团支部", "--name", "收尾检查团支部"])
        .output()
        .unwrap();
    assert!(after.status.success(), "seed {seed}: {after:?}");
    assert!(
        busy_cycles > 0,
        "seed {seed}: no kill landed after a create; the test checked nothing"
    );
    eprintln!(
        "crash test: seed {seed}, {CYCLES} cycles in {:?}: {printed_total} printed ids verified, \
         {} children in the end, {busy_cycles} cycles killed mid-run, {empty_cycles} before \
         the first create, {unprinted_commits} committed but killed before printing",
        started.elapsed(),
        children_before,
    );
}
