//! What a question is about: its year, its scope, its parts, and what the
//! guide does not say; each with the reply a teacher sees.

use crate::shipped_kb_dir;
use jxjy_bot::clock::ManualClock;
use jxjy_bot::dialogue::{Contacts, ReplyKind, Responder};
use jxjy_bot::knowledge::Kb;
use std::sync::Arc;

/// The shipped knowledge base (the 2024 guide) on a given day.
fn at(date: &str) -> Responder {
    let kb = Kb::load(&shipped_kb_dir()).expect("kb");
    let now = chrono::DateTime::parse_from_rfc3339(&format!("{date}T10:00:00+08:00"))
        .expect("date")
        .with_timezone(&chrono::Utc);
    Responder::new(Arc::new(kb)).with_clock(Arc::new(ManualClock::new(now)))
}

const WARNING: &str = "以下依据2024年度指南；2026年度指南尚未收录，请以人事处最新通知为准。";

/// The reply to `q` answers with entry `id`.
fn answers(r: &Responder, q: &str, id: &str) -> jxjy_bot::dialogue::Reply {
    let reply = r.ask(q);
    assert_eq!(reply.matched.as_deref(), Some(id), "{q}: {}", reply.text);
    reply
}

/// The reply to `q` says the guide does not say it, by gap entry `gap`.
fn says_gap(r: &Responder, q: &str, gap: &str) {
    let reply = r.ask(q);
    assert_eq!(reply.matched, None, "{q}: {}", reply.text);
    assert_eq!(reply.parts, vec![gap.to_string()], "{q}: {}", reply.text);
}

/// The reply to `q` is entry `id`, and its text holds each of `facts`.
fn answers_with(r: &Responder, q: &str, id: &str, facts: &[&str]) {
    let reply = answers(r, q, id);
    for fact in facts {
        assert!(reply.text.contains(fact), "{q}: {fact}: {}", reply.text);
    }
}

/// The reply to `q` declines: no entry, not even a gap.
fn declines(r: &Responder, q: &str) {
    let reply = r.ask(q);
    assert!(
        reply.matched.is_none() && reply.parts.is_empty(),
        "{q}: {}",
        reply.text
    );
}

#[test]
fn an_older_guide_says_so_in_a_later_season() {
    let r = at("2026-11-29");
    for q in ["今年要学多少学时", "每年要多少学时", "继续教育什么时候截止"]
    {
        let reply = r.ask(q);
        assert!(reply.matched.is_some(), "{q}");
        assert!(reply.text.starts_with(WARNING), "{q}: {}", reply.text);
    }
    // Not year-specific: no warning.
    let reply = r.ask("哪些人要参加继续教育");
    assert_eq!(reply.matched.as_deref(), Some("audience"));
    assert!(!reply.text.contains("尚未收录"), "{}", reply.text);
    // In its own season the guide is this year's.
    let reply = at("2024-11-01").ask("今年要学多少学时");
    assert!(!reply.text.contains("尚未收录"), "{}", reply.text);
    assert!(reply.text.contains("90"));
}

#[test]
fn a_year_not_loaded_is_never_answered_as_the_loaded_one() {
    let r = at("2026-11-29");
    for (q, year, reference) in [
        ("2025年的公需课专题是什么", "2025", true),
        ("2023年度继续教育要多少学时", "2023", true),
        ("二零二二年的继续教育", "2022", false),
        // The current season written out asks for its own guide, which is
        // not loaded: 今年 gets the newest guide with the warning instead.
        ("2026年度继续教育什么时候截止", "2026", true),
        ("2026年度继续教育一共要多少学时", "2026", true),
    ] {
        let reply = r.ask(q);
        assert!(reply.matched.is_none(), "{q}");
        assert!(
            reply.text.contains(&format!("没有{year}年度的")),
            "{q}: {}",
            reply.text
        );
        // The newest guide's answer may follow, labelled as that year's.
        assert_eq!(
            reply.text.contains("仅供参考，2024年度指南的规定"),
            reference,
            "{q}: {}",
            reply.text
        );
    }
    // The year loaded, named: answered, without the season warning.
    let reply = r.ask("2024年公需科目学习内容");
    assert_eq!(reply.matched.as_deref(), Some("public_topics"));
    assert!(!reply.text.contains("尚未收录"), "{}", reply.text);
    // A year in the asker's story is no year asked about.
    let reply = r.ask("我2020年评的副高，今年还要学继续教育吗");
    assert!(!reply.text.contains("没有2020年度"), "{}", reply.text);
}

#[test]
fn other_regions_professions_and_operators_are_declined_with_the_reason() {
    let r = at("2026-11-29");
    for (q, why) in [
        ("广东省高校教师继续教育一年要多少学时", "广东"),
        ("护士继续教育学分每年要多少", "护士"),
        ("会计人员继续教育在哪个平台学", "会计人员"),
        ("湖南大学在哪个城市", "湖南大学"),
        ("北京网梯科技最近在招人吗", "北京网梯科技"),
    ] {
        let reply = r.ask(q);
        assert_eq!(reply.kind, ReplyKind::Decline, "{q}: {}", reply.text);
        assert!(reply.text.contains(why), "{q}: {}", reply.text);
    }
    // Teachers of schools the guide leaves out: their own rules apply.
    for (q, why) in [
        ("小学老师的继续教育学分怎么登记", "小学"),
        (
            "My wife teaches at a primary school. How many hours does she need?",
            "primary school",
        ),
    ] {
        let reply = r.ask(q);
        assert_eq!(reply.kind, ReplyKind::Decline, "{q}: {}", reply.text);
        assert!(reply.text.contains(why), "{q}: {}", reply.text);
    }
    // A platform named by its own name bears its operator's region.
    let reply =
        r.ask("同事推荐我用江西专技在线那个平台 说是北京一个公司做的 学的时候有问题打哪个客服电话");
    assert!(reply.text.contains("4008039966"), "{}", reply.text);
    // A profession's name read across a word (才会计入 holds 会计) is none.
    let reply = r.ask("公需课学时必须满多少还要考试过了才会计入");
    assert!(reply.matched.is_some(), "{}", reply.text);
    // The platform of an operator, and a teacher of accounting, are ours.
    assert_eq!(
        r.ask("湖大的平台客服电话").matched.as_deref(),
        Some("platform_2")
    );
    assert!(
        r.ask("我是会计专业的老师，每年要学多少学时")
            .matched
            .is_some()
    );
}

#[test]
fn what_the_guide_does_not_say_is_said_with_where_to_ask() {
    let r = at("2026-11-29").with_contacts(Contacts {
        hr: Some("人事处师资科 0791-88888888".into()),
    });
    let reply = r.ask("折算学时审核要多久");
    assert!(reply.matched.is_none());
    assert_eq!(reply.parts, vec!["gap_review_time".to_string()]);
    assert!(reply.text.contains("指南没有规定"), "{}", reply.text);
    assert!(reply.text.contains("0791-12333"), "{}", reply.text);
    let reply = r.ask("继续教育网课要交钱吗");
    assert!(
        reply.text.contains("人事处师资科 0791-88888888"),
        "{}",
        reply.text
    );
    // A plain decline: school matters to the school, platform problems to
    // the hotline.
    let reply = r.ask("食堂几点开门");
    assert!(reply.text.contains("人事处师资科") && reply.text.contains("12333"));
}

#[test]
fn each_question_of_a_message_is_answered_with_its_source() {
    let r = at("2026-11-29");
    for (q, parts) in [
        (
            "公需课要多少学时？截止日期是哪天？",
            &["public_hours", "deadline"][..],
        ),
        ("截止时间和网址", &["deadline", "login"][..]),
        // A bare ask as a last part ("要学多少") asks about the message's
        // topic: the whole message's best entry not yet answered.
        (
            "我是今年九月刚入职的新老师，也要完成今年的继续教育吗？要学多少",
            &["audience", "hours_total"][..],
        ),
        // A part asking something new though it borrows the subject
        // before it: the part alone answers.
        (
            "湖南大学平台电话多少？平台问题打省里哪个电话？",
            &["platform_2", "hotline"][..],
        ),
        // A first half of common words only: its own match, when the
        // whole's answer is the second half's.
        (
            "How many hours do I need and when is the deadline?",
            &["hours_total", "deadline"][..],
        ),
        (
            "公需课要多少学时 在哪学 学完要不要申报",
            &["public_hours", "public_how"][..],
        ),
        (
            "我想问两个事第一个是专业课学时要不要自己申报第二个是湖南大学那个平台客服电话多少",
            &["credit_recording", "platform_2"][..],
        ),
    ] {
        let reply = r.ask(q);
        assert_eq!(reply.parts, parts, "{q}: {}", reply.text);
        assert_eq!(reply.matched.as_deref(), Some(parts[0]));
        assert_eq!(reply.text.matches("依据：").count(), parts.len(), "{q}");
        // One season warning for the whole reply.
        assert_eq!(reply.text.matches("尚未收录").count(), 1, "{q}");
    }
    // One question about two things stays one answer.
    let reply = r.ask("继续教育和职称有什么关系");
    assert_eq!(reply.parts, vec!["why".to_string()]);
}

#[test]
fn slips_of_the_phone_keyboard_and_other_languages_are_read() {
    let r = at("2026-11-29");
    for (q, id) in [
        ("公虚课要多少学时", "public_hours"),
        ("继教资询电话", "hotline"),
        ("网题科技那个平台电话多少", "platform_1"),
        ("專業課最少多少學時", "professional_hours"),
        ("How many CE hours do I need each year?", "hours_total"),
        ("400-803-9966是哪个平台的电话", "platform_1"),
        ("出版了专着可以折算吗", "conversion_what"),
        ("What's the support number for 江西专技在线?", "platform_1"),
        (
            "Does the public course cover professional ethics?",
            "public_topics",
        ),
    ] {
        assert_eq!(r.ask(q).matched.as_deref(), Some(id), "{q}");
    }
    // 及各 beside 自 is no slip for 及格: 各自 is a common word.
    let reading = r.matcher().read("请把三家平台的名称及各自电话发一下");
    assert!(
        reading.normalized.contains("及各自"),
        "{}",
        reading.normalized
    );
    // 不上课 is no slip for 补上课.
    let reply = r.ask("我是实验员不上课的，也要参加继续教育吗");
    assert_eq!(reply.matched.as_deref(), Some("audience"), "{}", reply.text);
}

/// The kinds set 16 taught (other phrasings than its questions): a region
/// an operator bears, short names of other professions, a part opened by
/// 顺便问, a phone typed in groups, a sound-alike beside an abbreviation.
#[test]
fn operators_regions_professions_and_typed_numbers_are_told_apart() {
    let r = at("2024-11-01");
    let reply = r.ask("湖南大学那个平台是湖南的吗 客服号码多少");
    assert!(reply.text.contains("4001911818"), "{}", reply.text);
    for q in ["二建的继续教育要学几个学时", "消防工程师继续教育在哪个平台"]
    {
        let reply = r.ask(q);
        assert_eq!(reply.matched, None, "{q}: {}", reply.text);
        assert!(reply.text.contains("不在其中"), "{q}: {}", reply.text);
    }
    let reply = r.ask("平台登不上有没有电话可以问 顺便问下什么时候截止");
    assert!(
        reply.text.contains("12333") && reply.text.contains("12月31日"),
        "{}",
        reply.text
    );
    let reply = r.ask("4006 660 656是哪个平台的");
    assert!(reply.text.contains("江西专技学习网"), "{}", reply.text);
    let reply = r.ask("登继教平台用什么扫码");
    assert!(reply.text.contains("电子社保"), "{}", reply.text);
}

/// A kind of school named to ask something else is the asker's context,
/// not a question of who takes part.
#[test]
fn a_school_named_as_context_does_not_make_it_a_question_of_who() {
    let r = at("2024-11-01");
    let reply = r.ask("我们高职院校的老师一年继续教育总学时是多少");
    assert_eq!(
        reply.matched.as_deref(),
        Some("hours_total"),
        "{}",
        reply.text
    );
    for q in [
        "中职学校老师要参加继续教育吗",
        "Do teachers at vocational schools have to take continuing education?",
    ] {
        let reply = r.ask(q);
        assert_eq!(
            reply.matched.as_deref(),
            Some("audience"),
            "{q}: {}",
            reply.text
        );
    }
}

/// Two questions run together after the asker's story, joined by 还有:
/// the first half is not clear alone, the whole message is, and the second
/// half is another entry: both are answered.
#[test]
fn a_story_then_two_questions_joined_by_a_conjunction_gets_both() {
    let r = at("2024-11-01");
    let reply = r.ask("我是高职老师今年刚入职什么都不懂到底截止日期是哪天还有一共要学多少学时");
    assert!(
        reply.text.contains("12月31日") && reply.text.contains("90"),
        "{}",
        reply.text
    );
}

