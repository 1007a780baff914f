//! Telegram plumbing shared by the reminder sender (and, later, the bot's
//! update handler): building the `Bot` from the environment without panics,
//! and mapping Bot API errors onto [`SendError`].

use crate::reminders::{SendError, Sender};
use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::prelude::*;

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
}

/// A bot from TELOXIDE_TOKEN, TELOXIDE_API_URL and TELOXIDE_PROXY (HTTP or
/// SOCKS5, honoured by teloxide's client; NO_PROXY by reqwest).
pub fn bot_from_env() -> Result<Bot, SetupError> {
    let token = std::env::var("TELOXIDE_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or(SetupError::NoToken)?;
    let mut builder = teloxide::net::default_reqwest_settings();
    if let Ok(p) = std::env::var("TELOXIDE_PROXY")
        && !p.trim().is_empty()
    {
        // reqwest applies NO_PROXY to system proxies only; do it here too so
        // a loopback API (tests, a local Bot API server) skips the proxy.
        let proxy = reqwest::Proxy::all(&p)
            .map_err(|_| SetupError::BadProxy(p.clone()))?
            .no_proxy(reqwest::NoProxy::from_env());
        builder = builder.proxy(proxy);
    }
    let client = builder
        .build()
        .map_err(|e| SetupError::Client(e.to_string()))?;
    let bot = Bot::with_client(token, client);
    match std::env::var("TELOXIDE_API_URL") {
        Ok(u) if !u.trim().is_empty() => {
            let url = reqwest::Url::parse(&u).map_err(|_| SetupError::BadApiUrl(u.clone()))?;
            Ok(bot.set_api_url(url))
        }
        _ => Ok(bot),
    }
}

pub fn classify(e: &RequestError) -> SendError {
    match e {
        RequestError::Api(
            ApiError::BotBlocked
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::UserDeactivated
            | ApiError::ChatNotFound,
        ) => SendError::Blocked,
        RequestError::MigrateToChatId(id) => SendError::Migrated(id.0),
        RequestError::RetryAfter(s) => SendError::RetryAfter(s.duration()),
        other => SendError::Other(other.to_string()),
    }
}

/// Sends reminders as plain messages through any requester (the bare Bot,
/// or the throttled one); waits out 429s a few times.
pub struct TelegramSender<B = Bot> {
    pub bot: B,
}

const MAX_RETRIES: usize = 3;

impl<B> Sender for TelegramSender<B>
where
    B: Requester<Err = RequestError> + Send + Sync,
    B::SendMessage: Send,
{
    async fn send(&self, chat_id: i64, text: &str) -> Result<(), SendError> {
        let mut tries = 0;
        loop {
            match self.bot.send_message(ChatId(chat_id), text).await {
                Ok(_) => return Ok(()),
                Err(e) => match classify(&e) {
                    SendError::RetryAfter(d) if tries < MAX_RETRIES => {
                        tries += 1;
                        tokio::time::sleep(d).await;
                    }
                    other => return Err(other),
                },
            }
        }
    }
}
