//! Reminders to WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) group
//! robots: incoming webhooks configured in `jxjy.toml`.
//!
//! All three answer HTTP 200 even on failure, so the JSON code decides:
//! rate-limit codes back off and retry, bad key or signature stops the
//! target, network errors and 5xx retry with backoff. A request that got
//! no clear answer (timeout, broken connection, unreadable answer) is not
//! retried here: it may have arrived, and none of the three takes an
//! idempotency key, so the delivery protocol decides ([`crate::delivery`]).
//! Each robot's own rate limit is kept on our side with a sliding window
//! over the injected clock, one per robot, so robots do not wait for each
//! other.

use crate::clock::{Clock, Sleeper, Stop};
use crate::delivery::{Address, SendError, Sender};
use crate::limits::{Limiter, Limits};
use crate::telegram::redact_url;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Wecom,
    Dingtalk,
    Feishu,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    kind: Kind,
    /// Full webhook URL, or the key / access token / hook token below.
    url: Option<String>,
    key: Option<String>,
    key_env: Option<String>,
    secret: Option<String>,
    secret_env: Option<String>,
    /// For private deployments and tests; defaults to the platform's host.
    base_url: Option<String>,
    #[serde(default)]
    mention_all: bool,
    #[serde(default)]
    mention_mobiles: Vec<String>,
    #[serde(default)]
    mention_users: Vec<String>,
}

/// One robot, resolved: URL known, secrets read from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub kind: Kind,
    pub url: String,
    pub secret: Option<String>,
    pub mention_all: bool,
    pub mention_mobiles: Vec<String>,
    pub mention_users: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] crate::config::FileError),
    #[error("{file}: [[webhook]]: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: webhook '{target}': {message}")]
    Target {
        file: String,
        target: String,
        message: String,
    },
}

fn default_base(kind: Kind) -> &'static str {
    match kind {
        Kind::Wecom => "https://qyapi.weixin.qq.com",
        Kind::Dingtalk => "https://oapi.dingtalk.com",
        Kind::Feishu => "https://open.feishu.cn",
    }
}

fn from_env_or(value: &Option<String>, env: &Option<String>) -> Result<Option<String>, String> {
    match (value, env) {
        (Some(v), _) => Ok(Some(v.clone())),
        (None, Some(var)) => std::env::var(var)
            .map(Some)
            .map_err(|_| format!("environment variable {var} is not set")),
        (None, None) => Ok(None),
    }
}

/// Read and check the robots of `jxjy.toml`.
pub fn load_config(path: &Path) -> Result<Vec<Target>, ConfigError> {
    from_table(crate::config::table(path, "webhook")?, path)
}

