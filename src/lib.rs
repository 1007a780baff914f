//! jxjy-bot: answers Jiangxi teachers' continuing-education questions from a
//! knowledge base built from the official guide.
//!
//! Map of the modules:
//! - [`knowledge`]: loads `knowledge/` (facts, FAQ, lexicon), renders answers.
//! - [`text`]: normalisation, typo and synonym rewriting, segmentation.
//! - [`matcher`]: scores a question against the FAQ and decides.
//! - [`scope`]: the year, region, profession and parts of a question.
//! - [`dialogue`]: reply texts and buttons shared by every front end.
//! - [`check`]: `kb check`, validation of a knowledge directory.
//! - [`newyear`]: `kb new-year`: the next guide year, filled from its text.
//! - [`teach`]: `kb suggest` and `kb teach`: learning from what was asked.
//! - [`provenance`]: every fact value found in the guide's own text.
//! - [`store`]: sled data directory (hours, subscriptions, sent-record,
//!   votes, destination status), atomic changes, damage detection.
//! - [`inbox`]: incoming updates stored before they are confirmed, keyed by
//!   (channel, platform id), processed once.
//! - [`backup`]: `backup` / `restore` (JSON lines) and the daily backup.
//! - [`stats`]: most asked, unanswered (grouped), feedback, what failed.
//! - [`tracker`]: `/log` parsing and the done / required / missing summary.
//! - [`clock`]: injected time (system or manual), the stop signal.
//! - [`limits`]: sliding-window rate limits (Telegram's, each robot's).
//! - [`reminders`]: schedule and pure planner of what is due to whom.
//! - [`delivery`]: the one delivery path: the `Sender` trait every
//!   destination kind implements, the in-flight / sent protocol.
//! - [`config`]: the school's settings in `jxjy.toml` (its contacts).
//! - [`commands`]: the tracker and reminder commands shared by front ends.
//! - [`telegram`]: the Bot API client: classified calls, retries, limits.
//! - [`bot`]: the Telegram front end: handler tree, update loop over the
//!   inbox, reminder loop, daily backup.
//! - [`webhook`]: WeCom, DingTalk and Feishu group robots as a destination.
//! - [`error`]: typed errors of the library.

pub mod backup;
pub mod bot;
pub mod check;
pub mod clock;
pub mod commands;
pub mod config;
pub mod delivery;
pub mod dialogue;
pub mod error;
pub mod inbox;
pub mod knowledge;
pub mod limits;
pub mod matcher;
pub mod newyear;
pub mod provenance;
pub mod reminders;
pub mod scope;
pub mod stats;
pub mod store;
pub mod teach;
pub mod telegram;
pub mod text;
pub mod tracker;
pub mod webhook;
