//! The school's own settings in `jxjy.toml` (the group robots there are
//! read by [`crate::webhook`]).
//!
//! ```toml
//! [school]
//! hr_contact = "人事处师资科，电话 0791-8xxxxxxx（工作日 8:00-17:30）"
//! ```

use crate::dialogue::Contacts;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}: [school]: {message}")]
    Parse { file: String, message: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct School {
    /// Who teachers ask about school matters the guide does not cover.
    hr_contact: Option<String>,
}

/// The contacts of `[school]` in the config file (none set: the bot names
/// the school's 人事处 in general).
pub fn contacts(path: &Path) -> Result<Contacts, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
        file: file.clone(),
        message: e.to_string(),
    })?;
    // Only [school] is read here; the rest of the file is the robots'.
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        file: file.clone(),
        message: e.message().to_string(),
    })?;
    let school = match table.get("school") {
        Some(v) => School::deserialize(v.clone()).map_err(|e| ConfigError::Parse {
            file,
            message: e.message().to_string(),
        })?,
        None => School::default(),
    };
    let hr = school
        .hr_contact
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    Ok(Contacts { hr })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("tempfile");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn reads_the_school_contact_and_ignores_the_robots() {
        let f = write(
            "[school]\nhr_contact = \"人事处 0791-1\"\n[[webhook]]\nname = \"a\"\nkind = \"wecom\"\nkey = \"k\"\n",
        );
        assert_eq!(
            contacts(f.path()).unwrap().hr.as_deref(),
            Some("人事处 0791-1")
        );
        let none = write("[[webhook]]\nname = \"a\"\nkind = \"wecom\"\nkey = \"k\"\n");
        assert_eq!(contacts(none.path()).unwrap().hr, None);
    }

    #[test]
    fn a_misspelt_key_is_an_error_naming_the_file() {
        let f = write("[school]\nhr_contcat = \"x\"\n");
        let e = contacts(f.path()).unwrap_err().to_string();
        assert!(e.contains("[school]") && e.contains("hr_contcat"), "{e}");
    }
}
