//! A fake Telegram Bot API on loopback (wiremock): scripted getUpdates,
//! every call recorded, getMe / getChatMember answered, and one-shot
//! injected faults per (method, chat): any status and JSON (429 with
//! retry_after, 403, migrate_to_chat_id, 5xx), an HTML error page, a
//! malformed body, an answer cut off mid-body (the connection breaks), or
//! an answer too late for the client's timeout. `start_strict` also
//! enforces Telegram's limits (30 messages a second overall, one a second
//! per chat, 20 a minute per group) and answers 429 past them.

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

pub const TOKEN: &str = "123456:FAKE-TOKEN-abcdef";
pub const BOT_ID: i64 = 999;
pub const BOT_USERNAME: &str = "jxjy_test_bot";

/// An injected answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// This status and JSON body.
    Json(u16, Value),
    /// This status and a non-JSON body (an HTML error page, a cut JSON).
    Raw(u16, String),
    /// The connection is reset (RST) once the request has arrived, with
    /// no answer: the fake then runs behind a TCP front (`start_front`).
    Reset,
    /// The normal answer, this late.
    Late(Duration),
}

#[derive(Default)]
struct State {
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    /// (method, chat id) -> answers to give before the normal one
    inject: HashMap<(String, i64), VecDeque<Fault>>,
    /// Updates handed out again whatever the offset (a lost confirmation).
    replays: VecDeque<Value>,
    /// Enforce Telegram's limits.
    strict: bool,
    /// sendMessage arrival times: overall, and per chat.
    overall: VecDeque<std::time::Instant>,
    per_chat: HashMap<i64, VecDeque<std::time::Instant>>,
    too_many: usize,
    /// Messages accepted, per chat.
    delivered: HashMap<i64, usize>,
    /// Highest offset any getUpdates asked for.
    max_offset: i64,
    /// (chat, user) -> "administrator" | "member" | "creator"
    members: HashMap<(i64, i64), &'static str>,
    /// For benchmarks, without copying every recorded request.
    first_get_updates: Option<std::time::Instant>,
    first_send: Option<std::time::Instant>,
    last_send: Option<std::time::Instant>,
    sends: usize,
}

/// Cheap counters of what the fake has seen.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    pub first_get_updates: Option<std::time::Instant>,
    /// Read by the benchmarks (the sustained rate).
    #[allow(dead_code)]
    pub first_send: Option<std::time::Instant>,
    pub last_send: Option<std::time::Instant>,
    pub sends: usize,
    /// 429s given by the strict limits.
    pub too_many: usize,
    pub max_offset: i64,
}

#[derive(Clone)]
pub struct FakeApi {
    pub server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
    front: Option<Arc<Front>>,
}

struct Handler(Arc<Mutex<State>>);

pub fn method_of(r: &Request) -> String {
    r.url.path().rsplit('/').next().unwrap_or("").to_lowercase()
}

