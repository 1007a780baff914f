//! Text analysis: normalisation, rewriting (typos, synonyms, fillers) and
//! segmentation into the features the matcher scores.
//!
//! Pipeline: NFKC (full-width → half-width) → lower case → Traditional →
//! Simplified → punctuation, symbols and control characters to spaces →
//! one left-most-longest rewrite pass (typos and synonym variants become the
//! canonical term, fillers vanish) → jieba with the domain dictionary →
//! stopwords dropped → word features plus character bigrams.

use crate::knowledge::Lexicon;
use aho_corasick::{AhoCorasick, AhoCorasickKind, BuildError, MatchKind};
use jieba_rs::Jieba;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;
use unicode_normalization::UnicodeNormalization;

/// Questions are short; anything past this many characters only costs time.
pub const MAX_QUESTION_CHARS: usize = 300;

/// Dictionary frequency given to domain words (jieba's common words are in
/// the tens of thousands).
const DOMAIN_WORD_FREQ: usize = 200_000;

pub struct Analyzer {
    rewrite: AhoCorasick,
    replacements: Vec<String>,
    /// Keys made of ASCII letters only match whole words ("late" is not
    /// inside "translate").
    ascii_key: Vec<bool>,
    jieba: Jieba,
    stopwords: FxHashSet<String>,
    /// Domain words by the pinyin of their characters, to read homophone
    /// slips of a phone keyboard (公虚课, 资询, 网题) as the word meant.
    homophones: Homophones,
    /// Question-word cues (left-most longest: "how many" before "how").
    asks: Option<AhoCorasick>,
    ask_kinds: Vec<String>,
    ask_ascii: Vec<bool>,
    /// The cue words themselves: what they say is in the kind of question.
    ask_cues: FxHashSet<String>,
    /// Words of grammar in the general word list (prepositions, adverbs,
    /// pronouns, conjunctions, particles, measure words: 从, 到底, 这边):
    /// unknown to every phrasing, they say nothing of another topic.
    function_words: FxHashSet<String>,
}

/// Two characters side by side, kept inline: a question has a dozen or
/// more, and one allocation each cost more than looking them up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bigram {
    /// The UTF-8 of both characters, then zeros: compared as arrays they
    /// order as the strings do (no character's UTF-8 holds a zero byte).
    bytes: [u8; 8],
    len: u8,
}

impl Bigram {
    pub fn new(a: char, b: char) -> Bigram {
        let mut bytes = [0u8; 8];
        let n = a.encode_utf8(&mut bytes).len();
        let m = b.encode_utf8(&mut bytes[n..]).len();
        Bigram {
            bytes,
            len: (n + m) as u8,
        }
    }

    pub fn as_str(&self) -> &str {
        // Built from two chars: always UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for Bigram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// What a text is reduced to for scoring.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    pub words: Vec<String>,
    pub bigrams: Vec<Bigram>,
    /// What is asked (how many, when, where, how, who, whether, what):
    /// the question words the stopword list drops, kept as a kind.
    pub asks: Vec<String>,
    /// Byte offsets of the normalised text where a word starts or ends,
    /// sorted. Empty for texts built from words: nothing is cut there.
    pub bounds: Vec<usize>,
}

impl Features {
    /// Does the text hold a word of two characters or more? A bare 学 or
    /// 谁 names nothing to match on.
    pub fn names_something(&self) -> bool {
        self.words.iter().any(|w| w.chars().count() >= 2)
    }

