//! WeCom (企业微信) 智能机器人 over its long connection: one outbound
//! WebSocket (no public IP needed) that both receives the teachers'
//! messages and carries our answers and reminders.
//!
//! Protocol (learnt from the official SDK WecomTeam/aibot-node-sdk,
//! `src/ws.ts`, `src/client.ts`, `src/types/*.ts`; doc path 101463): JSON
//! text frames `{cmd, headers:{req_id}, body}`. We send `aibot_subscribe`
//! (bot id and secret) first, then `ping` every 30 s; WeCom answers each
//! of our frames with `{headers:{req_id}, errcode, errmsg}` (same req_id).
//! It sends `aibot_msg_callback` (a message) and `aibot_event_callback`
//! (`enter_chat`, `template_card_event`, `disconnected_event`, ...). An
//! answer is `aibot_respond_msg` with the callback's req_id (a finished
//! `stream`), a welcome is `aibot_respond_welcome_msg`, and a push (our
//! reminders) is `aibot_send_msg {chatid, msgtype:"markdown"}` under a
//! req_id of our own.
//!
//! Callbacks are stored in the [`Inbox`] (channel "wecom", keyed by the
//! callback's msgid, else its req_id) before they are handled, handled
//! once, in order per chat; a redelivered one is dropped. The connection
//! is reopened with backoff after errors; a `disconnected_event` (another
//! process connected with the same bot) is logged and not fought: this
//! process stops receiving until it is restarted. While there is no live
//! connection, sends fail with [`SendError::Transient`].
//!
//! Every inbound frame is read from a `serde_json::Value` field by field:
//! a malformed one is logged (its size and kind, never its text) and
//! skipped. The secret is only ever written into the subscribe frame.

pub mod callback;
pub mod crypto;

use crate::clock::{Clock, Sleeper, Stop};
use crate::conversation::{self, Incoming, Input, Output};
use crate::delivery::{Address, SendError, Sender};
use crate::error::StoreError;
use crate::identity::{Channel, Identity};
use crate::inbox::{Inbox, Item};
use crate::limits::{Limiter, Limits};
use crate::render::ChoiceMemory;
use crate::service::{App, Front};
use crate::store::ChatKind;
use crate::telegram::Backoff;
use crate::workers::ChatWorkers;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// The inbox channel of WeCom callbacks.
pub const CHANNEL: &str = "wecom";
/// WeCom's long-connection endpoint (the SDK's default).
pub const DEFAULT_URL: &str = "wss://openws.work.weixin.qq.com";
/// Where the secret is read from unless `secret_env` says otherwise.
pub const DEFAULT_SECRET_ENV: &str = "WECOM_BOT_SECRET";
/// A stream reply's content is at most 20,480 bytes (SDK `StreamReplyBody`).
pub const MAX_CONTENT_BYTES: usize = 20_000;
/// Tries after the first for an answer that was certainly not sent.
const ANSWER_RETRIES: u32 = 4;
/// WeCom: "invalid req_id" (the callback's req_id is no longer answerable).
const INVALID_REQ_ID: i64 = 846_605;

/// WeCom publishes no rate limit for the AI bot's long connection: the
/// group robots' documented 20 a minute per chat, and 20 a second in all,
/// are kept as a conservative stand-in.
const PER_CHAT: &Limits = &[(Duration::from_secs(60), 20)];
const OVERALL: &Limits = &[(Duration::from_secs(1), 20)];

/// The bot's secret: shown nowhere (Debug prints stars).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `[wecom]` of jxjy.toml, resolved (the secret read from the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub bot_id: String,
    pub secret: Secret,
    /// The environment variable the secret came from (for messages).
    pub secret_env: String,
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Required for the long connection; the callback does not use it.
    bot_id: Option<String>,
    /// "long_connection" (the default) or "callback" ([`callback`]).
    mode: Option<String>,
    /// The callback's route; defaults to [`callback::DEFAULT_PATH`].
    path: Option<String>,
    /// Defaults to [`DEFAULT_SECRET_ENV`].
    secret_env: Option<String>,
    /// For tests and private deployments; defaults to [`DEFAULT_URL`].
    url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: [wecom]: {message}")]
    Parse { file: String, message: String },
}

/// `[wecom]`: the bot over the long connection or over the HTTP callback.
#[derive(Debug, Clone)]
pub enum Mode {
    LongConnection(Config),
    Callback(callback::Config),
}

/// The `[wecom]` table read from the file `file`, if there is one, in
/// the mode it names, with its secrets from `env`.
pub fn from_table(
    table: Option<toml::Value>,
    file: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Mode>, ConfigError> {
    let file = file.display().to_string();
    let err = |message: String| ConfigError::Parse {
        file: file.clone(),
        message,
    };
    let Some(v) = table else {
        return Ok(None);
    };
    // toml's own message quotes no value.
    let raw = RawConfig::deserialize(v).map_err(|e| err(e.message().to_string()))?;
    let mode = if callback_mode(&raw).map_err(err)? {
        Mode::Callback(callback::from_raw(raw, &err, env)?)
    } else {
        Mode::LongConnection(long_connection(raw, &err, env)?)
    };
    Ok(Some(mode))
}

/// `[wecom]` for the long connection.
fn long_connection(
    raw: RawConfig,
    err: &impl Fn(String) -> ConfigError,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    if raw.path.is_some() {
        return Err(err("path is for mode = \"callback\" only".into()));
    }
    let bot_id = raw.bot_id.as_deref().unwrap_or("").trim().to_string();
    if bot_id.is_empty() {
        return Err(err("bot_id is empty".into()));
    }
    let secret_env = raw
        .secret_env
        .unwrap_or_else(|| DEFAULT_SECRET_ENV.to_string());
    let secret = env(&secret_env)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            err(format!(
                "the environment variable {secret_env} (the bot's secret) is not set"
            ))
        })?;
    let url = raw.url.unwrap_or_else(|| DEFAULT_URL.to_string());
    if !(url.starts_with("wss://") || url.starts_with("ws://")) {
        return Err(err(format!("url '{url}' is not a ws:// or wss:// URL")));
    }
    Ok(Config {
        bot_id,
        secret: Secret::new(secret.trim()),
        secret_env,
        url,
    })
}

