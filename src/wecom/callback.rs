//! WeCom 智能机器人 in HTTP callback mode (its "API 模式" with a URL), an
//! alternative to the long connection for a school that can expose a URL:
//! WeCom calls our HTTP listener ([`crate::http`]) and every answer goes
//! back in the HTTP response itself (a passive reply).
//!
//! - GET (URL check): `msg_signature`, `timestamp`, `nonce`, `echostr` in
//!   the query; the signature over echostr is checked, echostr decrypted,
//!   and the bare plaintext answered as text/plain.
//! - POST: `{"encrypt": ...}` with `msg_signature`, `timestamp`, `nonce` in
//!   the query. The plaintext is the same JSON message body as the long
//!   connection's `aibot_msg_callback` body (doc path 100719, 接收消息), so
//!   it is read by the same [`super::read_callback`]. It is stored in the
//!   durable [`Inbox`] under its msgid (channel "wecom"), handed to the
//!   core at once (the core answers in microseconds: well inside WeCom's
//!   wait) and answered in the response, encrypted:
//!   `{encrypt, msgsignature, timestamp, nonce}` (doc path 101033, 加密与
//!   被动回复; the same four string fields as the JSON template of
//!   sbzhu/weworkapi_python `callback_json_python3/WXBizJsonMsgCrypt.py`).
//!   The plaintext of an answer is a finished stream message
//!   `{"msgtype":"stream","stream":{"id","finish":true,"content"}}`: the
//!   reply type doc path 101031 (被动回复消息 › 流式消息回复) lists for a
//!   user's message, in the shape the long connection's
//!   `aibot_respond_msg` body has (aibot-node-sdk `StreamReplyBody`), the
//!   two documented as the same message. An `enter_chat` event is answered
//!   with the welcome as a text message `{"msgtype":"text","text":{...}}`,
//!   the only type 101031 allows besides a card for a welcome. Because
//!   every stream we answer is finished, WeCom has no stream to refresh:
//!   a `stream` refresh callback gets an empty 200.
//! - A redelivered msgid (WeCom did not get our answer in time) is not
//!   handed to the core again: it gets the same answer again while this
//!   process remembers it (the last [`ANSWERS_KEPT`]), an empty 200 after
//!   a restart or while the first delivery is still being answered.
//! - Refusals (signature, body, decryption, receiveid) are an empty 401:
//!   the caller learns nothing; the reason goes to our log.
//!
//! There is no push in this mode: WeCom's push for the 智能机器人 goes
//! through the long connection (`aibot_send_msg`), and the per-message
//! `response_url` lasts only for that message. So `serve` gives WeCom no
//! reminders in callback mode (`Outbox.wecom` stays None).
//!
//! ```toml
//! [wecom]
//! mode = "callback"
//! # path = "/wecom/callback"
//! ```
//! Secrets from the environment: WECOM_CALLBACK_TOKEN and
//! WECOM_CALLBACK_AES_KEY (the console's Token and EncodingAESKey).

use super::crypto::{Crypto, CryptoError};
use super::{CHANNEL, Callback, ConfigError, MAX_CONTENT_BYTES, RawConfig, lock};
use crate::conversation::{self, Incoming, Input, Output};
use crate::error::StoreError;
use crate::inbox::{Inbox, Item};
use crate::render::ChoiceMemory;
use crate::service::{App, Front};
use axum::extract::{Query, State, rejection::QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Where WeCom calls back unless `path` says otherwise.
pub const DEFAULT_PATH: &str = "/wecom/callback";
/// The console's Token.
pub const ENV_TOKEN: &str = "WECOM_CALLBACK_TOKEN";
/// The console's EncodingAESKey.
pub const ENV_AES_KEY: &str = "WECOM_CALLBACK_AES_KEY";
/// Answers remembered for a redelivered msgid.
pub const ANSWERS_KEPT: usize = 1000;

/// `[wecom] mode = "callback"`, resolved. Debug shows no secret.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: String,
    /// Token and key (receiveid "": the 智能机器人's).
    pub crypto: Crypto,
}

