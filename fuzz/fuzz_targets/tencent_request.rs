//! The Tencent Cloud API 3.0 request: the `Authorization` header
//! (`kms_server::tencent::signature::Authorization::parse`), the TC3-HMAC-SHA256 check
//! (`signature::Request::verify`) and a GET query's parameters (`kms_server::tencent::query_params`),
//! on arbitrary requests.
//!
//! Input lines: the Authorization value, the X-TC-Timestamp, the query, then `name: value`
//! headers up to an empty line; the rest is the body.
//!
//! Invariants: nothing panics; whenever the header parses and its scope names `kms` and the
//! timestamp's UTC date, the request carrying its own signature under the key verifies, and the
//! same request with one more body byte does not, unless the payload is `UNSIGNED-PAYLOAD`; a
//! query that parses gives a JSON object.
#![no_main]

use cos_kms_fuzz::{SECRET_KEY, lines};
use kms_server::tencent::{self, signature};
use libfuzzer_sys::fuzz_target;

fn post<'a>(
    query: &'a str,
    header: &'a dyn Fn(&str) -> Option<&'a str>,
    timestamp: i64,
    body: &'a [u8],
) -> signature::Request<'a> {
    signature::Request {
        method: "POST",
        path: "/",
        query,
        header,
        timestamp,
        body,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(lines) = lines(data) else { return };
    let [auth_text, timestamp, query, rest @ ..] = &lines[..] else {
        return;
    };
    if let Ok(params) = tencent::query_params(query) {
        assert!(params.is_object());
    }
    let end = rest.iter().position(|l| l.is_empty()).unwrap_or(rest.len());
    let headers: Vec<(String, &str)> = rest[..end]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim()))
        .collect();
    let body = rest
        .get(end + 1..)
        .map(|b| b.join("\n"))
        .unwrap_or_default();
    let Ok(timestamp) = timestamp.parse::<i64>() else {
        return;
    };
    let lookup = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let Ok(auth) = signature::Authorization::parse(auth_text) else {
        return;
    };
    let request = |body| post(query, &lookup, timestamp, body);
    let key = SECRET_KEY.as_bytes();
    let _ = request(body.as_bytes()).verify(&auth, key);
    if auth.service != signature::SERVICE || auth.date != signature::utc_date(timestamp) {
        return;
    }
    // Every signed header must be present to sign at all.
    let Ok(own) = request(body.as_bytes()).signature(&auth, key) else {
        return;
    };
    let mut signed = signature::Authorization::parse(auth_text).expect("it parsed above");
    signed.signature = &own;
    assert!(request(body.as_bytes()).verify(&signed, key).is_ok());
    let unsigned = lookup("x-tc-content-sha256") == Some(signature::UNSIGNED_PAYLOAD);
    let longer = format!("{body}x");
    assert_eq!(
        request(longer.as_bytes()).verify(&signed, key).is_ok(),
        unsigned
    );
});
