//! The pages, in Chinese, as maud templates: one layout (a small inline
//! style sheet that works on a phone and a desktop), the sign-in form, and
//! the four pages. maud escapes every value, so a question a teacher typed
//! is shown as text, never as markup.

use super::{Admin, AdminError, Viewer};
use crate::delivery::Address;
use crate::reminders::{self, Planned};
use crate::season::Season;
use crate::store::{ChatKind, DayCounts, Delivery};
use chrono::NaiveDate;
use maud::{DOCTYPE, Markup, html};
use std::collections::BTreeMap;

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.6 system-ui,-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;color:#1f2933;background:#f4f6f8}
header{background:#1d4e89;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.4rem 1rem}
header b{font-size:1.05rem;margin-right:auto}
nav{display:flex;flex-wrap:wrap;gap:.3rem}
nav a{color:#fff;text-decoration:none;padding:.25rem .6rem;border-radius:4px}
nav a.on{background:rgba(255,255,255,.22)}
header form{margin:0}
header button{background:transparent;color:#fff;border:1px solid rgba(255,255,255,.6);padding:.2rem .6rem}
main{max-width:1000px;margin:0 auto;padding:1rem}
section{background:#fff;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{font-weight:600;color:#52606d;font-size:.9rem}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.wrap{overflow-x:auto}
.ok{color:#17803d}.bad{color:#b42318}.muted{color:#7b8794;font-size:.9rem}
.flash{padding:.6rem .8rem;border-radius:6px;margin-bottom:1rem}
.flash.ok{background:#e3f9e5}.flash.bad{background:#fde8e8}
button,select,input{font:inherit}
button{background:#1d4e89;color:#fff;border:0;border-radius:4px;padding:.35rem .9rem;cursor:pointer}
select{max-width:100%;padding:.25rem}
input[type=text],input[type=password]{width:100%;padding:.45rem;border:1px solid #cbd2d9;border-radius:4px}
.teach{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin-top:.3rem}
.teach select{flex:1 1 14rem}
.q{font-weight:600}
details{border-bottom:1px solid #e4e7eb;padding:.4rem 0}
summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-word;background:#f4f6f8;padding:.5rem;border-radius:4px;margin:.4rem 0;font:inherit}
ul{padding-left:1.2rem;margin:.3rem 0}
.login{max-width:22rem;margin:3rem auto}
.login label{display:block;margin:.6rem 0 .2rem}
.login button{margin-top:1rem;width:100%;padding:.5rem}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .25rem 0 .8rem;vertical-align:middle}
svg{width:100%;height:auto;display:block}
.big{font-size:1.6rem;font-weight:700}
"#;

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        meta name="robots" content="noindex";
        title { (title) " · 继续教育小助手" }
        style { (maud::PreEscaped(STYLE)) }
    }
}

fn layout(title: &str, active: &str, v: &Viewer, body: Markup) -> Markup {
    let tabs = [
        ("/admin", "概览"),
        ("/admin/questions", "问题"),
        ("/admin/knowledge", "知识库"),
        ("/admin/reminders", "提醒"),
    ];
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head { (head(title)) }
            body {
                header {
                    b { "继续教育小助手 · 管理" }
                    nav {
                        @for (href, label) in tabs {
                            a href=(href) class=[(href == active).then_some("on")] { (label) }
                        }
                    }
                    span.muted style="color:#dbe4f0" { (v.name) }
                    form method="post" action="/admin/logout" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        button type="submit" { "退出" }
                    }
                }
                main {
                    @if let Some(f) = &v.flash {
                        div class={ "flash " (if f.ok { "ok" } else { "bad" }) } { (f.text) }
                    }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub(super) fn login(csrf: &str, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head { (head("登录")) }
            body {
                main.login {
                    section {
                        h1 { "继续教育小助手 · 管理登录" }
                        @if let Some(e) = error { p.bad { (e) } }
                        form method="post" action="/admin/login" {
                            input type="hidden" name="csrf" value=(csrf);
                            label for="name" { "用户名" }
                            input id="name" type="text" name="name" autocomplete="username" required autofocus;
                            label for="password" { "密码" }
                            input id="password" type="password" name="password" autocomplete="current-password" required;
                            button type="submit" { "登录" }
                        }
                        p.muted { "管理员由服务器上的 jxjy-bot admin passwd 命令添加。" }
                    }
                }
            }
        }
    }
}

pub(super) fn refused() -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head { (head("拒绝")) }
            body { main { section {
                h1 { "操作被拒绝" }
                p { "请先登录，并从本站页面提交表单。" }
                p { a href="/admin/login" { "去登录" } }
            } } }
        }
    }
}

pub(super) fn failed(why: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head { (head("出错")) }
            body { main { section {
                h1 { "页面出错" }
                p { (why) }
                p { a href="/admin" { "返回概览" } }
            } } }
        }
    }
}

/// The label of a channel by its identity prefix.
fn channel_label(prefix: &str) -> String {
    match prefix {
        "tg" | "telegram" => "Telegram".into(),
        "ding" | "dingtalk" => "钉钉".into(),
        "feishu" => "飞书".into(),
        "wecom" => "企业微信".into(),
        "term" => "终端".into(),
        "webhook" => "群机器人".into(),
        "http" => "HTTP 监听".into(),
        other => other.into(),
    }
}

/// The channel part of a destination id ("tg:42" → "tg").
fn prefix_of(id: &str) -> &str {
    id.split_once(':').map_or(id, |(p, _)| p)
}

#[derive(Default)]
struct SlotCounts {
    sent: usize,
    failed: usize,
    trying: usize,
    due: usize,
}

pub(super) fn overview(a: &Admin, v: &Viewer) -> Result<Markup, AdminError> {
    let r = a.app.core.responder();
    let kb = r.kb();
    let now = a.now();
    let today = crate::season::date_of(now);
    let season = Season::of(kb, now);
    let store = &a.app.store;
    let schedule = a.app.core.schedule();
    // Failed destinations per channel.
    let mut gave_up: BTreeMap<String, usize> = BTreeMap::new();
    for (id, st) in store.failed_dests()? {
        if st.failed {
            *gave_up.entry(prefix_of(&id).to_string()).or_default() += 1;
        }
    }
    let (answers_failed, last_reason) = store.answer_failures()?;
    let robots: Vec<String> = a.app.webhooks.iter().map(|t| t.name.clone()).collect();
    // Reminder records of the guide reminders follow, per channel.
    let mut slots: BTreeMap<String, SlotCounts> = BTreeMap::new();
    if let Some(facts) = season.reminders {
        let mark = format!("/{}/", facts.deadline);
        for (key, state) in store.deliveries()? {
            if !key.contains(&mark) {
                continue;
            }
            let c = slots.entry(prefix_of(&key).to_string()).or_default();
            match state {
                Delivery::Sent => c.sent += 1,
                Delivery::Failed(_) => c.failed += 1,
                Delivery::Trying(_) | Delivery::InFlight => c.trying += 1,
            }
        }
        let mut due = reminders::plan_from_store(store, facts, schedule, now)?;
        due.extend(reminders::plan_robots(
            store, facts, schedule, &robots, now,
        )?);
        for p in due.iter().filter(|p| p.prior.is_none()) {
            slots
                .entry(prefix_of(&p.to.id()).to_string())
                .or_default()
                .due += 1;
        }
    }
    let body = html! {
        section {
            h2 { "本年度指南" }
            @match season.guide {
                Some(f) => {
                    p { span.big { (f.year) "年度" } " " (f.doc_no) }
                    p {
                        "截止日期：" (crate::knowledge::chinese_date(f.deadline))
                        @let left = (f.deadline - today).num_days();
                        @if left >= 0 { "，还剩 " b { (left) } " 天" } @else { span.bad { "，已过截止日期 " (-left) " 天" } }
                    }
                    p.muted { "学时要求：共 " (f.hours.total) " 学时（公需课 " (f.hours.public) "，专业课 " (f.hours.professional) "）" }
                }
                None => {
                    p.bad { b { (season.year) "年度指南尚未收录。" } }
                    p { "机器人按 " (season.newest.year) " 年度指南回答，并在回答中注明年份。" }
                    p.muted {
                        @match season.reminders {
                            Some(f) => { "提醒按 " (f.year) " 年度指南发送（截止 " (crate::knowledge::chinese_date(f.deadline)) "）。" }
                            None => { "没有截止日期在后的指南：不发送提醒，直到本年度指南收录并重新载入。" }
                        }
                    }
                }
            }
            p.muted { "已载入的指南：" @for (i, y) in kb.years().iter().enumerate() { @if i > 0 { "、" } (y) } }
        }
        section {
            h2 { "渠道" }
            @if !a.channels.is_empty() || !robots.is_empty() { div.wrap { table {
                tr { th { "渠道" } th { "状态" } th.n { "待处理消息" } th.n { "已放弃的收件方" } }
                @for c in &a.channels {
                    @let pending = c.inbox.as_deref().and_then(|i| crate::inbox::Inbox::open(store, i).ok()).map(|i| i.pending_count());
                    @let key = match c.name.as_str() { "telegram" => "tg", "dingtalk" => "ding", n => n };
                    tr {
                        td { (channel_label(&c.name)) }
                        td.ok { "运行中" }
                        td.n { @match pending { Some(n) => (n), None => "—" } }
                        td.n { (gave_up.get(key).copied().unwrap_or(0)) }
                    }
                }
                @if !robots.is_empty() {
                    tr {
                        td { "群机器人（" (robots.join("、")) "）" }
                        td.ok { "已配置" }
                        td.n { "—" }
                        td.n { (gave_up.get("webhook").copied().unwrap_or(0)) }
                    }
                }
            } } }
            @if a.channels.is_empty() && robots.is_empty() {
                p.muted { "本进程没有连接任何消息渠道（只提供本管理页面）。" }
            }
            p.muted {
                "最终未能送达的回答：" (answers_failed)
                @if let Some(r) = last_reason { "（最近一次：" (r) "）" }
            }
        }
        section {
            h2 { "提醒档期" }
            @match season.reminders {
                None => p.muted { "当前没有要发送的提醒。" },
                Some(f) => {
                    p.muted { "按 " (f.year) " 年度指南（截止 " (crate::knowledge::chinese_date(f.deadline)) "）的各档期累计：" }
                    @if slots.is_empty() {
                        p { "还没有发送记录，也没有到期待发的提醒。" }
                    } @else {
                        div.wrap { table {
                            tr { th { "渠道" } th.n { "已发送" } th.n { "失败" } th.n { "重试中" } th.n { "到期待发" } }
                            @for (ch, c) in &slots {
                                tr {
                                    td { (channel_label(ch)) }
                                    td.n.ok { (c.sent) }
                                    td.n class=[(c.failed > 0).then_some("bad")] { (c.failed) }
                                    td.n { (c.trying) }
                                    td.n { (c.due) }
                                }
                            }
                        } }
                    }
                    p { a href="/admin/reminders" { "下一档期将发送的内容 →" } }
                }
            }
        }
    };
    Ok(layout("概览", "/admin", v, body))
}

/// Groups of questions listed (largest first).
const MAX_GROUPS: usize = 50;

/// Days shown in the chart.
const CHART_DAYS: i64 = 30;

fn chart(days: &[(NaiveDate, DayCounts)]) -> Markup {
    let (w, h, left, right, bottom, top) = (640.0_f64, 220.0_f64, 34.0, 20.0, 24.0, 10.0);
    let max = days
        .iter()
        .map(|(_, c)| c.answered + c.candidates + c.declined)
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_h = h - bottom - top;
    let step = (w - left - right) / days.len().max(1) as f64;
    let bar = (step * 0.7).max(1.0);
    let y_of = |n: u64| top + plot_h - plot_h * n as f64 / max as f64;
    let colours = [
        ("#2f9e44", "已回答"),
        ("#f08c00", "给出选项"),
        ("#e03131", "未能回答"),
    ];
    html! {
        svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label="每日问题数" {
            line x1=(left) y1=(top + plot_h) x2=(w - right) y2=(top + plot_h) stroke="#9aa5b1" {}
            line x1=(left) y1=(top) x2=(w - right) y2=(top) stroke="#e4e7eb" {}
            text x=(left - 4.0) y=(top + 4.0) text-anchor="end" font-size="11" fill="#52606d" { (max) }
            text x=(left - 4.0) y=(top + plot_h) text-anchor="end" font-size="11" fill="#52606d" { "0" }
            @for (i, (d, c)) in days.iter().enumerate() {
                @let x = left + step * i as f64 + (step - bar) / 2.0;
                @let parts = [c.answered, c.candidates, c.declined];
                @for (k, n) in parts.iter().enumerate() {
                    @if *n > 0 {
                        @let below: u64 = parts[..k].iter().sum();
                        @let y1 = y_of(below + n);
                        @let y0 = y_of(below);
                        rect x=(format!("{x:.1}")) y=(format!("{y1:.1}")) width=(format!("{bar:.1}")) height=(format!("{:.1}", y0 - y1)) fill=(colours[k].0) {
                            title { (d.format("%m-%d")) " " (colours[k].1) "：" (n) }
                        }
                    }
                }
                // Every 7th day and the last, none too close to it.
                @if (i % 7 == 0 && i + 4 < days.len()) || i + 1 == days.len() {
                    text x=(format!("{:.1}", x + bar / 2.0)) y=(h - 6.0) text-anchor="middle" font-size="11" fill="#52606d" { (d.format("%m-%d")) }
                }
            }
        }
        p.legend.muted {
            @for (c, l) in colours { span style=(format!("background:{c}")) {} (l) }
        }
    }
}

pub(super) fn questions(a: &Admin, v: &Viewer) -> Result<Markup, AdminError> {
    let r = a.app.core.responder();
    let kb = r.kb();
    let store = &a.app.store;
    let today = crate::season::date_of(a.now());
    let days = store.days(today - chrono::Duration::days(CHART_DAYS - 1), today)?;
    let total: u64 = days
        .iter()
        .map(|(_, c)| c.answered + c.candidates + c.declined)
        .sum();
    let asked = store.asked()?;
    let qs: Vec<(String, Option<String>)> = store
        .unanswered()?
        .into_iter()
        .map(|u| (u.text, u.disliked))
        .collect();
    let groups = crate::teach::suggest(r.matcher(), kb, &qs);
    let title_of = |id: &str| kb.entry(id).map(|e| e.title.clone()).unwrap_or_default();
    let body = html! {
        section {
            h2 { "每日问题（近" (CHART_DAYS) "天，共 " (total) " 个）" }
            (chart(&days))
        }
        section {
            h2 { "没答上或回答被评“没帮助”的问题（" (qs.len()) " 个，" (groups.len()) " 组）" }
            @if groups.is_empty() {
                p.muted { "暂无。" }
            }
            @for g in groups.iter().take(MAX_GROUPS) {
                @let chosen = g.entry.as_ref().map(|(id, _)| id.as_str()).or(g.disliked.as_deref());
                div style="border-bottom:1px solid #e4e7eb;padding:.5rem 0" {
                    div {
                        span.q { (g.example) }
                        " " span.muted { "×" (g.count) }
                        @if let Some(d) = &g.disliked { " " span.bad { "回答 " (d) " 被评没帮助" } }
                    }
                    div.muted {
                        @match &g.entry {
                            Some((id, sc)) => { "最可能属于：" (id) "（" (title_of(id)) "，" (format!("{sc:.2}")) "）" }
                            None => { "没有相近的条目" }
                        }
                    }
                    form.teach method="post" action="/admin/teach" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        input type="hidden" name="question" value=(g.example);
                        select name="entry" aria-label="教给条目" {
                            @if chosen.is_none() { option value="" selected { "— 选择条目 —" } }
                            @for e in &kb.entries {
                                option value=(e.id) selected[Some(e.id.as_str()) == chosen] { (e.id) " · " (e.title) }
                            }
                        }
                        button type="submit" { "教给条目" }
                    }
                }
            }
            @if groups.len() > MAX_GROUPS {
                p.muted { "另有 " (groups.len() - MAX_GROUPS) " 组未列出（先处理上面人数多的）；全部见 jxjy-bot kb suggest。" }
            }
            p.muted { "“教给条目”把问题加为该条目的问法，通过 kb check 后重新载入知识，机器人随即能回答。" }
        }
        section {
            h2 { "最常问的条目" }
            @if asked.is_empty() { p.muted { "暂无。" } } @else {
                div.wrap { table {
                    tr { th { "条目" } th { "标题" } th.n { "次数" } }
                    @for (id, n) in asked.iter().take(20) {
                        tr { td { (id) } td { (title_of(id)) } td.n { (n) } }
                    }
                } }
            }
        }
    };
    Ok(layout("问题", "/admin/questions", v, body))
}

