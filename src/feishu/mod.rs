//! Feishu (飞书): a custom app's bot (企业自建应用) answering over the
//! event callback. Feishu POSTs events to our HTTP listener
//! ([`crate::http`]); each is verified first (the `X-Lark-Signature`
//! over the raw body, the Encrypt Key decryption, the verification token)
//! and a bad one refused with an empty 401. A message event
//! (`im.message.receive_v1`, schema 2.0) is stored in the durable
//! [`Inbox`] under its `message_id` and answered 200 at once (Feishu wants
//! 200 within 3 s and resends otherwise, for up to 7.1 hours: a resend is
//! stored once, so answered once). A worker hands stored messages to the
//! conversation core (a chat's in order, several chats at once) and
//! replies through the open API ([`api`]) with a `tenant_access_token`,
//! quoting the asker's message.
//!
//! In groups the bot answers only when @-mentioned (the `@_user_N`
//! placeholder is removed). Buttons become numbered choices in the text
//! ([`crate::render`]); the last ones shown in a chat are kept, so typing
//! the number presses one. A group's reminders are changed by its owner
//! and managers as Feishu names them, or by the configured admins when
//! Feishu cannot say (the app may not read group information).
//! Reminders reach subscribed users (by open_id) and groups (by chat_id)
//! through [`api::Api`] as a [`crate::delivery::Sender`].
//!
//! ```toml
//! [feishu]
//! app_id = "cli_a1b2c3"
//! # api_base = "https://open.feishu.cn"   # for tests or Lark
//! # path = "/feishu/events"
//! ```
//! Secrets from the environment: FEISHU_APP_SECRET,
//! FEISHU_VERIFICATION_TOKEN, FEISHU_ENCRYPT_KEY (all required).

pub mod api;
pub mod crypto;

use crate::clock::Stop;
use crate::conversation::{GroupAdmin, Incoming, Input};
use crate::error::StoreError;
use crate::identity::{Channel, Identity};
use crate::inbox::{Inbox, Item};
use crate::render::{self, ChoiceMemory};
use crate::service::{App, Front};
use crate::store::ChatKind;
use api::{Api, ApiError, Secret};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The inbox channel of Feishu messages (keyed by message_id).
pub const CHANNEL: &str = "feishu";
/// Where Feishu posts events, unless `path` says otherwise.
pub const DEFAULT_PATH: &str = "/feishu/events";
pub const DEFAULT_API: &str = "https://open.feishu.cn";
pub const ENV_SECRET: &str = "FEISHU_APP_SECRET";
pub const ENV_TOKEN: &str = "FEISHU_VERIFICATION_TOKEN";
pub const ENV_ENCRYPT_KEY: &str = "FEISHU_ENCRYPT_KEY";

// Feishu resends an event for up to 7.1 hours: the inbox must remember a
// message_id at least that long to answer it once.
const _: () = assert!(crate::service::INBOX_KEEP_HOURS * 10 >= 71);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    app_id: String,
    api_base: Option<String>,
    path: Option<String>,
}

/// `[feishu]` of jxjy.toml with its secrets from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub app_id: String,
    pub api_base: String,
    pub path: String,
    pub app_secret: Secret,
    pub verification_token: Secret,
    pub encrypt_key: Secret,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: [feishu]: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: [feishu] is configured but the environment variable {var} is not set")]
    Env { file: String, var: &'static str },
}

/// The `[feishu]` table read from the file `path`, if present, with its
/// secrets from `env`.
pub fn from_table(
    table: Option<toml::Value>,
    path: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Config>, ConfigError> {
    let file = path.display().to_string();
    let parse = |message: String| ConfigError::Parse {
        file: file.clone(),
        message,
    };
    let Some(v) = table else {
        return Ok(None);
    };
    let raw = Raw::deserialize(v).map_err(|e| parse(e.message().to_string()))?;
    let app_id = raw.app_id.trim().to_string();
    if app_id.is_empty() {
        return Err(parse("app_id is empty".into()));
    }
    let api_base = raw.api_base.unwrap_or_else(|| DEFAULT_API.to_string());
    if reqwest::Url::parse(&api_base).is_err() {
        return Err(parse(format!("api_base '{api_base}' is not a URL")));
    }
    let path = raw.path.unwrap_or_else(|| DEFAULT_PATH.to_string());
    if !path.starts_with('/') || path == "/" || path == crate::http::HEALTHZ {
        return Err(parse(format!(
            "path '{path}' must start with '/' and name its own route"
        )));
    }
    let secret = |var: &'static str| {
        env(var)
            .filter(|v| !v.trim().is_empty())
            .map(|v| Secret::new(v.trim()))
            .ok_or(ConfigError::Env {
                file: file.clone(),
                var,
            })
    };
    Ok(Some(Config {
        app_id,
        api_base,
        path,
        app_secret: secret(ENV_SECRET)?,
        verification_token: secret(ENV_TOKEN)?,
        encrypt_key: secret(ENV_ENCRYPT_KEY)?,
    }))
}

