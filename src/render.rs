//! Replies for platforms without buttons: the text, then each button as a
//! numbered choice; typing the number presses it. The terminal uses this,
//! and so can any text-only messenger (cards and keyboards are rendered by
//! their own adapters).

use crate::conversation::{Input, Output};
use crate::dialogue::{Action, Reply};

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