pub(super) fn knowledge(a: &Admin, v: &Viewer) -> Result<Markup, AdminError> {
    let live = a.app.core.live();
    let r = live.get();
    let kb = r.kb();
    let today = crate::season::date_of(a.now());
    let problems = crate::check::check_dir(live.dir())?;
    let warnings = crate::check::warnings(live.dir(), today)?;
    let body = html! {
        section {
            h2 { "检查（kb check）" }
            @if problems.is_empty() {
                p.ok { "✓ 目录 " (live.dir().display()) " 检查通过。" }
            } @else {
                p.bad { (problems.len()) " 个问题（修正前重新载入会被拒绝，原知识继续使用）：" }
                ul { @for p in &problems { li { (p.to_string()) } } }
            }
            @if !warnings.is_empty() {
                p { "提示：" }
                ul { @for w in &warnings { li.muted { (w.to_string()) } } }
            }
            form method="post" action="/admin/reload" {
                input type="hidden" name="csrf" value=(v.csrf);
                button type="submit" { "重新载入知识" }
            }
            p.muted { "改动知识文件后点此重新载入：先检查，通过才替换正在使用的知识。" }
        }
        section {
            h2 { (kb.facts.year) "年度 · " (kb.entries.len()) " 个条目" }
            @for e in &kb.entries {
                details {
                    summary { b { (e.title) } " " span.muted { (e.id) " · " (e.questions.len()) " 种问法" } }
                    p.muted { "问法：" }
                    ul { @for q in &e.questions { li { (q) } } }
                    p.muted { "回答：" }
                    pre { (e.answer) }
                    p.muted { "出处：" (e.source) }
                }
            }
        }
    };
    Ok(layout("知识库", "/admin/knowledge", v, body))
}