/// A figure asked back for confirmation (是吧 / 对吧) is a question of its
/// own; "没能按时完成" is not finishing in time.
#[test]
fn confirmations_and_late_in_other_words() {
    let r = at("2024-11-01");
    let reply = r.ask("公需课要学30学时对吧 在哪里学");
    assert!(
        reply.text.contains("30") && reply.text.contains("jxjysb"),
        "{}",
        reply.text
    );
    let reply = r.ask("要是学时未能按期完成怎么办");
    assert!(reply.text.contains("补学"), "{}", reply.text);
}

#[test]
fn a_yes_no_question_is_read_by_its_question_mark_or_trailing_negation() {
    let r = at("2026-11-29");
    // No question word: the question mark, 不 or 吧 at the end asks whether.
    for q in [
        "我是坐办公室的行政岗，不上讲台，这个也要学？",
        "我们是民办高职哈，也要搞这个继教不",
        "我是辅导员 不在教学岗 要按这个指南学吧",
    ] {
        assert_eq!(r.ask(q).matched.as_deref(), Some("audience"), "{q}");
    }
}

#[test]
fn exemptions_and_penalties_are_gaps_of_the_guide() {
    let r = at("2026-11-29");
    for (q, gap) in [
        ("我明年就要退休了，能不能免学", "gap_exemption"),
        ("新入职不满半年，能按入职时间少学一点吗", "gap_exemption"),
        ("没学完的话指南有没有具体处罚规定", "gap_penalty"),
    ] {
        let reply = r.ask(q);
        assert!(reply.matched.is_none(), "{q}: {}", reply.text);
        assert_eq!(reply.parts, vec![gap.to_string()], "{q}");
        assert!(reply.text.contains("指南没有"), "{q}: {}", reply.text);
    }
}

#[test]
fn pinyin_initials_typed_in_groups_are_the_words() {
    let r = at("2026-11-29");
    let reply = r.ask("gxk zyk各要几个xs啊");
    assert!(reply.matched.is_some(), "{}", reply.text);
    assert!(
        reply.text.contains("30") && reply.text.contains("60"),
        "{}",
        reply.text
    );
}

#[test]
fn the_notices_say_whom_they_are_sent_to_and_what_they_ask() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "学校这个通知是发给谁的",
        "notices",
        &["人事处", "各学院、各部门", "赣江新区社会发展局"],
    );
    // Who sent it and to whom: the documents' entry, then the notices'.
    let reply = r.ask("学校这个通知是哪个部门发的 发给谁的");
    assert_eq!(
        reply.parts,
        vec!["legal_basis".to_string(), "notices".to_string()],
        "{}",
        reply.text
    );
    for fact in ["人事处", "各学院、各部门", "赣江新区社会发展局"] {
        assert!(reply.text.contains(fact), "{fact}: {}", reply.text);
    }
}

