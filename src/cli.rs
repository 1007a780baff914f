//! The binary's commands (anyhow lives here, at the edge): what each
//! subcommand of `jxjy-bot` does, over the resolved
//! [`Settings`]; `main.rs` only parses and dispatches.

use anyhow::{Context, Result};
use jxjy_bot::clock::Stop;
use jxjy_bot::conversation::Conversation;
use jxjy_bot::delivery::{self, Address, Outbox};
use jxjy_bot::dialogue::Responder;
use jxjy_bot::live::LiveKb;
use jxjy_bot::reminders;
use jxjy_bot::settings::{
    AdminCommand, DingtalkCommand, FeishuCommand, KbCommand, RemindCommand, Settings,
    WebhookCommand, WecomCommand,
};
use jxjy_bot::store::Store;
use jxjy_bot::webhook;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

/// Logs to stderr, level from RUST_LOG (default info). The bot token is
/// never logged: request errors are logged without their URL.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // tungstenite's trace lines dump whole frames, and WeCom's subscribe
    // frame carries the bot's secret: never below debug, whatever RUST_LOG says.
    let filter = match "tungstenite=debug".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
    // Colours only on a terminal: journald and log files get plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn live(s: &Settings, contacts: jxjy_bot::dialogue::Contacts) -> Result<Arc<LiveKb>> {
    let live = LiveKb::load(&s.kb_dir, contacts, s.clock.clone())
        .with_context(|| format!("loading knowledge from {}", s.kb_dir.display()))?;
    Ok(Arc::new(live))
}

/// The knowledge alone, for commands that answer no question (reminders):
/// no matcher is built.
fn kb_only(s: &Settings) -> Result<jxjy_bot::knowledge::Kb> {
    jxjy_bot::knowledge::Kb::load(&s.kb_dir)
        .with_context(|| format!("loading knowledge from {}", s.kb_dir.display()))
}