/// Whether `[wecom]` asks for the HTTP callback instead of the long
/// connection.
fn callback_mode(raw: &RawConfig) -> Result<bool, String> {
    match raw.mode.as_deref().map(str::trim) {
        None | Some("long_connection") => Ok(false),
        Some("callback") => Ok(true),
        Some(other) => Err(format!(
            "mode '{other}' is neither \"long_connection\" (the default) nor \"callback\""
        )),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WeComError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error(
        "WeCom refused to subscribe bot {bot_id}: errcode {errcode} ({errmsg}); check bot_id in jxjy.toml and the secret in {secret_env}"
    )]
    Rejected {
        bot_id: String,
        secret_env: String,
        errcode: i64,
        errmsg: String,
    },
    #[error("no answer to the subscription within {0:?}")]
    NoAnswer(Duration),
    #[error("the connection closed: {0}")]
    Closed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Timings; tests shorten them.
#[derive(Debug, Clone)]
pub struct Options {
    /// Between our pings (WeCom asks for one every 30 s).
    pub ping_every: Duration,
    /// Pings in a row without an answer before the connection counts as dead.
    pub missed_pings: u32,
    /// Longest wait for WeCom's answer to one of our frames.
    pub ack_timeout: Duration,
    /// Longest wait to connect and subscribe.
    pub connect_timeout: Duration,
    /// Between reconnections (doubling after each failure).
    pub backoff: Backoff,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ping_every: Duration::from_secs(30),
            missed_pings: 2,
            ack_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(20),
            backoff: Backoff {
                first: Duration::from_secs(1),
                tries: 0,
                max: Duration::from_secs(60),
            },
        }
    }
}

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connecting,
    Subscribed,
    /// Another connection took the bot over (`disconnected_event`).
    TakenOver,
    Stopped,
}

/// WeCom's answer to one of our frames.
#[derive(Debug, Clone)]
struct Ack {
    errcode: i64,
    errmsg: String,
}

/// The live connection, as senders see it.
struct Live {
    id: u64,
    out: mpsc::UnboundedSender<Message>,
}