/// The open API client of a configuration.
pub fn api(
    cfg: &Config,
    clock: Arc<dyn crate::clock::Clock>,
    sleeper: Arc<dyn crate::clock::Sleeper>,
) -> Result<Api, reqwest::Error> {
    Api::new(
        &cfg.api_base,
        &cfg.app_id,
        cfg.app_secret.clone(),
        clock,
        sleeper,
    )
}

/// The Feishu channel: the callback's route and the worker answering what
/// it stored.
pub struct Feishu {
    app: Arc<App>,
    api: Arc<Api>,
    verification_token: Secret,
    encrypt_key: Secret,
    inbox: Inbox,
    wake: tokio::sync::Notify,
    /// The numbered choices last shown per chat.
    choices: ChoiceMemory,
    /// The bot's open_id, asked once (to see whether a group message
    /// mentions it).
    me: tokio::sync::Mutex<Option<String>>,
}

/// How long a message in hand may take to be answered after the stop
/// signal.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Messages answered at once, each of another chat.
const CONCURRENT: usize = 16;

/// A finished task's outcome.
fn joined(r: Result<Result<(), StoreError>, tokio::task::JoinError>) -> anyhow::Result<()> {
    match r {
        Ok(r) => Ok(r?),
        Err(e) => Err(anyhow::anyhow!("a Feishu answer task failed: {e}")),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The channel's callback route (for [`crate::http`]) and its worker (a
/// [`Front`] of the service).
pub fn channel(
    app: Arc<App>,
    api: Arc<Api>,
    cfg: &Config,
) -> Result<(axum::Router, Front), StoreError> {
    let inbox = Inbox::open(&app.store, CHANNEL)?;
    let ch = Arc::new(Feishu {
        app,
        api,
        verification_token: cfg.verification_token.clone(),
        encrypt_key: cfg.encrypt_key.clone(),
        inbox,
        wake: tokio::sync::Notify::new(),
        choices: ChoiceMemory::default(),
        me: tokio::sync::Mutex::new(None),
    });
    let router = axum::Router::new()
        .route(&cfg.path, axum::routing::post(events))
        .with_state(ch.clone());
    let front = Front {
        name: "feishu",
        inbox: Some(CHANNEL),
        start: Box::new(move |stop| Box::pin(async move { ch.work(stop).await })),
    };
    Ok((router, front))
}

/// What a verified request is.
#[derive(Debug)]
enum Verified {
    /// `url_verification`: echo the challenge.
    Challenge(String),
    /// An event (decrypted).
    Event(Value),
}

/// Why a request was refused: for our log, never for the caller.
type Refusal = &'static str;

/// A refusal tells the caller nothing.
fn refused() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

async fn events(
    State(ch): State<Arc<Feishu>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match ch.verify(&headers, &body) {
        Err(why) => {
            tracing::warn!(reason = why, "Feishu callback refused");
            refused()
        }
        Ok(Verified::Challenge(c)) => axum::Json(json!({ "challenge": c })).into_response(),
        Ok(Verified::Event(v)) => ch.accept(v),
    }
}

impl Feishu {
    /// Signature, decryption and token, before anything else is read.
    /// A url_verification may come unsigned (Feishu's SDKs do not check
    /// one there) and in plain text; an event must be signed and
    /// encrypted.
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, Refusal> {
        let key = self.encrypt_key.expose();
        let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let signed = match (
            h("x-lark-request-timestamp"),
            h("x-lark-request-nonce"),
            h("x-lark-signature"),
        ) {
            (Some(ts), Some(nonce), Some(sig)) => {
                let want = crypto::signature(ts, nonce, key, body);
                if !crypto::same(want.as_bytes(), sig.trim().to_ascii_lowercase().as_bytes()) {
                    return Err("bad signature");
                }
                true
            }
            (None, None, None) => false,
            _ => return Err("incomplete signature headers"),
        };
        let outer: Value = serde_json::from_slice(body).map_err(|_| "not JSON")?;
        let (plain, encrypted) = match outer.get("encrypt") {
            Some(Value::String(e)) => {
                let bytes = crypto::decrypt(key, e).map_err(|_| "does not decrypt")?;
                let v: Value =
                    serde_json::from_slice(&bytes).map_err(|_| "decrypted body not JSON")?;
                (v, true)
            }
            Some(_) => return Err("encrypt is not a string"),
            None => (outer, false),
        };
        let token = plain
            .pointer("/header/token")
            .or_else(|| plain.get("token"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !crypto::same(
            token.as_bytes(),
            self.verification_token.expose().as_bytes(),
        ) {
            return Err("bad verification token");
        }
        if plain.get("type").and_then(Value::as_str) == Some("url_verification") {
            let c = plain.get("challenge").and_then(Value::as_str).unwrap_or("");
            return Ok(Verified::Challenge(c.to_string()));
        }
        if !(signed && encrypted) {
            return Err("event not signed and encrypted");
        }
        Ok(Verified::Event(plain))
    }

    /// Store a verified event's message, then answer 200; a message seen
    /// before is not stored again.
    fn accept(&self, v: Value) -> Response {
        let ok = || (StatusCode::OK, axum::Json(json!({ "msg": "success" }))).into_response();
        let event_type = v.pointer("/header/event_type").and_then(Value::as_str);
        if v.get("schema").and_then(Value::as_str) != Some("2.0")
            || event_type != Some("im.message.receive_v1")
        {
            tracing::debug!(?event_type, "Feishu event ignored");
            return ok();
        }
        let Some(event) = v.get("event") else {
            return ok();
        };
        let id = event
            .pointer("/message/message_id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        let Some(id) = id else {
            tracing::warn!("Feishu message event without a message_id ignored");
            return ok();
        };
        match self.inbox.put(vec![(id.to_string(), event.clone())]) {
            Ok(new) => {
                if !new.is_empty() {
                    self.wake.notify_one();
                }
                ok()
            }
            Err(e) => {
                // Not stored: Feishu sends it again.
                tracing::error!(error = %e, "cannot store a Feishu message");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }

    /// Answer stored messages until stopped: a chat's in arrival order,
    /// up to [`CONCURRENT`] chats at once (a reply that hangs holds up
    /// only its own chat). On the stop signal nothing more is started and
    /// the messages in hand finish (or stay stored for the next start).
    async fn work(self: Arc<Self>, stop: Stop) -> anyhow::Result<()> {
        let pending = self.inbox.pending_count();
        if pending > 0 {
            tracing::info!(
                pending,
                "Feishu messages left from the last run are answered first"
            );
        }
        // Chats with a message in hand.
        let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut tasks: tokio::task::JoinSet<Result<(), StoreError>> = tokio::task::JoinSet::new();
        let result = 'run: loop {
            while let Some(r) = tasks.try_join_next() {
                if let Err(e) = joined(r) {
                    break 'run Err(e);
                }
            }
            if stop.is_set() {
                break Ok(());
            }
            let pending = match self.inbox.pending(None, 1024) {
                Ok(p) => p,
                Err(e) => break Err(e.into()),
            };
            for item in pending {
                if tasks.len() >= CONCURRENT {
                    break;
                }
                let chat = item
                    .payload
                    .pointer("/message/chat_id")
                    .and_then(Value::as_str)
                    .unwrap_or(&item.id)
                    .to_string();
                // Its chat's earlier message is in hand: this one waits.
                if !lock(&busy).insert(chat.clone()) {
                    continue;
                }
                let (ch, busy, stop) = (self.clone(), busy.clone(), stop.clone());
                tasks.spawn(async move {
                    let r = ch.answer(&item, &stop).await;
                    // A chat whose message could not be marked done stays
                    // busy: it must not be answered twice before the
                    // service stops on that error.
                    if r.is_ok() {
                        lock(&busy).remove(&chat);
                    }
                    ch.wake.notify_one();
                    r
                });
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = stop.wait() => {}
            }
        };
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = joined(r) {
                tracing::error!(error = %format!("{e:#}"), "a Feishu message could not be finished");
            }
        }
        result
    }

    /// One message answered and marked done; stopped halfway (past
    /// [`GRACE`] after the stop signal) it stays stored.
    async fn answer(&self, item: &Item, stop: &Stop) -> Result<(), StoreError> {
        let cut = async {
            stop.wait().await;
            tokio::time::sleep(GRACE).await;
        };
        let answered = tokio::select! {
            r = self.process(item, stop) => r,
            _ = cut => Err(Stopping),
        };
        match answered {
            Ok(()) => self.inbox.done(item),
            Err(Stopping) => Ok(()),
        }
    }

    /// The bot's open_id, asked of Feishu until it answers.
    async fn me(&self) -> Option<String> {
        let mut me = self.me.lock().await;
        if me.is_none() {
            match self.api.bot_info().await {
                Ok(info) => *me = Some(info.open_id),
                Err(e) => tracing::warn!(error = %e, "cannot ask Feishu for the bot's open_id"),
            }
        }
        me.clone()
    }

    /// One stored message: to the core, the answer back as a reply.
    async fn process(&self, item: &Item, stop: &Stop) -> Result<(), Stopping> {
        let ev: MessageEvent = match serde_json::from_value(item.payload.clone()) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(id = %item.id, error = %e, "unreadable Feishu message skipped");
                return Ok(());
            }
        };
        // Other bots and apps are not answered (two bots would talk forever).
        if ev.sender.sender_type != "user" {
            return Ok(());
        }
        let m = &ev.message;
        let Some(msg) = self.incoming(&ev, item).await else {
            return Ok(());
        };
        // Who wrote where: how an admin finds the open_id for JXJY_ADMINS.
        tracing::debug!(chat = %msg.chat, user = ?msg.user.as_ref().map(ToString::to_string), "Feishu message");
        let admin = FeishuAdmin {
            api: &self.api,
            chat_id: &m.chat_id,
            user: &ev.sender.sender_id.open_id,
        };
        let out = match self.app.core.handle(&msg, &admin).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(id = %item.id, error = %e, "error answering a Feishu message");
                return Ok(());
            }
        };
        if !out.messages.is_empty() {
            self.choices.remember(&msg.chat, &out);
        }
        if out.is_silent() {
            return Ok(());
        }
        let text = render::plain_output(&out);
        match self.api.reply(&m.chat_id, &m.message_id, &text, stop).await {
            Ok(()) => Ok(()),
            Err(ApiError::Cancelled) => Err(Stopping),
            Err(e) => {
                tracing::error!(chat = %msg.chat, error = %e, "Feishu answer not delivered");
                let recorded = match &e {
                    // Removed from the group: its reminders stop too.
                    ApiError::Unreachable { .. } => self.app.store.deactivate(&msg.chat),
                    _ => self.app.store.answer_failed(&e.to_string()),
                };
                if let Err(e) = recorded {
                    tracing::error!(error = %e, "cannot record a lost Feishu answer");
                }
                Ok(())
            }
        }
    }

    /// The core's message for a Feishu message; None when it is not for
    /// the bot (a group message that does not mention it).
    async fn incoming(&self, ev: &MessageEvent, item: &Item) -> Option<Incoming> {
        let m = &ev.message;
        let user = match Identity::new(Channel::Feishu, &ev.sender.sender_id.open_id) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "Feishu message from an unusable open_id skipped");
                return None;
            }
        };
        let private = m.chat_type == "p2p";
        let mut me = None;
        if !private {
            me = self.me().await;
            let mentioned = match &me {
                Some(id) => m.mentions.iter().any(|x| &x.id.open_id == id),
                // Feishu cannot say who the bot is: with the default
                // permission groups deliver only messages that @ it.
                None => !m.mentions.is_empty(),
            };
            if !mentioned {
                return None;
            }
        }
        let chat = if private {
            user.clone()
        } else {
            match Identity::new(Channel::Feishu, &m.chat_id) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "Feishu message from an unusable chat_id skipped");
                    return None;
                }
            }
        };
        let input = match text_of(m, me.as_deref()) {
            Some(text) => self.choices.press(&chat, &text),
            None => Input::Other,
        };
        Some(Incoming {
            chat,
            kind: if private {
                ChatKind::Private
            } else {
                ChatKind::Group
            },
            user: Some(user),
            input,
            op: Some(item.op(CHANNEL)),
            me: None,
            private_link: None,
        })
    }
}

