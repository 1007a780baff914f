//! `kb new-year`: the next guide year from its text, checked before use;
//! and the bot answering from two guide years side by side.

use crate::{bin, fixture, shipped_kb_dir};
use jxjy_bot::clock::ManualClock;
use jxjy_bot::dialogue::Responder;
use jxjy_bot::knowledge::Kb;
use jxjy_bot::newyear::{extract, new_year};
use std::process::Command;
use std::sync::Arc;

/// A copy of the shipped knowledge base to add a year to.
fn kb_copy() -> tempfile::TempDir {
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

fn leaf(facts: &toml::Table, key: &str) -> Option<String> {
    let mut v = facts.get(key.split('.').next()?)?;
    for part in key.split('.').skip(1) {
        v = match v {
            toml::Value::Table(t) => t.get(part)?,
            toml::Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[test]
fn extraction_gives_back_the_2024_facts() {
    let dir = shipped_kb_dir().join("2024");
    let source = std::fs::read_to_string(dir.join("source.txt")).expect("source");
    let facts: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("facts.toml")).expect("facts"))
            .expect("toml");
    let found = extract(&source);
    assert!(found.len() >= 30, "{found:?}");
    for (key, value) in &found {
        let value = match value {
            toml_edit::Value::String(s) => s.value().clone(),
            other => other.to_string().trim().to_string(),
        };
        assert_eq!(leaf(&facts, key).as_deref(), Some(value.as_str()), "{key}");
    }
    for key in [
        "hours.total",
        "deadline.date",
        "login.url",
        "hotline.number",
        "platforms.2.phone",
        "public.topics.2",
        "guide.doc_no",
        "guide.to",
        "guide.asks",
        "guide.made_with",
        "school_notice.to",
        "school_notice.asks",
    ] {
        assert!(found.iter().any(|(k, _)| k == key), "{key} not found");
    }
}

#[test]
fn a_new_year_without_its_text_fails_the_check_until_filled() {
    let kb = kb_copy();
    let o = new_year(kb.path(), 2026, None).expect("new year");
    assert!(
        o.changes
            .iter()
            .any(|c| c.key == "hours.total" && c.new.is_none())
    );
    let problems = jxjy_bot::check::check_dir(kb.path()).expect("check");
    for key in ["[hours.total]", "[deadline.date]", "[platforms.0.phone]"] {
        assert!(
            problems
                .iter()
                .any(|p| p.to_string().contains(key) && p.reason.contains("not filled in")),
            "{key}: {problems:#?}"
        );
    }
    // A second run does not overwrite what a person is filling in.
    assert!(new_year(kb.path(), 2026, None).is_err());
}

#[test]
fn a_new_year_from_its_text_finds_the_changes_and_serves_both_years() {
    let kb = kb_copy();
    let out = Command::new(bin())
        .args(["kb", "new-year", "2026", "--kb"])
        .arg(kb.path())
        .arg("--source")
        .arg(fixture("guide-2026-fictional.txt"))
        .output()
        .expect("run");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for change in [
        "hours.total: 90 → 96",
        "hours.public: 30 → 32",
        "deadline.date: 2024-12-31 → 2026-12-20",
        "login.url: https://hr.jxhrss.gov.cn/jxjysb → https://hr.jxhrss.gov.cn/jxjy2026",
        "platforms.1.phone: 4008039966 → 4008039977",
        "guide.doc_no: 赣教师办函〔2024〕22号 → 赣教师办函〔2026〕31号",
        "public.topics.0: 学习贯彻习近平总书记考察江西重要讲话精神 → 虚构专题甲：数字校园建设",
    ] {
        assert!(report.contains(change), "{change}\n{report}");
    }
    let check = Command::new(bin())
        .args(["kb", "check", "--kb"])
        .arg(kb.path())
        .output()
        .expect("check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Both years loaded; in the 2026 season the 2026 guide answers plainly,
    // and a question naming 2024 gets 2024's answer.
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-29T10:00:00+08:00")
        .expect("date")
        .with_timezone(&chrono::Utc);
    let r = Responder::new(Arc::new(Kb::load(kb.path()).expect("kb")))
        .with_clock(Arc::new(ManualClock::new(now)));
    assert_eq!(r.kb().years(), vec![2024, 2026]);
    let reply = r.ask("今年要学多少学时");
    assert!(
        reply.text.contains("96") && !reply.text.contains("尚未收录"),
        "{}",
        reply.text
    );
    let reply = r.ask("2024年度继续教育一共要多少学时");
    assert!(reply.text.contains("不少于90学时"), "{}", reply.text);
    assert!(
        reply.text.contains("赣教师办函〔2024〕22号"),
        "{}",
        reply.text
    );
    let reply = r.ask("2025年度继续教育一共要多少学时");
    assert!(
        reply.matched.is_none() && reply.text.contains("没有2025年度的"),
        "{}",
        reply.text
    );
}
