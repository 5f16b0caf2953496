//! The HTTP wire format as the gateway writes and reads it: the response body type and response
//! builders, header-name case, URL and query encoding, HTTP and ISO dates, the COS error document.
//! (Named `wire`, not `http`, so that it does not shadow the `http` crate.)
//!
//! # Header-name case
//!
//! hyper writes header names in lower case, but the Python SDK copies the response headers into a
//! plain `dict` and reads `resp['ETag']`, `resp['Content-Length']`, and
//! `resp['x-cos-server-side-encryption-customer-key-MD5']` (`docs/cos-kms-spec.md` §0.1). hyper's HTTP/1 encoder writes
//! a header's original case when the response carries hyper's (crate-private) header-case map in
//! its extensions; that map is produced by hyper itself when it parses a message with
//! `preserve_header_case`. So at start-up [`HeaderCase::build`] makes hyper parse one request whose
//! header names are spelled as COS spells them, keeps that request's extensions, and every response
//! gets a clone of them ([`HeaderCase::apply`]). Names not in the template (`x-cos-*`) are written in
//! lower case, which is what COS does. A test reads raw response bytes to prove it.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, Full, combinators::UnsyncBoxBody};

use crate::error::Error;

/// The response body: a whole buffer or a stream (GET), boxed.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// A response under construction.
pub type Response = http::Response<Body>;

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// A body from a buffer.
pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

/// The header names, spelled as COS sends them, whose case must survive hyper's encoder.
pub const CASED_HEADER_NAMES: &[&str] = &[
    "ETag",
    "Content-Length",
    "Content-Type",
    "Last-Modified",
    "Date",
    "Server",
    "Connection",
    "Accept-Ranges",
    "Content-Range",
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
    "Location",
    storage_adapter::sse::SSE_C_KEY_MD5,
];

/// The extensions that make hyper write [`CASED_HEADER_NAMES`] in their COS case.
#[derive(Clone)]
pub struct HeaderCase(Arc<http::Extensions>);

impl std::fmt::Debug for HeaderCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderCase").finish_non_exhaustive()
    }
}

impl HeaderCase {
    /// Lets hyper parse a template request over an in-memory pipe and keeps its extensions.
    pub async fn build() -> std::io::Result<Self> {
        use tokio::io::AsyncWriteExt as _;
        let (mut client, server) = tokio::io::duplex(4096);
        let mut template = String::from("GET / HTTP/1.1\r\n");
        for name in CASED_HEADER_NAMES {
            // Values that hyper's request parser accepts for every name.
            let value = match *name {
                "Content-Length" => "0",
                "Connection" => "close",
                _ => "x",
            };
            template.push_str(&format!("{name}: {value}\r\n"));
        }
        template.push_str("\r\n");
        client.write_all(template.as_bytes()).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        let service = hyper::service::service_fn(move |req: http::Request<_>| {
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(req.extensions().clone());
            }
            async { Ok::<_, Infallible>(Response::new(empty())) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .preserve_header_case(true)
            .keep_alive(false)
            .serve_connection(hyper_util::rt::TokioIo::new(server), service);
        let drive = tokio::spawn(conn);
        let ext = rx
            .await
            .map_err(|_| std::io::Error::other("hyper did not parse the header-case template"))?;
        drop(client);
        let _ = drive.await;
        Ok(Self(Arc::new(ext)))
    }

    /// Gives `resp` the header-case extensions.
    pub fn apply<B>(&self, resp: &mut http::Response<B>) {
        resp.extensions_mut().extend((*self.0).clone());
    }
}

/// Sets a header from a string; values that cannot be header values are skipped.
pub fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        headers.insert(n, v);
    }
}

