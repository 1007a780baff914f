//! Deadline reminders: the schedule, a pure planner, and delivery through an
//! injected sender with a durable sent-record.
//!
//! Delivery is at least once and, in normal operation, at most once: a
//! batch of keys is marked in flight (durably) before sending and sent after.
//! After a crash only the in-flight batch can be repeated. After downtime
//! only the latest due slot is sent, never a burst of stale ones.

use crate::error::StoreError;
use crate::knowledge::{Facts, chinese_date};
use crate::store::{ChatKind, Delivery, HourEntry, Store, Subscription, sent_key};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::future::Future;

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Days before the deadline, any order.
    pub days_before: Vec<u32>,
    pub at: NaiveTime,
    pub tz: Tz,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            days_before: vec![30, 14, 7, 3, 1],
            at: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
            tz: chrono_tz::Asia::Shanghai,
        }
    }
}

impl Schedule {
    /// "30,14,7,3,1" and "09:00".
    pub fn parse(days: &str, at: &str) -> Result<Schedule, String> {
        let mut days_before = Vec::new();
        for d in days.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let n: u32 = d
                .parse()
                .map_err(|_| format!("'{d}' is not a number of days (e.g. 30,14,7,3,1)"))?;
            if n > 366 {
                return Err(format!("{n} days is more than a year"));
            }
            days_before.push(n);
        }
        if days_before.is_empty() {
            return Err("no reminder days given (e.g. 30,14,7,3,1)".into());
        }
        days_before.sort_unstable();
        days_before.dedup();
        let at = NaiveTime::parse_from_str(at, "%H:%M")
            .map_err(|_| format!("'{at}' is not a time like 09:00"))?;
        Ok(Schedule {
            days_before,
            at,
            ..Schedule::default()
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub days_before: u32,
    pub due: DateTime<Utc>,
}

fn local(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    // 09:00 exists every day in Asia/Shanghai; elsewhere take the earliest.
    tz.from_local_datetime(&date.and_time(time))
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&date.and_time(time)))
}

/// The moment the deadline day ends (the guide says "before 12-31": the
/// whole day counts).
pub fn deadline_end(deadline: NaiveDate, tz: Tz) -> DateTime<Utc> {
    local(tz, deadline + Duration::days(1), NaiveTime::MIN)
}

/// Slots of a deadline, earliest first.
pub fn slots(deadline: NaiveDate, s: &Schedule) -> Vec<Slot> {
    let mut v: Vec<Slot> = s
        .days_before
        .iter()
        .map(|&d| Slot {
            days_before: d,
            due: local(s.tz, deadline - Duration::days(i64::from(d)), s.at),
        })
        .collect();
    v.sort_by_key(|s| s.due);
    v
}

/// The slot that should have reached every subscriber by `now`.
pub fn current_slot(deadline: NaiveDate, s: &Schedule, now: DateTime<Utc>) -> Option<Slot> {
    if now >= deadline_end(deadline, s.tz) {
        return None;
    }
    slots(deadline, s)
        .into_iter()
        .rev()
        .find(|sl| sl.due <= now)
}

pub fn next_slot(deadline: NaiveDate, s: &Schedule, now: DateTime<Utc>) -> Option<Slot> {
    slots(deadline, s).into_iter().find(|sl| sl.due > now)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub chat_id: i64,
    pub kind: ChatKind,
    pub slot: Slot,
    pub key: Vec<u8>,
    pub text: String,
}

/// Days from `now` (local date) to the deadline.
fn days_left(facts: &Facts, tz: Tz, now: DateTime<Utc>) -> i64 {
    (facts.deadline - now.with_timezone(&tz).date_naive()).num_days()
}

pub fn group_text(facts: &Facts, tz: Tz, now: DateTime<Utc>) -> String {
    let h = &facts.hours;
    format!(
        "⏰ 继续教育提醒：{}年度学习须在{}前完成，还剩{}天。每年累计不少于{}学时（公需课不少于{}学时，专业课不少于{}学时）。学习入口：{}（{}）。咨询电话：{}。",
        facts.year,
        chinese_date(facts.deadline),
        days_left(facts, tz, now),
        h.total,
        h.public,
        h.professional,
        facts.login_platform,
        facts.login_url,
        facts.hotline
    )
}

pub fn private_text(facts: &Facts, tz: Tz, now: DateTime<Utc>, missing: &str) -> String {
    format!(
        "⏰ 继续教育提醒：{}年度学习须在{}前完成，还剩{}天。{}学习入口：{}（{}）。发送 /hours 查看记录。",
        facts.year,
        chinese_date(facts.deadline),
        days_left(facts, tz, now),
        missing,
        facts.login_platform,
        facts.login_url
    )
}

