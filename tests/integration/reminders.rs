//! Reminders over a whole season with a manual clock and a recording
//! sender; the store's lock; /forget.

use jxjy_bot::clock::{Clock, ManualClock, Stop};
use jxjy_bot::delivery::{Address, Options, SendError, Sender};
use jxjy_bot::identity::Identity;
use jxjy_bot::reminders::{Schedule, slots};
use jxjy_bot::store::{ChatKind, CourseKind, HourEntry, Store, Subscription};
use std::collections::HashMap;
use std::sync::Mutex;

use crate::responder;

/// Records every message; chats listed in `blocked` answer 403, chats in
/// `migrate` answer migrate_to_chat_id once.
#[derive(Default)]
pub struct Recorder {
    pub sent: Mutex<Vec<(i64, String)>>,
    pub blocked: Vec<i64>,
    pub migrate: HashMap<i64, i64>,
}

impl Sender for Recorder {
    async fn send(&self, to: &Address, text: &str, _stop: &Stop) -> Result<(), SendError> {
        let Some(chat_id) = (match to {
            Address::Chat { chat, .. } => chat.telegram_id(),
            Address::Robot(_) => None,
        }) else {
            return Err(SendError::Refused("not a chat".into()));
        };
        if self.blocked.contains(&chat_id) {
            return Err(SendError::Blocked);
        }
        if let Some(&new) = self.migrate.get(&chat_id) {
            return Err(SendError::Migrated(new));
        }
        self.sent.lock().unwrap().push((chat_id, text.to_string()));
        Ok(())
    }
}

/// Deliver what is due at `now` through `sender`, 16 keys a batch.
pub async fn deliver_due<S: Sender>(
    s: &Store,
    facts: &jxjy_bot::knowledge::Facts,
    schedule: &Schedule,
    now: chrono::DateTime<chrono::Utc>,
    sender: &S,
    batch: usize,
) -> Result<jxjy_bot::delivery::Report, jxjy_bot::error::StoreError> {
    jxjy_bot::delivery::deliver_due(s, facts, schedule, now, sender, &Options::batch(batch)).await
}

impl Recorder {
    fn count(&self, chat: i64) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| *c == chat)
            .count()
    }
    fn total(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, s)
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

fn tg(id: i64) -> Identity {
    Identity::telegram(id)
}

fn sub(chat_id: i64, kind: ChatKind) -> Subscription {
    Subscription {
        chat: tg(chat_id),
        kind,
        active: true,
    }
}

const INCOMPLETE: i64 = 101;
const COMPLETE: i64 = 102;
const GROUP: i64 = -1001;

fn season_store() -> (tempfile::TempDir, Store) {
    let (d, s) = store();
    let facts = &responder().kb().facts;
    s.put_subscriptions(&[
        sub(INCOMPLETE, ChatKind::Private),
        sub(COMPLETE, ChatKind::Private),
        sub(GROUP, ChatKind::Group),
    ])
    .unwrap();
    let t = at("2024-10-01T00:00:00Z");
    s.set_hours(
        &tg(INCOMPLETE),
        2024,
        &[HourEntry {
            kind: CourseKind::Public,
            hours: 12.0,
            at: t,
        }],
    )
    .unwrap();
    s.set_hours(
        &tg(COMPLETE),
        2024,
        &[
            HourEntry {
                kind: CourseKind::Public,
                hours: facts.hours.public,
                at: t,
            },
            HourEntry {
                kind: CourseKind::Professional,
                hours: facts.hours.professional,
                at: t,
            },
        ],
    )
    .unwrap();
    (d, s)
}

/// Tick every `step` from `from` to `to`, delivering what is due.
async fn run_season(
    s: &Store,
    rec: &Recorder,
    clock: &ManualClock,
    to: &str,
    step: chrono::Duration,
) {
    let facts = &responder().kb().facts;
    let schedule = Schedule::default();
    while clock.now() < at(to) {
        deliver_due(s, facts, &schedule, clock.now(), rec, 16)
            .await
            .unwrap();
        clock.advance(step);
    }
}

#[tokio::test]
async fn every_slot_once_complete_teachers_skipped_quiet_after_deadline() {
    let (_d, s) = season_store();
    let rec = Recorder::default();
    let clock = ManualClock::new(at("2024-11-01T00:00:00+08:00"));
    run_season(
        &s,
        &rec,
        &clock,
        "2025-01-31T00:00:00+08:00",
        chrono::Duration::minutes(30),
    )
    .await;
    assert_eq!(rec.count(INCOMPLETE), 5);
    assert_eq!(rec.count(GROUP), 5);
    assert_eq!(rec.count(COMPLETE), 0);
    let sent = rec.sent.lock().unwrap();
    let private: Vec<&String> = sent
        .iter()
        .filter(|(c, _)| *c == INCOMPLETE)
        .map(|(_, t)| t)
        .collect();
    assert!(private[0].contains("还剩30天"), "{}", private[0]);
    assert!(private[4].contains("还剩1天"), "{}", private[4]);
    assert!(
        private[0].contains("您还差78学时") && private[0].contains("公需课18学时"),
        "{}",
        private[0]
    );
    let group: Vec<&String> = sent
        .iter()
        .filter(|(c, _)| *c == GROUP)
        .map(|(_, t)| t)
        .collect();
    assert!(
        group[0].contains("不少于90学时") && group[0].contains("hr.jxhrss.gov.cn"),
        "{}",
        group[0]
    );
}

