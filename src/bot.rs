//! The Telegram front end: commands, the handler tree, replies with
//! buttons, feedback, groups; the durable update loop, the reminder loop
//! and the daily backup.
//!
//! Everything the bot says comes from [`Responder`] and [`commands`]; this
//! module only moves it to and from Telegram. [`schema`] is the whole
//! handler tree, so tests drive exactly what production runs.
//!
//! Updates: each `getUpdates` batch is stored in the [`Inbox`] (and
//! flushed) before the next call confirms it to Telegram; stored updates
//! are handed to one worker per chat (a chat's updates in order, chats
//! concurrently) and marked done when handled. Telegram is asked for more
//! only while fewer than [`Options::queue`] are pending, so a flood waits
//! at Telegram, not in memory. On the stop signal no more are fetched or
//! started; the ones in progress finish (a few seconds) and the rest stay
//! in the inbox for the next start.

use crate::clock::{Clock, Stop, TokioSleeper};
use crate::commands::{self, Ctx};
use crate::delivery::{self, Outbox, SendError};
use crate::dialogue::{Action, Reply, ReplyKind, Responder};
use crate::inbox::{Inbox, Item};
use crate::reminders::Schedule;
use crate::store::{ChatKind, Store, Unanswered, Vote};
use crate::telegram::{Retry, Telegram};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use teloxide::dispatching::{UpdateFilterExt, UpdateHandler, dialogue::GetChatId};
use teloxide::dptree;
use teloxide::payloads::{SendMessage, SendMessageSetters};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, Me, MessageId, ReplyParameters};
use teloxide::utils::command::BotCommands;

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

/// 继续教育小助手的命令：
#[derive(BotCommands, Clone, Debug, PartialEq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    /// 开始：我能回答什么
    Start,
    /// 显示本帮助
    Help,
    /// 提问，例如 /ask 每年要多少学时
    Ask(String),
    /// 主题菜单
    Menu,
    /// 截止日期和剩余天数
    Deadline,
    /// 学习平台和客服电话
    Platforms,
    /// 咨询电话
    Hotline,
    /// 记录学时，例如 /log 公需 10（私聊）
    Log(String),
    /// 查看我的学时（私聊）
    Hours,
    /// 撤销上一条学时记录（私聊）
    Undo,
    /// 截止提醒：/remind on 或 /remind off
    Remind(String),
    /// 删除我的全部数据（私聊）
    Forget,
    /// 使用统计（仅管理员，私聊）
    Stats,
}

/// What every handler needs.
pub struct App {
    pub responder: Responder,
    pub store: Store,
    pub schedule: Schedule,
    pub clock: Arc<dyn Clock>,
    /// Telegram user ids allowed to use /stats (JXJY_ADMINS).
    pub admins: Vec<u64>,
    /// Group robots that get the group reminders too (jxjy.toml).
    pub webhooks: Vec<crate::webhook::Target>,
}

impl App {
    fn ctx<'a>(&'a self, op: Option<&'a Op>) -> Ctx<'a> {
        Ctx {
            store: &self.store,
            facts: &self.responder.kb().facts,
            schedule: &self.schedule,
            now: self.clock.now(),
            op: op.map(|o| o.0.as_str()),
        }
    }
}

/// The handler tree.
pub fn schema() -> UpdateHandler<anyhow::Error> {
    let message = Update::filter_message()
        .branch(
            dptree::filter_map(|m: Message| m.migrate_to_chat_id().copied()).endpoint(on_migrate),
        )
        .branch(
            dptree::entry()
                .filter_command::<Command>()
                .endpoint(on_command),
        )
        .branch(dptree::filter_map(question_of).endpoint(on_question))
        .branch(dptree::endpoint(on_other_message));
    // An edited question is answered again; an edited command is not run
    // again (an edited /log would count twice).
    let edited = Update::filter_edited_message()
        .branch(dptree::filter_map(question_of).endpoint(on_question))
        .branch(dptree::endpoint(on_edited_other));
    dptree::entry()
        .branch(message)
        .branch(edited)
        .branch(Update::filter_callback_query().endpoint(on_callback))
}