/// Check the `[[webhook]]` tables read from the file `path`.
pub fn from_table(table: Option<toml::Value>, path: &Path) -> Result<Vec<Target>, ConfigError> {
    let file = path.display().to_string();
    let webhooks: Vec<RawTarget> = match table {
        Some(v) => Vec::<RawTarget>::deserialize(v).map_err(|e| ConfigError::Parse {
            file: file.clone(),
            message: e.message().trim().to_string(),
        })?,
        None => Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for t in webhooks {
        let err = |message: String| ConfigError::Target {
            file: file.clone(),
            target: t.name.clone(),
            message,
        };
        if t.name.trim().is_empty() {
            return Err(err("a target needs a name".into()));
        }
        if !seen.insert(t.name.clone()) {
            return Err(err("the name is used twice".into()));
        }
        let key = from_env_or(&t.key, &t.key_env).map_err(err)?;
        let secret = from_env_or(&t.secret, &t.secret_env).map_err(err)?;
        let url = match (&t.url, key) {
            (Some(u), None) => u.clone(),
            (Some(_), Some(_)) => return Err(err("give either url or key, not both".into())),
            (None, None) => return Err(err("needs url, key or key_env".into())),
            (None, Some(k)) => {
                let base = t
                    .base_url
                    .clone()
                    .unwrap_or_else(|| default_base(t.kind).to_string());
                let base = base.trim_end_matches('/');
                match t.kind {
                    Kind::Wecom => format!("{base}/cgi-bin/webhook/send?key={k}"),
                    Kind::Dingtalk => format!("{base}/robot/send?access_token={k}"),
                    Kind::Feishu => format!("{base}/open-apis/bot/v2/hook/{k}"),
                }
            }
        };
        if reqwest::Url::parse(&url).is_err() {
            return Err(err(format!(
                "the webhook URL ({}) is not a URL",
                redact_url(&url)
            )));
        }
        if t.kind == Kind::Wecom && secret.is_some() {
            return Err(err("WeCom robots are not signed; remove secret".into()));
        }
        for m in &t.mention_mobiles {
            if m.is_empty() || !m.chars().all(|c| c.is_ascii_digit()) {
                return Err(err(format!(
                    "mention_mobiles: '{m}' is not a mobile number"
                )));
            }
        }
        out.push(Target {
            name: t.name.clone(),
            kind: t.kind,
            url,
            secret,
            mention_all: t.mention_all,
            mention_mobiles: t.mention_mobiles.clone(),
            mention_users: t.mention_users.clone(),
        });
    }
    Ok(out)
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk: base64(HMAC-SHA256(key = secret, message = timestamp_ms + "\n" + secret)).
pub fn dingtalk_sign(timestamp_ms: i64, secret: &str) -> String {
    hmac_b64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    )
}

/// Feishu: base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = empty)).
pub fn feishu_sign(timestamp_s: i64, secret: &str) -> String {
    hmac_b64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// Most bytes of text one message may carry.
pub fn max_text_bytes(kind: Kind) -> usize {
    match kind {
        Kind::Wecom => 2048,
        // DingTalk documents no text limit; stay well under its 20 KB body.
        Kind::Dingtalk => 4096,
        // Feishu's whole body must stay under 20 KB.
        Kind::Feishu => 18_000,
    }
}

/// Sliding windows: (window, most messages in it).
pub fn rate_limits(kind: Kind) -> &'static [(Duration, usize)] {
    const MINUTE_20: &[(Duration, usize)] = &[(Duration::from_secs(60), 20)];
    const FEISHU: &[(Duration, usize)] =
        &[(Duration::from_secs(1), 5), (Duration::from_secs(60), 100)];
    match kind {
        Kind::Wecom | Kind::Dingtalk => MINUTE_20,
        Kind::Feishu => FEISHU,
    }
}

/// Parts of at most `max` bytes (the robots count bytes).
pub fn split_bytes(text: &str, max: usize) -> Vec<String> {
    crate::text::split_text(text, max, str::len)
}

/// The request for one message: URL (signed where needed) and JSON body.
pub fn build_request(t: &Target, text: &str, now: DateTime<Utc>) -> (String, Value) {
    match t.kind {
        Kind::Wecom => {
            let mut mentioned: Vec<String> = t.mention_users.clone();
            if t.mention_all {
                mentioned.push("@all".into());
            }
            let mut inner = json!({"content": text});
            if !mentioned.is_empty() {
                inner["mentioned_list"] = json!(mentioned);
            }
            if !t.mention_mobiles.is_empty() {
                inner["mentioned_mobile_list"] = json!(t.mention_mobiles);
            }
            (t.url.clone(), json!({"msgtype": "text", "text": inner}))
        }
        Kind::Dingtalk => {
            // DingTalk only notifies mobiles that also appear in the text.
            let mut content = text.to_string();
            for m in &t.mention_mobiles {
                content.push_str(&format!(" @{m}"));
            }
            let mut url = t.url.clone();
            if let Some(secret) = &t.secret {
                let ts = now.timestamp_millis();
                let sign = dingtalk_sign(ts, secret);
                if let Ok(mut u) = reqwest::Url::parse(&url) {
                    u.query_pairs_mut()
                        .append_pair("timestamp", &ts.to_string())
                        .append_pair("sign", &sign);
                    url = u.to_string();
                }
            }
            let body = json!({
                "msgtype": "text",
                "text": {"content": content},
                "at": {"atMobiles": t.mention_mobiles, "atUserIds": t.mention_users, "isAtAll": t.mention_all}
            });
            (url, body)
        }
        Kind::Feishu => {
            let mut content = text.to_string();
            if t.mention_all {
                content.push_str(" <at user_id=\"all\">所有人</at>");
            }
            for u in &t.mention_users {
                content.push_str(&format!(" <at user_id=\"{u}\"></at>"));
            }
            let mut body = json!({"msg_type": "text", "content": {"text": content}});
            if let Some(secret) = &t.secret {
                let ts = now.timestamp();
                body["timestamp"] = json!(ts.to_string());
                body["sign"] = json!(feishu_sign(ts, secret));
            }
            (t.url.clone(), body)
        }
    }
}

/// What a platform's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    RateLimited,
    /// Bad key or signature: stop using this target.
    Auth,
    Other,
}

