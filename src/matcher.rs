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
use crate::text::{Analyzer, Features};
use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashMap;

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
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            answer: 0.45,
            candidates: 0.4,
            margin: 0.03,
            sure: 0.65,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Answer(usize),
    Candidates(Vec<usize>),
    Decline,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MatchResult {
    pub decision: Decision,
    /// Score of the best entry.
    pub score: f32,
    /// Best entries first: (entry index, score); at most five.
    pub ranked: Vec<(usize, f32)>,
}

/// Feature kinds weigh differently: a whole word says more than a bigram.
const WORD_FACTOR: f32 = 1.0;
const BIGRAM_FACTOR: f32 = 0.3;
/// Weight of recall against precision in the blended score.
const RECALL_SHARE: f32 = 0.7;
/// How much of the gap a phrasing left an answer text covering the question
/// may fill.
const ANSWER_SHARE: f32 = 0.6;
/// Each word of another topic in a question scales every score by this.
const FOREIGN_PENALTY: f32 = 0.6;
/// Scales a question none of whose matched words has two characters.
const INSUBSTANTIAL_PENALTY: f32 = 0.4;
/// Unknown words at least this close to a known word count as it.
const FUZZY_MIN: f64 = 0.74;

struct Doc {
    entry: usize,
    /// Answer texts are long: they vouch for words (recall) but their
    /// precision means nothing, and they count less than a phrasing.
    answer: bool,
    /// Sum of the weights of the document's features.
    weight: f32,
}

pub struct Matcher {
    analyzer: Analyzer,
    /// feature key ("w:学时", "b:学时") -> id
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    /// feature id -> documents containing it
    postings: Vec<Vec<u32>>,
    docs: Vec<Doc>,
    /// known words (for typo tolerance), with their char counts
    words: Vec<(String, usize)>,
    oov_idf: f32,
    n_entries: usize,
    /// Words of other topics (salary, canteen, driving school); None if
    /// the lexicon lists none.
    foreign: Option<AhoCorasick>,
    pub thresholds: Thresholds,
}

fn keys(f: &Features) -> impl Iterator<Item = (String, f32)> + '_ {
    f.words
        .iter()
        .map(|w| (format!("w:{w}"), WORD_FACTOR))
        .chain(f.bigrams.iter().map(|b| (format!("b:{b}"), BIGRAM_FACTOR)))
}