/// The WeCom client: the connection's state, shared by the receiving loop
/// ([`WeCom::run`]) and every sender (answers, reminders).
pub struct WeCom {
    cfg: Config,
    opts: Options,
    live: Mutex<Option<Live>>,
    /// Our frames waiting for WeCom's answer, by req_id.
    pending: Mutex<HashMap<String, oneshot::Sender<Ack>>>,
    state: Mutex<State>,
    limiter: Limiter,
    seq: AtomicU64,
    /// The numbered choices last shown in each chat.
    choices: ChoiceMemory,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One inbound frame, read defensively.
#[derive(Debug, Clone, PartialEq)]
struct Frame {
    cmd: Option<String>,
    req_id: Option<String>,
    body: Value,
    errcode: Option<i64>,
    errmsg: String,
}

impl Frame {
    fn parse(text: &str) -> Option<Frame> {
        let v: Value = serde_json::from_str(text).ok()?;
        let obj = v.as_object()?;
        Some(Frame {
            cmd: obj.get("cmd").and_then(Value::as_str).map(str::to_string),
            req_id: obj
                .get("headers")
                .and_then(|h| h.get("req_id"))
                .and_then(Value::as_str)
                .map(str::to_string),
            body: obj.get("body").cloned().unwrap_or(Value::Null),
            errcode: obj.get("errcode").and_then(Value::as_i64),
            errmsg: obj
                .get("errmsg")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
        })
    }
}

impl Frame {
    /// Its cmd and kind (event or message type), never its content.
    fn kind(&self) -> String {
        let kind = str_at(&self.body, &["event", "eventtype"])
            .or_else(|| str_at(&self.body, &["msgtype"]))
            .unwrap_or("-");
        format!("{} ({kind})", self.cmd.as_deref().unwrap_or("answer"))
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// How one session on the connection ended.
enum End {
    Stopped,
    TakenOver,
    /// Closed or dead; reconnect.
    Dropped(String),
}

/// What `wecom check` saw.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub url: String,
    pub bot_id: String,
    /// Our ping was answered.
    pub ping_answered: bool,
    /// Frames WeCom sent meanwhile: their cmd and kind, no content.
    pub seen: Vec<String>,
}

impl WeCom {
    pub fn new(
        cfg: Config,
        opts: Options,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> WeCom {
        WeCom {
            cfg,
            opts,
            live: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            state: Mutex::new(State::Connecting),
            limiter: Limiter::new(clock, sleeper, OVERALL),
            seq: AtomicU64::new(0),
            choices: ChoiceMemory::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn state(&self) -> State {
        *lock(&self.state)
    }

    fn set_state(&self, s: State) {
        *lock(&self.state) = s;
    }

    /// A req_id of ours: "<cmd>_<pid>_<n>", unique within the process and
    /// unlikely to meet another process's.
    fn req_id(&self, cmd: &str) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{cmd}_{}_{n}", std::process::id())
    }

    fn frame(cmd: &str, req_id: &str, body: Value) -> Message {
        Message::text(json!({"cmd": cmd, "headers": {"req_id": req_id}, "body": body}).to_string())
    }

    /// Send a frame on the live connection and wait for WeCom's answer.
    async fn request(
        &self,
        cmd: &str,
        req_id: &str,
        body: Value,
        stop: &Stop,
    ) -> Result<(), SendError> {
        let (tx, rx) = oneshot::channel();
        {
            let live = lock(&self.live);
            let Some(live) = live.as_ref() else {
                return Err(SendError::Transient("WeCom is not connected".into()));
            };
            lock(&self.pending).insert(req_id.to_string(), tx);
            if live.out.send(Self::frame(cmd, req_id, body)).is_err() {
                lock(&self.pending).remove(req_id);
                return Err(SendError::Transient("the WeCom connection closed".into()));
            }
        }
        let outcome = tokio::select! {
            r = tokio::time::timeout(self.opts.ack_timeout, rx) => r,
            // Sent already: whether it arrived is not known.
            _ = stop.wait() => {
                lock(&self.pending).remove(req_id);
                return Err(SendError::Unknown("stopping before WeCom answered".into()));
            }
        };
        match outcome {
            Ok(Ok(ack)) => {
                if matches!(ack.errcode, 45009 | 45033) {
                    // WeCom said too fast: everything waits a minute.
                    self.limiter.pause("", Duration::from_secs(60));
                }
                classify(ack)
            }
            Ok(Err(_)) => Err(SendError::Unknown(
                "the connection closed before WeCom answered".into(),
            )),
            Err(_) => {
                lock(&self.pending).remove(req_id);
                Err(SendError::Unknown(format!(
                    "no answer from WeCom within {:?}",
                    self.opts.ack_timeout
                )))
            }
        }
    }

    /// Wait for our side of the rate limits for `chat`.
    async fn acquire(&self, chat: &str, stop: &Stop) -> Result<(), SendError> {
        self.limiter
            .acquire(chat, PER_CHAT, stop)
            .await
            .map_err(|_| SendError::Cancelled)
    }

    /// Push markdown to a user (their userid) or a group (its chatid).
    pub async fn send_markdown(
        &self,
        chatid: &str,
        content: &str,
        stop: &Stop,
    ) -> Result<(), SendError> {
        self.acquire(chatid, stop).await?;
        let body =
            json!({"chatid": chatid, "msgtype": "markdown", "markdown": {"content": content}});
        let req_id = self.req_id("aibot_send_msg");
        self.request("aibot_send_msg", &req_id, body, stop).await
    }

    /// Answer a callback (same req_id) with a finished stream message.
    async fn respond(
        &self,
        req_id: &str,
        chat: &str,
        content: &str,
        stop: &Stop,
    ) -> Result<(), SendError> {
        self.acquire(chat, stop).await?;
        let stream_id = self.req_id("stream");
        let body = json!({"msgtype": "stream", "stream": {"id": stream_id, "finish": true, "content": content}});
        self.request("aibot_respond_msg", req_id, body, stop).await
    }

    /// The welcome of `enter_chat` (same req_id), within WeCom's 5 s.
    async fn welcome(&self, req_id: &str, content: &str, stop: &Stop) -> Result<(), SendError> {
        let body = json!({"msgtype": "text", "text": {"content": content}});
        self.request("aibot_respond_welcome_msg", req_id, body, stop)
            .await
    }

    /// Receive and answer until stopped: connect, subscribe, handle
    /// callbacks through the inbox, reconnect with backoff after errors.
    /// A rejected subscription ends it with the error (the credentials
    /// are wrong: retrying cannot help); a take-over ends receiving.
    pub async fn run(self: Arc<Self>, app: Arc<App>, stop: Stop) -> anyhow::Result<()> {
        let inbox = Arc::new(Inbox::open(&app.store, CHANNEL)?);
        let mut workers = Workers::new(self.clone(), app, inbox.clone(), stop.clone());
        let pending = inbox.pending(None, usize::MAX)?;
        if !pending.is_empty() {
            tracing::info!(
                pending = pending.len(),
                "WeCom callbacks left from the last run are handled first"
            );
        }
        let mut leftovers = Some(pending);
        let mut failures = 0u32;
        let result = loop {
            if stop.is_set() {
                break Ok(());
            }
            self.set_state(State::Connecting);
            let end = match self.connect(&stop).await {
                Ok(Some((ws, early))) => {
                    failures = 0;
                    tracing::info!(bot_id = %self.cfg.bot_id, "WeCom subscribed");
                    self.set_state(State::Subscribed);
                    let left = leftovers.take().unwrap_or_default();
                    self.session(ws, early, left, &inbox, &mut workers, &stop)
                        .await
                }
                Ok(None) => End::Stopped,
                Err(e @ WeComError::Rejected { .. }) => break Err(e.into()),
                Err(e) => End::Dropped(e.to_string()),
            };
            match end {
                End::Stopped => break Ok(()),
                End::TakenOver => {
                    self.set_state(State::TakenOver);
                    tracing::error!(
                        "WeCom: another connection took this bot over (disconnected_event); \
                         this process no longer receives WeCom messages and does not reconnect. \
                         Run one `serve` per bot, and restart this one to take the bot back."
                    );
                    stop.wait().await;
                    break Ok(());
                }
                End::Dropped(why) => {
                    let wait = self.opts.backoff.nth(failures);
                    failures += 1;
                    tracing::warn!(
                        error = %why,
                        "WeCom connection lost; reconnecting in {:.1}s",
                        wait.as_secs_f64()
                    );
                    if stop.sleep(wait).await {
                        break Ok(());
                    }
                }
            }
        };
        self.set_state(State::Stopped);
        workers.queues.finish(Duration::from_secs(10)).await;
        result
    }

    /// Open the WebSocket and subscribe; with it, the callbacks that came
    /// before the subscription's answer. None: stopped meanwhile.
    async fn connect(&self, stop: &Stop) -> Result<Option<(Ws, Vec<Frame>)>, WeComError> {
        let timeout = self.opts.connect_timeout;
        let work = async {
            let (mut ws, _) = tokio_tungstenite::connect_async(self.cfg.url.as_str())
                .await
                .map_err(|e| WeComError::Connect {
                    url: self.cfg.url.clone(),
                    message: e.to_string(),
                })?;
            let req_id = self.req_id("aibot_subscribe");
            let body = json!({"bot_id": self.cfg.bot_id, "secret": self.cfg.secret.expose()});
            ws.send(Self::frame("aibot_subscribe", &req_id, body))
                .await
                .map_err(|e| WeComError::Closed(e.to_string()))?;
            let mut early = Vec::new();
            loop {
                let msg = match ws.next().await {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return Err(WeComError::Closed(e.to_string())),
                    None => return Err(WeComError::Closed("before the subscription".into())),
                };
                let text = match msg {
                    Message::Text(t) => t,
                    Message::Close(c) => {
                        return Err(WeComError::Closed(close_reason(c.as_ref())));
                    }
                    _ => continue,
                };
                let Some(f) = Frame::parse(&text) else {
                    tracing::warn!(bytes = text.len(), "unreadable WeCom frame skipped");
                    continue;
                };
                if f.req_id.as_deref() != Some(req_id.as_str()) {
                    // Kept: a message is not lost for arriving early.
                    if f.cmd.is_some() && early.len() < 1000 {
                        early.push(f);
                    }
                    continue;
                }
                return match f.errcode {
                    Some(0) => Ok((ws, early)),
                    code => Err(WeComError::Rejected {
                        bot_id: self.cfg.bot_id.clone(),
                        secret_env: self.cfg.secret_env.clone(),
                        errcode: code.unwrap_or(-1),
                        errmsg: f.errmsg,
                    }),
                };
            }
        };
        tokio::select! {
            r = tokio::time::timeout(timeout, work) => match r {
                Ok(r) => r.map(Some),
                Err(_) => Err(WeComError::NoAnswer(timeout)),
            },
            _ = stop.wait() => Ok(None),
        }
    }

    /// One subscribed connection: pings, our frames out, WeCom's in.
    async fn session(
        &self,
        ws: Ws,
        early: Vec<Frame>,
        leftovers: Vec<Item>,
        inbox: &Inbox,
        workers: &mut Workers,
        stop: &Stop,
    ) -> End {
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::unbounded_channel();
        let id = self.seq.fetch_add(1, Ordering::Relaxed);
        *lock(&self.live) = Some(Live { id, out });
        // Answers need the live connection: handed out once it is up.
        for item in leftovers {
            workers.dispatch(item);
        }
        let mut ticker = tokio::time::interval(self.opts.ping_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate; the first ping goes a period later.
        ticker.tick().await;
        let mut unanswered = 0u32;
        let mut early = std::collections::VecDeque::from(early);
        let end = loop {
            if let Some(f) = early.pop_front() {
                match self.callback(f, inbox, workers) {
                    Some(end) => break end,
                    None => continue,
                }
            }
            tokio::select! {
                _ = stop.wait() => {
                    let _ = sink.send(Message::Close(None)).await;
                    break End::Stopped;
                }
                _ = ticker.tick() => {
                    if unanswered >= self.opts.missed_pings {
                        break End::Dropped(format!("{unanswered} pings unanswered"));
                    }
                    unanswered += 1;
                    let ping = json!({"cmd": "ping", "headers": {"req_id": self.req_id("ping")}});
                    if let Err(e) = sink.send(Message::text(ping.to_string())).await {
                        break End::Dropped(e.to_string());
                    }
                }
                Some(m) = rx.recv() => {
                    if let Err(e) = sink.send(m).await {
                        break End::Dropped(e.to_string());
                    }
                }
                got = stream.next() => {
                    let text = match got {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(c))) => break End::Dropped(close_reason(c.as_ref())),
                        // Pongs to WebSocket pings are tungstenite's.
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => break End::Dropped(e.to_string()),
                        None => break End::Dropped("closed by WeCom".into()),
                    };
                    let Some(f) = Frame::parse(&text) else {
                        tracing::warn!(bytes = text.len(), "unreadable WeCom frame skipped");
                        continue;
                    };
                    match f.cmd.as_deref() {
                        Some("aibot_msg_callback" | "aibot_event_callback") => {
                            if let Some(end) = self.callback(f, inbox, workers) {
                                break end;
                            }
                        }
                        // Anything else is an answer to one of our frames
                        // (the SDK, too, tells them by req_id alone).
                        cmd => {
                            let Some(req_id) = f.req_id else {
                                tracing::warn!(?cmd, "WeCom frame without a req_id skipped");
                                continue;
                            };
                            if req_id.starts_with("ping") {
                                unanswered = 0;
                                if f.errcode.is_some_and(|c| c != 0) {
                                    tracing::warn!(errcode = ?f.errcode, errmsg = %f.errmsg, "WeCom answered a ping with an error");
                                }
                            } else if let Some(tx) = lock(&self.pending).remove(&req_id) {
                                let _ = tx.send(Ack {
                                    errcode: f.errcode.unwrap_or(-1),
                                    errmsg: f.errmsg,
                                });
                            } else {
                                tracing::debug!(%req_id, "WeCom answer to nothing we wait for");
                            }
                        }
                    }
                }
            }
        };
        // Senders see "not connected" from now; those waiting for an
        // answer on this connection learn it closed (outcome unknown).
        {
            let mut live = lock(&self.live);
            if live.as_ref().is_some_and(|l| l.id == id) {
                *live = None;
            }
        }
        lock(&self.pending).clear();
        end
    }

    /// A callback frame; Some when it ends the session (a take-over, or
    /// the inbox cannot store it).
    fn callback(&self, f: Frame, inbox: &Inbox, workers: &mut Workers) -> Option<End> {
        if f.cmd.as_deref() == Some("aibot_event_callback")
            && str_at(&f.body, &["event", "eventtype"]) == Some("disconnected_event")
        {
            return Some(End::TakenOver);
        }
        if !matches!(
            f.cmd.as_deref(),
            Some("aibot_msg_callback" | "aibot_event_callback")
        ) {
            tracing::debug!(cmd = ?f.cmd, "WeCom frame of an unknown kind skipped");
            return None;
        }
        match self.receive(f, inbox, workers) {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, "cannot store a WeCom callback");
                Some(End::Dropped(format!("inbox: {e}")))
            }
        }
    }

