//! The terminal front end of `jxjy-bot chat`: lines in, the core's
//! replies out as plain text with numbered choices. The person at the
//! terminal is `term:local`, a channel of its own (no Telegram chat), and
//! time comes from the core's clock.

use crate::conversation::{Conversation, Incoming, Input, NoAdminInfo, texts};
use crate::identity::Identity;
use crate::render::{self, Choices};
use std::io::{BufRead, Write};

/// Chat until the input ends or `/quit`.
pub fn run(core: &Conversation, input: impl BufRead, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{}", core.intro())?;
    let mut choices = Choices::default();
    prompt(out)?;
    for line in lossy_lines(input) {
        let line = line?;
        let text = line.trim();
        if matches!(text, "/quit" | "/exit" | "退出") {
            break;
        }
        if text.is_empty() {
            prompt(out)?;
            continue;
        }
        let input = choices
            .pick(text)
            .unwrap_or_else(|| Input::Text(text.to_string()));
        let msg = Incoming::private(Identity::terminal(), input);
        match futures::executor::block_on(core.handle(&msg, &NoAdminInfo)) {
            Ok(reply) => {
                writeln!(out, "{}\n", render::plain_output(&reply))?;
                if !reply.messages.is_empty() {
                    choices = Choices::of(&reply);
                }
            }
            Err(e) => writeln!(out, "{}：{e}\n", texts::ERROR)?,
        }
        prompt(out)?;
    }
    Ok(())
}

fn prompt(out: &mut impl Write) -> std::io::Result<()> {
    write!(out, "> ")?;
    out.flush()
}

/// Lines of `r` without their "\n" or "\r\n"; bytes that are not UTF-8
/// become U+FFFD instead of ending the input.
pub fn lossy_lines(r: impl BufRead) -> impl Iterator<Item = std::io::Result<String>> {
    r.split(b'\n').map(|line| {
        line.map(|mut b| {
            if b.last() == Some(&b'\r') {
                b.pop();
            }
            String::from_utf8_lossy(&b).into_owned()
        })
    })
}
