//! The knowledge base: facts, FAQ entries and lexicon loaded from TOML.
//!
//! Layout of a knowledge directory:
//! - `lexicon.toml`: fillers, stopwords, domain dictionary, typos, synonyms
//!   (shared by every year);
//! - `<year>/facts.toml`, `<year>/faq.toml`: one guide each. The newest year
//!   is used, so adding next year's guide is adding a directory.
//!
//! Answers are templates over the facts (`{hours.total}`), rendered once at
//! load time so every figure is written in one place only.

use crate::error::{KbError, Problem};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Lexicon {
    #[serde(default)]
    pub fillers: Vec<String>,
    #[serde(default)]
    pub stopwords: Vec<String>,
    #[serde(default)]
    pub dictionary: Vec<String>,
    #[serde(default)]
    pub typos: BTreeMap<String, String>,
    /// Words of neighbouring topics the bot must not answer (salary,
    /// canteen, admissions, driving school).
    #[serde(default)]
    pub out_of_scope: Vec<String>,
    /// canonical form -> variants
    #[serde(default)]
    pub synonyms: BTreeMap<String, Vec<String>>,
    /// General-language word list for jieba ("word freq [tag]" lines),
    /// relative to the knowledge directory. Loading jieba's whole built-in
    /// dictionary (349k words) would cost most of the start-up.
    #[serde(default)]
    pub segmentation_dictionary: Option<String>,
    /// The text of that file, read by the loader.
    #[serde(skip)]
    pub segmentation_text: String,
    /// What puts a question outside this knowledge base whatever its words
    /// share with it: another region, another profession.
    #[serde(default)]
    pub scope: ScopeWords,
    /// Words naming what a question is about (公需课, 折算), carried over to
    /// the next part of a message that leaves them out ("在哪学").
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Words a year can qualify ("2025年的专题"); a year before anything
    /// else is the asker's story ("明年评职称").
    #[serde(default)]
    pub year_scoped: Vec<String>,
    /// Words that start a new question inside a message ("想问一下",
    /// "第二个是", "另外").
    #[serde(default)]
    pub question_markers: Vec<String>,
    /// Words joining two questions in one sentence ("截止时间和网址").
    #[serde(default)]
    pub conjunctions: Vec<String>,
    /// Kinds of question (when, how many, where...) -> their cue words.
    #[serde(default)]
    pub asks: BTreeMap<String, Vec<String>>,
}

/// Words that say a question is about something else than Jiangxi
/// teachers' continuing education (see `scope`).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ScopeWords {
    /// Other provinces and regions (and their big cities).
    #[serde(default)]
    pub regions: Vec<String>,
    /// Other professions with continuing education of their own.
    #[serde(default)]
    pub professions: Vec<String>,
    /// Schools whose teachers the guide does not cover (中小学, 幼儿园):
    /// their continuing education has rules of its own.
    #[serde(default)]
    pub other_schools: Vec<String>,
    /// A profession word followed by one of these names a subject taught
    /// (会计专业, 护理学院), not the asker's profession.
    #[serde(default)]
    pub subject_suffixes: Vec<String>,
    /// A platform operator followed by one of these names one of its own
    /// offices (江西师大教务处): that office's business is not the guide's.
    #[serde(default)]
    pub operator_offices: Vec<String>,
    /// The guide's own province as a message names it after a region the
    /// asker was in before ("我以前在广东…江西这边要多少").
    #[serde(default)]
    pub home: Vec<String>,
    /// Words for any other province (外省): another region, unless the
    /// message names a platform whose operator is of another province
    /// ("湖南大学的平台是外省的，我们能用吗").
    #[serde(default)]
    pub elsewhere: Vec<String>,
}

