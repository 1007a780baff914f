//! The Telegram front end (teloxide): commands, the handler tree, replies
//! with buttons, feedback, groups, and the reminder loop.
//!
//! Everything the bot says comes from [`Responder`] and [`commands`]; this
//! module only moves it to and from Telegram. [`schema`] is the whole
//! handler tree, so tests drive exactly what production runs.

use crate::clock::Clock;
use crate::commands::{self, Ctx};
use crate::dialogue::{Action, Reply, ReplyKind, Responder};
use crate::reminders::SendError;
use crate::reminders::{self, Schedule};
use crate::store::{ChatKind, Store, Unanswered};
use crate::telegram::{TelegramSender, classify};
use std::sync::Arc;
use teloxide::adaptors::Throttle;
use teloxide::adaptors::throttle::Limits;
use teloxide::dispatching::{UpdateHandler, dialogue::GetChatId};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, Me, MessageId, ReplyParameters};
use teloxide::utils::command::BotCommands;

pub type TgBot = Throttle<Bot>;
type HandlerResult = Result<(), anyhow::Error>;

/// Telegram refuses longer messages.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// Telegram's user id for messages sent by anonymous group administrators.
const GROUP_ANONYMOUS_BOT: u64 = 1_087_968_824;

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
    /// 记录学时，例如 /log 公需 10
    Log(String),
    /// 查看我的学时
    Hours,
    /// 撤销上一条学时记录
    Undo,
    /// 截止提醒：/remind on 或 /remind off
    Remind(String),
    /// 删除我的全部数据
    Forget,
    /// 使用统计（仅管理员）
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
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            store: &self.store,
            facts: &self.responder.kb().facts,
            schedule: &self.schedule,
            now: self.clock.now(),
        }
    }
}

