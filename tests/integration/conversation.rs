//! The conversation core: commands and their Chinese words, privacy in
//! groups, the terminal as a channel of its own, hours per guide year and
//! reminders across seasons (with the made-up 2025 guide of
//! tests/fixtures/kb-two-years), the schema 2 → 3 migration, and reloading
//! the knowledge while answering.

use crate::{Said, at, core_on, core_with_clock, fixture, shipped_kb_dir};
use jxjy_bot::clock::ManualClock;
use jxjy_bot::conversation::{Incoming, Input};
use jxjy_bot::delivery::{self, Options};
use jxjy_bot::identity::Identity;
use jxjy_bot::reminders::Schedule;
use jxjy_bot::season::Season;
use jxjy_bot::store::{ChatKind, CourseKind, Delivery, HourEntry, Store, Subscription};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn tg(id: i64) -> Identity {
    Identity::telegram(id)
}

fn two_years() -> PathBuf {
    fixture("kb-two-years")
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, s)
}

fn entry(kind: CourseKind, hours: f64, when: &str) -> HourEntry {
    HourEntry {
        kind,
        hours,
        at: at(when),
    }
}

#[test]
fn tracker_commands_log_hours_undo_remind_forget() {
    let (_d, s) = store();
    let core = core_on(
        &shipped_kb_dir(),
        Some(s.clone()),
        at("2024-12-20T10:00:00+08:00"),
    );
    let t = tg(5);
    let said = core.say(&t, "/log 公需 10");
    assert!(said.contains("已记录：公需课 10学时（2024年度）"), "{said}");
    let said = core.say(&t, "/log 专业课 2.5");
    assert!(said.contains("还差77.5学时"), "{said}");
    assert!(core.say(&t, "/log 公需 -20").contains("负数"));
    assert!(core.say(&t, "/log 公需 abc").contains("/log 公需 10"));
    let h = core.say(&t, "/hours");
    assert!(h.contains("公需课：10 / 30 / 20"), "{h}");
    assert!(h.contains("专业课：2.5 / 60 / 57.5"), "{h}");
    assert!(h.contains("还剩11天"), "{h}");
    assert!(core.say(&t, "/undo").contains("专业课 2.5"));
    assert_eq!(s.hours(&t, 2024).unwrap().len(), 1);
    let r = core.say(&t, "/remind on");
    assert!(
        r.contains("下次提醒：2024-12-24 09:00（2024年度截止日期2024年12月31日）"),
        "{r}"
    );
    // A group member who is not an admin (and not configured as one).
    let r = core.say_in_group(&tg(-9), &tg(8), "/remind on");
    assert!(r.contains("只有群管理员"), "{r}");
    assert!(s.subscription(&tg(-9)).unwrap().is_none());
    assert!(core.say(&t, "/forget").contains("已删除"));
    assert!(s.hour_years(&t).unwrap().is_empty());
    assert!(s.subscription(&t).unwrap().is_none());
    let late = core_on(
        &shipped_kb_dir(),
        Some(s.clone()),
        at("2025-01-05T10:00:00+08:00"),
    );
    let r = late.say(&t, "/remind");
    assert!(
        r.contains("已过") && r.contains("补学") && r.contains("2025年度指南尚未收录"),
        "{r}"
    );
}

#[test]
fn chinese_words_run_the_commands() {
    let (_d, s) = store();
    let core = core_on(
        &shipped_kb_dir(),
        Some(s.clone()),
        at("2024-12-20T10:00:00+08:00"),
    );
    let t = tg(5);
    let menu = core.handle_now(&Incoming::private(t.clone(), Input::Text("菜单".into())));
    assert!(!menu.messages[0].buttons.is_empty());
    assert!(
        core.say(&t, "记录 公需 10")
            .contains("已记录：公需课 10学时")
    );
    assert!(core.say(&t, "我的学时").contains("公需课：10 / 30 / 20"));
    assert!(core.say(&t, "撤销").contains("已撤销：公需课 10学时"));
    assert!(core.say(&t, "开启提醒").contains("提醒已开启"));
    assert!(core.say(&t, "提醒").contains("提醒已开启"));
    assert!(core.say(&t, "关闭提醒").contains("提醒未开启"));
    assert!(core.say(&t, "帮助").contains("/deadline"));
    assert!(core.say(&t, "统计").contains("仅限管理员"));
    assert!(core.say(&tg(7), "统计").contains("未能回答的问题"));
    // "学时" is a question, not a command.
    assert!(core.say(&t, "学时").starts_with("您是想问："));
}

