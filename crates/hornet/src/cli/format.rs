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
//! Escapes: `\n \t \r \a \e \v \\ \0`. Times are UTC (`+0000`), where
//! Mosquitto uses the local time zone.

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
}

impl Output {
    /// The bytes to print for `msg` received at `now`; `Err` carries a
    /// message for stderr (e.g. `%J` with a payload that is not JSON).
    pub(crate) fn render(&self, msg: &Publish, now: SystemTime) -> (Vec<u8>, Option<String>) {
        let mut out = Vec::new();
        if let Some(format) = &self.format {
            let warning = formatted(&mut out, format, msg, now);
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

/// Expands `format` for `msg` into `out`; returns a warning for stderr.
fn formatted(out: &mut Vec<u8>, format: &str, msg: &Publish, now: SystemTime) -> Option<String> {
    let mut warning = None;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let Some(code) = chars.next() else {
                    out.push(b'%');
                    break;
                };
                match code {
                    '%' => out.push(b'%'),
                    't' => out.extend_from_slice(msg.topic.as_bytes()),
                    'p' => out.extend_from_slice(&msg.payload),
                    'q' => push(out, msg.qos as u8),
                    'r' => push(out, u8::from(msg.retain)),
                    'l' => push(out, msg.payload.len()),
                    'm' => push(out, msg.packet_id.map_or(0, |id| id.get())),
                    'x' => msg
                        .payload
                        .iter()
                        .for_each(|b| push(out, format_args!("{b:02x}"))),
                    'X' => msg
                        .payload
                        .iter()
                        .for_each(|b| push(out, format_args!("{b:02X}"))),
                    'I' => out.extend_from_slice(iso8601(now, false).as_bytes()),
                    'U' => {
                        let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
                        push(out, format_args!("{}.{:09}", d.as_secs(), d.subsec_nanos()));
                    }
                    'j' => out.extend_from_slice(json(msg, now, false).as_bytes()),
                    'J' => {
                        if !msg.payload.is_empty()
                            && serde_json::from_slice::<serde_json::Value>(&msg.payload).is_err()
                        {
                            warning = Some(format!(
                                "Error: Message payload is not valid JSON on topic {}.",
                                msg.topic
                            ));
                        } else {
                            out.extend_from_slice(json(msg, now, true).as_bytes());
                        }
                    }
                    'A' => opt(
                        out,
                        prop(msg, |p| match p {
                            Property::TopicAlias(a) => Some(a.to_string()),
                            _ => None,
                        }),
                    ),
                    'C' => opt(
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
                    'E' => opt(
                        out,
                        prop(msg, |p| match p {
                            Property::MessageExpiryInterval(s) => Some(s.to_string()),
                            _ => None,
                        }),
                    ),
                    'F' => opt(
                        out,
                        prop(msg, |p| match p {
                            Property::PayloadFormatIndicator(s) => Some(s.to_string()),
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
                    'R' => opt(
                        out,
                        prop(msg, |p| match p {
                            Property::ResponseTopic(s) => Some(s.to_string()),
                            _ => None,
                        }),
                    ),
                    'S' => {
                        let ids: Vec<String> = msg
                            .properties
                            .subscription_identifiers()
                            .map(|i| i.to_string())
                            .collect();
                        out.extend_from_slice(ids.join(" ").as_bytes());
                    }
                    other => {
                        out.push(b'%');
                        push(out, other);
                    }
                }
            }
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

fn push(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

fn opt(out: &mut Vec<u8>, value: Option<String>) {
    if let Some(v) = value {
        out.extend_from_slice(v.as_bytes());
    }
}

/// `%j` / `%J`: the message as one JSON object, keys in mosquitto_sub's order.
fn json(msg: &Publish, now: SystemTime, embed: bool) -> String {
    let payload = if msg.payload.is_empty() {
        serde_json::Value::Null
    } else if embed {
        serde_json::from_slice(&msg.payload).unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::Value::String(String::from_utf8_lossy(&msg.payload).into_owned())
    };
    let value = serde_json::json!({
        "tst": iso8601(now, true),
        "topic": msg.topic.to_string(),
        "qos": msg.qos as u8,
        "retain": u8::from(msg.retain),
        "payloadlen": msg.payload.len(),
        "payload": payload,
    });
    // serde_json's map keeps insertion order only with preserve_order;
    // write the fields by hand so the order is mosquitto_sub's.
    let field = |k: &str| serde_json::to_string(&value[k]).unwrap_or_default();
    format!(
        "{{\"tst\":{},\"topic\":{},\"qos\":{},\"retain\":{},\"payloadlen\":{},\"payload\":{}}}",
        field("tst"),
        field("topic"),
        field("qos"),
        field("retain"),
        field("payloadlen"),
        field("payload")
    )
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
        assert_eq!(
            fmt("%j", &m),
            "{\"tst\":\"2026-11-24T00:14:45.890796Z+0000\",\"topic\":\"r/2\",\"qos\":1,\
             \"retain\":1,\"payloadlen\":7,\"payload\":\"{\\\"a\\\":1}\"}"
        );
        assert_eq!(
            fmt("%J", &m),
            "{\"tst\":\"2026-11-24T00:14:45.890796Z+0000\",\"topic\":\"r/2\",\"qos\":1,\
             \"retain\":1,\"payloadlen\":7,\"payload\":{\"a\":1}}"
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

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(iso8601(UNIX_EPOCH, false), "1970-01-01T00:00:00+0000");
    }
}
