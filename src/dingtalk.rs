//! DingTalk (钉钉): an enterprise internal app's robot (企业内部应用机器人)
//! in Stream mode. The bot opens the connection (no public address
//! needed): a handshake over HTTPS gives an endpoint and a ticket, a
//! WebSocket to it carries the frames. Every frame is ACKed; SYSTEM `ping`
//! is echoed, SYSTEM `disconnect` is answered with a fresh handshake; a
//! broken connection is reopened with backoff.
//!
//! A robot message (CALLBACK on [`BOT_TOPIC`]) is stored in the
//! [`Inbox`] under its `msgId` before it is ACKed (a redelivery is ACKed
//! and not processed again), handed to the conversation core, answered
//! through the message's `sessionWebhook` (the asker @-ed in groups), or
//! through the robot OpenAPI with an access token when the session webhook
//! has expired, and marked done. Buttons become numbered choices
//! ([`crate::render`]). Reminders reach subscribed users and groups through
//! the same OpenAPI: [`DingTalk`] is a [`Sender`].
//!
//! Protocol notes: `../shared/reference/messengers.md` (DingTalk), learnt
//! from the official SDKs (open-dingtalk/dingtalk-stream-sdk-go and -python).
//! The app secret and the access token never appear in a log line or an
//! error: they travel in bodies and headers, and request errors drop URLs.

use crate::clock::{Clock, Sleeper, Stop};
use crate::conversation::{GroupAdmin, Incoming, Input};
use crate::delivery::{Address, SendError, Sender};
use crate::identity::{Channel, Identity};
use crate::inbox::{Inbox, Item};
use crate::limits::{Limiter, Limits};
use crate::render::{self, ChoiceMemory};
use crate::service::{App, Front};
use crate::store::ChatKind;
use crate::workers::ChatWorkers;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The inbox channel of DingTalk messages.
pub const CHANNEL: &str = "dingtalk";
/// The topic robot messages arrive on.
pub const BOT_TOPIC: &str = "/v1.0/im/bot/messages/get";
/// DingTalk's OpenAPI host (the handshake, tokens, robot messages).
pub const DEFAULT_OPENAPI: &str = "https://api.dingtalk.com";
/// Where the app secret is read from unless `secret_env` names another
/// variable.
pub const SECRET_ENV: &str = "DINGTALK_CLIENT_SECRET";
/// The session webhook answers this when it has expired.
pub const SESSION_EXPIRED: i64 = 300_001;
/// DingTalk documents no text limit for robots; stay well under its 20 KB
/// body, as the group robots do.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Our side of the robot's rate limits (DingTalk does not publish the
/// OpenAPI's; custom group robots get 20 a minute): 20 a minute per chat,
/// 20 a second overall.
const PER_CHAT: &Limits = &[(Duration::from_secs(60), 20)];
const OVERALL: &Limits = &[(Duration::from_secs(1), 20)];

/// A token with less than this left is renewed before use.
const TOKEN_MARGIN_SECS: i64 = 300;

// ---------------------------------------------------------------- config

/// `[dingtalk]` in jxjy.toml, resolved: the secret from the environment.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// The app's Client ID (AppKey).
    pub client_id: String,
    /// The robot's code (for an internal app's robot, the Client ID).
    pub robot_code: String,
    /// The OpenAPI host, without a trailing slash.
    pub openapi: String,
    /// The app's Client Secret (AppSecret).
    pub secret: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("client_id", &self.client_id)
            .field("robot_code", &self.robot_code)
            .field("openapi", &self.openapi)
            .field("secret", &"<hidden>")
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    client_id: String,
    robot_code: Option<String>,
    openapi: Option<String>,
    /// The variable holding the secret (default DINGTALK_CLIENT_SECRET).
    secret_env: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: [dingtalk]: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: [dingtalk]: the app secret comes from the environment: set {var}")]
    NoSecret { file: String, var: String },
}

/// The `[dingtalk]` table read from the file `path`, if there is one; the
/// secret is read from the environment (never from the file).
pub fn from_table(table: Option<toml::Value>, path: &Path) -> Result<Option<Config>, ConfigError> {
    let file = path.display().to_string();
    let parse = |message: String| ConfigError::Parse {
        file: file.clone(),
        message,
    };
    let Some(v) = table else {
        return Ok(None);
    };
    let raw = RawConfig::deserialize(v).map_err(|e| parse(e.message().to_string()))?;
    let client_id = raw.client_id.trim().to_string();
    if client_id.is_empty() {
        return Err(parse("client_id is empty".into()));
    }
    let openapi = raw
        .openapi
        .unwrap_or_else(|| DEFAULT_OPENAPI.to_string())
        .trim_end_matches('/')
        .to_string();
    if reqwest::Url::parse(&openapi).is_err() {
        return Err(parse(format!("openapi: '{openapi}' is not a URL")));
    }
    let var = raw.secret_env.unwrap_or_else(|| SECRET_ENV.to_string());
    let secret = std::env::var(&var)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ConfigError::NoSecret {
            file: file.clone(),
            var: var.clone(),
        })?;
    Ok(Some(Config {
        robot_code: raw
            .robot_code
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| client_id.clone()),
        client_id,
        openapi,
        secret: secret.trim().to_string(),
    }))
}

// ---------------------------------------------------------------- frames

