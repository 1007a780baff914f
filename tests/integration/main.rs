//! One integration-test binary (as ripgrep does): shared helpers here, one
//! module per area.

mod cli;
mod crash;
mod eval;
mod fake_api;
mod kb_check;
mod reminders;
mod robustness;
mod telegram;
mod understanding;
mod webhooks;

use jxjy_bot::dialogue::Responder;
use jxjy_bot::knowledge::Kb;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn shipped_kb_dir() -> PathBuf {
    manifest_dir().join("knowledge")
}

/// One responder for the whole binary: building it loads jieba's dictionary.
pub fn responder() -> &'static Responder {
    static R: OnceLock<Responder> = OnceLock::new();
    R.get_or_init(|| {
        let kb = Kb::load(&shipped_kb_dir()).expect("shipped knowledge base loads");
        Responder::new(Arc::new(kb))
    })
}

pub fn fixture(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures").join(name)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_jxjy-bot")
}
