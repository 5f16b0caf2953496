//! TC3-HMAC-SHA256, the request signature of Tencent Cloud API 3.0, checked as the cloud checks it.
//!
//! A request carries `Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request,
//! SignedHeaders=<h1;h2...>, Signature=<hex>`. The server rebuilds the canonical request (method,
//! path, query, the signed headers lower-cased and trimmed, the signed header list, the SHA-256 of
//! the body or of the literal `UNSIGNED-PAYLOAD` when `X-TC-Content-SHA256` says so), the string to
//! sign (algorithm, `X-TC-Timestamp`, scope, digest of the canonical request), derives the signing
//! key from the secret key (`TC3` + key, then the date, the service, `tc3_request`) and compares
//! signatures in constant time.
//!
//! Rules beyond the arithmetic: the scope's service must be `kms`, its date the UTC date of the
//! timestamp, and `SignedHeaders` must cover `content-type` and `host` (so neither the body's type
//! nor the addressed endpoint can be changed under a valid signature). A timestamp more than
//! [`MAX_CLOCK_SKEW_SECS`] away from the server's clock is refused before any key is looked up.
//!
//! The port: the cloud is reached on 443, so its `Host` never carries one, and the SDKs disagree
//! on what to sign when an endpoint has one (the Python SDK signs `host:port` as sent, the Node.js
//! SDK only the host name). A signature is therefore accepted over `Host` as sent or, when `Host`
//! has a port, over its host name alone; the port is the only part left unsigned in that case.

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::wire::{ApiError, code};

/// The only algorithm Tencent Cloud API 3.0 defines.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The service name in the credential scope.
pub const SERVICE: &str = "kms";
/// The scope's terminator.
pub const TERMINATOR: &str = "tc3_request";
/// The `X-TC-Content-SHA256` value that leaves the body out of the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Largest difference between `X-TC-Timestamp` and the server's clock (either way): five minutes,
/// as the cloud allows.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;
/// Headers every signature must cover.
pub const REQUIRED_SIGNED_HEADERS: [&str; 2] = ["content-type", "host"];

type HmacSha256 = Hmac<Sha256>;

/// A parsed `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The SecretId (public: it names the key, like an access key id).
    pub secret_id: &'a str,
    /// The scope's date, `YYYY-MM-DD`.
    pub date: &'a str,
    /// The scope's service.
    pub service: &'a str,
    /// The signed header names, lower case, in the order given.
    pub signed_headers: Vec<&'a str>,
    /// The signed header list as sent (it is part of the canonical request).
    pub signed_headers_text: &'a str,
    /// The hex signature.
    pub signature: &'a str,
}

fn malformed(why: &str) -> ApiError {
    ApiError::new(
        code::AUTH_INVALID_AUTHORIZATION,
        format!("the Authorization header is not a TC3-HMAC-SHA256 authorization: {why}"),
    )
}

impl<'a> Authorization<'a> {
    /// Parses the header value. Structure only: the scope's service and date are judged by
    /// [`Request::verify`].
    pub fn parse(value: &'a str) -> Result<Self, ApiError> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .filter(|r| r.starts_with(' '))
            .ok_or_else(|| malformed("it must start with `TC3-HMAC-SHA256 `"))?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (name, v) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| malformed("expected Credential=, SignedHeaders= and Signature="))?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => return Err(malformed("unknown field")),
            };
            if slot.replace(v).is_some() {
                return Err(malformed("a field is repeated"));
            }
        }
        let (Some(credential), Some(signed_headers_text), Some(signature)) =
            (credential, signed, signature)
        else {
            return Err(malformed(
                "Credential, SignedHeaders and Signature are required",
            ));
        };
        let mut scope = credential.split('/');
        let (Some(secret_id), Some(date), Some(service), Some(TERMINATOR), None) = (
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
        ) else {
            return Err(malformed(
                "Credential must be <SecretId>/<YYYY-MM-DD>/<service>/tc3_request",
            ));
        };
        if secret_id.is_empty() {
            return Err(malformed("the SecretId is empty"));
        }
        let signed_headers: Vec<&str> = signed_headers_text.split(';').collect();
        if signed_headers
            .iter()
            .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
        {
            return Err(malformed(
                "SignedHeaders must be lower-case names joined by `;`",
            ));
        }
        for required in REQUIRED_SIGNED_HEADERS {
            if !signed_headers.contains(&required) {
                return Err(malformed(&format!("SignedHeaders must include {required}")));
            }
        }
        Ok(Self {
            secret_id,
            date,
            service,
            signed_headers,
            signed_headers_text,
            signature,
        })
    }
}

