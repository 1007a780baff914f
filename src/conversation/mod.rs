//! The conversation core, messenger-neutral: one message in (channel,
//! chat, user, chat kind; a question, a command or a pressed button), the
//! reply out (messages with buttons, a short note for a pressed button).
//! It owns command routing (slash commands and their Chinese words), the
//! stats (asked, unanswered, feedback), the tracker and reminder commands,
//! the privacy rules of groups and every fixed text. Telegram
//! ([`crate::bot`]) and the terminal ([`crate::terminal`]) only carry
//! messages to and from it and render the buttons their way
//! ([`crate::render`]); later messengers do the same.

pub mod command;
mod records;
pub mod texts;

use crate::clock::Clock;
use crate::dialogue::{Action, Reply, ReplyKind, Responder};
use crate::error::StoreError;
use crate::identity::Identity;
use crate::live::LiveKb;
use crate::reminders::Schedule;
use crate::season::Season;
use crate::store::{ChatKind, DayOutcome, Store, Unanswered, Vote};
use command::{Command, Parsed};
use std::future::Future;
use std::sync::Arc;

/// What arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A message: a question, a command or a command word.
    Text(String),
    /// A message edited after it was sent: a question is answered again,
    /// a command is not run again (an edited /log would count twice).
    Edited(String),
    /// A pressed button's data ([`Action::encode`]).
    Button(String),
    /// Something that is not text (a sticker, a photo, a location).
    Other,
}

/// One message to the core.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Where the reply goes (and whose reminder setting /remind changes).
    pub chat: Identity,
    pub kind: ChatKind,
    /// Who wrote (hours and votes are theirs); None when a group posted
    /// as itself.
    pub user: Option<Identity>,
    pub input: Input,
    /// The operation this message is ("telegram/<update id>"): a change
    /// it made is not made again when it is handled again after a crash.
    pub op: Option<String>,
    /// The bot's name on this channel ("/ask@name" is addressed to it).
    pub me: Option<String>,
    /// How a user opens a private chat with the bot, for the privacy hint.
    pub private_link: Option<String>,
}

impl Incoming {
    /// A message in a private chat, where the chat is the user.
    pub fn private(user: Identity, input: Input) -> Incoming {
        Incoming {
            chat: user.clone(),
            kind: ChatKind::Private,
            user: Some(user),
            input,
            op: None,
            me: None,
            private_link: None,
        }
    }
}

/// The core's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Messages to send, in order.
    pub messages: Vec<Reply>,
    /// The short note a pressed button gets (Telegram shows it over the
    /// chat; a text platform prints it).
    pub note: Option<String>,
}

impl Output {
    fn one(r: Reply) -> Output {
        Output {
            messages: vec![r],
            note: None,
        }
    }

    fn text(t: impl Into<String>) -> Output {
        Output::one(Reply::info(t.into()))
    }

    fn note(t: impl Into<String>) -> Output {
        Output {
            messages: Vec::new(),
            note: Some(t.into()),
        }
    }

    /// Nothing to say (group chatter, another bot's command).
    pub fn is_silent(&self) -> bool {
        self.messages.is_empty() && self.note.is_none()
    }
}

/// Whether the sender administers the group: asked only when a group's
/// reminder setting is to change. `Ok(None)`: the platform cannot say,
/// and the configured admins decide.
pub trait GroupAdmin: Sync {
    fn check(&self) -> impl Future<Output = Result<Option<bool>, String>> + Send;
}

/// A platform that says nothing about group administrators.
pub struct NoAdminInfo;

impl GroupAdmin for NoAdminInfo {
    async fn check(&self) -> Result<Option<bool>, String> {
        Ok(None)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The platform could not tell who administers a group.
    #[error("asking the platform: {0}")]
    Platform(String),
}

pub struct Conversation {
    kb: Arc<LiveKb>,
    store: Option<Store>,
    schedule: Schedule,
    clock: Arc<dyn Clock>,
    admins: Vec<Identity>,
}

impl Conversation {
    /// `store` None: questions are answered, records are unavailable (a
    /// terminal whose data directory cannot be opened). `admins` may use
    /// /stats, and change a group's reminders where the platform does not
    /// say who administers it.
    pub fn new(
        kb: Arc<LiveKb>,
        store: Option<Store>,
        schedule: Schedule,
        clock: Arc<dyn Clock>,
        admins: Vec<Identity>,
    ) -> Conversation {
        Conversation {
            kb,
            store,
            schedule,
            clock,
            admins,
        }
    }

    /// The knowledge now (one snapshot; a reload swaps the next one).
    pub fn responder(&self) -> Arc<Responder> {
        self.kb.get()
    }

    pub fn live(&self) -> &Arc<LiveKb> {
        &self.kb
    }

    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The first lines of a text-only chat (the terminal).
    pub fn intro(&self) -> String {
        let r = self.kb.get();
        texts::terminal_intro(&Season::of(r.kb(), self.clock.now()))
    }

