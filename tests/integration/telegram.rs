//! The bot end to end: the real handler tree and run loop against the fake
//! Bot API on loopback.

use crate::fake_api::{BOT_USERNAME, FakeApi, Fault, TOKEN};
use jxjy_bot::bot::{App, Options, run};
use jxjy_bot::clock::ManualClock;
use jxjy_bot::conversation::Conversation;
use jxjy_bot::identity::Identity;
use jxjy_bot::live::LiveKb;
use jxjy_bot::reminders::Schedule;
use jxjy_bot::store::{ChatKind, Store, Subscription};
use jxjy_bot::telegram::Telegram;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const TEACHER: i64 = 42;
const GROUP: i64 = -100;

fn tg(id: i64) -> Identity {
    Identity::telegram(id)
}

pub struct Harness {
    pub api: FakeApi,
    pub app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub dir: tempfile::TempDir,
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(FakeApi::start().await, |_| {}, Vec::new()).await
    }

    /// Against `api`, with the client tuned by `tune` and these robots.
    pub async fn start_with(
        api: FakeApi,
        tune: impl FnOnce(&mut Telegram),
        webhooks: Vec<jxjy_bot::webhook::Target>,
    ) -> Harness {
        Harness::start_prepared(api, tune, webhooks, |_| {}).await
    }

    /// As `start_with`, with the store prepared before the bot starts.
    pub async fn start_prepared(
        api: FakeApi,
        tune: impl FnOnce(&mut Telegram),
        webhooks: Vec<jxjy_bot::webhook::Target>,
        prepare: impl FnOnce(&Store),
    ) -> Harness {
        Harness::start_on(
            api,
            tune,
            webhooks,
            prepare,
            crate::shipped_kb_dir(),
            at("2024-12-20T10:00:00+08:00"),
        )
        .await
    }

    /// As `start_prepared`, with this knowledge directory and moment.
    pub async fn start_on(
        api: FakeApi,
        tune: impl FnOnce(&mut Telegram),
        webhooks: Vec<jxjy_bot::webhook::Target>,
        prepare: impl FnOnce(&Store),
        kb: std::path::PathBuf,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let live = LiveKb::load(&kb, Default::default(), clock.clone()).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let core = Conversation::new(
            Arc::new(live),
            Some(store.clone()),
            Schedule::default(),
            clock,
            vec![tg(7)],
        );
        let app = Arc::new(App {
            core,
            store,
            webhooks,
        });
        prepare(&app.store);
        let webhooks_empty = app.webhooks.is_empty();
        let mut tg = Telegram::local(TOKEN, &api.url()).unwrap();
        // Retries without the production pauses.
        tg.backoff.first = Duration::from_millis(50);
        tune(&mut tg);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let opts = Options {
            // Only the reminder test has robots; the others get none.
            reminders: !webhooks_empty,
            reminder_every: Duration::from_secs(3600),
            ..Default::default()
        };
        let task = tokio::spawn(run(Arc::new(tg), app.clone(), opts, async move {
            let _ = rx.await;
        }));
        Harness {
            api,
            app,
            stop: Some(tx),
            task,
            dir,
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let r = tokio::time::timeout(Duration::from_secs(20), self.task).await;
        assert!(
            matches!(r, Ok(Ok(Ok(())))),
            "bot did not stop cleanly: {r:?}"
        );
    }
}

/// Wait up to `secs` for `cond` (state the bot changes asynchronously).
async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn text(v: &Value) -> &str {
    v["text"].as_str().unwrap_or("")
}

