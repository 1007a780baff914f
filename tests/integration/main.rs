//! One integration-test binary (as ripgrep does): shared helpers here, one
//! module per area.

mod admin;
mod cli;
mod conversation;
mod crash;
mod delivery;
mod dingtalk;
mod eval;
mod fake_api;
mod feishu;
mod kb_check;
mod newyear;
mod reminders;
mod robustness;
mod store;
mod teach;
mod telegram;
mod understanding;
mod webhooks;
mod wecom;
mod wecom_callback;

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

/// Open a data directory this process just closed: sled's I/O threads
/// may hold its lock a moment after the last handle is dropped.
pub fn reopen(path: &Path) -> jxjy_bot::store::Store {
    open_when_free(path).expect("the data directory opens")
}

/// As [`reopen`], with the outcome of opening (a refusal to check).
pub fn open_when_free(path: &Path) -> Result<jxjy_bot::store::Store, jxjy_bot::error::StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match jxjy_bot::store::Store::open(path) {
            Err(jxjy_bot::error::StoreError::Locked { .. })
                if std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// A moment, RFC 3339.
pub fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("an RFC 3339 moment")
        .with_timezone(&chrono::Utc)
}

/// The conversation core on a knowledge directory, a store and a manual
/// clock at `now` (admins: tg:7).
pub fn core_on(
    kb: &Path,
    store: Option<jxjy_bot::store::Store>,
    now: chrono::DateTime<chrono::Utc>,
) -> jxjy_bot::conversation::Conversation {
    core_with_clock(kb, store, Arc::new(jxjy_bot::clock::ManualClock::new(now)))
}

pub fn core_with_clock(
    kb: &Path,
    store: Option<jxjy_bot::store::Store>,
    clock: Arc<jxjy_bot::clock::ManualClock>,
) -> jxjy_bot::conversation::Conversation {
    let live = jxjy_bot::live::LiveKb::load(kb, Default::default(), clock.clone())
        .expect("knowledge loads");
    jxjy_bot::conversation::Conversation::new(
        Arc::new(live),
        store,
        jxjy_bot::reminders::Schedule::default(),
        clock,
        vec![jxjy_bot::identity::Identity::telegram(7)],
    )
}

/// Talking to the core as a test does: one message, its replies' text.
pub trait Said {
    fn handle_now(&self, msg: &jxjy_bot::conversation::Incoming) -> jxjy_bot::conversation::Output;
    /// In a private chat.
    fn say(&self, user: &jxjy_bot::identity::Identity, text: &str) -> String {
        use jxjy_bot::conversation::{Incoming, Input};
        text_of(&self.handle_now(&Incoming::private(user.clone(), Input::Text(text.into()))))
    }
    /// In a private chat, as an operation (an update id).
    fn say_op(&self, user: &jxjy_bot::identity::Identity, text: &str, op: &str) -> String {
        use jxjy_bot::conversation::{Incoming, Input};
        let mut msg = Incoming::private(user.clone(), Input::Text(text.into()));
        msg.op = Some(op.to_string());
        text_of(&self.handle_now(&msg))
    }
    /// In a group, by `user`.
    fn say_in_group(
        &self,
        group: &jxjy_bot::identity::Identity,
        user: &jxjy_bot::identity::Identity,
        text: &str,
    ) -> String {
        use jxjy_bot::conversation::{Incoming, Input};
        let msg = Incoming {
            chat: group.clone(),
            kind: jxjy_bot::store::ChatKind::Group,
            user: Some(user.clone()),
            input: Input::Text(text.into()),
            op: None,
            me: None,
            private_link: None,
        };
        text_of(&self.handle_now(&msg))
    }
}

impl Said for jxjy_bot::conversation::Conversation {
    fn handle_now(&self, msg: &jxjy_bot::conversation::Incoming) -> jxjy_bot::conversation::Output {
        futures::executor::block_on(self.handle(msg, &jxjy_bot::conversation::NoAdminInfo))
            .expect("the core answers")
    }
}

/// The note and the messages of an output, as the terminal prints them.
pub fn text_of(out: &jxjy_bot::conversation::Output) -> String {
    jxjy_bot::render::plain_output(out)
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

    /// The address `serve`'s HTTP listener logs once it is bound (port 0
    /// in the config: the system picks one).
    pub async fn listener_addr(&self) -> String {
        for _ in 0..1500 {
            let addr = self
                .log()
                .lines()
                .find_map(|l| l.split("HTTP listener ready addr=").nth(1))
                .map(|a| a.split_whitespace().next().unwrap_or("").to_string());
            if let Some(addr) = addr {
                return addr;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no listener:\n{}", self.log())
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
