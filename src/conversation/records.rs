//! The tracker and reminder commands (/log, /hours, /undo, /remind,
//! /forget) over the store, per season: /log goes to the current season,
//! /hours shows it (or a year asked for) against that year's guide, and
//! never passes another year's guide off as this one's.

use super::texts;
use crate::error::StoreError;
use crate::identity::Identity;
use crate::knowledge::{Facts, Kb, chinese_date};
use crate::reminders::{Schedule, deadline_end, next_slot};
use crate::season::{self, Season};
use crate::store::{ChatKind, HourEntry, HoursChange, Store, Subscription};
use crate::tracker::{self, LOG_EXAMPLE, Progress, check_entry, fmt_h, kind_name, parse_log};
use chrono::{DateTime, Utc};

pub(super) struct Ctx<'a> {
    pub store: &'a Store,
    pub kb: &'a Kb,
    pub schedule: &'a Schedule,
    pub now: DateTime<Utc>,
    /// The operation asking (e.g. "telegram/123456", the update id): a
    /// change it made before a crash is not made twice when the update
    /// is handled again. None for the terminal.
    pub op: Option<&'a str>,
}

impl Ctx<'_> {
    fn season(&self) -> Season<'_> {
        Season::of(self.kb, self.now)
    }

    fn guide(&self, year: i32) -> Option<&Facts> {
        self.kb.guide(year).map(|(f, _)| f)
    }
}

