//! Rate limits on guessing (DESIGN "Attempts to guess codes or passwords are rate-limited"):
//! failed registrations and logins are counted per client address and per target (mobile,
//! code) in a fixed window; past the limit, attempts are refused until the window ends.

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

    /// Count a failure against each key.
    pub fn fail(&self, keys: &[String], now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
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
