//! DingTalk end to end: the Stream front end against a loopback fake of
//! the gateway (the HTTP handshake and a WebSocket server) and of the
//! session webhooks and the robot OpenAPI (wiremock).

use crate::{Logged, at};
use futures::{SinkExt, StreamExt};
use jxjy_bot::clock::{ManualClock, TokioSleeper};
use jxjy_bot::conversation::Conversation;
use jxjy_bot::delivery::Outbox;
use jxjy_bot::dingtalk::{self, BOT_TOPIC, Config, DingTalk};
use jxjy_bot::identity::Identity;
use jxjy_bot::live::LiveKb;
use jxjy_bot::reminders::Schedule;
use jxjy_bot::service::App;
use jxjy_bot::store::Store;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_ID: &str = "dingjxjytest";
const SECRET: &str = "S3cret-of-the-app-9f8e7d";
const TOKEN: &str = "tok-5d41402abc4b2a76b9719d911017c592";
const TICKET: &str = "tk+/=ticket-7f3a";
const STAFF: &str = "manager4812";
const GROUP: &str = "cidGroup/Ab+c==";

/// The fake DingTalk: HTTP endpoints on a wiremock server, the stream on
/// a WebSocket server of its own.
struct Fake {
    http: MockServer,
    /// Frames to push to the connection open now.
    push: Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<String>>>>,
    /// What the bot sent on the WebSocket, in order (its ACKs).
    got: Arc<Mutex<Vec<Value>>>,
    /// WebSocket connections accepted, and the tickets they came with.
    connections: Arc<AtomicUsize>,
    tickets: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_addr = listener.local_addr().unwrap();
        let push: Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<String>>>> = Arc::default();
        let got: Arc<Mutex<Vec<Value>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let tickets: Arc<Mutex<Vec<String>>> = Arc::default();
        let (p, g, c, t) = (
            push.clone(),
            got.clone(),
            connections.clone(),
            tickets.clone(),
        );
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let t = t.clone();
                use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
                // The callback's type is tungstenite's; its error is large.
                #[allow(clippy::result_large_err)]
                let seen = move |req: &Request, resp: Response| {
                    let q = req.uri().query().unwrap_or("").to_string();
                    t.lock().unwrap().push(q);
                    Ok(resp)
                };
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, seen).await else {
                    continue;
                };
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                *p.lock().unwrap() = Some(tx);
                c.fetch_add(1, Ordering::SeqCst);
                let g = g.clone();
                tokio::spawn(async move {
                    let (mut out, mut inc) = ws.split();
                    loop {
                        tokio::select! {
                            f = rx.recv() => match f {
                                Some(f) => { if out.send(Message::text(f)).await.is_err() { return; } }
                                None => return,
                            },
                            m = inc.next() => match m {
                                Some(Ok(Message::Text(t))) => {
                                    let v = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                                    g.lock().unwrap().push(v);
                                }
                                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                                Some(Ok(_)) => {}
                            },
                        }
                    }
                });
            }
        });
        let http = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1.0/gateway/connections/open"))
            .and(body_partial_json(
                json!({"clientId": CLIENT_ID, "clientSecret": SECRET}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "endpoint": format!("ws://{ws_addr}/connect"),
                "ticket": TICKET,
            })))
            .mount(&http)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1.0/oauth2/accessToken"))
            .and(body_partial_json(
                json!({"appKey": CLIENT_ID, "appSecret": SECRET}),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"accessToken": TOKEN, "expireIn": 7200})),
            )
            .mount(&http)
            .await;
        // Any other secret: refused as DingTalk does.
        for p in ["/v1.0/oauth2/accessToken", "/v1.0/gateway/connections/open"] {
            Mock::given(method("POST"))
                .and(path(p))
                .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                    "code": "invalidClientIdOrSecret",
                    "message": "无效的clientId或clientSecret",
                })))
                .with_priority(10)
                .mount(&http)
                .await;
        }
        Mock::given(method("POST"))
            .and(path("/robot/sendBySession"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
            )
            .mount(&http)
            .await;
        Mock::given(method("POST"))
            .and(path("/robot/expiredSession"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"errcode": 300001, "errmsg": "session webhook expired"})),
            )
            .mount(&http)
            .await;
        for (p, answer) in [
            (
                "/v1.0/robot/oToMessages/batchSend",
                json!({"processQueryKey": "q1"}),
            ),
            (
                "/v1.0/robot/groupMessages/send",
                json!({"processQueryKey": "q2"}),
            ),
        ] {
            Mock::given(method("POST"))
                .and(path(p))
                .and(header("x-acs-dingtalk-access-token", TOKEN))
                .respond_with(ResponseTemplate::new(200).set_body_json(answer))
                .mount(&http)
                .await;
            Mock::given(method("POST"))
                .and(path(p))
                .respond_with(ResponseTemplate::new(401).set_body_json(
                    json!({"code": "InvalidAuthentication", "message": "不合法的access_token"}),
                ))
                .with_priority(10)
                .mount(&http)
                .await;
        }
        Fake {
            http,
            push,
            got,
            connections,
            tickets,
        }
    }

    fn config(&self) -> Config {
        Config {
            client_id: CLIENT_ID.into(),
            robot_code: CLIENT_ID.into(),
            openapi: self.http.uri(),
            secret: SECRET.into(),
        }
    }

    fn session(&self) -> String {
        format!("{}/robot/sendBySession?session=s-abc", self.http.uri())
    }

    /// Wait for a connection (the `n`th), then send a frame on it.
    async fn send(&self, n: usize, frame: String) {
        assert!(
            eventually(20, || self.connections.load(Ordering::SeqCst) >= n).await,
            "connection {n} opened"
        );
        let tx = self.push.lock().unwrap().clone().expect("a connection");
        tx.send(frame).expect("the connection is open");
    }

    /// Bodies of the requests to `p` so far.
    async fn bodies(&self, p: &str) -> Vec<Value> {
        self.http
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == p)
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }

    /// Wait for at least `n` requests to `p`; all of them.
    async fn wait_for(&self, p: &str, n: usize) -> Vec<Value> {
        for _ in 0..1000 {
            let b = self.bodies(p).await;
            if b.len() >= n {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{n} request(s) to {p}: got {:#?}", self.bodies(p).await);
    }

    /// Wait for the ACK of frame `id`.
    async fn ack_of(&self, id: &str) -> Value {
        let find = || {
            self.got
                .lock()
                .unwrap()
                .iter()
                .find(|a| a["headers"]["messageId"] == id)
                .cloned()
        };
        assert!(eventually(20, || find().is_some()).await, "ACK of {id}");
        find().unwrap()
    }

    fn handshakes(&self) -> usize {
        self.tickets.lock().unwrap().len()
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

/// A CALLBACK frame carrying a robot message.
fn callback(frame_id: &str, msg: &Value) -> String {
    json!({
        "specVersion": "1.0",
        "type": "CALLBACK",
        "headers": {"messageId": frame_id, "topic": BOT_TOPIC, "contentType": "application/json", "time": "1734660000000"},
        "data": msg.to_string(),
    })
    .to_string()
}

fn system(frame_id: &str, topic: &str, data: &str) -> String {
    json!({
        "specVersion": "1.0",
        "type": "SYSTEM",
        "headers": {"messageId": frame_id, "topic": topic, "contentType": "application/json"},
        "data": data,
    })
    .to_string()
}

/// A one-to-one message from [`STAFF`], its session webhook valid for 90 minutes.
fn private(msg_id: &str, text: &str, webhook: &str, now: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "msgId": msg_id, "msgtype": "text", "text": {"content": format!(" {text}")},
        "conversationType": "1", "conversationId": "cidPrivate1",
        "senderId": "$:LWCP_v1:$abc", "senderStaffId": STAFF, "senderNick": "张老师",
        "isAdmin": false, "chatbotUserId": "$:LWCP_v1:$bot", "robotCode": CLIENT_ID,
        "sessionWebhook": webhook,
        "sessionWebhookExpiredTime": (now + chrono::Duration::minutes(90)).timestamp_millis(),
        "createAt": now.timestamp_millis(),
    })
}

fn group(
    msg_id: &str,
    staff: &str,
    text: &str,
    admin: bool,
    webhook: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    json!({
        "msgId": msg_id, "msgtype": "text", "text": {"content": format!(" {text}")},
        "conversationType": "2", "conversationId": GROUP, "conversationTitle": "教研室",
        "senderId": format!("$:LWCP_v1:${staff}"), "senderStaffId": staff, "senderNick": "李老师",
        "isAdmin": admin, "isInAtList": true, "robotCode": CLIENT_ID,
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}],
        "sessionWebhook": webhook,
        "sessionWebhookExpiredTime": (now + chrono::Duration::minutes(90)).timestamp_millis(),
    })
}

