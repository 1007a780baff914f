//! The durable inbox: every incoming update is stored (and flushed) before
//! the platform is told it arrived, processed, then marked done. After a
//! crash the pending ones are processed on restart; an update delivered
//! twice (the platform resends what it was not told about) is stored once,
//! keyed by (channel, the platform's id): Telegram's update_id today,
//! DingTalk's msgId, Feishu's message_id or WeCom's req_id later.
//!
//! Pending updates are kept in arrival order; done ones keep only their
//! key (for deduplication) until [`Inbox::prune`] drops them.

use crate::error::StoreError;
use crate::store::{Store, decode, encode};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum State {
    Pending,
    Done,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    state: State,
    received: chrono::DateTime<chrono::Utc>,
    seq: u64,
    /// The update as received; dropped once done.
    payload: Option<serde_json::Value>,
}

/// A pending update.
#[derive(Debug, Clone)]
pub struct Item {
    /// The platform's id of the update.
    pub id: String,
    /// Arrival order.
    pub seq: u64,
    pub payload: serde_json::Value,
}

impl Item {
    /// "channel/id": names the operation, so a change it made is not made
    /// twice when it is processed again after a crash.
    pub fn op(&self, channel: &str) -> String {
        format!("{channel}/{}", self.id)
    }
}

pub struct Inbox {
    store: Store,
    channel: String,
    pending: AtomicUsize,
}