impl Matcher {
    pub fn new(kb: &Kb) -> Matcher {
        let analyzer = Analyzer::new(&kb.lexicon);
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut factor: Vec<f32> = Vec::new();
        let mut postings: Vec<Vec<u32>> = Vec::new();
        let mut doc_feats: Vec<(usize, bool, Vec<u32>)> = Vec::new();
        for (ei, e) in kb.entries.iter().enumerate() {
            let phrasings = std::iter::once(&e.title)
                .chain(&e.questions)
                .map(|t| (t, false));
            for (text, answer) in phrasings.chain(std::iter::once((&e.answer, true))) {
                let f = analyzer.features(text);
                let mut ids = Vec::new();
                for (k, fac) in keys(&f) {
                    let next = vocab.len() as u32;
                    let id = *vocab.entry(k).or_insert_with(|| {
                        factor.push(fac);
                        postings.push(Vec::new());
                        next
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
            })
            .collect();
        let words = vocab
            .keys()
            .filter_map(|k| k.strip_prefix("w:"))
            .filter(|w| w.chars().count() >= 2)
            .map(|w| (w.to_string(), w.chars().count()))
            .collect();
        Matcher {
            analyzer,
            vocab,
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
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&words)
                    .ok()
            },
        }
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// How many words of other topics the (prepared) question holds.
    fn foreign_words(&self, prepared: &str) -> i32 {
        self.foreign
            .as_ref()
            .map_or(0, |ac| ac.find_iter(prepared).count() as i32)
    }

    /// The nearest known word to an unknown one, if near enough.
    fn nearest_word(&self, w: &str) -> Option<(u32, f32)> {
        let len = w.chars().count();
        // Two-character Chinese words differ by half at one typo: too loose.
        if !(3..=12).contains(&len) {
            return None;
        }
        let mut best: Option<(&str, f64)> = None;
        for (cand, clen) in &self.words {
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
        let id = *self.vocab.get(&format!("w:{word}"))?;
        Some((id, sim as f32))
    }

    /// Score every entry; best first.
    pub fn rank(&self, question: &str) -> Vec<(usize, f32)> {
        let prepared = crate::text::prepare(question);
        let f = self.analyzer.features_prepared(&prepared);
        let mut query_weight = 0.0f32;
        let mut overlap = vec![0.0f32; self.docs.len()];
        // Did a real word match (two or more characters)? "你是谁" shares
        // only 谁 with the knowledge base: not enough to answer.
        let mut substantive = false;
        for (key, fac) in keys(&f) {
            let known = self.vocab.get(&key).map(|&id| (id, 1.0f32));
            let hit = known.or_else(|| key.strip_prefix("w:").and_then(|w| self.nearest_word(w)));
            match hit {
                Some((id, sim)) => {
                    if let Some(word) = key.strip_prefix("w:") {
                        substantive |= word.chars().count() >= 2;
                    }
                    let w = self.idf[id as usize];
                    query_weight += w;
                    for &d in &self.postings[id as usize] {
                        overlap[d as usize] += w * sim;
                    }
                }
                None => query_weight += self.oov_idf * fac,
            }
        }
        let mut best = vec![0.0f32; self.n_entries];
        let mut answer_recall = vec![0.0f32; self.n_entries];
        if query_weight > 0.0 {
            for (doc, &ov) in self.docs.iter().zip(&overlap) {
                if ov <= 0.0 || doc.weight <= 0.0 {
                    continue;
                }
                let recall = (ov / query_weight).min(1.0);
                let precision = (ov / doc.weight).min(1.0);
                if doc.answer {
                    answer_recall[doc.entry] = recall;
                    continue;
                }
                let s = RECALL_SHARE * recall + (1.0 - RECALL_SHARE) * precision;
                if s > best[doc.entry] {
                    best[doc.entry] = s;
                }
            }
        }
        // The answer text fills part of what the phrasings left uncovered:
        // it vouches for words, but phrasings decide between entries.
        let mut penalty = FOREIGN_PENALTY.powi(self.foreign_words(&prepared));
        if !substantive {
            penalty *= INSUBSTANTIAL_PENALTY;
        }
        for (b, a) in best.iter_mut().zip(&answer_recall) {
            *b += ANSWER_SHARE * a * (1.0 - *b);
            *b *= penalty;
        }
        let mut ranked: Vec<(usize, f32)> = best
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .collect();
        // Ties break on entry order so the result is deterministic.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
    }

    pub fn find(&self, question: &str) -> MatchResult {
        let mut ranked = self.rank(question);
        ranked.truncate(5);
        let t = self.thresholds;
        let top = ranked.first().map_or(0.0, |r| r.1);
        let second = ranked.get(1).map_or(0.0, |r| r.1);
        // A clear lead answers; so does a very strong match whose runner-up
        // is just as strong (the runner-up is offered as a button).
        let decision = if top >= t.answer && (top - second >= t.margin || top >= t.sure) {
            Decision::Answer(ranked[0].0)
        } else if top >= t.candidates {
            let close: Vec<usize> = ranked
                .iter()
                .take(3)
                .filter(|(_, s)| *s >= t.candidates && top - *s <= 0.15)
                .map(|(e, _)| *e)
                .collect();
            if close.len() == 1 && top >= t.answer {
                Decision::Answer(close[0])
            } else {
                Decision::Candidates(close)
            }
        } else {
            Decision::Decline
        };
        MatchResult {
            decision,
            score: top,
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
