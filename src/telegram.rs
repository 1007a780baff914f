//! The Telegram Bot API over HTTP: the client built from the environment
//! (no panics), every call classified (sent; not sent; maybe sent; told to
//! wait; refused), retries with bounded backoff, and Telegram's rate
//! limits kept on our side.
//!
//! teloxide supplies the types, the payloads and the handler tree; the
//! requests go through this client because teloxide's own sleeps ten
//! seconds inside every request that gets a 5xx, and its throttle can
//! neither be cancelled nor say whether a queued message has left, which
//! exact sent-records and a prompt shutdown need.

use crate::clock::{Stop, SystemClock, TokioSleeper};
use crate::delivery::{Address, SendError};
use crate::limits::{Limiter, Limits};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use teloxide::ApiError;
use teloxide::types::{BotCommand, ChatId, ChatMember, Me, UserId};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("TELOXIDE_TOKEN is not set; get a token from @BotFather and set it")]
    NoToken,
    #[error("TELOXIDE_API_URL '{0}' is not a valid URL")]
    BadApiUrl(String),
    #[error("TELOXIDE_PROXY '{0}' is not a proxy URL (http://host:port or socks5://host:port)")]
    BadProxy(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("Telegram rejected the bot token ({0}); check TELOXIDE_TOKEN")]
    TokenRejected(String),
}

/// Telegram's limits: 30 messages a second overall, one a second per
/// chat, 20 a minute per group. The windows are a little longer than
/// Telegram's, and messages are also paced evenly (one per 1.1 s / 30):
/// a burst of 30 at once reaches the server spread out by its own queue,
/// so the next message, sent on time, would land inside the same second.
const OVERALL: &Limits = &[(Duration::from_millis(1100), 30)];
const PACE: Duration = Duration::from_micros(36_700);
const PER_CHAT: &Limits = &[(Duration::from_millis(1100), 1)];
const PER_GROUP: &Limits = &[
    (Duration::from_millis(1100), 1),
    (Duration::from_secs(61), 20),
];

fn telegram_limiter() -> Limiter {
    Limiter::new(Arc::new(SystemClock), Arc::new(TokioSleeper), OVERALL).paced(PACE)
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Certainly not sent (no connection).
    NotSent(String),
    /// Telegram (or a proxy in front) failed: 5xx.
    Server(u16, String),
    /// May have been processed: timeout, broken connection, unreadable
    /// answer.
    Maybe(String),
    RetryAfter(Duration),
    /// The stop signal fired while waiting; nothing was sent.
    Cancelled,
    Api {
        code: u16,
        description: String,
        migrate_to: Option<i64>,
    },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotSent(e) => write!(f, "cannot reach Telegram: {e}"),
            CallError::Server(code, e) => write!(f, "Telegram answered {code}: {e}"),
            CallError::Maybe(e) => write!(f, "{e}"),
            CallError::RetryAfter(d) => write!(f, "rate-limited for {}s", d.as_secs()),
            CallError::Cancelled => write!(f, "stopping"),
            CallError::Api {
                code, description, ..
            } => write!(f, "{code}: {description}"),
        }
    }
}

impl CallError {
    /// As a delivery outcome.
    pub fn to_send_error(&self) -> SendError {
        match self {
            CallError::NotSent(_) | CallError::Server(..) | CallError::RetryAfter(_) => {
                SendError::Transient(self.to_string())
            }
            CallError::Maybe(e) => SendError::Unknown(e.clone()),
            CallError::Cancelled => SendError::Cancelled,
            CallError::Api {
                migrate_to: Some(id),
                ..
            } => SendError::Migrated(*id),
            CallError::Api {
                code, description, ..
            } => match serde_json::from_value::<ApiError>(json!(description)) {
                Ok(ApiError::InvalidToken) => SendError::Fatal(format!(
                    "Telegram rejected the bot token ({code} {description})"
                )),
                Ok(
                    ApiError::BotBlocked
                    | ApiError::BotKicked
                    | ApiError::BotKickedFromSupergroup
                    | ApiError::BotKickedFromChannel
                    | ApiError::UserDeactivated
                    | ApiError::ChatNotFound,
                ) => SendError::Blocked,
                // Any other "Forbidden": this chat cannot get our messages.
                _ if *code == 403 => SendError::Blocked,
                _ => SendError::Refused(format!("{code} {description}")),
            },
        }
    }

    fn token_rejected(&self) -> bool {
        matches!(self.to_send_error(), SendError::Fatal(_))
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    ok: bool,
    result: Option<T>,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
    migrate_to_chat_id: Option<i64>,
}

/// Which failures a send retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Answers: anything that may work on another try, timeouts and
    /// unreadable answers included (a rare duplicate beats a lost answer).
    Answer,
    /// Reminders: only what certainly did not arrive; an unknown outcome
    /// goes back to the delivery protocol, which allows one more copy.
    Reminder,
}

