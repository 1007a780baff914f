//! `jxjy-bot backup FILE` / `restore FILE`, and the daily backup `serve`
//! writes into the data directory (the newest 7 kept).
//!
//! A backup is JSON lines: a header naming the format, its version and
//! the store's schema, one line per record, and an end line with the
//! count, so a cut-off file is refused instead of restored in part. The
//! inbox of updates and the list of applied operations are transient and
//! not included.
//!
//! Format 2 (schema 3) names chats and users by identity (`tg:42`) and
//! gives hours one line per guide year; format 1 files (bare Telegram
//! ids, hours in one list) are still read, converted as the store's own
//! migration converts ([`crate::migrate`]).

use crate::error::StoreError;
use crate::identity::Identity;
use crate::migrate::LegacySubscription;
use crate::store::{
    self, BACKUP_DIR, Delivery, DestStatus, HourEntry, Store, Subscription, Unanswered, YearHours,
    count_of, decode, encode, split_vote_key, vote_key,
};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "jxjy-backup";
/// Version of the backup format this build writes (it reads 1 too).
pub const VERSION: u32 = 2;
/// Daily backups kept in the data directory.
pub const KEEP: usize = 7;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Line {
    Header {
        format: String,
        version: u32,
        schema: u32,
        created: chrono::DateTime<chrono::Utc>,
        changes: u64,
    },
    Hours {
        user: Identity,
        year: i32,
        entries: Vec<HourEntry>,
    },
    Subscription(Subscription),
    Sent {
        key: String,
        state: Delivery,
    },
    Vote {
        user: Identity,
        entry: String,
        helpful: bool,
    },
    /// Anonymous 👍/👎 counts from schema 1 ("entry/+" or "entry/-").
    Feedback {
        key: String,
        count: u64,
    },
    Asked {
        entry: String,
        count: u64,
    },
    Unanswered(Unanswered),
    Destination {
        id: String,
        status: DestStatus,
    },
    Counter {
        name: String,
        value: Vec<u8>,
    },
    End {
        records: u64,
    },
}

/// The lines of format 1 that differ from format 2.
#[derive(Debug, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum LegacyLine {
    Hours {
        user: i64,
        entries: Vec<HourEntry>,
    },
    Subscription(LegacySubscription),
    Sent {
        key: String,
        state: Delivery,
    },
    Vote {
        user: i64,
        entry: String,
        helpful: bool,
    },
}

impl LegacyLine {
    fn upgrade(self) -> Vec<Line> {
        match self {
            LegacyLine::Hours { user, entries } => {
                let user = Identity::legacy(user);
                crate::migrate::by_year(entries)
                    .into_iter()
                    .map(|(year, entries)| Line::Hours {
                        user: user.clone(),
                        year,
                        entries,
                    })
                    .collect()
            }
            LegacyLine::Subscription(s) => vec![Line::Subscription(s.into())],
            LegacyLine::Sent { key, state } => vec![Line::Sent {
                key: crate::migrate::sent_key(&key),
                state,
            }],
            LegacyLine::Vote {
                user,
                entry,
                helpful,
            } => vec![Line::Vote {
                user: Identity::legacy(user),
                entry,
                helpful,
            }],
        }
    }
}

