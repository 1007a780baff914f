//! Provenance made mechanical: every value of a guide's facts.toml must
//! occur in the guide's own text (`<year>/source.txt`), after spaces are
//! removed and full-width forms folded, with dates in the guide's form
//! (2024年12月31日). `kb check` names each value that does not.

use crate::knowledge::chinese_date;
use unicode_normalization::UnicodeNormalization;

/// Facts values still to be filled in (a new year made by `kb new-year`).
pub const UNFILLED: &str = "TODO";

/// Text as compared: NFKC (full-width to half-width), no whitespace.
pub fn normalize(text: &str) -> String {
    text.nfkc().filter(|c| !c.is_whitespace()).collect()
}

/// One value of facts.toml that its source does not hold, or that is not
/// filled in yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unproven {
    /// Dotted path of the fact ("platforms.0.phone").
    pub key: String,
    pub value: String,
    pub unfilled: bool,
}

/// Every leaf value of `facts` that `source` does not contain.
pub fn verify(facts: &toml::Table, source: &str) -> Vec<Unproven> {
    let source = normalize(source);
    let mut out = Vec::new();
    let mut facts = facts.clone();
    // Bookkeeping, not facts of the guide.
    facts.remove("meta");
    facts.remove("unfilled");
    walk("", &toml::Value::Table(facts), &mut |key, v| {
        let (text, number) = match v {
            toml::Value::String(s) => (s.clone(), false),
            toml::Value::Integer(i) => (i.to_string(), true),
            toml::Value::Float(f) if f.fract() == 0.0 && f.is_finite() => (format!("{f:.0}"), true),
            toml::Value::Float(f) => (f.to_string(), true),
            toml::Value::Boolean(_) => return,
            toml::Value::Datetime(dt) => match dt.date.and_then(|d| {
                chrono::NaiveDate::from_ymd_opt(
                    i32::from(d.year),
                    u32::from(d.month),
                    u32::from(d.day),
                )
            }) {
                Some(d) => (chinese_date(d), false),
                None => (dt.to_string(), false),
            },
            toml::Value::Array(_) | toml::Value::Table(_) => return,
        };
        if text.trim_start().starts_with(UNFILLED) {
            out.push(Unproven {
                key: key.to_string(),
                value: text,
                unfilled: true,
            });
            return;
        }
        let found = if number {
            contains_number(&source, &normalize(&text))
        } else {
            source.contains(&normalize(&text))
        };
        if !found {
            out.push(Unproven {
                key: key.to_string(),
                value: text,
                unfilled: false,
            });
        }
    });
    out
}

fn walk(prefix: &str, v: &toml::Value, f: &mut impl FnMut(&str, &toml::Value)) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                walk(&join(k), v, f);
            }
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(&join(&i.to_string()), v, f);
            }
        }
        leaf => f(prefix, leaf),
    }
}

/// A number as a number of its own: 90 is in "不少于90学时", not in "1990".
fn contains_number(source: &str, n: &str) -> bool {
    source.match_indices(n).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + n.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(s: &str) -> toml::Table {
        toml::from_str(s).expect("toml")
    }

    #[test]
    fn values_found_after_spaces_and_widths_are_folded() {
        let source =
            "每年累计应不少于 90 学时。应在 2024 年 12 月 31 日前完成。咨询电话：０７９１-12333";
        let f = facts(
            "[hours]\ntotal = 90\n[deadline]\ndate = 2024-12-31\n[hotline]\nnumber = \"0791-12333\"\n",
        );
        assert!(verify(&f, source).is_empty(), "{:?}", verify(&f, source));
    }

    #[test]
    fn values_the_source_lacks_are_named() {
        let source = "每年累计应不少于 90 学时。1990年";
        let f = facts("[hours]\ntotal = 99\npublic = 199\n[a]\nb = [\"90\", \"x\"]\n");
        let keys: Vec<String> = verify(&f, source).into_iter().map(|u| u.key).collect();
        assert_eq!(keys, vec!["a.b.1", "hours.public", "hours.total"]);
        // 90 inside 1990 is no 90, but the 90 of 学时 is.
        assert!(contains_number("不少于90学时", "90"));
        assert!(!contains_number("1990年", "90"));
    }

    #[test]
    fn unfilled_values_are_marked() {
        let f = facts("[deadline]\nmakeup = \"TODO: 2024: 及时补学\"\n");
        let u = verify(&f, "及时补学");
        assert_eq!(u.len(), 1);
        assert!(u[0].unfilled);
    }
}