/// Feishu's answer to "does the sender administer this group?": its
/// owner and managers do. When Feishu cannot say (the app lacks the
/// permission to read group information), the configured admins decide.
struct FeishuAdmin<'a> {
    api: &'a Api,
    chat_id: &'a str,
    user: &'a str,
}

impl GroupAdmin for FeishuAdmin<'_> {
    async fn check(&self) -> Result<Option<bool>, String> {
        match self.api.chat_admins(self.chat_id).await {
            Ok(ids) => Ok(Some(ids.iter().any(|id| id == self.user))),
            Err(e) => {
                tracing::warn!(error = %e, "Feishu cannot say who administers the group; the configured admins decide");
                Ok(None)
            }
        }
    }
}

/// The text of a text message, mention placeholders replaced: the bot's
/// removed, anyone else's by their name. None for other kinds.
fn text_of(m: &Message, me: Option<&str>) -> Option<String> {
    if m.message_type != "text" {
        return None;
    }
    let content: Value = serde_json::from_str(&m.content).ok()?;
    let mut text = content.get("text")?.as_str()?.to_string();
    // Longest keys first: "@_user_10" before "@_user_1".
    let mut mentions: Vec<&Mention> = m.mentions.iter().collect();
    mentions.sort_by_key(|x| std::cmp::Reverse(x.key.len()));
    for x in mentions.iter().filter(|x| !x.key.is_empty()) {
        let is_me = me.is_none_or(|id| x.id.open_id == id);
        let with = if is_me {
            " ".to_string()
        } else {
            format!("@{}", x.name)
        };
        text = text.replace(&x.key, &with);
    }
    Some(crate::text::single_spaced(&text))
}

