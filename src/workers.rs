//! One worker per chat with work: a chat's messages in order, chats in
//! parallel. Shared by the long-running messengers (Telegram, DingTalk,
//! WeCom), which differ only in what a worker does with a message.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;

/// Past this many chats, the idle ones' workers are dropped (their queue
/// closes and they end).
const MAX_IDLE_CHATS: usize = 1024;

/// A chat worker's queue and how many messages it has queued or in hand.
type Queue<T> = (mpsc::UnboundedSender<T>, Arc<AtomicUsize>);

pub struct ChatWorkers<K, T> {
    /// What the workers handle, for the log ("DingTalk answers").
    what: &'static str,
    chats: HashMap<K, Queue<T>>,
    tasks: JoinSet<()>,
    /// Notified each time a worker has finished a message.
    done: Arc<Notify>,
}

impl<K: Eq + Hash, T: Send + 'static> ChatWorkers<K, T> {
    pub fn new(what: &'static str) -> ChatWorkers<K, T> {
        ChatWorkers {
            what,
            chats: HashMap::new(),
            tasks: JoinSet::new(),
            done: Arc::new(Notify::new()),
        }
    }

    /// Queue `item` for `chat`. The chat's first message starts its worker,
    /// which hands each message in turn to the function `work` makes. The
    /// item comes back when the chat's worker is gone (it ended).
    pub fn dispatch<W, F>(&mut self, chat: K, item: T, work: impl FnOnce() -> W) -> Result<(), T>
    where
        W: FnMut(T) -> F + Send + 'static,
        F: Future<Output = ()> + Send,
    {
        while let Some(r) = self.tasks.try_join_next() {
            if let Err(e) = r {
                tracing::error!(error = %e, what = self.what, "a chat worker failed");
            }
        }
        if self.chats.len() > MAX_IDLE_CHATS {
            self.chats.retain(|_, (_, n)| n.load(Ordering::SeqCst) > 0);
        }
        let (tx, n) = self.chats.entry(chat).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<T>();
            let n = Arc::new(AtomicUsize::new(0));
            let (count, done) = (n.clone(), self.done.clone());
            let mut work = work();
            self.tasks.spawn(async move {
                while let Some(item) = rx.recv().await {
                    work(item).await;
                    count.fetch_sub(1, Ordering::SeqCst);
                    done.notify_one();
                }
            });
            (tx, n)
        });
        n.fetch_add(1, Ordering::SeqCst);
        tx.send(item).map_err(|e| {
            n.fetch_sub(1, Ordering::SeqCst);
            e.0
        })
    }

    /// Until a worker finishes a message (a permit is kept if none waits).
    pub async fn handled(&self) {
        self.done.notified().await
    }

    /// Let the work in progress finish (up to `grace`); queued messages
    /// stay pending in the inbox for the next start.
    pub async fn finish(mut self, grace: Duration) {
        self.chats.clear();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                "{} still running after {grace:?}; they stay in the inbox",
                self.what
            );
            self.tasks.abort_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn a_chats_messages_in_order_and_finish_waits_for_them() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut w: ChatWorkers<&str, u32> = ChatWorkers::new("test answers");
        for (chat, i) in [("a", 1), ("b", 10), ("a", 2), ("a", 3), ("b", 11)] {
            let seen = seen.clone();
            let queued = w.dispatch(chat, i, move || {
                move |i: u32| {
                    let seen = seen.clone();
                    async move {
                        tokio::task::yield_now().await;
                        seen.lock().expect("lock").push((chat, i));
                    }
                }
            });
            assert!(queued.is_ok());
        }
        w.handled().await;
        w.finish(Duration::from_secs(5)).await;
        let seen = seen.lock().expect("lock").clone();
        let of = |c: &str| {
            seen.iter()
                .filter(|(k, _)| *k == c)
                .map(|(_, i)| *i)
                .collect::<Vec<_>>()
        };
        assert_eq!(of("a"), vec![1, 2, 3]);
        assert_eq!(of("b"), vec![10, 11]);
    }
}
