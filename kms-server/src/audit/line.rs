//! An [`AuditEvent`] as its JSON line, written by hand. The line's shape is fixed, and a general
//! serializer spent more on it than the rest of the audit path (the time through a formatter and
//! a `String`, every field through `core::fmt` or a visitor): this writer appends straight to
//! the line's buffer. Strings are escaped exactly as `serde_json` escapes them (`"`, `\`, and
//! the control characters; nothing else), which the tests check against `serde_json` for any
//! string, and every line the tests write parses back to the event it came from.

use std::{io, net::SocketAddr};

use time::{OffsetDateTime, UtcOffset};

use super::{AuditEvent, Outcome, status_name};

/// The years written with four digits, as RFC 3339 requires: an event outside them is refused
/// (no clock of a running server reads one).
const YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

impl AuditEvent<'_> {
    /// Appends the event to `out` as one JSON object (no newline). Fails only for a time outside
    /// the years RFC 3339 can write, appending nothing.
    pub fn write_json(&self, out: &mut Vec<u8>) -> io::Result<()> {
        let time = self.time.to_offset(UtcOffset::UTC);
        if !YEARS.contains(&time.year()) {
            return Err(io::Error::other(format!(
                "audit time {time} is outside the years RFC 3339 writes"
            )));
        }
        out.extend_from_slice(b"{\"time\":\"");
        write_time(time, out);
        out.extend_from_slice(b"\",\"request_id\":\"");
        out.extend_from_slice(&self.request_id.hex());
        out.extend_from_slice(b"\",\"identity\":");
        write_str(self.identity, out);
        if let Some(peer) = self.peer {
            out.extend_from_slice(b",\"peer\":\"");
            write_peer(peer, out);
            out.push(b'"');
        }
        out.extend_from_slice(b",\"rpc\":");
        write_str(self.rpc, out);
        out.extend_from_slice(b",\"keys\":[");
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"name\":");
            write_str(key.name, out);
            if let Some(id) = key.key_id {
                out.extend_from_slice(b",\"key_id\":\"");
                out.extend_from_slice(
                    id.hyphenated()
                        .encode_lower(&mut uuid::Uuid::encode_buffer())
                        .as_bytes(),
                );
                out.push(b'"');
            }
            if let Some(version) = key.key_version {
                out.extend_from_slice(b",\"key_version\":");
                out.extend_from_slice(itoa::Buffer::new().format(version).as_bytes());
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"context_keys\":[");
        for (i, name) in self.context_keys.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(name, out);
        }
        out.extend_from_slice(b"],\"outcome\":");
        match self.outcome {
            Outcome::Started => out.extend_from_slice(b"{\"result\":\"started\"}"),
            Outcome::Ok => out.extend_from_slice(b"{\"result\":\"ok\"}"),
            Outcome::Error { status, code } => {
                out.extend_from_slice(b"{\"result\":\"error\",\"status\":\"");
                out.extend_from_slice(status_name(status).as_bytes());
                out.extend_from_slice(b"\",\"code\":");
                write_str(code, out);
                out.push(b'}');
            }
        }
        out.push(b'}');
        Ok(())
    }
}

/// `2026-12-04T18:57:55.123Z`: `time` is in UTC, its year in [`YEARS`].
fn write_time(time: OffsetDateTime, out: &mut Vec<u8>) {
    let year = time.year().unsigned_abs();
    let digits = |n: u32, width: u32, out: &mut Vec<u8>| {
        for place in (0..width).rev() {
            // A decimal digit: always fits.
            out.push(b'0' + (n / 10u32.pow(place) % 10) as u8);
        }
    };
    digits(year, 4, out);
    out.push(b'-');
    digits(u32::from(u8::from(time.month())), 2, out);
    out.push(b'-');
    digits(u32::from(time.day()), 2, out);
    out.push(b'T');
    digits(u32::from(time.hour()), 2, out);
    out.push(b':');
    digits(u32::from(time.minute()), 2, out);
    out.push(b':');
    digits(u32::from(time.second()), 2, out);
    out.push(b'.');
    digits(u32::from(time.millisecond()), 3, out);
    out.push(b'Z');
}

/// An IPv4 peer is written by hand (it is in nearly every line, and `core::fmt` costs more than
/// the rest of the line); an IPv6 one through its `Display`, which writes nothing JSON escapes.
fn write_peer(peer: SocketAddr, out: &mut Vec<u8>) {
    match peer {
        SocketAddr::V4(addr) => {
            let mut digits = itoa::Buffer::new();
            for (i, octet) in addr.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(digits.format(octet).as_bytes());
            }
            out.push(b':');
            out.extend_from_slice(digits.format(addr.port()).as_bytes());
        }
        SocketAddr::V6(addr) => {
            use std::io::Write as _;
            // Writing to a `Vec` cannot fail.
            let _ = write!(out, "{addr}");
        }
    }
}

