//! How `hornet sub` prints a message: the default (payload, or
//! `topic payload` with `-v`, `-N` without the newline), and `-F` format
//! strings as `mosquitto_sub -F` reads them.
//!
//! `-F` codes: `%t` topic, `%p` payload, `%q` QoS, `%r` retain flag, `%l`
//! payload length, `%m` message id, `%x`/`%X` payload in hex, `%I` ISO 8601
//! time, `%U` Unix time with nanoseconds, `%j` JSON, `%J` JSON with the
//! payload embedded as JSON, `%%`; MQTT 5 properties `%A` topic alias,
//! `%C` content type, `%D` correlation data, `%E` message expiry interval,
//! `%F` payload format indicator, `%P` user properties (`name:value`,
//! space separated), `%R` response topic, `%S` subscription identifier.
//! Escapes: `\n \t \r \a \e \v \\ \0`.
//!
//! Field widths as mosquitto_sub 2.0.11 has them: `%10t`, `%-10t` (left
//! aligned), `%05l` (zero padded) for the topic, `%I`, the numbers and the
//! property codes (an absent property is all padding); `%10p`, `%10x`
//! also cut the payload (see [`payload`]); `%q %r %U %D %P %j %J` take no
//! width. `@` codes are `strftime`'s (`@Y-@m-@dT@H:@M:@S`), `@N` the
//! nanoseconds, `@@` an `@`. [`check`] refuses a format mosquitto_sub
//! refuses, with its words. Times are UTC (`+0000`), where Mosquitto
//! uses the local time zone.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use hornet_codec::{Property, Publish};

/// How messages are printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Output {
    /// `-v`: `topic payload`.
    pub(crate) verbose: bool,
    /// `-N`: no newline after the message.
    pub(crate) no_eol: bool,
    /// `-F`: a format string.
    pub(crate) format: Option<String>,
    /// `--pretty`: `%j` / `%J` laid out on several lines.
    pub(crate) pretty: bool,
}

impl Output {
    /// The bytes to print for `msg` received at `now`; `Err` carries a
    /// message for stderr (e.g. `%J` with a payload that is not JSON).
    pub(crate) fn render(&self, msg: &Publish, now: SystemTime) -> (Vec<u8>, Option<String>) {
        let mut out = Vec::new();
        if let Some(format) = &self.format {
            let warning = formatted(&mut out, format, msg, now, self.pretty);
            if !self.no_eol {
                out.push(b'\n');
            }
            return (out, warning);
        }
        // mosquitto_sub's print_message: an empty payload prints
        // `topic (null)` with -v and nothing without.
        if self.verbose {
            if msg.payload.is_empty() {
                if !self.no_eol {
                    let _ = writeln!(out, "{} (null)", msg.topic);
                }
            } else {
                out.extend_from_slice(msg.topic.as_bytes());
                out.push(b' ');
                out.extend_from_slice(&msg.payload);
                if !self.no_eol {
                    out.push(b'\n');
                }
            }
        } else if !msg.payload.is_empty() {
            out.extend_from_slice(&msg.payload);
            if !self.no_eol {
                out.push(b'\n');
            }
        }
        (out, None)
    }
}

fn prop<'a, T>(msg: &'a Publish, f: impl Fn(&'a Property) -> Option<T>) -> Option<T> {
    msg.properties.iter().find_map(f)
}

/// The `%` codes mosquitto_sub 2.0 knows.
const CODES: &str = "%ACDEFIjJlmPpqRrStUxX";
/// The `\` escapes mosquitto_sub 2.0 knows.
const ESCAPES: &str = "\\0aenrtv";

/// Checks a `-F` format as mosquitto_sub does before connecting; the
/// error is its message.
pub(crate) fn check(format: &str) -> Result<(), String> {
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let _ = spec(&mut chars);
                match chars.next() {
                    None => return Err("Error: Incomplete format specifier.".into()),
                    Some(code) if !CODES.contains(code) => {
                        return Err(format!("Error: Invalid format specifier '{code}'."))
                    }
                    Some(_) => {}
                }
            }
            '@' if chars.next().is_none() => {
                return Err("Error: Incomplete format specifier.".into());
            }
            '\\' => match chars.next() {
                None => return Err("Error: Incomplete escape specifier.".into()),
                Some(e) if !ESCAPES.contains(e) => {
                    return Err(format!("Error: Invalid escape specifier '{e}'."))
                }
                Some(_) => {}
            },
            _ => {}
        }
    }
    Ok(())
}