fn content(body: &Value) -> String {
    body["text"]["content"].as_str().unwrap_or("").to_string()
}

/// The content of an OpenAPI message (msgParam is JSON text).
fn param_content(body: &Value) -> String {
    serde_json::from_str::<Value>(body["msgParam"].as_str().unwrap_or("null"))
        .ok()
        .and_then(|v| v["content"].as_str().map(str::to_string))
        .unwrap_or_default()
}

struct Harness {
    fake: Fake,
    app: Arc<App>,
    clock: Arc<ManualClock>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(now: chrono::DateTime<chrono::Utc>, reminders: bool) -> Harness {
        Harness::start_prepared(now, reminders, |_, _| {}).await
    }

    /// As `start`, with the store prepared before the bot starts.
    async fn start_prepared(
        now: chrono::DateTime<chrono::Utc>,
        reminders: bool,
        prepare: impl FnOnce(&Store, &Fake),
    ) -> Harness {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let live =
            LiveKb::load(&crate::shipped_kb_dir(), Default::default(), clock.clone()).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let core = Conversation::new(
            Arc::new(live),
            Some(store.clone()),
            Schedule::default(),
            clock.clone(),
            vec![],
        );
        prepare(&store, &fake);
        let app = Arc::new(App {
            core,
            store,
            webhooks: vec![],
        });
        let client =
            Arc::new(DingTalk::new(fake.config(), clock.clone(), Arc::new(TokioSleeper)).unwrap());
        let outbox = Outbox {
            dingtalk: Some(client.clone()),
            ..Default::default()
        };
        let opts = dingtalk::Options {
            backoff_first: Duration::from_millis(50),
            ..Default::default()
        };
        let fronts = vec![dingtalk::front(client, app.clone(), opts)];
        let service = jxjy_bot::service::Options {
            reminders,
            reminder_every: Duration::from_millis(100),
            daily_backup: false,
        };
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
        Harness {
            fake,
            app,
            clock,
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.app.core.clock().now()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let r = tokio::time::timeout(Duration::from_secs(20), self.task).await;
        assert!(matches!(r, Ok(Ok(Ok(())))), "stopped cleanly: {r:?}");
    }
}

fn dec20() -> chrono::DateTime<chrono::Utc> {
    at("2024-12-20T10:00:00+08:00")
}

/// A question in a private chat is answered through its session webhook
/// (no @ there), a typed number presses the numbered choice it names,
/// every frame is ACKed (a malformed one with 400), the ping is echoed,
/// and the handshake carried the ticket url-encoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_question_answered_through_the_session_webhook_every_frame_acked() {
    let h = Harness::start(dec20(), false).await;
    let f = &h.fake;
    let now = h.now();
    f.send(1, system("p1", "ping", r#"{"opaque":"x1"}"#)).await;
    let pong = f.ack_of("p1").await;
    assert_eq!(pong["code"], 200);
    assert_eq!(
        pong["data"], r#"{"opaque":"x1"}"#,
        "the ping's data is echoed"
    );
    f.send(
        1,
        callback(
            "f1",
            &private("m1", "每年继续教育要多少学时", &f.session(), now),
        ),
    )
    .await;
    let sent = f.wait_for("/robot/sendBySession", 1).await;
    let answer = content(&sent[0]);
    assert!(
        answer.contains("90学时") && answer.contains("依据："),
        "{answer}"
    );
    assert!(
        answer.contains("[1] 公需课要学多少学时"),
        "buttons as numbered choices: {answer}"
    );
    assert!(
        sent[0].get("at").is_none(),
        "no @ in a private chat: {}",
        sent[0]
    );
    f.send(1, callback("f2", &private("m2", "1", &f.session(), now)))
        .await;
    let sent = f.wait_for("/robot/sendBySession", 2).await;
    assert!(
        content(&sent[1]).contains("公需课（公需科目）"),
        "{}",
        sent[1]
    );
    // Malformed frames: ACKed as bad (when they carry an id), never a panic.
    f.send(1, "{not json".into()).await;
    f.send(1, callback("f3", &json!({"msgtype": "text"}))).await;
    let mut bad = serde_json::from_str::<Value>(&callback("f4", &json!({}))).unwrap();
    bad["data"] = json!("not json at all");
    f.send(1, bad.to_string()).await;
    f.send(1, system("p2", "ping", "")).await;
    for (id, code) in [
        ("p1", 200),
        ("f1", 200),
        ("f2", 200),
        ("f3", 400),
        ("f4", 400),
        ("p2", 200),
    ] {
        let a = f.ack_of(id).await;
        assert_eq!(a["code"], code, "{id}: {a}");
        assert_eq!(a["headers"]["contentType"], "application/json");
    }
    let acked = f.got.lock().unwrap().len();
    assert_eq!(
        acked,
        7,
        "one ACK per frame, the unreadable one included: {:#?}",
        f.got.lock().unwrap()
    );
    let tickets = f.tickets.lock().unwrap().clone();
    assert_eq!(
        tickets,
        vec![format!("ticket={}", "tk%2B%2F%3Dticket-7f3a")]
    );
    // Nothing asked of the OpenAPI while the session webhook works.
    assert!(f.bodies("/v1.0/oauth2/accessToken").await.is_empty());
    h.stop().await;
}

/// A message delivered twice (a redelivery after a lost ACK, under a new
/// frame id) is ACKed twice and answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_is_answered_once() {
    let h = Harness::start(dec20(), false).await;
    let f = &h.fake;
    let now = h.now();
    let m = private("same-msg", "公需课要学几个学时", &f.session(), now);
    f.send(1, callback("a1", &m)).await;
    f.wait_for("/robot/sendBySession", 1).await;
    f.send(1, callback("a2", &m)).await;
    assert_eq!(f.ack_of("a2").await["code"], 200);
    // A later message is answered: the redelivery had its turn before it.
    f.send(
        1,
        callback(
            "a3",
            &private("other", "专业课最少多少学时", &f.session(), now),
        ),
    )
    .await;
    let sent = f.wait_for("/robot/sendBySession", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent_after = f.bodies("/robot/sendBySession").await;
    assert_eq!(sent_after.len(), 2, "{sent_after:#?}");
    assert!(content(&sent[0]).contains("30"), "{}", sent[0]);
    assert!(content(&sent[1]).contains("60"), "{}", sent[1]);
    h.stop().await;
}

/// In a group the asker is @-ed; changing the group's reminders takes a
/// sender DingTalk marks as admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_question_is_answered_to_the_asker_and_admins_set_reminders() {
    let h = Harness::start(dec20(), false).await;
    let f = &h.fake;
    let now = h.now();
    f.send(
        1,
        callback(
            "g1",
            &group("gm1", "teacher7", "咨询电话多少", false, &f.session(), now),
        ),
    )
    .await;
    let sent = f.wait_for("/robot/sendBySession", 1).await;
    assert_eq!(
        sent[0]["at"]["atUserIds"],
        json!(["teacher7"]),
        "{}",
        sent[0]
    );
    let c = content(&sent[0]);
    assert!(
        c.starts_with("@teacher7 ") && c.contains("0791-12333"),
        "{c}"
    );
    f.send(
        1,
        callback(
            "g2",
            &group("gm2", "teacher7", "/remind on", false, &f.session(), now),
        ),
    )
    .await;
    f.wait_for("/robot/sendBySession", 2).await;
    let group_id: Identity = format!("ding:{}", dingtalk::escape_id(GROUP))
        .parse()
        .unwrap();
    assert!(
        h.app
            .store
            .subscription(&group_id)
            .unwrap()
            .is_none_or(|s| !s.active),
        "a non-admin cannot turn the group's reminders on"
    );
    f.send(
        1,
        callback(
            "g3",
            &group("gm3", "boss1", "提醒 on", true, &f.session(), now),
        ),
    )
    .await;
    f.wait_for("/robot/sendBySession", 3).await;
    assert!(
        eventually(10, || h
            .app
            .store
            .subscription(&group_id)
            .ok()
            .flatten()
            .is_some_and(|s| s.active))
        .await,
        "an admin turned them on"
    );
    h.stop().await;
}

/// SYSTEM disconnect: ACKed, then a fresh handshake and a new connection,
/// where questions are answered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_opens_a_new_connection_with_a_fresh_handshake() {
    let h = Harness::start(dec20(), false).await;
    let f = &h.fake;
    let now = h.now();
    f.send(1, system("d1", "disconnect", "")).await;
    assert_eq!(f.ack_of("d1").await["code"], 200);
    assert!(eventually(20, || f.connections.load(Ordering::SeqCst) >= 2).await);
    let opens = f.bodies("/v1.0/gateway/connections/open").await;
    assert_eq!(opens.len(), 2, "a fresh handshake");
    assert_eq!(
        opens[1]["subscriptions"],
        json!([{"type": "CALLBACK", "topic": BOT_TOPIC}])
    );
    assert_eq!(f.handshakes(), 2);
    f.send(
        2,
        callback("d2", &private("dm1", "平台怎么登录", &f.session(), now)),
    )
    .await;
    let sent = f.wait_for("/robot/sendBySession", 1).await;
    assert!(content(&sent[0]).contains("电子社保"), "{}", sent[0]);
    h.stop().await;
}