/// Planned reminders per channel: (private, group) counts and the
/// distinct texts.
fn by_channel(planned: &[Planned]) -> BTreeMap<String, (usize, usize, Vec<String>)> {
    let mut m: BTreeMap<String, (usize, usize, Vec<String>)> = BTreeMap::new();
    for p in planned {
        let e = m.entry(prefix_of(&p.to.id()).to_string()).or_default();
        match &p.to {
            Address::Chat {
                kind: ChatKind::Private,
                ..
            } => e.0 += 1,
            _ => e.1 += 1,
        }
        if !e.2.contains(&p.text) {
            e.2.push(p.text.clone());
        }
    }
    m
}

/// Texts previewed per channel.
const PREVIEWS: usize = 3;

fn plan_table(planned: &[Planned]) -> Markup {
    let m = by_channel(planned);
    html! {
        @if m.is_empty() { p.muted { "没有收件方。" } }
        @for (ch, (private, group, texts)) in &m {
            h2 { (channel_label(ch)) " · 私聊 " (private) " · 群 " (group) }
            @for t in texts.iter().take(PREVIEWS) { pre { (t) } }
            @if texts.len() > PREVIEWS { p.muted { "另有 " (texts.len() - PREVIEWS) " 种文字（按各人尚缺的学时不同）。" } }
        }
    }
}

