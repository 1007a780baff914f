//! The season: the calendar year in Asia/Shanghai. Which loaded guide
//! speaks for a year, which one reminders follow (the one whose deadline
//! is ahead), and what to say when this season's guide is not loaded yet.
//! Hours are kept per season; a guide year is never passed off as another.

use crate::knowledge::{Facts, Kb};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

/// Seasons, deadlines and reminders are reckoned in Jiangxi's time.
pub const TZ: Tz = chrono_tz::Asia::Shanghai;

/// The season (guide year) a moment falls in.
pub fn year_of(at: DateTime<Utc>) -> i32 {
    at.with_timezone(&TZ).year()
}

/// The local date of a moment.
pub fn date_of(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&TZ).date_naive()
}

/// The guides loaded, oldest first.
pub fn guides(kb: &Kb) -> Vec<&Facts> {
    kb.older
        .iter()
        .map(|g| &g.facts)
        .chain(std::iter::once(&kb.facts))
        .collect()
}

/// The guide reminders follow on `today`: among the loaded ones whose
/// deadline is still ahead (today ≤ deadline), the nearest.
pub fn reminder_guide(kb: &Kb, today: NaiveDate) -> Option<&Facts> {
    guides(kb)
        .into_iter()
        .filter(|f| today <= f.deadline)
        .min_by_key(|f| f.deadline)
}

/// Where the season stands against the loaded guides.
#[derive(Debug, Clone, Copy)]
pub struct Season<'a> {
    pub year: i32,
    /// This season's guide, if loaded.
    pub guide: Option<&'a Facts>,
    /// The newest guide loaded.
    pub newest: &'a Facts,
    /// The guide reminders follow now, if any.
    pub reminders: Option<&'a Facts>,
}

impl<'a> Season<'a> {
    pub fn of(kb: &'a Kb, now: DateTime<Utc>) -> Season<'a> {
        let year = year_of(now);
        Season {
            year,
            guide: kb.guide(year).map(|(f, _)| f),
            newest: &kb.facts,
            reminders: reminder_guide(kb, date_of(now)),
        }
    }

    /// For the log, when this season's guide is missing: what it means.
    pub fn log_note(&self) -> Option<String> {
        if self.guide.is_some() {
            return None;
        }
        let reminders = match self.reminders {
            Some(f) => format!("reminders follow the {} guide", f.year),
            None => "no reminders are sent until it is".to_string(),
        };
        Some(format!(
            "no guide for the {} season is loaded (newest: {}); add knowledge/{}/ and reload (SIGHUP); {reminders}",
            self.year, self.newest.year, self.year
        ))
    }
}

/// Says "once a day": true the first time it is asked on each local date.
#[derive(Debug, Default)]
pub struct Daily(std::sync::Mutex<Option<NaiveDate>>);

impl Daily {
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        let today = date_of(now);
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if *last == Some(today) {
            return false;
        }
        *last = Some(today);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_season_turns_at_midnight_in_shanghai() {
        assert_eq!(year_of(at("2024-12-31T15:59:59Z")), 2024);
        assert_eq!(year_of(at("2024-12-31T16:00:00Z")), 2025);
    }

    #[test]
    fn once_a_day_by_the_local_date() {
        let d = Daily::default();
        assert!(d.due(at("2026-11-29T09:00:00+08:00")));
        assert!(!d.due(at("2026-11-29T23:59:00+08:00")));
        assert!(d.due(at("2026-11-30T00:00:00+08:00")));
    }
}
