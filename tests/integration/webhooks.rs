//! Group robots against a loopback mock: exact requests, signatures for a
//! fixed time and secret, error codes, our own rate limits on a manual
//! clock, and delivery through the shared sent-record.

use crate::responder;
use jxjy_bot::clock::{Clock, ManualClock};
use jxjy_bot::delivery::{Options, Report};
use jxjy_bot::reminders::Schedule;
use jxjy_bot::store::{Delivery, Store};
use jxjy_bot::webhook::{
    Kind, Robots, Target, WebhookClient, WebhookError, dingtalk_sign, feishu_sign, load_config,
    sent_key,
};
use serde_json::{Value, json};
use std::sync::Arc;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// 2023-11-14T22:13:20Z: timestamps 1700000000 (s) and 1700000000000 (ms).
fn fixed_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2023-11-14T22:13:20Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    ))
}

fn client(clock: &Arc<ManualClock>) -> WebhookClient {
    WebhookClient::new(clock.clone(), Arc::new(clock.clone())).unwrap()
}

/// The one delivery path, to these robots only.
pub async fn deliver_due(
    store: &Store,
    facts: &jxjy_bot::knowledge::Facts,
    schedule: &Schedule,
    now: chrono::DateTime<chrono::Utc>,
    targets: &[Target],
    client: Arc<WebhookClient>,
) -> Report {
    let robots = Robots {
        client,
        targets: targets.to_vec(),
    };
    jxjy_bot::delivery::deliver_due(store, facts, schedule, now, &robots, &Options::batch(64))
        .await
        .unwrap()
}

fn target(kind: Kind, url: String, secret: Option<&str>) -> Target {
    Target {
        name: format!("{kind:?}"),
        kind,
        url,
        secret: secret.map(str::to_string),
        mention_all: false,
        mention_mobiles: vec![],
        mention_users: vec![],
    }
}

fn ok_body(kind: Kind) -> Value {
    match kind {
        Kind::Feishu => json!({"code": 0, "msg": "success", "data": {}}),
        _ => json!({"errcode": 0, "errmsg": "ok"}),
    }
}

// Computed with Python's hmac from the platforms' published sample code.
const DING_SECRET: &str = "SEC0123456789abcdef";
const DING_SIGN: &str = "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk=";
const DING_SIGN_URLENCODED: &str = "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D";
const FEISHU_SECRET: &str = "feishu-secret-xyz";
const FEISHU_SIGN: &str = "RpXbw7bncheMXKEHLeETmnhcqsBrZOUBOwyPTuLV4ic=";

#[test]
fn signatures_match_the_published_algorithms() {
    assert_eq!(dingtalk_sign(1_700_000_000_000, DING_SECRET), DING_SIGN);
    assert_eq!(feishu_sign(1_700_000_000, FEISHU_SECRET), FEISHU_SIGN);
}

