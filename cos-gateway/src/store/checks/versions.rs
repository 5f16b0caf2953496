//! The versioning checks (see [`crate::store::versions`]), run on every catalog like the others:
//! what each write keeps, which body files go, the order of a listing, delete markers.

use std::path::Path;

use super::{body, files_on_disk, obj};
use crate::store::versions::{Deleted, Entry, Versioning};
use crate::store::{ObjectUpdate, Store};

/// The ids, keys and latest flags of a whole listing of `b-1`.
async fn listing(s: &Store) -> Vec<(String, String, bool, bool)> {
    s.list_versions("b-1", "", "", None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|v| {
            let marker = matches!(v.entry, Entry::DeleteMarker { .. });
            let id = crate::store::versions::shown(v.entry.version_id()).to_owned();
            (v.key, id, v.latest, marker)
        })
        .collect()
}

/// Enabled: every write is a new version with its own body; a delete writes a marker and keeps
/// the bodies; deleting versions by id removes exactly their bodies and promotes the next one.
pub(super) async fn versions_keep_their_own_bodies(s: &Store, dir: &Path) {
    s.create_bucket("b-1", 1).await.unwrap();
    let f0 = body(s, b"v0").await;
    assert_eq!(
        s.put_object("b-1", "k", obj(vec![f0.clone()]))
            .await
            .unwrap(),
        None
    );
    s.set_bucket_versioning("b-1", Versioning::Enabled)
        .await
        .unwrap();
    assert_eq!(
        s.bucket("b-1").await.unwrap().unwrap().versioning,
        Versioning::Enabled
    );
    let f1 = body(s, b"v1").await;
    let v1 = s
        .put_object("b-1", "k", obj(vec![f1.clone()]))
        .await
        .unwrap()
        .unwrap();
    let f2 = body(s, b"v2").await;
    let v2 = s
        .put_object("b-1", "k", obj(vec![f2.clone()]))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(v1, v2);
    assert_eq!(files_on_disk(dir), 3);
    let current = s.object("b-1", "k").await.unwrap().unwrap();
    assert_eq!(
        (current.files, current.version_id),
        (vec![f2.clone()], Some(v2.clone()))
    );
    assert_eq!(
        listing(s).await,
        vec![
            ("k".into(), v2.clone(), true, false),
            ("k".into(), v1.clone(), false, false),
            ("k".into(), "null".into(), false, false),
        ]
    );
    let (entry, _) = s.version_to_read("b-1", "k", &v1).await.unwrap().unwrap();
    assert_eq!(entry.files(), vec![f1.clone()]);
    let (entry, _) = s
        .version_to_read("b-1", "k", "null")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.files(), vec![f0.clone()]);
    assert!(
        s.version_to_read("b-1", "k", "0123456789abcdef0123456789abcdef")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.version_to_read("b-1", "other", &v1)
            .await
            .unwrap()
            .is_none()
    );

    // A delete writes a marker: no current object, every body kept.
    let d = s.delete_object("b-1", "k").await.unwrap();
    assert!(d.marker);
    let m = d.version_id.clone().unwrap();
    assert!(s.object("b-1", "k").await.unwrap().is_none());
    assert_eq!(s.latest_marker("b-1", "k").await.unwrap(), Some(m.clone()));
    assert_eq!(files_on_disk(dir), 3);
    let (entry, _) = s.version_to_read("b-1", "k", &m).await.unwrap().unwrap();
    assert!(matches!(entry, Entry::DeleteMarker { .. }));
    let e = s.delete_bucket("b-1").await.unwrap_err();
    assert_eq!(e.code(), "BucketNotEmpty");

    // Deleting the marker makes the newest object version current again.
    let d = s.delete_version("b-1", "k", &m).await.unwrap();
    assert_eq!(
        d,
        Deleted {
            version_id: Some(m.clone()),
            marker: true
        }
    );
    assert_eq!(
        s.object("b-1", "k").await.unwrap().unwrap().version_id,
        Some(v2.clone())
    );
    assert_eq!(s.latest_marker("b-1", "k").await.unwrap(), None);
    // Deleting the current version removes its body and promotes the previous one.
    s.delete_version("b-1", "k", &v2).await.unwrap();
    assert!(!s.body_path(&f2).exists());
    assert_eq!(
        s.object("b-1", "k").await.unwrap().unwrap().files,
        vec![f1.clone()]
    );
    // A noncurrent version goes alone.
    s.delete_version("b-1", "k", "null").await.unwrap();
    assert!(!s.body_path(&f0).exists());
    assert!(s.body_path(&f1).exists());
    // An unknown version is no error and changes nothing.
    let d = s
        .delete_version("b-1", "k", "0123456789abcdef0123456789abcdef")
        .await
        .unwrap();
    assert!(!d.marker);
    assert_eq!(files_on_disk(dir), 1);
    s.delete_version("b-1", "k", &v1).await.unwrap();
    assert_eq!(files_on_disk(dir), 0);
    assert!(listing(s).await.is_empty());
    s.delete_bucket("b-1").await.unwrap();
}

