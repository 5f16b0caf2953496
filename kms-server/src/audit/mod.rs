//! The audit log: one JSON line per call, written before the reply leaves (unless the operator
//! chose buffered lines, see module `file`), so no use of a key goes unrecorded; a call that
//! changes keys has a [`Outcome::Started`] line before it runs as well, so that no change does.
//! A call whose line cannot be written must fail (INTERNAL): [`AuditLog::record`] returns every
//! write error to its caller instead of logging and carrying on.
//!
//! What a line may carry is fixed by the types here, not by care at each call site: an
//! [`AuditEvent`] holds key names, ids and versions, the encryption context's *names*, an identity
//! name and an outcome; it has no field that could take a plaintext, a data key, a token or a
//! context value. A line looks like this (one line in the file):
//!
//! ```json
//! {"time":"2026-12-04T18:57:55.123Z","request_id":"5f0c6a1e9b2d4c7a0000000000000001",
//!  "identity":"storage","peer":"127.0.0.1:50522","rpc":"Decrypt",
//!  "keys":[{"name":"","key_id":"0d1c…","key_version":2}],"context_keys":["bucket","object"],
//!  "outcome":{"result":"ok"}}
//! ```
//!
//! [`AuditLog`] (module `file`) is where lines go: a file, rotated by size, or stdout. Its
//! durability contract is documented there.

use std::{
    collections::BTreeSet,
    fmt,
    net::SocketAddr,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use time::OffsetDateTime;
use tonic::{Code, Status};
use uuid::Uuid;

mod file;
mod line;

pub use file::{AuditAck, AuditLog, AuditTarget, DEFAULT_MAX_BYTES, ROTATED_FILES, SYNC_INTERVAL};

/// The identity written for every call in development mode (no policy: nobody is authenticated).
pub const DEVELOPMENT_IDENTITY: &str = "-";

/// One audited call: who called what on which keys, and how it ended.
///
/// Every field is a name, an id, a number or an address: by construction a line cannot carry a
/// plaintext, a data key, a token or an encryption context value.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// When the call arrived, written in UTC with milliseconds (RFC 3339). Take it with
    /// [`OffsetDateTime::now_utc`] as the call starts.
    pub time: OffsetDateTime,
    /// The call's id.
    pub request_id: RequestId,
    /// The caller's identity name from the policy, or [`DEVELOPMENT_IDENTITY`] in development mode.
    pub identity: &'a str,
    /// The caller's address, when the transport knows it (omitted otherwise).
    pub peer: Option<SocketAddr>,
    /// The RPC's name (`Decrypt`, `BatchGenerateDataKey`, ...).
    pub rpc: &'a str,
    /// The keys the call touched or named, one per item for batch calls (empty for calls on no key).
    pub keys: Vec<AuditKey<'a>>,
    /// The encryption context's names over every item of the call, sorted and deduplicated. Never
    /// its values.
    pub context_keys: BTreeSet<&'a str>,
    /// How the call ended.
    pub outcome: Outcome<'a>,
}

/// A key a call touched: the name the caller gave, and what it resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditKey<'a> {
    /// The key as the caller named it (UUID, `alias/<name>` or bare alias); empty when the key came
    /// from a ciphertext (Decrypt) or the call named none.
    pub name: &'a str,
    /// The resolved key's UUID: the key the name resolved to, or the blob's header names, also
    /// for a refused call (omitted when unknown: a name that resolves to nothing, a blob whose
    /// header does not parse, a list of keys refused as a whole).
    pub key_id: Option<Uuid>,
    /// The key version used (omitted when none was).
    pub key_version: Option<u32>,
}

impl<'a> AuditKey<'a> {
    /// A key named `name` that was not (or not yet) resolved.
    pub fn named(name: &'a str) -> Self {
        Self {
            name,
            key_id: None,
            key_version: None,
        }
    }
}

