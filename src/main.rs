//! The `jxjy-bot` binary: a thin CLI over the library.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use jxjy_bot::commands::{self, Ctx};
use jxjy_bot::delivery::{self, Address, Outbox};
use jxjy_bot::dialogue::{Action, Responder};
use jxjy_bot::knowledge::{self, Kb};
use jxjy_bot::reminders::{self, Schedule};
use jxjy_bot::store::{ChatKind, Store};
use jxjy_bot::webhook;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Continuing-education assistant for teachers in Jiangxi: answers questions
/// from the official guide, tracks hours and reminds before the deadline.
///
/// With no subcommand it runs the Telegram bot when TELOXIDE_TOKEN is set,
/// and otherwise opens the same bot in the terminal.
#[derive(Parser)]
#[command(name = "jxjy-bot", version)]
struct Cli {
    /// Knowledge directory (lexicon.toml plus one directory per guide year).
    #[arg(long, global = true, env = "JXJY_KB")]
    kb: Option<PathBuf>,
    /// Data directory (hours, reminder subscriptions, sent-record).
    #[arg(long, global = true, env = "JXJY_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Reminder days before the deadline, comma-separated.
    #[arg(
        long,
        global = true,
        env = "JXJY_REMIND_DAYS",
        default_value = "30,14,7,3,1"
    )]
    remind_days: String,
    /// Config file with the group-robot webhooks (default: ./jxjy.toml if present).
    #[arg(long, global = true, env = "JXJY_CONFIG")]
    config: Option<PathBuf>,
    /// Local time (Asia/Shanghai) reminders go out at.
    #[arg(long, global = true, env = "JXJY_REMIND_AT", default_value = "09:00")]
    remind_at: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Answer one question, or with --json and no question, every line of stdin.
    Ask {
        /// Print one JSON object per question.
        #[arg(long)]
        json: bool,
        /// Show how the question was read and the five best entries.
        #[arg(long, conflicts_with = "json")]
        explain: bool,
        /// The question; omitted with --json: read questions from stdin.
        question: Vec<String>,
    },
    /// Chat with the bot in the terminal (works with piped stdin too).
    Chat,
    /// Run the Telegram bot (long polling) and its reminders.
    ///
    /// Needs TELOXIDE_TOKEN. Honours TELOXIDE_API_URL, TELOXIDE_PROXY
    /// (http://host:port or socks5://host:port) and NO_PROXY; RUST_LOG sets
    /// the log level; JXJY_ADMINS lists the Telegram user ids allowed /stats.
    Serve {
        /// Turn Telegram's rate limits off (benchmarks against a fake API only).
        #[arg(long, env = "JXJY_NO_THROTTLE")]
        no_throttle: bool,
        /// Seconds between checks for due reminders.
        #[arg(long, default_value_t = 60)]
        remind_every: u64,
    },
    /// Most asked questions, unanswered ones grouped, and feedback counts.
    Stats,
    /// Knowledge-base tools.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
    /// WeCom / DingTalk / Feishu group robots (configured in jxjy.toml).
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Deadline reminders.
    Remind {
        #[command(subcommand)]
        command: RemindCommand,
    },
    /// Write every record of the data directory to FILE (JSON lines).
    Backup {
        /// The backup file to write (replaced whole, never in part).
        file: PathBuf,
    },
    /// Replace the data directory's content with a backup FILE.
    ///
    /// A damaged directory's files are moved into damaged-<time>/ first.
    /// A healthy one holding data needs --force (its files are moved
    /// aside the same way). Backups in <data dir>/backups/ stay.
    Restore {
        file: PathBuf,
        /// Replace a data directory that holds data.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// List the configured group robots.
    List,
    /// Send one test message to a robot and print the platform's answer.
    Test {
        /// The target's name in the config file.
        name: String,
    },
}

