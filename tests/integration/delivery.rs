//! The one delivery path with faults injected: Telegram (the fake Bot
//! API) and robots (loopback mocks): what is retried, what is sent once
//! more, what is given up and why; Telegram's limits; SIGTERM and kill -9.

use crate::fake_api::{FakeApi, Fault, Front};
use crate::{Logged, responder};
use jxjy_bot::clock::{ManualClock, Stop};
use jxjy_bot::delivery::{Options, Outbox, Report, deliver_due};
use jxjy_bot::identity::Identity;
use jxjy_bot::reminders::Schedule;
use jxjy_bot::store::{ChatKind, Delivery, Store, Subscription, sent_key};
use jxjy_bot::telegram::Telegram;
use jxjy_bot::webhook::{Kind, Robots, Target, WebhookClient};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The 7-day slot of the shipped 2024 guide.
fn seven_days() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2024-12-24T09:30:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc)
}

fn tg(id: i64) -> Identity {
    Identity::telegram(id)
}

fn private(chat_id: i64) -> Subscription {
    Subscription {
        chat: tg(chat_id),
        kind: ChatKind::Private,
        active: true,
    }
}

async fn run(store: &Store, outbox: &Outbox) -> Report {
    deliver_due(
        store,
        &responder().kb().facts,
        &Schedule::default(),
        seven_days(),
        outbox,
        &Options::batch(16),
    )
    .await
    .unwrap()
}

fn telegram(api: &FakeApi) -> Outbox {
    let mut tg = Telegram::local(crate::fake_api::TOKEN, &api.url()).unwrap();
    tg.timeout = Duration::from_secs(1);
    tg.backoff.first = Duration::from_millis(20);
    Outbox {
        telegram: Some(Arc::new(tg)),
        robots: None,
        ..Default::default()
    }
}

async fn per_chat(api: &FakeApi) -> HashMap<i64, usize> {
    let mut m = HashMap::new();
    for b in api.calls("sendmessage").await {
        *m.entry(b["chat_id"].as_i64().unwrap_or(0)).or_default() += 1;
    }
    m
}

fn key(chat: i64) -> Vec<u8> {
    sent_key(&tg(chat), responder().kb().facts.deadline, 7)
}

/// 5xx and an HTML 502 page are retried at once (nothing was sent); a
/// malformed answer, a reset and a timeout may have delivered, so the
/// reminder goes once more at the next check; a second timeout gives it
/// up: at most one duplicate per target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_reminders_under_faults() {
    let api = FakeApi::start_front().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .put_subscriptions(&(1..=7).map(private).collect::<Vec<_>>())
        .unwrap();
    let late = || Fault::Late(Duration::from_secs(3));
    api.inject(
        "sendmessage",
        1,
        500,
        json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}),
    );
    api.fault(
        "sendmessage",
        2,
        Fault::Raw(
            502,
            "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
        ),
    );
    api.fault("sendmessage", 3, Fault::Raw(200, "{\"ok\":tr".into()));
    api.fault("sendmessage", 4, Fault::Reset);
    api.fault("sendmessage", 5, late());
    api.fault("sendmessage", 6, late());
    api.fault("sendmessage", 6, late());
    let outbox = telegram(&api);

    let r = run(&store, &outbox).await;
    assert_eq!((r.sent, r.unknown), (3, 4), "{r:?}");
    // Telegram answered the late ones by now; the next check resends the
    // four unknown ones once.
    let r = run(&store, &outbox).await;
    assert_eq!((r.sent, r.gave_up), (3, 1), "{r:?}");
    let r = run(&store, &outbox).await;
    assert!(r.is_quiet(), "{r:?}");

    // Reset requests never reach the recording server.
    let want = HashMap::from([(1, 2), (2, 2), (3, 2), (4, 1), (5, 2), (6, 2), (7, 1)]);
    assert_eq!(per_chat(&api).await, want);
    for chat in [1, 2, 3, 4, 5, 7] {
        assert_eq!(
            store.delivery(&key(chat)).unwrap(),
            Some(Delivery::Sent),
            "{chat}"
        );
    }
    assert!(matches!(
        store.delivery(&key(6)).unwrap(),
        Some(Delivery::Failed(r)) if r.contains("no clear answer to 2 attempts")
    ));
    let stats = jxjy_bot::stats::report(&store, responder().matcher().analyzer()).unwrap();
    assert!(stats.contains("放弃的提醒：1条"), "{stats}");
}