    /// A callback: stored (deduplicated) before it is handed to a worker.
    fn receive(&self, f: Frame, inbox: &Inbox, workers: &mut Workers) -> Result<(), StoreError> {
        let key = str_at(&f.body, &["msgid"])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| f.req_id.clone());
        let Some(key) = key else {
            tracing::warn!("WeCom callback without msgid or req_id skipped");
            return Ok(());
        };
        let payload = json!({"cmd": f.cmd, "req_id": f.req_id, "body": f.body});
        let new = inbox.put(vec![(key.clone(), payload)])?;
        if new.is_empty() {
            tracing::debug!(msgid = %key, "WeCom callback delivered again; handled once already");
        }
        for item in new {
            workers.dispatch(item);
        }
        Ok(())
    }

    /// Connect, subscribe, ping once, note what else arrives within
    /// `listen` (and wait for the ping's answer up to the usual time),
    /// and close: `jxjy-bot wecom check`.
    pub async fn check(&self, listen: Duration) -> Result<CheckReport, WeComError> {
        let stop = Stop::never();
        let Some((ws, early)) = self.connect(&stop).await? else {
            return Err(WeComError::Closed("stopped".into()));
        };
        let mut report = CheckReport {
            url: self.cfg.url.clone(),
            bot_id: self.cfg.bot_id.clone(),
            seen: early.iter().map(Frame::kind).collect(),
            ..Default::default()
        };
        let (mut sink, mut stream) = ws.split();
        let ping_id = self.req_id("ping");
        sink.send(Message::text(
            json!({"cmd": "ping", "headers": {"req_id": ping_id}}).to_string(),
        ))
        .await
        .map_err(|e| WeComError::Closed(e.to_string()))?;
        let start = tokio::time::Instant::now();
        let mut ping_settled = false;
        loop {
            // Listen `listen`, and for the ping's answer up to the usual wait.
            let until = match ping_settled {
                true => start + listen,
                false => start + listen.max(self.opts.ack_timeout),
            };
            let got = match tokio::time::timeout_at(until, stream.next()).await {
                Err(_) => break,
                Ok(got) => got,
            };
            let text = match got {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(c))) => {
                    report
                        .seen
                        .push(format!("closed: {}", close_reason(c.as_ref())));
                    break;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    report.seen.push(format!("error: {e}"));
                    break;
                }
                None => break,
            };
            let Some(f) = Frame::parse(&text) else {
                report
                    .seen
                    .push(format!("an unreadable frame ({} bytes)", text.len()));
                continue;
            };
            if f.cmd.is_none() && f.req_id.as_deref() == Some(ping_id.as_str()) {
                report.ping_answered = f.errcode == Some(0);
                ping_settled = true;
                if !report.ping_answered {
                    report.seen.push(format!(
                        "ping refused: errcode {:?} ({})",
                        f.errcode, f.errmsg
                    ));
                }
                continue;
            }
            report.seen.push(f.kind());
        }
        let _ = sink.send(Message::Close(None)).await;
        Ok(report)
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn close_reason(c: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match c {
        Some(c) => format!("closed by WeCom ({}: {})", u16::from(c.code), c.reason),
        None => "closed by WeCom".into(),
    }
}