#[test]
fn a_failed_exam_is_answered_by_the_guide_a_pass_mark_is_not() {
    let r = at("2026-11-29");
    // The guide says hours count after the exam is passed...
    let reply = r.ask("公需课考试没及格 学时算不算");
    assert_eq!(
        reply.matched.as_deref(),
        Some("public_how"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("考试合格"), "{}", reply.text);
    // ...but not what the pass mark is.
    let reply = r.ask("公需课考试多少分及格");
    assert!(reply.matched.is_none(), "{}", reply.text);
    assert_eq!(reply.parts, vec!["gap_exam".to_string()]);
}

#[test]
fn where_the_asker_comes_from_is_no_other_province() {
    let r = at("2026-11-29");
    let reply = r.ask("我是從台灣來江西高校任教的老師，也需要參加繼續教育嗎？");
    assert_eq!(reply.matched.as_deref(), Some("audience"), "{}", reply.text);
    // Another province's own continuing education is still declined.
    let reply = r.ask("广东的高校老师继续教育要多少学时");
    assert_eq!(reply.kind, ReplyKind::Decline, "{}", reply.text);
}

#[test]
fn a_quantity_holding_a_question_cue_asks_nothing() {
    let r = at("2026-11-29");
    // 好几个月 is the story; 没学完咋办 the question.
    let reply = r.ask("我今年生病住院好几个月 学时没学完咋办");
    assert_eq!(reply.matched.as_deref(), Some("late"), "{}", reply.text);
    assert!(reply.text.contains("补学"), "{}", reply.text);
}

#[test]
fn a_wrong_figure_offered_for_confirmation_gets_the_guides_figure() {
    let r = at("2026-11-29");
    for (q, fact) in [
        ("专业课学够50学时就行了对吧", "60"),
        ("打12333是转2再按8吧", "7号键"),
    ] {
        let reply = r.ask(q);
        assert!(reply.matched.is_some(), "{q}: {}", reply.text);
        assert!(reply.text.contains(fact), "{q}: {}", reply.text);
    }
}

#[test]
fn a_request_asks_as_a_question_does() {
    let r = at("2026-11-29");
    let reply = r.ask("截止时间和咨询电话麻烦一起发下");
    assert_eq!(
        reply.parts,
        vec!["deadline".to_string(), "hotline".to_string()]
    );
    let reply = r.ask("12333转1之后按7是吧？另外湖南大学平台的电话也要一个");
    assert_eq!(
        reply.parts,
        vec!["hotline".to_string(), "platform_2".to_string()]
    );
}

#[test]
fn what_the_guide_leaves_open_about_categories_and_login_is_a_gap() {
    let r = at("2026-11-29");
    for (q, gap) in [
        (
            "公需课刷多了超出的部分能不能顶专业课的课时",
            "gap_category_swap",
        ),
        ("我没有电子社保卡，还有别的方式登录吗", "gap_login_other"),
        (
            "专利只拿到受理通知书 还没授权 能折算吗",
            "gap_conversion_detail",
        ),
    ] {
        let reply = r.ask(q);
        assert!(reply.matched.is_none(), "{q}: {}", reply.text);
        assert_eq!(reply.parts, vec![gap.to_string()], "{q}");
    }
    // A cap on public hours is answered: the guide sets a minimum only.
    let reply = r.ask("公需学时有没有上限还是只规定了最少");
    assert_eq!(
        reply.matched.as_deref(),
        Some("public_hours"),
        "{}",
        reply.text
    );
}

#[test]
fn hours_asked_of_neither_kind_get_the_total_with_both_parts() {
    let r = at("2026-11-29");
    let reply = r.ask("我在独立学院上班属于学习对象吗 要学多少学实");
    assert_eq!(
        reply.parts,
        vec!["audience".to_string(), "hours_total".to_string()]
    );
    assert!(reply.text.contains("90"), "{}", reply.text);
}

#[test]
fn a_school_type_written_short_and_a_dialect_question_are_read() {
    let r = at("2026-11-29");
    for q in ["高专的老师要学吗", "企业里搞教学的专技人员也要学？"] {
        assert_eq!(r.ask(q).matched.as_deref(), Some("audience"), "{q}");
    }
    let reply = r.ask("学校要给我们时间学伐 天天上课没空");
    assert!(reply.text.contains("时间保障"), "{}", reply.text);
}

#[test]
fn hours_asked_by_a_kind_of_staff_are_hours_not_who_takes_part() {
    let r = at("2026-11-29");
    // The audience entry excludes questions naming hours or a course kind.
    let reply = r.ask("我是实验员，公需课也要学30学时吗");
    assert_eq!(
        reply.matched.as_deref(),
        Some("public_hours"),
        "{}",
        reply.text
    );
    let reply = r.ask("实验员也要参加继续教育吗");
    assert_eq!(reply.matched.as_deref(), Some("audience"), "{}", reply.text);
}

#[test]
fn other_trainings_are_a_gap_and_a_platform_fault_goes_to_the_hotline() {
    let r = at("2026-11-29");
    let reply = r.ask("新入职的岗前培训能算进继续教育学时吗");
    assert_eq!(reply.parts, vec!["gap_other_training".to_string()]);
    // The how-to of public courses, holding the hotline for the fault.
    let reply = r.ask("公需课学完了 平台上没显示学时 咋整");
    assert!(reply.text.contains("0791-12333"), "{}", reply.text);
}

#[test]
fn passing_the_exam_is_not_asking_the_pass_mark() {
    let r = at("2026-11-29");
    let reply = r.ask("公需课考试及格了系统会自动记学时吗");
    assert_eq!(
        reply.matched.as_deref(),
        Some("public_how"),
        "{}",
        reply.text
    );
    let reply = r.ask(
        "What's the cut-off score for the public course exam, and how many retakes do we get?",
    );
    assert!(reply.matched.is_none(), "{}", reply.text);
    assert_eq!(reply.parts.first().map(String::as_str), Some("gap_exam"));
}

#[test]
fn a_question_word_or_a_word_of_grammar_the_phrasings_lack_weighs_nothing() {
    let r = at("2026-11-29");
    // 哪儿 and 啥 ask as 哪里 and 什么 do; unknown to every phrasing, they
    // must not count as words of another topic.
    for (plain, other) in [
        ("公需课去哪里学", "公需课去哪儿学"),
        ("折算学时在哪里申报", "折算学时在哪儿申报"),
        ("公需课专题是什么", "公需课专题是啥"),
        // Nor do words of grammar (到底, 这边) by the general word list.
        ("公需课要学多少学时", "公需课到底要学多少学时"),
        ("专业课在哪学", "专业课这边在哪学"),
    ] {
        let (a, b) = (r.ask(plain), r.ask(other));
        assert_eq!(a.matched, b.matched, "{other}");
        assert!(
            (a.score - b.score).abs() < 1e-6,
            "{other}: {} vs {}",
            a.score,
            b.score
        );
    }
}

#[test]
fn a_closing_me_asks_whether() {
    let r = at("2026-11-29");
    // 么 ends a yes/no question as 吗 does; without it the same words are
    // too weak to answer.
    let reply = r.ask("高专的老师也要学继续教育么");
    assert_eq!(reply.matched.as_deref(), Some("audience"), "{}", reply.text);
    assert!(r.ask("高专的老师也要学继续教育").matched.is_none());
    // 这么 / 什么 ask nothing by their 么.
    assert_eq!(jxjy_bot::scope::yes_no_ending("就这么"), None);
}

#[test]
fn what_the_guide_does_not_say_wins_over_the_subject_it_is_asked_of() {
    let r = at("2026-11-29");
    // A fee asked of a named platform asks about the fee, which the guide
    // does not set, not for the platform's phone.
    for q in ["江西专技在线的课程怎么收费", "湖南大学平台的课要先充值吗"]
    {
        let reply = r.ask(q);
        assert_eq!(reply.matched, None, "{q}: {}", reply.text);
        assert_eq!(reply.parts, vec!["gap_fee".to_string()], "{q}");
    }
    // A part asking the fee needs no subject of its own: the one before it
    // (集中面授) does not turn it into a question on study forms.
    let reply = r.ask("集中面授怎么组织，收费吗");
    assert_eq!(
        reply.parts,
        vec!["professional_forms".to_string(), "gap_fee".to_string()]
    );
    // The school's own funds are the employer's duty, which the guide sets.
    let reply = r.ask("参加继续教育的费用单位用什么经费出");
    assert_eq!(reply.matched.as_deref(), Some("support"), "{}", reply.text);
}

#[test]
fn an_entrys_required_words_are_not_read_across_two_words() {
    let r = at("2026-11-29");
    // 少学 (the exemption gap's word) is not in 多少 / 学时.
    let reply = r.ask("一年要学多少学时");
    assert_eq!(
        reply.matched.as_deref(),
        Some("hours_total"),
        "{}",
        reply.text
    );
    let reply = r.ask("专业课少学几个学时行不行");
    assert_eq!(
        reply.parts,
        vec!["gap_exemption".to_string()],
        "{}",
        reply.text
    );
}

#[test]
fn where_the_asker_studied_is_not_the_province_asked_about() {
    let r = at("2026-11-29");
    for q in [
        "我在上海读的博士 现在在江西高校 博士学历能折算学时吗",
        "我在上海读博士的时候发的论文能折算吗",
    ] {
        let reply = r.ask(q);
        assert_eq!(
            reply.matched.as_deref(),
            Some("conversion_what"),
            "{q}: {}",
            reply.text
        );
    }
    // Asked about that province itself, it is another province's rule.
    let reply = r.ask("上海高校老师继续教育要多少学时");
    assert_eq!(reply.matched, None, "{}", reply.text);
}

#[test]
fn asking_whether_the_document_says_something_asks_that_thing() {
    let r = at("2026-11-29");
    // "文件里有说 / 指南有没有说" names no topic: the question is the rest.
    for (q, id) in [
        ("指南有没有说经费谁出", "support"),
        ("平台不能用了找谁", "hotline"),
        ("Will my school give us time to study?", "support"),
        (
            "Does the guide cover teachers at adult colleges?",
            "audience",
        ),
    ] {
        assert_eq!(r.ask(q).matched.as_deref(), Some(id), "{q}");
    }
}

#[test]
fn a_fact_offered_for_confirmation_asks_yes_or_no() {
    let r = at("2026-11-29");
    // 对吧 asks whether: the audience entry, which needs a whether or who
    // question, answers it.
    let reply = r.ask("教学岗也要学对吧");
    assert_eq!(reply.matched.as_deref(), Some("audience"), "{}", reply.text);
    // 来得及吧 asks whether the deadline leaves time.
    let reply = r.ask("我打算12月28号再开始学，来得及吧");
    assert_eq!(reply.matched.as_deref(), Some("deadline"), "{}", reply.text);
}

#[test]
fn a_part_naming_only_another_subject_asks_the_same_question_of_it() {
    let r = at("2026-11-29");
    // "专业课呢" after "公需课在哪学" asks where 专业课 are studied.
    let reply = r.ask("公需课在哪学？专业课呢？");
    assert_eq!(
        reply.parts,
        vec!["public_how".to_string(), "professional_online".to_string()],
        "{}",
        reply.text
    );
    let reply = r.ask("公需课要多少学时？专业课呢？");
    assert_eq!(
        reply.parts,
        vec!["public_hours".to_string(), "professional_hours".to_string()],
        "{}",
        reply.text
    );
}

#[test]
fn hours_of_both_kinds_told_and_checked_get_the_whole_requirement() {
    let r = at("2026-11-29");
    // Public and professional hours fit about as well as the how-to of
    // public courses: the requirement with both parts answers.
    for q in [
        "专业课学了75，公需课学了15，这样算完成了吗",
        "公需课学了50专业课学了40，够了没",
    ] {
        let reply = r.ask(q);
        assert_eq!(
            reply.matched.as_deref(),
            Some("hours_total"),
            "{q}: {}",
            reply.text
        );
        assert!(
            reply.text.contains("30") && reply.text.contains("60"),
            "{}",
            reply.text
        );
    }
}

#[test]
fn who_the_guide_names_no_rule_for_and_what_a_course_is_worth_are_gaps() {
    let r = at("2026-11-29");
    for (q, gap) in [
        ("返聘回来的老师今年还要学吗", "gap_retired_part_time"),
        ("外聘老师需要参加继续教育吗", "gap_retired_part_time"),
        ("一门课能算多少学时", "gap_course_hours"),
    ] {
        let reply = r.ask(q);
        assert_eq!(reply.matched, None, "{q}: {}", reply.text);
        assert_eq!(reply.parts, vec![gap.to_string()], "{q}");
        assert!(reply.text.contains("没有"), "{}", reply.text);
    }
    // Retiring named as context of another question is no such gap.
    let reply = r.ask("还有两年退休，今年没按时学完要补吗");
    assert_eq!(reply.matched.as_deref(), Some("late"), "{}", reply.text);
}

#[test]
fn a_story_naming_what_the_guide_does_not_say_is_asking_that() {
    let r = at("2026-11-29");
    // The question alone (今年也要学满吗) asks the hours; the story around it
    // asks whether they are pro-rated, which the guide does not say.
    let reply = r.ask("我10月份才入职，今年也要学满吗，还是按月份算");
    assert_eq!(reply.matched, None, "{}", reply.text);
    assert_eq!(reply.parts, vec!["gap_exemption".to_string()]);
}

#[test]
fn the_story_of_a_part_can_name_what_the_guide_does_not_say() {
    let r = at("2026-11-29");
    // Two questions; the first names retiring only in its story. Alone it
    // is answered, but with its story it asks what the guide does not say.
    let alone = r.ask("今年这个继续教育还用学吗");
    assert!(alone.matched.is_some(), "{}", alone.text);
    let reply = r.ask("我明年五月就退休了 今年这个继续教育还用学吗 能不能免了");
    assert_eq!(reply.matched, None, "{}", reply.text);
    assert!(
        reply.parts.first().is_some_and(|p| p.starts_with("gap_")),
        "{:?}",
        reply.parts
    );
}

#[test]
fn how_long_asks_a_question_of_its_own_and_where_to_file_is_the_filing() {
    let r = at("2026-11-29");
    // 多久 / 多长时间 make a part a question; 在哪里报 asks where to file.
    let reply = r.ask("论文折算在哪里报 报上去一般多久能审完");
    assert_eq!(
        reply.parts,
        vec!["conversion_how".to_string(), "gap_review_time".to_string()],
        "{}",
        reply.text
    );
    let reply = r.ask("专利折算去哪报 报了以后要多长时间审核");
    assert_eq!(
        reply.parts.get(1).map(String::as_str),
        Some("gap_review_time")
    );
}

#[test]
fn an_enumeration_comma_after_a_question_starts_another() {
    let r = at("2026-11-29");
    let reply = r.ask("我是新来的，专业课在哪里学、要学多少");
    assert_eq!(
        reply.parts,
        vec![
            "professional_online".to_string(),
            "professional_hours".to_string()
        ],
        "{}",
        reply.text
    );
    // A list of items stays one question.
    let reply = r.ask("论文、专利能折算学时吗");
    assert_eq!(reply.parts, vec!["conversion_what".to_string()]);
}

#[test]
fn where_the_asker_is_registered_and_whether_taking_part_is_voluntary() {
    let r = at("2026-11-29");
    // 外省户口: registered elsewhere, teaching in Jiangxi.
    let reply = r.ask("我是外省户口，在江西高职教书，也要参加继续教育吗");
    assert_eq!(reply.matched.as_deref(), Some("audience"), "{}", reply.text);
    // 自愿 / 强制 ask whether one must take part.
    let reply = r.ask("继续教育是强制的还是自愿的");
    assert_eq!(reply.matched.as_deref(), Some("audience"), "{}", reply.text);
    // 拖到 asks about being late.
    let reply = r.ask("继续教育能拖到明年三月再学吗");
    assert_eq!(reply.matched.as_deref(), Some("late"), "{}", reply.text);
}

#[test]
fn the_issue_date_of_a_provincial_notice_and_hours_across_platforms_are_gaps() {
    let r = at("2026-11-29");
    let reply = r.ask("人社厅那个154号文是哪天印发的");
    assert_eq!(
        reply.parts,
        vec!["gap_issue_date".to_string()],
        "{}",
        reply.text
    );
    // The school notice's date, which the guide prints, is said with it.
    assert!(reply.text.contains("2024年12月25日"), "{}", reply.text);
    // 印发 naming the document asks for the document.
    let reply = r.ask("省教育厅印发的学习指南文号是多少");
    assert_eq!(
        reply.matched.as_deref(),
        Some("legal_basis"),
        "{}",
        reply.text
    );
    let reply = r.ask("专业课在两个平台学的学时能加起来吗");
    assert_eq!(reply.parts, vec!["gap_platform_choice".to_string()]);
}

#[test]
fn why_asks_the_reason_and_a_subject_of_another_entry_weighs_less() {
    let r = at("2026-11-29");
    // 为啥 / 有啥用 ask the reason, not "what".
    for q in ["为啥非得学继续教育", "为什么非要参加继续教育 有什么用"] {
        let reply = r.ask(q);
        assert_eq!(reply.matched.as_deref(), Some("why"), "{q}: {}", reply.text);
    }
    // 自动 is the guide's 自行判定: the public courses' credit.
    let reply = r.ask("公需课考试过了学时是自动计入的吗");
    assert_eq!(
        reply.matched.as_deref(),
        Some("public_how"),
        "{}",
        reply.text
    );
    // The same words asked of 折算 are not the public courses' entry.
    let reply = r.ask("折算学时是单位审还是系统自动");
    assert_ne!(
        reply.matched.as_deref(),
        Some("public_how"),
        "{}",
        reply.text
    );
    // An entry whose phrasings name only 集中面授 weighs less for a
    // question on 公需课.
    let reply = r.ask("公需课是网上学还是线下集中学");
    assert_eq!(
        reply.matched.as_deref(),
        Some("public_how"),
        "{}",
        reply.text
    );
}

#[test]
fn who_issued_the_documents_and_english_words_of_grammar() {
    let r = at("2026-11-29");
    // The guide's preamble names the issuers of the decree and the annual
    // notice: the answer says them.
    let reply = r.ask("赣人社字〔2024〕154号是谁发的");
    assert_eq!(reply.matched.as_deref(), Some("legal_basis"));
    assert!(
        reply
            .text
            .contains("江西省人力资源和社会保障厅《关于开展2024年度"),
        "{}",
        reply.text
    );
    assert!(
        reply
            .text
            .contains("江西省人民政府《江西省专业技术人员继续教育办法》")
    );
    // 哪一年 is not 一年 (每年).
    let reply = r.ask("这个指南是哪一年度的");
    assert_eq!(
        reply.matched.as_deref(),
        Some("legal_basis"),
        "{}",
        reply.text
    );
    // English words of grammar (just, the, into) and a few nouns.
    for (q, id) in [
        (
            "who is the provincial education dept notice addressed to?",
            "notices",
        ),
        (
            "which regulations is the provincial guide based on? just the numbers",
            "legal_basis",
        ),
    ] {
        answers(&r, q, id);
    }
    // The others of a list named by one of its items: the whole list.
    let reply = r.ask("那个三个平台江西专技学习网还有另外两个叫啥");
    assert_eq!(
        reply.matched.as_deref(),
        Some("platforms"),
        "{}",
        reply.text
    );
}

#[test]
fn a_subject_is_a_whole_word_and_which_cases_asks_which() {
    let r = at("2026-11-29");
    // 专业课 in 专业课广场 names the place: the question is about 折算 or
    // 公需课, whose entries answer.
    for (q, id) in [
        ("折算学时的申报入口在专业课广场里吗", "conversion_how"),
        // Both kinds are asked about: where each is studied.
        ("公需课也是在专业课广场里面学吗", "where_both"),
        // 哪些情况 asks which; 情况 is not the 参加继续教育情况 of `why`.
        ("学时折算都包括哪些情况", "conversion_what"),
        // 提醒 is the units' duty, even when not finishing is named.
        ("学不完学校会提醒我们吗", "unit_duties"),
        ("中职学校里做实训实验的老师也要学吗", "audience"),
        ("过了元旦还能学吗", "late"),
    ] {
        answers(&r, q, id);
    }
}

#[test]
fn more_of_what_the_guide_does_not_say_is_told_as_such() {
    let r = at("2026-11-29");
    for (q, gap) in [
        // 上线 for 上限 after 有没有: a typo, not going online.
        ("折算学时有没有上线", "gap_conversion_detail"),
        ("新入职的今年学时可以减半吗", "gap_exemption"),
        ("系里的教研活动算继续教育学时吗", "gap_other_training"),
        // The decree's year of publication is not in the guide either.
        ("259号令哪年公布的", "gap_issue_date"),
    ] {
        says_gap(&r, q, gap);
    }
    // Two questions, the second about where to choose professional courses.
    let reply = r.ask("登录用什么？登进去以后专业课去哪个栏目选？");
    assert_eq!(
        reply.parts,
        vec!["login".to_string(), "professional_online".to_string()]
    );
}

#[test]
fn both_kinds_of_course_named_get_where_both_are_studied() {
    let r = at("2026-11-29");
    for q in [
        "公需课跟专业课是不是在同一个地方选平台",
        "公需课网址跟专业课网址一样吗",
    ] {
        answers_with(
            &r,
            q,
            "where_both",
            &["专业课广场", "https://hr.jxhrss.gov.cn/jxjysb"],
        );
    }
    // One kind named: its own entry; the summary has no phrasings to match.
    answers(&r, "公需课在哪学", "public_how");
    answers(&r, "专业课在哪学", "professional_online");
    // 必须/一定要 with 网上 asks whether other forms count.
    answers(&r, "专业课是不是必须在网上学", "professional_forms");
}

#[test]
fn teachers_of_the_operators_province_and_more_gaps() {
    let r = at("2026-11-29");
    // The teachers of Hunan are another province's, though 湖南大学 runs a
    // platform; the platform's own province is not.
    let q = "湖南省的老师能用湖南大学的平台学吗";
    declines(&r, q);
    assert!(r.ask(q).text.contains("湖南"));
    answers(
        &r,
        "湖南大学那个平台是湖南的吧，江西老师能用吗",
        "platform_2",
    );
    // An operator's admissions are its own business.
    declines(&r, "江西师范大学研究生什么时候报名");
    for (q, gap) in [
        ("湖南大学平台一个学时几块钱", "gap_fee"),
        ("手机号换了平台怎么改绑", "gap_login_other"),
        ("普通话证书能折算学时吗", "gap_conversion_detail"),
        ("网上学一个小时算几个学时", "gap_course_hours"),
    ] {
        says_gap(&r, q, gap);
    }
    // 一学时都没学 is no question of what an hour is worth.
    answers(
        &r,
        "出差回来发现专业课一学时都没学，过了年底还能补吗",
        "late",
    );
}

#[test]
fn an_overview_does_not_answer_a_question_its_phrasings_do_not_ask() {
    let r = at("2026-11-29");
    // How many, asked of 公需课 with a year that pulls toward the topics: the
    // overview of public courses (how they work) is no answer to it.
    let reply = r.ask("How many public course (公需课) hours do I need for 2024?");
    assert_ne!(
        reply.matched.as_deref(),
        Some("public_how"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("公需课要学多少学时"), "{}", reply.text);
    for (q, id) in [
        ("学校通知里说继续教育跟评聘有啥关系", "why"),
        ("省厅文件要求各单位怎么督促", "unit_duties"),
        ("我刚调过来 继续教育平台要怎么登啊", "login"),
        ("我是做实验室的，专业课该选哪类", "professional_online"),
    ] {
        answers(&r, q, id);
    }
}

#[test]
fn where_the_asker_worked_before_and_a_year_things_are_put_off_to() {
    let r = at("2026-11-29");
    // Worked in Hunan before, asking about Jiangxi: one of ours.
    answers(
        &r,
        "我原来在湖南工作，江西这边的继续教育要在哪个平台学",
        "platforms",
    );
    // Worked in Hubei before, asking about Hubei: another province.
    let reply = r.ask("我以前在湖北工作 那边一年要多少学时");
    assert!(
        reply.matched.is_none() && reply.text.contains("湖北"),
        "{}",
        reply.text
    );
    // 拖到明年 is being late, not a question about next year's guide.
    let reply = answers(&r, "学时要在12月底前完成吗还是可以拖到明年", "late");
    assert!(!reply.text.contains("2027"), "{}", reply.text);
}

#[test]
fn numbers_read_out_and_working_in_the_operators_province() {
    let r = at("2026-11-29");
    // Voice input spells the hotline out digit by digit.
    answers(&r, "那个一二三三三前面要不要加区号", "hotline");
    // Working in Hunan is Hunan's continuing education, 湖南大学 or not.
    declines(&r, "我在湖南上班，能用湖南大学的平台学湖南的继续教育吗");
    // 有几个平台 asks how many platforms, not about hours on several.
    answers(&r, "平台名单里面有几个平台啊", "platforms");
    for (q, id) in [
        ("那个平台是怎么登的啊", "login"),
        ("搞实验的老师也要学这个吗", "audience"),
    ] {
        answers(&r, q, id);
    }
}

#[test]
fn a_fee_for_making_up_is_a_fee() {
    let r = at("2026-11-29");
    let reply = r.ask("补学要不要另外交费");
    assert_eq!(reply.parts, vec!["gap_fee".to_string()], "{}", reply.text);
}

#[test]
fn slips_of_sound_and_requests_to_write_for_the_asker() {
    let r = at("2026-11-29");
    // 几刺 for 几次, 驳会 for 驳回: what the guide does not say.
    says_gap(&r, "公需课考试不及格能补考几刺", "gap_exam");
    says_gap(&r, "学时申报被驳会了咋办", "gap_penalty");
    // 会记 for 会计: another profession.
    declines(&r, "会记继续教育一年要多少学分");
    // Writing for the asker is no question for the guide.
    declines(&r, "Can you write an essay for my public course exam");
    // An award for research is a research result.
    answers(&r, "科研获奖了能不能算继续教育学时", "conversion_what");
}

#[test]
fn a_question_read_without_its_story_keeps_to_what_the_story_is_about() {
    let r = at("2026-11-29");
    // Alone, "今年继续教育能用上吗" reads as the units' duties; the story
    // asks about the patent, so that entry (far down the whole message's
    // ranking) is no answer.
    let reply = r.ask("去年拿了个发明专利 今年继续教育能用上吗");
    assert_ne!(
        reply.matched.as_deref(),
        Some("unit_duties"),
        "{}",
        reply.text
    );
    assert!(
        !reply.parts.contains(&"unit_duties".to_string()),
        "{}",
        reply.text
    );
    // A story that leaves the question's topic among the best still lets
    // the question answer alone.
    answers(
        &r,
        "学校组织我们去兄弟院校参观取经，这种能算专业课吗",
        "professional_forms",
    );
}

#[test]
fn a_telling_word_keeps_its_entry_against_an_overview_near_it() {
    let r = at("2026-11-29");
    // 只能网上 is said by the forms of study, not by the hours overview
    // that scores about as well on the rest of the story.
    answers(
        &r,
        "我是今年新招的辅导员同时还带两门课教务处说我也得完成专业课学时专业课只能在网上看视频吗还是参加线下的培训也行",
        "professional_forms",
    );
    answers(&r, "五大战略那个专题全称叫啥，要写总结用", "public_topics");
}

#[test]
fn recommendations_prices_hiring_and_other_series_are_not_the_guides() {
    let r = at("2026-11-29");
    says_gap(
        &r,
        "江西专技学习网上有哪些专业课值得推荐",
        "gap_course_pick",
    );
    says_gap(&r, "哪个平台的专业课最便宜", "gap_fee");
    // The order of the list is the guide's own answer (不分先后).
    answers(&r, "名单里排第一的平台是官方推荐的吗", "platforms");
    // Which one is best or easiest to use is not: never the list, nor one
    // platform's entry, as if it answered that.
    for q in [
        "三个平台哪个的课最好",
        "江西专技在线的课哪门最好",
        "名单上三个学习平台哪个最好用啊你推荐一个呗我不想踩坑",
    ] {
        let reply = r.ask(q);
        assert_eq!(reply.matched, None, "{q}: {}", reply.text);
    }
    // An opinion heard from a colleague is context: the phone is asked.
    answers_with(
        &r,
        "我同事说网梯那个江西专技在线比较好用 那个有没有客服电话",
        "platform_1",
        &["4008039966"],
    );
    for q in [
        "洪州职业学院今年招不招专任教师",
        "赣人社字〔2024〕154号里对卫生系列的人有什么特别要求",
    ] {
        declines(&r, q);
    }
    // The asker's 学习对象 is who takes part, though 继续教育学习 is one word.
    answers(&r, "这个继续教育学习对象具体包括哪些学校的？", "audience");
}

#[test]
fn finishing_within_the_year_asks_the_deadline() {
    let r = at("2026-11-29");
    answers(&r, "2024年度的继续教育必须在2024年内学完吗", "deadline");
}

#[test]
fn the_askers_past_elsewhere_is_context_when_jiangxi_is_where_they_are_now() {
    let r = at("2026-11-29");
    for q in [
        "之前在医院做医生 现在到江西一所本科院校教书 继续教育按这个高校指南学对吧",
        "我之前在上海做会计 现在转到江西中职当老师 专业课要学多少学时",
        "我是外省人但在江西高校实验中心工作 专业课在哪选平台",
    ] {
        let reply = r.ask(q);
        assert!(!reply.parts.is_empty(), "{q}: {}", reply.text);
    }
    // Another province compared with Jiangxi, or its hours carried over,
    // is still that province's matter.
    for q in [
        "广东那边高校老师继续教育一年要多少学时 跟江西一样吗",
        "我是今年从湖南一所高职调过来的，湖南那边今年已经学的学时能不能转到江西这边认？要开什么证明？",
    ] {
        let reply = r.ask(q);
        assert!(reply.matched.is_none(), "{q}: {}", reply.text);
        assert!(
            !reply.parts.contains(&"hours_total".to_string()),
            "{q}: {}",
            reply.text
        );
    }
}

#[test]
fn where_hours_can_be_seen_is_where_they_are_recorded() {
    let r = at("2026-11-29");
    answers(&r, "我的学时总数在哪能看到", "credit_recording");
}

#[test]
fn the_units_duties_are_given_under_the_guides_own_headings() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "指南对各单位提了哪几条要求",
        "unit_duties",
        &["加强组织管理", "提高服务水平", "督促按时完成"],
    );
}

