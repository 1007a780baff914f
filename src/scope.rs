//! What a question is about, beyond its words: which guide year it names,
//! whether it is about another region or profession, or about a platform
//! operator's own business, and where one message holds several questions.
//!
//! Everything here works on text already normalised by [`crate::text`]
//! (synonyms rewritten, so "Hunan University" is 湖南大学 and 本年度 is
//! 今年), and takes the word lists from the lexicon: no question is listed.

use crate::knowledge::Kb;
use crate::text::automaton;
use aho_corasick::{AhoCorasick, MatchKind};

/// Why a question is outside the knowledge base whatever words it shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outside {
    /// Continuing education of another province or region.
    Region(String),
    /// Continuing education of another profession (doctors, accountants).
    Profession(String),
    /// Teachers of schools the guide does not cover (中小学, 幼儿园).
    School(String),
    /// Something about a platform operator that the guide does not cover
    /// (its campus, admissions, jobs).
    Operator(String),
    /// One of an operator's own offices (江西师大教务处): that school's own
    /// business, declined as any question the guide does not cover.
    Office,
}

/// Relative year words, as the lexicon's synonyms rewrite them.
/// (下一年 is no such word: "想问一下一年" holds it.)
const RELATIVE_YEARS: [(&str, i32); 10] = [
    ("今年", 0),
    ("本年度", 0),
    ("this year", 0),
    ("去年", -1),
    ("上年度", -1),
    ("last year", -1),
    ("明年", 1),
    ("下年度", 1),
    ("next year", 1),
    ("前年", -2),
];

/// How far past a written year its phrase may name what the year qualifies.
const YEAR_PHRASE_CHARS: usize = 12;
/// After a year written out, what was left unfinished that year is its
/// continuing education ("2022年我没学完 现在还能补吗"): that year's guide is
/// asked. Not after 去年: relative years are read only before a word of the
/// guide.
const UNFINISHED: [&str; 6] = ["没学完", "没学够", "没完成", "没修满", "没学满", "未完成"];
/// After a second year, words setting it beside a year already asked
/// about ("2024年是哪几个", "2024年呢").
const PARALLEL: [&str; 4] = ["是", "呢", "的呢", "又"];

/// A digit of a year as voice input writes it (二零二五年, 二o二五年).
fn chinese_digit(c: char) -> Option<u8> {
    if c == 'o' {
        Some(0)
    } else {
        crate::text::chinese_digit(c)
    }
}

