//! The Telegram front end: turns updates into messages for the
//! conversation core ([`crate::conversation`]) and its replies into
//! Telegram messages (buttons as an inline keyboard, long text split,
//! groups quoted) and the durable update loop: Telegram's [`Front`] in
//! [`crate::service`], which runs the reminders and the daily chores.
//!
//! What the bot says, and which commands exist, is the core's; this module
//! only decides what in a group is addressed to the bot (commands,
//! @mentions, replies to it), asks Telegram who administers a group, and
//! follows chats that block the bot or become supergroups. [`schema`] is
//! the whole handler tree, so tests drive exactly what production runs.
//!
//! Updates: each `getUpdates` batch is stored in the [`Inbox`] (and
//! flushed) before the next call confirms it to Telegram; stored updates
//! are handed to one worker per chat (a chat's updates in order, chats
//! concurrently) and marked done when handled. Telegram is asked for more
//! only while fewer than [`Options::queue`] are pending, so a flood waits
//! at Telegram, not in memory. On the stop signal no more are fetched or
//! started; the ones in progress finish (a few seconds) and the rest stay
//! in the inbox for the next start.

use crate::clock::Stop;
use crate::conversation::{self, GroupAdmin, Incoming, Input, Output};
use crate::delivery::{Outbox, SendError};
use crate::dialogue::Reply;
use crate::identity::Identity;
use crate::inbox::{Inbox, Item};
use crate::service::Front;
use crate::store::ChatKind;
use crate::telegram::{Retry, Telegram};
use crate::workers::ChatWorkers;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;
use teloxide::dispatching::{UpdateFilterExt, UpdateHandler, dialogue::GetChatId};
use teloxide::dptree;
use teloxide::payloads::{SendMessage, SendMessageSetters};
use teloxide::prelude::*;
use teloxide::types::{
    BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Me, MessageId, ReplyParameters,
};

/// The Telegram client, as handlers get it.
pub type Tg = Arc<Telegram>;
type HandlerResult = Result<(), anyhow::Error>;

/// Telegram refuses longer messages.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// Telegram's user id for messages sent by anonymous group administrators.
const GROUP_ANONYMOUS_BOT: u64 = 1_087_968_824;

/// The inbox channel of Telegram updates.
pub const CHANNEL: &str = "telegram";

/// The operation an update is ("telegram/<update_id>"): a change it made
/// is not made again when it is handled again after a crash.
#[derive(Debug, Clone)]
pub struct Op(pub String);

/// A handler stopped waiting because the process is stopping: its update
/// stays pending, to be handled after the restart.
#[derive(Debug, thiserror::Error)]
#[error("stopping before the answer was sent")]
pub struct Stopping;

pub use crate::service::App;

/// The command list Telegram shows (`setMyCommands`), from the core's.
pub fn bot_commands() -> Vec<BotCommand> {
    conversation::command::COMMANDS
        .iter()
        .map(|c| BotCommand::new(c.name, c.about))
        .collect()
}

/// The handler tree.
pub fn schema() -> UpdateHandler<anyhow::Error> {
    let message = Update::filter_message()
        .branch(
            dptree::filter_map(|m: Message| m.migrate_to_chat_id().copied()).endpoint(on_migrate),
        )
        .branch(dptree::endpoint(on_message));
    dptree::entry()
        .branch(message)
        .branch(Update::filter_edited_message().endpoint(on_edited))
        .branch(Update::filter_callback_query().endpoint(on_callback))
}

fn chat_kind(private: bool) -> ChatKind {
    if private {
        ChatKind::Private
    } else {
        ChatKind::Group
    }
}