/// The flags and width between `%` and the code: `%-10p`, `%08x`.
/// A precision (`.3`) is read and ignored, as mosquitto_sub 2.0 does.
#[derive(Debug, Clone, Copy, Default)]
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
}

fn spec(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Spec {
    let mut s = Spec::default();
    if chars.peek() == Some(&'-') {
        s.left = true;
        chars.next();
    }
    if chars.peek() == Some(&'0') {
        s.zero = true;
        chars.next();
    }
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        s.width = s.width.saturating_mul(10).saturating_add(d as usize);
        chars.next();
    }
    if chars.peek() == Some(&'.') {
        chars.next();
        while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
            chars.next();
        }
    }
    s
}

/// A text field, space padded to the width (never cut).
fn text(out: &mut Vec<u8>, s: &[u8], spec: Spec) {
    let pad = spec.width.saturating_sub(s.len());
    if !spec.left {
        out.resize(out.len() + pad, b' ');
    }
    out.extend_from_slice(s);
    if spec.left {
        out.resize(out.len() + pad, b' ');
    }
}

/// A number, padded with spaces or (`%0N`) zeros; left aligned with `-`.
fn number(out: &mut Vec<u8>, n: impl std::fmt::Display, spec: Spec) {
    let w = spec.width;
    let _ = match (spec.left, spec.zero) {
        (true, _) => write!(out, "{n:<w$}"),
        (false, true) => write!(out, "{n:0>w$}"),
        (false, false) => write!(out, "{n:>w$}"),
    };
}

/// How a payload is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    Raw,
    Hex,
    HexUpper,
}

/// `%p`, `%x`, `%X` with a width, exactly as mosquitto_sub 2.0.11's
/// `write_payload`: a width cuts a longer payload to that many bytes,
/// and in hex counts bytes from the width halved (`%8x` of `hello` is
/// `    6865`); the pad is spaces or zeros.
fn payload(out: &mut Vec<u8>, data: &[u8], mode: Payload, spec: Spec) {
    let w = spec.width;
    let mut len = data.len();
    let pad = if w > 0 {
        len = len.min(w);
        if mode == Payload::Raw {
            w - len
        } else {
            len /= 2;
            w - len * 2
        }
    } else {
        0
    };
    let fill = if spec.zero && !spec.left { b'0' } else { b' ' };
    if !spec.left {
        out.resize(out.len() + pad, fill);
    }
    match mode {
        Payload::Raw => out.extend_from_slice(&data[..len]),
        Payload::Hex => data[..len]
            .iter()
            .for_each(|b| push(out, format_args!("{b:02x}"))),
        Payload::HexUpper => data[..len]
            .iter()
            .for_each(|b| push(out, format_args!("{b:02X}"))),
    }
    if spec.left {
        out.resize(out.len() + pad, b' ');
    }
}