/// Years written in Chinese numerals turned into digits ("二零二五年" →
/// "2025年"); only runs of four right before 年.
fn digits_for_years(text: &str) -> std::borrow::Cow<'_, str> {
    let chars: Vec<char> = text.chars().collect();
    if !chars
        .windows(5)
        .any(|w| w[..4].iter().all(|&c| chinese_digit(c).is_some()) && w[4] == '年')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if i + 4 < chars.len()
            && chars[i..i + 4].iter().all(|&c| chinese_digit(c).is_some())
            && chars[i + 4] == '年'
        {
            for &c in &chars[i..i + 4] {
                out.push(char::from(b'0' + chinese_digit(c).unwrap_or(0)));
            }
            i += 4;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

pub struct Scope {
    /// Region and profession words in one automaton (left-most longest),
    /// with operator names too so that 湖南 inside 湖南大学 is no region.
    words: Option<AhoCorasick>,
    kinds: Vec<WordKind>,
    /// Per pattern, the operator it names: itself for an operator, the
    /// platform's operator for a platform's name.
    bearers: Vec<String>,
    subject_suffixes: Vec<String>,
    operator_offices: Vec<String>,
    home: Vec<String>,
    /// The words for any other province, normalised.
    elsewhere: Vec<String>,
    /// Operators whose names hold a region (湖南大学, 北京网梯科技).
    foreign_operators: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WordKind {
    Region,
    Profession,
    School,
    Operator,
    /// A platform's own name ("江西专技在线"): it names its operator.
    Platform,
}

impl Scope {
    /// `normalize` is the analyzer's normalisation (the lexicon's words go
    /// through it, so they meet questions in the same form).
    pub fn new(kb: &Kb, normalize: impl Fn(&str) -> String) -> Scope {
        let mut pats: Vec<String> = Vec::new();
        let mut kinds = Vec::new();
        let mut bearers = Vec::new();
        let mut add = |w: &str, k: WordKind, bearer: &str| {
            let n = normalize(w);
            if !n.trim().is_empty() && !pats.contains(&n) {
                pats.push(n);
                kinds.push(k);
                bearers.push(normalize(bearer));
            }
        };
        for p in &kb.facts.platforms {
            add(&p.operator, WordKind::Operator, &p.operator);
            add(&p.name, WordKind::Platform, &p.operator);
        }
        for w in kb
            .lexicon
            .scope
            .regions
            .iter()
            .chain(&kb.lexicon.scope.elsewhere)
        {
            add(w, WordKind::Region, "");
        }
        for w in &kb.lexicon.scope.professions {
            add(w, WordKind::Profession, "");
        }
        for w in &kb.lexicon.scope.other_schools {
            add(w, WordKind::School, "");
        }
        let words = automaton(&pats, MatchKind::LeftmostLongest).ok();
        let normalized = |list: &[String]| list.iter().map(|s| normalize(s)).collect();
        let scope = &kb.lexicon.scope;
        Scope {
            words,
            kinds,
            bearers,
            subject_suffixes: normalized(&scope.subject_suffixes),
            operator_offices: normalized(&scope.operator_offices),
            home: normalized(&scope.home),
            elsewhere: normalized(&scope.elsewhere),
            foreign_operators: kb
                .facts
                .platforms
                .iter()
                .map(|p| normalize(&p.operator))
                .filter(|op| {
                    kb.lexicon
                        .scope
                        .regions
                        .iter()
                        .any(|r| op.contains(normalize(r).as_str()))
                })
                .collect(),
        }
    }

    /// Is the (normalised) question about another region or profession, or
    /// only about an operator? `foreign_rest` tells whether what is left
    /// once the operator is taken out asks about something, none of it
    /// words of this knowledge base ("在哪个城市"); a bare name is no such
    /// question.
    pub fn outside(
        &self,
        normalized: &str,
        foreign_rest: impl Fn(&str) -> bool,
        crosses_a_word: impl Fn(usize, usize) -> bool,
    ) -> Option<Outside> {
        let ac = self.words.as_ref()?;
        // "才会计入" holds 会计 across 计入: no profession there.
        let found: Vec<_> = ac
            .find_iter(normalized)
            .filter(|m| {
                matches!(
                    self.kinds[m.pattern().as_usize()],
                    WordKind::Operator | WordKind::Platform
                ) || !crosses_a_word(m.start(), m.end())
            })
            .collect();
        // "湖南大学的平台…为啥要用湖南的": a region an operator named in the
        // same message bears is that operator, not another province.
        // "江西专技在线…说是北京一个公司": a platform named bears its
        // operator's region too.
        let named: Vec<&str> = found
            .iter()
            .filter(|m| {
                matches!(
                    self.kinds[m.pattern().as_usize()],
                    WordKind::Operator | WordKind::Platform
                )
            })
            .map(|m| self.bearers[m.pattern().as_usize()].as_str())
            .collect();
        let mut operators = Vec::new();
        for m in found {
            let word = &normalized[m.start()..m.end()];
            match self.kinds[m.pattern().as_usize()] {
                // Unless it names the asker's province ("湖南省的老师…用湖南
                // 大学这个平台"): the teachers of that province.
                WordKind::Region
                    if named.iter().any(|op| {
                        op.contains(word)
                            || (self.elsewhere.iter().any(|e| e == word)
                                && self.foreign_operators.iter().any(|f| f == op))
                    }) && !teachers_of(&normalized[m.end()..]) => {}
                // "从台湾来江西任教", "来自广东", "在北京读的博士":
                // where the asker comes from or studied, not where the
                // continuing education is.
                WordKind::Region
                    if PAST_BEFORE
                        .iter()
                        .any(|p| normalized[..m.start()].trim_end().ends_with(p))
                        || PAST_AFTER
                            .iter()
                            .any(|p| normalized[m.end()..].trim_start().starts_with(p))
                        || self.before_home(normalized, m.start(), m.end())
                        || visited(&normalized[..m.start()], &normalized[m.end()..]) => {}
                WordKind::Region => return Some(Outside::Region(word.to_string())),
                // "之前在医院做医生 现在到江西…教书": the asker's past work.
                WordKind::Profession if self.before_home(normalized, m.start(), m.end()) => {}
                WordKind::Profession => {
                    let after = normalized[m.end()..].trim_start();
                    // 会计专业的老师 teaches accounting: one of ours.
                    if !self
                        .subject_suffixes
                        .iter()
                        .any(|s| after.starts_with(s.as_str()))
                    {
                        return Some(Outside::Profession(word.to_string()));
                    }
                }
                // 小学老师 is a teacher of a primary school: no subject taught.
                WordKind::School => return Some(Outside::School(word.to_string())),
                // "江西师大教务处的电话": one of the operator's own offices.
                WordKind::Operator => {
                    let after = normalized[m.end()..].trim_start();
                    let after = after.strip_prefix('的').unwrap_or(after);
                    if self
                        .operator_offices
                        .iter()
                        .any(|o| after.starts_with(o.as_str()))
                    {
                        return Some(Outside::Office);
                    }
                    operators.push((m.start(), m.end()))
                }
                WordKind::Platform => {}
            }
        }
        if let Some(&(s, e)) = operators.first() {
            let mut rest = String::with_capacity(normalized.len());
            let mut last = 0;
            for &(s, e) in &operators {
                rest.push_str(&normalized[last..s]);
                rest.push(' ');
                last = e;
            }
            rest.push_str(&normalized[last..]);
            if foreign_rest(&rest) {
                return Some(Outside::Operator(normalized[s..e].to_string()));
            }
        }
        None
    }

    /// Is the region or profession at `start..end` where the asker was
    /// before, or comes from, with the guide's province (`home`) named
    /// after it as where the asker is now? "我以前在广东…江西这边要多少",
    /// "之前在上海做会计 现在转到江西中职", "我是外省人但在江西高校",
    /// "江苏那边按学分算 江西这边". Not "湖南和江西的要求一样吗": nothing
    /// there says the other province is the asker's past.
    fn before_home(&self, normalized: &str, start: usize, end: usize) -> bool {
        let after = &normalized[end..];
        let Some(home) = self
            .home
            .iter()
            .filter_map(|h| after.find(h.as_str()))
            .min()
        else {
            return false;
        };
        let before = &normalized[..start];
        // A past marker shortly before the word (a dozen characters).
        let past = PAST_MARKERS
            .iter()
            .filter_map(|p| before.rfind(p))
            .any(|i| before.len() - i <= PAST_REACH);
        // "北京来的同事问 江西这边…": where someone comes from.
        let origin = ORIGIN_AFTER.iter().any(|o| after.starts_with(o));
        // "江苏那边按学分算 江西这边要多少": there, then here, asked about
        // here; unless the two are compared ("广东那边跟江西这边一样吗")
        // or hours move between them ("湖南那边学的能转到江西这边吗").
        let here = after[..home].contains("那边")
            && after[home..].contains("这边")
            && !COMPARED.iter().any(|c| normalized.contains(c));
        past || origin || here || NOW_MARKERS.iter().any(|n| after[..home].contains(n))
    }
}

/// Words comparing two places, or moving hours between them: both are
/// asked about.
const COMPARED: [&str; 14] = [
    "一样",
    "区别",
    "不同",
    "相同",
    "差别",
    "对比",
    "比较",
    "差不多",
    "转到",
    "转过",
    "带到",
    "带过",
    "互认",
    "通用",
];

/// Right after a region: someone comes from there ("北京来的同事").
const ORIGIN_AFTER: [&str; 4] = ["来的", "过来的", "调来的", "调过来"];
/// Words that put what follows in the asker's past.
const PAST_MARKERS: [&str; 6] = ["以前", "之前", "原来", "曾经", "过去", "前几年"];
/// How far before a region or profession a past marker reaches, in bytes
/// (a dozen Chinese characters).
const PAST_REACH: usize = 36;
/// Between another region or profession and the guide's province: the
/// asker is in the latter now ("但在江西", "现在到江西"). Not 那边 or 转到:
/// "广东那边…跟江西一样吗" compares, "学时能转到江西吗" transfers.
const NOW_MARKERS: [&str; 8] = ["但", "现在", "如今", "目前", "来到", "调来", "调到", "调入"];

/// Does the text after a region name its teachers or work there ("省的老师",
/// "上班")?
fn teachers_of(after: &str) -> bool {
    let after = after.trim_start();
    let after = after.strip_prefix('省').unwrap_or(after);
    let after = after.strip_prefix('的').unwrap_or(after);
    ["老师", "教师", "上班", "工作", "任教", "教书"]
        .iter()
        .any(|t| after.starts_with(t))
}

/// A guide year a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedYear {
    pub year: i32,
    /// Written out (2026, 二〇二六年, 26年), not said as 今年 / 去年: a
    /// year the asker chose, answered only from that year's guide.
    pub written: bool,
}

/// The guide years a (normalised) question is about, in order of mention:
/// a year written out (2025, 2025年度, 25年) or 今年 / 去年 / 明年 / 前年,
/// when what follows is a word of the knowledge base (`is_domain_start`)
/// or the end of the question. "我2020年评了副高" mentions a year but is
/// not about it.
pub fn years(
    text: &str,
    current: i32,
    is_domain_start: impl Fn(&str) -> bool,
    mentions_domain: impl Fn(&str) -> bool,
) -> Vec<NamedYear> {
    // Every way of naming a year holds 年, a digit or "year".
    if !text.contains('年') && !text.bytes().any(|b| b.is_ascii_digit()) && !text.contains("year")
    {
        return Vec::new();
    }
    let text = digits_for_years(text);
    let normalized: &str = &text;
    // "2023年那年的继续教育", "2025年度的", "the 2025 list of", "2025年度
    // 江西专业技术人员继续教育", "a 2025 version of this guide": words
    // between the year and what it qualifies.
    let qualified = |rest: &str| -> String {
        let mut rest = rest.trim_start();
        for skip in [
            "度",
            "那年",
            "那一年",
            "的",
            "那个",
            "这个",
            "江西省",
            "江西",
            "全省",
            "'s",
            "list of",
            "version of",
            "edition of",
            // Whole words: "the" is no prefix of "there".
            "this ",
            "the ",
            "study ",
        ] {
            rest = rest.strip_prefix(skip).unwrap_or(rest).trim_start();
        }
        rest.to_string()
    };
    let about = |rest: &str| {
        let rest = qualified(rest);
        rest.is_empty() || is_domain_start(&rest)
    };
    // A year written out qualifies what its phrase names, a few words on
    // ("2025年江西人社厅发的继续教育通知"), up to the next pause.
    let near = |rest: &str| {
        let phrase: String = qualified(rest)
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(YEAR_PHRASE_CHARS)
            .collect();
        about(rest) || mentions_domain(&phrase) || UNFINISHED.iter().any(|u| phrase.contains(u))
    };
    let mut found = Vec::new();
    // One mention a year; written out anywhere, it counts as written.
    let push = |year: i32, written: bool, found: &mut Vec<NamedYear>| match found
        .iter_mut()
        .find(|n| n.year == year)
    {
        Some(n) => n.written |= written,
        None => found.push(NamedYear { year, written }),
    };
    let bytes = normalized.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()) {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &normalized[start..i];
            let rest = &normalized[i..];
            // "现在都2025年了": the asker's present, no guide year asked
            // (the answer still says which season's guide it is).
            let with_nian = rest
                .trim_start()
                .strip_prefix('年')
                .filter(|after| !after.trim_start().starts_with('了'));
            // "2023年公需课是另外几个专题，2024年是哪几个": a year set
            // beside one already asked about asks about the same.
            let beside = |after: &str| {
                !found.is_empty() && PARALLEL.iter().any(|p| after.trim_start().starts_with(p))
            };
            let year = match (digits.len(), with_nian) {
                (4, Some(after)) => digits
                    .parse::<i32>()
                    .ok()
                    .filter(|_| near(after) || beside(after)),
                // "2025 专题", "topics 2025": a bare year-like number; in
                // English also after what it qualifies ("the topics for
                // 2025"), when the text names the domain.
                (4, None) => digits.parse::<i32>().ok().filter(|y| {
                    let before = normalized[..start].trim_end();
                    (2000..=2099).contains(y)
                        && (about(rest)
                            || ((before.ends_with(" for") || before.ends_with(" of"))
                                && mentions_domain(normalized)))
                }),
                // "24年公需": the century is understood.
                (2, Some(after)) => digits
                    .parse::<i32>()
                    .ok()
                    .map(|y| 2000 + y)
                    .filter(|_| near(after)),
                _ => None,
            };
            if let Some(y) = year.filter(|y| (2000..=2099).contains(y)) {
                push(y, true, &mut found);
            }
            continue;
        }
        i += 1;
    }
    for (word, offset) in RELATIVE_YEARS {
        for (at, _) in normalized.match_indices(word) {
            // "拖到明年", "留到明年": when something is put off to, not
            // the year's guide.
            if normalized[..at].ends_with('到') {
                continue;
            }
            if about(&normalized[at + word.len()..]) {
                push(current + offset, false, &mut found);
            }
        }
    }
    found
}