/// WeCom's answer as a delivery outcome. Codes from WeCom's global error
/// list: -1 busy, 45009 / 45033 too many calls; 846605 invalid req_id.
fn classify(ack: Ack) -> Result<(), SendError> {
    let what = format!("errcode {} ({})", ack.errcode, ack.errmsg);
    match ack.errcode {
        0 => Ok(()),
        -1 => Err(SendError::Transient(format!("WeCom busy: {what}"))),
        45009 | 45033 => Err(SendError::Transient(format!("rate limited: {what}"))),
        INVALID_REQ_ID => Err(SendError::Refused(format!(
            "the callback can no longer be answered: {what}"
        ))),
        _ => Err(SendError::Refused(what)),
    }
}

impl Sender for WeCom {
    async fn send(&self, to: &Address, text: &str, stop: &Stop) -> Result<(), SendError> {
        match to {
            Address::Chat { chat, .. } if chat.channel() == Channel::WeCom => {
                self.send_markdown(chat.id(), text, stop).await
            }
            _ => Err(SendError::Refused(format!(
                "WeCom cannot reach {}",
                to.id()
            ))),
        }
    }

    fn serves(&self, channel: Channel) -> bool {
        channel == Channel::WeCom
    }
}

/// A group message's text without the leading @mentions (WeCom delivers
/// to the bot only the group messages that @ it).
pub fn strip_mentions(text: &str) -> String {
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix('@') {
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        rest = after[end..].trim_start();
    }
    rest.trim_end().to_string()
}