/// A frame from the gateway: `{specVersion, type, headers:{messageId,
/// topic, ...}, data:"<JSON text>"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// SYSTEM, EVENT or CALLBACK.
    pub kind: String,
    pub topic: String,
    pub message_id: String,
    /// The payload as sent (JSON text).
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("not JSON")]
    NotJson,
    #[error("missing {0}")]
    Missing(&'static str),
}

/// Read a frame without trusting it: nothing here panics on any input.
/// On error, the messageId if one could be read (for the ACK).
pub fn parse_frame(text: &str) -> Result<Frame, (FrameError, Option<String>)> {
    let v: Value = serde_json::from_str(text).map_err(|_| (FrameError::NotJson, None))?;
    let headers = v.get("headers");
    let header = |k: &str| headers.and_then(|h| h.get(k)).and_then(Value::as_str);
    let id = header("messageId").map(str::to_string);
    let fail = |what| Err((FrameError::Missing(what), id.clone()));
    let Some(message_id) = id.clone().filter(|m| !m.is_empty()) else {
        return fail("headers.messageId");
    };
    let Some(kind) = v.get("type").and_then(Value::as_str) else {
        return fail("type");
    };
    let data = match v.get("data") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        // Not the documented form, but unambiguous.
        Some(other) => other.to_string(),
    };
    Ok(Frame {
        kind: kind.to_string(),
        topic: header("topic").unwrap_or("").to_string(),
        message_id,
        data,
    })
}

/// The ACK of a frame: code 200 (OK), 400 (bad frame), 404 (no handler) or
/// 500 (could not store it; the gateway sends it again).
pub fn ack(message_id: &str, code: u16, message: &str, data: &str) -> String {
    json!({
        "code": code,
        "headers": {"messageId": message_id, "contentType": "application/json"},
        "message": message,
        "data": data,
    })
    .to_string()
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TextBody {
    #[serde(default)]
    pub content: String,
}

/// A robot message (the `data` of a CALLBACK on [`BOT_TOPIC`]); only the
/// fields the bot uses, each optional but `msgId`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotMessage {
    pub msg_id: String,
    #[serde(default)]
    pub msgtype: String,
    #[serde(default)]
    pub text: Option<TextBody>,
    /// "1" one-to-one, "2" group.
    #[serde(default)]
    pub conversation_type: String,
    #[serde(default)]
    pub conversation_id: String,
    #[serde(default)]
    pub sender_id: String,
    #[serde(default)]
    pub sender_staff_id: Option<String>,
    #[serde(default)]
    pub sender_nick: String,
    /// Whether the sender administers (DingTalk's word); absent: unknown.
    #[serde(default)]
    pub is_admin: Option<bool>,
    #[serde(default)]
    pub session_webhook: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub session_webhook_expired_time: Option<i64>,
}

/// DingTalk ids may hold '/' or ':' (conversation ids are base64, sender
/// ids look like `$:LWCP_v1:$...`), which identities refuse: escaped
/// reversibly.
pub fn escape_id(raw: &str) -> String {
    raw.replace('%', "%25")
        .replace('/', "%2F")
        .replace(':', "%3A")
}

/// The platform's id of an identity made by [`escape_id`].
pub fn unescape_id(id: &str) -> String {
    id.replace("%3A", ":")
        .replace("%2F", "/")
        .replace("%25", "%")
}

impl BotMessage {
    pub fn is_group(&self) -> bool {
        self.conversation_type == "2"
    }

    /// The asker's staff id, when DingTalk gives one.
    pub fn staff_id(&self) -> Option<&str> {
        self.sender_staff_id.as_deref().filter(|s| !s.is_empty())
    }

    /// `ding:<staffId>` (or the sender id of someone outside the company).
    pub fn user(&self) -> Option<Identity> {
        let raw = self
            .staff_id()
            .or(Some(self.sender_id.as_str()).filter(|s| !s.is_empty()))?;
        Identity::new(Channel::DingTalk, &escape_id(raw)).ok()
    }

    /// The group (`ding:<conversationId>`), or the asker in a private chat.
    pub fn chat(&self) -> Option<Identity> {
        if self.is_group() {
            Identity::new(Channel::DingTalk, &escape_id(&self.conversation_id)).ok()
        } else {
            self.user()
        }
    }

    /// The text, without the spaces DingTalk leaves where the @ was.
    pub fn text(&self) -> Option<&str> {
        match (&self.text, self.msgtype.as_str()) {
            (Some(t), "text" | "") => Some(t.content.trim()),
            _ => None,
        }
    }
}

/// Whether the sender administers the group, as the message says.
pub struct DingAdmin(pub Option<bool>);

impl GroupAdmin for DingAdmin {
    async fn check(&self) -> Result<Option<bool>, String> {
        Ok(self.0)
    }
}

// ---------------------------------------------------------------- client