/// Before a region: travel there ("组织去深圳…参观学习").
const VISIT_BEFORE: [&str; 3] = ["去", "到", "赴"];
/// What a trip there was for, soon after the region: a visit or training,
/// whose hours are asked about here.
const VISIT_FOR: [&str; 7] = ["参观", "考察", "观摩", "交流", "学习", "培训", "跟岗"];
/// Chars after a region within which a trip's purpose is looked for.
const VISIT_REACH: usize = 16;

/// "去深圳那边几个兄弟院校参观学习": the asker went there to learn, which
/// asks whether that counts here, not another province's rules.
fn visited(before: &str, after: &str) -> bool {
    let purpose: String = after.chars().take(VISIT_REACH).collect();
    VISIT_BEFORE.iter().any(|v| before.trim_end().ends_with(v))
        && VISIT_FOR.iter().any(|p| purpose.contains(p))
}

/// Before a region: where the asker comes from.
const PAST_BEFORE: [&str; 3] = ["从", "来自", "老家"];
/// After a region: studied or worked there before, or registered there
/// ("北京读的博士", "外省户口"; 读博士 is read as 学历教育 by then).
const PAST_AFTER: [&str; 8] = [
    "读的",
    "读书",
    "读博",
    "读研",
    "学历教育",
    "毕业",
    "调过来",
    "户口",
];

