//! jxjy-bot: answers Jiangxi teachers' continuing-education questions from a
//! knowledge base built from the official guide.
//!
//! Map of the modules:
//! - [`knowledge`]: loads `knowledge/` (facts, FAQ, lexicon), renders answers.
//! - [`text`]: normalisation, typo and synonym rewriting, segmentation.
//! - [`matcher`]: scores a question against the FAQ and decides.
//! - [`scope`]: the year, region, profession and parts of a question.
//! - [`dialogue`]: answers to questions (text and buttons) from the
//!   knowledge base.
//! - [`conversation`]: the messenger-neutral conversation core: one
//!   message in (channel, chat, user; a question, a command or a button),
//!   the reply out; command routing (slash commands and Chinese words),
//!   stats, feedback, the tracker and reminder commands, privacy in
//!   groups, every fixed text.
//! - [`identity`]: chats and users namespaced per channel (`tg:42`,
//!   `term:local`, later `ding:`, `wecom:`, `feishu:`).
//! - [`season`]: the season (calendar year in Asia/Shanghai), which guide
//!   speaks for a year, which one reminders follow.
//! - [`live`]: the knowledge in service, reloaded whole after a check.
//! - [`render`]: replies as plain text with numbered choices (the terminal
//!   and text-only messengers).
//! - [`terminal`]: the terminal front end of `jxjy-bot chat`.
//! - [`settings`]: the command line (clap) and the settings resolved from
//!   it once, one place per default.
//! - [`check`]: `kb check`, validation of a knowledge directory.
//! - [`newyear`]: `kb new-year`: the next guide year, filled from its text.
//! - [`teach`]: `kb suggest` and `kb teach`: learning from what was asked.
//! - [`provenance`]: every fact value found in the guide's own text.
//! - [`store`]: sled data directory (hours per guide year, subscriptions,
//!   sent-record, votes, destination status), atomic changes, damage
//!   detection.
//! - [`migrate`]: schema 2 → 3 (records keyed by identity, hours by
//!   year), and format 1 backups read the same way.
//! - [`inbox`]: incoming updates stored before they are confirmed, keyed by
//!   (channel, platform id), processed once.
//! - [`backup`]: `backup` / `restore` (JSON lines) and the daily backup.
//! - [`stats`]: most asked, unanswered (grouped), feedback, what failed.
//! - [`tracker`]: `/log` parsing and the done / required / missing summary.
//! - [`clock`]: injected time (system or manual), the stop signal.
//! - [`limits`]: sliding-window rate limits (Telegram's, each robot's).
//! - [`reminders`]: schedule and pure planner of what is due to whom.
//! - [`delivery`]: the one delivery path: the `Sender` trait every
//!   destination kind implements (chats by identity, robots by name), the
//!   in-flight / sent protocol.
//! - [`config`]: the school's settings in `jxjy.toml` (its contacts).
//! - [`telegram`]: the Bot API client: classified calls, retries, limits.
//! - [`service`]: `serve`: the configured channels, each a [`service::Front`],
//!   and what they share: the reminder loop, daily backup, inbox clean-up,
//!   the season's note.
//! - [`bot`]: the Telegram front end: updates to the core and its replies
//!   back (inline keyboards), the update loop over the inbox.
//! - [`workers`]: one worker per chat (a chat's messages in order, chats in
//!   parallel) for the long-running messengers.
//! - [`webhook`]: WeCom, DingTalk and Feishu group robots as a destination.
//! - [`dingtalk`]: the DingTalk front end (Stream mode robot): frames to the
//!   core and its replies back, and DingTalk chats as a reminder destination.
//! - [`wecom`]: the WeCom 智能机器人 channel over its long connection
//!   (answers, welcome, reminders pushed through the same connection);
//!   `wecom::callback`, the same bot over its HTTP callback instead
//!   (`[wecom] mode = "callback"`: answers in the responses, no push), and
//!   `wecom::crypto`, WeCom's callback encryption and signature.
//! - [`http`]: the HTTP listener of `serve` (axum): the callback channels'
//!   routes on one address, `/healthz`.
//! - [`feishu`]: the Feishu front end: the event callback (signature,
//!   decryption, token), messages through the inbox to the core, replies
//!   and reminders through the open API.
//! - [`admin`]: the web page for the 人事处 under `/admin` on the HTTP
//!   listener (`[admin]`): sign-in, overview, questions (teach), knowledge
//!   (check, reload), the next reminders.
//! - [`error`]: typed errors of the library.
//!
//! The binary (`main.rs`, `cli.rs`) parses, resolves [`settings`] and
//! dispatches to one command.

pub mod admin;
pub mod backup;
pub mod bot;
pub mod check;
pub mod clock;
pub mod config;
pub mod conversation;
pub mod delivery;
pub mod dialogue;
pub mod dingtalk;
pub mod error;
pub mod feishu;
pub mod http;
pub mod identity;
pub mod inbox;
pub mod knowledge;
pub mod limits;
pub mod live;
pub mod matcher;
pub mod migrate;
pub mod newyear;
pub mod provenance;
pub mod reminders;
pub mod render;
pub mod scope;
pub mod season;
pub mod service;
pub mod settings;
pub mod stats;
pub mod store;
pub mod teach;
pub mod telegram;
pub mod terminal;
pub mod text;
pub mod tracker;
pub mod webhook;
pub mod wecom;
pub mod workers;