pub fn body_of(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn chat_json(id: i64) -> Value {
    if id < 0 {
        json!({"id": id, "type": "group", "title": "教研室"})
    } else {
        json!({"id": id, "type": "private", "first_name": "老师"})
    }
}

fn user_json(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": "老师"})
}

fn ok(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": result}))
}

impl Respond for Handler {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let method = method_of(r);
        let body = body_of(r);
        let chat = body.get("chat_id").and_then(Value::as_i64).unwrap_or(0);
        let mut st = self.0.lock().unwrap();
        let mut late = None;
        if let Some(q) = st.inject.get_mut(&(method.clone(), chat))
            && let Some(fault) = q.pop_front()
        {
            match fault {
                Fault::Json(status, v) => return ResponseTemplate::new(status).set_body_json(v),
                Fault::Raw(status, body) => {
                    return ResponseTemplate::new(status)
                        .set_body_raw(body.into_bytes(), "text/html; charset=utf-8");
                }
                // The front resets before the request gets here; a fake
                // without one answers as a broken proxy would.
                Fault::Reset => return ResponseTemplate::new(502),
                Fault::Late(d) => late = Some(d),
            }
        }
        if method == "sendmessage" && st.strict {
            let now = std::time::Instant::now();
            let second = Duration::from_secs(1);
            st.overall.retain(|t| now - *t < second);
            let group = chat < 0;
            let window = if group {
                Duration::from_secs(60)
            } else {
                second
            };
            let q = st.per_chat.entry(chat).or_default();
            q.retain(|t| now - *t < window);
            let chat_full = q.iter().any(|t| now - *t < second) || (group && q.len() >= 20);
            if st.overall.len() >= 30 || chat_full {
                st.too_many += 1;
                return ResponseTemplate::new(429).set_body_json(json!({
                    "ok": false, "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1}}));
            }
            st.overall.push_back(now);
            st.per_chat.entry(chat).or_default().push_back(now);
        }
        let answer = self.normal(&mut st, &method, &body, chat);
        match late {
            Some(d) => answer.set_delay(d),
            None => answer,
        }
    }
}

impl Handler {
    fn normal(&self, st: &mut State, method: &str, body: &Value, chat: i64) -> ResponseTemplate {
        match method {
            "getme" => ok(json!({
                "id": BOT_ID, "is_bot": true, "first_name": "继续教育小助手",
                "username": BOT_USERNAME, "can_join_groups": true,
                "can_read_all_group_messages": false, "supports_inline_queries": false,
                "has_main_web_app": false
            })),
            "getupdates" => {
                st.first_get_updates
                    .get_or_insert_with(std::time::Instant::now);
                let offset = body.get("offset").and_then(Value::as_i64).unwrap_or(0);
                st.max_offset = st.max_offset.max(offset);
                // Telegram hands out at most `limit` (default 100) per call.
                let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(100) as usize;
                while st
                    .updates
                    .front()
                    .is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < offset)
                {
                    st.updates.pop_front();
                }
                let mut pending: Vec<Value> = st.replays.drain(..).collect();
                pending.extend(
                    st.updates
                        .iter()
                        .take(limit.clamp(1, 100).saturating_sub(pending.len()))
                        .cloned(),
                );
                if pending.is_empty() {
                    // Stand in for long polling without keeping tests waiting.
                    ok(json!([])).set_delay(Duration::from_millis(30))
                } else {
                    ok(Value::Array(pending))
                }
            }
            "sendmessage" => {
                st.next_message_id += 1;
                st.sends += 1;
                *st.delivered.entry(chat).or_default() += 1;
                st.first_send.get_or_insert_with(std::time::Instant::now);
                st.last_send = Some(std::time::Instant::now());
                ok(json!({
                    "message_id": st.next_message_id, "date": 1_700_000_000,
                    "chat": chat_json(chat),
                    "from": {"id": BOT_ID, "is_bot": true, "first_name": "继续教育小助手", "username": BOT_USERNAME},
                    "text": body.get("text").cloned().unwrap_or(json!(""))
                }))
            }
            "getchatmember" => {
                let user = body.get("user_id").and_then(Value::as_i64).unwrap_or(0);
                let status = st.members.get(&(chat, user)).copied().unwrap_or("member");
                let mut m = json!({"status": status, "user": user_json(user)});
                if status == "administrator" {
                    for k in [
                        "can_be_edited",
                        "is_anonymous",
                        "can_manage_chat",
                        "can_change_info",
                        "can_delete_messages",
                        "can_manage_video_chats",
                        "can_invite_users",
                        "can_restrict_members",
                        "can_promote_members",
                    ] {
                        m[k] = json!(false);
                    }
                    m["can_manage_chat"] = json!(true);
                }
                if status == "creator" {
                    m["is_anonymous"] = json!(false);
                }
                ok(m)
            }
            _ => ok(json!(true)),
        }
    }
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        FakeApi::start_with(false).await
    }

    /// A fake that enforces Telegram's limits and answers 429 past them.
    pub async fn start_strict() -> FakeApi {
        FakeApi::start_with(true).await
    }

    /// A fake behind a TCP front that can reset connections
    /// ([`Fault::Reset`]).
    pub async fn start_front() -> FakeApi {
        let mut api = FakeApi::start_with(false).await;
        let state = api.state.clone();
        let reset = move |path: &str, body: &[u8]| {
            let method = path.rsplit('/').next().unwrap_or("").to_lowercase();
            let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let chat = body.get("chat_id").and_then(Value::as_i64).unwrap_or(0);
            let mut st = state.lock().unwrap();
            let q = st.inject.get_mut(&(method, chat));
            match q {
                Some(q) if q.front() == Some(&Fault::Reset) => {
                    q.pop_front();
                    true
                }
                _ => false,
            }
        };
        api.front = Some(Arc::new(
            Front::start(*api.server.address(), Arc::new(reset)).await,
        ));
        api
    }

    async fn start_with(strict: bool) -> FakeApi {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            next_update_id: 1,
            strict,
            ..Default::default()
        }));
        Mock::given(any())
            .respond_with(Handler(state.clone()))
            .mount(&server)
            .await;
        FakeApi {
            server: Arc::new(server),
            state,
            front: None,
        }
    }

    pub fn url(&self) -> String {
        match &self.front {
            Some(f) => format!("http://{}/", f.addr),
            None => format!("{}/", self.server.uri()),
        }
    }

    /// `jxjy-bot ARGS --data-dir DIR` talking to this fake: token and API
    /// URL set, loopback excluded from any proxy, output discarded (callers
    /// override what they read).
    pub fn command(&self, args: &[&str], data_dir: &std::path::Path) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_jxjy-bot"));
        c.args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .env("TELOXIDE_TOKEN", TOKEN)
            .env("TELOXIDE_API_URL", self.url())
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("TELOXIDE_PROXY")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    }

    fn push(&self, mut update: Value) -> i64 {
        let mut st = self.state.lock().unwrap();
        let id = st.next_update_id;
        st.next_update_id += 1;
        update["update_id"] = json!(id);
        st.updates.push_back(update);
        id
    }

    fn message(chat: i64, user: i64, extra: Value) -> Value {
        let mut m = json!({
            "message_id": 10_000 + rand_id(), "date": 1_700_000_000,
            "chat": chat_json(chat), "from": user_json(user)
        });
        if let Value::Object(e) = extra {
            for (k, v) in e {
                m[k] = v;
            }
        }
        m
    }

    /// A text message from `user` in `chat` (negative: a group).
    pub fn text(&self, chat: i64, user: i64, text: &str) -> i64 {
        self.push(json!({"message": Self::message(chat, user, json!({"text": text}))}))
    }

    /// A message from an anonymous group administrator (posted as the group).
    pub fn anonymous_admin(&self, chat: i64, text: &str) -> i64 {
        let mut m = Self::message(chat, 1_087_968_824, json!({"text": text}));
        m["from"] = json!({"id": 1_087_968_824i64, "is_bot": true, "first_name": "Group", "username": "GroupAnonymousBot"});
        m["sender_chat"] = chat_json(chat);
        self.push(json!({"message": m}))
    }

    /// A message with any other content (sticker, location...).
    pub fn other(&self, chat: i64, user: i64, content: Value) -> i64 {
        self.push(json!({"message": Self::message(chat, user, content)}))
    }

    pub fn edited(&self, chat: i64, user: i64, text: &str) -> i64 {
        let mut m = Self::message(chat, user, json!({"text": text}));
        m["edit_date"] = json!(1_700_000_100);
        self.push(json!({"edited_message": m}))
    }

    /// A text message replying to one of the bot's messages.
    pub fn reply_to_bot(&self, chat: i64, user: i64, text: &str) -> i64 {
        let bot_msg = json!({
            "message_id": 1, "date": 1_700_000_000, "chat": chat_json(chat),
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "继续教育小助手", "username": BOT_USERNAME},
            "text": "……"
        });
        self.push(json!({"message": Self::message(chat, user, json!({"text": text, "reply_to_message": bot_msg}))}))
    }

    /// A tap on an inline button with `data` under a bot message in `chat`.
    pub fn callback(&self, chat: i64, user: i64, data: &str) -> i64 {
        let bot_msg = json!({
            "message_id": 1, "date": 1_700_000_000, "chat": chat_json(chat),
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "继续教育小助手"},
            "text": "……"
        });
        self.push(json!({"callback_query": {
            "id": format!("cb{}", rand_id()), "from": user_json(user), "chat_instance": "ci",
            "data": data, "message": bot_msg
        }}))
    }

    /// The group `chat` became supergroup `new`.
    pub fn migrate(&self, chat: i64, user: i64, new: i64) -> i64 {
        self.push(json!({"message": Self::message(chat, user, json!({"migrate_to_chat_id": new}))}))
    }

    pub fn counters(&self) -> Counters {
        let st = self.state.lock().unwrap();
        Counters {
            first_get_updates: st.first_get_updates,
            first_send: st.first_send,
            last_send: st.last_send,
            sends: st.sends,
            too_many: st.too_many,
            max_offset: st.max_offset,
        }
    }

    /// Messages accepted (not refused with 429), per chat.
    pub fn delivered(&self) -> HashMap<i64, usize> {
        self.state.lock().unwrap().delivered.clone()
    }

    pub fn set_member(&self, chat: i64, user: i64, status: &'static str) {
        self.state
            .lock()
            .unwrap()
            .members
            .insert((chat, user), status);
    }

    /// The next call of `method` (lower case) for `chat` answers this.
    pub fn inject(&self, method: &str, chat: i64, status: u16, body: Value) {
        self.fault(method, chat, Fault::Json(status, body));
    }

    /// The next call of `method` (lower case) for `chat` (0 for calls
    /// without one) meets this fault.
    pub fn fault(&self, method: &str, chat: i64, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .inject
            .entry((method.to_string(), chat))
            .or_default()
            .push_back(fault);
    }

    /// Hand out the update with this id again on the next getUpdates,
    /// whatever the offset (as if its confirmation had been lost).
    pub fn replay(&self, update: Value) {
        self.state.lock().unwrap().replays.push_back(update);
    }

    /// The update pushed with this id.
    pub fn text_update(chat: i64, user: i64, text: &str, id: i64) -> Value {
        json!({"update_id": id, "message": Self::message(chat, user, json!({"text": text}))})
    }

    pub fn inject_429(&self, chat: i64, retry_after: u64) {
        self.inject(
            "sendmessage",
            chat,
            429,
            json!({"ok": false, "error_code": 429,
                   "description": format!("Too Many Requests: retry after {retry_after}"),
                   "parameters": {"retry_after": retry_after}}),
        );
    }

    pub fn inject_403(&self, chat: i64) {
        self.inject(
            "sendmessage",
            chat,
            403,
            json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
        );
    }

    pub fn inject_migrate(&self, chat: i64, new: i64) {
        self.inject(
            "sendmessage",
            chat,
            400,
            json!({"ok": false, "error_code": 400,
                   "description": "Bad Request: group chat was upgraded to a supergroup chat",
                   "parameters": {"migrate_to_chat_id": new}}),
        );
    }

    pub async fn calls(&self, method: &str) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| method_of(r) == method)
            .map(body_of)
            .collect()
    }

    /// sendMessage bodies addressed to `chat`.
    pub async fn sent_to(&self, chat: i64) -> Vec<Value> {
        self.calls("sendmessage")
            .await
            .into_iter()
            .filter(|b| b["chat_id"].as_i64() == Some(chat))
            .collect()
    }

    /// Wait (up to `secs`) until `check` holds for the recorded calls.
    pub async fn wait_until<F>(&self, secs: u64, mut check: F) -> bool
    where
        F: FnMut(&[Request]) -> bool,
    {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            let reqs = self.server.received_requests().await.unwrap_or_default();
            if check(&reqs) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Wait until every scripted update was fetched and acknowledged and
    /// `n` messages went to `chat`.
    pub async fn wait_sent(&self, chat: i64, n: usize, secs: u64) -> Vec<Value> {
        self.wait_until(secs, |reqs| {
            reqs.iter()
                .filter(|r| {
                    method_of(r) == "sendmessage" && body_of(r)["chat_id"].as_i64() == Some(chat)
                })
                .count()
                >= n
        })
        .await;
        self.sent_to(chat).await
    }

    /// Wait until the bot acknowledged every update (asked for an offset
    /// past them), i.e. handled them.
    pub async fn wait_drained(&self, secs: u64) -> bool {
        let last = self.state.lock().unwrap().next_update_id - 1;
        self.wait_until(secs, |reqs| {
            reqs.iter().any(|r| {
                method_of(r) == "getupdates" && body_of(r)["offset"].as_i64().unwrap_or(0) > last
            })
        })
        .await
    }
}

