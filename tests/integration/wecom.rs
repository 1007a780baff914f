//! The WeCom channel end to end: the real client, service loop and core
//! against a fake WeCom long-connection server on loopback (a
//! tokio-tungstenite server that speaks the frames of the official SDK,
//! WecomTeam/aibot-node-sdk).

use jxjy_bot::clock::{Clock, ManualClock, Stop};
use jxjy_bot::conversation::Conversation;
use jxjy_bot::delivery::{Address, SendError, Sender};
use jxjy_bot::identity::Identity;
use jxjy_bot::live::LiveKb;
use jxjy_bot::reminders::Schedule;
use jxjy_bot::service::App;
use jxjy_bot::store::{ChatKind, Store};
use jxjy_bot::wecom::{Config, Options, Secret, State, WeCom};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const BOT_ID: &str = "aib-test-bot";
const SECRET: &str = "wecom-secret-7f3a9c1e5d";
const TEACHER: &str = "zhangsan";
const ADMIN: &str = "admin01";
const GROUP: &str = "wrkSFfCgAAxxxx";

enum ToClient {
    Frame(Value),
    Raw(String),
    Drop,
}

#[derive(Default)]
struct FakeState {
    connections: usize,
    subscribed: usize,
    /// Every frame the client sent, in order.
    frames: Vec<Value>,
    current: Option<tokio::sync::mpsc::UnboundedSender<ToClient>>,
    /// errcode answered to aibot_send_msg (0 unless a test says).
    send_msg_errcode: i64,
    /// Pings go unanswered (a connection that died silently).
    ignore_pings: bool,
    /// Sent once, right before the answer to a subscription.
    before_subscribed: Vec<Value>,
    /// errcodes answered to the next aibot_respond_msg frames, in order.
    respond_errcodes: std::collections::VecDeque<i64>,
}

/// A fake of WeCom's long-connection server.
#[derive(Clone)]
pub struct FakeWeCom {
    port: u16,
    state: Arc<Mutex<FakeState>>,
}

