//! Learning from use: `kb suggest` groups what the bot could not answer,
//! `kb teach` adds a phrasing only when `kb check` still passes.

use crate::{bin, shipped_kb_dir};
use jxjy_bot::dialogue::Responder;
use jxjy_bot::knowledge::Kb;
use jxjy_bot::store::{ChatKind, Store, Unanswered};
use std::process::Command;
use std::sync::Arc;

pub(crate) fn kb_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = shipped_kb_dir();
    for f in ["lexicon.toml", "segmentation.txt"] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    std::fs::create_dir(dir.path().join("2024")).expect("mkdir");
    for f in ["facts.toml", "faq.toml", "source.txt"] {
        std::fs::copy(src.join("2024").join(f), dir.path().join("2024").join(f)).expect("copy");
    }
    dir
}

fn teach(kb: &std::path::Path, q: &str, id: &str) -> std::process::Output {
    Command::new(bin())
        .args(["kb", "teach", "--kb"])
        .arg(kb)
        .args([q, id])
        .output()
        .expect("run")
}

#[test]
fn a_taught_question_is_answered_and_the_file_keeps_its_comments() {
    let kb = kb_copy();
    let faq = kb.path().join("2024/faq.toml");
    let before = std::fs::read_to_string(&faq).expect("read");
    let q = "学时银行怎么开户";
    let r = Responder::new(Arc::new(Kb::load(kb.path()).expect("kb")));
    assert!(r.ask(q).matched.is_none(), "{}", r.ask(q).text);
    let out = teach(kb.path(), q, "credit_recording");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::read_to_string(&faq).expect("read");
    // One line more, nothing else touched.
    assert_eq!(after.lines().count(), before.lines().count() + 1);
    assert!(after.contains(&format!("  \"{q}\",\n")), "{after}");
    assert!(after.starts_with("# FAQ entries of the 2024 guide."));
    let r = Responder::new(Arc::new(Kb::load(kb.path()).expect("kb")));
    assert_eq!(r.ask(q).matched.as_deref(), Some("credit_recording"));
}

#[test]
fn teaching_what_the_check_refuses_changes_nothing() {
    let kb = kb_copy();
    let faq = kb.path().join("2024/faq.toml");
    let before = std::fs::read_to_string(&faq).expect("read");
    // Plainly about the deadline: as the hotline's phrasing it would
    // retrieve another entry.
    let out = teach(kb.path(), "截止日期是哪天呀", "hotline");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not retrieve its own entry"), "{err}");
    assert_eq!(std::fs::read_to_string(&faq).expect("read"), before);
    for (q, id, needle) in [
        ("随便问问", "no_such_entry", "no entry 'no_such_entry'"),
        ("网梯电话", "platform_1", "for_each"),
        ("  ", "hotline", "empty"),
        ("热线号码是多少", "hotline", "already a phrasing"),
    ] {
        let out = teach(kb.path(), q, id);
        assert_eq!(out.status.code(), Some(1), "{q}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{q}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&faq).expect("read"), before);
}

#[test]
fn suggest_groups_unanswered_questions_with_their_likely_entry() {
    let data = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(data.path()).expect("store");
        for text in ["学时银行怎么开户", "学时银行怎么开户？", "食堂几点开门"]
        {
            store
                .record_unanswered(&Unanswered {
                    text: text.into(),
                    at: chrono::Utc::now(),
                    chat: ChatKind::Private,
                    disliked: None,
                })
                .expect("record");
        }
        store.flush().expect("flush");
    }
    let out = Command::new(bin())
        .args(["kb", "suggest", "--data-dir"])
        .arg(data.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("3 question(s)"), "{text}");
    let first = text.lines().nth(1).unwrap_or_default();
    assert!(
        first.trim_start().starts_with("2  学时银行怎么开户"),
        "{text}"
    );
    assert!(first.contains("→ "), "{text}");
    assert!(text.contains("kb teach"), "{text}");
}

/// A 👎 on an answer puts its question in `kb suggest`, marked with the
/// entry disliked, once however often it is pressed; /stats keeps listing
/// only the questions with no answer; /forget drops the link.
#[test]
fn a_thumbs_down_names_its_question_in_suggest() {
    use crate::Said;
    use jxjy_bot::conversation::{Incoming, Input};
    let data = tempfile::tempdir().expect("tempdir");
    let teacher = jxjy_bot::identity::Identity::telegram(5);
    {
        let store = Store::open(data.path()).expect("store");
        let core = crate::core_on(
            &crate::shipped_kb_dir(),
            Some(store.clone()),
            crate::at("2024-12-20T10:00:00+08:00"),
        );
        let question = "热线电话是多少呀";
        let reply = core.handle_now(&Incoming::private(
            teacher.clone(),
            Input::Text(question.into()),
        ));
        let entry = reply.messages[0].matched.clone().expect("answered");
        let down = format!("f:-:{entry}");
        for _ in 0..2 {
            core.handle_now(&Incoming::private(
                teacher.clone(),
                Input::Button(down.clone()),
            ));
        }
        let unanswered = store.unanswered().expect("read");
        assert_eq!(unanswered.len(), 1, "{unanswered:?}");
        assert_eq!(unanswered[0].text, question);
        assert_eq!(unanswered[0].disliked.as_deref(), Some(entry.as_str()));
        // The admin's /stats lists questions with no answer only.
        let stats = core.say(&jxjy_bot::identity::Identity::telegram(7), "/stats");
        assert!(!stats.contains(question), "{stats}");
        // A 👎 on an entry other than the last answer names no question.
        core.handle_now(&Incoming::private(
            teacher.clone(),
            Input::Button("f:-:deadline".into()),
        ));
        assert_eq!(store.unanswered().expect("read").len(), 1);
        core.say(&teacher, "/forget");
        core.handle_now(&Incoming::private(teacher.clone(), Input::Button(down)));
        assert_eq!(store.unanswered().expect("read").len(), 1, "forgotten");
        store.flush().expect("flush");
    }
    let out = Command::new(bin())
        .args(["kb", "suggest", "--data-dir"])
        .arg(data.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("热线电话是多少呀") && text.contains("(👎 on "),
        "{text}"
    );
}