/// What should be sent at `now`: a pure function of the subscriptions, the
/// teachers' hours, what was sent, and the time.
pub fn plan(
    facts: &Facts,
    schedule: &Schedule,
    subs: &[Subscription],
    mut hours: impl FnMut(i64) -> Vec<HourEntry>,
    already_sent: impl Fn(&[u8]) -> bool,
    now: DateTime<Utc>,
) -> Vec<Planned> {
    let Some(slot) = current_slot(facts.deadline, schedule, now) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in subs.iter().filter(|s| s.active) {
        let key = sent_key(s.chat_id, facts.deadline, slot.days_before);
        if already_sent(&key) {
            continue;
        }
        let text = match s.kind {
            ChatKind::Group => group_text(facts, schedule.tz, now),
            ChatKind::Private => {
                // In a private chat the chat id is the teacher's user id.
                match crate::tracker::missing_line(&hours(s.chat_id), &facts.hours) {
                    Some(missing) => private_text(facts, schedule.tz, now, &missing),
                    None => continue,
                }
            }
        };
        out.push(Planned {
            chat_id: s.chat_id,
            kind: s.kind,
            slot,
            key,
            text,
        });
    }
    out
}

/// Plan from what the store holds.
pub fn plan_from_store(
    store: &Store,
    facts: &Facts,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Result<Vec<Planned>, StoreError> {
    plan_subscriptions(store, facts, schedule, &store.subscriptions()?, now)
}

/// Plan for some of the subscriptions, reading hours and the sent-record
/// from the store.
fn plan_subscriptions(
    store: &Store,
    facts: &Facts,
    schedule: &Schedule,
    subs: &[Subscription],
    now: DateTime<Utc>,
) -> Result<Vec<Planned>, StoreError> {
    let mut err = None;
    let planned = plan(
        facts,
        schedule,
        subs,
        |user| {
            store.hours(user).unwrap_or_else(|e| {
                err.get_or_insert(e);
                Vec::new()
            })
        },
        |key| matches!(store.delivery(key), Ok(Some(Delivery::Sent))),
        now,
    );
    match err {
        Some(e) => Err(e),
        None => Ok(planned),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// 403: the user blocked the bot or the bot left the group.
    Blocked,
    /// The group became a supergroup with this id.
    Migrated(i64),
    /// 429 that outlived the sender's own retries.
    RetryAfter(std::time::Duration),
    Other(String),
}

/// Where reminders go: Telegram in production, a recorder in tests.
pub trait Sender: Send + Sync {
    fn send(&self, chat_id: i64, text: &str) -> impl Future<Output = Result<(), SendError>> + Send;
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub sent: usize,
    pub blocked: usize,
    pub migrated: usize,
    pub failed: usize,
}

/// Keys marked in flight per durable write; also the most that can be
/// repeated after a crash.
pub const DEFAULT_BATCH: usize = 64;

/// Send everything due at `now`.
pub async fn deliver_due<S: Sender>(
    store: &Store,
    facts: &Facts,
    schedule: &Schedule,
    now: DateTime<Utc>,
    sender: &S,
    batch: usize,
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    if current_slot(facts.deadline, schedule, now).is_none() {
        return Ok(report);
    }
    // Plan a batch of subscribers at a time: memory stays flat however many
    // there are (100,000 planned texts would be tens of MB).
    let subs = store.subscriptions()?;
    for group in subs.chunks(batch.max(1)) {
        let chunk = plan_subscriptions(store, facts, schedule, group, now)?;
        if chunk.is_empty() {
            continue;
        }
        let keys: Vec<Vec<u8>> = chunk.iter().map(|p| p.key.clone()).collect();
        store.mark(&keys, Delivery::InFlight)?;
        let mut done = Vec::with_capacity(chunk.len());
        for p in &chunk {
            match sender.send(p.chat_id, &p.text).await {
                Ok(()) => {
                    report.sent += 1;
                    done.push(p.key.clone());
                }
                Err(SendError::Blocked) => {
                    tracing::info!(chat = p.chat_id, "chat blocked the bot; reminders stopped");
                    report.blocked += 1;
                    store.deactivate(p.chat_id)?;
                    done.push(p.key.clone());
                }
                Err(SendError::Migrated(new_id)) => {
                    report.migrated += 1;
                    // Keep the in-flight mark with the chat, then send to
                    // the new id; the moved key is settled below.
                    store.migrate_chat(p.chat_id, new_id)?;
                    let new_key = sent_key(new_id, facts.deadline, p.slot.days_before);
                    if sender.send(new_id, &p.text).await.is_ok() {
                        report.sent += 1;
                        done.push(new_key);
                    } else {
                        report.failed += 1;
                        store.mark(&[new_key], Delivery::InFlight)?;
                    }
                }
                Err(e) => {
                    tracing::warn!(chat = p.chat_id, error = ?e, "reminder not delivered; will retry");
                    report.failed += 1;
                }
            }
        }
        store.mark(&done, Delivery::Sent)?;
    }
    Ok(report)
}
