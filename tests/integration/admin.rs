//! The admin page over HTTP, on the real listener ([`jxjy_bot::http`]):
//! sign-in right and wrong, the sign-in limit, CSRF, refusals without a
//! session, teach → check → reload → the core answers, the pages' content;
//! `admin passwd`; `serve` with only `[admin]`.

use crate::{Said, bin};
use jxjy_bot::admin::{self, Admin, ChannelInfo};
use jxjy_bot::clock::{ManualClock, Stop, StopHandle};
use jxjy_bot::identity::Identity;
use jxjy_bot::service::App;
use jxjy_bot::store::{ChatKind, Store, Subscription};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PASSWORD: &str = "jiangxi-2024-pw";
const OTHER_PASSWORD: &str = "another-pw-99";
/// A question the shipped knowledge does not answer; it belongs to
/// credit_recording (as in the `kb teach` tests).
const NEW_QUESTION: &str = "学时银行怎么开户";

struct Page {
    url: String,
    http: reqwest::Client,
    app: Arc<App>,
    clock: Arc<ManualClock>,
    kb: tempfile::TempDir,
    config: PathBuf,
    _stop: StopHandle,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// What a response said.
struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Got {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The Set-Cookie header of `name`, whole.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    /// The value a Set-Cookie gives `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        let c = self.set_cookie(name)?;
        let v = c.split(';').next()?.split_once('=')?.1.to_string();
        (!v.is_empty()).then_some(v)
    }
}