#[test]
fn groups_keep_records_private_and_ignore_other_bots() {
    let (_d, s) = store();
    let core = core_on(
        &shipped_kb_dir(),
        Some(s.clone()),
        at("2024-12-20T10:00:00+08:00"),
    );
    let (group, t) = (tg(-100), tg(5));
    s.set_hours(
        &t,
        2024,
        &[entry(CourseKind::Public, 20.0, "2024-06-01T10:00:00+08:00")],
    )
    .unwrap();
    for text in [
        "/log 公需 10",
        "/hours",
        "/undo",
        "/forget",
        "我的学时",
        "记录 公需 1",
    ] {
        let said = core.say_in_group(&group, &t, text);
        assert!(said.contains("只在私聊中使用"), "{text}: {said}");
        assert!(!said.contains("20"), "{text}: {said}");
    }
    assert!(
        core.say_in_group(&group, &tg(7), "/stats")
            .contains("只在私聊中使用")
    );
    assert_eq!(s.hours(&t, 2024).unwrap().len(), 1, "nothing changed");
    // Unknown commands and other bots' commands: silence in a group.
    assert_eq!(core.say_in_group(&group, &t, "/nonsense"), "");
    let mut msg = Incoming {
        chat: group.clone(),
        kind: ChatKind::Group,
        user: Some(t.clone()),
        input: Input::Text("/ask@other_bot 学时".into()),
        op: None,
        me: Some("jxjy_bot".into()),
        private_link: None,
    };
    assert!(core.handle_now(&msg).is_silent());
    msg.input = Input::Text("/ask@jxjy_bot 咨询电话".into());
    assert!(crate::text_of(&core.handle_now(&msg)).contains("12333"));
}

/// The terminal is `term:local`, not Telegram's chat 0: it records stats
/// and votes under its own identity, follows the injected clock, and its
/// /remind on subscribes nothing that `remind send` could deliver.
#[tokio::test]
async fn the_terminal_is_a_channel_of_its_own() {
    let (_d, s) = store();
    let core = core_on(
        &shipped_kb_dir(),
        Some(s.clone()),
        at("2024-12-20T10:00:00+08:00"),
    );
    let input = "/log 公需 10\n/hours\n每年要多少学时\n4\n食堂几点开饭\n/remind on\n/quit\n";
    let mut out = Vec::new();
    jxjy_bot::terminal::run(&core, input.as_bytes(), &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("已记录：公需课 10学时（2024年度）"), "{out}");
    assert!(out.contains("还剩11天"), "the injected clock: {out}");
    assert!(
        out.contains("[4] 👍 有帮助") && out.contains("谢谢反馈！"),
        "{out}"
    );
    assert!(out.contains("收不到推送的提醒"), "{out}");
    let me = Identity::terminal();
    assert_eq!(s.hours(&me, 2024).unwrap().len(), 1);
    assert!(s.hour_years(&tg(0)).unwrap().is_empty());
    assert_eq!(s.asked().unwrap(), vec![("hours_total".to_string(), 1)]);
    assert_eq!(s.unanswered().unwrap().len(), 1);
    assert_eq!(s.feedback().unwrap(), vec![("hours_total".into(), 1, 0)]);
    assert!(s.subscriptions().unwrap().is_empty());
    // Even a terminal subscription (as migrated from chat 0) is never
    // sent: the delivery path reaches Telegram chats only.
    s.put_subscriptions(&[
        Subscription {
            chat: me.clone(),
            kind: ChatKind::Private,
            active: true,
        },
        Subscription {
            chat: tg(5),
            kind: ChatKind::Private,
            active: true,
        },
    ])
    .unwrap();
    let rec = crate::reminders::Recorder::default();
    let kb = core.responder();
    let r = delivery::deliver_season(
        &s,
        kb.kb(),
        &Schedule::default(),
        at("2024-12-24T09:30:00+08:00"),
        &rec,
        &Options::batch(16),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.sent, 1);
    let sent = rec.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 5);
    let plan = jxjy_bot::reminders::plan_from_store(
        &s,
        &kb.kb().facts,
        &Schedule::default(),
        at("2024-12-24T09:30:00+08:00"),
    )
    .unwrap();
    assert!(plan.iter().all(|p| p.to.id() != "term:local"), "{plan:?}");
}

