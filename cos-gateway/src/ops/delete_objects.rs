//! DELETE Multiple Objects (`POST /?delete`): the first call of most test suites' clean-up.
//!
//! The body names up to [`MAX_DELETE_KEYS`] keys; each is deleted on its own, and the answer lists
//! each key as deleted or with its error (quiet mode: errors only). A key that does not exist is
//! reported deleted, as DELETE Object answers 204 for it. `Content-MD5` is required (the SDKs always
//! send it) and checked. A `<VersionId>` deletes that version for good, as DELETE Object
//! `?versionId=` does; one that cannot name a version is that key's `InvalidArgument`, never a
//! delete of the latest version instead.
//!
//! Who may call it: any signed request (as every other operation). What it logs: the request line
//! (method, bucket, status), never the keys. Limits: [`MAX_DELETE_KEYS`] keys in at most
//! [`crate::xml::MAX_XML`] bytes of XML.

use http::StatusCode;

use crate::body::RequestBodySlot;
use crate::context::RequestContext;
use crate::documents::{Delete, DeleteEntry, DeleteResult, from_xml, to_xml};
use crate::error::{Error, Result};
use crate::state::Gateway;
use crate::wire::{Response, xml_response};

/// The most keys one request may name (COS and S3 both say 1,000).
pub const MAX_DELETE_KEYS: usize = 1000;

/// The XML body: the largest document the XML reader takes.
const MAX_BODY: usize = crate::xml::MAX_XML;

/// A parsed request: quiet mode and the objects in the order given.
#[derive(Debug, PartialEq, Eq)]
pub struct DeleteRequest {
    /// Report errors only.
    pub quiet: bool,
    /// The objects to delete.
    pub objects: Vec<Target>,
}

/// One `<Object>` of the request.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    /// The object key.
    pub key: String,
    /// A `<VersionId>`, if one was given (checked per key when deleted).
    pub version_id: Option<String>,
}

/// Parses the `<Delete>` document. Anything malformed, no object, more than
/// [`MAX_DELETE_KEYS`], an empty key: `MalformedXML`.
pub fn parse(body: &[u8]) -> Result<DeleteRequest> {
    let bad = |m: &str| Error::MalformedXml(m.to_owned());
    let doc: Delete = from_xml(body, "Delete")?;
    let quiet = match doc.quiet.map(|q| q.trim().to_ascii_lowercase()) {
        None => false,
        Some(q) if q == "true" => true,
        Some(q) if q == "false" => false,
        Some(_) => return Err(bad("Quiet must be true or false")),
    };
    if doc.objects.is_empty() {
        return Err(bad("no Object to delete"));
    }
    if doc.objects.len() > MAX_DELETE_KEYS {
        return Err(bad(&format!(
            "at most {MAX_DELETE_KEYS} objects per request"
        )));
    }
    let objects = doc
        .objects
        .into_iter()
        .map(|o| {
            let key = o.key.ok_or_else(|| bad("an Object has no Key"))?;
            if key.is_empty() {
                return Err(bad("an Object has an empty Key"));
            }
            Ok(Target {
                key,
                version_id: o.version_id,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DeleteRequest { quiet, objects })
}

/// `POST /?delete`.
pub async fn delete_objects(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    gw.store.existing_bucket(ctx.bucket()).await?;
    let xml = super::read_checked_document(ctx, body, MAX_BODY, true).await?;
    let request = parse(&xml)?;
    let mut result = DeleteResult::default();
    for target in &request.objects {
        let version = target.version_id.as_deref();
        let outcome = match version.map(crate::store::versions::check_version_id) {
            Some(Err(e)) => Err(e),
            _ => super::versioning::delete(gw, ctx.bucket(), &target.key, version).await,
        };
        let key = target.key.clone();
        match outcome {
            Ok(_) if request.quiet => {}
            Ok(deleted) => result.entries.push(DeleteEntry::Deleted {
                key,
                version_id: target.version_id.clone(),
                delete_marker: deleted.marker.then_some(true),
                delete_marker_version_id: deleted.version_id.filter(|_| deleted.marker),
            }),
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::warn!(error = %e, "DELETE Multiple Objects: one key failed");
                }
                result.entries.push(DeleteEntry::Error {
                    key,
                    code: e.code(),
                    message: e.message(),
                });
            }
        }
    }
    let out = to_xml("DeleteResult", &result)?;
    Ok(xml_response(StatusCode::OK, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(keys: &[&str]) -> String {
        keys.iter()
            .map(|k| format!("<Object><Key>{k}</Key></Object>"))
            .collect()
    }

    #[test]
    fn a_request_parses_in_order_with_its_mode() {
        let doc = format!(
            "<Delete><Quiet>TRUE</Quiet>{}</Delete>",
            objects(&["b", "a&amp;c"])
        );
        let r = parse(doc.as_bytes()).unwrap();
        assert!(r.quiet);
        let keys: Vec<_> = r.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["b", "a&c"]);
        let r = parse(b"<Delete><Object><Key>k</Key><VersionId>v1</VersionId></Object></Delete>")
            .unwrap();
        assert!(!r.quiet);
        assert_eq!(r.objects[0].version_id.as_deref(), Some("v1"));
        // As an SDK may write it: a declaration, a namespace, lines, entities, CDATA, Quiet last.
        let sdk = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns=\"http://x\">\n  \
                   <Object>\n    <Key>a&lt;b&quot;c&apos;</Key>\n  </Object>\n  \
                   <Object><Key><![CDATA[x&y]]></Key></Object>\n  <Quiet> false </Quiet>\n</Delete>";
        let r = parse(sdk.as_bytes()).unwrap();
        assert!(!r.quiet);
        let keys: Vec<_> = r.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a<b\"c'", "x&y"]);
        // A list split by another element is read whole, in order.
        let split = "<Delete><Object><Key>1</Key></Object><Quiet>true</Quiet><Object><Key>2</Key></Object></Delete>";
        let r = parse(split.as_bytes()).unwrap();
        assert!(r.quiet);
        let keys: Vec<_> = r.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["1", "2"]);
    }

    #[test]
    fn every_malformed_request_is_malformed_xml_with_its_reason() {
        let many: Vec<String> = (0..=MAX_DELETE_KEYS).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let cases = [
            ("<Remove/>".to_owned(), "the root element must be Delete"),
            ("<Delete/>".to_owned(), "no Object to delete"),
            (
                format!("<Delete><Quiet>yes</Quiet>{}</Delete>", objects(&["a"])),
                "Quiet must be true or false",
            ),
            (
                "<Delete><Object><VersionId>v</VersionId></Object></Delete>".to_owned(),
                "an Object has no Key",
            ),
            (
                format!("<Delete>{}</Delete>", objects(&[""])),
                "an Object has an empty Key",
            ),
            (
                format!("<Delete>{}</Delete>", objects(&many)),
                "at most 1000 objects per request",
            ),
        ];
        for (doc, reason) in cases {
            match parse(doc.as_bytes()) {
                Err(Error::MalformedXml(m)) => assert_eq!(m, reason, "{doc:.80}"),
                other => panic!("{doc:.80}: {other:?}"),
            }
        }
    }
}
