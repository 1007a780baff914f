//! jxjy-bot: answers Jiangxi teachers' continuing-education questions from a
//! knowledge base built from the official guide.
//!
//! Map of the modules:
//! - [`knowledge`]: loads `knowledge/` (facts, FAQ, lexicon), renders answers.
//! - [`text`]: normalisation, typo and synonym rewriting, segmentation.
//! - [`matcher`]: scores a question against the FAQ and decides.
//! - [`dialogue`]: reply texts and buttons shared by every front end.
//! - [`check`]: `kb check`, validation of a knowledge directory.
//! - [`store`]: sled data directory (hours, subscriptions, sent-record).
//! - [`stats`]: most asked, unanswered (grouped) and feedback counts.
//! - [`tracker`]: `/log` parsing and the done / required / missing summary.
//! - [`clock`]: injected time (system or manual).
//! - [`reminders`]: schedule, pure planner, delivery through a `Sender`.
//! - [`commands`]: the tracker and reminder commands shared by front ends.
//! - [`telegram`]: Bot construction from the environment, the reminder sender.
//! - [`bot`]: the Telegram front end: commands, handler tree, reminder loop.
//! - [`webhook`]: reminders to WeCom, DingTalk and Feishu group robots.
//! - [`error`]: typed errors of the library.

pub mod backup;
pub mod bot;
pub mod check;
pub mod clock;
pub mod commands;
pub mod delivery;
pub mod dialogue;
pub mod error;
pub mod inbox;
pub mod knowledge;
pub mod limits;
pub mod matcher;
pub mod reminders;
pub mod stats;
pub mod store;
pub mod telegram;
pub mod text;
pub mod tracker;
pub mod webhook;
