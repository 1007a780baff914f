//! Commands, parsed once for every channel: `/name args` (with an
//! optional `@bot`), and a small set of Chinese words that mean the same
//! on platforms where a slash is awkward. The words are whole messages
//! (or a word and its arguments), never a question's start: "学时" stays a
//! question, "我的学时" is `/hours`.

/// A command the core runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start,
    Help,
    Ask(String),
    Menu,
    Deadline,
    Platforms,
    Hotline,
    Log(String),
    Hours(String),
    Undo,
    Remind(String),
    Forget,
    Stats,
}

/// One command of the help and of Telegram's command list.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub about: &'static str,
    /// The Chinese words that run it too.
    pub words: &'static str,
}

/// Every command, in the order /help lists them.
pub const COMMANDS: &[Spec] = &[
    Spec {
        name: "start",
        about: "开始：我能回答什么",
        words: "",
    },
    Spec {
        name: "help",
        about: "显示本帮助",
        words: "帮助",
    },
    Spec {
        name: "ask",
        about: "提问，例如 /ask 每年要多少学时",
        words: "",
    },
    Spec {
        name: "menu",
        about: "主题菜单",
        words: "菜单",
    },
    Spec {
        name: "deadline",
        about: "截止日期和剩余天数",
        words: "",
    },
    Spec {
        name: "platforms",
        about: "学习平台和客服电话",
        words: "",
    },
    Spec {
        name: "hotline",
        about: "咨询电话",
        words: "",
    },
    Spec {
        name: "log",
        about: "记录本年度学时，例如 /log 公需 10（私聊）",
        words: "记录 公需 10",
    },
    Spec {
        name: "hours",
        about: "查看本年度学时，/hours 2024 查看往年（私聊）",
        words: "我的学时",
    },
    Spec {
        name: "undo",
        about: "撤销上一条学时记录（私聊）",
        words: "撤销",
    },
    Spec {
        name: "remind",
        about: "截止提醒：/remind on 或 /remind off",
        words: "提醒、开启提醒、关闭提醒",
    },
    Spec {
        name: "forget",
        about: "删除我的全部数据（私聊）",
        words: "删除我的数据",
    },
    Spec {
        name: "stats",
        about: "使用统计（仅管理员，私聊）",
        words: "统计",
    },
];

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(Command),
    /// A slash command the bot does not have.
    Unknown(String),
    /// A command addressed to another bot ("/ask@other_bot").
    NotForUs,
    /// Anything else: a question.
    Question,
}

impl Command {
    fn from_name(name: &str, args: &str) -> Option<Command> {
        let args = args.trim().to_string();
        Some(match name {
            "start" => Command::Start,
            "help" => Command::Help,
            "ask" => Command::Ask(args),
            "menu" => Command::Menu,
            "deadline" => Command::Deadline,
            "platforms" => Command::Platforms,
            "hotline" => Command::Hotline,
            "log" => Command::Log(args),
            "hours" => Command::Hours(args),
            "undo" => Command::Undo,
            "remind" => Command::Remind(args),
            "forget" => Command::Forget,
            "stats" => Command::Stats,
            _ => return None,
        })
    }

    /// Its slash form, for replies that name it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Start => "/start",
            Command::Help => "/help",
            Command::Ask(_) => "/ask",
            Command::Menu => "/menu",
            Command::Deadline => "/deadline",
            Command::Platforms => "/platforms",
            Command::Hotline => "/hotline",
            Command::Log(_) => "/log",
            Command::Hours(_) => "/hours",
            Command::Undo => "/undo",
            Command::Remind(_) => "/remind",
            Command::Forget => "/forget",
            Command::Stats => "/stats",
        }
    }

    /// Commands that show or change a teacher's own records: private
    /// chats only.
    pub fn is_private(&self) -> bool {
        matches!(
            self,
            Command::Log(_) | Command::Hours(_) | Command::Undo | Command::Forget | Command::Stats
        )
    }
}