/// Hours are kept per season; /hours shows this one against its guide and
/// a past one against that year's.
#[test]
fn hours_are_kept_per_guide_year() {
    let (_d, s) = store();
    let t = tg(5);
    let clock = Arc::new(ManualClock::new(at("2024-12-20T10:00:00+08:00")));
    let core = core_with_clock(&two_years(), Some(s.clone()), clock.clone());
    assert!(core.say(&t, "/log 公需 30").contains("（2024年度）"));
    clock.set(at("2025-06-01T10:00:00+08:00"));
    let said = core.say(&t, "/log 公需 10");
    // 2025's made-up guide: 80 hours, 24 public, 56 professional.
    assert!(
        said.contains("（2025年度）") && said.contains("合计10学时") && said.contains("还差70学时"),
        "{said}"
    );
    let h = core.say(&t, "/hours");
    assert!(
        h.starts_with("2025年度学时") && h.contains("公需课：10 / 24 / 14"),
        "{h}"
    );
    assert!(h.contains("截止日期：2025年11月30日"), "{h}");
    let h = core.say(&t, "/hours 2024");
    assert!(
        h.starts_with("2024年度学时") && h.contains("公需课：30 / 30 / 0"),
        "{h}"
    );
    assert!(h.contains("已过") && h.contains("补学"), "{h}");
    assert!(core.say(&t, "/hours 2030").contains("还没有开始"));
    assert!(core.say(&t, "/hours abc").contains("用法"));
    assert!(core.say(&t, "我的学时 去年").starts_with("2024年度学时"));
    // /undo takes back this season's last entry only.
    assert!(core.say(&t, "/undo").contains("公需课 10学时（2025年度）"));
    assert_eq!(s.hours(&t, 2024).unwrap().len(), 1);
    assert!(s.hours(&t, 2025).unwrap().is_empty());
}

/// Today's case: the season's guide is not loaded. Nothing passes the
/// newest guide off as this year's.
#[test]
fn without_this_seasons_guide_the_bot_says_so_plainly() {
    for (kb, newest) in [(two_years(), 2025), (shipped_kb_dir(), 2024)] {
        let (_d, s) = store();
        let now = at("2026-11-29T10:00:00+08:00");
        let core = core_on(&kb, Some(s.clone()), now);
        let t = tg(5);
        let said = core.say(&t, "/log 公需 10");
        assert!(
            said.contains("（2026年度）") && said.contains("2026年度指南尚未收录"),
            "{said}"
        );
        let h = core.say(&t, "/hours");
        assert!(
            h.contains("2026年度指南尚未收录") && h.contains(&format!("按{newest}年度指南的要求")),
            "{h}"
        );
        assert!(!h.contains("2026年度学时（已完成"), "{h}");
        let d = core.say(&t, "/deadline");
        assert!(
            d.contains("2026年度的截止日期还不知道")
                && d.contains(&format!("{newest}年度的截止日期是"))
                && d.contains("（已过）"),
            "{d}"
        );
        let r = core.say(&t, "/remind on");
        assert!(
            r.contains("提醒已开启")
                && r.contains("2026年度指南尚未收录")
                && r.contains("收录后才会开始发送")
                && r.contains("设置已保存"),
            "{r}"
        );
        assert!(s.subscription(&t).unwrap().is_some_and(|x| x.active));
        let p = core.say(&t, "/platforms");
        assert!(p.starts_with(&format!("以下依据{newest}年度指南")), "{p}");
        let st = core.say(&tg(7), "/stats");
        assert!(
            st.contains(&format!(
                "当前年度：2026年度，指南尚未收录（最新为{newest}年度）"
            )) && st.contains("提醒暂停"),
            "{st}"
        );
        let r = core.responder();
        let season = Season::of(r.kb(), now);
        assert!(season.reminders.is_none());
        let note = season.log_note().unwrap();
        assert!(note.contains("no guide for the 2026 season"), "{note}");
        assert_eq!(
            jxjy_bot::bot::season_note(&core, now).as_deref(),
            Some(note.as_str())
        );
        let start = core.say(&t, "/start");
        assert!(start.contains("2026年度指南尚未收录"), "{start}");
        let mut out = Vec::new();
        jxjy_bot::terminal::run(&core, "/quit\n".as_bytes(), &mut out).unwrap();
        let intro = String::from_utf8(out).unwrap();
        assert!(
            intro.contains(&format!("（{newest}年度指南；2026年度指南尚未收录）")),
            "{intro}"
        );
    }
}