/// An expired session webhook (by its expiry time, or by DingTalk's
/// 300001) falls back to the robot OpenAPI with an access token, fetched
/// once and reused; in a group the asker is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_webhook_falls_back_to_the_openapi() {
    let h = Harness::start(dec20(), false).await;
    let f = &h.fake;
    let now = h.now();
    let mut old = private("e1", "每年继续教育要多少学时", &f.session(), now);
    old["sessionWebhookExpiredTime"] =
        json!((now - chrono::Duration::minutes(1)).timestamp_millis());
    f.send(1, callback("x1", &old)).await;
    let sent = f.wait_for("/v1.0/robot/oToMessages/batchSend", 1).await;
    assert_eq!(sent[0]["userIds"], json!([STAFF]));
    assert_eq!(sent[0]["robotCode"], CLIENT_ID);
    assert_eq!(sent[0]["msgKey"], "sampleText");
    assert!(param_content(&sent[0]).contains("90学时"), "{}", sent[0]);
    let expired = format!("{}/robot/expiredSession?session=old", f.http.uri());
    f.send(
        1,
        callback(
            "x2",
            &group("e2", "teacher7", "咨询电话多少", false, &expired, now),
        ),
    )
    .await;
    let sent = f.wait_for("/v1.0/robot/groupMessages/send", 1).await;
    assert_eq!(sent[0]["openConversationId"], GROUP);
    let c = param_content(&sent[0]);
    assert!(c.starts_with("@李老师 ") && c.contains("0791-12333"), "{c}");
    assert_eq!(f.bodies("/robot/expiredSession").await.len(), 1);
    assert!(f.bodies("/robot/sendBySession").await.is_empty());
    assert_eq!(
        f.bodies("/v1.0/oauth2/accessToken").await.len(),
        1,
        "the token is cached"
    );
    h.stop().await;
}

