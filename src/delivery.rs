//! One delivery path for reminders, whatever the destination: Telegram
//! chats and group robots today (the DingTalk, WeCom and Feishu
//! conversational bots later are more [`Address`] kinds behind the same
//! [`Sender`]). `serve` and `remind send` both call [`deliver_due`].
//!
//! The protocol, per (destination, deadline, slot) key in the sent-record:
//! a batch is durably marked in flight, sent concurrently (each
//! destination waits only for its own rate limits), and each key settled:
//! sent; or failed for now (retried at the next check); or unknown (a
//! timeout, or a crash with the request in flight: it may have arrived).
//! A key whose outcome was unknown is sent once more, and given up after a
//! second unknown, so a destination without an idempotency key gets at
//! most one duplicate per crash or timeout, and at most two copies in all.
//! A destination that refuses [`MAX_REFUSALS`] times in a row is given up
//! (with the reason, for stats). The stop signal is checked between
//! batches; sends still waiting for a rate limit are cancelled and their
//! keys left as they were, so the sent-record stays exact.

use crate::clock::Stop;
use crate::error::StoreError;
use crate::identity::{Channel, Identity};
use crate::knowledge::Facts;
use crate::reminders::{self, Planned, Schedule, current_slot};
use crate::store::{Attempts, ChatKind, Delivery, Store};
use chrono::{DateTime, Utc};
use std::future::Future;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A chat on a messenger, by identity: a Telegram chat today (a
    /// private chat's id is the teacher's user id); DingTalk, WeCom and
    /// Feishu users and groups are more channels of the same kind.
    Chat { chat: Identity, kind: ChatKind },
    /// A group robot, by its name in jxjy.toml.
    Robot(String),
}

impl Address {
    /// The destination's id in the status records: the identity
    /// (`tg:42`), or `webhook:<name>`.
    pub fn id(&self) -> String {
        match self {
            Address::Chat { chat, .. } => chat.to_string(),
            Address::Robot(name) => format!("webhook:{name}"),
        }
    }

    /// The sent-record key of this destination's reminder for a slot.
    pub fn sent_key(&self, deadline: chrono::NaiveDate, days_before: u32) -> Vec<u8> {
        format!("{}/{deadline}/{days_before}", self.id()).into_bytes()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// 403 or chat not found: the user blocked the bot or it left the group.
    Blocked,
    /// The group became a supergroup with this id.
    Migrated(i64),
    /// Certainly not delivered, may work later (network down, 5xx, still
    /// rate-limited after waiting).
    Transient(String),
    /// May have been delivered: no answer in time, the connection broke
    /// after the request, or the answer was unreadable.
    Unknown(String),
    /// The destination refused this message (4xx); counted, and the
    /// destination is given up after a few in a row.
    Refused(String),
    /// The destination's key or signature was rejected: given up at once.
    Rejected(String),
    /// The whole channel is unusable (the bot token was rejected).
    Fatal(String),
    /// The stop signal fired before anything was sent.
    Cancelled,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Blocked => write!(f, "blocked the bot"),
            SendError::Migrated(id) => write!(f, "moved to chat {id}"),
            SendError::Transient(e) => write!(f, "not delivered: {e}"),
            SendError::Unknown(e) => write!(f, "no clear answer: {e}"),
            SendError::Refused(e) | SendError::Rejected(e) => write!(f, "refused: {e}"),
            SendError::Fatal(e) => write!(f, "{e}"),
            SendError::Cancelled => write!(f, "cancelled"),
        }
    }
}

/// What delivers to every [`Address`] kind it serves. Implementations
/// wait for their own rate limits inside `send` and return
/// [`SendError::Cancelled`] if `stop` fires before the request leaves.
pub trait Sender: Send + Sync {
    fn send(
        &self,
        to: &Address,
        text: &str,
        stop: &Stop,
    ) -> impl Future<Output = Result<(), SendError>> + Send;

    /// Whether chats of `channel` are reachable (`remind send` without a
    /// token serves only robots; the terminal is reachable by nobody).
    fn serves(&self, channel: Channel) -> bool {
        deliverable(channel)
    }

    /// The robots reachable, by name.
    fn robots(&self) -> Vec<String> {
        Vec::new()
    }

    /// A digest of a destination's configuration (robots): a failure
    /// recorded under another fingerprint no longer holds.
    fn fingerprint(&self, _to: &Address) -> Option<String> {
        None
    }
}

/// Whether this build has a destination kind for chats of `channel`:
/// Telegram, DingTalk, WeCom and Feishu; the terminal never (nobody is
/// there to be reminded).
pub fn deliverable(channel: Channel) -> bool {
    matches!(
        channel,
        Channel::Telegram | Channel::DingTalk | Channel::WeCom | Channel::Feishu
    )
}