fn buttons(v: &Value) -> Vec<(String, String)> {
    v["reply_markup"]["inline_keyboard"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .flat_map(|r| r.as_array().cloned().unwrap_or_default())
                .map(|b| {
                    (
                        b["text"].as_str().unwrap_or("").to_string(),
                        b["callback_data"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_conversation_of_ten_questions() {
    let h = Harness::start().await;
    let qa = [
        ("每年继续教育要多少学时", "90"),
        ("公需课要学几个学时", "30"),
        ("专业课最少多少学时", "60"),
        ("今年公需课有哪些专题", "三大高地"),
        ("平台怎么登录", "电子社保"),
        ("江西专技在线的客服电话", "4008039966"),
        ("论文能折算学时吗", "赣人社规〔2023〕2号"),
        ("最晚什么时候学完", "2024年12月31日"),
        ("没学完怎么办", "补学"),
        ("咨询电话多少", "0791-12333"),
    ];
    for (q, _) in &qa {
        h.api.text(TEACHER, TEACHER, q);
    }
    let sent = h.api.wait_sent(TEACHER, qa.len(), 20).await;
    assert_eq!(sent.len(), qa.len(), "{sent:#?}");
    for ((q, want), reply) in qa.iter().zip(&sent) {
        let t = text(reply);
        assert!(t.contains(want), "{q} -> {t}");
        assert!(t.contains("依据："), "{q} -> {t}");
        let b = buttons(reply);
        assert!(
            b.iter().any(|(l, _)| l.contains('👍')),
            "{q}: feedback buttons"
        );
        assert!(b.iter().all(|(_, d)| d.len() <= 64));
        assert!(
            reply.get("reply_parameters").is_none(),
            "private replies do not quote"
        );
    }
    let c = h.api.counters();
    assert_eq!(c.sends, qa.len());
    assert!(
        c.first_get_updates
            .is_some_and(|t| c.last_send.is_some_and(|l| l > t))
    );
    // setMyCommands registered the command list.
    let cmds = h.api.calls("setmycommands").await;
    assert!(
        cmds[0]["commands"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x["command"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches('/')
                == "deadline")),
        "{cmds:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_question_then_tap_answers_and_feedback_is_stored() {
    let h = Harness::start().await;
    h.api.text(TEACHER, TEACHER, "学时");
    let sent = h.api.wait_sent(TEACHER, 1, 10).await;
    assert!(
        text(&sent[0]).starts_with("您是想问："),
        "{}",
        text(&sent[0])
    );
    let b = buttons(&sent[0]);
    assert!((2..=3).contains(&b.len()), "{b:?}");
    let (label, data) = b[0].clone();
    h.api.callback(TEACHER, TEACHER, &data);
    let sent = h.api.wait_sent(TEACHER, 2, 10).await;
    let id = data.trim_start_matches("a:");
    let r = h.app.core.responder();
    let entry = r.kb().entry(id).unwrap();
    assert_eq!(entry.title, label);
    assert!(
        text(&sent[1]).starts_with(&entry.answer),
        "{}",
        text(&sent[1])
    );
    // 👍 on that answer is counted.
    let up = buttons(&sent[1])
        .into_iter()
        .find(|(l, _)| l.contains('👍'))
        .unwrap();
    let down = buttons(&sent[1])
        .into_iter()
        .find(|(l, _)| l.contains('👎'))
        .unwrap();
    // Pressed fifty times: one vote. Then changed to 👎.
    for _ in 0..50 {
        h.api.callback(TEACHER, TEACHER, &up.1);
    }
    let answered = |n: usize| {
        move |r: &[wiremock::Request]| {
            r.iter()
                .filter(|r| crate::fake_api::method_of(r) == "answercallbackquery")
                .count()
                >= n
        }
    };
    assert!(h.api.wait_until(20, answered(51)).await);
    assert_eq!(
        h.app.store.feedback().unwrap(),
        vec![(id.to_string(), 1, 0)]
    );
    let notes = h.api.calls("answercallbackquery").await;
    assert!(
        notes[2]["text"].as_str().unwrap_or("").contains("已评价过"),
        "{}",
        notes[2]
    );
    h.api.callback(TEACHER, TEACHER, &down.1);
    assert!(h.api.wait_until(10, answered(52)).await);
    assert!(
        eventually(10, || h.app.store.feedback().unwrap()
            == vec![(id.to_string(), 0, 1)])
        .await
    );
    // Another teacher's vote counts on its own.
    h.api.callback(8, 8, &up.1);
    assert!(
        eventually(10, || h.app.store.feedback().unwrap()
            == vec![(id.to_string(), 1, 1)])
        .await
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_gets_fallback_with_hotline_and_menu_and_is_stored() {
    let h = Harness::start().await;
    h.api.text(TEACHER, TEACHER, "食堂几点开饭");
    let sent = h.api.wait_sent(TEACHER, 1, 10).await;
    let t = text(&sent[0]);
    assert!(
        t.contains("抱歉") && t.contains("0791-12333") && t.contains("7号键"),
        "{t}"
    );
    let labels: Vec<String> = buttons(&sent[0]).into_iter().map(|b| b.0).collect();
    for topic in [
        "学时要求",
        "公需课",
        "专业课",
        "学习平台",
        "登录",
        "学时折算",
        "截止时间",
        "咨询电话",
    ] {
        assert!(labels.iter().any(|l| l == topic), "{labels:?}");
    }
    let un = h.app.store.unanswered().unwrap();
    assert_eq!(un.len(), 1);
    assert_eq!(un[0].text, "食堂几点开饭");
    assert_eq!(un[0].chat, ChatKind::Private);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_answers_commands_mentions_and_replies_only() {
    let h = Harness::start().await;
    let chatter = h.api.text(GROUP, 5, "今天开会吗？学时的事回头再说");
    let ask = h.api.text(GROUP, 5, "/ask 公需课要多少学时");
    let mention = h
        .api
        .text(GROUP, 6, &format!("@{BOT_USERNAME} 截止日期是哪天"));
    let reply = h.api.reply_to_bot(GROUP, 6, "登录网址是什么");
    let other_bot = h.api.text(GROUP, 6, "/ask@some_other_bot 学时");
    let sticker = h.api.other(
        GROUP,
        6,
        json!({"location": {"latitude": 28.68, "longitude": 115.86}}),
    );
    let sentinel = h
        .api
        .text(GROUP, 5, &format!("/ask@{BOT_USERNAME} 咨询电话"));
    let _ = (chatter, other_bot, sticker);
    let sent = h.api.wait_sent(GROUP, 4, 15).await;
    assert!(h.api.wait_drained(10).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent_now = h.api.sent_to(GROUP).await;
    assert_eq!(
        sent_now.len(),
        4,
        "one reply per addressed question, nothing else: {sent_now:#?}"
    );
    assert!(text(&sent[0]).contains("30"));
    assert!(text(&sent[1]).contains("2024年12月31日"));
    assert!(text(&sent[2]).contains("hr.jxhrss.gov.cn"));
    assert!(text(&sent[3]).contains("12333"));
    // Each quotes the message it answers.
    let quoted: Vec<i64> = sent
        .iter()
        .map(|s| s["reply_parameters"]["message_id"].as_i64().unwrap_or(0))
        .collect();
    assert!(quoted.iter().all(|&q| q > 0), "{sent:#?}");
    let _ = (ask, mention, reply, sentinel);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_text_asks_for_text_and_an_edited_question_is_answered() {
    let h = Harness::start().await;
    h.api.other(
        TEACHER,
        TEACHER,
        json!({"sticker": {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 512, "height": 512,
                           "is_animated": false, "is_video": false}}),
    );
    h.api.other(
        TEACHER,
        TEACHER,
        json!({"location": {"latitude": 28.68, "longitude": 115.86}}),
    );
    h.api.edited(TEACHER, TEACHER, "每年要多少学时");
    h.api.edited(TEACHER, TEACHER, "/log 公需 10");
    h.api.text(TEACHER, TEACHER, "/nonsense");
    let sent = h.api.wait_sent(TEACHER, 5, 10).await;
    assert_eq!(sent.len(), 5, "{sent:#?}");
    for s in &sent[..2] {
        assert!(text(s).contains("请用文字发送"), "{}", text(s));
    }
    assert!(text(&sent[2]).contains("90"), "{}", text(&sent[2]));
    assert!(
        text(&sent[3]).contains("不会再次执行"),
        "{}",
        text(&sent[3])
    );
    assert!(
        h.app.store.hours(&tg(TEACHER), 2024).unwrap().is_empty(),
        "an edited /log is not run"
    );
    assert!(text(&sent[4]).contains("/help"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn very_long_message_and_forged_callback_are_handled() {
    let h = Harness::start().await;
    h.api.text(TEACHER, TEACHER, &"继续教育学时".repeat(834)); // 5,004 characters
    h.api.callback(TEACHER, TEACHER, "a:no_such_entry");
    h.api
        .callback(TEACHER, TEACHER, "\u{0}💥 forged data that is not ours");
    let sent = h.api.wait_sent(TEACHER, 1, 10).await;
    assert_eq!(sent.len(), 1);
    assert!(text(&sent[0]).chars().count() <= 4096);
    assert!(
        h.api
            .wait_until(10, |r| r
                .iter()
                .filter(|r| crate::fake_api::method_of(r) == "answercallbackquery")
                .count()
                >= 2)
            .await
    );
    for c in h.api.calls("answercallbackquery").await {
        assert!(c["text"].as_str().unwrap_or("").contains("过期"), "{c}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_send_is_retried_and_nothing_is_lost() {
    let h = Harness::start().await;
    h.api.inject_429(TEACHER, 1);
    h.api.text(TEACHER, TEACHER, "每年要多少学时");
    h.api.text(TEACHER, TEACHER, "咨询电话");
    let sent = h.api.wait_sent(TEACHER, 3, 20).await;
    assert_eq!(
        sent.len(),
        3,
        "the 429'd message, its retry, and the second answer"
    );
    assert_eq!(
        text(&sent[0]),
        text(&sent[1]),
        "the retry resends the same message"
    );
    assert!(text(&sent[1]).contains("90"));
    assert!(text(&sent[2]).contains("12333"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_user_is_marked_inactive() {
    let h = Harness::start().await;
    h.app
        .store
        .put_subscription(&Subscription {
            chat: tg(TEACHER),
            kind: ChatKind::Private,
            active: true,
        })
        .unwrap();
    h.api.inject_403(TEACHER);
    h.api.text(TEACHER, TEACHER, "每年要多少学时");
    assert!(h.api.wait_sent(TEACHER, 1, 10).await.len() == 1);
    eventually(5, || {
        h.app
            .store
            .subscription(&tg(TEACHER))
            .unwrap()
            .is_some_and(|s| !s.active)
    })
    .await;
    assert!(
        !h.app
            .store
            .subscription(&tg(TEACHER))
            .unwrap()
            .unwrap()
            .active
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_remind_needs_an_admin_and_survives_migration() {
    let h = Harness::start().await;
    h.api.set_member(GROUP, 5, "member");
    h.api.set_member(GROUP, 6, "administrator");
    h.api.text(GROUP, 5, "/remind on");
    let sent = h.api.wait_sent(GROUP, 1, 10).await;
    assert!(
        text(&sent[0]).contains("只有群管理员"),
        "{}",
        text(&sent[0])
    );
    assert!(h.app.store.subscription(&tg(GROUP)).unwrap().is_none());
    h.api.text(GROUP, 6, "/remind on");
    let sent = h.api.wait_sent(GROUP, 2, 10).await;
    assert!(text(&sent[1]).contains("提醒已开启"), "{}", text(&sent[1]));
    assert!(
        text(&sent[1]).contains("下次提醒：2024-12-24 09:00"),
        "{}",
        text(&sent[1])
    );
    let checked = h.api.calls("getchatmember").await;
    assert_eq!(checked.len(), 2);
    // An anonymous administrator posts as the group: allowed, no lookup.
    h.api.anonymous_admin(GROUP, "/remind off");
    let sent = h.api.wait_sent(GROUP, 3, 10).await;
    assert!(text(&sent[2]).contains("提醒未开启"), "{}", text(&sent[2]));
    assert_eq!(h.api.calls("getchatmember").await.len(), 2);
    h.api.text(GROUP, 6, "/remind on");
    h.api.wait_sent(GROUP, 4, 10).await;
    // Anyone may look at the state.
    h.api.text(GROUP, 5, "/remind");
    let sent = h.api.wait_sent(GROUP, 5, 10).await;
    assert!(text(&sent[4]).contains("提醒已开启"));
    // The group becomes a supergroup: the subscription moves.
    h.api.migrate(GROUP, 6, -100777);
    // Updates of different chats run concurrently: wait for the move.
    eventually(10, || {
        h.app.store.subscription(&tg(-100777)).unwrap().is_some()
    })
    .await;
    h.api.text(-100777, 6, "/remind");
    let sent = h.api.wait_sent(-100777, 1, 10).await;
    assert!(text(&sent[0]).contains("提醒已开启"), "{}", text(&sent[0]));
    assert!(h.app.store.subscription(&tg(GROUP)).unwrap().is_none());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracker_commands_and_forget_through_telegram() {
    let h = Harness::start().await;
    for t in [
        "/log 公需 10",
        "/log 专业 20",
        "/hours",
        "/remind on",
        "/deadline",
        "/forget",
    ] {
        h.api.text(TEACHER, TEACHER, t);
    }
    let sent = h.api.wait_sent(TEACHER, 6, 15).await;
    assert!(text(&sent[1]).contains("还差60学时"), "{}", text(&sent[1]));
    assert!(
        text(&sent[2]).contains("公需课：10 / 30 / 20"),
        "{}",
        text(&sent[2])
    );
    assert!(text(&sent[4]).contains("还剩11天"), "{}", text(&sent[4]));
    assert!(text(&sent[5]).contains("已删除"));
    assert!(h.app.store.hours(&tg(TEACHER), 2024).unwrap().is_empty());
    assert!(h.app.store.subscription(&tg(TEACHER)).unwrap().is_none());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_start_and_stats_for_admins_only() {
    let h = Harness::start().await;
    h.api.text(TEACHER, TEACHER, "/help");
    h.api.text(TEACHER, TEACHER, "/start");
    h.api.text(TEACHER, TEACHER, "/stats");
    h.api.text(7, 7, "/stats");
    let sent = h.api.wait_sent(TEACHER, 3, 10).await;
    assert!(text(&sent[0]).contains("/deadline") && text(&sent[0]).contains("/forget"));
    assert!(text(&sent[1]).contains("2024年度") && !buttons(&sent[1]).is_empty());
    assert!(text(&sent[2]).contains("仅限管理员"));
    let admin = h.api.wait_sent(7, 1, 10).await;
    assert!(
        text(&admin[0]).contains("未能回答的问题"),
        "{}",
        text(&admin[0])
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_to_a_migrated_group_follows_the_new_id() {
    let h = Harness::start().await;
    h.app
        .store
        .put_subscription(&Subscription {
            chat: tg(GROUP),
            kind: ChatKind::Group,
            active: true,
        })
        .unwrap();
    h.api.inject_migrate(GROUP, -100555);
    h.api.text(GROUP, 5, "/ask 咨询电话");
    let sent = h.api.wait_sent(-100555, 1, 10).await;
    assert!(text(&sent[0]).contains("12333"));
    assert!(
        h.app
            .store
            .subscription(&tg(-100555))
            .unwrap()
            .is_some_and(|s| s.active)
    );
    assert!(h.app.store.subscription(&tg(GROUP)).unwrap().is_none());
    h.stop().await;
}

#[test]
fn long_replies_are_split_under_the_limit() {
    let long = "第一行\n".repeat(2000);
    let parts = jxjy_bot::bot::split_message(&long, 4096);
    assert!(parts.len() >= 2);
    assert!(parts.iter().all(|p| p.chars().count() <= 4096));
    assert_eq!(parts.concat(), long);
    let one_line = "学".repeat(9000);
    let parts = jxjy_bot::bot::split_message(&one_line, 4096);
    assert_eq!(parts.len(), 3);
    assert_eq!(parts.concat(), one_line);
    assert_eq!(jxjy_bot::bot::split_message("", 4096), vec![String::new()]);
}

/// The real binary: `serve` against the fake API, stopped with SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_answers_and_stops_gracefully_without_logging_the_token() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = api.command(&["serve"], dir.path());
    cmd.env("RUST_LOG", "trace");
    let mut child = crate::Logged::spawn(cmd);
    api.text(TEACHER, TEACHER, "每年要多少学时");
    let sent = api.wait_sent(TEACHER, 1, 30).await;
    assert!(
        sent.first().is_some_and(|s| text(s).contains("90")),
        "{sent:?}\n{}",
        child.log()
    );
    child.signal("-TERM");
    let exit = child.wait_exit(30).await;
    let log = child.log();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(
        log.contains("jxjy-bot serving")
            && log.contains("[\"telegram\"]")
            && log.contains("stopped"),
        "{log}"
    );
    let secret = TOKEN.split(':').nth(1).unwrap();
    assert!(!log.contains(secret), "the token leaked into the log");
    // The store was flushed and released: it opens again.
    assert!(Store::open(dir.path()).is_ok());
}

/// No token and no other channel or robot: nothing to serve, said plainly.
#[test]
fn serve_with_nothing_configured_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::bin())
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("TELOXIDE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing to serve") && err.contains("TELOXIDE_TOKEN"),
        "{err}"
    );
}

#[test]
fn bad_proxy_or_api_url_is_a_clear_error() {
    for (var, value, want) in [
        ("TELOXIDE_PROXY", "::not a proxy::", "TELOXIDE_PROXY"),
        ("TELOXIDE_API_URL", "not a url", "TELOXIDE_API_URL"),
    ] {
        let out = std::process::Command::new(crate::bin())
            .arg("serve")
            .env("TELOXIDE_TOKEN", TOKEN)
            .env(var, value)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(want) && !err.contains("panicked"), "{err}");
    }
}

/// A SOCKS5 proxy that does not exist, with NO_PROXY naming loopback: the
/// bot still reaches the (loopback) API, so both settings are honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_bypasses_the_configured_proxy() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = api
        .command(&["serve"], dir.path())
        .env("TELOXIDE_PROXY", "socks5://127.0.0.1:9")
        .spawn()
        .unwrap();
    api.text(TEACHER, TEACHER, "咨询电话");
    let sent = api.wait_sent(TEACHER, 1, 30).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        sent.first().is_some_and(|s| text(s).contains("12333")),
        "{sent:?}"
    );
}

/// Every kind of transient fault on sendMessage, one per question: each
/// answer still arrives, none is counted as lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_survive_5xx_html_malformed_reset_and_timeout() {
    let h = Harness::start_with(
        FakeApi::start_front().await,
        |tg| tg.timeout = Duration::from_secs(1),
        Vec::new(),
    )
    .await;
    let cases = [
        (
            Fault::Json(
                500,
                json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}),
            ),
            "每年继续教育要多少学时",
            "90",
        ),
        (
            Fault::Raw(
                502,
                "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>".into(),
            ),
            "公需课要学几个学时",
            "30",
        ),
        (
            Fault::Raw(200, "{\"ok\":true,\"result\":{\"message_id\":".into()),
            "专业课最少多少学时",
            "60",
        ),
        (Fault::Reset, "咨询电话多少", "0791-12333"),
        (
            Fault::Late(Duration::from_secs(3)),
            "最晚什么时候学完",
            "2024年12月31日",
        ),
    ];
    // One fault per question: the first try meets it, the retry answers.
    // A reset request never reaches the recording server.
    let mut seen = 0;
    for (fault, q, want) in cases {
        seen += if fault == Fault::Reset { 1 } else { 2 };
        h.api.fault("sendmessage", TEACHER, fault.clone());
        h.api.text(TEACHER, TEACHER, q);
        let sent = h.api.wait_sent(TEACHER, seen, 30).await;
        let last = sent.last().map(text).unwrap_or("");
        assert!(last.contains(want), "{fault:?}: {q} -> {last}");
    }
    assert_eq!(
        h.api.sent_to(TEACHER).await.len(),
        9,
        "the reset request never arrived"
    );
    assert_eq!(h.app.store.answer_failures().unwrap().0, 0, "nothing lost");
    h.stop().await;
}

/// A refusal (4xx) is not retried; a fault that outlasts the retries is
/// logged and counted in stats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_finally_fail_are_counted() {
    let api = FakeApi::start().await;
    api.inject(
        "sendmessage",
        TEACHER,
        400,
        json!({"ok": false, "error_code": 400, "description": "Bad Request: message text is empty"}),
    );
    for _ in 0..5 {
        api.inject(
            "sendmessage",
            TEACHER,
            503,
            json!({"ok": false, "error_code": 503, "description": "Service Unavailable"}),
        );
    }
    let h = Harness::start_with(api, |_| {}, Vec::new()).await;
    h.api.text(TEACHER, TEACHER, "每年要多少学时");
    h.api.text(TEACHER, TEACHER, "咨询电话");
    h.api.text(TEACHER, TEACHER, "平台怎么登录");
    // 1 refused + 5 failed tries + the third answer.
    let sent = h.api.wait_sent(TEACHER, 7, 30).await;
    assert!(text(&sent[6]).contains("电子社保"), "{}", text(&sent[6]));
    assert!(eventually(10, || h.app.store.answer_failures().unwrap().0 == 2).await);
    let report =
        jxjy_bot::stats::report(&h.app.store, h.app.core.responder().matcher().analyzer()).unwrap();
    assert!(report.contains("未能送达的回答：2"), "{report}");
    h.stop().await;
}

/// An update handed out again (its confirmation lost) is handled once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_update_is_handled_once() {
    let h = Harness::start().await;
    let id = h.api.text(TEACHER, TEACHER, "/log 公需 2");
    h.api.wait_sent(TEACHER, 1, 10).await;
    h.api
        .replay(FakeApi::text_update(TEACHER, TEACHER, "/log 公需 2", id));
    h.api.text(TEACHER, TEACHER, "/hours");
    let sent = h.api.wait_sent(TEACHER, 2, 10).await;
    assert!(h.api.wait_drained(10).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent_now = h.api.sent_to(TEACHER).await;
    assert_eq!(sent_now.len(), 2, "{sent_now:#?}");
    assert!(
        text(&sent[1]).contains("公需课：2 / 30"),
        "{}",
        text(&sent[1])
    );
    assert_eq!(h.app.store.hours(&tg(TEACHER), 2024).unwrap().len(), 1);
    h.stop().await;
}

/// In a group, a teacher's records and the stats are not shown to all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commands_keep_records_private() {
    let h = Harness::start().await;
    h.app
        .store
        .set_hours(
            &tg(5),
            2024,
            &[jxjy_bot::store::HourEntry {
                kind: jxjy_bot::store::CourseKind::Public,
                hours: 20.0,
                at: chrono::Utc::now(),
            }],
        )
        .unwrap();
    for t in ["/log 公需 10", "/hours", "/undo", "/forget"] {
        h.api.text(GROUP, 5, t);
    }
    h.api.text(GROUP, 7, "/stats");
    let sent = h.api.wait_sent(GROUP, 5, 15).await;
    for s in &sent {
        let t = text(s);
        assert!(
            t.contains("只在私聊中使用") && t.contains(BOT_USERNAME),
            "{t}"
        );
        assert!(!t.contains("20") && !t.contains("未能回答"), "{t}");
    }
    assert_eq!(
        h.app.store.hours(&tg(5), 2024).unwrap().len(),
        1,
        "nothing changed"
    );
    assert!(h.api.sent_to(5).await.is_empty() && h.api.sent_to(7).await.is_empty());
    h.stop().await;
}

fn robot_target(name: &str, url: String) -> jxjy_bot::webhook::Target {
    jxjy_bot::webhook::Target {
        name: name.into(),
        kind: jxjy_bot::webhook::Kind::Wecom,
        url,
        secret: None,
        mention_all: false,
        mention_mobiles: vec![],
        mention_users: vec![],
    }
}

/// `serve` sends the due reminder to Telegram subscribers and to the
/// configured robots through the same path, and writes the daily backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_delivers_reminders_to_chats_and_robots() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let robot = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
        )
        .mount(&robot)
        .await;
    let url = format!("{}/cgi-bin/webhook/send?key=K", robot.uri());
    let h = Harness::start_prepared(
        FakeApi::start().await,
        |_| {},
        vec![robot_target("教研室", url)],
        |s| {
            s.put_subscriptions(&[
                Subscription {
                    chat: tg(GROUP),
                    kind: ChatKind::Group,
                    active: true,
                },
                Subscription {
                    chat: tg(TEACHER),
                    kind: ChatKind::Private,
                    active: true,
                },
            ])
            .unwrap()
        },
    )
    .await;
    let group = h.api.wait_sent(GROUP, 1, 20).await;
    assert!(text(&group[0]).contains("还剩11天"), "{group:?}");
    let teacher = h.api.wait_sent(TEACHER, 1, 20).await;
    assert!(text(&teacher[0]).contains("您还差90学时"), "{teacher:?}");
    let mut got_robot = false;
    for _ in 0..1000 {
        if !robot
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
        {
            got_robot = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(got_robot, "the robot got its reminder from serve");
    let body: Value =
        serde_json::from_slice(&robot.received_requests().await.unwrap()[0].body).unwrap();
    assert!(
        body["text"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("还剩11天"),
        "{body}"
    );
    assert!(
        eventually(10, || !jxjy_bot::store::backups(h.dir.path()).is_empty()).await,
        "daily backup written at start"
    );
    h.stop().await;
}

/// Telegram unreachable at start-up: `serve` waits with backoff, logging
/// each try, instead of exiting; then it works as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_waits_for_telegram_at_start_up() {
    // Nothing listens: connection refused, try after try, until SIGTERM.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApi::start().await;
    let mut cmd = api.command(&["serve"], dir.path());
    cmd.env("TELOXIDE_API_URL", format!("http://{closed}/"));
    let mut child = crate::Logged::spawn(cmd);
    assert!(
        eventually(30, || child.log().matches("waiting for Telegram").count()
            >= 2)
        .await,
        "{}",
        child.log()
    );
    child.signal("-TERM");
    let exit = child.wait_exit(30).await;
    assert!(exit.success(), "{exit:?}\n{}", child.log());

    // Three 502 pages from a gateway, then Telegram: the bot answers.
    for _ in 0..3 {
        api.fault(
            "getme",
            0,
            Fault::Raw(502, "<html><body>502 Bad Gateway</body></html>".into()),
        );
    }
    api.text(TEACHER, TEACHER, "咨询电话");
    let mut child = crate::Logged::spawn(api.command(&["serve"], dir.path()));
    let sent = api.wait_sent(TEACHER, 1, 60).await;
    assert!(
        sent.first().is_some_and(|s| text(s).contains("12333")),
        "{}",
        child.log()
    );
    let log = child.log();
    for n in 1..=3 {
        assert!(log.contains(&format!("try_={n}")), "{log}");
    }
    assert_eq!(log.matches("waiting for Telegram").count(), 3, "{log}");
    child.signal("-TERM");
    assert!(child.wait_exit(30).await.success());
}

/// The core's Chinese command words through Telegram: in a private chat
/// as they are, in a group when addressed to the bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_command_words_through_telegram() {
    let h = Harness::start().await;
    h.api.text(TEACHER, TEACHER, "菜单");
    h.api.text(TEACHER, TEACHER, "记录 公需 10");
    let sent = h.api.wait_sent(TEACHER, 2, 15).await;
    assert!(
        buttons(&sent[0]).iter().any(|(l, _)| l == "学时要求"),
        "{sent:?}"
    );
    assert!(text(&sent[1]).contains("已记录：公需课 10学时（2024年度）"));
    h.api.text(GROUP, 5, "菜单");
    h.api.text(GROUP, 5, &format!("@{BOT_USERNAME} 我的学时"));
    h.api.text(GROUP, 5, &format!("@{BOT_USERNAME} 菜单"));
    let sent = h.api.wait_sent(GROUP, 2, 15).await;
    assert!(h.api.wait_drained(10).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.api.sent_to(GROUP).await.len(),
        2,
        "chatter stays unanswered"
    );
    assert!(
        text(&sent[0]).contains("只在私聊中使用"),
        "{}",
        text(&sent[0])
    );
    assert!(!buttons(&sent[1]).is_empty());
    h.stop().await;
}