#[tokio::test]
async fn slots_fall_at_nine_shanghai_time() {
    let facts = &responder().kb().facts;
    let sl = slots(facts.deadline, &Schedule::default());
    let days: Vec<u32> = sl.iter().map(|s| s.days_before).collect();
    assert_eq!(days, vec![30, 14, 7, 3, 1]);
    assert_eq!(sl[0].due, at("2024-12-01T09:00:00+08:00"));
    assert_eq!(sl[4].due, at("2024-12-30T01:00:00Z"));
}

#[tokio::test]
async fn catch_up_after_downtime_sends_only_the_latest_slot() {
    let (_d, s) = season_store();
    let rec = Recorder::default();
    let facts = &responder().kb().facts;
    let schedule = Schedule::default();
    // Down from before the 30-day slot until after the 7-day slot.
    deliver_due(
        &s,
        facts,
        &schedule,
        at("2024-11-20T09:00:00+08:00"),
        &rec,
        16,
    )
    .await
    .unwrap();
    assert_eq!(rec.total(), 0);
    deliver_due(
        &s,
        facts,
        &schedule,
        at("2024-12-25T10:00:00+08:00"),
        &rec,
        16,
    )
    .await
    .unwrap();
    assert_eq!(rec.count(INCOMPLETE), 1);
    assert_eq!(rec.count(GROUP), 1);
    assert!(rec.sent.lock().unwrap()[0].1.contains("还剩6天"));
    // Running again at the same moment sends nothing more.
    deliver_due(
        &s,
        facts,
        &schedule,
        at("2024-12-25T10:05:00+08:00"),
        &rec,
        16,
    )
    .await
    .unwrap();
    assert_eq!(rec.total(), 2);
}

#[tokio::test]
async fn nothing_after_the_deadline() {
    let (_d, s) = season_store();
    let rec = Recorder::default();
    let r = deliver_due(
        &s,
        &responder().kb().facts,
        &Schedule::default(),
        at("2025-01-01T00:00:00+08:00"),
        &rec,
        16,
    )
    .await
    .unwrap();
    assert_eq!(r.sent, 0);
    assert_eq!(rec.total(), 0);
}

#[tokio::test]
async fn blocked_chat_stops_and_migrated_group_keeps_subscription() {
    let (_d, s) = store();
    s.put_subscriptions(&[sub(7, ChatKind::Private), sub(-100, ChatKind::Group)])
        .unwrap();
    let rec = Recorder {
        blocked: vec![7],
        migrate: HashMap::from([(-100, -100200)]),
        ..Default::default()
    };
    let facts = &responder().kb().facts;
    let schedule = Schedule::default();
    let r = deliver_due(
        &s,
        facts,
        &schedule,
        at("2024-12-01T09:30:00+08:00"),
        &rec,
        16,
    )
    .await
    .unwrap();
    assert_eq!((r.blocked, r.migrated, r.sent), (1, 1, 1));
    assert!(!s.subscription(&tg(7)).unwrap().unwrap().active);
    assert!(s.subscription(&tg(-100)).unwrap().is_none());
    assert!(s.subscription(&tg(-100200)).unwrap().unwrap().active);
    assert_eq!(rec.count(-100200), 1);
    // The next slot reaches the new id only; the blocked chat gets nothing.
    let rec2 = Recorder::default();
    deliver_due(
        &s,
        facts,
        &schedule,
        at("2024-12-17T09:30:00+08:00"),
        &rec2,
        16,
    )
    .await
    .unwrap();
    assert_eq!(rec2.count(-100200), 1);
    assert_eq!(rec2.count(7), 0);
    assert_eq!(rec2.total(), 1);
}

/// `jxjy-bot remind plan` for the moment of the 7-day slot.
fn plan_at_seven_days(dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(crate::bin())
        .args([
            "remind",
            "plan",
            "--at",
            "2024-12-24T09:00+08:00",
            "--data-dir",
        ])
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn second_process_on_the_same_data_dir_fails_at_once() {
    let (d, _s) = store();
    let out = plan_at_seven_days(d.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another jxjy-bot process"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn remind_plan_prints_without_sending() {
    let (d, s) = season_store();
    drop(s);
    let out = plan_at_seven_days(d.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("chat tg:{INCOMPLETE}")) && text.contains("slot 7 days before"),
        "{text}"
    );
    assert!(text.contains(&format!("chat tg:{GROUP}")));
    assert!(!text.contains(&format!("chat tg:{COMPLETE}")));
    // Planning sent nothing: the same plan again is identical.
    let again = plan_at_seven_days(d.path());
    assert_eq!(String::from_utf8_lossy(&again.stdout), text);
}

/// No loaded guide's deadline is ahead (today's case): `remind plan` and
/// `remind send` say so and send nothing.
#[test]
fn remind_commands_without_a_guide_ahead_send_nothing() {
    let (d, s) = season_store();
    drop(s);
    for args in [
        &["remind", "plan", "--at", "2026-11-29T09:00+08:00"][..],
        &["remind", "send", "--at", "2026-11-29T09:00+08:00"],
    ] {
        let out = std::process::Command::new(crate::bin())
            .args(args)
            .arg("--data-dir")
            .arg(d.path())
            .env("TELOXIDE_TOKEN", "1:x")
            .env("TELOXIDE_API_URL", "http://127.0.0.1:9/")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("no loaded guide's deadline is ahead"),
            "{args:?}: {text}"
        );
    }
}
