//! Typed errors of the library; binaries wrap them with anyhow.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax or shape error; the message carries line and column.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{dir}: no guide year directory (e.g. 2024/) with facts.toml and faq.toml")]
    NoYear { dir: PathBuf },
    #[error("knowledge base is invalid:\n{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// One problem found by the knowledge-base check: file, entry, reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub entry: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: [{}] {}", self.file, self.entry, self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "data directory {path} is in use by another jxjy-bot process (or not writable): {message}"
    )]
    Locked { path: PathBuf, message: String },
    #[error("data directory {path} cannot be created or written: {message}")]
    NotWritable { path: PathBuf, message: String },
    /// The store lost data it had (or cannot be read): refuse to run on it.
    #[error(
        "data directory {} is damaged: {reason}.\nStop every jxjy-bot using it, then restore the newest backup:\n  jxjy-bot restore --data-dir {} {}\n(the damaged files are moved aside), or move the directory away to start empty.",
        path.display(),
        path.display(),
        backup.as_ref().map_or_else(|| "FILE.jsonl".to_string(), |b| b.display().to_string())
    )]
    Damaged {
        path: PathBuf,
        reason: String,
        /// The newest backup found in the directory, if any.
        backup: Option<PathBuf>,
    },
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record {key}: {message}")]
    Corrupt { key: String, message: String },
    #[error(
        "data directory {path} has schema version {found}, this build understands up to {supported}"
    )]
    Schema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
}
