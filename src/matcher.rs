//! The question matcher: free text in, the best FAQ entry out, with a
//! confidence in [0, 1] and a decision (answer, offer candidates, decline).
//!
//! Every example phrasing and title is a small document. A question is
//! scored against each by idf-weighted feature overlap (words and character
//! bigrams): how much of the question's weight the phrasing covers (recall)
//! and how much of the phrasing the question covers (precision), blended so
//! recall counts most. Words the knowledge base has never seen carry the
//! highest idf, so an out-of-scope question ("驾校学时") keeps a low
//! coverage even when it shares a domain word. Unknown words close to a
//! known one (edit distance) count as that word, weighted by similarity.
//! An entry's score is that of its best phrasing.

use crate::knowledge::Kb;
use crate::scope::{Outside, Scope};
use crate::text::{Analyzer, Features, automaton};
use aho_corasick::{AhoCorasick, MatchKind};
use rustc_hash::FxHashMap;

/// Thresholds of the decision; defaults measured on the dev set and the
/// held-out fixtures (see tests/).
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// At or above: confident enough to answer.
    pub answer: f32,
    /// Between this and `answer`, or when the top two are too close: offer
    /// candidates. Below: decline.
    pub candidates: f32,
    /// Minimum lead of the best entry over the runner-up to answer outright.
    pub margin: f32,
    /// At or above: answer even without the lead.
    pub sure: f32,
    /// A lone candidate (nothing else within reach) at or above this is
    /// answered.
    pub lone: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            answer: 0.45,
            candidates: 0.4,
            margin: 0.02,
            sure: 0.6,
            lone: 0.45,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Answer(usize),
    Candidates(Vec<usize>),
    Decline,
}

