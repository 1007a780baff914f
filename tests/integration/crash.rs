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
                chat: jxjy_bot::identity::Identity::telegram(chat_id),
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

fn serve(api: &FakeApi, dir: &std::path::Path, throttle: bool) -> crate::Logged {
    let mut args = vec!["serve"];
    if !throttle {
        args.push("--no-throttle");
    }
    let mut c = api.command(&args, dir);
    c.env("RUST_LOG", "info");
    crate::Logged::spawn(c)
}

/// A teacher's logged entries, all seasons (the binary runs on the
/// system clock).
fn logged(s: &Store, teacher: i64) -> usize {
    s.hour_years(&jxjy_bot::identity::Identity::telegram(teacher))
        .unwrap()
        .values()
        .map(Vec::len)
        .sum()
}

/// The texts sent to each chat, in order.
async fn texts(api: &FakeApi) -> HashMap<i64, Vec<String>> {
    let mut m: HashMap<i64, Vec<String>> = HashMap::new();
    for b in api.calls("sendmessage").await {
        m.entry(b["chat_id"].as_i64().unwrap_or(0))
            .or_default()
            .push(b["text"].as_str().unwrap_or("").to_string());
    }
    m
}

fn has(texts: &HashMap<i64, Vec<String>>, chat: i64, needle: &str) -> bool {
    texts
        .get(&chat)
        .is_some_and(|v| v.iter().any(|t| t.contains(needle)))
}

/// Wait (up to `secs`) for `done`, polling the fake.
async fn wait_for<F, Fut>(secs: u64, child: &crate::Logged, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "not done after {secs}s:\n{}",
            child.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// kill -9 in the middle of 1,000 /log from 100 teachers: after the
/// restart every /log is applied exactly once (updates stored before they
/// were confirmed, changes keyed by update id), and every answer arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_burst_of_log_applies_each_exactly_once() {
    const TEACHERS: i64 = 100;
    const EACH: usize = 10;
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..EACH {
        for t in 1..=TEACHERS {
            api.text(t, t, "/log 公需 1");
        }
    }
    let mut child = serve(&api, dir.path(), false);
    let n = TEACHERS as usize * EACH;
    wait_for(120, &child, || async { api.counters().sends >= 300 }).await;
    child.child.kill().unwrap(); // SIGKILL: no clean-up runs
    child.child.wait().unwrap();
    let before = api.counters().sends;
    assert!(before < n, "killed too late to test anything");

    let mut child = serve(&api, dir.path(), false);
    let last = format!("合计{EACH}学时");
    wait_for(180, &child, || async {
        let texts = texts(&api).await;
        (1..=TEACHERS).all(|t| has(&texts, t, &last))
    })
    .await;
    child.signal("-TERM");
    assert!(child.wait_exit(60).await.success(), "{}", child.log());
    let s = Store::open(dir.path()).unwrap();
    let texts = texts(&api).await;
    for t in 1..=TEACHERS {
        assert_eq!(logged(&s, t), EACH, "teacher {t}: each /log once");
        for total in 1..=EACH {
            assert!(
                has(&texts, t, &format!("合计{total}学时")),
                "teacher {t}: the answer with {total} hours was lost"
            );
        }
    }
    // Only what was handled before the kill can be answered again.
    let duplicates = api.counters().sends - n;
    assert!(duplicates <= before, "{duplicates} answers repeated");
}

/// 3,000 updates queued (10 /log from each of 300 teachers), answered at
/// Telegram's rate: the bot stores at most 1,000 ahead of what it answered
/// (the rest wait at Telegram), SIGTERM ends it at once leaving the stored
/// ones pending, and the next start handles every one exactly once, each
/// teacher's in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_waits_at_telegram_and_sigterm_leaves_the_rest_in_the_inbox() {
    const TEACHERS: i64 = 300;
    const EACH: usize = 10;
    const N: usize = TEACHERS as usize * EACH;
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..EACH {
        for t in 1..=TEACHERS {
            api.text(t, t, "/log 公需 1");
        }
    }
    let mut child = serve(&api, dir.path(), true);
    // Full: the next getUpdates only once an answer made room.
    wait_for(60, &child, || async { api.counters().max_offset > 1000 }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stored = api.counters().max_offset - 1;
    let answers = api.counters().sends as i64;
    assert!(
        stored <= answers + 1000 + 1,
        "{stored} stored for {answers} answered"
    );
    child.signal("-TERM");
    assert!(child.wait_exit(30).await.success(), "{}", child.log());
    let answered_before = api.counters().sends;
    assert!(answered_before < N, "stopped too late to test anything");
    {
        let s = Store::open(dir.path()).unwrap();
        let inbox = jxjy_bot::inbox::Inbox::open(&s, "telegram").unwrap();
        assert!(inbox.pending_count() > 500, "{}", inbox.pending_count());
        // Each answered /log applied once; at most one more per teacher
        // was applied whose answer still waited for the rate limit when the
        // stop came (handled again after the restart, not applied again).
        let applied: usize = (1..=TEACHERS).map(|t| logged(&s, t)).sum();
        assert!(
            (answered_before..=answered_before + TEACHERS as usize).contains(&applied),
            "{applied} applied, {answered_before} answered"
        );
    }

    let mut child = serve(&api, dir.path(), false);
    wait_for(240, &child, || async { api.counters().sends >= N }).await;
    child.signal("-TERM");
    assert!(child.wait_exit(30).await.success(), "{}", child.log());
    let s = Store::open(dir.path()).unwrap();
    let texts = texts(&api).await;
    assert_eq!(api.counters().sends, N, "each answered once");
    for t in 1..=TEACHERS {
        assert_eq!(logged(&s, t), EACH);
        let got = &texts[&t];
        for (i, text) in got.iter().enumerate() {
            assert!(
                text.contains(&format!("合计{}学时", i + 1)),
                "{t} #{i}: {text}"
            );
        }
    }
}
