//! Time as a dependency: production reads the system clock, tests move a
//! manual one, so a whole reminder season runs in milliseconds.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Waiting, as a dependency: tokio's timer in production; with a manual
/// clock, waiting moves the clock and returns at once.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, d: std::time::Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: std::time::Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }
}

impl Sleeper for Arc<ManualClock> {
    fn sleep(&self, d: std::time::Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.advance(chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX));
        Box::pin(std::future::ready(()))
    }
}

/// A shutdown signal: waits (rate limits, backoff, long polling) end early
/// when it fires, and loops check it between steps.
#[derive(Clone, Debug)]
pub struct Stop(tokio::sync::watch::Receiver<bool>);

/// Fires a [`Stop`].
#[derive(Debug)]
pub struct StopHandle(tokio::sync::watch::Sender<bool>);

impl StopHandle {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Stop {
    pub fn new() -> (StopHandle, Stop) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (StopHandle(tx), Stop(rx))
    }

    /// A signal that never fires.
    pub fn never() -> Stop {
        Stop::new().1
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the signal fired (never, if its handle is gone
    /// without firing).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        loop {
            if *rx.borrow_and_update() {
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Sleep for `d` unless the signal fires first; true if it fired.
    pub async fn sleep(&self, d: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => self.is_set(),
            _ = self.wait() => true,
        }
    }
}
