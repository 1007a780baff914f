//! The fixed texts of the conversation (the answers themselves come from
//! the knowledge base through [`crate::dialogue`]).

pub const UNKNOWN_COMMAND: &str = "没有这个命令。发送 /help 查看可用命令，或直接输入问题。";
pub const TEXT_PLEASE: &str = "请用文字发送您的问题，例如：“每年要完成多少学时？”";
pub const EDITED_COMMAND: &str = "修改过的命令不会再次执行；如需执行，请重新发送命令。";
pub const ASK_USAGE: &str = "用法：/ask 问题，例如 /ask 每年要多少学时";
pub const BUTTON_EXPIRED: &str = "该按钮已过期，请重新提问。";
pub const NO_STORE: &str = "数据目录不可用，无法记录学时或设置提醒。";
pub const STATS_ADMINS_ONLY: &str = "抱歉，/stats 仅限管理员使用。";
pub const REMIND_USAGE: &str = "用法：/remind on 开启提醒，/remind off 关闭提醒，/remind 查看状态（也可发送“开启提醒”“关闭提醒”“提醒”）。";
pub const REMIND_ADMINS_ONLY: &str = "抱歉，只有群管理员可以开启或关闭本群的提醒。";
pub const HOURS_USAGE: &str = "用法：/hours 查看本年度学时，/hours 2024 查看2024年度。";
pub const FORGOTTEN: &str = "已删除您的学时记录和提醒设置。";
pub const NOTHING_TO_UNDO: &str = "没有可撤销的记录。";
pub const UNDONE_AGAIN: &str = "已撤销上一条记录。";
pub const VOTE_UP: &str = "谢谢反馈！";
pub const VOTE_DOWN: &str = "谢谢反馈，我们会改进。";
pub const VOTE_SAME: &str = "您已评价过这条回答。";
pub const VOTE_CHANGED_UP: &str = "已改为 👍，谢谢反馈！";
pub const VOTE_CHANGED_DOWN: &str = "已改为 👎，我们会改进。";
/// A channel that cannot push a message (the terminal).
pub const NO_PUSH: &str =
    "这里收不到推送的提醒：请在 Telegram 等聊天软件中向我发送 /remind on 开启截止提醒。";

/// A store error, in the terminal.
pub const ERROR: &str = "出错了";

/// The season line of /stats and `jxjy-bot stats`.
pub fn season_line(season: &crate::season::Season) -> String {
    let reminders = match season.reminders {
        Some(f) => format!(
            "提醒依据{}年度指南（截止{}）。",
            f.year,
            crate::knowledge::chinese_date(f.deadline)
        ),
        None => "没有截止日期未到的指南，提醒暂停。".to_string(),
    };
    match season.guide {
        Some(_) => format!("当前年度：{}年度，指南已收录。{reminders}", season.year),
        None => format!(
            "当前年度：{}年度，指南尚未收录（最新为{}年度）。{reminders}",
            season.year, season.newest.year
        ),
    }
}

/// In a group, a teacher's own records stay private.
pub fn private_only(cmd: &str, link: Option<&str>) -> String {
    match link {
        Some(l) => format!("为保护隐私，{cmd} 只在私聊中使用：请点开 {l} 后发送 {cmd}。"),
        None => format!("为保护隐私，{cmd} 只在私聊中使用：请私聊我后发送 {cmd}。"),
    }
}

/// The first lines of the terminal chat: the guide it answers from, and
/// the season when that guide is not this season's.
pub fn terminal_intro(season: &crate::season::Season) -> String {
    let missing = match season.guide {
        Some(_) => String::new(),
        None => format!("；{}年度指南尚未收录", season.year),
    };
    format!(
        "继续教育小助手（{}年度指南{missing}）。输入问题，输入数字选择按钮，/menu 看主题；\n/log 公需 10 记录学时，/hours 查看，/undo 撤销，/help 全部命令，/quit 退出。",
        season.newest.year
    )
}
