//! The COS v5 request signature (`q-sign-algorithm=sha1`, `docs/cos-kms-spec.md` §5): verifying
//! an `Authorization` header or presigned query parameters, and a signer as the SDKs sign (used by
//! the tests and the benchmark client).
//!
//! The key derivation (`hmac_hex` over the key time) is shared with the POST Object policy
//! signature in [`super::post_policy`], which signs a policy document instead of a request.

use hmac::Mac as _;
use http::HeaderMap;
use sha1::{Digest as _, Sha1};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::credentials::{Credentials, SecretKey};
use crate::error::{Error, Result};
use crate::wire::cos_encode;

type HmacSha1 = hmac::Hmac<Sha1>;

/// Hex HMAC-SHA1 of `msg` under `key`: the sign key (over the key time) and the signature.
pub(super) fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    let mut m = HmacSha1::new_from_slice(key).expect("HMAC accepts keys of any length");
    m.update(msg);
    hex::encode(m.finalize().into_bytes())
}

/// The parsed signature fields.
#[derive(Debug, Default)]
struct SignFields {
    algorithm: String,
    ak: String,
    sign_time: String,
    key_time: String,
    header_list: String,
    param_list: String,
    signature: String,
}

impl SignFields {
    fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a str, String)>) -> Self {
        let mut f = Self::default();
        for (k, v) in pairs {
            match k {
                "q-sign-algorithm" => f.algorithm = v,
                "q-ak" => f.ak = v,
                "q-sign-time" => f.sign_time = v,
                "q-key-time" => f.key_time = v,
                "q-header-list" => f.header_list = v,
                "q-url-param-list" => f.param_list = v,
                "q-signature" => f.signature = v,
                _ => {}
            }
        }
        f
    }
}

/// What verification needs from a request. `Debug` shows header names only (values include the
/// signature and SSE-C keys).
pub struct SignedRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The decoded path, starting with `/`.
    pub path: &'a str,
    /// Query parameters, decoded, in order.
    pub query: &'a [(String, String)],
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The host the request was routed on (absolute-form authority or `Host`).
    pub host: &'a str,
    /// Whether the bucket was taken from the host name (virtual-host style): then the signature
    /// must cover `host`, or it would not be bound to any bucket.
    pub bucket_in_host: bool,
}

impl std::fmt::Debug for SignedRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &crate::wire::header_names(self.headers))
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// Headers that choose what an operation does, or who may read what it writes; a signature must
/// cover every one present. Without `x-cos-acl` and `x-cos-grant-*` here, the holder of a
/// presigned PUT could make its object (or, on a bucket, every object) public.
const MUST_SIGN_HEADER_PREFIXES: &[&str] = &[
    "x-cos-copy-source",
    "x-cos-server-side-encryption",
    "x-cos-metadata-directive",
    "x-cos-acl",
    "x-cos-grant-",
    "x-cos-tagging",
    "x-cos-storage-class",
];

/// Query parameters that choose the operation or the data it touches (every one
/// `Endpoint::parse` reads but the `response-*` overrides and the listings' paging): a signature
/// must cover every one present, so a presigned `DELETE /k` cannot become the permanent deletion
/// of `?versionId=...`, nor a presigned `PUT /k` a `PUT /k?acl`.
const MUST_SIGN_PARAMS: &[&str] = &[
    "uploadid",
    "partnumber",
    "uploads",
    "encryption",
    "acl",
    "tagging",
    "versioning",
    "versions",
    "versionid",
    "location",
    "delete",
    "restore",
];

/// The query parameters of a presigned URL that carry its signature (and a temporary
/// credential's token) rather than choose an operation: routing ignores them (`docs/cos-kms-spec.md` §5).
pub const SIGNATURE_PARAMS: &[&str] = &[
    "q-sign-algorithm",
    "q-ak",
    "q-sign-time",
    "q-key-time",
    "q-header-list",
    "q-url-param-list",
    "q-signature",
    "x-cos-security-token",
];

/// Whether a query parameter is one of [`SIGNATURE_PARAMS`].
pub fn is_signature_param(name: &str) -> bool {
    SIGNATURE_PARAMS.contains(&name)
}