    /// Is `start..end` of the normalised text read across words, cutting a
    /// word at each end (少学 in 多少 / 学时)? A part of one word (认定 in
    /// 学时认定) or a phrase ending with a word (能免 in 能不能 / 免) is not.
    pub fn across_words(&self, start: usize, end: usize) -> bool {
        if self.bounds.is_empty() {
            return false;
        }
        let cut = |x: usize| self.bounds.binary_search(&x).is_err();
        let first_after = self.bounds.partition_point(|&b| b <= start);
        let crosses = self.bounds.get(first_after).is_some_and(|&b| b < end);
        crosses && cut(start) && cut(end)
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Extension A and the unified ideographs: every one a letter (tested),
/// known without Unicode's table.
fn is_ideograph(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF)
}

impl Analyzer {
    pub fn new(lex: &Lexicon) -> Analyzer {
        warm_up();
        // key -> replacement. Synonyms first, so a typo's correction can be
        // rewritten to its canonical form too (工需 → 公需 → 公需课).
        let mut map: HashMap<String, String> = HashMap::new();
        for (canonical, variants) in &lex.synonyms {
            let c = prepare(canonical);
            for v in variants {
                map.insert(prepare(v), c.clone());
            }
        }
        // Canonical forms and dictionary words map to themselves so that a
        // shorter variant inside them never fires (公需 in 公需课, 大学 in
        // 江西师范大学).
        for word in lex.synonyms.keys().chain(&lex.dictionary) {
            let w = prepare(word);
            map.entry(w.clone()).or_insert(w);
        }
        let synonyms_only = build(&map);
        for (typo, fix) in &lex.typos {
            let fixed = rewrite_with(
                &synonyms_only.0,
                &synonyms_only.1,
                &synonyms_only.2,
                &prepare(fix),
            );
            map.insert(prepare(typo), fixed);
        }
        for f in &lex.fillers {
            map.entry(prepare(f)).or_insert_with(|| " ".to_string());
        }
        map.retain(|k, _| !k.trim().is_empty());
        let (rewrite, replacements, ascii_key) = build(&map);

        let homophones = Homophones::new(lex);
        let mut jieba = Jieba::empty();
        // The loader checked the list's format; a bad line only loses words.
        let _ = jieba.load_dict(&mut std::io::BufReader::new(
            lex.segmentation_text.as_bytes(),
        ));
        // Multi-character stopwords are words too, so they are cut whole and
        // then dropped (学满 must not leave a stray 学).
        let stop_words = lex.stopwords.iter().filter(|w| w.chars().count() > 1);
        for w in lex
            .dictionary
            .iter()
            .chain(lex.synonyms.keys())
            .chain(stop_words)
        {
            let w = prepare(w);
            if w.chars().any(is_cjk) {
                // suggest_freq alone keeps a word whole only in isolation;
                // a high floor keeps it whole in context too (继续教育学时).
                let freq = jieba.suggest_freq(&w).max(DOMAIN_WORD_FREQ);
                jieba.add_word(&w, Some(freq), None);
            }
        }
        let mut cues: Vec<(String, String)> = lex
            .asks
            .iter()
            .flat_map(|(kind, words)| {
                words
                    .iter()
                    .map(move |w| (prepare(w).trim().to_string(), kind.clone()))
            })
            .filter(|(w, _)| !w.is_empty())
            .collect();
        cues.sort();
        cues.dedup_by(|a, b| a.0 == b.0);
        let asks = automaton(cues.iter().map(|(w, _)| w), MatchKind::LeftmostLongest).ok();
        Analyzer {
            homophones,
            asks,
            ask_ascii: cues
                .iter()
                .map(|(w, _)| w.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '))
                .collect(),
            ask_cues: cues.iter().map(|(w, _)| w.clone()).collect(),
            function_words: listed_words(&lex.segmentation_text)
                .filter_map(|w| {
                    let tag = w.tag?;
                    // One character of a measure word or an adverb can
                    // carry the topic (代 in 找人代学, 不 in 不教书).
                    let grammar = if w.word.chars().count() >= 2 {
                        FUNCTION_TAGS.contains(&tag)
                    } else {
                        FUNCTION_CHAR_TAGS.contains(&tag)
                    };
                    grammar.then(|| w.word.to_string())
                })
                .collect(),
            ask_kinds: cues.into_iter().map(|(_, k)| k).collect(),
            rewrite,
            replacements,
            ascii_key,
            jieba,
            stopwords: lex.stopwords.iter().map(|s| prepare(s)).collect(),
        }
    }

    /// Normalised, rewritten text (spaces between chunks).
    pub fn normalize(&self, text: &str) -> String {
        self.normalize_prepared(&prepare(text))
    }

    /// As [`Analyzer::normalize`], for text already through [`prepare`].
    pub fn normalize_prepared(&self, prepared: &str) -> String {
        let fixed = self.homophones.fix(prepared);
        let rewritten = rewrite_with(&self.rewrite, &self.replacements, &self.ascii_key, &fixed);
        single_spaced(&rewritten)
    }

    /// Segmented tokens without stopwords.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let normalized = self.normalize(text);
        normalized
            .split(' ')
            .flat_map(|chunk| self.kept_words(chunk))
            .map(str::to_string)
            .collect()
    }

    /// The words jieba cuts a chunk into, stopwords dropped.
    fn kept_words<'a>(&'a self, chunk: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.jieba
            .cut(chunk, false)
            .into_iter()
            // A chunk holds no whitespace (split on it after rewriting):
            // nor does a word of it.
            .map(|t| t.word)
            .filter(|w| !w.is_empty() && !self.stopwords.contains(*w))
    }

    pub fn features(&self, text: &str) -> Features {
        self.features_prepared(&prepare(text))
    }

    /// As [`Analyzer::features`], for text already through [`prepare`].
    pub fn features_prepared(&self, prepared: &str) -> Features {
        self.features_normalized(prepared, &self.normalize_prepared(prepared))
    }

    /// As [`Analyzer::features`], given both forms of the text.
    pub fn features_normalized(&self, prepared: &str, normalized: &str) -> Features {
        let mut words = Vec::new();
        let mut bigrams = Vec::new();
        let mut bounds = Vec::new();
        // Bigrams run inside words, and across runs of single characters
        // (what jieba could not place), but not across two known words:
        // "职称" next to "继续教育" says nothing new.
        let mut run: Vec<char> = Vec::new();
        for chunk in normalized.split(' ') {
            let flush = |run: &mut Vec<char>, bigrams: &mut Vec<Bigram>| {
                for pair in run.windows(2) {
                    bigrams.push(Bigram::new(pair[0], pair[1]));
                }
                run.clear();
            };
            let base = chunk.as_ptr() as usize - normalized.as_ptr() as usize;
            let mut at = base;
            for t in self.jieba.cut(chunk, false) {
                bounds.push(at);
                at += t.word.len();
                bounds.push(at);
                let w = t.word;
                if w.is_empty() || self.stopwords.contains(w) {
                    continue;
                }
                words.push(w.to_string());
                let mut cjk = w.chars().filter(|c| is_cjk(*c));
                match (cjk.next(), cjk.next()) {
                    (Some(c), None) => run.push(c),
                    (first, second) => {
                        flush(&mut run, &mut bigrams);
                        run.extend(first.into_iter().chain(second).chain(cjk));
                        flush(&mut run, &mut bigrams);
                    }
                }
            }
            flush(&mut run, &mut bigrams);
        }
        dedup(&mut words);
        bigrams.sort_unstable();
        bigrams.dedup();
        bounds.dedup();
        let mut asks = self.asks_prepared(prepared);
        dedup(&mut asks);
        Features {
            words,
            bigrams,
            asks,
            bounds,
        }
    }

