//! `serve` as a whole: the work shared by every channel (reminders to
//! every destination this process reaches, the daily backup, the inboxes'
//! clean-up, the season's note in the log) and the channels that are
//! configured, each a [`Front`] that runs until the stop signal.
//!
//! A channel only turns its platform's messages into the core's
//! ([`crate::conversation`]) and back; it is added here as one more
//! [`Front`], and its way of reaching chats as one more field of
//! [`Outbox`]. A school on DingTalk alone runs with no Telegram at all.

use crate::clock::{Stop, TokioSleeper};
use crate::conversation::Conversation;
use crate::delivery::{self, Outbox};
use crate::inbox::Inbox;
use crate::store::Store;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// How long the inboxes remember a done update: Feishu resends an event
/// for up to 7.1 hours, and one remembered is not answered twice.
pub const INBOX_KEEP_HOURS: i64 = 48;

/// What every channel needs.
pub struct App {
    /// The conversation core (knowledge, store, schedule, clock, admins).
    pub core: Conversation,
    /// The same store as the core's: the channels' own records (blocked
    /// and migrated chats) and their inboxes.
    pub store: Store,
    /// Group robots that get the group reminders too (jxjy.toml).
    pub webhooks: Vec<crate::webhook::Target>,
}

/// A running channel: ends when the stop signal fires (Ok) or when the
/// channel cannot go on (Err, which stops the whole service).
pub type Running = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A configured channel, not yet started.
pub struct Front {
    /// For the log ("telegram", "dingtalk", ...).
    pub name: &'static str,
    /// Its inbox channel, pruned daily with the others.
    pub inbox: Option<&'static str>,
    /// Starts it with the service's stop signal.
    pub start: Box<dyn FnOnce(Stop) -> Running + Send>,
}

/// What the service runs besides the channels.
#[derive(Debug, Clone)]
pub struct Options {
    /// Send reminders (tests of other things turn them off).
    pub reminders: bool,
    /// Between checks for due reminders.
    pub reminder_every: Duration,
    /// Write the daily backup into the data directory.
    pub daily_backup: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            reminders: true,
            reminder_every: Duration::from_secs(60),
            daily_backup: true,
        }
    }
}

/// The group robots of `app` as a destination, if any are configured.
pub fn robots(app: &App) -> Option<crate::webhook::Robots> {
    if app.webhooks.is_empty() {
        return None;
    }
    match crate::webhook::WebhookClient::new(app.core.clock().clone(), Arc::new(TokioSleeper)) {
        Ok(c) => Some(crate::webhook::Robots {
            client: Arc::new(c),
            targets: app.webhooks.clone(),
        }),
        Err(e) => {
            tracing::error!(error = %e.without_url(), "cannot build the robots' HTTP client; robots get no reminders");
            None
        }
    }
}

/// Run the channels, the reminders through `outbox` and the daily chores
/// until `shutdown` resolves or a channel fails; then let the channels
/// finish what they have in hand and flush the store.
pub async fn run(
    app: Arc<App>,
    outbox: Outbox,
    fronts: Vec<Front>,
    opts: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (handle, stop) = Stop::new();
    let handle = Arc::new(handle);
    let on_signal = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing the updates in progress");
        on_signal.stop();
    });
    let inboxes: Vec<&'static str> = fronts.iter().filter_map(|f| f.inbox).collect();
    let reminders = opts.reminders.then(|| {
        tokio::spawn(reminder_loop(
            app.clone(),
            outbox,
            opts.reminder_every,
            stop.clone(),
        ))
    });
    let chores = opts
        .daily_backup
        .then(|| tokio::spawn(housekeeping(app.clone(), inboxes, stop.clone())));
    let mut running = tokio::task::JoinSet::new();
    for f in fronts {
        tracing::info!(channel = f.name, "channel starting");
        let name = f.name;
        let fut = (f.start)(stop.clone());
        running.spawn(async move { (name, fut.await) });
    }
    let mut result = Ok(());
    while let Some(done) = running.join_next().await {
        let failed = match done {
            Ok((_, Ok(()))) => None,
            Ok((name, Err(e))) => Some(e.context(format!("channel {name}"))),
            Err(e) => Some(anyhow::anyhow!("a channel panicked: {e}")),
        };
        if let Some(e) = failed {
            tracing::error!(error = %format!("{e:#}"), "stopping the service");
            handle.stop();
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    // With no channel (robots only) the service runs until the signal.
    stop.wait().await;
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

/// Send due reminders (chats and robots) every `every` until stopped.
pub async fn reminder_loop(app: Arc<App>, outbox: Outbox, every: Duration, stop: Stop) {
    let opts = delivery::Options {
        batch: delivery::DEFAULT_BATCH,
        stop: stop.clone(),
    };
    loop {
        let r = app.core.responder();
        let now = app.core.clock().now();
        match delivery::deliver_season(&app.store, r.kb(), app.core.schedule(), now, &outbox, &opts)
            .await
        {
            // No guide's deadline is ahead: the season's note says so daily.
            Ok(None) => {}
            Ok(Some(r)) if r.fatal.is_some() => tracing::error!(?r, "reminders stopped"),
            Ok(Some(r)) if !r.is_quiet() => tracing::info!(?r, "reminders delivered"),
            Ok(Some(_)) => {}
            Err(e) => tracing::error!(error = %e, "reminder delivery failed"),
        }
        if stop.sleep(every).await {
            return;
        }
    }
}

/// The daily backup, the inboxes' clean-up, and, when this season's guide
/// is not loaded, a note in the log at start and once a day.
async fn housekeeping(app: Arc<App>, inboxes: Vec<&'static str>, stop: Stop) {
    let daily = crate::season::Daily::default();
    loop {
        let (store, now) = (app.store.clone(), app.core.clock().now());
        if daily.due(now) {
            season_note(&app.core, now);
        }
        match tokio::task::spawn_blocking(move || crate::backup::daily(&store, now)).await {
            Ok(Ok(Some(file))) => tracing::info!(file = %file.display(), "daily backup written"),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "daily backup failed"),
            Err(e) => tracing::error!(error = %e, "daily backup failed"),
        }
        for channel in &inboxes {
            let pruned = Inbox::open(&app.store, channel)
                .and_then(|i| i.prune(chrono::Duration::hours(INBOX_KEEP_HOURS)));
            if let Err(e) = pruned {
                tracing::warn!(channel, error = %e, "cannot prune the inbox");
            }
        }
        if stop.sleep(Duration::from_secs(3600)).await {
            return;
        }
    }
}

/// Log what this season lacks, if anything; returns the note logged.
pub fn season_note(core: &Conversation, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let r = core.responder();
    let note = crate::season::Season::of(r.kb(), now).log_note()?;
    tracing::warn!("{note}");
    Some(note)
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