/// Backoff between tries, doubling from `first`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub tries: u32,
    /// Longest wait between start-up tries.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(500),
            tries: 5,
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait after the `n`th failure (from 0).
    pub fn nth(&self, n: u32) -> Duration {
        self.first
            .saturating_mul(2u32.saturating_pow(n.min(16)))
            .min(self.max)
    }
}

pub struct Telegram {
    http: reqwest::Client,
    api: reqwest::Url,
    token: String,
    limiter: Option<Limiter>,
    /// Longest wait for the answer to one request (long polling adds its
    /// own timeout).
    pub timeout: Duration,
    pub backoff: Backoff,
}

impl Telegram {
    /// A client for `token` at `api` (Telegram's by default), with
    /// Telegram's rate limits kept or (benchmarks, most tests) not.
    pub fn new(
        token: &str,
        api: Option<reqwest::Url>,
        http: reqwest::Client,
        limits: bool,
    ) -> Telegram {
        let api = api.unwrap_or_else(|| {
            reqwest::Url::parse("https://api.telegram.org").expect("a constant URL parses")
        });
        Telegram {
            http,
            api,
            token: token.to_string(),
            limiter: limits.then(telegram_limiter),
            timeout: Duration::from_secs(20),
            backoff: Backoff::default(),
        }
    }

    /// For tests against a loopback API: no proxy, no limits.
    pub fn local(token: &str, api: &str) -> Result<Telegram, SetupError> {
        let url = reqwest::Url::parse(api).map_err(|_| SetupError::BadApiUrl(api.into()))?;
        let http = client_builder()
            .no_proxy()
            .build()
            .map_err(|e| SetupError::Client(e.without_url().to_string()))?;
        Ok(Telegram::new(token, Some(url), http, false))
    }

    /// Keep Telegram's limits (or not).
    pub fn with_limits(mut self, on: bool) -> Telegram {
        self.limiter = on.then(telegram_limiter);
        self
    }

    fn url(&self, method: &str) -> Result<reqwest::Url, CallError> {
        // As teloxide does: the token path replaces any path of the API URL.
        self.api
            .join(&format!("/bot{}/{method}", self.token))
            .map_err(|_| CallError::NotSent("TELOXIDE_API_URL cannot hold a method path".into()))
    }