/// A group that refuses every reminder (400) is tried a few times, then
/// given up with the reason in stats, instead of every minute forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_keeps_refusing_is_given_up() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .put_subscriptions(&[Subscription {
            chat: tg(-100),
            kind: ChatKind::Group,
            active: true,
        }])
        .unwrap();
    for _ in 0..10 {
        api.inject(
            "sendmessage",
            -100,
            400,
            json!({"ok": false, "error_code": 400,
                   "description": "Bad Request: not enough rights to send text messages to the chat"}),
        );
    }
    let outbox = telegram(&api);
    for _ in 0..5 {
        run(&store, &outbox).await;
    }
    assert_eq!(per_chat(&api).await.get(&-100), Some(&3), "three tries");
    assert!(!store.subscription(&tg(-100)).unwrap().unwrap().active);
    let failed = store.failed_dests().unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].1.reason.contains("not enough rights"),
        "{failed:?}"
    );
    let stats = jxjy_bot::stats::report(&store, responder().matcher().analyzer()).unwrap();
    assert!(
        stats.contains("tg:-100") && stats.contains("not enough rights"),
        "{stats}"
    );
    // /remind on again in the group starts afresh.
    use crate::Said;
    let core = crate::core_on(&crate::shipped_kb_dir(), Some(store.clone()), seven_days());
    let said = core.say_in_group(&tg(-100), &tg(7), "/remind on");
    assert!(said.contains("提醒已开启"), "{said}");
    assert!(store.failed_dests().unwrap().is_empty());
}

fn wecom(name: &str, url: String) -> Target {
    Target {
        name: name.into(),
        kind: Kind::Wecom,
        url,
        secret: None,
        mention_all: false,
        mention_mobiles: vec![],
        mention_users: vec![],
    }
}

fn robots(targets: Vec<Target>, timeout: Duration) -> Outbox {
    let clock = Arc::new(ManualClock::new(seven_days()));
    let mut client = WebhookClient::new(clock.clone(), Arc::new(clock)).unwrap();
    client.backoff.timeout = timeout;
    Outbox {
        telegram: None,
        robots: Some(Robots {
            client: Arc::new(client),
            targets,
        }),
        ..Default::default()
    }
}

const OK: &str = r#"{"errcode":0,"errmsg":"ok"}"#;

/// A robot answering `first` the first `times` requests, then ok.
async fn robot(first: ResponseTemplate, times: u64) -> MockServer {
    let server = MockServer::start().await;
    if times > 0 {
        Mock::given(method("POST"))
            .respond_with(first)
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(OK, "application/json"))
        .with_priority(5)
        .mount(&server)
        .await;
    server
}

async fn requests(s: &MockServer) -> usize {
    s.received_requests().await.unwrap_or_default().len()
}

/// The same faults at the robots: 5xx and HTML pages retried at once; a
/// malformed answer, a reset and a timeout sent once more at the next
/// check; a robot that always answers too late gets two copies, then is
/// given up for this reminder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_reminders_under_faults() {
    let five = robot(
        ResponseTemplate::new(500).set_body_raw(
            r#"{"errcode":-1,"errmsg":"system busy"}"#,
            "application/json",
        ),
        1,
    )
    .await;
    let html = robot(
        ResponseTemplate::new(502).set_body_raw("<html>502 Bad Gateway</html>", "text/html"),
        1,
    )
    .await;
    let garbled = robot(
        ResponseTemplate::new(200).set_body_raw("{\"errcode\":0,", "application/json"),
        1,
    )
    .await;
    let reset_server = robot(
        ResponseTemplate::new(200).set_body_raw(OK, "application/json"),
        0,
    )
    .await;
    let resets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r2 = resets.clone();
    let front = Front::start(
        *reset_server.address(),
        Arc::new(move |_: &str, _: &[u8]| {
            r2.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0
        }),
    )
    .await;
    let slow = robot(
        ResponseTemplate::new(200)
            .set_body_raw(OK, "application/json")
            .set_delay(Duration::from_secs(3)),
        10,
    )
    .await;
    let url = |s: &str| format!("{s}/cgi-bin/webhook/send?key=K");
    let targets = vec![
        wecom("5xx", url(&five.uri())),
        wecom("html", url(&html.uri())),
        wecom("garbled", url(&garbled.uri())),
        wecom("reset", url(&format!("http://{}", front.addr))),
        wecom("slow", url(&slow.uri())),
    ];
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let outbox = robots(targets, Duration::from_secs(1));
    let r = run(&store, &outbox).await;
    assert_eq!((r.sent, r.unknown), (2, 3), "{r:?}");
    let r = run(&store, &outbox).await;
    assert_eq!((r.sent, r.gave_up), (2, 1), "{r:?}");
    assert!(run(&store, &outbox).await.is_quiet());
    for (s, n) in [
        (&five, 2),
        (&html, 2),
        (&garbled, 2),
        (&reset_server, 1),
        (&slow, 2),
    ] {
        assert_eq!(requests(s).await, n, "{}", s.uri());
    }
    assert_eq!(resets.load(std::sync::atomic::Ordering::SeqCst), 2);
    let slow_key = jxjy_bot::webhook::sent_key("slow", responder().kb().facts.deadline, 7);
    assert!(matches!(
        store.delivery(&slow_key).unwrap(),
        Some(Delivery::Failed(_))
    ));
}

