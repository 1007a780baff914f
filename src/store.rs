//! Durable state in one sled directory: logged hours, reminder
//! subscriptions, the sent-record of reminders, feedback and unanswered
//! questions. Records are JSON under a schema-version key, so a later
//! release can migrate them.

use crate::error::StoreError;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::path::Path;

pub const SCHEMA_VERSION: u32 = 1;
const SCHEMA_KEY: &[u8] = b"schema_version";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CourseKind {
    Public,
    Professional,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourEntry {
    pub kind: CourseKind,
    pub hours: f64,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatKind {
    Private,
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub chat_id: i64,
    pub kind: ChatKind,
    /// False once the chat blocked the bot (403): no more reminders.
    pub active: bool,
}

/// Delivery state of one (chat, deadline, slot) reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// Marked before sending; after a crash it is sent again (at least once).
    InFlight,
    Sent,
}

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    hours: sled::Tree,
    subs: sled::Tree,
    sent: sled::Tree,
    feedback: sled::Tree,
    unanswered: sled::Tree,
    asked: sled::Tree,
}

/// A question the bot could not answer (no names, no ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unanswered {
    pub text: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub chat: ChatKind,
}

fn add_one(old: Option<&[u8]>) -> Option<Vec<u8>> {
    let n = old
        .and_then(|o| o.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    Some((n + 1).to_be_bytes().to_vec())
}

fn count_of(v: &[u8]) -> u64 {
    v.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

fn corrupt(key: &[u8], e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: e.to_string(),
    }
}

fn decode<T: DeserializeOwned>(key: &[u8], v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| corrupt(key, e))
}

/// Every record of a tree, in key order.
fn decode_all<T: DeserializeOwned>(tree: &sled::Tree) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .map(|kv| {
            let (k, v) = kv?;
            decode(&k, &v)
        })
        .collect()
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising these plain structs to JSON cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

pub fn sent_key(chat_id: i64, deadline: chrono::NaiveDate, days_before: u32) -> Vec<u8> {
    format!("{chat_id}/{deadline}/{days_before}").into_bytes()
}