/// The CSRF token in a page's first form.
fn csrf_of(body: &str) -> String {
    let re = regex::Regex::new(r#"name="csrf" value="([0-9a-f]+)""#).unwrap();
    re.captures(body).expect("a form with a CSRF token")[1].to_string()
}

impl Page {
    /// The page over a copy of the shipped knowledge, an empty store, two
    /// admins (wang, li), at 2024-11-20 10:00 in Jiangxi.
    async fn start() -> Page {
        let kb = crate::teach::kb_copy();
        let data = tempfile::tempdir().unwrap();
        let cfg_dir = tempfile::tempdir().unwrap();
        let config = cfg_dir.path().join("jxjy.toml");
        std::fs::write(&config, "# 学校的配置\n[admin]\n# 管理员\n").unwrap();
        admin::config::set_password(&config, "wang", PASSWORD).unwrap();
        admin::config::set_password(&config, "li", OTHER_PASSWORD).unwrap();
        let clock = Arc::new(ManualClock::new(crate::at("2024-11-20T10:00:00+08:00")));
        let store = Store::open(data.path()).unwrap();
        let core = crate::core_with_clock(kb.path(), Some(store.clone()), clock.clone());
        let app = Arc::new(App {
            core,
            store,
            webhooks: Vec::new(),
        });
        let a = Admin::new(
            app.clone(),
            admin::load_config(&config).unwrap().unwrap(),
            vec![ChannelInfo {
                name: "telegram".into(),
                inbox: Some("telegram".into()),
            }],
        );
        let listener = jxjy_bot::http::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let front = jxjy_bot::http::front(listener, vec![admin::router(a)]);
        let (handle, stop): (StopHandle, Stop) = Stop::new();
        tokio::spawn((front.start)(stop));
        Page {
            url,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap(),
            app,
            clock,
            kb,
            config,
            _stop: handle,
            _dirs: (data, cfg_dir),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Got {
        let r = req.send().await.expect("the page answers");
        Got {
            status: r.status(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap_or_default(),
        }
    }

    async fn get(&self, path: &str, session: Option<&str>) -> Got {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(s) = session {
            req = req.header("cookie", format!("{}={s}", admin::SESSION_COOKIE));
        }
        self.send(req).await
    }

    async fn post(&self, path: &str, session: Option<&str>, form: &[(&str, &str)]) -> Got {
        let mut req = self.http.post(format!("{}{path}", self.url)).form(form);
        if let Some(s) = session {
            req = req.header("cookie", format!("{}={s}", admin::SESSION_COOKIE));
        }
        self.send(req).await
    }

    /// Sign in as a browser does (the form's CSRF pair), with extra headers.
    async fn try_sign_in(&self, name: &str, password: &str, headers: &[(&str, &str)]) -> Got {
        let form = self.get("/admin/login", None).await;
        assert_eq!(form.status, StatusCode::OK);
        let pair = form.cookie(admin::LOGIN_COOKIE).expect("a login cookie");
        assert_eq!(csrf_of(&form.body), pair);
        let mut req = self
            .http
            .post(format!("{}/admin/login", self.url))
            .header("cookie", format!("{}={pair}", admin::LOGIN_COOKIE))
            .form(&[
                ("csrf", pair.as_str()),
                ("name", name),
                ("password", password),
            ]);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// Signed in as wang: the session token and the pages' CSRF token.
    async fn sign_in(&self) -> (String, String) {
        let got = self.try_sign_in("wang", PASSWORD, &[]).await;
        assert_eq!(got.status, StatusCode::SEE_OTHER, "{}", got.body);
        let session = got.cookie(admin::SESSION_COOKIE).expect("a session");
        let page = self.get("/admin", Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK);
        (session, csrf_of(&page.body))
    }

    fn faq(&self) -> String {
        std::fs::read_to_string(self.kb.path().join("2024/faq.toml")).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_right_and_wrong_and_sign_out() {
    let p = Page::start().await;
    for (name, pw) in [("wang", "jiangxi-2024-pW"), ("nobody", PASSWORD), ("", "")] {
        let got = p.try_sign_in(name, pw, &[]).await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(got.body.contains("用户名或密码不正确"), "{}", got.body);
        assert!(got.cookie(admin::SESSION_COOKIE).is_none());
    }
    let got = p.try_sign_in("wang", PASSWORD, &[]).await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    assert_eq!(got.location(), "/admin");
    let cookie = got.set_cookie(admin::SESSION_COOKIE).unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // Behind the HTTPS proxy the cookie is Secure.
    let tls = p
        .try_sign_in("wang", PASSWORD, &[("x-forwarded-proto", "https")])
        .await;
    assert!(
        tls.set_cookie(admin::SESSION_COOKIE)
            .unwrap()
            .contains("; Secure")
    );
    let session = got.cookie(admin::SESSION_COOKIE).unwrap();
    let page = p.get("/admin", Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("wang"), "{}", page.body);
    assert!(!page.body.contains("$argon2"), "no hash is shown");
    assert_eq!(
        page.headers.get("cache-control").unwrap(),
        "no-store",
        "pages are not cached"
    );
    // Signing out ends the session.
    let csrf = csrf_of(&page.body);
    let out = p
        .post("/admin/logout", Some(&session), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        p.get("/admin", Some(&session)).await.location(),
        "/admin/login"
    );
    // An admin added while the page runs signs in at once.
    assert_eq!(
        p.try_sign_in("zhao", "zhao-new-password", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    admin::config::set_password(&p.config, "zhao", "zhao-new-password").unwrap();
    assert_eq!(
        p.try_sign_in("zhao", "zhao-new-password", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    // A session ends after 8 hours.
    let (session, _) = p.sign_in().await;
    p.clock.advance(chrono::Duration::hours(8));
    assert_eq!(
        p.get("/admin", Some(&session)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_action_is_refused_without_a_session() {
    let p = Page::start().await;
    let faq = p.faq();
    for session in [None, Some("0123abcd"), Some("")] {
        for path in [
            "/admin",
            "/admin/",
            "/admin/questions",
            "/admin/knowledge",
            "/admin/reminders",
        ] {
            let got = p.get(path, session).await;
            assert_eq!(got.status, StatusCode::SEE_OTHER, "{path}");
            assert_eq!(got.location(), "/admin/login", "{path}");
            assert!(got.body.is_empty());
        }
        for (path, form) in [
            (
                "/admin/teach",
                vec![
                    ("csrf", "x"),
                    ("question", NEW_QUESTION),
                    ("entry", "credit_recording"),
                ],
            ),
            ("/admin/reload", vec![("csrf", "x")]),
            ("/admin/logout", vec![("csrf", "x")]),
        ] {
            let got = p.post(path, session, &form).await;
            assert_eq!(got.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    assert_eq!(p.faq(), faq, "nothing was taught");
    // The health check stays open.
    let h = p.get("/healthz", None).await;
    assert_eq!((h.status, h.body.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_is_refused() {
    let p = Page::start().await;
    let faq = p.faq();
    let (session, csrf) = p.sign_in().await;
    let (other_session, other_csrf) = p.sign_in().await;
    assert_ne!(csrf, other_csrf, "each session has its own token");
    let teach = |c: &'static str| {
        vec![
            ("question", NEW_QUESTION),
            ("entry", "credit_recording"),
            ("csrf", c),
        ]
    };
    for form in [
        teach("").into_iter().take(2).collect::<Vec<_>>(),
        teach(""),
        teach("deadbeef"),
    ] {
        let got = p.post("/admin/teach", Some(&session), &form).await;
        assert_eq!(got.status, StatusCode::FORBIDDEN);
    }
    // Another session's token is not this one's.
    let got = p
        .post(
            "/admin/teach",
            Some(&session),
            &[
                ("question", NEW_QUESTION),
                ("entry", "credit_recording"),
                ("csrf", &other_csrf),
            ],
        )
        .await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);
    assert_eq!(p.faq(), faq, "nothing was taught");
    for form in [vec![], vec![("csrf", "deadbeef")]] {
        let got = p.post("/admin/reload", Some(&session), &form).await;
        assert_eq!(got.status, StatusCode::FORBIDDEN);
        let got = p.post("/admin/logout", Some(&other_session), &form).await;
        assert_eq!(got.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        p.get("/admin", Some(&other_session)).await.status,
        StatusCode::OK
    );
    // The sign-in form: its token must match its cookie.
    let form = p.get("/admin/login", None).await;
    let pair = form.cookie(admin::LOGIN_COOKIE).unwrap();
    for (cookie, field) in [
        (None, pair.as_str()),
        (Some(pair.as_str()), ""),
        (Some(pair.as_str()), "00ff"),
    ] {
        let mut req = p.http.post(format!("{}/admin/login", p.url)).form(&[
            ("csrf", field),
            ("name", "wang"),
            ("password", PASSWORD),
        ]);
        if let Some(c) = cookie {
            req = req.header("cookie", format!("{}={c}", admin::LOGIN_COOKIE));
        }
        let got = p.send(req).await;
        assert_eq!(got.status, StatusCode::FORBIDDEN);
        assert!(got.cookie(admin::SESSION_COOKIE).is_none());
    }
    // With its token, the reload goes through.
    let got = p
        .post("/admin/reload", Some(&session), &[("csrf", &csrf)])
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    let page = p.get("/admin/knowledge", Some(&session)).await;
    assert!(page.body.contains("已重新载入"), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_limited_per_name_and_per_address() {
    let p = Page::start().await;
    for _ in 0..admin::FAILS_PER_NAME {
        let got = p.try_sign_in("wang", "wrong-password", &[]).await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED);
    }
    // wang is locked, even with the right password; li is not.
    let got = p.try_sign_in("wang", PASSWORD, &[]).await;
    assert_eq!(got.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(got.body.contains("尝试次数过多"), "{}", got.body);
    assert!(got.cookie(admin::SESSION_COOKIE).is_none());
    let got = p.try_sign_in("li", OTHER_PASSWORD, &[]).await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    // Enough failures from one address lock it for every name.
    for i in admin::FAILS_PER_NAME..admin::FAILS_PER_ADDRESS {
        let got = p.try_sign_in(&format!("guess{i}"), "x", &[]).await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED);
    }
    let got = p.try_sign_in("li", OTHER_PASSWORD, &[]).await;
    assert_eq!(got.status, StatusCode::TOO_MANY_REQUESTS);
    // Another address (as the proxy on this machine reports it) is not.
    let got = p
        .try_sign_in("li", OTHER_PASSWORD, &[("x-real-ip", "10.1.2.3")])
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    // After the window, wang signs in again.
    p.clock.advance(chrono::Duration::minutes(16));
    let got = p.try_sign_in("wang", PASSWORD, &[]).await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_taught_on_the_page_is_answered_after_the_reload() {
    let p = Page::start().await;
    let teacher = Identity::telegram(42);
    let core = &p.app.core;
    let declined = core.say(&teacher, NEW_QUESTION);
    assert!(
        core.responder().ask(NEW_QUESTION).matched.is_none(),
        "{declined}"
    );
    core.say(&teacher, "继续教育的截止日期是哪天");
    let (session, csrf) = p.sign_in().await;
    let page = p.get("/admin/questions", Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(NEW_QUESTION), "{}", page.body);
    assert!(page.body.contains(r#"action="/admin/teach""#));
    assert!(page.body.contains(r#"value="credit_recording""#));
    // The chart has today's two questions: one answered, one declined.
    assert!(page.body.contains("<svg"), "{}", page.body);
    assert!(page.body.contains("共 2 个"), "{}", page.body);
    assert!(page.body.contains("已回答：1") && page.body.contains("未能回答：1"));
    // What the check refuses is not taught, and says why.
    let faq = p.faq();
    let got = p
        .post(
            "/admin/teach",
            Some(&session),
            &[
                ("csrf", &csrf),
                ("question", "截止日期是哪天呀"),
                ("entry", "hotline"),
            ],
        )
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    let page = p.get("/admin/questions", Some(&session)).await;
    assert!(page.body.contains("没有教会"), "{}", page.body);
    assert_eq!(p.faq(), faq);
    let long = "学时".repeat(251);
    let got = p
        .post(
            "/admin/teach",
            Some(&session),
            &[
                ("csrf", &csrf),
                ("question", &long),
                ("entry", "credit_recording"),
            ],
        )
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    let page = p.get("/admin/questions", Some(&session)).await;
    assert!(page.body.contains("超过 500 个字"), "{}", page.body);
    assert_eq!(p.faq(), faq);
    // Taught to credit_recording: written, checked, reloaded.
    let got = p
        .post(
            "/admin/teach",
            Some(&session),
            &[
                ("csrf", &csrf),
                ("question", NEW_QUESTION),
                ("entry", "credit_recording"),
            ],
        )
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    assert_eq!(got.location(), "/admin/questions");
    assert!(p.faq().contains(&format!("\"{NEW_QUESTION}\"")));
    assert_eq!(
        core.responder().ask(NEW_QUESTION).matched.as_deref(),
        Some("credit_recording"),
        "the live knowledge was reloaded"
    );
    let answer = core.say(&teacher, NEW_QUESTION);
    let expected = core
        .responder()
        .kb()
        .entry("credit_recording")
        .unwrap()
        .answer
        .clone();
    assert!(
        answer.contains(expected.lines().next().unwrap()),
        "{answer}"
    );
    let page = p.get("/admin/questions", Some(&session)).await;
    assert!(
        page.body.contains("检查通过，知识已重新载入"),
        "{}",
        page.body
    );
    assert!(
        p.app.store.unanswered().unwrap().is_empty(),
        "no longer to learn from"
    );
    // The flash is shown once.
    let page = p.get("/admin/questions", Some(&session)).await;
    assert!(!page.body.contains("检查通过"), "{}", page.body);
    assert!(!page.body.contains(NEW_QUESTION), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_show_the_season_the_knowledge_and_the_next_reminders() {
    let p = Page::start().await;
    let store = &p.app.store;
    // A teacher with no hours logged wants reminders.
    store
        .put_subscription(&Subscription {
            chat: Identity::telegram(42),
            kind: ChatKind::Private,
            active: true,
        })
        .unwrap();
    let (session, _) = p.sign_in().await;
    let o = p.get("/admin", Some(&session)).await.body;
    assert!(o.contains("2024年度"), "{o}");
    assert!(o.contains("还剩 <b>41</b> 天"), "{o}");
    assert!(o.contains("Telegram"), "{o}");
    let k = p.get("/admin/knowledge", Some(&session)).await.body;
    assert!(k.contains("检查通过"), "{k}");
    let kb = p.app.core.responder();
    let e = kb.kb().entry("credit_recording").unwrap();
    assert!(k.contains(&maud::html! { (e.title) }.into_string()), "{k}");
    assert!(k.contains(&maud::html! { (e.questions[0]) }.into_string()));
    assert!(k.contains(&maud::html! { (e.answer) }.into_string()));
    assert!(k.contains(&maud::html! { "出处：" (e.source) }.into_string()));
    assert!(k.contains(r#"action="/admin/reload""#));
    let r = p.get("/admin/reminders", Some(&session)).await.body;
    assert!(
        r.contains("下一档期：截止前 30 天，2024-12-01 09:00"),
        "{r}"
    );
    assert!(r.contains("Telegram · 私聊 1 · 群 0"), "{r}");
    assert!(r.contains("⏰ 继续教育提醒：2024年度学习须在"), "{r}");
    // Past the first slot the due reminder is shown as not yet sent.
    // (sessions last 8 hours: sign in again on the later days)
    p.clock.set(crate::at("2024-12-02T10:00:00+08:00"));
    let (session, _) = p.sign_in().await;
    let o = p.get("/admin", Some(&session)).await.body;
    assert!(o.contains("到期待发"), "{o}");
    let r = p.get("/admin/reminders", Some(&session)).await.body;
    assert!(r.contains("已到期、尚未发出（1）"), "{r}");
    // A season with no guide says so.
    p.clock.set(crate::at("2026-03-01T10:00:00+08:00"));
    let (session, _) = p.sign_in().await;
    let o = p.get("/admin", Some(&session)).await.body;
    assert!(o.contains("2026年度指南尚未收录"), "{o}");
}

fn passwd(config: &Path, name: &str, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(["admin", "passwd", name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn admin_passwd_writes_a_hash_that_verifies_and_keeps_comments() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("jxjy.toml");
    let before = "# 学校的配置\n[school]\nhr_contact = \"人事处 0791-1234567\" # 电话\n\n# 管理页面\n[admin]\nsecure_cookie = true\n";
    std::fs::write(&config, before).unwrap();
    let out = passwd(&config, "wang", "first-password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("first-password") && !stdout.contains("$argon2"),
        "{stdout}"
    );
    let after = std::fs::read_to_string(&config).unwrap();
    assert!(after.starts_with(before), "{after}");
    let c = admin::load_config(&config).unwrap().unwrap();
    assert!(c.secure_cookie);
    let hash = c.users.get("wang").unwrap();
    assert!(admin::config::verify_password("first-password", hash));
    assert!(!after.contains("first-password"));
    // Again: replaced, not added.
    assert!(
        passwd(&config, "wang", "second-password\n")
            .status
            .success()
    );
    let c = admin::load_config(&config).unwrap().unwrap();
    assert!(admin::config::verify_password(
        "second-password",
        &c.users["wang"]
    ));
    assert!(!admin::config::verify_password(
        "first-password",
        &c.users["wang"]
    ));
    assert_eq!(c.users.len(), 1);
    // Refused: a short password, a name with a space; the file is kept.
    let kept = std::fs::read_to_string(&config).unwrap();
    for (name, pw) in [("li", "short\n"), ("li si", "long-enough-pw\n")] {
        let out = passwd(&config, name, pw);
        assert!(!out.status.success(), "{name}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), kept);
    // No file yet: it is made with [admin].
    let fresh = dir.path().join("new.toml");
    assert!(passwd(&fresh, "li", "long-enough-pw\n").status.success());
    assert!(
        admin::load_config(&fresh)
            .unwrap()
            .unwrap()
            .users
            .contains_key("li")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_only_admin_hosts_the_page_and_audits_the_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("jxjy.toml");
    std::fs::write(
        &config,
        format!("[http]\nlisten = \"127.0.0.1:{port}\"\n\n[admin]\n"),
    )
    .unwrap();
    assert!(
        passwd(&config, "wang", &format!("{PASSWORD}\n"))
            .status
            .success()
    );
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--kb")
        .arg(crate::shipped_kb_dir())
        .arg("serve")
        .env_remove("TELOXIDE_TOKEN")
        // As the README suggests for debugging: the audit lines stay.
        .env("RUST_LOG", "jxjy_bot=info");
    let mut serve = crate::Logged::spawn(cmd);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !serve.log().contains("HTTP listener ready") {
        assert!(std::time::Instant::now() < deadline, "{}", serve.log());
        assert!(serve.child.try_wait().unwrap().is_none(), "{}", serve.log());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let r = http.get(format!("{url}/admin")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let form = http.get(format!("{url}/admin/login")).send().await.unwrap();
    let cookie = form
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = csrf_of(&form.text().await.unwrap());
    let r = http
        .post(format!("{url}/admin/login"))
        .header("cookie", cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "wang"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !serve.log().contains("signed in") {
        assert!(std::time::Instant::now() < deadline, "{}", serve.log());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = serve.log();
    assert!(
        log.contains("jxjy_bot::audit") && log.contains("admin=wang"),
        "{log}"
    );
    assert!(!log.contains(PASSWORD) && !log.contains("$argon2"), "{log}");
    assert!(!log.contains(&csrf), "{log}");
    serve.signal("-TERM");
    assert!(serve.wait_exit(30).await.success(), "{}", serve.log());
}