impl FakeWeCom {
    pub async fn start() -> FakeWeCom {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(FakeState::default()));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(connection(tcp, st.clone()));
            }
        });
        FakeWeCom { port, state }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    fn st(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    fn to_client(&self, m: ToClient) {
        let st = self.st();
        let tx = st.current.as_ref().expect("a client is connected");
        assert!(tx.send(m).is_ok(), "the connection is open");
    }

    fn push(&self, frame: Value) {
        self.to_client(ToClient::Frame(frame));
    }

    /// Frames the client sent with this cmd.
    fn sent(&self, cmd: &str) -> Vec<Value> {
        self.st()
            .frames
            .iter()
            .filter(|f| f["cmd"] == cmd)
            .cloned()
            .collect()
    }

    async fn wait_sent(&self, cmd: &str, n: usize, secs: u64) -> Vec<Value> {
        assert!(
            eventually(secs, || self.sent(cmd).len() >= n).await,
            "fewer than {n} {cmd} frames: {:?}",
            self.st().frames
        );
        self.sent(cmd)
    }

    /// The answer (aibot_respond_msg) to the callback `req_id`.
    async fn answer_to(&self, req_id: &str) -> String {
        let found = eventually(20, || {
            self.sent("aibot_respond_msg")
                .iter()
                .any(|f| f["headers"]["req_id"] == req_id)
        })
        .await;
        assert!(found, "no answer to {req_id}: {:?}", self.st().frames);
        let f = self
            .sent("aibot_respond_msg")
            .into_iter()
            .find(|f| f["headers"]["req_id"] == req_id)
            .unwrap();
        assert_eq!(f["body"]["msgtype"], "stream", "{f}");
        assert_eq!(f["body"]["stream"]["finish"], true, "{f}");
        f["body"]["stream"]["content"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    async fn wait_subscribed(&self, n: usize) {
        assert!(
            eventually(20, || self.st().subscribed >= n).await,
            "not subscribed {n} times"
        );
    }
}

async fn connection(tcp: tokio::net::TcpStream, state: Arc<Mutex<FakeState>>) {
    use futures::{SinkExt, StreamExt};
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // Callbacks sent on this connection: only their req_ids can be answered.
    let mut delivered = std::collections::HashSet::new();
    {
        let mut st = state.lock().unwrap();
        st.connections += 1;
        st.current = Some(tx);
    }
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(ToClient::Frame(v)) => {
                    if let Some(r) = v["headers"]["req_id"].as_str() {
                        delivered.insert(r.to_string());
                    }
                    let _ = sink.send(Message::text(v.to_string())).await;
                }
                Some(ToClient::Raw(t)) => { let _ = sink.send(Message::text(t)).await; }
                // Gone without a close frame, as a network failure.
                Some(ToClient::Drop) | None => return,
            },
            got = stream.next() => {
                let Some(Ok(Message::Text(t))) = got else {
                    if matches!(got, Some(Ok(_))) { continue; }
                    return;
                };
                let f: Value = serde_json::from_str(&t).expect("the client sends JSON");
                let req_id = f["headers"]["req_id"].clone();
                let errcode = {
                    let mut st = state.lock().unwrap();
                    st.frames.push(f.clone());
                    match f["cmd"].as_str() {
                        Some("aibot_subscribe") => {
                            let ok = f["body"]["bot_id"] == BOT_ID && f["body"]["secret"] == SECRET;
                            if ok { st.subscribed += 1; }
                            if ok { 0 } else { 40_001 }
                        }
                        Some("aibot_send_msg") => st.send_msg_errcode,
                        Some("aibot_respond_msg" | "aibot_respond_welcome_msg")
                            if !req_id.as_str().is_some_and(|r| delivered.contains(r)) =>
                        {
                            846_605
                        }
                        Some("aibot_respond_msg") if !st.respond_errcodes.is_empty() => {
                            st.respond_errcodes.pop_front().unwrap_or(0)
                        }
                        Some("ping") if st.ignore_pings => continue,
                        _ => 0,
                    }
                };
                if f["cmd"] == "aibot_subscribe" && errcode == 0 {
                    let early = std::mem::take(&mut state.lock().unwrap().before_subscribed);
                    for v in early {
                        if let Some(r) = v["headers"]["req_id"].as_str() {
                            delivered.insert(r.to_string());
                        }
                        let _ = sink.send(Message::text(v.to_string())).await;
                    }
                }
                let errmsg = match errcode {
                    0 => "ok",
                    40_001 => "invalid secret",
                    846_605 => "invalid req_id",
                    _ => "error",
                };
                let ack = json!({"headers": {"req_id": req_id}, "errcode": errcode, "errmsg": errmsg});
                let _ = sink.send(Message::text(ack.to_string())).await;
            }
        }
    }
}

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

fn private_text(req_id: &str, msgid: &str, user: &str, content: &str) -> Value {
    json!({"cmd": "aibot_msg_callback", "headers": {"req_id": req_id}, "body": {
        "msgid": msgid, "aibotid": BOT_ID, "chattype": "single", "from": {"userid": user},
        "create_time": 1_700_000_000, "msgtype": "text", "text": {"content": content}}})
}

fn group_text(req_id: &str, msgid: &str, user: &str, content: &str) -> Value {
    json!({"cmd": "aibot_msg_callback", "headers": {"req_id": req_id}, "body": {
        "msgid": msgid, "aibotid": BOT_ID, "chatid": GROUP, "chattype": "group",
        "from": {"userid": user}, "msgtype": "text", "text": {"content": content}}})
}

fn event(req_id: &str, msgid: &str, eventtype: &str) -> Value {
    json!({"cmd": "aibot_event_callback", "headers": {"req_id": req_id}, "body": {
        "msgid": msgid, "aibotid": BOT_ID, "chattype": "single", "from": {"userid": TEACHER},
        "msgtype": "event", "event": {"eventtype": eventtype}}})
}

fn config(url: &str, secret: &str) -> Config {
    Config {
        bot_id: BOT_ID.into(),
        secret: Secret::new(secret),
        secret_env: "WECOM_BOT_SECRET".into(),
        url: url.into(),
    }
}

fn wecom(id: &str) -> Identity {
    format!("wecom:{id}").parse().unwrap()
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    crate::at(s)
}