/// Telegram's limits (30/s overall, 1/s per chat, 20/min per group), or
/// none, for benchmarks and tests that are not about throttling.
pub fn throttled(bot: Bot, limits_on: bool) -> TgBot {
    let limits = if limits_on {
        Limits::default()
    } else {
        Limits {
            messages_per_sec_chat: 1_000_000,
            messages_per_min_chat: 1_000_000,
            messages_per_min_channel_or_supergroup: 1_000_000,
            messages_per_sec_overall: 1_000_000,
        }
    };
    Throttle::new_spawn(bot, limits)
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
    dptree::entry()
        .branch(message)
        .branch(Update::filter_edited_message().endpoint(on_other_message))
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

/// Send a reply (split if long, buttons on the last part, quoting `quote`
/// in groups). 403 marks the chat inactive; a migrated group is followed.
async fn send(
    bot: &TgBot,
    app: &App,
    chat: ChatId,
    r: &Reply,
    quote: Option<MessageId>,
) -> HandlerResult {
    let parts = split_message(&r.text, MAX_MESSAGE_CHARS);
    let last = parts.len() - 1;
    for (i, part) in parts.into_iter().enumerate() {
        let mut req = bot.send_message(chat, part.clone());
        if let Some(q) = quote.filter(|_| i == 0) {
            req = req.reply_parameters(ReplyParameters::new(q).allow_sending_without_reply());
        }
        if i == last
            && let Some(k) = keyboard(r)
        {
            req = req.reply_markup(k);
        }
        if let Err(e) = req.await {
            match classify(&e) {
                SendError::Blocked => {
                    tracing::info!(
                        chat = chat.0,
                        "chat blocked the bot or removed it; marked inactive"
                    );
                    app.store.deactivate(chat.0)?;
                    return Ok(());
                }
                SendError::Migrated(new) => {
                    app.store.migrate_chat(chat.0, new)?;
                    let mut again = bot.send_message(ChatId(new), part);
                    if i == last
                        && let Some(k) = keyboard(r)
                    {
                        again = again.reply_markup(k);
                    }
                    again.await?;
                }
                _ => return Err(e.into()),
            }
        }
    }
    Ok(())
}

fn quote_in_group(m: &Message) -> Option<MessageId> {
    (!m.chat.is_private()).then_some(m.id)
}

async fn answer_question(bot: &TgBot, app: &App, m: &Message, question: &str) -> HandlerResult {
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
    send(bot, app, m.chat.id, &reply, quote_in_group(m)).await
}

async fn on_question(bot: TgBot, m: Message, q: String, app: Arc<App>) -> HandlerResult {
    answer_question(&bot, &app, &m, &q).await
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

/// Stickers, photos, voice, locations, edits, unknown commands: a short
/// hint in private chats, silence in groups.
async fn on_other_message(bot: TgBot, m: Message, app: Arc<App>) -> HandlerResult {
    if !m.chat.is_private() {
        return Ok(());
    }
    let text = if m.text().is_some_and(|t| t.starts_with('/')) {
        "没有这个命令。发送 /help 查看可用命令，或直接输入问题。"
    } else {
        "请用文字发送您的问题，例如：“每年要完成多少学时？”"
    };
    send(&bot, &app, m.chat.id, &Reply::info(text.into()), None).await
}

async fn is_group_admin(bot: &TgBot, m: &Message) -> Result<bool, anyhow::Error> {
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
    let member = bot.get_chat_member(m.chat.id, user.id).await?;
    Ok(member.is_privileged())
}

async fn on_command(bot: TgBot, m: Message, cmd: Command, app: Arc<App>) -> HandlerResult {
    let kb = app.responder.kb();
    let facts = &kb.facts;
    let user = m.from.as_ref().map(|u| u.id.0 as i64);
    let info = |t: String| Reply::info(t);
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
        Command::Ask(q) => return answer_question(&bot, &app, &m, &q).await,
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
        Command::Log(args) => match user {
            Some(u) => info(commands::log(&app.ctx(), u, &args)?),
            None => return Ok(()),
        },
        Command::Hours => match user {
            Some(u) => info(commands::hours(&app.ctx(), u)?),
            None => return Ok(()),
        },
        Command::Undo => match user {
            Some(u) => info(commands::undo(&app.ctx(), u)?),
            None => return Ok(()),
        },
        Command::Remind(arg) => {
            let kind = chat_kind(&m);
            let may_change = kind == ChatKind::Private
                || arg.trim().is_empty()
                || is_group_admin(&bot, &m).await?;
            info(commands::remind(
                &app.ctx(),
                m.chat.id.0,
                kind,
                &arg,
                may_change,
            )?)
        }
        Command::Forget => match user {
            Some(u) => info(commands::forget(&app.ctx(), u)?),
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
    send(&bot, &app, m.chat.id, &reply, quote_in_group(&m)).await
}

async fn on_callback(bot: TgBot, q: CallbackQuery, app: Arc<App>) -> HandlerResult {
    let action = q.data.as_deref().and_then(Action::decode);
    let chat = q.chat_id();
    match (action, chat) {
        (Some(Action::Show(id)), Some(chat)) if app.responder.kb().entry(&id).is_some() => {
            bot.answer_callback_query(q.id.clone()).await?;
            if let Some(reply) = app.responder.answer_id(&id) {
                app.store.record_asked(&id)?;
                send(&bot, &app, chat, &reply, None).await?;
            }
        }
        (Some(Action::Feedback { entry, helpful }), _)
            if app.responder.kb().entry(&entry).is_some() =>
        {
            app.store.record_feedback(&entry, helpful)?;
            bot.answer_callback_query(q.id.clone())
                .text(if helpful {
                    "谢谢反馈！"
                } else {
                    "谢谢反馈，我们会改进。"
                })
                .await?;
        }
        _ => {
            bot.answer_callback_query(q.id.clone())
                .text("该按钮已过期，请重新提问。")
                .await?;
        }
    }
    Ok(())
}

/// Send due reminders every `every` until `stop` fires.
pub async fn reminder_loop(
    app: Arc<App>,
    bot: TgBot,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let sender = TelegramSender { bot };
    loop {
        let facts = &app.responder.kb().facts;
        match reminders::deliver_due(
            &app.store,
            facts,
            &app.schedule,
            app.clock.now(),
            &sender,
            reminders::DEFAULT_BATCH,
        )
        .await
        {
            Ok(r) if r.sent + r.failed + r.blocked > 0 => tracing::info!(?r, "reminders delivered"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "reminder delivery failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Run the bot until `shutdown` resolves: register commands, dispatch
/// updates with long polling, send reminders; then finish the updates in
/// hand and flush the store.
pub async fn run(
    bot: TgBot,
    app: Arc<App>,
    reminder_every: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if let Err(e) = bot.set_my_commands(Command::bot_commands()).await {
        tracing::warn!(error = %e, "could not register the command list");
    }
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema())
        .dependencies(dptree::deps![app.clone()])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text("error in a handler"))
        .build();
    let token = dispatcher.shutdown_token();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing updates in hand");
        let _ = stop_tx.send(true);
        // The dispatcher may not have started yet; wait until it has.
        loop {
            match token.shutdown() {
                Ok(done) => {
                    done.await;
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    });
    let reminders = tokio::spawn(reminder_loop(
        app.clone(),
        bot.clone(),
        reminder_every,
        stop_rx,
    ));
    let listener = teloxide::update_listeners::polling_default(bot.clone()).await;
    dispatcher
        .try_dispatch_with_listener(
            listener,
            LoggingErrorHandler::with_custom_text("error from the update listener"),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Telegram (getMe failed): {e}"))?;
    let _ = reminders.await;
    app.store.flush()?;
    tracing::info!("stopped");
    Ok(())
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