    /// Is this word a question-word cue ("哪儿", "多久")? Its meaning is
    /// carried by the kind of question it gives.
    pub fn is_ask_cue(&self, word: &str) -> bool {
        self.ask_cues.contains(word)
    }

    /// Is this a word of grammar (从, 到底, 这边) by the general word list?
    pub fn is_function_word(&self, word: &str) -> bool {
        self.function_words.contains(word)
    }

    /// The kinds of question words in prepared text (before rewriting, so
    /// 几号 still says "when" though it is rewritten to 日期).
    pub fn asks_prepared(&self, prepared: &str) -> Vec<String> {
        self.ask_spans(prepared)
            .into_iter()
            .map(|(_, _, kind)| kind.to_string())
            .collect()
    }

    /// The byte offsets where jieba's words of prepared text begin.
    pub fn word_starts(&self, prepared: &str) -> Vec<usize> {
        let mut at = 0;
        self.jieba
            .cut(prepared, false)
            .into_iter()
            .map(|t| {
                let start = at;
                at += t.word.len();
                start
            })
            .collect()
    }

    /// Where the question words of prepared text stand: byte range and
    /// kind, in order.
    pub fn ask_spans(&self, prepared: &str) -> Vec<(usize, usize, &str)> {
        let Some(ac) = &self.asks else {
            return Vec::new();
        };
        ac.find_iter(prepared)
            .filter(|m| {
                let id = m.pattern().as_usize();
                if !self.ask_ascii[id] {
                    return true;
                }
                let inside = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                !inside(prepared[..m.start()].chars().next_back())
                    && !inside(prepared[m.end()..].chars().next())
            })
            .map(|m| {
                (
                    m.start(),
                    m.end(),
                    self.ask_kinds[m.pattern().as_usize()].as_str(),
                )
            })
            // "好几个月" holds 几 but asks nothing: the kind "none" claims it.
            .filter(|(_, _, k)| *k != "none")
            .collect()
    }
}

/// Characters of grammar, not of topic: words holding one are no target of
/// the homophone pass.
const FUNCTION_CHARS: &str = "不没吗呢了的是要能会有还就都也吧啊么怎什哪几谁吧得着过";

/// One line of the general word list: "word frequency [tag]".
struct ListedWord<'a> {
    word: &'a str,
    freq: Option<u32>,
    tag: Option<&'a str>,
}

/// The general word list's lines, each read once the same way for every
/// use of it (grammar words, common pairs, known words).
fn listed_words(text: &str) -> impl Iterator<Item = ListedWord<'_>> {
    text.lines().filter_map(|line| {
        let mut fields = line.split_whitespace();
        Some(ListedWord {
            word: fields.next()?,
            freq: fields.next().and_then(|f| f.parse().ok()),
            tag: fields.next(),
        })
    })
}

/// Part-of-speech tags of jieba's word list that mark words of grammar:
/// preposition, adverb, conjunction, pronoun, locative, numeral, measure
/// word, particles, interjection, onomatopoeia.
const FUNCTION_TAGS: [&str; 16] = [
    "p", "d", "c", "r", "f", "m", "q", "mq", "u", "uj", "ul", "uz", "y", "e", "o", "k",
];

/// Of single characters, only prepositions, conjunctions and particles
/// (从, 把, 给) are grammar alone.
const FUNCTION_CHAR_TAGS: [&str; 9] = ["p", "c", "u", "uj", "ul", "uz", "y", "e", "o"];

/// Frequency from which a general two-character word is common enough to
/// stop a homophone fix across it (各自 4,330; 会计 1,473; 太学 178).
const COMMON_PAIR_FREQ: u32 = 2000;

/// The characters whose syllable ids are kept in a table (Extension A and
/// the unified ideographs); others are looked up by their pinyin.
const SYLLABLE_RANGE: std::ops::RangeInclusive<u32> = 0x3400..=0x9FFF;
const NO_SYLLABLE: u16 = u16::MAX;

/// Longest domain word the homophone pass looks for, in characters.
const MAX_HOMOPHONE_CHARS: usize = 6;

/// Domain words keyed by the toneless pinyin of their characters.
struct Homophones {
    syllables: FxHashMap<&'static str, u16>,
    /// Each character's syllable id over the common range (NO_SYLLABLE:
    /// none among the domain words'), looked up at nearly every character.
    by_char: Vec<u16>,
    /// Packed syllable ids of a word (see `pack`) -> the word.
    words: FxHashMap<u64, String>,
    /// Packed keys of the first two syllables of every word: most runs
    /// fail here, before any longer key is built.
    starts: FxHashSet<u64>,
    /// Words of the general word list that sound like a domain word: a real
    /// word is never "corrected" (学士 stays 学士; slips that are real words,
    /// such as 学识, go in the typo list).
    known: FxHashSet<String>,
    /// The domain words as written: a slip is not read where it would cut
    /// one that is written out in full (登继教 holds 继教, not 登记).
    literal: FxHashSet<String>,
    /// Common two-character words of the general word list: a slip whose
    /// edge forms one with its neighbour is no slip (及各 in 名称及各自).
    /// Rare ones (太学 in 平太学) do not count.
    pairs: FxHashSet<(char, char)>,
}

fn syllable(c: char) -> Option<&'static str> {
    use pinyin::ToPinyin;
    c.to_pinyin().map(|p| p.plain())
}

/// Up to MAX_HOMOPHONE_CHARS syllable ids, 10 bits each, in one number.
fn pack(ids: &[u16]) -> u64 {
    ids.iter()
        .fold(0u64, |k, &id| (k << 10) | u64::from(id + 1))
}