/// A line of a format 1 file as format 2 lines (one per year for hours).
fn upgrade_v1(line: &[u8]) -> Result<Vec<Line>, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_slice(line)?;
    let legacy = matches!(
        v.get("record").and_then(|r| r.as_str()),
        Some("hours" | "subscription" | "sent" | "vote")
    );
    if legacy {
        Ok(serde_json::from_value::<LegacyLine>(v)?.upgrade())
    } else {
        Ok(vec![serde_json::from_value(v)?])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Format {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "{path}: the backup is cut off (no end line, or fewer records than it says); nothing restored"
    )]
    Truncated { path: PathBuf },
    #[error("{path}: backup format version {found}; this build reads version {VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error(
        "data directory {path} already holds data ({changes} changes); add --force to replace it (the current files are moved aside)"
    )]
    NotEmpty { path: PathBuf, changes: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

fn user_of(k: &[u8]) -> Option<Identity> {
    std::str::from_utf8(k).ok()?.parse().ok()
}

/// Every kept record of the store, in a fixed order.
fn export(
    s: &Store,
    mut out: impl FnMut(&Line) -> std::io::Result<()>,
) -> Result<u64, BackupError> {
    let mut n = 0u64;
    let mut emit = |l: Line| -> Result<(), BackupError> {
        n += 1;
        out(&l).map_err(|source| BackupError::Io {
            path: s.path().to_owned(),
            source,
        })
    };
    for kv in s.hours.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        if let Some(user) = user_of(&k) {
            let years: YearHours = decode(&k, &v)?;
            for (year, entries) in years {
                emit(Line::Hours {
                    user: user.clone(),
                    year,
                    entries,
                })?;
            }
        }
    }
    for kv in s.subs.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        emit(Line::Subscription(decode(&k, &v)?))?;
    }
    for kv in s.sent.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        emit(Line::Sent {
            key: String::from_utf8_lossy(&k).into_owned(),
            state: decode(&k, &v)?,
        })?;
    }
    for kv in s.votes.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        if let Some((user, entry)) = split_vote_key(&k) {
            emit(Line::Vote {
                user,
                entry,
                helpful: v.as_ref() == [1],
            })?;
        }
    }
    for kv in s.feedback.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        emit(Line::Feedback {
            key: String::from_utf8_lossy(&k).into_owned(),
            count: count_of(&v),
        })?;
    }
    for kv in s.asked.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        emit(Line::Asked {
            entry: String::from_utf8_lossy(&k).into_owned(),
            count: count_of(&v),
        })?;
    }
    for kv in s.unanswered.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        emit(Line::Unanswered(decode(&k, &v)?))?;
    }
    for kv in s.dests.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        emit(Line::Destination {
            id: String::from_utf8_lossy(&k).into_owned(),
            status: decode(&k, &v)?,
        })?;
    }
    for kv in s.counters.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        emit(Line::Counter {
            name: String::from_utf8_lossy(&k).into_owned(),
            value: v.to_vec(),
        })?;
    }
    Ok(n)
}

/// Write a backup of `store` to `file` (through a temporary file and a
/// rename, so `file` is whole or absent). Returns the record count.
pub fn write(store: &Store, file: &Path) -> Result<u64, BackupError> {
    let tmp = file.with_extension("jsonl.tmp");
    let f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut w = BufWriter::new(f);
    let header = Line::Header {
        format: FORMAT.into(),
        version: VERSION,
        schema: store::SCHEMA_VERSION,
        created: chrono::Utc::now(),
        changes: store.changes()?,
    };
    let mut write_line = |l: &Line| -> std::io::Result<()> {
        w.write_all(&encode(l))?;
        w.write_all(b"\n")
    };
    write_line(&header).map_err(io(&tmp))?;
    let records = export(store, &mut write_line)?;
    write_line(&Line::End { records }).map_err(io(&tmp))?;
    let f = w.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, file).map_err(io(file))?;
    Ok(records)
}

