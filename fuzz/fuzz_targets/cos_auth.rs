//! The COS request signature: routing a request (`cos_gateway::route::route`), classifying it
//! (`Endpoint::parse`) and verifying its `Authorization` header or presigned query
//! (`cos_gateway::auth::verify`), on arbitrary requests.
//!
//! Input lines: method, request target (origin or absolute form), then `name: value` headers.
//!
//! Invariants: an unsigned request is anonymous, never accepted as signed; and a request signed as
//! the SDKs sign it (`cos_gateway::auth::sign`, every header and parameter) verifies, in the
//! header and in the presigned query, whenever it is a request an honest client can send: one
//! value per header, visible ASCII values, no parameter given twice or without a name, routed on
//! its Host header.
#![no_main]

use cos_gateway::auth::{self, SecretKey, Signed, SignedRequest};
use cos_gateway::endpoint::Endpoint;
use cos_kms_fuzz::{NOW, SECRET_ID, SECRET_KEY, SIGN_WINDOW, credentials, lines};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fn verify(
    method: &str,
    target: &cos_gateway::route::Target,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> cos_gateway::Result<Signed> {
    let req = SignedRequest {
        method,
        path: &target.path,
        query,
        headers,
        host: &target.host,
        bucket_in_host: cos_gateway::route::bucket_from_host(&target.host).is_some(),
    };
    auth::verify(credentials(), &req, NOW, auth::DEFAULT_MAX_SIGNATURE_AGE)
}

fuzz_target!(|data: &[u8]| {
    let Some(lines) = lines(data) else { return };
    let [method, uri, header_lines @ ..] = &lines[..] else {
        return;
    };
    let mut builder = http::Request::builder().method(*method).uri(*uri);
    for line in header_lines {
        if let Some((name, value)) = line.split_once(':') {
            builder = builder.header(name.trim(), value.trim());
        }
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    let Ok(target) = cos_gateway::route::route(&parts) else {
        return;
    };
    let _ = Endpoint::parse(&parts.method, &target, &parts.headers);
    let method = parts.method.as_str();
    let signed_in_query = target.query.iter().any(|(k, _)| k == "q-sign-algorithm");
    let verdict = verify(method, &target, &target.query, &parts.headers);
    if !parts.headers.contains_key(http::header::AUTHORIZATION) && !signed_in_query {
        assert!(matches!(verdict, Ok(Signed::Anonymous)), "{verdict:?}");
    }

    // Sign it as an SDK would and check that it verifies.
    let mut headers = parts.headers.clone();
    headers.remove(http::header::AUTHORIZATION);
    let mut pairs = Vec::new();
    for name in headers.keys() {
        let values: Vec<&HeaderValue> = headers.get_all(name).iter().collect();
        let [value] = values[..] else { return };
        let Ok(value) = value.to_str() else { return };
        pairs.push((name.as_str().to_owned(), value.to_owned()));
    }
    let mut names: Vec<String> = target
        .query
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1])
        || names.iter().any(String::is_empty)
        || parts.uri.authority().is_some()
        || names.iter().any(|n| auth::is_signature_param(n))
    {
        return;
    }
    let secret = SecretKey::new(SECRET_KEY);
    let authorization = auth::sign(
        SECRET_ID,
        &secret,
        method,
        &target.path,
        &target.query,
        &pairs,
        SIGN_WINDOW,
    );
    let Ok(value) = HeaderValue::from_str(&authorization) else {
        panic!("the signer wrote an invalid header value: {authorization:?}");
    };
    let mut with_header = headers.clone();
    with_header.insert(http::header::AUTHORIZATION, value);
    let verdict = verify(method, &target, &target.query, &with_header);
    assert!(
        matches!(verdict, Ok(Signed::Yes)),
        "header: {verdict:?} for {authorization}"
    );

    // The same signature as presigned query parameters (values as parse_query decodes them).
    let mut query = target.query.clone();
    for pair in authorization.split('&') {
        let (k, v) = pair.split_once('=').expect("the signer writes k=v pairs");
        query.push((k.to_owned(), v.to_owned()));
    }
    let verdict = verify(method, &target, &query, &headers);
    assert!(
        matches!(verdict, Ok(Signed::Yes)),
        "query: {verdict:?} for {authorization}"
    );
});