#[test]
fn where_hours_are_recorded_quotes_the_guides_words_for_public_courses() {
    let r = at("2026-11-29");
    // How public hours get recorded: the recording entry or the public
    // courses' own (怎么记 is 计入), either in the guide's words.
    let reply = r.ask("公需课的学时是怎么记到我名下的");
    assert!(
        matches!(
            reply.matched.as_deref(),
            Some("credit_recording" | "public_how")
        ),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("自行判定并计入"), "{}", reply.text);
}

#[test]
fn a_group_of_staff_and_an_hours_figure_ask_the_hours_not_the_platforms() {
    let r = at("2026-11-29");
    answers(&r, "实验技术人员也要满90学时吗", "hours_total");
    // Where lab staff study online still reaches the platforms.
    answers(
        &r,
        "专业课广场里实验技术人员选哪个平台",
        "professional_online",
    );
    // Face recognition is no login the guide describes.
    says_gap(&r, "平台登录人脸识别老是失败怎么办", "gap_login_other");
}

#[test]
fn how_much_to_study_is_the_hours_and_plurals_are_read() {
    let r = at("2026-11-29");
    answers(
        &r,
        "我是中专学校的实验员 专业课要学多少",
        "professional_hours",
    );
    answers(&r, "Are staff at private colleges included?", "audience");
}

#[test]
fn fines_course_counts_and_foreign_staff_are_not_the_guides() {
    let r = at("2026-11-29");
    says_gap(&r, "补学的话要交罚款吗", "gap_penalty");
    says_gap(&r, "三个学习平台各有多少门课", "gap_course_pick");
    says_gap(&r, "外籍老师要参加吗", "gap_retired_part_time");
}

#[test]
fn english_course_names_slips_and_admissions() {
    let r = at("2026-11-29");
    answers(
        &r,
        "how many hrs of specialized / major courses r required?",
        "professional_hours",
    );
    answers(&r, "学时填报审核监独是谁负则", "unit_duties");
    declines(
        &r,
        "How do I apply for Jiangxi Normal University's master's program?",
    );
}

#[test]
fn the_annual_notice_named_by_its_issuer_is_the_basis() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "人社厅那个通知全称叫啥",
        "legal_basis",
        &["赣人社字〔2024〕154号"],
    );
    answers(&r, "我们是高职院校，老师都要参家吗", "audience");
}

#[test]
fn proxy_study_and_national_training_are_not_what_the_guide_covers() {
    let r = at("2026-11-29");
    // 学时不够 draws the late entry; proxy study is another matter.
    declines(&r, "学时不够能不能找人代学啊");
    says_gap(&r, "参加国培项目能抵继续教育学时吗", "gap_other_training");
    answers(
        &r,
        "Who should my department assign to handle CE stuff? anyone specific?",
        "unit_duties",
    );
}

#[test]
fn a_topics_full_name_the_hotline_asked_by_its_number_and_hours_counted_in() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "职业道德那个专题全称叫啥来着",
        "public_topics",
        &["职业道德和能力建设"],
    );
    answers_with(
        &r,
        "继续教育电话咨询的号码完整怎么拨",
        "hotline",
        &["0791-12333", "转1"],
    );
    // 算进去 is 计入: the answer says the system credits the hours.
    let reply = r.ask("公需课学时是怎么算进去的，有人审吗");
    assert!(reply.text.contains("自行判定"), "{}", reply.text);
}

#[test]
fn the_school_urging_completion_asks_why_it_matters() {
    let r = at("2026-11-29");
    // 学校 draws the units' duties; 为啥 asks the reason.
    answers_with(&r, "学校为啥要我们抓紧完成继续教育？", "why", &["重要条件"]);
}

#[test]
fn invoices_contact_people_exams_and_titles_in_other_words() {
    let r = at("2026-11-29");
    says_gap(&r, "江西专技学习网的课能开发漂吗", "gap_fee");
    says_gap(
        &r,
        "我们二级学院的继续教育对接人是谁啊",
        "gap_school_contact",
    );
    answers_with(
        &r,
        "公需课是不是学完还得考个试啊考过了才算学时",
        "public_how",
        &["考试合格"],
    );
    answers(
        &r,
        "will my CE record actually matter when I apply for a higher title?",
        "why",
    );
    // Naming who is responsible is the units' duty, not a contact asked.
    answers(&r, "学院需要指定专门的人负责继续教育吗", "unit_duties");
}

#[test]
fn a_year_the_asker_is_now_in_is_no_guide_year_asked() {
    let r = at("2026-11-29");
    // 现在都2025年了 tells the asker's present: answered from the 2024
    // guide the question names, and no word of a missing 2025 guide.
    let reply = answers(&r, "2024年度没学完现在都2025年了还能补吗", "late");
    assert!(reply.text.contains("补学"), "{}", reply.text);
    assert!(reply.text.contains("2024年度"), "{}", reply.text);
    assert!(!reply.text.contains("没有2025年度"), "{}", reply.text);
    // Without a year named, the answer says which season's guide it is.
    let reply = answers(&r, "没学完现在都2025年了还能补吗", "late");
    assert!(reply.text.contains("2024年度指南"), "{}", reply.text);
}