/// What went wrong talking to DingTalk; no secret, token, ticket or
/// session URL in any of them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DingError {
    /// The app's Client ID or Secret was rejected: nothing works until
    /// jxjy.toml or the environment is fixed.
    #[error("DingTalk rejected the app's credentials (client_id {client_id}): {message}")]
    Credentials { client_id: String, message: String },
    /// A 4xx or an error code for this request.
    #[error("DingTalk refused the {what}: {message}")]
    Refused { what: &'static str, message: String },
    /// Certainly not delivered (no connection, 5xx, rate-limited).
    #[error("DingTalk not reached for the {what}: {message}")]
    Transient { what: &'static str, message: String },
    /// May have been delivered: no answer in time, or an unreadable one.
    #[error("no clear answer from DingTalk to the {what}: {message}")]
    Unknown { what: &'static str, message: String },
    /// The session webhook has expired (errcode 300001).
    #[error("the session webhook has expired")]
    Expired,
    #[error("stopping")]
    Cancelled,
}

impl DingError {
    pub fn to_send_error(&self) -> SendError {
        match self {
            DingError::Credentials { .. } => SendError::Fatal(self.to_string()),
            DingError::Refused { .. } | DingError::Expired => SendError::Refused(self.to_string()),
            DingError::Transient { .. } => SendError::Transient(self.to_string()),
            DingError::Unknown { .. } => SendError::Unknown(self.to_string()),
            DingError::Cancelled => SendError::Cancelled,
        }
    }
}

/// Where the stream goes: the endpoint and its one-time ticket.
#[derive(Clone)]
pub struct Endpoint {
    pub endpoint: String,
    ticket: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoint({})", self.host())
    }
}

impl Endpoint {
    /// `endpoint?ticket=<url-encoded ticket>`.
    pub fn ws_url(&self) -> Result<String, DingError> {
        let mut u = reqwest::Url::parse(&self.endpoint).map_err(|_| DingError::Transient {
            what: "connection",
            message: "the gateway's endpoint is not a URL".into(),
        })?;
        u.query_pairs_mut().append_pair("ticket", &self.ticket);
        Ok(u.to_string())
    }

    /// Scheme, host and port of the endpoint, for messages.
    pub fn host(&self) -> String {
        match reqwest::Url::parse(&self.endpoint) {
            Ok(u) => format!(
                "{}://{}{}",
                u.scheme(),
                u.host_str().unwrap_or("?"),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => "an endpoint that is not a URL".into(),
        }
    }
}

struct Token {
    value: String,
    expires: DateTime<Utc>,
}

/// The robot's HTTP side: the handshake, the access token (cached,
/// renewed before it expires), session-webhook replies and OpenAPI
/// messages, under our rate limits. One per process.
pub struct DingTalk {
    cfg: Config,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    limiter: Limiter,
    token: tokio::sync::Mutex<Option<Token>>,
    /// Longest wait for an answer.
    pub timeout: Duration,
}

/// The `code`/`message` (OpenAPI) or `errcode`/`errmsg` (webhooks) of an
/// answer, for errors: never the whole body.
fn describe(status: u16, v: &Value) -> String {
    let code = v
        .get("code")
        .or_else(|| v.get("errcode"))
        .map(|c| c.to_string())
        .unwrap_or_default();
    let msg = v
        .get("message")
        .or_else(|| v.get("errmsg"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let msg: String = msg.chars().take(160).collect();
    format!("HTTP {status} {code} {msg}").trim().to_string()
}

impl DingTalk {
    pub fn new(
        cfg: Config,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<DingTalk, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(DingTalk {
            limiter: Limiter::new(clock.clone(), sleeper, OVERALL),
            cfg,
            http,
            clock,
            token: tokio::sync::Mutex::new(None),
            timeout: Duration::from_secs(15),
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// POST JSON; (status, body). Connection failures and 5xx are
    /// [`DingError::Transient`], a timeout or an unreadable 2xx answer
    /// [`DingError::Unknown`].
    async fn post(
        &self,
        what: &'static str,
        url: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<(u16, Value), DingError> {
        let mut req = self.http.post(url).json(body).timeout(self.timeout);
        if let Some(t) = token {
            req = req.header("x-acs-dingtalk-access-token", t);
        }
        let resp = req.send().await.map_err(|e| {
            let e = e.without_url();
            if e.is_connect() {
                DingError::Transient {
                    what,
                    message: e.to_string(),
                }
            } else if e.is_timeout() {
                DingError::Unknown {
                    what,
                    message: format!("no answer within {}s", self.timeout.as_secs()),
                }
            } else {
                DingError::Unknown {
                    what,
                    message: e.to_string(),
                }
            }
        })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| DingError::Unknown {
            what,
            message: e.without_url().to_string(),
        })?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 500 {
            return Err(DingError::Transient {
                what,
                message: describe(status, &v),
            });
        }
        if status == 429 {
            return Err(DingError::Transient {
                what,
                message: "rate-limited (HTTP 429)".into(),
            });
        }
        if (200..300).contains(&status) && v.is_null() {
            return Err(DingError::Unknown {
                what,
                message: format!("unreadable answer (HTTP {status})"),
            });
        }
        Ok((status, v))
    }

    /// Nothing was sent to anyone in a read-only call: an unclear answer
    /// is just a failure to retry.
    fn read_only(e: DingError) -> DingError {
        match e {
            DingError::Unknown { what, message } => DingError::Transient { what, message },
            e => e,
        }
    }

    fn credentials(&self, status: u16, v: &Value) -> DingError {
        DingError::Credentials {
            client_id: self.cfg.client_id.clone(),
            message: describe(status, v),
        }
    }

    /// The stream's endpoint and ticket (`/v1.0/gateway/connections/open`).
    pub async fn open_connection(&self) -> Result<Endpoint, DingError> {
        let body = json!({
            "clientId": self.cfg.client_id,
            "clientSecret": self.cfg.secret,
            "subscriptions": [{"type": "CALLBACK", "topic": BOT_TOPIC}],
            "ua": concat!("jxjy-bot/", env!("CARGO_PKG_VERSION")),
            "localIp": "",
        });
        let url = format!("{}/v1.0/gateway/connections/open", self.cfg.openapi);
        let (status, v) = self
            .post("connection", &url, None, &body)
            .await
            .map_err(Self::read_only)?;
        if status >= 400 {
            return Err(self.credentials(status, &v));
        }
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match (field("endpoint"), field("ticket")) {
            (Some(endpoint), Some(ticket)) => Ok(Endpoint { endpoint, ticket }),
            _ => Err(DingError::Transient {
                what: "connection",
                message: format!(
                    "answer without endpoint or ticket ({})",
                    describe(status, &v)
                ),
            }),
        }
    }

    /// The access token, from the cache while it has more than five
    /// minutes left; seconds it is still valid for.
    pub async fn access_token(&self) -> Result<(String, i64), DingError> {
        let mut cached = self.token.lock().await;
        let now = self.clock.now();
        if let Some(t) = cached.as_ref()
            && (t.expires - now).num_seconds() > TOKEN_MARGIN_SECS
        {
            return Ok((t.value.clone(), (t.expires - now).num_seconds()));
        }
        let url = format!("{}/v1.0/oauth2/accessToken", self.cfg.openapi);
        let body = json!({"appKey": self.cfg.client_id, "appSecret": self.cfg.secret});
        let (status, v) = self
            .post("access token", &url, None, &body)
            .await
            .map_err(Self::read_only)?;
        if status >= 400 {
            return Err(self.credentials(status, &v));
        }
        let token = v.get("accessToken").and_then(Value::as_str);
        let expire_in = v.get("expireIn").and_then(Value::as_i64);
        let (Some(token), Some(expire_in)) = (token.filter(|t| !t.is_empty()), expire_in) else {
            return Err(DingError::Transient {
                what: "access token",
                message: format!("answer without a token ({})", describe(status, &v)),
            });
        };
        *cached = Some(Token {
            value: token.to_string(),
            expires: now + chrono::Duration::seconds(expire_in),
        });
        Ok((token.to_string(), expire_in))
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    async fn acquire(&self, key: &str, stop: &Stop) -> Result<(), DingError> {
        self.limiter
            .acquire(key, PER_CHAT, stop)
            .await
            .map_err(|_| DingError::Cancelled)
    }

    /// Reply through a message's session webhook; [`DingError::Expired`]
    /// when it has expired.
    pub async fn reply_session(
        &self,
        webhook: &str,
        chat: &str,
        body: &Value,
        stop: &Stop,
    ) -> Result<(), DingError> {
        const WHAT: &str = "reply";
        self.acquire(chat, stop).await?;
        let (status, v) = self.post(WHAT, webhook, None, body).await?;
        let code = v.get("errcode").and_then(Value::as_i64).unwrap_or(0);
        match (status, code) {
            (_, SESSION_EXPIRED) => Err(DingError::Expired),
            (400.., _) => Err(DingError::Refused {
                what: WHAT,
                message: describe(status, &v),
            }),
            (_, 0) => Ok(()),
            // Rate-limit codes of DingTalk's robot webhooks.
            (_, 130_101 | 410_100) => Err(DingError::Transient {
                what: WHAT,
                message: describe(status, &v),
            }),
            _ => Err(DingError::Refused {
                what: WHAT,
                message: describe(status, &v),
            }),
        }
    }

    /// POST to the robot OpenAPI with the access token (renewed once if
    /// DingTalk says it is no longer valid).
    async fn openapi(
        &self,
        what: &'static str,
        path: &str,
        body: &Value,
    ) -> Result<Value, DingError> {
        let url = format!("{}{path}", self.cfg.openapi);
        for renewed in [false, true] {
            let (token, _) = self.access_token().await?;
            let (status, v) = self.post(what, &url, Some(&token), body).await?;
            match status {
                401 if !renewed => self.forget_token().await,
                401 => return Err(self.credentials(status, &v)),
                400.. => {
                    return Err(DingError::Refused {
                        what,
                        message: describe(status, &v),
                    });
                }
                _ => return Ok(v),
            }
        }
        Err(DingError::Unknown {
            what,
            message: "the token was refused twice".into(),
        })
    }

    fn text_message(&self, text: &str) -> Value {
        json!({
            "robotCode": self.cfg.robot_code,
            "msgKey": "sampleText",
            "msgParam": json!({"content": text}).to_string(),
        })
    }

    /// A text to one user, by staff id (`/v1.0/robot/oToMessages/batchSend`).
    pub async fn send_to_user(
        &self,
        staff_id: &str,
        text: &str,
        stop: &Stop,
    ) -> Result<(), DingError> {
        const WHAT: &str = "message to a user";
        self.acquire(staff_id, stop).await?;
        let mut body = self.text_message(text);
        body["userIds"] = json!([staff_id]);
        let v = self
            .openapi(WHAT, "/v1.0/robot/oToMessages/batchSend", &body)
            .await?;
        let listed = |k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(staff_id)))
        };
        if listed("invalidStaffIdList") {
            return Err(DingError::Refused {
                what: WHAT,
                message: "not a user this robot can reach (invalidStaffIdList)".into(),
            });
        }
        if listed("flowControlledStaffIdList") {
            return Err(DingError::Transient {
                what: WHAT,
                message: "rate-limited by DingTalk (flowControlledStaffIdList)".into(),
            });
        }
        Ok(())
    }

    /// A text to a group the robot is in (`/v1.0/robot/groupMessages/send`).
    pub async fn send_to_group(
        &self,
        conversation_id: &str,
        text: &str,
        stop: &Stop,
    ) -> Result<(), DingError> {
        self.acquire(conversation_id, stop).await?;
        let mut body = self.text_message(text);
        body["openConversationId"] = json!(conversation_id);
        self.openapi(
            "message to a group",
            "/v1.0/robot/groupMessages/send",
            &body,
        )
        .await
        .map(|_| ())
    }

    /// `jxjy-bot dingtalk check`: a token, the handshake, the WebSocket
    /// opened and closed; each step said through `say`.
    pub async fn check(&self, mut say: impl FnMut(String)) -> Result<(), DingError> {
        say(format!(
            "app: client_id {}, robot_code {}, OpenAPI {}",
            self.cfg.client_id, self.cfg.robot_code, self.cfg.openapi
        ));
        let (_, valid) = self.access_token().await?;
        say(format!(
            "credentials: OK (access token obtained, valid for {} min)",
            valid / 60
        ));
        let ep = self.open_connection().await?;
        say(format!("stream: gateway answered, endpoint {}", ep.host()));
        let url = ep.ws_url()?;
        let connect = tokio_tungstenite::connect_async(url.as_str());
        let (mut ws, _) = match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => {
                return Err(DingError::Transient {
                    what: "connection",
                    message: ws_error(&e),
                });
            }
            Err(_) => {
                return Err(DingError::Transient {
                    what: "connection",
                    message: format!("no WebSocket within {}s", self.timeout.as_secs()),
                });
            }
        };
        say(format!(
            "stream: WebSocket open at {}; the robot can receive messages",
            ep.host()
        ));
        let _ = ws.close(None).await;
        Ok(())
    }
}

/// A WebSocket error without the URL (it holds the ticket).
fn ws_error(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(r) => format!("HTTP {} at the WebSocket handshake", r.status()),
        Error::Url(_) => "the WebSocket URL is not usable".into(),
        e => e.to_string(),
    }
}

impl Sender for DingTalk {
    async fn send(&self, to: &Address, text: &str, stop: &Stop) -> Result<(), SendError> {
        let (chat, kind) = match to {
            Address::Chat { chat, kind } if chat.channel() == Channel::DingTalk => (chat, kind),
            _ => {
                return Err(SendError::Refused(format!(
                    "{} is not a DingTalk chat",
                    to.id()
                )));
            }
        };
        let id = unescape_id(chat.id());
        for part in crate::webhook::split_bytes(text, MAX_TEXT_BYTES) {
            let sent = match kind {
                ChatKind::Private => self.send_to_user(&id, &part, stop).await,
                ChatKind::Group => self.send_to_group(&id, &part, stop).await,
            };
            sent.map_err(|e| e.to_send_error())?;
        }
        Ok(())
    }

    fn serves(&self, channel: Channel) -> bool {
        channel == Channel::DingTalk
    }
}

// ---------------------------------------------------------------- stream

/// How the stream runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// First wait before reconnecting after an error; doubles up to `backoff_max`.
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    /// With no frame for this long, a WebSocket ping; with none after
    /// another such wait, the connection is reopened.
    pub idle: Duration,
    /// Tries of an answer DingTalk did not take for now.
    pub answer_tries: usize,
    /// Longest wait, after the stop signal, for answers in progress.
    pub grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backoff_first: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            idle: Duration::from_secs(90),
            answer_tries: 3,
            grace: Duration::from_secs(10),
        }
    }
}

