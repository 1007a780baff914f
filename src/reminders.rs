//! Deadline reminders: the schedule and a pure planner of what is due to
//! chats and robots; [`crate::delivery`] sends it. After downtime only the
//! latest due slot is planned, never a burst of stale ones.

use crate::delivery::Address;
use crate::error::StoreError;
use crate::identity::Identity;
use crate::knowledge::{Facts, chinese_date};
use crate::store::{ChatKind, Delivery, HourEntry, Store, Subscription};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

pub use crate::delivery::DEFAULT_BATCH;

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
    pub to: Address,
    pub slot: Slot,
    /// The deadline the slot belongs to (a migrated chat's new key).
    pub slot_deadline: NaiveDate,
    /// Sent-record key.
    pub key: Vec<u8>,
    pub text: String,
    /// The key's state before this run (None: never attempted).
    pub prior: Option<Delivery>,
}

fn settled(state: &Option<Delivery>) -> bool {
    matches!(state, Some(Delivery::Sent | Delivery::Failed(_)))
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

/// What should be sent at `now` to chats: a pure function of the
/// subscriptions, the teachers' hours of the guide's year, the
/// sent-record, and the time.
pub fn plan(
    facts: &Facts,
    schedule: &Schedule,
    subs: &[Subscription],
    mut hours: impl FnMut(&Identity) -> Vec<HourEntry>,
    state: impl Fn(&[u8]) -> Option<Delivery>,
    now: DateTime<Utc>,
) -> Vec<Planned> {
    let Some(slot) = current_slot(facts.deadline, schedule, now) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in subs.iter().filter(|s| s.active) {
        let to = Address::Chat {
            chat: s.chat.clone(),
            kind: s.kind,
        };
        let key = to.sent_key(facts.deadline, slot.days_before);
        let prior = state(&key);
        if settled(&prior) {
            continue;
        }
        let text = match s.kind {
            ChatKind::Group => group_text(facts, schedule.tz, now),
            ChatKind::Private => {
                // In a private chat the chat id is the teacher's user id.
                match crate::tracker::missing_line(&hours(&s.chat), &facts.hours) {
                    Some(missing) => private_text(facts, schedule.tz, now, &missing),
                    None => continue,
                }
            }
        };
        out.push(Planned {
            to,
            slot,
            slot_deadline: facts.deadline,
            key,
            text,
            prior,
        });
    }
    out
}

/// The current slot's group reminder for every robot that has not had it.
pub fn plan_robots(
    store: &Store,
    facts: &Facts,
    schedule: &Schedule,
    robots: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<Planned>, StoreError> {
    let Some(slot) = current_slot(facts.deadline, schedule, now) else {
        return Ok(Vec::new());
    };
    let text = group_text(facts, schedule.tz, now);
    let mut out = Vec::new();
    for name in robots {
        let key = crate::webhook::sent_key(name, facts.deadline, slot.days_before);
        let prior = store.delivery(&key)?;
        if !settled(&prior) {
            out.push(Planned {
                to: Address::Robot(name.clone()),
                slot,
                slot_deadline: facts.deadline,
                key,
                text: text.clone(),
                prior,
            });
        }
    }
    Ok(out)
}

/// Plan from what the store holds.
pub fn plan_from_store(
    store: &Store,
    facts: &Facts,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Result<Vec<Planned>, StoreError> {
    let mut subs = store.subscriptions()?;
    subs.retain(|s| crate::delivery::deliverable(s.chat.channel()));
    plan_subscriptions(store, facts, schedule, &subs, now)
}

/// Plan for some of the subscriptions, reading hours and the sent-record
/// from the store.
pub fn plan_subscriptions(
    store: &Store,
    facts: &Facts,
    schedule: &Schedule,
    subs: &[Subscription],
    now: DateTime<Utc>,
) -> Result<Vec<Planned>, StoreError> {
    // Both closures may meet a store error; keep the first.
    let err = std::cell::RefCell::new(None);
    let planned = plan(
        facts,
        schedule,
        subs,
        |user| {
            store.hours(user, facts.year).unwrap_or_else(|e| {
                err.borrow_mut().get_or_insert(e);
                Vec::new()
            })
        },
        |key| {
            store.delivery(key).unwrap_or_else(|e| {
                err.borrow_mut().get_or_insert(e);
                None
            })
        },
        now,
    );
    match err.into_inner() {
        Some(e) => Err(e),
        None => Ok(planned),
    }
}