    /// Reply to one message.
    pub async fn handle(
        &self,
        msg: &Incoming,
        admin: &impl GroupAdmin,
    ) -> Result<Output, ConversationError> {
        let r = self.kb.get();
        let private = msg.kind == ChatKind::Private;
        match &msg.input {
            Input::Other if private => Ok(Output::text(texts::TEXT_PLEASE)),
            Input::Other => Ok(Output::default()),
            Input::Button(data) => Ok(self.button(&r, msg, data)?),
            Input::Edited(text) => match command::parse(text, msg.me.as_deref()) {
                Parsed::Question => Ok(self.ask(&r, msg, text)?),
                Parsed::NotForUs => Ok(Output::default()),
                _ if private => Ok(Output::text(texts::EDITED_COMMAND)),
                _ => Ok(Output::default()),
            },
            Input::Text(text) => match command::parse(text, msg.me.as_deref()) {
                Parsed::Question => Ok(self.ask(&r, msg, text)?),
                Parsed::Command(c) => self.command(&r, msg, c, admin).await,
                Parsed::Unknown(_) if private => Ok(Output::text(texts::UNKNOWN_COMMAND)),
                Parsed::Unknown(_) | Parsed::NotForUs => Ok(Output::default()),
            },
        }
    }

    /// A question, answered and counted.
    fn ask(&self, r: &Responder, msg: &Incoming, question: &str) -> Result<Output, StoreError> {
        let reply = r.ask(question);
        if let Some(store) = &self.store {
            // Per day, for the admin page's chart.
            let outcome = match reply.kind {
                ReplyKind::Answer => Some(DayOutcome::Answered),
                ReplyKind::Candidates => Some(DayOutcome::Candidates),
                ReplyKind::Decline => Some(DayOutcome::Declined),
                ReplyKind::Info => None,
            };
            if let Some(o) = outcome {
                store.count_day(crate::season::date_of(self.clock.now()), o)?;
            }
            match (&reply.kind, &reply.matched) {
                (ReplyKind::Answer, Some(id)) => {
                    store.record_asked(id)?;
                    store.remember_question(&msg.chat, Some(id), question)?;
                }
                (ReplyKind::Candidates, _) => store.remember_question(&msg.chat, None, question)?,
                (ReplyKind::Decline, _) => store.record_unanswered(&Unanswered {
                    text: question.chars().take(500).collect(),
                    at: self.clock.now(),
                    chat: msg.kind,
                    disliked: None,
                })?,
                _ => {}
            }
        }
        Ok(Output::one(reply))
    }

    fn button(&self, r: &Responder, msg: &Incoming, data: &str) -> Result<Output, StoreError> {
        match Action::decode(data) {
            Some(Action::Show(id)) if r.kb().entry(&id).is_some() => {
                let Some(reply) = r.answer_id(&id) else {
                    return Ok(Output::note(texts::BUTTON_EXPIRED));
                };
                if let Some(store) = &self.store {
                    store.record_asked(&id)?;
                    store.question_answered_with(&msg.chat, &id)?;
                }
                Ok(Output::one(reply))
            }
            Some(Action::Feedback { entry, helpful }) if r.kb().entry(&entry).is_some() => {
                let (Some(store), Some(user)) = (&self.store, &msg.user) else {
                    return Ok(Output::note(texts::NO_STORE));
                };
                // One vote per user per answer; pressing again changes it.
                let vote = store.vote(&entry, user, helpful)?;
                // A new 👎 joins the unanswered questions for `kb suggest`,
                // when the question it answered is known.
                if !helpful
                    && vote != Vote::Same
                    && let Some(text) = store.question_for(&msg.chat, &entry)?
                {
                    store.record_unanswered(&Unanswered {
                        text,
                        at: self.clock.now(),
                        chat: msg.kind,
                        disliked: Some(entry.clone()),
                    })?;
                }
                let text = match vote {
                    Vote::New if helpful => texts::VOTE_UP,
                    Vote::New => texts::VOTE_DOWN,
                    Vote::Same => texts::VOTE_SAME,
                    Vote::Changed if helpful => texts::VOTE_CHANGED_UP,
                    Vote::Changed => texts::VOTE_CHANGED_DOWN,
                };
                Ok(Output::note(text))
            }
            _ => Ok(Output::note(texts::BUTTON_EXPIRED)),
        }
    }

    fn is_admin(&self, user: Option<&Identity>) -> bool {
        user.is_some_and(|u| self.admins.contains(u))
    }

