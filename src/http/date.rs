//! HTTP dates (RFC 9110 §5.6.7, IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
//!
//! The `Date` header is rendered once a second into a shared line that every
//! response of that second points to ([`DateLine`]); `Last-Modified` is
//! rendered once per cached file.

use std::io::Write;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // 1970-01-01 was a Thursday
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the Unix epoch, or `None` before it or past year 9999 (the
/// format has four year digits).
pub fn unix_seconds(t: SystemTime) -> Option<u64> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    (secs < 253_402_300_800).then_some(secs) // 10000-01-01
}

/// Formats Unix seconds as an IMF-fixdate.
pub fn format(unix: u64) -> String {
    let mut buf = Vec::with_capacity(IMF_LEN);
    // Writing to a Vec cannot fail.
    let _ = write_imf(unix, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Length of an IMF-fixdate.
pub const IMF_LEN: usize = 29;

/// Writes Unix seconds as an IMF-fixdate, allocating nothing.
pub fn write_imf(unix: u64, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let days = unix / 86_400;
    let rem = unix % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    write!(
        out,
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31) in the proleptic
/// Gregorian calendar. Howard Hinnant's `civil_from_days` algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The `Date: ...\r\n` header line, re-rendered when the second changes and
/// shared by every response sent within that second.
#[derive(Debug)]
pub struct DateLine {
    second: Option<u64>,
    line: Rc<[u8]>,
}

impl Default for DateLine {
    fn default() -> Self {
        DateLine {
            second: None,
            line: Rc::from(&b""[..]),
        }
    }
}

impl DateLine {
    /// Brings the line up to `now`. When the clock cannot give a time the
    /// line is empty: RFC 9110 §6.6.1 says an origin server without a
    /// reliable clock must not send `Date`.
    pub fn update(&mut self, now: SystemTime) {
        let second = unix_seconds(now);
        if second != self.second {
            self.second = second;
            self.line = match second {
                // Rendered on the stack: the shared line is the only allocation.
                Some(s) => {
                    let mut buf = [0u8; 6 + IMF_LEN + 2];
                    let mut cursor = &mut buf[..];
                    let _ = cursor.write_all(b"Date: ");
                    let _ = write_imf(s, &mut cursor);
                    let _ = cursor.write_all(b"\r\n");
                    Rc::from(&buf[..])
                }
                None => Rc::from(&b""[..]),
            };
        }
    }

    /// The current line, ready to be queued.
    pub fn line(&self) -> &Rc<[u8]> {
        &self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn format_table() {
        let cases: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"), // RFC 9110's example
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (2_085_978_496, "Thu, 07 Feb 2036 06:28:16 GMT"), // the RFC 868 wrap
            (1_795_000_000, "Wed, 18 Nov 2026 11:06:40 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for &(unix, want) in cases {
            assert_eq!(format(unix), want, "unix {unix}");
        }
    }

    #[test]
    fn date_line_follows_the_second_and_the_clock() {
        let mut d = DateLine::default();
        d.update(UNIX_EPOCH + Duration::from_millis(784_111_777_100));
        assert_eq!(&d.line()[..], b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        let first = Rc::clone(d.line());
        d.update(UNIX_EPOCH + Duration::from_millis(784_111_777_900));
        assert!(Rc::ptr_eq(&first, d.line()), "same second, same line");
        d.update(UNIX_EPOCH - Duration::from_secs(5));
        assert!(d.line().is_empty(), "no clock, no Date");
    }
}