#[test]
fn the_kinds_of_subjects_are_the_hours_split() {
    let r = at("2026-11-29");
    answers_with(&r, "继续教育分哪两类科目", "hours_total", &["公需", "专业"]);
}

#[test]
fn slips_in_a_questions_key_word_are_read() {
    let r = at("2026-11-29");
    // 院效 and 制渡 sound as 院校 and 制度, dictionary words now.
    answers(&r, "高专和高职院效的老师都要学吗", "audience");
    answers(&r, "学校要完善继续教育啥制渡", "unit_duties");
    assert_eq!(r.matcher().analyzer().normalize("继读教育"), "继续教育");
}

#[test]
fn hearsay_and_hedges_around_a_question_are_no_topic() {
    let r = at("2026-11-29");
    // 同事说, 领导说: the claim heard is what is asked about.
    answers(&r, "领导说专利折算要线下交材料 是这样吗", "conversion_how");
    answers(&r, "群里有人说公需课不用考试，是这样吗", "public_how");
    // 到底, 感觉不太对: the asker's doubt, not words of the question.
    answers(
        &r,
        "我感觉不太对 专业课到底要多少学时",
        "professional_hours",
    );
}

#[test]
fn where_a_colleague_comes_from_is_no_province_asked() {
    let r = at("2026-11-29");
    answers(
        &r,
        "湖南来的老师问 江西这边专业课要多少学时",
        "professional_hours",
    );
    declines(&r, "湖南那边专业课要多少学时");
}

#[test]
fn an_operator_named_by_its_city_is_that_operator() {
    let r = at("2026-11-29");
    answers(&r, "北京那家公司的客服电话", "platform_1");
    answers(&r, "湖南那个平台的电话是多少", "platform_2");
    // Beijing's own platform is not one of ours.
    declines(&r, "北京的平台怎么样 跟江西一样吗");
}

#[test]
fn colloquial_words_for_what_the_guide_names() {
    let r = at("2026-11-29");
    // 机制 is the incentive mechanism, the guide's only one.
    answers(&r, "单位要建立啥机制", "why");
    // 考察学习 is a site visit (实地观摩).
    answers(&r, "外出考察学习算专业课吗", "professional_forms");
    // 干啥 asks what is to be done, as 做什么.
    answers(&r, "人事处通知要各部门干啥", "notices");
    // 几大块: the kinds of subjects.
    answers(&r, "继续教育分几大块", "hours_total");
    assert_eq!(r.matcher().analyzer().normalize("新老是"), "新老师");
}

#[test]
fn the_main_part_funding_and_study_leave_in_other_words() {
    let r = at("2026-11-29");
    // 重点 / 主体 / 大头: the guide's 主要内容.
    answers(&r, "专业课算不算继续教育的重点", "professional_content");
    // 钱从哪出: the funding the units guarantee.
    answers(&r, "培训的钱从哪里出", "support");
    // Full-time study leave (脱产) is an exemption the guide does not give.
    says_gap(&r, "脱产学习那一年还要参加继续教育吗", "gap_exemption");
    // 12越31号: a slip for 12月31号, the deadline offered back.
    answers(&r, "是不是12越31号前要学完", "deadline");
    declines(&r, "幼儿圆的老师要学继续教育吗");
}

#[test]
fn another_province_said_of_a_platform_named_is_that_platform() {
    let r = at("2026-11-29");
    // 外省 beside 湖南大学's platform is that platform's province.
    answers(&r, "湖南大学那个平台是外省办的 我们能用吗", "platform_2");
    declines(&r, "外省的继续教育要多少学时");
}

#[test]
fn who_issued_a_notice_is_not_the_school_contact() {
    let r = at("2026-11-29");
    answers(&r, "学校这个通知是谁发的，人事处吗", "notices");
    says_gap(&r, "人事处负责继续教育的老师是谁", "gap_school_contact");
    answers(
        &r,
        "Which office sent out the forwarding notice?",
        "legal_basis",
    );
    answers(&r, "What must schools do to organise CE?", "unit_duties");
}

#[test]
fn several_claims_put_up_for_confirmation_are_each_answered() {
    let r = at("2026-11-29");
    // Two claims, then only "对吧": each claim is a part of its own.
    let reply = r.ask("一年90学时，12月底截止，没错吧");
    assert_eq!(
        reply.parts,
        vec!["hours_total", "deadline"],
        "{}",
        reply.text
    );
    // Claims on the public and the professional hours: the total answers.
    let reply = r.ask("公需30学时 专业60学时 对吧");
    assert_eq!(reply.parts, vec!["hours_total"], "{}", reply.text);
    // A story before a question of its own is no list of claims.
    let reply = r.ask("快退休了，电脑用不来，登录说扫码，扫的是啥码");
    assert_eq!(reply.matched.as_deref(), Some("login"), "{}", reply.text);
}

#[test]
fn which_kind_of_course_a_notice_asks_for_is_the_notices() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "人事处通知要我们学的是公需课还是专业课",
        "notices",
        &["专业科目"],
    );
    // The exam's pass mark is not in the guide.
    says_gap(
        &r,
        "what is the pass score of the public course exam",
        "gap_exam",
    );
}

#[test]
fn the_platform_list_names_whom_it_is_for() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "附件里的平台名单是给哪些人用的",
        "platforms",
        &["高等学校、中等职业学校专业技术人员网络学习平台名单"],
    );
    // Hours asked with a group of staff are hours, not where they study.
    answers(&r, "实验员专业课要学满60学时吗", "professional_hours");
}

#[test]
fn what_the_provincial_notice_attaches_is_the_guide() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "省厅发的文件附件是什么",
        "notices",
        &["附件为《2024年度"],
    );
}

#[test]
fn a_year_written_with_the_ideographic_zero_is_read() {
    let r = at("2026-11-29");
    // 二〇二二年 is 2022, a guide not loaded.
    let reply = r.ask("二〇二二年度的学时没学完现在还能补吗");
    assert_eq!(reply.matched, None, "{}", reply.text);
    assert!(reply.text.contains("没有2022年度"), "{}", reply.text);
    // When face-to-face training is arranged is not in the guide.
    says_gap(&r, "学校集中面授一般什么时候安排", "gap_offline_schedule");
    assert_eq!(r.matcher().analyzer().normalize("退秀"), "退休");
}

#[test]
fn the_minimum_asked_in_english_shorthand() {
    let r = at("2026-11-29");
    answers(
        &r,
        "min hours for public vs professional courses?",
        "hours_total",
    );
}

#[test]
fn english_words_for_the_units_duties_and_the_credit_rules() {
    let r = at("2026-11-29");
    answers(
        &r,
        "what should units do about publicity for CE",
        "unit_duties",
    );
    answers(
        &r,
        "must my school remind us to finish on time?",
        "unit_duties",
    );
    answers(
        &r,
        "which document has the procedure for recognizing hours",
        "conversion_rules",
    );
}

#[test]
fn a_year_set_beside_a_year_asked_about_is_asked_too() {
    let r = at("2026-11-29");
    // 2023 is not loaded, 2024 is: the 2024 topics answer.
    answers(
        &r,
        "2023年的公需课是别的专题吧，2024年是哪几个",
        "public_topics",
    );
}

#[test]
fn more_everyday_words_for_the_guides_own() {
    let r = at("2026-11-29");
    // 记上去: how hours get recorded.
    answers(&r, "公需课学时是怎么记上去的", "public_how");
    // 算哪块: which kind of course.
    answers(&r, "职业道德和能力建设算哪块", "public_topics");
    // 本专注 is a slip for 本专著.
    answers(&r, "出了本专注能折学时吗", "conversion_what");
    answers(&r, "除了高校还有哪些单位的老师要参加", "audience");
}

#[test]
fn the_askers_workplace_is_no_neighbouring_topic() {
    let r = at("2026-11-29");
    answers(&r, "我是学校图书馆的 要参加继续教育吗", "audience");
    declines(&r, "图书馆几点开门");
}

#[test]
fn who_is_to_be_put_in_charge_and_what_standing_a_kind_has() {
    let r = at("2026-11-29");
    answers(&r, "学校要指定谁来负责继续教育", "unit_duties");
    answers(&r, "专业课在继续教育里算什么地位", "professional_content");
}

#[test]
fn whether_there_is_still_a_chance_is_making_up() {
    let r = at("2026-11-29");
    answers(&r, "生病耽误了没学完，还有机会吗", "late");
    answers(&r, "赣江新区的学校也归这个指南管吗", "audience");
}

#[test]
fn the_conditions_of_a_title_review_are_outside() {
    let r = at("2026-11-29");
    declines(&r, "评教授需要什么条件");
    // What continuing education counts for in a review is the guide's.
    answers(&r, "继续教育会影响评职称吗", "why");
}

#[test]
fn a_story_telling_the_notices_date_asks_another_date() {
    let r = at("2026-11-29");
    // The notice's date is told, not asked: the days left are.
    answers(&r, "学院通知25号才转发，离截止还剩几天", "deadline");
    answers(&r, "学校通知12.25才发，还有几天截止", "deadline");
    // Asked, the notice's date is still the documents' answer.
    answers(&r, "学校的通知是哪天发的", "legal_basis");
    // A story naming the deadline does not turn a question on what
    // happens after it into another.
    answers(&r, "主任说31号前没学完就麻烦了，指南怎么说的", "late");
}

#[test]
fn slips_and_ways_of_asking_the_forms_and_scope() {
    let r = at("2026-11-29");
    answers(&r, "公修课一共几个学时", "public_hours");
    answers(
        &r,
        "Besides online courses, which ways count for professional hours?",
        "professional_forms",
    );
    answers(&r, "中职的老师在不在学习对象里", "audience");
    declines(&r, "评高级还要啥条件");
    // Where the rules are is the rules' answer, not where hours are kept.
    answers(&r, "折算学时的认定规则在哪看", "conversion_rules");
}

#[test]
fn a_thing_added_after_a_question_with_and_is_answered_too() {
    let r = at("2026-11-29");
    let reply = r.ask("三个平台的电话都发一下？还有省里的咨询电话");
    assert_eq!(
        reply.parts,
        vec!["platforms".to_string(), "hotline".to_string()],
        "{}",
        reply.text
    );
    // A story after 还有 adds nothing.
    let reply = r.ask("专业课要多少学时？还有很多没学完");
    assert_eq!(
        reply.parts,
        vec!["professional_hours".to_string()],
        "{}",
        reply.text
    );
}

#[test]
fn what_one_session_or_the_exam_is_like_is_not_in_the_guide() {
    let r = at("2026-11-29");
    says_gap(&r, "线下面授一次能算几个学时", "gap_course_hours");
    says_gap(&r, "集中面授培训一次算多少个学时", "gap_course_hours");
    says_gap(&r, "公需课考试是开卷的吗", "gap_exam");
    // Teaching workload is the school's matter, not the guide's.
    declines(&r, "继续教育学时能算教学工作量吗");
    // What the forms are is still the guide's.
    answers(&r, "专业课可以集中面授吗", "professional_forms");
}

#[test]
fn studying_on_in_january_or_the_winter_break_is_being_late() {
    let r = at("2026-11-29");
    answers(&r, "寒假里学完还算今年的吗", "late");
    answers(&r, "What if I finish the hours in January?", "late");
    answers(&r, "一月份还能接着学吗", "late");
}

#[test]
fn there_then_here_asks_about_here() {
    let r = at("2026-11-29");
    answers(
        &r,
        "浙江那边按学分算，江西这边专业课要多少学时",
        "professional_hours",
    );
    // Compared, or hours moved between the two: the other province is asked.
    declines(&r, "浙江那边和江西这边要求一样吗");
    declines(&r, "浙江那边学的学时能转到江西这边吗");
}

#[test]
fn which_kind_of_school_is_the_audience() {
    let r = at("2026-11-29");
    answers(&r, "学习指南针对哪一类学校", "audience");
    answers(&r, "哪类学校的老师要参加", "audience");
}

#[test]
fn the_audience_named_in_other_words() {
    let r = at("2026-11-29");
    // Failed before: offered only, under the answer threshold.
    answers(&r, "高等专科学校算不算", "audience");
    answers(&r, "我是做实验技术的，不上课，也要学吗", "audience");
    answers(
        &r,
        "Do vocational secondary school teachers have to do this CE too?",
        "audience",
    );
}

#[test]
fn who_sent_the_schools_notice_is_answered() {
    let r = at("2026-11-29");
    // Offered as two choices before; the documents' entry names the office.
    let reply = answers(&r, "学校那份通知哪个部门发的", "legal_basis");
    assert!(reply.text.contains("人事处"), "{}", reply.text);
}

