//! Versioning: PUT/GET Bucket versioning, GET Bucket Object versions, and the version lookups
//! that GET, HEAD, DELETE and copy sources share (which version a request names, and the COS error
//! when it names none). The rule of what a write keeps is the store's
//! ([`crate::store::versions`]); this module is its HTTP side.

use http::StatusCode;

use crate::body::RequestBodySlot;
use crate::context::RequestContext;
use crate::documents::{
    CommonPrefix, DeleteMarkerEntry, ListVersionsResult, ObjectVersion, Owner,
    VersioningConfiguration, VersionsEntry, from_xml, to_xml, to_xml_expanded,
};
use crate::endpoint::ListVersionsParams;
use crate::error::{Error, Result};
use crate::state::Gateway;
use crate::store::versions::{Deleted, Entry, Versioning, shown};
use crate::store::{Object, ReadPin};
use crate::wire::{DELETE_MARKER, Response, VERSION_ID, iso_date, set, xml_response};

/// The largest versioning document read (a few dozen bytes in practice).
const MAX_DOCUMENT: usize = 4096;

/// Keys read from the store per query while listing.
const LIST_BATCH: usize = 1000;

/// Reads a `VersioningConfiguration`: `Status` must be `Enabled` or `Suspended` (else
/// `MalformedXML`, as COS and S3 answer a document that does not validate).
pub fn parse_versioning(body: &[u8]) -> Result<Versioning> {
    let doc: VersioningConfiguration = from_xml(body, "VersioningConfiguration")?;
    let status = doc
        .status
        .ok_or_else(|| Error::MalformedXml("no Status".into()))?;
    Versioning::from_status(status.trim())
        .ok_or_else(|| Error::MalformedXml("Status must be Enabled or Suspended".into()))
}

/// PUT Bucket versioning. A bucket once versioned can be suspended, never unversioned.
pub async fn put(
    gw: &Gateway,
    ctx: &RequestContext,
    body: &mut RequestBodySlot,
) -> Result<Response> {
    gw.store.existing_bucket(ctx.bucket()).await?;
    let xml = super::read_checked_document(ctx, body, MAX_DOCUMENT, false).await?;
    let state = parse_versioning(&xml)?;
    gw.store.set_bucket_versioning(ctx.bucket(), state).await?;
    Ok(crate::wire::status_response(StatusCode::OK))
}

/// GET Bucket versioning (`<VersioningConfiguration/>` for a bucket never versioned).
pub async fn get(gw: &Gateway, ctx: &RequestContext) -> Result<Response> {
    let bucket = gw.store.existing_bucket(ctx.bucket()).await?;
    let doc = VersioningConfiguration {
        status: bucket.versioning.status().map(str::to_owned),
    };
    Ok(xml_response(
        StatusCode::OK,
        to_xml("VersioningConfiguration", &doc)?,
    ))
}

