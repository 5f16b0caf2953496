//! Bucket operations: PUT / HEAD / DELETE Bucket, GET Bucket (list objects), GET Service (list
//! buckets), GET Bucket location, and PUT / GET / DELETE Bucket encryption.

use http::StatusCode;
use storage_adapter::BucketEncryption;

use super::now;
use crate::body::RequestBodySlot;
use crate::context::RequestContext;
use crate::documents::{
    ApplyServerSideEncryptionByDefault, BucketEntry, Buckets, CommonPrefix, Contents,
    EncryptionConfiguration, EncryptionRule, ListAllMyBucketsResult, ListBucketResult,
    LocationConstraint, Owner, ServerSideEncryptionConfiguration, from_xml, to_xml,
    to_xml_expanded,
};
use crate::endpoint::ListObjectsParams;
use crate::error::{Error, Result};
use crate::state::Gateway;
use crate::wire::{Response, iso_date, status_response, xml_response};

/// PUT Bucket, with its ACL when `x-cos-acl` or `x-cos-grant-*` give one (checked first: a
/// refused ACL creates nothing). The bucket is created `private` and then given its ACL: a reader
/// between the two sees the stricter ACL.
pub async fn create(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    let acl = crate::acl::from_headers(&ctx.headers, crate::acl::Level::Bucket)?;
    if !gw.store.create_bucket(ctx.bucket(), now()).await? {
        return Err(Error::BucketAlreadyOwnedByYou);
    }
    if acl.is_some() {
        gw.store.set_bucket_acl(ctx.bucket(), acl).await?;
    }
    Ok(status_response(StatusCode::OK))
}

/// HEAD Bucket.
pub async fn head(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    gw.store.existing_bucket(ctx.bucket()).await?;
    Ok(status_response(StatusCode::OK))
}

/// DELETE Bucket (204; `BucketNotEmpty` with objects or uploads).
pub async fn delete(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    gw.store.delete_bucket(ctx.bucket()).await?;
    Ok(status_response(StatusCode::NO_CONTENT))
}

/// GET Bucket location: the region this gateway answers for (`--region`).
pub async fn location(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    gw.store.existing_bucket(ctx.bucket()).await?;
    let doc = LocationConstraint { region: &gw.region };
    Ok(xml_response(
        StatusCode::OK,
        to_xml("LocationConstraint", &doc)?,
    ))
}

/// GET Service: the buckets.
pub async fn list_buckets(gw: &Gateway) -> Result<Response> {
    let buckets = gw
        .store
        .buckets()
        .await?
        .into_iter()
        .map(|b| BucketEntry {
            name: b.name,
            location: gw.region.clone(),
            creation_date: iso_date(b.created),
        })
        .collect();
    let doc = ListAllMyBucketsResult {
        owner: Owner::GATEWAY,
        buckets: Buckets { buckets },
    };
    Ok(xml_response(
        StatusCode::OK,
        to_xml_expanded("ListAllMyBucketsResult", &doc)?,
    ))
}

