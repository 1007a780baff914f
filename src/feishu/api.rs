//! The Feishu open API as the bot uses it: `tenant_access_token` (cached,
//! fetched again before it expires or when Feishu says it is invalid),
//! replies to a message, messages to a user or group (reminders), the
//! bot's own info. Every message carries a `uuid` derived from what it is
//! (Feishu drops a second message with the same uuid within an hour), so a
//! resend after a timeout is not a duplicate. Feishu's limits (50/s and
//! 1000/min per app, 5/s per user or group) are kept on our side.
//!
//! Errors are classified for [`crate::delivery`]: not sent (connection
//! refused, 5xx, rate-limited after waiting), maybe sent (timeout, broken
//! connection, unreadable answer), refused (the request), the bot cannot
//! reach this chat (blocked), or the app's credentials rejected (fatal).
//! The app secret and the token never enter an error or the log.

use crate::clock::{Clock, Sleeper, Stop};
use crate::delivery::{Address, SendError, Sender};
use crate::identity::Channel;
use crate::limits::{Limiter, Limits};
use crate::store::ChatKind;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// A secret from the environment: kept out of Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(***)")
    }
}

/// Feishu's limits per app (its documented 50/s and 1000/min).
const APP_LIMITS: &Limits = &[
    (Duration::from_secs(1), 50),
    (Duration::from_secs(60), 1000),
];
/// And per user or group.
const CHAT_LIMITS: &Limits = &[(Duration::from_secs(1), 5)];

/// A token with less than this left is fetched again (Feishu hands out a
/// new one when less than 30 minutes are left).
const REFRESH_BEFORE: chrono::Duration = chrono::Duration::minutes(30);

/// Longest text of one message; longer answers go in parts (Feishu's
/// limit is 150 KB per request).
pub const MAX_TEXT_BYTES: usize = 16_000;

/// Codes of Feishu's answers that the client acts on.
mod code {
    /// The tenant_access_token is invalid or expired.
    pub const TOKEN_INVALID: [i64; 3] = [99991661, 99991663, 99991668];
    /// Too many requests.
    pub const RATE_LIMITED: [i64; 2] = [99991400, 230020];
    /// The bot is not in the group, or not available to this user.
    pub const UNREACHABLE: [i64; 2] = [230002, 230013];
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Certainly not delivered (no connection, 5xx, rate-limited).
    #[error("Feishu: not delivered: {0}")]
    NotSent(String),
    /// May have been delivered.
    #[error("Feishu: no clear answer ({0}); it may have arrived")]
    Maybe(String),
    /// Feishu refused the request.
    #[error("Feishu refused (code {code}: {msg})")]
    Refused { code: i64, msg: String },
    /// The bot cannot post in this chat (not a member, not available).
    #[error("Feishu: the bot cannot reach this chat (code {code}: {msg})")]
    Unreachable { code: i64, msg: String },
    /// The app id or secret was rejected: nothing will work.
    #[error(
        "Feishu rejected the app credentials (code {code}: {msg}); check app_id in jxjy.toml and FEISHU_APP_SECRET"
    )]
    Credentials { code: i64, msg: String },
    #[error("stopping")]
    Cancelled,
}

impl ApiError {
    pub fn to_send_error(&self) -> SendError {
        match self {
            ApiError::NotSent(_) => SendError::Transient(self.to_string()),
            ApiError::Maybe(_) => SendError::Unknown(self.to_string()),
            ApiError::Refused { .. } => SendError::Refused(self.to_string()),
            ApiError::Unreachable { .. } => SendError::Blocked,
            ApiError::Credentials { .. } => SendError::Fatal(self.to_string()),
            ApiError::Cancelled => SendError::Cancelled,
        }
    }
}

/// Pauses between tries, and the longest wait for an answer.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub tries: usize,
    pub timeout: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(1),
            tries: 3,
            timeout: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    value: String,
    expires: DateTime<Utc>,
}

/// The bot as Feishu describes it (`/open-apis/bot/v3/info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotInfo {
    pub name: String,
    pub open_id: String,
}

pub struct Api {
    http: reqwest::Client,
    base: String,
    app_id: String,
    secret: Secret,
    token: tokio::sync::Mutex<Option<Token>>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    limiter: Limiter,
    pub backoff: Backoff,
}

/// A uuid for a message: the same message (same place, same text, same
/// part) gets the same one, so Feishu keeps one copy of a resend.
pub fn uuid_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    // 8-4-4-4-12, within Feishu's 50 characters.
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn text_content(text: &str) -> String {
    json!({ "text": text }).to_string()
}