struct Harness {
    fake: FakeWeCom,
    client: Arc<WeCom>,
    app: Arc<App>,
    /// The bot's clock; the rate limiter's waits move it.
    clock: Arc<ManualClock>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(Options::default(), false).await
    }

    /// `serve` with WeCom alone, at 2024-12-20 10:00 Beijing time (11 days
    /// before the 2024 deadline), admins: wecom:admin01.
    async fn start_with(opts: Options, reminders: bool) -> Harness {
        Harness::start_prepared(opts, reminders, |_, _| {}).await
    }

    /// As `start_with`, with the fake and the store prepared first.
    async fn start_prepared(
        mut opts: Options,
        reminders: bool,
        prepare: impl FnOnce(&FakeWeCom, &Store),
    ) -> Harness {
        let fake = FakeWeCom::start().await;
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(at("2024-12-20T10:00:00+08:00")));
        let live =
            LiveKb::load(&crate::shipped_kb_dir(), Default::default(), clock.clone()).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let core = Conversation::new(
            Arc::new(live),
            Some(store.clone()),
            Schedule::default(),
            clock.clone(),
            vec![wecom(ADMIN)],
        );
        prepare(&fake, &store);
        let app = Arc::new(App {
            core,
            store,
            webhooks: Vec::new(),
        });
        // Reconnections without the production pauses.
        opts.backoff.first = Duration::from_millis(20);
        let client = Arc::new(WeCom::new(
            config(&fake.url(), SECRET),
            opts,
            clock.clone(),
            Arc::new(clock.clone()),
        ));
        let outbox = jxjy_bot::delivery::Outbox {
            wecom: Some(client.clone()),
            ..Default::default()
        };
        let service = jxjy_bot::service::Options {
            reminders,
            reminder_every: Duration::from_millis(100),
            daily_backup: false,
        };
        let fronts = vec![jxjy_bot::wecom::front(client.clone(), app.clone())];
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(jxjy_bot::service::run(
            app.clone(),
            outbox,
            fronts,
            service,
            async move {
                let _ = rx.await;
            },
        ));
        fake.wait_subscribed(1).await;
        Harness {
            fake,
            client,
            app,
            clock,
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let r = tokio::time::timeout(Duration::from_secs(20), self.task).await;
        assert!(
            matches!(r, Ok(Ok(Ok(())))),
            "the service did not stop cleanly: {r:?}"
        );
    }
}

/// The subscription carries the bot id and secret; a private question is
/// answered with aibot_respond_msg under the callback's own req_id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribes_and_answers_a_private_question_under_its_req_id() {
    let h = Harness::start().await;
    let sub = h.fake.sent("aibot_subscribe");
    assert_eq!(sub.len(), 1);
    assert_eq!(sub[0]["body"]["bot_id"], BOT_ID);
    assert_eq!(sub[0]["body"]["secret"], SECRET);
    // The fake has the subscribe frame; the client reads its answer a
    // moment later (on a loaded machine, later still).
    for _ in 0..1500 {
        if h.client.state() == State::Subscribed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.client.state(), State::Subscribed);
    h.fake
        .push(private_text("REQ-1", "MSG-1", TEACHER, "每年要多少学时"));
    let answer = h.fake.answer_to("REQ-1").await;
    assert!(answer.contains("90"), "{answer}");
    // The menu's buttons come as numbered choices; typing one presses it.
    use jxjy_bot::conversation::{Incoming, Input, NoAdminInfo};
    h.fake.push(private_text("REQ-2", "MSG-2", TEACHER, "菜单"));
    let menu = h.fake.answer_to("REQ-2").await;
    let asked = Incoming::private(wecom(TEACHER), Input::Text("菜单".into()));
    let out = h.app.core.handle(&asked, &NoAdminInfo).await.unwrap();
    assert_eq!(menu, jxjy_bot::render::plain_output(&out));
    assert!(menu.contains("[2]"), "{menu}");
    let button = jxjy_bot::render::Choices::of(&out).pick("2").unwrap();
    let pressed = Incoming::private(wecom(TEACHER), button);
    let expected =
        jxjy_bot::render::plain_output(&h.app.core.handle(&pressed, &NoAdminInfo).await.unwrap());
    h.fake.push(private_text("REQ-3", "MSG-3", TEACHER, "2"));
    assert_eq!(h.fake.answer_to("REQ-3").await, expected);
    h.stop().await;
}