/// The facts the code itself needs (tracker, reminders, /deadline); the
/// rest of facts.toml is reachable from templates only.
#[derive(Debug, Clone)]
pub struct Facts {
    pub year: i32,
    pub doc_no: String,
    pub hours: Hours,
    pub deadline: NaiveDate,
    pub makeup: String,
    pub hotline: String,
    pub login_platform: String,
    pub login_url: String,
    pub platforms: Vec<Platform>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct Hours {
    pub total: f64,
    pub public: f64,
    pub professional: f64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Platform {
    pub name: String,
    pub operator: String,
    pub phone: String,
}

/// What an entry is: an answer the guide gives, or a known gap (the guide
/// does not say; the entry says where to ask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    #[default]
    Answer,
    Gap,
}

/// Where a gap entry sends the asker, besides what its answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Refer {
    /// The school's own contact (jxjy.toml [school] hr_contact).
    School,
    /// The guide's hotline, for problems met while studying on the platform.
    Hotline,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub kind: EntryKind,
    /// For gaps: where to ask instead.
    pub refer: Vec<Refer>,
    /// The entry is only a good answer when the question holds a word of
    /// each group (a conversion word and a word of hours for conversion
    /// entries; the platform's name for its own entry); "?when" stands for
    /// a kind of question. Without them its score is scaled down.
    pub requires: Vec<Vec<String>>,
    /// Words that make the entry a poor answer whatever else fits (the
    /// audience entry for "实验员公需课也要学30学时吗", which asks hours):
    /// scaled down as a missing required word is.
    pub excludes: Vec<String>,
    /// The entry answering for all items of a for_each list: when two of
    /// its items fit a question about equally, that one is the answer.
    pub summary: Option<String>,
    /// Another entry answered beside this one when the question names one
    /// of `words` and asks one of `asks` ("实验员也要学90学时吗": who takes
    /// part, as well as the hours).
    pub joins: Option<Join>,
    /// The answer holds facts that change with each year's guide (hours,
    /// deadline, topics, platforms): it must say which year it is from.
    pub yearly: bool,
    pub title: String,
    pub questions: Vec<String>,
    /// Rendered answer body, without the source line.
    pub answer: String,
    /// Rendered source (document and section).
    pub source: String,
    pub related: Vec<String>,
}

impl Entry {
    /// The answer as the bot states it: body, then where it came from.
    pub fn full_answer(&self) -> String {
        format!("{}\n依据：{}", self.answer, self.source)
    }
}