/// (code, message, outcome) from an answer body.
pub fn classify(kind: Kind, body: &Value) -> (i64, String, Outcome) {
    let (code, msg) = match kind {
        Kind::Wecom | Kind::Dingtalk => (
            body.get("errcode").and_then(Value::as_i64).unwrap_or(-1),
            body.get("errmsg")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
        Kind::Feishu => (
            body.get("code")
                .or_else(|| body.get("StatusCode"))
                .and_then(Value::as_i64)
                .unwrap_or(-1),
            body.get("msg")
                .or_else(|| body.get("StatusMessage"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
    };
    let outcome = match (kind, code) {
        (_, 0) => Outcome::Ok,
        (Kind::Wecom, 45009) | (Kind::Dingtalk, 130101 | 410100) | (Kind::Feishu, 11232) => {
            Outcome::RateLimited
        }
        (Kind::Wecom, 93000)
        | (Kind::Dingtalk, 310000 | 400101)
        | (Kind::Feishu, 19021 | 19001) => Outcome::Auth,
        _ => Outcome::Other,
    };
    (code, msg, outcome)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WebhookError {
    #[error(
        "webhook '{target}': key or signature rejected (code {code}: {message}); target stopped, check jxjy.toml"
    )]
    Auth {
        target: String,
        code: i64,
        message: String,
    },
    #[error("webhook '{target}': still rate-limited after backing off (code {code})")]
    RateLimited { target: String, code: i64 },
    #[error("webhook '{target}': answered code {code}: {message}")]
    Platform {
        target: String,
        code: i64,
        message: String,
    },
    /// Certainly not delivered: no connection, or the platform failed (5xx).
    #[error("webhook '{target}': not delivered after retries: {message}")]
    Network { target: String, message: String },
    /// May have been delivered: timeout, broken connection, unreadable answer.
    #[error("webhook '{target}': no clear answer ({message}); it may have arrived")]
    NoAnswer { target: String, message: String },
    #[error("webhook '{target}': stopping")]
    Cancelled { target: String },
}

impl WebhookError {
    pub fn to_send_error(&self) -> SendError {
        match self {
            WebhookError::Auth { .. } => SendError::Rejected(self.to_string()),
            WebhookError::RateLimited { .. } | WebhookError::Network { .. } => {
                SendError::Transient(self.to_string())
            }
            WebhookError::Platform { .. } => SendError::Refused(self.to_string()),
            WebhookError::NoAnswer { .. } => SendError::Unknown(self.to_string()),
            WebhookError::Cancelled { .. } => SendError::Cancelled,
        }
    }
}

/// Backoff after a rate-limit answer and between network retries, and the
/// longest wait for an answer.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub rate_limited: Duration,
    pub network: Duration,
    pub tries: usize,
    pub timeout: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            rate_limited: Duration::from_secs(60),
            network: Duration::from_secs(2),
            tries: 3,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Sends to robots; one per process (it holds the rate-limit windows).
pub struct WebhookClient {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    limiter: Limiter,
    pub backoff: Backoff,
}

impl WebhookClient {
    pub fn new(
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<WebhookClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(WebhookClient {
            http,
            limiter: Limiter::new(clock.clone(), sleeper.clone(), &[]),
            clock,
            sleeper,
            backoff: Backoff::default(),
        })
    }

    /// Wait for the robot's rate limit, then send one request; returns the
    /// platform's answer body.
    async fn post(&self, t: &Target, text: &str, stop: &Stop) -> Result<Value, WebhookError> {
        let limits: &Limits = rate_limits(t.kind);
        if self.limiter.acquire(&t.name, limits, stop).await.is_err() {
            return Err(WebhookError::Cancelled {
                target: t.name.clone(),
            });
        }
        let now = self.clock.now();
        let (url, body) = build_request(t, text, now);
        let no_answer = |e: reqwest::Error| {
            let e = e.without_url();
            WebhookError::NoAnswer {
                target: t.name.clone(),
                message: if e.is_timeout() {
                    format!("no answer within {}s", self.backoff.timeout.as_secs())
                } else {
                    e.to_string()
                },
            }
        };
        let resp = self
            .http
            .post(&url)
            .json(&body)
            .timeout(self.backoff.timeout)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    WebhookError::Network {
                        target: t.name.clone(),
                        message: e.without_url().to_string(),
                    }
                } else {
                    no_answer(e)
                }
            })?;
        let status = resp.status();
        let text = resp.text().await.map_err(no_answer)?;
        let snippet: String = text.chars().take(200).collect();
        if status.is_server_error() {
            // The platform (or a gateway in front of it) failed, whatever
            // the body says: retried.
            return Err(WebhookError::Network {
                target: t.name.clone(),
                message: format!("HTTP {status}: {snippet}"),
            });
        }
        match serde_json::from_str(&text) {
            Ok(v) => Ok(v),
            Err(_) if status.is_success() => Err(WebhookError::NoAnswer {
                target: t.name.clone(),
                message: format!("unreadable answer: {snippet}"),
            }),
            Err(_) => Err(WebhookError::Platform {
                target: t.name.clone(),
                code: i64::from(status.as_u16()),
                message: snippet,
            }),
        }
    }

    /// Send one message (split when too long), retrying rate limits and
    /// network errors; returns the answer to the last part.
    pub async fn send(&self, t: &Target, text: &str) -> Result<Value, WebhookError> {
        self.send_until(t, text, &Stop::never()).await
    }

    /// [`WebhookClient::send`], with waits cut short by `stop`.
    pub async fn send_until(
        &self,
        t: &Target,
        text: &str,
        stop: &Stop,
    ) -> Result<Value, WebhookError> {
        let mut last = Value::Null;
        for part in split_bytes(text, max_text_bytes(t.kind)) {
            last = self.send_part(t, &part, stop).await?;
        }
        Ok(last)
    }

    async fn send_part(&self, t: &Target, text: &str, stop: &Stop) -> Result<Value, WebhookError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let wait = |d: Duration| async move {
                tokio::select! {
                    _ = self.sleeper.sleep(d) => Ok(()),
                    _ = stop.wait() => Err(WebhookError::Cancelled { target: t.name.clone() }),
                }
            };
            let answer = match self.post(t, text, stop).await {
                Ok(a) => a,
                Err(WebhookError::Network { message, .. }) if tries < self.backoff.tries => {
                    tracing::warn!(target = %t.name, %message, "webhook not delivered; retrying");
                    wait(self.backoff.network * (1 << (tries - 1))).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (code, message, outcome) = classify(t.kind, &answer);
            match outcome {
                Outcome::Ok => return Ok(answer),
                Outcome::Auth => {
                    return Err(WebhookError::Auth {
                        target: t.name.clone(),
                        code,
                        message,
                    });
                }
                Outcome::RateLimited if tries < self.backoff.tries => {
                    tracing::warn!(target = %t.name, code, "webhook rate-limited; backing off");
                    wait(self.backoff.rate_limited).await?;
                }
                Outcome::RateLimited => {
                    return Err(WebhookError::RateLimited {
                        target: t.name.clone(),
                        code,
                    });
                }
                Outcome::Other => {
                    return Err(WebhookError::Platform {
                        target: t.name.clone(),
                        code,
                        message,
                    });
                }
            }
        }
    }
}

