//! Rate limits on guessing (design.md "Identity and access": guessing codes or passwords is
//! rate-limited): failed registrations and logins are counted per client address and per
//! target (an existing organization, a parsed mobile number) in a fixed window.
//!
//! - An **address** over the limit is refused until its window ends: that client guessed.
//! - A **target** over the limit is only *slowed*: its attempts are spaced [`PENALTY`]
//!   apart, whoever sends them, and never refused. Otherwise anyone could lock a
//!   registrant or an admin out by guessing for them from another address.
//!
//! Keys are built from validated values only ([`Key`]): an address grouped to its /64 for
//! IPv6 (one subscriber holds a whole /64), a mobile number after parsing (full-width
//! digits are the same number), an organization that exists. The map is bounded: an entry
//! is removed when its count returns to zero, expired windows are dropped before the map
//! grows past [`MAX_KEYS`], and a new address past that is refused (fail closed).
//!
//! An attempt is counted when it *starts* ([`Limiter::begin`]) and forgiven if it turns
//! out not to be a guess ([`Limiter::forgive`]), so that many guesses sent at the same
//! moment cannot all slip past a check made before any of them failed.
//!
//! Where the counts live: in this process's memory on SQLite (one process owns the file),
//! in the database on PostgreSQL (`storage/limits.rs`), so that a storm of guesses spread
//! over every server process is limited as on one. The rules above are one code path over
//! either ([`Entries`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::Result;
use crate::storage::{Dialect, Store, Tx};

/// Failures allowed per key and window [inferred].
pub const MAX_FAILURES: u32 = 10;
/// The window, seconds [inferred].
pub const WINDOW_SECONDS: i64 = 15 * 60;
/// Spacing of the attempts on a target over its limit.
pub const PENALTY: Duration = Duration::from_secs(1);
/// The longest an attempt on a target over its limit waits for its turn; past that the
/// turns are handed out closer together rather than queueing without bound.
pub const MAX_DELAY: Duration = Duration::from_secs(20);
/// The most keys the limiter holds (about 100 bytes each).
pub const MAX_KEYS: usize = 50_000;

/// What is being guessed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guess {
    /// A registration code (registration, code look-up).
    Code,
    /// A password (login).
    Password,
}

impl Guess {
    fn prefix(self) -> &'static str {
        match self {
            Guess::Code => "code",
            Guess::Password => "login",
        }
    }
}

/// A limiter key: `id` is what is counted, `shown` is the same key for logs and audit
/// records (mobiles masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    id: String,
    shown: String,
    address: bool,
}

impl Key {
    /// The client's address; IPv6 grouped by its /64.
    pub fn address(guess: Guess, ip: IpAddr) -> Key {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
            IpAddr::V4(v4) => v4.to_string(),
        };
        let id = format!("{}@{ip}", guess.prefix());
        Key {
            shown: id.clone(),
            id,
            address: true,
        }
    }

    /// An admin's mobile number (parsed, so every spelling of one number is one key).
    pub fn mobile(m: &schemas::Mobile) -> Key {
        Key {
            id: format!("login-mobile:{}", m.as_str()),
            shown: format!("login-mobile:{}", m.masked()),
            address: false,
        }
    }

    /// An organization that exists (the caller looked it up).
    pub fn org(org_id: &str) -> Key {
        let id = format!("code-org:{org_id}");
        Key {
            shown: id.clone(),
            id,
            address: false,
        }
    }

    /// The key as logs and audit records show it.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

pub use crate::storage::LimitEntry as Entry;

/// Where the entries live, as the limiter's rules read and write them.
trait Entries {
    fn get(&mut self, id: &str) -> Result<Option<Entry>>;
    /// Write `e`; `new`: the key had no entry when read (in the database, a plain insert:
    /// if another process inserted it meanwhile, the transaction runs again on its count).
    fn put(&mut self, id: &str, e: Entry, new: bool) -> Result<()>;
    fn remove(&mut self, id: &str) -> Result<()>;
    fn len(&mut self) -> Result<usize>;
    /// Drop the entries whose window ended and whose turn passed.
    fn prune(&mut self, now: i64, now_ms: i64) -> Result<()>;
}

fn live(e: &Entry, now: i64) -> bool {
    now - e.window_start < WINDOW_SECONDS
}

