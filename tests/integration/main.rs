//! One integration-test binary (as ripgrep does): shared helpers here, one
//! module per area.

mod cli;
mod crash;
mod delivery;
mod eval;
mod fake_api;
mod kb_check;
mod newyear;
mod reminders;
mod robustness;
mod store;
mod teach;
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

/// A child process whose stderr is read as it comes (a full pipe would
/// block it), kept for assertions.
pub struct Logged {
    pub child: std::process::Child,
    log: Arc<std::sync::Mutex<String>>,
}

impl Logged {
    pub fn spawn(mut cmd: std::process::Command) -> Logged {
        let mut child = cmd
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn jxjy-bot");
        let log = Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Logged { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Wait (up to `secs`) for the process to exit.
    pub async fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                // Let the reader take the last lines.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running after {secs}s:\n{}",
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