/// See `Entry::joins`.
#[derive(Debug, Clone, Deserialize)]
pub struct Join {
    pub entry: String,
    pub words: Vec<String>,
    /// Kinds of question (whether, confirm); any when empty.
    #[serde(default)]
    pub asks: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Topic {
    pub label: String,
    pub entry: String,
}

/// The knowledge base: the newest guide (its facts, entries and topics are
/// what the bot answers from) and the older guides kept beside it.
#[derive(Debug, Clone)]
pub struct Kb {
    pub dir: PathBuf,
    pub facts: Facts,
    pub entries: Vec<Entry>,
    pub topics: Vec<Topic>,
    pub lexicon: Lexicon,
    /// Older guide years, oldest first.
    pub older: Vec<Guide>,
}

/// One guide year's facts and entries.
#[derive(Debug, Clone)]
pub struct Guide {
    pub facts: Facts,
    pub entries: Vec<Entry>,
    pub topics: Vec<Topic>,
}

#[derive(Deserialize)]
struct FaqFile {
    #[serde(default)]
    topics: Vec<Topic>,
    #[serde(default, rename = "entry")]
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    id: String,
    #[serde(default)]
    kind: EntryKind,
    #[serde(default)]
    yearly: bool,
    #[serde(default)]
    refer: Vec<Refer>,
    #[serde(default)]
    requires: Vec<Vec<String>>,
    #[serde(default)]
    excludes: Vec<String>,
    /// For for_each entries: fields of the item ("name") whose values make
    /// one more group of `requires`.
    #[serde(default)]
    require_item: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    joins: Option<Join>,
    /// Make one entry per item of this fact list (e.g. "platforms"); the
    /// templates name the item as {it.name}, and the ids get "_0", "_1"...
    #[serde(default)]
    for_each: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    related: Vec<String>,
}

#[derive(Deserialize)]
struct RawFacts {
    guide: RawGuide,
    hours: Hours,
    deadline: RawDeadline,
    hotline: RawHotline,
    login: RawLogin,
    #[serde(default)]
    platforms: Vec<Platform>,
}
#[derive(Deserialize)]
struct RawGuide {
    year: i32,
    doc_no: String,
}
#[derive(Deserialize)]
struct RawDeadline {
    date: toml::value::Datetime,
    makeup: String,
}
#[derive(Deserialize)]
struct RawHotline {
    number: String,
    ext: String,
}
#[derive(Deserialize)]
struct RawLogin {
    platform: String,
    url: String,
}

fn read(path: &Path) -> Result<String, KbError> {
    std::fs::read_to_string(path).map_err(|source| KbError::Io {
        path: path.to_owned(),
        source,
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, KbError> {
    parse_text(path, &read(path)?)
}

fn parse_text<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, KbError> {
    toml::from_str(text).map_err(|e| KbError::Parse {
        path: path.to_owned(),
        message: describe_toml_error(text, &e),
    })
}

/// toml's message has the span; turn it into "line L, column C: msg".
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().to_string();
    match e.span() {
        Some(span) => {
            let upto = &text[..span.start.min(text.len())];
            let line = upto.matches('\n').count() + 1;
            let col = upto.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

/// The guide year directories (numeric names holding a facts.toml),
/// oldest first.
pub fn year_dirs(root: &Path) -> Result<Vec<(u32, PathBuf)>, KbError> {
    let rd = std::fs::read_dir(root).map_err(|source| KbError::Io {
        path: root.to_owned(),
        source,
    })?;
    let mut years: Vec<(u32, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let year: u32 = e.file_name().to_str()?.parse().ok()?;
            e.path()
                .join("facts.toml")
                .is_file()
                .then(|| (year, e.path()))
        })
        .collect();
    years.sort();
    Ok(years)
}

/// The directory of the newest guide year.
pub fn newest_year_dir(root: &Path) -> Result<PathBuf, KbError> {
    year_dirs(root)?
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| KbError::NoYear {
            dir: root.to_owned(),
        })
}

/// Find the shipped `knowledge/` when no --kb is given: next to the working
/// directory, next to the executable (and its ancestors, for target/release),
/// or in the source tree this binary was built from.
pub fn default_dir() -> PathBuf {
    let mut candidates = vec![PathBuf::from("knowledge")];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(|a| a.join("knowledge")));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge"));
    candidates
        .into_iter()
        .find(|c| c.join("lexicon.toml").is_file())
        .unwrap_or_else(|| PathBuf::from("knowledge"))
}

impl Kb {
    /// Load and validate; any template, id or source problem is an error.
    pub fn load(dir: &Path) -> Result<Kb, KbError> {
        let (kb, problems) = Kb::load_lenient(dir)?;
        if problems.is_empty() {
            Ok(kb)
        } else {
            Err(KbError::Invalid(problems))
        }
    }

    /// Load, returning the structural problems found instead of failing on
    /// them (unreadable or unparsable files still fail).
    pub fn load_lenient(dir: &Path) -> Result<(Kb, Vec<Problem>), KbError> {
        let mut lexicon: Lexicon = parse(&dir.join("lexicon.toml"))?;
        let mut problems = Vec::new();
        if let Some(name) = &lexicon.segmentation_dictionary {
            let path = dir.join(name);
            lexicon.segmentation_text = read(&path)?;
            problems.extend(check_word_list(&path, &lexicon.segmentation_text));
        }
        let mut guides = Vec::new();
        for (_, year_dir) in year_dirs(dir)? {
            guides.push(load_guide(&year_dir, &mut problems)?);
        }
        let newest = guides.pop().ok_or_else(|| KbError::NoYear {
            dir: dir.to_owned(),
        })?;
        let kb = Kb {
            dir: dir.to_owned(),
            facts: newest.facts,
            entries: newest.entries,
            topics: newest.topics,
            lexicon,
            older: guides,
        };
        Ok((kb, problems))
    }

    /// Every loaded guide year, oldest first.
    pub fn years(&self) -> Vec<i32> {
        self.older
            .iter()
            .map(|g| g.facts.year)
            .chain(std::iter::once(self.facts.year))
            .collect()
    }

    /// The entries and facts of one guide year, if loaded.
    pub fn guide(&self, year: i32) -> Option<(&Facts, &[Entry])> {
        if year == self.facts.year {
            return Some((&self.facts, &self.entries));
        }
        self.older
            .iter()
            .find(|g| g.facts.year == year)
            .map(|g| (&g.facts, g.entries.as_slice()))
    }

    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }
}

/// One guide year: facts.toml and faq.toml of `year_dir`. Problems with
/// entries are collected, not fatal.
fn load_guide(year_dir: &Path, problems: &mut Vec<Problem>) -> Result<Guide, KbError> {
    let facts_path = year_dir.join("facts.toml");
    let faq_path = year_dir.join("faq.toml");
    // Read once; parsed as a table for the templates and as the typed
    // facts the code needs (both keep toml's line numbers in errors).
    let facts_text = read(&facts_path)?;
    let facts_table: toml::Table = parse_text(&facts_path, &facts_text)?;
    let raw: RawFacts = parse_text(&facts_path, &facts_text)?;
    let faq: FaqFile = parse(&faq_path)?;
    let faq_file = faq_path.display().to_string();

    let deadline = match date_of(&raw.deadline.date) {
        Some(d) => d,
        None => {
            problems.push(Problem {
                file: facts_path.display().to_string(),
                entry: "deadline.date".into(),
                reason: "must be a date like 2024-12-31".into(),
            });
            NaiveDate::MIN
        }
    };
    let facts = Facts {
        year: raw.guide.year,
        doc_no: raw.guide.doc_no,
        hours: raw.hours,
        deadline,
        makeup: raw.deadline.makeup,
        hotline: format!("{}{}", raw.hotline.number, raw.hotline.ext),
        login_platform: raw.login.platform,
        login_url: raw.login.url,
        platforms: raw.platforms,
    };

    let facts_file = facts_path.display().to_string();
    let h = facts.hours;
    for (name, v) in [
        ("hours.total", h.total),
        ("hours.public", h.public),
        ("hours.professional", h.professional),
    ] {
        if !v.is_finite() || v <= 0.0 {
            problems.push(Problem {
                file: facts_file.clone(),
                entry: name.into(),
                reason: format!("must be a positive number of hours, not {v}"),
            });
        }
    }
    if h.public + h.professional > h.total {
        problems.push(Problem {
            file: facts_file.clone(),
            entry: "hours".into(),
            reason: format!(
                "public ({}) + professional ({}) exceed the total ({})",
                h.public, h.professional, h.total
            ),
        });
    }
    if faq.entries.is_empty() {
        problems.push(Problem {
            file: faq_file.clone(),
            entry: "entry".into(),
            reason: "the FAQ has no entries".into(),
        });
    }
    let mut seen = HashSet::new();
    let mut entries = Vec::with_capacity(faq.entries.len());
    let summaries: HashSet<String> = faq
        .entries
        .iter()
        .filter_map(|e| e.summary.clone())
        .collect();
    for e in faq.entries {
        let mut problem = |reason: String| {
            problems.push(Problem {
                file: faq_file.clone(),
                entry: e.id.clone(),
                reason,
            })
        };
        if e.id.trim().is_empty() {
            problem("entry without id".into());
        }
        if e.source.trim().is_empty() {
            problem("entry without a source".into());
        }
        // Without phrasings an entry is reached only as another's summary.
        if e.questions.is_empty() && !summaries.contains(&e.id) {
            problem("entry without example questions (and no entry has it as its summary)".into());
        }
        if e.answer.trim().is_empty() {
            problem("entry without an answer".into());
        }
        // One entry, or one per item of a fact list ({it.name}).
        let items: Vec<(String, std::borrow::Cow<toml::Table>)> = match &e.for_each {
            None => vec![(e.id.clone(), std::borrow::Cow::Borrowed(&facts_table))],
            Some(list) => match facts_table.get(list) {
                Some(toml::Value::Array(a)) if !a.is_empty() => a
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let mut t = facts_table.clone();
                        t.insert("it".into(), item.clone());
                        (format!("{}_{i}", e.id), std::borrow::Cow::Owned(t))
                    })
                    .collect(),
                _ => {
                    problem(format!(
                        "for_each names '{list}', which is not a non-empty list in facts.toml"
                    ));
                    Vec::new()
                }
            },
        };
        for (id, table) in items {
            let mut problem = |reason: String| {
                problems.push(Problem {
                    file: faq_file.clone(),
                    entry: id.clone(),
                    reason,
                })
            };
            if !id.trim().is_empty() && !valid_id(&id) {
                problem(format!(
                    "id must be at most {MAX_ID_BYTES} ASCII letters, digits, '_' or '-' (it travels in Telegram callback data)"
                ));
            }
            if !seen.insert(id.clone()) {
                problem("duplicate id".into());
            }
            let mut requires = e.requires.clone();
            let mut item_group = Vec::new();
            for field in &e.require_item {
                match lookup(&format!("it.{field}"), &table) {
                    Ok(v) => item_group.push(v),
                    Err(r) => problem(format!("require_item: {r}")),
                }
            }
            if !item_group.is_empty() {
                requires.push(item_group);
            }
            let mut rendered = |what: &str, template: &str| {
                render(template, &table).unwrap_or_else(|r| {
                    problem(format!("{what}: {r}"));
                    template.to_string()
                })
            };
            let answer = rendered("answer", &e.answer);
            let source = rendered("source", &e.source);
            let title = rendered("title", &e.title);
            // Phrasings may name facts too ("{hotline.number}转几号键").
            let questions: Vec<String> = e
                .questions
                .iter()
                .map(|q| rendered("question", q))
                .collect();
            entries.push(Entry {
                id,
                kind: e.kind,
                refer: e.refer.clone(),
                requires,
                excludes: e.excludes.clone(),
                summary: e.summary.clone(),
                joins: e.joins.clone(),
                yearly: e.yearly,
                title,
                answer,
                source,
                questions,
                related: e.related.clone(),
            });
        }
    }
    let ids: HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    for e in &entries {
        if let Some(sum) = &e.summary
            && !ids.contains(sum.as_str())
        {
            problems.push(Problem {
                file: faq_file.clone(),
                entry: e.id.clone(),
                reason: format!("summary entry '{sum}' does not exist"),
            });
        }
        if let Some(j) = &e.joins
            && !ids.contains(j.entry.as_str())
        {
            problems.push(Problem {
                file: faq_file.clone(),
                entry: e.id.clone(),
                reason: format!("joined entry '{}' does not exist", j.entry),
            });
        }
        for r in &e.related {
            if !ids.contains(r.as_str()) {
                problems.push(Problem {
                    file: faq_file.clone(),
                    entry: e.id.clone(),
                    reason: format!("related entry '{r}' does not exist"),
                });
            }
        }
    }
    for t in &faq.topics {
        if !ids.contains(t.entry.as_str()) {
            problems.push(Problem {
                file: faq_file.clone(),
                entry: format!("topic {}", t.label),
                reason: format!("entry '{}' does not exist", t.entry),
            });
        }
    }
    Ok(Guide {
        facts,
        entries,
        topics: faq.topics,
    })
}

