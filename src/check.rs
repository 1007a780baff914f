//! `kb check`: every problem of a knowledge directory, with file, entry and
//! reason. Structural problems come from the loader; this adds the facts
//! their guide's text does not hold (provenance), facts a new year has not
//! filled in, and what only the matcher can see. Warnings (a deadline
//! passed) do not fail the check.

use crate::error::{KbError, Problem};
use crate::knowledge::Kb;
use crate::matcher::{Decision, Matcher};
use std::collections::HashMap;
use std::path::Path;

/// Problems found; Err only when a file cannot be read or parsed.
pub fn check_dir(dir: &Path) -> Result<Vec<Problem>, KbError> {
    let (kb, mut problems) = Kb::load_lenient(dir)?;
    for (_, year_dir) in crate::knowledge::year_dirs(dir)? {
        problems.extend(provenance_problems(&year_dir)?);
    }
    let faq = crate::knowledge::newest_year_dir(dir)?
        .join("faq.toml")
        .display()
        .to_string();
    let matcher = Matcher::new(&kb);
    // Two entries with the same normalised phrasing can never both win.
    let mut owner: HashMap<String, &str> = HashMap::new();
    for e in &kb.entries {
        for q in &e.questions {
            let norm = matcher.analyzer().normalize(q);
            if let Some(other) = owner.insert(norm.clone(), &e.id)
                && other != e.id
            {
                problems.push(Problem {
                    file: faq.clone(),
                    entry: e.id.clone(),
                    reason: format!(
                        "phrasing '{q}' collides with entry '{other}' (both read as '{norm}')"
                    ),
                });
            }
        }
    }
    for (i, e) in kb.entries.iter().enumerate() {
        for q in &e.questions {
            let m = matcher.find(q);
            if m.decision != Decision::Answer(i) {
                let got = match &m.decision {
                    Decision::Answer(j) => format!("answers '{}'", kb.entries[*j].id),
                    Decision::Candidates(c) => format!(
                        "only offers candidates {:?}",
                        c.iter()
                            .map(|&j| kb.entries[j].id.as_str())
                            .collect::<Vec<_>>()
                    ),
                    Decision::Decline => "is declined".to_string(),
                };
                problems.push(Problem {
                    file: faq.clone(),
                    entry: e.id.clone(),
                    reason: format!(
                        "example phrasing '{q}' does not retrieve its own entry: it {got} (score {:.2})",
                        m.score
                    ),
                });
            }
        }
    }
    Ok(problems)
}

/// Facts of one guide year that its source.txt does not hold, and facts a
/// new year has not filled in yet.
fn provenance_problems(year_dir: &Path) -> Result<Vec<Problem>, KbError> {
    let facts_path = year_dir.join("facts.toml");
    let source_path = year_dir.join("source.txt");
    let file = facts_path.display().to_string();
    let text = std::fs::read_to_string(&facts_path).map_err(|source| KbError::Io {
        path: facts_path.clone(),
        source,
    })?;
    let facts: toml::Table = toml::from_str(&text).map_err(|e| KbError::Parse {
        path: facts_path.clone(),
        message: e.message().to_string(),
    })?;
    let mut problems = Vec::new();
    // Listed by `kb new-year`: still last year's value until filled in.
    if let Some(toml::Value::Table(unfilled)) = facts.get("unfilled") {
        for (key, old) in unfilled {
            let old = old.as_str().map_or_else(|| old.to_string(), str::to_string);
            problems.push(Problem {
                file: file.clone(),
                entry: key.clone(),
                reason: format!(
                    "not filled in for this year yet ({old}); set it from the new guide and delete its line under [unfilled]"
                ),
            });
        }
    }
    let source = match std::fs::read_to_string(&source_path) {
        Ok(s) => s,
        Err(_) => {
            problems.push(Problem {
                file: source_path.display().to_string(),
                entry: "source".into(),
                reason: "missing: put the guide's text here, every fact is checked against it"
                    .into(),
            });
            return Ok(problems);
        }
    };
    for u in crate::provenance::verify(&facts, &source) {
        if u.unfilled {
            problems.push(Problem {
                file: file.clone(),
                entry: u.key,
                reason: format!("not filled in: '{}'", u.value),
            });
        } else {
            problems.push(Problem {
                file: file.clone(),
                entry: u.key,
                reason: format!("'{}' does not occur in {}", u.value, source_path.display()),
            });
        }
    }
    Ok(problems)
}

/// What a maintainer should know but does not make the knowledge base
/// wrong: the newest guide's deadline has passed (`today` in Asia/Shanghai).
pub fn warnings(dir: &Path, today: chrono::NaiveDate) -> Result<Vec<Problem>, KbError> {
    let (kb, _) = Kb::load_lenient(dir)?;
    let mut out = Vec::new();
    if kb.facts.deadline < today {
        out.push(Problem {
            file: crate::knowledge::newest_year_dir(dir)?
                .join("facts.toml")
                .display()
                .to_string(),
            entry: "deadline.date".into(),
            reason: format!(
                "the newest guide ({}) ended on {}; add this season's guide (jxjy-bot kb new-year {} --source guide.txt)",
                kb.facts.year,
                crate::knowledge::chinese_date(kb.facts.deadline),
                {
                    use chrono::Datelike;
                    today.year()
                }
            ),
        });
    }
    Ok(out)
}