/// `/remind on` in a private DingTalk chat, then, when the clock reaches
/// the 30-day slot, the reminder reaches that user through the OpenAPI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remind_on_then_the_due_reminder_reaches_the_user_through_the_openapi() {
    let h = Harness::start(at("2024-11-20T10:00:00+08:00"), true).await;
    let f = &h.fake;
    let now = h.now();
    f.send(
        1,
        callback("r1", &private("rm1", "/remind on", &f.session(), now)),
    )
    .await;
    let sent = f.wait_for("/robot/sendBySession", 1).await;
    assert!(content(&sent[0]).contains("已开启"), "{}", sent[0]);
    let me: Identity = format!("ding:{STAFF}").parse().unwrap();
    assert!(
        h.app
            .store
            .subscription(&me)
            .unwrap()
            .is_some_and(|s| s.active)
    );
    // Nothing is due yet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        f.bodies("/v1.0/robot/oToMessages/batchSend")
            .await
            .is_empty()
    );
    h.clock.set(at("2024-12-01T09:30:00+08:00"));
    let sent = f.wait_for("/v1.0/robot/oToMessages/batchSend", 1).await;
    assert_eq!(sent[0]["userIds"], json!([STAFF]));
    let c = param_content(&sent[0]);
    assert!(c.contains("您还差90学时"), "{c}");
    // Sent once: later checks of the same slot send nothing more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(f.bodies("/v1.0/robot/oToMessages/batchSend").await.len(), 1);
    h.stop().await;
}