#[test]
fn merit_awards_are_outside_and_a_cap_on_conversion_is_a_gap() {
    let r = at("2026-11-29");
    declines(&r, "继续教育没学完会影响评优吗");
    // What completion counts for in a review is still the guide's.
    answers(&r, "继续教育没完成会影响年度考核吗", "why");
    // 上线 is a slip for 上限.
    says_gap(&r, "论文折算学时有上线吗", "gap_conversion_detail");
}

#[test]
fn the_hotline_answer_gives_the_platforms_numbers_too() {
    let r = at("2026-11-29");
    let reply = answers(&r, "平台遇到问题除了12333还能打哪个电话", "hotline");
    for phone in ["0791-12333", "4006660656", "4008039966", "4001911818"] {
        assert!(reply.text.contains(phone), "{phone}: {}", reply.text);
    }
    // Where to study is still the platforms' list, not the phones.
    answers(&r, "继续教育在哪个平台上学", "platforms");
}

#[test]
fn how_hours_are_recorded_in_other_words() {
    let r = at("2026-11-29");
    answers(&r, "公需课学完以后平台会怎么处理", "public_how");
    answers(&r, "公需课学时是怎么记的", "public_how");
    // What happens to someone late is still the late entry.
    answers(&r, "没学完会怎么处理", "late");
}

#[test]
fn not_reaching_a_title_review_asks_what_completion_counts_for() {
    let r = at("2026-11-29");
    answers(&r, "学时不够会不会评不上职称", "why");
    answers(&r, "继续教育没学完是不是评不了职称", "why");
}

#[test]
fn more_english_field_visits_hrs_exam_answers() {
    let r = at("2026-11-29");
    answers(
        &r,
        "Do field visits count as professional course hours?",
        "professional_forms",
    );
    answers(
        &r,
        "I did 60 hrs of professional courses, is that enough for professional?",
        "professional_hours",
    );
    // Exam answers are not the guide's: the reply says so.
    let reply = r.ask("Where can I find answers to the exam?");
    assert_eq!(reply.matched, None, "{}", reply.text);
}

#[test]
fn other_countries_holidays_and_study_apps_are_outside() {
    let r = at("2026-11-29");
    declines(&r, "英国的大学老师每年要学多少学时");
    declines(&r, "今年暑假几号放");
    declines(&r, "学习强国每年有没有积分要求");
    // Studying on over the winter break is still the guide's (late).
    answers(&r, "寒假里学完还算今年的吗", "late");
    says_gap(&r, "面授培训一般什么时候开", "gap_offline_schedule");
}

#[test]
fn moved_to_jiangxi_asks_about_jiangxi() {
    let r = at("2026-11-29");
    answers(
        &r,
        "湖北的高校调到江西来了，专业课要学多少学时",
        "professional_hours",
    );
}

#[test]
fn retiring_next_year_is_retiring_soon() {
    let r = at("2026-11-29");
    // Declined as unclear before; the guide's gap on retirees now.
    says_gap(&r, "明年就要退休了 今年还用学不", "gap_retired_part_time");
    says_gap(
        &r,
        "我明年二月就退休了 今年这个还用学吗",
        "gap_retired_part_time",
    );
}

#[test]
fn joining_late_in_the_year_asks_what_the_guide_does_not_say() {
    let r = at("2026-11-29");
    // Whether hours shrink for a late start: the guide is silent.
    says_gap(&r, "我11月才入职，今年也要学够吗", "gap_exemption");
    says_gap(&r, "下半年入职的老师今年要学满90学时吗", "gap_exemption");
}

#[test]
fn an_exam_for_professional_courses_is_not_in_the_guide() {
    let r = at("2026-11-29");
    says_gap(&r, "专业课也要考试吗", "gap_exam");
    let reply = r.ask("专业课也要考试吗");
    assert!(
        reply.text.contains("直接计入个人学习账户"),
        "{}",
        reply.text
    );
    // The public courses' exam is the guide's.
    answers(&r, "公需课要考试吗", "public_how");
}

#[test]
fn the_appraisals_own_timing_is_outside() {
    let r = at("2026-11-29");
    declines(&r, "单位年度考核几月份开始");
    // What completion counts for in the appraisal is the guide's.
    answers(&r, "继续教育没完成会影响年度考核吗", "why");
}

#[test]
fn the_days_other_words_and_counts() {
    let r = at("2026-11-29");
    says_gap(&r, "公需课一个视频能算几个学时", "gap_course_hours");
    answers(&r, "高专属不属于学习对象", "audience");
    // 方试 is a slip for 方式.
    answers(&r, "专业课的学习方试有哪些", "professional_forms");
    let reply = answers(&r, "省里列了几个网络学习平台", "platforms");
    assert!(reply.text.contains("共3个"), "{}", reply.text);
}

#[test]
fn not_able_to_finish_in_time_is_being_late() {
    let r = at("2026-11-29");
    for q in [
        "我生病请了半年病假，今年继续教育没法按时学完，怎么办",
        "家里有事无法按时完成继续教育怎么办",
        "It's already January and I haven't finished my 2024 hours. What should I do?",
    ] {
        answers_with(&r, q, "late", &["补学"]);
    }
}

#[test]
fn a_count_of_xue_shi_misspelt_is_hours() {
    let r = at("2026-11-29");
    answers_with(&r, "继续教鱼一年要多少学是", "hours_total", &["90"]);
}

#[test]
fn a_new_teacher_or_one_teaching_at_a_kind_of_school_asks_who_takes_part() {
    let r = at("2026-11-29");
    for q in [
        "我刚入职半年的新老师今年也要学继续教育吗",
        "我在中职学校教书，需要学这个吗",
    ] {
        answers(&r, q, "audience");
    }
    // Whether the first year counts in full is what the guide does not say.
    says_gap(&r, "新入职的第一年也要学满90学时吗", "gap_exemption");
}

#[test]
fn engineers_of_a_company_are_another_profession() {
    let r = at("2026-11-29");
    for q in [
        "我是企业里的工程师想评高级工程师我们工程师的继续教育专业课要学哪些内容",
        "I'm a civil engineer in Jiangxi, do I use the same 专业课广场 for my engineer title hours?",
    ] {
        declines(&r, q);
    }
}

#[test]
fn whether_the_school_pays_is_the_training_funds_not_a_fee() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "我想问一下就是我们出去参加继续教育的培训费用学校能不能出啊文件里有没有说用什么钱",
        "support",
        &["职工培训经费"],
    );
}

#[test]
fn a_told_duration_or_deadline_in_a_story_asks_nothing() {
    let r = at("2026-11-29");
    // 组织了几天: how long it lasted, not how long a review takes.
    answers_with(
        &r,
        "嗯我们学校暑假组织了几天线下的集中培训请专家来讲课的这种能不能算专业课的学时啊",
        "professional_forms",
        &["集中面授"],
    );
    // 赶不上年底之前学完: the story; what to do when late is asked.
    answers_with(
        &r,
        "我因为十二月份要去外地跟岗培训一个月可能赶不上年底之前学完如果真的逾期了怎么办有没有什么补救的办法",
        "late",
        &["补学"],
    );
    // Which platforms there are is no question of using several.
    let reply = r.ask("嗯我想问一下专业课线上的话一共能在哪几个平台学啊我只知道一个");
    assert!(reply.matched.is_some(), "{}", reply.text);
    assert!(reply.text.contains("江西专技在线"), "{}", reply.text);
}

#[test]
fn a_deadline_guessed_in_spring_is_corrected() {
    let r = at("2026-11-29");
    answers_with(&r, "截止日期是不是明年3月底啊", "late", &["12月31日"]);
    answers_with(
        &r,
        "专也课能不能去外校观摩代替啊",
        "professional_forms",
        &["实地观摩"],
    );
    // A first year asked about as a whole is who takes part; asked about
    // in full hours, the exemption the guide does not give.
    answers(
        &r,
        "我今年刚入职高等专科学校当老师，第一年需要做继续教育吗？",
        "audience",
    );
}

#[test]
fn a_visit_to_another_province_asks_whether_it_counts_here() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "上个月我们系组织去深圳那边几个兄弟院校参观学习了好几天这种参观的能不能算继续教育的专业课学时啊",
        "professional_forms",
        &["实地观摩"],
    );
    // Another province's own rules stay outside.
    declines(&r, "深圳的高校老师继续教育要多少学时");
    declines(&r, "我去广东工作了，那边继续教育要学多少");
}

#[test]
fn handing_in_at_the_personnel_office_or_online_asks_where_to_file() {
    let r = at("2026-11-29");
    let q = "我今年出了一本专著还拿了一个实用新型专利听同事说这些能抵继续教育学时具体是在哪个地方申请呀是交给人事处还是在网上自己弄";
    let reply = r.ask(q);
    assert!(reply.matched.is_some(), "{}", reply.text);
    assert!(reply.text.contains("折算学时申报"), "{}", reply.text);
}

#[test]
fn whether_a_unit_counts_is_who_takes_part_not_its_duties() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "我们单位是一个企业下面办的培训中心我在里面主要做教育教学工作想问一下像我们这种企业里的算不算需要参加的人员",
        "audience",
        &["企事业单位"],
    );
    answers(&r, "单位对学时填报审核有什么要求", "unit_duties");
}

#[test]
fn a_degree_outside_ones_field_a_company_trainer_and_the_first_login() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "读的学历跟自己专业不对口，能折算吗",
        "conversion_what",
        &["本专业"],
    );
    answers_with(
        &r,
        "跨专业读的研究生能折算吗",
        "conversion_what",
        &["本专业"],
    );
    answers_with(
        &r,
        "在企业里搞教育教学的也要学吗",
        "audience",
        &["企事业单位"],
    );
    answers_with(
        &r,
        "是先登省里的平台，还是直接去学习网站学",
        "login",
        &["电子社保"],
    );
    answers(
        &r,
        "Which system do I have to log into first before I can study anything?",
        "login",
    );
}

#[test]
fn putting_study_off_is_not_finishing() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "那个老师们问继续教育要是一直拖着不学最后会怎么样就是有什么后果",
        "late",
        &["补学"],
    );
}

#[test]
fn which_three_topics_applying_for_credit_and_a_square_misspelt() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "那个啥我同事说公需课今年有三个专题是哪三个啊我只记得一个职业道德的",
        "public_topics",
        &["三大高地"],
    );
    answers_with(
        &r,
        "Do I need to apply for credit after finishing the public courses?",
        "public_how",
        &["无需"],
    );
    answers_with(
        &r,
        "专业课广长在哪里找",
        "professional_online",
        &["专业课广场"],
    );
}

#[test]
fn each_item_of_a_numbered_list_is_asked() {
    let r = at("2026-11-29");
    for (q, parts) in [
        (
            "想问三件事：1.公需课要多少学时 2.截止日期 3.登录网址",
            vec!["public_hours", "deadline", "login"],
        ),
        // The bare number is no word: "1" must not pull 转1 in.
        (
            "①截止日期 ②专业课平台",
            vec!["deadline", "professional_online"],
        ),
    ] {
        let reply = r.ask(q);
        assert_eq!(reply.parts, parts, "{q}: {}", reply.text);
    }
    // One numbered item is no list: a section or a date.
    assert_eq!(r.clauses("1.公需课学时够了吗").len(), 1);
}

#[test]
fn a_condition_opens_the_second_question() {
    let r = at("2026-11-29");
    let q = "我们是民办学校的要不要参加继续教育如果要参加的话公需课在哪学";
    let reply = r.ask(q);
    assert_eq!(
        reply.parts,
        vec!["audience", "public_how"],
        "{q}: {}",
        reply.text
    );
}

#[test]
fn a_result_told_in_the_chat_asks_what_it_converts_to() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "我今年拿了一个发明专利",
        "conversion_what",
        &["折算学时申报"],
    );
    // Fewer hours by a project is the conversion, not an exemption.
    answers_with(
        &r,
        "主持了一个市厅级课题项目，学时能少学一点吗",
        "conversion_what",
        &["折算"],
    );
    // Where to publish is no question of the guide.
    declines(&r, "论文发表在哪个期刊比较容易");
}

#[test]
fn a_summary_in_the_reply_is_not_repeated_by_its_items() {
    let r = at("2026-11-29");
    // The total's answer gives both parts' minimums: said once.
    let reply = r.ask("公需课要多少学时？专业课呢？总共要多少？");
    assert_eq!(reply.parts, vec!["hours_total"], "{}", reply.text);
    assert_eq!(reply.text.matches("90").count(), 1, "{}", reply.text);
    let reply = r.ask("三个平台都叫什么名字，师大那个电话多少");
    assert_eq!(reply.parts, vec!["platforms"], "{}", reply.text);
    assert!(reply.text.contains("4006660656"), "{}", reply.text);
}

