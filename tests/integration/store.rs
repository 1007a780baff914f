//! The store under concurrent writers, damage, backup and restore.

use crate::{Said, at, core_on};
use jxjy_bot::backup::{self, BackupError};
use jxjy_bot::error::StoreError;
use jxjy_bot::identity::Identity;
use jxjy_bot::store::{ChatKind, CourseKind, Delivery, HourEntry, Store, Subscription, Unanswered};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn tg(id: i64) -> Identity {
    Identity::telegram(id)
}

const NOW: &str = "2024-12-20T10:00:00+08:00";

/// 200 /log for one teacher at once from 8 threads (as updates of their
/// private chat and of groups would be handled): all 200 stored, none
/// overwritten; then /undo racing /log.
#[test]
fn concurrent_logs_and_undos_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let core = Arc::new(core_on(
        &crate::shipped_kb_dir(),
        Some(store.clone()),
        at(NOW),
    ));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let core = core.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    // Distinct operations, as distinct updates would be.
                    let op = format!("telegram/{t}-{i}");
                    let reply = core.say_op(&tg(42), "/log 公需 1", &op);
                    assert!(reply.starts_with("已记录"), "{reply}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.hours(&tg(42), 2024).unwrap().len(), 200);
    // 50 /undo racing 50 more /log: 200 + 50 - 50.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let core = core.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let op = format!("telegram/u{t}-{i}");
                    let text = if t % 2 == 0 { "/undo" } else { "/log 专业 1" };
                    core.say_op(&tg(42), text, &op);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.hours(&tg(42), 2024).unwrap().len(), 200);
    // Subscriptions: switching on and off from many threads leaves a
    // record that is one of the two, never a torn one.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let core = core.clone();
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let arg = if t % 2 == 0 {
                        "/remind on"
                    } else {
                        "/remind off"
                    };
                    // The configured admin (tg:7) may change the group's.
                    core.say_in_group(&tg(-5), &tg(7), arg);
                    store.deactivate(&tg(-5)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(store.subscription(&tg(-5)).is_ok());
}

/// A store holding one of every kind of record.
fn filled(dir: &Path) -> Store {
    let s = Store::open(dir).unwrap();
    s.set_hours(
        &tg(42),
        2024,
        &[HourEntry {
            kind: CourseKind::Public,
            hours: 20.0,
            at: chrono::Utc::now(),
        }],
    )
    .unwrap();
    s.put_subscriptions(&[
        Subscription {
            chat: tg(42),
            kind: ChatKind::Private,
            active: true,
        },
        Subscription {
            chat: tg(-100),
            kind: ChatKind::Group,
            active: false,
        },
    ])
    .unwrap();
    s.mark(&[b"tg:42/2024-12-31/7".to_vec()], Delivery::Sent)
        .unwrap();
    s.vote("deadline", &tg(42), true).unwrap();
    s.record_asked("deadline").unwrap();
    s.record_unanswered(&Unanswered {
        text: "食堂几点开门".into(),
        at: chrono::Utc::now(),
        chat: ChatKind::Private,
        disliked: None,
    })
    .unwrap();
    s.dest_refused("webhook:x", "bad key", Some("ab"), 1, chrono::Utc::now())
        .unwrap();
    s.answer_failed("timeout").unwrap();
    s
}

/// The lines of a backup but its header (which holds the time).
fn records(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[test]
fn backup_and_restore_round_trip_every_record() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let file = tmp.path().join("backup.jsonl");
    let s = filled(&a);
    let n = backup::write(&s, &file).unwrap();
    assert_eq!(n, 10);
    drop(s);
    let r = backup::restore(&file, &b, false).unwrap();
    assert_eq!(r.records, 10);
    assert!(r.moved_aside.is_none());
    let again = tmp.path().join("again.jsonl");
    let s = crate::reopen(&b);
    backup::write(&s, &again).unwrap();
    assert_eq!(records(&again), records(&file));
    assert_eq!(s.hours(&tg(42), 2024).unwrap()[0].hours, 20.0);
    assert_eq!(s.feedback().unwrap(), vec![("deadline".into(), 1, 0)]);
    drop(s);
    // A store holding data is replaced only with --force.
    let e = backup::restore(&file, &b, false).unwrap_err();
    assert!(matches!(e, BackupError::NotEmpty { .. }), "{e}");
    let r = backup::restore(&file, &b, true).unwrap();
    assert!(r.moved_aside.is_some_and(|p| p.join("db").exists()));
    assert_eq!(crate::reopen(&b).hours(&tg(42), 2024).unwrap().len(), 1);
}

#[test]
fn a_cut_or_foreign_backup_restores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("backup.jsonl");
    backup::write(&filled(&tmp.path().join("a")), &file).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let target = tmp.path().join("t");
    // Without its end line; cut mid-line; a later format version.
    let lines: Vec<&str> = text.lines().collect();
    let cases = [
        (lines[..lines.len() - 1].join("\n"), "cut off"),
        (text[..text.len() / 2].to_string(), "cut off"),
        (
            text.replacen("\"version\":2", "\"version\":9", 1),
            "format version 9",
        ),
        ("not json\n".to_string(), "line 1"),
    ];
    for (content, want) in cases {
        std::fs::write(&file, content).unwrap();
        let e = backup::restore(&file, &target, false).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
        assert!(
            crate::reopen(&target)
                .hours(&tg(42), 2024)
                .unwrap()
                .is_empty(),
            "nothing restored"
        );
    }
}

