//! Rate limits kept on our side, as sliding windows ("at most N messages
//! in any W"), which is how Telegram and the robot platforms state them.
//! One [`Limiter`] per destination kind: an optional overall window plus
//! windows per key (chat, robot). Time comes from the injected clock, and
//! waiting from the injected sleeper, so tests run a minute of limits in
//! no time; a wait is cut short by the stop signal.

use crate::clock::{Clock, Sleeper, Stop};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (window, most messages in it).
pub type Limits = [(Duration, usize)];

/// Send times of one key (or of everything).
#[derive(Debug, Default)]
pub struct Window {
    sent: VecDeque<DateTime<Utc>>,
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Window {
    /// How long to wait before one more message may go at `now`.
    pub fn wait(&self, limits: &Limits, now: DateTime<Utc>) -> Option<Duration> {
        let mut longest = None;
        for &(window, max) in limits {
            let w = chrono_of(window);
            let in_window: Vec<&DateTime<Utc>> =
                self.sent.iter().filter(|t| **t > now - w).collect();
            if max > 0 && in_window.len() >= max {
                // Wait until the oldest message that counts leaves the window.
                let oldest = *in_window[in_window.len() - max];
                let until = (oldest + w - now).to_std().unwrap_or(Duration::ZERO)
                    + Duration::from_millis(1);
                longest = Some(longest.map_or(until, |l: Duration| l.max(until)));
            }
        }
        longest
    }

    /// Record a send at `now`, forgetting what no window of `limits` sees.
    pub fn record(&mut self, now: DateTime<Utc>, limits: &Limits) {
        self.sent.push_back(now);
        let longest = limits.iter().map(|l| l.0).max().unwrap_or_default();
        let horizon = now - chrono_of(longest);
        while self.sent.front().is_some_and(|t| *t <= horizon) {
            self.sent.pop_front();
        }
    }

    /// Nothing in any window of `limits` at `now`.
    fn idle(&self, limits: &Limits, now: DateTime<Utc>) -> bool {
        let longest = limits.iter().map(|l| l.0).max().unwrap_or_default();
        self.sent
            .back()
            .is_none_or(|t| *t <= now - chrono_of(longest))
    }
}

/// The stop signal fired while waiting; nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

#[derive(Default)]
struct State {
    /// When the next paced message may go (on a fixed grid, so waking a
    /// little late does not slow the pace down).
    next_paced: Option<DateTime<Utc>>,
    overall: Window,
    keys: HashMap<String, Window>,
    /// Keys (or "" for all) told to wait by the platform (429) until then.
    paused: HashMap<String, DateTime<Utc>>,
}

pub struct Limiter {
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    overall: Vec<(Duration, usize)>,
    /// At most one message per this interval overall, evenly.
    pace: Option<Duration>,
    state: Mutex<State>,
}

/// Per-key windows are dropped once idle, beyond this many keys.
const KEYS_KEPT: usize = 4096;

impl Limiter {
    pub fn new(clock: Arc<dyn Clock>, sleeper: Arc<dyn Sleeper>, overall: &Limits) -> Limiter {
        Limiter {
            clock,
            sleeper,
            overall: overall.to_vec(),
            pace: None,
            state: Mutex::new(State::default()),
        }
    }

    /// Also space all messages evenly, one per `interval`.
    pub fn paced(mut self, interval: Duration) -> Limiter {
        self.pace = Some(interval);
        self
    }

