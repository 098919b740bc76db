//! Timestamps: naive UTC in the database, set by the application at millisecond
//! precision (both backends then store the same value), RFC 3339 on the wire.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde::Serializer;

/// The current UTC time truncated to milliseconds.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(3)
}

/// Serialises as `2026-11-25T09:44:51.123Z`.
pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!(
        "{}",
        t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ")
    ))
}

pub fn to_rfc3339(t: &NaiveDateTime) -> String {
    DateTime::<Utc>::from_naive_utc_and_offset(*t, Utc)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_micro_opt(9, 44, 51, 123_456)
            .unwrap();
        assert_eq!(to_rfc3339(&t), "2026-11-25T09:44:51.123Z");
        let mut out = Vec::new();
        serialize(&t, &mut serde_json::Serializer::new(&mut out)).unwrap();
        assert_eq!(out, b"\"2026-11-25T09:44:51.123Z\"");
    }

    #[test]
    fn now_has_no_sub_millisecond_part() {
        assert_eq!(now().and_utc().timestamp_subsec_nanos() % 1_000_000, 0);
    }
}