#[tokio::test]
async fn wecom_request_is_exact() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/webhook/send"))
        .and(query_param("key", "KEY-1"))
        .and(body_json(json!({"msgtype": "text", "text": {
            "content": "提醒", "mentioned_list": ["wangwei", "@all"], "mentioned_mobile_list": ["13800001111"]}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(Kind::Wecom)))
        .expect(1)
        .mount(&server)
        .await;
    let mut t = target(
        Kind::Wecom,
        format!("{}/cgi-bin/webhook/send?key=KEY-1", server.uri()),
        None,
    );
    t.mention_all = true;
    t.mention_users = vec!["wangwei".into()];
    t.mention_mobiles = vec!["13800001111".into()];
    client(&fixed_clock()).send(&t, "提醒").await.unwrap();
}

#[tokio::test]
async fn dingtalk_request_is_signed_and_mobiles_are_in_the_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/robot/send"))
        .and(query_param("access_token", "TOKEN-2"))
        .and(query_param("timestamp", "1700000000000"))
        .and(query_param("sign", DING_SIGN))
        .and(body_json(
            json!({"msgtype": "text", "text": {"content": "提醒 @13800001111"},
            "at": {"atMobiles": ["13800001111"], "atUserIds": [], "isAtAll": false}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(Kind::Dingtalk)))
        .expect(1)
        .mount(&server)
        .await;
    let mut t = target(
        Kind::Dingtalk,
        format!("{}/robot/send?access_token=TOKEN-2", server.uri()),
        Some(DING_SECRET),
    );
    t.mention_mobiles = vec!["13800001111".into()];
    client(&fixed_clock()).send(&t, "提醒").await.unwrap();
    // URL-encoded exactly once in the raw query string.
    let req = &server.received_requests().await.unwrap()[0];
    assert!(
        req.url
            .query()
            .unwrap()
            .contains(&format!("sign={DING_SIGN_URLENCODED}")),
        "{}",
        req.url
    );
}

#[tokio::test]
async fn feishu_request_is_signed_in_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/bot/v2/hook/HOOK-3"))
        .and(body_json(
            json!({"timestamp": "1700000000", "sign": FEISHU_SIGN,
            "msg_type": "text", "content": {"text": "提醒 <at user_id=\"all\">所有人</at>"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(Kind::Feishu)))
        .expect(1)
        .mount(&server)
        .await;
    let mut t = target(
        Kind::Feishu,
        format!("{}/open-apis/bot/v2/hook/HOOK-3", server.uri()),
        Some(FEISHU_SECRET),
    );
    t.mention_all = true;
    client(&fixed_clock()).send(&t, "提醒").await.unwrap();
}

#[tokio::test]
async fn long_wecom_text_is_split_under_2048_bytes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(Kind::Wecom)))
        .mount(&server)
        .await;
    let t = target(
        Kind::Wecom,
        format!("{}/cgi-bin/webhook/send?key=K", server.uri()),
        None,
    );
    let text = "继续教育学时提醒。\n".repeat(300); // about 8 KB
    client(&fixed_clock()).send(&t, &text).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs.len() >= 4);
    let mut joined = String::new();
    for r in &reqs {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let c = v["text"]["content"].as_str().unwrap();
        assert!(c.len() <= 2048, "{} bytes", c.len());
        joined.push_str(c);
    }
    assert_eq!(joined, text);
}

async fn first_then_ok(server: &MockServer, first: Value, kind: Kind) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(kind)))
        .with_priority(5)
        .mount(server)
        .await;
}

#[tokio::test]
async fn rate_limit_answers_back_off_and_retry() {
    for (kind, answer) in [
        (
            Kind::Wecom,
            json!({"errcode": 45009, "errmsg": "api freq out of limit"}),
        ),
        (
            Kind::Dingtalk,
            json!({"errcode": 130101, "errmsg": "send too fast"}),
        ),
        (
            Kind::Dingtalk,
            json!({"errcode": 410100, "errmsg": "send too fast"}),
        ),
        (
            Kind::Feishu,
            json!({"code": 11232, "msg": "frequency limited"}),
        ),
    ] {
        let server = MockServer::start().await;
        first_then_ok(&server, answer.clone(), kind).await;
        let clock = fixed_clock();
        let before = clock.now();
        let t = target(kind, format!("{}/x", server.uri()), None);
        client(&clock)
            .send(&t, "提醒")
            .await
            .unwrap_or_else(|e| panic!("{answer}: {e}"));
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            2,
            "{answer}"
        );
        assert!(
            clock.now() - before >= chrono::Duration::seconds(60),
            "{answer}: backed off"
        );
    }
}