impl Entries for HashMap<String, Entry> {
    fn get(&mut self, id: &str) -> Result<Option<Entry>> {
        Ok(HashMap::get(self, id).copied())
    }
    fn put(&mut self, id: &str, e: Entry, _new: bool) -> Result<()> {
        self.insert(id.to_owned(), e);
        Ok(())
    }
    fn remove(&mut self, id: &str) -> Result<()> {
        HashMap::remove(self, id);
        Ok(())
    }
    fn len(&mut self) -> Result<usize> {
        Ok(HashMap::len(self))
    }
    fn prune(&mut self, now: i64, now_ms: i64) -> Result<()> {
        self.retain(|_, e| live(e, now) || e.next_turn_ms > now_ms);
        Ok(())
    }
}

/// The entries in the database, in the caller's transaction (each read locks its row on
/// PostgreSQL: two processes counting one key take turns).
struct Stored<'a, 'c>(&'a Tx<'c>);

impl Entries for Stored<'_, '_> {
    fn get(&mut self, id: &str) -> Result<Option<Entry>> {
        self.0.limit_entry(id)
    }
    fn put(&mut self, id: &str, e: Entry, new: bool) -> Result<()> {
        if new {
            self.0.insert_limit_entry(id, &e)
        } else {
            self.0.update_limit_entry(id, &e)
        }
    }
    fn remove(&mut self, id: &str) -> Result<()> {
        self.0.remove_limit_entry(id)
    }
    fn len(&mut self) -> Result<usize> {
        self.0.limit_entries()
    }
    fn prune(&mut self, now: i64, now_ms: i64) -> Result<()> {
        self.0.prune_limit_entries(now - WINDOW_SECONDS, now_ms)
    }
}

/// An attempt that may go ahead.
#[derive(Debug)]
pub struct Begun {
    /// Wait this long first: the target is over its limit.
    pub delay: Duration,
    /// The keys this attempt brought to the limit (to log and audit once, when they trip).
    pub tripped: Vec<Key>,
}

pub struct Limiter {
    /// `None`: the entries live in the database.
    memory: Option<Mutex<HashMap<String, Entry>>>,
    max: u32,
    cap: usize,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(MAX_FAILURES)
    }
}

impl Limiter {
    pub fn new(max: u32) -> Limiter {
        Limiter::with_cap(max, MAX_KEYS)
    }

    pub fn with_cap(max: u32, cap: usize) -> Limiter {
        Limiter {
            memory: Some(Mutex::default()),
            max,
            cap,
        }
    }

    /// The limiter of a server on `store`: its counts in memory on SQLite, in the database
    /// (shared by every process) on PostgreSQL.
    pub fn for_store(store: &Store) -> Limiter {
        match store.dialect() {
            Dialect::Sqlite => Limiter::default(),
            Dialect::Postgres => Limiter::in_database(MAX_FAILURES, MAX_KEYS),
        }
    }

    /// A limiter whose counts live in the store's database.
    pub fn in_database(max: u32, cap: usize) -> Limiter {
        Limiter {
            memory: None,
            max,
            cap,
        }
    }

    /// How many keys are held.
    pub fn len(&self, store: &Store) -> Result<usize> {
        self.with_entries(store, |e| e.len())
    }

    /// Run `f` on the entries: under the lock of the memory map, or in a transaction.
    fn with_entries<T>(
        &self,
        store: &Store,
        mut f: impl FnMut(&mut dyn Entries) -> Result<T>,
    ) -> Result<T> {
        match &self.memory {
            Some(m) => f(&mut *m.lock().unwrap_or_else(|p| p.into_inner())),
            None => store.transaction(|tx| f(&mut Stored(tx))),
        }
    }

    /// Start an attempt: refused (`Ok(Err(minutes))` to wait) if an address key is over
    /// the limit, otherwise counted against every key at once, under one lock (one
    /// transaction), and delayed if a target key is over the limit. `now_ms`: Unix
    /// milliseconds. Blocking on PostgreSQL.
    pub fn begin(
        &self,
        store: &Store,
        keys: &[Key],
        now_ms: i64,
    ) -> Result<std::result::Result<Begun, u64>> {
        self.with_entries(store, |map| self.begin_in(map, keys, now_ms))
    }