/// The object a GET, HEAD or copy names: the latest version, or version `version_id`. The inner
/// `Err` is the COS error for a request that names no object (`NoSuchKey`, a delete marker,
/// `NoSuchVersion`), for the caller to return once it has checked the bucket (and, for an
/// anonymous caller, whether it may learn that much).
pub(crate) async fn object_to_read(
    gw: &Gateway,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<std::result::Result<(Object, ReadPin), Error>> {
    let Some(id) = version_id else {
        if let Some(found) = gw.store.object_to_read(bucket, key).await? {
            return Ok(Ok(found));
        }
        return Ok(Err(match gw.store.latest_marker(bucket, key).await? {
            Some(version_id) => Error::DeleteMarker {
                version_id,
                named: false,
            },
            None => Error::NoSuchKey,
        }));
    };
    Ok(match gw.store.version_to_read(bucket, key, id).await? {
        Some((Entry::Object(obj), pin)) => Ok((obj, pin)),
        Some((Entry::DeleteMarker { .. }, _)) => Err(Error::DeleteMarker {
            version_id: id.to_owned(),
            named: true,
        }),
        None => Err(Error::NoSuchVersion),
    })
}

/// The object version a sub-resource request (tagging, ACL, restore) names: the current object,
/// or version `version_id`. A request that names none gets `NoSuchBucket` if the bucket is gone,
/// else the error [`object_to_read`] gives (a delete marker named by id is `405`).
pub(crate) async fn named_object(
    gw: &Gateway,
    ctx: &RequestContext,
    version_id: Option<&str>,
) -> Result<Object> {
    match object_to_read(gw, ctx.bucket(), &ctx.target.key, version_id).await? {
        Ok((obj, _pin)) => Ok(obj),
        Err(missing) => {
            super::object::bucket_default(gw, ctx.bucket()).await?;
            Err(missing)
        }
    }
}

/// Sets `x-cos-version-id` when the object has a version id or is in a versioned bucket's history
/// (`version` is what the store answered).
pub(crate) fn set_version(h: &mut http::HeaderMap, version: Option<&str>) {
    if let Some(v) = version {
        set(h, VERSION_ID, v);
    }
}

/// The version headers of a DELETE's answer.
pub(crate) fn set_deleted(h: &mut http::HeaderMap, deleted: &Deleted) {
    set_version(h, deleted.version_id.as_deref());
    if deleted.marker {
        set(h, DELETE_MARKER, "true");
    }
}

/// Deletes the object a DELETE names: the latest (a delete marker in a versioned bucket) or
/// version `version_id` (removed for good).
pub(crate) async fn delete(
    gw: &Gateway,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Deleted> {
    match version_id {
        Some(id) => gw.store.delete_version(bucket, key, id).await,
        None => gw.store.delete_object(bucket, key).await,
    }
}

/// The `x-cos-version-id` a GET or HEAD answers with: the object's id; `null` when the request
/// named the `null` version; none for an object written while versioning was off (or suspended).
pub(crate) fn read_version(obj: &Object, named: bool) -> Option<&str> {
    match &obj.version_id {
        Some(id) => Some(id),
        None if named => Some(shown(None)),
        None => None,
    }
}

/// GET Bucket Object versions: `prefix`, `delimiter`, `key-marker`, `version-id-marker`,
/// `max-keys`, `encoding-type=url`; versions by key, newest first per key.
pub async fn list(
    gw: &Gateway,
    ctx: &RequestContext,
    params: &ListVersionsParams,
) -> Result<Response> {
    gw.store.existing_bucket(ctx.bucket()).await?;
    let prefix = params.prefix.as_str();
    let delimiter = params.delimiter.as_str();
    let url = params.url_encoded;
    let enc = |s: &str| crate::wire::listed_name(s, url);
    let mut entries = Vec::new();
    let mut prefixes = Vec::new();
    let mut count = 0usize;
    let mut truncated = false;
    let (mut next_key, mut next_version) = (None, None);
    // The position after which the next batch starts, and the common prefix whose keys are all
    // accounted for (as in GET Bucket).
    let mut pos_key = params.key_marker.clone();
    let mut pos_version = params.version_id_marker.clone();
    let mut rolled_up = super::bucket::common_prefix(&pos_key, prefix, delimiter)
        .filter(|p| *p == params.key_marker);
    if let Some(p) = &rolled_up {
        pos_key = super::bucket::past_prefix(p);
        pos_version = None;
    }
    'outer: loop {
        let batch = gw
            .store
            .list_versions(
                ctx.bucket(),
                prefix,
                &pos_key,
                pos_version.as_deref(),
                LIST_BATCH,
            )
            .await?;
        let Some(last) = batch.last() else { break };
        pos_key = last.key.clone();
        pos_version = Some(shown(last.entry.version_id()).to_owned());
        for v in &batch {
            if rolled_up
                .as_ref()
                .is_some_and(|p| v.key.starts_with(p.as_str()))
            {
                continue;
            }
            if count == params.max_keys {
                // `max-keys=0` asks for nothing: an empty page, not a truncated one a client
                // would ask again for ever (nothing to page on).
                truncated = count > 0;
                break 'outer;
            }
            count += 1;
            if let Some(p) = super::bucket::common_prefix(&v.key, prefix, delimiter) {
                (next_key, next_version) = (Some(p.clone()), None);
                prefixes.push(VersionsEntry::CommonPrefixes(CommonPrefix {
                    prefix: enc(&p),
                }));
                rolled_up = Some(p);
                continue;
            }
            let id = shown(v.entry.version_id()).to_owned();
            (next_key, next_version) = (Some(v.key.clone()), Some(id.clone()));
            entries.push(match &v.entry {
                Entry::Object(o) => VersionsEntry::Version(ObjectVersion {
                    key: enc(&v.key),
                    version_id: id,
                    is_latest: v.latest,
                    last_modified: iso_date(o.modified),
                    etag: format!("\"{}\"", o.etag),
                    size: o.size,
                    storage_class: o.storage_class.as_str(),
                    owner: Owner::GATEWAY,
                }),
                Entry::DeleteMarker { modified, .. } => {
                    VersionsEntry::DeleteMarker(DeleteMarkerEntry {
                        key: enc(&v.key),
                        version_id: id,
                        is_latest: v.latest,
                        last_modified: iso_date(*modified),
                        owner: Owner::GATEWAY,
                    })
                }
            });
        }
        if batch.len() < LIST_BATCH {
            break;
        }
        // Skip the rest of a rolled-up prefix's keys in one step (they sort together).
        if let Some(p) = &rolled_up
            && pos_key.starts_with(p.as_str())
        {
            pos_key = super::bucket::past_prefix(p);
            pos_version = None;
        }
    }
    entries.extend(prefixes);
    let doc = ListVersionsResult {
        encoding_type: url.then_some("url"),
        name: ctx.bucket().to_owned(),
        prefix: enc(prefix),
        key_marker: enc(&params.key_marker),
        version_id_marker: params.version_id_marker.clone().unwrap_or_default(),
        max_keys: params.max_keys,
        delimiter: Some(delimiter).filter(|d| !d.is_empty()).map(enc),
        is_truncated: truncated,
        next_key_marker: next_key.filter(|_| truncated).map(|k| enc(&k)),
        next_version_id_marker: next_version.filter(|_| truncated),
        entries,
    };
    Ok(xml_response(
        StatusCode::OK,
        to_xml_expanded("ListVersionsResult", &doc)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioning_documents() {
        let doc = |s: &str| {
            format!("<VersioningConfiguration><Status>{s}</Status></VersioningConfiguration>")
        };
        assert_eq!(
            parse_versioning(doc("Enabled").as_bytes()).unwrap(),
            Versioning::Enabled
        );
        assert_eq!(
            parse_versioning(doc("Suspended").as_bytes()).unwrap(),
            Versioning::Suspended
        );
        for bad in [
            doc("enabled"),
            doc("Disabled"),
            doc(""),
            "<VersioningConfiguration/>".into(),
            "<VersioningConfiguration><Status>Enabled</Status>".into(),
            "<Versioning><Status>Enabled</Status></Versioning>".into(),
            "not xml".into(),
        ] {
            let e = parse_versioning(bad.as_bytes()).unwrap_err();
            assert_eq!(
                (e.code(), e.status().as_u16()),
                ("MalformedXML", 400),
                "{bad}"
            );
        }
    }
}