fn rand_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static N: AtomicI64 = AtomicI64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Decides, from a request's path and body, whether to reset it.
pub type ResetRule = Arc<dyn Fn(&str, &[u8]) -> bool + Send + Sync>;

/// A TCP front for a loopback HTTP/1.1 server: forwards each request and
/// its answer (framed by Content-Length, as reqwest and wiremock send
/// them), or resets the connection (RST, no answer) when the rule says so.
pub struct Front {
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Front {
    pub async fn start(upstream: std::net::SocketAddr, reset: ResetRule) -> Front {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let reset = reset.clone();
                tokio::spawn(async move {
                    let _ = relay(client, upstream, reset).await;
                });
            }
        });
        Front { addr, task }
    }
}

/// One HTTP/1.1 message: head (through the blank line) and body.
async fn read_message<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let len = String::from_utf8_lossy(&head)
        .to_lowercase()
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    Ok(Some((head, body)))
}

async fn relay(
    client: tokio::net::TcpStream,
    upstream: std::net::SocketAddr,
    reset: ResetRule,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut client = tokio::io::BufReader::new(client);
    let mut up = tokio::io::BufReader::new(tokio::net::TcpStream::connect(upstream).await?);
    while let Some((head, body)) = read_message(&mut client).await? {
        let path =
            String::from_utf8_lossy(head.split(|b| *b == b' ').nth(1).unwrap_or(b"")).into_owned();
        if reset(&path, &body) {
            client.get_ref().set_zero_linger()?;
            return Ok(());
        }
        up.get_mut().write_all(&head).await?;
        up.get_mut().write_all(&body).await?;
        let Some((rhead, rbody)) = read_message(&mut up).await? else {
            return Ok(());
        };
        client.get_mut().write_all(&rhead).await?;
        client.get_mut().write_all(&rbody).await?;
    }
    Ok(())
}