/// Expands `format` for `msg` into `out`; returns a warning for stderr.
fn formatted(
    out: &mut Vec<u8>,
    format: &str,
    msg: &Publish,
    now: SystemTime,
    pretty: bool,
) -> Option<String> {
    let mut warning = None;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let sp = spec(&mut chars);
                let Some(code) = chars.next() else {
                    out.push(b'%');
                    break;
                };
                let string = |out: &mut Vec<u8>, v: Option<String>| {
                    text(out, v.unwrap_or_default().as_bytes(), sp)
                };
                let int = |out: &mut Vec<u8>, v: Option<u64>| match v {
                    Some(n) => number(out, n, sp),
                    None => text(out, b"", sp),
                };
                match code {
                    '%' => out.push(b'%'),
                    't' => text(out, msg.topic.as_bytes(), sp),
                    'p' => payload(out, &msg.payload, Payload::Raw, sp),
                    'x' => payload(out, &msg.payload, Payload::Hex, sp),
                    'X' => payload(out, &msg.payload, Payload::HexUpper, sp),
                    'q' => push(out, msg.qos as u8),
                    'r' => push(out, u8::from(msg.retain)),
                    'l' => number(out, msg.payload.len(), sp),
                    'm' => number(out, msg.packet_id.map_or(0, |id| id.get()), sp),
                    'I' => text(out, iso8601(now, false).as_bytes(), sp),
                    'U' => {
                        let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
                        push(out, format_args!("{}.{:09}", d.as_secs(), d.subsec_nanos()));
                    }
                    'j' => out.extend_from_slice(json(msg, now, false, pretty).as_bytes()),
                    'J' => {
                        if !msg.payload.is_empty()
                            && serde_json::from_slice::<serde_json::Value>(&msg.payload).is_err()
                        {
                            warning = Some(format!(
                                "Error: Message payload is not valid JSON on topic {}.",
                                msg.topic
                            ));
                        } else {
                            out.extend_from_slice(json(msg, now, true, pretty).as_bytes());
                        }
                    }
                    'A' => int(
                        out,
                        prop(msg, |p| match p {
                            Property::TopicAlias(a) => Some(u64::from(*a)),
                            _ => None,
                        }),
                    ),
                    'C' => string(
                        out,
                        prop(msg, |p| match p {
                            Property::ContentType(s) => Some(s.to_string()),
                            _ => None,
                        }),
                    ),
                    'D' => {
                        if let Some(d) = prop(msg, |p| match p {
                            Property::CorrelationData(d) => Some(d),
                            _ => None,
                        }) {
                            out.extend_from_slice(d);
                        }
                    }
                    'E' => int(
                        out,
                        prop(msg, |p| match p {
                            Property::MessageExpiryInterval(s) => Some(u64::from(*s)),
                            _ => None,
                        }),
                    ),
                    'F' => int(
                        out,
                        prop(msg, |p| match p {
                            Property::PayloadFormatIndicator(s) => Some(u64::from(*s)),
                            _ => None,
                        }),
                    ),
                    'P' => {
                        let pairs: Vec<String> = msg
                            .properties
                            .user_properties()
                            .map(|(k, v)| format!("{k}:{v}"))
                            .collect();
                        out.extend_from_slice(pairs.join(" ").as_bytes());
                    }
                    'R' => string(
                        out,
                        prop(msg, |p| match p {
                            Property::ResponseTopic(s) => Some(s.to_string()),
                            _ => None,
                        }),
                    ),
                    'S' => {
                        let ids: Vec<u64> = msg
                            .properties
                            .subscription_identifiers()
                            .map(u64::from)
                            .collect();
                        match ids.as_slice() {
                            [] => text(out, b"", sp),
                            [one] => number(out, one, sp),
                            many => {
                                let all: Vec<String> = many.iter().map(|i| i.to_string()).collect();
                                text(out, all.join(" ").as_bytes(), sp)
                            }
                        }
                    }
                    other => {
                        out.push(b'%');
                        push(out, other);
                    }
                }
            }
            '@' => match chars.next() {
                Some('@') => out.push(b'@'),
                Some(code) => strftime(out, code, now),
                None => out.push(b'@'),
            },
            '\\' => match chars.next() {
                Some('n') => out.push(b'\n'),
                Some('t') => out.push(b'\t'),
                Some('r') => out.push(b'\r'),
                Some('a') => out.push(0x07),
                Some('e') => out.push(0x1b),
                Some('v') => out.push(0x0b),
                Some('0') => out.push(0),
                Some('\\') => out.push(b'\\'),
                Some(other) => {
                    out.push(b'\\');
                    push(out, other);
                }
                None => out.push(b'\\'),
            },
            other => push(out, other),
        }
    }
    warning
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `format` with `strftime`'s `%` codes (UTC, the codes of [`strftime`])
/// for `now`: the log's `log_timestamp_format`.
pub(crate) fn strftime_text(format: &str, now: SystemTime) -> String {
    let mut out = Vec::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some(code) => strftime(&mut out, code, now),
                None => out.push(b'%'),
            },
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One `@` time code: `strftime`'s `%<code>` (UTC), and `@N` the
/// nanoseconds, as mosquitto_sub's `-F` has them. An unknown code is
/// written as is (`%q`), as glibc's strftime does.
fn strftime(out: &mut Vec<u8>, code: char, now: SystemTime) {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let (y, m, day) = civil_from_days(days);
    let rem = secs % 86_400;
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let wday = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let yday = days - days_from_civil(y, 1, 1) + 1;
    let h12 = if hh % 12 == 0 { 12 } else { hh % 12 };
    let month = MONTHS[(m - 1) as usize];
    let _ = match code {
        'Y' => write!(out, "{y}"),
        'C' => write!(out, "{:02}", y.div_euclid(100)),
        'y' => write!(out, "{:02}", y.rem_euclid(100)),
        'm' => write!(out, "{m:02}"),
        'd' => write!(out, "{day:02}"),
        'e' => write!(out, "{day:>2}"),
        'H' => write!(out, "{hh:02}"),
        'k' => write!(out, "{hh:>2}"),
        'I' => write!(out, "{h12:02}"),
        'l' => write!(out, "{h12:>2}"),
        'M' => write!(out, "{mm:02}"),
        'S' => write!(out, "{ss:02}"),
        'N' => write!(out, "{:09}", d.subsec_nanos()),
        'p' => write!(out, "{}", if hh < 12 { "AM" } else { "PM" }),
        'P' => write!(out, "{}", if hh < 12 { "am" } else { "pm" }),
        'j' => write!(out, "{yday:03}"),
        'a' => write!(out, "{}", &DAYS[wday][..3]),
        'A' => write!(out, "{}", DAYS[wday]),
        'u' => write!(out, "{}", if wday == 0 { 7 } else { wday }),
        'w' => write!(out, "{wday}"),
        'b' | 'h' => write!(out, "{}", &month[..3]),
        'B' => write!(out, "{month}"),
        's' => write!(out, "{secs}"),
        'z' => write!(out, "+0000"),
        'Z' => write!(out, "UTC"),
        'F' => write!(out, "{y:04}-{m:02}-{day:02}"),
        'D' => write!(out, "{m:02}/{day:02}/{:02}", y.rem_euclid(100)),
        'T' => write!(out, "{hh:02}:{mm:02}:{ss:02}"),
        'R' => write!(out, "{hh:02}:{mm:02}"),
        'n' => out.write_all(b"\n"),
        't' => out.write_all(b"\t"),
        '%' => out.write_all(b"%"),
        other => write!(out, "%{other}"),
    };
}