fn chat_kind(m: &Message) -> ChatKind {
    if m.chat.is_private() {
        ChatKind::Private
    } else {
        ChatKind::Group
    }
}

/// The question in a message the bot should answer: any text in a private
/// chat; in a group only a mention of the bot or a reply to one of its
/// messages (privacy mode shows it nothing else, but be sure).
fn question_of(m: Message, me: Me) -> Option<String> {
    let text = m.text()?;
    // Unknown commands, or commands for other bots, are not questions.
    if text.starts_with('/') {
        return None;
    }
    if m.chat.is_private() {
        return Some(text.to_string());
    }
    let mention = format!("@{}", me.username());
    if text.contains(&mention) {
        return Some(text.replace(&mention, " ").trim().to_string());
    }
    let replies_to_bot = m
        .reply_to_message()
        .and_then(|r| r.from.as_ref())
        .is_some_and(|u| u.id == me.id);
    replies_to_bot.then(|| text.to_string())
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
            app.store.deactivate(chat.0)?;
            Ok(())
        }
        SendError::Migrated(new) => {
            app.store.migrate_chat(chat.0, new)?;
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

fn quote_in_group(m: &Message) -> Option<MessageId> {
    (!m.chat.is_private()).then_some(m.id)
}

async fn answer_question(
    tg: &Tg,
    app: &App,
    stop: &Stop,
    m: &Message,
    question: &str,
) -> HandlerResult {
    let reply = app.responder.ask(question);
    match (&reply.kind, &reply.matched) {
        (ReplyKind::Answer, Some(id)) => app.store.record_asked(id)?,
        (ReplyKind::Decline, _) => app.store.record_unanswered(&Unanswered {
            text: question.chars().take(500).collect(),
            at: app.clock.now(),
            chat: chat_kind(m),
        })?,
        _ => {}
    }
    send(tg, app, stop, m.chat.id, &reply, quote_in_group(m)).await
}

async fn on_question(tg: Tg, m: Message, q: String, app: Arc<App>, stop: Stop) -> HandlerResult {
    answer_question(&tg, &app, &stop, &m, &q).await
}

async fn on_migrate(m: Message, new: ChatId, app: Arc<App>) -> HandlerResult {
    tracing::info!(
        old = m.chat.id.0,
        new = new.0,
        "group migrated to a supergroup"
    );
    app.store.migrate_chat(m.chat.id.0, new.0)?;
    Ok(())
}

/// Stickers, photos, voice, locations, unknown commands: a short hint in
/// private chats, silence in groups.
async fn on_other_message(tg: Tg, m: Message, app: Arc<App>, stop: Stop) -> HandlerResult {
    if !m.chat.is_private() {
        return Ok(());
    }
    let text = if m.text().is_some_and(|t| t.starts_with('/')) {
        "没有这个命令。发送 /help 查看可用命令，或直接输入问题。"
    } else {
        "请用文字发送您的问题，例如：“每年要完成多少学时？”"
    };
    send(&tg, &app, &stop, m.chat.id, &Reply::info(text.into()), None).await
}

/// An edit that is not a question (an edited command, a caption...).
async fn on_edited_other(tg: Tg, m: Message, app: Arc<App>, stop: Stop) -> HandlerResult {
    if !m.chat.is_private() {
        return Ok(());
    }
    let text = if m.text().is_some_and(|t| t.starts_with('/')) {
        "修改过的命令不会再次执行；如需执行，请重新发送命令。"
    } else {
        "请用文字发送您的问题，例如：“每年要完成多少学时？”"
    };
    send(&tg, &app, &stop, m.chat.id, &Reply::info(text.into()), None).await
}

async fn is_group_admin(tg: &Tg, stop: &Stop, m: &Message) -> Result<bool, anyhow::Error> {
    // Anonymous administrators post as the group itself.
    if m.sender_chat.as_ref().is_some_and(|c| c.id == m.chat.id)
        || m.from
            .as_ref()
            .is_some_and(|u| u.id.0 == GROUP_ANONYMOUS_BOT)
    {
        return Ok(true);
    }
    let Some(user) = m.from.as_ref() else {
        return Ok(false);
    };
    let member = tg
        .get_chat_member(m.chat.id, user.id, stop)
        .await
        .map_err(|e| anyhow::anyhow!("getChatMember: {e}"))?;
    Ok(member.is_privileged())
}

/// A teacher's own records are shown in private only.
fn private_only(me: &Me, cmd: &str) -> Reply {
    Reply::info(format!(
        "为保护隐私，{cmd} 只在私聊中使用：请点开 https://t.me/{} 后发送 {cmd}。",
        me.username()
    ))
}

async fn on_command(
    tg: Tg,
    m: Message,
    cmd: Command,
    app: Arc<App>,
    me: Me,
    op: Op,
    stop: Stop,
) -> HandlerResult {
    let kb = app.responder.kb();
    let facts = &kb.facts;
    let user = m.from.as_ref().map(|u| u.id.0 as i64);
    let private = m.chat.is_private();
    let info = |t: String| Reply::info(t);
    let ctx = app.ctx(Some(&op));
    let reply = match cmd {
        Command::Start => {
            let topics: Vec<&str> = kb.topics.iter().map(|t| t.label.as_str()).collect();
            Reply {
                text: format!(
                    "您好！我是继续教育小助手，依据{}年度学习指南（{}）回答高校、中职教师继续教育问题。\n我知道：{}。\n直接发送问题即可（群里请 @我 或用 /ask）。发送 /help 查看全部命令。",
                    facts.year,
                    facts.doc_no,
                    topics.join("、")
                ),
                ..app.responder.menu()
            }
        }
        Command::Help => info(Command::descriptions().to_string()),
        Command::Ask(q) if q.trim().is_empty() => {
            info("用法：/ask 问题，例如 /ask 每年要多少学时".into())
        }
        Command::Ask(q) => return answer_question(&tg, &app, &stop, &m, &q).await,
        Command::Menu => app.responder.menu(),
        Command::Deadline => {
            let today = app.clock.now().with_timezone(&app.schedule.tz).date_naive();
            info(format!(
                "{}年度继续教育{}\n依据：{} 附件 四（三）",
                facts.year,
                crate::tracker::deadline_line(facts, today),
                facts.doc_no
            ))
        }
        Command::Platforms => {
            let mut t = String::from("网络学习平台（排名不分先后）：");
            for (i, p) in facts.platforms.iter().enumerate() {
                t.push_str(&format!(
                    "\n{}. {}-{}，客服电话：{}",
                    i + 1,
                    p.operator,
                    p.name,
                    p.phone
                ));
            }
            t.push_str(&format!("\n依据：{} 附件1-1", facts.doc_no));
            info(t)
        }
        Command::Hotline => info(format!(
            "咨询电话：{}\n依据：{} 附件 四",
            facts.hotline, facts.doc_no
        )),
        Command::Log(_) if !private => private_only(&me, "/log"),
        Command::Hours if !private => private_only(&me, "/hours"),
        Command::Undo if !private => private_only(&me, "/undo"),
        Command::Forget if !private => private_only(&me, "/forget"),
        Command::Stats if !private => private_only(&me, "/stats"),
        Command::Log(args) => match user {
            Some(u) => info(commands::log(&ctx, u, &args)?),
            None => return Ok(()),
        },
        Command::Hours => match user {
            Some(u) => info(commands::hours(&ctx, u)?),
            None => return Ok(()),
        },
        Command::Undo => match user {
            Some(u) => info(commands::undo(&ctx, u)?),
            None => return Ok(()),
        },
        Command::Remind(arg) => {
            let kind = chat_kind(&m);
            let may_change = kind == ChatKind::Private
                || arg.trim().is_empty()
                || is_group_admin(&tg, &stop, &m).await?;
            info(commands::remind(&ctx, m.chat.id.0, kind, &arg, may_change)?)
        }
        Command::Forget => match user {
            Some(u) => info(commands::forget(&ctx, u)?),
            None => return Ok(()),
        },
        Command::Stats => {
            if user.is_some_and(|u| app.admins.contains(&(u as u64))) {
                info(crate::stats::report(
                    &app.store,
                    app.responder.matcher().analyzer(),
                )?)
            } else {
                info("抱歉，/stats 仅限管理员使用。".into())
            }
        }
    };
    send(&tg, &app, &stop, m.chat.id, &reply, quote_in_group(&m)).await
}

async fn on_callback(tg: Tg, q: CallbackQuery, app: Arc<App>, stop: Stop) -> HandlerResult {
    let action = q.data.as_deref().and_then(Action::decode);
    let chat = q.chat_id();
    match (action, chat) {
        (Some(Action::Show(id)), Some(chat)) if app.responder.kb().entry(&id).is_some() => {
            callback_answer(&tg, &app, &stop, &q, None).await?;
            if let Some(reply) = app.responder.answer_id(&id) {
                app.store.record_asked(&id)?;
                send(&tg, &app, &stop, chat, &reply, None).await?;
            }
        }
        (Some(Action::Feedback { entry, helpful }), _)
            if app.responder.kb().entry(&entry).is_some() =>
        {
            // One vote per user per answer; pressing again changes it.
            let text = match app.store.vote(&entry, q.from.id.0 as i64, helpful)? {
                Vote::New if helpful => "谢谢反馈！",
                Vote::New => "谢谢反馈，我们会改进。",
                Vote::Same => "您已评价过这条回答。",
                Vote::Changed if helpful => "已改为 👍，谢谢反馈！",
                Vote::Changed => "已改为 👎，我们会改进。",
            };
            callback_answer(&tg, &app, &stop, &q, Some(text)).await?;
        }
        _ => {
            callback_answer(&tg, &app, &stop, &q, Some("该按钮已过期，请重新提问。")).await?;
        }
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

/// Send due reminders (chats and robots) every `every` until stopped.
pub async fn reminder_loop(app: Arc<App>, tg: Tg, every: Duration, stop: Stop) {
    let robots = if app.webhooks.is_empty() {
        None
    } else {
        match crate::webhook::WebhookClient::new(app.clock.clone(), Arc::new(TokioSleeper)) {
            Ok(c) => Some(crate::webhook::Robots {
                client: Arc::new(c),
                targets: app.webhooks.clone(),
            }),
            Err(e) => {
                tracing::error!(error = %e.without_url(), "cannot build the robots' HTTP client; robots get no reminders");
                None
            }
        }
    };
    let outbox = Outbox {
        telegram: Some(tg),
        robots,
    };
    let opts = delivery::Options {
        batch: delivery::DEFAULT_BATCH,
        stop: stop.clone(),
    };
    loop {
        let facts = &app.responder.kb().facts;
        match delivery::deliver_due(
            &app.store,
            facts,
            &app.schedule,
            app.clock.now(),
            &outbox,
            &opts,
        )
        .await
        {
            Ok(r) if r.fatal.is_some() => tracing::error!(?r, "reminders stopped"),
            Ok(r) if !r.is_quiet() => tracing::info!(?r, "reminders delivered"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "reminder delivery failed"),
        }
        if stop.sleep(every).await {
            return;
        }
    }
}

/// The daily backup (and the inbox's clean-up) while serving.
async fn housekeeping(app: Arc<App>, inbox: Arc<Inbox>, stop: Stop) {
    loop {
        let (store, now) = (app.store.clone(), app.clock.now());
        match tokio::task::spawn_blocking(move || crate::backup::daily(&store, now)).await {
            Ok(Ok(Some(file))) => tracing::info!(file = %file.display(), "daily backup written"),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "daily backup failed"),
            Err(e) => tracing::error!(error = %e, "daily backup failed"),
        }
        if let Err(e) = inbox.prune(chrono::Duration::hours(48)) {
            tracing::warn!(error = %e, "cannot prune the inbox");
        }
        if stop.sleep(Duration::from_secs(3600)).await {
            return;
        }
    }
}

/// Run the bot until `shutdown` resolves: wait for Telegram, register
/// commands, handle updates through the inbox, send reminders, back up
/// daily; then finish the updates in progress and flush the store.
pub async fn run(
    tg: Tg,
    app: Arc<App>,
    opts: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (handle, stop) = Stop::new();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing the updates in progress");
        handle.stop();
    });
    let Some(me) = tg.wait_for_me(&stop).await? else {
        app.store.sync()?;
        tracing::info!("stopped");
        return Ok(());
    };
    if let Err(e) = tg.set_my_commands(&Command::bot_commands()).await {
        tracing::warn!(error = %e, "could not register the command list");
    }
    let inbox = Arc::new(Inbox::open(&app.store, CHANNEL)?);
    let reminders = opts.reminders.then(|| {
        tokio::spawn(reminder_loop(
            app.clone(),
            tg.clone(),
            opts.reminder_every,
            stop.clone(),
        ))
    });
    let chores = opts
        .daily_backup
        .then(|| tokio::spawn(housekeeping(app.clone(), inbox.clone(), stop.clone())));
    let result = updates(tg, app.clone(), me, inbox, &opts, stop).await;
    if let Some(r) = reminders {
        let _ = r.await;
    }
    if let Some(c) = chores {
        let _ = c.await;
    }
    app.store.sync()?;
    tracing::info!("stopped");
    result
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
        chats: HashMap::new(),
        tasks: tokio::task::JoinSet::new(),
        done: Arc::new(tokio::sync::Notify::new()),
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
                _ = workers.done.notified() => {}
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
    workers.finish(opts.grace).await;
    result
}