/// What of a request the signature covers.
pub struct Request<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// The path (`/`).
    pub path: &'a str,
    /// The raw query string (empty for POST).
    pub query: &'a str,
    /// Looks a header up by its lower-case name; `None` when absent.
    pub header: &'a dyn Fn(&str) -> Option<&'a str>,
    /// `X-TC-Timestamp`, parsed.
    pub timestamp: i64,
    /// The body.
    pub body: &'a [u8],
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

impl Request<'_> {
    /// Checks the scope against the timestamp and `signature` against the one `secret_key` makes.
    pub fn verify(&self, auth: &Authorization<'_>, secret_key: &[u8]) -> Result<(), ApiError> {
        let failure = |why: &str| {
            ApiError::new(
                code::AUTH_SIGNATURE_FAILURE,
                format!("the request signature does not match: {why}"),
            )
        };
        if auth.service != SERVICE {
            return Err(failure(&format!(
                "the credential scope's service is {:?}, not {SERVICE:?}",
                auth.service
            )));
        }
        if auth.date != utc_date(self.timestamp) {
            return Err(failure(
                "the credential scope's date is not the UTC date of X-TC-Timestamp",
            ));
        }
        let matches = |host| -> Result<bool, ApiError> {
            let expected = self.signature_over(auth, secret_key, host)?;
            Ok(expected.as_bytes().ct_eq(auth.signature.as_bytes()).into())
        };
        let has_port = (self.header)("host").is_some_and(|h| host_name(h) != h);
        if matches(HostForm::AsSent)? || (has_port && matches(HostForm::NameOnly)?) {
            Ok(())
        } else {
            Err(failure("recompute it with the right SecretKey"))
        }
    }

    /// The hex signature of this request under `secret_key` (also what a client computes), over
    /// `Host` as sent.
    pub fn signature(
        &self,
        auth: &Authorization<'_>,
        secret_key: &[u8],
    ) -> Result<String, ApiError> {
        self.signature_over(auth, secret_key, HostForm::AsSent)
    }

    fn signature_over(
        &self,
        auth: &Authorization<'_>,
        secret_key: &[u8],
        host: HostForm,
    ) -> Result<String, ApiError> {
        let mut canonical = format!("{}\n{}\n{}\n", self.method, self.path, self.query);
        for name in &auth.signed_headers {
            let value = (self.header)(name).ok_or_else(|| {
                ApiError::new(
                    code::AUTH_SIGNATURE_FAILURE,
                    format!("the signed header {name} is not in the request"),
                )
            })?;
            let value = match (*name, host) {
                ("host", HostForm::NameOnly) => host_name(value.trim()),
                _ => value.trim(),
            };
            canonical.push_str(name);
            canonical.push(':');
            canonical.push_str(&value.to_ascii_lowercase());
            canonical.push('\n');
        }
        canonical.push('\n');
        canonical.push_str(auth.signed_headers_text);
        canonical.push('\n');
        let unsigned = (self.header)("x-tc-content-sha256") == Some(UNSIGNED_PAYLOAD);
        let payload: &[u8] = if unsigned {
            UNSIGNED_PAYLOAD.as_bytes()
        } else {
            self.body
        };
        canonical.push_str(&hex::encode(Sha256::digest(payload)));
        let to_sign = format!(
            "{ALGORITHM}\n{}\n{}/{}/{TERMINATOR}\n{}",
            self.timestamp,
            auth.date,
            auth.service,
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut secret = zeroize::Zeroizing::new(Vec::with_capacity(3 + secret_key.len()));
        secret.extend_from_slice(b"TC3");
        secret.extend_from_slice(secret_key);
        let k_date = hmac(&secret, auth.date.as_bytes());
        let k_service = hmac(&k_date[..], auth.service.as_bytes());
        let k_signing = hmac(&k_service[..], TERMINATOR.as_bytes());
        Ok(hex::encode(hmac(&k_signing[..], to_sign.as_bytes())))
    }
}