/// In a group the @mention is removed and the question answered; the
/// group's reminder setting is for the configured admins (WeCom does not
/// say who administers a group).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_mentions_are_answered_and_group_reminders_need_an_admin() {
    let h = Harness::start().await;
    h.fake.push(group_text(
        "G-1",
        "GM-1",
        TEACHER,
        "@继续教育小助手\u{2005}每年要多少学时",
    ));
    let answer = h.fake.answer_to("G-1").await;
    assert!(answer.contains("90"), "{answer}");
    h.fake.push(group_text(
        "G-2",
        "GM-2",
        TEACHER,
        "@继续教育小助手 /remind on",
    ));
    let refused = h.fake.answer_to("G-2").await;
    assert!(refused.contains("只有群管理员"), "{refused}");
    h.fake.push(group_text(
        "G-3",
        "GM-3",
        ADMIN,
        "@继续教育小助手 /remind on",
    ));
    let on = h.fake.answer_to("G-3").await;
    assert!(on.contains("提醒已开启"), "{on}");
    let sub = h.app.store.subscription(&wecom(GROUP)).unwrap().unwrap();
    assert_eq!((sub.kind, sub.active), (ChatKind::Group, true));
    h.stop().await;
}

/// enter_chat gets the bot's greeting (the core's /start, topics as
/// numbered choices) as the welcome, under its req_id; a number typed
/// next presses a topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_chat_gets_the_welcome() {
    use jxjy_bot::conversation::{Incoming, Input, NoAdminInfo};
    let h = Harness::start().await;
    h.fake.push(event("E-1", "EV-1", "enter_chat"));
    let w = h.fake.wait_sent("aibot_respond_welcome_msg", 1, 20).await;
    assert_eq!(w[0]["headers"]["req_id"], "E-1");
    assert_eq!(w[0]["body"]["msgtype"], "text");
    let start = Incoming::private(wecom(TEACHER), Input::Text("/start".into()));
    let out = h.app.core.handle(&start, &NoAdminInfo).await.unwrap();
    let got = w[0]["body"]["text"]["content"].as_str().unwrap();
    assert_eq!(got, jxjy_bot::render::plain_output(&out));
    assert!(
        got.contains("继续教育小助手") && got.contains("[1]") && !got.contains("/quit"),
        "{got}"
    );
    // "1" presses the greeting's first choice: the same as the button.
    let button = jxjy_bot::render::Choices::of(&out).pick("1").unwrap();
    let pressed = Incoming::private(wecom(TEACHER), button);
    let expected =
        jxjy_bot::render::plain_output(&h.app.core.handle(&pressed, &NoAdminInfo).await.unwrap());
    h.fake.push(private_text("E-2", "EM-2", TEACHER, "1"));
    assert_eq!(h.fake.answer_to("E-2").await, expected);
    h.stop().await;
}

/// Pings go out every interval (shortened here), and are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_sent_every_interval() {
    let opts = Options {
        ping_every: Duration::from_millis(30),
        ..Default::default()
    };
    let h = Harness::start_with(opts, false).await;
    let pings = h.fake.wait_sent("ping", 3, 20).await;
    assert!(pings.iter().all(|p| p["headers"]["req_id"].is_string()));
    h.stop().await;
}

/// A callback delivered twice (same msgid) is answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_callback_is_answered_once() {
    let h = Harness::start().await;
    h.fake
        .push(private_text("R-1", "DUP-1", TEACHER, "每年要多少学时"));
    h.fake
        .push(private_text("R-1b", "DUP-1", TEACHER, "每年要多少学时"));
    // Same chat, handled in order: once this one is answered, the copy
    // would have been too.
    h.fake
        .push(private_text("R-2", "DUP-2", TEACHER, "咨询电话"));
    h.fake.answer_to("R-2").await;
    let answers = h.fake.sent("aibot_respond_msg");
    let to = |r: &str| {
        answers
            .iter()
            .filter(|f| f["headers"]["req_id"] == r)
            .count()
    };
    assert_eq!((to("R-1"), to("R-1b"), to("R-2")), (1, 0, 1), "{answers:?}");
    h.stop().await;
}

