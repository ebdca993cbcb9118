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

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

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

#[derive(Debug, Clone, Copy)]
struct Entry {
    count: u32,
    window_start: i64,
    /// For a target over its limit: when (ms) the next attempt may run.
    next_turn_ms: i64,
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
    entries: Mutex<HashMap<String, Entry>>,
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
            entries: Mutex::default(),
            max,
            cap,
        }
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start an attempt: refused (minutes to wait) if an address key is over the limit,
    /// otherwise counted against every key at once, under one lock, and delayed if a
    /// target key is over the limit. `now_ms`: Unix milliseconds.
    pub fn begin(&self, keys: &[Key], now_ms: i64) -> Result<Begun, u64> {
        let now = now_ms.div_euclid(1000);
        let mut map = self.lock();
        let live = |e: &Entry| now - e.window_start < WINDOW_SECONDS;
        let wait = keys
            .iter()
            .filter(|k| k.address)
            .filter_map(|k| map.get(&k.id))
            .filter(|e| live(e) && e.count >= self.max)
            .map(|e| {
                ((WINDOW_SECONDS - (now - e.window_start)) as u64)
                    .div_ceil(60)
                    .max(1)
            })
            .max();
        if let Some(minutes) = wait {
            return Err(minutes);
        }
        let new_keys = keys.iter().filter(|k| !map.contains_key(&k.id)).count();
        if map.len() + new_keys > self.cap {
            map.retain(|_, e| live(e) || e.next_turn_ms > now_ms);
            if map.len() + new_keys > self.cap && keys.iter().any(|k| k.address) {
                tracing::warn!(
                    keys = map.len(),
                    "rate limiter full: refusing new addresses"
                );
                return Err(WINDOW_SECONDS as u64 / 60);
            }
        }
        let mut begun = Begun {
            delay: Duration::ZERO,
            tripped: Vec::new(),
        };
        for k in keys {
            if !map.contains_key(&k.id) && map.len() >= self.cap {
                continue; // a target key past the cap goes uncounted rather than refused
            }
            let e = map.entry(k.id.clone()).or_insert(Entry {
                count: 0,
                window_start: now,
                next_turn_ms: 0,
            });
            if !live(e) {
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
        }
        Ok(begun)
    }

    /// Take back an attempt counted by [`Self::begin`] that turned out not to be a guess
    /// (it succeeded, or failed for another reason than a wrong secret). A key back at zero
    /// is removed.
    pub fn forgive(&self, keys: &[Key]) {
        let mut map = self.lock();
        for k in keys {
            if let Some(e) = map.get_mut(&k.id) {
                e.count = e.count.saturating_sub(1);
                if e.count == 0 {
                    map.remove(&k.id);
                }
            }
        }
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

    #[test]
    fn attempts_count_when_they_start_and_successes_are_forgiven() {
        let l = Limiter::new(2);
        let k = vec![Key::address(Guess::Password, ip("10.0.0.1"))];
        assert!(l.begin(&k, 0).is_ok());
        assert!(l.begin(&k, 0).is_ok());
        // Two attempts in flight: a third is refused before either has failed.
        assert!(l.begin(&k, 0).is_err());
        l.forgive(&k);
        assert!(l.begin(&k, 0).is_ok());
    }

    #[test]
    fn an_address_is_refused_after_the_limit_until_the_window_ends() {
        let l = Limiter::new(3);
        let k = vec![Key::address(Guess::Code, ip("10.0.0.1"))];
        for _ in 0..3 {
            assert!(l.begin(&k, 100_000).is_ok());
        }
        assert_eq!(l.begin(&k, 100_000).unwrap_err(), 15);
        let other = vec![Key::address(Guess::Code, ip("10.0.0.2"))];
        assert!(l.begin(&other, 100_000).is_ok());
        assert!(l.begin(&k, 100_000 + WINDOW_SECONDS * 1000).is_ok());
    }

    #[test]
    fn a_target_over_the_limit_is_slowed_never_refused() {
        let l = Limiter::new(3);
        let target = Key::org("org-510104");
        for i in 0..3 {
            let k = vec![
                Key::address(Guess::Code, ip(&format!("10.0.0.{i}"))),
                target.clone(),
            ];
            let b = l.begin(&k, 0).unwrap();
            assert_eq!(b.delay, Duration::ZERO);
        }
        // From a fresh address: allowed, but each attempt waits for its turn.
        let k = vec![Key::address(Guess::Code, ip("10.0.1.1")), target.clone()];
        let first = l.begin(&k, 0).unwrap();
        assert_eq!(first.delay, PENALTY);
        let k = vec![Key::address(Guess::Code, ip("10.0.1.2")), target.clone()];
        let second = l.begin(&k, 0).unwrap();
        assert_eq!(second.delay, PENALTY * 2);
    }

    #[test]
    fn a_flooded_target_never_makes_an_attempt_wait_past_the_cap() {
        let l = Limiter::new(1);
        let target = Key::org("org-510104");
        let mut longest = Duration::ZERO;
        for i in 0..200u32 {
            let k = vec![
                Key::address(Guess::Code, IpAddr::from(i.to_be_bytes())),
                target.clone(),
            ];
            longest = longest.max(l.begin(&k, 0).unwrap().delay);
        }
        assert_eq!(longest, MAX_DELAY + PENALTY);
    }

    #[test]
    fn keys_return_to_nothing_and_the_map_is_bounded() {
        let l = Limiter::with_cap(10, 100);
        let k = vec![Key::address(Guess::Password, ip("10.0.0.1"))];
        l.begin(&k, 0).unwrap();
        l.forgive(&k);
        assert!(l.is_empty(), "an entry back at zero is removed");
        for i in 0..100u32 {
            let k = vec![Key::address(Guess::Password, IpAddr::from(i.to_be_bytes()))];
            l.begin(&k, 0).unwrap();
        }
        assert_eq!(l.len(), 100);
        // Full of live entries: a new address is refused, the map does not grow.
        let k = vec![Key::address(Guess::Password, ip("192.168.9.9"))];
        assert!(l.begin(&k, 1000).is_err());
        assert_eq!(l.len(), 100);
        // Once their windows end, they make room.
        assert!(l.begin(&k, WINDOW_SECONDS * 1000).is_ok());
        assert_eq!(l.len(), 1);
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