#[tokio::test]
async fn bad_key_or_signature_stops_the_target() {
    for (kind, answer) in [
        (
            Kind::Wecom,
            json!({"errcode": 93000, "errmsg": "invalid webhook url"}),
        ),
        (
            Kind::Dingtalk,
            json!({"errcode": 310000, "errmsg": "sign not match"}),
        ),
        (
            Kind::Dingtalk,
            json!({"errcode": 400101, "errmsg": "access_token not exist"}),
        ),
        (
            Kind::Feishu,
            json!({"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}),
        ),
        (
            Kind::Feishu,
            json!({"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}),
        ),
    ] {
        let server = MockServer::start().await;
        first_then_ok(&server, answer.clone(), kind).await;
        let t = target(kind, format!("{}/x", server.uri()), None);
        let err = client(&fixed_clock()).send(&t, "提醒").await.unwrap_err();
        assert!(
            matches!(err, WebhookError::Auth { .. }),
            "{answer}: {err:?}"
        );
        assert!(err.to_string().contains("rejected"), "{err}");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "no retry on a bad key"
        );
    }
}

#[tokio::test]
async fn network_errors_retry_with_backoff_then_give_up() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clock = fixed_clock();
    let before = clock.now();
    let t = target(
        Kind::Wecom,
        format!("http://127.0.0.1:{port}/cgi-bin/webhook/send?key=K"),
        None,
    );
    let err = client(&clock).send(&t, "提醒").await.unwrap_err();
    assert!(matches!(err, WebhookError::Network { .. }), "{err:?}");
    // Two waits: 2 s then 4 s.
    assert_eq!(clock.now() - before, chrono::Duration::seconds(6));
}

/// 50 reminders due at once to one robot: the request times (the signed
/// timestamps, taken from the manual clock) never exceed 20 a minute.
#[tokio::test]
async fn fifty_messages_respect_the_robot_rate_limit() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(Kind::Dingtalk)))
        .mount(&server)
        .await;
    let clock = fixed_clock();
    let c = client(&clock);
    let t = target(
        Kind::Dingtalk,
        format!("{}/robot/send?access_token=T", server.uri()),
        Some(DING_SECRET),
    );
    for i in 0..50 {
        c.send(&t, &format!("提醒 {i}")).await.unwrap();
    }
    let times: Vec<i64> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "timestamp")
                .unwrap()
                .1
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(times.len(), 50);
    for (i, &t0) in times.iter().enumerate() {
        let in_minute = times[i..].iter().filter(|&&t| t < t0 + 60_000).count();
        assert!(
            in_minute <= 20,
            "{in_minute} requests within a minute from #{i}"
        );
    }
    let span = times[49] - times[0];
    assert!(
        (120_000..125_000).contains(&span),
        "50 at 20/min take just over two minutes, not {span} ms"
    );

    // Feishu: at most 5 a second and 100 a minute.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(Kind::Feishu)))
        .mount(&server)
        .await;
    let t = target(
        Kind::Feishu,
        format!("{}/open-apis/bot/v2/hook/H", server.uri()),
        Some(FEISHU_SECRET),
    );
    for i in 0..50 {
        c.send(&t, &format!("提醒 {i}")).await.unwrap();
    }
    let secs: Vec<i64> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["timestamp"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    for s in &secs {
        assert!(secs.iter().filter(|x| *x == s).count() <= 5);
    }
}

#[tokio::test]
async fn reminders_reach_robots_once_across_restarts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(Kind::Wecom)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let facts = &responder().kb().facts;
    let schedule = Schedule::default();
    let now = chrono::DateTime::parse_from_rfc3339("2024-12-24T09:30:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(ManualClock::new(now));
    let targets = vec![
        Target {
            name: "a".into(),
            ..target(
                Kind::Wecom,
                format!("{}/cgi-bin/webhook/send?key=A", server.uri()),
                None,
            )
        },
        Target {
            name: "b".into(),
            ..target(
                Kind::Wecom,
                format!("{}/cgi-bin/webhook/send?key=B", server.uri()),
                None,
            )
        },
    ];
    {
        let store = Store::open(dir.path()).unwrap();
        // b was in flight when the last run crashed.
        store
            .mark(&[sent_key("b", facts.deadline, 7)], Delivery::InFlight)
            .unwrap();
        let r = deliver_due(
            &store,
            facts,
            &schedule,
            now,
            &targets,
            Arc::new(client(&clock)),
        )
        .await;
        assert_eq!(r.sent, 2);
        store.flush().unwrap();
    }
    // sled's threads may hold the lock a moment after the handle is gone.
    let store = crate::reopen(dir.path());
    let r = deliver_due(
        &store,
        facts,
        &schedule,
        now,
        &targets,
        Arc::new(client(&clock)),
    )
    .await;
    assert_eq!(r.sent, 0, "nothing doubled after a restart");
    let bodies: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert!(
        bodies[0]["text"]["content"]
            .as_str()
            .unwrap()
            .contains("还剩7天")
    );
}

