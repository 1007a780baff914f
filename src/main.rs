//! The `jxjy-bot` binary: parse the command line, resolve the settings
//! once ([`jxjy_bot::settings`]), dispatch to a command ([`cli`]).

mod cli;

use clap::Parser;
use jxjy_bot::settings::{Args, Command, Settings};
use std::process::ExitCode;

/// Answering allocates many small strings: mimalloc serves them faster
/// than the system allocator (README, Bench).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // mimalloc asks for transparent huge pages: every touched 2 MiB counts,
    // and `serve` peaked at 131 MB instead of 74 MB (README, Bench). The
    // kernel decides per page fault, so turning them off here, before any
    // thread starts, covers all but the few bytes allocated before main.
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE takes plain integers and only
    // sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jxjy-bot: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let s = Settings::resolve(&args)?;
    match &args.command {
        Some(Command::Ask {
            json,
            explain,
            question,
        }) => cli::ask(&s, *json, *explain, &question.join(" "))?,
        None if s.telegram.is_some() => cli::serve(&s, false, 60)?,
        Some(Command::Serve {
            no_throttle,
            remind_every,
        }) => cli::serve(&s, *no_throttle, *remind_every)?,
        Some(Command::Chat) => cli::chat(&s, false)?,
        None => cli::chat(&s, true)?,
        Some(Command::Stats) => cli::stats(&s)?,
        Some(Command::Kb { command }) => return cli::kb(&s, command),
        Some(Command::Webhook { command }) => cli::webhook(&s, command)?,
        Some(Command::Remind { command }) => return cli::remind(&s, command),
        Some(Command::Dingtalk { command }) => return cli::dingtalk(&s, command),
        Some(Command::Wecom { command }) => return cli::wecom(&s, command),
        Some(Command::Feishu { command }) => return cli::feishu(&s, command),
        Some(Command::Admin { command }) => cli::admin(&s, command)?,
        Some(Command::Backup { file }) => cli::backup(&s, file)?,
        Some(Command::Restore { file, force }) => cli::restore(&s, file, *force)?,
    }
    Ok(ExitCode::SUCCESS)
}