/// The connection drops: the client reconnects, subscribes again and
/// answers on the new connection; malformed frames are skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_drop_and_skips_malformed_frames() {
    let h = Harness::start().await;
    h.fake.to_client(ToClient::Drop);
    h.fake.wait_subscribed(2).await;
    assert_eq!(h.fake.st().connections, 2);
    for raw in [
        "not json",
        "[]",
        r#"{"cmd":"aibot_msg_callback"}"#,
        r#"{"cmd":"aibot_msg_callback","headers":{"req_id":"X"},"body":{"msgid":"BAD-1"}}"#,
        r#"{"cmd":"aibot_msg_callback","headers":{"req_id":"Y"},"body":{"msgid":"BAD-2","chattype":"group","from":{"userid":"u"},"msgtype":"text"}}"#,
        r#"{"cmd":"aibot_event_callback","headers":{"req_id":"Z"},"body":{"msgid":"BAD-3","event":[]}}"#,
        r#"{"headers":{"req_id":17},"errcode":"x"}"#,
    ] {
        h.fake.to_client(ToClient::Raw(raw.into()));
    }
    h.fake
        .push(private_text("AFTER-1", "AM-1", TEACHER, "每年要多少学时"));
    let answer = h.fake.answer_to("AFTER-1").await;
    assert!(answer.contains("90"), "{answer}");
    assert!(h.fake.sent("aibot_respond_msg").len() == 1);
    h.stop().await;
}

/// disconnected_event: another connection took the bot over. The client
/// stops receiving and does not reconnect; sends fail as transient; the
/// service still stops cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnected_event_is_not_fought() {
    let h = Harness::start().await;
    h.fake.push(event("D-1", "DV-1", "disconnected_event"));
    assert!(eventually(20, || h.client.state() == State::TakenOver).await);
    assert_eq!(h.fake.st().connections, 1);
    let to = Address::Chat {
        chat: wecom(TEACHER),
        kind: ChatKind::Private,
    };
    let r = h.client.send(&to, "x", &Stop::never()).await;
    assert!(matches!(r, Err(SendError::Transient(_))), "{r:?}");
    h.stop().await;
}

/// /remind on (提醒 开) in a private chat subscribes; the reminder loop
/// then pushes the due reminder with aibot_send_msg to the teacher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remind_on_then_the_due_reminder_is_pushed() {
    let h = Harness::start_with(Options::default(), true).await;
    h.fake
        .push(private_text("RM-1", "RMM-1", TEACHER, "提醒 开"));
    let on = h.fake.answer_to("RM-1").await;
    assert!(on.contains("提醒已开启"), "{on}");
    let pushed = h.fake.wait_sent("aibot_send_msg", 1, 20).await;
    let body = &pushed[0]["body"];
    assert_eq!(body["chatid"], TEACHER, "{body}");
    assert_eq!(body["msgtype"], "markdown", "{body}");
    let text = body["markdown"]["content"].as_str().unwrap_or("");
    assert!(text.contains("还剩11天"), "{text}");
    // A group's reminders, turned on by a configured admin, go to its chatid.
    h.fake.push(group_text(
        "RM-2",
        "RMM-2",
        ADMIN,
        "@继续教育小助手 提醒 开",
    ));
    assert!(h.fake.answer_to("RM-2").await.contains("提醒已开启"));
    let pushed = h.fake.wait_sent("aibot_send_msg", 2, 20).await;
    let to_group: Vec<&Value> = pushed
        .iter()
        .filter(|f| f["body"]["chatid"] == GROUP)
        .collect();
    assert_eq!(to_group.len(), 1, "{pushed:?}");
    let text = to_group[0]["body"]["markdown"]["content"]
        .as_str()
        .unwrap_or("");
    assert!(text.contains("还剩11天"), "{text}");
    // Checks went on meanwhile: the teacher's reminder was not sent again.
    let to_teacher = h
        .fake
        .sent("aibot_send_msg")
        .iter()
        .filter(|f| f["body"]["chatid"] == TEACHER)
        .count();
    assert_eq!(to_teacher, 1);
    h.stop().await;
}

/// Our side of the limits: 20 messages a minute per chat; the 21st waits
/// for the window (the manual clock moves instead of the test waiting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_a_minute_per_chat_are_kept_on_our_side() {
    let h = Harness::start().await;
    let to = Address::Chat {
        chat: wecom(TEACHER),
        kind: ChatKind::Private,
    };
    let t0 = h.clock.now();
    for _ in 0..20 {
        h.client.send(&to, "x", &Stop::never()).await.unwrap();
    }
    let after_20 = h.clock.now();
    h.client.send(&to, "x", &Stop::never()).await.unwrap();
    assert!(
        after_20 - t0 < chrono::Duration::seconds(60),
        "{t0} {after_20}"
    );
    assert!(
        h.clock.now() - t0 >= chrono::Duration::seconds(60),
        "{t0} {}",
        h.clock.now()
    );
    assert_eq!(h.fake.sent("aibot_send_msg").len(), 21);
    h.stop().await;
}