fn write_config(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("jxjy.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn config_reads_targets_and_secrets_from_env() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread of this test reads the environment;
    // the variable name is unique to this test.
    unsafe { std::env::set_var("JXJY_TEST_DING_SECRET_1", "s3cret") };
    let p = write_config(
        dir.path(),
        r#"
[[webhook]]
name = "教研室"
kind = "wecom"
key = "abc"
mention_all = true

[[webhook]]
name = "钉钉群"
kind = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=t"
secret_env = "JXJY_TEST_DING_SECRET_1"
mention_mobiles = ["13800001111"]

[[webhook]]
name = "飞书群"
kind = "feishu"
key = "hook"
"#,
    );
    let t = load_config(&p).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(
        t[0].url,
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"
    );
    assert_eq!(t[1].secret.as_deref(), Some("s3cret"));
    assert_eq!(
        t[2].url,
        "https://open.feishu.cn/open-apis/bot/v2/hook/hook"
    );
}

#[test]
fn config_errors_name_file_target_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [
        (
            "[[webhook]]\nname = \"x\"\nkind = \"wecom\"\n",
            "webhook 'x': needs url, key or key_env",
        ),
        (
            "[[webhook]]\nname = \"y\"\nkind = \"slack\"\nkey = \"k\"\n",
            "unknown variant",
        ),
        (
            "[[webhook]]\nname = \"z\"\nkind = \"feishu\"\nkey_env = \"JXJY_SURELY_UNSET_VAR\"\n",
            "webhook 'z': environment variable JXJY_SURELY_UNSET_VAR is not set",
        ),
        (
            "[[webhook]]\nname = \"w\"\nkind = \"dingtalk\"\nkey = \"k\"\nmention_mobiles = [\"13x\"]\n",
            "webhook 'w': mention_mobiles",
        ),
        (
            "[[webhook]]\nname = \"v\"\nkind = \"wecom\"\nkey = \"k\"\nsecret = \"s\"\n",
            "webhook 'v': WeCom robots are not signed",
        ),
        (
            "[[webhook]]\nname = \"u\"\nkind = \"wecom\"\nkey = \"k\"\ncolour = 1\n",
            "unknown field",
        ),
        // A misspelt table is said at once, with the tables there are.
        (
            "[dingtak]\nclient_id = \"x\"\n",
            "unknown table [dingtak]; the file may hold [school], [webhook]",
        ),
    ] {
        let p = write_config(dir.path(), text);
        let e = load_config(&p).unwrap_err().to_string();
        assert!(e.contains("jxjy.toml") && e.contains(want), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_test_command_prints_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/webhook/send"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(Kind::Wecom)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(
        dir.path(),
        &format!(
            "[[webhook]]\nname = \"教研室\"\nkind = \"wecom\"\nkey = \"K\"\nbase_url = \"{}\"\n",
            server.uri()
        ),
    );
    let out = tokio::process::Command::new(crate::bin())
        .args(["webhook", "test", "教研室", "--config"])
        .arg(&p)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("教研室 answered") && stdout.contains("\"errcode\":0"),
        "{stdout}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    let out = tokio::process::Command::new(crate::bin())
        .args(["webhook", "test", "nope", "--config"])
        .arg(&p)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no webhook target named 'nope'; configured: 教研室")
    );
}