/// `text` as a JSON string, escaped as `serde_json` escapes it.
fn write_str(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
impl AuditEvent<'_> {
    /// The event's line as text (no newline), for tests.
    pub(super) fn json_text(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out).expect("the event is written");
        String::from_utf8(out).expect("a line is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{Value, json};
    use tonic::Code;
    use uuid::Uuid;

    use super::*;
    use crate::audit::{AuditKey, RequestId};

    fn at(unix_nanos: i128) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(unix_nanos).expect("a time in range")
    }

    #[test]
    fn times_at_the_edges_of_the_four_digit_years() {
        let event = |time| AuditEvent {
            time,
            request_id: RequestId::new(),
            identity: "-",
            peer: None,
            rpc: "ListKeys",
            keys: Vec::new(),
            context_keys: BTreeSet::new(),
            outcome: Outcome::Ok,
        };
        let time_of = |time| {
            serde_json::from_str::<Value>(&event(time).json_text()).expect("JSON")["time"].clone()
        };
        assert_eq!(time_of(at(0)), "1970-01-01T00:00:00.000Z");
        let first = at(-62_167_219_200_000_000_000 + 999_000);
        assert_eq!(time_of(first), "0000-01-01T00:00:00.000Z");
        let last = at(253_402_300_799_999_999_999);
        assert_eq!(time_of(last), "9999-12-31T23:59:59.999Z");
        let before = at(-62_167_219_201_000_000_000);
        let mut out = b"kept".to_vec();
        let err = event(before)
            .write_json(&mut out)
            .expect_err("a negative year is refused");
        assert_eq!(
            err.to_string(),
            "audit time -0001-12-31 23:59:59.0 +00:00:00 is outside the years RFC 3339 writes"
        );
        assert_eq!(out, b"kept");
        // Another offset is written as the same instant in UTC.
        let east = at(1_796_410_675_123_456_789)
            .to_offset(UtcOffset::from_hms(8, 0, 0).expect("+8 h is a valid offset"));
        assert_eq!(time_of(east), "2026-12-04T18:57:55.123Z");
    }

    #[test]
    fn an_ipv6_peer_and_an_error_with_a_code_to_escape() {
        let event = AuditEvent {
            time: at(0),
            request_id: RequestId::new(),
            identity: "a\"b",
            peer: Some("[fe80::1%3]:443".parse().expect("a valid address")),
            rpc: "Decrypt",
            keys: vec![AuditKey::named("")],
            context_keys: BTreeSet::from(["\u{7f}", "é\n"]),
            outcome: Outcome::Error {
                status: Code::DataLoss,
                code: "x\\y",
            },
        };
        let line = event.json_text();
        assert!(
            line.contains(concat!(
                r#""identity":"a\"b","peer":"[fe80::1%3]:443","rpc":"Decrypt","keys":[{"name":""}],"#,
                "\"context_keys\":[\"\u{7f}\",\"é\\n\"],",
                r#""outcome":{"result":"error","status":"DATA_LOSS","code":"x\\y"}}"#
            )),
            "{line}"
        );
    }

    /// Any text, control characters included (`String`'s own strategy leaves them out).
    fn text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let ascii = (0u8..0x80).prop_map(char::from);
        proptest::collection::vec(prop_oneof![ascii, any::<char>()], 0..24)
            .prop_map(String::from_iter)
    }

    #[test]
    fn every_ascii_character_is_escaped_as_serde_json_escapes_it() {
        let text: String = (0u8..0x80).map(char::from).collect();
        let mut out = Vec::new();
        write_str(&text, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            serde_json::to_string(&text).expect("a string serializes")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(text in text()) {
            let mut out = Vec::new();
            write_str(&text, &mut out);
            proptest::prop_assert_eq!(
                String::from_utf8(out).expect("UTF-8"),
                serde_json::to_string(&text).expect("a string serializes")
            );
        }

        #[test]
        fn any_event_parses_back_to_itself(
            unix_ms in 0i64..253_402_300_800_000,
            identity in text(),
            rpc in text(),
            ip: [u8; 4],
            port: u16,
            keys in proptest::collection::vec(
                (text(), proptest::prelude::any::<Option<u128>>(), proptest::prelude::any::<Option<u32>>()),
                0..4,
            ),
            context_keys in proptest::collection::btree_set(text(), 0..4),
            failed in proptest::option::of((0i32..20, text())),
            started: bool,
        ) {
            let event = AuditEvent {
                time: at(i128::from(unix_ms) * 1_000_000),
                request_id: RequestId::new(),
                identity: &identity,
                peer: Some(SocketAddr::from((ip, port))),
                rpc: &rpc,
                keys: keys
                    .iter()
                    .map(|(name, id, version)| AuditKey {
                        name,
                        key_id: id.map(Uuid::from_u128),
                        key_version: *version,
                    })
                    .collect(),
                context_keys: context_keys.iter().map(String::as_str).collect(),
                outcome: match (started, failed.as_ref()) {
                    (true, _) => Outcome::Started,
                    (false, None) => Outcome::Ok,
                    (false, Some((status, code))) => {
                        Outcome::Error { status: Code::from_i32(*status), code }
                    }
                },
            };
            let line = event.json_text();
            let parsed: Value = serde_json::from_str(&line).expect("every line is JSON");
            let time = event
                .time
                .format(&time::format_description::well_known::Rfc3339)
                .expect("the time formats");
            let keys: Vec<Value> = event
                .keys
                .iter()
                .map(|k| {
                    let mut key = json!({ "name": k.name });
                    if let Some(id) = k.key_id {
                        key["key_id"] = json!(id.to_string());
                    }
                    if let Some(version) = k.key_version {
                        key["key_version"] = json!(version);
                    }
                    key
                })
                .collect();
            let outcome = match event.outcome {
                Outcome::Started => json!({ "result": "started" }),
                Outcome::Ok => json!({ "result": "ok" }),
                Outcome::Error { status, code } => json!({
                    "result": "error", "status": status_name(status), "code": code,
                }),
            };
            let expected = json!({
                "time": format!("{}.{:03}Z", &time[..19], unix_ms % 1000),
                "request_id": event.request_id.to_string(),
                "identity": identity,
                "peer": SocketAddr::from((ip, port)).to_string(),
                "rpc": rpc,
                "keys": keys,
                "context_keys": context_keys,
                "outcome": outcome,
            });
            proptest::prop_assert_eq!(parsed, expected);
        }
    }
}
