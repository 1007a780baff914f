//! The knowledge in service, swapped whole on reload. Every handler takes
//! one snapshot ([`LiveKb::get`]) and answers from it to the end, so a
//! reload never mixes two versions in one answer; a reload that fails the
//! check (`kb check`) leaves the old knowledge in service.

use crate::clock::{Clock, Stop};
use crate::dialogue::{Contacts, Responder};
use crate::error::{KbError, Problem};
use crate::knowledge::Kb;
use arc_swap::ArcSwap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct LiveKb {
    current: ArcSwap<Responder>,
    dir: PathBuf,
    contacts: Contacts,
    clock: Arc<dyn Clock>,
}

/// What a reload swapped in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub years: Vec<i32>,
    pub entries: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the knowledge in {dir} has {} problem(s); the old knowledge stays in service:\n{}", .problems.len(), .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid {
        dir: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("{0}; the old knowledge stays in service")]
    Kb(#[from] KbError),
}

fn build(kb: Kb, contacts: &Contacts, clock: &Arc<dyn Clock>) -> Responder {
    Responder::new(Arc::new(kb))
        .with_contacts(contacts.clone())
        .with_clock(clock.clone())
}

impl LiveKb {
    /// Load `dir` (answers told with `clock`, school matters sent to
    /// `contacts`).
    pub fn load(dir: &Path, contacts: Contacts, clock: Arc<dyn Clock>) -> Result<LiveKb, KbError> {
        let kb = Kb::load(dir)?;
        Ok(LiveKb {
            current: ArcSwap::from_pointee(build(kb, &contacts, &clock)),
            dir: dir.to_owned(),
            contacts,
            clock,
        })
    }

    /// The knowledge now: answer one message from it.
    pub fn get(&self) -> Arc<Responder> {
        self.current.load_full()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Check the directory as `kb check` does; swap it in only when it
    /// has no problem. Blocking (it builds the matcher): call it off the
    /// async workers.
    pub fn reload(&self) -> Result<Reloaded, ReloadError> {
        let problems = crate::check::check_dir(&self.dir)?;
        if !problems.is_empty() {
            return Err(ReloadError::Invalid {
                dir: self.dir.clone(),
                problems,
            });
        }
        let kb = Kb::load(&self.dir)?;
        let done = Reloaded {
            years: kb.years(),
            entries: kb.entries.len(),
        };
        self.current
            .store(Arc::new(build(kb, &self.contacts, &self.clock)));
        Ok(done)
    }

    /// Reload and log the outcome (and the season, which a new guide may
    /// settle).
    pub async fn reload_logged(self: Arc<Self>) {
        let live = self.clone();
        match tokio::task::spawn_blocking(move || live.reload()).await {
            Ok(Ok(r)) => {
                tracing::info!(years = ?r.years, entries = r.entries, dir = %self.dir.display(), "knowledge reloaded");
                let r = self.get();
                if let Some(note) = crate::season::Season::of(r.kb(), self.clock.now()).log_note() {
                    tracing::warn!("{note}");
                }
            }
            Ok(Err(e)) => tracing::error!("reload refused: {e}"),
            Err(e) => tracing::error!(error = %e, "reload failed"),
        }
    }
}

/// Reload on every SIGHUP until stopped (Unix; elsewhere nothing). The
/// handler is installed when this is called (inside a runtime), before
/// the returned future first runs: a SIGHUP right after start-up reloads
/// instead of ending the process.
pub fn reload_on_sighup(live: Arc<LiveKb>, stop: Stop) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    async move {
        #[cfg(unix)]
        {
            let mut hup = match hup {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP; reload by restarting");
                    return;
                }
            };
            loop {
                tokio::select! {
                    got = hup.recv() => {
                        if got.is_none() {
                            return;
                        }
                        tracing::info!("SIGHUP: reloading the knowledge");
                        live.clone().reload_logged().await;
                    }
                    _ = stop.wait() => return,
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (live, stop);
        }
    }
}
