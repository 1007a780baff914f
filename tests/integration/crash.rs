//! kill -9 in the middle of sending reminders to 10,000 subscribers: after a
//! restart everyone has the reminder, and duplicates are at most the batch
//! that was in flight.

use crate::fake_api::FakeApi;
use jxjy_bot::store::{ChatKind, Store, Subscription};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SUBSCRIBERS: i64 = 10_000;
const BATCH: usize = 50;

fn sender(api: &FakeApi, dir: &std::path::Path) -> std::process::Command {
    let batch = BATCH.to_string();
    let mut c = api.command(
        &[
            "remind",
            "send",
            "--at",
            "2024-12-24T09:00+08:00",
            "--batch",
            &batch,
            "--no-throttle",
        ],
        dir,
    );
    c.stderr(std::process::Stdio::piped());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_send_loses_nothing_and_repeats_at_most_the_in_flight_batch() {
    let api = FakeApi::start().await;
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

    let mut child = sender(&api, dir.path()).spawn().unwrap();
    let started = Instant::now();
    loop {
        let n = api.counters().sends;
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
    let before_restart = api.counters().sends;
    assert!(
        before_restart < SUBSCRIBERS as usize,
        "killed too late to test anything"
    );

    let out = sender(&api, dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ids: Vec<i64> = api
        .calls("sendmessage")
        .await
        .iter()
        .filter_map(|b| b["chat_id"].as_i64())
        .collect();
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
    let before = api.counters().sends;
    let out = sender(&api, dir.path()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(api.counters().sends, before);
}