/// Reminders follow the loaded guide whose deadline is ahead, with the
/// hours of that guide's year.
#[tokio::test]
async fn reminders_follow_the_guide_whose_deadline_is_ahead() {
    let (_d, s) = store();
    let core = core_on(
        &two_years(),
        Some(s.clone()),
        at("2025-06-01T10:00:00+08:00"),
    );
    let (a, b) = (tg(5), tg(6));
    s.put_subscriptions(&[
        Subscription {
            chat: a.clone(),
            kind: ChatKind::Private,
            active: true,
        },
        Subscription {
            chat: b.clone(),
            kind: ChatKind::Private,
            active: true,
        },
    ])
    .unwrap();
    // a: 2024 complete, 10 in 2025. b: 2025 complete, nothing in 2024.
    s.set_hours(
        &a,
        2024,
        &[
            entry(CourseKind::Public, 30.0, "2024-06-01T10:00:00+08:00"),
            entry(CourseKind::Professional, 60.0, "2024-06-01T10:00:00+08:00"),
        ],
    )
    .unwrap();
    s.set_hours(
        &a,
        2025,
        &[entry(CourseKind::Public, 10.0, "2025-05-01T10:00:00+08:00")],
    )
    .unwrap();
    s.set_hours(
        &b,
        2025,
        &[
            entry(CourseKind::Public, 24.0, "2025-05-01T10:00:00+08:00"),
            entry(CourseKind::Professional, 56.0, "2025-05-01T10:00:00+08:00"),
        ],
    )
    .unwrap();
    let r = core.say(&a, "/remind");
    assert!(
        r.contains("下次提醒：2025-10-31 09:00（2025年度截止日期2025年11月30日）"),
        "{r}"
    );
    let kb = core.responder();
    let schedule = Schedule::default();
    // 2024-12-01: both guides are ahead; the nearer deadline (2024) wins.
    let rec = crate::reminders::Recorder::default();
    delivery::deliver_season(
        &s,
        kb.kb(),
        &schedule,
        at("2024-12-01T09:30:00+08:00"),
        &rec,
        &Options::batch(16),
    )
    .await
    .unwrap()
    .unwrap();
    let sent = rec.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, 6, "only b misses 2024 hours");
    assert!(
        sent[0].1.contains("2024年度学习须在2024年12月31日前完成")
            && sent[0].1.contains("您还差90学时")
    );
    // 2025-10-31: the 2025 guide, 2025 hours.
    let rec = crate::reminders::Recorder::default();
    delivery::deliver_season(
        &s,
        kb.kb(),
        &schedule,
        at("2025-10-31T09:30:00+08:00"),
        &rec,
        &Options::batch(16),
    )
    .await
    .unwrap()
    .unwrap();
    let sent = rec.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, 5, "only a misses 2025 hours");
    assert!(
        sent[0].1.contains("2025年度学习须在2025年11月30日前完成")
            && sent[0].1.contains("还剩30天")
            && sent[0].1.contains("您还差70学时"),
        "{}",
        sent[0].1
    );
    // 2025-12-15: no loaded guide's deadline is ahead: nothing at all.
    let rec = crate::reminders::Recorder::default();
    assert!(
        delivery::deliver_season(
            &s,
            kb.kb(),
            &schedule,
            at("2025-12-15T09:30:00+08:00"),
            &rec,
            &Options::batch(16)
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(rec.sent.lock().unwrap().is_empty());
}

/// A data directory written by schema 2 (the layout before identities),
/// byte for byte as that code wrote it: opened, every record is found
/// under its identity, hours split by the year of each entry, the
/// terminal's chat 0 becomes term:local.
#[tokio::test]
async fn a_schema_2_store_is_migrated_to_identities() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.insert(b"schema_version", &2u32.to_be_bytes()).unwrap();
        db.insert(b"changes", &7u64.to_be_bytes()).unwrap();
        let hours = db.open_tree("hours").unwrap();
        let old_entries = serde_json::json!([
            {"kind": "Public", "hours": 20.0, "at": "2024-05-01T02:00:00Z"},
            // 2024-12-31 23:30 in Shanghai is still the 2024 season.
            {"kind": "Professional", "hours": 5.0, "at": "2024-12-31T15:30:00Z"},
            {"kind": "Public", "hours": 3.0, "at": "2025-03-01T02:00:00Z"},
        ]);
        hours
            .insert(
                42i64.to_be_bytes(),
                serde_json::to_vec(&old_entries).unwrap(),
            )
            .unwrap();
        let term_entries =
            serde_json::json!([{"kind": "Public", "hours": 1.0, "at": "2024-06-01T02:00:00Z"}]);
        hours
            .insert(
                0i64.to_be_bytes(),
                serde_json::to_vec(&term_entries).unwrap(),
            )
            .unwrap();
        let subs = db.open_tree("subscriptions").unwrap();
        for (id, kind) in [(42i64, "Private"), (-100, "Group"), (0, "Private")] {
            let v = serde_json::json!({"chat_id": id, "kind": kind, "active": true});
            subs.insert(id.to_be_bytes(), serde_json::to_vec(&v).unwrap())
                .unwrap();
        }
        let sent = db.open_tree("sent").unwrap();
        for key in [
            "42/2024-12-31/7",
            "-100/2024-12-31/7",
            "webhook:教研室/2024-12-31/7",
        ] {
            sent.insert(key, serde_json::to_vec(&serde_json::json!("Sent")).unwrap())
                .unwrap();
        }
        let votes = db.open_tree("votes").unwrap();
        let mut k = 42i64.to_be_bytes().to_vec();
        k.extend_from_slice(b"deadline");
        votes.insert(k, &[1u8]).unwrap();
        let mut k = 0i64.to_be_bytes().to_vec();
        k.extend_from_slice(b"hours_total");
        votes.insert(k, &[0u8]).unwrap();
        let dests = db.open_tree("destinations").unwrap();
        let st = serde_json::json!({"failures": 3, "reason": "chat not found", "since": "2024-12-01T01:00:00Z", "failed": true, "fingerprint": null});
        dests
            .insert("tg:0", serde_json::to_vec(&st).unwrap())
            .unwrap();
        dests
            .insert("tg:-100", serde_json::to_vec(&st).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let check = |s: &Store| {
        assert_eq!(s.schema_version().unwrap(), jxjy_bot::store::SCHEMA_VERSION);
        let t = tg(42);
        let y2024 = s.hours(&t, 2024).unwrap();
        assert_eq!(y2024.iter().map(|e| e.hours).sum::<f64>(), 25.0);
        assert_eq!(s.hours(&t, 2025).unwrap()[0].hours, 3.0);
        assert_eq!(s.hours(&Identity::terminal(), 2024).unwrap()[0].hours, 1.0);
        assert!(s.subscription(&t).unwrap().is_some_and(|x| x.active));
        assert!(
            s.subscription(&tg(-100))
                .unwrap()
                .is_some_and(|x| x.kind == ChatKind::Group)
        );
        assert!(s.subscription(&Identity::terminal()).unwrap().is_some());
        assert!(s.subscription(&tg(0)).unwrap().is_none());
        for key in [
            "tg:42/2024-12-31/7",
            "tg:-100/2024-12-31/7",
            "webhook:教研室/2024-12-31/7",
        ] {
            assert_eq!(
                s.delivery(key.as_bytes()).unwrap(),
                Some(Delivery::Sent),
                "{key}"
            );
        }
        assert_eq!(s.delivery(b"42/2024-12-31/7").unwrap(), None);
        let mut fb = s.feedback().unwrap();
        fb.sort();
        assert_eq!(
            fb,
            vec![("deadline".into(), 1, 0), ("hours_total".into(), 0, 1)]
        );
        let dests: Vec<String> = s.failed_dests().unwrap().into_iter().map(|d| d.0).collect();
        assert_eq!(
            dests,
            vec!["tg:-100".to_string()],
            "the terminal's tg:0 is dropped"
        );
    };
    let s = crate::reopen(dir.path());
    check(&s);
    drop(s);
    // Opened again: nothing moves twice.
    let s = crate::reopen(dir.path());
    check(&s);
    // The migrated records work: the vote is tg:42's, the hours answer /hours.
    let core = core_on(
        &shipped_kb_dir(),
        Some(s.clone()),
        at("2025-01-10T10:00:00+08:00"),
    );
    let h = core.say(&tg(42), "/hours 2024");
    assert!(
        h.contains("公需课：20 / 30 / 10") && h.contains("专业课：5 / 60 / 55"),
        "{h}"
    );
    s.forget_user(&tg(42)).unwrap();
    assert_eq!(s.feedback().unwrap(), vec![("hours_total".into(), 0, 1)]);
    // A reminder run never reaches the terminal's migrated subscription.
    let rec = crate::reminders::Recorder::default();
    s.put_subscription(&Subscription {
        chat: tg(42),
        kind: ChatKind::Private,
        active: true,
    })
    .unwrap();
    let kb = core.responder();
    delivery::deliver_due(
        &s,
        &kb.kb().facts,
        &Schedule::default(),
        at("2024-12-30T09:30:00+08:00"),
        &rec,
        &Options::batch(16),
    )
    .await
    .unwrap();
    let sent = rec.sent.lock().unwrap().clone();
    assert!(sent.iter().all(|(c, _)| *c != 0), "{sent:?}");
    assert!(sent.iter().any(|(c, _)| *c == 42), "{sent:?}");
}

/// A backup of format 1 (bare Telegram ids, one hours list) restores
/// into identities and years.
#[test]
fn a_format_1_backup_restores_under_identities() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("v1.jsonl");
    let lines = [
        r#"{"record":"header","format":"jxjy-backup","version":1,"schema":2,"created":"2024-12-20T02:00:00Z","changes":5}"#,
        r#"{"record":"hours","user":42,"entries":[{"kind":"Public","hours":20.0,"at":"2024-05-01T02:00:00Z"},{"kind":"Public","hours":3.0,"at":"2025-03-01T02:00:00Z"}]}"#,
        r#"{"record":"subscription","chat_id":-100,"kind":"Group","active":true}"#,
        r#"{"record":"sent","key":"42/2024-12-31/7","state":"Sent"}"#,
        r#"{"record":"vote","user":42,"entry":"deadline","helpful":true}"#,
        r#"{"record":"asked","entry":"deadline","count":3}"#,
        r#"{"record":"end","records":5}"#,
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let data = tmp.path().join("data");
    jxjy_bot::backup::restore(&file, &data, false).unwrap();
    let s = crate::reopen(&data);
    assert_eq!(s.hours(&tg(42), 2024).unwrap()[0].hours, 20.0);
    assert_eq!(s.hours(&tg(42), 2025).unwrap()[0].hours, 3.0);
    assert!(s.subscription(&tg(-100)).unwrap().is_some());
    assert_eq!(
        s.delivery(b"tg:42/2024-12-31/7").unwrap(),
        Some(Delivery::Sent)
    );
    assert_eq!(s.feedback().unwrap(), vec![("deadline".into(), 1, 0)]);
    assert_eq!(s.asked().unwrap(), vec![("deadline".into(), 3)]);
    // Cut before its end: refused, as for format 2.
    std::fs::write(&file, lines[..6].join("\n")).unwrap();
    let e = jxjy_bot::backup::restore(&file, &tmp.path().join("other"), false).unwrap_err();
    assert!(e.to_string().contains("cut off"), "{e}");
}

/// A copy of the shipped knowledge to edit (every file, the guide's own
/// text too where it is shipped).
fn kb_copy(to: &Path) {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    copy_dir(&shipped_kb_dir(), to);
}

/// A new hotline number, as a new guide would bring it: in the facts and
/// in the guide's text beside them, if there is one.
fn new_hotline(kb: &Path, from: &str, to: &str) {
    for f in ["2024/facts.toml", "2024/source.txt"] {
        let path = kb.join(f);
        if let Ok(text) = std::fs::read_to_string(&path) {
            std::fs::write(&path, text.replace(from, to)).unwrap();
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// A bad edit is refused and the old knowledge keeps answering; a good one
/// is swapped in whole while questions keep coming: every answer is from
/// one version or the other, never an error.
#[test]
fn reload_refuses_a_bad_edit_and_swaps_a_good_one_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    kb_copy(tmp.path());
    let core = Arc::new(core_on(tmp.path(), None, at("2024-12-20T10:00:00+08:00")));
    let t = tg(5);
    assert!(core.say(&t, "咨询电话多少").contains("0791-12333"));
    // A template naming a fact that does not exist.
    let faq = tmp.path().join("2024/faq.toml");
    edit(&faq, "{hours.total}学时，其中", "{hours.nope}学时，其中");
    let e = core.live().reload().unwrap_err();
    assert!(e.to_string().contains("old knowledge stays"), "{e}");
    // Broken TOML.
    edit(&faq, "{hours.nope}", "{hours.total}");
    let facts = tmp.path().join("2024/facts.toml");
    let good = std::fs::read_to_string(&facts).unwrap();
    std::fs::write(&facts, good.replacen("[hotline]", "[hotline", 1)).unwrap();
    assert!(core.live().reload().is_err());
    assert!(core.say(&t, "咨询电话多少").contains("0791-12333"));
    // A good edit, while two threads keep asking.
    std::fs::write(&facts, &good).unwrap();
    new_hotline(tmp.path(), "0791-12333", "0791-12399");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let askers: Vec<_> = (0..2)
        .map(|_| {
            let (core, stop) = (core.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = (0, 0);
                while !stop.load(std::sync::atomic::Ordering::SeqCst) || seen.1 == 0 {
                    let a = core.say(&tg(6), "咨询电话多少");
                    match (a.contains("0791-12333"), a.contains("0791-12399")) {
                        (true, false) => seen.0 += 1,
                        (false, true) => seen.1 += 1,
                        _ => panic!("neither version: {a}"),
                    }
                }
                seen
            })
        })
        .collect();
    let done = core.live().reload().unwrap();
    assert_eq!(done.years, vec![2024]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for a in askers {
        let (_, new) = a.join().unwrap();
        assert!(new > 0);
    }
    assert!(core.say(&t, "咨询电话多少").contains("0791-12399"));
}

/// The binary: `serve` notes the missing season's guide at start, and
/// SIGHUP reloads the checked knowledge (a bad edit is logged and
/// refused, a good one answers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_notes_the_season_and_reloads_on_sighup() {
    use crate::fake_api::FakeApi;
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kb = tempfile::tempdir().unwrap();
    kb_copy(kb.path());
    let mut cmd = api.command(&["serve"], dir.path());
    cmd.arg("--kb")
        .arg(kb.path())
        .env("JXJY_NOW", "2026-11-29T10:00:00+08:00")
        .env("RUST_LOG", "info");
    let mut child = crate::Logged::spawn(cmd);
    api.text(42, 42, "咨询电话多少");
    let sent = api.wait_sent(42, 1, 60).await;
    assert!(
        sent[0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("0791-12333")
    );
    let wait_log = |want: &'static str, n: usize| {
        let child = &child;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while child.log().matches(want).count() < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no '{want}':\n{}",
                    child.log()
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    wait_log("no guide for the 2026 season is loaded", 1).await;
    let facts = kb.path().join("2024/facts.toml");
    let good = std::fs::read_to_string(&facts).unwrap();
    std::fs::write(&facts, good.replacen("[hotline]", "[hotline", 1)).unwrap();
    child.signal("-HUP");
    wait_log("reload refused", 1).await;
    api.text(42, 42, "咨询电话多少");
    let sent = api.wait_sent(42, 2, 60).await;
    assert!(
        sent[1]["text"]
            .as_str()
            .unwrap_or("")
            .contains("0791-12333")
    );
    std::fs::write(&facts, &good).unwrap();
    new_hotline(kb.path(), "0791-12333", "0791-12399");
    child.signal("-HUP");
    wait_log("knowledge reloaded", 1).await;
    api.text(42, 42, "咨询电话多少");
    let sent = api.wait_sent(42, 3, 60).await;
    assert!(
        sent[2]["text"]
            .as_str()
            .unwrap_or("")
            .contains("0791-12399"),
        "{sent:?}"
    );
    child.signal("-TERM");
    assert!(child.wait_exit(30).await.success(), "{}", child.log());
}
