//! Routing a request to a bucket and a key.
//!
//! Three forms are accepted (`docs/cos-kms-spec.md` §6):
//!
//! * virtual host: `Host: <bucket>-<appid>.cos.<region>.myqcloud.com` (what the SDKs send in IP
//!   mode; any host whose second label is `cos` works, e.g. `.tencentcos.cn`), key = the path;
//! * absolute-form targets (`GET http://<bucket>...myqcloud.com/key HTTP/1.1`, SDK proxy mode):
//!   the target's authority is the host;
//! * path style: any other host, `/<bucket>/<key>`.

use http::request::Parts;

use crate::error::{Error, Result};
use crate::wire::{decode, header_str, parse_query};

/// Where a request goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The bucket (`None`: the service, `GET /` lists buckets).
    pub bucket: Option<String>,
    /// The object key (empty for bucket operations).
    pub key: String,
    /// The host as routed (absolute-form authority or `Host`).
    pub host: String,
    /// The decoded request path (what the signature covers).
    pub path: String,
    /// Decoded query parameters.
    pub query: Vec<(String, String)>,
}

impl Target {
    /// The `<Resource>` of an error document.
    pub fn resource(&self) -> String {
        match &self.bucket {
            Some(b) if self.host.contains(b.as_str()) => format!("{}{}", self.host, self.path),
            _ if !self.host.is_empty() => format!("{}{}", self.host, self.path),
            _ => self.path.clone(),
        }
    }
}

/// Strips `:port` from a host.
pub fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..=h.len()]);
    }
    host.rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

/// The bucket of a virtual-host name (`<bucket>.cos.<region>...`), if it is one.
pub fn bucket_from_host(host: &str) -> Option<&str> {
    let host = host_without_port(host);
    let (bucket, rest) = host.split_once('.')?;
    (rest.starts_with("cos.") && !bucket.is_empty()).then_some(bucket)
}

/// Whether a bucket name is valid: lower-case letters, digits and `-`, not at either end.
pub fn valid_bucket(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Routes a request.
pub fn route(parts: &Parts) -> Result<Target> {
    let host_header = header_str(&parts.headers, "host");
    let host = match parts.uri.authority() {
        Some(a) => {
            // The signature covers the Host header: routing on another name would let a
            // signature made for one bucket open another.
            if let Some(h) = host_header
                && !host_without_port(h).eq_ignore_ascii_case(host_without_port(a.as_str()))
            {
                return Err(Error::InvalidRequest(
                    "the request target's host and the Host header differ".to_owned(),
                ));
            }
            a.as_str().to_owned()
        }
        None => host_header.unwrap_or("").to_owned(),
    };
    let raw_path = parts.uri.path();
    let path = decode(raw_path)?;
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let query = parse_query(parts.uri.query())?;
    let (bucket, key) = if let Some(b) = bucket_from_host(&host) {
        (Some(b.to_owned()), path[1..].to_owned())
    } else {
        let rest = &path[1..];
        match rest.split_once('/') {
            Some((b, k)) => (Some(b.to_owned()), k.to_owned()),
            None if rest.is_empty() => (None, String::new()),
            None => (Some(rest.to_owned()), String::new()),
        }
    };
    let target = Target {
        bucket,
        key,
        host,
        path,
        query,
    };
    if let Some(b) = &target.bucket
        && !valid_bucket(b)
    {
        return Err(Error::InvalidBucketName);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, host: &str) -> Parts {
        let (p, ()) = http::Request::builder()
            .uri(uri)
            .header("host", host)
            .body(())
            .unwrap()
            .into_parts();
        p
    }

    #[test]
    fn virtual_host() {
        let t = route(&parts(
            "/a%20b/%E6%B5%8B.txt?uploads",
            "examplebucket-1250000000.cos.ap-beijing.myqcloud.com",
        ))
        .unwrap();
        assert_eq!(t.bucket.as_deref(), Some("examplebucket-1250000000"));
        assert_eq!(t.key, "a b/测.txt");
        assert_eq!(t.path, "/a b/测.txt");
        assert_eq!(t.query[0].0, "uploads");
        let t = route(&parts("/", "b-1.cos.ap-guangzhou.myqcloud.com:8443")).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("b-1"));
        assert_eq!(t.key, "");
    }

    #[test]
    fn absolute_form_uses_the_target_authority() {
        // What an HTTP client sends through a proxy: the target's host in both places.
        let t = route(&parts(
            "http://b-1.cos.ap-beijing.myqcloud.com/dir/k",
            "b-1.cos.ap-beijing.myqcloud.com",
        ))
        .unwrap();
        assert_eq!(t.bucket.as_deref(), Some("b-1"));
        assert_eq!(t.key, "dir/k");
        // A Host header naming another bucket than the target (the signature covers Host).
        let e = route(&parts(
            "http://victim-1.cos.ap-beijing.myqcloud.com/k",
            "mine-1.cos.ap-beijing.myqcloud.com:9000",
        ))
        .unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("InvalidRequest", 400));
    }

    #[test]
    fn path_style() {
        let t = route(&parts("/b-1/dir/k", "127.0.0.1:9000")).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("b-1"));
        assert_eq!(t.key, "dir/k");
        assert_eq!(t.path, "/b-1/dir/k");
        let t = route(&parts("/b-1", "localhost")).unwrap();
        assert_eq!((t.bucket.as_deref(), t.key.as_str()), (Some("b-1"), ""));
        let t = route(&parts("/", "localhost")).unwrap();
        assert!(t.bucket.is_none());
    }

    #[test]
    fn bad_bucket_names() {
        let e = route(&parts("/Bad_Bucket/k", "localhost")).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("InvalidBucketName", 400));
        assert!(!valid_bucket("-a"));
        assert!(valid_bucket("a-1250000000"));
    }

    #[test]
    fn ports() {
        assert_eq!(host_without_port("h:80"), "h");
        assert_eq!(host_without_port("h"), "h");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
    }
}