/// Days since 1970-01-01 of a date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `%j` / `%J`: the message as one JSON object, keys in mosquitto_sub's
/// order (`mid` at QoS 1 and 2); MQTT 5 properties in a `properties` object when the message
/// has any (in the order received; user properties gathered in one
/// `user-properties` object where the first one was), as mosquitto_sub
/// 2.0 prints them.
fn json(msg: &Publish, now: SystemTime, embed: bool, pretty: bool) -> String {
    let payload = if msg.payload.is_empty() {
        "null".to_string()
    } else if embed {
        match std::str::from_utf8(&msg.payload) {
            Ok(text) if serde_json::from_str::<serde_json::Value>(text).is_ok() => {
                layout(text, false)
            }
            _ => "null".into(),
        }
    } else {
        quote(&String::from_utf8_lossy(&msg.payload))
    };
    let mut out = format!(
        "{{\"tst\":{},\"topic\":{},\"qos\":{},\"retain\":{},\"payloadlen\":{},",
        quote(&iso8601(now, true)),
        quote(&msg.topic),
        msg.qos as u8,
        u8::from(msg.retain),
        msg.payload.len()
    );
    if let Some(id) = msg.packet_id {
        out.push_str(&format!("\"mid\":{id},"));
    }
    if !msg.properties.is_empty() {
        out.push_str("\"properties\":{");
        out.push_str(&json_properties(msg));
        out.push_str("},");
    }
    out.push_str("\"payload\":");
    out.push_str(&payload);
    out.push('}');
    if pretty {
        layout(&out, true)
    } else {
        out
    }
}