#[tokio::test]
async fn a_stopped_target_is_not_tried_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 93000, "errmsg": "invalid webhook url"})),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let facts = &responder().kb().facts;
    let now = chrono::DateTime::parse_from_rfc3339("2024-12-24T09:30:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(ManualClock::new(now));
    let c = Arc::new(client(&clock));
    let targets = vec![target(
        Kind::Wecom,
        format!("{}/cgi-bin/webhook/send?key=BAD", server.uri()),
        None,
    )];
    for _ in 0..3 {
        let r = deliver_due(
            &store,
            facts,
            &Schedule::default(),
            now,
            &targets,
            c.clone(),
        )
        .await;
        assert_eq!((r.sent, r.stopped.len()), (0, 1));
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "tried once, then stopped"
    );
    assert_ne!(
        store
            .delivery(&sent_key("Wecom", facts.deadline, 7))
            .unwrap(),
        Some(Delivery::Sent)
    );
    // The same target with a corrected key is tried again, this reminder
    // included; given up is recorded, so a restart alone does not retry.
    let good = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body(Kind::Wecom)))
        .mount(&good)
        .await;
    let r = deliver_due(
        &store,
        facts,
        &Schedule::default(),
        now,
        &targets,
        Arc::new(client(&clock)),
    )
    .await;
    assert_eq!(
        (r.sent, r.stopped.len()),
        (0, 1),
        "still given up after a restart"
    );
    let fixed = vec![target(
        Kind::Wecom,
        format!("{}/cgi-bin/webhook/send?key=GOOD", good.uri()),
        None,
    )];
    let r = deliver_due(&store, facts, &Schedule::default(), now, &fixed, c).await;
    assert_eq!((r.sent, r.stopped.len()), (1, 0), "{r:?}");
    assert_eq!(good.received_requests().await.unwrap().len(), 1);
}

#[test]
fn remind_plan_lists_robots_without_sending() {
    let dir = tempfile::tempdir().unwrap();
    // A robot on a port nothing listens on: planning must not touch it.
    let p = write_config(
        dir.path(),
        "[[webhook]]\nname = \"教研室\"\nkind = \"wecom\"\nkey = \"K\"\nbase_url = \"http://127.0.0.1:9\"\n",
    );
    let out = std::process::Command::new(crate::bin())
        .args([
            "remind",
            "plan",
            "--at",
            "2024-12-24T09:00+08:00",
            "--config",
        ])
        .arg(&p)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("webhook 教研室 (Wecom), slot 7 days before"),
        "{text}"
    );
    assert!(text.contains("还剩7天"), "{text}");
}

/// Config errors name the file, the target and the problem, but never
/// echo a key, a secret or a URL holding one.
#[test]
fn config_errors_never_echo_secrets() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        // A syntax error on the line that holds the secret.
        "[[webhook]]\nname = \"a\"\nkind = \"dingtalk\"\nurl = \"https://oapi.dingtalk.com/robot/send?access_token=TOPSECRET1\"\nsecret = \"SECTOPSECRET2\" oops\n",
        // A URL that is not one, holding a key.
        "[[webhook]]\nname = \"b\"\nkind = \"wecom\"\nurl = \"qyapi.weixin.qq.com/send?key=TOPSECRET3\"\n",
        // Both url and key.
        "[[webhook]]\nname = \"c\"\nkind = \"wecom\"\nurl = \"https://x/send?key=TOPSECRET4\"\nkey = \"TOPSECRET5\"\n",
        // A wrong type where a secret goes.
        "[[webhook]]\nname = \"d\"\nkind = \"feishu\"\nkey = \"TOPSECRET6\"\nsecret = [\"TOPSECRET7\"]\n",
    ] {
        let p = write_config(dir.path(), text);
        let e = load_config(&p).unwrap_err().to_string();
        assert!(e.contains("jxjy.toml"), "{e}");
        assert!(!e.contains("TOPSECRET"), "secret echoed: {e}");
        // The binary says the same.
        let out = std::process::Command::new(crate::bin())
            .args(["webhook", "list", "--config"])
            .arg(&p)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(!err.contains("TOPSECRET"), "secret echoed: {err}");
    }
}