impl Homophones {
    fn new(lex: &Lexicon) -> Homophones {
        let mut h = Homophones {
            syllables: FxHashMap::default(),
            by_char: Vec::new(),
            words: FxHashMap::default(),
            starts: FxHashSet::default(),
            known: FxHashSet::default(),
            literal: FxHashSet::default(),
            pairs: FxHashSet::default(),
        };
        let targets = lex
            .dictionary
            .iter()
            .chain(lex.synonyms.keys())
            .chain(lex.synonyms.values().flatten())
            .chain(lex.typos.values());
        for w in targets {
            let w = prepare(w);
            let n = w.chars().count();
            // Colloquial variants such as 能补 or 怎么补 hold function
            // characters; as targets they would turn 能不能 into 能补能.
            if !(2..=MAX_HOMOPHONE_CHARS).contains(&n)
                || !w.chars().all(is_cjk)
                || w.chars().any(|c| FUNCTION_CHARS.contains(c))
            {
                continue;
            }
            let ids: Option<Vec<u16>> = w
                .chars()
                .map(|c| {
                    let s = syllable(c)?;
                    let next = h.syllables.len() as u16;
                    Some(*h.syllables.entry(s).or_insert(next))
                })
                .collect();
            if let Some(ids) = ids {
                h.starts.insert(pack(&ids[..2]));
                h.literal.insert(w.clone());
                h.words.entry(pack(&ids)).or_insert(w);
            }
        }
        // The syllables are all known now.
        h.by_char = SYLLABLE_RANGE
            .map(|u| {
                char::from_u32(u)
                    .and_then(syllable)
                    .and_then(|s| h.syllables.get(s).copied())
                    .unwrap_or(NO_SYLLABLE)
            })
            .collect();
        // Abbreviations and slips the typo list rewrites (继教) are words
        // written out too, though no target of this pass.
        h.literal.extend(
            lex.typos
                .keys()
                .map(|k| prepare(k))
                .filter(|k| (2..=MAX_HOMOPHONE_CHARS).contains(&k.chars().count())),
        );
        // Only general words that collide with a domain word matter.
        for ListedWord { word, freq, .. } in listed_words(&lex.segmentation_text) {
            let chars: Vec<char> = word.chars().collect();
            if let [a, b] = chars[..]
                && is_cjk(a)
                && is_cjk(b)
                && freq.is_some_and(|f| f >= COMMON_PAIR_FREQ)
            {
                h.pairs.insert((a, b));
            }
            if !(2..=MAX_HOMOPHONE_CHARS).contains(&chars.len()) {
                continue;
            }
            // Most words fail on their first two syllables.
            if !h
                .ids(&chars[..2])
                .is_some_and(|ids| h.starts.contains(&pack(&ids)))
            {
                continue;
            }
            if let Some(ids) = h.ids(&chars)
                && h.words.contains_key(&pack(&ids))
            {
                h.known.insert(word.to_string());
            }
        }
        h
    }

    fn ids(&self, chars: &[char]) -> Option<Vec<u16>> {
        chars.iter().map(|&c| self.id(c)).collect()
    }

    /// A character's syllable id, if a domain word has its syllable.
    fn id(&self, c: char) -> Option<u16> {
        let u = c as u32;
        if SYLLABLE_RANGE.contains(&u) {
            let id = self.by_char[(u - SYLLABLE_RANGE.start()) as usize];
            (id != NO_SYLLABLE).then_some(id)
        } else {
            syllable(c).and_then(|s| self.syllables.get(s).copied())
        }
    }

    /// Whether a domain word written out in full starts inside
    /// `chars[at..at + len]` and ends after it.
    fn cuts_a_word(&self, chars: &[char], at: usize, len: usize) -> bool {
        let end = at + len;
        (at + 1..end).any(|j| {
            (end - j + 1..=MAX_HOMOPHONE_CHARS)
                .filter(|l| j + l <= chars.len())
                .any(|l| {
                    self.literal
                        .contains(&chars[j..j + l].iter().collect::<String>())
                })
        })
    }

    /// Whether `chars[at..at + len]` forms a general word with the
    /// character on either side (及各 before 自: 各自).
    fn binds_a_neighbour(&self, chars: &[char], at: usize, len: usize) -> bool {
        let end = at + len;
        (end < chars.len() && self.pairs.contains(&(chars[end - 1], chars[end])))
            || (at > 0 && self.pairs.contains(&(chars[at - 1], chars[at])))
    }