fn config_file(dir: &std::path::Path, f: &Fake) -> std::path::PathBuf {
    let p = dir.join("jxjy.toml");
    std::fs::write(
        &p,
        format!(
            "[dingtalk]\nclient_id = \"{CLIENT_ID}\"\nopenapi = \"{}\"\n",
            f.http.uri()
        ),
    )
    .unwrap();
    p
}

fn command(
    args: &[&str],
    config: &std::path::Path,
    data: &std::path::Path,
    secret: &str,
) -> std::process::Command {
    let mut c = std::process::Command::new(crate::bin());
    c.args(args)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env_remove("TELOXIDE_TOKEN")
        .env("DINGTALK_CLIENT_SECRET", secret)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("JXJY_NOW", "2024-12-20T10:00:00+08:00");
    c
}

/// `dingtalk check` against the fake: the token, the handshake and the
/// WebSocket with the right secret; DingTalk's reason with a wrong one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingtalk_check_reports_what_it_sees() {
    let f = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &f);
    let data = dir.path().join("data");
    let out = command(&["dingtalk", "check"], &config, &data, SECRET)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for want in [
        CLIENT_ID,
        "credentials: OK",
        "endpoint ws://127.0.0.1",
        "WebSocket open",
        "dingtalk: ok",
    ] {
        assert!(stdout.contains(want), "{want}: {stdout}");
    }
    assert!(eventually(10, || f.connections.load(Ordering::SeqCst) == 1).await);
    let all = format!("{stdout}{stderr}");
    assert!(
        !all.contains(TOKEN) && !all.contains(SECRET) && !all.contains("ticket-7f3a"),
        "{all}"
    );
    let out = command(&["dingtalk", "check"], &config, &data, "wrong-secret")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rejected the app's credentials")
            && stderr.contains("invalidClientIdOrSecret"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-secret"), "{stderr}");
    let out = command(&["dingtalk", "check"], &config, &data, "")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("DINGTALK_CLIENT_SECRET"), "{stderr}");
    // `serve` with rejected credentials stops with the reason.
    let mut serve = command(&["serve"], &config, &data, "wrong-secret");
    serve.stdout(std::process::Stdio::null());
    let mut child = Logged::spawn(serve);
    let exit = child.wait_exit(30).await;
    let log = child.log();
    assert_eq!(exit.code(), Some(1), "{log}");
    assert!(
        log.contains("rejected the app's credentials") && !log.contains("wrong-secret"),
        "{log}"
    );
}