/// How a message with no question word can still ask yes or no, by its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// "这个也要学？", "要考试不", "学完没", "学完冇", "学校要给时间学伐", "独立学院也要学么".
    Whether,
    /// A figure offered for confirmation: "是转2再按8吧".
    Confirm,
}

/// The one rule for yes/no endings, shared by the question kinds and the
/// clause split. Not "我还没": an adverb or a pronoun before the negation
/// makes it a statement; not "这么", "那么": 么 there asks nothing.
pub fn yes_no_ending(text: &str) -> Option<Ending> {
    let t = text.trim_end_matches(|c: char| c.is_whitespace() || "。.!！~～😭".contains(c));
    if t.ends_with(['?', '？']) {
        return Some(Ending::Whether);
    }
    let core: Vec<char> = t.chars().collect();
    let [.., before, last] = core.as_slice() else {
        return None;
    };
    match last {
        '吧' => Some(Ending::Confirm),
        // 伐 is 吗 in the dialects of Jiangxi's neighbours.
        '伐' => Some(Ending::Whether),
        '么' if !"什怎这那多要".contains(*before) => Some(Ending::Whether),
        // 冇 is 没 in Gan and Cantonese ("还有得救冇").
        '不' | '没' | '冇' if core.len() >= 3 && !"还都也并就我你他她很太".contains(*before) => {
            Some(Ending::Whether)
        }
        _ => None,
    }
}

