//! The web page for the 人事处 (`/admin` on the HTTP listener of `serve`,
//! when `[admin]` is in jxjy.toml): what teachers ask, what the bot
//! missed (teach it to an entry, checked and reloaded), the knowledge
//! with its check, and what the next reminder slot sends.
//!
//! Server-rendered HTML (maud), no JavaScript. Every page and action
//! needs a session: one argon2-hashed password per admin
//! ([`config`]), a random session token in an HttpOnly, SameSite=Strict
//! cookie (Secure when configured or when the proxy says HTTPS), a CSRF
//! token in every form checked on every POST, failed sign-ins limited
//! per address and per name, and an audit line (target
//! `jxjy_bot::audit`) for every change. Nothing secret is shown or logged.

pub mod config;
mod views;

pub use config::{AdminConfig, ConfigError, load_config};

use crate::limits::Window;
use crate::service::App;
use axum::Extension;
use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "jxjy_admin";
/// The sign-in form's CSRF cookie (before there is a session).
pub const LOGIN_COOKIE: &str = "jxjy_login";
/// How long a session lasts after sign-in.
const SESSION_HOURS: i64 = 8;
/// Failed sign-ins allowed per name in the window.
pub const FAILS_PER_NAME: usize = 5;
/// Failed sign-ins allowed per address in the window.
pub const FAILS_PER_ADDRESS: usize = 20;
/// The longest question the page teaches.
const MAX_QUESTION_CHARS: usize = 500;
/// The window failed sign-ins are counted in.
const FAIL_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What the process knows of a configured channel.
#[derive(Debug, Clone)]
pub struct ChannelInfo {
    /// As in the log ("telegram", "feishu", ...).
    pub name: String,
    /// Its inbox (pending messages are shown).
    pub inbox: Option<String>,
}

/// The page's state: the service it looks into, who may sign in, and the
/// sessions and sign-in counts (in memory: a restart signs everyone out).
pub struct Admin {
    app: Arc<App>,
    config: Mutex<AdminConfig>,
    channels: Vec<ChannelInfo>,
    sessions: Mutex<HashMap<String, Session>>,
    fails_by_address: Mutex<HashMap<String, Window>>,
    fails_by_name: Mutex<HashMap<String, Window>>,
}

#[derive(Debug, Clone)]
struct Session {
    name: String,
    csrf: String,
    expires: DateTime<Utc>,
    /// A message for the next page (after a POST and its redirect).
    flash: Option<Flash>,
}

#[derive(Debug, Clone)]
pub(crate) struct Flash {
    pub ok: bool,
    pub text: String,
}