/// What of a message is for the bot: any text in a private chat; in a
/// group only commands, a mention of the bot (removed) or a reply to one
/// of its messages (privacy mode shows it nothing else, but be sure).
/// Not text: [`Input::Other`].
fn text_for_bot(m: &Message, me: &Me) -> Option<Option<String>> {
    let Some(text) = m.text() else {
        return Some(None);
    };
    if m.chat.is_private() || text.starts_with('/') {
        return Some(Some(text.to_string()));
    }
    let mention = format!("@{}", me.username());
    if text.contains(&mention) {
        return Some(Some(text.replace(&mention, " ").trim().to_string()));
    }
    let replies_to_bot = m
        .reply_to_message()
        .and_then(|r| r.from.as_ref())
        .is_some_and(|u| u.id == me.id);
    replies_to_bot.then(|| Some(text.to_string()))
}

fn incoming(m: &Message, me: &Me, input: Input, op: &Op) -> Incoming {
    Incoming {
        chat: Identity::telegram(m.chat.id.0),
        kind: chat_kind(m.chat.is_private()),
        user: m.from.as_ref().map(|u| Identity::telegram(u.id.0 as i64)),
        input,
        op: Some(op.0.clone()),
        me: Some(me.username().to_string()),
        private_link: Some(format!("https://t.me/{}", me.username())),
    }
}

/// Parts of at most `max` characters (Telegram counts characters).
pub fn split_message(text: &str, max: usize) -> Vec<String> {
    crate::text::split_text(text, max, |s| s.chars().count())
}

fn keyboard(r: &Reply) -> Option<InlineKeyboardMarkup> {
    if r.buttons.is_empty() {
        return None;
    }
    Some(InlineKeyboardMarkup::new(r.buttons.iter().map(|row| {
        row.iter()
            .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.action.encode()))
            .collect::<Vec<_>>()
    })))
}

/// One part of an answer, retried as answers are; a 403 marks the chat
/// inactive and a migrated group is followed.
async fn send_part(tg: &Tg, app: &App, chat: ChatId, p: SendMessage, stop: &Stop) -> HandlerResult {
    let err = match tg.send_message(chat.0, &p, Retry::Answer, stop).await {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    match err.to_send_error() {
        SendError::Blocked => {
            tracing::info!(
                chat = chat.0,
                "chat blocked the bot or removed it; marked inactive"
            );
            app.store.deactivate(&Identity::telegram(chat.0))?;
            Ok(())
        }
        SendError::Migrated(new) => {
            app.store
                .migrate_chat(&Identity::telegram(chat.0), &Identity::telegram(new))?;
            let mut again = p;
            again.chat_id = ChatId(new).into();
            // A reply cannot quote a message of the old chat.
            again.reply_parameters = None;
            match tg.send_message(new, &again, Retry::Answer, stop).await {
                Ok(()) => Ok(()),
                Err(e) => answer_lost(app, new, &e.to_send_error()),
            }
        }
        e => answer_lost(app, chat.0, &e),
    }
}

fn answer_lost(app: &App, chat: i64, e: &SendError) -> HandlerResult {
    if *e == SendError::Cancelled {
        return Err(Stopping.into());
    }
    tracing::error!(chat, error = %e, "answer not delivered after retries");
    app.store.answer_failed(&e.to_string())?;
    Ok(())
}

/// Send a reply (split if long, buttons on the last part, quoting `quote`
/// in groups).
async fn send(
    tg: &Tg,
    app: &App,
    stop: &Stop,
    chat: ChatId,
    r: &Reply,
    quote: Option<MessageId>,
) -> HandlerResult {
    let parts = split_message(&r.text, MAX_MESSAGE_CHARS);
    let last = parts.len() - 1;
    for (i, part) in parts.into_iter().enumerate() {
        let mut p = SendMessage::new(chat, part);
        if let Some(q) = quote.filter(|_| i == 0) {
            p = p.reply_parameters(ReplyParameters::new(q).allow_sending_without_reply());
        }
        if i == last
            && let Some(k) = keyboard(r)
        {
            p = p.reply_markup(k);
        }
        send_part(tg, app, chat, p, stop).await?;
    }
    Ok(())
}

/// Every message of the core's output, in order.
async fn send_all(
    tg: &Tg,
    app: &App,
    stop: &Stop,
    chat: ChatId,
    out: &Output,
    quote: Option<MessageId>,
) -> HandlerResult {
    for r in &out.messages {
        send(tg, app, stop, chat, r, quote).await?;
    }
    Ok(())
}

fn quote_in_group(m: &Message) -> Option<MessageId> {
    (!m.chat.is_private()).then_some(m.id)
}

/// Telegram's answer to "does the sender administer this group?".
struct TgAdmin<'a> {
    tg: &'a Tg,
    stop: &'a Stop,
    m: &'a Message,
}

