//! What the bot answers: turns a match into reply text and buttons. The
//! conversation core ([`crate::conversation`]) wraps it with commands,
//! stats and the fixed texts, so every front end gives the same replies.

use crate::clock::{Clock, SystemClock};
use crate::knowledge::{Entry, EntryKind, Kb, Refer};
use crate::matcher::{Decision, Matcher};
use crate::scope::Outside;
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
    /// The entry answered (the first, when a message held several
    /// questions); None when the bot declines or only offers candidates.
    pub matched: Option<String>,
    /// Every entry the reply is made of, in order (answers and "the guide
    /// does not say" entries).
    pub parts: Vec<String>,
    pub candidates: Vec<String>,
    pub score: f32,
    pub source: Option<String>,
}

/// The JSON line of `jxjy-bot ask --json`.
#[derive(Debug, Clone, Serialize)]
pub struct AskJson {
    pub question: String,
    pub matched: Option<String>,
    pub parts: Vec<String>,
    pub score: f32,
    pub answer: String,
    pub candidates: Vec<String>,
    pub source: Option<String>,
}

/// Where the bot sends what the guide does not answer. The school's own
/// contact comes from `jxjy.toml` ([school] hr_contact).
#[derive(Debug, Clone, Default)]
pub struct Contacts {
    /// e.g. "人事处师资科 0791-8xxxxxxx"; None: a generic pointer.
    pub hr: Option<String>,
}

impl Contacts {
    fn hr(&self) -> &str {
        self.hr
            .as_deref()
            .unwrap_or("本校人事处（继续教育负责老师）")
    }
}

/// A part of a message counts as understood when its entry leads the
/// next by this much.
const CLEAR_LEAD: f32 = 0.02;

/// A message's question read without its story is answered only when its
/// entry is among the whole message's best few.
const STORY_TOP: usize = 3;
/// What every message here is about, lent to a bare ask that names nothing.
const TOPIC: &str = "继续教育";

/// Each half of "截止时间和网址" must be answered this surely on its own.
const SURE_PART: f32 = 0.6;
/// ... and name something more specific than 继续教育, 学时 or 公需课
/// (see `Matcher::specificity`).
const SPECIFIC_PART: f32 = 0.4;

/// From this length a message may run several questions together.
const LONG_MESSAGE_CHARS: usize = 25;

/// Most questions one message may hold and get answered.
const MAX_PARTS: usize = 3;

/// At most this long, a topic without a question between two questions is
/// one more item of a list.
const LIST_TOPIC_CHARS: usize = 6;

/// How well such a topic must fit a menu topic's phrasing: named as the
/// guide names it (截止时间, 咨询电话), not a story's words (中职老师).
const LIST_TOPIC_SCORE: f32 = 0.9;

/// Words saying a question is asked of each of two subjects.
const DISTRIBUTIVE: [&str; 3] = ["分别", "各自", "各是"];

/// Words pointing back at what the story before a question named: "这些能
/// 直接抵学时吗" after 课题 and 论文 asks about those, read with the story.
const POINTS_BACK: [&str; 6] = ["这些", "这种", "这类", "这样的", "这几", "上述"];

pub struct Responder {
    kb: Arc<Kb>,
    matcher: Matcher,
    markers: crate::scope::Markers,
    /// The lexicon's conjunctions in one automaton: most questions hold
    /// none, and one pass says so.
    conjunctions: Option<aho_corasick::AhoCorasick>,
    /// Per entry with `joins`: (entry, joined entry, its words normalised,
    /// its kinds of question).
    joins: Vec<(usize, usize, Vec<String>, Vec<String>)>,
    clock: Arc<dyn Clock>,
    contacts: Contacts,
}

/// Which guide year a reply speaks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum YearChoice {
    /// No year named, or the current one: the newest guide, labelled when
    /// it is not this season's.
    Newest,
    /// A loaded guide year the question names (answered from it, without
    /// the season warning: the asker chose the year).
    Loaded(i32),
    /// A year the question names that is not loaded: written out (even the
    /// current one), or 去年 / 明年. Never answered as if it were the newest
    /// guide's.
    Missing(i32),
}

