//! `kb check`: every problem of a knowledge directory, with file, entry and
//! reason. Structural problems come from the loader; this adds the ones only
//! the matcher can see.

use crate::error::{KbError, Problem};
use crate::knowledge::Kb;
use crate::matcher::{Decision, Matcher};
use std::collections::HashMap;
use std::path::Path;

/// Problems found; Err only when a file cannot be read or parsed.
pub fn check_dir(dir: &Path) -> Result<Vec<Problem>, KbError> {
    let (kb, mut problems) = Kb::load_lenient(dir)?;
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