/// A callback as the core's message: who, where, what.
#[derive(Debug, Clone, PartialEq)]
enum Callback {
    Message {
        req_id: String,
        chat: Identity,
        kind: ChatKind,
        user: Identity,
        input: Input,
    },
    /// A user opened the bot's chat (one-to-one).
    EnterChat { req_id: String, user: Identity },
    /// Known but not for us (other events, unknown kinds).
    Ignored(String),
}

/// Read a stored callback; Err says what was wrong (no content in it).
fn read_callback(payload: &Value) -> Result<Callback, String> {
    let req_id = str_at(payload, &["req_id"]).ok_or("no req_id")?.to_string();
    let body = payload.get("body").ok_or("no body")?;
    let cmd = str_at(payload, &["cmd"]).unwrap_or("");
    if cmd == "aibot_event_callback" {
        return match str_at(body, &["event", "eventtype"]) {
            Some("enter_chat") => {
                let userid = str_at(body, &["from", "userid"]).ok_or("no from.userid")?;
                let user = Identity::new(Channel::WeCom, userid).map_err(|e| e.to_string())?;
                Ok(Callback::EnterChat { req_id, user })
            }
            Some(other) => Ok(Callback::Ignored(format!("event {other}"))),
            None => Err("an event without eventtype".into()),
        };
    }
    let userid = str_at(body, &["from", "userid"]).ok_or("no from.userid")?;
    let user = Identity::new(Channel::WeCom, userid).map_err(|e| e.to_string())?;
    let group = str_at(body, &["chattype"]) == Some("group");
    let (chat, kind) = if group {
        let chatid = str_at(body, &["chatid"]).ok_or("a group message without chatid")?;
        (
            Identity::new(Channel::WeCom, chatid).map_err(|e| e.to_string())?,
            ChatKind::Group,
        )
    } else {
        (user.clone(), ChatKind::Private)
    };
    let text = match str_at(body, &["msgtype"]) {
        Some("text") => str_at(body, &["text", "content"]).map(str::to_string),
        // Voice arrives already transcribed.
        Some("voice") => str_at(body, &["voice", "content"]).map(str::to_string),
        Some("mixed") => {
            let parts: Vec<&str> = body
                .get("mixed")
                .and_then(|m| m.get("msg_item"))
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| str_at(i, &["text", "content"]))
                        .collect()
                })
                .unwrap_or_default();
            (!parts.is_empty()).then(|| parts.join(" "))
        }
        _ => None,
    };
    let input = match text {
        Some(t) if group => Input::Text(strip_mentions(&t)),
        Some(t) => Input::Text(t.trim().to_string()),
        None => Input::Other,
    };
    Ok(Callback::Message {
        req_id,
        chat,
        kind,
        user: user.clone(),
        input,
    })
}

/// One worker per chat with work: a chat's callbacks in order, chats in
/// parallel (as [`crate::bot`] does for Telegram).
struct Workers {
    wecom: Arc<WeCom>,
    app: Arc<App>,
    inbox: Arc<Inbox>,
    stop: Stop,
    queues: ChatWorkers<String, Item>,
}

impl Workers {
    fn new(wecom: Arc<WeCom>, app: Arc<App>, inbox: Arc<Inbox>, stop: Stop) -> Workers {
        Workers {
            wecom,
            app,
            inbox,
            stop,
            queues: ChatWorkers::new("WeCom handlers"),
        }
    }

