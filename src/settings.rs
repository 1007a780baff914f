//! The command line and the settings resolved from it, once (ripgrep's
//! flags → HiArgs is the model): [`Args`] is what clap parses (flags and
//! environment variables), [`Settings`] what the commands use (paths,
//! schedule, clock, admins, the channels configured), each default in one
//! place here. The school's file (`jxjy.toml`: contacts, group robots) is
//! read through [`Settings::config`].

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::dialogue::Contacts;
use crate::identity::Identity;
use crate::reminders::Schedule;
use crate::telegram::TelegramEnv;
use crate::webhook;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Continuing-education assistant for teachers in Jiangxi: answers questions
/// from the official guide, tracks hours and reminds before the deadline.
///
/// With no subcommand it runs the Telegram bot when TELOXIDE_TOKEN is set,
/// and otherwise opens the same bot in the terminal.
#[derive(Debug, Parser)]
#[command(name = "jxjy-bot", version)]
pub struct Args {
    /// Knowledge directory (lexicon.toml plus one directory per guide year).
    #[arg(long, global = true, env = "JXJY_KB")]
    pub kb: Option<PathBuf>,
    /// Data directory (hours, reminder subscriptions, sent-record).
    #[arg(long, global = true, env = "JXJY_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Reminder days before the deadline, comma-separated.
    #[arg(
        long,
        global = true,
        env = "JXJY_REMIND_DAYS",
        default_value = "30,14,7,3,1"
    )]
    pub remind_days: String,
    /// Config file with the school's contact and the group-robot webhooks
    /// (default: ./jxjy.toml if present).
    #[arg(long, global = true, env = "JXJY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Local time (Asia/Shanghai) reminders go out at.
    #[arg(long, global = true, env = "JXJY_REMIND_AT", default_value = "09:00")]
    pub remind_at: String,
    /// Who may use /stats and change a group's reminders where the
    /// messenger does not say who administers it: identities such as
    /// tg:123456 (a bare number is a Telegram user id), comma-separated.
    #[arg(long, global = true, env = "JXJY_ADMINS", default_value = "")]
    pub admins: String,
    /// Pretend it is this moment (RFC 3339, e.g. 2024-12-20T10:00+08:00),
    /// and keep it: the season, deadlines and reminders follow it. For
    /// trying out a season and for tests.
    #[arg(long, global = true, env = "JXJY_NOW", hide = true)]
    pub now: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer one question, or with --json and no question, every line of stdin.
    Ask {
        /// Print one JSON object per question.
        #[arg(long)]
        json: bool,
        /// Show how the question was read and the five best entries.
        #[arg(long, conflicts_with = "json")]
        explain: bool,
        /// The question; omitted with --json: read questions from stdin.
        question: Vec<String>,
    },
    /// Chat with the bot in the terminal (works with piped stdin too).
    Chat,
    /// Run the bot on every configured channel, and its reminders.
    ///
    /// Channels: Telegram when TELOXIDE_TOKEN is set; DingTalk when
    /// --config has [dingtalk] (secret in DINGTALK_CLIENT_SECRET); WeCom when
    /// it has [wecom] (secret in WECOM_BOT_SECRET; with mode = "callback",
    /// WECOM_CALLBACK_TOKEN and WECOM_CALLBACK_AES_KEY, on the HTTP
    /// listener); Feishu when it has [feishu] (FEISHU_* secrets, on the HTTP
    /// listener). The HTTP listener is [http] listen; the admin page is under
    /// /admin there when [admin] is configured. The group robots of --config
    /// get the group reminders, with no token too.
    ///
    /// Telegram honours TELOXIDE_API_URL, TELOXIDE_PROXY (http://host:port or
    /// socks5://host:port) and NO_PROXY. RUST_LOG sets the log level. SIGHUP
    /// reloads the knowledge after checking it.
    Serve {
        /// Turn Telegram's rate limits off (benchmarks against a fake API only).
        #[arg(long, env = "JXJY_NO_THROTTLE")]
        no_throttle: bool,
        /// Seconds between checks for due reminders.
        #[arg(long, default_value_t = 60)]
        remind_every: u64,
    },
    /// Most asked questions, unanswered ones grouped, and feedback counts.
    Stats,
    /// Knowledge-base tools.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
    /// WeCom / DingTalk / Feishu group robots (configured in jxjy.toml).
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// The DingTalk robot (钉钉, Stream mode; [dingtalk] in jxjy.toml).
    Dingtalk {
        #[command(subcommand)]
        command: DingtalkCommand,
    },
    /// The WeCom 智能机器人 ([wecom] in jxjy.toml, secret in WECOM_BOT_SECRET).
    Wecom {
        #[command(subcommand)]
        command: WecomCommand,
    },
    /// The Feishu bot ([feishu] in jxjy.toml, secrets in FEISHU_* variables).
    Feishu {
        #[command(subcommand)]
        command: FeishuCommand,
    },
    /// The admin web page ([admin] in jxjy.toml).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Deadline reminders.
    Remind {
        #[command(subcommand)]
        command: RemindCommand,
    },
    /// Write every record of the data directory to FILE (JSON lines).
    Backup {
        /// The backup file to write (replaced whole, never in part).
        file: PathBuf,
    },
    /// Replace the data directory's content with a backup FILE.
    ///
    /// A damaged directory's files are moved into damaged-<time>/ first.
    /// A healthy one holding data needs --force (its files are moved
    /// aside the same way). Backups in <data dir>/backups/ stay.
    Restore {
        file: PathBuf,
        /// Replace a data directory that holds data.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// List the configured group robots.
    List,
    /// Send one test message to a robot and print the platform's answer.
    Test {
        /// The target's name in the config file.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DingtalkCommand {
    /// Get an access token, open the stream connection, print what DingTalk
    /// answers (credentials OK or the error), close it and exit.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Set NAME's password for the admin page: read from the terminal
    /// (twice, not shown) or from stdin's first line, stored as an argon2
    /// hash in [admin.users] of the config file (default ./jxjy.toml),
    /// keeping its comments.
    Passwd { name: String },
}

#[derive(Debug, Subcommand)]
pub enum FeishuCommand {
    /// Get a tenant_access_token, ask Feishu who the bot is, print what it
    /// sees (or the error) and exit.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum WecomCommand {
    /// Connect, subscribe with the bot id and secret, print what WeCom
    /// answers and sends for a few seconds, and exit. WeCom keeps one
    /// connection per bot: this takes the bot over from a running `serve`.
    Check {
        /// Seconds to listen after subscribing.
        #[arg(long, default_value_t = 3)]
        listen: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum RemindCommand {
    /// Print what would be sent at a moment (who, which slot, the text), without sending.
    Plan {
        /// The moment, RFC 3339, e.g. 2024-12-24T09:00+08:00 (seconds optional).
        #[arg(long)]
        at: String,
    },
    /// Send the reminders due now (or at --at) once and exit: to Telegram chats
    /// (needs TELOXIDE_TOKEN) and to the group robots in jxjy.toml.
    /// DingTalk chats too when [dingtalk] is in jxjy.toml.
    Send {
        /// Pretend it is this moment (RFC 3339); default: now.
        #[arg(long)]
        at: Option<String>,
        /// Reminders marked in flight per durable write.
        #[arg(long, default_value_t = crate::reminders::DEFAULT_BATCH)]
        batch: usize,
        /// Turn Telegram's rate limits off (benchmarks against a fake API only).
        #[arg(long, env = "JXJY_NO_THROTTLE")]
        no_throttle: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Validate the knowledge directory; non-zero exit on any problem.
    Check,
    /// Start the next guide year: copy the newest year's directory to
    /// knowledge/YEAR/ with every year-specific fact marked unfilled
    /// (`kb check` fails until each is set). With --source, the facts the
    /// new guide's text states are filled in and printed old → new.
    NewYear {
        /// The new guide's year, e.g. 2026.
        year: u32,
        /// The new guide's text (copied to knowledge/YEAR/source.txt).
        #[arg(long)]
        source: Option<PathBuf>,
    },
    /// The questions the bot could not answer, grouped, each with the entry
    /// it most likely belongs to (teach it with `kb teach`).
    Suggest,
    /// Add a question as a phrasing of an entry (newest year's faq.toml,
    /// comments and layout kept); kept only if `kb check` still passes. A
    /// running bot picks it up on reload (SIGHUP).
    Teach {
        /// The question, as teachers ask it.
        question: String,
        /// The entry's id (`jxjy-bot kb export --json` lists them).
        entry: String,
    },
    /// Print every entry with its rendered answer.
    Export {
        /// As one JSON list (the only format for now).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("reminder schedule: {0}")]
    Schedule(String),
    #[error("JXJY_ADMINS / --admins: {0}")]
    Admins(crate::identity::IdentityError),
    #[error("'{0}' is not a moment like 2024-12-24T09:00+08:00")]
    Moment(String),
    #[error(transparent)]
    File(#[from] crate::config::FileError),
    #[error(transparent)]
    Webhooks(#[from] webhook::ConfigError),
    #[error(transparent)]
    School(#[from] crate::config::ConfigError),
    #[error(transparent)]
    DingTalk(#[from] crate::dingtalk::ConfigError),
    #[error(transparent)]
    WeCom(#[from] crate::wecom::ConfigError),
    #[error(transparent)]
    Http(#[from] crate::http::ConfigError),
    #[error(transparent)]
    Feishu(#[from] crate::feishu::ConfigError),
    #[error(transparent)]
    Admin(#[from] crate::admin::ConfigError),
}

/// The settings every command reads, resolved once from [`Args`] and the
/// environment.
pub struct Settings {
    pub kb_dir: PathBuf,
    pub data_dir: PathBuf,
    pub schedule: Schedule,
    /// `--config` / JXJY_CONFIG (which must exist), or ./jxjy.toml when
    /// present, or none.
    pub config_file: Option<PathBuf>,
    pub admins: Vec<Identity>,
    pub clock: Arc<dyn Clock>,
    /// The channels configured: Telegram when TELOXIDE_TOKEN is set.
    pub telegram: Option<TelegramEnv>,
}

/// The school's file, read once.
#[derive(Debug, Clone, Default)]
pub struct SchoolConfig {
    pub contacts: Contacts,
    pub webhooks: Vec<webhook::Target>,
    /// The DingTalk robot, when `[dingtalk]` is configured.
    pub dingtalk: Option<crate::dingtalk::Config>,
    /// The WeCom bot channel (`[wecom]`), if configured.
    pub wecom: Option<crate::wecom::Config>,
    /// The WeCom bot in HTTP callback mode (`[wecom] mode = "callback"`).
    pub wecom_callback: Option<crate::wecom::callback::Config>,
    /// The HTTP listener of callback channels (`[http]`).
    pub http: crate::http::HttpConfig,
    /// The Feishu bot (`[feishu]`, secrets from the environment).
    pub feishu: Option<crate::feishu::Config>,
    /// The admin page (`[admin]`), off when absent.
    pub admin: Option<crate::admin::AdminConfig>,
}

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// RFC 3339, with or without seconds ("2024-12-24T09:00+08:00").
pub fn parse_moment(s: &str) -> Result<chrono::DateTime<chrono::Utc>, SettingsError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z"))
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|_| SettingsError::Moment(s.to_string()))
}

/// Admin identities: "tg:1, ding:abc" (a bare number is Telegram's).
pub fn parse_admins(s: &str) -> Result<Vec<Identity>, SettingsError> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| match x.parse::<i64>() {
            Ok(n) => Ok(Identity::telegram(n)),
            Err(_) => x.parse().map_err(SettingsError::Admins),
        })
        .collect()
}

impl Settings {
    pub fn resolve(args: &Args) -> Result<Settings, SettingsError> {
        let schedule =
            Schedule::parse(&args.remind_days, &args.remind_at).map_err(SettingsError::Schedule)?;
        let clock: Arc<dyn Clock> = match &args.now {
            Some(at) => Arc::new(ManualClock::new(parse_moment(at)?)),
            None => Arc::new(SystemClock),
        };
        let config_file = match &args.config {
            Some(p) => Some(p.clone()),
            None if Path::new("jxjy.toml").is_file() => Some(PathBuf::from("jxjy.toml")),
            None => None,
        };
        let telegram = env("TELOXIDE_TOKEN").map(|token| TelegramEnv {
            token,
            api_url: env("TELOXIDE_API_URL"),
            proxy: env("TELOXIDE_PROXY"),
        });
        Ok(Settings {
            kb_dir: args
                .kb
                .clone()
                .unwrap_or_else(crate::knowledge::default_dir),
            data_dir: args.data_dir.clone(),
            schedule,
            config_file,
            admins: parse_admins(&args.admins)?,
            clock,
            telegram,
        })
    }

    /// The school's contacts and robots from the config file (none: the
    /// generic pointer to 人事处, no robots). The file is read and parsed
    /// once; each module checks its own table.
    pub fn config(&self) -> Result<SchoolConfig, SettingsError> {
        let Some(path) = &self.config_file else {
            return Ok(SchoolConfig::default());
        };
        let mut tables = crate::config::tables(path)?;
        let mut table = |name: &str| tables.remove(name);
        let env = |var: &str| std::env::var(var).ok();
        // In the order the tables were always checked: the first problem
        // is the one reported.
        let contacts = crate::config::contacts_from_table(table("school"), path)?;
        let webhooks = webhook::from_table(table("webhook"), path)?;
        let dingtalk = crate::dingtalk::from_table(table("dingtalk"), path)?;
        // [wecom] is one table whichever mode it names.
        let (wecom, wecom_callback) = match crate::wecom::from_table(table("wecom"), path, env)? {
            Some(crate::wecom::Mode::LongConnection(c)) => (Some(c), None),
            Some(crate::wecom::Mode::Callback(c)) => (None, Some(c)),
            None => (None, None),
        };
        Ok(SchoolConfig {
            contacts,
            webhooks,
            dingtalk,
            wecom,
            wecom_callback,
            http: crate::http::from_table(table("http"), path)?,
            feishu: crate::feishu::from_table(table("feishu"), path, env)?,
            admin: crate::admin::config::from_table(table("admin"), path)?,
        })
    }

    /// The school's contacts only (`ask` does not need the robots' secrets).
    pub fn contacts(&self) -> Result<Contacts, SettingsError> {
        match &self.config_file {
            Some(path) => Ok(crate::config::contacts(path)?),
            None => Ok(Contacts::default()),
        }
    }

    /// The Telegram client, if TELOXIDE_TOKEN is set.
    pub fn telegram_client(
        &self,
        limits: bool,
    ) -> Result<crate::telegram::Telegram, crate::telegram::SetupError> {
        match &self.telegram {
            Some(env) => crate::telegram::connect(env, limits),
            None => Err(crate::telegram::SetupError::NoToken),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_are_identities_and_bare_numbers_are_telegram() {
        assert_eq!(
            parse_admins("7, tg:8,ding:manager01").unwrap(),
            vec![
                Identity::telegram(7),
                Identity::telegram(8),
                "ding:manager01".parse().unwrap()
            ]
        );
        assert!(parse_admins("").unwrap().is_empty());
        assert!(parse_admins("alice").is_err());
    }

    #[test]
    fn defaults_live_here_once() {
        let args = Args::try_parse_from(["jxjy-bot", "stats"]).unwrap();
        let s = Settings::resolve(&args).unwrap();
        assert_eq!(s.schedule.days_before, vec![1, 3, 7, 14, 30]);
        assert_eq!(s.schedule.at, Schedule::default().at);
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        let at =
            Args::try_parse_from(["jxjy-bot", "--now", "2026-11-29T09:00+08:00", "chat"]).unwrap();
        let s = Settings::resolve(&at).unwrap();
        assert_eq!(crate::season::year_of(s.clock.now()), 2026);
    }
}