impl Store {
    /// Open (or create) the data directory. A second process on the same
    /// directory fails at once with StoreError::Locked.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Err(e) = std::fs::create_dir_all(path) {
            return Err(StoreError::Locked {
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
        // sled caches up to 1 GiB by default; the data here is a few MB.
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(16 * 1024 * 1024)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io) => StoreError::Locked {
                    path: path.to_owned(),
                    message: io.to_string(),
                },
                other => StoreError::Sled(other),
            })?;
        match db.get(SCHEMA_KEY)? {
            None => {
                db.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(v) => {
                let found = v
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| corrupt(SCHEMA_KEY, "not a u32"))?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        path: path.to_owned(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
        }
        Ok(Store {
            hours: db.open_tree("hours")?,
            subs: db.open_tree("subscriptions")?,
            sent: db.open_tree("sent")?,
            feedback: db.open_tree("feedback")?,
            unanswered: db.open_tree("unanswered")?,
            asked: db.open_tree("asked")?,
            db,
        })
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    // --- hours -------------------------------------------------------------

    pub fn hours(&self, user: i64) -> Result<Vec<HourEntry>, StoreError> {
        let key = user.to_be_bytes();
        match self.hours.get(key)? {
            Some(v) => decode(&key, &v),
            None => Ok(Vec::new()),
        }
    }

    pub fn set_hours(&self, user: i64, entries: &[HourEntry]) -> Result<(), StoreError> {
        let key = user.to_be_bytes();
        if entries.is_empty() {
            self.hours.remove(key)?;
        } else {
            self.hours.insert(key, encode(&entries))?;
        }
        self.hours.flush()?;
        Ok(())
    }

    // --- subscriptions -----------------------------------------------------

    pub fn subscription(&self, chat_id: i64) -> Result<Option<Subscription>, StoreError> {
        let key = chat_id.to_be_bytes();
        self.subs.get(key)?.map(|v| decode(&key, &v)).transpose()
    }

    pub fn put_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        self.subs.insert(s.chat_id.to_be_bytes(), encode(s))?;
        self.subs.flush()?;
        Ok(())
    }

    /// Many subscriptions in one durable write (imports, benchmarks, tests).
    pub fn put_subscriptions(&self, subs: &[Subscription]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for s in subs {
            batch.insert(&s.chat_id.to_be_bytes(), encode(s));
        }
        self.subs.apply_batch(batch)?;
        self.subs.flush()?;
        Ok(())
    }

    pub fn remove_subscription(&self, chat_id: i64) -> Result<(), StoreError> {
        self.subs.remove(chat_id.to_be_bytes())?;
        self.subs.flush()?;
        Ok(())
    }

    pub fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        decode_all(&self.subs)
    }

    /// A group upgraded to a supergroup keeps its subscription and records
    /// under the new id.
    pub fn migrate_chat(&self, old: i64, new: i64) -> Result<(), StoreError> {
        if let Some(mut s) = self.subscription(old)? {
            s.chat_id = new;
            self.subs.insert(new.to_be_bytes(), encode(&s))?;
            self.subs.remove(old.to_be_bytes())?;
        }
        let prefix = format!("{old}/");
        for kv in self.sent.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv?;
            let rest = &k[prefix.len()..];
            let mut nk = format!("{new}/").into_bytes();
            nk.extend_from_slice(rest);
            self.sent.insert(nk, v)?;
            self.sent.remove(k)?;
        }
        self.db.flush()?;
        Ok(())
    }

    // --- sent-record -------------------------------------------------------

    pub fn delivery(&self, key: &[u8]) -> Result<Option<Delivery>, StoreError> {
        self.sent.get(key)?.map(|v| decode(key, &v)).transpose()
    }

    /// Mark many keys at once, durably (one flush for the batch).
    pub fn mark(&self, keys: &[Vec<u8>], state: Delivery) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let v = encode(&state);
        for k in keys {
            batch.insert(k.as_slice(), v.clone());
        }
        self.sent.apply_batch(batch)?;
        self.sent.flush()?;
        Ok(())
    }

    /// Every key that is still in flight (sent-or-not unknown after a crash).
    pub fn in_flight(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for kv in self.sent.iter() {
            let (k, v) = kv?;
            if decode::<Delivery>(&k, &v)? == Delivery::InFlight {
                out.push(k.to_vec());
            }
        }
        Ok(out)
    }

    // --- feedback and unanswered questions ---------------------------------

    pub fn record_feedback(&self, entry: &str, helpful: bool) -> Result<(), StoreError> {
        let key = format!("{entry}/{}", if helpful { '+' } else { '-' });
        self.feedback.update_and_fetch(key.as_bytes(), add_one)?;
        Ok(())
    }

    /// (entry, helpful count, unhelpful count)
    pub fn feedback(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let mut map: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        for kv in self.feedback.iter() {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let n = count_of(&v);
            if let Some((entry, sign)) = key.rsplit_once('/') {
                let slot = map.entry(entry.to_string()).or_default();
                if sign == "+" {
                    slot.0 += n;
                } else {
                    slot.1 += n;
                }
            }
        }
        Ok(map.into_iter().map(|(e, (u, d))| (e, u, d)).collect())
    }

    pub fn record_unanswered(&self, rec: &Unanswered) -> Result<(), StoreError> {
        let id = self.db.generate_id()?;
        self.unanswered.insert(id.to_be_bytes(), encode(rec))?;
        Ok(())
    }

    pub fn unanswered(&self) -> Result<Vec<Unanswered>, StoreError> {
        decode_all(&self.unanswered)
    }

    /// Count one answered question for an entry.
    pub fn record_asked(&self, entry: &str) -> Result<(), StoreError> {
        self.asked.update_and_fetch(entry.as_bytes(), add_one)?;
        Ok(())
    }

    /// (entry, times answered), most asked first.
    pub fn asked(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut v = Vec::new();
        for kv in self.asked.iter() {
            let (k, n) = kv?;
            v.push((String::from_utf8_lossy(&k).into_owned(), count_of(&n)));
        }
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(v)
    }

    /// A chat that blocked the bot (403) gets no more reminders.
    pub fn deactivate(&self, chat_id: i64) -> Result<(), StoreError> {
        if let Some(mut s) = self.subscription(chat_id)? {
            s.active = false;
            self.put_subscription(&s)?;
        }
        Ok(())
    }

    /// Everything stored about a user: hours and their private subscription.
    pub fn forget_user(&self, user: i64) -> Result<(), StoreError> {
        self.hours.remove(user.to_be_bytes())?;
        self.subs.remove(user.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }
}