impl Api {
    /// A client of the open API at `base` (https://open.feishu.cn, or a
    /// fake's address in tests).
    pub fn new(
        base: &str,
        app_id: &str,
        secret: Secret,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Api, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
            app_id: app_id.to_string(),
            secret,
            token: tokio::sync::Mutex::new(None),
            limiter: Limiter::new(clock.clone(), sleeper.clone(), APP_LIMITS),
            clock,
            sleeper,
            backoff: Backoff::default(),
        })
    }

    /// One request; the answer's JSON (whatever its code).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(self.backoff.timeout);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| {
            let e = e.without_url();
            if e.is_connect() {
                ApiError::NotSent(e.to_string())
            } else if e.is_timeout() {
                ApiError::Maybe(format!(
                    "no answer within {}s",
                    self.backoff.timeout.as_secs()
                ))
            } else {
                ApiError::Maybe(e.to_string())
            }
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| ApiError::Maybe(e.without_url().to_string()))?;
        let snippet: String = text.chars().take(200).collect();
        if status.is_server_error() {
            return Err(ApiError::NotSent(format!("HTTP {status}: {snippet}")));
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::NotSent(format!("HTTP {status} (rate-limited)")));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => Ok(v),
            Err(_) if status.is_success() => {
                Err(ApiError::Maybe(format!("unreadable answer: {snippet}")))
            }
            Err(_) => Err(ApiError::Refused {
                code: i64::from(status.as_u16()),
                msg: snippet,
            }),
        }
    }

    /// The tenant_access_token, from the cache while it has more than
    /// [`REFRESH_BEFORE`] left.
    pub async fn token(&self) -> Result<String, ApiError> {
        let mut cached = self.token.lock().await;
        let now = self.clock.now();
        if let Some(t) = cached.as_ref().filter(|t| t.expires - now > REFRESH_BEFORE) {
            return Ok(t.value.clone());
        }
        let body = json!({"app_id": self.app_id, "app_secret": self.secret.expose()});
        let v = self
            .call(
                reqwest::Method::POST,
                "/open-apis/auth/v3/tenant_access_token/internal",
                None,
                Some(&body),
            )
            .await?;
        let (code, msg) = code_of(&v);
        let value = v.get("tenant_access_token").and_then(Value::as_str);
        let expire = v.get("expire").and_then(Value::as_i64);
        match (code, value, expire) {
            (0, Some(value), Some(expire)) => {
                *cached = Some(Token {
                    value: value.to_string(),
                    expires: now + chrono::Duration::seconds(expire),
                });
                Ok(value.to_string())
            }
            (0, ..) => Err(ApiError::Maybe("token answer without a token".into())),
            (c, ..) if code::RATE_LIMITED.contains(&c) => {
                Err(ApiError::NotSent(format!("token: rate-limited (code {c})")))
            }
            (code, ..) => Err(ApiError::Credentials { code, msg }),
        }
    }

    /// Drop the cached token if it is still `bad` (Feishu said it is no
    /// longer valid).
    async fn forget_token(&self, bad: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == bad) {
            *cached = None;
        }
    }

    /// A call with the token: a token Feishu calls invalid is fetched
    /// again once; the answer's code is classified.
    async fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut fresh = false;
        loop {
            let token = self.token().await?;
            let v = self.call(method.clone(), path, Some(&token), body).await?;
            let (c, msg) = code_of(&v);
            match c {
                0 => return Ok(v),
                c if code::TOKEN_INVALID.contains(&c) && !fresh => {
                    self.forget_token(&token).await;
                    fresh = true;
                }
                c if code::RATE_LIMITED.contains(&c) => {
                    return Err(ApiError::NotSent(format!("rate-limited (code {c}: {msg})")));
                }
                c if code::UNREACHABLE.contains(&c) => {
                    return Err(ApiError::Unreachable { code: c, msg });
                }
                c if code::TOKEN_INVALID.contains(&c) => {
                    return Err(ApiError::Credentials { code: c, msg });
                }
                code => return Err(ApiError::Refused { code, msg }),
            }
        }
    }

    /// A message request after the limits of `chat`, retried while it
    /// certainly did not arrive and, thanks to its uuid, also when it may
    /// have (Feishu drops the copy).
    async fn post_message(
        &self,
        chat: &str,
        path: &str,
        body: &Value,
        stop: &Stop,
    ) -> Result<(), ApiError> {
        let mut tries = 0;
        loop {
            tries += 1;
            if self.limiter.acquire(chat, CHAT_LIMITS, stop).await.is_err() {
                return Err(ApiError::Cancelled);
            }
            match self.authed(reqwest::Method::POST, path, Some(body)).await {
                Err(ApiError::NotSent(e) | ApiError::Maybe(e)) if tries < self.backoff.tries => {
                    tracing::warn!(error = %e, "Feishu message not confirmed; retrying");
                    let wait = self.backoff.first * (1 << (tries - 1));
                    tokio::select! {
                        biased;
                        _ = stop.wait() => return Err(ApiError::Cancelled),
                        _ = self.sleeper.sleep(wait) => {}
                    }
                }
                other => return other.map(|_| ()),
            }
        }
    }

    /// Reply to `message_id` (Feishu quotes it in groups), in parts if
    /// long. `chat` is the chat's id, for its rate limit.
    pub async fn reply(
        &self,
        chat: &str,
        message_id: &str,
        text: &str,
        stop: &Stop,
    ) -> Result<(), ApiError> {
        let path = format!("/open-apis/im/v1/messages/{message_id}/reply");
        for (i, part) in crate::text::split_text(text, MAX_TEXT_BYTES, str::len)
            .iter()
            .enumerate()
        {
            let body = json!({
                "msg_type": "text",
                "content": text_content(part),
                "uuid": uuid_of(&["reply", message_id, &i.to_string()]),
            });
            self.post_message(chat, &path, &body, stop).await?;
        }
        Ok(())
    }

    /// Send `text` to a user (`open_id`) or a group (`chat_id`).
    pub async fn send_to(
        &self,
        id_type: &str,
        id: &str,
        text: &str,
        stop: &Stop,
    ) -> Result<(), ApiError> {
        let path = format!("/open-apis/im/v1/messages?receive_id_type={id_type}");
        for (i, part) in crate::text::split_text(text, MAX_TEXT_BYTES, str::len)
            .iter()
            .enumerate()
        {
            let body = json!({
                "receive_id": id,
                "msg_type": "text",
                "content": text_content(part),
                "uuid": uuid_of(&["send", id_type, id, text, &i.to_string()]),
            });
            self.post_message(id, &path, &body, stop).await?;
        }
        Ok(())
    }

    /// Who administers a group: its owner's and its managers' open_ids
    /// (needs the permission to read group information).
    pub async fn chat_admins(&self, chat_id: &str) -> Result<Vec<String>, ApiError> {
        let path = format!("/open-apis/im/v1/chats/{chat_id}?user_id_type=open_id");
        let v = self.authed(reqwest::Method::GET, &path, None).await?;
        let data = v.get("data").unwrap_or(&Value::Null);
        let mut ids: Vec<String> = data
            .get("user_manager_id_list")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        // The owner is absent when a bot owns the group.
        if let Some(owner) = data.get("owner_id").and_then(Value::as_str) {
            ids.push(owner.to_string());
        }
        Ok(ids)
    }

    /// The bot's name and open_id.
    pub async fn bot_info(&self) -> Result<BotInfo, ApiError> {
        let v = self
            .authed(reqwest::Method::GET, "/open-apis/bot/v3/info", None)
            .await?;
        let bot = v.get("bot").unwrap_or(&Value::Null);
        let s = |k: &str| bot.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        match (s("app_name"), s("open_id")) {
            (_, id) if id.is_empty() => Err(ApiError::Maybe("bot info without an open_id".into())),
            (name, open_id) => Ok(BotInfo { name, open_id }),
        }
    }
}