impl Options {
    fn backoff(&self, failures: u32) -> Duration {
        self.backoff_first
            .saturating_mul(1 << failures.min(16))
            .min(self.backoff_max)
    }
}

/// DingTalk as a channel of the service.
pub fn front(client: Arc<DingTalk>, app: Arc<App>, opts: Options) -> Front {
    Front {
        name: "dingtalk",
        inbox: Some(CHANNEL),
        start: Box::new(move |stop| Box::pin(run(client, app, opts, stop))),
    }
}

/// Keep the stream open until stopped: handshake, frames, reconnect.
/// Rejected credentials end it with an error (nothing can work).
pub async fn run(
    client: Arc<DingTalk>,
    app: Arc<App>,
    opts: Options,
    stop: Stop,
) -> anyhow::Result<()> {
    let inbox = Arc::new(Inbox::open(&app.store, CHANNEL)?);
    let handler = Arc::new(Handler {
        client: client.clone(),
        app,
        choices: ChoiceMemory::default(),
        opts: opts.clone(),
        stop: stop.clone(),
    });
    let mut workers = Workers {
        handler,
        inbox: inbox.clone(),
        queues: ChatWorkers::new("DingTalk answers"),
    };
    // Stored before a stop or a crash and not answered yet.
    let left = inbox.pending(None, usize::MAX)?;
    if !left.is_empty() {
        tracing::info!(
            pending = left.len(),
            "DingTalk messages left from the last run are answered first"
        );
    }
    for item in left {
        workers.dispatch(item);
    }
    let mut failures: u32 = 0;
    let result = loop {
        if stop.is_set() {
            break Ok(());
        }
        let opened = tokio::select! {
            r = client.open_connection() => r,
            _ = stop.wait() => break Ok(()),
        };
        let ended = match opened {
            Ok(ep) => match ep.ws_url() {
                Ok(url) => {
                    let connect = tokio::time::timeout(
                        client.timeout,
                        tokio_tungstenite::connect_async(url.as_str()),
                    );
                    tokio::select! {
                        r = connect => match r {
                            Ok(Ok((ws, _))) => {
                                tracing::info!(endpoint = %ep.host(), "DingTalk stream connected");
                                session(ws, &inbox, &mut workers, &opts, &stop).await
                            }
                            Ok(Err(e)) => Ended::Error(format!("WebSocket: {}", ws_error(&e)), false),
                            Err(_) => Ended::Error("WebSocket: no connection in time".into(), false),
                        },
                        _ = stop.wait() => break Ok(()),
                    }
                }
                Err(e) => Ended::Error(e.to_string(), false),
            },
            Err(e @ DingError::Credentials { .. }) => {
                tracing::error!(error = %e, "DingTalk: check client_id in jxjy.toml and the secret in the environment");
                break Err(anyhow::Error::new(e));
            }
            Err(e) => Ended::Error(e.to_string(), false),
        };
        match ended {
            Ended::Stop => break Ok(()),
            Ended::Disconnect => {
                tracing::info!("DingTalk gateway asked to reconnect; opening a new connection");
                failures = 0;
            }
            Ended::Error(e, had_frames) => {
                if had_frames {
                    failures = 0;
                }
                let wait = opts.backoff(failures);
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, "DingTalk stream lost; reconnecting in {:.1}s", wait.as_secs_f64());
                if stop.sleep(wait).await {
                    break Ok(());
                }
            }
        }
    };
    workers.queues.finish(opts.grace).await;
    result
}