/// Valid JSON text laid out as cJSON prints it: minified (keys in their
/// order, no whitespace), or with `pretty` (`--pretty`) one member a
/// line, tab indented, `"key":<tab>value`, arrays on one line (`[1, 2]`).
fn layout(text: &str, pretty: bool) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    // true for an object, false for an array
    let mut stack: Vec<bool> = Vec::new();
    let (mut in_string, mut escaped, mut indent) = (false, false, false);
    let tabs = |out: &mut String, n: usize| out.extend(std::iter::repeat('\t').take(n));
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if !pretty {
            in_string = c == '"';
            out.push(c);
            continue;
        }
        match c {
            '{' => {
                stack.push(true);
                out.push_str("{\n");
                indent = true;
            }
            '[' => {
                stack.push(false);
                out.push('[');
            }
            '}' => {
                stack.pop();
                if !indent {
                    out.push('\n');
                }
                indent = false;
                tabs(&mut out, stack.len());
                out.push('}');
            }
            ']' => {
                stack.pop();
                out.push(']');
            }
            ',' if stack.last() == Some(&true) => {
                out.push_str(",\n");
                indent = true;
            }
            ',' => out.push_str(", "),
            ':' => out.push_str(":\t"),
            other => {
                if indent {
                    tabs(&mut out, stack.len());
                    indent = false;
                }
                in_string = other == '"';
                out.push(other);
            }
        }
    }
    out
}

/// The members of mosquitto_sub's `properties` object.
fn json_properties(msg: &Publish) -> String {
    let mut fields: Vec<String> = Vec::new();
    let mut users: Option<usize> = None;
    for p in msg.properties.iter() {
        let field = match p {
            Property::PayloadFormatIndicator(v) => format!("\"payload-format-indicator\":{v}"),
            Property::MessageExpiryInterval(v) => format!("\"message-expiry-interval\":{v}"),
            Property::CorrelationData(d) => format!(
                "\"correlation-data\":{}",
                quote(&String::from_utf8_lossy(d))
            ),
            Property::ContentType(s) => format!("\"content-type\":{}", quote(s)),
            Property::ResponseTopic(s) => format!("\"response-topic\":{}", quote(s)),
            Property::UserProperty(k, v) => {
                let pair = format!("{}:{}", quote(k), quote(v));
                match users {
                    Some(i) => {
                        let f: &mut String = &mut fields[i];
                        f.pop();
                        f.push(',');
                        f.push_str(&pair);
                        f.push('}');
                    }
                    None => {
                        users = Some(fields.len());
                        fields.push(format!("\"user-properties\":{{{pair}}}"));
                    }
                }
                continue;
            }
            _ => continue,
        };
        fields.push(field);
    }
    fields.join(",")
}