/// Read and check a whole backup before anything is changed.
pub fn read(file: &Path) -> Result<(u64, Vec<Line>), BackupError> {
    let f = std::fs::File::open(file).map_err(io(file))?;
    let mut lines = Vec::new();
    // Records as written (a format 1 hours line may become several).
    let mut records = 0u64;
    let mut header: Option<(u32, u64)> = None;
    let mut ended = false;
    for (i, line) in std::io::BufReader::new(f).split(b'\n').enumerate() {
        let line = line.map_err(io(file))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let format_err = |message: String| BackupError::Format {
            path: file.to_owned(),
            line: i + 1,
            message,
        };
        if ended {
            return Err(format_err("data after the end line".into()));
        }
        let parsed = match header {
            Some((1, _)) => upgrade_v1(&line),
            _ => serde_json::from_slice::<Line>(&line).map(|l| vec![l]),
        };
        let parsed = match parsed {
            Ok(l) => l,
            // A cut-off last line reads as a truncated file, not a format error.
            Err(e) if e.is_eof() => return Err(BackupError::Truncated { path: file.into() }),
            Err(e) => return Err(format_err(e.to_string())),
        };
        let is_record = parsed
            .iter()
            .any(|l| !matches!(l, Line::Header { .. } | Line::End { .. }));
        for l in parsed {
            match (&l, header) {
                (
                    Line::Header {
                        format,
                        version,
                        changes: c,
                        ..
                    },
                    None,
                ) => {
                    if format != FORMAT {
                        return Err(format_err(format!("not a {FORMAT} file")));
                    }
                    if *version > VERSION {
                        return Err(BackupError::Version {
                            path: file.into(),
                            found: *version,
                        });
                    }
                    header = Some((*version, *c));
                }
                (_, None) => {
                    return Err(format_err(format!(
                        "the first line is not a {FORMAT} header"
                    )));
                }
                (Line::Header { .. }, Some(_)) => {
                    return Err(format_err("a second header".into()));
                }
                (Line::End { records: n }, Some(_)) => {
                    if *n != records {
                        return Err(BackupError::Truncated { path: file.into() });
                    }
                    ended = true;
                }
                (_, Some(_)) => lines.push(l),
            }
        }
        if is_record {
            records += 1;
        }
    }
    match (header, ended) {
        (Some((_, c)), true) => Ok((c, lines)),
        (None, _) => Err(BackupError::Format {
            path: file.into(),
            line: 1,
            message: "empty file".into(),
        }),
        (Some(_), false) => Err(BackupError::Truncated { path: file.into() }),
    }
}

/// What `restore` did.
#[derive(Debug)]
pub struct Restored {
    pub records: usize,
    /// Where the previous files went, if any were moved aside.
    pub moved_aside: Option<PathBuf>,
}

/// Replace the content of `data_dir` with the backup in `file`. A damaged
/// directory, or one holding data when `force` is given, has sled's files
/// moved into `damaged-<time>/` inside it first; backups stay in place.
pub fn restore(file: &Path, data_dir: &Path, force: bool) -> Result<Restored, BackupError> {
    let (backup_changes, lines) = read(file)?;
    let mut moved_aside = None;
    // An empty store is restored into through the handle that checked it:
    // opened again at once, sled's threads may still hold its lock.
    let kept = match Store::open(data_dir) {
        Ok(s) => {
            let changes = s.changes()?;
            let has_data = changes > 0
                || [
                    &s.hours,
                    &s.subs,
                    &s.sent,
                    &s.votes,
                    &s.asked,
                    &s.unanswered,
                ]
                .iter()
                .any(|t| !t.is_empty());
            if has_data && !force {
                return Err(BackupError::NotEmpty {
                    path: data_dir.into(),
                    changes,
                });
            }
            if has_data {
                drop(s);
                moved_aside = Some(move_aside(data_dir)?);
                None
            } else {
                Some(s)
            }
        }
        Err(StoreError::Damaged { .. }) => {
            moved_aside = Some(move_aside(data_dir)?);
            None
        }
        Err(e) => return Err(e.into()),
    };
    let s = match kept {
        Some(s) => s,
        None => {
            // The old marker would call the fresh store damaged.
            let marker = data_dir.join(store::MARKER_FILE);
            if marker.exists() {
                std::fs::remove_file(&marker).map_err(io(&marker))?;
            }
            Store::open(data_dir)?
        }
    };
    import(&s, &lines)?;
    // Count on from the backup's changes, so the marker matches.
    s.set_changes(backup_changes.max(s.changes()?) + 1)?;
    Ok(Restored {
        records: lines.len(),
        moved_aside,
    })
}