#[derive(Subcommand)]
enum RemindCommand {
    /// Print what would be sent at a moment (who, which slot, the text), without sending.
    Plan {
        /// The moment, RFC 3339, e.g. 2024-12-24T09:00+08:00 (seconds optional).
        #[arg(long)]
        at: String,
    },
    /// Send the reminders due now (or at --at) once and exit: to Telegram chats
    /// (needs TELOXIDE_TOKEN) and to the group robots in jxjy.toml.
    Send {
        /// Pretend it is this moment (RFC 3339); default: now.
        #[arg(long)]
        at: Option<String>,
        /// Reminders marked in flight per durable write.
        #[arg(long, default_value_t = jxjy_bot::reminders::DEFAULT_BATCH)]
        batch: usize,
        /// Turn Telegram's rate limits off (benchmarks against a fake API only).
        #[arg(long, env = "JXJY_NO_THROTTLE")]
        no_throttle: bool,
    },
}

#[derive(Subcommand)]
enum KbCommand {
    /// Validate the knowledge directory; non-zero exit on any problem.
    Check,
    /// Start the next guide year: copy the newest year's directory to
    /// knowledge/YEAR/ with every year-specific fact marked unfilled
    /// (`kb check` fails until each is set). With --source, the facts the
    /// new guide's text states are filled in and printed old → new.
    NewYear {
        /// The new guide's year, e.g. 2026.
        year: u32,
        /// The new guide's text (copied to knowledge/YEAR/source.txt).
        #[arg(long)]
        source: Option<PathBuf>,
    },
    /// The questions the bot could not answer, grouped, each with the entry
    /// it most likely belongs to (teach it with `kb teach`).
    Suggest,
    /// Add a question as a phrasing of an entry (newest year's faq.toml,
    /// comments and layout kept); kept only if `kb check` still passes. A
    /// running bot picks it up on reload (SIGHUP).
    Teach {
        /// The question, as teachers ask it.
        question: String,
        /// The entry's id (`jxjy-bot kb export --json` lists them).
        entry: String,
    },
    /// Print every entry with its rendered answer.
    Export {
        /// As one JSON list (the only format for now).
        #[arg(long)]
        json: bool,
    },
}

/// Answering allocates many small strings: mimalloc serves them faster
/// than the system allocator (README, Bench).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jxjy-bot: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn kb_dir(cli: &Cli) -> PathBuf {
    cli.kb.clone().unwrap_or_else(knowledge::default_dir)
}

fn load(cli: &Cli) -> Result<Arc<Kb>> {
    let dir = kb_dir(cli);
    let kb = Kb::load(&dir).with_context(|| format!("loading knowledge from {}", dir.display()))?;
    Ok(Arc::new(kb))
}

fn serve(cli: &Cli, no_throttle: bool, remind_every: u64) -> Result<()> {
    init_logging();
    // Check the token before loading anything, for a clear message.
    let tg = jxjy_bot::telegram::from_env(!no_throttle)?;
    let responder = responder(cli)?;
    let store = Store::open(&cli.data_dir)?;
    let app = Arc::new(jxjy_bot::bot::App {
        responder,
        store,
        schedule: schedule(cli)?,
        clock: Arc::new(jxjy_bot::clock::SystemClock),
        admins: jxjy_bot::bot::parse_admins(&std::env::var("JXJY_ADMINS").unwrap_or_default()),
        webhooks: webhooks(cli)?,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        tracing::info!(
            year = app.responder.kb().facts.year,
            robots = app.webhooks.len(),
            "jxjy-bot serving Telegram"
        );
        let opts = jxjy_bot::bot::Options {
            reminder_every: std::time::Duration::from_secs(remind_every.max(1)),
            ..Default::default()
        };
        jxjy_bot::bot::run(Arc::new(tg), app, opts, jxjy_bot::bot::shutdown_signal()).await
    })
}