pub(super) fn log(ctx: &Ctx, user: &Identity, args: &str) -> Result<String, StoreError> {
    let (kind, hours) = match parse_log(args) {
        Ok(v) => v,
        Err(e) => return Ok(e.to_string()),
    };
    let year = season::year_of(ctx.now);
    let entry = HourEntry {
        kind,
        hours,
        at: ctx.now,
    };
    // Checked and appended in one transaction: concurrent /log never
    // overwrite each other, and a correction sees the latest total.
    let change = ctx.store.update_hours(user, year, ctx.op, |entries| {
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
        "{verb}：{} {}学时（{year}年度）。目前公需课{}、专业课{}，合计{}学时。",
        kind_name(kind),
        fmt_h(hours),
        fmt_h(p.public),
        fmt_h(p.professional),
        fmt_h(p.total())
    );
    match ctx.guide(year) {
        Some(f) => match tracker::missing_line(&entries, &f.hours) {
            Some(m) => s.push_str(&m),
            None => s.push_str("已达到年度学时要求 🎉"),
        },
        None => s.push_str(&format!(
            "{year}年度指南尚未收录，本年度的学时要求请以人事处通知为准。"
        )),
    }
    Ok(s)
}

/// The year `/hours` asks about: none (this season), "2024", "2024年",
/// "2024年度", 今年, 去年.
fn year_arg(arg: &str, season: i32) -> Option<i32> {
    let a = arg.trim();
    let a = a.trim_end_matches("年度").trim_end_matches('年');
    match a {
        "" | "今" | "本" => Some(season),
        "去" => Some(season - 1),
        "前" => Some(season - 2),
        _ => {
            let y: i32 = crate::text::prepare_numeric(a).trim().parse().ok()?;
            (1990..=2200).contains(&y).then_some(y)
        }
    }
}

pub(super) fn hours(ctx: &Ctx, user: &Identity, arg: &str) -> Result<String, StoreError> {
    let season = ctx.season();
    let Some(year) = year_arg(arg, season.year) else {
        return Ok(texts::HOURS_USAGE.into());
    };
    if year > season.year {
        return Ok(format!("{year}年度还没有开始，现在是{}年度。", season.year));
    }
    let entries = ctx.store.hours(user, year)?;
    if let Some(f) = ctx.guide(year) {
        return Ok(tracker::summary(&entries, f, season::date_of(ctx.now)));
    }
    let p = Progress::of(&entries);
    let mut s = format!(
        "{year}年度学时：公需课{}、专业课{}，合计{}学时。\n{year}年度指南{}收录，{year}年度的学时要求和截止日期请以人事处通知为准。",
        fmt_h(p.public),
        fmt_h(p.professional),
        fmt_h(p.total()),
        if year == season.year { "尚未" } else { "未" },
    );
    if year == season.year {
        let newest = season.newest;
        s.push_str(&format!(
            "\n仅供参考，按{}年度指南的要求（已完成 / 要求 / 还差）：\n{}",
            newest.year,
            tracker::table(&entries, &newest.hours)
        ));
    }
    s.push_str(&tracker::entry_list(&entries));
    Ok(s)
}

pub(super) fn undo(ctx: &Ctx, user: &Identity) -> Result<String, StoreError> {
    let year = season::year_of(ctx.now);
    match ctx.store.update_hours(user, year, ctx.op, Vec::pop)? {
        HoursChange::Changed(e, _) => Ok(format!(
            "已撤销：{} {}学时（{year}年度）。",
            kind_name(e.kind),
            fmt_h(e.hours)
        )),
        HoursChange::Replayed(_) => Ok(texts::UNDONE_AGAIN.into()),
        HoursChange::Unchanged(_) => Ok(texts::NOTHING_TO_UNDO.into()),
    }
}

/// /deadline: this season's, or plainly that it is not known yet, with
/// the newest guide's labelled as that year's.
pub(super) fn deadline(kb: &Kb, now: DateTime<Utc>) -> String {
    let season = Season::of(kb, now);
    let today = season::date_of(now);
    match season.guide {
        Some(f) => format!(
            "{}年度继续教育{}\n依据：{} 附件 四（三）",
            f.year,
            tracker::deadline_line(f, today),
            f.doc_no
        ),
        None => {
            let n = season.newest;
            let passed = if today > n.deadline {
                "（已过）"
            } else {
                ""
            };
            format!(
                "{}年度的截止日期还不知道：{}年度指南尚未收录，请以人事处通知为准。\n仅供参考：{}年度的截止日期是{}{passed}。\n依据：{} 附件 四（三）",
                season.year,
                season.year,
                n.year,
                chinese_date(n.deadline),
                n.doc_no
            )
        }
    }
}

/// /remind, /remind on, /remind off. `may_change` is false for a group
/// member who is not an administrator; `can_push` false where nothing
/// can be delivered (the terminal).
pub(super) fn remind(
    ctx: &Ctx,
    chat: &Identity,
    kind: ChatKind,
    arg: &str,
    may_change: bool,
    can_push: bool,
) -> Result<String, StoreError> {
    let arg = arg.trim().to_lowercase();
    let want = match arg.as_str() {
        "on" | "开" | "开启" | "打开" => Some(true),
        "off" | "关" | "关闭" => Some(false),
        "" => None,
        _ => return Ok(texts::REMIND_USAGE.into()),
    };
    if !can_push {
        return Ok(format!("提醒未开启。{}", texts::NO_PUSH));
    }
    if want.is_some() && !may_change {
        return Ok(texts::REMIND_ADMINS_ONLY.into());
    }
    let sub = ctx.store.subscription(chat)?;
    if let Some(on) = want {
        if on {
            ctx.store.put_subscription(&Subscription {
                chat: chat.clone(),
                kind,
                active: true,
            })?;
            // A chat given up after refusals starts afresh.
            ctx.store.dest_ok(&chat.to_string())?;
        } else {
            ctx.store.remove_subscription(chat)?;
        }
    }
    let active = want.unwrap_or(sub.is_some_and(|s| s.active));
    let state = if active {
        "提醒已开启"
    } else {
        "提醒未开启"
    };
    let season = ctx.season();
    let Some(f) = season.reminders else {
        // No loaded guide's deadline is ahead: say why nothing is sent.
        let n = season.newest;
        let mut s = format!("{state}。");
        if ctx.now >= deadline_end(n.deadline, ctx.schedule.tz) {
            s.push_str(&format!(
                "{}年度截止日期{}已过，不再发送该年度的提醒。{}。",
                n.year,
                chinese_date(n.deadline),
                n.makeup
            ));
        }
        if season.guide.is_none() {
            s.push_str(&format!(
                "{}年度指南尚未收录，截止日期未知：收录后才会开始发送{}年度的提醒{}。",
                season.year,
                season.year,
                if active {
                    "，您的设置已保存"
                } else {
                    ""
                }
            ));
        }
        return Ok(s);
    };
    let next = next_slot(f.deadline, ctx.schedule, ctx.now).map(|s| {
        s.due
            .with_timezone(&ctx.schedule.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    });
    Ok(match (active, next) {
        (true, Some(n)) => format!(
            "{state}。下次提醒：{n}（{}年度截止日期{}）。",
            f.year,
            chinese_date(f.deadline)
        ),
        (true, None) => format!(
            "{state}。{}年度截止日期{}前已没有待发的提醒。",
            f.year,
            chinese_date(f.deadline)
        ),
        (false, _) => format!("{state}。发送 /remind on 开启截止日期前的提醒。"),
    })
}

pub(super) fn forget(ctx: &Ctx, user: &Identity, chat: &Identity) -> Result<String, StoreError> {
    ctx.store.forget_user(user)?;
    if chat != user {
        ctx.store.remove_subscription(chat)?;
    }
    Ok(texts::FORGOTTEN.into())
}

#[cfg(test)]
mod tests {
    use super::year_arg;

    #[test]
    fn years_asked_for() {
        assert_eq!(year_arg("", 2026), Some(2026));
        assert_eq!(year_arg("2024", 2026), Some(2024));
        assert_eq!(year_arg("2024年度", 2026), Some(2024));
        assert_eq!(year_arg("２０２５年", 2026), Some(2025));
        assert_eq!(year_arg("去年", 2026), Some(2025));
        assert_eq!(year_arg("今年", 2026), Some(2026));
        assert_eq!(year_arg("abc", 2026), None);
        assert_eq!(year_arg("99999", 2026), None);
    }
}
