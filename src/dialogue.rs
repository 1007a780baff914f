//! What the bot says: turns a match into reply text and buttons. Shared by
//! the terminal chat, the CLI and the Telegram adapter, so every front end
//! gives the same replies.

use crate::knowledge::{Entry, Kb};
use crate::matcher::{Decision, Matcher};
use serde::Serialize;
use std::sync::Arc;

/// A runner-up this close to the answer is offered as the first button.
const RUNNER_UP_GAP: f32 = 0.05;

/// Telegram refuses callback data over 64 bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub action: Action,
}

/// What a button does when pressed; encoded into callback data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Show the answer of an entry.
    Show(String),
    /// Feedback on an entry's answer.
    Feedback { entry: String, helpful: bool },
}

impl Action {
    pub fn encode(&self) -> String {
        match self {
            Action::Show(id) => format!("a:{id}"),
            Action::Feedback { entry, helpful } => {
                format!("f:{}:{entry}", if *helpful { '+' } else { '-' })
            }
        }
    }

    /// Parse callback data; anything forged or stale is None, and an entry
    /// id is checked against the knowledge base by the caller.
    pub fn decode(data: &str) -> Option<Action> {
        if data.len() > MAX_CALLBACK_BYTES {
            return None;
        }
        let valid_id = crate::knowledge::valid_id;
        if let Some(id) = data.strip_prefix("a:") {
            return valid_id(id).then(|| Action::Show(id.to_string()));
        }
        let rest = data.strip_prefix("f:")?;
        let (sign, id) = rest.split_once(':')?;
        let helpful = match sign {
            "+" => true,
            "-" => false,
            _ => return None,
        };
        valid_id(id).then(|| Action::Feedback {
            entry: id.to_string(),
            helpful,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyKind {
    Answer,
    Candidates,
    Decline,
    Info,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    /// Rows of buttons.
    pub buttons: Vec<Vec<Button>>,
    pub kind: ReplyKind,
    pub matched: Option<String>,
    pub candidates: Vec<String>,
    pub score: f32,
    pub source: Option<String>,
}

/// The JSON line of `jxjy-bot ask --json`.
#[derive(Debug, Clone, Serialize)]
pub struct AskJson {
    pub question: String,
    pub matched: Option<String>,
    pub score: f32,
    pub answer: String,
    pub candidates: Vec<String>,
    pub source: Option<String>,
}

pub struct Responder {
    kb: Arc<Kb>,
    matcher: Matcher,
}

impl Responder {
    pub fn new(kb: Arc<Kb>) -> Responder {
        let matcher = Matcher::new(&kb);
        Responder { kb, matcher }
    }

    pub fn kb(&self) -> &Kb {
        &self.kb
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Reply to a free-text question.
    pub fn ask(&self, question: &str) -> Reply {
        if question.trim().is_empty() {
            return Reply::info("请直接输入您的问题，例如：“每年要完成多少学时？”".to_string());
        }
        let m = self.matcher.find(question);
        match m.decision {
            Decision::Answer(i) => {
                // A runner-up nearly as good is offered first among the
                // follow-up buttons: the question may have meant it.
                let runner_up = m
                    .ranked
                    .get(1)
                    .filter(|(_, s)| m.score - s <= RUNNER_UP_GAP)
                    .map(|(j, _)| self.kb.entries[*j].id.as_str());
                let mut r = self.answer_with(&self.kb.entries[i], runner_up);
                r.score = m.score;
                r
            }
            Decision::Candidates(ids) => {
                let entries: Vec<&Entry> = ids.iter().map(|&i| &self.kb.entries[i]).collect();
                let mut text = String::from("您是想问：");
                for (n, e) in entries.iter().enumerate() {
                    text.push_str(&format!("\n{}. {}", n + 1, e.title));
                }
                Reply {
                    text,
                    buttons: entries.iter().map(|e| vec![Button::show(e)]).collect(),
                    kind: ReplyKind::Candidates,
                    matched: None,
                    candidates: entries.iter().map(|e| e.id.clone()).collect(),
                    score: m.score,
                    source: None,
                }
            }
            Decision::Decline => {
                let mut r = self.decline();
                r.score = m.score;
                r
            }
        }
    }

    /// The answer of one entry, with related questions and feedback buttons.
    pub fn answer(&self, e: &Entry) -> Reply {
        self.answer_with(e, None)
    }

    fn answer_with(&self, e: &Entry, first: Option<&str>) -> Reply {
        let mut ids: Vec<&str> = first.into_iter().collect();
        for r in &e.related {
            if !ids.contains(&r.as_str()) {
                ids.push(r);
            }
        }
        let mut buttons: Vec<Vec<Button>> = ids
            .into_iter()
            .filter_map(|id| self.kb.entry(id))
            .take(3)
            .map(|r| vec![Button::show(r)])
            .collect();
        buttons.push(vec![
            Button {
                label: "👍 有帮助".into(),
                action: Action::Feedback {
                    entry: e.id.clone(),
                    helpful: true,
                },
            },
            Button {
                label: "👎 没帮助".into(),
                action: Action::Feedback {
                    entry: e.id.clone(),
                    helpful: false,
                },
            },
        ]);
        Reply {
            text: e.full_answer(),
            buttons,
            kind: ReplyKind::Answer,
            matched: Some(e.id.clone()),
            candidates: Vec::new(),
            score: 1.0,
            source: Some(e.source.clone()),
        }
    }

    /// The answer of an entry by id (a tapped button); None if unknown.
    pub fn answer_id(&self, id: &str) -> Option<Reply> {
        self.kb.entry(id).map(|e| self.answer(e))
    }

    pub fn decline(&self) -> Reply {
        let topics: Vec<&str> = self.kb.topics.iter().map(|t| t.label.as_str()).collect();
        Reply {
            text: format!(
                "抱歉，这个问题不在我掌握的{}年度继续教育指南范围内。可拨打咨询电话：{}。\n我能回答：{}。",
                self.kb.facts.year,
                self.kb.facts.hotline,
                topics.join("、")
            ),
            buttons: self.topic_buttons(),
            kind: ReplyKind::Decline,
            matched: None,
            candidates: Vec::new(),
            score: 0.0,
            source: None,
        }
    }

    /// The topic menu (/menu).
    pub fn menu(&self) -> Reply {
        Reply {
            buttons: self.topic_buttons(),
            ..Reply::info(format!("{}年度继续教育，请选择主题：", self.kb.facts.year))
        }
    }

    fn topic_buttons(&self) -> Vec<Vec<Button>> {
        let buttons: Vec<Button> = self
            .kb
            .topics
            .iter()
            .map(|t| Button {
                label: t.label.clone(),
                action: Action::Show(t.entry.clone()),
            })
            .collect();
        buttons.chunks(2).map(|c| c.to_vec()).collect()
    }

    pub fn to_json(&self, question: &str, r: &Reply) -> AskJson {
        AskJson {
            question: question.to_string(),
            matched: r.matched.clone(),
            score: (r.score * 1000.0).round() / 1000.0,
            answer: r.text.clone(),
            candidates: r.candidates.clone(),
            source: r.source.clone(),
        }
    }
}

impl Button {
    fn show(e: &Entry) -> Button {
        Button {
            label: e.title.clone(),
            action: Action::Show(e.id.clone()),
        }
    }
}

impl Reply {
    pub fn info(text: String) -> Reply {
        Reply {
            text,
            buttons: Vec::new(),
            kind: ReplyKind::Info,
            matched: None,
            candidates: Vec::new(),
            score: 0.0,
            source: None,
        }
    }

    /// Plain-text rendering for the terminal: buttons become numbered
    /// choices, in the order `choices()` returns them.
    pub fn render_plain(&self) -> String {
        let mut s = self.text.clone();
        for (n, b) in self.choices().iter().enumerate() {
            s.push_str(&format!("\n  [{}] {}", n + 1, b.label));
        }
        s
    }

    pub fn choices(&self) -> Vec<&Button> {
        self.buttons.iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_round_trips_and_rejects_forgeries() {
        for a in [
            Action::Show("hours_total".into()),
            Action::Feedback {
                entry: "deadline".into(),
                helpful: false,
            },
        ] {
            let data = a.encode();
            assert!(data.len() <= MAX_CALLBACK_BYTES);
            assert_eq!(Action::decode(&data), Some(a));
        }
        for forged in [
            "",
            "a:",
            "x:1",
            "f:*:id",
            "f:+:",
            "a:../../etc",
            "a:学时",
            &"a:".repeat(40),
        ] {
            assert_eq!(Action::decode(forged), None, "{forged}");
        }
    }
}