    fn dispatch(&mut self, item: Item) {
        let body = item.payload.get("body");
        let chat = body
            .and_then(|b| str_at(b, &["chatid"]).or_else(|| str_at(b, &["from", "userid"])))
            .unwrap_or("")
            .to_string();
        let (wecom, app, inbox, stop) = (&self.wecom, &self.app, &self.inbox, &self.stop);
        let queued = self.queues.dispatch(chat, item, || {
            let (wecom, app, inbox, stop) =
                (wecom.clone(), app.clone(), inbox.clone(), stop.clone());
            move |item: Item| {
                let (wecom, app, inbox, stop) =
                    (wecom.clone(), app.clone(), inbox.clone(), stop.clone());
                async move {
                    // Stopping: stays pending, handled after the restart.
                    if !stop.is_set() {
                        handle(&wecom, &app, &inbox, item, &stop).await;
                    }
                }
            }
        });
        if let Err(item) = queued {
            tracing::error!(id = %item.id, "a WeCom chat worker is gone; the callback stays pending");
        }
    }
}

/// Handle one stored callback and mark it done (also when it fails: one
/// that fails every time must not block its chat).
async fn handle(wecom: &WeCom, app: &App, inbox: &Inbox, item: Item, stop: &Stop) {
    match handle_one(wecom, app, &item, stop).await {
        Ok(()) => {}
        Err(HandleError::Stopping) => return,
        Err(HandleError::Other(e)) => {
            tracing::error!(id = %item.id, error = %e, "error handling a WeCom callback");
        }
    }
    if let Err(e) = inbox.done(&item) {
        tracing::error!(error = %e, "cannot mark a WeCom callback done");
    }
}

enum HandleError {
    Stopping,
    Other(String),
}

async fn handle_one(wecom: &WeCom, app: &App, item: &Item, stop: &Stop) -> Result<(), HandleError> {
    let cb = match read_callback(&item.payload) {
        Ok(cb) => cb,
        Err(why) => {
            tracing::warn!(id = %item.id, "malformed WeCom callback skipped: {why}");
            return Ok(());
        }
    };
    match cb {
        Callback::Ignored(what) => {
            tracing::debug!(id = %item.id, "WeCom {what} ignored");
            Ok(())
        }
        Callback::EnterChat { req_id, user } => {
            // The core's own greeting (/start: what the bot knows, its
            // topics as numbered choices); the terminal's intro names
            // terminal keys (/quit) a WeCom user does not have.
            let msg = Incoming::private(user.clone(), Input::Text("/start".into()));
            let out = app
                .core
                .handle(&msg, &conversation::NoAdminInfo)
                .await
                .map_err(|e| HandleError::Other(e.to_string()))?;
            wecom.choices.remember(&user, &out);
            let text = crate::render::plain_output(&out);
            match wecom.welcome(&req_id, &text, stop).await {
                Ok(()) => Ok(()),
                Err(SendError::Cancelled) => Err(HandleError::Stopping),
                Err(e) => {
                    // Late (WeCom allows 5 s) or refused: nothing to retry.
                    tracing::info!(error = %e, "WeCom welcome not delivered");
                    Ok(())
                }
            }
        }
        Callback::Message {
            req_id,
            chat,
            kind,
            user,
            input,
        } => {
            // A typed number presses the button it names.
            let input = match &input {
                Input::Text(t) => wecom.choices.press(&chat, t),
                _ => input,
            };
            let msg = Incoming {
                chat: chat.clone(),
                kind,
                user: Some(user),
                input,
                op: Some(item.op(CHANNEL)),
                me: None,
                private_link: None,
            };
            let out = app
                .core
                .handle(&msg, &conversation::NoAdminInfo)
                .await
                .map_err(|e| HandleError::Other(e.to_string()))?;
            if out.is_silent() {
                return Ok(());
            }
            wecom.choices.remember(&chat, &out);
            answer(wecom, app, &req_id, &chat, &out, stop).await
        }
    }
}