/// `serve` with DingTalk alone (no Telegram): answers through the
/// OpenAPI when the session webhook has expired; at debug level the log
/// holds neither the secret, nor the token, nor the ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_dingtalk_alone_and_keeps_secrets_out_of_the_log() {
    let f = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &f);
    let mut cmd = command(&["serve"], &config, &dir.path().join("data"), SECRET);
    cmd.env("RUST_LOG", "debug");
    let mut child = Logged::spawn(cmd);
    let now = dec20();
    let mut old = private("s1", "每年继续教育要多少学时", &f.session(), now);
    old["sessionWebhookExpiredTime"] =
        json!((now - chrono::Duration::minutes(5)).timestamp_millis());
    f.send(1, callback("sv1", &old)).await;
    let sent = f.wait_for("/v1.0/robot/oToMessages/batchSend", 1).await;
    assert!(param_content(&sent[0]).contains("90学时"), "{}", sent[0]);
    f.send(1, "{broken".into()).await;
    f.send(1, system("sv2", "ping", "{}")).await;
    f.ack_of("sv2").await;
    child.signal("-TERM");
    let exit = child.wait_exit(30).await;
    let log = child.log();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(log.contains("channels=[\"dingtalk\"]"), "{log}");
    assert!(log.contains("DingTalk stream connected"), "{log}");
    assert!(log.contains("malformed DingTalk frame"), "{log}");
    for secret in [TOKEN, SECRET, "ticket-7f3a", "tk%2B", "session=s-abc"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

/// A message stored (and ACKed) before the process stopped is answered
/// at the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_left_in_the_inbox_is_answered_at_start() {
    let h = Harness::start_prepared(dec20(), false, |store, f| {
        let inbox = jxjy_bot::inbox::Inbox::open(store, dingtalk::CHANNEL).unwrap();
        let m = private("left1", "咨询电话多少", &f.session(), dec20());
        assert_eq!(inbox.put(vec![("left1".into(), m)]).unwrap().len(), 1);
    })
    .await;
    let sent = h.fake.wait_for("/robot/sendBySession", 1).await;
    assert!(content(&sent[0]).contains("0791-12333"), "{}", sent[0]);
    // Done: the same message delivered again now is not answered again.
    let again = private("left1", "咨询电话多少", &h.fake.session(), dec20());
    h.fake.send(1, callback("l1", &again)).await;
    assert_eq!(h.fake.ack_of("l1").await["code"], 200);
    h.fake
        .send(
            1,
            callback(
                "l2",
                &private("left2", "平台怎么登录", &h.fake.session(), dec20()),
            ),
        )
        .await;
    h.fake.wait_for("/robot/sendBySession", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.fake.bodies("/robot/sendBySession").await.len(), 2);
    h.stop().await;
}