/// Suspended: writes and deletes get the id `null` and replace the key's `null` version (its body
/// removed), wherever it is; versions written while enabled are kept.
pub(super) async fn a_suspended_bucket_replaces_the_null_version(s: &Store, dir: &Path) {
    s.create_bucket("b-1", 1).await.unwrap();
    let f0 = body(s, b"v0").await;
    s.put_object("b-1", "k", obj(vec![f0.clone()]))
        .await
        .unwrap();
    s.set_bucket_versioning("b-1", Versioning::Enabled)
        .await
        .unwrap();
    let f1 = body(s, b"v1").await;
    let v1 = s
        .put_object("b-1", "k", obj(vec![f1.clone()]))
        .await
        .unwrap()
        .unwrap();
    s.set_bucket_versioning("b-1", Versioning::Suspended)
        .await
        .unwrap();
    let f2 = body(s, b"v2").await;
    let answer = s
        .put_object("b-1", "k", obj(vec![f2.clone()]))
        .await
        .unwrap();
    assert_eq!(answer.as_deref(), Some("null"));
    // The old null version (noncurrent) is gone with its body; v1 stays.
    assert!(!s.body_path(&f0).exists());
    assert_eq!(
        listing(s).await,
        vec![
            ("k".into(), "null".into(), true, false),
            ("k".into(), v1.clone(), false, false),
        ]
    );
    // A second write replaces the current null version.
    let f3 = body(s, b"v3").await;
    s.put_object("b-1", "k", obj(vec![f3.clone()]))
        .await
        .unwrap();
    assert!(!s.body_path(&f2).exists());
    // A delete writes a null marker, replacing the null object.
    let d = s.delete_object("b-1", "k").await.unwrap();
    assert_eq!(
        d,
        Deleted {
            version_id: Some("null".into()),
            marker: true
        }
    );
    assert!(!s.body_path(&f3).exists());
    assert_eq!(
        listing(s).await,
        vec![
            ("k".into(), "null".into(), true, true),
            ("k".into(), v1.clone(), false, false),
        ]
    );
    assert_eq!(files_on_disk(dir), 1);
    // Listing positions: after a version of a key, after a key.
    let after = s
        .list_versions("b-1", "", "k", Some("null"), 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].entry.version_id(), Some(v1.as_str()));
    assert!(
        s.list_versions("b-1", "", "k", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A store opened again, after the first one closed (it holds the directory's lock), has every
/// version, marker and state it had (the SQLite catalog: the in-memory one starts empty).
#[tokio::test]
async fn versions_survive_a_reopen() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dir = tmp.path();
    let store = Store::open(dir).unwrap();
    let s = &store;
    s.create_bucket("b-1", 1).await.unwrap();
    s.set_bucket_versioning("b-1", Versioning::Enabled)
        .await
        .unwrap();
    let f1 = body(s, b"v1").await;
    let v1 = s
        .put_object("b-1", "k", obj(vec![f1.clone()]))
        .await
        .unwrap()
        .unwrap();
    let f2 = body(s, b"v2").await;
    s.put_object("b-1", "k", obj(vec![f2.clone()]))
        .await
        .unwrap();
    let m = s
        .delete_object("b-1", "k")
        .await
        .unwrap()
        .version_id
        .unwrap();
    let before = listing(s).await;
    drop(store);
    let again = Store::open(dir).unwrap();
    assert_eq!(listing(&again).await, before);
    assert_eq!(again.latest_marker("b-1", "k").await.unwrap(), Some(m));
    assert_eq!(
        again.bucket("b-1").await.unwrap().unwrap().versioning,
        Versioning::Enabled
    );
    // Every version's body is referenced: none was collected at the open.
    assert!(again.body_path(&f1).exists() && again.body_path(&f2).exists());
    let (entry, _) = again
        .version_to_read("b-1", "k", &v1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.files(), vec![f1]);
}

/// Tags, ACLs and restores are per version: an update by id changes that version alone, current
/// or noncurrent (`null` included), and survives the version's move into the history; a delete
/// marker or an unknown id is `NoSuchVersion`, no object `NoSuchKey`.
pub(super) async fn each_version_has_its_own_tags_acl_and_restore(s: &Store, _dir: &Path) {
    s.create_bucket("b-1", 1).await.unwrap();
    let f0 = body(s, b"v0").await;
    s.put_object("b-1", "k", obj(vec![f0])).await.unwrap();
    s.set_bucket_versioning("b-1", Versioning::Enabled)
        .await
        .unwrap();
    let f1 = body(s, b"v1").await;
    let v1 = s
        .put_object("b-1", "k", obj(vec![f1]))
        .await
        .unwrap()
        .unwrap();
    let tags = |t: &str| ObjectUpdate::Tags(vec![("t".to_owned(), t.to_owned())]);
    let tags_of = |e: Entry| match e {
        Entry::Object(o) => o.tags,
        Entry::DeleteMarker { .. } => panic!("a marker"),
    };
    s.update_object("b-1", "k", Some("null"), tags("zero"))
        .await
        .unwrap();
    s.update_object("b-1", "k", Some(&v1), tags("one"))
        .await
        .unwrap();
    let acl = crate::acl::Acl { grants: Vec::new() };
    s.update_object(
        "b-1",
        "k",
        Some("null"),
        ObjectUpdate::Acl(Some(acl.clone())),
    )
    .await
    .unwrap();
    let restore = crate::restore::Restore {
        ready_at: 5,
        expires_at: 9,
    };
    s.update_object("b-1", "k", Some("null"), ObjectUpdate::Restore(restore))
        .await
        .unwrap();
    // v1 moves into the history with its tags.
    let f2 = body(s, b"v2").await;
    let v2 = s
        .put_object("b-1", "k", obj(vec![f2]))
        .await
        .unwrap()
        .unwrap();
    let read =
        |id: String| async move { s.version_to_read("b-1", "k", &id).await.unwrap().unwrap().0 };
    assert_eq!(
        tags_of(read(v1.clone()).await),
        vec![("t".into(), "one".into())]
    );
    assert!(tags_of(read(v2.clone()).await).is_empty());
    let Entry::Object(null) = read("null".into()).await else {
        panic!("a marker");
    };
    assert_eq!(
        (null.tags, null.acl, null.restore),
        (vec![("t".into(), "zero".into())], Some(acl), Some(restore))
    );
    // Without an id: the current version only.
    s.update_object("b-1", "k", None, tags("cur"))
        .await
        .unwrap();
    assert_eq!(
        tags_of(read(v2.clone()).await),
        vec![("t".into(), "cur".into())]
    );
    assert_eq!(
        tags_of(read(v1.clone()).await),
        vec![("t".into(), "one".into())]
    );
    // A delete marker takes no update, by id or as the latest.
    let m = s
        .delete_object("b-1", "k")
        .await
        .unwrap()
        .version_id
        .unwrap();
    let e = s
        .update_object("b-1", "k", Some(&m), tags("x"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "NoSuchVersion");
    let e = s
        .update_object("b-1", "k", None, tags("x"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "NoSuchKey");
    let e = s
        .update_object(
            "b-1",
            "k",
            Some("0123456789abcdef0123456789abcdef"),
            tags("x"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "NoSuchVersion");
    // Still readable with their tags behind the marker.
    assert_eq!(tags_of(read(v2).await), vec![("t".into(), "cur".into())]);
}