fn chat_input(data: &Path, input: &str) {
    let mut child = Command::new(crate::bin())
        .args(["chat", "--data-dir"])
        .arg(data)
        .env("JXJY_NOW", NOW)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// What sled itself recovers from a copy of `data`: (hours records,
/// votes).
fn raw_sled(data: &Path) -> (usize, usize) {
    let copy = tempfile::tempdir().unwrap();
    for f in ["conf", "db"] {
        std::fs::copy(data.join(f), copy.path().join(f)).unwrap();
    }
    let db = sled::open(copy.path()).unwrap();
    (
        db.open_tree("hours").unwrap().len(),
        db.open_tree("votes").unwrap().len(),
    )
}

fn hours_in_chat(data: &Path) -> (Option<i32>, String, String) {
    let mut child = Command::new(crate::bin())
        .args(["chat", "--data-dir"])
        .arg(data)
        .env("JXJY_NOW", NOW)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let _ = child.stdin.take().unwrap().write_all(b"/hours\n/stats\n");
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// sled opens a truncated or garbled log as what came before the damage,
/// even as an empty store. Every command refuses it instead, naming the
/// directory and the way back; `restore` brings the data back.
#[test]
fn a_truncated_or_garbled_log_is_refused_and_restore_recovers() {
    for damage in ["empty", "truncated", "garbled"] {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        chat_input(&data, "/log 公需 20\n");
        let after_log = std::fs::metadata(data.join("db")).unwrap().len();
        // A 👍 (button 4 under the answer): a second record, elsewhere.
        chat_input(&data, "每年要多少学时\n4\n");
        let backup = tmp.path().join("b.jsonl");
        let out = Command::new(crate::bin())
            .args(["backup", "--data-dir"])
            .arg(&data)
            .arg(&backup)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let db = data.join("db");
        match damage {
            "empty" => std::fs::write(&db, b"").unwrap(),
            // Cut where the log ended before /remind on.
            "truncated" => std::fs::OpenOptions::new()
                .write(true)
                .open(&db)
                .unwrap()
                .set_len(after_log)
                .unwrap(),
            // Junk over the end of the /log write.
            _ => {
                use std::io::{Seek, Write};
                let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
                f.seek(std::io::SeekFrom::Start(after_log - 64)).unwrap();
                f.write_all(&[0xA5; 512]).unwrap();
            }
        }
        // sled itself opens it without complaint, having lost records.
        let (hours, votes) = raw_sled(&data);
        assert!(
            hours + votes < 2,
            "{damage}: the damage lost nothing ({hours}, {votes})"
        );
        let (code, stdout, stderr) = hours_in_chat(&data);
        assert_eq!(code, Some(1), "{damage}: {stdout}");
        assert!(
            stderr.contains("is damaged")
                && stderr.contains(&data.display().to_string())
                && stderr.contains("jxjy-bot restore"),
            "{damage}: {stderr}"
        );
        for args in [
            &["stats"][..],
            &["remind", "plan", "--at", "2024-12-24T09:00+08:00"],
        ] {
            let out = Command::new(crate::bin())
                .args(args)
                .arg("--data-dir")
                .arg(&data)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{damage} {args:?}");
            assert!(String::from_utf8_lossy(&out.stderr).contains("is damaged"));
        }
        let out = Command::new(crate::bin())
            .args(["restore", "--data-dir"])
            .arg(&data)
            .arg(&backup)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("damaged-"));
        let (code, stdout, _) = hours_in_chat(&data);
        assert_eq!(code, Some(0));
        assert!(
            stdout.contains("公需课：20 / 30 / 10") && stdout.contains("1 / 0    hours_total"),
            "{damage}: {stdout}"
        );
    }
}

/// A store written by this build: a second open sees the same changes,
/// and a missing marker (a store from before markers) is accepted.
#[test]
fn a_healthy_store_reopens_and_an_old_one_gets_a_marker() {
    let dir = tempfile::tempdir().unwrap();
    let changes = filled(dir.path()).changes().unwrap();
    assert!(changes > 0);
    assert_eq!(crate::reopen(dir.path()).changes().unwrap(), changes);
    std::fs::remove_file(dir.path().join(jxjy_bot::store::MARKER_FILE)).unwrap();
    assert!(crate::open_when_free(dir.path()).is_ok());
    assert!(dir.path().join(jxjy_bot::store::MARKER_FILE).exists());
    // A store the marker says had more changes is refused.
    std::fs::write(
        dir.path().join(jxjy_bot::store::MARKER_FILE),
        format!(
            r#"{{"format":1,"changes":{},"at":"2024-12-01T00:00:00Z"}}"#,
            changes + 5
        ),
    )
    .unwrap();
    assert!(matches!(
        crate::open_when_free(dir.path()),
        Err(StoreError::Damaged { .. })
    ));
}