/// How a call ended: `{"result":"ok"}`, or
/// `{"result":"error","status":"PERMISSION_DENIED","code":"UnauthorizedOperation"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// `{"result":"started"}`: a call that changes keys ([`crate::access::Action::changes_keys`])
    /// is about to run. Written before the change, so that the change is on record even if the
    /// call's own line (same `request_id`, the outcome) then cannot be written, or the process
    /// dies first.
    Started,
    /// The call succeeded.
    Ok,
    /// The call failed.
    Error {
        /// The gRPC status, spelled as in the gRPC specification (`PERMISSION_DENIED`).
        status: Code,
        /// The Tencent KMS error code (`UnauthorizedOperation`); empty when the status carried none.
        code: &'a str,
    },
}

impl<'a> Outcome<'a> {
    /// The outcome of a call that ended with `status`: the Tencent code is read from the status's
    /// [`kms_types::ERROR_CODE_METADATA`] entry.
    pub fn from_status(status: &'a Status) -> Self {
        let code = status
            .metadata()
            .get(kms_types::ERROR_CODE_METADATA)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        Self::Error {
            status: status.code(),
            code,
        }
    }

    /// The outcome of a call's result.
    pub fn of<T>(result: &'a Result<T, Status>) -> Self {
        match result {
            Ok(_) => Self::Ok,
            Err(status) => Self::from_status(status),
        }
    }
}

/// The gRPC specification's spelling of a status code (`OK`, `PERMISSION_DENIED`, ...): the audit
/// log's `status` and the metrics' `code` label.
pub fn status_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A call's id: a random prefix drawn once per process and a counter, as 32 hex digits. Unique
/// within a process by construction, and across restarts with overwhelming probability; it costs
/// one atomic increment.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId {
    process: u64,
    sequence: u64,
}

/// The process's random prefix of every [`RequestId`].
static PROCESS_PREFIX: OnceLock<u64> = OnceLock::new();
/// The last [`RequestId`] sequence number handed out.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl RequestId {
    /// The next id.
    pub fn new() -> Self {
        Self {
            process: *PROCESS_PREFIX.get_or_init(rand::random),
            sequence: SEQUENCE.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }
}

impl Default for RequestId {
    /// A fresh id, as [`RequestId::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl RequestId {
    /// The 32 lowercase hex digits, encoded without `core::fmt` (the id is in every audit line).
    fn hex(&self) -> [u8; REQUEST_ID_DIGITS] {
        let mut bytes = [0u8; REQUEST_ID_DIGITS / 2];
        bytes[..8].copy_from_slice(&self.process.to_be_bytes());
        bytes[8..].copy_from_slice(&self.sequence.to_be_bytes());
        let mut digits = [0u8; REQUEST_ID_DIGITS];
        // Cannot fail: the output is exactly twice the input's length.
        let _ = hex::encode_to_slice(bytes, &mut digits);
        digits
    }
}

