//! `[admin]` of jxjy.toml: who may sign in to the page (argon2 hashes) and
//! whether the cookie is Secure; `admin passwd` writes a hash into it with
//! toml_edit, keeping the file's comments and layout.
//!
//! ```toml
//! [admin]
//! secure_cookie = true   # the page is only reached over HTTPS
//!
//! [admin.users]
//! renshichu = "$argon2id$v=19$m=19456,t=2,p=1$..."
//! ```

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The shortest password `admin passwd` takes.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// `[admin]`, resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// The file it was read from (sign-in reads the hashes again, so a
    /// new `admin passwd` holds without a restart).
    pub file: PathBuf,
    /// Always mark the session cookie Secure (otherwise only when the
    /// proxy says the request came over HTTPS).
    pub secure_cookie: bool,
    /// Name → argon2 PHC string.
    pub users: BTreeMap<String, String>,
}

// The hashes are not secrets in the strict sense, but nothing prints them.
impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("file", &self.file)
            .field("secure_cookie", &self.secure_cookie)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    secure_cookie: bool,
    #[serde(default)]
    users: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] crate::config::FileError),
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}: [admin]: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: cannot write: {message}")]
    Write { file: String, message: String },
    #[error("admin name '{0}' must be 1 to 32 letters, digits, '_', '-' or '.' (no spaces)")]
    Name(String),
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// `[admin]` of the config file; None when the table is absent (the page
/// is off). Sign-in reads it again through this.
pub fn load_config(file: &Path) -> Result<Option<AdminConfig>, ConfigError> {
    from_table(crate::config::table(file, "admin")?, file)
}

/// The `[admin]` table read from the file `file`.
pub fn from_table(
    table: Option<toml::Value>,
    file: &Path,
) -> Result<Option<AdminConfig>, ConfigError> {
    let parse = |message: String| ConfigError::Parse {
        file: file.display().to_string(),
        message,
    };
    let Some(v) = table else {
        return Ok(None);
    };
    let raw = Raw::deserialize(v).map_err(|e| parse(e.message().to_string()))?;
    for (name, hash) in &raw.users {
        if !valid_name(name) {
            return Err(parse(format!("users: '{name}' is not a valid admin name")));
        }
        // Name the user, never the value.
        if PasswordHash::new(hash).is_err() {
            return Err(parse(format!(
                "users.{name} is not an argon2 hash; set it with `jxjy-bot admin passwd {name}`"
            )));
        }
    }
    Ok(Some(AdminConfig {
        file: file.to_owned(),
        secure_cookie: raw.secure_cookie,
        users: raw.users,
    }))
}

/// Letters, digits, '_', '-', '.'; 1 to 32 of them.
pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An argon2id hash of `password` (PHC string) with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, ConfigError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| ConfigError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ConfigError::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ConfigError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash` (false for a hash that
/// does not parse). Slow by design: call it off the async workers.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// Set `name`'s password in the config file `path` (created when
/// missing): `[admin.users] name = "<hash>"`, every other line kept. The
/// file is replaced whole (written beside it, then renamed).
pub fn set_password(path: &Path, name: &str, password: &str) -> Result<(), ConfigError> {
    if !valid_name(name) {
        return Err(ConfigError::Name(name.to_string()));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ConfigError::ShortPassword);
    }
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(ConfigError::Io {
                file,
                message: e.to_string(),
            });
        }
    };
    let parse = |message: String| ConfigError::Parse {
        file: file.clone(),
        message,
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| parse(format!("{e}")))?;
    let admin = doc
        .entry("admin")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .ok_or_else(|| parse("admin is not a table".into()))?;
    // `[admin]` itself is printed: its presence turns the page on.
    admin.set_implicit(false);
    let users = admin
        .entry("users")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .ok_or_else(|| parse("admin.users is not a table".into()))?;
    users.insert(name, toml_edit::value(hash_password(password)?));
    let out = doc.to_string();
    // Check what is written reads back as a valid [admin].
    let mut written: toml::Table =
        toml::from_str(&out).map_err(|e| parse(e.message().to_string()))?;
    from_table(written.remove("admin"), path)?;
    write_replacing(path, &out).map_err(|e| ConfigError::Write {
        file,
        message: e.to_string(),
    })
}

/// Write beside `path` and rename over it, keeping its permissions (the
/// file may be readable by its owner only).
fn write_replacing(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "jxjy.toml".into());
    let tmp = dir.join(format!(".{name}.new"));
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsf", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    fn from_toml(text: &str, file: &Path) -> Result<Option<AdminConfig>, ConfigError> {
        let mut t: toml::Table = toml::from_str(text).unwrap();
        from_table(t.remove("admin"), file)
    }

    #[test]
    fn the_table_is_read_and_checked() {
        let p = Path::new("j.toml");
        assert_eq!(from_toml("", p).unwrap(), None);
        let c = from_toml("[admin]\n", p).unwrap().unwrap();
        assert!(c.users.is_empty() && !c.secure_cookie);
        let e = from_toml("[admin.users]\nwang = \"secret\"\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("users.wang") && !e.contains("secret"), "{e}");
        assert!(from_toml("[admin]\nport = 1\n", p).is_err());
        assert!(valid_name("wang.li-2") && valid_name("王老师"));
        assert!(!valid_name("") && !valid_name("a b") && !valid_name("a\"b"));
    }
}