    fn begin_in(
        &self,
        map: &mut dyn Entries,
        keys: &[Key],
        now_ms: i64,
    ) -> Result<std::result::Result<Begun, u64>> {
        let now = now_ms.div_euclid(1000);
        let mut held = Vec::with_capacity(keys.len());
        for k in keys {
            held.push(map.get(&k.id)?);
        }
        let wait = keys
            .iter()
            .zip(&held)
            .filter(|(k, _)| k.address)
            .filter_map(|(_, e)| e.as_ref())
            .filter(|e| live(e, now) && e.count >= self.max)
            .map(|e| {
                ((WINDOW_SECONDS - (now - e.window_start)) as u64)
                    .div_ceil(60)
                    .max(1)
            })
            .max();
        if let Some(minutes) = wait {
            return Ok(Err(minutes));
        }
        let new_keys = held.iter().filter(|e| e.is_none()).count();
        let mut len = if new_keys > 0 { map.len()? } else { 0 };
        let pruned = len + new_keys > self.cap;
        if pruned {
            map.prune(now, now_ms)?;
            len = map.len()?;
            if len + new_keys > self.cap && keys.iter().any(|k| k.address) {
                tracing::warn!(keys = len, "rate limiter full: refusing new addresses");
                return Ok(Err(WINDOW_SECONDS as u64 / 60));
            }
        }
        let mut begun = Begun {
            delay: Duration::ZERO,
            tripped: Vec::new(),
        };
        for (k, e) in keys.iter().zip(held) {
            // An entry may have been pruned above: read again.
            let e = if pruned { map.get(&k.id)? } else { e };
            let existed = e.is_some();
            if !existed && len >= self.cap {
                continue; // a target key past the cap goes uncounted rather than refused
            }
            let mut e = e.unwrap_or(Entry {
                count: 0,
                window_start: now,
                next_turn_ms: 0,
            });
            if !live(&e, now) {
                e.count = 0;
                e.window_start = now;
            }
            if !k.address && e.count >= self.max {
                let turn = e.next_turn_ms.max(now_ms);
                let wait = (turn - now_ms).min(MAX_DELAY.as_millis() as i64);
                e.next_turn_ms = now_ms + wait + PENALTY.as_millis() as i64;
                begun.delay = begun
                    .delay
                    .max(Duration::from_millis(wait as u64) + PENALTY);
            }
            e.count += 1;
            if e.count == self.max {
                begun.tripped.push(k.clone());
            }
            if !existed {
                len += 1;
            }
            map.put(&k.id, e, !existed)?;
        }
        Ok(Ok(begun))
    }

