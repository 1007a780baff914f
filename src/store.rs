//! Durable state in one sled directory: logged hours, reminder
//! subscriptions, the sent-record of reminders, votes, destination status,
//! unanswered questions, and the inbox of updates (see [`crate::inbox`]).
//! Records are JSON under a schema-version key, so a later release can
//! migrate them.
//!
//! Every change of a record that matters is atomic: a sled transaction
//! (read, change and write in one step, retried on conflict) or a batch.
//! Each change also counts one in a change counter kept inside the store,
//! and after every durable flush that count is copied to a marker file
//! beside sled's files. sled silently opens a truncated or garbled log as
//! the part before the damage (even as an empty store); a count below the
//! marker's, or an empty store beside a marker, is refused at open with a
//! message naming the directory and how to recover.

use crate::error::StoreError;
use crate::identity::Identity;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// 2: delivery records may be `Trying` / `Failed`, votes are per user.
/// 3: records keyed by identity (`tg:42`, `term:local`), hours per guide
/// year (see [`crate::migrate`]).
pub const SCHEMA_VERSION: u32 = 3;
const SCHEMA_KEY: &[u8] = b"schema_version";
/// Count of changes to kept records, in the default tree.
const CHANGES_KEY: &[u8] = b"changes";
/// The marker beside sled's files: the change count last known durable.
pub const MARKER_FILE: &str = "jxjy-state.json";
/// The marker's fixed size (its JSON is padded with spaces).
const MARKER_BYTES: usize = 128;
/// Where backups are written and looked for, inside the data directory.
pub const BACKUP_DIR: &str = "backups";

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
    pub chat: Identity,
    pub kind: ChatKind,
    /// False once the chat blocked the bot (403) or kept refusing
    /// reminders: no more reminders until `/remind on`.
    pub active: bool,
}

/// Delivery state of one (destination, deadline, slot) reminder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// Written by schema 1: an attempt whose outcome is unknown; read as
    /// `Trying` with the attempt in flight.
    InFlight,
    Sent,
    /// Attempted, not known to have arrived.
    Trying(Attempts),
    /// Given up, with the reason (shown by `stats`).
    Failed(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    /// Marked before a request and cleared after its answer: still true
    /// when the process died with the request in flight.
    pub in_flight: bool,
    /// Attempts whose outcome is unknown (a crash or a timeout): each may
    /// have arrived, so each allows at most one more copy.
    pub unknown: u8,
    /// Attempts that certainly failed.
    pub errors: u32,
    pub last_error: Option<String>,
}

/// A destination's standing: consecutive refusals, and whether it was
/// given up (stats list these with the reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestStatus {
    pub failures: u32,
    pub reason: String,
    pub since: chrono::DateTime<chrono::Utc>,
    pub failed: bool,
    /// For robots: a digest of the URL and secret; a corrected jxjy.toml
    /// changes it and clears the failure.
    pub fingerprint: Option<String>,
}

/// A question the bot could not answer, or whose answer got 👎 (no
/// names, no ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unanswered {
    pub text: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub chat: ChatKind,
    /// The entry whose answer got 👎 for this question; None: no answer.
    /// (Absent in records written before it existed.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disliked: Option<String>,
}

/// How a question was met, for the per-day counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayOutcome {
    Answered,
    /// Choices offered.
    Candidates,
    Declined,
}

impl DayOutcome {
    fn name(self) -> &'static str {
        match self {
            DayOutcome::Answered => "answered",
            DayOutcome::Candidates => "candidates",
            DayOutcome::Declined => "declined",
        }
    }
}

/// One day's questions by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub answered: u64,
    pub candidates: u64,
    pub declined: u64,
}

/// The question last answered (or offered choices) in a chat, so a 👎 on
/// its answer can name the question: one per chat, overwritten.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LastQuestion {
    /// The entry answered; None while only choices were offered.
    entry: Option<String>,
    text: String,
}

/// A teacher's logged hours, per guide year (the season each was logged in).
pub type YearHours = std::collections::BTreeMap<i32, Vec<HourEntry>>;

/// The outcome of [`Store::update_hours`].
#[derive(Debug, Clone, PartialEq)]
pub enum HoursChange<T> {
    /// The change was applied; the entries after it.
    Changed(T, Vec<HourEntry>),
    /// The change declined (e.g. a correction below zero); the entries.
    Unchanged(Vec<HourEntry>),
    /// This operation was applied before (an update processed again after
    /// a crash); nothing changed now. The entries.
    Replayed(Vec<HourEntry>),
}

/// What a vote did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    New,
    Changed,
    Same,
}