/// Interrogative cues: a clause holding none is context ("我们是中职学校的"),
/// not a question of its own.
const QUESTION_CUES: [&str; 46] = [
    "吗",
    // How long: "报上去一般多久能审完".
    "多久",
    "多长时间",
    // 吗 in the dialects of Jiangxi's neighbours ("学校要给时间学伐").
    "伐",
    "么",
    "多少",
    "几",
    "什么",
    "怎么",
    "如何",
    "哪",
    "谁",
    "是否",
    "能否",
    "要不要",
    "是不是",
    "是吧",
    "对吧",
    "对吗",
    "有没有",
    "可不可以",
    "能不能",
    "会不会",
    "算不算",
    "需不需要",
    "用不用",
    "呢",
    "啥",
    "?",
    "？",
    // Requests ask too: "另外湖南大学平台的电话也要一个".
    "发下",
    "发一下",
    "发我",
    "告诉我",
    "也要一个",
    "tell me",
    "send me",
    "how",
    "what",
    "when",
    "where",
    "which",
    "who",
    "can",
    "is",
    "do",
];

/// Characters at or after which a message may split into parts.
const SPLITTERS: &str = "。？?！!；;\n，、…,. 　吗呢啊呀嘛";

/// Words that start a new question inside a message, found in one pass,
/// and words holding a question cue that ask nothing (好几个月: the
/// lexicon's `[asks] none`, which the kinds of question drop too).
pub struct Markers {
    starts: Option<AhoCorasick>,
    not_questions: Vec<String>,
    /// The same in one automaton: most parts hold none, found in one pass.
    any_not_question: Option<AhoCorasick>,
    /// The question cues that are not English words, found in one pass.
    cues: Option<AhoCorasick>,
    /// The English ones, each matched as a whole word.
    english_cues: Vec<&'static str>,
}

/// An English cue is a whole word ("is" not in "this"); the others are
/// found anywhere in a part.
fn english_word(cue: &str) -> bool {
    cue.chars().all(|c| c.is_ascii_alphabetic())
}

impl Markers {
    pub fn new(words: &[String], not_questions: &[String]) -> Markers {
        let words: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .filter(|w| !w.is_empty())
            .collect();
        let not_questions: Vec<String> = not_questions
            .iter()
            .filter(|w| !w.is_empty())
            .cloned()
            .collect();
        Markers {
            starts: automaton(words, MatchKind::LeftmostLongest).ok(),
            any_not_question: automaton(&not_questions, MatchKind::Standard).ok(),
            not_questions,
            cues: automaton(
                QUESTION_CUES.iter().filter(|c| !english_word(c)),
                MatchKind::Standard,
            )
            .ok(),
            english_cues: QUESTION_CUES
                .iter()
                .copied()
                .filter(|c| english_word(c))
                .collect(),
        }
    }

    fn any(&self, text: &str) -> bool {
        self.starts.as_ref().is_some_and(|ac| ac.is_match(text))
    }

    /// Does a part ask something: a question cue, or a yes-no question
    /// ending in its negation?
    fn is_question(&self, part: &str) -> bool {
        if yes_no_ending(part).is_some() {
            return true;
        }
        // "生病住院好几个月": a quantity, no question.
        let mut lower = if part.chars().any(char::is_uppercase) {
            part.to_lowercase()
        } else {
            part.to_string()
        };
        let holds_one = self
            .any_not_question
            .as_ref()
            .is_none_or(|ac| ac.is_match(&lower));
        if holds_one {
            // In the list's order: one may hold another.
            for quantity in &self.not_questions {
                if lower.contains(quantity.as_str()) {
                    lower = lower.replace(quantity.as_str(), " ");
                }
            }
        }
        if self.cues.as_ref().is_some_and(|ac| ac.is_match(&lower)) {
            return true;
        }
        lower.bytes().any(|b| b.is_ascii_alphabetic())
            && lower
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| self.english_cues.contains(&w))
    }

    /// A part opened by a marker that says it asks ("顺便问下截止日期",
    /// "再问一下网址"), with something after it: a question though it has
    /// no question word.
    fn opens_question(&self, part: &str) -> bool {
        let Some(ac) = &self.starts else { return false };
        ac.find(part).is_some_and(|m| {
            let marker = &part[m.range()];
            let rest = part[m.end()..].trim_start_matches(['下', '一', ' ']);
            m.start() == 0 && marker.contains('问') && rest.chars().count() >= 2
        })
    }

    /// A part opened by a list's number ("2.截止时间", "②网址", "第二个")
    /// with something after it (in a numbered list each item is asked,
    /// though a bare noun phrase holds no question word): where the number
    /// ends, and whether it is a bare number ("2.", "②": no word, left out
    /// of what is matched; "1" would match "转1") rather than words
    /// ("第二个").
    fn item_marker(&self, part: &str) -> Option<(usize, bool)> {
        let number = |c: char| c.is_ascii_digit() || ('①'..='⑩').contains(&c);
        // Most parts open with no list number: not searched.
        let first = part.chars().next()?;
        if !(number(first) || first == '第') {
            return None;
        }
        let m = self.starts.as_ref()?.find(part)?;
        let marker = &part[m.range()];
        let number = marker.starts_with(number);
        let listed = number || marker.starts_with('第');
        (m.start() == 0 && listed && part[m.end()..].trim().chars().count() >= 2)
            .then_some((m.end(), number))
    }

    /// The text with a line break before each marker.
    fn mark<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let Some(ac) = &self.starts else {
            return std::borrow::Cow::Borrowed(text);
        };
        let mut out = String::new();
        let mut last = 0;
        for m in ac.find_iter(text) {
            // A number's digits are no list's: 12.25, 2.5学时.
            let numbered = text[m.range()].starts_with(|c: char| c.is_ascii_digit());
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            if numbered
                && (before.is_some_and(|c| c.is_ascii_digit() || c == '.')
                    || after.is_some_and(|c| c.is_ascii_digit()))
            {
                continue;
            }
            out.push_str(&text[last..m.start()]);
            out.push('\n');
            last = m.start();
        }
        if last == 0 && out.is_empty() {
            return std::borrow::Cow::Borrowed(text);
        }
        out.push_str(&text[last..]);
        std::borrow::Cow::Owned(out)
    }
}