/// A connection that breaks (no disconnect frame) is reopened, after a
/// backoff, with a fresh handshake; the bot answers on the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_connection_is_reopened() {
    let h = Harness::start(dec20(), false).await;
    let f = &h.fake;
    f.send(1, system("b1", "ping", "")).await;
    f.ack_of("b1").await;
    // The fake drops the connection without a word.
    *f.push.lock().unwrap() = None;
    assert!(eventually(20, || f.connections.load(Ordering::SeqCst) >= 2).await);
    assert_eq!(f.bodies("/v1.0/gateway/connections/open").await.len(), 2);
    f.send(
        2,
        callback("b2", &private("bm1", "咨询电话多少", &f.session(), h.now())),
    )
    .await;
    let sent = f.wait_for("/robot/sendBySession", 1).await;
    assert!(content(&sent[0]).contains("0791-12333"), "{}", sent[0]);
    h.stop().await;
}

fn client_on(uri: String, clock: Arc<ManualClock>) -> DingTalk {
    let cfg = Config {
        client_id: CLIENT_ID.into(),
        robot_code: CLIENT_ID.into(),
        openapi: uri,
        secret: SECRET.into(),
    };
    let mut c = DingTalk::new(cfg, clock.clone(), Arc::new(clock)).unwrap();
    c.timeout = Duration::from_millis(500);
    c
}

/// The access token is fetched once, reused, and renewed when less than
/// five minutes of it are left; our per-chat limit (20 a minute) holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_cached_and_renewed_and_our_rate_limit_holds() {
    use jxjy_bot::clock::{Clock, Stop};
    use jxjy_bot::delivery::{Address, Sender};
    let f = Fake::start().await;
    let clock = Arc::new(ManualClock::new(dec20()));
    let c = client_on(f.http.uri(), clock.clone());
    let to = Address::Chat {
        chat: format!("ding:{STAFF}").parse().unwrap(),
        kind: jxjy_bot::store::ChatKind::Private,
    };
    let stop = Stop::never();
    for _ in 0..20 {
        c.send(&to, "提醒", &stop).await.unwrap();
    }
    assert_eq!(clock.now(), dec20(), "twenty go at once");
    assert_eq!(f.bodies("/v1.0/oauth2/accessToken").await.len(), 1);
    c.send(&to, "提醒", &stop).await.unwrap();
    assert!(
        clock.now() - dec20() >= chrono::Duration::seconds(60),
        "the 21st waited for the minute"
    );
    clock.advance(chrono::Duration::seconds(7200 - 300 - 60));
    c.send(&to, "提醒", &stop).await.unwrap();
    assert_eq!(
        f.bodies("/v1.0/oauth2/accessToken").await.len(),
        2,
        "renewed before expiry"
    );
    assert_eq!(
        f.bodies("/v1.0/robot/oToMessages/batchSend").await.len(),
        22
    );
}