    /// Take back an attempt counted by [`Self::begin`] that turned out not to be a guess
    /// (it succeeded, or failed for another reason than a wrong secret). A key back at zero
    /// is removed. Blocking on PostgreSQL.
    pub fn forgive(&self, store: &Store, keys: &[Key]) -> Result<()> {
        self.with_entries(store, |map| {
            for k in keys {
                if let Some(mut e) = map.get(&k.id)? {
                    e.count = e.count.saturating_sub(1);
                    if e.count == 0 {
                        map.remove(&k.id)?;
                    } else {
                        map.put(&k.id, e, false)?;
                    }
                }
            }
            Ok(())
        })
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The same rules over both places the counts live: memory, and a database (SQLite
    /// in memory here; PostgreSQL's locking is tested with several processes,
    /// `tests/processes.rs`).
    fn both(max: u32, cap: usize) -> [(Limiter, Store); 2] {
        let store = || Store::open(std::path::Path::new(":memory:")).unwrap();
        [
            (Limiter::with_cap(max, cap), store()),
            (Limiter::in_database(max, cap), store()),
        ]
    }

    #[test]
    fn attempts_count_when_they_start_and_successes_are_forgiven() {
        for (l, s) in both(2, MAX_KEYS) {
            let k = vec![Key::address(Guess::Password, ip("10.0.0.1"))];
            assert!(l.begin(&s, &k, 0).unwrap().is_ok());
            assert!(l.begin(&s, &k, 0).unwrap().is_ok());
            // Two attempts in flight: a third is refused before either has failed.
            assert!(l.begin(&s, &k, 0).unwrap().is_err());
            l.forgive(&s, &k).unwrap();
            assert!(l.begin(&s, &k, 0).unwrap().is_ok());
        }
    }

    #[test]
    fn an_address_is_refused_after_the_limit_until_the_window_ends() {
        for (l, s) in both(3, MAX_KEYS) {
            let k = vec![Key::address(Guess::Code, ip("10.0.0.1"))];
            for _ in 0..3 {
                assert!(l.begin(&s, &k, 100_000).unwrap().is_ok());
            }
            assert_eq!(l.begin(&s, &k, 100_000).unwrap().unwrap_err(), 15);
            let other = vec![Key::address(Guess::Code, ip("10.0.0.2"))];
            assert!(l.begin(&s, &other, 100_000).unwrap().is_ok());
            assert!(
                l.begin(&s, &k, 100_000 + WINDOW_SECONDS * 1000)
                    .unwrap()
                    .is_ok()
            );
        }
    }

    #[test]
    fn a_target_over_the_limit_is_slowed_never_refused() {
        for (l, s) in both(3, MAX_KEYS) {
            let target = Key::org("org-510104");
            for i in 0..3 {
                let k = vec![
                    Key::address(Guess::Code, ip(&format!("10.0.0.{i}"))),
                    target.clone(),
                ];
                let b = l.begin(&s, &k, 0).unwrap().unwrap();
                assert_eq!(b.delay, Duration::ZERO);
            }
            // From a fresh address: allowed, but each attempt waits for its turn.
            let k = vec![Key::address(Guess::Code, ip("10.0.1.1")), target.clone()];
            let first = l.begin(&s, &k, 0).unwrap().unwrap();
            assert_eq!(first.delay, PENALTY);
            let k = vec![Key::address(Guess::Code, ip("10.0.1.2")), target.clone()];
            let second = l.begin(&s, &k, 0).unwrap().unwrap();
            assert_eq!(second.delay, PENALTY * 2);
        }
    }

    #[test]
    fn a_flooded_target_never_makes_an_attempt_wait_past_the_cap() {
        for (l, s) in both(1, MAX_KEYS) {
            let target = Key::org("org-510104");
            let mut longest = Duration::ZERO;
            for i in 0..200u32 {
                let k = vec![
                    Key::address(Guess::Code, IpAddr::from(i.to_be_bytes())),
                    target.clone(),
                ];
                longest = longest.max(l.begin(&s, &k, 0).unwrap().unwrap().delay);
            }
            assert_eq!(longest, MAX_DELAY + PENALTY);
        }
    }

    #[test]
    fn keys_return_to_nothing_and_the_map_is_bounded() {
        for (l, s) in both(10, 100) {
            let k = vec![Key::address(Guess::Password, ip("10.0.0.1"))];
            l.begin(&s, &k, 0).unwrap().unwrap();
            l.forgive(&s, &k).unwrap();
            assert!(l.len(&s).unwrap() == 0, "an entry back at zero is removed");
            for i in 0..100u32 {
                let k = vec![Key::address(Guess::Password, IpAddr::from(i.to_be_bytes()))];
                l.begin(&s, &k, 0).unwrap().unwrap();
            }
            assert_eq!(l.len(&s).unwrap(), 100);
            // Full of live entries: a new address is refused, the map does not grow.
            let k = vec![Key::address(Guess::Password, ip("192.168.9.9"))];
            assert!(l.begin(&s, &k, 1000).unwrap().is_err());
            assert_eq!(l.len(&s).unwrap(), 100);
            // Once their windows end, they make room.
            assert!(l.begin(&s, &k, WINDOW_SECONDS * 1000).unwrap().is_ok());
            assert_eq!(l.len(&s).unwrap(), 1);
        }
    }

    #[test]
    fn ipv6_addresses_are_grouped_by_their_64() {
        let a = Key::address(Guess::Code, ip("2001:db8:1:2:aaaa::1"));
        let b = Key::address(Guess::Code, ip("2001:db8:1:2:ffff::9"));
        let c = Key::address(Guess::Code, ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Key::address(Guess::Code, ip("::ffff:10.0.0.1")),
            Key::address(Guess::Code, ip("10.0.0.1"))
        );
    }

    #[test]
    fn every_spelling_of_a_mobile_is_one_key() {
        let half = schemas::Mobile::parse("13812345678").unwrap();
        let full = schemas::Mobile::parse("１３８１２３４５６７８").unwrap();
        assert_eq!(Key::mobile(&half), Key::mobile(&full));
        assert!(!Key::mobile(&half).shown().contains("12345678"));
    }
}