/// Logs to stderr, level from RUST_LOG (default info). The bot token is
/// never logged: request errors are logged without their URL.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: journald and log files get plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The config file: --config / JXJY_CONFIG (which must exist), or
/// ./jxjy.toml when present, or none.
fn config_path(cli: &Cli) -> Option<PathBuf> {
    match &cli.config {
        Some(p) => Some(p.clone()),
        None if std::path::Path::new("jxjy.toml").is_file() => Some(PathBuf::from("jxjy.toml")),
        None => None,
    }
}

/// The webhook targets of the config file, if any.
fn webhooks(cli: &Cli) -> Result<Vec<webhook::Target>> {
    match config_path(cli) {
        Some(path) => Ok(webhook::load_config(&path)?),
        None => Ok(Vec::new()),
    }
}

/// The bot's replies: the knowledge base, and the school's contact from
/// the config file for what the guide does not cover.
fn responder(cli: &Cli) -> Result<Responder> {
    let contacts = match config_path(cli) {
        Some(path) => jxjy_bot::config::contacts(&path)?,
        None => jxjy_bot::dialogue::Contacts::default(),
    };
    Ok(Responder::new(load(cli)?).with_contacts(contacts))
}

fn webhook_client() -> Result<webhook::WebhookClient> {
    Ok(webhook::WebhookClient::new(
        Arc::new(jxjy_bot::clock::SystemClock),
        Arc::new(jxjy_bot::clock::TokioSleeper),
    )?)
}

fn schedule(cli: &Cli) -> Result<Schedule> {
    Schedule::parse(&cli.remind_days, &cli.remind_at)
        .map_err(|e| anyhow::anyhow!("reminder schedule: {e}"))
}

/// RFC 3339, with or without seconds ("2024-12-24T09:00+08:00").
fn parse_moment(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z"))
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|_| anyhow::anyhow!("'{s}' is not a moment like 2024-12-24T09:00+08:00"))
}