/// WeCom's error answer to a push is classified (rate limited: transient).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_errors_are_classified() {
    let h = Harness::start().await;
    h.fake.st().send_msg_errcode = 45009;
    let to = Address::Chat {
        chat: wecom(TEACHER),
        kind: ChatKind::Private,
    };
    let r = h.client.send(&to, "提醒", &Stop::never()).await;
    assert!(
        matches!(&r, Err(SendError::Transient(e)) if e.contains("45009")),
        "{r:?}"
    );
    h.fake.st().send_msg_errcode = 93_000;
    let r = h.client.send(&to, "提醒", &Stop::never()).await;
    assert!(
        matches!(&r, Err(SendError::Refused(e)) if e.contains("93000")),
        "{r:?}"
    );
    h.stop().await;
}

/// A refused subscription is a clear error naming the bot and where the
/// secret comes from, without the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_subscription_is_a_clear_error() {
    let fake = FakeWeCom::start().await;
    let clock = Arc::new(ManualClock::new(at("2024-12-20T10:00:00+08:00")));
    let client = WeCom::new(
        config(&fake.url(), "wrong-secret-value"),
        Options::default(),
        clock.clone(),
        Arc::new(clock),
    );
    let e = client.check(Duration::from_millis(10)).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("40001") && msg.contains(BOT_ID) && msg.contains("WECOM_BOT_SECRET"),
        "{msg}"
    );
    assert!(!msg.contains("wrong-secret-value"), "{msg}");
}

fn config_file(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("jxjy.toml");
    std::fs::write(
        &path,
        format!("[wecom]\nbot_id = \"{BOT_ID}\"\nurl = \"{url}\"\n"),
    )
    .unwrap();
    path
}

fn command(args: &[&str], dir: &std::path::Path, url: &str, secret: &str) -> std::process::Command {
    let mut c = std::process::Command::new(crate::bin());
    c.args(args)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(config_file(dir, url))
        .env("WECOM_BOT_SECRET", secret)
        .env_remove("TELOXIDE_TOKEN")
        .env_remove("JXJY_CONFIG");
    c
}

/// `wecom check` against the fake: subscribed and pinged; with a wrong
/// secret it exits 1 with a clear message; the secret is printed nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_check_reports_what_it_sees() {
    let fake = FakeWeCom::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = command(
        &["wecom", "check", "--listen", "1"],
        dir.path(),
        &fake.url(),
        SECRET,
    )
    .output()
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("subscribed") && stdout.contains("ping: answered"),
        "{stdout}"
    );
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    let bad = command(
        &["wecom", "check"],
        dir.path(),
        &fake.url(),
        "not-the-secret-42",
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refused") && err.contains("40001") && !err.contains("not-the-secret-42"),
        "{err}"
    );
    // No [wecom] secret in the environment: said plainly.
    let unset = command(&["wecom", "check"], dir.path(), &fake.url(), "")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&unset.stderr);
    assert_eq!(unset.status.code(), Some(1), "{err}");
    assert!(err.contains("WECOM_BOT_SECRET"), "{err}");
}

/// The real binary: `serve` with WeCom alone (no Telegram token) answers
/// through the fake, logs at trace level without the secret, and stops on
/// SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_answers_on_wecom_without_logging_the_secret() {
    let fake = FakeWeCom::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(&["serve"], dir.path(), &fake.url(), SECRET);
    // Even asking for tungstenite's frame dumps does not show the secret.
    cmd.env("RUST_LOG", "trace,tungstenite=trace");
    let mut child = crate::Logged::spawn(cmd);
    fake.wait_subscribed(1).await;
    fake.push(private_text("BIN-1", "BM-1", TEACHER, "咨询电话"));
    let answer = fake.answer_to("BIN-1").await;
    assert!(!answer.is_empty());
    child.signal("-TERM");
    let exit = child.wait_exit(30).await;
    let log = child.log();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(
        log.contains("[\"wecom\"]") && log.contains("WeCom subscribed"),
        "{log}"
    );
    let leaks: Vec<&str> = log.lines().filter(|l| l.contains(SECRET)).collect();
    assert!(
        leaks.is_empty(),
        "the secret leaked into the log: {leaks:?}"
    );
}

