//! The hour tracker: parsing `/log 公需 10`, and the done / required /
//! missing summary against the knowledge base's requirements.

use crate::knowledge::{Facts, Hours};
use crate::store::{CourseKind, HourEntry};

/// More than this in one entry is a typing mistake, not a year of study.
pub const MAX_HOURS_PER_ENTRY: f64 = 1000.0;

pub const LOG_EXAMPLE: &str =
    "用法：/log 公需 10 或 /log 专业 2.5（更正可用负数，如 /log 公需 -5）";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogError {
    #[error("请写明课程类别和学时。{LOG_EXAMPLE}")]
    Missing,
    #[error("不认识课程类别“{0}”，请写“公需”或“专业”。{LOG_EXAMPLE}")]
    UnknownKind(String),
    #[error("“{0}”不是学时数。{LOG_EXAMPLE}")]
    NotANumber(String),
    #[error("一次最多记录{MAX_HOURS_PER_ENTRY}学时，请检查数字。{LOG_EXAMPLE}")]
    TooLarge,
    #[error("学时不能为0。{LOG_EXAMPLE}")]
    Zero,
    #[error("更正后{kind}学时将为负数（现有{have}学时），未记录。")]
    NegativeTotal { kind: &'static str, have: f64 },
}

pub fn kind_name(k: CourseKind) -> &'static str {
    match k {
        CourseKind::Public => "公需课",
        CourseKind::Professional => "专业课",
    }
}

/// Course-kind words teachers use, including common slips.
fn parse_kind(s: &str) -> Option<CourseKind> {
    let s = s.trim().to_lowercase();
    match s.as_str() {
        "公需" | "公需课" | "公需科目" | "公共课" | "工需" | "公须" | "public" | "pub" => {
            Some(CourseKind::Public)
        }
        "专业" | "专业课" | "专业科目" | "专业课程" | "professional" | "pro" => {
            Some(CourseKind::Professional)
        }
        _ => None,
    }
}