/// How a connection ended.
enum Ended {
    Stop,
    /// SYSTEM disconnect: a fresh handshake at once.
    Disconnect,
    /// The reason, and whether frames had come (the connection worked).
    Error(String, bool),
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One connection's frames, until it ends.
async fn session(
    ws: Ws,
    inbox: &Inbox,
    workers: &mut Workers,
    opts: &Options,
    stop: &Stop,
) -> Ended {
    let (mut tx, mut rx) = ws.split();
    let mut pinged = false;
    let mut frames = false;
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.wait() => {
                let _ = tx.send(Message::Close(None)).await;
                return Ended::Stop;
            }
            n = tokio::time::timeout(opts.idle, rx.next()) => n,
        };
        let msg = match next {
            Err(_) if pinged => return Ended::Error("no frame nor pong in time".into(), frames),
            Err(_) => {
                pinged = true;
                if let Err(e) = tx.send(Message::Ping(Vec::new().into())).await {
                    return Ended::Error(ws_error(&e), frames);
                }
                continue;
            }
            Ok(None) => return Ended::Error("the gateway closed the connection".into(), frames),
            Ok(Some(Err(e))) => return Ended::Error(ws_error(&e), frames),
            Ok(Some(Ok(m))) => m,
        };
        pinged = false;
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(_) => {
                return Ended::Error("the gateway closed the connection".into(), frames);
            }
            // Pings are answered by tungstenite; binary frames are not DingTalk's.
            _ => continue,
        };
        frames = true;
        let (reply, disconnect) = on_frame(text.as_str(), inbox, workers);
        if let Err(e) = tx.send(Message::text(reply)).await {
            return Ended::Error(ws_error(&e), frames);
        }
        if disconnect {
            let _ = tx.send(Message::Close(None)).await;
            return Ended::Disconnect;
        }
    }
}