fn run() -> Result<std::process::ExitCode> {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Ask {
            json,
            explain,
            question,
        }) => {
            let responder = responder(&cli)?;
            let question = question.join(" ");
            if *explain {
                explain_match(&responder, &question);
            }
            ask(&responder, *json, &question)?;
        }
        None if std::env::var("TELOXIDE_TOKEN").is_ok_and(|t| !t.trim().is_empty()) => {
            serve(&cli, false, 60)?;
        }
        Some(Command::Serve {
            no_throttle,
            remind_every,
        }) => {
            serve(&cli, *no_throttle, *remind_every)?;
        }
        Some(Command::Stats) => {
            let responder = responder(&cli)?;
            let store = Store::open(&cli.data_dir)?;
            print!(
                "{}",
                jxjy_bot::stats::report(&store, responder.matcher().analyzer())?
            );
        }
        Some(Command::Chat) | None => {
            let responder = responder(&cli)?;
            if cli.command.is_none() {
                eprintln!(
                    "TELOXIDE_TOKEN is not set: opening the bot in the terminal. \
                     To connect Telegram, set TELOXIDE_TOKEN to the token from @BotFather."
                );
            }
            let store = match Store::open(&cli.data_dir) {
                Ok(s) => Some(s),
                // A damaged store is never used, nor silently replaced.
                Err(e @ jxjy_bot::error::StoreError::Damaged { .. }) => return Err(e.into()),
                Err(e) => {
                    eprintln!("note: {e}; /log, /hours and /remind are unavailable");
                    None
                }
            };
            chat(&responder, store.as_ref(), &schedule(&cli)?)?;
        }
        Some(Command::Webhook { command }) => webhook_command(&cli, command)?,
        Some(Command::Remind {
            command: RemindCommand::Plan { at },
        }) => remind_plan(&cli, &parse_moment(at)?)?,
        Some(Command::Remind {
            command:
                RemindCommand::Send {
                    at,
                    batch,
                    no_throttle,
                },
        }) => {
            let at = match at {
                Some(a) => parse_moment(a)?,
                None => chrono::Utc::now(),
            };
            return remind_send(&cli, at, *batch, *no_throttle);
        }
        Some(Command::Backup { file }) => {
            let store = Store::open(&cli.data_dir)?;
            let n = jxjy_bot::backup::write(&store, file)?;
            println!("{n} records written to {}", file.display());
        }
        Some(Command::Restore { file, force }) => {
            let r = jxjy_bot::backup::restore(file, &cli.data_dir, *force)?;
            println!(
                "{} records restored into {}",
                r.records,
                cli.data_dir.display()
            );
            if let Some(aside) = r.moved_aside {
                println!("the previous files are in {}", aside.display());
            }
        }
        Some(Command::Kb {
            command: KbCommand::Check,
        }) => return kb_check(&cli),
        Some(Command::Kb {
            command: KbCommand::Export { json: _ },
        }) => kb_export(&cli)?,
        Some(Command::Kb {
            command: KbCommand::Suggest,
        }) => {
            let responder = responder(&cli)?;
            let (qs, from) = jxjy_bot::teach::questions(&cli.data_dir)?;
            let groups = jxjy_bot::teach::suggest(responder.matcher(), responder.kb(), &qs);
            println!("{} question(s) from {from}", qs.len());
            for g in &groups {
                let entry = match &g.entry {
                    Some((id, s)) => format!("→ {id} ({s:.2})"),
                    None => "→ no entry comes near".to_string(),
                };
                println!("{:>5}  {}  {entry}", g.count, g.example);
            }
            if let Some((id, _)) = groups.iter().find_map(|g| g.entry.as_ref()) {
                println!("\nteach one: jxjy-bot kb teach \"<question>\" {id}");
            }
        }
        Some(Command::Kb {
            command: KbCommand::Teach { question, entry },
        }) => {
            let path = jxjy_bot::teach::teach(&kb_dir(&cli), question, entry)?;
            println!(
                "taught: \"{question}\" → {entry} ({}); kb check ok. A running bot picks it up on reload (kill -HUP).",
                path.display()
            );
        }
        Some(Command::Kb {
            command: KbCommand::NewYear { year, source },
        }) => {
            let text = match source {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
                None => None,
            };
            let outcome = jxjy_bot::newyear::new_year(&kb_dir(&cli), *year, text.as_deref())?;
            print!("{}", jxjy_bot::newyear::report(&outcome, *year));
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn webhook_command(cli: &Cli, command: &WebhookCommand) -> Result<()> {
    let targets = webhooks(cli)?;
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
            let client = webhook_client()?;
            let answer = runtime()?
                .block_on(client.send(t, "继续教育小助手：测试消息（webhook test）。"))?;
            println!("{} answered: {answer}", t.name);
        }
    }
    Ok(())
}

