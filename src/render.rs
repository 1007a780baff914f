//! Replies for platforms without buttons: the text, then each button as a
//! numbered choice; typing the number presses it. The terminal uses this,
//! and so can any text-only messenger (cards and keyboards are rendered by
//! their own adapters).

use crate::conversation::{Input, Output};
use crate::dialogue::{Action, Reply};
use crate::identity::Identity;
use std::collections::HashMap;
use std::sync::Mutex;

/// The text with its buttons as numbered choices ("  [1] 学时要求").
pub fn plain(r: &Reply) -> String {
    let mut s = r.text.clone();
    for (n, b) in r.choices().iter().enumerate() {
        s.push_str(&format!("\n  [{}] {}", n + 1, b.label));
    }
    s
}

/// A whole output: the note of a pressed button, then each message.
pub fn plain_output(out: &Output) -> String {
    let mut parts: Vec<String> = out.note.iter().cloned().collect();
    parts.extend(out.messages.iter().map(plain));
    parts.join("\n\n")
}

/// The numbered choices last shown in a chat: a number typed next
/// presses the button.
#[derive(Debug, Clone, Default)]
pub struct Choices(Vec<Action>);

impl Choices {
    /// The choices of the last message with buttons in `out`; none if it
    /// has none (the previous ones are then no longer on screen).
    pub fn of(out: &Output) -> Choices {
        Choices(
            out.messages
                .iter()
                .rev()
                .find(|m| !m.buttons.is_empty())
                .map(|m| m.choices().iter().map(|b| b.action.clone()).collect())
                .unwrap_or_default(),
        )
    }

    /// A typed number as the button it names; None for anything else.
    pub fn pick(&self, typed: &str) -> Option<Input> {
        let n: usize = typed.trim().parse().ok()?;
        let action = self.0.get(n.checked_sub(1)?)?;
        Some(Input::Button(action.encode()))
    }
}

/// Most chats whose last choices are kept: past it they are all
/// forgotten (a number typed after that is read as a question).
pub const CHOICES_KEPT: usize = 10_000;

/// The choices last shown in each chat of a text-only messenger, so a
/// number typed next presses its button.
#[derive(Debug, Default)]
pub struct ChoiceMemory(Mutex<HashMap<Identity, Choices>>);

impl ChoiceMemory {
    fn chats(&self) -> std::sync::MutexGuard<'_, HashMap<Identity, Choices>> {
        // A panic elsewhere while it was held leaves a usable map.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `typed` in `chat` is: the button its number names, or text.
    pub fn press(&self, chat: &Identity, typed: &str) -> Input {
        self.chats()
            .get(chat)
            .and_then(|c| c.pick(typed))
            .unwrap_or_else(|| Input::Text(typed.to_string()))
    }

    /// Remember the choices `out` shows in `chat` (none: the old ones are
    /// off the screen).
    pub fn remember(&self, chat: &Identity, out: &Output) {
        let mut all = self.chats();
        if all.len() >= CHOICES_KEPT {
            all.clear();
        }
        all.insert(chat.clone(), Choices::of(out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::Button;

    #[test]
    fn numbers_press_the_last_buttons_shown_and_nothing_else() {
        let mut r = Reply::info("您是想问：".into());
        r.buttons = vec![
            vec![Button {
                label: "学时要求".into(),
                action: Action::Show("hours_total".into()),
            }],
            vec![Button {
                label: "截止时间".into(),
                action: Action::Show("deadline".into()),
            }],
        ];
        let out = Output {
            messages: vec![r.clone(), Reply::info("无按钮".into())],
            note: Some("谢谢反馈！".into()),
        };
        assert_eq!(
            plain_output(&out),
            "谢谢反馈！\n\n您是想问：\n  [1] 学时要求\n  [2] 截止时间\n\n无按钮"
        );
        let c = Choices::of(&out);
        assert_eq!(c.pick(" 2 "), Some(Input::Button("a:deadline".into())));
        for typed in ["0", "3", "-1", "abc", "", "99999999999999999999999"] {
            assert_eq!(c.pick(typed), None, "{typed:?}");
        }
        assert_eq!(Choices::of(&Output::default()).pick("1"), None);
        let memory = ChoiceMemory::default();
        let (a, b) = (Identity::telegram(1), Identity::telegram(2));
        memory.remember(&a, &out);
        assert_eq!(memory.press(&a, "1"), Input::Button("a:hours_total".into()));
        assert_eq!(
            memory.press(&b, "1"),
            Input::Text("1".into()),
            "another chat"
        );
        memory.remember(&a, &Output::default());
        assert_eq!(
            memory.press(&a, "1"),
            Input::Text("1".into()),
            "off the screen"
        );
    }
}
