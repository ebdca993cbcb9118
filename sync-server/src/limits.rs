//! Rate limits on guessing (DESIGN "Attempts to guess codes or passwords are rate-limited"):
//! failed registrations and logins are counted per client address and per target (mobile,
//! code) in a fixed window; past the limit, attempts are refused until the window ends.
//!
//! An attempt is counted when it *starts* ([`Limiter::begin`]) and forgiven if it succeeds
//! ([`Limiter::forgive`]), so that many guesses sent at the same moment cannot all slip
//! past a check made before any of them failed.

use std::collections::HashMap;
use std::sync::Mutex;

/// Failures allowed per key and window [inferred].
pub const MAX_FAILURES: u32 = 10;
/// The window, seconds [inferred].
pub const WINDOW_SECONDS: i64 = 15 * 60;

#[derive(Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, (u32, i64)>>,
    max: u32,
}

impl Limiter {
    pub fn new(max: u32) -> Limiter {
        Limiter {
            failures: Mutex::default(),
            max,
        }
    }

    /// Minutes left to wait if any of `keys` is over the limit.
    pub fn check(&self, keys: &[String], now: i64) -> Option<u64> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| map.get(k))
            .filter(|(n, start)| *n >= self.max && now - start < WINDOW_SECONDS)
            .map(|(_, start)| {
                ((WINDOW_SECONDS - (now - start)) as u64)
                    .div_ceil(60)
                    .max(1)
            })
            .max()
    }

    /// Start an attempt: refused (minutes to wait) if any key is over the limit, otherwise
    /// counted against every key at once, under one lock.
    pub fn begin(&self, keys: &[String], now: i64) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let wait = keys
            .iter()
            .filter_map(|k| map.get(k))
            .filter(|(n, start)| *n >= self.max && now - start < WINDOW_SECONDS)
            .map(|(_, start)| {
                ((WINDOW_SECONDS - (now - start)) as u64)
                    .div_ceil(60)
                    .max(1)
            })
            .max();
        if let Some(minutes) = wait {
            return Err(minutes);
        }
        Self::count(&mut map, keys, now);
        Ok(())
    }

    /// Take back an attempt counted by [`Self::begin`] that turned out not to be a guess
    /// (it succeeded, or failed for another reason than a wrong secret).
    pub fn forgive(&self, keys: &[String]) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            if let Some(e) = map.get_mut(k) {
                e.0 = e.0.saturating_sub(1);
            }
        }
    }

    /// Count a failure against each key.
    pub fn fail(&self, keys: &[String], now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::count(&mut map, keys, now);
    }

    fn count(map: &mut HashMap<String, (u32, i64)>, keys: &[String], now: i64) {
        if map.len() > 100_000 {
            // Bound memory under a flood of distinct keys: drop expired windows.
            map.retain(|_, (_, start)| now - *start < WINDOW_SECONDS);
        }
        for k in keys {
            let e = map.entry(k.clone()).or_insert((0, now));
            if now - e.1 >= WINDOW_SECONDS {
                *e = (0, now);
            }
            e.0 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_when_they_start_and_successes_are_forgiven() {
        let l = Limiter::new(2);
        let k = vec!["m:1".to_owned()];
        assert!(l.begin(&k, 0).is_ok());
        assert!(l.begin(&k, 0).is_ok());
        // Two attempts in flight: a third is refused before either has failed.
        assert!(l.begin(&k, 0).is_err());
        l.forgive(&k);
        assert!(l.begin(&k, 0).is_ok());
    }

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let l = Limiter::new(3);
        let k = vec!["ip:1".to_owned()];
        for _ in 0..3 {
            assert!(l.check(&k, 100).is_none());
            l.fail(&k, 100);
        }
        assert_eq!(l.check(&k, 100), Some(15));
        assert!(l.check(&["ip:2".to_owned()], 100).is_none());
        assert!(l.check(&k, 100 + WINDOW_SECONDS).is_none());
    }
}