impl Inbox {
    pub fn open(store: &Store, channel: &str) -> Result<Inbox, StoreError> {
        let inbox = Inbox {
            store: store.clone(),
            channel: channel.to_string(),
            pending: AtomicUsize::new(0),
        };
        let n = store.inbox_queue.scan_prefix(inbox.queue_prefix()).count();
        inbox.pending.store(n, Ordering::SeqCst);
        Ok(inbox)
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    fn key(&self, id: &str) -> Vec<u8> {
        format!("{}/{id}", self.channel).into_bytes()
    }

    fn queue_prefix(&self) -> Vec<u8> {
        let mut p = self.channel.as_bytes().to_vec();
        p.push(0);
        p
    }

    fn queue_key(&self, seq: u64) -> Vec<u8> {
        let mut k = self.queue_prefix();
        k.extend_from_slice(&seq.to_be_bytes());
        k
    }

    /// Store updates durably; ids seen before (pending or done) are
    /// skipped. Returns the new ones, in order.
    pub fn put(&self, updates: Vec<(String, serde_json::Value)>) -> Result<Vec<Item>, StoreError> {
        use sled::Transactional;
        if updates.is_empty() {
            // Idle long polling comes back empty several times a second.
            return Ok(Vec::new());
        }
        let now = chrono::Utc::now();
        let new = (&self.store.inbox, &self.store.inbox_queue)
            .transaction(|(inbox, queue)| {
                let mut new = Vec::new();
                for (id, payload) in &updates {
                    let key = self.key(id);
                    if inbox.get(&key)?.is_some() || new.iter().any(|i: &Item| &i.id == id) {
                        continue;
                    }
                    let seq = inbox.generate_id()?;
                    let rec = Record {
                        state: State::Pending,
                        received: now,
                        seq,
                        payload: Some(payload.clone()),
                    };
                    inbox.insert(key, encode(&rec))?;
                    queue.insert(self.queue_key(seq), id.as_bytes())?;
                    new.push(Item {
                        id: id.clone(),
                        seq,
                        payload: payload.clone(),
                    });
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(new)
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Abort(e) => e,
                sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
            })?;
        // Durable before the caller confirms them to the platform.
        self.store.db.flush()?;
        self.pending.fetch_add(new.len(), Ordering::SeqCst);
        Ok(new)
    }

    /// Pending updates after `after` (a seq), oldest first, at most `limit`.
    pub fn pending(&self, after: Option<u64>, limit: usize) -> Result<Vec<Item>, StoreError> {
        let start = match after {
            Some(s) => self.queue_key(s + 1),
            None => self.queue_prefix(),
        };
        let prefix = self.queue_prefix();
        let mut out = Vec::new();
        for kv in self.store.inbox_queue.range(start..) {
            let (qk, id) = kv?;
            if !qk.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let id = String::from_utf8_lossy(&id).into_owned();
            let key = self.key(&id);
            let Some(v) = self.store.inbox.get(&key)? else {
                continue;
            };
            let rec: Record = decode(&key, &v)?;
            if let (State::Pending, Some(payload)) = (rec.state, rec.payload) {
                out.push(Item {
                    id,
                    seq: rec.seq,
                    payload,
                });
            }
        }
        Ok(out)
    }

    /// How many are stored and not done.
    pub fn pending_count(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Processed: keep only the id. Not flushed here: sled flushes within
    /// half a second, and an update processed again after a crash changes
    /// nothing twice (its operation id is recorded with its change).
    pub fn done(&self, item: &Item) -> Result<(), StoreError> {
        use sled::Transactional;
        let key = self.key(&item.id);
        let rec = encode(&Record {
            state: State::Done,
            received: chrono::Utc::now(),
            seq: item.seq,
            payload: None,
        });
        let queue_key = self.queue_key(item.seq);
        // Both or neither: a record left pending without its queue entry
        // would never be handled nor pruned.
        (&self.store.inbox, &self.store.inbox_queue)
            .transaction(|(inbox, queue)| {
                queue.remove(queue_key.as_slice())?;
                inbox.insert(key.as_slice(), rec.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Abort(()) => StoreError::Corrupt {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    message: "aborted".into(),
                },
                sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
            })?;
        let _ = self
            .pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        Ok(())
    }

    /// Forget done updates older than `keep` (and the operations they
    /// applied): the platform will not send them again by then.
    pub fn prune(&self, keep: chrono::Duration) -> Result<usize, StoreError> {
        let cutoff = chrono::Utc::now() - keep;
        let mut n = 0;
        let prefix = format!("{}/", self.channel);
        for kv in self.store.inbox.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv?;
            let rec: Record = decode(&k, &v)?;
            if rec.state == State::Done && rec.received < cutoff {
                self.store.inbox.remove(k)?;
                n += 1;
            }
        }
        self.store.prune_applied(keep)?;
        Ok(n)
    }

    /// The highest numeric id stored (Telegram: the next offset is one
    /// more).
    pub fn max_numeric_id(&self) -> Result<Option<i64>, StoreError> {
        let prefix = format!("{}/", self.channel);
        let mut max = None;
        for k in self.store.inbox.scan_prefix(prefix.as_bytes()).keys() {
            let k = k?;
            if let Some(n) = std::str::from_utf8(&k[prefix.len()..])
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
            {
                max = max.max(Some(n));
            }
        }
        Ok(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_once_pending_in_order_done_kept_for_dedup() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let inbox = Inbox::open(&s, "telegram").unwrap();
        let ups = |ids: &[i64]| {
            ids.iter()
                .map(|i| (i.to_string(), json!({"update_id": i})))
                .collect()
        };
        assert_eq!(inbox.put(ups(&[3, 1, 2])).unwrap().len(), 3);
        assert_eq!(inbox.put(ups(&[2, 4, 4])).unwrap().len(), 1);
        let p = inbox.pending(None, 10).unwrap();
        let ids: Vec<&str> = p.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["3", "1", "2", "4"]);
        assert_eq!(inbox.pending_count(), 4);
        inbox.done(&p[0]).unwrap();
        assert_eq!(
            inbox.put(ups(&[3])).unwrap().len(),
            0,
            "done ids are not stored again"
        );
        let rest = inbox.pending(Some(p[0].seq), 10).unwrap();
        assert_eq!(rest.len(), 3);
        assert_eq!(inbox.pending(Some(p[1].seq), 1).unwrap()[0].id, "2");
        assert_eq!(inbox.max_numeric_id().unwrap(), Some(4));
        drop(inbox);
        // Another channel's ids do not collide, and counts survive reopening.
        let other = Inbox::open(&s, "dingtalk").unwrap();
        assert_eq!(other.put(ups(&[3])).unwrap().len(), 1);
        assert_eq!(Inbox::open(&s, "telegram").unwrap().pending_count(), 3);
    }
}