/// Robots are served concurrently: one that takes its time holds up
/// nobody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_robot_holds_up_no_other() {
    let slow = robot(
        ResponseTemplate::new(200)
            .set_body_raw(OK, "application/json")
            .set_delay(Duration::from_secs(60)),
        1,
    )
    .await;
    let quick = robot(
        ResponseTemplate::new(200).set_body_raw(OK, "application/json"),
        0,
    )
    .await;
    let url = |s: &str| format!("{s}/cgi-bin/webhook/send?key=K");
    let targets = vec![
        wecom("a-slow", url(&slow.uri())),
        wecom("b-quick", url(&quick.uri())),
    ];
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let outbox = robots(targets, Duration::from_secs(120));
    let (handle, stop) = Stop::new();
    let task = tokio::spawn(async move {
        let opts = Options { batch: 16, stop };
        deliver_due(
            &store,
            &responder().kb().facts,
            &Schedule::default(),
            seven_days(),
            &outbox,
            &opts,
        )
        .await
    });
    let mut reached = false;
    for _ in 0..750 {
        if requests(&quick).await == 1 {
            reached = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reached, "the quick robot waited for the slow one");
    // Both requests go out at once; which the fake sees first is a race.
    let mut slow_seen = false;
    for _ in 0..750 {
        if requests(&slow).await == 1 {
            slow_seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(slow_seen, "the slow robot was never asked");
    assert!(!task.is_finished(), "the slow one is still in flight");
    handle.stop();
    task.abort();
}

fn robot_config(dir: &std::path::Path, server: &MockServer) -> std::path::PathBuf {
    let p = dir.join("jxjy.toml");
    std::fs::write(
        &p,
        format!(
            "[[webhook]]\nname = \"教研室\"\nkind = \"wecom\"\nkey = \"K\"\nbase_url = \"{}\"\n",
            server.uri()
        ),
    )
    .unwrap();
    p
}

fn remind_send(config: &std::path::Path, data: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(crate::bin());
    c.args([
        "remind",
        "send",
        "--at",
        "2024-12-24T09:00+08:00",
        "--config",
    ])
    .arg(config)
    .arg("--data-dir")
    .arg(data)
    .env_remove("TELOXIDE_TOKEN")
    .stdout(std::process::Stdio::null());
    c
}

/// kill -9 with a robot's request in flight: the next run sends it once
/// more (the robot may have it), and the run after sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_robot_request_in_flight_at_kill_9_is_sent_once_more() {
    let server = robot(
        ResponseTemplate::new(200)
            .set_body_raw(OK, "application/json")
            .set_delay(Duration::from_secs(120)),
        1,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = robot_config(dir.path(), &server);
    let data = dir.path().join("data");
    let mut child = Logged::spawn(remind_send(&config, &data));
    for _ in 0..1500 {
        if requests(&server).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(requests(&server).await, 1, "{}", child.log());
    child.child.kill().unwrap(); // SIGKILL
    child.child.wait().unwrap();
    for _ in 0..2 {
        let out = remind_send(&config, &data).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(requests(&server).await, 2, "one copy more, then nothing");
}

/// A school with group robots and no Telegram: `serve` runs without a
/// token and sends the group reminder to the robot, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_telegram_reminds_the_robots() {
    let server = robot(
        ResponseTemplate::new(200).set_body_raw(OK, "application/json"),
        1,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = robot_config(dir.path(), &server);
    let mut cmd = std::process::Command::new(crate::bin());
    cmd.args(["serve", "--remind-every", "1", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("TELOXIDE_TOKEN")
        .env("JXJY_NOW", "2024-12-24T09:00:00+08:00");
    let mut child = Logged::spawn(cmd);
    for _ in 0..1500 {
        if requests(&server).await >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A few more reminder rounds: the slot is not sent again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    child.signal("-TERM");
    let exit = child.wait_exit(30).await;
    let log = child.log();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert_eq!(requests(&server).await, 1, "{log}");
    assert!(
        log.contains("channels=[]") && log.contains("stopped"),
        "{log}"
    );
}

fn subscribers(data: &std::path::Path, private_chats: i64, groups: i64) {
    let s = Store::open(data).unwrap();
    let mut subs: Vec<Subscription> = (1..=private_chats).map(private).collect();
    subs.extend((1..=groups).map(|g| Subscription {
        chat: tg(-1000 - g),
        kind: ChatKind::Group,
        active: true,
    }));
    s.put_subscriptions(&subs).unwrap();
}

/// `remind send` goes through the throttle: against a fake that enforces
/// Telegram's limits everyone gets one reminder, and hardly any message
/// is refused (an unthrottled sender has most refused). That none is, is
/// measured by the bench on a quiet machine: under a loaded test run the
/// fake itself can stall long enough to see a second's worth at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remind_send_keeps_telegrams_limits() {
    let api = FakeApi::start_strict().await;
    let dir = tempfile::tempdir().unwrap();
    subscribers(dir.path(), 100, 3);
    let out = api
        .command(
            &["remind", "send", "--at", "2024-12-24T09:00+08:00"],
            dir.path(),
        )
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let delivered = api.delivered();
    assert_eq!(delivered.len(), 103);
    assert!(delivered.values().all(|&n| n == 1), "{delivered:?}");
    let refused = api.counters().too_many;
    assert!(refused <= 5, "{refused} refused with 429");
}

/// SIGTERM stops `remind send` between batches: it exits, what it sent is
/// recorded sent and nothing else is (no key left in flight); the next
/// run sends the rest, nobody twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_remind_send_with_the_sent_record_exact() {
    let api = FakeApi::start_strict().await;
    let dir = tempfile::tempdir().unwrap();
    subscribers(dir.path(), 200, 0);
    let cmd = |api: &FakeApi| {
        let mut c = api.command(
            &[
                "remind",
                "send",
                "--at",
                "2024-12-24T09:00+08:00",
                "--batch",
                "32",
            ],
            dir.path(),
        );
        c.stdout(std::process::Stdio::piped());
        c
    };
    let mut child = Logged::spawn(cmd(&api));
    for _ in 0..3000 {
        if api.counters().sends >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.signal("-TERM");
    let exit = child.wait_exit(60).await;
    assert!(exit.success(), "{}", child.log());
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(stdout.contains("stopped early"), "{stdout}");
    let reached = api.delivered();
    assert!(reached.len() < 200, "stopped too late to test anything");
    {
        let s = Store::open(dir.path()).unwrap();
        assert!(s.in_flight().unwrap().is_empty(), "no key left in flight");
        let sent: Vec<i64> = (1..=200)
            .filter(|c| s.delivery(&key(*c)).unwrap() == Some(Delivery::Sent))
            .collect();
        let mut got: Vec<i64> = reached.keys().copied().collect();
        got.sort();
        assert_eq!(sent, got, "recorded sent = received");
    }
    // Telegram counts messages per bot, not per process: let the last
    // second's budget pass before the next run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let out = cmd(&api).output().unwrap();
    assert!(out.status.success());
    let all = api.delivered();
    assert_eq!(all.len(), 200);
    assert!(all.values().all(|&n| n == 1), "{all:?}");
    assert!(api.counters().too_many <= 10);
}