/// Read a message: a slash command (for `me`, when it names a bot), a
/// command word, or a question.
pub fn parse(text: &str, me: Option<&str>) -> Parsed {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix('/') {
        let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let (name, to) = match head.split_once('@') {
            Some((n, bot)) => (n, Some(bot)),
            None => (head, None),
        };
        if let Some(bot) = to
            && !me.is_some_and(|m| m.eq_ignore_ascii_case(bot))
        {
            return Parsed::NotForUs;
        }
        let name = name.to_ascii_lowercase();
        return match Command::from_name(&name, args) {
            Some(c) => Parsed::Command(c),
            None => Parsed::Unknown(name),
        };
    }
    word(t).map_or(Parsed::Question, Parsed::Command)
}

/// The Chinese command words (see [`COMMANDS`]).
fn word(t: &str) -> Option<Command> {
    let t = t.trim_end_matches(['。', '！', '!', '？', '?', '.']).trim();
    let (head, args) = match t.split_once(char::is_whitespace) {
        Some((h, a)) => (h, a.trim()),
        None => (t, ""),
    };
    let alone = args.is_empty();
    Some(match head {
        "菜单" | "主题菜单" if alone => Command::Menu,
        "帮助" | "命令" if alone => Command::Help,
        "记录" => Command::Log(args.to_string()),
        "我的学时" => Command::Hours(args.to_string()),
        "撤销" if alone => Command::Undo,
        "提醒" => Command::Remind(args.to_string()),
        "开启提醒" | "打开提醒" if alone => Command::Remind("on".into()),
        "关闭提醒" if alone => Command::Remind("off".into()),
        "删除我的数据" if alone => Command::Forget,
        "统计" if alone => Command::Stats,
        _ => return None,
    })
}

/// The /help text.
pub fn help() -> String {
    let mut s = String::from("继续教育小助手的命令：");
    for c in COMMANDS {
        s.push_str(&format!("\n/{} — {}", c.name, c.about));
    }
    let words: Vec<&str> = COMMANDS
        .iter()
        .map(|c| c.words)
        .filter(|w| !w.is_empty())
        .collect();
    s.push_str(&format!(
        "\n也可以直接发送中文：{}。其他文字都当作问题回答。",
        words.join("、")
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_commands_with_and_without_the_bot_name() {
        assert_eq!(parse("/menu", None), Parsed::Command(Command::Menu));
        assert_eq!(
            parse("/ask@JxjyBot 咨询电话", Some("jxjybot")),
            Parsed::Command(Command::Ask("咨询电话".into()))
        );
        assert_eq!(
            parse("/ask@other_bot 学时", Some("jxjybot")),
            Parsed::NotForUs
        );
        assert_eq!(
            parse("/LOG 公需 10", None),
            Parsed::Command(Command::Log("公需 10".into()))
        );
        assert_eq!(parse("/nonsense", None), Parsed::Unknown("nonsense".into()));
        assert_eq!(parse("/", None), Parsed::Unknown(String::new()));
    }

    #[test]
    fn chinese_words_are_commands_and_questions_stay_questions() {
        for (text, want) in [
            ("菜单", Command::Menu),
            ("帮助。", Command::Help),
            ("记录 公需 10", Command::Log("公需 10".into())),
            ("我的学时", Command::Hours(String::new())),
            ("我的学时 2024", Command::Hours("2024".into())),
            ("撤销", Command::Undo),
            ("提醒", Command::Remind(String::new())),
            ("提醒 开", Command::Remind("开".into())),
            ("开启提醒", Command::Remind("on".into())),
            ("关闭提醒", Command::Remind("off".into())),
            ("删除我的数据", Command::Forget),
            ("统计", Command::Stats),
        ] {
            assert_eq!(parse(text, None), Parsed::Command(want), "{text}");
        }
        for q in [
            "学时",
            "菜单在哪里",
            "记录学时怎么弄",
            "提醒我截止日期",
            "每年要多少学时",
            "撤销申报怎么操作",
        ] {
            assert_eq!(parse(q, None), Parsed::Question, "{q}");
        }
    }

    #[test]
    fn help_lists_every_command_and_word() {
        let h = help();
        for c in COMMANDS {
            assert!(h.contains(&format!("/{}", c.name)), "{h}");
        }
        assert!(h.contains("菜单") && h.contains("我的学时"), "{h}");
    }
}