    /// One request, classified. Errors never carry the URL (it holds the
    /// token).
    pub async fn call<P: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: &str,
        payload: &P,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let resp = self
            .http
            .post(self.url(method)?)
            .json(payload)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                if e.is_connect() {
                    CallError::NotSent(e.to_string())
                } else if e.is_timeout() {
                    CallError::Maybe(format!("no answer within {}s", timeout.as_secs()))
                } else {
                    CallError::Maybe(format!("connection broken: {e}"))
                }
            })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| {
            let e = e.without_url();
            if e.is_timeout() {
                CallError::Maybe(format!("no answer within {}s", timeout.as_secs()))
            } else {
                CallError::Maybe(format!("answer cut off: {e}"))
            }
        })?;
        classify(status, &body)
    }

    /// `call` with retries under `policy`, waiting first for the chat's
    /// rate limit when `chat` is given. Waits end on `stop` (Cancelled).
    pub async fn call_retrying<P: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: &str,
        payload: &P,
        chat: Option<i64>,
        policy: Retry,
        stop: &Stop,
    ) -> Result<R, CallError> {
        let mut tries = 0;
        loop {
            if let (Some(l), Some(chat)) = (&self.limiter, chat) {
                let per = if chat < 0 { PER_GROUP } else { PER_CHAT };
                if l.acquire(&chat.to_string(), per, stop).await.is_err() {
                    return Err(CallError::Cancelled);
                }
            }
            let err = match self.call(method, payload, self.timeout).await {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            tries += 1;
            let wait = match &err {
                CallError::RetryAfter(d) => {
                    if let (Some(l), Some(chat)) = (&self.limiter, chat) {
                        l.pause(&chat.to_string(), *d);
                    }
                    Some(*d)
                }
                CallError::NotSent(_) | CallError::Server(..) => Some(self.backoff.nth(tries - 1)),
                CallError::Maybe(_) if policy == Retry::Answer => Some(self.backoff.nth(tries - 1)),
                _ => None,
            };
            match wait {
                Some(d) if tries < self.backoff.tries => {
                    tracing::warn!(method, error = %err, try_ = tries, "Telegram request failed; retrying in {:?}", d);
                    if stop.sleep(d).await {
                        // Nothing more was sent; the last try failed.
                        return Err(match err {
                            CallError::Maybe(_) => err,
                            _ => CallError::Cancelled,
                        });
                    }
                }
                _ => return Err(err),
            }
        }
    }

    pub async fn get_me(&self) -> Result<Me, CallError> {
        self.call("getMe", &json!({}), self.timeout).await
    }

    /// getMe until Telegram answers, with backoff, logging each try. None
    /// if stopped first; an error only if the token is rejected.
    pub async fn wait_for_me(&self, stop: &Stop) -> Result<Option<Me>, SetupError> {
        let mut n = 0;
        loop {
            match self.get_me().await {
                Ok(me) => return Ok(Some(me)),
                Err(e) if e.token_rejected() => {
                    return Err(SetupError::TokenRejected(e.to_string()));
                }
                Err(e) => {
                    let wait = self.backoff.nth(n);
                    n += 1;
                    tracing::warn!(try_ = n, error = %e, "waiting for Telegram: getMe failed; next try in {:.1}s", wait.as_secs_f64());
                    if stop.sleep(wait).await {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Long polling: updates from `offset` (which confirms every one
    /// before it), at most `limit`, waiting up to `wait_s` seconds.
    pub async fn get_updates(
        &self,
        offset: Option<i64>,
        limit: usize,
        wait_s: u64,
    ) -> Result<Vec<Value>, CallError> {
        let mut p = json!({"limit": limit.clamp(1, 100), "timeout": wait_s,
            "allowed_updates": ["message", "edited_message", "callback_query"]});
        if let Some(o) = offset {
            p["offset"] = json!(o);
        }
        self.call("getUpdates", &p, self.timeout + Duration::from_secs(wait_s))
            .await
    }

    /// Send one message (any sendMessage payload) to `chat`.
    pub async fn send_message<P: Serialize + ?Sized>(
        &self,
        chat: i64,
        payload: &P,
        policy: Retry,
        stop: &Stop,
    ) -> Result<(), CallError> {
        self.call_retrying::<_, IgnoredAny>("sendMessage", payload, Some(chat), policy, stop)
            .await
            .map(|_| ())
    }

    pub async fn answer_callback_query(
        &self,
        id: &(impl Serialize + Sync),
        text: Option<&str>,
        stop: &Stop,
    ) -> Result<(), CallError> {
        let mut p = json!({"callback_query_id": id});
        if let Some(t) = text {
            p["text"] = json!(t);
        }
        self.call_retrying::<_, IgnoredAny>("answerCallbackQuery", &p, None, Retry::Answer, stop)
            .await
            .map(|_| ())
    }

    pub async fn get_chat_member(
        &self,
        chat: ChatId,
        user: UserId,
        stop: &Stop,
    ) -> Result<ChatMember, CallError> {
        self.call_retrying(
            "getChatMember",
            &json!({"chat_id": chat, "user_id": user}),
            None,
            Retry::Answer,
            stop,
        )
        .await
    }

    pub async fn set_my_commands(&self, commands: &[BotCommand]) -> Result<(), CallError> {
        self.call::<_, IgnoredAny>(
            "setMyCommands",
            &json!({"commands": commands}),
            self.timeout,
        )
        .await
        .map(|_| ())
    }

    /// A reminder: plain text, retried only where it certainly did not
    /// arrive.
    pub async fn send_reminder(&self, chat: i64, text: &str, stop: &Stop) -> Result<(), SendError> {
        let payload = json!({"chat_id": chat, "text": text});
        self.send_message(chat, &payload, Retry::Reminder, stop)
            .await
            .map_err(|e| e.to_send_error())
    }
}

impl crate::delivery::Sender for Telegram {
    async fn send(&self, to: &Address, text: &str, stop: &Stop) -> Result<(), SendError> {
        let id = match to {
            Address::Chat { chat, .. } => chat.telegram_id(),
            Address::Robot(_) => None,
        };
        match id {
            Some(id) => self.send_reminder(id, text, stop).await,
            None => Err(SendError::Refused(format!(
                "{} is not a Telegram chat",
                to.id()
            ))),
        }
    }
}

/// Status and body as a result.
fn classify<R: DeserializeOwned>(status: u16, body: &[u8]) -> Result<R, CallError> {
    let snippet =
        || crate::text::single_spaced(&String::from_utf8_lossy(&body[..body.len().min(120)]));
    let env: Envelope<R> = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(_) if status >= 500 => return Err(CallError::Server(status, snippet())),
        Err(_) if status == 429 => return Err(CallError::RetryAfter(Duration::from_secs(1))),
        Err(_) if (200..300).contains(&status) => {
            return Err(CallError::Maybe(format!(
                "unreadable answer: {}",
                snippet()
            )));
        }
        Err(_) => {
            return Err(CallError::Api {
                code: status,
                description: snippet(),
                migrate_to: None,
            });
        }
    };
    if env.ok {
        return env
            .result
            .ok_or_else(|| CallError::Maybe("answer without a result".into()));
    }
    let code = env.error_code.unwrap_or(status);
    let description = env.description.unwrap_or_default();
    let params = env.parameters;
    if let Some(s) = params.as_ref().and_then(|p| p.retry_after) {
        return Err(CallError::RetryAfter(Duration::from_secs(s.max(1))));
    }
    if code >= 500 {
        return Err(CallError::Server(code, description));
    }
    Err(CallError::Api {
        code,
        description,
        migrate_to: params.and_then(|p| p.migrate_to_chat_id),
    })
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
}

/// Telegram's settings, as [`crate::settings`] resolves them from
/// TELOXIDE_TOKEN, TELOXIDE_API_URL and TELOXIDE_PROXY.
#[derive(Clone)]
pub struct TelegramEnv {
    pub token: String,
    pub api_url: Option<String>,
    pub proxy: Option<String>,
}

impl std::fmt::Debug for TelegramEnv {
    // The token is a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramEnv")
            .field("api_url", &self.api_url.as_deref().map(redact_url))
            .field("proxy", &self.proxy.as_deref().map(redact_url))
            .finish_non_exhaustive()
    }
}

/// A client for these settings (HTTP or SOCKS5 proxy; NO_PROXY exempts
/// hosts), with Telegram's limits kept unless `limits` is false.
pub fn connect(env: &TelegramEnv, limits: bool) -> Result<Telegram, SetupError> {
    let mut builder = client_builder();
    if let Some(p) = &env.proxy {
        // reqwest applies NO_PROXY to system proxies only; do it here too so
        // a loopback API (tests, a local Bot API server) skips the proxy.
        let proxy = reqwest::Proxy::all(p)
            .map_err(|_| SetupError::BadProxy(redact_url(p)))?
            .no_proxy(reqwest::NoProxy::from_env());
        builder = builder.proxy(proxy);
    }
    let http = builder
        .build()
        .map_err(|e| SetupError::Client(e.without_url().to_string()))?;
    let api = match &env.api_url {
        Some(u) => Some(reqwest::Url::parse(u).map_err(|_| SetupError::BadApiUrl(redact_url(u)))?),
        None => None,
    };
    Ok(Telegram::new(&env.token, api, http, limits))
}

/// A URL for an error message: user info and query (where keys and
/// passwords live) replaced.
pub fn redact_url(s: &str) -> String {
    match reqwest::Url::parse(s) {
        Ok(mut u) => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("***");
                let _ = u.set_password(None);
            }
            if u.query().is_some() {
                u.set_query(Some("***"));
            }
            u.to_string()
        }
        // Not a URL: show its length only, it may be anything.
        Err(_) => format!("<{} characters>", s.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let ok: Result<IgnoredAny, _> = classify(200, br#"{"ok":true,"result":{"message_id":1}}"#);
        assert!(ok.is_ok());
        let html = classify::<IgnoredAny>(502, b"<html><body>502 Bad Gateway</body></html>");
        assert!(matches!(html, Err(CallError::Server(502, _))), "{html:?}");
        let json5xx = classify::<IgnoredAny>(
            500,
            br#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#,
        );
        assert!(matches!(json5xx, Err(CallError::Server(500, _))));
        let garbled = classify::<IgnoredAny>(200, b"{\"ok\":tr");
        assert!(matches!(garbled, Err(CallError::Maybe(_))));
        let wait = classify::<IgnoredAny>(429, br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#);
        assert_eq!(
            wait.unwrap_err(),
            CallError::RetryAfter(Duration::from_secs(3))
        );
        let blocked = classify::<IgnoredAny>(403, br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#);
        assert_eq!(blocked.unwrap_err().to_send_error(), SendError::Blocked);
        let token = classify::<IgnoredAny>(
            401,
            br#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
        );
        assert!(token.unwrap_err().token_rejected());
        let kicked = classify::<IgnoredAny>(401, br#"{"ok":false,"error_code":401,"description":"Unauthorized: bot was kicked from a chat"}"#);
        assert_eq!(kicked.unwrap_err().to_send_error(), SendError::Blocked);
        let rights = classify::<IgnoredAny>(400, br#"{"ok":false,"error_code":400,"description":"Bad Request: not enough rights to send text messages to the chat"}"#);
        assert!(matches!(
            rights.unwrap_err().to_send_error(),
            SendError::Refused(_)
        ));
    }

    #[test]
    fn urls_in_messages_lose_their_secrets() {
        let r = redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY");
        assert!(!r.contains("SECRET-KEY") && r.contains("qyapi"), "{r}");
        let r = redact_url("socks5://user:hunter2@proxy:1080");
        assert!(!r.contains("hunter2"), "{r}");
        assert!(!redact_url("not a url with hunter2").contains("hunter2"));
    }
}