impl Responder {
    pub fn new(kb: Arc<Kb>) -> Responder {
        let matcher = Matcher::new(&kb);
        let joins = kb
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let j = e.joins.as_ref()?;
                let other = kb.entries.iter().position(|o| o.id == j.entry)?;
                let words = j
                    .words
                    .iter()
                    .map(|w| matcher.analyzer().normalize(w))
                    .filter(|w| !w.trim().is_empty())
                    .collect();
                Some((i, other, words, j.asks.clone()))
            })
            .collect();
        Responder {
            joins,
            markers: crate::scope::Markers::new(
                &kb.lexicon.question_markers,
                kb.lexicon.asks.get("none").map_or(&[][..], Vec::as_slice),
            ),
            // An empty conjunction splits anything: then no shortcut.
            conjunctions: (!kb.lexicon.conjunctions.iter().any(String::is_empty))
                .then(|| {
                    crate::text::automaton(
                        &kb.lexicon.conjunctions,
                        aho_corasick::MatchKind::Standard,
                    )
                    .ok()
                })
                .flatten(),
            kb,
            matcher,
            clock: Arc::new(SystemClock),
            contacts: Contacts::default(),
        }
    }

    /// Tell the time with this clock (the current season decides whether an
    /// answer must say its guide is an older year's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Responder {
        self.clock = clock;
        self
    }

    /// Other decision thresholds (calibration).
    pub fn set_thresholds(&mut self, t: crate::matcher::Thresholds) {
        self.matcher.thresholds = t;
    }

    pub fn with_contacts(mut self, contacts: Contacts) -> Responder {
        self.contacts = contacts;
        self
    }

    pub fn kb(&self) -> &Kb {
        &self.kb
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// The current season: the calendar year in Asia/Shanghai.
    pub fn current_year(&self) -> i32 {
        use chrono::Datelike;
        self.clock
            .now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .year()
    }

    /// Reply to a free-text question.
    pub fn ask(&self, question: &str) -> Reply {
        if question.trim().is_empty() {
            return Reply::info("请直接输入您的问题，例如：“每年要完成多少学时？”".to_string());
        }
        let reading = self.matcher.read(question);
        if let Some(out) = self.matcher.outside(&reading.normalized) {
            return self.decline_outside(&out);
        }
        let current = self.current_year();
        let years = self.matcher.years(&reading.prepared, current);
        let loaded = self.kb.years();
        // 今年 is this season, whatever guide is loaded; a year written out
        // (2026年度) asks for that year's guide, even the current one.
        let choice = match years.iter().find(|n| loaded.contains(&n.year)) {
            Some(n) => YearChoice::Loaded(n.year),
            None => match years.iter().find(|n| n.year != current || n.written) {
                Some(n) if !years.iter().any(|o| o.year == current && !o.written) => {
                    YearChoice::Missing(n.year)
                }
                _ => YearChoice::Newest,
            },
        };
        let (mut parts, m) = self.understand(question, &reading);
        self.join(&mut parts, &reading);
        // A runner-up nearly as good as a lone answer is offered first
        // among the follow-up buttons: the question may have meant it.
        let runner_up = match (parts.as_slice(), m.ranked.as_slice()) {
            ([p], [(top, s), (next, t), ..]) if p == top && s - t <= RUNNER_UP_GAP => Some(*next),
            _ => None,
        };
        // Even unmatched, a question about a year not loaded learns so.
        let missing_year = matches!(choice, YearChoice::Missing(_));
        let mut reply = if !parts.is_empty() || missing_year {
            self.compose(&parts, choice, runner_up)
        } else if let Decision::Candidates(ids) = &m.decision {
            self.candidates(ids)
        } else {
            self.decline()
        };
        reply.score = m.score;
        reply
    }

    /// An entry answered alone, with the one it joins when the question
    /// names one of the join's words and asks its kind ("实验员也要学90学时
    /// 吗": who takes part, then the hours). A message asking several
    /// things already says what it wants to know.
    fn join(&self, parts: &mut Vec<usize>, reading: &crate::matcher::Reading) {
        let [only] = parts[..] else {
            return;
        };
        let joined = self.joins.iter().find(|(entry, other, words, asks)| {
            *entry == only
                && *other != only
                && (asks.is_empty() || reading.features.asks.iter().any(|a| asks.contains(a)))
                && words
                    .iter()
                    .any(|w| reading.normalized.contains(w.as_str()))
        });
        if let Some(&(_, other, ..)) = joined {
            parts.insert(0, other);
        }
    }

    /// The questions a message holds, with their context.
    pub fn clauses(&self, question: &str) -> Vec<crate::scope::Clause> {
        // Split the simplified text: 嗎 ends a question as 吗 does.
        crate::scope::clauses(&crate::text::simplified(question), &self.markers)
    }

    /// The entries a message asks about: each question of a message that
    /// holds several, confidently matched (up to three); otherwise the
    /// whole message's decision, or its one question read without the
    /// context around it when the whole is unclear.
    fn understand(
        &self,
        question: &str,
        reading: &crate::matcher::Reading,
    ) -> (Vec<usize>, crate::matcher::MatchResult) {
        let whole = self.matcher.find_reading(reading);
        let clauses = self.clauses(question);
        let mut parts: Vec<usize> = Vec::new();
        match clauses.as_slice() {
            [] => {}
            [one] => {
                if let Some(claims) = self.claims_confirmed(one, reading) {
                    parts.extend(claims);
                } else if let Some(two) = self
                    .each_of_two(&one.text, reading.foreign)
                    .or_else(|| self.two_in_one(&one.text, &whole))
                {
                    // A half may run on itself ("要学多少学时截止时间是哪天
                    // 还有在哪个网站学"): the cuts of the whole, when they
                    // hold both halves' answers and more.
                    let run = asks_two_kinds(&reading.features.asks)
                        .then(|| self.run_on(&one.text, reading.foreign))
                        .flatten()
                        .filter(|r| r.len() > two.len() && two.iter().all(|i| r.contains(i)));
                    match run {
                        Some(run) => parts.extend(run),
                        None => parts.extend(two),
                    }
                } else if let Some(run) = whole
                    .decision
                    .answer()
                    // Two kinds of question at least (how many, where), or
                    // nothing runs on: most messages stop here.
                    .filter(|_| asks_two_kinds(&reading.features.asks))
                    .and_then(|w| {
                        self.run_on(&one.text, reading.foreign)
                            .filter(|r| r.contains(&w))
                    })
                {
                    parts.extend(run);
                } else if let Decision::Answer(i) = whole.decision {
                    // A story already telling the date the entry gives
                    // ("学校通知25号才发，离截止还有几天") knows it: a
                    // question about a date asks another, if clearly.
                    // Nor does a sentence of the notice quoted before the
                    // question ("通知里说“…逾期…补学”，那截止日期是哪天"):
                    // what it says is known, the question asks what follows.
                    // Nor one telling the hours the entry gives ("想在网上
                    // 把专业课的六十个学时学完…在哪个地方选平台"): a
                    // question not asking how many asks another.
                    let quoted = quotes_notice(&one.context);
                    let hours_told = self.tells_hours_of(&one.context, i);
                    match (quoted || hours_told || self.tells_date_of(&one.context, i))
                        .then(|| self.matcher.read(&one.text))
                        .filter(|r| {
                            let asks = &r.features.asks;
                            quoted
                                || (hours_told
                                    && !asks.is_empty()
                                    && !asks.iter().any(|a| a == "howmany"))
                                || asks
                                    .iter()
                                    .any(|a| matches!(a.as_str(), "when" | "whether" | "duration"))
                        })
                        .and_then(|r| self.clear_reading(r, reading.foreign))
                        .filter(|&j| j != i)
                    {
                        Some(j) => parts.push(j),
                        None => {
                            parts.push(i);
                            parts.extend(self.more_questions(question, reading, &whole));
                        }
                    }
                } else if let Some(&(gap, _)) = whole.ranked.first().filter(|(e, s)| {
                    self.kb.entries[*e].kind == EntryKind::Gap
                        && *s >= self.matcher.thresholds.candidates
                }) {
                    // The story around the question names what the guide does
                    // not say ("9月份才入职…还是按月份算"): that is asked.
                    parts.push(gap);
                } else if !one.context.is_empty()
                    && let Some(i) = self
                        .with_story_subject(one)
                        .and_then(|t| self.clear_answer(&t, reading.foreign))
                        .or_else(|| self.clear_answer(&one.text, reading.foreign))
                    // The story must not draw the message elsewhere:
                    // "今年继续教育能用上吗" after "去年拿了个发明专利" asks
                    // about the patent, which the question alone leaves out.
                    && whole.ranked.iter().take(STORY_TOP).any(|(e, _)| *e == i)
                {
                    parts.push(i);
                }
            }
            many => {
                // Each part read once: its normalised text serves the
                // subjects, its reading the match alone.
                let readings: Vec<crate::matcher::Reading> =
                    many.iter().map(|c| self.matcher.read(&c.text)).collect();
                // Words of other topics count where a question holds them
                // ("这个月工资什么时候发"), not in a story around one
                // ("最近期末事情特别多…截止是哪天").
                // None in the whole message, none in its parts.
                let foreign: i32 = if reading.foreign == 0 {
                    0
                } else {
                    readings.iter().map(|r| r.foreign).sum()
                };
                let mut carry = String::new();
                // The previous part's question and subject, for a part that
                // names only a subject ("专业课呢").
                let mut previous: Option<(String, String)> = None;
                for (c, alone_reading) in many.iter().zip(readings) {
                    // A bare topic between two questions is a third one
                    // ("总学时多少 截止时间 有问题打哪个电话"): a list.
                    if previous.is_some()
                        && !c.context.is_empty()
                        && c.context.chars().count() <= LIST_TOPIC_CHARS
                        && !c.context.contains(' ')
                        && let m = self.matcher.find(&c.context)
                        && m.score >= LIST_TOPIC_SCORE
                        && let Some(i) = m
                            .decision
                            .answer()
                            .filter(|&i| self.kb.entries[i].kind == EntryKind::Answer)
                        && self.matcher.is_overview(i)
                        && !parts.contains(&i)
                    {
                        parts.push(i);
                    }
                    // Alone, then with its context ("我们是中职学校的"). A part
                    // without a subject of its own asks about the one its
                    // context names ("参加学校组织的面授培训 学时怎么录") or
                    // the question before it ("在哪学" after "公需课要多少学时").
                    let normalize = |t: &str| self.matcher.analyzer().normalize(t);
                    let normalized = alone_reading.normalized.clone();
                    let own = self.matcher.subjects_of(&normalized);
                    let borrowed = match self.matcher.subjects_of(&normalize(&c.context)) {
                        s if s.is_empty() => carry.clone(),
                        s => s,
                    };
                    // "公需课要多少学时？专业课呢？": the same question about
                    // another subject.
                    let elliptical = previous.as_ref().and_then(|(before, subject)| {
                        let bare = normalized.trim_end_matches(['呢', '?', '？', ' ']);
                        (!own.is_empty() && bare == own).then(|| {
                            let asked = normalize(before);
                            if subject.is_empty() {
                                format!("{own} {asked}")
                            } else {
                                asked.replacen(subject.as_str(), &own, 1)
                            }
                        })
                    });
                    let in_context = format!("{} {}", c.context, c.text);
                    let points_back =
                        !c.context.is_empty() && POINTS_BACK.iter().any(|w| c.text.contains(w));
                    let tries: Vec<String> = if let Some(t) = elliptical {
                        vec![t, c.text.clone()]
                    } else if !own.is_empty() && points_back {
                        vec![in_context.clone(), c.text.clone()]
                    } else if !own.is_empty() || borrowed.is_empty() {
                        vec![c.text.clone(), in_context.clone()]
                    } else {
                        vec![
                            format!("{borrowed} {}", c.text),
                            format!("{borrowed} {} {}", c.context, c.text),
                            c.text.clone(),
                        ]
                    };
                    // Each reading is matched once: the part alone and with its
                    // context serve both the gap checks and the tries.
                    let is_gap = |i: &usize| self.kb.entries[*i].kind == EntryKind::Gap;
                    // A bare ask: a kind of question, no word of its own.
                    let bare_ask = !alone_reading.features.asks.is_empty()
                        && !alone_reading.features.names_something();
                    let asks_fact = alone_reading
                        .features
                        .asks
                        .iter()
                        .any(|a| matches!(a.as_str(), "where" | "when" | "howmany"));
                    // Kept for a part running two questions together.
                    let runs_on = self
                        .conjunctions
                        .as_ref()
                        .is_some_and(|ac| ac.is_match(&c.text));
                    let alone_words = runs_on.then(|| alone_reading.clone());
                    let two_kinds = asks_two_kinds(&alone_reading.features.asks);
                    let alone_match = self.match_alone(alone_reading, foreign);
                    let alone = self.clear_of(&alone_match);
                    let with_context = std::cell::OnceCell::new();
                    let with_context =
                        || *with_context.get_or_init(|| self.clear_answer(&in_context, foreign));
                    let clear = |t: &String| {
                        if *t == c.text {
                            alone
                        } else if *t == in_context {
                            with_context()
                        } else {
                            self.clear_answer(t, foreign)
                        }
                    };
                    // What the guide does not say needs no subject: "收费吗"
                    // after a question on 集中面授 asks about the fee. Nor does
                    // the story around a part that names it ("我明年就退休了
                    // 今年还用学吗").
                    let found = alone
                        .filter(is_gap)
                        .or_else(|| {
                            (!c.context.is_empty())
                                .then(with_context)
                                .flatten()
                                .filter(is_gap)
                        })
                        .or_else(|| {
                            tries
                                .iter()
                                .filter(|t| !t.trim().is_empty())
                                .find_map(clear)
                        });
                    // A subject borrowed from before leading back to an entry
                    // already answered ("平台问题打省里哪个电话" after 湖南大学
                    // 平台电话): the part alone, clearly another, is asked.
                    // Unless the part alone fits that entry nearly as well, or
                    // the summary holding it ("学完要不要申报" after 公需课…
                    // 在哪学).
                    let near_alone = |i: usize, j: usize| {
                        let top = alone_match.ranked.first().map_or(0.0, |r| r.1);
                        self.matcher.summary_of(i) == Some(j)
                            || alone_match
                                .ranked
                                .iter()
                                .any(|&(e, s)| e == i && top - s <= CLEAR_LEAD)
                    };
                    // One question asked of two subjects: both are asked.
                    let found = match self.each_of_two(&c.text, foreign) {
                        Some([a, b]) => {
                            add_new(&mut parts, [a]);
                            Some(b)
                        }
                        None => found,
                    };
                    let found = match (found, alone) {
                        (Some(i), Some(j))
                            if parts.contains(&i) && !parts.contains(&j) && !near_alone(i, j) =>
                        {
                            Some(j)
                        }
                        (f, _) => f,
                    };
                    // A bare ask with nothing of its own ("…也要学吗？要学多少")
                    // asks about the message's topic: the whole message's best
                    // entry not answered yet, when it is a real candidate.
                    let from_whole = || {
                        whole
                            .ranked
                            .iter()
                            .find(|(e, s)| {
                                !parts.contains(e)
                                    && self.kb.entries[*e].kind == EntryKind::Answer
                                    && *s >= self.matcher.thresholds.candidates
                            })
                            .map(|(e, _)| *e)
                    };
                    // The topic of every message here is continuing education
                    // ("今年要学多少学时 去哪学"), for a where, when or how many
                    // after a question answered.
                    let from_topic = || {
                        (!parts.is_empty() && asks_fact)
                            .then(|| {
                                let r = self.matcher.read(&format!("{TOPIC} {}", c.text));
                                self.match_alone(r, foreign).decision.answer()
                            })
                            .flatten()
                            .filter(|e| !parts.contains(e))
                    };
                    // One whose borrowed subject leads back to an entry answered
                    // ("在哪登录，要学多少") asks the topic first: the whole
                    // leans on the question answered.
                    let led_back = bare_ask && found.is_some_and(|i| parts.contains(&i));
                    let found = match (found, bare_ask) {
                        _ if led_back => from_topic().or_else(from_whole),
                        (Some(i), _) => Some(i),
                        (None, true) => from_whole().or_else(from_topic),
                        (None, false) => None,
                    };
                    // A part may run on to another question with a
                    // conjunction ("学时多少还有咨询电话是多少"): its halves,
                    // the part's answer among them, or one answered before
                    // ("在哪个平台学" then "学时多少还有客服电话是多少").
                    let halves = found.filter(|_| runs_on).and_then(|i| {
                        self.two_in_one(&c.text, &alone_match)
                            .filter(|two| parts.contains(&i) || two.contains(&i))
                    });
                    if let Some(i) = found
                        && !parts.contains(&i)
                    {
                        parts.push(i);
                        // Else what is left of it ("like how many hours do i
                        // need and by when").
                        if halves.is_none()
                            && alone == Some(i)
                            && let Some(words) = &alone_words
                        {
                            add_new(
                                &mut parts,
                                self.more_questions(&c.text, words, &alone_match),
                            );
                        }
                    }
                    add_new(&mut parts, halves.into_iter().flatten());
                    // Or run on with no mark at all ("在哪个平台学然后学时
                    // 多少"): the pieces, the part's answer among them.
                    if let Some(i) = found
                        && two_kinds
                        && let Some(run) = self.run_on(&c.text, foreign).filter(|r| r.contains(&i))
                    {
                        add_new(&mut parts, run);
                    }
                    previous = Some((c.text.clone(), own.clone()));
                    // What a part points back at is its subject too.
                    let own = if points_back && !own.is_empty() {
                        self.matcher.subjects_of(&normalize(&in_context))
                    } else {
                        own
                    };
                    if !own.is_empty() {
                        carry = own;
                    }
                }
                if parts.is_empty()
                    && let Decision::Answer(i) = whole.decision
                {
                    parts.push(i);
                }
            }
        }
        parts.truncate(MAX_PARTS);
        (parts, whole)
    }

    /// A question naming no subject, with the subject its story names
    /// ("视频都看完了 学时怎么记进去": the public courses' crediting),
    /// for a question unclear alone.
    fn with_story_subject(&self, c: &crate::scope::Clause) -> Option<String> {
        let normalize = |t: &str| self.matcher.analyzer().normalize(t);
        if !self.matcher.subjects_of(&normalize(&c.text)).is_empty() {
            return None;
        }
        match self.matcher.subjects_of(&normalize(&c.context)) {
            s if s.is_empty() => None,
            s => Some(format!("{s} {}", c.text)),
        }
    }

    /// Does `story` name a day of the month that entry `i`'s answer gives
    /// (the same day, and the same month where the story names one)?
    fn tells_date_of(&self, story: &str, i: usize) -> bool {
        // Most stories name no number at all: nothing to read.
        if !story.bytes().any(|b| b.is_ascii_digit()) {
            return false;
        }
        let told = crate::text::days_named(story);
        !told.is_empty()
            && crate::text::days_named(&self.kb.entries[i].answer)
                .iter()
                .any(|&(month, day)| {
                    told.iter()
                        .any(|&(m, d)| d == day && (m.is_none() || m == month))
                })
    }

    /// Does `story` tell a count of hours that entry `i`'s answer gives
    /// ("六十个学时" beside 专业课不少于60学时)?
    fn tells_hours_of(&self, story: &str, i: usize) -> bool {
        // Most stories name no count of hours: nothing to read.
        if !story.contains("学时") {
            return false;
        }
        let answer = &self.kb.entries[i].answer;
        crate::text::hours_named(&crate::text::prepare(story))
            .iter()
            .any(|n| answer.contains(&format!("{n}学时")))
    }

    /// "总共90学时、截止12月31号，我理解得对吧": a question that only asks
    /// to confirm (no word of the guide of its own) after several claims.
    /// Each claim clearly about an entry of its own is a part; None unless
    /// two or more are.
    fn claims_confirmed(
        &self,
        one: &crate::scope::Clause,
        reading: &crate::matcher::Reading,
    ) -> Option<Vec<usize>> {
        if one.context.is_empty() || !one.context.contains(' ') {
            return None;
        }
        // The kinds of question first, as `Matcher::read` finds them: most
        // messages stop here, before the text is normalised.
        let analyzer = self.matcher.analyzer();
        let prepared = crate::text::prepare(&one.text);
        let mut asks = analyzer.asks_prepared(&prepared);
        crate::matcher::complete_asks(&one.text, &mut asks);
        if !asks.iter().any(|a| a == "confirm")
            || self
                .matcher
                .has_domain_word(&analyzer.normalize_prepared(&prepared))
        {
            return None;
        }
        let mut found: Vec<usize> = Vec::new();
        for claim in one.context.split_whitespace() {
            if let Some(i) = self.clear_answer(claim, reading.foreign)
                && !found.contains(&i)
            {
                found.push(i);
            }
        }
        if found.len() < 2 {
            return None;
        }
        // Claims on two items of one list (公需30, 专业60) are confirmed by
        // the list's summary.
        let mut parts: Vec<usize> = Vec::new();
        for &i in &found {
            let shared = self.matcher.summary_of(i).filter(|&s| {
                found
                    .iter()
                    .filter(|&&o| self.matcher.summary_of(o) == Some(s))
                    .count()
                    >= 2
            });
            add_new(&mut parts, [shared.unwrap_or(i)]);
        }
        Some(parts)
    }

    /// "公需和专业分别学啥": one question asked of two subjects joined by a
    /// conjunction, 分别 or 各 saying each is meant. The entries of the
    /// question asked of each, when both are clear and not the same.
    fn each_of_two(&self, text: &str, foreign: i32) -> Option<[usize; 2]> {
        // Most messages hold none of the words: no normalising for them.
        if !DISTRIBUTIVE.iter().any(|w| text.contains(w)) {
            return None;
        }
        let normalized = self.matcher.analyzer().normalize(text);
        self.kb.lexicon.conjunctions.iter().find_map(|c| {
            let (left, right) = normalized.split_once(c.as_str())?;
            let left = left.trim();
            // The first half is a subject only, the second opens with one.
            let first = self.matcher.subjects_of(left);
            if first.is_empty() || first != left {
                return None;
            }
            let right = right.trim_start();
            let second = self.matcher.subjects_of(right);
            let subject = second.split(' ').find(|s| right.starts_with(*s))?;
            let asked = &right[subject.len()..];
            let a = self.clear_answer(&format!("{left}{asked}"), foreign)?;
            let b = self.clear_answer(right, foreign)?;
            // Two items of one list: its summary answers both at once.
            let one_list = self.matcher.summary_of(a).is_some()
                && self.matcher.summary_of(a) == self.matcher.summary_of(b);
            (a != b && !one_list).then_some([a, b])
        })
    }

    /// "截止时间和网址": two questions joined by a conjunction, each clearly
    /// about another entry on its own. None when either half is unclear
    /// ("公需课和专业课分别要多少学时" is one question).
    ///
    /// A long first half full of the asker's story ("我去年没学完今年快到
    /// 年底了最后期限是哪天还有总共要多少学时") may not be clear alone:
    /// then the whole message's sure answer stands for it, when that half
    /// asks something of its own and the second half is another entry.
    fn two_in_one(&self, text: &str, whole: &crate::matcher::MatchResult) -> Option<[usize; 2]> {
        if self
            .conjunctions
            .as_ref()
            .is_some_and(|ac| !ac.is_match(text))
        {
            return None;
        }
        for c in &self.kb.lexicon.conjunctions {
            let Some((left, right)) = text.split_once(c.as_str()) else {
                continue;
            };
            let sure = |t: &str| {
                // "继续教育和职称有什么关系": 继续教育 names nothing of its own.
                if self.matcher.specificity(t) < SPECIFIC_PART {
                    return None;
                }
                let m = self.matcher.find(t);
                match m.decision {
                    Decision::Answer(i) if m.score >= SURE_PART => Some(i),
                    _ => None,
                }
            };
            let Some(b) = sure(right) else {
                continue;
            };
            // A first half asking something of its own but naming only
            // common words ("how many hours do I need and when is the
            // deadline"): the whole's answer, unless that is the second
            // half's; then the half's own sure match.
            let left_entry = sure(left).or_else(|| {
                let r = self.matcher.read(left);
                if r.features.asks.is_empty() {
                    return None;
                }
                match whole.decision {
                    Decision::Answer(w) if whole.score >= SURE_PART && w != b => Some(w),
                    Decision::Answer(_) => {
                        // The half as read above, not read again.
                        let m = self.matcher.find_reading(&r);
                        match m.decision {
                            Decision::Answer(i) if m.score >= SURE_PART => Some(i),
                            _ => None,
                        }
                    }
                    _ => None,
                }
            });
            if let Some(a) = left_entry
                && a != b
            {
                return Some([a, b]);
            }
        }
        None
    }

    /// Questions run together with no mark between them ("要学多少学时在哪学
    /// 怎么登录"): cut between two question words where each piece clearly
    /// asks about another entry, up to MAX_PARTS pieces. A piece naming no
    /// subject asks about the message's ("公需课要学多少学时在哪学").
    fn run_on(&self, text: &str, foreign: i32) -> Option<Vec<usize>> {
        let prepared = crate::text::prepare(text);
        // A yes-no word opens what it asks ("有没有说经费谁出"), so no cut
        // follows it; English runs on with conjunctions (two_in_one).
        let spans: Vec<(usize, usize, &str)> = self
            .matcher
            .analyzer()
            .ask_spans(&prepared)
            .into_iter()
            .filter(|&(s, e, kind)| {
                !matches!(kind, "whether" | "confirm") && !prepared[s..e].is_ascii()
            })
            .collect();
        if spans.len() < 2 {
            return None;
        }
        let normalize = |t: &str| self.matcher.analyzer().normalize(t);
        // A piece's subject, else the one named before it.
        let sure = |before: &str, piece: &str| -> Option<(usize, f32)> {
            let piece = piece.trim();
            let r = if self.matcher.subjects_of(&normalize(piece)).is_empty() {
                // The topic of every message here, when nothing is named
                // ("要学多少学时在哪学": where one studies at all).
                let subject = match self.matcher.subjects_of(&normalize(before)) {
                    s if s.is_empty() => TOPIC.to_string(),
                    s => s,
                };
                self.matcher.read(&format!("{subject} {piece}"))
            } else {
                self.matcher.read(piece)
            };
            if !r.features.names_something() {
                return None;
            }
            let m = self.match_alone(r, foreign);
            match m.decision {
                Decision::Answer(i)
                    if m.score >= SURE_PART
                        && self.clear_of(&m) == Some(i)
                        && self.kb.entries[i].kind == EntryKind::Answer =>
                {
                    Some((i, m.score))
                }
                _ => None,
            }
        };
        // Cut between words only: "学|时" reads as neither.
        let starts = self.matcher.analyzer().word_starts(&prepared);
        let mut found: Vec<usize> = Vec::new();
        let mut from = 0;
        let mut last: Option<usize> = None;
        for pair in spans.windows(2) {
            if found.len() + 1 >= MAX_PARTS {
                break;
            }
            let (end, next) = (pair[0].1, pair[1].0);
            if end < from {
                continue;
            }
            // Every cut between the two question words; the best pair of
            // pieces wins.
            let mut best: Option<(f32, usize, usize, usize)> = None;
            let cuts = starts.iter().filter(|&&k| k >= end && k <= next);
            for &k in cuts {
                let (Some((a, sa)), Some((b, sb))) = (
                    sure(&prepared[..from], &prepared[from..k]),
                    sure(&prepared[..k], &prepared[k..]),
                ) else {
                    continue;
                };
                if a == b || found.contains(&a) || found.contains(&b) {
                    continue;
                }
                let low = sa.min(sb);
                if best.is_none_or(|(s, ..)| low > s) {
                    best = Some((low, k, a, b));
                }
            }
            if let Some((_, k, a, b)) = best {
                found.push(a);
                last = Some(b);
                from = k;
            }
        }
        found.extend(last);
        // Items of one list: its summary answers them at once.
        let one_list = found.iter().all(|&i| {
            self.matcher.summary_of(i).is_some()
                && self.matcher.summary_of(i) == self.matcher.summary_of(found[0])
        });
        (found.len() >= 2 && !one_list).then_some(found)
    }

    /// Further questions run into the first ("今年要学多少学时专业课去哪学"):
    /// what the answered phrasings leave unexplained, when it asks another
    /// kind of thing (where, how many) and clearly fits another entry; up
    /// to MAX_PARTS in all.
    fn more_questions(
        &self,
        question: &str,
        reading: &crate::matcher::Reading,
        first: &crate::matcher::MatchResult,
    ) -> Vec<usize> {
        let mut found = Vec::new();
        let (Decision::Answer(e), Some(mut doc)) = (&first.decision, first.doc) else {
            return found;
        };
        // After "the guide does not say", the rest is that question's context.
        if self.kb.entries[*e].kind == EntryKind::Gap {
            return found;
        }
        // The subject (公需课, a platform) is shared by all the questions:
        // "工需课学识怎么算的 要自己报吗" asks both about 公需课.
        let shared = self.matcher.subjects_of(&reading.normalized);
        // A long message may run questions together without naming anything
        // new ("...do I have to do this and how many hours is it").
        let long = message_length(question) >= LONG_MESSAGE_CHARS;
        let mut current: Option<crate::matcher::Reading> = None;
        while found.len() + 1 < MAX_PARTS {
            let left = self
                .matcher
                .residual(current.as_ref().unwrap_or(reading), doc);
            if left.features.asks.is_empty() || !left.features.names_something() {
                break;
            }
            // What is left must name something: a subject of its own (专业课
            // after a question on hours) or a specific word, not 总计 alone.
            if !long
                && self.matcher.subjects_of(&left.normalized).is_empty()
                && self.matcher.specificity(&left.normalized) < SPECIFIC_PART
            {
                break;
            }
            let mut ask = left.clone();
            for s in shared.split(' ') {
                if !s.is_empty() && !ask.features.words.iter().any(|w| w == s) {
                    ask.features.words.push(s.to_string());
                    ask.normalized.push(' ');
                    ask.normalized.push_str(s);
                }
            }
            let m = self.matcher.find_reading(&ask);
            // The next entry's phrasing must answer what is left: its kind
            // of question and one of its words ("网梯的客服电话几号" leaves
            // 几号, which is no question about a date).
            let answers_left = m.doc.is_some_and(|d| {
                self.matcher
                    .doc_answers(d, &left.features.asks, &left.features.words)
            });
            match (m.decision, m.doc) {
                (Decision::Answer(i), Some(d))
                    if i != *e
                        && !found.contains(&i)
                        && m.score >= SURE_PART
                        && answers_left
                        && self.kb.entries[i].kind == EntryKind::Answer =>
                {
                    found.push(i);
                    doc = d;
                    current = Some(left);
                }
                _ => break,
            }
        }
        found
    }

    /// The entry a part of a message asks about, when it clearly leads: a
    /// short part ("要学够多少学时") fits several entries about as well,
    /// and guessing among them is worse than leaving the part out.
    /// `foreign`: words of other topics in the whole message ("江西今年高校
    /// 职称评审什么时候开始申报 要交哪些材料" is about the review, whichever
    /// part holds the telling words).
    fn clear_answer(&self, text: &str, foreign: i32) -> Option<usize> {
        self.clear_reading(self.matcher.read(text), foreign)
    }

    /// As [`Responder::clear_answer`], for a text already read.
    fn clear_reading(&self, r: crate::matcher::Reading, foreign: i32) -> Option<usize> {
        self.clear_of(&self.match_alone(r, foreign))
    }

    /// A reading matched with the message's words of other topics.
    fn match_alone(
        &self,
        mut r: crate::matcher::Reading,
        foreign: i32,
    ) -> crate::matcher::MatchResult {
        r.foreign = r.foreign.max(foreign);
        self.matcher.find_reading(&r)
    }

    /// The entry a match answers with a clear lead.
    fn clear_of(&self, m: &crate::matcher::MatchResult) -> Option<usize> {
        let Decision::Answer(i) = m.decision else {
            return None;
        };
        let second = m.ranked.get(1).map_or(0.0, |r| r.1);
        // A menu topic's overview answer is safe even in a tie; so is the
        // summary two of its items led to ("继续教育到底要在哪里学": where
        // both kinds of course are studied).
        (m.score - second >= CLEAR_LEAD
            || self.matcher.is_overview(i)
            || (self.matcher.is_summary(i) && m.ranked.first().is_some_and(|r| r.0 == i)))
        .then_some(i)
    }

    /// The reply for the entries of a message, in the year chosen.
    fn compose(&self, parts: &[usize], choice: YearChoice, runner_up: Option<usize>) -> Reply {
        let newest: Vec<&Entry> = parts.iter().map(|&i| &self.kb.entries[i]).collect();
        // A part that the reply's summary entry already answers says it
        // twice ("公需课要申报吗？专业课呢" with where_both): the summary stays.
        let summarised = |e: &Entry| {
            e.summary
                .as_ref()
                .is_some_and(|s| newest.iter().any(|o| &o.id == s))
        };
        let newest: Vec<&Entry> = if newest.iter().any(|e| summarised(e)) {
            newest.iter().copied().filter(|e| !summarised(e)).collect()
        } else {
            newest
        };
        let year = match choice {
            YearChoice::Loaded(y) => y,
            _ => self.kb.facts.year,
        };
        // The same entries from the year asked about, where it has them.
        let entries: Vec<&Entry> = match self.kb.guide(year) {
            Some((_, list)) if year != self.kb.facts.year => newest
                .iter()
                .map(|e| list.iter().find(|o| o.id == e.id).unwrap_or(e))
                .collect(),
            _ => newest,
        };
        let answers: Vec<&Entry> = entries
            .iter()
            .copied()
            .filter(|e| e.kind == EntryKind::Answer)
            .collect();
        let yearly = answers.iter().any(|e| e.yearly);
        let current = self.current_year();
        let mut text = String::new();
        match choice {
            YearChoice::Missing(y) => {
                text.push_str(&format!(
                    "我只收录了{}年度指南，没有{y}年度的。{y}年度的要求请以人事处通知为准。",
                    self.years_text()
                ));
                if !answers.is_empty() {
                    text.push_str(&format!(
                        "\n仅供参考，{}年度指南的规定：",
                        self.kb.facts.year
                    ));
                }
            }
            _ if yearly && year != current && !matches!(choice, YearChoice::Loaded(_)) => {
                text.push_str(&format!(
                    "以下依据{year}年度指南；{current}年度指南尚未收录，请以人事处最新通知为准。"
                ));
            }
            _ => {}
        }
        for e in &entries {
            if !text.is_empty() {
                text.push('\n');
            }
            match e.kind {
                EntryKind::Answer => text.push_str(&e.full_answer()),
                EntryKind::Gap => text.push_str(&self.gap_text(e)),
            }
        }
        // The first question decides: a message that first asks what the
        // guide does not say is no answered question, whatever follows.
        let first_answer = answers
            .first()
            .filter(|_| !matches!(choice, YearChoice::Missing(_)))
            .filter(|_| entries.first().is_some_and(|e| e.kind == EntryKind::Answer));
        let mut reply = match first_answer {
            Some(first) => {
                let runner_up = runner_up.map(|i| self.kb.entries[i].id.as_str());
                let mut r = self.answer_with(first, runner_up);
                // No button for a question the reply already answers.
                r.buttons.retain(|row| {
                    !row.iter().any(|b| {
                        matches!(&b.action, Action::Show(id) if entries.iter().any(|e| &e.id == id))
                    })
                });
                r.source = Some(
                    answers
                        .iter()
                        .map(|e| e.source.as_str())
                        .collect::<Vec<_>>()
                        .join("；"),
                );
                r
            }
            None => Reply {
                buttons: self.topic_buttons(),
                ..Reply::with_kind(String::new(), ReplyKind::Decline)
            },
        };
        reply.text = text;
        reply.parts = entries.iter().map(|e| e.id.clone()).collect();
        reply
    }

    /// "The guide does not say", its source, and where to ask instead.
    fn gap_text(&self, e: &Entry) -> String {
        let mut s = e.answer.clone();
        for r in &e.refer {
            s.push_str(&match r {
                Refer::School => format!("学校的安排请咨询{}。", self.contacts.hr()),
                Refer::Hotline => format!(
                    "在平台学习中遇到问题可拨打咨询电话{}。",
                    self.kb.facts.hotline
                ),
            });
        }
        format!("{s}\n依据：{}", e.source)
    }

    fn years_text(&self) -> String {
        self.kb
            .years()
            .iter()
            .map(|y| y.to_string())
            .collect::<Vec<_>>()
            .join("、")
    }

    fn candidates(&self, ids: &[usize]) -> Reply {
        let entries: Vec<&Entry> = ids.iter().map(|&i| &self.kb.entries[i]).collect();
        let mut text = String::from("您是想问：");
        for (n, e) in entries.iter().enumerate() {
            text.push_str(&format!("\n{}. {}", n + 1, e.title));
        }
        Reply {
            buttons: entries.iter().map(|e| vec![Button::show(e)]).collect(),
            candidates: entries.iter().map(|e| e.id.clone()).collect(),
            ..Reply::with_kind(text, ReplyKind::Candidates)
        }
    }

    /// A question about another region, profession or an operator's own
    /// business: declined with the reason, whatever words it shares.
    fn decline_outside(&self, out: &Outside) -> Reply {
        let scope = format!(
            "我只掌握江西省高等学校、中等职业学校专业技术人员的{}年度继续教育指南",
            self.years_text()
        );
        let text = match out {
            Outside::Region(r) => {
                format!("抱歉，{scope}；“{r}”的继续教育规定不在其中，请以当地的规定为准。")
            }
            Outside::Profession(p) => {
                format!("抱歉，{scope}；“{p}”的继续教育有其行业自己的规定，不在其中。")
            }
            Outside::School(w) => format!(
                "抱歉，{scope}；“{w}”教师的继续教育另有规定，不在其中，请以其主管部门的规定为准。"
            ),
            Outside::Office => return self.decline(),
            Outside::Operator(o) => format!(
                "抱歉，指南只把{o}列为网络学习平台的运营方（客服电话可发“平台名单”查看），关于{o}的其他情况不在指南范围内。"
            ),
        };
        Reply {
            buttons: self.topic_buttons(),
            ..Reply::with_kind(text, ReplyKind::Decline)
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
            parts: vec![e.id.clone()],
            candidates: Vec::new(),
            score: 1.0,
            source: Some(e.source.clone()),
        }
    }

    /// The answer of an entry by id (a tapped button); None if unknown.
    pub fn answer_id(&self, id: &str) -> Option<Reply> {
        self.kb.entry(id).map(|e| self.answer(e))
    }

    /// The guide does not cover this: say so, and where to ask instead
    /// (school matters to the school, platform problems to the hotline).
    pub fn decline(&self) -> Reply {
        let topics: Vec<&str> = self.kb.topics.iter().map(|t| t.label.as_str()).collect();
        Reply {
            buttons: self.topic_buttons(),
            ..Reply::with_kind(
                format!(
                    "抱歉，{}年度继续教育指南没有涉及这个问题。学校的安排请咨询{}；在平台学习中遇到问题可拨打咨询电话{}。\n我能回答：{}。",
                    self.kb.facts.year,
                    self.contacts.hr(),
                    self.kb.facts.hotline,
                    topics.join("、")
                ),
                ReplyKind::Decline,
            )
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
            parts: r.parts.clone(),
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
        Reply::with_kind(text, ReplyKind::Info)
    }

    fn with_kind(text: String, kind: ReplyKind) -> Reply {
        Reply {
            text,
            buttons: Vec::new(),
            kind,
            matched: None,
            parts: Vec::new(),
            candidates: Vec::new(),
            score: 0.0,
            source: None,
        }
    }

    pub fn choices(&self) -> Vec<&Button> {
        self.buttons.iter().flatten().collect()
    }
}

/// Add to `parts` the entries of `more` not in it yet, in order.
fn add_new(parts: &mut Vec<usize>, more: impl IntoIterator<Item = usize>) {
    for j in more {
        if !parts.contains(&j) {
            parts.push(j);
        }
    }
}

/// Two kinds of question at least besides yes-no (how many and where): a
/// text that may run two questions together. Most messages ask one kind.
fn asks_two_kinds(asks: &[String]) -> bool {
    asks.iter()
        .filter(|a| !matches!(a.as_str(), "whether" | "confirm"))
        .count()
        >= 2
}

/// Is `story` a sentence quoted from the notice ("通知里说“…”",
/// "文件上写着「…」"): an opening quotation mark after a word of saying?
fn quotes_notice(story: &str) -> bool {
    story.find(['“', '「', '"']).is_some_and(|at| {
        let before = &story[..at];
        // A sentence, not a name put in quotes ("讲“三大高地”的专题").
        let quoted = story[at..]
            .chars()
            .skip(1)
            .take_while(|c| !['”', '」', '"'].contains(c))
            .count();
        quoted >= QUOTED_SENTENCE_CHARS
            && ["说", "写", "规定", "提到", "讲"]
                .iter()
                .any(|w| before.contains(w))
    })
}

/// How long a message is, in Chinese characters: an English word says
/// about as much as two ("when do I need to finish my hours" is short).
fn message_length(text: &str) -> usize {
    text.split_whitespace()
        .map(|w| {
            if w.is_ascii() {
                ENGLISH_WORD_CHARS
            } else {
                w.chars().count()
            }
        })
        .sum()
}

/// Chinese characters an English word counts for.
const ENGLISH_WORD_CHARS: usize = 2;

/// Fewer characters in quotes are a name or a term, not a sentence quoted.
const QUOTED_SENTENCE_CHARS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_of_the_notice_is_quoted_a_name_in_quotes_is_not() {
        assert!(quotes_notice("通知里说“逾期未完成的应当及时补学”"));
        assert!(!quotes_notice("那个讲“三大高地”的专题"));
        assert!(!quotes_notice("我看了“三大高地”这一讲"));
    }

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