/// Which form of `Host` a signature covers (see the module doc).
#[derive(Debug, Clone, Copy)]
enum HostForm {
    AsSent,
    NameOnly,
}

/// `host` without a trailing `:port` (`[::1]:80` -> `[::1]`, `example:80` -> `example`); `host`
/// itself when it has none.
fn host_name(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port))
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!name.contains(':') || (name.starts_with('[') && name.ends_with(']'))) =>
        {
            name
        }
        _ => host,
    }
}

fn hmac(key: &[u8], message: &[u8]) -> zeroize::Zeroizing<[u8; 32]> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    zeroize::Zeroizing::new(mac.finalize().into_bytes().into())
}

/// Whether `timestamp` is within [`MAX_CLOCK_SKEW_SECS`] of `now`.
pub fn check_timestamp(timestamp: i64, now: i64) -> Result<(), ApiError> {
    if timestamp.abs_diff(now) > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
        return Err(ApiError::new(
            code::AUTH_SIGNATURE_EXPIRE,
            format!(
                "X-TC-Timestamp {timestamp} is more than {MAX_CLOCK_SKEW_SECS} s away from the \
                 server's clock ({now}); check the client's clock"
            ),
        ));
    }
    Ok(())
}

/// `YYYY-MM-DD` of a unix time, in UTC (the proleptic Gregorian calendar, days from civil).
pub fn utc_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(86_399), "1970-01-01");
        assert_eq!(utc_date(86_400), "1970-01-02");
        // Tencent's documented example: 1551113065 is 2019-02-25 (UTC).
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(4_102_444_800), "2100-01-01");
    }

    /// The inputs of Tencent's published TC3 example (CVM DescribeInstances); the expected value was
    /// computed by the official Python SDK's `Sign.sign_tc3` over the same canonical request
    /// (tencentcloud-sdk-python-common 3.1.195), an independent implementation.
    #[test]
    fn the_published_example_signs_the_same() {
        let body = br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let headers = |name: &str| match name {
            "content-type" => Some("application/json; charset=utf-8"),
            "host" => Some("cvm.tencentcloudapi.com"),
            _ => None,
        };
        let auth = Authorization::parse(
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, Signature=x",
        )
        .unwrap();
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            header: &headers,
            timestamp: 1_551_113_065,
            body,
        };
        let sig = req
            .signature(&auth, b"Gu5t9xGARNpq86cd98joQYCN3EXAMPLE")
            .unwrap();
        assert_eq!(
            sig,
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn host_names_lose_only_a_numeric_port() {
        assert_eq!(host_name("kms.example:8080"), "kms.example");
        assert_eq!(host_name("127.0.0.1:50051"), "127.0.0.1");
        assert_eq!(host_name("[::1]:50051"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
        assert_eq!(host_name("::1"), "::1");
        assert_eq!(host_name("kms.example"), "kms.example");
        assert_eq!(host_name("kms.example:"), "kms.example:");
        assert_eq!(host_name("kms.example:8o"), "kms.example:8o");
    }

    /// Runs `f` on a JSON POST of `{}` to `host`.
    fn with_post_to<R>(host: &'static str, f: impl FnOnce(&Request<'_>) -> R) -> R {
        let headers = |name: &str| match name {
            "content-type" => Some("application/json"),
            "host" => Some(host),
            _ => None,
        };
        f(&Request {
            method: "POST",
            path: "/",
            query: "",
            header: &headers,
            timestamp: 1_551_113_065,
            body: b"{}",
        })
    }

    /// What the Node.js SDK sends: `Host: name:port`, signed over the name alone.
    #[test]
    fn a_signature_over_the_host_name_without_its_port_verifies() {
        let scope = "TC3-HMAC-SHA256 Credential=AKIDx/2019-02-25/kms/tc3_request, \
                     SignedHeaders=content-type;host, Signature=";
        let sign = |host: &'static str, form: HostForm| {
            let placeholder = format!("{scope}x");
            let auth = Authorization::parse(&placeholder).unwrap();
            let sig = with_post_to(host, |r| r.signature_over(&auth, b"key", form)).unwrap();
            format!("{scope}{sig}")
        };
        let verify = |text: &str, host: &'static str| {
            with_post_to(host, |r| {
                r.verify(&Authorization::parse(text).unwrap(), b"key")
            })
        };
        let name_only = sign("kms.example:8080", HostForm::NameOnly);
        assert_eq!(verify(&name_only, "kms.example:8080"), Ok(()));
        let as_sent = sign("kms.example:8080", HostForm::AsSent);
        assert_eq!(verify(&as_sent, "kms.example:8080"), Ok(()));
        // Another host name, with or without the port, is still refused.
        let err = verify(&name_only, "other.example:8080").unwrap_err();
        assert_eq!(err.code, code::AUTH_SIGNATURE_FAILURE);
        // A signature over `name:port` does not verify for a Host without the port.
        let err = verify(&as_sent, "kms.example").unwrap_err();
        assert_eq!(err.code, code::AUTH_SIGNATURE_FAILURE);
    }

    #[test]
    fn malformed_authorizations_name_what_is_wrong() {
        let cases = [
            (
                "HMAC Credential=a/2019-01-01/kms/tc3_request, SignedHeaders=content-type;host, Signature=x",
                "must start with",
            ),
            (
                "TC3-HMAC-SHA256 Credential=a/2019-01-01/kms/tc3_request, Signature=x",
                "are required",
            ),
            (
                "TC3-HMAC-SHA256 Credential=a/2019-01-01/kms, SignedHeaders=content-type;host, Signature=x",
                "Credential must be",
            ),
            (
                "TC3-HMAC-SHA256 Credential=a/2019-01-01/kms/tc3_request, SignedHeaders=content-type, Signature=x",
                "must include host",
            ),
            (
                "TC3-HMAC-SHA256 Credential=a/2019-01-01/kms/tc3_request, SignedHeaders=host, Signature=x",
                "must include content-type",
            ),
            (
                "TC3-HMAC-SHA256 Credential=a/2019-01-01/kms/tc3_request, SignedHeaders=Host;content-type, Signature=x",
                "lower-case",
            ),
            (
                "TC3-HMAC-SHA256 Credential=/2019-01-01/kms/tc3_request, SignedHeaders=content-type;host, Signature=x",
                "SecretId is empty",
            ),
            (
                "TC3-HMAC-SHA256 Credential=a/2019-01-01/kms/tc3_request, Credential=b, SignedHeaders=content-type;host, Signature=x",
                "repeated",
            ),
        ];
        for (value, want) in cases {
            let e = Authorization::parse(value).unwrap_err();
            assert_eq!(e.code, code::AUTH_INVALID_AUTHORIZATION, "{value}");
            assert!(e.message.contains(want), "{value}: {}", e.message);
        }
    }

    #[test]
    fn the_clock_window_is_five_minutes_either_way() {
        assert!(check_timestamp(1000, 1300).is_ok());
        assert!(check_timestamp(1300, 1000).is_ok());
        assert_eq!(
            check_timestamp(1000, 1301).unwrap_err().code,
            code::AUTH_SIGNATURE_EXPIRE
        );
        assert_eq!(
            check_timestamp(1301, 1000).unwrap_err().code,
            code::AUTH_SIGNATURE_EXPIRE
        );
    }
}
