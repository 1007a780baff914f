//! The Feishu channel end to end: signed, encrypted events posted to the
//! real HTTP listener on loopback, the open API faked with wiremock
//! (token, reply, messages, bot info), the service run as `serve` runs it;
//! and the binary (`serve` with only Feishu, `feishu check`).

use crate::Logged;
use jxjy_bot::clock::{ManualClock, Stop};
use jxjy_bot::conversation::Conversation;
use jxjy_bot::delivery::{Options, Outbox, deliver_due};
use jxjy_bot::feishu::{self, api::Api, api::Secret, crypto};
use jxjy_bot::identity::{Channel, Identity};
use jxjy_bot::inbox::Inbox;
use jxjy_bot::live::LiveKb;
use jxjy_bot::reminders::Schedule;
use jxjy_bot::service::App;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const APP_ID: &str = "cli_test_app";
const APP_SECRET: &str = "app-secret-9f8e7d";
const VERIFY_TOKEN: &str = "verify-token-5c4b3a";
const ENCRYPT_KEY: &str = "encrypt-key-1a2b3c";
const BOT_OPEN_ID: &str = "ou_bot_0001";
const TEACHER: &str = "ou_teacher_42";
const ADMIN: &str = "ou_admin_7";
const GROUP: &str = "oc_group_100";
/// A group whose owner and managers Feishu names.
const MANAGED: &str = "oc_group_managed";
const MANAGER: &str = "ou_manager_2";

/// The fake token endpoint: `tenant-token-<n>-x` for the nth request,
/// valid two hours; a wrong secret gets Feishu's refusal.
struct Tokens(Arc<AtomicUsize>);

impl Respond for Tokens {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        if body["app_id"] != APP_ID || body["app_secret"] != APP_SECRET {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"code": 10014, "msg": "app secret invalid"}));
        }
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "code": 0,
            "msg": "ok",
            "tenant_access_token": format!("tenant-token-{n}-x"),
            "expire": 7200
        }))
    }
}