/// A pictograph or other symbol (emoji, ★, ✔, →): neither a word nor a
/// punctuation mark. By block, a range test per character: the circled
/// numbers (①, a list's marker) are kept.
fn is_symbol(c: char) -> bool {
    matches!(c as u32,
        0x2190..=0x21FF // arrows
        | 0x2300..=0x23FF // technical symbols (⌚, ⏰)
        | 0x2500..=0x27BF // shapes, miscellaneous symbols, dingbats
        | 0x2B00..=0x2BFF // more symbols and arrows (⭐)
        | 0x1F000..=0x1FAFF // emoji
        | 0xFE0F | 0x200D) // emoji presentation, joiner
}

/// One question of a message, with the context around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub text: String,
    /// Parts of the message without a question of their own, before this
    /// question (and, for the last one, after it): "我们是中职学校的".
    pub context: String,
}

/// Split a message into the questions it holds: at sentence punctuation,
/// at spaces between Chinese phrases (voice input), and after a
/// sentence-final particle (吗, 呢, 啊, 呀, 嘛) followed by more text. A part without an
/// interrogative cue is context of the question it precedes (or of the
/// last one).
pub fn clauses(text: &str, markers: &Markers) -> Vec<Clause> {
    // Most questions are one short sentence: nothing to split.
    if !text.chars().any(|c| SPLITTERS.contains(c)) && !markers.any(text) {
        let text = text.trim();
        return if text.is_empty() {
            Vec::new()
        } else {
            vec![Clause {
                text: text.to_string(),
                context: String::new(),
            }]
        };
    }
    // Emoji and other symbols say nothing of where a sentence ends:
    // "还剩几天啊😂 来得及不" splits as "还剩几天啊 来得及不" does.
    let plain: String;
    let text = if text.chars().any(is_symbol) {
        plain = text.chars().filter(|&c| !is_symbol(c)).collect();
        plain.as_str()
    } else {
        text
    };
    // A marker ("想问一下", "第二个是", "另外") starts a new part.
    let marked = markers.mark(text);
    let text: &str = &marked;
    let mut raw: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let cjk = |c: Option<char>| c.is_some_and(|c| !c.is_ascii() && c.is_alphanumeric());
        let boundary = matches!(
            c,
            '。' | '？' | '?' | '！' | '!' | '；' | ';' | '\n' | '，' | '…'
        ) || (matches!(c, ',' | '.') && next == Some(' '))
            // "专业课去哪学、学多少": an enumeration comma after a question
            // of its own; short items ("论文、专利", "哪些学校、哪些岗位")
            // stay one list.
            || (c == '、' && cur.trim().chars().count() >= 5)
            || (c.is_whitespace() && cjk(prev) && cjk(next));
        if boundary {
            if matches!(c, '？' | '?') {
                cur.push(c);
            }
            if !cur.trim().is_empty() {
                raw.push(std::mem::take(&mut cur));
            }
            cur.clear();
            continue;
        }
        cur.push(c);
        if matches!(c, '吗' | '呢' | '啊' | '呀' | '嘛') && cjk(next) {
            raw.push(std::mem::take(&mut cur));
        }
    }
    if !cur.trim().is_empty() {
        raw.push(cur);
    }
    let mut out: Vec<Clause> = Vec::new();
    let mut context: Vec<String> = Vec::new();
    let items: Vec<Option<(usize, bool)>> =
        raw.iter().map(|p| markers.item_marker(p.trim())).collect();
    // One numbered item could be a date or a section ("1.公需课"); two make
    // a list of questions.
    let list = items.iter().flatten().count() >= 2;
    for (part, item) in raw.into_iter().zip(items) {
        let part = part.trim().to_string();
        let item = item.filter(|_| list);
        let part = match item {
            Some((end, true)) => part[end..].trim().to_string(),
            _ => part,
        };
        // "…是不是马上就加学时，还是要有人审批的": the other half of an
        // either-or question right after it belongs to it.
        if let Some(last) = out.last_mut()
            && context.is_empty()
            && item.is_none()
            && part.starts_with("还是")
            && !markers.is_question(&part)
            // Split at 吗 ("要学满吗还是少点"), the two stay as they were.
            && !last.text.ends_with(['吗', '呢', '啊', '呀', '嘛'])
        {
            last.text.push(' ');
            last.text.push_str(&part);
            continue;
        }
        if item.is_some() || markers.is_question(&part) || markers.opens_question(&part) {
            out.push(Clause {
                text: part,
                context: std::mem::take(&mut context).join(" "),
            });
        } else {
            context.push(part);
        }
    }
    // "三个平台的电话发一下？还有省里的咨询电话": a last part adding a
    // thing to a question ("and …") asks that too, as "专业课呢" would. Not
    // a statement about someone ("还有两年我就退休了", "还有很多没学完").
    if let [added] = context.as_slice()
        && !out.is_empty()
        && let Some(rest) = added.strip_prefix("还有")
        && rest.chars().count() >= 3
        && !rest.contains(['我', '没', '不', '很', '好'])
    {
        out.push(Clause {
            text: rest.trim().to_string(),
            context: String::new(),
        });
        context.clear();
    }
    if !context.is_empty() {
        let tail = context.join(" ");
        match out.last_mut() {
            Some(last) if last.context.is_empty() => last.context = tail,
            Some(last) => {
                last.context.push(' ');
                last.context.push_str(&tail);
            }
            // No question word anywhere ("公需课学时"): the whole is one.
            None => out.push(Clause {
                text: tail,
                context: String::new(),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPED: [&str; 5] = ["继续教育", "公需课", "专题", "学时", "专业课"];

    #[test]
    fn yes_no_endings() {
        use Ending::*;
        for (text, want) in [
            ("这个也要学？", Some(Whether)),
            ("要考试不", Some(Whether)),
            ("学完没。", Some(Whether)),
            ("还有得救冇", Some(Whether)),
            ("我还冇", None),
            ("学校要给时间学伐", Some(Whether)),
            ("独立学院也要学么", Some(Whether)),
            ("是转2再按8吧", Some(Confirm)),
            // Punctuation after 吧 does not hide the confirmation.
            ("学够了吧。", Some(Confirm)),
            ("我还没", None),
            ("就这么", None),
            ("为什么", None),
            ("没", None),
            ("公需课三十学时", None),
        ] {
            assert_eq!(yes_no_ending(text), want, "{text}");
        }
    }

    fn named(text: &str, current: i32) -> Vec<NamedYear> {
        super::years(
            text,
            current,
            |s| SCOPED.iter().any(|w| s.starts_with(w)),
            |s| SCOPED.iter().any(|w| s.contains(w)),
        )
    }

    fn years(text: &str, current: i32) -> Vec<i32> {
        named(text, current).iter().map(|n| n.year).collect()
    }

    #[test]
    fn a_year_written_out_is_told_from_one_said_as_this_year() {
        let year = |year, written| NamedYear { year, written };
        assert_eq!(named("2026年度继续教育", 2026), vec![year(2026, true)]);
        assert_eq!(named("今年的专题", 2026), vec![year(2026, false)]);
        assert_eq!(named("今年 2026年的专题", 2026), vec![year(2026, true)]);
        assert_eq!(named("去年的专题", 2026), vec![year(2025, false)]);
    }

    #[test]
    fn years_named_as_the_subject_count_context_years_do_not() {
        assert_eq!(years("2025年的公需课专题", 2026), vec![2025]);
        assert_eq!(years("2023年度公需课", 2026), vec![2023]);
        assert_eq!(years("24年公需课那三个专题", 2026), vec![2024]);
        assert_eq!(years("我2020年评了副高", 2026), Vec::<i32>::new());
        assert_eq!(years("今年的专题", 2026), vec![2026]);
        assert_eq!(years("去年评了副高今年还要学", 2026), Vec::<i32>::new());
        assert_eq!(years("what are the 2025 专题", 2026), vec![2025]);
        assert_eq!(years("the 2025 list of 专题", 2026), vec![2025]);
        assert_eq!(years("2025's 专题", 2026), vec![2025]);
        assert_eq!(years("0791 12333 转1", 2026), Vec::<i32>::new());
        assert_eq!(years("2024年12月31日前", 2026), Vec::<i32>::new());
        assert_eq!(years("继续教育 2025", 2026), vec![2025]);
        assert_eq!(years("二零二五年的继续教育", 2026), vec![2025]);
        assert_eq!(
            years("2024年的公需课没学完 现在都2025年了还能补吗", 2026),
            vec![2024]
        );
        assert_eq!(years("都26年了还要学公需课吗", 2026), Vec::<i32>::new());
        assert_eq!(years("2023年那年的继续教育", 2026), vec![2023]);
        // What was left unfinished in a year written out is that year's.
        assert_eq!(years("2022年我没学完 现在还能补吗", 2026), vec![2022]);
        assert_eq!(years("去年我没学完 现在还能补吗", 2026), Vec::<i32>::new());
        // A year set beside one asked about asks about the same.
        assert_eq!(
            years("2023年公需课是另外几个专题，2024年是哪几个", 2026),
            vec![2023, 2024]
        );
        assert_eq!(years("2024年是哪几个", 2026), Vec::<i32>::new());
        assert_eq!(years("2025年江西人社厅发的继续教育通知", 2026), vec![2025]);
        assert_eq!(
            years("我2020年评了副高 今年还要学继续教育吗", 2026),
            Vec::<i32>::new()
        );
        assert_eq!(
            years("明年评副教授继续教育要是没修够", 2026),
            Vec::<i32>::new()
        );
        assert_eq!(years("想问一下一年要学多少学时", 2026), Vec::<i32>::new());
    }

    fn split(text: &str) -> Vec<(String, String)> {
        let markers = Markers::new(
            &[
                "想问一下".to_string(),
                "第二个是".to_string(),
                "顺便问".to_string(),
                "2.".to_string(),
            ],
            &["好几".to_string()],
        );
        clauses(text, &markers)
            .into_iter()
            .map(|c| (c.text, c.context))
            .collect()
    }

    fn pair(t: &str, c: &str) -> (String, String) {
        (t.to_string(), c.to_string())
    }

    #[test]
    fn a_part_asked_by_its_marker_or_its_negation_is_a_question() {
        let both = |t: &str| split(t).into_iter().map(|(q, _)| q).collect::<Vec<_>>();
        assert_eq!(
            both("继教有问题有没有电话能问的 顺便问下截止日期"),
            vec!["继教有问题有没有电话能问的", "顺便问下截止日期"]
        );
        assert_eq!(
            both("公需几个学时 要考试不"),
            vec!["公需几个学时", "要考试不"]
        );
        // A statement ending in a negation stays context.
        assert_eq!(
            split("公需课要几个学时 我还没"),
            vec![("公需课要几个学时".to_string(), "我还没".to_string())]
        );
    }

    #[test]
    fn a_thing_added_after_a_question_is_asked_too() {
        assert_eq!(
            split("三个平台的电话发一下？还有省里的咨询电话"),
            vec![
                pair("三个平台的电话发一下？", ""),
                pair("省里的咨询电话", "")
            ]
        );
        // A statement after 还有 stays context.
        assert_eq!(
            split("今年还要学吗？还有两年我就退休了"),
            vec![pair("今年还要学吗？", "还有两年我就退休了")]
        );
        assert_eq!(
            split("专业课要多少学时？还有很多没学完"),
            vec![pair("专业课要多少学时？", "还有很多没学完")]
        );
    }

    #[test]
    fn an_emoji_does_not_hide_where_a_question_ends() {
        assert_eq!(
            split("离截止还剩几天啊😂 来得及不"),
            vec![pair("离截止还剩几天啊", ""), pair("来得及不", "")]
        );
    }

    #[test]
    fn a_numbers_digits_mark_no_list_item() {
        // 12.25 is a date and 2.5 a figure, not item 2 of a list.
        assert_eq!(
            split("学校通知12.25才发，还有几天截止"),
            vec![pair("还有几天截止", "学校通知12.25才发")]
        );
        assert_eq!(split("论文折2.5学时吗"), vec![pair("论文折2.5学时吗", "")]);
        assert_eq!(
            split("1.公需课几学时 2.在哪学"),
            vec![pair("1.公需课几学时", ""), pair("2.在哪学", "")]
        );
    }

    #[test]
    fn clauses_split_questions_and_keep_context_with_them() {
        assert_eq!(
            split("公需课要多少学时 在哪学 学完要不要申报"),
            vec![
                pair("公需课要多少学时", ""),
                pair("在哪学", ""),
                pair("学完要不要申报", "")
            ]
        );
        assert_eq!(
            split("我们是中职学校的 一年要学几个学时 截止到什么时候"),
            vec![
                pair("一年要学几个学时", "我们是中职学校的"),
                pair("截止到什么时候", "")
            ]
        );
        assert_eq!(
            split("我去年评了副高今年还要学吗群里说法不一样"),
            vec![pair("我去年评了副高今年还要学吗", "群里说法不一样")]
        );
        assert_eq!(
            split("Who has to do it? Does it apply to me?"),
            vec![
                pair("Who has to do it?", ""),
                pair("Does it apply to me?", "")
            ]
        );
        assert_eq!(split("公需课学时"), vec![pair("公需课学时", "")]);
        assert!(split("").is_empty());
        assert_eq!(
            split("我是新来的老师想问一下一年要学多少学时"),
            vec![pair("想问一下一年要学多少学时", "我是新来的老师")]
        );
        assert_eq!(
            split("第一个专业课要不要申报第二个是平台电话多少"),
            vec![
                pair("第一个专业课要不要申报", ""),
                pair("第二个是平台电话多少", "")
            ]
        );
    }
}