/// The signed-in admin, for a page.
pub(crate) struct Viewer {
    pub name: String,
    pub csrf: String,
    pub flash: Option<Flash>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] crate::error::StoreError),
    #[error(transparent)]
    Kb(#[from] crate::error::KbError),
    #[error("a page task failed: {0}")]
    Task(String),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take the page down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// 32 random bytes, hex. None only if the OS has no randomness.
fn token() -> Option<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).ok()?;
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl Admin {
    pub fn new(app: Arc<App>, config: AdminConfig, channels: Vec<ChannelInfo>) -> Arc<Admin> {
        Arc::new(Admin {
            app,
            config: Mutex::new(config),
            channels,
            sessions: Mutex::new(HashMap::new()),
            fails_by_address: Mutex::new(HashMap::new()),
            fails_by_name: Mutex::new(HashMap::new()),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.app.core.clock().now()
    }

    /// The session of this request, if any and not expired.
    fn viewer(&self, headers: &HeaderMap, take_flash: bool) -> Option<(String, Viewer)> {
        let t = cookie(headers, SESSION_COOKIE)?;
        let now = self.now();
        let mut sessions = lock(&self.sessions);
        // Look up by constant-time comparison of the whole token.
        let key = sessions.keys().find(|k| same(k, t))?.clone();
        let s = sessions.get_mut(&key)?;
        if s.expires <= now {
            sessions.remove(&key);
            return None;
        }
        let flash = if take_flash { s.flash.take() } else { None };
        Some((
            key,
            Viewer {
                name: s.name.clone(),
                csrf: s.csrf.clone(),
                flash,
            },
        ))
    }

    fn set_flash(&self, key: &str, ok: bool, text: String) {
        if let Some(s) = lock(&self.sessions).get_mut(key) {
            s.flash = Some(Flash { ok, text });
        }
    }

    fn secure(&self, headers: &HeaderMap) -> bool {
        lock(&self.config).secure_cookie
            || headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }

    fn cookie_header(
        &self,
        headers: &HeaderMap,
        name: &str,
        value: &str,
        max_age: i64,
    ) -> HeaderValue {
        let secure = if self.secure(headers) { "; Secure" } else { "" };
        let v = format!(
            "{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        );
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The users, read again from the config file (a new `admin passwd`
    /// holds at once); the last good ones when it cannot be read.
    fn users(&self) -> BTreeMap<String, String> {
        let mut config = lock(&self.config);
        match load_config(&config.file) {
            Ok(Some(c)) => *config = c,
            Ok(None) => config.users.clear(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read [admin] again; using the users read before")
            }
        }
        config.users.clone()
    }

    /// Whether sign-in is refused for a while for this address or name.
    fn limited(&self, addr: &str, name: &str) -> bool {
        let now = self.now();
        let over = |m: &Mutex<HashMap<String, Window>>, k: &str, max: usize| {
            lock(m)
                .get(k)
                .and_then(|w| w.wait(&[(FAIL_WINDOW, max)], now))
                .is_some()
        };
        over(&self.fails_by_address, addr, FAILS_PER_ADDRESS)
            || over(&self.fails_by_name, name, FAILS_PER_NAME)
    }

    fn record_failure(&self, addr: &str, name: &str) {
        let now = self.now();
        for (m, k, max) in [
            (&self.fails_by_address, addr, FAILS_PER_ADDRESS),
            (&self.fails_by_name, name, FAILS_PER_NAME),
        ] {
            let mut map = lock(m);
            // Forget windows nobody is limited by any more, so the map
            // stays small whatever is tried.
            if map.len() > 10_000 {
                map.retain(|_, w| w.wait(&[(FAIL_WINDOW, 1)], now).is_some());
            }
            map.entry(k.to_string())
                .or_default()
                .record(now, &[(FAIL_WINDOW, max)]);
        }
    }
}

/// The client's address: the peer, or the proxy's X-Real-IP when the peer
/// is the proxy on this machine.
fn client_addr(peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
    let real = headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 64);
    match (peer, real) {
        (Some(p), Some(r)) if p.ip().is_loopback() => r.to_string(),
        (Some(p), _) => p.ip().to_string(),
        (None, _) => "unknown".to_string(),
    }
}

/// The page's routes (under /admin), to merge into the HTTP listener.
pub fn router(admin: Arc<Admin>) -> axum::Router {
    axum::Router::new()
        .route("/admin", get(overview))
        .route("/admin/", get(overview))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/questions", get(questions))
        .route("/admin/teach", post(teach))
        .route("/admin/knowledge", get(knowledge))
        .route("/admin/reload", post(reload))
        .route("/admin/reminders", get(reminders))
        .with_state(admin)
}

/// An HTML response that no cache keeps and no frame shows.
fn html(status: StatusCode, body: maud::Markup) -> Response {
    let mut r = (status, body.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

fn to_login() -> Response {
    Redirect::to("/admin/login").into_response()
}

fn forbidden() -> Response {
    html(StatusCode::FORBIDDEN, views::refused())
}

/// Build a page off the async workers (the matcher, the check and the
/// store are blocking work).
async fn page(
    admin: &Arc<Admin>,
    viewer: Viewer,
    f: impl FnOnce(&Admin, &Viewer) -> Result<maud::Markup, AdminError> + Send + 'static,
) -> Response {
    let a = admin.clone();
    let built = tokio::task::spawn_blocking(move || f(&a, &viewer))
        .await
        .map_err(|e| AdminError::Task(e.to_string()))
        .and_then(|r| r);
    match built {
        Ok(m) => html(StatusCode::OK, m),
        Err(e) => {
            tracing::error!(error = %e, "admin page failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                views::failed(&e.to_string()),
            )
        }
    }
}

/// The signed-in admin of a page request; a request without a valid
/// session is sent to the sign-in page instead.
struct Signed(Viewer);

impl FromRequestParts<Arc<Admin>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, a: &Arc<Admin>) -> Result<Self, Response> {
        // A page shows the flash message once: it is taken here.
        match a.viewer(&parts.headers, true) {
            Some((_, v)) => Ok(Signed(v)),
            None => Err(to_login()),
        }
    }
}

async fn overview(State(a): State<Arc<Admin>>, Signed(v): Signed) -> Response {
    page(&a, v, views::overview).await
}

async fn questions(State(a): State<Arc<Admin>>, Signed(v): Signed) -> Response {
    page(&a, v, views::questions).await
}

async fn knowledge(State(a): State<Arc<Admin>>, Signed(v): Signed) -> Response {
    page(&a, v, views::knowledge).await
}

async fn reminders(State(a): State<Arc<Admin>>, Signed(v): Signed) -> Response {
    page(&a, v, views::reminders).await
}

async fn login_page(State(a): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    if a.viewer(&headers, false).is_some() {
        return Redirect::to("/admin").into_response();
    }
    login_form(&a, &headers, StatusCode::OK, None)
}

/// The sign-in form with a fresh CSRF pair (cookie and hidden field).
fn login_form(a: &Admin, headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
    let Some(t) = token() else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            views::failed("no randomness"),
        );
    };
    let mut r = html(status, views::login(&t, error));
    r.headers_mut().append(
        header::SET_COOKIE,
        a.cookie_header(headers, LOGIN_COOKIE, &t, 3600),
    );
    r
}

#[derive(Debug, Default, Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(a): State<Arc<Admin>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return forbidden();
    };
    if !same(&f.csrf, cookie(&headers, LOGIN_COOKIE).unwrap_or_default()) {
        return forbidden();
    }
    let addr = client_addr(peer.map(|Extension(c)| c.0), &headers);
    let name = f.name.trim().to_string();
    if a.limited(&addr, &name) {
        tracing::warn!(target: "jxjy_bot::audit", %addr, admin = %name, "sign-in refused: too many failed attempts");
        return login_form(
            &a,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some("尝试次数过多，请15分钟后再试。"),
        );
    }
    let users = a.users();
    let hash = users.get(&name).cloned();
    let password = f.password;
    // An unknown name costs the same as a wrong password.
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => config::verify_password(&password, &h),
        None => {
            config::verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false);
    if !ok {
        a.record_failure(&addr, &name);
        tracing::warn!(target: "jxjy_bot::audit", %addr, admin = %name, "sign-in failed");
        return login_form(
            &a,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("用户名或密码不正确。"),
        );
    }
    let (Some(session), Some(csrf)) = (token(), token()) else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            views::failed("no randomness"),
        );
    };
    let now = a.now();
    {
        let mut sessions = lock(&a.sessions);
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(
            session.clone(),
            Session {
                name: name.clone(),
                csrf,
                expires: now + chrono::Duration::hours(SESSION_HOURS),
                flash: None,
            },
        );
    }
    tracing::info!(target: "jxjy_bot::audit", %addr, admin = %name, at = %now, "signed in");
    let mut r = Redirect::to("/admin").into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        a.cookie_header(&headers, SESSION_COOKIE, &session, SESSION_HOURS * 3600),
    );
    h.append(
        header::SET_COOKIE,
        a.cookie_header(&headers, LOGIN_COOKIE, "", 0),
    );
    r
}