/// The ACK of one frame, and whether the gateway asked to reconnect. A
/// robot message is stored (and flushed) before its ACK is returned.
fn on_frame(text: &str, inbox: &Inbox, workers: &mut Workers) -> (String, bool) {
    let frame = match parse_frame(text) {
        Ok(f) => f,
        Err((e, id)) => {
            tracing::warn!(error = %e, bytes = text.len(), "malformed DingTalk frame");
            return (
                ack(id.as_deref().unwrap_or(""), 400, "bad frame", ""),
                false,
            );
        }
    };
    let id = frame.message_id.as_str();
    match (frame.kind.as_str(), frame.topic.as_str()) {
        ("SYSTEM", "ping") => (ack(id, 200, "OK", &frame.data), false),
        ("SYSTEM", "disconnect") => (ack(id, 200, "OK", ""), true),
        ("SYSTEM", _) | ("EVENT", _) => (ack(id, 200, "OK", ""), false),
        ("CALLBACK", BOT_TOPIC) => {
            let parsed = serde_json::from_str::<Value>(&frame.data)
                .ok()
                .and_then(|v| Some((serde_json::from_value::<BotMessage>(v.clone()).ok()?, v)))
                .filter(|(m, _)| !m.msg_id.is_empty() && m.chat().is_some());
            let Some((msg, payload)) = parsed else {
                tracing::warn!(frame = id, "unreadable DingTalk robot message");
                return (ack(id, 400, "bad message", ""), false);
            };
            match inbox.put(vec![(msg.msg_id.clone(), payload)]) {
                Ok(new) => {
                    if new.is_empty() {
                        tracing::info!(msg = %msg.msg_id, "DingTalk message delivered again; answered once");
                    }
                    for item in new {
                        workers.dispatch(item);
                    }
                    let ok = json!({"response": "OK"}).to_string();
                    (ack(id, 200, "OK", &ok), false)
                }
                Err(e) => {
                    // Not ACKed as received: the gateway sends it again.
                    tracing::error!(error = %e, "cannot store a DingTalk message");
                    (ack(id, 500, "cannot store", ""), false)
                }
            }
        }
        ("CALLBACK", topic) => {
            tracing::warn!(
                topic,
                "DingTalk callback on a topic this bot does not handle"
            );
            (ack(id, 404, "no handler", ""), false)
        }
        (kind, _) => {
            tracing::warn!(kind, "DingTalk frame of an unknown type");
            (ack(id, 400, "unknown type", ""), false)
        }
    }
}