/// The open API on loopback.
async fn fake_api() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/tenant_access_token/internal"))
        .respond_with(Tokens(Arc::new(AtomicUsize::new(0))))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/open-apis/bot/v3/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0,
            "msg": "ok",
            "bot": {"activate_status": 2, "app_name": "继续教育小助手", "open_id": BOT_OPEN_ID}
        })))
        .mount(&server)
        .await;
    // Group information for MANAGED only: GROUP's is not readable.
    Mock::given(method("GET"))
        .and(path(format!("/open-apis/im/v1/chats/{MANAGED}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0,
            "msg": "success",
            "data": {"owner_id": "ou_owner_1", "owner_id_type": "open_id", "user_manager_id_list": [MANAGER]}
        })))
        .mount(&server)
        .await;
    let sent = json!({"code": 0, "msg": "success", "data": {"message_id": "om_sent"}});
    Mock::given(method("POST"))
        .and(path_regex(r"^/open-apis/im/v1/messages/[^/]+/reply$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sent.clone()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/open-apis/im/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sent))
        .mount(&server)
        .await;
    server
}

fn config(api: &MockServer) -> feishu::Config {
    feishu::Config {
        app_id: APP_ID.into(),
        api_base: api.uri(),
        path: feishu::DEFAULT_PATH.into(),
        app_secret: Secret::new(APP_SECRET),
        verification_token: Secret::new(VERIFY_TOKEN),
        encrypt_key: Secret::new(ENCRYPT_KEY),
    }
}

fn fs(id: &str) -> Identity {
    Identity::new(Channel::Feishu, id).unwrap()
}

struct Harness {
    api: MockServer,
    client: Arc<Api>,
    app: Arc<App>,
    clock: Arc<ManualClock>,
    url: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(fake_api().await).await
    }

    async fn start_with(api: MockServer) -> Harness {
        Harness::start_in(api, tempfile::tempdir().unwrap()).await
    }

    /// On the data directory `dir` (kept by the harness).
    async fn start_in(api: MockServer, dir: tempfile::TempDir) -> Harness {
        let clock = Arc::new(ManualClock::new(crate::at("2024-12-20T10:00:00+08:00")));
        let live =
            LiveKb::load(&crate::shipped_kb_dir(), Default::default(), clock.clone()).unwrap();
        let store = crate::reopen(dir.path());
        let core = Conversation::new(
            Arc::new(live),
            Some(store.clone()),
            Schedule::default(),
            clock.clone(),
            vec![fs(ADMIN)],
        );
        let app = Arc::new(App {
            core,
            store,
            webhooks: Vec::new(),
        });
        let cfg = config(&api);
        let mut client = feishu::api(&cfg, clock.clone(), Arc::new(clock.clone())).unwrap();
        client.backoff.timeout = Duration::from_secs(10);
        let client = Arc::new(client);
        let (route, front) = feishu::channel(app.clone(), client.clone(), &cfg).unwrap();
        let listener = jxjy_bot::http::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fronts = vec![front, jxjy_bot::http::front(listener, vec![route])];
        let outbox = Outbox {
            feishu: Some(client.clone()),
            ..Default::default()
        };
        let opts = jxjy_bot::service::Options {
            reminders: false,
            daily_backup: false,
            ..Default::default()
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(jxjy_bot::service::run(
            app.clone(),
            outbox,
            fronts,
            opts,
            async move {
                let _ = rx.await;
            },
        ));
        Harness {
            api,
            client,
            app,
            clock,
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    /// Stop as on SIGTERM; the data directory is handed back.
    async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let r = tokio::time::timeout(Duration::from_secs(60), self.task).await;
        assert!(matches!(r, Ok(Ok(Ok(())))), "did not stop cleanly: {r:?}");
        self._dir
    }

    /// POST `body` as is, with these headers.
    async fn post_raw(&self, body: &[u8], headers: &[(&str, String)]) -> (u16, String) {
        let mut req = self
            .http
            .post(format!("{}{}", self.url, feishu::DEFAULT_PATH))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    /// As Feishu sends an event: encrypted with the Encrypt Key, signed.
    async fn post(&self, event: &Value) -> (u16, String) {
        let body = encrypted(ENCRYPT_KEY, event);
        self.post_raw(&body, &signed(ENCRYPT_KEY, &body)).await
    }

    /// Requests the fake open API received on paths matching `p`.
    async fn requests(&self, p: &str) -> Vec<Request> {
        let re = regex::Regex::new(p).unwrap();
        self.api
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| re.is_match(r.url.path()))
            .collect()
    }

    /// The replies to `message_id`, waiting up to 20 s for `n` of them.
    async fn replies(&self, message_id: &str, n: usize) -> Vec<Request> {
        let p = format!("^/open-apis/im/v1/messages/{message_id}/reply$");
        for _ in 0..1000 {
            let got = self.requests(&p).await;
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.requests(&p).await
    }

    /// Ask in a private chat and return the reply's text.
    async fn ask(&self, message_id: &str, text: &str) -> String {
        self.ask_until(message_id, text, 1).await
    }

    /// Ask, and wait for `n` reply requests (the last one's text).
    async fn ask_until(&self, message_id: &str, text: &str, n: usize) -> String {
        let (status, _) = self
            .post(&message(
                message_id,
                TEACHER,
                TEACHER_CHAT,
                "p2p",
                text,
                json!([]),
            ))
            .await;
        assert_eq!(status, 200);
        let r = self.replies(message_id, n).await;
        assert_eq!(r.len(), n, "replies to {message_id}");
        reply_text(&r[n - 1])
    }
}

const TEACHER_CHAT: &str = "oc_p2p_teacher";

fn encrypted(key: &str, event: &Value) -> Vec<u8> {
    let e = crypto::encrypt(key, [9; 16], event.to_string().as_bytes());
    json!({ "encrypt": e }).to_string().into_bytes()
}

/// Request headers.
type Headers = Vec<(&'static str, String)>;

fn signed(key: &str, body: &[u8]) -> Headers {
    let (ts, nonce) = ("1733000000", "nonce-1");
    vec![
        ("X-Lark-Request-Timestamp", ts.to_string()),
        ("X-Lark-Request-Nonce", nonce.to_string()),
        ("X-Lark-Signature", crypto::signature(ts, nonce, key, body)),
    ]
}

/// An `im.message.receive_v1` event (schema 2.0).
fn message(
    message_id: &str,
    open_id: &str,
    chat_id: &str,
    chat_type: &str,
    text: &str,
    mentions: Value,
) -> Value {
    json!({
        "schema": "2.0",
        "header": {
            "event_id": format!("ev_{message_id}"),
            "event_type": "im.message.receive_v1",
            "create_time": "1733000000000",
            "token": VERIFY_TOKEN,
            "app_id": APP_ID,
            "tenant_key": "tenant_1"
        },
        "event": {
            "sender": {
                "sender_id": {"open_id": open_id, "union_id": "on_1", "user_id": "u1"},
                "sender_type": "user",
                "tenant_key": "tenant_1"
            },
            "message": {
                "message_id": message_id,
                "root_id": "",
                "parent_id": "",
                "create_time": "1733000000000",
                "chat_id": chat_id,
                "chat_type": chat_type,
                "message_type": "text",
                "content": json!({"text": text}).to_string(),
                "mentions": mentions
            }
        }
    })
}

fn at_bot() -> Value {
    json!([{"key": "@_user_1", "id": {"open_id": BOT_OPEN_ID, "union_id": "on_b"}, "name": "继续教育小助手", "tenant_key": "tenant_1"}])
}

fn body_of(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_default()
}

/// The text inside a message request's `content` (a JSON string).
fn reply_text(r: &Request) -> String {
    let b = body_of(r);
    let content: Value =
        serde_json::from_str(b["content"].as_str().unwrap_or("")).unwrap_or_default();
    content["text"].as_str().unwrap_or("").to_string()
}

fn bearer(r: &Request) -> String {
    r.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_acknowledged_then_answered_by_reply_with_a_token_and_uuid() {
    let h = Harness::start().await;
    let (status, body) = h
        .post(&message(
            "om_q1",
            TEACHER,
            TEACHER_CHAT,
            "p2p",
            "每年继续教育要多少学时",
            json!([]),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let r = h.replies("om_q1", 1).await;
    assert_eq!(r.len(), 1);
    let text = reply_text(&r[0]);
    assert!(text.contains("90") && text.contains("依据："), "{text}");
    let b = body_of(&r[0]);
    assert_eq!(b["msg_type"], "text");
    let uuid = b["uuid"].as_str().unwrap_or("");
    assert!(!uuid.is_empty() && uuid.len() <= 50, "{b}");
    assert_eq!(bearer(&r[0]), "Bearer tenant-token-1-x");
    // The feedback buttons became numbered choices in the text.
    assert!(text.contains("[1]"), "{text}");
    h.stop().await;
}

/// The 200 does not wait for the answer: with the reply endpoint hanging,
/// the callback is still acknowledged. Stopped then, the message stays
/// stored, and the next start answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_before_answering_and_answered_after_a_restart() {
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/tenant_access_token/internal"))
        .respond_with(Tokens(Arc::new(AtomicUsize::new(0))))
        .mount(&slow)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"/reply$"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
        .mount(&slow)
        .await;
    let h = Harness::start_with(slow).await;
    let ev = message(
        "om_slow",
        TEACHER,
        TEACHER_CHAT,
        "p2p",
        "咨询电话多少",
        json!([]),
    );
    let (status, _) = h.post(&ev).await;
    assert_eq!(status, 200);
    // The answer is on its way (and hangs) when the service is stopped.
    assert_eq!(
        h.replies("om_slow", 1).await.len(),
        1,
        "the reply was tried"
    );
    let dir = h.stop().await;
    let store = crate::reopen(dir.path());
    assert_eq!(
        Inbox::open(&store, feishu::CHANNEL)
            .unwrap()
            .pending_count(),
        1,
        "still stored, not answered"
    );
    drop(store);
    let h = Harness::start_in(fake_api().await, dir).await;
    let r = h.replies("om_slow", 1).await;
    assert_eq!(r.len(), 1);
    assert!(
        reply_text(&r[0]).contains("0791-12333"),
        "{}",
        reply_text(&r[0])
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbered_choices_press_the_buttons_of_the_last_answer() {
    let h = Harness::start().await;
    let first = h.ask("om_c1", "学时").await;
    assert!(first.starts_with("您是想问："), "{first}");
    assert!(first.contains("[1]"), "{first}");
    let picked = h.ask("om_c2", "1").await;
    assert!(!picked.starts_with("您是想问："), "{picked}");
    assert!(
        picked.contains("依据："),
        "the first choice's answer: {picked}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_twice_is_answered_once() {
    let h = Harness::start().await;
    let ev = message(
        "om_dup",
        TEACHER,
        TEACHER_CHAT,
        "p2p",
        "咨询电话多少",
        json!([]),
    );
    assert_eq!(h.post(&ev).await.0, 200);
    assert_eq!(h.replies("om_dup", 1).await.len(), 1);
    // Feishu resends it (no 200 seen in time, say): 200 again, no answer.
    assert_eq!(h.post(&ev).await.0, 200);
    assert_eq!(h.post(&ev).await.0, 200);
    // Messages are answered in order: once the next one is answered, a
    // second answer to the first would have been sent.
    h.ask("om_after", "平台怎么登录").await;
    assert_eq!(
        h.requests("^/open-apis/im/v1/messages/om_dup/reply$")
            .await
            .len(),
        1
    );
    // Marked done just after its answer left.
    let pending = || {
        Inbox::open(&h.app.store, feishu::CHANNEL)
            .unwrap()
            .pending_count()
    };
    for _ in 0..1000 {
        if pending() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pending(), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_cached_and_fetched_again_before_it_expires() {
    let h = Harness::start().await;
    h.ask("om_t1", "公需课要学几个学时").await;
    h.ask("om_t2", "专业课最少多少学时").await;
    let tokens = "^/open-apis/auth/v3/tenant_access_token/internal$";
    assert_eq!(
        h.requests(tokens).await.len(),
        1,
        "cached for the second answer"
    );
    // 1 h 40 min later less than 30 minutes are left: a new token.
    h.clock.advance(chrono::Duration::minutes(100));
    h.ask("om_t3", "咨询电话多少").await;
    assert_eq!(h.requests(tokens).await.len(), 2);
    let r = h.replies("om_t3", 1).await;
    assert_eq!(bearer(&r[0]), "Bearer tenant-token-2-x");
    let r = h.replies("om_t2", 1).await;
    assert_eq!(bearer(&r[0]), "Bearer tenant-token-1-x");
    // Feishu calls the token invalid once: a new one, and the reply again.
    Mock::given(method("POST"))
        .and(path("/open-apis/im/v1/messages/om_t4/reply"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": 99991663, "msg": "Invalid access token"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.api)
        .await;
    h.ask_until("om_t4", "咨询电话多少", 2).await;
    assert_eq!(h.requests(tokens).await.len(), 3);
    let r = h.replies("om_t4", 2).await;
    assert_eq!(bearer(&r[0]), "Bearer tenant-token-2-x");
    assert_eq!(bearer(&r[1]), "Bearer tenant-token-3-x");
    assert_eq!(
        body_of(&r[0])["uuid"],
        body_of(&r[1])["uuid"],
        "the same message"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_groups_only_a_mention_is_answered_quoting_the_asker() {
    let h = Harness::start().await;
    let chatter = message(
        "om_g1",
        TEACHER,
        GROUP,
        "group",
        "每年要多少学时",
        json!([]),
    );
    assert_eq!(h.post(&chatter).await.0, 200);
    let other = json!([{"key": "@_user_1", "id": {"open_id": "ou_someone"}, "name": "张老师"}]);
    let to_someone = message(
        "om_g2",
        TEACHER,
        GROUP,
        "group",
        "@_user_1 每年要多少学时",
        other,
    );
    assert_eq!(h.post(&to_someone).await.0, 200);
    let asked = message(
        "om_g3",
        TEACHER,
        GROUP,
        "group",
        "@_user_1 每年要多少学时",
        at_bot(),
    );
    assert_eq!(h.post(&asked).await.0, 200);
    let r = h.replies("om_g3", 1).await;
    assert_eq!(r.len(), 1);
    let text = reply_text(&r[0]);
    assert!(text.contains("90"), "{text}");
    assert!(!text.contains("@_user_1"), "{text}");
    // Answered in order: the two before were seen and left alone.
    for id in ["om_g1", "om_g2"] {
        let p = format!("^/open-apis/im/v1/messages/{id}/reply$");
        assert!(h.requests(&p).await.is_empty(), "{id} answered");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_verification_plain_and_encrypted() {
    let h = Harness::start().await;
    let challenge =
        json!({"challenge": "ch-plain", "token": VERIFY_TOKEN, "type": "url_verification"});
    let (status, body) = h.post_raw(challenge.to_string().as_bytes(), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"challenge": "ch-plain"})
    );
    let challenge =
        json!({"challenge": "ch-enc", "token": VERIFY_TOKEN, "type": "url_verification"});
    let enc = encrypted(ENCRYPT_KEY, &challenge);
    // Unsigned (as Feishu's SDKs accept it) and signed.
    let (status, body) = h.post_raw(&enc, &[]).await;
    assert_eq!((status, body.as_str()), (200, r#"{"challenge":"ch-enc"}"#));
    let (status, _) = h.post_raw(&enc, &signed(ENCRYPT_KEY, &enc)).await;
    assert_eq!(status, 200);
    // Somebody else's token: refused, the challenge not echoed.
    let wrong = json!({"challenge": "ch-x", "token": "guess", "type": "url_verification"});
    let (status, body) = h.post_raw(wrong.to_string().as_bytes(), &[]).await;
    assert_eq!((status, body.as_str()), (401, ""));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_without_detail_and_nothing_is_processed() {
    let h = Harness::start().await;
    let ev = message(
        "om_bad",
        TEACHER,
        TEACHER_CHAT,
        "p2p",
        "每年要多少学时",
        json!([]),
    );
    let good = encrypted(ENCRYPT_KEY, &ev);
    let mut tampered = signed(ENCRYPT_KEY, &good);
    tampered[2].1 = crypto::signature("1733000000", "nonce-1", "wrong key", &good);
    let mut wrong_token = ev.clone();
    wrong_token["header"]["token"] = json!("guess");
    let wrong_token = encrypted(ENCRYPT_KEY, &wrong_token);
    let other_key = encrypted("not our key", &ev);
    let garbage = br#"{"encrypt":"bm90IGNpcGhlcnRleHQgYXQgYWxsISEhIQ=="}"#.to_vec();
    let plain = ev.to_string().into_bytes();
    let cases: Vec<(&str, Vec<u8>, Headers)> = vec![
        ("bad signature", good.clone(), tampered),
        ("signature headers missing", good.clone(), vec![]),
        (
            "one header missing",
            good.clone(),
            signed(ENCRYPT_KEY, &good)[1..].to_vec(),
        ),
        (
            "bad token",
            wrong_token.clone(),
            signed(ENCRYPT_KEY, &wrong_token),
        ),
        (
            "another key",
            other_key.clone(),
            signed(ENCRYPT_KEY, &other_key),
        ),
        (
            "not ciphertext",
            garbage.clone(),
            signed(ENCRYPT_KEY, &garbage),
        ),
        ("plain event", plain.clone(), signed(ENCRYPT_KEY, &plain)),
        ("not JSON", b"hello".to_vec(), signed(ENCRYPT_KEY, b"hello")),
    ];
    for (what, body, headers) in &cases {
        let (status, text) = h.post_raw(body, headers).await;
        assert_eq!((status, text.as_str()), (401, ""), "{what}");
    }
    let inbox = Inbox::open(&h.app.store, feishu::CHANNEL).unwrap();
    assert_eq!(inbox.pending_count(), 0);
    // The same message, properly sent, is new: nothing of it was stored.
    assert_eq!(h.post(&ev).await.0, 200);
    assert_eq!(h.replies("om_bad", 1).await.len(), 1);
    let all = h.requests("^/open-apis/im/v1/messages").await;
    assert_eq!(all.len(), 1, "only the good one answered");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_ok() {
    let h = Harness::start().await;
    let resp = h
        .http
        .get(format!("{}/healthz", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    // A client that sends half a request and holds on does not hold up
    // the stop for good.
    use tokio::io::AsyncWriteExt;
    let mut half = tokio::net::TcpStream::connect(h.url.trim_start_matches("http://"))
        .await
        .unwrap();
    half.write_all(b"POST /feishu/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    h.stop().await;
    drop(half);
}

/// `/remind on` privately, in a group by its manager as Feishu names
/// them, in a group Feishu says nothing about by a configured admin; then
/// the due reminder goes to each through the messages API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remind_on_then_the_due_reminder_is_sent_to_the_user_and_the_groups() {
    let h = Harness::start().await;
    let said = h.ask("om_r1", "/remind on").await;
    assert!(said.contains("提醒已开启"), "{said}");
    let not_admin = message(
        "om_r2",
        TEACHER,
        GROUP,
        "group",
        "@_user_1 /remind on",
        at_bot(),
    );
    assert_eq!(h.post(&not_admin).await.0, 200);
    let r = h.replies("om_r2", 1).await;
    assert_eq!(
        reply_text(&r[0]),
        jxjy_bot::conversation::texts::REMIND_ADMINS_ONLY
    );
    let admin = message(
        "om_r3",
        ADMIN,
        GROUP,
        "group",
        "@_user_1 /remind on",
        at_bot(),
    );
    assert_eq!(h.post(&admin).await.0, 200);
    let r = h.replies("om_r3", 1).await;
    assert!(
        reply_text(&r[0]).contains("提醒已开启"),
        "{}",
        reply_text(&r[0])
    );
    // Where Feishu names the group's managers, they decide, not the
    // configured admins.
    for (id, who, allowed) in [("om_r4", ADMIN, false), ("om_r5", MANAGER, true)] {
        let ev = message(id, who, MANAGED, "group", "@_user_1 /remind on", at_bot());
        assert_eq!(h.post(&ev).await.0, 200);
        let said = reply_text(&h.replies(id, 1).await[0]);
        assert_eq!(said.contains("提醒已开启"), allowed, "{who}: {said}");
    }
    let info = h
        .requests(&format!("^/open-apis/im/v1/chats/{MANAGED}$"))
        .await;
    assert_eq!(info[0].url.query(), Some("user_id_type=open_id"));
    // Seven days before the deadline, at 09:30.
    let now = crate::at("2024-12-24T09:30:00+08:00");
    h.clock.set(now);
    let outbox = Outbox {
        feishu: Some(h.client.clone()),
        ..Default::default()
    };
    let report = deliver_due(
        &h.app.store,
        &h.app.core.responder().kb().facts,
        &Schedule::default(),
        now,
        &outbox,
        &Options {
            batch: 16,
            stop: Stop::never(),
        },
    )
    .await
    .unwrap();
    assert_eq!(report.sent, 3, "{report:?}");
    let sent = h.requests("^/open-apis/im/v1/messages$").await;
    assert_eq!(sent.len(), 3);
    let to = |id: &str| {
        sent.iter()
            .find(|r| body_of(r)["receive_id"] == id)
            .unwrap_or_else(|| panic!("nothing to {id}"))
    };
    let teacher = to(TEACHER);
    assert_eq!(
        teacher.url.query(),
        Some("receive_id_type=open_id"),
        "{:?}",
        teacher.url
    );
    assert!(
        reply_text(teacher).contains("90学时"),
        "{}",
        reply_text(teacher)
    );
    let group = to(GROUP);
    assert_eq!(group.url.query(), Some("receive_id_type=chat_id"));
    assert!(reply_text(group).contains("还剩"), "{}", reply_text(group));
    assert!(!body_of(group)["uuid"].as_str().unwrap_or("").is_empty());
    // Sent once: a second check sends nothing more.
    let again = deliver_due(
        &h.app.store,
        &h.app.core.responder().kb().facts,
        &Schedule::default(),
        now,
        &outbox,
        &Options::batch(16),
    )
    .await
    .unwrap();
    assert_eq!(again.sent, 0, "{again:?}");
    h.stop().await;
}

fn config_file(dir: &std::path::Path, api: &MockServer) -> std::path::PathBuf {
    let p = dir.join("jxjy.toml");
    std::fs::write(
        &p,
        format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n\n[feishu]\napp_id = \"{APP_ID}\"\napi_base = \"{}\"\n",
            api.uri()
        ),
    )
    .unwrap();
    p
}

fn with_secrets(cmd: &mut std::process::Command, secret: &str) {
    cmd.env("FEISHU_APP_SECRET", secret)
        .env("FEISHU_VERIFICATION_TOKEN", VERIFY_TOKEN)
        .env("FEISHU_ENCRYPT_KEY", ENCRYPT_KEY)
        .env_remove("TELOXIDE_TOKEN");
}

/// The binary with Feishu alone (no Telegram token): it listens, answers
/// a callback, serves /healthz, stops on SIGTERM; no secret in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_only_feishu_answers_a_callback() {
    let api = fake_api().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &api);
    let mut cmd = std::process::Command::new(crate::bin());
    cmd.args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "debug");
    with_secrets(&mut cmd, APP_SECRET);
    let mut child = Logged::spawn(cmd);
    let addr = child.listener_addr().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let health = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ev = message(
        "om_bin",
        TEACHER,
        TEACHER_CHAT,
        "p2p",
        "咨询电话多少",
        json!([]),
    );
    let body = encrypted(ENCRYPT_KEY, &ev);
    let mut req = http
        .post(format!("http://{addr}{}", feishu::DEFAULT_PATH))
        .body(body.clone());
    for (k, v) in signed(ENCRYPT_KEY, &body) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status().as_u16(), 200);
    let mut answered = Vec::new();
    for _ in 0..1500 {
        answered = api
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == "/open-apis/im/v1/messages/om_bin/reply")
            .collect();
        if !answered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(answered.len(), 1, "{}", child.log());
    assert!(
        reply_text(&answered[0]).contains("0791-12333"),
        "{}",
        reply_text(&answered[0])
    );
    child.signal("-TERM");
    let exit = child.wait_exit(30).await;
    let log = child.log();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(
        log.contains(r#"channels=["feishu", "http"]"#) && log.contains("stopped"),
        "{log}"
    );
    assert!(log.contains("user=Some(\"feishu:ou_teacher_42\")"), "{log}");
    for secret in [APP_SECRET, VERIFY_TOKEN, ENCRYPT_KEY, "tenant-token-1-x"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feishu_check_reports_the_bot_or_the_rejected_credentials() {
    let api = fake_api().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &api);
    let run = |secret: &str| {
        let mut cmd = std::process::Command::new(crate::bin());
        cmd.args(["feishu", "check", "--config"]).arg(&config);
        with_secrets(&mut cmd, secret);
        cmd.output().unwrap()
    };
    let ok = run(APP_SECRET);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        out.contains("credentials: ok") && out.contains("继续教育小助手"),
        "{out}"
    );
    assert!(out.contains(BOT_OPEN_ID), "{out}");
    let bad = run("wrong-secret");
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(out.contains("FAILED") && out.contains("10014"), "{out}");
    assert!(!out.contains("wrong-secret"), "{out}");
    // No [feishu]: a clear error.
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let none = std::process::Command::new(crate::bin())
        .args(["feishu", "check", "--config"])
        .arg(&empty)
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("[feishu]"));
}

/// Feishu's refusals as the delivery path sees them: a bot removed from
/// the group (230002) stops that group's reminders; rejected app
/// credentials stop the run with that message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_removed_the_bot_and_rejected_credentials() {
    use jxjy_bot::store::{ChatKind, Store, Subscription};
    let now = crate::at("2024-12-24T09:30:00+08:00");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .put_subscriptions(&[Subscription {
            chat: fs(GROUP),
            kind: ChatKind::Group,
            active: true,
        }])
        .unwrap();
    let removed = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/tenant_access_token/internal"))
        .respond_with(Tokens(Arc::new(AtomicUsize::new(0))))
        .mount(&removed)
        .await;
    Mock::given(method("POST"))
        .and(path("/open-apis/im/v1/messages"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                json!({"code": 230002, "msg": "Bot/User can NOT be out of the chat."}),
            ),
        )
        .mount(&removed)
        .await;
    let clock = Arc::new(ManualClock::new(now));
    let outbox = |api: &MockServer| Outbox {
        feishu: Some(Arc::new(
            feishu::api(&config(api), clock.clone(), Arc::new(clock.clone())).unwrap(),
        )),
        ..Default::default()
    };
    let facts = &crate::responder().kb().facts;
    let run = |o: Outbox| {
        let store = store.clone();
        async move {
            deliver_due(
                &store,
                facts,
                &Schedule::default(),
                now,
                &o,
                &Options::batch(16),
            )
            .await
            .unwrap()
        }
    };
    let report = run(outbox(&removed)).await;
    assert_eq!((report.sent, report.blocked), (0, 1), "{report:?}");
    let sub = store.subscription(&fs(GROUP)).unwrap();
    assert!(sub.is_some_and(|s| !s.active), "the group's reminders stop");
    // Active again, and the app's secret rejected: nothing sent, the run
    // says why.
    store
        .put_subscriptions(&[Subscription {
            chat: fs("oc_other_group"),
            kind: ChatKind::Group,
            active: true,
        }])
        .unwrap();
    let rejected = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/tenant_access_token/internal"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"code": 10014, "msg": "app secret invalid"})),
        )
        .mount(&rejected)
        .await;
    let report = run(outbox(&rejected)).await;
    assert_eq!(report.sent, 0, "{report:?}");
    let fatal = report.fatal.unwrap_or_default();
    assert!(
        fatal.contains("10014") && fatal.contains("FEISHU_APP_SECRET"),
        "{fatal}"
    );
    assert!(!fatal.contains(APP_SECRET), "{fatal}");
}

/// A reply that hangs holds up its own chat only: another chat's question
/// is answered meanwhile (the first is still stored, not done).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_reply_holds_up_only_its_own_chat() {
    let api = fake_api().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/im/v1/messages/om_stuck/reply"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
        .with_priority(1)
        .mount(&api)
        .await;
    let h = Harness::start_with(api).await;
    let stuck = message(
        "om_stuck",
        TEACHER,
        TEACHER_CHAT,
        "p2p",
        "咨询电话多少",
        json!([]),
    );
    assert_eq!(h.post(&stuck).await.0, 200);
    assert_eq!(h.replies("om_stuck", 1).await.len(), 1, "its reply hangs");
    let other = message(
        "om_free",
        ADMIN,
        "oc_p2p_admin",
        "p2p",
        "咨询电话多少",
        json!([]),
    );
    assert_eq!(h.post(&other).await.0, 200);
    assert_eq!(h.replies("om_free", 1).await.len(), 1);
    let inbox = Inbox::open(&h.app.store, feishu::CHANNEL).unwrap();
    assert!(inbox.pending_count() >= 1, "the hanging one is not done");
    h.stop().await;
}

/// `remind send` reaches Feishu subscribers too, with no Telegram token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remind_send_reaches_feishu_users() {
    use jxjy_bot::store::{ChatKind, Store, Subscription};
    let api = fake_api().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &api);
    let data = dir.path().join("data");
    {
        let s = Store::open(&data).unwrap();
        s.put_subscriptions(&[Subscription {
            chat: fs(TEACHER),
            kind: ChatKind::Private,
            active: true,
        }])
        .unwrap();
        s.flush().unwrap();
    }
    let mut cmd = std::process::Command::new(crate::bin());
    cmd.args([
        "remind",
        "send",
        "--at",
        "2024-12-24T09:00+08:00",
        "--config",
    ])
    .arg(&config)
    .arg("--data-dir")
    .arg(&data);
    with_secrets(&mut cmd, APP_SECRET);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sent 1,"), "{stdout}");
    let sent: Vec<Request> = api
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == "/open-apis/im/v1/messages")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(body_of(&sent[0])["receive_id"], TEACHER);
    assert!(
        reply_text(&sent[0]).contains("90学时"),
        "{}",
        reply_text(&sent[0])
    );
}