/// `[wecom]` in mode = "callback" (chosen by [`super::from_table`]).
pub(super) fn from_raw(
    raw: RawConfig,
    err: &impl Fn(String) -> ConfigError,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    if raw.secret_env.is_some() || raw.url.is_some() {
        return Err(err(
            "secret_env and url are for the long connection, not mode = \"callback\"".into(),
        ));
    }
    let path = raw.path.unwrap_or_else(|| DEFAULT_PATH.to_string());
    if !path.starts_with('/') || path == "/" || path == crate::http::HEALTHZ {
        return Err(err(format!(
            "path '{path}' must start with '/' and name its own route"
        )));
    }
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                err(format!(
                    "mode = \"callback\" needs the environment variable {name}"
                ))
            })
    };
    let token = var(ENV_TOKEN)?;
    let key = var(ENV_AES_KEY)?;
    // The key's value is never in the message.
    let crypto = Crypto::new(&token, &key, "").map_err(|e| err(format!("{ENV_AES_KEY}: {e}")))?;
    Ok(Config { path, crypto })
}

/// The callback channel's state, shared by its requests.
struct Hook {
    app: Arc<App>,
    crypto: Crypto,
    inbox: Inbox,
    /// The numbered choices last shown per chat.
    choices: ChoiceMemory,
    /// Recent answers' plaintexts by msgid, oldest first.
    answers: Mutex<VecDeque<(String, String)>>,
}

/// The callback's route (for [`crate::http`]) and its [`Front`] (its
/// inbox pruned with the others; no worker: answers go in the responses).
pub fn channel(app: Arc<App>, cfg: &Config) -> Result<(axum::Router, Front), StoreError> {
    let inbox = Inbox::open(&app.store, CHANNEL)?;
    let hook = Arc::new(Hook {
        app,
        crypto: cfg.crypto.clone(),
        inbox,
        choices: ChoiceMemory::default(),
        answers: Mutex::new(VecDeque::new()),
    });
    let router = axum::Router::new()
        .route(&cfg.path, axum::routing::get(verify_url).post(receive))
        .with_state(hook.clone());
    let front = Front {
        name: "wecom",
        inbox: Some(CHANNEL),
        start: Box::new(move |stop| {
            Box::pin(async move {
                hook.drop_leftovers()?;
                stop.wait().await;
                Ok(())
            })
        }),
    };
    Ok((router, front))
}

#[derive(Debug, Deserialize)]
struct UrlCheck {
    msg_signature: String,
    timestamp: String,
    nonce: String,
    echostr: String,
}

#[derive(Debug, Deserialize)]
struct Signed {
    msg_signature: String,
    timestamp: String,
    nonce: String,
}

/// A refusal tells the caller nothing; `why` goes to our log only.
fn refused(why: &str) -> Response {
    tracing::warn!(reason = why, "WeCom callback refused");
    StatusCode::UNAUTHORIZED.into_response()
}

fn empty() -> Response {
    StatusCode::OK.into_response()
}

fn reason(e: CryptoError) -> &'static str {
    match e {
        CryptoError::BadSignature => "bad signature",
        CryptoError::WrongReceiver => "wrong receiveid",
        _ => "does not decrypt",
    }
}

/// GET: WeCom checks the URL when the console's settings are saved.
async fn verify_url(
    State(hook): State<Arc<Hook>>,
    q: Result<Query<UrlCheck>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return refused("URL check without its parameters");
    };
    match hook
        .crypto
        .open(&q.msg_signature, &q.timestamp, &q.nonce, &q.echostr)
    {
        // The bare plaintext: no quotes, no newline (WeCom compares it).
        Ok(plain) => match String::from_utf8(plain) {
            Ok(echo) => {
                tracing::info!("WeCom URL check answered");
                ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], echo).into_response()
            }
            Err(_) => refused("echostr plaintext not UTF-8"),
        },
        Err(e) => refused(reason(e)),
    }
}