/// One worker per chat with work ([`ChatWorkers`]), each answering its
/// chat's messages in order.
struct Workers {
    handler: Arc<Handler>,
    inbox: Arc<Inbox>,
    queues: ChatWorkers<String, Item>,
}

impl Workers {
    fn dispatch(&mut self, item: Item) {
        let chat = item
            .payload
            .get("conversationId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (handler, inbox) = (&self.handler, &self.inbox);
        // A worker gone (it ended) leaves the message pending for the next start.
        let _ = self.queues.dispatch(chat, item, || {
            let (handler, inbox) = (handler.clone(), inbox.clone());
            move |item: Item| {
                let (handler, inbox) = (handler.clone(), inbox.clone());
                async move {
                    if !handler.stop.is_set() {
                        handler.handle(&inbox, &item).await;
                    }
                }
            }
        });
    }
}

/// Answering stopped because the process is stopping: the message stays
/// pending.
#[derive(Debug, thiserror::Error)]
#[error("stopping before the answer was sent")]
struct Stopping;

struct Handler {
    client: Arc<DingTalk>,
    app: Arc<App>,
    /// The numbered choices last shown in each chat.
    choices: ChoiceMemory,
    opts: Options,
    stop: Stop,
}

impl Handler {
    async fn handle(&self, inbox: &Inbox, item: &Item) {
        match self.answer(item).await {
            Ok(()) => {}
            Err(e) if e.is::<Stopping>() => return,
            // Marked done anyway: a message that fails every time must not
            // block its chat forever.
            Err(e) => {
                tracing::error!(msg = %item.id, error = %format!("{e:#}"), "error answering a DingTalk message")
            }
        }
        if let Err(e) = inbox.done(item) {
            tracing::error!(error = %e, "cannot mark a DingTalk message done");
        }
    }

    async fn answer(&self, item: &Item) -> anyhow::Result<()> {
        let msg: BotMessage = serde_json::from_value(item.payload.clone())?;
        let Some(chat) = msg.chat() else {
            anyhow::bail!("message without a usable chat id");
        };
        let typed = msg.text();
        let input = match typed {
            None => Input::Other,
            Some(t) => self.choices.press(&chat, t),
        };
        let incoming = Incoming {
            chat: chat.clone(),
            kind: if msg.is_group() {
                ChatKind::Group
            } else {
                ChatKind::Private
            },
            user: msg.user(),
            input,
            op: Some(item.op(CHANNEL)),
            me: None,
            private_link: None,
        };
        let out = self
            .app
            .core
            .handle(&incoming, &DingAdmin(msg.is_admin))
            .await?;
        if out.is_silent() {
            return Ok(());
        }
        if !out.messages.is_empty() {
            self.choices.remember(&chat, &out);
        }
        let text = render::plain_output(&out);
        for part in crate::webhook::split_bytes(&text, MAX_TEXT_BYTES) {
            if let Err(e) = self.deliver(&msg, &part).await {
                if e == DingError::Cancelled {
                    return Err(Stopping.into());
                }
                tracing::error!(error = %e, "DingTalk answer not delivered");
                self.app.store.answer_failed(&e.to_string())?;
                return Ok(());
            }
        }
        Ok(())
    }

    /// One part of an answer: through the session webhook while it is
    /// valid, else through the OpenAPI. Transient failures are retried.
    async fn deliver(&self, msg: &BotMessage, text: &str) -> Result<(), DingError> {
        let now_ms = self.app.core.clock().now().timestamp_millis();
        // A minute's margin: an answer sent at the last moment may arrive late.
        let session = msg.session_webhook.as_deref().filter(|_| {
            msg.session_webhook_expired_time
                .is_none_or(|t| now_ms < t.saturating_sub(60_000))
        });
        let staff = msg.staff_id();
        if let Some(url) = session {
            let mut body = json!({"msgtype": "text", "text": {"content": text}});
            if msg.is_group()
                && let Some(s) = staff
            {
                // DingTalk highlights an @ only when the text names the id too.
                body["text"]["content"] = json!(format!("@{s} {text}"));
                body["at"] = json!({"atUserIds": [s], "isAtAll": false});
            }
            let sent = self
                .retry(|| {
                    self.client
                        .reply_session(url, &msg.conversation_id, &body, &self.stop)
                })
                .await;
            match sent {
                Err(DingError::Expired) => {
                    tracing::info!(
                        "DingTalk session webhook expired; answering through the OpenAPI"
                    );
                }
                other => return other,
            }
        }
        if msg.is_group() {
            let text = match msg.sender_nick.trim() {
                "" => text.to_string(),
                nick => format!("@{nick} {text}"),
            };
            self.retry(|| {
                self.client
                    .send_to_group(&msg.conversation_id, &text, &self.stop)
            })
            .await
        } else {
            let Some(staff) = staff else {
                return Err(DingError::Refused {
                    what: "message to a user",
                    message: "the session webhook expired and the sender has no staff id".into(),
                });
            };
            self.retry(|| self.client.send_to_user(staff, text, &self.stop))
                .await
        }
    }