/// A second unknown outcome gives the key up (at most two copies).
pub const MAX_UNKNOWN: u8 = 2;
/// Refusals in a row before a destination is given up.
pub const MAX_REFUSALS: u32 = 3;
/// Keys marked in flight per durable write; also the most that can be
/// repeated after a crash.
pub const DEFAULT_BATCH: usize = 64;

#[derive(Debug, Clone)]
pub struct Options {
    pub batch: usize,
    pub stop: Stop,
}

impl Options {
    pub fn batch(batch: usize) -> Options {
        Options {
            batch,
            stop: Stop::never(),
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub sent: usize,
    pub blocked: usize,
    pub migrated: usize,
    /// Not delivered this time; retried at the next check.
    pub failed: usize,
    /// Outcome unknown (timeout); sent once more at the next check.
    pub unknown: usize,
    /// Keys given up now (two unknown outcomes, or the destination failed).
    pub gave_up: usize,
    /// Not attempted: the stop signal fired.
    pub cancelled: usize,
    /// Destinations given up (now or earlier), with the reason.
    pub stopped: Vec<String>,
    /// The channel could not be used at all (e.g. the token was rejected).
    pub fatal: Option<String>,
    /// True if the run ended early on the stop signal.
    pub interrupted: bool,
}

impl Report {
    fn add(&mut self, o: Report) {
        self.sent += o.sent;
        self.blocked += o.blocked;
        self.migrated += o.migrated;
        self.failed += o.failed;
        self.unknown += o.unknown;
        self.gave_up += o.gave_up;
        self.cancelled += o.cancelled;
        self.stopped.extend(o.stopped);
        self.fatal = self.fatal.take().or(o.fatal);
        self.interrupted |= o.interrupted;
    }

    /// Nothing happened.
    pub fn is_quiet(&self) -> bool {
        *self == Report::default()
    }
}

/// Send everything due at `now` to chats and robots: the chats a batch at
/// a time, the robots alongside (each robot waits only for its own
/// limits, so a slow or rate-limited one holds up nobody else).
pub async fn deliver_due<S: Sender>(
    store: &Store,
    facts: &Facts,
    schedule: &Schedule,
    now: DateTime<Utc>,
    sender: &S,
    opts: &Options,
) -> Result<Report, StoreError> {
    if current_slot(facts.deadline, schedule, now).is_none() {
        return Ok(Report::default());
    }
    let chats = async {
        let mut report = Report::default();
        if !Channel::ALL.into_iter().any(|c| sender.serves(c)) {
            return Ok(report);
        }
        let mut cursor: Option<Identity> = None;
        loop {
            if opts.stop.is_set() {
                report.interrupted = true;
                break;
            }
            // Plan a batch of subscribers at a time: memory stays flat
            // however many there are.
            let mut subs = store.subscriptions_after(cursor.as_ref(), opts.batch.max(1))?;
            let Some(last) = subs.last() else { break };
            cursor = Some(last.chat.clone());
            // Chats of a channel nobody here can reach (the terminal) wait.
            subs.retain(|s| sender.serves(s.chat.channel()));
            let chunk = reminders::plan_subscriptions(store, facts, schedule, &subs, now)?;
            if !chunk.is_empty() {
                run_batch(store, sender, chunk, now, &opts.stop, &mut report).await?;
            }
            if report.fatal.is_some() {
                break;
            }
        }
        Ok::<_, StoreError>(report)
    };
    let robots = async {
        let mut report = Report::default();
        let mut names = Vec::new();
        for name in sender.robots() {
            let to = Address::Robot(name.clone());
            match store.dest_status(&to.id())? {
                Some(s) if s.failed && s.fingerprint == sender.fingerprint(&to) => {
                    report.stopped.push(format!(
                        "{}: given up earlier ({}); fix jxjy.toml to try again",
                        to.id(),
                        s.reason
                    ));
                    continue;
                }
                Some(s) if s.failed => {
                    // Its key, URL or secret changed since: try afresh, the
                    // current reminder included.
                    store.dest_ok(&to.id())?;
                    if let Some(slot) = current_slot(facts.deadline, schedule, now) {
                        let key = crate::webhook::sent_key(&name, facts.deadline, slot.days_before);
                        if matches!(store.delivery(&key)?, Some(Delivery::Failed(_))) {
                            store.set_deliveries(&[(key, None)])?;
                        }
                    }
                }
                _ => {}
            }
            names.push(name);
        }
        let due = reminders::plan_robots(store, facts, schedule, &names, now)?;
        if !due.is_empty() && !opts.stop.is_set() {
            run_batch(store, sender, due, now, &opts.stop, &mut report).await?;
        }
        Ok::<_, StoreError>(report)
    };
    let (chats, robots) = tokio::join!(chats, robots);
    let mut report = chats?;
    report.add(robots?);
    Ok(report)
}

/// Deliver what is due at `now` for the guide reminders follow: the
/// loaded one whose deadline is ahead ([`crate::season::reminder_guide`]).
/// None when no loaded guide's deadline is ahead (nothing is sent).
pub async fn deliver_season<S: Sender>(
    store: &Store,
    kb: &crate::knowledge::Kb,
    schedule: &Schedule,
    now: DateTime<Utc>,
    sender: &S,
    opts: &Options,
) -> Result<Option<Report>, StoreError> {
    let today = now.with_timezone(&schedule.tz).date_naive();
    let Some(facts) = crate::season::reminder_guide(kb, today) else {
        return Ok(None);
    };
    deliver_due(store, facts, schedule, now, sender, opts)
        .await
        .map(Some)
}

/// The attempt state a key had, as the start of a new attempt: one left in
/// flight (a crash) counts as an unknown outcome.
fn resume(prior: &Option<Delivery>) -> Option<Attempts> {
    let mut a = match prior {
        None => Attempts::default(),
        Some(Delivery::InFlight) => Attempts {
            in_flight: true,
            ..Attempts::default()
        },
        Some(Delivery::Trying(a)) => a.clone(),
        Some(Delivery::Sent | Delivery::Failed(_)) => return None,
    };
    if a.in_flight {
        a.in_flight = false;
        a.unknown += 1;
        a.last_error = Some("the process stopped with the request in flight".into());
    }
    Some(a)
}

fn unknown_twice(a: &Attempts) -> String {
    format!(
        "no clear answer to {} attempts ({}); it may have arrived, not sent again",
        a.unknown,
        a.last_error.as_deref().unwrap_or("unknown")
    )
}

async fn run_batch<S: Sender>(
    store: &Store,
    sender: &S,
    items: Vec<Planned>,
    now: DateTime<Utc>,
    stop: &Stop,
    report: &mut Report,
) -> Result<(), StoreError> {
    let mut marks = Vec::with_capacity(items.len());
    let mut go = Vec::with_capacity(items.len());
    for p in items {
        let Some(mut a) = resume(&p.prior) else {
            continue;
        };
        if a.unknown >= MAX_UNKNOWN {
            tracing::warn!(to = %p.to.id(), "reminder given up: {}", unknown_twice(&a));
            marks.push((p.key.clone(), Some(Delivery::Failed(unknown_twice(&a)))));
            report.gave_up += 1;
            continue;
        }
        a.in_flight = true;
        marks.push((p.key.clone(), Some(Delivery::Trying(a.clone()))));
        go.push((p, a));
    }
    // Durably in flight before any request leaves.
    store.set_deliveries(&marks)?;
    let results =
        futures::future::join_all(go.iter().map(|(p, _)| sender.send(&p.to, &p.text, stop))).await;
    let mut settled = Vec::with_capacity(go.len());
    for ((p, mut a), result) in go.into_iter().zip(results) {
        a.in_flight = false;
        let id = p.to.id();
        let state = match result {
            Ok(()) => {
                report.sent += 1;
                store.dest_ok(&id)?;
                Some(Delivery::Sent)
            }
            Err(SendError::Cancelled) => {
                report.cancelled += 1;
                p.prior.clone()
            }
            Err(SendError::Fatal(e)) => {
                report.fatal.get_or_insert(e);
                p.prior.clone()
            }
            Err(SendError::Unknown(e)) => {
                tracing::warn!(to = %id, error = %e, "reminder outcome unknown; sent once more at the next check");
                a.unknown += 1;
                a.last_error = Some(e);
                if a.unknown >= MAX_UNKNOWN {
                    report.gave_up += 1;
                    Some(Delivery::Failed(unknown_twice(&a)))
                } else {
                    report.unknown += 1;
                    Some(Delivery::Trying(a))
                }
            }
            Err(SendError::Transient(e)) => {
                tracing::warn!(to = %id, error = %e, "reminder not delivered; will retry");
                report.failed += 1;
                a.errors += 1;
                a.last_error = Some(e);
                Some(Delivery::Trying(a))
            }
            Err(SendError::Refused(e)) => {
                report.failed += 1;
                let fp = sender.fingerprint(&p.to);
                if store.dest_refused(&id, &e, fp.as_deref(), MAX_REFUSALS, now)? {
                    tracing::error!(to = %id, error = %e, "destination given up after {MAX_REFUSALS} refusals");
                    give_up(store, &p.to)?;
                    report.gave_up += 1;
                    report.stopped.push(format!("{id}: {e}"));
                    Some(Delivery::Failed(e))
                } else {
                    tracing::warn!(to = %id, error = %e, "destination refused a reminder");
                    a.errors += 1;
                    a.last_error = Some(e);
                    Some(Delivery::Trying(a))
                }
            }
            Err(SendError::Rejected(e)) => {
                tracing::error!(to = %id, error = %e, "destination rejected our key or signature; given up");
                let fp = sender.fingerprint(&p.to);
                store.dest_refused(&id, &e, fp.as_deref(), 1, now)?;
                report.gave_up += 1;
                report.stopped.push(format!("{id}: {e}"));
                Some(Delivery::Failed(e))
            }
            Err(SendError::Blocked) => {
                tracing::info!(to = %id, "chat blocked the bot; reminders stopped");
                report.blocked += 1;
                if let Address::Chat { chat, .. } = &p.to {
                    store.deactivate(chat)?;
                }
                Some(Delivery::Failed("blocked the bot".into()))
            }
            Err(SendError::Migrated(new_id)) => {
                report.migrated += 1;
                let Address::Chat { chat: old, kind } = &p.to else {
                    continue;
                };
                // Keep the in-flight mark with the chat, then send to the
                // new id; the moved key is settled here.
                let new = Identity::telegram(new_id);
                store.migrate_chat(old, &new)?;
                let to = Address::Chat {
                    chat: new,
                    kind: *kind,
                };
                let new_key = to.sent_key(p.slot_deadline, p.slot.days_before);
                let state = match sender.send(&to, &p.text, stop).await {
                    Ok(()) => {
                        report.sent += 1;
                        Some(Delivery::Sent)
                    }
                    Err(e) => {
                        report.failed += 1;
                        a.errors += 1;
                        a.last_error = Some(e.to_string());
                        Some(Delivery::Trying(a))
                    }
                };
                settled.push((new_key, state));
                continue;
            }
        };
        settled.push((p.key, state));
    }
    store.set_deliveries(&settled)?;
    Ok(())
}

/// A destination given up: a chat's subscription stops (until `/remind
/// on`); a robot is skipped while its status says failed.
fn give_up(store: &Store, to: &Address) -> Result<(), StoreError> {
    if let Address::Chat { chat, .. } = to {
        store.deactivate(chat)?;
    }
    Ok(())
}

/// Every destination kind this process reaches, behind one [`Sender`]:
/// what `serve` and `remind send` deliver through.
#[derive(Default)]
pub struct Outbox {
    pub telegram: Option<std::sync::Arc<crate::telegram::Telegram>>,
    pub robots: Option<crate::webhook::Robots>,
    pub dingtalk: Option<std::sync::Arc<crate::dingtalk::DingTalk>>,
    /// WeCom users and groups, through the bot's live long connection.
    pub wecom: Option<std::sync::Arc<crate::wecom::WeCom>>,
    /// Feishu users and groups, when the Feishu bot is configured.
    pub feishu: Option<std::sync::Arc<crate::feishu::api::Api>>,
}

impl Sender for Outbox {
    async fn send(&self, to: &Address, text: &str, stop: &Stop) -> Result<(), SendError> {
        if let (Address::Chat { chat, .. }, Some(w)) = (to, &self.wecom)
            && chat.channel() == Channel::WeCom
        {
            return w.send(to, text, stop).await;
        }
        if let (Address::Chat { chat, .. }, Some(f)) = (to, &self.feishu)
            && chat.channel() == Channel::Feishu
        {
            return f.send(to, text, stop).await;
        }
        match (to, &self.telegram, &self.robots) {
            (Address::Chat { chat, .. }, Some(t), _) if chat.channel() == Channel::Telegram => {
                t.send(to, text, stop).await
            }
            (Address::Robot(_), _, Some(r)) => r.send(to, text, stop).await,
            (Address::Chat { chat, .. }, _, _) if chat.channel() == Channel::DingTalk => {
                match &self.dingtalk {
                    Some(d) => d.send(to, text, stop).await,
                    None => Err(SendError::Refused(format!("no way to reach {}", to.id()))),
                }
            }
            _ => Err(SendError::Refused(format!("no way to reach {}", to.id()))),
        }
    }

    fn serves(&self, channel: Channel) -> bool {
        deliverable(channel)
            && match channel {
                Channel::Telegram => self.telegram.is_some(),
                Channel::DingTalk => self.dingtalk.is_some(),
                Channel::WeCom => self.wecom.is_some(),
                Channel::Feishu => self.feishu.is_some(),
                _ => false,
            }
    }

    fn robots(&self) -> Vec<String> {
        self.robots.as_ref().map(Sender::robots).unwrap_or_default()
    }

    fn fingerprint(&self, to: &Address) -> Option<String> {
        self.robots.as_ref().and_then(|r| r.fingerprint(to))
    }
}