/// Where the signature was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signed {
    /// `Authorization` header or presigned query: verified.
    Yes,
    /// No signature at all (anonymous).
    Anonymous,
}

/// A `start;end` time window in unix seconds (`q-sign-time`, `q-key-time`).
pub(super) fn parse_window(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once(';')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The longest validity window a signature may have unless `--max-signature-age` says otherwise:
/// 7 days, S3's limit for a presigned URL. COS itself sets none; this is the gateway's choice, so
/// that a leaked URL signed for `0;9999999999` does not work forever.
pub const DEFAULT_MAX_SIGNATURE_AGE: std::time::Duration =
    std::time::Duration::from_secs(7 * 24 * 60 * 60);

/// How far in the future a signature's window may start: the signer's clock may run this much ahead
/// of the gateway's.
pub const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(60);

/// Checks a signature's `start;end` window at `now`: `403 AccessDenied` when `now` is past its
/// end or more than [`CLOCK_SKEW`] before its start ("Request has expired"), or when the window is
/// longer than `max_age`, wherever `now` is in it.
pub(super) fn check_window(
    (start, end): (i64, i64),
    now: i64,
    max_age: std::time::Duration,
) -> Result<()> {
    let skew = i64::try_from(CLOCK_SKEW.as_secs()).expect("CLOCK_SKEW is a minute");
    if now > end || now < start.saturating_sub(skew) {
        return Err(Error::AccessDenied("Request has expired".to_owned()));
    }
    let max = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    if end.saturating_sub(start) > max {
        return Err(Error::AccessDenied(format!(
            "the signature is valid for longer than the gateway's --max-signature-age of {} s",
            max_age.as_secs()
        )));
    }
    Ok(())
}

/// Verifies a request's COS v5 signature against `creds` at time `now` (unix seconds); its
/// `q-sign-time` and `q-key-time` windows may be at most `max_age` long ([`check_window`]).
///
/// `Ok(Signed::Anonymous)` when the request carries no signature; the caller decides (the gateway
/// refuses anonymous requests with `AccessDenied`).
pub fn verify(
    creds: &Credentials,
    req: &SignedRequest<'_>,
    now: i64,
    max_age: std::time::Duration,
) -> Result<Signed> {
    let fields = if let Some(auth) = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|a| !a.trim().is_empty())
    {
        SignFields::from_pairs(auth.trim().split('&').filter_map(|p| {
            p.split_once('=').map(|(k, v)| {
                let (k, v) = (k.trim(), v.trim());
                // A list is split before its names are decoded ([`listed_names`]): a name may hold
                // an encoded `;`.
                let v = if k == "q-header-list" || k == "q-url-param-list" {
                    v.to_owned()
                } else {
                    // Not UTF-8: empty, which matches nothing (the signature is then refused).
                    crate::wire::decode(v).unwrap_or_default()
                };
                (k, v)
            })
        }))
    } else if req.query.iter().any(|(k, _)| k == "q-sign-algorithm") {
        SignFields::from_pairs(req.query.iter().map(|(k, v)| (k.as_str(), v.clone())))
    } else {
        return Ok(Signed::Anonymous);
    };
    if !fields.algorithm.eq_ignore_ascii_case("sha1") {
        return Err(Error::AccessDenied(
            "q-sign-algorithm must be sha1".to_owned(),
        ));
    }
    let secret = creds.get(&fields.ak).ok_or(Error::InvalidAccessKeyId)?;
    let sign_window = parse_window(&fields.sign_time)
        .ok_or_else(|| Error::AccessDenied("q-sign-time is malformed".to_owned()))?;
    check_window(sign_window, now, max_age)?;
    let key_window = parse_window(&fields.key_time)
        .ok_or_else(|| Error::AccessDenied("q-key-time is malformed".to_owned()))?;
    check_window(key_window, now, max_age)?;
    let params = canonical_params(&fields.param_list, req.query);
    let header_names = listed_names(&fields.header_list);
    let header_names: Vec<&str> = header_names.iter().map(String::as_str).collect();
    let param_names = listed_names(&fields.param_list);
    let param_names: Vec<&str> = param_names.iter().map(String::as_str).collect();
    check_coverage(req, &header_names, &param_names)?;
    // The host routed on, then without its port (the Python SDK signs the host without the port).
    let host = req.host;
    let mut hosts = vec![host.to_owned()];
    hosts.extend(port_free(host));
    let given = fields.signature.to_ascii_lowercase();
    for h in &hosts {
        let headers = canonical_headers(&header_names, req.headers, h);
        let expected = signature(
            secret,
            &fields.key_time,
            &fields.sign_time,
            req.method,
            req.path,
            &params,
            &headers,
        );
        if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Ok(Signed::Yes);
        }
    }
    Err(Error::SignatureDoesNotMatch)
}