fn move_aside(data_dir: &Path) -> Result<PathBuf, BackupError> {
    let aside = data_dir.join(format!(
        "damaged-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    ));
    std::fs::create_dir_all(&aside).map_err(io(&aside))?;
    for e in std::fs::read_dir(data_dir).map_err(io(data_dir))? {
        let e = e.map_err(io(data_dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if store::is_sled_file(&name) || name == store::MARKER_FILE {
            std::fs::rename(e.path(), aside.join(&name)).map_err(io(&e.path()))?;
        }
    }
    Ok(aside)
}

fn import(s: &Store, lines: &[Line]) -> Result<(), StoreError> {
    for l in lines {
        match l {
            Line::Hours {
                user,
                year,
                entries,
            } => {
                let mut years: YearHours = match s.hours.get(user.key())? {
                    Some(v) => decode(&user.key(), &v)?,
                    None => YearHours::new(),
                };
                years
                    .entry(*year)
                    .or_default()
                    .extend(entries.iter().cloned());
                s.hours.insert(user.key(), encode(&years))?;
            }
            Line::Subscription(sub) => {
                s.subs.insert(sub.chat.key(), encode(sub))?;
            }
            Line::Sent { key, state } => {
                s.sent.insert(key.as_bytes(), encode(state))?;
            }
            Line::Vote {
                user,
                entry,
                helpful,
            } => {
                s.votes
                    .insert(vote_key(user, entry), &[u8::from(*helpful)])?;
            }
            Line::Feedback { key, count } => {
                s.feedback.insert(key.as_bytes(), &count.to_be_bytes())?;
            }
            Line::Asked { entry, count } => {
                s.asked.insert(entry.as_bytes(), &count.to_be_bytes())?;
            }
            Line::Unanswered(u) => s.record_unanswered(u)?,
            Line::Destination { id, status } => {
                s.dests.insert(id.as_bytes(), encode(status))?;
            }
            Line::Counter { name, value } => {
                s.counters.insert(name.as_bytes(), value.as_slice())?;
            }
            Line::Header { .. } | Line::End { .. } => {}
        }
    }
    s.sync()
}

/// The daily backup: when the newest in `<data dir>/backups/` is a day
/// old (or there is none), write one named by the time, then keep the
/// newest [`KEEP`]. Returns the file written, if any.
pub fn daily(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<PathBuf>, BackupError> {
    let dir = store.path().join(BACKUP_DIR);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let newest_at = store::newest_backup(store.path()).and_then(|p| time_of(&p));
    if newest_at.is_some_and(|t| now - t < chrono::Duration::hours(24)) {
        return Ok(None);
    }
    let file = dir.join(format!("jxjy-{}.jsonl", now.format("%Y%m%dT%H%M%SZ")));
    write(store, &file)?;
    rotate(store.path(), KEEP)?;
    Ok(Some(file))
}

/// The time in a backup's name (jxjy-20241201T010000Z.jsonl).
fn time_of(p: &Path) -> Option<chrono::DateTime<chrono::Utc>> {
    let name = p.file_name()?.to_str()?;
    let stamp = name.strip_prefix("jxjy-")?.strip_suffix(".jsonl")?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// Delete all but the newest `keep` backups.
pub fn rotate(data_dir: &Path, keep: usize) -> Result<(), BackupError> {
    let all = store::backups(data_dir);
    let excess = all.len().saturating_sub(keep);
    for p in &all[..excess] {
        std::fs::remove_file(p).map_err(io(p))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join(BACKUP_DIR);
        std::fs::create_dir_all(&b).unwrap();
        for day in 1..=9 {
            std::fs::write(b.join(format!("jxjy-202412{day:02}T010000Z.jsonl")), "").unwrap();
        }
        std::fs::write(b.join("notes.txt"), "").unwrap();
        rotate(dir.path(), KEEP).unwrap();
        let left = store::backups(dir.path());
        assert_eq!(left.len(), 7);
        assert!(left[0].ends_with("jxjy-20241203T010000Z.jsonl"));
        assert!(b.join("notes.txt").exists());
    }

    #[test]
    fn a_daily_backup_is_written_once_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let t = chrono::DateTime::parse_from_rfc3339("2024-12-01T01:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert!(daily(&s, t).unwrap().is_some());
        assert!(
            daily(&s, t + chrono::Duration::hours(23))
                .unwrap()
                .is_none()
        );
        assert!(
            daily(&s, t + chrono::Duration::hours(24))
                .unwrap()
                .is_some()
        );
        assert_eq!(store::backups(dir.path()).len(), 2);
    }
}