impl Decision {
    /// The entry answered, if the decision is to answer.
    pub fn answer(&self) -> Option<usize> {
        match self {
            Decision::Answer(i) => Some(*i),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MatchResult {
    pub decision: Decision,
    /// Score of the best entry.
    pub score: f32,
    /// Best entries first: (entry index, score); at most five.
    pub ranked: Vec<(usize, f32)>,
    /// The phrasing that matched the best entry (a document index).
    pub doc: Option<usize>,
}

/// Which of `subjects` are among the words, in order. Whole words: 专业课
/// in 专业课广场 names the place, not the subject.
fn subject_ids(subjects: &[String], words: &[String]) -> Vec<usize> {
    subjects
        .iter()
        .enumerate()
        .filter(|(_, s)| words.contains(s))
        .map(|(i, _)| i)
        .collect()
}

/// Feature kinds weigh differently: a whole word says more than a bigram.
const WORD_FACTOR: f32 = 1.0;
const BIGRAM_FACTOR: f32 = 0.3;
/// What is asked (when, how many) helps tell entries apart, no more.
const ASK_FACTOR: f32 = 0.5;
/// Weight of recall against precision in the blended score.
const RECALL_SHARE: f32 = 0.7;
/// Past this many known words, recall counts less by LONG_SHIFT a word,
/// down to RECALL_FLOOR.
const LONG_WORDS: usize = 4;
const LONG_SHIFT: f32 = 0.05;
const RECALL_FLOOR: f32 = 0.4;
/// How much of the gap a phrasing left an answer text covering the question
/// may fill.
const ANSWER_SHARE: f32 = 0.6;
/// Each word of another topic in a question scales every score by this.
const FOREIGN_PENALTY: f32 = 0.5;
/// Unknown words beyond this many do not add to a question's weight: the
/// personal context of a long voice message ("群里说法不一样") must not
/// drown the question in it. One or two unknown words in a short question
/// ("驾校学时") still weigh in full.
const OOV_CAP: usize = 3;
/// Scales a question none of whose matched words has two characters.
const INSUBSTANTIAL_PENALTY: f32 = 0.4;
/// A gap entry whose required words a question holds comes first when
/// this close to the best.
const GAP_LEAD: f32 = 0.3;
/// A figure offered for confirmation shares little with the entry that
/// corrects it ("截止是11月底对吧"): a lone candidate this good answers.
const CONFIRM_FLOOR: f32 = 0.33;
/// Entries within this of the best are offered beside it.
const CLOSE: f32 = 0.15;
/// Scales an entry whose required words the question lacks.
const REQUIRE_PENALTY: f32 = 0.5;
/// Scales an entry whose phrasings name subjects, none of them the
/// question's ("折算学时是单位审还是系统自动" is not about 公需课).
const SUBJECT_PENALTY: f32 = 0.8;
/// Two items of one list this close: the list's summary entry answers.
const SIBLING_GAP: f32 = 0.1;
/// A word this specific (its idf against an unknown word's) tells one entry
/// from an overview.
const TELLING_WORD: f32 = 0.7;
thread_local! {
    /// rank_full's overlap of a question with every phrasing, kept between
    /// calls on a thread and all zero between them: one allocation and
    /// zeroing less per question.
    static OVERLAP: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How far before a word "我是" / "我在" may stand, in characters.
const WORKPLACE_REACH: usize = 8;

/// Is the word at `start..end` where the asker works ("我是高校图书馆的",
/// "我在校医院工作")? Then it tells who asks, not what about.
fn workplace(text: &str, start: usize, end: usize) -> bool {
    // Back from the word to 我是 / 我在 within the reach, through no pause.
    let before: Vec<char> = text[..start]
        .chars()
        .rev()
        .take(WORKPLACE_REACH)
        .take_while(|c| !c.is_whitespace())
        .collect();
    let said = before
        .windows(2)
        .any(|w| w[1] == '我' && matches!(w[0], '是' | '在'));
    let after = &text[end..];
    said && ["的", "工作", "上班"].iter().any(|a| after.starts_with(a))
}

/// The kinds of question a text's cues name (`asks`), completed by its
/// ending: a trailing 吗 or 不 asks yes or no, 对吧 confirms, and a fact
/// offered for confirmation ("教学岗也要学对吧") asks yes or no.
pub fn complete_asks(question: &str, asks: &mut Vec<String>) {
    if asks.is_empty()
        && let Some(ending) = crate::scope::yes_no_ending(question)
    {
        asks.push("whether".into());
        if ending == crate::scope::Ending::Confirm {
            asks.push("confirm".into());
        }
    }
    if asks.iter().any(|a| a == "confirm") && !asks.iter().any(|a| a == "whether") {
        asks.push("whether".into());
    }
}

/// How many of the best entries a decision weighs (and offers).
const CONSIDERED: usize = 5;
/// Year words are in the vocabulary but say nothing about the topic.
const YEAR_WORDS: [&str; 6] = ["今年", "去年", "明年", "前年", "每年", "年度"];
/// Unknown words at least this close to a known word count as it.
const FUZZY_MIN: f64 = 0.74;

struct Doc {
    entry: usize,
    /// Answer texts are long: they vouch for words (recall) but their
    /// precision means nothing, and they count less than a phrasing.
    answer: bool,
    /// Sum of the weights of the document's features.
    weight: f32,
    /// Its feature ids, sorted (what a question's words are checked
    /// against when finding what a match left unexplained).
    features: Vec<u32>,
}

/// A question as the matcher reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The text through [`crate::text::prepare`] (for years).
    pub prepared: String,
    /// Normalised text (for the words an entry requires).
    pub normalized: String,
    pub features: Features,
    /// How many words of other topics it holds.
    pub foreign: i32,
}

pub struct Matcher {
    analyzer: Analyzer,
    /// feature key ("w:学时", "b:学时") -> id
    /// Feature ids by kind: words, bigrams, kinds of question.
    vocab: [FxHashMap<String, u32>; 3],
    idf: Vec<f32>,
    /// feature id -> documents containing it
    postings: Vec<Vec<u32>>,
    docs: Vec<Doc>,
    /// known words (for typo tolerance), with their char counts, sorted
    words: Vec<(String, usize)>,
    /// Indexes into `words` by the characters they hold: a word one typo
    /// away shares its first or its second character.
    words_by_char: FxHashMap<char, Vec<u32>>,
    oov_idf: f32,
    n_entries: usize,
    /// Words of other topics (salary, canteen, driving school); None if
    /// the lexicon lists none.
    foreign: Option<AhoCorasick>,
    /// Per entry: groups of words (normalised; "?when" a kind of question),
    /// one of each group the question must hold; empty: none required.
    requires: Vec<Vec<Vec<Need>>>,
    /// The knowledge base's words of two characters or more, to tell a
    /// scope word read across one of them (会计 in 才会计入).
    domain_words: Option<AhoCorasick>,
    /// Per entry: ids of the words that scale it down (see `Entry::excludes`).
    excludes: Vec<Vec<usize>>,
    /// Every word some entry requires, found in a question in one pass.
    required_words: Option<AhoCorasick>,
    /// Per entry: does a menu topic lead to it (an overview answer)?
    head: Vec<bool>,
    /// Per entry: is it a gap ("the guide does not say")?
    gap: Vec<bool>,
    /// Per entry: the index of its summary entry.
    summary: Vec<Option<usize>>,
    /// Region, profession and operator words (see [`crate::scope`]).
    scope: Scope,
    /// Words a year can qualify (normalised), from the lexicon.
    year_scoped: Vec<String>,
    /// Words that name what a question is about (公需课, a platform), carried
    /// to the next part of a multi-part question that leaves them out.
    subjects: Vec<String>,
    /// The subjects in one automaton, for finding those a text names.
    subject_words: Option<AhoCorasick>,
    /// Per entry: the subjects its title and phrasings name (indices into
    /// `subjects`), to tell a question about another subject.
    entry_subjects: Vec<Vec<usize>>,
    pub thresholds: Thresholds,
}

/// What an entry requires of a question: a word (an id into the required
/// words) or a kind of question.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Need {
    Word(usize),
    Ask(String),
}

/// The kinds of feature, each with its own vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Bigram,
    Ask,
}

impl Kind {
    fn factor(self) -> f32 {
        match self {
            Kind::Word => WORD_FACTOR,
            Kind::Bigram => BIGRAM_FACTOR,
            Kind::Ask => ASK_FACTOR,
        }
    }
}

fn keys(f: &Features) -> impl Iterator<Item = (Kind, &str)> + '_ {
    f.words
        .iter()
        .map(|w| (Kind::Word, w.as_str()))
        .chain(f.bigrams.iter().map(|b| (Kind::Bigram, b.as_str())))
        .chain(f.asks.iter().map(|a| (Kind::Ask, a.as_str())))
}

