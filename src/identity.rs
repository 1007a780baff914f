//! Who and where: chats and users namespaced by channel (`tg:123`,
//! `term:local`, later `ding:<staffId>`, `wecom:<userid>`,
//! `feishu:<open_id>`), so no two channels ever share a chat. Stored keys,
//! sent-record keys, destination ids and admin lists all use this form.

use serde::{Deserialize, Serialize};

/// A messenger the bot talks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Telegram,
    /// `jxjy-bot chat`: the local terminal; it has no way to push a reminder.
    Terminal,
    DingTalk,
    WeCom,
    Feishu,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Telegram,
        Channel::Terminal,
        Channel::DingTalk,
        Channel::WeCom,
        Channel::Feishu,
    ];

    /// The prefix of its identities.
    pub fn prefix(self) -> &'static str {
        match self {
            Channel::Telegram => "tg",
            Channel::Terminal => "term",
            Channel::DingTalk => "ding",
            Channel::WeCom => "wecom",
            Channel::Feishu => "feishu",
        }
    }

    fn from_prefix(p: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.prefix() == p)
    }
}

/// A chat or a user on one channel. Written `prefix:id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Identity {
    channel: Channel,
    id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("'{0}' is not an identity like tg:123 (channels: tg, term, ding, wecom, feishu)")]
    Malformed(String),
    #[error("'{0}': a Telegram id is a number")]
    NotANumber(String),
}

/// The terminal's one user.
const TERMINAL_USER: &str = "local";

impl Identity {
    pub fn telegram(id: i64) -> Identity {
        Identity {
            channel: Channel::Telegram,
            id: id.to_string(),
        }
    }

    /// The person at the terminal of `jxjy-bot chat`.
    pub fn terminal() -> Identity {
        Identity {
            channel: Channel::Terminal,
            id: TERMINAL_USER.into(),
        }
    }

    /// An identity on `channel`; the id may not hold '/', ':' or control
    /// characters (they separate the parts of stored keys).
    pub fn new(channel: Channel, id: &str) -> Result<Identity, IdentityError> {
        let full = || format!("{}:{id}", channel.prefix());
        if id.is_empty()
            || id.len() > 200
            || id.contains(['/', ':'])
            || id.contains(char::is_control)
        {
            return Err(IdentityError::Malformed(full()));
        }
        if channel == Channel::Telegram && id.parse::<i64>().is_err() {
            return Err(IdentityError::NotANumber(full()));
        }
        Ok(Identity {
            channel,
            id: id.to_string(),
        })
    }

    /// Schema 2 and backup format 1 kept bare Telegram ids, and the
    /// terminal wrote as chat 0 (Telegram never uses 0).
    pub fn legacy(id: i64) -> Identity {
        if id == 0 {
            Identity::terminal()
        } else {
            Identity::telegram(id)
        }
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The id within its channel.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The numeric chat or user id, for a Telegram identity.
    pub fn telegram_id(&self) -> Option<i64> {
        match self.channel {
            Channel::Telegram => self.id.parse().ok(),
            _ => None,
        }
    }

    /// The stored key: the written form's bytes.
    pub fn key(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.channel.prefix(), self.id)
    }
}

impl std::str::FromStr for Identity {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Identity, IdentityError> {
        let (prefix, id) = s
            .split_once(':')
            .ok_or_else(|| IdentityError::Malformed(s.to_string()))?;
        let channel =
            Channel::from_prefix(prefix).ok_or_else(|| IdentityError::Malformed(s.to_string()))?;
        Identity::new(channel, id)
    }
}

impl TryFrom<String> for Identity {
    type Error = IdentityError;

    fn try_from(s: String) -> Result<Identity, IdentityError> {
        s.parse()
    }
}

impl From<Identity> for String {
    fn from(i: Identity) -> String {
        i.to_string()
    }
}

/// Whether a stored key is in the identity form (`prefix:...`): schema 2
/// keys were 8-byte big-endian numbers or started with a digit or '-'.
pub fn is_identity_key(k: &[u8]) -> bool {
    let Some(colon) = k.iter().position(|&b| b == b':') else {
        return false;
    };
    std::str::from_utf8(&k[..colon])
        .ok()
        .and_then(Channel::from_prefix)
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_and_channels_never_share_one() {
        for s in [
            "tg:42",
            "tg:-1001234",
            "term:local",
            "ding:manager4812",
            "wecom:zhang.san@x",
            "feishu:ou_7d8a6e6df7621556ce0d21922b676706ccs",
        ] {
            let i: Identity = s.parse().unwrap();
            assert_eq!(i.to_string(), s);
            let json = serde_json::to_string(&i).unwrap();
            assert_eq!(serde_json::from_str::<Identity>(&json).unwrap(), i);
            assert!(is_identity_key(&i.key()));
        }
        let same_id: Vec<Identity> = Channel::ALL
            .iter()
            .filter(|&&c| c != Channel::Telegram)
            .map(|&c| Identity::new(c, "42").unwrap())
            .chain([Identity::telegram(42)])
            .collect();
        for (i, a) in same_id.iter().enumerate() {
            for b in &same_id[i + 1..] {
                assert_ne!(a, b);
                assert_ne!(a.key(), b.key());
            }
        }
        assert_eq!(Identity::legacy(0), Identity::terminal());
        assert_eq!(Identity::legacy(42), Identity::telegram(42));
        assert_eq!(Identity::terminal().telegram_id(), None);
    }

    #[test]
    fn malformed_identities_are_refused() {
        for s in [
            "",
            "42",
            "tg:",
            "tg:abc",
            "xx:1",
            "ding:a/b",
            "ding:a:b",
            "ding:a\nb",
        ] {
            assert!(s.parse::<Identity>().is_err(), "{s:?}");
        }
        // Schema 2 keys: big-endian numbers and numeric sent-record keys.
        assert!(!is_identity_key(&42i64.to_be_bytes()));
        assert!(!is_identity_key(&(-100i64).to_be_bytes()));
        assert!(!is_identity_key(b"42/2024-12-31/7"));
        assert!(!is_identity_key(b"-100/2024-12-31/7"));
    }
}
