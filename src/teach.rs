//! Learning from use, by the person who keeps the knowledge base:
//! `kb suggest` groups the questions the bot could not answer (and those
//! whose answer got 👎) and names the entry each group most likely belongs
//! to; `kb teach "question" ENTRY` adds a question as a phrasing of an
//! entry in its faq.toml, keeping comments and layout, and keeps the change
//! only if `kb check` still passes.

use crate::error::{KbError, Problem};
use crate::matcher::Matcher;
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Value};

/// One group of similar questions, with the entry they most likely mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The first question of the group, as asked.
    pub example: String,
    pub count: usize,
    /// Most likely entry and its score; None when nothing comes near.
    pub entry: Option<(String, f32)>,
    /// The questions got 👎 on this entry (rather than no answer).
    pub disliked: Option<String>,
}

/// A question to learn from: its text, and the entry its answer got 👎 on
/// (None: it got no answer).
pub type Asked = (String, Option<String>);

/// Group `questions` (text, entry it was answered with when 👎) and
/// suggest an entry for each group; largest groups first.
pub fn suggest(
    matcher: &Matcher,
    kb: &crate::knowledge::Kb,
    questions: &[(String, Option<String>)],
) -> Vec<Suggestion> {
    let texts: Vec<String> = questions.iter().map(|(t, _)| t.clone()).collect();
    crate::stats::group_similar(&texts, matcher.analyzer())
        .into_iter()
        .map(|(head, all)| {
            let disliked = questions
                .iter()
                .find(|(t, _)| *t == head)
                .and_then(|(_, e)| e.clone());
            // The entry the bot came nearest to, whatever it decided.
            let entry = matcher
                .rank(&head)
                .first()
                .filter(|(_, s)| *s >= SUGGEST_MIN)
                .map(|(i, s)| (kb.entries[*i].id.clone(), *s));
            Suggestion {
                example: head,
                count: all.len(),
                entry,
                disliked,
            }
        })
        .collect()
}

/// The questions to learn from: the unanswered ones and those whose answer
/// got 👎 in the data directory
/// (or, while `serve` holds it, in its newest daily backup); and where they
/// came from.
pub fn questions(data_dir: &Path) -> Result<(Vec<Asked>, String), TeachError> {
    use crate::error::StoreError;
    match crate::store::Store::open(data_dir) {
        Ok(store) => {
            let qs = store
                .unanswered()
                .map_err(|e| file_err(data_dir, e))?
                .into_iter()
                .map(|u| (u.text, u.disliked))
                .collect();
            Ok((qs, data_dir.display().to_string()))
        }
        Err(StoreError::Locked { .. }) => {
            let Some(file) = crate::store::newest_backup(data_dir) else {
                return Err(file_err(
                    data_dir,
                    "in use by the running bot, and no daily backup yet to read instead",
                ));
            };
            let (_, lines) = crate::backup::read(&file).map_err(|e| file_err(&file, e))?;
            let qs = lines
                .into_iter()
                .filter_map(|l| match l {
                    crate::backup::Line::Unanswered(u) => Some((u.text, u.disliked)),
                    _ => None,
                })
                .collect();
            Ok((
                qs,
                format!(
                    "{} (the bot is running; its newest daily backup)",
                    file.display()
                ),
            ))
        }
        Err(e) => Err(file_err(data_dir, e)),
    }
}

/// Below this an entry is no suggestion.
const SUGGEST_MIN: f32 = 0.2;

#[derive(Debug, thiserror::Error)]
pub enum TeachError {
    #[error(transparent)]
    Kb(#[from] KbError),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("no entry '{id}' in {path}; `jxjy-bot kb export --json` lists the ids")]
    NoEntry { id: String, path: PathBuf },
    #[error(
        "'{id}' is made from a list (for_each = \"{list}\"); teach its own phrasing to one item's entry is not possible: add a phrasing with {{it.name}} to '{base}' by hand"
    )]
    ListEntry {
        id: String,
        list: String,
        base: String,
    },
    #[error("the question is empty")]
    Empty,
    #[error("'{question}' is already a phrasing of '{id}'")]
    Known { question: String, id: String },
    #[error("not taught, kb check would fail:\n{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Check(Vec<Problem>),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> TeachError {
    TeachError::File {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Add `question` to the phrasings of entry `id` in the newest year's
/// faq.toml; kept only if `kb check` finds no new problem (the phrasing
/// must retrieve its own entry). Returns the file changed.
pub fn teach(kb_dir: &Path, question: &str, id: &str) -> Result<PathBuf, TeachError> {
    let question = question.trim();
    if question.is_empty() {
        return Err(TeachError::Empty);
    }
    let path = crate::knowledge::newest_year_dir(kb_dir)?.join("faq.toml");
    let before_text = std::fs::read_to_string(&path).map_err(|e| file_err(&path, e))?;
    let mut doc: DocumentMut = before_text.parse().map_err(|e| file_err(&path, e))?;
    let entries = doc
        .get_mut("entry")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| TeachError::NoEntry {
            id: id.to_string(),
            path: path.clone(),
        })?;
    // A list entry's items are "<id>_<n>": name the entry they come from.
    if let Some(base) = entries.iter().find(|e| {
        let base = e.get("id").and_then(Item::as_str).unwrap_or_default();
        e.get("for_each").is_some()
            && id
                .strip_prefix(base)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|n| n.parse::<usize>().is_ok())
    }) {
        return Err(TeachError::ListEntry {
            id: id.to_string(),
            list: base
                .get("for_each")
                .and_then(Item::as_str)
                .unwrap_or_default()
                .to_string(),
            base: base
                .get("id")
                .and_then(Item::as_str)
                .unwrap_or_default()
                .to_string(),
        });
    }
    let entry = entries
        .iter_mut()
        .find(|e| e.get("id").and_then(Item::as_str) == Some(id))
        .ok_or_else(|| TeachError::NoEntry {
            id: id.to_string(),
            path: path.clone(),
        })?;
    let questions = entry
        .get_mut("questions")
        .and_then(Item::as_array_mut)
        .ok_or_else(|| file_err(&path, format!("entry '{id}' has no questions list")))?;
    if questions.iter().any(|q| q.as_str() == Some(question)) {
        return Err(TeachError::Known {
            question: question.to_string(),
            id: id.to_string(),
        });
    }
    // On its own line like the others: copy the last item's layout.
    let mut value = Value::from(question.to_string());
    if let Some(last) = questions.iter().last() {
        *value.decor_mut() = last.decor().clone();
    }
    questions.push_formatted(value);
    let problems_before = crate::check::check_dir(kb_dir)?;
    std::fs::write(&path, doc.to_string()).map_err(|e| file_err(&path, e))?;
    let after = crate::check::check_dir(kb_dir);
    let new: Vec<Problem> = match after {
        Ok(p) => p
            .into_iter()
            .filter(|p| !problems_before.contains(p))
            .collect(),
        Err(e) => vec![Problem {
            file: path.display().to_string(),
            entry: id.to_string(),
            reason: e.to_string(),
        }],
    };
    if !new.is_empty() {
        std::fs::write(&path, &before_text).map_err(|e| file_err(&path, e))?;
        return Err(TeachError::Check(new));
    }
    Ok(path)
}