    async fn retry<F, Fut>(&self, mut f: F) -> Result<(), DingError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), DingError>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            match f().await {
                Err(DingError::Transient { what, message }) if tries < self.opts.answer_tries => {
                    tracing::warn!(what, %message, "DingTalk answer not delivered; retrying");
                    if self
                        .stop
                        .sleep(self.opts.backoff(tries.saturating_sub(1) as u32))
                        .await
                    {
                        return Err(DingError::Cancelled);
                    }
                }
                r => return r,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_defensively() {
        let ping = r#"{"specVersion":"1.0","type":"SYSTEM","headers":{"messageId":"m1","topic":"ping","contentType":"application/json"},"data":"{\"opaque\":\"x\"}"}"#;
        let f = parse_frame(ping).unwrap();
        assert_eq!((f.kind.as_str(), f.topic.as_str()), ("SYSTEM", "ping"));
        assert_eq!(f.data, r#"{"opaque":"x"}"#);
        let a: Value = serde_json::from_str(&ack(&f.message_id, 200, "OK", &f.data)).unwrap();
        assert_eq!(a["headers"]["messageId"], "m1");
        assert_eq!(a["data"], r#"{"opaque":"x"}"#);
        for bad in [
            "",
            "null",
            "[]",
            "{",
            r#"{"type":"SYSTEM"}"#,
            r#"{"type":"SYSTEM","headers":{"messageId":7}}"#,
            r#"{"headers":{"messageId":"m"}}"#,
            r#"{"type":3,"headers":{"messageId":"m"}}"#,
        ] {
            assert!(parse_frame(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_frame(r#"{"headers":{"messageId":"m"}}"#)
                .unwrap_err()
                .1
                .as_deref(),
            Some("m"),
            "the id is kept for the ACK"
        );
    }

    proptest::proptest! {
        /// Whatever the gateway sends, reading it returns (no panic), and
        /// an ACK can be built from what was read.
        #[test]
        fn any_frame_is_read_without_panicking(
            kind in "(SYSTEM|CALLBACK|EVENT|.{0,8})",
            id in ".{0,12}",
            data in ".{0,64}",
            raw in ".{0,200}",
        ) {
            let _ = parse_frame(&raw);
            let frame = json!({"type": kind, "headers": {"messageId": id, "topic": BOT_TOPIC}, "data": data});
            let id = match parse_frame(&frame.to_string()) {
                Ok(f) => f.message_id,
                Err((_, id)) => id.unwrap_or_default(),
            };
            let _: Value = serde_json::from_str(&ack(&id, 400, "bad frame", "")).unwrap();
            if let Ok(m) = serde_json::from_str::<BotMessage>(&data) {
                let _ = (m.chat(), m.user(), m.text());
            }
        }
    }

    #[test]
    fn ids_with_slashes_and_colons_become_identities_and_come_back() {
        for raw in ["cidAb/c+d==", "$:LWCP_v1:$abc", "100%/:", "manager4812"] {
            let i = Identity::new(Channel::DingTalk, &escape_id(raw)).unwrap();
            assert_eq!(unescape_id(i.id()), raw);
            assert_eq!(i.to_string().parse::<Identity>().unwrap(), i);
        }
        let m: BotMessage = serde_json::from_value(json!({
            "msgId": "x", "conversationType": "2", "conversationId": "cid/1",
            "senderStaffId": "s1", "text": {"content": "  问题 "}, "msgtype": "text"
        }))
        .unwrap();
        assert_eq!(m.chat().unwrap().to_string(), "ding:cid%2F1");
        assert_eq!(m.user().unwrap().to_string(), "ding:s1");
        assert_eq!(m.text(), Some("问题"));
        let picture: BotMessage =
            serde_json::from_value(json!({"msgId": "y", "msgtype": "picture", "senderId": "u"}))
                .unwrap();
        assert_eq!(picture.text(), None);
        assert_eq!(picture.chat().unwrap().to_string(), "ding:u");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = Config {
            client_id: "ding123".into(),
            robot_code: "ding123".into(),
            openapi: DEFAULT_OPENAPI.into(),
            secret: "s3cr3t-value".into(),
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let e = Endpoint {
            endpoint: "wss://gw.example:8443/connect".into(),
            ticket: "tick-et".into(),
        };
        assert!(!format!("{e:?}").contains("tick"));
        assert_eq!(e.host(), "wss://gw.example:8443");
        assert!(e.ws_url().unwrap().ends_with("/connect?ticket=tick-et"));
    }

    #[test]
    fn config_reads_the_table_and_the_secret_from_the_environment() {
        let p = Path::new("jxjy.toml");
        let load = |text: &str| {
            let mut t: toml::Table = toml::from_str(text).unwrap();
            from_table(t.remove("dingtalk"), p)
        };
        let text = "[dingtalk]\nclient_id = \"dingabc\"\nopenapi = \"http://127.0.0.1:1/\"\nsecret_env = \"JXJY_TEST_DING_SECRET_A\"\n";
        let e = load(text).unwrap_err().to_string();
        assert!(
            e.contains("JXJY_TEST_DING_SECRET_A") && e.contains("jxjy.toml"),
            "{e}"
        );
        // SAFETY: this variable is read by this test only.
        unsafe { std::env::set_var("JXJY_TEST_DING_SECRET_A", "sec") };
        let c = load(text).unwrap().unwrap();
        assert_eq!(c.robot_code, "dingabc");
        assert_eq!(c.openapi, "http://127.0.0.1:1");
        assert_eq!(c.secret, "sec");
        let e = load("[dingtalk]\nclient_id = \"a\"\nsecret = \"inline\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret") && !e.contains("inline"), "{e}");
        assert!(load("[school]\n").unwrap().is_none());
    }
}
