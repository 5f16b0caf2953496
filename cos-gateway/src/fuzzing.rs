//! Entry points for the fuzz targets in `fuzz/` (a crate outside the workspace) to parsers this
//! crate keeps private, reached without a server. For fuzzing only: hidden from the docs, not an
//! API, free to change with any commit. The public parsers (routing, the request signature,
//! Range headers, the XML tree, the bucket encryption document) are fuzzed directly.

use bytes::Bytes;
use futures::StreamExt as _;

use crate::auth::Credentials;
use crate::error::Result;
use crate::ops::post::{FormRules, read_form};

/// What [`post_form`] read from an accepted form.
#[derive(Debug)]
pub struct PostForm {
    /// The fields before the file, lower-case names, in order.
    pub fields: Vec<(String, String)>,
    /// The key the object would be written under.
    pub key: String,
    /// The SSE mode the fields ask for, if any.
    pub sse: Option<storage_adapter::SseMode>,
    /// The file's bytes, as they passed the policy's `content-length-range`.
    pub file: Vec<u8>,
}

/// Reads a POST Object form (`multipart/form-data`, boundary in `content_type`) from `chunks` as
/// POST Object does: fields, signature (against `creds` at `now`), policy, SSE fields, then the
/// whole file. Plain HTTP is assumed, so SSE-C fields are refused, as the gateway does by default.
pub async fn post_form(
    content_type: &str,
    chunks: Vec<Bytes>,
    creds: &Credentials,
    bucket: &str,
    now: i64,
) -> Result<PostForm> {
    let body = Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)));
    let rules = FormRules {
        creds,
        bucket,
        ssec_allowed: false,
        now,
        max_signature_age: crate::auth::DEFAULT_MAX_SIGNATURE_AGE,
    };
    let mut form = read_form(content_type, body, &rules).await?;
    let mut file = Vec::new();
    while let Some(chunk) = form.file.next().await {
        file.extend_from_slice(&chunk?);
    }
    Ok(PostForm {
        fields: form
            .fields
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        key: form.key,
        sse: form.request.map(|r| r.mode()),
        file,
    })
}

/// Complete Multipart Upload's request body: the (part number, ETag) list, in the order given.
pub fn complete_multipart(body: &[u8]) -> Result<Vec<(u32, String)>> {
    crate::ops::multipart::parse_complete(body)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::auth::{SecretKey, sign_post_policy};

    fn creds() -> Credentials {
        let mut c = Credentials::new();
        c.insert("AKIDfuzz", SecretKey::new("fuzz-secret"));
        c
    }

    fn form(policy: &str, signature: &str) -> Bytes {
        let b64 = base64::engine::general_purpose::STANDARD.encode(policy);
        let mut body = String::new();
        for (name, value) in [
            ("key", "uploads/${filename}"),
            ("policy", b64.as_str()),
            ("q-sign-algorithm", "sha1"),
            ("q-ak", "AKIDfuzz"),
            ("q-key-time", "1700000000;1700000600"),
            ("q-signature", signature),
            ("x-cos-server-side-encryption", "AES256"),
        ] {
            body.push_str(&format!(
                "--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--B--\r\n",
        );
        Bytes::from(body)
    }

    #[test]
    fn a_signed_form_is_read_to_its_file() {
        let policy = r#"{"expiration":"2999-01-01T00:00:00.000Z","conditions":[["content-length-range",1,5]]}"#;
        let sig = sign_post_policy(
            &SecretKey::new("fuzz-secret"),
            "1700000000;1700000600",
            policy.as_bytes(),
        );
        let body = form(policy, &sig);
        let read = |chunks| {
            futures::executor::block_on(post_form(
                "multipart/form-data; boundary=B",
                chunks,
                &creds(),
                "b-1",
                1_700_000_100,
            ))
        };
        let got = read(vec![body.slice(..7), body.slice(7..)]).unwrap();
        assert_eq!(got.key, "uploads/a.txt");
        assert_eq!(got.file, b"hello");
        assert_eq!(got.sse, Some(storage_adapter::SseMode::Cos));
        assert_eq!(got.fields.len(), 7);
        let e = read(vec![form(policy, &"0".repeat(40))]).unwrap_err();
        assert_eq!(e.code(), "SignatureDoesNotMatch");
    }

    #[test]
    fn complete_lists_parts_in_order() {
        let xml = b"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>\"e\"</ETag></Part></CompleteMultipartUpload>";
        assert_eq!(complete_multipart(xml).unwrap(), vec![(2, "e".to_owned())]);
        let e = complete_multipart(b"<Other/>").unwrap_err();
        assert_eq!(e.code(), "MalformedXML");
    }
}