    /// Replace runs of Chinese characters that sound like a domain word but
    /// are no word themselves by that word (longest first).
    fn fix(&self, text: &str) -> String {
        if self.words.is_empty() {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        // Each character's syllable id, once (None: no domain syllable).
        let ids: Vec<Option<u16>> = chars
            .iter()
            .map(|&c| if is_cjk(c) { self.id(c) } else { None })
            .collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < chars.len() {
            let run = ids[i..]
                .iter()
                .take(MAX_HOMOPHONE_CHARS)
                .take_while(|id| id.is_some())
                .count();
            if run >= 2 {
                // On the stack: this runs at nearly every character.
                let mut run_ids = [0u16; MAX_HOMOPHONE_CHARS];
                for (slot, id) in run_ids.iter_mut().zip(ids[i..i + run].iter().flatten()) {
                    *slot = *id;
                }
                if self.starts.contains(&pack(&run_ids[..2])) {
                    for len in (2..=run).rev() {
                        let Some(word) = self.words.get(&pack(&run_ids[..len])) else {
                            continue;
                        };
                        let original: String = chars[i..i + len].iter().collect();
                        // 不上 is no slip for 补上: grammar stays.
                        let grammar = original.chars().any(|c| FUNCTION_CHARS.contains(c));
                        // A slip keeps some of the word (公虚课, 资询); 重置 is
                        // no 中职 though it sounds the same.
                        let shares = original.chars().zip(word.chars()).any(|(a, b)| a == b);
                        if original == *word
                            || grammar
                            || !shares
                            || self.known.contains(&original)
                            || self.cuts_a_word(&chars, i, len)
                            || self.binds_a_neighbour(&chars, i, len)
                        {
                            out.push_str(&original);
                        } else {
                            out.push_str(word);
                        }
                        i += len;
                        continue 'outer;
                    }
                }
            }
            out.push(chars[i]);
            i += 1;
        }
        out
    }
}

/// Words separated by one space, no space at either end (in one pass: this
/// runs on every text read).
pub fn single_spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for w in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Drop repeats (the order of features does not matter to the scores).
fn dedup(v: &mut Vec<String>) {
    v.sort_unstable();
    v.dedup();
}

type Rewriter = (AhoCorasick, Vec<String>, Vec<bool>);

fn build(map: &HashMap<String, String>) -> Rewriter {
    let mut pairs: Vec<(&String, &String)> = map.iter().collect();
    pairs.sort(); // deterministic automaton whatever the hash order
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let ascii = keys
        .iter()
        .map(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '))
        .collect();
    // Thousands of keys: the default automaton, quick to build (a DFA
    // would double start-up).
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&keys)
        .expect("automaton over a few hundred short keys fits the default limits");
    (ac, pairs.iter().map(|(_, v)| (*v).clone()).collect(), ascii)
}

fn rewrite_with(ac: &AhoCorasick, repl: &[String], ascii_key: &[bool], text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for m in ac.find_iter(text) {
        let id = m.pattern().as_usize();
        if ascii_key[id] {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            let inside_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            if inside_word(before) || inside_word(after) {
                continue;
            }
        }
        out.push_str(&text[last..m.start()]);
        // Spaces around a rewrite keep English words apart from the
        // Chinese that replaces them.
        if ascii_key[id] {
            out.push(' ');
            out.push_str(&repl[id]);
            out.push(' ');
        } else {
            out.push_str(&repl[id]);
        }
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

/// Where fast2s's table has its characters (CJK Extension A and the
/// unified ideographs; a test probes the rest of its range).
const CONVERTIBLE_RANGE: std::ops::RangeInclusive<u32> = 0x3400..=0x9FFF;

/// The characters fast2s may change, one bit each: its one-to-one table,
/// probed once with every character of the range between spaces, and the
/// keys of its rules that convert only beside certain neighbours (看著,
/// 藉口, 計畫).
static CONVERTIBLE: std::sync::LazyLock<Vec<u64>> = std::sync::LazyLock::new(|| {
    const CONTEXT_ONLY: [char; 7] = ['藉', '著', '苧', '闔', '鍾', '讎', '畫'];
    let mut bits = vec![0u64; 0x10000 / 64];
    let mut set = |c: char| bits[c as usize / 64] |= 1 << (c as usize % 64);
    let chars: Vec<char> = CONVERTIBLE_RANGE.filter_map(char::from_u32).collect();
    let mut probe = String::with_capacity(chars.len() * 4);
    for &c in &chars {
        probe.push(c);
        probe.push(' ');
    }
    let converted = fast2s::convert(&probe);
    for (&c, d) in chars.iter().zip(converted.chars().step_by(2)) {
        if c != d {
            set(c);
        }
    }
    for c in CONTEXT_ONLY {
        set(c);
    }
    bits
});

/// Make sure the table of convertible characters is built (at start-up,
/// not on the first question).
fn warm_up() {
    std::sync::LazyLock::force(&CONVERTIBLE);
}

/// Traditional characters to simplified (fast2s), borrowing the text when
/// it holds none fast2s would change: most questions are simplified.
pub fn simplified(text: &str) -> std::borrow::Cow<'_, str> {
    let bits = &*CONVERTIBLE;
    let may_change = text.chars().any(|c| {
        let i = c as usize;
        c.len_utf8() == 3 && bits[i / 64] & (1 << (i % 64)) != 0
    });
    if may_change {
        std::borrow::Cow::Owned(fast2s::convert(text))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Full-width punctuation common in questions (，？！：；（）) whose
/// NFKC form is one ASCII mark, neither letter, digit nor '-': prepare
/// turns it into a space either way, so it needs no composition pass.
fn spaced_punct(c: char) -> bool {
    matches!(c, '，' | '？' | '！' | '：' | '；' | '（' | '）')
}

/// Width, case, script and punctuation normalisation (no lexicon needed).
pub fn prepare(text: &str) -> String {
    let clipped: &str = match text.char_indices().nth(MAX_QUESTION_CHARS) {
        Some((at, _)) => &text[..at],
        None => text,
    };
    // Most questions are already in NFKC: skip the composition pass. ASCII
    // and unified ideographs are NFKC as they are (no table lookup needed).
    let plain = clipped
        .chars()
        .all(|c| c.is_ascii() || is_ideograph(c) || spaced_punct(c));
    // Only ASCII letters have case among those: no capital, nothing to do.
    let nfkc: String = if plain {
        if clipped.bytes().any(|b| b.is_ascii_uppercase()) {
            clipped.to_lowercase()
        } else {
            clipped.to_string()
        }
    } else if unicode_normalization::is_nfkc_quick(clipped.chars())
        == unicode_normalization::IsNormalized::Yes
    {
        clipped.to_lowercase()
    } else {
        clipped.nfkc().collect::<String>().to_lowercase()
    };
    let simplified = simplified(&nfkc);
    let mut out = String::with_capacity(simplified.len());
    let mut chars = simplified.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        // 400-666-0656 is one number.
        let joins_digits =
            c == '-' && prev.is_ascii_digit() && chars.peek().is_some_and(char::is_ascii_digit);
        if !joins_digits {
            out.push(
                // 〇 (U+3007) writes a zero in years: 二〇二二年.
                if c.is_ascii_alphanumeric()
                    || is_ideograph(c)
                    || (is_cjk(c) && c.is_alphanumeric())
                    || c == '〇'
                {
                    c
                } else {
                    ' '
                },
            );
        }
        prev = c;
    }
    let out = spelled_hours(spelled_numbers(out));
    if out.contains(' ') && out.bytes().any(|b| b.is_ascii_digit()) {
        join_phone_groups(&out)
    } else {
        out
    }
}

/// An automaton over the knowledge base's words, searched once or more per
/// question: built as a DFA, the fastest to search (a few hundred short
/// words cost little memory and start-up).
pub(crate) fn automaton<I, P>(patterns: I, kind: MatchKind) -> Result<AhoCorasick, BuildError>
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(kind)
        .build(patterns)
}

/// A Chinese numeral digit (零 or 〇 to 九).
pub(crate) fn chinese_digit(c: char) -> Option<u8> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// A number read out digit by digit ("一二三三三", voice input): five or
/// more digits in a row, as a phone number is, become ASCII digits. Shorter
/// runs stay words (一二三, and years, which `scope::years` reads).
fn spelled_numbers(text: String) -> String {
    let digit = |c: char| chinese_digit(c).map(|d| char::from(b'0' + d));
    // Most texts have no such run: one pass to find out, no allocation.
    let mut run = 0;
    let long = text.chars().any(|c| {
        run = if digit(c).is_some() { run + 1 } else { 0 };
        run >= 5
    });
    if !long {
        return text;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| digit(**c).is_some())
            .count();
        if run >= 5 {
            out.extend(chars[i..i + run].iter().filter_map(|c| digit(*c)));
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A count of hours in Chinese numerals (九十个学时, 三十学时, 六十五课时),
/// as voice input writes it: in digits, as the guide and the phrasings
/// write figures.
static SPELLED_HOURS: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"([一二三四五六七八九]?十[一二三四五六七八九]?)(个?(?:学时|小时|课时|学分))")
        .ok()
});

fn spelled_hours(text: String) -> String {
    let Some(re) = &*SPELLED_HOURS else {
        return text;
    };
    if !text.contains('十') {
        return text;
    }
    re.replace_all(&text, |c: &regex::Captures| {
        let mut tens = 1;
        let mut ones = 0;
        let numeral = &c[1];
        if let Some((before, after)) = numeral.split_once('十') {
            if let Some(d) = before.chars().next().and_then(chinese_digit) {
                tens = u32::from(d);
            }
            if let Some(d) = after.chars().next().and_then(chinese_digit) {
                ones = u32::from(d);
            }
        }
        format!("{}{}", tens * 10 + ones, &c[2])
    })
    .into_owned()
}

/// "400 803 9966" and "0791 12333" are one number, as typed with spaces:
/// runs of digit groups of three or more digits each, 9 to 12 digits in
/// all, starting as a phone number does (0, 1, 4 or 8). "2024 2025" and
/// "90 30 60" stay apart.
fn join_phone_groups(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    // The digits a word starts with (the last group may run into text:
    // "12333转1").
    let lead = |w: &str| w.bytes().take_while(u8::is_ascii_digit).count();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        // A number said digit by digit ("1 2 3 3 3", voice input): four or
        // more lone digits in a row, the last maybe running into text.
        let mut j = i;
        while j < words.len() && words[j].len() == 1 && lead(words[j]) == 1 {
            j += 1;
        }
        if j - i >= 4 {
            let last = (j < words.len() && lead(words[j]) == 1).then_some(j);
            let end = last.map_or(j, |l| l + 1);
            out.push(words[i..end].concat());
            i = end;
            continue;
        }
        // Whole-digit words, then one that may only start with digits.
        let mut j = i;
        while j < words.len() && words[j].len() >= 3 && lead(words[j]) == words[j].len() {
            j += 1;
        }
        let tail = (j < words.len() && j > i && lead(words[j]) >= 3).then_some(j);
        let end = tail.map_or(j, |t| t + 1);
        let total: usize = words[i..end].iter().map(|w| lead(w)).sum();
        let phone_like = words[i].starts_with(['0', '1', '4', '8']);
        if end - i >= 2 && (9..=12).contains(&total) && phone_like {
            out.push(words[i..end].concat());
            i = end;
        } else {
            out.push(words[i].to_string());
            i += 1;
        }
    }
    out.join(" ")
}