/// Parse the arguments of /log: kind then hours ("公需 10", "专业课 2.5").
/// The number may also be glued to the kind ("公需10").
pub fn parse_log(args: &str) -> Result<(CourseKind, f64), LogError> {
    let args: String = crate::text::prepare_numeric(args);
    let mut parts = args.split_whitespace();
    let first = parts.next().ok_or(LogError::Missing)?;
    let (kind_word, number) = match parts.next() {
        Some(n) => (first.to_string(), n.to_string()),
        None => {
            // "公需10": split where the number starts.
            let at = first
                .find(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
                .ok_or(LogError::Missing)?;
            (first[..at].to_string(), first[at..].to_string())
        }
    };
    let kind = parse_kind(&kind_word).ok_or_else(|| LogError::UnknownKind(kind_word.clone()))?;
    let hours: f64 = number
        .trim_end_matches("学时")
        .trim_end_matches("小时")
        .parse()
        .map_err(|_| LogError::NotANumber(number.clone()))?;
    if !hours.is_finite() {
        return Err(LogError::NotANumber(number));
    }
    if hours.abs() > MAX_HOURS_PER_ENTRY {
        return Err(LogError::TooLarge);
    }
    if hours == 0.0 {
        return Err(LogError::Zero);
    }
    Ok((kind, hours))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub public: f64,
    pub professional: f64,
}

impl Progress {
    pub fn of(entries: &[HourEntry]) -> Progress {
        let sum = |k| {
            entries
                .iter()
                .filter(|e| e.kind == k)
                .map(|e| e.hours)
                .sum::<f64>()
                // An empty f64 sum is -0.0, which would print as "-0".
                + 0.0
        };
        Progress {
            public: sum(CourseKind::Public),
            professional: sum(CourseKind::Professional),
        }
    }

    pub fn total(&self) -> f64 {
        self.public + self.professional
    }

    pub fn get(&self, k: CourseKind) -> f64 {
        match k {
            CourseKind::Public => self.public,
            CourseKind::Professional => self.professional,
        }
    }

    /// Missing hours per kind and in total, against the requirements (the
    /// total can miss more than the parts when the guide's total exceeds
    /// their sum).
    pub fn missing(&self, req: &Hours) -> (f64, f64, f64) {
        let public = (req.public - self.public).max(0.0);
        let professional = (req.professional - self.professional).max(0.0);
        let total = (req.total - self.total()).max(public + professional);
        (public, professional, total)
    }

    pub fn complete(&self, req: &Hours) -> bool {
        self.missing(req).2 <= 0.0
    }
}

/// Validate a new entry against what is logged: a correction may not take a
/// kind below zero.
pub fn check_entry(entries: &[HourEntry], kind: CourseKind, hours: f64) -> Result<(), LogError> {
    let have = Progress::of(entries).get(kind);
    if have + hours < 0.0 {
        return Err(LogError::NegativeTotal {
            kind: kind_name(kind),
            have,
        });
    }
    Ok(())
}

/// Hours as the bot prints them: one decimal at most, so 0.1 + 0.2 is
/// 0.3, not 0.30000000000000004.
pub fn fmt_h(h: f64) -> String {
    let r = (h * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// The /hours text: done / required / missing and days left.
pub fn summary(entries: &[HourEntry], facts: &Facts, today: chrono::NaiveDate) -> String {
    let mut s = format!(
        "{}年度学时（已完成 / 要求 / 还差）：\n{}",
        facts.year,
        table(entries, &facts.hours)
    );
    s.push('\n');
    s.push_str(&deadline_line(facts, today));
    s.push_str(&entry_list(entries));
    s
}

/// Done / required / missing per kind and in total, one line each.
pub fn table(entries: &[HourEntry], req: &Hours) -> String {
    let p = Progress::of(entries);
    let (mp, mq, mt) = p.missing(req);
    format!(
        "公需课：{} / {} / {}\n专业课：{} / {} / {}\n合计：{} / {} / {}",
        fmt_h(p.public),
        fmt_h(req.public),
        fmt_h(mp),
        fmt_h(p.professional),
        fmt_h(req.professional),
        fmt_h(mq),
        fmt_h(p.total()),
        fmt_h(req.total),
        fmt_h(mt),
    )
}

/// The newest ten entries ("\n记录：..."), or nothing.
pub fn entry_list(entries: &[HourEntry]) -> String {
    let mut s = String::new();
    if !entries.is_empty() {
        s.push_str("\n记录：");
        for e in entries.iter().rev().take(10) {
            s.push_str(&format!(
                "\n  {} {} {}",
                e.at.with_timezone(&crate::season::TZ).format("%m-%d %H:%M"),
                kind_name(e.kind),
                fmt_h(e.hours)
            ));
        }
        if entries.len() > 10 {
            s.push_str(&format!("\n  ……共{}条", entries.len()));
        }
    }
    s
}

/// "截止2024年12月31日，还剩N天" or, once passed, the make-up rule.
pub fn deadline_line(facts: &Facts, today: chrono::NaiveDate) -> String {
    let days = (facts.deadline - today).num_days();
    let date = crate::knowledge::chinese_date(facts.deadline);
    if days >= 0 {
        format!("截止日期：{date}，还剩{days}天。")
    } else {
        format!("截止日期{date}已过。{}。", facts.makeup)
    }
}

/// Text of a private reminder, or None when the teacher is complete.
pub fn missing_line(entries: &[HourEntry], req: &Hours) -> Option<String> {
    let p = Progress::of(entries);
    if p.complete(req) {
        return None;
    }
    let (mp, mq, mt) = p.missing(req);
    Some(format!(
        "您还差{}学时：公需课{}学时、专业课{}学时。",
        fmt_h(mt),
        fmt_h(mp),
        fmt_h(mq)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_numbers_and_glued_forms() {
        assert_eq!(parse_log("公需 10"), Ok((CourseKind::Public, 10.0)));
        assert_eq!(parse_log("专业课 2.5"), Ok((CourseKind::Professional, 2.5)));
        assert_eq!(
            parse_log("专业科目 20"),
            Ok((CourseKind::Professional, 20.0))
        );
        assert_eq!(parse_log("公需课  -5"), Ok((CourseKind::Public, -5.0)));
        assert_eq!(parse_log("公需10"), Ok((CourseKind::Public, 10.0)));
        assert_eq!(parse_log("公需 １０"), Ok((CourseKind::Public, 10.0)));
        assert_eq!(parse_log("公需 10学时"), Ok((CourseKind::Public, 10.0)));
    }

    #[test]
    fn refuses_bad_input_with_an_example() {
        for (input, err) in [
            ("", LogError::Missing),
            ("公需", LogError::Missing),
            ("体育 10", LogError::UnknownKind("体育".into())),
            ("公需 十", LogError::NotANumber("十".into())),
            ("公需 NaN", LogError::NotANumber("nan".into())),
            ("公需 inf", LogError::NotANumber("inf".into())),
            ("公需 1001", LogError::TooLarge),
            ("公需 0", LogError::Zero),
        ] {
            let got = parse_log(input);
            assert_eq!(got, Err(err), "{input}");
            let msg = got.unwrap_err().to_string();
            assert!(
                msg.contains("/log 公需 10") || msg.contains("更正"),
                "{input}: {msg}"
            );
        }
    }

    #[test]
    fn sums_print_rounded() {
        assert_eq!(fmt_h(0.1 + 0.2), "0.3");
        assert_eq!(fmt_h(2.25 + 0.0), "2.3");
        assert_eq!(fmt_h(30.0), "30");
    }

    #[test]
    fn nothing_logged_is_zero_not_minus_zero() {
        let p = Progress::of(&[]);
        assert_eq!(fmt_h(p.professional), "0");
        assert!(p.professional.is_sign_positive());
    }

    #[test]
    fn corrections_may_not_go_below_zero() {
        let e = HourEntry {
            kind: CourseKind::Public,
            hours: 4.0,
            at: chrono::Utc::now(),
        };
        assert!(check_entry(std::slice::from_ref(&e), CourseKind::Public, -4.0).is_ok());
        assert!(matches!(
            check_entry(&[e], CourseKind::Public, -5.0),
            Err(LogError::NegativeTotal { .. })
        ));
    }

    #[test]
    fn missing_follows_requirements_not_constants() {
        let req = Hours {
            total: 100.0,
            public: 30.0,
            professional: 60.0,
        };
        let p = Progress {
            public: 40.0,
            professional: 50.0,
        };
        assert_eq!(p.missing(&req), (0.0, 10.0, 10.0));
        let req2 = Hours { total: 80.0, ..req };
        assert_eq!(p.missing(&req2), (0.0, 10.0, 10.0));
        assert!(!p.complete(&req2));
    }
}