    /// Wait until one more message to `key` fits both the overall windows
    /// and `per_key`, then count it.
    pub async fn acquire(&self, key: &str, per_key: &Limits, stop: &Stop) -> Result<(), Cancelled> {
        loop {
            let wait = {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let now = self.clock.now();
                let paused = [st.paused.get(key), st.paused.get("")]
                    .into_iter()
                    .flatten()
                    .filter(|t| **t > now)
                    .max()
                    .and_then(|t| (*t - now).to_std().ok());
                let keyed = st.keys.get(key).and_then(|w| w.wait(per_key, now));
                let paced = st
                    .next_paced
                    .filter(|t| *t > now)
                    .and_then(|t| (t - now).to_std().ok());
                let wait = [paused, st.overall.wait(&self.overall, now), keyed, paced]
                    .into_iter()
                    .flatten()
                    .max();
                if wait.is_none() {
                    if let Some(p) = self.pace {
                        let p = chrono_of(p);
                        // On the grid when a little late; after a pause,
                        // from now (no burst to catch up).
                        st.next_paced = Some(match st.next_paced {
                            Some(t) if now - t < p => t + p,
                            _ => now + p,
                        });
                    }
                    st.overall.record(now, &self.overall);
                    st.keys
                        .entry(key.to_string())
                        .or_default()
                        .record(now, per_key);
                    if st.keys.len() > KEYS_KEPT {
                        st.keys.retain(|_, w| !w.idle(per_key, now));
                        st.paused.retain(|_, t| *t > now);
                    }
                    return Ok(());
                }
                wait
            };
            if let Some(d) = wait {
                tokio::select! {
                    // A stop already given wins over a wait that is over.
                    biased;
                    _ = stop.wait() => return Err(Cancelled),
                    _ = self.sleeper.sleep(d) => {}
                }
            }
        }
    }

    /// The platform said to wait (429 retry_after): nothing more goes to
    /// `key` ("" for every key) before then.
    pub fn pause(&self, key: &str, d: Duration) {
        let until = self.clock.now() + chrono_of(d);
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let e = st.paused.entry(key.to_string()).or_insert(until);
        *e = (*e).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const MINUTE_20: &Limits = &[(Duration::from_secs(60), 20)];

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-12-01T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn window_allows_the_limit_then_waits_for_the_oldest() {
        let mut w = Window::default();
        for i in 0..20 {
            let t = t0() + chrono::Duration::seconds(i);
            assert_eq!(w.wait(MINUTE_20, t), None);
            w.record(t, MINUTE_20);
        }
        let wait = w
            .wait(MINUTE_20, t0() + chrono::Duration::seconds(20))
            .unwrap();
        assert_eq!(wait, Duration::from_secs(40) + Duration::from_millis(1));
    }

    #[tokio::test]
    async fn overall_and_per_key_windows_both_hold() {
        let clock = Arc::new(ManualClock::new(t0()));
        let l = Limiter::new(
            clock.clone(),
            Arc::new(clock.clone()),
            &[(Duration::from_secs(1), 3)],
        );
        let per_chat: &Limits = &[(Duration::from_secs(1), 1)];
        let stop = Stop::never();
        let mut times = Vec::new();
        for key in ["a", "b", "c", "d", "a"] {
            l.acquire(key, per_chat, &stop).await.unwrap();
            times.push((key, clock.now() - t0()));
        }
        // Three go at once; the fourth waits for the overall window, and
        // the second "a" for its own.
        assert!(times[..3].iter().all(|(_, d)| d.is_zero()), "{times:?}");
        assert!(times[3].1 >= chrono::Duration::seconds(1), "{times:?}");
        assert!(times[4].1 >= chrono::Duration::seconds(1), "{times:?}");
        l.pause("", Duration::from_secs(30));
        let before = clock.now();
        l.acquire("e", per_chat, &stop).await.unwrap();
        assert!(clock.now() - before >= chrono::Duration::seconds(30));
    }

    #[tokio::test]
    async fn pacing_keeps_an_even_grid() {
        let clock = Arc::new(ManualClock::new(t0()));
        let l = Limiter::new(clock.clone(), Arc::new(clock.clone()), &[])
            .paced(Duration::from_millis(40));
        let stop = Stop::never();
        for i in 0..10 {
            l.acquire(&i.to_string(), &[], &stop).await.unwrap();
            // Waking 3 ms late does not push the grid back.
            clock.advance(chrono::Duration::milliseconds(3));
        }
        // Ten on a 40 ms grid, the first at once: the tenth at 360 ms.
        l.acquire("x", &[], &stop).await.unwrap();
        assert_eq!(clock.now() - t0(), chrono::Duration::milliseconds(400));
        let stopped = Stop::new();
        stopped.0.stop();
        assert_eq!(l.acquire("y", &[], &stopped.1).await, Err(Cancelled));
    }
}