/// Split `text` into parts of at most `max` as measured by `len` (chars
/// for Telegram, bytes for WeCom), on line breaks where possible, never
/// inside a character. `len` must add up over concatenation.
pub fn split_text(text: &str, max: usize, len: impl Fn(&str) -> usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    let mut push = |piece: &str, cur: &mut String, cur_len: &mut usize| {
        let n = len(piece);
        if !cur.is_empty() && *cur_len + n > max {
            parts.push(std::mem::take(cur));
            *cur_len = 0;
        }
        cur.push_str(piece);
        *cur_len += n;
    };
    for line in text.split_inclusive('\n') {
        if len(line) <= max {
            push(line, &mut cur, &mut cur_len);
        } else {
            let mut buf = [0u8; 4];
            for c in line.chars() {
                push(c.encode_utf8(&mut buf), &mut cur, &mut cur_len);
            }
        }
    }
    if !cur.is_empty() || parts.is_empty() {
        parts.push(cur);
    }
    parts
}

/// Full-width digits and signs to ASCII (for numbers typed on a Chinese
/// keyboard), case folded; no punctuation removed, decimals survive.
pub fn prepare_numeric(text: &str) -> String {
    let clipped: String = text.chars().take(MAX_QUESTION_CHARS).collect();
    clipped
        .nfkc()
        .collect::<String>()
        .to_lowercase()
        .replace('－', "-")
}