/// GET Bucket: `prefix`, `delimiter`, `marker`, `max-keys`, `encoding-type=url`.
pub async fn list_objects(
    gw: &Gateway,
    ctx: &RequestContext,
    params: &ListObjectsParams,
) -> Result<Response> {
    gw.store.existing_bucket(ctx.bucket()).await?;
    let prefix = params.prefix.as_str();
    let delimiter = params.delimiter.as_str();
    let marker = params.marker.as_str();
    let max_keys = params.max_keys;
    let url = params.url_encoded;
    let enc = |s: &str| crate::wire::listed_name(s, url);
    let mut contents = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut count = 0usize;
    // The last entry returned (a key or a common prefix): the next page's marker.
    let mut next_marker = marker.to_owned();
    let mut truncated = false;
    // Where the next batch starts, and the common prefix whose keys are all accounted for (the
    // one just returned, or the marker when it is a common prefix a previous page returned).
    let mut scan_from = marker.to_owned();
    let mut rolled_up: Option<String> =
        common_prefix(marker, prefix, delimiter).filter(|p| p == marker);
    if let Some(p) = &rolled_up {
        scan_from = past_prefix(p);
    }
    'outer: loop {
        let batch = gw
            .store
            .list_objects(ctx.bucket(), prefix, &scan_from, LIST_BATCH)
            .await?;
        let Some((batch_last, _)) = batch.last() else {
            break;
        };
        scan_from = batch_last.clone();
        for (key, o) in &batch {
            if rolled_up
                .as_ref()
                .is_some_and(|p| key.starts_with(p.as_str()))
            {
                continue;
            }
            // A further entry exists: the page is truncated only now, never on keys that roll up
            // into a prefix already returned.
            if count == max_keys {
                // `max-keys=0` asks for nothing: an empty page, not a truncated one a client
                // would ask again for ever (nothing to page on).
                truncated = count > 0;
                break 'outer;
            }
            count += 1;
            if let Some(p) = common_prefix(key, prefix, delimiter) {
                next_marker = p.clone();
                prefixes.push(p.clone());
                rolled_up = Some(p);
                continue;
            }
            next_marker = key.clone();
            contents.push(Contents {
                key: enc(key),
                last_modified: iso_date(o.modified),
                etag: format!("\"{}\"", o.etag),
                size: o.size,
                owner: Owner::GATEWAY,
                storage_class: o.storage_class.as_str(),
            });
        }
        if batch.len() < LIST_BATCH {
            break;
        }
        // Skip the rest of a rolled-up prefix's keys in one step (they sort together).
        if let Some(p) = &rolled_up
            && scan_from.starts_with(p.as_str())
        {
            scan_from = scan_from.max(past_prefix(p));
        }
    }
    let doc = ListBucketResult {
        name: ctx.bucket().to_owned(),
        encoding_type: url.then_some("url"),
        prefix: enc(prefix),
        marker: enc(marker),
        max_keys,
        delimiter: Some(delimiter).filter(|d| !d.is_empty()).map(enc),
        is_truncated: truncated,
        next_marker: truncated.then(|| enc(&next_marker)),
        contents,
        common_prefixes: prefixes
            .iter()
            .map(|p| CommonPrefix { prefix: enc(p) })
            .collect(),
    };
    Ok(xml_response(
        StatusCode::OK,
        to_xml_expanded("ListBucketResult", &doc)?,
    ))
}

/// Keys read from the store per query while listing.
const LIST_BATCH: usize = 1000;

/// The common prefix `key` rolls up into: `key` up to and including the first `delimiter` after
/// `prefix` (`None` without a delimiter, or when `key` has none past `prefix`).
pub(crate) fn common_prefix(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
    if delimiter.is_empty() {
        return None;
    }
    let rest = key.strip_prefix(prefix)?;
    let i = rest.find(delimiter)?;
    Some(key[..prefix.len() + i + delimiter.len()].to_owned())
}

/// A marker past every key that starts with `p` (keys compare as UTF-8 bytes, in SQLite too; a
/// key with `char::MAX` right after `p`, if any, is skipped by the caller's prefix check).
pub(crate) fn past_prefix(p: &str) -> String {
    format!("{p}{}", char::MAX)
}

/// Parses a bucket encryption document. Both `ApplyServerSideEncryptionByDefault` and the SDKs'
/// `ApplySideEncryptionConfiguration` are accepted; `SSEAlgorithm` is `AES256` or `KMS`.
///
/// `<BucketKeyEnabled>` (in the `Rule`, as S3 names it) is `true` or `false`; anything else is
/// `MalformedXML`, as S3 answers a value that is not a boolean. It turns bucket keys on for the
/// bucket's SSE-KMS writes. With `AES256` it is accepted and ignored, as S3 does (bucket keys
/// are an SSE-KMS feature): the bucket has none, and GET shows `false`.
pub fn parse_encryption(body: &[u8]) -> Result<BucketEncryption> {
    let doc: EncryptionConfiguration = from_xml(body, "ServerSideEncryptionConfiguration")?;
    let rule = doc
        .rule
        .ok_or_else(|| Error::MalformedXml("no Rule".into()))?;
    let apply = rule
        .apply
        .ok_or_else(|| Error::MalformedXml("no ApplyServerSideEncryptionByDefault".into()))?;
    let alg = apply
        .sse_algorithm
        .ok_or_else(|| Error::MalformedXml("no SSEAlgorithm".into()))?;
    let key_id = apply
        .kms_master_key_id
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty());
    let bucket_key = match rule.bucket_key_enabled.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(Error::MalformedXml(
                "BucketKeyEnabled must be true or false".into(),
            ));
        }
    };
    match alg.trim() {
        "AES256" if key_id.is_none() => Ok(BucketEncryption::Aes256),
        "AES256" => Err(Error::InvalidArgument(
            "KMSMasterKeyID is only allowed with SSEAlgorithm KMS".into(),
        )),
        "KMS" => Ok(BucketEncryption::Kms { key_id, bucket_key }),
        other => Err(Error::InvalidArgument(format!(
            "SSEAlgorithm must be AES256 or KMS, not {other:?}"
        ))),
    }
}

