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

/// The tables `jxjy.toml` may hold, each read by its own module: the
/// school's contacts here, the group robots ([`crate::webhook`]), the
/// channels ([`crate::dingtalk`], [`crate::wecom`], [`crate::feishu`]),
/// the HTTP listener ([`crate::http`]) and the admin page
/// ([`crate::admin`]). Another name is a mistake, said at once.
pub const TABLES: [&str; 7] = [
    "school", "webhook", "dingtalk", "wecom", "http", "feishu", "admin",
];

/// Reading the config file or one of its tables.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    /// toml's reason and position only: its own text quotes the line,
    /// which may hold a key or a secret.
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
}

/// The config file's tables, checked against [`TABLES`].
pub fn tables(path: &Path) -> Result<toml::Table, FileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| FileError::Io {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| FileError::Parse {
        file: file.clone(),
        message: match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {col}: {}", e.message().trim())
            }
            None => e.message().trim().to_string(),
        },
    })?;
    if let Some(unknown) = table.keys().find(|k| !TABLES.contains(&k.as_str())) {
        return Err(FileError::Parse {
            file,
            message: format!(
                "unknown table [{unknown}]; the file may hold {}",
                TABLES.map(|t| format!("[{t}]")).join(", ")
            ),
        });
    }
    Ok(table)
}

/// One table of the config file; None when it is absent.
pub fn table(path: &Path, name: &str) -> Result<Option<toml::Value>, FileError> {
    Ok(tables(path)?.remove(name))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] FileError),
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
    contacts_from_table(table(path, "school")?, path)
}

/// The contacts of the `[school]` table read from the file `path`.
pub fn contacts_from_table(
    school: Option<toml::Value>,
    path: &Path,
) -> Result<Contacts, ConfigError> {
    let school = match school {
        Some(v) => School::deserialize(v).map_err(|e| ConfigError::Parse {
            file: path.display().to_string(),
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