impl GroupAdmin for TgAdmin<'_> {
    async fn check(&self) -> Result<Option<bool>, String> {
        let m = self.m;
        // Anonymous administrators post as the group itself.
        if m.sender_chat.as_ref().is_some_and(|c| c.id == m.chat.id)
            || m.from
                .as_ref()
                .is_some_and(|u| u.id.0 == GROUP_ANONYMOUS_BOT)
        {
            return Ok(Some(true));
        }
        let Some(user) = m.from.as_ref() else {
            return Ok(Some(false));
        };
        let member = self
            .tg
            .get_chat_member(m.chat.id, user.id, self.stop)
            .await
            .map_err(|e| format!("getChatMember: {e}"))?;
        Ok(Some(member.is_privileged()))
    }
}

async fn on_message(
    tg: Tg,
    m: Message,
    app: Arc<App>,
    me: Me,
    op: Op,
    stop: Stop,
) -> HandlerResult {
    let Some(text) = text_for_bot(&m, &me) else {
        return Ok(());
    };
    let input = text.map_or(Input::Other, Input::Text);
    let msg = incoming(&m, &me, input, &op);
    let admin = TgAdmin {
        tg: &tg,
        stop: &stop,
        m: &m,
    };
    let out = app.core.handle(&msg, &admin).await?;
    send_all(&tg, &app, &stop, m.chat.id, &out, quote_in_group(&m)).await
}

/// An edited message: a question is answered again, a command is not run
/// again (the core decides).
async fn on_edited(tg: Tg, m: Message, app: Arc<App>, me: Me, op: Op, stop: Stop) -> HandlerResult {
    let Some(text) = text_for_bot(&m, &me) else {
        return Ok(());
    };
    let input = text.map_or(Input::Other, Input::Edited);
    let msg = incoming(&m, &me, input, &op);
    let out = app.core.handle(&msg, &conversation::NoAdminInfo).await?;
    send_all(&tg, &app, &stop, m.chat.id, &out, quote_in_group(&m)).await
}

async fn on_migrate(m: Message, new: ChatId, app: Arc<App>) -> HandlerResult {
    tracing::info!(
        old = m.chat.id.0,
        new = new.0,
        "group migrated to a supergroup"
    );
    app.store
        .migrate_chat(&Identity::telegram(m.chat.id.0), &Identity::telegram(new.0))?;
    Ok(())
}

async fn on_callback(tg: Tg, q: CallbackQuery, app: Arc<App>, op: Op, stop: Stop) -> HandlerResult {
    let chat = q.chat_id();
    let user = Identity::telegram(q.from.id.0 as i64);
    let private = q.message.as_ref().is_none_or(|m| m.chat().is_private());
    let msg = Incoming {
        chat: chat.map_or_else(|| user.clone(), |c| Identity::telegram(c.0)),
        kind: chat_kind(private),
        user: Some(user),
        input: Input::Button(q.data.clone().unwrap_or_default()),
        op: Some(op.0),
        me: None,
        private_link: None,
    };
    let out = app.core.handle(&msg, &conversation::NoAdminInfo).await?;
    callback_answer(&tg, &app, &stop, &q, out.note.as_deref()).await?;
    if let Some(chat) = chat {
        send_all(&tg, &app, &stop, chat, &out, None).await?;
    }
    Ok(())
}