/// Sent-record key of a webhook target's reminder (same record as chats).
pub fn sent_key(name: &str, deadline: chrono::NaiveDate, days_before: u32) -> Vec<u8> {
    Address::Robot(name.to_string()).sent_key(deadline, days_before)
}

/// A digest of what reaches a robot (URL and secret): a failure recorded
/// under another digest was for another configuration.
pub fn fingerprint(t: &Target) -> String {
    let mut h = Sha256::new();
    h.update(t.url.as_bytes());
    h.update([0]);
    h.update(t.secret.as_deref().unwrap_or("").as_bytes());
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The configured robots as a destination kind.
pub struct Robots {
    pub client: Arc<WebhookClient>,
    pub targets: Vec<Target>,
}

impl Robots {
    fn target(&self, to: &Address) -> Option<&Target> {
        match to {
            Address::Robot(name) => self.targets.iter().find(|t| &t.name == name),
            Address::Chat { .. } => None,
        }
    }
}

impl Sender for Robots {
    async fn send(&self, to: &Address, text: &str, stop: &Stop) -> Result<(), SendError> {
        let Some(t) = self.target(to) else {
            return Err(SendError::Refused(format!(
                "{} is not a configured robot",
                to.id()
            )));
        };
        self.client
            .send_until(t, text, stop)
            .await
            .map(|_| ())
            .map_err(|e| e.to_send_error())
    }

    fn serves(&self, _channel: crate::identity::Channel) -> bool {
        false
    }

    fn robots(&self) -> Vec<String> {
        self.targets.iter().map(|t| t.name.clone()).collect()
    }

    fn fingerprint(&self, to: &Address) -> Option<String> {
        self.target(to).map(fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_bytes_and_characters() {
        let text = "继续教育".repeat(1000); // 12,000 bytes
        let parts = split_bytes(&text, 2048);
        assert!(parts.iter().all(|p| p.len() <= 2048));
        assert_eq!(parts.concat(), text);
        assert_eq!(split_bytes("短", 2048), vec!["短".to_string()]);
    }
}