/// Entry ids go into Telegram callback data ("f:+:<id>", 64 bytes at most).
pub const MAX_ID_BYTES: usize = 48;

pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Each line of a segmentation word list is "word frequency [tag]".
fn check_word_list(path: &Path, text: &str) -> Vec<Problem> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .filter_map(|(i, l)| {
            let mut f = l.split_whitespace();
            let ok = f.next().is_some() && f.next().is_some_and(|n| n.parse::<usize>().is_ok());
            (!ok).then(|| Problem {
                file: path.display().to_string(),
                entry: format!("line {}", i + 1),
                reason: format!("expected 'word frequency [tag]', got '{l}'"),
            })
        })
        .take(10)
        .collect()
}

fn date_of(dt: &toml::value::Datetime) -> Option<NaiveDate> {
    let d = dt.date?;
    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
}

/// Replace each `{path.to.fact}` in `template` with the fact's text.
pub fn render(template: &str, facts: &toml::Table) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in template: {template}"))?;
        let key = &after[..close];
        out.push_str(&lookup(key, facts)?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(key: &str, facts: &toml::Table) -> Result<String, String> {
    let missing = || format!("template names fact '{{{key}}}', which facts.toml does not have");
    let mut parts = key.split('.');
    let first = parts.next().ok_or_else(missing)?;
    let mut value = facts.get(first).ok_or_else(missing)?;
    for part in parts {
        value = match value {
            toml::Value::Table(t) => t.get(part),
            toml::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(missing)?;
    }
    text_of(value).ok_or_else(|| format!("fact '{{{key}}}' is a table, not a value"))
}

fn text_of(v: &toml::Value) -> Option<String> {
    Some(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(dt) => match date_of(dt) {
            Some(d) => chinese_date(d),
            None => dt.to_string(),
        },
        toml::Value::Array(items) => items
            .iter()
            .map(text_of)
            .collect::<Option<Vec<_>>>()?
            .join("、"),
        toml::Value::Table(_) => return None,
    })
}

/// 2024-12-31 -> 2024年12月31日, the form the guide uses.
pub fn chinese_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        toml::from_str(s).expect("test toml")
    }

    #[test]
    fn renders_nested_indexed_and_dates() {
        let t =
            table("a = { b = 90 }\nd = 2024-12-31\nl = [\"x\", \"y\"]\n[[p]]\nphone = \"400\"\n");
        assert_eq!(
            render("{a.b}|{d}|{l}|{p.0.phone}", &t).unwrap(),
            "90|2024年12月31日|x、y|400"
        );
    }

    #[test]
    fn missing_fact_and_unclosed_brace_are_errors() {
        let t = table("a = 1");
        assert!(render("{a.c}", &t).unwrap_err().contains("a.c"));
        assert!(render("{nope}", &t).is_err());
        assert!(render("x {a", &t).unwrap_err().contains("unclosed"));
        assert!(render("{p.9}", &table("p = [1]")).is_err());
    }

    #[test]
    fn shipped_kb_loads() {
        let kb = Kb::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge"))
            .expect("shipped knowledge base");
        assert_eq!(kb.facts.year, 2024);
        assert_eq!(kb.facts.hours.total, 90.0);
        assert_eq!(
            kb.facts.deadline,
            NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()
        );
        let e = kb.entry("hours_total").unwrap();
        assert!(e.answer.contains("90") && e.answer.contains("30") && e.answer.contains("60"));
        assert!(
            e.full_answer()
                .ends_with("依据：赣教师办函〔2024〕22号 附件 二、学时要求")
        );
    }
}