#[test]
fn hours_going_straight_into_the_account_and_filing_by_hand() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "专业课学完了学时会直接进个人账户吗",
        "professional_online",
        &["直接计入个人学习账户"],
    );
    answers_with(
        &r,
        "公需课学完了要手动报吗",
        "public_how",
        &["无需个人申报"],
    );
    // Hours not showing: the how-to says no filing and gives the hotline.
    answers_with(
        &r,
        "公需课考试过了学时没显示，是不是要手动申报",
        "public_how",
        &["无需个人申报", "12333"],
    );
}

#[test]
fn pinyin_names_a_cutoff_a_study_card_and_a_quoted_notice() {
    let r = at("2026-11-29");
    // Hunan University's platform named in pinyin is no other province.
    answers_with(
        &r,
        "whats the kefu number of the hunan daxue platform?",
        "platform_2",
        &["4001911818"],
    );
    answers_with(&r, "gongxuke xueshi how many?", "public_hours", &["30"]);
    // Buying a study card asks what it costs.
    let reply = r.ask("专业课的学习卡去哪里买");
    assert_eq!(reply.parts, vec!["gap_fee"], "{}", reply.text);
    // Whether training the school runs counts: the forms of study.
    answers_with(
        &r,
        "学校统一组织的集中面授算不算专业课学时",
        "professional_forms",
        &["集中面授"],
    );
    // A sentence of the notice quoted back: the question after it is asked.
    answers_with(
        &r,
        "文件上写着“逾期未完成的应当及时补学”，那原本的截止时间是几号",
        "deadline",
        &["12月31日"],
    );
}

#[test]
fn a_busy_term_in_the_story_does_not_hide_the_question() {
    let r = at("2026-11-29");
    // 期末 is a word of school admin; here it is only why the teacher is
    // late (a message of several parts: a story in one part does not count
    // against the question in another).
    let reply = r.ask(
        "喂喂，能听到吗，呃我是学院财经系的，最近期末事情特别多，又要出卷子，然后突然想起来继续教育还没弄，我就想问问今年的学时最晚到哪一天截止啊，是不是过了元旦也还行？",
    );
    assert_eq!(
        reply.parts.first().map(String::as_str),
        Some("deadline"),
        "{}",
        reply.text
    );
    // In the question itself it still counts: salary day is no CE question.
    declines(&r, "就是这个月工资什么时候发 人事处有没有说");
}

#[test]
fn the_other_half_of_an_either_or_question_stays_with_it() {
    let r = at("2026-11-29");
    let c = r.clauses("我想知道提交了以后是不是马上就加学时，还是要有人审批的");
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].text.ends_with("还是要有人审批的"), "{c:?}");
    answers_with(
        &r,
        "论文证书上传到平台申报折算了，等了好几天状态没变，我想知道提交了以后是不是马上就加学时，还是要有人审批的",
        "conversion_what",
        &["审核"],
    );
}

#[test]
fn a_wrong_figure_offered_for_confirmation_is_corrected() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "我们系有位老师说一年80学时就够了，是这样吗？",
        "hours_total",
        &["90"],
    );
    answers_with(&r, "截止是11月底对吧？", "deadline", &["12月31日"]);
}

#[test]
fn a_bare_where_after_an_answered_question_asks_about_continuing_education() {
    let r = at("2026-11-29");
    let reply = r.ask("帮新入职的同事问下 他是高职院校的专任教师 今年要学多少学时 去哪学");
    assert_eq!(
        reply.parts,
        vec!["hours_total", "where_both"],
        "{}",
        reply.text
    );
    // Alone, or as small talk, it is not lent the topic.
    declines(&r, "在吗在吗");
}

#[test]
fn a_part_running_two_questions_together_gets_both() {
    let r = at("2026-11-29");
    let reply = r.ask(
        "hey so i just joined a vocational college as a lab technician, my boss says i need to do this continuing education thing, like how many hours total do i need and by when?? thx",
    );
    assert_eq!(
        reply.parts,
        vec!["hours_total", "deadline"],
        "{}",
        reply.text
    );
}

#[test]
fn then_opens_the_next_question_and_english_hours_are_hours() {
    let r = at("2026-11-29");
    let reply = r.ask("我想确认一下今年公需课多少专业课多少然后最晚什么时候必须完成");
    assert_eq!(
        reply.parts,
        vec!["hours_total", "deadline"],
        "{}",
        reply.text
    );
    let reply =
        r.ask("I teach at a vocational school. How many hours of professional courses do I need?");
    assert!(reply.text.contains("60"), "{}", reply.text);
    assert_ne!(
        reply.matched.as_deref(),
        Some("professional_online"),
        "{}",
        reply.text
    );
}

#[test]
fn what_a_number_is_for_names_its_line() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "0791-12333这个号是干嘛的？",
        "hotline",
        &["职称和继续教育专席"],
    );
    answers_with(
        &r,
        "4008039966这个号是干嘛的",
        "platform_1",
        &["北京网梯科技"],
    );
}

#[test]
fn platform_support_or_the_hotline_and_an_operators_investors() {
    let r = at("2026-11-29");
    let reply = r.ask("平台卡住了是打12333还是打平台客服？");
    assert_eq!(reply.matched.as_deref(), Some("hotline"), "{}", reply.text);
    assert!(reply.text.contains("4008039966"), "{}", reply.text);
    declines(&r, "江西专技在线是哪个老板投资的，效益好不好");
    declines(&r, "我想考湖南大学的在职研究生 怎么报名");
}

#[test]
fn a_year_after_what_it_qualifies_in_english_is_asked() {
    let r = at("2026-11-29");
    let reply = r.ask("What are the public course topics for 2025 in Jiangxi?");
    assert!(reply.matched.is_none(), "{}", reply.text);
    assert!(reply.text.contains("没有2025年度的"), "{}", reply.text);
    // A year the asker joined in is no guide asked for.
    let reply =
        r.ask("I started working here in 2025, how many hours of continuing education do I need?");
    assert_eq!(
        reply.matched.as_deref(),
        Some("hours_total"),
        "{}",
        reply.text
    );
}

#[test]
fn faults_and_whether_a_units_training_counts() {
    let r = at("2026-11-29");
    // Whether it counts is the forms of study, not the units' duties.
    answers_with(
        &r,
        "学院寒假组织了一次集中培训讲新方法的，能不能算到专业课学时里",
        "professional_forms",
        &["集中面授"],
    );
    // A platform's line that does not answer: the provincial hotline.
    answers_with(
        &r,
        "湖大平台客服一直打不通，有没有省里的电话",
        "hotline",
        &["12333"],
    );
    // A stalled video is a fault, not a question of a course's hours.
    answers_with(
        &r,
        "看课一直卡在一个视频不动，该找谁",
        "hotline",
        &["12333"],
    );
}

#[test]
fn a_part_led_to_a_summary_by_two_of_its_items_is_clear() {
    let r = at("2026-11-29");
    let reply = r.ask("公需课和专业课是不是都在同一个地方学然后学完了要不要自己再去报学时");
    assert_eq!(
        reply.parts.first().map(String::as_str),
        Some("where_both"),
        "{}",
        reply.text
    );
}

#[test]
fn a_part_pointing_back_at_its_story_is_read_with_it() {
    let r = at("2026-11-29");
    // 这些 are the patent and the book the story names: the conversion,
    // not the professional courses the part alone names; and the next
    // part asks where to file them.
    let reply = r.ask("去年拿了个专利还出了本书。这些能直接抵专业课学时吗？在哪里弄");
    assert_eq!(
        reply.parts.first().map(String::as_str),
        Some("conversion_what"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("折算学时申报"), "{}", reply.text);
}

#[test]
fn dialect_words_and_a_number_said_digit_by_digit_are_read() {
    let r = at("2026-11-29");
    // 冇 is 没 (有): a yes-no question by its end, a negation inside.
    answers(&r, "专业课冇学完有得救冇", "late");
    answers_with(&r, "公需课有啥子专题", "public_topics", &["三大高地"]);
    answers_with(&r, "打 1 2 3 3 3 要按几号键", "hotline", &["7号键"]);
    answers(
        &r,
        "which sites are on the list for professional courses",
        "platforms",
    );
}

#[test]
fn one_question_asked_of_two_subjects_is_answered_for_each() {
    let r = at("2026-11-29");
    // 分别: the content of each kind of course.
    let reply = r.ask("公需课和专业课分别学什么内容");
    assert_eq!(
        reply.parts,
        ["public_topics", "professional_content"],
        "{}",
        reply.text
    );
    // Two items of one list: the list's summary still answers both.
    answers(&r, "公需课和专业课分别在哪学", "where_both");
}

#[test]
fn questions_embedded_after_not_knowing_are_each_asked() {
    let r = at("2026-11-29");
    let reply = r.ask("我是新来的实验员不知道专业课在哪里学也不知道专业课要学多少学时");
    assert_eq!(
        reply.parts,
        ["professional_online", "professional_hours"],
        "{}",
        reply.text
    );
    // Opening hours asked in English are what the guide does not say.
    says_gap(
        &r,
        "is the 12333 line open at weekends",
        "gap_service_hours",
    );
}

#[test]
fn a_name_in_quotes_is_no_quoted_notice_and_a_story_lends_its_subject() {
    let r = at("2026-11-29");
    // 讲“考察江西” names a topic; no sentence of the notice is quoted.
    answers_with(
        &r,
        "公需课里讲“考察江西”的那个专题，全称是什么？",
        "public_topics",
        &["学习贯彻习近平总书记考察江西重要讲话精神"],
    );
    // "这样算达标吗" names nothing: the hours told before it are asked.
    answers_with(
        &r,
        "公需课学了35，专业课学了55，这样算达标吗",
        "hours_total",
        &["90"],
    );
    declines(&r, "下周要请病假，请假条找谁签字");
}

#[test]
fn english_when_joining_a_clause_asks_no_date_and_a_short_question_is_one() {
    let r = at("2026-11-29");
    // "when I apply" tells when it matters; it asks no date.
    answers(
        &r,
        "Does finishing my hours matter when I apply for a higher title?",
        "why",
    );
    // Eight English words are a short message: one question, one part.
    let reply = r.ask("when do I need to finish my hours");
    assert_eq!(reply.parts, ["deadline"], "{}", reply.text);
}

#[test]
fn a_bare_topic_between_two_questions_is_one_more_item() {
    let r = at("2026-11-29");
    let reply = r.ask("专业课去哪里学 截止时间 公需课要学多少学时");
    assert_eq!(
        reply.parts,
        ["professional_online", "deadline", "public_hours"],
        "{}",
        reply.text
    );
    // Who asks is no topic of its own.
    let reply = r.ask("公需课多少学时？中职老师，专业课多少学时");
    assert_eq!(
        reply.parts,
        ["public_hours", "professional_hours"],
        "{}",
        reply.text
    );
}

#[test]
fn a_story_telling_the_hours_asks_what_follows_them() {
    let r = at("2026-11-29");
    // The story already holds the 60 hours: where to study them is asked.
    answers_with(
        &r,
        "我在中职教书，打算在网上把专业课那六十个学时学完，请问该去哪里选平台",
        "professional_online",
        &["专业课广场"],
    );
    // Asking how many again is still the hours.
    let reply = r.ask("听说专业课要60学时，公需课要多少学时");
    assert!(reply.text.contains("公需课不少于30学时"), "{}", reply.text);
}

#[test]
fn full_time_study_elsewhere_is_the_exemption_the_guide_does_not_give() {
    let r = at("2026-11-29");
    says_gap(
        &r,
        "脱产学习期间是不是可以不用参加继续教育",
        "gap_exemption",
    );
}

#[test]
fn a_refund_is_a_fee_and_an_operators_other_business_its_own() {
    let r = at("2026-11-29");
    says_gap(&r, "在平台上买的课程不想学了可以退钱吗", "gap_fee");
    declines(&r, "湖南大学除了做这个平台还有哪些主营业务");
}

#[test]
fn whether_it_matters_is_the_why_and_opinions_or_slides_are_declined() {
    let r = at("2026-11-29");
    answers_with(&r, "继续教育学时对评职称要不要紧", "why", &["重要条件"]);
    declines(&r, "三个公需课专题哪个讲得最有意思");
    declines(&r, "能帮我做个继续教育培训的PPT吗");
}

#[test]
fn when_the_school_breaks_up_is_another_topic() {
    let r = at("2026-11-29");
    declines(&r, "今年学校啥时候放假啊");
    declines(&r, "今年暑假大概什么时候放");
    // The deadline asked beside it is still answered.
    answers(&r, "继续教育最晚哪天要学完", "deadline");
}

#[test]
fn how_many_questions_follow_says_nothing_of_them() {
    let r = at("2026-11-29");
    let reply = r.ask("问两个问题：总学时多少？公需课在哪学？");
    assert_eq!(reply.parts, ["hours_total", "public_how"], "{}", reply.text);
}

#[test]
fn finishing_in_english_weighs_nothing_and_a_certificate_is_a_gap() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "What is the deadline for finishing this year's continuing education hours?",
        "deadline",
        &["12月31日"],
    );
    says_gap(
        &r,
        "Where can I print a certificate after finishing my hours?",
        "gap_certificate",
    );
}

