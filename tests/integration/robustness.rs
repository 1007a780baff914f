//! Nothing a user can type makes the bot panic, and it answers the same way
//! every time.

use crate::responder;
use jxjy_bot::dialogue::ReplyKind;
use proptest::prelude::*;

#[test]
fn odd_inputs_get_a_reply() {
    let r = responder();
    let long = "学时".repeat(5000);
    let inputs = [
        "",
        " ",
        "\n\t",
        "😀😀",
        "\u{0}\u{1}\u{7f}",
        "ＡＢＣ",
        "学时？？？？",
        &long,
        "继续教育 ﾃｽﾄ тест اختبار",
        "\u{202e}学时",
        "{hours.total}",
    ];
    for i in inputs {
        let reply = r.ask(i);
        assert!(!reply.text.is_empty(), "{i:?}");
    }
    assert_eq!(r.ask("").kind, ReplyKind::Info);
}

#[test]
fn out_of_scope_neighbours_are_declined_with_hotline_and_topics() {
    let r = responder();
    for q in [
        "食堂几点开门",
        "驾校要练多少学时",
        "江西师范大学招生办电话",
        "工资什么时候发",
    ] {
        let reply = r.ask(q);
        assert_eq!(reply.kind, ReplyKind::Decline, "{q}: {}", reply.text);
        assert!(
            reply.text.contains("0791-12333") && reply.text.contains("学时要求"),
            "{q}"
        );
    }
}

#[test]
fn ambiguous_question_offers_candidates() {
    // 学时 alone fits the hours of each kind and the public courses.
    let reply = responder().ask("学时");
    assert_eq!(reply.kind, ReplyKind::Candidates, "{}", reply.text);
    assert!(reply.text.starts_with("您是想问："));
    assert!((2..=3).contains(&reply.candidates.len()));
    assert_eq!(reply.buttons.len(), reply.candidates.len());
    assert!(reply.matched.is_none());
}

#[test]
fn typos_traditional_and_full_width_still_match() {
    let r = responder();
    for q in [
        "工需课要多少学识",
        "公需課要多少學時？",
        "公需课要多少学时？",
        "公需课要多少学时",
    ] {
        assert_eq!(r.ask(q).matched.as_deref(), Some("public_hours"), "{q}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn any_text_is_safe_and_deterministic(s in "\\PC{0,400}") {
        let r = responder();
        let a = r.ask(&s);
        let b = r.ask(&s);
        prop_assert_eq!(&a, &b);
        prop_assert!(a.text.chars().count() < 700);
    }

    #[test]
    fn any_bytes_as_lossy_text_are_safe(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = responder().ask(&s);
    }
}

#[test]
fn a_close_runner_up_is_the_first_button() {
    let r = responder();
    let reply = r.ask("公需课怎么学");
    let m = r.matcher().find("公需课怎么学");
    let (top, runner) = (m.ranked[0], m.ranked[1]);
    assert!(top.1 - runner.1 < 0.05, "{m:?}");
    assert_eq!(
        reply.matched.as_deref(),
        Some(r.kb().entries[top.0].id.as_str())
    );
    let first = &reply.buttons[0][0];
    assert_eq!(first.label, r.kb().entries[runner.0].title);
}