pub(super) fn reminders(a: &Admin, v: &Viewer) -> Result<Markup, AdminError> {
    let r = a.app.core.responder();
    let kb = r.kb();
    let now = a.now();
    let store = &a.app.store;
    let schedule = a.app.core.schedule();
    let tz = schedule.tz;
    let robots: Vec<String> = a.app.webhooks.iter().map(|t| t.name.clone()).collect();
    let guide = crate::season::reminder_guide(kb, crate::season::date_of(now));
    let when = |d: chrono::DateTime<chrono::Utc>| {
        d.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
    let plan_at = |facts, at| -> Result<Vec<Planned>, AdminError> {
        let mut p = reminders::plan_robots(store, facts, schedule, &robots, at)?;
        p.extend(reminders::plan_from_store(store, facts, schedule, at)?);
        Ok(p)
    };
    let body = match guide {
        None => html! {
            section { p { "没有截止日期在后的指南：不发送提醒。收录本年度指南并重新载入后，提醒按新指南发送。" } }
        },
        Some(facts) => {
            let current = reminders::current_slot(facts.deadline, schedule, now);
            let due_now: Vec<Planned> = match current {
                Some(_) => plan_at(facts, now)?
                    .into_iter()
                    .filter(|p| !matches!(p.prior, Some(Delivery::Sent | Delivery::Failed(_))))
                    .collect(),
                None => Vec::new(),
            };
            let next = reminders::next_slot(facts.deadline, schedule, now);
            let next_plan = match next {
                Some(sl) => plan_at(facts, sl.due)?,
                None => Vec::new(),
            };
            html! {
                section {
                    p { "提醒按 " (facts.year) " 年度指南，截止 " (crate::knowledge::chinese_date(facts.deadline)) "；档期：截止前 "
                        @for (i, d) in schedule.days_before.iter().enumerate() { @if i > 0 { "、" } (d) } " 天，" (schedule.at.format("%H:%M")) "（北京时间）。" }
                    p.muted { "私聊提醒只发给学时尚未学满、开启了 /remind 的老师；群提醒发给开启了提醒的群和配置的群机器人。" }
                }
                @if !due_now.is_empty() {
                    section {
                        h2 { "已到期、尚未发出（" (due_now.len()) "）" }
                        (plan_table(&due_now))
                    }
                }
                section {
                    @match next {
                        Some(sl) => {
                            h2 { "下一档期：截止前 " (sl.days_before) " 天，" (when(sl.due)) }
                            p.muted { "按现在的订阅和学时记录，届时将发送 " (next_plan.len()) " 条：" }
                            (plan_table(&next_plan))
                        }
                        None => p { "本指南没有后续档期。" },
                    }
                }
            }
        }
    };
    Ok(layout("提醒", "/admin/reminders", v, body))
}