/// Refuses a signature that leaves unsigned what decides the operation: the host of a
/// virtual-host request, an SSE / copy-source / metadata-directive header, an operation parameter,
/// or a parameter given twice (names compare case-insensitively, as the signature does).
fn check_coverage(req: &SignedRequest<'_>, headers: &[&str], params: &[&str]) -> Result<()> {
    let signed_header = |name: &str| headers.iter().any(|h| h.eq_ignore_ascii_case(name));
    if req.bucket_in_host && !signed_header("host") {
        return Err(Error::AccessDenied(
            "the signature must cover the host header".to_owned(),
        ));
    }
    for name in req.headers.keys() {
        let name = name.as_str();
        if MUST_SIGN_HEADER_PREFIXES
            .iter()
            .any(|p| name.starts_with(p))
            && !signed_header(name)
        {
            return Err(Error::AccessDenied(format!(
                "the signature must cover the header {name}"
            )));
        }
    }
    let mut seen: Vec<String> = Vec::with_capacity(req.query.len());
    for (k, _) in req.query {
        let k = k.to_ascii_lowercase();
        if seen.contains(&k) {
            return Err(Error::AccessDenied(format!(
                "the query parameter {k} is given twice"
            )));
        }
        if MUST_SIGN_PARAMS.contains(&k.as_str()) && !params.iter().any(|p| *p == k) {
            return Err(Error::AccessDenied(format!(
                "the signature must cover the query parameter {k}"
            )));
        }
        seen.push(k);
    }
    Ok(())
}

/// `host:port` without `:port` (`None` when there is no port).
fn port_free(host: &str) -> Option<String> {
    let (h, port) = host.rsplit_once(':')?;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty())
        .then(|| h.to_owned())
        .filter(|h| !h.starts_with('[') || h.ends_with(']'))
}