#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    format: u32,
    changes: u64,
    at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    pub(crate) db: sled::Db,
    pub(crate) hours: sled::Tree,
    pub(crate) subs: sled::Tree,
    pub(crate) sent: sled::Tree,
    /// Anonymous 👍/👎 counts written by schema 1 (kept, added to votes).
    pub(crate) feedback: sled::Tree,
    /// (user, entry) -> helpful: one vote per user per answer.
    pub(crate) votes: sled::Tree,
    pub(crate) unanswered: sled::Tree,
    pub(crate) asked: sled::Tree,
    pub(crate) dests: sled::Tree,
    /// Named counters for stats (answers that finally failed...).
    pub(crate) counters: sled::Tree,
    /// Operations (update ids) whose change was applied: replays skip.
    pub(crate) applied: sled::Tree,
    pub(crate) inbox: sled::Tree,
    pub(crate) inbox_queue: sled::Tree,
    /// Chat -> the question last answered there ([`LastQuestion`]); not
    /// backed up: it only links a later 👎 to its question.
    last_question: sled::Tree,
    marker_lock: Arc<Mutex<()>>,
}

fn add_one(old: Option<&[u8]>) -> Option<Vec<u8>> {
    Some(
        (count_of(old.unwrap_or_default()) + 1)
            .to_be_bytes()
            .to_vec(),
    )
}

pub(crate) fn count_of(v: &[u8]) -> u64 {
    v.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

fn corrupt(key: &[u8], e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: e.to_string(),
    }
}