/// A valid hash to verify against when the name is unknown.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| config::hash_password("not a password of anyone").unwrap_or_default())
}

#[derive(Debug, Default, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
struct TeachForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    entry: String,
}

/// The session of a POST whose CSRF token matches it (None: refuse).
fn checked(a: &Admin, headers: &HeaderMap, csrf: Option<&str>) -> Option<(String, Viewer)> {
    let (key, v) = a.viewer(headers, false)?;
    match csrf {
        Some(c) if same(c, &v.csrf) => Some((key, v)),
        _ => {
            tracing::warn!(target: "jxjy_bot::audit", admin = %v.name, "a form without its CSRF token refused");
            None
        }
    }
}

async fn logout(
    State(a): State<Arc<Admin>>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let csrf = form.as_ref().ok().map(|f| f.csrf.as_str());
    let Some((key, v)) = checked(&a, &headers, csrf) else {
        return forbidden();
    };
    lock(&a.sessions).remove(&key);
    tracing::info!(target: "jxjy_bot::audit", admin = %v.name, at = %a.now(), "signed out");
    let mut r = Redirect::to("/admin/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        a.cookie_header(&headers, SESSION_COOKIE, "", 0),
    );
    r
}

async fn teach(
    State(a): State<Arc<Admin>>,
    headers: HeaderMap,
    form: Result<Form<TeachForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let csrf = form.as_ref().ok().map(|f| f.csrf.as_str());
    let Some((key, v)) = checked(&a, &headers, csrf) else {
        return forbidden();
    };
    let Ok(Form(f)) = form else {
        return forbidden();
    };
    let (question, entry) = (f.question.trim().to_string(), f.entry.trim().to_string());
    // As long as a recorded question may be; a phrasing is shorter still.
    if question.chars().count() > MAX_QUESTION_CHARS {
        a.set_flash(
            &key,
            false,
            format!("没有教会：问题超过 {MAX_QUESTION_CHARS} 个字。"),
        );
        return Redirect::to("/admin/questions").into_response();
    }
    let worker = a.clone();
    let (q, e) = (question.clone(), entry.clone());
    let done = tokio::task::spawn_blocking(move || {
        let live = worker.app.core.live();
        let file = crate::teach::teach(live.dir(), &q, &e).map_err(|e| e.to_string())?;
        let reloaded = live.reload().map_err(|e| e.to_string());
        // Taught: it is no longer a question to learn from.
        if let Err(err) = worker.app.store.remove_unanswered(&q) {
            tracing::warn!(error = %err, "cannot drop the taught question from the list");
        }
        Ok::<_, String>((file, reloaded))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let now = a.now();
    match done {
        Ok((file, reloaded)) => {
            tracing::info!(target: "jxjy_bot::audit", admin = %v.name, action = "teach", %question, %entry, file = %file.display(), at = %now, "taught a question to an entry");
            match reloaded {
                Ok(r) => {
                    tracing::info!(target: "jxjy_bot::audit", admin = %v.name, action = "reload", entries = r.entries, at = %now, "knowledge reloaded");
                    a.set_flash(
                        &key,
                        true,
                        format!("已把“{question}”教给条目 {entry}，检查通过，知识已重新载入。"),
                    );
                }
                Err(e) => a.set_flash(
                    &key,
                    false,
                    format!("已写入条目 {entry}，但重新载入被拒绝（原知识仍在使用）：{e}"),
                ),
            }
        }
        Err(e) => {
            tracing::info!(target: "jxjy_bot::audit", admin = %v.name, action = "teach", %question, %entry, at = %now, error = %e, "teaching refused");
            a.set_flash(&key, false, format!("没有教会：{e}"));
        }
    }
    Redirect::to("/admin/questions").into_response()
}

async fn reload(
    State(a): State<Arc<Admin>>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let csrf = form.as_ref().ok().map(|f| f.csrf.as_str());
    let Some((key, v)) = checked(&a, &headers, csrf) else {
        return forbidden();
    };
    let worker = a.clone();
    let done = tokio::task::spawn_blocking(move || {
        worker.app.core.live().reload().map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let now = a.now();
    match done {
        Ok(r) => {
            tracing::info!(target: "jxjy_bot::audit", admin = %v.name, action = "reload", years = ?r.years, entries = r.entries, at = %now, "knowledge reloaded");
            a.set_flash(
                &key,
                true,
                format!(
                    "已重新载入：{} 年度指南，{} 个条目。",
                    r.years
                        .iter()
                        .map(i32::to_string)
                        .collect::<Vec<_>>()
                        .join("、"),
                    r.entries
                ),
            );
        }
        Err(e) => {
            tracing::info!(target: "jxjy_bot::audit", admin = %v.name, action = "reload", at = %now, error = %e, "reload refused");
            a.set_flash(&key, false, format!("重新载入被拒绝，原知识仍在使用：{e}"));
        }
    }
    Redirect::to("/admin/knowledge").into_response()
}