/// The responder for one-shot commands (`ask`).
fn responder(s: &Settings) -> Result<Arc<Responder>> {
    Ok(live(s, s.contacts()?)?.get())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `serve`: every configured channel (Telegram when TELOXIDE_TOKEN is
/// set), the reminders, the daily backup, reload on SIGHUP.
pub fn serve(s: &Settings, no_throttle: bool, remind_every: u64) -> Result<()> {
    init_logging();
    // Check the token before loading anything, for a clear message.
    let tg = match s.telegram_client(!no_throttle) {
        Ok(t) => Some(Arc::new(t)),
        Err(jxjy_bot::telegram::SetupError::NoToken) => None,
        Err(e) => return Err(e.into()),
    };
    let config = s.config()?;
    let ding = dingtalk_client(s, config.dingtalk.clone())?;
    if tg.is_none()
        && config.webhooks.is_empty()
        && ding.is_none()
        && config.wecom.is_none()
        && config.wecom_callback.is_none()
        && config.feishu.is_none()
        && config.admin.is_none()
    {
        anyhow::bail!(
            "nothing to serve: set TELOXIDE_TOKEN for Telegram, or configure a channel or \
             group robots in jxjy.toml (--config); `jxjy-bot chat` opens the bot in the terminal"
        );
    }
    let store = Store::open(&s.data_dir)?;
    let live = live(s, config.contacts)?;
    let core = Conversation::new(
        live.clone(),
        Some(store.clone()),
        s.schedule.clone(),
        s.clock.clone(),
        s.admins.clone(),
    );
    let wecom = config.wecom.map(|c| Arc::new(wecom_client(s, c)));
    let app = Arc::new(jxjy_bot::service::App {
        core,
        store,
        webhooks: config.webhooks,
    });
    let feishu = match &config.feishu {
        Some(c) => Some(Arc::new(feishu_api(s, c)?)),
        None => None,
    };
    let outbox = Outbox {
        telegram: tg.clone(),
        robots: jxjy_bot::service::robots(&app),
        dingtalk: ding.clone(),
        wecom: wecom.clone(),
        feishu: feishu.clone(),
    };
    let mut fronts = Vec::new();
    if let Some(tg) = tg {
        fronts.push(jxjy_bot::bot::front(tg, app.clone(), Default::default()));
    }
    if let Some(d) = ding {
        fronts.push(jxjy_bot::dingtalk::front(
            d,
            app.clone(),
            Default::default(),
        ));
    }
    if let Some(w) = wecom {
        fronts.push(jxjy_bot::wecom::front(w, app.clone()));
    }
    // Channels called back over HTTP add their routes to one listener.
    let mut routes = Vec::new();
    if let (Some(api), Some(c)) = (feishu, &config.feishu) {
        let (route, front) = jxjy_bot::feishu::channel(app.clone(), api, c)?;
        routes.push(route);
        fronts.push(front);
    }
    // WeCom in callback mode answers in its responses; it pushes nothing
    // (config.wecom is None then, so Outbox.wecom too).
    if let Some(c) = &config.wecom_callback {
        let (route, front) = jxjy_bot::wecom::callback::channel(app.clone(), c)?;
        routes.push(route);
        fronts.push(front);
    }
    // The admin page, when [admin] is configured, on the same listener.
    if let Some(a) = config.admin.clone() {
        if a.users.is_empty() {
            tracing::warn!(
                "[admin] has no users: nobody can sign in; add one with `jxjy-bot admin passwd NAME`"
            );
        }
        let channels = fronts
            .iter()
            .map(|f| jxjy_bot::admin::ChannelInfo {
                name: f.name.to_string(),
                inbox: f.inbox.map(str::to_string),
            })
            .collect();
        let admin = jxjy_bot::admin::Admin::new(app.clone(), a, channels);
        routes.push(jxjy_bot::admin::router(admin));
    }
    if !routes.is_empty() {
        let addr = config.http.listen;
        let listener = jxjy_bot::http::bind(addr)
            .with_context(|| format!("cannot listen on {addr} ([http] listen in jxjy.toml)"))?;
        fronts.push(jxjy_bot::http::front(listener, routes));
    }
    let names: Vec<&str> = fronts.iter().map(|f| f.name).collect();
    runtime()?.block_on(async move {
        tracing::info!(
            years = ?live.get().kb().years(),
            channels = ?names,
            robots = app.webhooks.len(),
            "jxjy-bot serving"
        );
        tokio::spawn(jxjy_bot::live::reload_on_sighup(live, Stop::never()));
        let opts = jxjy_bot::service::Options {
            reminder_every: std::time::Duration::from_secs(remind_every.max(1)),
            ..Default::default()
        };
        jxjy_bot::service::run(
            app,
            outbox,
            fronts,
            opts,
            jxjy_bot::service::shutdown_signal(),
        )
        .await
    })
}

/// `chat`: the conversation core in the terminal, on stdin and stdout.
pub fn chat(s: &Settings, opened_by_default: bool) -> Result<()> {
    if opened_by_default {
        eprintln!(
            "TELOXIDE_TOKEN is not set: opening the bot in the terminal. \
             To connect Telegram, set TELOXIDE_TOKEN to the token from @BotFather."
        );
    }
    let store = match Store::open(&s.data_dir) {
        Ok(st) => Some(st),
        // A damaged store is never used, nor silently replaced.
        Err(e @ jxjy_bot::error::StoreError::Damaged { .. }) => return Err(e.into()),
        Err(e) => {
            eprintln!("note: {e}; /log, /hours and /remind are unavailable");
            None
        }
    };
    // The person at the terminal runs with the data directory's rights:
    // `jxjy-bot stats` shows them the same as /stats.
    let mut admins = s.admins.clone();
    admins.push(jxjy_bot::identity::Identity::terminal());
    let core = Conversation::new(
        live(s, s.contacts()?)?,
        store,
        s.schedule.clone(),
        s.clock.clone(),
        admins,
    );
    let stdout = std::io::stdout();
    jxjy_bot::terminal::run(&core, std::io::stdin().lock(), &mut stdout.lock())?;
    Ok(())
}

/// `ask`: one question, or --json lines from stdin.
pub fn ask(s: &Settings, json: bool, explain: bool, question: &str) -> Result<()> {
    let responder = responder(s)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if explain {
        // Written, not printed: a closed pipe (| head) is an error, not a panic.
        explain_match(&responder, question, &mut out)?;
    }
    if json && question.trim().is_empty() {
        // Batch mode: one JSON line per stdin line, in order.
        let stdin = std::io::stdin();
        for line in jxjy_bot::terminal::lossy_lines(stdin.lock()) {
            let line = line.context("reading stdin")?;
            let reply = responder.ask(&line);
            serde_json::to_writer(&mut out, &responder.to_json(&line, &reply))?;
            out.write_all(b"\n")?;
        }
    } else if json {
        let reply = responder.ask(question);
        serde_json::to_writer(&mut out, &responder.to_json(question, &reply))?;
        out.write_all(b"\n")?;
    } else {
        if question.trim().is_empty() {
            anyhow::bail!("no question given; try: jxjy-bot ask \"每年要多少学时\"");
        }
        writeln!(out, "{}", jxjy_bot::render::plain(&responder.ask(question)))?;
    }
    out.flush()?;
    Ok(())
}

fn explain_match(
    responder: &Responder,
    question: &str,
    out: &mut impl Write,
) -> std::io::Result<()> {
    // As the matcher reads it: with the kind a yes/no ending gives.
    let reading = responder.matcher().read(question);
    writeln!(out, "normalised: {}", reading.normalized)?;
    let f = &reading.features;
    writeln!(out, "words:      {}", f.words.join(" / "))?;
    writeln!(
        out,
        "bigrams:    {}",
        f.bigrams
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    writeln!(out, "asks:       {}", f.asks.join(" / "))?;
    for (i, sc) in responder.matcher().rank(question).iter().take(5) {
        writeln!(out, "  {:.3}  {}", sc, responder.kb().entries[*i].id)?;
    }
    let clauses = responder.clauses(question);
    if clauses.len() > 1 || clauses.iter().any(|c| !c.context.is_empty()) {
        for c in clauses {
            writeln!(out, "question:   {}    (context: {})", c.text, c.context)?;
        }
    }
    Ok(())
}

/// `stats`: the season, then what was asked, unanswered, voted, lost.
pub fn stats(s: &Settings) -> Result<()> {
    let r = responder(s)?;
    let store = Store::open(&s.data_dir)?;
    let season = jxjy_bot::season::Season::of(r.kb(), s.clock.now());
    println!("{}", jxjy_bot::conversation::texts::season_line(&season));
    print!(
        "{}",
        jxjy_bot::stats::report(&store, r.matcher().analyzer())?
    );
    Ok(())
}

pub fn kb(s: &Settings, command: &KbCommand) -> Result<ExitCode> {
    match command {
        KbCommand::Check => {
            let problems = jxjy_bot::check::check_dir(&s.kb_dir)?;
            let today = jxjy_bot::season::date_of(s.clock.now());
            for w in jxjy_bot::check::warnings(&s.kb_dir, today)? {
                eprintln!("warning: {w}");
            }
            if problems.is_empty() {
                println!("{}: ok", s.kb_dir.display());
                return Ok(ExitCode::SUCCESS);
            }
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s)", problems.len());
            Ok(ExitCode::from(1))
        }
        KbCommand::Suggest => {
            let responder = responder(s)?;
            let (qs, from) = jxjy_bot::teach::questions(&s.data_dir)?;
            let groups = jxjy_bot::teach::suggest(responder.matcher(), responder.kb(), &qs);
            println!("{} question(s) from {from}", qs.len());
            for g in &groups {
                let entry = match &g.entry {
                    Some((id, sc)) => format!("→ {id} ({sc:.2})"),
                    None => "→ no entry comes near".to_string(),
                };
                let why = match &g.disliked {
                    Some(id) => format!("  (👎 on {id})"),
                    None => String::new(),
                };
                println!("{:>5}  {}  {entry}{why}", g.count, g.example);
            }
            if let Some((id, _)) = groups.iter().find_map(|g| g.entry.as_ref()) {
                println!("\nteach one: jxjy-bot kb teach \"<question>\" {id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Teach { question, entry } => {
            let path = jxjy_bot::teach::teach(&s.kb_dir, question, entry)?;
            println!(
                "taught: \"{question}\" → {entry} ({}); kb check ok. A running bot picks it up on reload (kill -HUP).",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::NewYear { year, source } => {
            let text = match source {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
                None => None,
            };
            let outcome = jxjy_bot::newyear::new_year(&s.kb_dir, *year, text.as_deref())?;
            print!("{}", jxjy_bot::newyear::report(&outcome, *year));
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Export { json: _ } => {
            let kb = kb_only(s)?;
            let list: Vec<serde_json::Value> = kb
                .entries
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "id": e.id,
                        "title": e.title,
                        "questions": e.questions,
                        "answer": e.full_answer(),
                        "source": e.source,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn webhook_client(s: &Settings) -> Result<webhook::WebhookClient> {
    Ok(webhook::WebhookClient::new(
        s.clock.clone(),
        Arc::new(jxjy_bot::clock::TokioSleeper),
    )?)
}

pub fn webhook(s: &Settings, command: &WebhookCommand) -> Result<()> {
    let targets = s.config()?.webhooks;
    match command {
        WebhookCommand::List => {
            if targets.is_empty() {
                println!("no webhook targets configured (see --config / JXJY_CONFIG)");
            }
            for t in &targets {
                let signed = if t.secret.is_some() { "yes" } else { "no" };
                println!("{}\t{:?}\tsigned: {signed}", t.name, t.kind);
            }
        }
        WebhookCommand::Test { name } => {
            let Some(t) = targets.iter().find(|t| &t.name == name) else {
                let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                anyhow::bail!(
                    "no webhook target named '{name}'; configured: {}",
                    names.join(", ")
                );
            };
            let client = webhook_client(s)?;
            let answer = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(client.send(t, "继续教育小助手：测试消息（webhook test）。"))?;
            println!("{} answered: {answer}", t.name);
        }
    }
    Ok(())
}

/// The DingTalk client for a `[dingtalk]` table, if there is one.
fn dingtalk_client(
    s: &Settings,
    config: Option<jxjy_bot::dingtalk::Config>,
) -> Result<Option<Arc<jxjy_bot::dingtalk::DingTalk>>> {
    let Some(c) = config else { return Ok(None) };
    let client = jxjy_bot::dingtalk::DingTalk::new(
        c,
        s.clock.clone(),
        Arc::new(jxjy_bot::clock::TokioSleeper),
    )
    .context("building the DingTalk HTTP client")?;
    Ok(Some(Arc::new(client)))
}

/// `dingtalk check`: credentials, handshake and WebSocket, said step by
/// step; exit 1 with DingTalk's reason when a step fails.
pub fn dingtalk(s: &Settings, command: &DingtalkCommand) -> Result<ExitCode> {
    match command {
        DingtalkCommand::Check => {
            let Some(client) = dingtalk_client(s, s.config()?.dingtalk)? else {
                anyhow::bail!(
                    "no [dingtalk] table in the config file (--config / JXJY_CONFIG / ./jxjy.toml)"
                );
            };
            let checked = runtime()?.block_on(client.check(|line| println!("{line}")));
            match checked {
                Ok(()) => {
                    println!("dingtalk: ok");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("jxjy-bot: dingtalk check failed: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

pub fn remind(s: &Settings, command: &RemindCommand) -> Result<ExitCode> {
    match command {
        RemindCommand::Plan { at } => {
            remind_plan(s, jxjy_bot::settings::parse_moment(at)?)?;
            Ok(ExitCode::SUCCESS)
        }
        RemindCommand::Send {
            at,
            batch,
            no_throttle,
        } => {
            let at = match at {
                Some(a) => jxjy_bot::settings::parse_moment(a)?,
                None => s.clock.now(),
            };
            remind_send(s, at, *batch, *no_throttle)
        }
    }
}

/// The guide reminders follow at `at`, or a line saying there is none.
fn reminder_guide<'a>(
    kb: &'a jxjy_bot::knowledge::Kb,
    s: &Settings,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<&'a jxjy_bot::knowledge::Facts> {
    let today = at.with_timezone(&s.schedule.tz).date_naive();
    let guide = jxjy_bot::season::reminder_guide(kb, today);
    if guide.is_none() {
        println!(
            "no loaded guide's deadline is ahead at {at} (loaded: {:?}): no reminders",
            kb.years()
        );
    }
    guide
}

/// What would be sent at `at`, to chats and robots, without sending.
fn remind_plan(s: &Settings, at: chrono::DateTime<chrono::Utc>) -> Result<()> {
    let kb = kb_only(s)?;
    let store = Store::open(&s.data_dir)?;
    let robots = s.config()?.webhooks;
    let Some(facts) = reminder_guide(&kb, s, at) else {
        return Ok(());
    };
    let schedule = &s.schedule;
    let chats = reminders::plan_from_store(&store, facts, schedule, at)?;
    let names: Vec<String> = robots.iter().map(|t| t.name.clone()).collect();
    let hooks = reminders::plan_robots(&store, facts, schedule, &names, at)?;
    if chats.is_empty() && hooks.is_empty() {
        println!("nothing due at {at}");
    }
    let due = |sl: &reminders::Slot| sl.due.with_timezone(&schedule.tz).format("%Y-%m-%d %H:%M");
    for p in hooks.iter().chain(&chats) {
        let to = match &p.to {
            Address::Robot(name) => {
                let kind = robots.iter().find(|t| &t.name == name).map(|t| t.kind);
                format!(
                    "webhook {name} ({})",
                    kind.map_or("?".into(), |k| format!("{k:?}"))
                )
            }
            Address::Chat { chat, kind } => format!("chat {chat} ({kind:?})"),
        };
        println!(
            "{to}, slot {} days before (due {}):\n  {}",
            p.slot.days_before,
            due(&p.slot),
            p.text
        );
    }
    Ok(())
}

/// Send what is due at `at` through Telegram (if a token is set) and the
/// configured robots, once, by the same delivery path as `serve`. SIGINT /
/// SIGTERM stop it between batches with the sent-record exact.
fn remind_send(
    s: &Settings,
    at: chrono::DateTime<chrono::Utc>,
    batch: usize,
    no_throttle: bool,
) -> Result<ExitCode> {
    init_logging();
    let kb = kb_only(s)?;
    let store = Store::open(&s.data_dir)?;
    let config = s.config()?;
    let (targets, dingtalk) = (config.webhooks, dingtalk_client(s, config.dingtalk)?);
    let telegram = match s.telegram_client(!no_throttle) {
        Ok(t) => Some(Arc::new(t)),
        Err(jxjy_bot::telegram::SetupError::NoToken)
            if !targets.is_empty() || dingtalk.is_some() || config.feishu.is_some() =>
        {
            None
        }
        Err(e) => return Err(e.into()),
    };
    let feishu = match &config.feishu {
        Some(c) => Some(Arc::new(feishu_api(s, c)?)),
        None => None,
    };
    let robots = if targets.is_empty() {
        None
    } else {
        Some(webhook::Robots {
            client: Arc::new(webhook_client(s)?),
            targets,
        })
    };
    // WeCom reminders go from `serve` only: connecting here would take
    // the bot's one connection over from it.
    let outbox = Outbox {
        telegram,
        robots,
        dingtalk,
        wecom: None,
        feishu,
    };
    let Some(facts) = reminder_guide(&kb, s, at) else {
        return Ok(ExitCode::SUCCESS);
    };
    let rep = runtime()?.block_on(async {
        let (handle, stop) = Stop::new();
        tokio::spawn(async move {
            jxjy_bot::service::shutdown_signal().await;
            handle.stop();
        });
        let opts = delivery::Options { batch, stop };
        delivery::deliver_due(&store, facts, &s.schedule, at, &outbox, &opts).await
    })?;
    store.flush()?;
    println!(
        "sent {}, blocked {}, migrated {}, failed {}, unknown {}, given up {}{}",
        rep.sent,
        rep.blocked,
        rep.migrated,
        rep.failed,
        rep.unknown,
        rep.gave_up,
        if rep.interrupted {
            " (stopped early; run again to send the rest)"
        } else {
            ""
        }
    );
    for e in &rep.stopped {
        eprintln!("  {e}");
    }
    if let Some(e) = &rep.fatal {
        eprintln!("jxjy-bot: {e}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn wecom_client(s: &Settings, c: jxjy_bot::wecom::Config) -> jxjy_bot::wecom::WeCom {
    jxjy_bot::wecom::WeCom::new(
        c,
        Default::default(),
        s.clock.clone(),
        Arc::new(jxjy_bot::clock::TokioSleeper),
    )
}

/// `wecom check`: connect, subscribe, print what WeCom says; exit 1 if it
/// refuses or cannot be reached.
pub fn wecom(s: &Settings, command: &WecomCommand) -> Result<ExitCode> {
    let WecomCommand::Check { listen } = command;
    let config = s.config()?;
    if config.wecom_callback.is_some() {
        anyhow::bail!(
            "[wecom] mode = \"callback\": `wecom check` tries the long connection; in callback \
             mode WeCom checks the URL itself when its console's settings are saved"
        );
    }
    let Some(c) = config.wecom else {
        anyhow::bail!(
            "no [wecom] table in the config file (see --config / JXJY_CONFIG); \
             it needs bot_id, and the secret in WECOM_BOT_SECRET"
        );
    };
    let client = wecom_client(s, c);
    println!(
        "connecting to {} as bot {} ...",
        client.config().url,
        client.config().bot_id
    );
    let report = runtime()?.block_on(client.check(std::time::Duration::from_secs(*listen)));
    match report {
        Ok(r) => {
            println!("subscribed: WeCom accepted the bot id and secret");
            println!(
                "ping: {}",
                if r.ping_answered {
                    "answered"
                } else {
                    "no answer"
                }
            );
            for f in &r.seen {
                println!("seen: {f}");
            }
            println!(
                "closed. WeCom keeps one connection per bot: a `serve` running for this bot \
                 was taken over by this check; restart it."
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("jxjy-bot: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The Feishu open API client of `[feishu]`.
fn feishu_api(s: &Settings, c: &jxjy_bot::feishu::Config) -> Result<jxjy_bot::feishu::api::Api> {
    jxjy_bot::feishu::api(c, s.clock.clone(), Arc::new(jxjy_bot::clock::TokioSleeper))
        .map_err(|e| anyhow::anyhow!("cannot build the Feishu HTTP client: {}", e.without_url()))
}

/// `feishu check`: the credentials, and the bot as Feishu sees it.
pub fn feishu(s: &Settings, command: &FeishuCommand) -> Result<ExitCode> {
    match command {
        FeishuCommand::Check => {
            let Some(c) = s.config()?.feishu else {
                anyhow::bail!(
                    "no [feishu] table in the config file (--config / JXJY_CONFIG / ./jxjy.toml)"
                );
            };
            println!("app_id {} at {}", c.app_id, c.api_base);
            let api = feishu_api(s, &c)?;
            let rt = runtime()?;
            if let Err(e) = rt.block_on(api.token()) {
                println!("credentials: FAILED: {e}");
                return Ok(ExitCode::from(1));
            }
            println!("credentials: ok (tenant_access_token received)");
            match rt.block_on(api.bot_info()) {
                Ok(bot) => {
                    println!("bot: {} (open_id {})", bot.name, bot.open_id);
                    println!(
                        "events: POST {} on [http] listen, behind your HTTPS proxy",
                        c.path
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("bot: FAILED: {e} (is the bot capability enabled for the app?)");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// `admin passwd NAME`: the password from the terminal (asked twice, not
/// shown) or from stdin's first line (scripts, tests), hashed into the
/// config file.
pub fn admin(s: &Settings, command: &AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Passwd { name } => {
            let path = s
                .config_file
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from("jxjy.toml"));
            let password = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                let p = rpassword::prompt_password(format!("{name} 的新密码 / new password: "))?;
                let again = rpassword::prompt_password("再输入一次 / again: ")?;
                if p != again {
                    anyhow::bail!("the two passwords differ; nothing changed");
                }
                p
            } else {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                line.trim_end_matches(['\r', '\n']).to_string()
            };
            jxjy_bot::admin::config::set_password(&path, name, &password)?;
            println!(
                "password of '{name}' set in {} ([admin.users]); a running serve takes it at the next sign-in",
                path.display()
            );
        }
    }
    Ok(())
}

pub fn backup(s: &Settings, file: &std::path::Path) -> Result<()> {
    let store = Store::open(&s.data_dir)?;
    let n = jxjy_bot::backup::write(&store, file)?;
    println!("{n} records written to {}", file.display());
    Ok(())
}

pub fn restore(s: &Settings, file: &std::path::Path, force: bool) -> Result<()> {
    let r = jxjy_bot::backup::restore(file, &s.data_dir, force)?;
    println!(
        "{} records restored into {}",
        r.records,
        s.data_dir.display()
    );
    if let Some(aside) = r.moved_aside {
        println!("the previous files are in {}", aside.display());
    }
    Ok(())
}
