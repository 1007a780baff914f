//! WeCom 智能机器人 in HTTP callback mode end to end: WeCom's official
//! URL-check vector and encrypted, signed callbacks sent to the real HTTP
//! listener on loopback, run as `serve` runs it; and the binary (`serve`
//! with only `[wecom] mode = "callback"`).

use crate::Logged;
use jxjy_bot::clock::ManualClock;
use jxjy_bot::conversation::{Conversation, Incoming, Input, NoAdminInfo};
use jxjy_bot::delivery::Outbox;
use jxjy_bot::identity::{Channel, Identity};
use jxjy_bot::inbox::Inbox;
use jxjy_bot::live::LiveKb;
use jxjy_bot::reminders::Schedule;
use jxjy_bot::service::App;
use jxjy_bot::wecom::callback::{self, DEFAULT_PATH, ENV_AES_KEY, ENV_TOKEN};
use jxjy_bot::wecom::crypto::Crypto;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

// WeCom's official vector (doc path 90968; sbzhu/weworkapi_python
// callback/Sample.py): token, EncodingAESKey and the URL check. Its
// receiveid is a corp id; a 智能机器人's is empty, so the bot is set up
// with the corp's receiveid only where the vector itself goes through the
// route (see `the_official_url_check_vector_through_the_route`).
const TOKEN: &str = "QDG6eK";
const AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORP_ID: &str = "wx5823bf96d3bd56c7";
const GET_SIG: &str = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3";
const GET_TS: &str = "1409659589";
const GET_NONCE: &str = "263014780";
/// URL-encoded as WeCom sends it.
const ECHOSTR_ENCODED: &str = "P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D";
const TEACHER: &str = "zhangsan";
const GROUP: &str = "wrkSFfCgAAtest";

struct Harness {
    app: Arc<App>,
    url: String,
    http: reqwest::Client,
    /// The bot's crypto, as WeCom holds it (receiveid "").
    wecom: Crypto,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(Crypto::new(TOKEN, AES_KEY, "").unwrap()).await
    }

    async fn start_with(crypto: Crypto) -> Harness {
        Harness::start_in(crypto, tempfile::tempdir().unwrap()).await
    }

    /// On the data directory `dir` (kept by the harness).
    async fn start_in(crypto: Crypto, dir: tempfile::TempDir) -> Harness {
        let clock = Arc::new(ManualClock::new(crate::at("2024-12-20T10:00:00+08:00")));
        let live =
            LiveKb::load(&crate::shipped_kb_dir(), Default::default(), clock.clone()).unwrap();
        let store = crate::reopen(dir.path());
        let core = Conversation::new(
            Arc::new(live),
            Some(store.clone()),
            Schedule::default(),
            clock.clone(),
            Vec::new(),
        );
        let app = Arc::new(App {
            core,
            store,
            webhooks: Vec::new(),
        });
        let cfg = callback::Config {
            path: DEFAULT_PATH.into(),
            crypto: crypto.clone(),
        };
        let (route, front) = callback::channel(app.clone(), &cfg).unwrap();
        let listener = jxjy_bot::http::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("http://{}{DEFAULT_PATH}", listener.local_addr().unwrap());
        let fronts = vec![front, jxjy_bot::http::front(listener, vec![route])];
        let opts = jxjy_bot::service::Options {
            reminders: false,
            daily_backup: false,
            ..Default::default()
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(jxjy_bot::service::run(
            app.clone(),
            Outbox::default(),
            fronts,
            opts,
            async move {
                let _ = rx.await;
            },
        ));
        Harness {
            app,
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            wecom: crypto,
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

    /// POST `body` with this query string: status, content type, body.
    async fn post_raw(&self, query: &str, body: &[u8]) -> (u16, String, String) {
        let resp = self
            .http
            .post(format!("{}?{query}", self.url))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, ct, resp.text().await.unwrap())
    }

    /// As WeCom sends a callback: encrypted, signed; the response.
    async fn post(&self, plain: &Value) -> (u16, String) {
        let (ts, nonce) = ("1734660000", "n0nce42");
        let encrypt = self.wecom.encrypt(plain.to_string().as_bytes()).unwrap();
        let sig = self.wecom.signature(ts, nonce, &encrypt);
        let (status, _, body) = self
            .post_raw(
                &format!("msg_signature={sig}&timestamp={ts}&nonce={nonce}"),
                json!({ "encrypt": encrypt }).to_string().as_bytes(),
            )
            .await;
        (status, body)
    }

    /// The passive reply's plaintext, after checking its signature as
    /// WeCom does.
    fn open_reply(&self, body: &str) -> Value {
        let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
        let field = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("no {k}: {v}"));
        let plain = self
            .wecom
            .open(
                field("msgsignature"),
                field("timestamp"),
                field("nonce"),
                field("encrypt"),
            )
            .expect("the reply verifies and decrypts");
        serde_json::from_slice(&plain).unwrap()
    }

    fn asked_total(&self) -> u64 {
        self.app.store.asked().unwrap().iter().map(|(_, n)| n).sum()
    }

    fn pending(&self) -> usize {
        Inbox::open(&self.app.store, "wecom")
            .unwrap()
            .pending_count()
    }
}