/// The core's output as one answer to the callback (long text: the rest
/// pushed to the chat after it). An answer WeCom refuses (its req_id
/// expired: a callback left from before a restart) is pushed instead.
async fn answer(
    wecom: &WeCom,
    app: &App,
    req_id: &str,
    chat: &Identity,
    out: &Output,
    stop: &Stop,
) -> Result<(), HandleError> {
    let text = crate::render::plain_output(out);
    let parts = crate::text::split_text(&text, MAX_CONTENT_BYTES, str::len);
    for (i, part) in parts.iter().enumerate() {
        let mut tries = 0;
        let r = loop {
            let r = if i == 0 {
                match wecom.respond(req_id, chat.id(), part, stop).await {
                    Err(SendError::Refused(e)) => {
                        tracing::info!(error = %e, "WeCom refused the answer to its callback; pushing it instead");
                        wecom.send_markdown(chat.id(), part, stop).await
                    }
                    r => r,
                }
            } else {
                wecom.send_markdown(chat.id(), part, stop).await
            };
            // Certainly not sent (no connection, busy): try again shortly,
            // on the next connection if need be.
            match r {
                Err(SendError::Transient(_)) if tries < ANSWER_RETRIES => {
                    let wait = wecom.opts.backoff.nth(tries);
                    tries += 1;
                    if stop.sleep(wait).await {
                        return Err(HandleError::Stopping);
                    }
                }
                r => break r,
            }
        };
        match r {
            Ok(()) => {}
            Err(SendError::Cancelled) => return Err(HandleError::Stopping),
            Err(e) => {
                tracing::error!(chat = %chat, error = %e, "WeCom answer not delivered");
                app.store
                    .answer_failed(&e.to_string())
                    .map_err(|e| HandleError::Other(e.to_string()))?;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// WeCom as a channel of the service.
pub fn front(wecom: Arc<WeCom>, app: Arc<App>) -> Front {
    Front {
        name: "wecom",
        inbox: Some(CHANNEL),
        start: Box::new(move |stop| Box::pin(wecom.run(app, stop))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_connection_is_the_default_mode_of_the_one_table() {
        let env = |v: &str| (v == "WX_S").then(|| " s3cret ".to_string());
        let parse = |text: &str| {
            let mut t: toml::Table = toml::from_str(text).unwrap();
            from_table(t.remove("wecom"), Path::new("j.toml"), env)
        };
        let Some(Mode::LongConnection(c)) =
            parse("[wecom]\nbot_id = \" b1 \"\nsecret_env = \"WX_S\"\n").unwrap()
        else {
            panic!("not the long connection");
        };
        assert_eq!((c.bot_id.as_str(), c.url.as_str()), ("b1", DEFAULT_URL));
        assert_eq!(c.secret, Secret::new("s3cret"));
        let e = parse("[wecom]\nbot_id = \"b1\"\n").unwrap_err().to_string();
        assert!(
            e.starts_with("j.toml: [wecom]") && e.contains(DEFAULT_SECRET_ENV),
            "{e}"
        );
        let e = parse("[wecom]\nbot_id = \"b1\"\nsecret_env = \"WX_S\"\npath = \"/w\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("path"), "{e}");
        assert!(parse("[school]\n").unwrap().is_none());
    }

    #[test]
    fn mentions_are_stripped_from_the_front_only() {
        assert_eq!(strip_mentions("@小助手 每年要多少学时"), "每年要多少学时");
        assert_eq!(strip_mentions("@小助手\u{2005}@张三 提醒 开"), "提醒 开");
        assert_eq!(strip_mentions("  问 @小助手 "), "问 @小助手");
        assert_eq!(strip_mentions("@小助手"), "");
    }

    #[test]
    fn malformed_frames_are_none_not_panics() {
        for t in [
            "",
            "null",
            "[]",
            "{",
            "\"x\"",
            "{\"headers\": 5}",
            "{\"cmd\": 7}",
        ] {
            let f = Frame::parse(t);
            assert!(f.is_none() || f.is_some_and(|f| f.cmd.is_none()), "{t}");
        }
        let f = Frame::parse(r#"{"headers":{"req_id":"r"},"errcode":0,"errmsg":"ok"}"#).unwrap();
        assert_eq!((f.req_id.as_deref(), f.errcode), (Some("r"), Some(0)));
    }

    #[test]
    fn callbacks_are_read_defensively() {
        let cb = |v: Value| read_callback(&v);
        let msg = json!({"cmd": "aibot_msg_callback", "req_id": "R", "body": {
            "msgid": "m", "chattype": "group", "chatid": "g1", "from": {"userid": "u1"},
            "msgtype": "text", "text": {"content": "@小助手 学时"}}});
        assert_eq!(
            cb(msg).unwrap(),
            Callback::Message {
                req_id: "R".into(),
                chat: "wecom:g1".parse().unwrap(),
                kind: ChatKind::Group,
                user: "wecom:u1".parse().unwrap(),
                input: Input::Text("学时".into()),
            }
        );
        let image = json!({"cmd": "aibot_msg_callback", "req_id": "R", "body": {
            "chattype": "single", "from": {"userid": "u1"}, "msgtype": "image"}});
        let voice = json!({"cmd": "aibot_msg_callback", "req_id": "R", "body": {
            "chattype": "single", "from": {"userid": "u1"}, "msgtype": "voice",
            "voice": {"content": " 每年要多少学时 "}}});
        assert!(matches!(
            cb(voice),
            Ok(Callback::Message { input: Input::Text(t), kind: ChatKind::Private, .. }) if t == "每年要多少学时"
        ));
        assert!(matches!(
            cb(image),
            Ok(Callback::Message {
                input: Input::Other,
                ..
            })
        ));
        for bad in [
            json!({}),
            json!({"req_id": "R"}),
            json!({"req_id": "R", "body": {"msgtype": "text"}}),
            json!({"req_id": "R", "body": {"from": {"userid": "a/b"}}}),
            json!({"req_id": "R", "body": {"chattype": "group", "from": {"userid": "u"}}}),
            json!({"req_id": "R", "cmd": "aibot_event_callback", "body": {"event": 3}}),
        ] {
            assert!(cb(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_are_classified() {
        let ack = |errcode| Ack {
            errcode,
            errmsg: "x".into(),
        };
        assert_eq!(classify(ack(0)), Ok(()));
        assert!(matches!(classify(ack(45009)), Err(SendError::Transient(_))));
        assert!(matches!(
            classify(ack(INVALID_REQ_ID)),
            Err(SendError::Refused(_))
        ));
    }

    #[test]
    fn the_secret_is_not_in_debug_output() {
        let c = Config {
            bot_id: "b".into(),
            secret: Secret::new("s3cr3t-value"),
            secret_env: DEFAULT_SECRET_ENV.into(),
            url: DEFAULT_URL.into(),
        };
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
    }
}