async fn callback_answer(
    tg: &Tg,
    app: &App,
    stop: &Stop,
    q: &CallbackQuery,
    text: Option<&str>,
) -> HandlerResult {
    match tg.answer_callback_query(&q.id, text, stop).await {
        Ok(()) => Ok(()),
        Err(e) => answer_lost(app, q.chat_id().map_or(0, |c| c.0), &e.to_send_error()),
    }
}

/// How the bot runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Send reminders (tests of other things turn them off).
    pub reminders: bool,
    /// Between checks for due reminders.
    pub reminder_every: Duration,
    /// Most updates pending in the inbox before Telegram is asked for more.
    pub queue: usize,
    /// Long-polling wait, seconds.
    pub poll_wait: u64,
    /// Write the daily backup into the data directory.
    pub daily_backup: bool,
    /// Longest wait, after the stop signal, for handlers in progress.
    pub grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            reminders: true,
            reminder_every: Duration::from_secs(60),
            queue: 1000,
            poll_wait: 25,
            daily_backup: true,
            grace: Duration::from_secs(10),
        }
    }
}

/// Run the bot alone (Telegram, its reminders and the daily chores)
/// until `shutdown` resolves: [`crate::service::run`] with one channel.
pub async fn run(
    tg: Tg,
    app: Arc<App>,
    opts: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let outbox = Outbox {
        telegram: Some(tg.clone()),
        robots: crate::service::robots(&app),
        ..Default::default()
    };
    let service = crate::service::Options {
        reminders: opts.reminders,
        reminder_every: opts.reminder_every,
        daily_backup: opts.daily_backup,
    };
    let fronts = vec![front(tg, app.clone(), opts)];
    crate::service::run(app, outbox, fronts, service, shutdown).await
}

/// Telegram as a channel of the service: wait for Telegram, register the
/// commands, handle updates through the inbox until stopped.
pub fn front(tg: Tg, app: Arc<App>, opts: Options) -> Front {
    Front {
        name: "telegram",
        inbox: Some(CHANNEL),
        start: Box::new(move |stop| {
            Box::pin(async move {
                let Some(me) = tg.wait_for_me(&stop).await? else {
                    return Ok(());
                };
                if let Err(e) = tg.set_my_commands(&bot_commands()).await {
                    tracing::warn!(error = %e, "could not register the command list");
                }
                let inbox = Arc::new(Inbox::open(&app.store, CHANNEL)?);
                updates(tg, app, me, inbox, &opts, stop).await
            })
        }),
    }
}