/// Pings left unanswered: after two the connection counts as dead and a
/// new one is opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_pings_reopen_the_connection() {
    let opts = Options {
        ping_every: Duration::from_millis(30),
        ..Default::default()
    };
    let h = Harness::start_prepared(opts, false, |f, _| f.st().ignore_pings = true).await;
    h.fake.wait_subscribed(2).await;
    assert!(h.fake.st().connections >= 2);
    h.stop().await;
}

/// A callback stored but not handled before the process stopped is
/// handled after the restart; its req_id belongs to the old connection
/// (WeCom answers 846605), so the answer is pushed to the chat instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_left_from_the_last_run_is_answered_by_push() {
    let h = Harness::start_prepared(Options::default(), false, |_, store| {
        let inbox = jxjy_bot::inbox::Inbox::open(store, jxjy_bot::wecom::CHANNEL).unwrap();
        let f = private_text("OLD-1", "OLDM-1", TEACHER, "每年要多少学时");
        let payload = json!({"cmd": f["cmd"], "req_id": "OLD-1", "body": f["body"]});
        assert_eq!(
            inbox.put(vec![("OLDM-1".into(), payload)]).unwrap().len(),
            1
        );
    })
    .await;
    let pushed = h.fake.wait_sent("aibot_send_msg", 1, 20).await;
    assert_eq!(pushed[0]["body"]["chatid"], TEACHER);
    let text = pushed[0]["body"]["markdown"]["content"]
        .as_str()
        .unwrap_or("");
    assert!(text.contains("90"), "{text}");
    let tried = h.fake.sent("aibot_respond_msg");
    assert!(
        tried.iter().any(|f| f["headers"]["req_id"] == "OLD-1"),
        "{tried:?}"
    );
    h.stop().await;
}

/// `serve` with a secret WeCom refuses stops with that message (retrying
/// cannot help), naming where the secret comes from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_a_refused_secret_stops_with_a_clear_error() {
    let fake = FakeWeCom::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = crate::Logged::spawn(command(
        &["serve"],
        dir.path(),
        &fake.url(),
        "bad-secret-99",
    ));
    let exit = child.wait_exit(30).await;
    let log = child.log();
    assert_eq!(exit.code(), Some(1), "{log}");
    assert!(
        log.contains("refused to subscribe") && log.contains("WECOM_BOT_SECRET"),
        "{log}"
    );
    assert!(!log.contains("bad-secret-99"), "{log}");
}

/// A message WeCom sends before its answer to the subscription is kept
/// and answered, not lost; `wecom check` shows such frames by kind only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_before_the_subscription_answer_is_kept() {
    let h = Harness::start_prepared(Options::default(), false, |f, _| {
        f.st().before_subscribed = vec![private_text("EARLY-1", "EM-1", TEACHER, "每年要多少学时")];
    })
    .await;
    let answer = h.fake.answer_to("EARLY-1").await;
    assert!(answer.contains("90"), "{answer}");
    h.stop().await;
    let fake = FakeWeCom::start().await;
    fake.st().before_subscribed = vec![event("EARLY-2", "EM-2", "enter_chat")];
    let clock = Arc::new(ManualClock::new(at("2024-12-20T10:00:00+08:00")));
    let client = WeCom::new(
        config(&fake.url(), SECRET),
        Options::default(),
        clock.clone(),
        Arc::new(clock),
    );
    let r = client.check(Duration::ZERO).await.unwrap();
    assert!(r.ping_answered, "{r:?}");
    assert_eq!(r.seen, ["aibot_event_callback (enter_chat)"], "{r:?}");
}

/// WeCom busy (-1) on an answer: certainly not shown, so it is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_wecom_was_too_busy_for_is_sent_again() {
    let h = Harness::start_prepared(Options::default(), false, |f, _| {
        f.st().respond_errcodes = [-1].into();
    })
    .await;
    h.fake
        .push(private_text("BUSY-1", "BM-1", TEACHER, "每年要多少学时"));
    let tries = h.fake.wait_sent("aibot_respond_msg", 2, 20).await;
    assert!(
        tries.iter().all(|f| f["headers"]["req_id"] == "BUSY-1"),
        "{tries:?}"
    );
    assert_eq!(
        tries[0]["body"]["stream"]["content"],
        tries[1]["body"]["stream"]["content"]
    );
    h.stop().await;
}