#[test]
fn a_title_review_and_a_degree_at_an_operator_are_other_topics() {
    let r = at("2026-11-29");
    declines(&r, "在省人事人才一体化平台怎么办理职称评审的申报");
    declines(&r, "能在江西师大那个平台上报学历吗");
}

#[test]
fn questions_run_together_without_a_mark_are_each_answered() {
    let r = at("2026-11-29");
    for (q, parts) in [
        (
            "一年得学多少学时去哪学怎么登进去",
            &["hours_total", "where_both", "login"][..],
        ),
        ("每年学几个学时最晚哪天学完", &["hours_total", "deadline"]),
        (
            "专业课要学多少学时在哪里选平台",
            &["professional_hours", "professional_online"],
        ),
    ] {
        let reply = r.ask(q);
        assert_eq!(reply.parts, parts, "{q}: {}", reply.text);
    }
    // Two question words of one question stay one question.
    let reply = r.ask("几月几号之前要学完");
    assert_eq!(reply.parts, ["deadline"], "{}", reply.text);
}

#[test]
fn so_many_hours_is_no_carry_over_and_the_holidays_are_a_time() {
    let r = at("2026-11-29");
    // 那么多学时 holds 多学 but asks about a first year, not extra hours.
    let reply = r.ask("刚来的第一年也要学满那么多学时吗");
    assert_eq!(reply.parts, ["gap_exemption"], "{}", reply.text);
    // The holidays as a time of the story; when they start stays another topic.
    answers(&r, "马上要放寒假了，继续教育能不能拖到寒假里学", "late");
    declines(&r, "今年学校几号放寒假");
}

#[test]
fn time_set_aside_funds_from_where_names_and_teaching_pay() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "学校能不能给我们留出时间学继续教育",
        "support",
        &["时间保障"],
    );
    answers_with(&r, "培训经费从哪里出", "support", &["职工培训经费"]);
    answers(&r, "公需课三个专题的名称能发一下吗", "public_topics");
    // Pay for teaching is no hours of study.
    declines(&r, "课时费怎么算");
    declines(&r, "上课的课酬多少");
}

#[test]
fn a_part_running_on_or_leading_back_asks_the_rest() {
    let r = at("2026-11-29");
    // A bare ask whose borrowed subject leads back to the login asks the topic.
    let reply = r.ask("继续教育在哪登录，要学多少");
    assert_eq!(reply.parts, ["login", "hours_total"], "{}", reply.text);
    // A part joined by 还有 to a second question: both halves.
    let reply = r.ask("我是新来的想问下继续教育在哪个网站学然后一年学时多少还有咨询电话是多少");
    assert_eq!(
        reply.parts,
        ["public_how", "hours_total", "hotline"],
        "{}",
        reply.text
    );
    // 有没有用 asks what it is for; 算到哪里 where hours are recorded.
    answers(&r, "学这个继续教育对评职称有没有用", "why");
    answers(&r, "专业课的学时算到哪里去了", "credit_recording");
}

#[test]
fn a_half_running_on_and_a_hotline_by_other_names() {
    let r = at("2026-11-29");
    let reply = r.ask("每年学多少学时最晚哪天学完还有咨询电话多少");
    assert_eq!(
        reply.parts,
        ["hours_total", "deadline", "hotline"],
        "{}",
        reply.text
    );
    answers(&r, "咨询专线是多少", "hotline");
    answers_with(
        &r,
        "学校要不要专门安排人管继续教育",
        "unit_duties",
        &["专人负责"],
    );
}

#[test]
fn a_year_before_the_province_names_that_years_guide() {
    let r = at("2026-11-29");
    let reply = r.ask("2025年度江西专业技术人员继续教育公需课有哪些专题");
    assert_eq!(reply.matched, None, "{}", reply.text);
    assert!(reply.text.contains("没有2025年度"), "{}", reply.text);
    // The loaded year named the same way is that guide's answer.
    answers(
        &r,
        "2024年度江西专业技术人员继续教育公需课有哪些专题",
        "public_topics",
    );
}

#[test]
fn done_said_loosely_where_hours_show_and_someone_to_run_it() {
    let r = at("2026-11-29");
    // 搞完 / 弄完 are 学完: the deadline asks when.
    let reply = r.ask("一年要学多少学时，最晚几号前要弄完？");
    assert_eq!(reply.parts, ["hours_total", "deadline"], "{}", reply.text);
    answers(&r, "学过的学时去哪里可以看到", "credit_recording");
    answers_with(
        &r,
        "学院要不要专门安排一个人来管这个继续教育",
        "unit_duties",
        &["专人负责"],
    );
}

#[test]
fn a_time_told_asks_no_date_and_an_operators_office_is_its_own_business() {
    let r = at("2026-11-29");
    // 年底之前 tells when it would be late; what is asked is what then.
    let reply = r.ask("工作太忙了要是元旦之前还没学完会怎么样能补吗");
    assert_eq!(reply.matched.as_deref(), Some("late"), "{}", reply.text);
    assert!(reply.text.contains("补学"), "{}", reply.text);
    // A date asked for still is one.
    answers(&r, "学时要在哪天之前完成", "deadline");
    // An operator's own office: that school's business, not its platform.
    for q in ["湖南大学教务处电话多少", "江西师大的财务处在哪里"] {
        let reply = r.ask(q);
        assert_eq!(reply.kind, ReplyKind::Decline, "{q}: {}", reply.text);
        assert!(reply.text.contains("0791-12333"), "{q}: {}", reply.text);
    }
    // The operator's platform still is answered.
    let reply = r.ask("湖南大学那个平台的客服电话多少");
    assert!(reply.matched.is_some(), "{}", reply.text);
    // Engineers' continuing education is another profession's.
    declines_as_other(&r, "工程师继续教育学时怎么算");
}

/// Declined as another profession's or region's rules.
fn declines_as_other(r: &Responder, q: &str) {
    let reply = r.ask(q);
    assert_eq!(reply.matched, None, "{q}: {}", reply.text);
    assert!(reply.text.contains("不在其中"), "{q}: {}", reply.text);
}

#[test]
fn an_office_in_the_story_asks_no_contact() {
    let r = at("2026-11-29");
    // Where a rumour came from is no question about the 人事处's office.
    answers(
        &r,
        "今天听隔壁办公室说人事处要查我们学时 我想问一年总共要学多少学时",
        "hours_total",
    );
    says_gap(&r, "人事处在哪办公", "gap_school_contact");
    says_gap(&r, "人事处办公室在几楼", "gap_school_contact");
}

#[test]
fn a_title_reviews_dates_are_its_own() {
    let r = at("2026-11-29");
    // When the title review takes its papers is that process's matter.
    declines(&r, "今年职称申报材料什么时候交");
    // The continuing education's own date still is answered.
    answers(&r, "继续教育的学时什么时候截止", "deadline");
}

#[test]
fn filling_in_and_reviewing_hours_is_the_units_work() {
    let r = at("2026-11-29");
    // 填报、审核 together is the unit's duty; 填报 alone may be a teacher's
    // own filing (无需个人申报).
    answers_with(
        &r,
        "学时填报审核是学院做还是老师自己做",
        "unit_duties",
        &["填报、审核、监督"],
    );
    answers(&r, "本年度学时的填报审核谁来负责", "unit_duties");
}

#[test]
fn a_question_naming_nothing_asks_of_its_storys_subject_first() {
    let r = at("2026-11-29");
    // "这样够不够" alone leans to being late; the story's 专业课 / 公需 make
    // it a question of the hours.
    answers_with(
        &r,
        "专业课看了80个，公需才10个，这样够不够？",
        "hours_total",
        &["30"],
    );
}

#[test]
fn what_the_school_asks_us_to_finish_is_its_notice() {
    let r = at("2026-11-29");
    // The school's notice asks for the professional courses: asked without
    // the word 通知, what the school or its 人事处 wants is that notice.
    for q in [
        "人事处要求我们完成的是哪一块的学习",
        "学校要我们完成哪部分学习 公需课还是专业课",
    ] {
        answers_with(&r, q, "notices", &["专业科目学习"]);
    }
}

#[test]
fn which_kinds_of_school_the_guide_covers_is_who_takes_part() {
    let r = at("2026-11-29");
    // Asked as "what" (哪几类), not "who" or "whether": still the audience.
    for q in ["普通高校包括哪几类学校", "指南里的普通高校分哪几类"] {
        answers_with(&r, q, "audience", &["普通本科院校", "独立学院"]);
    }
}

#[test]
fn a_problem_on_the_platform_is_the_hotlines() {
    let r = at("2026-11-29");
    // The list of platforms is no answer to a problem met on one: the
    // hotline is (its answer gives the platforms' phones too).
    let reply = r.ask("学习平台用着出问题了该打什么电话");
    assert_eq!(reply.matched.as_deref(), Some("hotline"), "{}", reply.text);
    assert!(reply.text.contains("0791-12333"), "{}", reply.text);
    answers(&r, "平台名单和客服电话", "platforms");
}

#[test]
fn how_public_hours_are_credited_is_no_count() {
    let r = at("2026-11-29");
    // 认定 / 考试 ask how the hours are credited (an exam, the system), not
    // how many.
    answers_with(&r, "公需课学时是怎么认定的啊", "public_how", &["考试合格"]);
    answers_with(&r, "公需课要多少学时", "public_hours", &["30"]);
}

#[test]
fn hours_asked_of_a_title_or_an_appraisal_are_no_count() {
    let r = at("2026-11-29");
    // Whether the hours count for a title, an appointment or the yearly
    // appraisal is no question of how many: never the count's answer.
    for q in [
        "过两年想报副高 今年继续教育学时有用吗",
        "我今年刚评上讲师 以后还要每年继续教育吗 聘任时看不看",
    ] {
        let reply = r.ask(q);
        assert_ne!(
            reply.matched.as_deref(),
            Some("hours_total"),
            "{q}: {}",
            reply.text
        );
    }
    // Hours asked for a title still are the count.
    answers(&r, "评职称要学多少学时", "hours_total");
}

#[test]
fn other_ways_than_online_are_the_forms() {
    let r = at("2026-11-29");
    answers_with(
        &r,
        "专业课不在网上学的话还有别的方式吗",
        "professional_forms",
        &["集中面授"],
    );
    answers(&r, "专业课线上平台在哪", "professional_online");
}

#[test]
fn the_main_content_is_said_in_the_guides_words() {
    let r = at("2026-11-29");
    // Quoted, not paraphrased (是 for 为): a teacher checking against the
    // guide finds the sentence.
    answers_with(
        &r,
        "专业课的内容是什么",
        "professional_content",
        &["专业科目为继续教育的主要内容"],
    );
}

#[test]
fn an_app_to_scan_with_is_the_login() {
    let r = at("2026-11-29");
    // The app that scans the login code is 电子社保; an app to study in is
    // what the guide does not mention.
    answers_with(&r, "登录平台要用哪个app扫一下", "login", &["电子社保"]);
    says_gap(&r, "继续教育有手机app吗", "gap_app");
}

#[test]
fn a_kind_of_staff_asking_whether_the_hours_hold_learns_both() {
    let r = at("2026-11-29");
    // Who takes part, then the hours: "也要学满90学时吗" of a kind of staff
    // asks both.
    let reply = r.ask("我是民办本科的实验员，也要学满90学时吗");
    assert_eq!(reply.parts, ["audience", "hours_total"], "{}", reply.text);
    assert!(
        reply.text.contains("实验技术") && reply.text.contains("90"),
        "{}",
        reply.text
    );
    // No button offers a question the reply already answers.
    assert!(
        !reply.buttons.iter().flatten().any(|b| matches!(
            &b.action,
            jxjy_bot::dialogue::Action::Show(id) if reply.parts.contains(id)
        )),
        "{:?}",
        reply.buttons
    );
    // Asked how many, the hours alone.
    let reply = r.ask("中职老师一年要学多少学时");
    assert_eq!(reply.parts, ["hours_total"], "{}", reply.text);
}

#[test]
fn a_years_version_of_the_guide_asked_in_english_is_that_year() {
    let r = at("2026-11-29");
    let reply = r.ask("Is there a 2025 edition of this study guide?");
    assert_eq!(reply.matched, None, "{}", reply.text);
    assert!(reply.text.contains("没有2025年度"), "{}", reply.text);
}