/// Appends the adapter's SSE echo headers.
pub fn set_sse(headers: &mut HeaderMap, echo: Vec<(&'static str, HeaderValue)>) {
    for (name, value) in echo {
        headers.insert(HeaderName::from_static(lower_static(name)), value);
    }
}

/// `HeaderName::from_static` needs lower case; the adapter's names are lower case except `-MD5`.
fn lower_static(name: &'static str) -> &'static str {
    match name {
        storage_adapter::sse::SSE_C_KEY_MD5 => "x-cos-server-side-encryption-customer-key-md5",
        storage_adapter::sse::COPY_SOURCE_SSE_C_KEY_MD5 => {
            "x-cos-copy-source-server-side-encryption-customer-key-md5"
        }
        other => other,
    }
}

/// A response with a status, an XML body and its `Content-Type`.
pub fn xml_response(status: StatusCode, xml: String) -> Response {
    let mut r = Response::new(full(xml));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// A response with only a status and an empty body.
pub fn status_response(status: StatusCode) -> Response {
    let mut r = Response::new(empty());
    *r.status_mut() = status;
    r
}

/// The COS error document for `e` (`docs/cos-kms-spec.md` §2): `Code`, `Message`, `Resource`, `RequestId` and
/// `TraceId`, all non-empty. 304 has no body, and the `ETag` and `Last-Modified` of the 200 it
/// stands for (RFC 9110 §15.4.5: caches update their copy from them).
pub fn error_response(e: &Error, resource: &str, request_id: &str, head: bool) -> Response {
    let status = e.status();
    if status.is_server_error() {
        tracing::error!(code = e.code(), error = %e, request_id, "request failed");
    } else {
        tracing::debug!(code = e.code(), error = %e, request_id, "request refused");
    }
    if let Error::NotModified { etag, modified } = e {
        let mut r = status_response(status);
        set(r.headers_mut(), "etag", &format!("\"{etag}\""));
        set(r.headers_mut(), "last-modified", &http_date(*modified));
        return r;
    }
    let resource = if resource.is_empty() { "/" } else { resource };
    let message = e.message();
    let xml = crate::documents::error_document(&crate::documents::ErrorDocument {
        code: e.code(),
        message: &message,
        resource,
        request_id,
        trace_id: request_id,
    })
    .unwrap_or_else(|err| {
        // Not expected: five strings under a fixed root. The status and code still go out.
        tracing::error!(error = %err, request_id, "the error document could not be written");
        String::from(crate::documents::XML_DECLARATION)
    });
    let len = xml.len();
    let mut r = xml_response(status, xml);
    if let Error::DeleteMarker { version_id, .. } = e {
        set(r.headers_mut(), DELETE_MARKER, "true");
        set(r.headers_mut(), VERSION_ID, version_id);
    }
    if head {
        // A HEAD response has no body; keep the length of what a GET would send.
        *r.body_mut() = empty();
        r.headers_mut()
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

/// The response header naming the version a request wrote, read or deleted.
pub const VERSION_ID: &str = "x-cos-version-id";

/// The response header saying that the version is a delete marker (`true`).
pub const DELETE_MARKER: &str = "x-cos-delete-marker";

/// Percent-decodes a URL component (`+` stays `+`). Bytes that are not UTF-8 once decoded are
/// refused, not replaced: a lossy decoding would make `/x%FF`, `/x%FE` and `/x%EF%BF%BD` one
/// key, and a request could read, overwrite or delete an object it did not name.
pub fn decode(s: &str) -> Result<String, Error> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| {
            Error::InvalidArgument("the request URI is not UTF-8 once percent-decoded".to_owned())
        })
}

/// Percent-decodes a query component, where `+` is a space.
pub fn decode_query(s: &str) -> Result<String, Error> {
    decode(&s.replace('+', " "))
}

/// A key or prefix as a listing shows it: with `encoding-type=url`, URI-encoded with `/` kept;
/// else as is.
pub fn listed_name(s: &str, url_encoded: bool) -> String {
    if url_encoded {
        cos_encode(s).replace("%2F", "/")
    } else {
        s.to_owned()
    }
}

/// The COS signature's URI encoding: unreserved `A-Za-z0-9-_.~` kept, all else `%XX` upper case.
pub fn cos_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// The query string as ordered (name, decoded value) pairs; a name without `=` has an empty value.
pub fn parse_query(query: Option<&str>) -> Result<Vec<(String, String)>, Error> {
    let Some(q) = query else {
        return Ok(Vec::new());
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((decode_query(k)?, decode_query(v)?)),
            None => Ok((decode_query(p)?, String::new())),
        })
        .collect()
}

/// Looks a query parameter up by exact name.
pub fn query_get<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A header as text, if present and visible ASCII.
pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An HTTP date (`Last-Modified`, `Date`).
pub fn http_date(unix_secs: i64) -> String {
    httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix_secs.max(0) as u64),
    )
}

/// An ISO 8601 date as in COS XML bodies (`2019-05-24T10:56:40.000Z`).
pub fn iso_date(unix_secs: i64) -> String {
    let secs = unix_secs.max(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
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

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The names of `headers`, for `Debug` output that must not show values (keys, signatures).
pub fn header_names(headers: &HeaderMap) -> Vec<&str> {
    headers.keys().map(http::HeaderName::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_encoding_keeps_only_unreserved() {
        assert_eq!(cos_encode("a b/c~d_e.f-g"), "a%20b%2Fc~d_e.f-g");
        assert_eq!(cos_encode("测"), "%E6%B5%8B");
        assert_eq!(cos_encode("x=1&y"), "x%3D1%26y");
    }

    #[test]
    fn query_parsing_decodes_and_keeps_empty_values() {
        let q = parse_query(Some("uploads&prefix=a%2Fb+c&max-keys=2")).unwrap();
        assert_eq!(query_get(&q, "uploads"), Some(""));
        assert_eq!(query_get(&q, "prefix"), Some("a/b c"));
        assert_eq!(query_get(&q, "max-keys"), Some("2"));
        assert_eq!(query_get(&q, "marker"), None);
    }

    /// Bytes that are not UTF-8 once decoded are refused, never replaced by U+FFFD (which would
    /// make several keys one).
    #[test]
    fn decoding_refuses_what_is_not_utf8() {
        assert_eq!(decode("x%EF%BF%BD").unwrap(), "x\u{FFFD}");
        for bad in ["x%FF", "x%FE", "%C3", "%ED%A0%80"] {
            let e = decode(bad).unwrap_err();
            assert_eq!(e.code(), "InvalidArgument", "{bad}");
            assert_eq!(
                e.to_string(),
                "the request URI is not UTF-8 once percent-decoded",
                "{bad}"
            );
        }
        assert!(parse_query(Some("prefix=%FF")).is_err());
        assert!(parse_query(Some("%FF=1")).is_err());
        assert!(parse_query(Some("%FF")).is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_date(1_558_695_400), "2019-05-24T10:56:40.000Z");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn error_document_has_the_four_fields() {
        let r = error_response(&Error::NoSuchKey, "b-1.cos.r.myqcloud.com/k", "rid", false);
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["content-type"], "application/xml");
    }

    #[test]
    fn not_modified_carries_the_validators() {
        let e = Error::NotModified {
            etag: "abc".into(),
            modified: 0,
        };
        let r = error_response(&e, "/k", "rid", false);
        assert_eq!(r.status(), 304);
        assert_eq!(r.headers()["etag"], "\"abc\"");
        assert_eq!(
            r.headers()["last-modified"],
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert!(r.headers().get("content-type").is_none());
    }

    #[tokio::test]
    async fn header_case_template_is_parsed() {
        let hc = HeaderCase::build().await.unwrap();
        let mut r = http::Response::new(());
        hc.apply(&mut r);
        assert!(!r.extensions().is_empty());
    }
}