/// POST: a message or an event.
async fn receive(
    State(hook): State<Arc<Hook>>,
    q: Result<Query<Signed>, QueryRejection>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(Query(q)) = q else {
        return refused("callback without msg_signature, timestamp or nonce");
    };
    let outer: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return refused("body not JSON"),
    };
    let Some(encrypt) = outer.get("encrypt").and_then(Value::as_str) else {
        return refused("body without an encrypt string");
    };
    let plain = match hook
        .crypto
        .open(&q.msg_signature, &q.timestamp, &q.nonce, encrypt)
    {
        Ok(p) => p,
        Err(e) => return refused(reason(e)),
    };
    // From WeCom (signed, decrypted), but not a message we can read:
    // nothing to answer, and sending it again would not help.
    let Ok(msg) = serde_json::from_slice::<Value>(&plain) else {
        tracing::warn!(
            bytes = plain.len(),
            "WeCom callback plaintext not JSON; ignored"
        );
        return empty();
    };
    match hook.handle(msg).await {
        Ok(Some(reply)) => hook.seal(&reply, &q.nonce),
        Ok(None) => empty(),
        Err(e) => {
            // Not stored: WeCom may send it again.
            tracing::error!(error = %e, "cannot store a WeCom callback");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

impl Hook {
    /// The encrypted passive reply of a plaintext.
    fn seal(&self, plain: &str, nonce: &str) -> Response {
        let timestamp = self.app.core.clock().now().timestamp().to_string();
        match self.crypto.seal(plain.as_bytes(), &timestamp, nonce) {
            Ok(s) => axum::Json(json!({
                "encrypt": s.encrypt,
                "msgsignature": s.signature,
                "timestamp": timestamp,
                "nonce": nonce,
            }))
            .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot encrypt the WeCom answer");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }

    /// A verified callback: Some(the reply's plaintext JSON), None for an
    /// empty 200. Err only when it cannot be stored.
    async fn handle(&self, body: Value) -> Result<Option<String>, StoreError> {
        let msgtype = super::str_at(&body, &["msgtype"]).unwrap_or("");
        if msgtype == "stream" {
            // Every stream we answer is finished: nothing to refresh.
            tracing::debug!("WeCom stream refresh answered empty");
            return Ok(None);
        }
        let Some(msgid) = super::str_at(&body, &["msgid"])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
        else {
            tracing::warn!("WeCom callback without a msgid ignored");
            return Ok(None);
        };
        // The long connection's stored form, so one reader serves both.
        let cmd = match msgtype {
            "event" => "aibot_event_callback",
            _ => "aibot_msg_callback",
        };
        let payload = json!({"cmd": cmd, "req_id": msgid, "body": body});
        let new = self.inbox.put(vec![(msgid.clone(), payload)])?;
        let Some(item) = new.into_iter().next() else {
            let again = lock(&self.answers)
                .iter()
                .find(|(id, _)| *id == msgid)
                .map(|(_, a)| a.clone());
            tracing::debug!(
                %msgid,
                answered_again = again.is_some(),
                "WeCom callback delivered again; handled once already"
            );
            return Ok(again);
        };
        let reply = match self.reply(&item).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(id = %item.id, error = %e, "error handling a WeCom callback");
                None
            }
        };
        if let Some(r) = &reply {
            let mut answers = lock(&self.answers);
            if answers.len() >= ANSWERS_KEPT {
                answers.pop_front();
            }
            answers.push_back((msgid, r.clone()));
        }
        // Done even when it failed: one that fails every time must not
        // stay pending.
        if let Err(e) = self.inbox.done(&item) {
            tracing::error!(error = %e, "cannot mark a WeCom callback done");
        }
        Ok(reply)
    }

    /// The core's answer to a stored callback, as a reply's plaintext.
    async fn reply(&self, item: &Item) -> Result<Option<String>, String> {
        let cb = match super::read_callback(&item.payload) {
            Ok(cb) => cb,
            Err(why) => {
                tracing::warn!(id = %item.id, "malformed WeCom callback skipped: {why}");
                return Ok(None);
            }
        };
        match cb {
            Callback::Ignored(what) => {
                tracing::debug!(id = %item.id, "WeCom {what} ignored");
                Ok(None)
            }
            Callback::EnterChat { user, .. } => {
                // The core's own greeting, as the long connection sends.
                let msg = Incoming::private(user.clone(), Input::Text("/start".into()));
                let out = self.core(&msg).await?;
                self.choices.remember(&user, &out);
                let text = crate::render::plain_output(&out);
                Ok(Some(
                    json!({"msgtype": "text", "text": {"content": text}}).to_string(),
                ))
            }
            Callback::Message {
                chat,
                kind,
                user,
                input,
                ..
            } => {
                // A typed number presses the button it names.
                let input = match &input {
                    Input::Text(t) => self.choices.press(&chat, t),
                    _ => input,
                };
                tracing::debug!(%chat, user = %user, "WeCom callback message");
                let msg = Incoming {
                    chat: chat.clone(),
                    kind,
                    user: Some(user),
                    input,
                    op: Some(item.op(CHANNEL)),
                    me: None,
                    private_link: None,
                };
                let out = self.core(&msg).await?;
                if out.is_silent() {
                    return Ok(None);
                }
                self.choices.remember(&chat, &out);
                let text = crate::render::plain_output(&out);
                // One reply per message in this mode: a longer answer
                // than WeCom's stream content allows is cut, said in the log.
                let mut parts = crate::text::split_text(&text, MAX_CONTENT_BYTES, str::len);
                if parts.len() > 1 {
                    tracing::warn!(
                        parts = parts.len(),
                        "WeCom callback answer longer than one reply; only its first part sent"
                    );
                }
                let content = if parts.is_empty() {
                    String::new()
                } else {
                    parts.swap_remove(0)
                };
                let stream = json!({
                    "msgtype": "stream",
                    "stream": {"id": format!("jxjy-{}", item.seq), "finish": true, "content": content},
                });
                Ok(Some(stream.to_string()))
            }
        }
    }

    async fn core(&self, msg: &Incoming) -> Result<Output, String> {
        self.app
            .core
            .handle(msg, &conversation::NoAdminInfo)
            .await
            .map_err(|e| e.to_string())
    }

    /// Callbacks stored by a run that stopped before answering them: their
    /// HTTP requests are gone and this mode has no push, so they cannot
    /// be answered; marked done (WeCom's redelivery, if any, gets an empty
    /// 200).
    fn drop_leftovers(&self) -> Result<(), StoreError> {
        let left = self.inbox.pending(None, usize::MAX)?;
        if !left.is_empty() {
            tracing::warn!(
                count = left.len(),
                "WeCom callbacks left unanswered by the last run cannot be answered in callback mode"
            );
        }
        for item in left {
            self.inbox.done(&item)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

    fn env(var: &str) -> Option<String> {
        match var {
            ENV_TOKEN => Some("QDG6eK".into()),
            ENV_AES_KEY => Some(KEY.into()),
            super::super::DEFAULT_SECRET_ENV => Some("b0t".into()),
            _ => None,
        }
    }

    /// The callback's config of `text`, None for another mode or none.
    fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Config>, ConfigError> {
        let mut t: toml::Table = toml::from_str(text).unwrap();
        let file = std::path::Path::new("j");
        Ok(
            match super::super::from_table(t.remove("wecom"), file, env)? {
                Some(super::super::Mode::Callback(c)) => Some(c),
                _ => None,
            },
        )
    }

    #[test]
    fn callback_mode_is_chosen_in_the_table() {
        let c = from_toml("[wecom]\nmode = \"callback\"\n", env)
            .unwrap()
            .unwrap();
        assert_eq!(c.path, DEFAULT_PATH);
        assert!(!format!("{c:?}").contains("QDG6eK") && !format!("{c:?}").contains(KEY));
        let c = from_toml("[wecom]\nmode = \"callback\"\npath = \"/wc\"\n", env)
            .unwrap()
            .unwrap();
        assert_eq!(c.path, "/wc");
        // The long connection (the default) is not this.
        for long in [
            "",
            "[wecom]\nbot_id = \"b\"\n",
            "[wecom]\nbot_id = \"b\"\nmode = \"long_connection\"\n",
        ] {
            assert!(from_toml(long, env).unwrap().is_none(), "{long}");
        }
        for bad in [
            "[wecom]\nmode = \"push\"\n",
            "[wecom]\nmode = \"callback\"\npath = \"wc\"\n",
            "[wecom]\nmode = \"callback\"\nurl = \"ws://x\"\n",
        ] {
            assert!(from_toml(bad, env).is_err(), "{bad}");
        }
        let no_key = |v: &str| (v == ENV_TOKEN).then(|| "t".to_string());
        let e = from_toml("[wecom]\nmode = \"callback\"\n", no_key)
            .unwrap_err()
            .to_string();
        assert!(e.contains(ENV_AES_KEY), "{e}");
        let short_key = |v: &str| Some(if v == ENV_TOKEN { "t" } else { "s3cretkey" }.to_string());
        let e = from_toml("[wecom]\nmode = \"callback\"\n", short_key)
            .unwrap_err()
            .to_string();
        assert!(e.contains(ENV_AES_KEY) && !e.contains("s3cretkey"), "{e}");
    }
}