/// Digits of a [`RequestId`]: two 64-bit halves in hex.
const REQUEST_ID_DIGITS: usize = 2 * 2 * std::mem::size_of::<u64>();

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.hex();
        f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-04T18:57:55.123456789Z, and the same instant seen from UTC+8.
    fn instant() -> OffsetDateTime {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_796_410_675_123_456_789)
            .expect("a 2026 timestamp is in range");
        t.to_offset(time::UtcOffset::from_hms(8, 0, 0).expect("+8 h is a valid offset"))
    }

    fn request_id() -> RequestId {
        RequestId {
            process: 0x5f0c_6a1e_9b2d_4c7a,
            sequence: 7,
        }
    }

    #[test]
    fn a_batch_line_is_exactly_this_json() {
        let key_id = Uuid::parse_str("0d1c2b3a-4958-4675-8493-a2b1c0d9e8f7").expect("a valid UUID");
        let event = AuditEvent {
            time: instant(),
            request_id: request_id(),
            identity: "storage",
            peer: Some("127.0.0.1:50522".parse().expect("a valid address")),
            rpc: "BatchDecrypt",
            keys: vec![
                AuditKey {
                    name: "",
                    key_id: Some(key_id),
                    key_version: Some(2),
                },
                AuditKey::named("alias/gone"),
            ],
            context_keys: ["object", "bucket", "object"].into_iter().collect(),
            outcome: Outcome::Ok,
        };
        assert_eq!(
            event.json_text(),
            concat!(
                r#"{"time":"2026-12-04T18:57:55.123Z","request_id":"5f0c6a1e9b2d4c7a0000000000000007","#,
                r#""identity":"storage","peer":"127.0.0.1:50522","rpc":"BatchDecrypt","#,
                r#""keys":[{"name":"","key_id":"0d1c2b3a-4958-4675-8493-a2b1c0d9e8f7","key_version":2},"#,
                r#"{"name":"alias/gone"}],"context_keys":["bucket","object"],"outcome":{"result":"ok"}}"#
            )
        );
    }

    #[test]
    fn a_refusal_carries_status_and_tencent_code_and_no_peer_when_unknown() {
        let mut status = Status::permission_denied("Decrypt on alias/x not allowed");
        status.metadata_mut().insert(
            kms_types::ERROR_CODE_METADATA,
            tonic::metadata::MetadataValue::from_static("UnauthorizedOperation"),
        );
        let event = AuditEvent {
            time: instant(),
            request_id: request_id(),
            identity: DEVELOPMENT_IDENTITY,
            peer: None,
            rpc: "ListKeys",
            keys: Vec::new(),
            context_keys: BTreeSet::new(),
            outcome: Outcome::from_status(&status),
        };
        assert_eq!(
            event.json_text(),
            concat!(
                r#"{"time":"2026-12-04T18:57:55.123Z","request_id":"5f0c6a1e9b2d4c7a0000000000000007","#,
                r#""identity":"-","rpc":"ListKeys","keys":[],"context_keys":[],"#,
                r#""outcome":{"result":"error","status":"PERMISSION_DENIED","code":"UnauthorizedOperation"}}"#
            )
        );
    }

    #[test]
    fn outcome_of_a_result_and_a_status_without_code() {
        let ok: Result<(), Status> = Ok(());
        assert_eq!(Outcome::of(&ok), Outcome::Ok);
        let err: Result<(), Status> = Err(Status::internal("boom"));
        assert_eq!(
            Outcome::of(&err),
            Outcome::Error {
                status: Code::Internal,
                code: ""
            }
        );
    }

    #[test]
    fn request_ids_are_distinct_32_hex_digits_with_one_process_prefix() {
        let a = RequestId::new().to_string();
        let b = RequestId::new().to_string();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{id}"
            );
        }
        assert_eq!(a[..16], b[..16]);
    }

    /// The hand-written forms are the `Display` forms, at the extremes and for any value.
    fn peer_json(addr: SocketAddr) -> String {
        let event = AuditEvent {
            time: OffsetDateTime::UNIX_EPOCH,
            request_id: RequestId::new(),
            identity: "-",
            peer: Some(addr),
            rpc: "ListKeys",
            keys: Vec::new(),
            context_keys: BTreeSet::new(),
            outcome: Outcome::Ok,
        };
        let line: serde_json::Value = serde_json::from_str(&event.json_text()).expect("JSON");
        line["peer"].to_string()
    }

    #[test]
    fn peers_and_ids_at_the_extremes() {
        for text in [
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.0.0.1:443",
            "[::1]:50522",
        ] {
            let addr: SocketAddr = text.parse().expect("a valid address");
            assert_eq!(peer_json(addr), format!("\"{text}\""));
        }
        let max = RequestId {
            process: u64::MAX,
            sequence: 0x0123_4567_89ab_cdef,
        };
        assert_eq!(max.to_string(), "ffffffffffffffff0123456789abcdef");
    }

    proptest::proptest! {
        #[test]
        fn any_peer_and_id_is_written_as_core_fmt_would(
            ip: [u8; 4], port: u16, process: u64, sequence: u64,
        ) {
            let addr = SocketAddr::from((ip, port));
            proptest::prop_assert_eq!(peer_json(addr), format!("\"{addr}\""));
            let id = RequestId { process, sequence };
            proptest::prop_assert_eq!(id.to_string(), format!("{process:016x}{sequence:016x}"));
        }
    }

    #[test]
    fn every_code_has_its_grpc_spelling() {
        let names: BTreeSet<&str> = (0..=16).map(|i| status_name(Code::from_i32(i))).collect();
        assert_eq!(names.len(), 17);
        assert_eq!(status_name(Code::Unauthenticated), "UNAUTHENTICATED");
        assert_eq!(status_name(Code::from_i32(99)), "UNKNOWN");
    }
}
