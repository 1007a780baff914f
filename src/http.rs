//! The HTTP listener of `serve` (axum), run when a channel that is called
//! back over HTTP is configured (Feishu's event callback today): the
//! routes of every part that needs one merged on one address, plus
//! `GET /healthz`. It is one more [`Front`] of the service and stops
//! gracefully on the stop signal (requests in progress finish).
//!
//! It speaks plain HTTP on the address of `[http] listen` in jxjy.toml
//! (default 127.0.0.1:8080): the school's HTTPS reverse proxy is in front.
//!
//! ```toml
//! [http]
//! listen = "127.0.0.1:8080"
//! ```

use crate::service::Front;
use serde::Deserialize;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::Path;

/// How long requests in progress may take after the stop signal.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The health check's path.
pub const HEALTHZ: &str = "/healthz";

/// `[http]` of jxjy.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: [http]: {message}")]
    Parse { file: String, message: String },
}

/// The `[http]` table read from the file `path` (defaults when absent).
pub fn from_table(table: Option<toml::Value>, path: &Path) -> Result<HttpConfig, ConfigError> {
    let parse = |message: String| ConfigError::Parse {
        file: path.display().to_string(),
        message,
    };
    let Some(v) = table else {
        return Ok(HttpConfig::default());
    };
    let raw = Raw::deserialize(v).map_err(|e| parse(e.message().to_string()))?;
    match raw.listen {
        None => Ok(HttpConfig::default()),
        Some(l) => l
            .trim()
            .parse()
            .map(|listen| HttpConfig { listen })
            .map_err(|_| {
                parse(format!(
                    "listen '{l}' is not an address like 127.0.0.1:8080"
                ))
            }),
    }
}

/// `/healthz` and every route of `routes`, on one router.
pub fn router(routes: Vec<axum::Router>) -> axum::Router {
    let base = axum::Router::new().route(HEALTHZ, axum::routing::get(|| async { "ok" }));
    routes.into_iter().fold(base, axum::Router::merge)
}

/// Bind `addr` now (a port in use is a clear error at start, before the
/// service runs).
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    // Tokio takes it over: it must not block.
    l.set_nonblocking(true)?;
    Ok(l)
}

/// The listener as a channel of the service: serves `routes` on
/// `listener` until the stop signal.
pub fn front(listener: std::net::TcpListener, routes: Vec<axum::Router>) -> Front {
    Front {
        name: "http",
        inbox: None,
        start: Box::new(move |stop| {
            Box::pin(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let addr = listener.local_addr()?;
                tracing::info!(%addr, "HTTP listener ready");
                let signal = stop.clone();
                // The peer's address reaches handlers (the admin page's
                // sign-in limit per address).
                let app = router(routes).into_make_service_with_connect_info::<SocketAddr>();
                let serve = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { signal.wait().await })
                    .into_future();
                // Requests in progress finish; a client that holds its
                // connection open does not hold up the stop past GRACE.
                let cut = async {
                    stop.wait().await;
                    tokio::time::sleep(GRACE).await;
                };
                tokio::select! {
                    r = serve => r?,
                    _ = cut => tracing::warn!("HTTP connections still open after {GRACE:?}; closed"),
                }
                Ok(())
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(text: &str, file: &str) -> Result<HttpConfig, ConfigError> {
        let mut t: toml::Table = toml::from_str(text).unwrap();
        from_table(t.remove("http"), Path::new(file))
    }

    #[test]
    fn listen_address_from_the_table_or_the_default() {
        assert_eq!(from_toml("", "j").unwrap(), HttpConfig::default());
        let c = from_toml("[http]\nlisten = \"0.0.0.0:9000\"\n", "j").unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000".parse().unwrap());
        let e = from_toml("[http]\nlisten = \"localhost\"\n", "j")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[http]") && e.contains("localhost"), "{e}");
        assert!(from_toml("[http]\nport = 1\n", "j").is_err());
    }
}
