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
    std::fs::copy(
        src.join("2024/facts.toml"),
        dir.path().join("2024/facts.toml"),
    )
    .expect("copy");
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
    std::fs::copy(
        d.path().join("2024/faq.toml"),
        d.path().join("2025/faq.toml"),
    )
    .expect("copy");
    let kb = jxjy_bot::knowledge::Kb::load(d.path()).expect("loads");
    assert_eq!(kb.facts.year, 2025);
}

#[test]
fn id_unfit_for_callback_data_is_reported() {
    let d = broken_copy(|f| f.replace("id = \"late\"", "id = \"逾期 怎么办\""));
    let r = reasons(d.path());
    assert!(r.iter().any(|p| p.contains("callback data")), "{r:#?}");
}
