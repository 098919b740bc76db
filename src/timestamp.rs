//! Timestamps: naive UTC in the database, set by the application at millisecond
//! precision (both backends then store the same value), RFC 3339 on the wire.

use chrono::{Datelike, NaiveDateTime, SubsecRound, Timelike, Utc};
use serde::Serializer;

/// The current UTC time truncated to milliseconds.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(3)
}

/// Serialises as `2026-11-25T09:44:51.123Z`.
pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    let buf = rfc3339_bytes(t);
    // Only ASCII digits and separators are written.
    s.serialize_str(std::str::from_utf8(&buf).unwrap_or_default())
}

pub fn to_rfc3339(t: &NaiveDateTime) -> String {
    String::from_utf8_lossy(&rfc3339_bytes(t)).into_owned()
}

/// Formats without chrono's format-string interpreter, which showed up in
/// profiles of list responses (40 timestamps a page).
fn rfc3339_bytes(t: &NaiveDateTime) -> [u8; 24] {
    fn put(buf: &mut [u8], mut value: u32) {
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    let mut b = *b"0000-00-00T00:00:00.000Z";
    put(&mut b[0..4], t.year().clamp(0, 9999) as u32);
    put(&mut b[5..7], t.month());
    put(&mut b[8..10], t.day());
    put(&mut b[11..13], t.hour());
    put(&mut b[14..16], t.minute());
    put(&mut b[17..19], t.second());
    put(&mut b[20..23], (t.nanosecond() / 1_000_000).min(999));
    b
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
    fn formats_like_chrono_does() {
        for t in [
            chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc(),
            chrono::DateTime::from_timestamp(1_795_603_416, 7_000_000)
                .unwrap()
                .naive_utc(),
            now(),
        ] {
            let expected = t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            assert_eq!(to_rfc3339(&t), expected);
        }
    }

    #[test]
    fn now_has_no_sub_millisecond_part() {
        assert_eq!(now().and_utc().timestamp_subsec_nanos() % 1_000_000, 0);
    }
}
