//! The `jxjy-bot` binary: a thin CLI over the library.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use jxjy_bot::dialogue::{Action, Responder};
use jxjy_bot::knowledge::{self, Kb};
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
    /// Knowledge-base tools.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
}

#[derive(Subcommand)]
enum KbCommand {
    /// Validate the knowledge directory; non-zero exit on any problem.
    Check,
    /// Print every entry with its rendered answer.
    Export {
        /// As one JSON list (the only format for now).
        #[arg(long)]
        json: bool,
    },
}

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

fn run() -> Result<std::process::ExitCode> {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Ask {
            json,
            explain,
            question,
        }) => {
            let responder = Responder::new(load(&cli)?);
            let question = question.join(" ");
            if *explain {
                explain_match(&responder, &question);
            }
            ask(&responder, *json, &question)?;
        }
        Some(Command::Chat) | None => {
            let responder = Responder::new(load(&cli)?);
            if cli.command.is_none() {
                eprintln!(
                    "TELOXIDE_TOKEN is not set: opening the bot in the terminal. \
                     To connect Telegram, set TELOXIDE_TOKEN to the token from @BotFather."
                );
            }
            chat(&responder)?;
        }
        Some(Command::Kb { command }) => match command {
            KbCommand::Check => {
                let dir = kb_dir(&cli);
                let problems = jxjy_bot::check::check_dir(&dir)?;
                if problems.is_empty() {
                    println!("{}: ok", dir.display());
                } else {
                    for p in &problems {
                        eprintln!("{p}");
                    }
                    eprintln!("{} problem(s)", problems.len());
                    return Ok(std::process::ExitCode::from(1));
                }
            }
            KbCommand::Export { json: _ } => {
                let kb = load(&cli)?;
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
            }
        },
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn ask(responder: &Responder, json: bool, question: &str) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json && question.trim().is_empty() {
        // Batch mode: one JSON line per stdin line, in order.
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
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
    for (i, s) in responder.matcher().rank(question).iter().take(5) {
        println!("  {:.3}  {}", s, responder.kb().entries[*i].id);
    }
}

fn chat(responder: &Responder) -> Result<()> {
    let kb = responder.kb();
    println!(
        "继续教育小助手（{}年度指南）。输入问题，输入数字选择按钮，/menu 看主题，/quit 退出。",
        kb.facts.year
    );
    let stdin = std::io::stdin();
    let mut last: Option<jxjy_bot::dialogue::Reply> = None;
    print_prompt()?;
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        let input = line.trim();
        let reply = if input == "/quit" || input == "/exit" {
            break;
        } else if input.is_empty() {
            print_prompt()?;
            continue;
        } else if input == "/menu" || input == "/start" {
            responder.menu()
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
                Action::Feedback { helpful, .. } => jxjy_bot::dialogue::Reply::info(
                    if helpful {
                        "谢谢反馈！"
                    } else {
                        "谢谢反馈，我们会改进。"
                    }
                    .to_string(),
                ),
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

fn print_prompt() -> Result<()> {
    print!("> ");
    std::io::stdout().flush()?;
    Ok(())
}