/// Fetch into the inbox while it has room, hand pending updates to the
/// workers, until stopped.
async fn updates(
    tg: Tg,
    app: Arc<App>,
    me: Me,
    inbox: Arc<Inbox>,
    opts: &Options,
    stop: Stop,
) -> anyhow::Result<()> {
    let mut workers = Workers {
        handler: Arc::new(schema()),
        deps: dptree::deps![tg.clone(), app.clone(), me, stop.clone()],
        inbox: inbox.clone(),
        queues: ChatWorkers::new("handlers"),
        stop: stop.clone(),
    };
    let pending = inbox.pending_count();
    if pending > 0 {
        tracing::info!(pending, "updates left from the last run are handled first");
    }
    let mut cursor = None;
    let mut offset = inbox.max_numeric_id()?.map(|m| m + 1);
    let mut failures = 0;
    let result = loop {
        if stop.is_set() {
            break Ok(());
        }
        loop {
            let batch = inbox.pending(cursor, 256)?;
            let Some(last) = batch.last() else { break };
            cursor = Some(last.seq);
            for item in batch {
                workers.dispatch(item);
            }
        }
        let room = opts.queue.saturating_sub(inbox.pending_count());
        if room == 0 {
            // Full: Telegram keeps the rest until some are done.
            tokio::select! {
                _ = workers.queues.handled() => {}
                _ = stop.wait() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let got = tokio::select! {
            r = tg.get_updates(offset, room.min(100), opts.poll_wait) => r,
            _ = stop.wait() => break Ok(()),
        };
        match got {
            Ok(list) => {
                failures = 0;
                let items: Vec<(String, serde_json::Value)> = list
                    .into_iter()
                    .filter_map(|u| Some((u.get("update_id")?.as_i64()?.to_string(), u)))
                    .collect();
                if let Some(max) = items
                    .iter()
                    .filter_map(|(id, _)| id.parse::<i64>().ok())
                    .max()
                {
                    offset = Some(max + 1);
                }
                // Stored and flushed before the next getUpdates confirms them.
                if let Err(e) = inbox.put(items) {
                    break Err(e.into());
                }
            }
            Err(e) => {
                let wait = tg.backoff.nth(failures);
                failures += 1;
                tracing::warn!(error = %e, "getUpdates failed; retrying in {:.1}s", wait.as_secs_f64());
                if stop.sleep(wait).await {
                    break Ok(());
                }
            }
        }
    };
    workers.queues.finish(opts.grace).await;
    result
}

/// One worker per chat with work ([`ChatWorkers`]), each running the
/// handler tree on its chat's updates in order.
struct Workers {
    handler: Arc<UpdateHandler<anyhow::Error>>,
    deps: dptree::di::DependencyMap,
    inbox: Arc<Inbox>,
    queues: ChatWorkers<i64, (Item, Update)>,
    stop: Stop,
}

impl Workers {
    fn dispatch(&mut self, item: Item) {
        // From text, not from the Value: teloxide's Update reads its keys
        // as borrowed strings, which a Value cannot lend.
        let text = serde_json::to_vec(&item.payload).unwrap_or_default();
        let update: Update = match serde_json::from_slice(&text) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(id = %item.id, error = %e, "unreadable update skipped");
                if let Err(e) = self.inbox.done(&item) {
                    tracing::error!(error = %e, "cannot mark an update done");
                }
                return;
            }
        };
        let chat = update
            .chat()
            .map(|c| c.id.0)
            .or_else(|| update.from().map(|u| u.id.0 as i64))
            .unwrap_or(0);
        let (handler, deps, inbox, stop) = (&self.handler, &self.deps, &self.inbox, &self.stop);
        // A worker gone (it ended) leaves the update pending for the next start.
        let _ = self.queues.dispatch(chat, (item, update), || {
            // Cloned once, for a new chat's worker.
            let (handler, deps, inbox, stop) =
                (handler.clone(), deps.clone(), inbox.clone(), stop.clone());
            move |(item, update): (Item, Update)| {
                let (handler, deps, inbox, stop) =
                    (handler.clone(), deps.clone(), inbox.clone(), stop.clone());
                async move {
                    if !stop.is_set() {
                        handle(&handler, &deps, &inbox, item, update).await;
                    }
                }
            }
        });
    }
}

async fn handle(
    handler: &UpdateHandler<anyhow::Error>,
    deps: &dptree::di::DependencyMap,
    inbox: &Inbox,
    item: Item,
    update: Update,
) {
    let mut deps = deps.clone();
    deps.insert(update);
    deps.insert(Op(item.op(CHANNEL)));
    match handler.dispatch(deps).await {
        ControlFlow::Break(Err(e)) if e.is::<Stopping>() => return,
        ControlFlow::Break(Err(e)) => {
            // Marked done anyway: an update that fails every time must not
            // block its chat forever.
            tracing::error!(id = %item.id, error = %e, "error in a handler");
        }
        ControlFlow::Break(Ok(())) | ControlFlow::Continue(_) => {}
    }
    if let Err(e) = inbox.done(&item) {
        tracing::error!(error = %e, "cannot mark an update done");
    }
}

pub use crate::service::{season_note, shutdown_signal};