fn wecom(id: &str) -> Identity {
    Identity::new(Channel::WeCom, id).unwrap()
}

fn text_message(msgid: &str, content: &str) -> Value {
    json!({
        "msgid": msgid, "aibotid": "AIBOTID", "chattype": "single",
        "from": {"userid": TEACHER}, "response_url": "https://example.invalid/r",
        "msgtype": "text", "text": {"content": content},
    })
}

fn stream_content(reply: &Value) -> String {
    assert_eq!(reply["msgtype"], "stream", "{reply}");
    assert_eq!(reply["stream"]["finish"], true, "{reply}");
    assert!(
        reply["stream"]["id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    reply["stream"]["content"].as_str().unwrap().to_string()
}

/// WeCom's own URL-check request (the official vector, URL-encoded as it
/// sends it) through the real route: the bare plaintext comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_url_check_vector_through_the_route() {
    // The vector was made for a corp app: its receiveid is the corp id.
    let h = Harness::start_with(Crypto::new(TOKEN, AES_KEY, CORP_ID).unwrap()).await;
    let get = |q: String| {
        let http = h.http.clone();
        let url = format!("{}?{q}", h.url);
        async move {
            let r = http.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (status, ct, r.text().await.unwrap())
        }
    };
    let (status, ct, body) = get(format!(
        "msg_signature={GET_SIG}&timestamp={GET_TS}&nonce={GET_NONCE}&echostr={ECHOSTR_ENCODED}"
    ))
    .await;
    assert_eq!((status, body.as_str()), (200, "1616140317555161061"));
    assert!(ct.starts_with("text/plain"), "{ct}");
    // A changed signature, timestamp, or a missing parameter: an empty 401.
    for q in [
        format!(
            "msg_signature=6{}&timestamp={GET_TS}&nonce={GET_NONCE}&echostr={ECHOSTR_ENCODED}",
            &GET_SIG[1..]
        ),
        format!(
            "msg_signature={GET_SIG}&timestamp=1409659590&nonce={GET_NONCE}&echostr={ECHOSTR_ENCODED}"
        ),
        format!("msg_signature={GET_SIG}&timestamp={GET_TS}&nonce={GET_NONCE}"),
        String::new(),
    ] {
        let (status, _, body) = get(q.clone()).await;
        assert_eq!((status, body.as_str()), (401, ""), "{q}");
    }
    h.stop().await;
    // The bot's own receiveid is empty: the corp's vector is refused.
    let bot = Harness::start().await;
    let r = bot
        .http
        .get(format!(
            "{}?msg_signature={GET_SIG}&timestamp={GET_TS}&nonce={GET_NONCE}&echostr={ECHOSTR_ENCODED}",
            bot.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.text().await.unwrap(), "");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_answered_in_the_encrypted_response() {
    let h = Harness::start().await;
    let (status, body) = h.post(&text_message("msg-q1", "咨询电话多少")).await;
    assert_eq!(status, 200, "{body}");
    let reply = h.open_reply(&body);
    let content = stream_content(&reply);
    assert!(content.contains("0791-12333"), "{content}");
    assert_eq!(h.pending(), 0);
    assert_eq!(h.asked_total(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_msgid_twice_is_handled_once_and_answered_the_same() {
    let h = Harness::start().await;
    let msg = text_message("msg-dup", "咨询电话多少");
    let (s1, b1) = h.post(&msg).await;
    let (s2, b2) = h.post(&msg).await;
    assert_eq!((s1, s2), (200, 200));
    // Encrypted afresh (new random bytes), the same answer inside.
    assert_ne!(b1, b2);
    let (r1, r2) = (h.open_reply(&b1), h.open_reply(&b2));
    assert_eq!(r1, r2);
    assert!(stream_content(&r1).contains("0791-12333"));
    // The core saw it once.
    assert_eq!(h.asked_total(), 1);
    // Another msgid with the same text is a new question.
    let (_, b3) = h.post(&text_message("msg-dup-2", "咨询电话多少")).await;
    assert_ne!(h.open_reply(&b3)["stream"]["id"], r1["stream"]["id"]);
    assert_eq!(h.asked_total(), 2);
    // After a restart the answer is no longer in memory: a redelivery gets
    // an empty 200 and is still not handled again.
    let dir = h.stop().await;
    let h = Harness::start_in(Crypto::new(TOKEN, AES_KEY, "").unwrap(), dir).await;
    let (status, body) = h.post(&msg).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(h.asked_total(), 2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_and_bodies_are_refused_without_detail_and_nothing_is_stored() {
    let h = Harness::start().await;
    let plain = text_message("msg-bad", "咨询电话多少").to_string();
    let encrypt = h.wecom.encrypt(plain.as_bytes()).unwrap();
    let sig = h.wecom.signature("1", "n", &encrypt);
    let body = json!({ "encrypt": encrypt }).to_string();
    // Encrypted for another bot (another key), correctly signed for ours.
    let other = Crypto::new(TOKEN, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "").unwrap();
    let foreign = other.encrypt(plain.as_bytes()).unwrap();
    let foreign_sig = h.wecom.signature("1", "n", &foreign);
    // Encrypted with our key for a corp app's receiveid.
    let corp = Crypto::new(TOKEN, AES_KEY, CORP_ID).unwrap();
    let corp_enc = corp.encrypt(plain.as_bytes()).unwrap();
    let corp_sig = h.wecom.signature("1", "n", &corp_enc);
    let cases: Vec<(String, Vec<u8>)> = vec![
        // Wrong signature, signature over another timestamp, none at all.
        (
            format!("msg_signature={}&timestamp=1&nonce=n", "0".repeat(40)),
            body.clone().into_bytes(),
        ),
        (
            format!("msg_signature={sig}&timestamp=2&nonce=n"),
            body.clone().into_bytes(),
        ),
        ("timestamp=1&nonce=n".into(), body.clone().into_bytes()),
        // Bodies: not JSON, no encrypt, encrypt not a string.
        (
            format!("msg_signature={sig}&timestamp=1&nonce=n"),
            b"not json".to_vec(),
        ),
        (
            format!("msg_signature={sig}&timestamp=1&nonce=n"),
            b"{}".to_vec(),
        ),
        (
            format!("msg_signature={sig}&timestamp=1&nonce=n"),
            br#"{"encrypt":5}"#.to_vec(),
        ),
        (
            format!("msg_signature={foreign_sig}&timestamp=1&nonce=n"),
            json!({ "encrypt": foreign }).to_string().into_bytes(),
        ),
        (
            format!("msg_signature={corp_sig}&timestamp=1&nonce=n"),
            json!({ "encrypt": corp_enc }).to_string().into_bytes(),
        ),
    ];
    for (q, b) in &cases {
        let (status, _, text) = h.post_raw(q, b).await;
        assert_eq!((status, text.as_str()), (401, ""), "{q}");
    }
    // Nothing stored, nothing asked: the good request is new afterwards.
    assert_eq!(h.asked_total(), 0);
    assert_eq!(h.pending(), 0);
    let (status, _, text) = h
        .post_raw(
            &format!("msg_signature={sig}&timestamp=1&nonce=n"),
            body.as_bytes(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(stream_content(&h.open_reply(&text)).contains("0791-12333"));
    assert_eq!(h.asked_total(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_chat_gets_the_welcome_and_a_number_presses_its_choice() {
    let h = Harness::start().await;
    let ev = json!({
        "msgid": "ev-enter-1", "aibotid": "AIBOTID", "from": {"userid": TEACHER},
        "msgtype": "event", "event": {"eventtype": "enter_chat"},
    });
    let (status, body) = h.post(&ev).await;
    assert_eq!(status, 200, "{body}");
    let reply = h.open_reply(&body);
    assert_eq!(reply["msgtype"], "text", "{reply}");
    let welcome = reply["text"]["content"].as_str().unwrap().to_string();
    // The core's /start, as the long connection sends it: numbered topics.
    let start = Incoming::private(wecom(TEACHER), Input::Text("/start".into()));
    let out = h.app.core.handle(&start, &NoAdminInfo).await.unwrap();
    assert_eq!(welcome, jxjy_bot::render::plain_output(&out));
    assert!(
        welcome.contains("继续教育小助手") && welcome.contains("[1]"),
        "{welcome}"
    );
    // Typing 1 presses the first choice: the same answer as the button.
    let button = jxjy_bot::render::Choices::of(&out).pick("1").unwrap();
    let pressed = Incoming::private(wecom(TEACHER), button);
    let expected =
        jxjy_bot::render::plain_output(&h.app.core.handle(&pressed, &NoAdminInfo).await.unwrap());
    let (_, body) = h.post(&text_message("msg-choice", "1")).await;
    assert_eq!(stream_content(&h.open_reply(&body)), expected);
    // Other events and stream refreshes: an empty 200.
    for ev in [
        json!({"msgid": "ev-2", "from": {"userid": TEACHER}, "msgtype": "event",
               "event": {"eventtype": "template_card_event"}}),
        json!({"msgid": "st-1", "from": {"userid": TEACHER}, "msgtype": "stream",
               "stream": {"id": "jxjy-1"}}),
    ] {
        let (status, body) = h.post(&ev).await;
        assert_eq!((status, body.as_str()), (200, ""), "{ev}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_group_the_mention_is_removed_and_the_group_is_the_chat() {
    let h = Harness::start().await;
    let in_group = |msgid: &str, user: &str, text: &str| {
        json!({
            "msgid": msgid, "aibotid": "AIBOTID", "chatid": GROUP, "chattype": "group",
            "from": {"userid": user}, "msgtype": "text", "text": {"content": text},
        })
    };
    let (status, body) = h
        .post(&in_group("msg-g1", TEACHER, "@小助手 咨询电话多少"))
        .await;
    assert_eq!(status, 200);
    assert!(stream_content(&h.open_reply(&body)).contains("0791-12333"));
    // The menu shown in the group is the group's: another member's "2"
    // presses its second choice.
    let (_, body) = h.post(&in_group("msg-g2", TEACHER, "@小助手 菜单")).await;
    let menu = stream_content(&h.open_reply(&body));
    let group = Incoming {
        chat: wecom(GROUP),
        kind: jxjy_bot::store::ChatKind::Group,
        user: Some(wecom(TEACHER)),
        input: Input::Text("菜单".into()),
        op: None,
        me: None,
        private_link: None,
    };
    let out = h.app.core.handle(&group, &NoAdminInfo).await.unwrap();
    assert_eq!(menu, jxjy_bot::render::plain_output(&out));
    assert!(menu.contains("[2]"), "{menu}");
    let pressed = Incoming {
        input: jxjy_bot::render::Choices::of(&out).pick("2").unwrap(),
        user: Some(wecom("lisi")),
        ..group
    };
    let expected =
        jxjy_bot::render::plain_output(&h.app.core.handle(&pressed, &NoAdminInfo).await.unwrap());
    let (_, body) = h.post(&in_group("msg-g3", "lisi", "@小助手 2")).await;
    assert_eq!(stream_content(&h.open_reply(&body)), expected);
    h.stop().await;
}

fn config_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("jxjy.toml");
    std::fs::write(
        &p,
        "[http]\nlisten = \"127.0.0.1:0\"\n\n[wecom]\nmode = \"callback\"\n",
    )
    .unwrap();
    p
}

/// The binary with WeCom's callback alone (no Telegram token): it
/// listens, passes the URL check, answers a question in its response,
/// stops on SIGTERM; neither secret in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_only_wecom_callback_answers_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let mut cmd = std::process::Command::new(crate::bin());
    cmd.args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "debug")
        .env(ENV_TOKEN, TOKEN)
        .env(ENV_AES_KEY, AES_KEY)
        .env_remove("TELOXIDE_TOKEN")
        .env_remove("WECOM_BOT_SECRET");
    let mut child = Logged::spawn(cmd);
    let addr = child.listener_addr().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("http://{addr}{DEFAULT_PATH}");
    // A URL check as WeCom makes one for this bot (receiveid "").
    let wecom = Crypto::new(TOKEN, AES_KEY, "").unwrap();
    let echostr = wecom.encrypt(b"8214537906655210031").unwrap();
    let sig = wecom.signature("1734660000", "77", &echostr);
    let r = http
        .get(&url)
        .query(&[
            ("msg_signature", sig.as_str()),
            ("timestamp", "1734660000"),
            ("nonce", "77"),
            ("echostr", echostr.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "8214537906655210031");
    // A question.
    let plain = text_message("msg-bin", "咨询电话多少").to_string();
    let encrypt = wecom.encrypt(plain.as_bytes()).unwrap();
    let sig = wecom.signature("1734660001", "78", &encrypt);
    let r = http
        .post(&url)
        .query(&[
            ("msg_signature", sig.as_str()),
            ("timestamp", "1734660001"),
            ("nonce", "78"),
        ])
        .body(json!({ "encrypt": encrypt }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    let reply = wecom
        .open(
            &s("msgsignature"),
            &s("timestamp"),
            &s("nonce"),
            &s("encrypt"),
        )
        .unwrap();
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert!(stream_content(&reply).contains("0791-12333"), "{reply}");
    child.signal("-TERM");
    let exit = child.wait_exit(30).await;
    let log = child.log();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(
        log.contains(r#"channels=["wecom", "http"]"#) && log.contains("stopped"),
        "{log}"
    );
    assert!(log.contains("user=wecom:zhangsan"), "{log}");
    for secret in [TOKEN, AES_KEY] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

/// A callback stored by a run that stopped before answering it cannot be
/// answered (its HTTP request is gone, and there is no push): marked done
/// at start, and its redelivery gets an empty 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_left_by_the_last_run_are_marked_done_unanswered() {
    let dir = tempfile::tempdir().unwrap();
    let msg = text_message("msg-left", "咨询电话多少");
    {
        let store = crate::reopen(dir.path());
        let inbox = Inbox::open(&store, "wecom").unwrap();
        let payload = json!({"cmd": "aibot_msg_callback", "req_id": "msg-left", "body": msg});
        assert_eq!(
            inbox.put(vec![("msg-left".into(), payload)]).unwrap().len(),
            1
        );
        store.sync().unwrap();
    }
    let h = Harness::start_in(Crypto::new(TOKEN, AES_KEY, "").unwrap(), dir).await;
    for _ in 0..1000 {
        if h.pending() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.pending(), 0);
    let (status, body) = h.post(&msg).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(h.asked_total(), 0);
    h.stop().await;
}
