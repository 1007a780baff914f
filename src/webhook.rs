//! Reminders to WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) group
//! robots: incoming webhooks configured in `jxjy.toml`.
//!
//! All three answer HTTP 200 even on failure, so the JSON code decides:
//! rate-limit codes back off and retry, bad key or signature stops the
//! target, network errors retry with backoff. Each robot's own rate limit is
//! kept on our side with a sliding window over the injected clock.

use crate::clock::{Clock, Sleeper};
use crate::error::StoreError;
use crate::knowledge::Facts;
use crate::reminders::{Schedule, Slot, current_slot, group_text};
use crate::store::{Delivery, Store};
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default, rename = "webhook")]
    webhooks: Vec<RawTarget>,
    /// The school's own settings, read by [`crate::config`].
    #[serde(default)]
    #[allow(dead_code)]
    school: Option<toml::Table>,
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
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}: {message}")]
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

/// Read and check `jxjy.toml`.
pub fn load_config(path: &Path) -> Result<Vec<Target>, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let raw: RawConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for t in raw.webhooks {
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
            return Err(err(format!("'{url}' is not a URL")));
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
    #[error("webhook '{target}': network error after retries: {message}")]
    Network { target: String, message: String },
}

/// Sliding-window limiter for one robot, on the injected clock.
#[derive(Debug, Default)]
pub struct Window {
    sent: VecDeque<DateTime<Utc>>,
}

impl Window {
    /// How long to wait before one more message may go at `now`.
    pub fn wait(&self, limits: &[(Duration, usize)], now: DateTime<Utc>) -> Option<Duration> {
        let mut longest = None;
        for &(window, max) in limits {
            let w = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
            let in_window: Vec<&DateTime<Utc>> =
                self.sent.iter().filter(|t| **t > now - w).collect();
            if in_window.len() >= max {
                // Wait until the oldest message that counts leaves the window.
                let oldest = *in_window[in_window.len() - max];
                let until = (oldest + w - now).to_std().unwrap_or(Duration::ZERO)
                    + Duration::from_millis(1);
                longest = Some(longest.map_or(until, |l: Duration| l.max(until)));
            }
        }
        longest
    }

    pub fn record(&mut self, now: DateTime<Utc>) {
        self.sent.push_back(now);
        // Nothing older than the longest window (one minute) matters.
        while self
            .sent
            .front()
            .is_some_and(|t| *t < now - chrono::Duration::minutes(2))
        {
            self.sent.pop_front();
        }
    }
}

/// Backoff after a rate-limit answer and between network retries.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub rate_limited: Duration,
    pub network: Duration,
    pub tries: usize,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            rate_limited: Duration::from_secs(60),
            network: Duration::from_secs(2),
            tries: 3,
        }
    }
}

/// Sends to robots; one per process (it holds the rate-limit windows).
pub struct WebhookClient {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    windows: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<Window>>>>,
    /// Targets whose key or signature was rejected: not tried again until
    /// the process restarts (with, presumably, a corrected jxjy.toml).
    stopped: Mutex<std::collections::HashSet<String>>,
    pub backoff: Backoff,
}

impl WebhookClient {
    pub fn new(
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<WebhookClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(WebhookClient {
            http,
            clock,
            sleeper,
            windows: Mutex::new(Default::default()),
            stopped: Mutex::new(Default::default()),
            backoff: Backoff::default(),
        })
    }

    pub fn is_stopped(&self, name: &str) -> bool {
        self.stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(name)
    }