/// What would be sent at `at`, to chats and robots, without sending.
fn remind_plan(cli: &Cli, at: &chrono::DateTime<chrono::Utc>) -> Result<()> {
    let kb = load(cli)?;
    let schedule = schedule(cli)?;
    let store = Store::open(&cli.data_dir)?;
    let robots = webhooks(cli)?;
    let chats = reminders::plan_from_store(&store, &kb.facts, &schedule, *at)?;
    let names: Vec<String> = robots.iter().map(|t| t.name.clone()).collect();
    let hooks = reminders::plan_robots(&store, &kb.facts, &schedule, &names, *at)?;
    if chats.is_empty() && hooks.is_empty() {
        println!("nothing due at {at}");
    }
    let due = |s: &reminders::Slot| s.due.with_timezone(&schedule.tz).format("%Y-%m-%d %H:%M");
    for p in hooks.iter().chain(&chats) {
        let to = match &p.to {
            Address::Robot(name) => {
                let kind = robots.iter().find(|t| &t.name == name).map(|t| t.kind);
                format!(
                    "webhook {name} ({})",
                    kind.map_or("?".into(), |k| format!("{k:?}"))
                )
            }
            Address::Chat { id, kind } => format!("chat {id} ({kind:?})"),
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
    cli: &Cli,
    at: chrono::DateTime<chrono::Utc>,
    batch: usize,
    no_throttle: bool,
) -> Result<std::process::ExitCode> {
    init_logging();
    let kb = load(cli)?;
    let schedule = schedule(cli)?;
    let store = Store::open(&cli.data_dir)?;
    let targets = webhooks(cli)?;
    let telegram = match jxjy_bot::telegram::from_env(!no_throttle) {
        Ok(t) => Some(Arc::new(t)),
        Err(jxjy_bot::telegram::SetupError::NoToken) if !targets.is_empty() => None,
        Err(e) => return Err(e.into()),
    };
    let robots = if targets.is_empty() {
        None
    } else {
        Some(webhook::Robots {
            client: Arc::new(webhook_client()?),
            targets,
        })
    };
    let outbox = Outbox { telegram, robots };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(async {
        let (handle, stop) = jxjy_bot::clock::Stop::new();
        tokio::spawn(async move {
            jxjy_bot::bot::shutdown_signal().await;
            handle.stop();
        });
        let opts = delivery::Options { batch, stop };
        delivery::deliver_due(&store, &kb.facts, &schedule, at, &outbox, &opts).await
    })?;
    store.flush()?;
    println!(
        "sent {}, blocked {}, migrated {}, failed {}, unknown {}, given up {}{}",
        r.sent,
        r.blocked,
        r.migrated,
        r.failed,
        r.unknown,
        r.gave_up,
        if r.interrupted {
            " (stopped early; run again to send the rest)"
        } else {
            ""
        }
    );
    for e in &r.stopped {
        eprintln!("  {e}");
    }
    if let Some(e) = &r.fatal {
        eprintln!("jxjy-bot: {e}");
        return Ok(std::process::ExitCode::from(1));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn kb_check(cli: &Cli) -> Result<std::process::ExitCode> {
    let dir = kb_dir(cli);
    let problems = jxjy_bot::check::check_dir(&dir)?;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    for w in jxjy_bot::check::warnings(&dir, today)? {
        eprintln!("warning: {w}");
    }
    if problems.is_empty() {
        println!("{}: ok", dir.display());
        return Ok(std::process::ExitCode::SUCCESS);
    }
    for p in &problems {
        eprintln!("{p}");
    }
    eprintln!("{} problem(s)", problems.len());
    Ok(std::process::ExitCode::from(1))
}

fn kb_export(cli: &Cli) -> Result<()> {
    let kb = load(cli)?;
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
    Ok(())
}

fn ask(responder: &Responder, json: bool, question: &str) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json && question.trim().is_empty() {
        // Batch mode: one JSON line per stdin line, in order.
        let stdin = std::io::stdin();
        for line in lossy_lines(stdin.lock()) {
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
        writeln!(out, "{}", responder.ask(question).render_plain())?;
    }
    out.flush()?;
    Ok(())
}

fn explain_match(responder: &Responder, question: &str) {
    let analyzer = responder.matcher().analyzer();
    println!("normalised: {}", analyzer.normalize(question));
    let f = analyzer.features(question);
    println!("words:      {}", f.words.join(" / "));
    println!("bigrams:    {}", f.bigrams.join(" "));
    println!("asks:       {}", f.asks.join(" / "));
    for (i, s) in responder.matcher().rank(question).iter().take(5) {
        println!("  {:.3}  {}", s, responder.kb().entries[*i].id);
    }
    let clauses = responder.clauses(question);
    if clauses.len() > 1 || clauses.iter().any(|c| !c.context.is_empty()) {
        for c in clauses {
            println!("question:   {}    (context: {})", c.text, c.context);
        }
    }
}

/// The terminal user's id in the store (Telegram ids are never 0).
const TERMINAL_USER: i64 = 0;

/// /log, /hours, /undo, /remind, /forget for the terminal user.
fn tracker_command(
    store: Option<&Store>,
    facts: &knowledge::Facts,
    schedule: &Schedule,
    input: &str,
) -> Option<String> {
    let (cmd, args) = input.split_once(char::is_whitespace).unwrap_or((input, ""));
    if !matches!(cmd, "/log" | "/hours" | "/undo" | "/remind" | "/forget") {
        return None;
    }
    let Some(store) = store else {
        return Some("数据目录不可用，无法记录学时或设置提醒。".into());
    };
    let ctx = Ctx {
        store,
        facts,
        schedule,
        now: chrono::Utc::now(),
        op: None,
    };
    let result = match cmd {
        "/log" => commands::log(&ctx, TERMINAL_USER, args),
        "/hours" => commands::hours(&ctx, TERMINAL_USER),
        "/undo" => commands::undo(&ctx, TERMINAL_USER),
        "/remind" => commands::remind(&ctx, TERMINAL_USER, ChatKind::Private, args, true),
        _ => commands::forget(&ctx, TERMINAL_USER),
    };
    Some(result.unwrap_or_else(|e| format!("出错了：{e}")))
}

fn chat(responder: &Responder, store: Option<&Store>, schedule: &Schedule) -> Result<()> {
    let kb = responder.kb();
    println!(
        "继续教育小助手（{}年度指南）。输入问题，输入数字选择按钮，/menu 看主题；\n/log 公需 10 记录学时，/hours 查看，/undo 撤销，/remind on|off 提醒，/quit 退出。",
        kb.facts.year
    );
    let stdin = std::io::stdin();
    let mut last: Option<jxjy_bot::dialogue::Reply> = None;
    print_prompt()?;
    for line in lossy_lines(stdin.lock()) {
        let line = line.context("reading stdin")?;
        let input = line.trim();
        let reply = if input == "/quit" || input == "/exit" {
            break;
        } else if input.is_empty() {
            print_prompt()?;
            continue;
        } else if input == "/menu" || input == "/start" {
            responder.menu()
        } else if let Some(text) = tracker_command(store, &kb.facts, schedule, input) {
            jxjy_bot::dialogue::Reply::info(text)
        } else if let Some(button) = input.parse::<usize>().ok().and_then(|n| {
            last.as_ref()?
                .choices()
                .get(n.wrapping_sub(1))
                .map(|b| b.action.clone())
        }) {
            match button {
                Action::Show(id) => responder
                    .answer_id(&id)
                    .unwrap_or_else(|| responder.decline()),
                Action::Feedback { entry, helpful } => {
                    let text = match store.map(|s| s.vote(&entry, TERMINAL_USER, helpful)) {
                        Some(Err(e)) => format!("反馈未能保存：{e}"),
                        Some(Ok(jxjy_bot::store::Vote::Same)) => "您已评价过这条回答。".to_string(),
                        _ if helpful => "谢谢反馈！".to_string(),
                        _ => "谢谢反馈，我们会改进。".to_string(),
                    };
                    jxjy_bot::dialogue::Reply::info(text)
                }
            }
        } else {
            responder.ask(input)
        };
        println!("{}\n", reply.render_plain());
        last = Some(reply);
        print_prompt()?;
    }
    Ok(())
}

/// Lines of `r` without their "\n" or "\r\n"; bytes that are not UTF-8
/// become U+FFFD instead of ending the input.
fn lossy_lines(r: impl BufRead) -> impl Iterator<Item = std::io::Result<String>> {
    r.split(b'\n').map(|line| {
        line.map(|mut b| {
            if b.last() == Some(&b'\r') {
                b.pop();
            }
            String::from_utf8_lossy(&b).into_owned()
        })
    })
}

fn print_prompt() -> Result<()> {
    print!("> ");
    std::io::stdout().flush()?;
    Ok(())
}
