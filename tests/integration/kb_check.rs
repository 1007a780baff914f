//! `kb check` on the shipped knowledge base and on broken copies of it.

use crate::{bin, shipped_kb_dir};
use jxjy_bot::check::check_dir;
use jxjy_bot::error::KbError;
use std::path::Path;
use std::process::Command;

#[test]
fn shipped_knowledge_base_passes_check() {
    let problems = check_dir(&shipped_kb_dir()).expect("readable");
    assert!(problems.is_empty(), "{problems:#?}");
    let out = Command::new(bin())
        .args(["kb", "check", "--kb"])
        .arg(shipped_kb_dir())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of the shipped knowledge base with faq.toml changed by `edit`.
fn broken_copy(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = shipped_kb_dir();
    for f in ["lexicon.toml", "segmentation.txt"] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    std::fs::create_dir(dir.path().join("2024")).expect("mkdir");
    for f in ["facts.toml", "source.txt"] {
        std::fs::copy(src.join("2024").join(f), dir.path().join("2024").join(f)).expect("copy");
    }
    let faq = std::fs::read_to_string(src.join("2024/faq.toml")).expect("read");
    std::fs::write(dir.path().join("2024/faq.toml"), edit(&faq)).expect("write");
    dir
}

fn reasons(dir: &Path) -> Vec<String> {
    check_dir(dir)
        .expect("parsable")
        .iter()
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn duplicate_id_is_reported_with_file_and_entry() {
    let d = broken_copy(|f| f.replace("id = \"late\"", "id = \"deadline\""));
    let r = reasons(d.path());
    assert!(
        r.iter()
            .any(|p| p.contains("faq.toml") && p.contains("[deadline] duplicate id")),
        "{r:#?}"
    );
}

#[test]
fn template_naming_a_missing_fact_is_reported() {
    let d = broken_copy(|f| f.replace("{hotline.number}", "{hotline.numbr}"));
    let r = reasons(d.path());
    assert!(r.iter().any(|p| p.contains("hotline.numbr")), "{r:#?}");
}

#[test]
fn entry_without_source_is_reported() {
    let d = broken_copy(|f| {
        f.replace(
            "source = \"{guide.doc_no} 附件 四（三）督促按时完成\"\nrelated = [\"late\"",
            "related = [\"late\"",
        )
    });
    let r = reasons(d.path());
    assert!(
        r.iter()
            .any(|p| p.contains("[deadline] entry without a source")),
        "{r:#?}"
    );
}

#[test]
fn phrasing_that_retrieves_another_entry_is_reported() {
    // The hotline entry gains a phrasing that is plainly about the deadline.
    let d = broken_copy(|f| {
        f.replace(
            "  \"热线号码是多少\",",
            "  \"热线号码是多少\",\n  \"截止日期是哪天呀\",",
        )
    });
    let r = reasons(d.path());
    assert!(
        r.iter()
            .any(|p| p.contains("[hotline]") && p.contains("does not retrieve its own entry")),
        "{r:#?}"
    );
}

#[test]
fn colliding_phrasings_are_reported() {
    let d = broken_copy(|f| {
        f.replace(
            "  \"热线号码是多少\",",
            "  \"热线号码是多少\",\n  \"最晚什么时候要学完\",",
        )
    });
    let r = reasons(d.path());
    assert!(
        r.iter().any(|p| p.contains("collides with entry")),
        "{r:#?}"
    );
}

#[test]
fn bad_toml_names_file_and_line_and_exits_non_zero() {
    let d = broken_copy(|f| f.replacen("[[entry]]", "[[entry]]\nid = = broken", 1));
    match check_dir(d.path()) {
        Err(KbError::Parse { path, message }) => {
            assert!(path.ends_with("faq.toml"));
            assert!(message.starts_with("line "), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let out = Command::new(bin())
        .args(["kb", "check", "--kb"])
        .arg(d.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("faq.toml") && err.contains("line "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_directory_is_a_clear_error() {
    let out = Command::new(bin())
        .args(["ask", "学时", "--kb", "/nonexistent/kb"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/kb"));
}

#[test]
fn newest_year_directory_is_used() {
    // A 2025 directory with the same facts but another year: a data-only
    // change makes the bot speak of 2025.
    let d = broken_copy(|f| f.to_string());
    std::fs::create_dir(d.path().join("2025")).expect("mkdir");
    let facts = std::fs::read_to_string(d.path().join("2024/facts.toml")).expect("read");
    std::fs::write(
        d.path().join("2025/facts.toml"),
        facts.replace("year = 2024", "year = 2025"),
    )
    .expect("write");
    for f in ["faq.toml", "source.txt"] {
        std::fs::copy(d.path().join("2024").join(f), d.path().join("2025").join(f)).expect("copy");
    }
    let kb = jxjy_bot::knowledge::Kb::load(d.path()).expect("loads");
    assert_eq!(kb.facts.year, 2025);
}

#[test]
fn id_unfit_for_callback_data_is_reported() {
    let d = broken_copy(|f| f.replace("id = \"late\"", "id = \"逾期 怎么办\""));
    let r = reasons(d.path());
    assert!(r.iter().any(|p| p.contains("callback data")), "{r:#?}");
}

/// A copy of the shipped knowledge base with facts.toml changed by `edit`.
fn facts_edited(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let d = broken_copy(|f| f.to_string());
    let path = d.path().join("2024/facts.toml");
    let facts = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, edit(&facts)).expect("write");
    d
}

#[test]
fn impossible_hours_are_reported() {
    for (edit, needle) in [
        (("total = 90", "total = -90"), "hours.total"),
        (("public = 30", "public = 0"), "hours.public"),
        (
            ("professional = 60", "professional = nan"),
            "hours.professional",
        ),
        (("total = 90", "total = 80"), "exceed the total"),
    ] {
        let d = facts_edited(|f| f.replace(edit.0, edit.1));
        let r = reasons(d.path());
        assert!(r.iter().any(|p| p.contains(needle)), "{edit:?}: {r:#?}");
    }
}

#[test]
fn an_empty_faq_and_a_topic_without_its_entry_are_reported() {
    let d = broken_copy(|f| {
        let topics_end = f.find("[[entry]]").unwrap_or(f.len());
        f[..topics_end].to_string()
    });
    let r = reasons(d.path());
    assert!(
        r.iter().any(|p| p.contains("the FAQ has no entries")),
        "{r:#?}"
    );
    assert!(r.iter().any(|p| p.contains("topic 学时要求")), "{r:#?}");
}

#[test]
fn a_fact_the_guide_does_not_say_is_named() {
    // A phone number mistyped, a deadline moved: neither is in source.txt.
    let d = facts_edited(|f| {
        f.replace("phone = \"4008039966\"", "phone = \"4008039967\"")
            .replace("date = 2024-12-31", "date = 2024-12-30")
    });
    let r = reasons(d.path());
    assert!(
        r.iter()
            .any(|p| p.contains("[platforms.1.phone]") && p.contains("4008039967")),
        "{r:#?}"
    );
    assert!(
        r.iter()
            .any(|p| p.contains("[deadline.date]") && p.contains("2024年12月30日")),
        "{r:#?}"
    );
    // Without the guide's text nothing can be checked: that is a problem too.
    let d = broken_copy(|f| f.to_string());
    std::fs::remove_file(d.path().join("2024/source.txt")).expect("rm");
    let r = reasons(d.path());
    assert!(
        r.iter()
            .any(|p| p.contains("source.txt") && p.contains("missing")),
        "{r:#?}"
    );
}

#[test]
fn a_passed_deadline_warns_without_failing() {
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
    let w = jxjy_bot::check::warnings(&shipped_kb_dir(), day("2026-11-29")).expect("warnings");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].reason.contains("2024年12月31日"), "{w:?}");
    assert!(
        jxjy_bot::check::warnings(&shipped_kb_dir(), day("2024-06-01"))
            .expect("warnings")
            .is_empty()
    );
    // The binary prints it and still exits 0 (today is past the 2024 deadline).
    let out = Command::new(bin())
        .args(["kb", "check", "--kb"])
        .arg(shipped_kb_dir())
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning:"));
}

#[test]
fn entry_without_phrasings_must_be_another_entrys_summary() {
    // where_both has no phrasings: public_how and professional_online name
    // it as their summary. Without them it could never be reached.
    let d = broken_copy(|f| f.replace("summary = \"where_both\"", ""));
    let r = reasons(d.path());
    assert!(
        r.iter()
            .any(|p| p.contains("[where_both] entry without example questions")),
        "{r:#?}"
    );
    assert!(reasons(&shipped_kb_dir()).is_empty());
}

#[test]
fn a_join_to_a_missing_entry_is_reported() {
    let d = broken_copy(|f| {
        f.replace(
            "joins = { entry = \"audience\"",
            "joins = { entry = \"audiense\"",
        )
    });
    let r = reasons(d.path());
    assert!(
        r.iter()
            .any(|p| p.contains("[hours_total]") && p.contains("joined entry 'audiense'")),
        "{r:#?}"
    );
}