/// A chat worker's queue, and how many updates it has queued or in hand.
type ChatQueue = (
    tokio::sync::mpsc::UnboundedSender<(Item, Update)>,
    Arc<AtomicUsize>,
);

/// One worker per chat with work: a chat's updates in order, chats in
/// parallel.
struct Workers {
    handler: Arc<UpdateHandler<anyhow::Error>>,
    deps: dptree::di::DependencyMap,
    inbox: Arc<Inbox>,
    /// Chat -> (queue, updates queued or in progress).
    chats: HashMap<i64, ChatQueue>,
    tasks: tokio::task::JoinSet<()>,
    done: Arc<tokio::sync::Notify>,
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
        while let Some(r) = self.tasks.try_join_next() {
            if let Err(e) = r {
                tracing::error!(error = %e, "a chat worker failed");
            }
        }
        if self.chats.len() > 1024 {
            // Drop idle workers: their channel closes and they end.
            self.chats.retain(|_, (_, n)| n.load(Ordering::SeqCst) > 0);
        }
        let (tx, n) = self.chats.entry(chat).or_insert_with(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let n = Arc::new(AtomicUsize::new(0));
            self.tasks.spawn(worker(
                rx,
                n.clone(),
                self.handler.clone(),
                self.deps.clone(),
                self.inbox.clone(),
                self.done.clone(),
                self.stop.clone(),
            ));
            (tx, n)
        });
        n.fetch_add(1, Ordering::SeqCst);
        if tx.send((item, update)).is_err() {
            n.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Let the handlers in progress finish (up to `grace`); queued updates
    /// stay pending in the inbox.
    async fn finish(mut self, grace: Duration) {
        self.chats.clear();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                "handlers still running after {grace:?}; their updates stay in the inbox"
            );
            self.tasks.abort_all();
        }
    }
}

async fn worker(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<(Item, Update)>,
    n: Arc<AtomicUsize>,
    handler: Arc<UpdateHandler<anyhow::Error>>,
    deps: dptree::di::DependencyMap,
    inbox: Arc<Inbox>,
    done: Arc<tokio::sync::Notify>,
    stop: Stop,
) {
    while let Some((item, update)) = rx.recv().await {
        if !stop.is_set() {
            handle(&handler, &deps, &inbox, item, update).await;
        }
        n.fetch_sub(1, Ordering::SeqCst);
        done.notify_one();
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

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Telegram user ids from JXJY_ADMINS ("1,2,3").
pub fn parse_admins(s: &str) -> Vec<u64> {
    s.split([',', ' '])
        .filter_map(|x| x.trim().parse().ok())
        .collect()
}