    async fn command(
        &self,
        r: &Responder,
        msg: &Incoming,
        cmd: Command,
        admin: &impl GroupAdmin,
    ) -> Result<Output, ConversationError> {
        let kb = r.kb();
        let private = msg.kind == ChatKind::Private;
        if cmd.is_private() && !private {
            return Ok(Output::text(texts::private_only(
                cmd.name(),
                msg.private_link.as_deref(),
            )));
        }
        let now = self.clock.now();
        let season = Season::of(kb, now);
        let out = match cmd {
            Command::Start => {
                let topics: Vec<&str> = kb.topics.iter().map(|t| t.label.as_str()).collect();
                let missing = match season.guide {
                    Some(_) => String::new(),
                    None => format!(
                        "（{}年度指南尚未收录，本年度的要求请以人事处通知为准。）",
                        season.year
                    ),
                };
                Output::one(Reply {
                    text: format!(
                        "您好！我是继续教育小助手，依据{}年度学习指南（{}）回答高校、中职教师继续教育问题。{missing}\n我知道：{}。\n直接发送问题即可（群里请 @我 或用 /ask）。发送 /help 查看全部命令。",
                        kb.facts.year,
                        kb.facts.doc_no,
                        topics.join("、")
                    ),
                    ..r.menu()
                })
            }
            Command::Help => Output::text(command::help()),
            Command::Ask(q) if q.trim().is_empty() => Output::text(texts::ASK_USAGE),
            Command::Ask(q) => self.ask(r, msg, &q)?,
            Command::Menu => Output::one(r.menu()),
            Command::Deadline => Output::text(records::deadline(kb, now)),
            Command::Platforms => Output::text(platforms(&season)),
            Command::Hotline => Output::text(format!(
                "咨询电话：{}\n依据：{} 附件 四",
                kb.facts.hotline, kb.facts.doc_no
            )),
            Command::Stats if !self.is_admin(msg.user.as_ref()) => {
                Output::text(texts::STATS_ADMINS_ONLY)
            }
            Command::Stats => match &self.store {
                Some(store) => Output::text(format!(
                    "{}\n{}",
                    texts::season_line(&season),
                    crate::stats::report(store, r.matcher().analyzer())?
                )),
                None => Output::text(texts::NO_STORE),
            },
            Command::Log(_) | Command::Hours(_) | Command::Undo | Command::Forget
                if msg.user.is_none() =>
            {
                Output::default()
            }
            Command::Log(_)
            | Command::Hours(_)
            | Command::Undo
            | Command::Forget
            | Command::Remind(_)
                if self.store.is_none() =>
            {
                Output::text(texts::NO_STORE)
            }
            Command::Log(args) => self.with_user(kb, msg, |ctx, u| records::log(ctx, u, &args))?,
            Command::Hours(args) => {
                self.with_user(kb, msg, |ctx, u| records::hours(ctx, u, &args))?
            }
            Command::Undo => self.with_user(kb, msg, records::undo)?,
            Command::Forget => {
                self.with_user(kb, msg, |ctx, u| records::forget(ctx, u, &msg.chat))?
            }
            Command::Remind(arg) => {
                let can_push = crate::delivery::deliverable(msg.chat.channel());
                let may_change = private
                    || arg.trim().is_empty()
                    || match admin.check().await.map_err(ConversationError::Platform)? {
                        Some(yes) => yes,
                        None => self.is_admin(msg.user.as_ref()),
                    };
                match &self.store {
                    Some(store) => {
                        let ctx = records::Ctx {
                            store,
                            kb,
                            schedule: &self.schedule,
                            now,
                            op: msg.op.as_deref(),
                        };
                        Output::text(records::remind(
                            &ctx, &msg.chat, msg.kind, &arg, may_change, can_push,
                        )?)
                    }
                    None => Output::text(texts::NO_STORE),
                }
            }
        };
        Ok(out)
    }

    /// Run a tracker command for the message's user on the store.
    fn with_user(
        &self,
        kb: &crate::knowledge::Kb,
        msg: &Incoming,
        f: impl FnOnce(&records::Ctx, &Identity) -> Result<String, StoreError>,
    ) -> Result<Output, StoreError> {
        let (Some(store), Some(user)) = (&self.store, &msg.user) else {
            return Ok(Output::text(texts::NO_STORE));
        };
        let ctx = records::Ctx {
            store,
            kb,
            schedule: &self.schedule,
            now: self.clock.now(),
            op: msg.op.as_deref(),
        };
        Ok(Output::text(f(&ctx, user)?))
    }
}

/// /platforms: the season's guide, or the newest labelled as its year's.
fn platforms(season: &Season) -> String {
    let (f, label) = match season.guide {
        Some(f) => (f, String::new()),
        None => (
            season.newest,
            format!(
                "以下依据{}年度指南；{}年度指南尚未收录，请以人事处最新通知为准。\n",
                season.newest.year, season.year
            ),
        ),
    };
    let mut t = format!("{label}网络学习平台（排名不分先后）：");
    for (i, p) in f.platforms.iter().enumerate() {
        t.push_str(&format!(
            "\n{}. {}-{}，客服电话：{}",
            i + 1,
            p.operator,
            p.name,
            p.phone
        ));
    }
    t.push_str(&format!("\n依据：{} 附件1-1", f.doc_no));
    t
}