pub(crate) fn decode<T: DeserializeOwned>(key: &[u8], v: &[u8]) -> Result<T, StoreError> {
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

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising these plain structs to JSON cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

/// A transaction's error as the store's.
fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn tx_decode<T: DeserializeOwned>(key: &[u8], v: &[u8]) -> TxResult<T> {
    decode(key, v).map_err(ConflictableTransactionError::Abort)
}

/// One more change, inside a transaction over the default tree.
fn tx_bump(meta: &TransactionalTree) -> TxResult<()> {
    let n = meta.get(CHANGES_KEY)?.map_or(0, |v| count_of(&v));
    meta.insert(CHANGES_KEY, &(n + 1).to_be_bytes())?;
    Ok(())
}

/// Sent-record key of a chat's reminder ("tg:42/2024-12-31/7").
pub fn sent_key(chat: &Identity, deadline: chrono::NaiveDate, days_before: u32) -> Vec<u8> {
    format!("{chat}/{deadline}/{days_before}").into_bytes()
}

/// A user's vote on an entry: identity, a 0 byte, the entry id.
pub(crate) fn vote_key(user: &Identity, entry: &str) -> Vec<u8> {
    let mut k = vote_prefix(user);
    k.extend_from_slice(entry.as_bytes());
    k
}

fn vote_prefix(user: &Identity) -> Vec<u8> {
    let mut k = user.key();
    k.push(0);
    k
}

/// (user, entry) of a vote key.
pub(crate) fn split_vote_key(k: &[u8]) -> Option<(Identity, String)> {
    let at = k.iter().position(|&b| b == 0)?;
    let user = std::str::from_utf8(&k[..at]).ok()?.parse().ok()?;
    Some((user, String::from_utf8_lossy(&k[at + 1..]).into_owned()))
}

/// sled's files in a data directory (what `restore` moves aside).
pub(crate) fn is_sled_file(name: &str) -> bool {
    name == "conf" || name == "db" || name == "blobs" || name.starts_with("snap.")
}

impl Store {
    /// Open (or create) the data directory. A second process on the same
    /// directory fails at once with [`StoreError::Locked`]; a store that
    /// lost data it had is refused with [`StoreError::Damaged`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let marker = read_marker(path);
        let store = Store::open_unchecked(path)?;
        store.check(marker)?;
        store.sync()?;
        Ok(store)
    }

    /// Open without the consistency check: for `restore`, which replaces
    /// the content anyway.
    pub(crate) fn open_unchecked(path: &Path) -> Result<Store, StoreError> {
        if let Err(e) = std::fs::create_dir_all(path) {
            return Err(StoreError::NotWritable {
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
        // sled caches up to 1 GiB by default; the data here is a few MB.
        // Unflushed writes (updates marked done) reach the disk within
        // 100 ms: after a kill, at most that much work is handled again.
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(16 * 1024 * 1024)
            .flush_every_ms(Some(100))
            .open()
            .map_err(|e| open_error(path, e))?;
        Ok(Store {
            path: path.to_owned(),
            hours: db.open_tree("hours")?,
            subs: db.open_tree("subscriptions")?,
            sent: db.open_tree("sent")?,
            feedback: db.open_tree("feedback")?,
            votes: db.open_tree("votes")?,
            unanswered: db.open_tree("unanswered")?,
            asked: db.open_tree("asked")?,
            dests: db.open_tree("destinations")?,
            counters: db.open_tree("counters")?,
            applied: db.open_tree("applied")?,
            inbox: db.open_tree("inbox")?,
            inbox_queue: db.open_tree("inbox_queue")?,
            last_question: db.open_tree("last_question")?,
            db,
            marker_lock: Arc::new(Mutex::new(())),
        })
    }

    /// Schema version, then the change count against the marker, then that
    /// every kept record decodes.
    fn check(&self, marker: Result<Option<Marker>, String>) -> Result<(), StoreError> {
        let marker = match marker {
            Ok(m) => m,
            Err(message) => {
                // A marker cut by a power loss says nothing; sled's own
                // data is still checked below.
                tracing::warn!(path = %self.path.display(), %message, "unreadable marker file; ignored");
                None
            }
        };
        let damaged = |reason: String| StoreError::Damaged {
            path: self.path.clone(),
            reason,
            backup: newest_backup(&self.path),
        };
        // The version first (a newer store is never touched), then the
        // damage checks on the records as found, then the migration.
        let found = match self.db.get(SCHEMA_KEY)? {
            None => {
                if let Some(m) = &marker {
                    return Err(damaged(format!(
                        "it opened empty, but {MARKER_FILE} says it held {} changes (sled's log is missing, truncated or garbled)",
                        m.changes
                    )));
                }
                self.db.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
                SCHEMA_VERSION
            }
            Some(v) => {
                let found = v
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| corrupt(SCHEMA_KEY, "not a u32"))?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        path: self.path.clone(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                found
            }
        };
        let changes = self.changes()?;
        if let Some(m) = &marker
            && changes < m.changes
        {
            return Err(damaged(format!(
                "it holds {changes} changes, but {MARKER_FILE} says {} were stored (sled's log is truncated or garbled)",
                m.changes
            )));
        }
        for tree in [&self.hours, &self.subs, &self.sent, &self.dests] {
            for kv in tree.iter() {
                let (k, v) = kv.map_err(|e| damaged(e.to_string()))?;
                if serde_json::from_slice::<serde::de::IgnoredAny>(&v).is_err() {
                    return Err(damaged(format!(
                        "record {} in {} is not readable",
                        String::from_utf8_lossy(&k),
                        String::from_utf8_lossy(&tree.name())
                    )));
                }
            }
        }
        if found < SCHEMA_VERSION {
            // 1 -> 2 changed no record; 2 -> 3 re-keys them.
            crate::migrate::to_v3(self)?;
            self.db.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            self.bump()?;
        }
        Ok(())
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .db
            .get(SCHEMA_KEY)?
            .and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes))
            .unwrap_or(0))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes to kept records so far.
    pub fn changes(&self) -> Result<u64, StoreError> {
        Ok(self.db.get(CHANGES_KEY)?.map_or(0, |v| count_of(&v)))
    }

    fn bump(&self) -> Result<(), StoreError> {
        self.db.update_and_fetch(CHANGES_KEY, add_one)?;
        Ok(())
    }

    /// Durable: flush sled, then record the change count in the marker.
    pub fn sync(&self) -> Result<(), StoreError> {
        // Read before the flush: the marker never claims more than sled
        // has made durable.
        let changes = self.changes()?;
        self.db.flush()?;
        self.write_marker(changes)
    }

    /// Same as [`Store::sync`] (kept for callers that flush at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.sync()
    }

    fn write_marker(&self, changes: u64) -> Result<(), StoreError> {
        use std::io::{Seek, Write};
        let _guard = self.marker_lock.lock().unwrap_or_else(|p| p.into_inner());
        let marker = Marker {
            format: 1,
            changes,
            at: chrono::Utc::now(),
        };
        // Overwritten in place, padded to a fixed width with spaces (valid
        // JSON): no rename or truncation, which ext4 turns into a flush of
        // its own on every change. Not fsynced: after a kill the page cache
        // keeps it; one torn by a power cut reads as unreadable and only
        // weakens the check.
        let mut text = encode(&marker);
        text.resize(MARKER_BYTES.max(text.len()), b' ');
        let path = self.path.join(MARKER_FILE);
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .and_then(|mut f| {
                f.seek(std::io::SeekFrom::Start(0))?;
                f.write_all(&text)
            })
            .map_err(|e| StoreError::NotWritable {
                path: path.clone(),
                message: e.to_string(),
            })
    }

    /// Set the change count (restore) and record it.
    pub(crate) fn set_changes(&self, n: u64) -> Result<(), StoreError> {
        self.db.insert(CHANGES_KEY, &n.to_be_bytes())?;
        self.sync()
    }

    // --- hours -------------------------------------------------------------

    /// A teacher's entries of one guide year.
    pub fn hours(&self, user: &Identity, year: i32) -> Result<Vec<HourEntry>, StoreError> {
        Ok(self.hour_years(user)?.remove(&year).unwrap_or_default())
    }

    /// A teacher's entries, every year.
    pub fn hour_years(&self, user: &Identity) -> Result<YearHours, StoreError> {
        let key = user.key();
        match self.hours.get(&key)? {
            Some(v) => decode(&key, &v),
            None => Ok(YearHours::new()),
        }
    }

    /// Read, change and write a teacher's entries of one year in one
    /// transaction, so concurrent changes never overwrite each other.
    /// `op` names the operation (e.g. the update that asked for it): an
    /// operation applied before is not applied again. `change` may run
    /// more than once (the transaction retries on conflict) and returns
    /// None to decline.
    pub fn update_hours<T>(
        &self,
        user: &Identity,
        year: i32,
        op: Option<&str>,
        change: impl Fn(&mut Vec<HourEntry>) -> Option<T>,
    ) -> Result<HoursChange<T>, StoreError> {
        let key = user.key();
        let now = chrono::Utc::now();
        let result = (&self.hours, &self.applied, &*self.db)
            .transaction(|(hours, applied, meta)| {
                let mut all: YearHours = match hours.get(&key)? {
                    Some(v) => tx_decode(&key, &v)?,
                    None => YearHours::new(),
                };
                let mut entries = all.remove(&year).unwrap_or_default();
                if let Some(op) = op
                    && applied.get(op.as_bytes())?.is_some()
                {
                    return Ok(HoursChange::Replayed(entries));
                }
                let Some(value) = change(&mut entries) else {
                    return Ok(HoursChange::Unchanged(entries));
                };
                if !entries.is_empty() {
                    all.insert(year, entries.clone());
                }
                if all.is_empty() {
                    hours.remove(key.as_slice())?;
                } else {
                    hours.insert(key.as_slice(), encode(&all))?;
                }
                if let Some(op) = op {
                    applied.insert(op.as_bytes(), encode(&now))?;
                }
                tx_bump(meta)?;
                Ok(HoursChange::Changed(value, entries))
            })
            .map_err(tx_error)?;
        if matches!(result, HoursChange::Changed(..)) {
            self.sync()?;
        }
        Ok(result)
    }

    /// Replace a teacher's entries of one year (imports, tests).
    pub fn set_hours(
        &self,
        user: &Identity,
        year: i32,
        entries: &[HourEntry],
    ) -> Result<(), StoreError> {
        let entries = entries.to_vec();
        self.update_hours(user, year, None, |e| {
            *e = entries.clone();
            Some(())
        })?;
        Ok(())
    }

    // --- subscriptions -----------------------------------------------------

    pub fn subscription(&self, chat: &Identity) -> Result<Option<Subscription>, StoreError> {
        let key = chat.key();
        self.subs.get(&key)?.map(|v| decode(&key, &v)).transpose()
    }

    /// Read, change and write one subscription atomically; `change` gets
    /// the current one (or None) and returns the new one (None removes).
    pub fn update_subscription(
        &self,
        chat: &Identity,
        change: impl Fn(Option<Subscription>) -> Option<Subscription>,
    ) -> Result<Option<Subscription>, StoreError> {
        let key = chat.key();
        let after = (&self.subs, &*self.db)
            .transaction(|(subs, meta)| {
                let before: Option<Subscription> = match subs.get(&key)? {
                    Some(v) => Some(tx_decode(&key, &v)?),
                    None => None,
                };
                let after = change(before.clone());
                if after != before {
                    match &after {
                        Some(s) => subs.insert(key.as_slice(), encode(s))?,
                        None => subs.remove(key.as_slice())?,
                    };
                    tx_bump(meta)?;
                }
                Ok(after)
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(after)
    }

    pub fn put_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        let s = s.clone();
        self.update_subscription(&s.chat.clone(), |_| Some(s.clone()))?;
        Ok(())
    }

    /// Many subscriptions in one durable write (imports, benchmarks, tests).
    pub fn put_subscriptions(&self, subs: &[Subscription]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for s in subs {
            batch.insert(s.chat.key(), encode(s));
        }
        self.subs.apply_batch(batch)?;
        self.bump()?;
        self.sync()
    }

    pub fn remove_subscription(&self, chat: &Identity) -> Result<(), StoreError> {
        self.update_subscription(chat, |_| None)?;
        Ok(())
    }

    pub fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        decode_all(&self.subs)
    }

    /// Subscriptions after `after`, in key order, at most `limit`:
    /// delivery reads them a batch at a time.
    pub fn subscriptions_after(
        &self,
        after: Option<&Identity>,
        limit: usize,
    ) -> Result<Vec<Subscription>, StoreError> {
        use std::ops::Bound;
        let start = match after {
            Some(a) => Bound::Excluded(a.key()),
            None => Bound::Unbounded,
        };
        self.subs
            .range::<Vec<u8>, _>((start, Bound::Unbounded))
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    /// A group upgraded to a supergroup keeps its subscription and records
    /// under the new id.
    pub fn migrate_chat(&self, old: &Identity, new: &Identity) -> Result<(), StoreError> {
        let (ok, nk) = (old.key(), new.key());
        (&self.subs, &*self.db)
            .transaction(|(subs, meta)| {
                if let Some(v) = subs.get(&ok)? {
                    let mut s: Subscription = tx_decode(&ok, &v)?;
                    s.chat = new.clone();
                    subs.insert(nk.as_slice(), encode(&s))?;
                    subs.remove(ok.as_slice())?;
                    tx_bump(meta)?;
                }
                Ok(())
            })
            .map_err(tx_error)?;
        let prefix = format!("{old}/");
        let mut batch = sled::Batch::default();
        for kv in self.sent.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv?;
            let mut nk = format!("{new}/").into_bytes();
            nk.extend_from_slice(&k[prefix.len()..]);
            batch.insert(nk, v);
            batch.remove(k);
        }
        self.sent.apply_batch(batch)?;
        self.bump()?;
        self.sync()
    }

    /// A chat that blocked the bot (403) gets no more reminders.
    pub fn deactivate(&self, chat: &Identity) -> Result<(), StoreError> {
        self.update_subscription(chat, |s| s.map(|s| Subscription { active: false, ..s }))?;
        Ok(())
    }

    // --- sent-record -------------------------------------------------------

    pub fn delivery(&self, key: &[u8]) -> Result<Option<Delivery>, StoreError> {
        self.sent.get(key)?.map(|v| decode(key, &v)).transpose()
    }

    /// Mark many keys at once, durably (one flush for the batch).
    pub fn mark(&self, keys: &[Vec<u8>], state: Delivery) -> Result<(), StoreError> {
        let v = encode(&state);
        let mut batch = sled::Batch::default();
        for k in keys {
            batch.insert(k.as_slice(), v.clone());
        }
        self.apply_sent(batch)
    }

    /// Set each key's state (None removes it), durably, in one write.
    pub fn set_deliveries(&self, states: &[(Vec<u8>, Option<Delivery>)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, s) in states {
            match s {
                Some(s) => batch.insert(k.as_slice(), encode(s)),
                None => batch.remove(k.as_slice()),
            }
        }
        self.apply_sent(batch)
    }

    fn apply_sent(&self, batch: sled::Batch) -> Result<(), StoreError> {
        self.sent.apply_batch(batch)?;
        self.bump()?;
        self.sync()
    }

    /// Every key whose last attempt was in flight when the process stopped.
    pub fn in_flight(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for kv in self.sent.iter() {
            let (k, v) = kv?;
            match decode::<Delivery>(&k, &v)? {
                Delivery::InFlight
                | Delivery::Trying(Attempts {
                    in_flight: true, ..
                }) => out.push(k.to_vec()),
                _ => {}
            }
        }
        Ok(out)
    }

    /// (key, state) of every reminder that was given up.
    pub fn failed_deliveries(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.sent.iter() {
            let (k, v) = kv?;
            if let Delivery::Failed(reason) = decode::<Delivery>(&k, &v)? {
                out.push((String::from_utf8_lossy(&k).into_owned(), reason));
            }
        }
        Ok(out)
    }

    // --- destinations ------------------------------------------------------

    pub fn dest_status(&self, id: &str) -> Result<Option<DestStatus>, StoreError> {
        self.dests
            .get(id.as_bytes())?
            .map(|v| decode(id.as_bytes(), &v))
            .transpose()
    }

    /// One more refusal by a destination; it is given up after `max` in a
    /// row (or at once when `max` is 1). Returns true if it is failed now.
    pub fn dest_refused(
        &self,
        id: &str,
        reason: &str,
        fingerprint: Option<&str>,
        max: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let key = id.as_bytes();
        let failed = (&self.dests, &*self.db)
            .transaction(|(dests, meta)| {
                let prev: Option<DestStatus> = match dests.get(key)? {
                    Some(v) => Some(tx_decode(key, &v)?),
                    None => None,
                };
                let failures = prev.as_ref().map_or(0, |p| p.failures) + 1;
                let s = DestStatus {
                    failures,
                    reason: reason.to_string(),
                    since: prev.as_ref().map_or(now, |p| p.since),
                    failed: failures >= max,
                    fingerprint: fingerprint.map(str::to_string),
                };
                dests.insert(key, encode(&s))?;
                tx_bump(meta)?;
                Ok(s.failed)
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(failed)
    }

    /// A destination answered: its refusals are forgotten.
    pub fn dest_ok(&self, id: &str) -> Result<(), StoreError> {
        // Most destinations have no record: read first, write rarely.
        if self.dests.contains_key(id.as_bytes())? {
            self.dests.remove(id.as_bytes())?;
            self.bump()?;
            self.sync()?;
        }
        Ok(())
    }

    /// Destinations given up, with their status.
    pub fn failed_dests(&self) -> Result<Vec<(String, DestStatus)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.dests.iter() {
            let (k, v) = kv?;
            let s: DestStatus = decode(&k, &v)?;
            if s.failed {
                out.push((String::from_utf8_lossy(&k).into_owned(), s));
            }
        }
        Ok(out)
    }

    // --- feedback, counters and unanswered questions ------------------------

    /// One vote per user per answer; pressing again changes it.
    pub fn vote(&self, entry: &str, user: &Identity, helpful: bool) -> Result<Vote, StoreError> {
        let key = vote_key(user, entry);
        let prev = self.votes.insert(&key, &[u8::from(helpful)])?;
        self.bump()?;
        Ok(match prev {
            None => Vote::New,
            Some(p) if p.as_ref() == [u8::from(helpful)] => Vote::Same,
            Some(_) => Vote::Changed,
        })
    }

    /// (entry, helpful count, unhelpful count): the votes, plus the
    /// anonymous counts schema 1 kept.
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
        for kv in self.votes.iter() {
            let (k, v) = kv?;
            let Some((_, entry)) = split_vote_key(&k) else {
                continue;
            };
            let slot = map.entry(entry).or_default();
            if v.as_ref() == [1] {
                slot.0 += 1;
            } else {
                slot.1 += 1;
            }
        }
        Ok(map.into_iter().map(|(e, (u, d))| (e, u, d)).collect())
    }

    /// Add one to a named counter (stats).
    pub fn count(&self, name: &str) -> Result<u64, StoreError> {
        let v = self.counters.update_and_fetch(name.as_bytes(), add_one)?;
        Ok(v.map_or(0, |v| count_of(&v)))
    }

    pub fn counter(&self, name: &str) -> Result<u64, StoreError> {
        Ok(self
            .counters
            .get(name.as_bytes())?
            .map_or(0, |v| count_of(&v)))
    }

    /// An answer that could not be delivered after its retries: counted,
    /// with the last reason, for stats.
    pub fn answer_failed(&self, reason: &str) -> Result<(), StoreError> {
        self.count("answers_failed")?;
        self.counters
            .insert("answers_failed_reason", reason.as_bytes())?;
        Ok(())
    }

    pub fn answer_failures(&self) -> Result<(u64, Option<String>), StoreError> {
        let reason = self
            .counters
            .get("answers_failed_reason")?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        Ok((self.counter("answers_failed")?, reason))
    }

    pub fn record_unanswered(&self, rec: &Unanswered) -> Result<(), StoreError> {
        let id = self.db.generate_id()?;
        self.unanswered.insert(id.to_be_bytes(), encode(rec))?;
        Ok(())
    }

    pub fn unanswered(&self) -> Result<Vec<Unanswered>, StoreError> {
        decode_all(&self.unanswered)
    }

    /// Remember the question just answered in `chat` with `entry` (None:
    /// choices were offered), for a 👎 that may follow.
    pub fn remember_question(
        &self,
        chat: &Identity,
        entry: Option<&str>,
        text: &str,
    ) -> Result<(), StoreError> {
        let rec = LastQuestion {
            entry: entry.map(str::to_string),
            text: text.chars().take(500).collect(),
        };
        self.last_question.insert(chat.key(), encode(&rec))?;
        Ok(())
    }

    /// A choice was picked in `chat`: the question it was offered for is
    /// now answered with `entry`.
    pub fn question_answered_with(&self, chat: &Identity, entry: &str) -> Result<(), StoreError> {
        let key = chat.key();
        if let Some(v) = self.last_question.get(&key)? {
            let mut rec: LastQuestion = decode(&key, &v)?;
            if rec.entry.is_none() {
                rec.entry = Some(entry.to_string());
                self.last_question.insert(key, encode(&rec))?;
            }
        }
        Ok(())
    }

    /// The question last answered in `chat` with `entry`, if that is
    /// still the last one answered there.
    pub fn question_for(&self, chat: &Identity, entry: &str) -> Result<Option<String>, StoreError> {
        let key = chat.key();
        let Some(v) = self.last_question.get(&key)? else {
            return Ok(None);
        };
        let rec: LastQuestion = decode(&key, &v)?;
        Ok((rec.entry.as_deref() == Some(entry)).then_some(rec.text))
    }

    /// Count one question of `date` (local) by how it was met; kept in
    /// the counters (so backups carry them) as `day/<date>/<outcome>`.
    pub fn count_day(
        &self,
        date: chrono::NaiveDate,
        outcome: DayOutcome,
    ) -> Result<(), StoreError> {
        self.count(&format!("day/{date}/{}", outcome.name()))?;
        Ok(())
    }

    /// Questions per day from `from` to `to` (local dates, inclusive),
    /// one row per day, days with none as zeros.
    pub fn days(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<(chrono::NaiveDate, DayCounts)>, StoreError> {
        let mut out = Vec::new();
        let mut d = from;
        while d <= to {
            let n = |o: DayOutcome| self.counter(&format!("day/{d}/{}", o.name()));
            out.push((
                d,
                DayCounts {
                    answered: n(DayOutcome::Answered)?,
                    candidates: n(DayOutcome::Candidates)?,
                    declined: n(DayOutcome::Declined)?,
                },
            ));
            let Some(next) = d.succ_opt() else { break };
            d = next;
        }
        Ok(out)
    }

    /// Drop every unanswered / 👎 record of this text (it was taught);
    /// returns how many.
    pub fn remove_unanswered(&self, text: &str) -> Result<usize, StoreError> {
        let mut n = 0;
        for kv in self.unanswered.iter() {
            let (k, v) = kv?;
            let rec: Unanswered = decode(&k, &v)?;
            if rec.text == text {
                self.unanswered.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// (key, state) of every reminder record.
    pub fn deliveries(&self) -> Result<Vec<(String, Delivery)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.sent.iter() {
            let (k, v) = kv?;
            out.push((String::from_utf8_lossy(&k).into_owned(), decode(&k, &v)?));
        }
        Ok(out)
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

    /// Everything stored about a user: hours, their private subscription,
    /// their votes (in one transaction), and their last question.
    pub fn forget_user(&self, user: &Identity) -> Result<(), StoreError> {
        let key = user.key();
        let votes: Vec<sled::IVec> = self
            .votes
            .scan_prefix(vote_prefix(user))
            .keys()
            .collect::<Result<_, _>>()?;
        (&self.hours, &self.subs, &self.votes, &*self.db)
            .transaction(|(hours, subs, v, meta)| {
                hours.remove(key.as_slice())?;
                subs.remove(key.as_slice())?;
                for k in &votes {
                    v.remove(k)?;
                }
                tx_bump(meta)?;
                Ok(())
            })
            .map_err(tx_error)?;
        // Their private chat's last question (a private chat is the user).
        self.last_question.remove(key.as_slice())?;
        self.sync()
    }

    /// Forget operations applied more than `keep` ago: by then the update
    /// cannot come again (Telegram keeps updates for 24 hours).
    pub fn prune_applied(&self, keep: chrono::Duration) -> Result<usize, StoreError> {
        let cutoff = chrono::Utc::now() - keep;
        let mut n = 0;
        for kv in self.applied.iter() {
            let (k, v) = kv?;
            let at: chrono::DateTime<chrono::Utc> = decode(&k, &v)?;
            if at < cutoff {
                self.applied.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

fn open_error(path: &Path, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked {
                path: path.to_owned(),
                message: io.to_string(),
            }
        }
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            StoreError::NotWritable {
                path: path.to_owned(),
                message: io.to_string(),
            }
        }
        other => StoreError::Damaged {
            path: path.to_owned(),
            reason: format!("sled cannot open it: {other}"),
            backup: newest_backup(path),
        },
    }
}

fn read_marker(path: &Path) -> Result<Option<Marker>, String> {
    match std::fs::read(path.join(MARKER_FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The newest backup file in a data directory, if any.
pub fn newest_backup(data_dir: &Path) -> Option<PathBuf> {
    backups(data_dir).pop()
}

/// Backup files in a data directory, oldest first (names carry the time).
pub fn backups(data_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data_dir.join(BACKUP_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("jxjy-") && n.ends_with(".jsonl"))
        })
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(h: f64) -> HourEntry {
        HourEntry {
            kind: CourseKind::Public,
            hours: h,
            at: chrono::Utc::now(),
        }
    }

    #[test]
    fn an_operation_is_applied_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let add = |e: &mut Vec<HourEntry>| {
            e.push(entry(1.0));
            Some(())
        };
        let t = Identity::telegram(1);
        assert!(matches!(
            s.update_hours(&t, 2024, Some("telegram/7"), add).unwrap(),
            HoursChange::Changed((), _)
        ));
        assert!(matches!(
            s.update_hours(&t, 2024, Some("telegram/7"), add).unwrap(),
            HoursChange::Replayed(e) if e.len() == 1
        ));
        assert!(matches!(
            s.update_hours(&t, 2024, None, |_| None::<()>).unwrap(),
            HoursChange::Unchanged(e) if e.len() == 1
        ));
        assert_eq!(s.hours(&t, 2024).unwrap().len(), 1);
        // Another year is kept apart.
        s.update_hours(&t, 2025, None, add).unwrap();
        assert_eq!(s.hours(&t, 2024).unwrap().len(), 1);
        assert_eq!(s.hour_years(&t).unwrap().len(), 2);
        s.set_hours(&t, 2025, &[]).unwrap();
        assert_eq!(
            s.hour_years(&t).unwrap().keys().collect::<Vec<_>>(),
            vec![&2024]
        );
    }

    #[test]
    fn votes_are_one_per_user_and_can_change() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let (five, six) = (Identity::telegram(5), Identity::telegram(6));
        assert_eq!(s.vote("deadline", &five, false).unwrap(), Vote::New);
        for _ in 0..50 {
            assert_eq!(s.vote("deadline", &five, false).unwrap(), Vote::Same);
        }
        assert_eq!(s.feedback().unwrap(), vec![("deadline".into(), 0, 1)]);
        assert_eq!(s.vote("deadline", &five, true).unwrap(), Vote::Changed);
        s.vote("deadline", &six, true).unwrap();
        // The same number on another channel is another user.
        let term = Identity::terminal();
        s.vote("deadline", &term, true).unwrap();
        assert_eq!(s.feedback().unwrap(), vec![("deadline".into(), 3, 0)]);
        s.forget_user(&term).unwrap();
        s.forget_user(&five).unwrap();
        assert_eq!(s.feedback().unwrap(), vec![("deadline".into(), 1, 0)]);
    }

    #[test]
    fn questions_are_counted_per_day_and_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let d = |x: &str| x.parse::<chrono::NaiveDate>().unwrap();
        s.count_day(d("2026-11-28"), DayOutcome::Answered).unwrap();
        s.count_day(d("2026-11-28"), DayOutcome::Answered).unwrap();
        s.count_day(d("2026-11-29"), DayOutcome::Declined).unwrap();
        s.count_day(d("2026-11-29"), DayOutcome::Candidates)
            .unwrap();
        let days = s.days(d("2026-11-27"), d("2026-11-29")).unwrap();
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].1, DayCounts::default());
        assert_eq!(days[1].1.answered, 2);
        assert_eq!(
            days[2].1,
            DayCounts {
                answered: 0,
                candidates: 1,
                declined: 1
            }
        );
    }

    #[test]
    fn a_taught_question_leaves_the_unanswered() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        for text in ["a", "b", "a"] {
            s.record_unanswered(&Unanswered {
                text: text.into(),
                at: chrono::Utc::now(),
                chat: ChatKind::Private,
                disliked: None,
            })
            .unwrap();
        }
        assert_eq!(s.remove_unanswered("a").unwrap(), 2);
        let left: Vec<String> = s
            .unanswered()
            .unwrap()
            .into_iter()
            .map(|u| u.text)
            .collect();
        assert_eq!(left, vec!["b".to_string()]);
    }

    #[test]
    fn a_destination_fails_after_max_refusals_in_a_row() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let now = chrono::Utc::now();
        assert!(!s.dest_refused("tg:1", "bad", None, 3, now).unwrap());
        s.dest_ok("tg:1").unwrap();
        assert!(!s.dest_refused("tg:1", "bad", None, 3, now).unwrap());
        assert!(!s.dest_refused("tg:1", "bad", None, 3, now).unwrap());
        assert!(s.dest_refused("tg:1", "still bad", None, 3, now).unwrap());
        let failed = s.failed_dests().unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].1.reason, "still bad");
    }
}