impl Matcher {
    pub fn new(kb: &Kb) -> Matcher {
        let analyzer = Analyzer::new(&kb.lexicon);
        let mut vocab: [FxHashMap<String, u32>; 3] = Default::default();
        let mut next_id = 0u32;
        let mut factor: Vec<f32> = Vec::new();
        let mut postings: Vec<Vec<u32>> = Vec::new();
        let mut doc_feats: Vec<(usize, bool, Vec<u32>)> = Vec::new();
        // Per entry, the words of its title and phrasings (for its subjects).
        let mut phrasing_words: Vec<Vec<String>> = vec![Vec::new(); kb.entries.len()];
        for (ei, e) in kb.entries.iter().enumerate() {
            // An entry without phrasings is reached only as the summary of
            // others ("公需课和专业课在哪学" through both): nothing to match.
            if e.questions.is_empty() {
                continue;
            }
            let phrasings = std::iter::once(&e.title)
                .chain(&e.questions)
                .map(|t| (t, false));
            for (text, answer) in phrasings.chain(std::iter::once((&e.answer, true))) {
                let f = analyzer.features(text);
                if !answer {
                    phrasing_words[ei].extend(f.words.iter().cloned());
                }
                let mut ids = Vec::new();
                for (kind, k) in keys(&f) {
                    let id = *vocab[kind as usize]
                        .entry(k.to_string())
                        .or_insert_with(|| {
                            factor.push(kind.factor());
                            postings.push(Vec::new());
                            next_id += 1;
                            next_id - 1
                        });
                    ids.push(id);
                }
                let doc = doc_feats.len() as u32;
                for &id in &ids {
                    postings[id as usize].push(doc);
                }
                doc_feats.push((ei, answer, ids));
            }
        }
        let n = doc_feats.len().max(1) as f32;
        let idf_of = |df: f32| ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
        let idf: Vec<f32> = postings
            .iter()
            .zip(&factor)
            .map(|(p, fac)| idf_of(p.len() as f32) * fac)
            .collect();
        let docs = doc_feats
            .iter()
            .map(|(entry, answer, ids)| Doc {
                entry: *entry,
                answer: *answer,
                weight: ids.iter().map(|&i| idf[i as usize]).sum(),
                features: {
                    let mut f = ids.clone();
                    f.sort_unstable();
                    f
                },
            })
            .collect();
        let mut words: Vec<(String, usize)> = vocab[Kind::Word as usize]
            .keys()
            .filter(|w| w.chars().count() >= 2)
            .map(|w| (w.clone(), w.chars().count()))
            .collect();
        words.sort();
        let mut words_by_char: FxHashMap<char, Vec<u32>> = FxHashMap::default();
        for (i, (w, _)) in words.iter().enumerate() {
            let mut seen: Vec<char> = w.chars().collect();
            seen.sort_unstable();
            seen.dedup();
            for c in seen {
                words_by_char.entry(c).or_default().push(i as u32);
            }
        }
        let scope = Scope::new(kb, |w| analyzer.normalize(w));
        let subjects: Vec<String> = kb
            .lexicon
            .subjects
            .iter()
            .map(String::as_str)
            .chain(kb.facts.platforms.iter().map(|p| p.name.as_str()))
            .chain(kb.facts.platforms.iter().map(|p| p.operator.as_str()))
            .map(|w| analyzer.normalize(w))
            .filter(|w| !w.is_empty())
            .collect();
        // A gap is asked about any subject (its required words decide); a
        // summary is about each of its items' subjects too.
        let entry_subjects = kb
            .entries
            .iter()
            .enumerate()
            .map(|(ei, e)| {
                if e.kind == crate::knowledge::EntryKind::Gap {
                    return Vec::new();
                }
                let mut own = subject_ids(&subjects, &phrasing_words[ei]);
                for (oi, _) in kb
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.summary.as_ref() == Some(&e.id))
                {
                    own.extend(subject_ids(&subjects, &phrasing_words[oi]));
                }
                own.sort_unstable();
                own.dedup();
                own
            })
            .collect();
        // Required words become ids into one automaton; "?when" a kind.
        let mut required: Vec<String> = Vec::new();
        let requires = kb
            .entries
            .iter()
            .map(|e| {
                e.requires
                    .iter()
                    .map(|group| {
                        group
                            .iter()
                            .filter_map(|w| match w.strip_prefix('?') {
                                Some(kind) => Some(Need::Ask(kind.to_string())),
                                None => {
                                    let n = analyzer.normalize(w);
                                    if n.is_empty() {
                                        return None;
                                    }
                                    let id = required.iter().position(|r| *r == n).unwrap_or_else(
                                        || {
                                            required.push(n);
                                            required.len() - 1
                                        },
                                    );
                                    Some(Need::Word(id))
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        // Excluded words share the automaton: one pass finds both kinds.
        let excludes: Vec<Vec<usize>> = kb
            .entries
            .iter()
            .map(|e| {
                e.excludes
                    .iter()
                    .map(|w| analyzer.normalize(w))
                    .filter(|n| !n.is_empty())
                    .map(|n| {
                        required.iter().position(|r| *r == n).unwrap_or_else(|| {
                            required.push(n);
                            required.len() - 1
                        })
                    })
                    .collect()
            })
            .collect();
        let required_words = automaton(&required, MatchKind::Standard).ok();
        // Thousands of words, searched only to tell a scope word read
        // across one: the compact default automaton, quick to build.
        let domain_words = AhoCorasick::new(
            words
                .iter()
                .map(|(w, _)| w.as_str())
                .filter(|w| w.chars().count() >= 2),
        )
        .ok();
        let summary = kb
            .entries
            .iter()
            .map(|e| {
                let s = e.summary.as_deref()?;
                kb.entries.iter().position(|o| o.id == s)
            })
            .collect();
        let gap = kb
            .entries
            .iter()
            .map(|e| e.kind == crate::knowledge::EntryKind::Gap)
            .collect();
        let head = kb
            .entries
            .iter()
            .map(|e| kb.topics.iter().any(|t| t.entry == e.id))
            .collect();
        let year_scoped = kb
            .lexicon
            .year_scoped
            .iter()
            .map(|w| analyzer.normalize(w))
            .filter(|w| !w.is_empty())
            .collect();
        Matcher {
            year_scoped,
            required_words,
            head,
            gap,
            requires,
            excludes,
            domain_words,
            summary,
            scope,
            // Overlapping: 公需课 and a subject inside it are both named.
            subject_words: automaton(&subjects, MatchKind::Standard).ok(),
            subjects,
            entry_subjects,
            analyzer,
            vocab,
            words_by_char,
            idf,
            postings,
            docs,
            words,
            oov_idf: idf_of(0.0),
            n_entries: kb.entries.len(),
            thresholds: Thresholds::default(),
            foreign: {
                let words: Vec<String> = kb
                    .lexicon
                    .out_of_scope
                    .iter()
                    .map(|w| crate::text::prepare(w).trim().to_string())
                    .filter(|w| !w.is_empty())
                    .collect();
                // Left-most longest: 招生办 counts once, not also as 招生.
                automaton(&words, MatchKind::LeftmostLongest).ok()
            },
        }
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    fn id(&self, kind: Kind, key: &str) -> Option<u32> {
        self.vocab[kind as usize].get(key).copied()
    }

    /// Does this text hold a word of the knowledge base (two characters or
    /// more, not a bare year word)?
    pub fn has_domain_word(&self, text: &str) -> bool {
        self.analyzer.tokens(text).iter().any(|w| {
            w.chars().count() >= 2
                && !YEAR_WORDS.contains(&w.as_str())
                && self.id(Kind::Word, w).is_some()
        })
    }

    /// The rarest known word of a text, as a share of the weight of a word
    /// the knowledge base has never seen: 继续教育 (in nearly every entry)
    /// is low, 网址 high. A text naming nothing specific asks nothing of
    /// its own.
    pub fn specificity(&self, text: &str) -> f32 {
        self.analyzer
            .tokens(text)
            .iter()
            .filter_map(|w| self.word_specificity(w))
            .fold(0.0, f32::max)
    }

    /// A known word's idf as a share of an unknown word's; None if unknown.
    fn word_specificity(&self, w: &str) -> Option<f32> {
        self.id(Kind::Word, w)
            .map(|id| self.idf[id as usize] / self.oov_idf)
    }

    /// Does a menu topic lead to this entry (an overview answer)?
    pub fn is_overview(&self, entry: usize) -> bool {
        self.head.get(entry).copied().unwrap_or(false)
    }

    /// The entry that sums up this one and its siblings (the total hours
    /// for the public and the professional hours), if any.
    pub fn summary_of(&self, entry: usize) -> Option<usize> {
        self.summary.get(entry).copied().flatten()
    }

    /// Does this entry sum up others (the total hours; where both kinds
    /// of course are studied)?
    pub fn is_summary(&self, entry: usize) -> bool {
        self.summary.contains(&Some(entry))
    }

    /// Does (normalised) text start with a word of the knowledge base?
    pub fn starts_with_domain_word(&self, text: &str) -> bool {
        self.words
            .iter()
            .any(|(w, _)| text.starts_with(w.as_str()) && !YEAR_WORDS.contains(&w.as_str()))
    }

    /// Does a word of the knowledge base (two characters or more) overlap
    /// the span `start..end` of `text` without holding it or being held by
    /// it (会计 in 才会计入 overlaps 计入)?
    fn crosses_a_word(&self, text: &str, start: usize, end: usize) -> bool {
        self.domain_words.as_ref().is_some_and(|ac| {
            ac.find_overlapping_iter(text).any(|m| {
                let (at, e) = (m.start(), m.end());
                (at < start && e > start && e < end) || (at > start && at < end && e > end)
            })
        })
    }

    /// Is the (normalised) question about another region, profession, or
    /// only a platform operator's own business?
    pub fn outside(&self, normalized: &str) -> Option<Outside> {
        self.scope.outside(
            normalized,
            |rest| !self.analyzer.tokens(rest).is_empty() && !self.has_domain_word(rest),
            |start, end| self.crosses_a_word(normalized, start, end),
        )
    }

    /// The guide years a (prepared, not yet rewritten: 年度 is a synonym)
    /// question is about.
    pub fn years(&self, prepared: &str, current: i32) -> Vec<crate::scope::NamedYear> {
        crate::scope::years(
            prepared,
            current,
            |rest| {
                let rest = self.analyzer.normalize_prepared(rest);
                self.year_scoped
                    .iter()
                    .any(|w| rest.starts_with(w.as_str()))
            },
            |phrase| {
                let phrase = self.analyzer.normalize_prepared(phrase);
                self.year_scoped.iter().any(|w| phrase.contains(w.as_str()))
            },
        )
    }

    /// The subject words of a question (normalised), joined by spaces.
    pub fn subjects_of(&self, normalized: &str) -> String {
        let mut named = vec![false; self.subjects.len()];
        match &self.subject_words {
            Some(ac) => {
                for m in ac.find_overlapping_iter(normalized) {
                    named[m.pattern().as_usize()] = true;
                }
            }
            None => {
                for (n, s) in named.iter_mut().zip(&self.subjects) {
                    *n = normalized.contains(s.as_str());
                }
            }
        }
        self.subjects
            .iter()
            .zip(named)
            .filter(|(_, n)| *n)
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// How many words of other topics the (prepared) question holds.
    fn foreign_words(&self, prepared: &str) -> i32 {
        self.foreign.as_ref().map_or(0, |ac| {
            ac.find_iter(prepared)
                .filter(|m| !workplace(prepared, m.start(), m.end()))
                .count() as i32
        })
    }

    /// The nearest known word to an unknown one, if near enough.
    fn nearest_word(&self, w: &str) -> Option<(u32, f32)> {
        let len = w.chars().count();
        // Two-character Chinese words differ by half at one typo: too loose.
        if !(3..=12).contains(&len) {
            return None;
        }
        let mut chars = w.chars();
        let (first, second) = (chars.next()?, chars.next()?);
        let mut candidates: Vec<u32> = [first, second]
            .iter()
            .filter_map(|c| self.words_by_char.get(c))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut best: Option<(&str, f64)> = None;
        for i in candidates {
            let (cand, clen) = &self.words[i as usize];
            if clen.abs_diff(len) > 1 {
                continue;
            }
            let s = strsim::normalized_levenshtein(w, cand);
            if s >= FUZZY_MIN && best.is_none_or(|(b, bs)| s > bs || (s == bs && cand.as_str() < b))
            {
                best = Some((cand, s));
            }
        }
        let (word, sim) = best?;
        let id = self.id(Kind::Word, word)?;
        Some((id, sim as f32))
    }

    /// Score every entry; best first.
    pub fn rank(&self, question: &str) -> Vec<(usize, f32)> {
        let r = self.read(question);
        let asked = subject_ids(&self.subjects, &r.features.words);
        self.rank_full(&r, &asked, usize::MAX).0
    }

    /// Normalise and segment a question once.
    pub fn read(&self, question: &str) -> Reading {
        let prepared = crate::text::prepare(question);
        let normalized = self.analyzer.normalize_prepared(&prepared);
        let mut features = self.analyzer.features_normalized(&prepared, &normalized);
        complete_asks(question, &mut features.asks);
        Reading {
            foreign: self.foreign_words(&prepared),
            prepared,
            normalized,
            features,
        }
    }

    /// Does document `d` hold the feature `key` of `kind`?
    fn doc_holds(&self, d: &Doc, kind: Kind, key: &str) -> bool {
        self.id(kind, key)
            .is_some_and(|id| d.features.binary_search(&id).is_ok())
    }

    /// What of a question the phrasing `doc` leaves unexplained: its other
    /// words and kinds of question ("今年要学多少学时专业课去哪学" once 今年
    /// 学多少学时 is matched: 专业课, where).
    pub fn residual(&self, r: &Reading, doc: usize) -> Reading {
        let Some(d) = self.docs.get(doc) else {
            return r.clone();
        };
        let covered = |kind: Kind, x: &str| self.doc_holds(d, kind, x);
        let words: Vec<String> = r
            .features
            .words
            .iter()
            .filter(|w| !covered(Kind::Word, w))
            .cloned()
            .collect();
        let text = words.join(" ");
        Reading {
            foreign: r.foreign,
            prepared: text.clone(),
            normalized: text,
            features: Features {
                bigrams: r
                    .features
                    .bigrams
                    .iter()
                    .filter(|b| !covered(Kind::Bigram, b.as_str()))
                    .cloned()
                    .collect(),
                asks: r
                    .features
                    .asks
                    .iter()
                    .filter(|a| !covered(Kind::Ask, a))
                    .cloned()
                    .collect(),
                words,
                bounds: Vec::new(),
            },
        }
    }

    /// Does phrasing `doc` hold the kind of question `ask` and a word of
    /// two characters or more among `words`?
    pub fn doc_answers(&self, doc: usize, asks: &[String], words: &[String]) -> bool {
        let Some(d) = self.docs.get(doc) else {
            return false;
        };
        let holds = |kind: Kind, key: &str| self.doc_holds(d, kind, key);
        asks.iter().any(|a| holds(Kind::Ask, a))
            && words
                .iter()
                .filter(|w| w.chars().count() >= 2)
                .any(|w| holds(Kind::Word, w))
    }

    /// Which required words the question holds (overlapping: 集中面授
    /// holds 面授 too), by index into the required words.
    fn required_present(&self, r: &Reading) -> Vec<bool> {
        let Some(ac) = &self.required_words else {
            return Vec::new();
        };
        let mut present = vec![false; ac.patterns_len()];
        for m in ac.find_overlapping_iter(r.normalized.as_str()) {
            // Not read across words: 少学 is not in 多少学时.
            if !r.features.across_words(m.start(), m.end()) {
                present[m.pattern().as_usize()] = true;
            }
        }
        present
    }

    /// One word or kind of question of each group, and no excluding word.
    fn requirements_met(req: &[Vec<Need>], excl: &[usize], f: &Features, present: &[bool]) -> bool {
        let holds = |n: &Need| match n {
            Need::Ask(kind) => f.asks.iter().any(|a| a == kind),
            Need::Word(id) => present[*id],
        };
        req.iter().all(|group| group.iter().any(holds)) && !excl.iter().any(|id| present[*id])
    }

    /// Score every entry, best first; per entry whether the question holds
    /// its required words, and its best phrasing. `asked`: the subjects the
    /// question names (`subject_ids`).
    fn rank_full(
        &self,
        r: &Reading,
        asked: &[usize],
        limit: usize,
    ) -> (Vec<(usize, f32)>, Vec<bool>, Vec<usize>) {
        let f = &r.features;
        let mut query_weight = 0.0f32;
        // Taken out while in use: a panic drops it rather than leave it
        // dirty; all zero again when put back.
        let mut overlap = OVERLAP.with_borrow_mut(std::mem::take);
        overlap.resize(self.docs.len(), 0.0);
        // The phrasings sharing something with the question, in the order
        // first met: most share nothing, and only these are scored.
        let mut touched: Vec<u32> = Vec::with_capacity(self.docs.len() / 2);
        // Did a real word match (two or more characters)? "你是谁" shares
        // only 谁 with the knowledge base: not enough to answer.
        let mut substantive = false;
        let mut unknown = 0.0f32;
        let mut unknown_words = 0usize;
        for (kind, key) in keys(f) {
            let known = self.id(kind, key).map(|id| (id, 1.0f32));
            let hit = known.or_else(|| match kind {
                Kind::Word => self.nearest_word(key),
                _ => None,
            });
            match hit {
                Some((id, sim)) => {
                    if kind == Kind::Word {
                        substantive |= key.chars().count() >= 2;
                    }
                    let w = self.idf[id as usize];
                    query_weight += w;
                    for &d in &self.postings[id as usize] {
                        let o = &mut overlap[d as usize];
                        if *o == 0.0 {
                            touched.push(d);
                        }
                        *o += w * sim;
                    }
                }
                // A question word no phrasing uses ("哪儿" beside "哪里") is
                // no sign of another topic: its kind of question counts. Nor
                // is a word of grammar (从, 到底, 这边).
                None if self.analyzer.is_ask_cue(key) || self.analyzer.is_function_word(key) => {}
                None => {
                    unknown += self.oov_idf * kind.factor();
                    unknown_words += usize::from(kind == Kind::Word);
                }
            }
        }
        // Unknown words count in full up to a few; past that (the personal
        // context of a long voice message) their weight saturates.
        if unknown_words > OOV_CAP {
            unknown *= OOV_CAP as f32 / unknown_words as f32;
        }
        query_weight += unknown;
        // A long message says more than any phrasing: how much of a phrasing
        // it covers then tells more than how much of it a phrasing covers.
        let known_words = f.words.len().saturating_sub(unknown_words);
        let recall_share = if known_words > LONG_WORDS {
            (RECALL_SHARE - LONG_SHIFT * (known_words - LONG_WORDS) as f32).max(RECALL_FLOOR)
        } else {
            RECALL_SHARE
        };
        let mut best = vec![0.0f32; self.n_entries];
        let mut best_doc = vec![0usize; self.n_entries];
        let mut answer_recall = vec![0.0f32; self.n_entries];
        if query_weight > 0.0 {
            for &d in &touched {
                let di = d as usize;
                let ov = overlap[di];
                let doc = &self.docs[di];
                if ov <= 0.0 || doc.weight <= 0.0 {
                    continue;
                }
                let recall = (ov / query_weight).min(1.0);
                let precision = (ov / doc.weight).min(1.0);
                if doc.answer {
                    answer_recall[doc.entry] = recall;
                    continue;
                }
                let s = recall_share * recall + (1.0 - recall_share) * precision;
                // Equal scores go to the first phrasing, whatever the order
                // the phrasings were met in.
                let e = doc.entry;
                if s > best[e] || (s == best[e] && di < best_doc[e]) {
                    best[e] = s;
                    best_doc[e] = di;
                }
            }
        }
        for &d in &touched {
            overlap[d as usize] = 0.0;
        }
        OVERLAP.with_borrow_mut(|o| *o = overlap);
        // The answer text fills part of what the phrasings left uncovered:
        // it vouches for words, but phrasings decide between entries.
        let mut penalty = FOREIGN_PENALTY.powi(r.foreign);
        if !substantive {
            penalty *= INSUBSTANTIAL_PENALTY;
        }
        let present = self.required_present(r);
        let mut met = vec![true; self.n_entries];
        for (((((b, a), req), excl), met), own) in best
            .iter_mut()
            .zip(&answer_recall)
            .zip(&self.requires)
            .zip(&self.excludes)
            .zip(met.iter_mut())
            .zip(&self.entry_subjects)
        {
            *b += ANSWER_SHARE * a * (1.0 - *b);
            // Nothing shared: left out of the ranking, nothing to check.
            if *b <= 0.0 {
                continue;
            }
            *b *= penalty;
            if !asked.is_empty() && !own.is_empty() && !own.iter().any(|s| asked.contains(s)) {
                *b *= SUBJECT_PENALTY;
            }
            if !Self::requirements_met(req, excl, f, &present) {
                *b *= REQUIRE_PENALTY;
                *met = false;
            }
        }
        let mut ranked: Vec<(usize, f32)> = best
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .collect();
        // Ties break on entry order, a total order: deterministic though
        // unstable (which sorts without a scratch allocation), and the best
        // `limit` the same whether selected first or not.
        let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if ranked.len() > limit {
            if limit == 0 {
                ranked.clear();
            } else {
                ranked.select_nth_unstable_by(limit - 1, order);
                ranked.truncate(limit);
            }
        }
        ranked.sort_unstable_by(order);
        (ranked, met, best_doc)
    }

    pub fn find(&self, question: &str) -> MatchResult {
        self.find_reading(&self.read(question))
    }

    pub fn find_reading(&self, reading: &Reading) -> MatchResult {
        let asked = subject_ids(&self.subjects, &reading.features.words);
        let (mut ranked, met, best_doc) = self.rank_full(reading, &asked, CONSIDERED);
        let doc_of = |ranked: &[(usize, f32)]| ranked.first().map(|(e, _)| best_doc[*e]);
        let t = self.thresholds;
        // A question naming what the guide does not say (a fee, a duration,
        // opening hours) asks about that, whatever else it names: a gap
        // entry whose required words it holds answers when near the top.
        if let Some(pos) = ranked.iter().position(|(e, _)| self.gap[*e]) {
            let (e, s) = ranked[pos];
            let top = ranked[0].1;
            if !self.requires[e].is_empty() && met[e] && s >= top - GAP_LEAD && top >= t.answer {
                ranked.remove(pos);
                ranked.insert(0, (e, top));
                return MatchResult {
                    decision: Decision::Answer(e),
                    score: top,
                    doc: doc_of(&ranked),
                    ranked,
                };
            }
        }
        // Two items of one list fit about as well as the best ("网梯和湖大的
        // 电话"; "专业课学了70多，公需才20，算完成了吗"): the entry for the
        // whole list answers.
        if let Some(&(_, top)) = ranked.first() {
            let near: Vec<usize> = ranked
                .iter()
                .take_while(|(_, s)| top - s <= SIBLING_GAP)
                .map(|(e, _)| *e)
                .collect();
            // Or the question names the subject of another item than the
            // best ("公需课网址和专业课网址是同一个吗").
            let best = ranked[0].0;
            let names_sibling = |sum: usize| {
                (0..self.n_entries).any(|o| {
                    o != best
                        && self.summary[o] == Some(sum)
                        && self.entry_subjects[o]
                            .iter()
                            .any(|s| asked.contains(s) && !self.entry_subjects[best].contains(s))
                })
            };
            let shared = near
                .iter()
                .find_map(|&e| {
                    let sum = self.summary[e]?;
                    let siblings = near
                        .iter()
                        .filter(|&&o| self.summary[o] == Some(sum))
                        .count();
                    (siblings >= 2).then_some(sum)
                })
                .or_else(|| self.summary[best].filter(|&sum| names_sibling(sum)));
            if let Some(sum) = shared {
                ranked.retain(|(e, _)| self.summary[*e] != Some(sum) && *e != sum);
                ranked.insert(0, (sum, top));
                // Two items pointing at one summary outweigh a third entry
                // as close: the summary answers a question that asks
                // something; a bare word ("学时") still gets the choices.
                if top >= t.answer && !reading.features.asks.is_empty() {
                    return MatchResult {
                        decision: Decision::Answer(sum),
                        score: top,
                        doc: doc_of(&ranked),
                        ranked,
                    };
                }
            }
        }
        let top = ranked.first().map_or(0.0, |r| r.1);
        let second = ranked.get(1).map_or(0.0, |r| r.1);
        // A clear lead answers; so does a very strong match whose runner-up
        // is just as strong (the runner-up is offered as a button). Under
        // the answer threshold even a lone candidate is only offered:
        // committing to it there was wrong more often than right on the own
        // question sets (tests/integration/eval.rs, calibrate_thresholds).
        // Three entries about as good: the question is too vague to pick one
        // ("申报" alone), however well each fits.
        let third = ranked.get(2).map_or(0.0, |r| r.1);
        let vague = top - third < t.margin;
        // Among entries about as good, one that a menu topic leads to is
        // the overview ("学时折算" alone: the conversion overview).
        // Not when the question asks a kind of thing (how many, when) the
        // best entry's phrasing asks and the overview's does not ("How many
        // public course hours": the hours, not how public courses work).
        // Does entry `e`'s best phrasing hold the feature?
        let holds =
            |e: usize, kind: Kind, key: &str| self.doc_holds(&self.docs[best_doc[e]], kind, key);
        let specific: Vec<&String> = reading
            .features
            .asks
            .iter()
            .filter(|a| !matches!(a.as_str(), "whether" | "confirm" | "what"))
            .collect();
        // Nor when the best entry's phrasing holds a telling word of the
        // question that the overview's lacks ("只能网上": the forms of study,
        // not the hours overview).
        let distinct = |l: usize, h: usize| {
            reading.features.words.iter().any(|w| {
                holds(l, Kind::Word, w)
                    && !holds(h, Kind::Word, w)
                    && self.word_specificity(w).is_some_and(|s| s >= TELLING_WORD)
            })
        };
        let leader = ranked.first().map(|r| r.0);
        let heads: Vec<usize> = ranked
            .iter()
            .take_while(|(_, s)| top - s < t.margin)
            .filter(|(e, _)| self.head[*e])
            .map(|(e, _)| *e)
            .filter(|&h| {
                leader.is_none_or(|l| {
                    l == h
                        || (!specific
                            .iter()
                            .any(|a| holds(l, Kind::Ask, a) && !holds(h, Kind::Ask, a))
                            && !distinct(l, h))
                })
            })
            .collect();
        let confirming = reading.features.asks.iter().any(|a| a == "confirm");
        let decision = if top >= t.answer && (top - second >= t.margin || (top >= t.sure && !vague))
        {
            Decision::Answer(ranked[0].0)
        } else if let ([h], true) = (heads.as_slice(), top >= t.answer) {
            let h = *h;
            if let Some(pos) = ranked.iter().position(|(e, _)| *e == h) {
                let (e, _) = ranked.remove(pos);
                ranked.insert(0, (e, top));
            }
            Decision::Answer(h)
        } else if top >= t.candidates || (confirming && top >= CONFIRM_FLOOR) {
            let floor = t.candidates.min(top);
            let close: Vec<usize> = ranked
                .iter()
                .take(3)
                .filter(|(_, s)| *s >= floor && top - *s <= CLOSE)
                .map(|(e, _)| *e)
                .collect();
            // A figure or fact offered for confirmation ("学够50学时就行了
            // 对吧") shares little with the entry that corrects it: a lone
            // candidate answers it, the answer giving the guide's figure.
            // With its own summary close by ("一年80学时就够了对吧": the
            // total and public hours), the summary corrects it.
            let summarised = |a: usize, b: usize| self.summary[b] == Some(a);
            match close.as_slice() {
                [one] if top >= t.lone || confirming => Decision::Answer(*one),
                [a, b] if confirming && summarised(*a, *b) => Decision::Answer(*a),
                _ => Decision::Candidates(close),
            }
        } else {
            Decision::Decline
        };
        MatchResult {
            decision,
            score: top,
            doc: doc_of(&ranked),
            ranked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{Entry, Facts, Hours, Lexicon};
    use std::path::PathBuf;

    fn entry(id: &str, questions: &[&str], answer: &str) -> Entry {
        Entry {
            id: id.into(),
            kind: crate::knowledge::EntryKind::Answer,
            refer: vec![],
            requires: vec![],
            excludes: vec![],
            summary: None,
            joins: None,
            yearly: false,
            title: questions[0].into(),
            questions: questions.iter().map(|q| q.to_string()).collect(),
            answer: answer.into(),
            source: "test".into(),
            related: vec![],
        }
    }

    fn kb() -> Kb {
        let lexicon: Lexicon = toml::from_str(
            r#"
            stopwords = ["吗", "的", "多少", "什么", "怎么"]
            dictionary = ["继续教育", "学时", "公需课", "截止", "电话", "咨询电话"]
            out_of_scope = ["食堂"]
            [synonyms]
            "截止" = ["最晚"]
            "#,
        )
        .expect("lexicon");
        Kb {
            dir: PathBuf::new(),
            facts: Facts {
                year: 2024,
                doc_no: "x".into(),
                hours: Hours {
                    total: 90.0,
                    public: 30.0,
                    professional: 60.0,
                },
                deadline: chrono::NaiveDate::MIN,
                makeup: String::new(),
                hotline: String::new(),
                login_platform: String::new(),
                login_url: String::new(),
                platforms: vec![],
            },
            entries: vec![
                entry("hours", &["继续教育每年多少学时"], "每年90学时"),
                entry("public", &["公需课多少学时"], "公需课30学时"),
                entry("deadline", &["截止日期"], "12月31日前完成"),
                entry("hotline", &["咨询电话是多少"], "0791-12333"),
            ],
            topics: vec![],
            lexicon,
            older: vec![],
        }
    }

    #[test]
    fn own_phrasing_scores_one_and_wins() {
        let m = Matcher::new(&kb());
        let r = m.find("公需课多少学时");
        assert_eq!(r.decision, Decision::Answer(1));
        assert!((r.score - 1.0).abs() < 1e-6, "{}", r.score);
    }

    #[test]
    fn a_ranking_is_the_same_whatever_was_ranked_before() {
        // The per-thread overlap must be all zero again after each question,
        // also for another knowledge base on the same thread.
        let m = Matcher::new(&kb());
        let first = m.rank("公需课多少学时");
        m.rank("咨询电话是多少 截止日期");
        let mut fewer = kb();
        fewer.entries.truncate(2);
        Matcher::new(&fewer).rank("继续教育每年多少学时");
        assert_eq!(m.rank("公需课多少学时"), first);
        assert_eq!(
            m.find("截止日期").ranked,
            Matcher::new(&kb()).find("截止日期").ranked
        );
    }

    #[test]
    fn a_workplace_named_by_the_asker_is_who_asks() {
        let at = |t: &str, w: &str| {
            let s = t.find(w).expect("word");
            super::workplace(t, s, s + w.len())
        };
        assert!(at("我是高校图书馆的 要学吗", "图书馆"));
        assert!(at("我在校医院工作", "校医院"));
        assert!(!at("图书馆几点开门", "图书馆"));
        // A pause between: the word is no longer the asker's workplace.
        assert!(!at("我是老师 图书馆的电话", "图书馆"));
    }

    #[test]
    fn synonyms_reach_the_canonical_entry() {
        let m = Matcher::new(&kb());
        assert_eq!(m.find("最晚什么时候").ranked[0].0, 2);
    }

    #[test]
    fn unknown_words_lower_the_score() {
        let m = Matcher::new(&kb());
        let plain = m.find("公需课学时").score;
        let padded = m.find("公需课学时和游泳馆开放").score;
        assert!(padded < plain, "{padded} !< {plain}");
    }

    #[test]
    fn words_of_other_topics_scale_the_score_down() {
        let m = Matcher::new(&kb());
        let plain = m.find("咨询电话").score;
        let foreign = m.find("食堂咨询电话").score;
        assert!(
            foreign <= plain * FOREIGN_PENALTY + 1e-6,
            "{foreign} vs {plain}"
        );
    }

    #[test]
    fn a_single_shared_character_is_not_enough() {
        let m = Matcher::new(&kb());
        // 日 is all this shares with 截止日期.
        assert_eq!(m.find("日").decision, Decision::Decline);
    }

    #[test]
    fn near_miss_word_counts_as_the_known_word() {
        let m = Matcher::new(&kb());
        // 继续教肓: one wrong character in a four-character word.
        let r = m.find("继续教肓每年多少学时");
        assert_eq!(r.ranked[0].0, 0);
        assert!(m.nearest_word("继续教肓").is_some());
        assert!(
            m.nearest_word("学识").is_none(),
            "two-character words are not guessed"
        );
    }

    #[test]
    fn ranking_is_deterministic() {
        let m = Matcher::new(&kb());
        for q in ["学时", "电话学时", "", "公需"] {
            assert_eq!(m.find(q), m.find(q));
        }
    }
}