/// (code, msg) of an answer; a missing code is not success.
fn code_of(v: &Value) -> (i64, String) {
    (
        v.get("code").and_then(Value::as_i64).unwrap_or(-1),
        v.get("msg")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(200)
            .collect(),
    )
}

impl Sender for Api {
    /// A reminder to a Feishu user (by open_id) or group (by chat_id).
    async fn send(&self, to: &Address, text: &str, stop: &Stop) -> Result<(), SendError> {
        let Address::Chat { chat, kind } = to else {
            return Err(SendError::Refused(format!(
                "not a Feishu chat: {}",
                to.id()
            )));
        };
        if chat.channel() != Channel::Feishu {
            return Err(SendError::Refused(format!("not a Feishu chat: {chat}")));
        }
        let id_type = match kind {
            ChatKind::Private => "open_id",
            ChatKind::Group => "chat_id",
        };
        self.send_to(id_type, chat.id(), text, stop)
            .await
            .map_err(|e| e.to_send_error())
    }

    fn serves(&self, channel: Channel) -> bool {
        channel == Channel::Feishu
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_follow_the_message_and_fit_feishus_limit() {
        let a = uuid_of(&["reply", "om_1", "0"]);
        assert_eq!(a, uuid_of(&["reply", "om_1", "0"]));
        assert_ne!(a, uuid_of(&["reply", "om_1", "1"]));
        // The separator keeps ("a", "bc") and ("ab", "c") apart.
        assert_ne!(uuid_of(&["a", "bc"]), uuid_of(&["ab", "c"]));
        assert!(a.len() <= 50, "{a}");
        assert_eq!(format!("{:?}", Secret::new("s3cret")), "Secret(***)");
    }

    #[test]
    fn errors_map_to_delivery_outcomes() {
        let refused = ApiError::Refused {
            code: 230001,
            msg: "x".into(),
        };
        assert!(matches!(refused.to_send_error(), SendError::Refused(_)));
        let gone = ApiError::Unreachable {
            code: 230002,
            msg: "x".into(),
        };
        assert_eq!(gone.to_send_error(), SendError::Blocked);
        assert!(matches!(
            ApiError::Maybe("t".into()).to_send_error(),
            SendError::Unknown(_)
        ));
        assert!(matches!(
            ApiError::NotSent("t".into()).to_send_error(),
            SendError::Transient(_)
        ));
        assert!(matches!(
            ApiError::Credentials {
                code: 10014,
                msg: "x".into()
            }
            .to_send_error(),
            SendError::Fatal(_)
        ));
    }
}