fn push(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `2026-11-24T00:14:45+0000`, or with microseconds as in mosquitto_sub's
/// JSON (`2026-11-24T00:14:45.890796Z+0000`); UTC.
pub(crate) fn iso8601(now: SystemTime, micros: bool) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if micros {
        format!(
            "{y:04}-{m:02}-{day:02}T{hh:02}:{mm:02}:{ss:02}.{:06}Z+0000",
            d.subsec_micros()
        )
    } else {
        format!("{y:04}-{m:02}-{day:02}T{hh:02}:{mm:02}:{ss:02}+0000")
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::{PacketId, QoS};
    use std::time::Duration;

    fn msg() -> Publish {
        let mut p = Publish::new("r/2", "{\"a\":1}");
        p.qos = QoS::AtLeastOnce;
        p.packet_id = PacketId::new(7);
        p.retain = true;
        p.properties.push(Property::ContentType("text/json".into()));
        p.properties
            .push(Property::UserProperty("k".into(), "v".into()));
        p.properties
            .push(Property::UserProperty("k2".into(), "v2".into()));
        p.properties.push(Property::ResponseTopic("rt".into()));
        p.properties.push(Property::CorrelationData("cd".into()));
        p.properties.push(Property::MessageExpiryInterval(100));
        p.properties.push(Property::PayloadFormatIndicator(1));
        p.properties.push(Property::SubscriptionIdentifier(4));
        p
    }

    /// 2026-11-24T00:14:45.890796 UTC, as in the mosquitto_sub transcript.
    fn when() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_795_479_285, 890_796_123)
    }

    fn fmt(format: &str, m: &Publish) -> String {
        let o = Output {
            format: Some(format.into()),
            no_eol: true,
            ..Default::default()
        };
        String::from_utf8(o.render(m, when()).0).unwrap()
    }

    /// The same fields mosquitto_sub 2.0.11 printed for the same message.
    #[test]
    fn format_codes_match_mosquitto_sub() {
        let m = msg();
        assert_eq!(
            fmt(
                "%t|%p|%q|%r|%l|%m|%x|%X|%U|%I|%%|\\t|%C|%D|%E|%F|%P|%R|%S|%A",
                &m
            ),
            "r/2|{\"a\":1}|1|1|7|7|7b2261223a317d|7B2261223A317D|1795479285.890796123|\
             2026-11-24T00:14:45+0000|%|\t|text/json|cd|100|1|k:v k2:v2|rt|4|"
        );
        let props = "\"properties\":{\"content-type\":\"text/json\",\
                     \"user-properties\":{\"k\":\"v\",\"k2\":\"v2\"},\"response-topic\":\"rt\",\
                     \"correlation-data\":\"cd\",\"message-expiry-interval\":100,\
                     \"payload-format-indicator\":1}";
        assert_eq!(
            fmt("%j", &m),
            format!(
                "{{\"tst\":\"2026-11-24T00:14:45.890796Z+0000\",\"topic\":\"r/2\",\"qos\":1,\
                 \"retain\":1,\"payloadlen\":7,\"mid\":7,{props},\"payload\":\"{{\\\"a\\\":1}}\"}}"
            )
        );
        assert_eq!(
            fmt("%J", &m),
            format!(
                "{{\"tst\":\"2026-11-24T00:14:45.890796Z+0000\",\"topic\":\"r/2\",\"qos\":1,\
                 \"retain\":1,\"payloadlen\":7,\"mid\":7,{props},\"payload\":{{\"a\":1}}}}"
            )
        );
        let empty = Publish::new("r/3", "");
        assert!(fmt("%j", &empty).ends_with("\"payloadlen\":0,\"payload\":null}"));
        let not_json = Publish::new("r/1", "x");
        let o = Output {
            format: Some("%J".into()),
            ..Default::default()
        };
        let (bytes, warning) = o.render(&not_json, when());
        assert_eq!(bytes, b"\n");
        assert_eq!(
            warning.as_deref(),
            Some("Error: Message payload is not valid JSON on topic r/1.")
        );
        assert_eq!(fmt("a\\nb\\\\%z%", &m), "a\nb\\%z%");
    }

    /// mosquitto_sub's print_message: `-v`, `-N` and empty payloads.
    #[test]
    fn default_output_matches_mosquitto_sub() {
        let hello = Publish::new("a/b", "hello");
        let empty = Publish::new("a/c", "");
        let render = |verbose, no_eol, m: &Publish| {
            Output {
                verbose,
                no_eol,
                format: None,
                pretty: false,
            }
            .render(m, when())
            .0
        };
        assert_eq!(render(false, false, &hello), b"hello\n");
        assert_eq!(render(true, false, &hello), b"a/b hello\n");
        assert_eq!(render(true, true, &hello), b"a/b hello");
        assert_eq!(render(false, true, &hello), b"hello");
        assert_eq!(render(true, false, &empty), b"a/c (null)\n");
        assert_eq!(render(false, false, &empty), b"");
        assert_eq!(render(true, true, &empty), b"");
    }

    /// Field widths, checked against mosquitto_sub 2.0.11's output for
    /// the same message (payload `hello`, topic `f/a`, mid 1).
    #[test]
    fn widths_match_mosquitto_sub() {
        let mut m = Publish::new("f/a", "hello");
        m.qos = QoS::AtLeastOnce;
        m.packet_id = PacketId::new(1);
        m.properties
            .push(Property::ContentType("text/plain".into()));
        m.properties.push(Property::MessageExpiryInterval(100));
        m.properties.push(Property::PayloadFormatIndicator(1));
        m.properties.push(Property::ResponseTopic("rt".into()));
        m.properties.push(Property::CorrelationData("cd".into()));
        m.properties
            .push(Property::UserProperty("k".into(), "v".into()));
        assert_eq!(fmt("[%05t][%2t][%-05t]", &m), "[  f/a][f/a][f/a  ]");
        assert_eq!(
            fmt("[%010m][%-5m][%-05l][%2l]", &m),
            "[0000000001][1    ][5    ][ 5]"
        );
        assert_eq!(
            fmt("[%12C][%5S][%10P][%6E][%4F][%4A][%5R][%5D]", &m),
            "[  text/plain][     ][k:v][   100][   1][    ][   rt][cd]"
        );
        assert_eq!(
            fmt("[%-12C][%-6E][%06E]", &m),
            "[text/plain  ][100   ][000100]"
        );
        assert_eq!(
            fmt(
                "[%3p][%-8x][%3x][%1x][%010p][%5.2p][%-10p][%08x][%5X][%3q][%-3r]",
                &m
            ),
            "[hel][6865    ][ 68][ ][00000hello][hello][hello     ][00006865][ 6865][1][0]"
        );
        assert_eq!(
            fmt("[%30I][%-30I][%2I]", &m),
            "[      2026-11-24T00:14:45+0000][2026-11-24T00:14:45+0000      ]\
             [2026-11-24T00:14:45+0000]"
        );
        assert_eq!(fmt("%5%", &m), "%");
    }

    /// `@` time codes (UTC) and mosquitto_sub's refusals of bad formats.
    #[test]
    fn time_codes_and_checks() {
        let m = Publish::new("t", "");
        assert_eq!(
            fmt(
                "@Y-@m-@dT@H:@M:@S @N @@ @a @A @b @B @j @u @w @y @e @s @Z @z @F @T @p @q",
                &m
            ),
            "2026-11-24T00:14:45 890796123 @ Tue Tuesday Nov November 328 2 2 26 24 \
             1795479285 UTC +0000 2026-11-24 00:14:45 AM %q"
        );
        assert_eq!(check("%t %-08p @H \\n"), Ok(()));
        assert_eq!(
            check("%"),
            Err("Error: Incomplete format specifier.".into())
        );
        assert_eq!(
            check("%-5"),
            Err("Error: Incomplete format specifier.".into())
        );
        assert_eq!(
            check("x@"),
            Err("Error: Incomplete format specifier.".into())
        );
        assert_eq!(
            check("%z"),
            Err("Error: Invalid format specifier 'z'.".into())
        );
        assert_eq!(
            check("\\q"),
            Err("Error: Invalid escape specifier 'q'.".into())
        );
    }

    /// `--pretty` lays JSON out as mosquitto_sub's cJSON does; `%J` keeps
    /// the payload's key order.
    #[test]
    fn pretty_json_matches_mosquitto_sub() {
        let m = Publish::new(
            "f/a",
            "{\"b\":1, \"a\":[1,{\"x\":{}},[]], \"s\":\"q\\\"uo , : {\"}",
        );
        let o = Output {
            format: Some("%J".into()),
            no_eol: true,
            pretty: true,
            ..Default::default()
        };
        let text = String::from_utf8(o.render(&m, when()).0).unwrap();
        assert_eq!(
            text,
            "{\n\t\"tst\":\t\"2026-11-24T00:14:45.890796Z+0000\",\n\t\"topic\":\t\"f/a\",\n\
             \t\"qos\":\t0,\n\t\"retain\":\t0,\n\t\"payloadlen\":\t47,\n\t\"payload\":\t{\n\
             \t\t\"b\":\t1,\n\t\t\"a\":\t[1, {\n\t\t\t\t\"x\":\t{\n\t\t\t\t}\n\t\t\t}, []],\n\
             \t\t\"s\":\t\"q\\\"uo , : {\"\n\t}\n}"
        );
        assert!(fmt("%J", &m)
            .ends_with("\"payload\":{\"b\":1,\"a\":[1,{\"x\":{}},[]],\"s\":\"q\\\"uo , : {\"}}"));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(iso8601(UNIX_EPOCH, false), "1970-01-01T00:00:00+0000");
    }
}
