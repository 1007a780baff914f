//! kill -9 in the middle of sending reminders to 10,000 subscribers: after a
//! restart everyone has the reminder, and duplicates are at most the batch
//! that was in flight.

use jxjy_bot::store::{ChatKind, Store, Subscription};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SUBSCRIBERS: i64 = 10_000;
const BATCH: usize = 50;

fn ok_message() -> serde_json::Value {
    serde_json::json!({"ok": true, "result": {
        "message_id": 1, "date": 0,
        "chat": {"id": 1, "type": "private", "first_name": "t"},
        "text": "ok"
    }})
}

fn chat_ids(reqs: &[wiremock::Request]) -> Vec<i64> {
    reqs.iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .filter_map(|v| v.get("chat_id").and_then(|c| c.as_i64()))
        .collect()
}

fn sender(dir: &std::path::Path, server: &MockServer) -> std::process::Command {
    let mut c = std::process::Command::new(crate::bin());
    c.args([
        "remind",
        "send",
        "--at",
        "2024-12-24T09:00+08:00",
        "--batch",
        &BATCH.to_string(),
        "--data-dir",
    ])
    .arg(dir)
    .env("TELOXIDE_TOKEN", "123456:TEST")
    .env("TELOXIDE_API_URL", format!("{}/", server.uri()))
    .env("NO_PROXY", "127.0.0.1,localhost")
    .env_remove("TELOXIDE_PROXY")
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_send_loses_nothing_and_repeats_at_most_the_in_flight_batch() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex("(?i)sendmessage$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_message()))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        let subs: Vec<Subscription> = (1..=SUBSCRIBERS)
            .map(|chat_id| Subscription {
                chat_id,
                kind: ChatKind::Private,
                active: true,
            })
            .collect();
        s.put_subscriptions(&subs).unwrap();
        s.flush().unwrap();
    }

    let mut child = sender(dir.path(), &server).spawn().unwrap();
    let started = Instant::now();
    loop {
        let n = server.received_requests().await.map_or(0, |r| r.len());
        if n >= 3_000 {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("sender exited before the kill ({status}) after {n} messages");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "sender too slow to test: {n} messages"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap(); // SIGKILL: no clean-up runs
    child.wait().unwrap();
    let before_restart = server.received_requests().await.unwrap().len();
    assert!(
        before_restart < SUBSCRIBERS as usize,
        "killed too late to test anything"
    );

    let out = sender(dir.path(), &server).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ids = chat_ids(&server.received_requests().await.unwrap());
    let mut per_chat: HashMap<i64, usize> = HashMap::new();
    for id in &ids {
        *per_chat.entry(*id).or_default() += 1;
    }
    assert_eq!(
        per_chat.len(),
        SUBSCRIBERS as usize,
        "every subscriber reached"
    );
    let duplicates = ids.len() - SUBSCRIBERS as usize;
    assert!(
        duplicates <= BATCH,
        "{duplicates} duplicates, more than one batch in flight"
    );
    assert!(per_chat.values().all(|&n| n <= 2));

    // A third run sends nothing: everything is recorded as sent.
    let before = ids.len();
    let out = sender(dir.path(), &server).output().unwrap();
    assert!(out.status.success());
    assert_eq!(server.received_requests().await.unwrap().len(), before);
}