fn split_list(list: &str) -> Vec<&str> {
    list.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The names of a `q-header-list` or `q-url-param-list`, split on `;`, then each percent-decoded:
/// the signer lists them encoded (a `;` in a name is `%3b`).
fn listed_names(list: &str) -> Vec<String> {
    split_list(list)
        .into_iter()
        .map(|n| {
            crate::wire::decode(n)
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
        .collect()
}

/// A name as the signature covers it: encoded, lower case (`%3f`, as the SDKs write it).
fn signed_name(decoded: &str) -> String {
    cos_encode(decoded).to_ascii_lowercase()
}

fn canonical_params(list: &str, query: &[(String, String)]) -> String {
    let mut names: Vec<String> = listed_names(list).iter().map(|n| signed_name(n)).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|name| {
            let value = query
                .iter()
                .find(|(k, _)| cos_encode(k).to_ascii_lowercase() == *name)
                .map_or(String::new(), |(_, v)| cos_encode(v));
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The signed headers' canonical string; `names` are decoded ([`listed_names`]).
fn canonical_headers(names: &[&str], headers: &HeaderMap, host: &str) -> String {
    let mut names: Vec<(String, &str)> = names.iter().map(|n| (signed_name(n), *n)).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|(signed, name)| {
            let value = if *name == "host" {
                cos_encode(host)
            } else {
                headers
                    .get(*name)
                    .map(|v| cos_encode(&String::from_utf8_lossy(v.as_bytes())))
                    .unwrap_or_default()
            };
            format!("{signed}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn signature(
    secret: &SecretKey,
    key_time: &str,
    sign_time: &str,
    method: &str,
    path: &str,
    params: &str,
    headers: &str,
) -> String {
    let sign_key = Zeroizing::new(hmac_hex(secret.expose(), key_time.as_bytes()));
    let http_string = format!(
        "{}\n{}\n{}\n{}\n",
        method.to_ascii_lowercase(),
        path,
        params,
        headers
    );
    let string_to_sign = format!(
        "sha1\n{}\n{}\n",
        sign_time,
        hex::encode(Sha1::digest(http_string.as_bytes()))
    );
    hmac_hex(sign_key.as_bytes(), string_to_sign.as_bytes())
}

/// Signs a request as the SDKs do: every header given is signed (names lower-cased), and every
/// query parameter. Returns the `Authorization` value. For tests and the benchmark client.
pub fn sign(
    secret_id: &str,
    secret_key: &SecretKey,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    (start, end): (i64, i64),
) -> String {
    let window = format!("{start};{end}");
    let mut h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (cos_encode(k).to_ascii_lowercase(), cos_encode(v)))
        .collect();
    h.sort();
    let mut q: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (cos_encode(k).to_ascii_lowercase(), cos_encode(v)))
        .collect();
    q.sort();
    let join = |v: &[(String, String)]| {
        v.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let names = |v: &[(String, String)]| {
        v.iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";")
    };
    let sign_key = Zeroizing::new(hmac_hex(secret_key.expose(), window.as_bytes()));
    let http_string = format!(
        "{}\n{}\n{}\n{}\n",
        method.to_ascii_lowercase(),
        path,
        join(&q),
        join(&h)
    );
    let string_to_sign = format!(
        "sha1\n{window}\n{}\n",
        hex::encode(Sha1::digest(http_string.as_bytes()))
    );
    let sig = hmac_hex(sign_key.as_bytes(), string_to_sign.as_bytes());
    format!(
        "q-sign-algorithm=sha1&q-ak={secret_id}&q-sign-time={window}&q-key-time={window}&q-header-list={}&q-url-param-list={}&q-signature={sig}",
        names(&h),
        names(&q)
    )
}
#[cfg(test)]
mod tests {
    use super::super::test_credentials as creds;
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            crate::wire::set(&mut h, k, v);
        }
        h
    }

    /// A signature computed by the Python SDK's `CosS3Auth` (qcloud_cos 1.9.44) for
    /// `PUT /a b/测试.txt?partNumber=1&uploadId=xyz` with Host and an SSE header, sign time
    /// 1700000000;1700010060, secret key `secretkey` (the SDK's own `Authorization` value).
    #[test]
    fn python_sdk_vector() {
        let h = headers(&[
            (
                "host",
                "examplebucket-1250000000.cos.ap-beijing.myqcloud.com",
            ),
            ("x-cos-server-side-encryption", "AES256"),
        ]);
        let query = vec![
            ("partNumber".to_owned(), "1".to_owned()),
            ("uploadId".to_owned(), "xyz".to_owned()),
        ];
        let auth = sign(
            "AKIDtest",
            &SecretKey::new("secretkey"),
            "PUT",
            "/a b/测试.txt",
            &query,
            &[
                (
                    "Host".into(),
                    "examplebucket-1250000000.cos.ap-beijing.myqcloud.com".into(),
                ),
                ("x-cos-server-side-encryption".into(), "AES256".into()),
            ],
            (1_700_000_000, 1_700_010_060),
        );
        assert_eq!(
            auth,
            "q-sign-algorithm=sha1&q-ak=AKIDtest&q-sign-time=1700000000;1700010060\
             &q-key-time=1700000000;1700010060&q-header-list=host;x-cos-server-side-encryption\
             &q-url-param-list=partnumber;uploadid&q-signature=6191ed92ea5cef7ae2ee9aa26d104f2c870e003b"
        );
        let mut h2 = h.clone();
        crate::wire::set(&mut h2, "authorization", &auth);
        let req = SignedRequest {
            method: "PUT",
            path: "/a b/测试.txt",
            query: &query,
            headers: &h2,
            host: "examplebucket-1250000000.cos.ap-beijing.myqcloud.com",
            bucket_in_host: true,
        };
        assert_eq!(
            verify(&creds(), &req, 1_700_005_000, DEFAULT_MAX_SIGNATURE_AGE).unwrap(),
            Signed::Yes
        );
        // Outside the window.
        let e = verify(&creds(), &req, 1_900_000_000, DEFAULT_MAX_SIGNATURE_AGE).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("AccessDenied", 403));
        // A changed header.
        let mut h3 = h2.clone();
        crate::wire::set(&mut h3, "x-cos-server-side-encryption", "cos/kms");
        let req3 = SignedRequest {
            headers: &h3,
            ..req
        };
        let e = verify(&creds(), &req3, 1_700_005_000, DEFAULT_MAX_SIGNATURE_AGE).unwrap_err();
        assert_eq!(
            (e.code(), e.status().as_u16()),
            ("SignatureDoesNotMatch", 403)
        );
        // Another path.
        let req4 = SignedRequest {
            path: "/other",
            ..req
        };
        assert_eq!(
            verify(&creds(), &req4, 1_700_005_000, DEFAULT_MAX_SIGNATURE_AGE)
                .unwrap_err()
                .code(),
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn signature_windows_are_bounded() {
        let max = DEFAULT_MAX_SIGNATURE_AGE;
        let week = i64::try_from(max.as_secs()).unwrap();
        let skew = i64::try_from(CLOCK_SKEW.as_secs()).unwrap();
        let now = 1_700_000_000;
        for ok in [
            (now - 60, now + 900),
            (now - 10, now - 10 + week),
            (now, now),
            (now + skew, now + skew + 10),
        ] {
            check_window(ok, now, max).unwrap();
        }
        for (bad, says) in [
            ((0, 9_999_999_999), "max-signature-age of 604800 s"),
            ((now - 10, now - 9 + week), "max-signature-age"),
            ((now + skew + 1, now + 900), "Request has expired"),
            ((now - 900, now - 1), "Request has expired"),
            ((i64::MIN, i64::MAX), "max-signature-age"),
        ] {
            let e = check_window(bad, now, max).unwrap_err();
            assert_eq!((e.code(), e.status().as_u16()), ("AccessDenied", 403));
            assert!(e.message().contains(says), "{bad:?}: {e}");
        }
        // A shorter limit applies as given.
        let e = check_window(
            (now - 10, now + 3600),
            now,
            std::time::Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(e.message().contains("of 60 s"), "{e}");
    }

    #[test]
    fn unknown_secret_id_and_algorithm() {
        let auth = sign(
            "AKIDother",
            &SecretKey::new("x"),
            "GET",
            "/",
            &[],
            &[],
            (0, i64::MAX / 2),
        );
        let h = headers(&[("authorization", &auth)]);
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: &[],
            headers: &h,
            host: "",
            bucket_in_host: false,
        };
        let e = verify(&creds(), &req, 10, DEFAULT_MAX_SIGNATURE_AGE).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("InvalidAccessKeyId", 403));
        let bad = auth.replace("sha1", "md5");
        let h = headers(&[("authorization", &bad)]);
        let req = SignedRequest { headers: &h, ..req };
        assert_eq!(
            verify(&creds(), &req, 10, DEFAULT_MAX_SIGNATURE_AGE)
                .unwrap_err()
                .code(),
            "AccessDenied"
        );
    }

    #[test]
    fn host_signed_without_port_is_accepted() {
        let auth = sign(
            "AKIDtest",
            &SecretKey::new("secretkey"),
            "GET",
            "/k",
            &[],
            &[("host".into(), "b-1.cos.r.myqcloud.com".into())],
            (0, 100),
        );
        let h = headers(&[
            ("host", "b-1.cos.r.myqcloud.com:8443"),
            ("authorization", &auth),
        ]);
        let req = SignedRequest {
            method: "GET",
            path: "/k",
            query: &[],
            headers: &h,
            host: "b-1.cos.r.myqcloud.com:8443",
            bucket_in_host: true,
        };
        assert_eq!(
            verify(&creds(), &req, 50, DEFAULT_MAX_SIGNATURE_AGE).unwrap(),
            Signed::Yes
        );
        // And with the port, as Node signs it.
        let auth = sign(
            "AKIDtest",
            &SecretKey::new("secretkey"),
            "GET",
            "/k",
            &[],
            &[("host".into(), "b-1.cos.r.myqcloud.com:8443".into())],
            (0, 100),
        );
        let h = headers(&[
            ("host", "b-1.cos.r.myqcloud.com:8443"),
            ("authorization", &auth),
        ]);
        let req = SignedRequest { headers: &h, ..req };
        assert_eq!(
            verify(&creds(), &req, 50, DEFAULT_MAX_SIGNATURE_AGE).unwrap(),
            Signed::Yes
        );
    }

    /// Found by `fuzz/` (target `cos_auth`): the signer lists names encoded (`?:` as `%3f%3a`,
    /// `a;b` as `a%3bb`) and the verifier decoded the `Authorization` values, then split the lists
    /// and used the names as they were, so a parameter or header whose name has a character the
    /// signature encodes never verified.
    #[test]
    fn names_with_encoded_characters_verify() {
        let query = vec![
            ("?:".to_owned(), "v w".to_owned()),
            ("a;b".to_owned(), "x".to_owned()),
        ];
        let auth = sign(
            "AKIDtest",
            &SecretKey::new("secretkey"),
            "GET",
            "/k",
            &query,
            &[("host".into(), "h".into()), ("x-a!b".into(), "1".into())],
            (0, 100),
        );
        assert!(
            auth.contains("q-header-list=host;x-a%21b&q-url-param-list=%3f%3a;a%3bb&"),
            "{auth}"
        );
        let check = |query: &[(String, String)], h: &HeaderMap| {
            let req = SignedRequest {
                method: "GET",
                path: "/k",
                query,
                headers: h,
                host: "h",
                bucket_in_host: false,
            };
            verify(&creds(), &req, 50, DEFAULT_MAX_SIGNATURE_AGE)
        };
        let signed = headers(&[("host", "h"), ("x-a!b", "1"), ("authorization", &auth)]);
        assert_eq!(check(&query, &signed).unwrap(), Signed::Yes);
        // Presigned: the same fields as query parameters, decoded once by the query parser.
        let mut presigned = query.clone();
        presigned.extend(auth.split('&').map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        }));
        let plain = headers(&[("host", "h"), ("x-a!b", "1")]);
        assert_eq!(check(&presigned, &plain).unwrap(), Signed::Yes);
        // The header's value is still covered.
        let changed = headers(&[("host", "h"), ("x-a!b", "2")]);
        assert_eq!(
            check(&presigned, &changed).unwrap_err().code(),
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn presigned_query_is_verified() {
        let auth = sign(
            "AKIDtest",
            &SecretKey::new("secretkey"),
            "GET",
            "/k",
            &[],
            &[("host".into(), "h".into())],
            (0, 100),
        );
        let mut query: Vec<(String, String)> = auth
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let h = headers(&[("host", "h")]);
        let req = SignedRequest {
            method: "GET",
            path: "/k",
            query: &query,
            headers: &h,
            host: "h",
            bucket_in_host: false,
        };
        assert_eq!(
            verify(&creds(), &req, 50, DEFAULT_MAX_SIGNATURE_AGE).unwrap(),
            Signed::Yes
        );
        query.last_mut().unwrap().1 = "0".repeat(40);
        let req = SignedRequest {
            method: "GET",
            path: "/k",
            query: &query,
            headers: &h,
            host: "h",
            bucket_in_host: false,
        };
        assert_eq!(
            verify(&creds(), &req, 50, DEFAULT_MAX_SIGNATURE_AGE)
                .unwrap_err()
                .code(),
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn what_decides_the_operation_must_be_signed() {
        let host = "b-1.cos.r.myqcloud.com";
        let t = (0, 100);
        let key = SecretKey::new("secretkey");
        let check = |auth: &str, extra: &[(&str, &str)], query: &[(String, String)], in_host| {
            let mut pairs = vec![("host", host), ("authorization", auth)];
            pairs.extend_from_slice(extra);
            let h = headers(&pairs);
            let req = SignedRequest {
                method: "PUT",
                path: "/k",
                query,
                headers: &h,
                host,
                bucket_in_host: in_host,
            };
            verify(&creds(), &req, 50, DEFAULT_MAX_SIGNATURE_AGE)
                .map_err(|e| (e.code(), e.to_string()))
        };
        // No host in the signature: bound to no bucket in virtual-host style.
        let no_host = sign("AKIDtest", &key, "PUT", "/k", &[], &[], t);
        let (code, msg) = check(&no_host, &[], &[], true).unwrap_err();
        assert_eq!(code, "AccessDenied");
        assert!(msg.contains("host"), "{msg}");
        assert_eq!(check(&no_host, &[], &[], false).unwrap(), Signed::Yes);
        // An SSE or copy-source header added after signing.
        let signed = sign(
            "AKIDtest",
            &key,
            "PUT",
            "/k",
            &[],
            &[("host".into(), host.into())],
            t,
        );
        assert_eq!(check(&signed, &[], &[], true).unwrap(), Signed::Yes);
        for extra in [
            ("x-cos-copy-source", "other-1.cos.r.myqcloud.com/secret"),
            ("x-cos-server-side-encryption", "AES256"),
            ("x-cos-metadata-directive", "Replaced"),
            ("x-cos-acl", "public-read"),
            (
                "x-cos-grant-read",
                "uri=\"http://cam.qcloud.com/groups/global/AllUsers\"",
            ),
            ("x-cos-tagging", "a=b"),
            ("x-cos-tagging-directive", "Replaced"),
            ("x-cos-storage-class", "ARCHIVE"),
        ] {
            let (code, msg) = check(&signed, &[extra], &[], true).unwrap_err();
            assert_eq!(code, "AccessDenied", "{extra:?}");
            assert!(msg.contains(extra.0), "{msg}");
        }
        // An operation parameter left out of the signature, and a parameter given twice.
        for (name, value) in [
            ("uploadId", "u"),
            ("partNumber", "1"),
            ("acl", ""),
            ("tagging", ""),
            ("versioning", ""),
            ("versions", ""),
            ("versionId", "null"),
            ("location", ""),
            ("delete", ""),
            ("restore", ""),
        ] {
            let q = vec![(name.to_owned(), value.to_owned())];
            let (code, msg) = check(&signed, &[], &q, true).unwrap_err();
            assert_eq!(code, "AccessDenied", "{name}");
            assert!(msg.contains(&name.to_ascii_lowercase()), "{msg}");
            // Signed, the same parameter passes.
            let covered = sign(
                "AKIDtest",
                &key,
                "PUT",
                "/k",
                &q,
                &[("host".into(), host.into())],
                t,
            );
            assert_eq!(
                check(&covered, &[], &q, true).unwrap(),
                Signed::Yes,
                "{name}"
            );
        }
        // What only shapes the reply or pages a listing may stay unsigned.
        for name in ["response-content-type", "prefix", "max-keys"] {
            let q = vec![(name.to_owned(), "x".to_owned())];
            assert_eq!(
                check(&signed, &[], &q, true).unwrap(),
                Signed::Yes,
                "{name}"
            );
        }
        let q2 = vec![
            ("uploadId".to_owned(), "a".to_owned()),
            ("UploadId".to_owned(), "b".to_owned()),
        ];
        let signed_q = sign(
            "AKIDtest",
            &key,
            "PUT",
            "/k",
            &q2[..1],
            &[("host".into(), host.into())],
            t,
        );
        let (code, msg) = check(&signed_q, &[], &q2, true).unwrap_err();
        assert_eq!(code, "AccessDenied");
        assert!(msg.contains("twice"), "{msg}");
        assert_eq!(check(&signed_q, &[], &q2[..1], true).unwrap(), Signed::Yes);
    }

    #[test]
    fn debug_shows_header_names_not_values() {
        let h = headers(&[
            ("authorization", "q-signature=0123456789abcdef"),
            (
                "x-cos-server-side-encryption-customer-key",
                "c2VjcmV0LWtleQ==",
            ),
        ]);
        let req = SignedRequest {
            method: "GET",
            path: "/k",
            query: &[],
            headers: &h,
            host: "h",
            bucket_in_host: false,
        };
        let shown = format!("{req:?}");
        assert!(
            shown.contains("x-cos-server-side-encryption-customer-key"),
            "{shown}"
        );
        assert!(!shown.contains("c2VjcmV0LWtleQ=="), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }

    #[test]
    fn no_signature_is_anonymous() {
        let h = HeaderMap::new();
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: &[],
            headers: &h,
            host: "",
            bucket_in_host: false,
        };
        assert_eq!(
            verify(&creds(), &req, 0, DEFAULT_MAX_SIGNATURE_AGE).unwrap(),
            Signed::Anonymous
        );
    }
}