    fn stop(&self, name: &str) {
        self.stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string());
    }

    fn window(&self, name: &str) -> Arc<tokio::sync::Mutex<Window>> {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        w.entry(name.to_string()).or_default().clone()
    }

    /// Wait for the robot's rate limit, then send one request; returns the
    /// platform's answer body.
    async fn post(&self, t: &Target, text: &str) -> Result<Value, WebhookError> {
        let window = self.window(&t.name);
        let mut w = window.lock().await;
        while let Some(d) = w.wait(rate_limits(t.kind), self.clock.now()) {
            self.sleeper.sleep(d).await;
        }
        let now = self.clock.now();
        w.record(now);
        drop(w);
        let (url, body) = build_request(t, text, now);
        let resp =
            self.http
                .post(&url)
                .json(&body)
                .send()
                .await
                .map_err(|e| WebhookError::Network {
                    target: t.name.clone(),
                    message: e.without_url().to_string(),
                })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| WebhookError::Network {
            target: t.name.clone(),
            message: e.without_url().to_string(),
        })?;
        serde_json::from_str(&text).map_err(|_| WebhookError::Platform {
            target: t.name.clone(),
            code: i64::from(status.as_u16()),
            message: text.chars().take(200).collect(),
        })
    }

    /// Send one message (split when too long), retrying rate limits and
    /// network errors; returns the answer to the last part.
    pub async fn send(&self, t: &Target, text: &str) -> Result<Value, WebhookError> {
        let mut last = Value::Null;
        for part in split_bytes(text, max_text_bytes(t.kind)) {
            last = self.send_part(t, &part).await?;
        }
        Ok(last)
    }

    async fn send_part(&self, t: &Target, text: &str) -> Result<Value, WebhookError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let answer = match self.post(t, text).await {
                Ok(a) => a,
                Err(WebhookError::Network { message, .. }) if tries < self.backoff.tries => {
                    tracing::warn!(target = %t.name, %message, "webhook network error; retrying");
                    self.sleeper
                        .sleep(self.backoff.network * (1 << (tries - 1)))
                        .await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (code, message, outcome) = classify(t.kind, &answer);
            match outcome {
                Outcome::Ok => return Ok(answer),
                Outcome::Auth => {
                    self.stop(&t.name);
                    return Err(WebhookError::Auth {
                        target: t.name.clone(),
                        code,
                        message,
                    });
                }
                Outcome::RateLimited if tries < self.backoff.tries => {
                    tracing::warn!(target = %t.name, code, "webhook rate-limited; backing off");
                    self.sleeper.sleep(self.backoff.rate_limited).await;
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
    format!("webhook:{name}/{deadline}/{days_before}").into_bytes()
}

#[derive(Debug, Default, PartialEq)]
pub struct WebhookReport {
    pub sent: usize,
    pub failed: Vec<String>,
    /// Targets whose key or signature was rejected.
    pub stopped: Vec<String>,
}

/// A group reminder due to a robot.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned<'a> {
    pub target: &'a Target,
    pub slot: Slot,
    pub key: Vec<u8>,
    pub text: String,
}

/// The current slot's group reminder for every target that has not had it.
pub fn plan<'a>(
    store: &Store,
    facts: &Facts,
    schedule: &Schedule,
    now: DateTime<Utc>,
    targets: &'a [Target],
) -> Result<Vec<Planned<'a>>, StoreError> {
    let Some(slot) = current_slot(facts.deadline, schedule, now) else {
        return Ok(Vec::new());
    };
    let text = group_text(facts, schedule.tz, now);
    let mut out = Vec::new();
    for target in targets {
        let key = sent_key(&target.name, facts.deadline, slot.days_before);
        if store.delivery(&key)? != Some(Delivery::Sent) {
            out.push(Planned {
                target,
                slot,
                key,
                text: text.clone(),
            });
        }
    }
    Ok(out)
}

/// Send the planned reminders: in flight before, sent after, as for chats.
pub async fn deliver_due(
    store: &Store,
    facts: &Facts,
    schedule: &Schedule,
    now: DateTime<Utc>,
    targets: &[Target],
    client: &WebhookClient,
) -> Result<WebhookReport, StoreError> {
    let mut report = WebhookReport::default();
    for p in plan(store, facts, schedule, now, targets)? {
        let (t, key) = (p.target, p.key);
        if client.is_stopped(&t.name) {
            report.stopped.push(format!(
                "webhook '{}': stopped earlier (key or signature rejected)",
                t.name
            ));
            continue;
        }
        store.mark(std::slice::from_ref(&key), Delivery::InFlight)?;
        match client.send(t, &p.text).await {
            Ok(_) => {
                store.mark(&[key], Delivery::Sent)?;
                report.sent += 1;
            }
            Err(e @ WebhookError::Auth { .. }) => {
                tracing::error!(error = %e, "webhook target stopped");
                report.stopped.push(e.to_string());
            }
            Err(e) => {
                tracing::warn!(error = %e, "webhook reminder not delivered; will retry");
                report.failed.push(e.to_string());
            }
        }
    }
    Ok(report)
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

    #[test]
    fn window_allows_the_limit_then_waits_for_the_oldest() {
        let limits = rate_limits(Kind::Wecom);
        let t0 = DateTime::parse_from_rfc3339("2024-12-01T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut w = Window::default();
        for i in 0..20 {
            let t = t0 + chrono::Duration::seconds(i);
            assert_eq!(w.wait(limits, t), None);
            w.record(t);
        }
        let wait = w.wait(limits, t0 + chrono::Duration::seconds(20)).unwrap();
        assert_eq!(wait, Duration::from_secs(40) + Duration::from_millis(1));
    }
}