/// The process is stopping: the message stays stored.
#[derive(Debug)]
struct Stopping;

#[derive(Debug, Deserialize)]
struct MessageEvent {
    sender: Sender,
    message: Message,
}

#[derive(Debug, Deserialize)]
struct Sender {
    sender_id: SenderId,
    #[serde(default)]
    sender_type: String,
}

#[derive(Debug, Default, Deserialize)]
struct SenderId {
    #[serde(default)]
    open_id: String,
}

#[derive(Debug, Deserialize)]
struct Message {
    message_id: String,
    chat_id: String,
    chat_type: String,
    message_type: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    mentions: Vec<Mention>,
}

#[derive(Debug, Deserialize)]
struct Mention {
    #[serde(default)]
    key: String,
    #[serde(default)]
    id: SenderId,
    #[serde(default)]
    name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    const ALL: &[(&str, &str)] = &[
        (ENV_SECRET, "s3cr3t-app"),
        (ENV_TOKEN, "t0ken-v"),
        (ENV_ENCRYPT_KEY, "k3y-e"),
    ];

    fn from_toml(
        text: &str,
        file: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Config>, ConfigError> {
        let mut t: toml::Table = toml::from_str(text).unwrap();
        from_table(t.remove("feishu"), Path::new(file), env)
    }

    #[test]
    fn config_from_the_table_and_the_environment() {
        let c = from_toml("[feishu]\napp_id = \"cli_1\"\n", "j.toml", env(ALL))
            .unwrap()
            .unwrap();
        assert_eq!(c.app_id, "cli_1");
        assert_eq!(c.api_base, DEFAULT_API);
        assert_eq!(c.path, DEFAULT_PATH);
        assert_eq!(c.encrypt_key.expose(), "k3y-e");
        // Secrets stay out of Debug output.
        let shown = format!("{c:?}");
        for (_, secret) in ALL {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            from_toml("[school]\n", "j.toml", env(ALL))
                .unwrap()
                .is_none()
        );
        let e = from_toml("[feishu]\napp_id = \"cli_1\"\n", "j.toml", env(&ALL[..2]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(ENV_ENCRYPT_KEY) && e.contains("j.toml"), "{e}");
        let e = from_toml(
            "[feishu]\napp_id = \"a\"\napp_secret = \"x\"\n",
            "j.toml",
            env(ALL),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("app_secret"),
            "a secret belongs in the environment: {e}"
        );
        assert!(
            from_toml(
                "[feishu]\napp_id = \"a\"\npath = \"/healthz\"\n",
                "j",
                env(ALL)
            )
            .is_err()
        );
    }

    fn message(text: &str, mentions: Vec<Mention>) -> Message {
        Message {
            message_id: "om_1".into(),
            chat_id: "oc_1".into(),
            chat_type: "group".into(),
            message_type: "text".into(),
            content: json!({ "text": text }).to_string(),
            mentions,
        }
    }

    fn mention(key: &str, open_id: &str, name: &str) -> Mention {
        Mention {
            key: key.into(),
            id: SenderId {
                open_id: open_id.into(),
            },
            name: name.into(),
        }
    }

    #[test]
    fn mentions_of_the_bot_are_removed_and_others_named() {
        let m = message(
            "@_user_1 每年要多少学时 @_user_10",
            vec![
                mention("@_user_1", "ou_bot", "小助手"),
                mention("@_user_10", "ou_x", "张老师"),
            ],
        );
        assert_eq!(
            text_of(&m, Some("ou_bot")).as_deref(),
            Some("每年要多少学时 @张老师")
        );
        let mut other = message("", vec![]);
        other.message_type = "image".into();
        assert_eq!(text_of(&other, None), None);
    }
}
