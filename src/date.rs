//! Dates: IMF-fixdate and CLF stamps, the Date line rendered once a second, HTTP-date parsing.
//!
//! Dates as the server writes and reads them: HTTP dates (RFC 9110 §5.6.7,
//! IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`) for HTTP and the `rdate`
//! client, and the Common Log Format's stamp for the access log. A leaf:
//! Unix seconds in, bytes out (and back), no other module needed.
//!
//! The `Date` header is rendered once a second into a shared line that every
//! response of that second points to ([`DateLine`]); `Last-Modified` is
//! rendered once per cached file. [`parse`] reads the dates clients send in
//! `If-Modified-Since`, `If-Unmodified-Since` and `If-Range`, in all three
//! forms a recipient must accept.

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

/// A Unix second broken into the fields dates are written with.
struct Fields {
    weekday: &'static str,
    day: u32,
    month: &'static str,
    year: i64,
    hour: u64,
    minute: u64,
    second: u64,
}

impl Fields {
    fn of(unix: u64) -> Fields {
        let days = unix / 86_400;
        let rem = unix % 86_400;
        let (year, month, day) = civil_from_days(days as i64);
        Fields {
            weekday: DAYS[(days % 7) as usize],
            day,
            month: MONTHS[(month - 1) as usize],
            year,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
        }
    }
}

/// Writes Unix seconds as an IMF-fixdate, allocating nothing.
pub fn write_imf(unix: u64, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let f = Fields::of(unix);
    write!(
        out,
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        f.weekday, f.day, f.month, f.year, f.hour, f.minute, f.second
    )
}

/// Writes Unix seconds as the Common Log Format's time stamp,
/// `25/Nov/2026:16:40:00 +0000` (always UTC).
pub fn write_clf(unix: u64, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let f = Fields::of(unix);
    write!(
        out,
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        f.day, f.month, f.year, f.hour, f.minute, f.second
    )
}