/// A day of the month, as a text names it ("25号", "12月25日", "12 月
/// 31 日", "12.25"): (month if named, day). Digits only, as `prepare`
/// leaves them.
static DAY: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    // Not a document's number (154号, 〔2024〕10号) nor a figure (1.25.3).
    regex::Regex::new(
        r"(?:^|[^\d〕\]])(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*[号日]|(?:^|[^\d.])(\d{1,2})[./](\d{1,2})(?:[^\d.]|$)",
    )
    .ok()
});

/// A count of hours as `prepare` leaves it: "60个学时", "90 学时".
static HOURS: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"(\d{1,3})\s*个?\s*学时").ok());

/// The counts of hours a (prepared) text names.
pub fn hours_named(text: &str) -> Vec<u32> {
    let Some(re) = &*HOURS else {
        return Vec::new();
    };
    re.captures_iter(text)
        .filter_map(|c| c.get(1).and_then(|m| m.as_str().parse().ok()))
        .collect()
}

/// The days of the month a text names (see [`DAY`]).
pub fn days_named(text: &str) -> Vec<(Option<u32>, u32)> {
    let Some(re) = &*DAY else {
        return Vec::new();
    };
    re.captures_iter(text)
        .filter_map(|c| {
            let number = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
            let (month, day) = match number(4) {
                Some(day) => (Some(number(3)?), day),
                None => (number(1), number(2)?),
            };
            // 0.5 学时 is no date.
            let real = (1..=31).contains(&day) && month.is_none_or(|m| (1..=12).contains(&m));
            real.then_some((month, day))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_of_the_month_are_read_not_document_numbers() {
        assert_eq!(days_named("学校通知25号才发"), vec![(None, 25)]);
        assert_eq!(
            days_named("2024年12月25日发，12 月 31 日截止"),
            vec![(Some(12), 25), (Some(12), 31)]
        );
        assert_eq!(days_named("通知12.25才发"), vec![(Some(12), 25)]);
        assert!(days_named("赣人社字〔2024〕154号，〔2024〕10号").is_empty());
        assert!(days_named("折0.5学时，版本1.2.3").is_empty());
    }

    fn lexicon() -> Lexicon {
        toml::from_str(
            r#"
            fillers = ["请问", "老师你好"]
            stopwords = ["吗", "的", "要", "the"]
            dictionary = ["继续教育", "学时"]
            [typos]
            "学识" = "学时"
            "工需" = "公需"
            [synonyms]
            "公需课" = ["公需科目", "公共课", "公需", "public course"]
            "截止" = ["最晚", "deadline"]
            "折算" = ["抵"]
            "#,
        )
        .expect("test lexicon")
    }

    fn lexicon_with_abbreviation() -> Lexicon {
        let mut lex = lexicon();
        lex.typos.insert("继教".into(), "继续教育".into());
        lex.synonyms.insert("申报".into(), vec!["登记".into()]);
        lex
    }

    #[test]
    fn phone_numbers_typed_with_spaces_are_one_number() {
        assert_eq!(
            prepare("400 803 9966 打过去是哪家"),
            "4008039966 打过去是哪家"
        );
        assert_eq!(prepare("0791 12333转1"), "079112333转1");
        assert_eq!(prepare("是90 30 60吗"), "是90 30 60吗");
        assert_eq!(prepare("2024 2025有什么不同"), "2024 2025有什么不同");
        // Said digit by digit into a voice keyboard.
        assert_eq!(prepare("1 2 3 3 3 转几"), "12333 转几");
        assert_eq!(prepare("0 7 9 1 1 2 3 3 3转1"), "079112333转1");
        // Three lone figures are a list, not a number.
        assert_eq!(prepare("第1 2 3条"), "第1 2 3条");
    }

    #[test]
    fn counts_of_hours_are_found() {
        assert_eq!(hours_named("专业课的60个学时学完 公需30学时"), [60, 30]);
        assert!(hours_named("2024年12月31日").is_empty());
    }

    #[test]
    fn hours_counted_in_chinese_numerals_become_digits() {
        assert_eq!(prepare("也要完成九十个学时吗"), "也要完成90个学时吗");
        assert_eq!(
            prepare("公需三十学时 专业六十五课时"),
            "公需30学时 专业65课时"
        );
        assert_eq!(prepare("十个小时"), "10个小时");
        // Not a count of hours: left as written.
        assert_eq!(prepare("十大战略"), "十大战略");
    }

    #[test]
    fn numbers_read_out_digit_by_digit_become_digits() {
        assert_eq!(prepare("零七九一一二三三三转一"), "079112333转一");
        assert_eq!(prepare("打一二三三三"), "打12333");
        // Short runs are words: 三大高地五大战略, 一二三.
        assert_eq!(prepare("三大高地五大战略"), "三大高地五大战略");
        assert_eq!(prepare("第一二三个专题"), "第一二三个专题");
    }

    #[test]
    fn a_slip_is_not_read_across_a_word_written_in_full() {
        let a = Analyzer::new(&lexicon_with_abbreviation());
        // 登继 sounds like 登记, but 继教 is written out.
        assert!(
            a.normalize("登继教平台").contains("继续教育"),
            "{}",
            a.normalize("登继教平台")
        );
    }

    #[test]
    fn prepare_folds_width_case_script_and_punctuation() {
        assert_eq!(prepare("ＡＢＣ１２３"), "abc123");
        assert_eq!(prepare("學時？！"), "学时  ");
        assert_eq!(prepare("a\u{0}b\u{7}c"), "a b c");
        assert_eq!(prepare("😀学时"), " 学时");
        assert_eq!(prepare("400-666-0656？"), "4006660656 ");
    }

    #[test]
    fn simplified_agrees_with_fast2s_and_borrows_simplified_text() {
        // fast2s's context rules (看著 → 看着, 計畫 → 计划) and its
        // exclusions (乾隆 stays) hold through the shortcut.
        let mut texts: Vec<String> = [
            "看著",
            "藉口",
            "憑藉",
            "苧麻",
            "闔家",
            "鍾書",
            "校讎",
            "計畫",
            "企畫",
            "乾隆",
            "瞭望",
            "繼續教育學時",
            "公需课要多少学时",
            "ＡＢＣ",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every question of the fixtures, 繁體 ones among them.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for f in std::fs::read_dir(&dir).expect("fixtures").flatten() {
            let text = std::fs::read_to_string(f.path()).unwrap_or_default();
            for line in text.lines() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                    && let Some(q) = v["q"].as_str()
                {
                    texts.push(q.to_string());
                }
            }
        }
        assert!(texts.len() > 5000, "{}", texts.len());
        for t in &texts {
            assert_eq!(simplified(t), fast2s::convert(t), "{t}");
        }
        // Outside the probed range fast2s changes no character alone.
        for u in (0x800u32..=0xFFFF).filter(|u| !CONVERTIBLE_RANGE.contains(u)) {
            if let Some(c) = char::from_u32(u) {
                assert_eq!(fast2s::convert(&c.to_string()), c.to_string(), "{u:X}");
            }
        }
        assert!(matches!(
            simplified("公需课要多少学时"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(matches!(simplified("繼續教育"), std::borrow::Cow::Owned(_)));
    }

    #[test]
    fn every_ideograph_of_the_common_range_is_a_letter() {
        for u in (0x3400u32..=0x4DBF).chain(0x4E00..=0x9FFF) {
            let c = char::from_u32(u).expect("a scalar value");
            assert!(is_ideograph(c) && is_cjk(c) && c.is_alphanumeric(), "{u:X}");
        }
    }

    #[test]
    fn punctuation_kept_out_of_composition_becomes_the_space_composition_gives() {
        // What lets prepare skip NFKC for these marks: each composes to one
        // ASCII mark that the punctuation pass turns into a space, as it
        // turns the full-width mark itself.
        for c in ['，', '？', '！', '：', '；', '（', '）'] {
            assert!(spaced_punct(c));
            let composed: Vec<char> = c.to_string().nfkc().collect();
            assert_eq!(composed.len(), 1, "{c}");
            let m = composed[0];
            assert!(
                m.is_ascii() && !m.is_ascii_alphanumeric() && m != '-',
                "{c}"
            );
        }
        assert!(!spaced_punct('－') && !spaced_punct('１'));
        // The skipped and the composed path agree on a whole question.
        let q = "公需课，ＡＢ学时？（2024）：";
        let composed: String = q.nfkc().collect::<String>().to_lowercase();
        assert_eq!(
            prepare("公需课，多少学时？（2024）"),
            "公需课 多少学时  2024 "
        );
        assert_eq!(prepare(q), prepare(&composed));
    }

    #[test]
    fn rewrite_applies_synonyms_typos_fillers_longest_first() {
        let a = Analyzer::new(&lexicon());
        assert_eq!(a.normalize("请问公需科目的学识"), "公需课的学时");
        assert_eq!(a.normalize("公需课"), "公需课");
        assert_eq!(a.normalize("公需"), "公需课");
        assert_eq!(a.normalize("工需学时"), "公需课学时");
        assert_eq!(a.normalize("What is the Deadline?"), "what is the 截止");
        // ASCII keys only match whole words.
        assert_eq!(a.normalize("deadlines"), "deadlines");
    }

    #[test]
    fn domain_dictionary_keeps_words_whole() {
        let a = Analyzer::new(&lexicon());
        let toks = a.tokens("继续教育学时要多少");
        assert!(toks.contains(&"继续教育".to_string()), "{toks:?}");
        assert!(toks.contains(&"学时".to_string()), "{toks:?}");
        assert!(!toks.contains(&"要".to_string()));
    }

    #[test]
    fn features_have_words_and_bigrams_without_stopwords() {
        let a = Analyzer::new(&lexicon());
        let f = a.features("公需课的学时吗");
        assert!(f.words.contains(&"公需课".to_string()));
        assert!(!f.words.iter().any(|w| w == "的" || w == "吗"));
        assert!(
            f.bigrams.contains(&Bigram::new('需', '课')),
            "{:?}",
            f.bigrams
        );
        // No pair across two known words.
        assert!(
            !f.bigrams.contains(&Bigram::new('课', '学')),
            "{:?}",
            f.bigrams
        );
        assert!(!f.bigrams.iter().any(|b| b.as_str().contains('的')));
    }

    #[test]
    fn traditional_and_full_width_question_equals_simplified() {
        let a = Analyzer::new(&lexicon());
        assert_eq!(a.features("公需課學時？"), a.features("公需课学时?"));
    }
}