/// OpenAPI failures as the delivery path needs them: 5xx and DingTalk's
/// flow control transient, 4xx and unknown users refused, no answer in
/// time unknown, a token refused twice (bad credentials) fatal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_failures_are_classified() {
    use jxjy_bot::clock::Stop;
    use jxjy_bot::delivery::{Address, SendError, Sender};
    let s = MockServer::start().await;
    Mock::given(path("/v1.0/oauth2/accessToken"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"accessToken": TOKEN, "expireIn": 7200})),
        )
        .mount(&s)
        .await;
    let answers = [
        (
            "u500",
            ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"),
        ),
        (
            "u400",
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": "param.invalid", "message": "bad"})),
        ),
        (
            "uflow",
            ResponseTemplate::new(200)
                .set_body_json(json!({"flowControlledStaffIdList": ["uflow"]})),
        ),
        (
            "ubad",
            ResponseTemplate::new(200).set_body_json(json!({"invalidStaffIdList": ["ubad"]})),
        ),
        (
            "uslow",
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(Duration::from_secs(3)),
        ),
        (
            "u401",
            ResponseTemplate::new(401).set_body_json(json!({"code": "InvalidAuthentication"})),
        ),
    ];
    for (user, answer) in answers {
        Mock::given(path("/v1.0/robot/oToMessages/batchSend"))
            .and(body_partial_json(json!({"userIds": [user]})))
            .respond_with(answer)
            .mount(&s)
            .await;
    }
    let c = client_on(s.uri(), Arc::new(ManualClock::new(dec20())));
    let send = |user: &str| {
        let to = Address::Chat {
            chat: format!("ding:{user}").parse().unwrap(),
            kind: jxjy_bot::store::ChatKind::Private,
        };
        let c = &c;
        async move { c.send(&to, "提醒", &Stop::never()).await }
    };
    assert!(matches!(send("u500").await, Err(SendError::Transient(_))));
    assert!(
        matches!(send("u400").await, Err(SendError::Refused(e)) if e.contains("param.invalid"))
    );
    assert!(matches!(send("uflow").await, Err(SendError::Transient(_))));
    assert!(matches!(send("ubad").await, Err(SendError::Refused(_))));
    assert!(matches!(send("uslow").await, Err(SendError::Unknown(_))));
    let fatal = send("u401").await;
    assert!(
        matches!(&fatal, Err(SendError::Fatal(e)) if !e.contains(TOKEN) && !e.contains(SECRET)),
        "{fatal:?}"
    );
    // A DingTalk chat can only be reached when DingTalk is configured.
    let outbox = Outbox::default();
    assert!(!outbox.serves(jxjy_bot::identity::Channel::DingTalk));
    let outbox = Outbox {
        dingtalk: Some(Arc::new(c)),
        ..Default::default()
    };
    assert!(outbox.serves(jxjy_bot::identity::Channel::DingTalk));
    assert!(!outbox.serves(jxjy_bot::identity::Channel::Telegram));
}

/// `remind send` with DingTalk alone reaches a subscribed DingTalk
/// teacher and group through the OpenAPI, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remind_send_reaches_dingtalk_chats() {
    use jxjy_bot::store::{ChatKind, Subscription};
    let f = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &f);
    let data = dir.path().join("data");
    {
        let s = Store::open(&data).unwrap();
        let sub = |id: &str, kind| Subscription {
            chat: format!("ding:{}", dingtalk::escape_id(id)).parse().unwrap(),
            kind,
            active: true,
        };
        s.put_subscriptions(&[sub(STAFF, ChatKind::Private), sub(GROUP, ChatKind::Group)])
            .unwrap();
        s.flush().unwrap();
    }
    let args = ["remind", "send", "--at", "2024-12-01T09:30+08:00"];
    for round in 0..2 {
        let out = command(&args, &config, &data, SECRET).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = if round == 0 { "sent 2," } else { "sent 0," };
        assert!(stdout.contains(want), "round {round}: {stdout}");
    }
    let users = f.bodies("/v1.0/robot/oToMessages/batchSend").await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["userIds"], json!([STAFF]));
    let groups = f.bodies("/v1.0/robot/groupMessages/send").await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["openConversationId"], GROUP);
    assert!(
        param_content(&groups[0]).contains("还剩30天"),
        "{}",
        groups[0]
    );
}