/// Writes Unix seconds as RFC 3339 in UTC, `2026-11-25T16:40:00Z`: the
/// stamp of a log line.
pub fn write_rfc3339(unix: u64, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let f = Fields::of(unix);
    let month = MONTHS.iter().position(|&m| m == f.month).unwrap_or(0) + 1;
    write!(
        out,
        "{:04}-{month:02}-{:02}T{:02}:{:02}:{:02}Z",
        f.year, f.day, f.hour, f.minute, f.second
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

/// Days from 1970-01-01 to a (year, month 1-12, day 1-31) date; the inverse
/// of [`civil_from_days`] (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an HTTP-date (RFC 9110 §5.6.7) to Unix seconds: the IMF-fixdate
/// every sender must use (`Sun, 06 Nov 1994 08:49:37 GMT`) and the two
/// obsolete forms a recipient must still accept, RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`, a two-digit year below 70 meaning
/// 20xx) and asctime (`Sun Nov  6 08:49:37 1994`). Anything else, or a date
/// before 1970, is `None`: a condition with an invalid date is ignored.
pub fn parse(s: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(s).ok()?.trim_matches(' ');
    let (year, month, day, time) = if let Some((weekday, rest)) = s.split_once(", ") {
        if !weekday.bytes().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        // Split on spaces into a fixed array: parsing allocates nothing.
        let mut fields = [""; 5];
        let mut n = 0;
        for field in rest.split(' ') {
            *fields.get_mut(n)? = field;
            n += 1;
        }
        match fields[..n] {
            // IMF-fixdate: DD Mon YYYY HH:MM:SS GMT.
            [d, m, y, time, "GMT"] if d.len() == 2 && y.len() == 4 => {
                (digits(y)?, month_of(m)?, digits(d)?, time)
            }
            // RFC 850: DD-Mon-YY HH:MM:SS GMT.
            [date, time, "GMT"] => {
                let mut dmy = date.split('-');
                let (d, m, y) = (dmy.next()?, dmy.next()?, dmy.next()?);
                if d.len() != 2 || y.len() != 2 || dmy.next().is_some() {
                    return None;
                }
                let yy: i64 = digits(y)?;
                let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
                (year, month_of(m)?, digits(d)?, time)
            }
            _ => return None,
        }
    } else {
        // asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space).
        let mut fields = s.split(' ').filter(|f| !f.is_empty());
        let weekday = fields.next()?;
        let m = fields.next()?;
        let d = fields.next()?;
        let time = fields.next()?;
        let y = fields.next()?;
        if weekday.len() != 3 || y.len() != 4 || fields.next().is_some() {
            return None;
        }
        (digits(y)?, month_of(m)?, digits(d)?, time)
    };
    let mut hms = time.split(':');
    let (h, m, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec): (u64, u64, u64) = (digits(h)?, digits(m)?, digits(sec)?);
    if h > 23 || m > 59 || sec > 60 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// Parses one or more ASCII digits (no sign, at most 4).
fn digits<T: TryFrom<u64>>(s: &str) -> Option<T> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = s.bytes().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    T::try_from(n).ok()
}

fn month_of(name: &str) -> Option<u32> {
    MONTHS.iter().position(|&m| m == name).map(|i| i as u32 + 1)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
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

    /// The Unix second the line says, if the clock could tell.
    pub fn second(&self) -> Option<u64> {
        self.second
    }

    /// The current line, ready to be queued.
    pub fn line(&self) -> &Rc<[u8]> {
        &self.line
    }

    /// The HTTP-date alone, without `Date: ` and the line end (HTTP/2
    /// carries it as a field value); empty without a clock.
    pub fn value(&self) -> &[u8] {
        let line = &self.line[..];
        let line = line.strip_prefix(b"Date: ").unwrap_or(line);
        line.strip_suffix(b"\r\n").unwrap_or(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_stamps() {
        let mut out = Vec::new();
        write_rfc3339(1_000_000_000, &mut out).unwrap();
        assert_eq!(out, b"2001-09-09T01:46:40Z");
    }

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
    fn parse_reads_the_three_forms() {
        let cases: &[(&str, Option<u64>)] = &[
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(784_111_777)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(784_111_777)),
            ("Sun Nov  6 08:49:37 1994", Some(784_111_777)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Tue, 29 Feb 2000 00:00:00 GMT", Some(951_782_400)),
            ("Thursday, 07-Feb-36 06:28:16 GMT", Some(2_085_978_496)),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(253_402_300_799)),
            ("Sun, 06 Nov 1994 08:49:37 UTC", None),
            ("Sun, 6 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 94 08:49:37 GMT", None),
            ("Sun, 31 Feb 1994 08:49:37 GMT", None),
            ("Wed, 29 Feb 2023 00:00:00 GMT", None),
            ("Sun, 06 Nov 1994 24:00:00 GMT", None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49 GMT", None),
            ("Wed, 31 Dec 1969 23:59:59 GMT", None),
            ("yesterday", None),
            ("", None),
            ("\"etag\"", None),
        ];
        for &(text, want) in cases {
            assert_eq!(parse(text.as_bytes()), want, "{text}");
        }
    }

    #[test]
    fn clf_stamp() {
        let mut out = Vec::new();
        write_clf(784_111_777, &mut out).unwrap();
        assert_eq!(out, b"06/Nov/1994:08:49:37 +0000");
    }

    #[test]
    fn parse_inverts_format() {
        for unix in [
            0,
            1,
            59,
            86_399,
            86_400,
            951_782_400,
            1_795_000_000,
            4_102_444_800,
        ] {
            assert_eq!(parse(format(unix).as_bytes()), Some(unix), "{unix}");
        }
    }

    #[test]
    fn date_line_follows_the_second_and_the_clock() {
        let mut d = DateLine::default();
        d.update(UNIX_EPOCH + Duration::from_millis(784_111_777_100));
        assert_eq!(&d.line()[..], b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        assert_eq!(d.value(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        let first = Rc::clone(d.line());
        d.update(UNIX_EPOCH + Duration::from_millis(784_111_777_900));
        assert!(Rc::ptr_eq(&first, d.line()), "same second, same line");
        d.update(UNIX_EPOCH - Duration::from_secs(5));
        assert!(d.line().is_empty(), "no clock, no Date");
        assert!(d.value().is_empty());
    }
}
