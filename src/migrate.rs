//! Schema 2 → 3, at open: records keyed by bare Telegram ids become keyed
//! by identity, and hours are split by guide year.
//!
//! | tree | schema 2 | schema 3 |
//! | --- | --- | --- |
//! | hours | i64 big-endian → `[entry…]` | `tg:42` → `{"2024": [entry…]}` (year of each entry's time, Asia/Shanghai) |
//! | subscriptions | i64 big-endian → `{chat_id: 42, …}` | `tg:42` → `{chat: "tg:42", …}` |
//! | sent | `42/2024-12-31/7` | `tg:42/2024-12-31/7` (robots' `webhook:…` keys unchanged) |
//! | votes | i64 big-endian + entry | `tg:42` 0x00 entry |
//!
//! Id 0 was the terminal chat (Telegram never uses 0): its records become
//! `term:local`'s, so `remind send` can never message a Telegram chat 0;
//! a destination status `tg:0` left by such an attempt is dropped.
//!
//! Each tree is rewritten in one sled batch (atomic), and a key already in
//! the new form is left alone, so a migration cut short by a crash runs
//! again from where it stopped; the schema version is written last. The
//! same conversions read backups of format 1 ([`crate::backup`]).

use crate::error::StoreError;
use crate::identity::{Identity, is_identity_key};
use crate::store::{ChatKind, HourEntry, Store, Subscription, YearHours, decode, encode, vote_key};
use serde::Deserialize;

/// A subscription as schema 2 and backup format 1 wrote it.
#[derive(Debug, Clone, Deserialize)]
pub struct LegacySubscription {
    pub chat_id: i64,
    pub kind: ChatKind,
    pub active: bool,
}

impl From<LegacySubscription> for Subscription {
    fn from(s: LegacySubscription) -> Subscription {
        Subscription {
            chat: Identity::legacy(s.chat_id),
            kind: s.kind,
            active: s.active,
        }
    }
}

/// One list of entries split by the guide year of each entry's time.
pub fn by_year(entries: Vec<HourEntry>) -> YearHours {
    let mut out = YearHours::new();
    for e in entries {
        out.entry(crate::season::year_of(e.at)).or_default().push(e);
    }
    out
}

/// A schema 2 sent-record key ("42/2024-12-31/7") in the identity form;
/// other keys (robots, or already migrated) as they are.
pub fn sent_key(key: &str) -> String {
    if is_identity_key(key.as_bytes()) {
        return key.to_string();
    }
    match key.split_once('/') {
        Some((id, rest)) => match id.parse::<i64>() {
            Ok(n) => format!("{}/{rest}", Identity::legacy(n)),
            Err(_) => key.to_string(),
        },
        None => key.to_string(),
    }
}

fn legacy_id(k: &[u8]) -> Option<i64> {
    k.get(..8)?.try_into().ok().map(i64::from_be_bytes)
}

fn merge(into: &mut YearHours, more: YearHours) {
    for (year, mut entries) in more {
        let list = into.entry(year).or_default();
        list.append(&mut entries);
        list.sort_by_key(|e| e.at);
    }
}

/// Rewrite every schema 2 record of `store` in the schema 3 form.
pub(crate) fn to_v3(store: &Store) -> Result<(), StoreError> {
    let mut moved = 0usize;

    let mut batch = sled::Batch::default();
    for kv in store.hours.iter() {
        let (k, v) = kv?;
        if is_identity_key(&k) {
            continue;
        }
        let Some(id) = legacy_id(&k).filter(|_| k.len() == 8) else {
            continue;
        };
        let entries: Vec<HourEntry> = decode(&k, &v)?;
        let user = Identity::legacy(id);
        let mut years = match store.hours.get(user.key())? {
            Some(v) => decode(&user.key(), &v)?,
            None => YearHours::new(),
        };
        merge(&mut years, by_year(entries));
        batch.insert(user.key(), encode(&years));
        batch.remove(k);
        moved += 1;
    }
    store.hours.apply_batch(batch)?;

    let mut batch = sled::Batch::default();
    for kv in store.subs.iter() {
        let (k, v) = kv?;
        if is_identity_key(&k) {
            continue;
        }
        let old: LegacySubscription = decode(&k, &v)?;
        let new = Subscription::from(old);
        batch.insert(new.chat.key(), encode(&new));
        batch.remove(k);
        moved += 1;
    }
    store.subs.apply_batch(batch)?;

    let mut batch = sled::Batch::default();
    for kv in store.sent.iter() {
        let (k, v) = kv?;
        let old = String::from_utf8_lossy(&k).into_owned();
        let new = sent_key(&old);
        if new != old {
            batch.insert(new.into_bytes(), v);
            batch.remove(k);
            moved += 1;
        }
    }
    store.sent.apply_batch(batch)?;

    let mut batch = sled::Batch::default();
    for kv in store.votes.iter() {
        let (k, v) = kv?;
        if is_identity_key(&k) {
            continue;
        }
        let Some(id) = legacy_id(&k) else { continue };
        let entry = String::from_utf8_lossy(&k[8..]).into_owned();
        batch.insert(vote_key(&Identity::legacy(id), &entry), v);
        batch.remove(k);
        moved += 1;
    }
    store.votes.apply_batch(batch)?;

    // The terminal's chat 0 was never a Telegram chat.
    if store.dests.remove(b"tg:0")?.is_some() {
        moved += 1;
    }
    if moved > 0 {
        tracing::info!(
            records = moved,
            path = %store.path().display(),
            "data directory migrated to schema 3 (identities, hours per guide year)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migration cut short leaves some trees in each form: running it
    /// again moves the rest and leaves the moved alone.
    #[test]
    fn a_half_done_migration_finishes_on_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let t = Identity::telegram(42);
        s.set_hours(
            &t,
            2024,
            &[HourEntry {
                kind: crate::store::CourseKind::Public,
                hours: 2.0,
                at: chrono::Utc::now(),
            }],
        )
        .unwrap();
        let old = serde_json::json!({"chat_id": 42, "kind": "Private", "active": true});
        s.subs
            .insert(42i64.to_be_bytes(), serde_json::to_vec(&old).unwrap())
            .unwrap();
        to_v3(&s).unwrap();
        to_v3(&s).unwrap();
        assert_eq!(s.hours(&t, 2024).unwrap().len(), 1);
        assert_eq!(s.subscriptions().unwrap().len(), 1);
        assert!(s.subscription(&t).unwrap().is_some());
    }

    #[test]
    fn sent_keys_gain_their_channel_and_robots_keep_theirs() {
        assert_eq!(sent_key("42/2024-12-31/7"), "tg:42/2024-12-31/7");
        assert_eq!(sent_key("-100/2024-12-31/7"), "tg:-100/2024-12-31/7");
        assert_eq!(sent_key("0/2024-12-31/7"), "term:local/2024-12-31/7");
        assert_eq!(
            sent_key("webhook:教研室/2024-12-31/7"),
            "webhook:教研室/2024-12-31/7"
        );
        assert_eq!(sent_key("tg:42/2024-12-31/7"), "tg:42/2024-12-31/7");
    }
}