/// PUT Bucket encryption.
pub async fn put_encryption(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    gw.store.existing_bucket(ctx.bucket()).await?;
    let xml = super::read_checked_document(ctx, body, 64 << 10, false).await?;
    let enc = parse_encryption(&xml)?;
    gw.store
        .set_bucket_encryption(ctx.bucket(), Some(enc))
        .await?;
    Ok(status_response(StatusCode::OK))
}

/// GET Bucket encryption (404 `NoSuchEncryptionConfiguration` when unset).
pub async fn get_encryption(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    let b = gw.store.existing_bucket(ctx.bucket()).await?;
    let Some(enc) = b.encryption else {
        return Err(Error::NoSuchEncryptionConfiguration);
    };
    let bucket_key_enabled = enc.bucket_key();
    let apply = match &enc {
        BucketEncryption::Aes256 => ApplyServerSideEncryptionByDefault {
            sse_algorithm: "AES256",
            kms_master_key_id: None,
        },
        BucketEncryption::Kms { key_id, .. } => ApplyServerSideEncryptionByDefault {
            sse_algorithm: "KMS",
            kms_master_key_id: key_id.as_deref(),
        },
    };
    let doc = ServerSideEncryptionConfiguration {
        rule: EncryptionRule {
            apply,
            bucket_key_enabled,
        },
    };
    Ok(xml_response(
        StatusCode::OK,
        to_xml("ServerSideEncryptionConfiguration", &doc)?,
    ))
}

/// DELETE Bucket encryption (204).
pub async fn delete_encryption(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    gw.store.set_bucket_encryption(ctx.bucket(), None).await?;
    Ok(status_response(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix("a/b/c", "", "/").as_deref(), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", "/").as_deref(), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", "/"), None);
        assert_eq!(common_prefix("a/b", "x/", "/"), None);
        assert_eq!(common_prefix("a/b", "", ""), None);
        assert_eq!(common_prefix("aXXbXXc", "", "XX").as_deref(), Some("aXX"));
        // Every key under a prefix sorts before the marker that skips it.
        let past = past_prefix("a/");
        for key in ["a/", "a/b", "a/\u{FFFF}z"] {
            assert!(key < past.as_str(), "{key}");
        }
        assert!("a0" > past.as_str());
    }

    #[test]
    fn both_element_names_are_accepted() {
        let a = b"<ServerSideEncryptionConfiguration><Rule><ApplySideEncryptionConfiguration><SSEAlgorithm>AES256</SSEAlgorithm></ApplySideEncryptionConfiguration></Rule></ServerSideEncryptionConfiguration>";
        assert_eq!(parse_encryption(a).unwrap(), BucketEncryption::Aes256);
        let b = b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm><KMSMasterKeyID>k1</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
        assert_eq!(
            parse_encryption(b).unwrap(),
            BucketEncryption::Kms {
                key_id: Some("k1".into()),
                bucket_key: false,
            }
        );
    }

    fn with_bucket_key(alg: &str, value: &str) -> Vec<u8> {
        format!("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{alg}</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>{value}</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>").into_bytes()
    }

    #[test]
    fn bucket_key_enabled() {
        for (value, on) in [("true", true), ("false", false)] {
            assert_eq!(
                parse_encryption(&with_bucket_key("KMS", value)).unwrap(),
                BucketEncryption::Kms {
                    key_id: None,
                    bucket_key: on,
                }
            );
            // Accepted and ignored with AES256, as S3 does.
            assert_eq!(
                parse_encryption(&with_bucket_key("AES256", value)).unwrap(),
                BucketEncryption::Aes256
            );
        }
        for bad in ["yes", "TRUE", "1", ""] {
            let e = parse_encryption(&with_bucket_key("KMS", bad)).unwrap_err();
            assert_eq!(
                (e.code(), e.status().as_u16(), e.to_string()),
                (
                    "MalformedXML",
                    400,
                    Error::MalformedXml("BucketKeyEnabled must be true or false".into())
                        .to_string()
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bad_documents() {
        let no_rule = b"<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>";
        assert_eq!(
            parse_encryption(no_rule).unwrap_err().code(),
            "MalformedXML"
        );
        let bad_alg = b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>SM9</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
        let e = parse_encryption(bad_alg).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("InvalidArgument", 400));
    }
}
