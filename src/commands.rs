//! The hour-tracker and reminder commands (/log, /hours, /undo, /remind,
//! /forget) as plain functions over the store, shared by the terminal chat
//! and the Telegram adapter. Each returns the reply text.

use crate::error::StoreError;
use crate::knowledge::{Facts, chinese_date};
use crate::reminders::{Schedule, deadline_end, next_slot};
use crate::store::{ChatKind, HourEntry, HoursChange, Store, Subscription};
use crate::tracker::{self, LOG_EXAMPLE, Progress, check_entry, fmt_h, kind_name, parse_log};
use chrono::{DateTime, Utc};

pub struct Ctx<'a> {
    pub store: &'a Store,
    pub facts: &'a Facts,
    pub schedule: &'a Schedule,
    pub now: DateTime<Utc>,
    /// The operation asking (e.g. "telegram/123456", the update id): a
    /// change it made before a crash is not made twice when the update is
    /// processed again. None for the terminal.
    pub op: Option<&'a str>,
}

impl Ctx<'_> {
    fn today(&self) -> chrono::NaiveDate {
        self.now.with_timezone(&self.schedule.tz).date_naive()
    }
}

pub fn log(ctx: &Ctx, user: i64, args: &str) -> Result<String, StoreError> {
    let (kind, hours) = match parse_log(args) {
        Ok(v) => v,
        Err(e) => return Ok(e.to_string()),
    };
    let entry = HourEntry {
        kind,
        hours,
        at: ctx.now,
    };
    // Checked and appended in one transaction: concurrent /log never
    // overwrite each other, and a correction sees the latest total.
    let change = ctx.store.update_hours(user, ctx.op, |entries| {
        check_entry(entries, kind, hours).ok()?;
        entries.push(entry.clone());
        Some(())
    })?;
    let entries = match change {
        HoursChange::Changed((), e) | HoursChange::Replayed(e) => e,
        HoursChange::Unchanged(e) => {
            return Ok(check_entry(&e, kind, hours)
                .err()
                .map_or_else(|| LOG_EXAMPLE.to_string(), |e| e.to_string()));
        }
    };
    let p = Progress::of(&entries);
    let verb = if hours < 0.0 {
        "已更正"
    } else {
        "已记录"
    };
    let mut s = format!(
        "{verb}：{} {}学时。目前公需课{}、专业课{}，合计{}学时。",
        kind_name(kind),
        fmt_h(hours),
        fmt_h(p.public),
        fmt_h(p.professional),
        fmt_h(p.total())
    );
    match tracker::missing_line(&entries, &ctx.facts.hours) {
        Some(m) => s.push_str(&m),
        None => s.push_str("已达到年度学时要求 🎉"),
    }
    Ok(s)
}

pub fn hours(ctx: &Ctx, user: i64) -> Result<String, StoreError> {
    Ok(tracker::summary(
        &ctx.store.hours(user)?,
        ctx.facts,
        ctx.today(),
    ))
}

pub fn undo(ctx: &Ctx, user: i64) -> Result<String, StoreError> {
    match ctx.store.update_hours(user, ctx.op, Vec::pop)? {
        HoursChange::Changed(e, _) => Ok(format!(
            "已撤销：{} {}学时。",
            kind_name(e.kind),
            fmt_h(e.hours)
        )),
        HoursChange::Replayed(_) => Ok("已撤销上一条记录。".into()),
        HoursChange::Unchanged(_) => Ok("没有可撤销的记录。".into()),
    }
}

/// /remind, /remind on, /remind off. `may_change` is false for a group
/// member who is not an administrator.
pub fn remind(
    ctx: &Ctx,
    chat_id: i64,
    kind: ChatKind,
    arg: &str,
    may_change: bool,
) -> Result<String, StoreError> {
    let passed = ctx.now >= deadline_end(ctx.facts.deadline, ctx.schedule.tz);
    let arg = arg.trim().to_lowercase();
    let want = match arg.as_str() {
        "on" | "开" | "开启" | "打开" => Some(true),
        "off" | "关" | "关闭" => Some(false),
        "" => None,
        _ => {
            return Ok(
                "用法：/remind on 开启提醒，/remind off 关闭提醒，/remind 查看状态。".into(),
            );
        }
    };
    if want.is_some() && !may_change {
        return Ok("抱歉，只有群管理员可以开启或关闭本群的提醒。".into());
    }
    let sub = ctx.store.subscription(chat_id)?;
    if let Some(on) = want {
        if on {
            ctx.store.put_subscription(&Subscription {
                chat_id,
                kind,
                active: true,
            })?;
            // A chat given up after refusals starts afresh.
            ctx.store.dest_ok(&crate::delivery::chat_dest_id(chat_id))?;
        } else {
            ctx.store.remove_subscription(chat_id)?;
        }
    }
    let active = want.unwrap_or(sub.is_some_and(|s| s.active));
    let state = if active {
        "提醒已开启"
    } else {
        "提醒未开启"
    };
    if passed {
        return Ok(format!(
            "{state}。{}年度截止日期{}已过，不再发送提醒。{}。",
            ctx.facts.year,
            chinese_date(ctx.facts.deadline),
            ctx.facts.makeup
        ));
    }
    let next = next_slot(ctx.facts.deadline, ctx.schedule, ctx.now).map(|s| {
        s.due
            .with_timezone(&ctx.schedule.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    });
    Ok(match (active, next) {
        (true, Some(n)) => format!(
            "{state}。下次提醒：{n}（截止日期{}）。",
            chinese_date(ctx.facts.deadline)
        ),
        (true, None) => format!(
            "{state}。截止日期{}前已没有待发的提醒。",
            chinese_date(ctx.facts.deadline)
        ),
        (false, _) => format!("{state}。发送 /remind on 开启截止日期前的提醒。"),
    })
}

pub fn forget(ctx: &Ctx, user: i64) -> Result<String, StoreError> {
    ctx.store.forget_user(user)?;
    Ok("已删除您的学时记录和提醒设置。".into())
}
