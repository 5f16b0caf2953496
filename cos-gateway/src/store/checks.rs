//! The store's behaviour checks, written once and run against every [`Catalog`]: each check is
//! an `async fn(&Store, &Path)` (the store and its data directory), and [`on_every_catalog!`]
//! makes one test per check and per catalog (`store::checks::sqlite::bucket_rules`,
//! `store::checks::memory::bucket_rules`, ...). A new backend adds one module to the macro.
//!
//! They go through [`Store`], the API the operations call, so they check the catalog's contract
//! and the file protocol on top of it together: which files exist after each step is part of the
//! behaviour.
//!
//! [`Catalog`]: super::Catalog

use std::path::Path;

use super::{Object, ObjectUpdate, Part, Store, Upload};
use crate::error::Error;

mod versions;
use versions::{
    a_suspended_bucket_replaces_the_null_version, each_version_has_its_own_tags_acl_and_restore,
    versions_keep_their_own_bodies,
};

/// One `#[tokio::test]` per check and per catalog; each gets a fresh store in a temp directory.
macro_rules! on_every_catalog {
    ($($check:ident),+ $(,)?) => {
        /// The checks against the SQLite catalog (the gateway's).
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let dir = tempfile::tempdir().expect("a temp dir");
                    let store = crate::store::Store::open(dir.path()).expect("open the store");
                    super::$check(&store, dir.path()).await;
                }
            )+
        }

        /// The checks against the in-memory catalog.
        mod memory {
            $(
                #[tokio::test]
                async fn $check() {
                    let dir = tempfile::tempdir().expect("a temp dir");
                    let store =
                        crate::store::Store::in_memory(dir.path()).expect("open the store");
                    super::$check(&store, dir.path()).await;
                }
            )+
        }
    };
}

on_every_catalog!(
    bucket_rules,
    buckets_and_their_encryption,
    a_replaced_or_deleted_body_is_removed,
    a_read_pin_keeps_a_replaced_body_until_it_drops,
    object_listing,
    upload_lifecycle,
    upload_listing,
    completing_with_a_part_replaced_meanwhile_fails_and_changes_nothing,
    a_write_that_loses_a_race_with_a_delete_removes_its_body,
    a_restore_is_kept_until_the_object_is_replaced,
    acls_are_kept_per_bucket_object_and_upload,
    versions_keep_their_own_bodies,
    a_suspended_bucket_replaces_the_null_version,
    each_version_has_its_own_tags_acl_and_restore,
);

/// ACLs: a bucket's and an object's are set and cleared alone (an unknown bucket is
/// `NoSuchBucket`, an unknown object `NoSuchKey`), an object's is replaced with the object, and an
/// upload's is read back whole.
async fn acls_are_kept_per_bucket_object_and_upload(store: &Store, _dir: &Path) {
    use crate::acl::{ALL_USERS, Acl, Grant, Grantee, Permission};
    let acl = Acl {
        grants: vec![Grant {
            grantee: Grantee::Group(ALL_USERS.into()),
            permission: Permission::Read,
        }],
    };
    assert!(store.create_bucket("b-1", 1).await.unwrap());
    assert_eq!(store.bucket("b-1").await.unwrap().unwrap().acl, None);
    store
        .set_bucket_acl("b-1", Some(acl.clone()))
        .await
        .unwrap();
    assert_eq!(
        store.bucket("b-1").await.unwrap().unwrap().acl,
        Some(acl.clone())
    );
    let e = store.set_bucket_acl("b-2", None).await.unwrap_err();
    assert_eq!(e.code(), "NoSuchBucket");
    let file = body(store, b"x").await;
    let with_acl = Object {
        acl: Some(acl.clone()),
        ..obj(vec![file])
    };
    store.put_object("b-1", "k", with_acl).await.unwrap();
    let got = store.object("b-1", "k").await.unwrap().unwrap();
    assert_eq!(got.acl, Some(acl.clone()));
    store
        .update_object("b-1", "k", None, ObjectUpdate::Acl(None))
        .await
        .unwrap();
    assert_eq!(store.object("b-1", "k").await.unwrap().unwrap().acl, None);
    store
        .update_object("b-1", "k", None, ObjectUpdate::Acl(Some(acl.clone())))
        .await
        .unwrap();
    let e = store
        .update_object("b-1", "nope", None, ObjectUpdate::Acl(None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "NoSuchKey");
    let file = body(store, b"y").await;
    store.put_object("b-1", "k", obj(vec![file])).await.unwrap();
    assert_eq!(store.object("b-1", "k").await.unwrap().unwrap().acl, None);
    let u = Upload {
        acl: Some(acl.clone()),
        ..upload("u1", "k", 1)
    };
    store.create_upload(u).await.unwrap();
    assert_eq!(store.upload("b-1", "k", "u1").await.unwrap().acl, Some(acl));
    store.set_bucket_acl("b-1", None).await.unwrap();
    assert_eq!(store.bucket("b-1").await.unwrap().unwrap().acl, None);
}

/// A restore is stored on its object alone, read back whole, and gone when the object is
/// replaced (a new object is not restored); an unknown object is `NoSuchKey`.
async fn a_restore_is_kept_until_the_object_is_replaced(store: &Store, _dir: &Path) {
    assert!(store.create_bucket("b-1", 1).await.unwrap());
    let file = body(store, b"x").await;
    store.put_object("b-1", "k", obj(vec![file])).await.unwrap();
    let restore = crate::restore::Restore {
        ready_at: 100,
        expires_at: 200,
    };
    store
        .update_object("b-1", "k", None, ObjectUpdate::Restore(restore))
        .await
        .unwrap();
    assert_eq!(
        store.object("b-1", "k").await.unwrap().unwrap().restore,
        Some(restore)
    );
    let err = store
        .update_object("b-1", "other", None, ObjectUpdate::Restore(restore))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NoSuchKey");
    let file = body(store, b"x").await;
    store.put_object("b-1", "k", obj(vec![file])).await.unwrap();
    assert_eq!(
        store.object("b-1", "k").await.unwrap().unwrap().restore,
        None
    );
}

fn obj(files: Vec<String>) -> Object {
    Object {
        size: 3,
        etag: "e".into(),
        modified: 1,
        meta: vec![("Content-Type".into(), "text/plain".into())],
        envelope: None,
        files,
        tags: Vec::new(),
        storage_class: Default::default(),
        restore: None,
        acl: None,
        version_id: None,
    }
}

fn upload(id: &str, key: &str, initiated: i64) -> Upload {
    Upload {
        upload_id: id.into(),
        bucket: "b-1".into(),
        key: key.into(),
        initiated,
        meta: vec![("x-cos-meta-a".into(), "1".into())],
        envelope: None,
        tags: Vec::new(),
        storage_class: Default::default(),
        acl: None,
    }
}

fn part(number: u32, file: String) -> Part {
    Part {
        number,
        etag: format!("e{number}"),
        size: 4,
        stored_size: 4,
        salt: Some([7; 32]),
        file,
        modified: 1,
    }
}

/// A new committed body file holding `data`.
async fn body(s: &Store, data: &[u8]) -> String {
    let mut w = s.writer().await.expect("a writer");
    w.write(data).await.expect("write");
    w.commit().await.expect("commit")
}

/// The committed body files on disk.
fn files_on_disk(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("objects"))
        .expect("the body directory")
        .count()
}

async fn buckets_and_their_encryption(s: &Store, _dir: &Path) {
    use storage_adapter::BucketEncryption;
    assert!(s.create_bucket("b-2", 20).await.unwrap());
    assert!(s.create_bucket("b-1", 10).await.unwrap());
    assert!(!s.create_bucket("b-1", 30).await.unwrap());
    let b = s.bucket("b-1").await.unwrap().unwrap();
    assert_eq!((b.name.as_str(), b.created), ("b-1", 10));
    assert!(b.encryption.is_none());
    assert!(s.bucket("nob-1").await.unwrap().is_none());
    for bucket_key in [true, false] {
        let kms = BucketEncryption::Kms {
            key_id: Some("k-1".into()),
            bucket_key,
        };
        s.set_bucket_encryption("b-1", Some(kms.clone()))
            .await
            .unwrap();
        let b = s.bucket("b-1").await.unwrap().unwrap();
        assert_eq!(b.encryption, Some(kms));
    }
    s.set_bucket_encryption("b-2", Some(BucketEncryption::Aes256))
        .await
        .unwrap();
    assert_eq!(
        s.bucket("b-2").await.unwrap().unwrap().encryption,
        Some(BucketEncryption::Aes256)
    );
    // The listing is by name and leaves the encryption out.
    let all = s.buckets().await.unwrap();
    let names: Vec<(&str, i64)> = all.iter().map(|b| (b.name.as_str(), b.created)).collect();
    assert_eq!(names, vec![("b-1", 10), ("b-2", 20)]);
    assert!(all.iter().all(|b| b.encryption.is_none()));
    s.set_bucket_encryption("b-1", None).await.unwrap();
    assert!(s.bucket("b-1").await.unwrap().unwrap().encryption.is_none());
    let e = s
        .set_bucket_encryption("nob-1", Some(BucketEncryption::Aes256))
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.status().as_u16()), ("NoSuchBucket", 404));
    // An upload keeps a bucket from being deleted, as an object does.
    s.create_upload(upload("u1", "k", 1)).await.unwrap();
    let e = s.delete_bucket("b-1").await.unwrap_err();
    assert_eq!((e.code(), e.status().as_u16()), ("BucketNotEmpty", 409));
    s.abort_upload("u1").await.unwrap();
    s.delete_bucket("b-1").await.unwrap();
    assert!(s.bucket("b-1").await.unwrap().is_none());
}

async fn a_replaced_or_deleted_body_is_removed(s: &Store, dir: &Path) {
    s.create_bucket("b-1", 1).await.unwrap();
    let f1 = body(s, b"abc").await;
    s.put_object("b-1", "k", obj(vec![f1.clone()]))
        .await
        .unwrap();
    let f2 = body(s, b"def").await;
    s.put_object("b-1", "k", obj(vec![f2.clone()]))
        .await
        .unwrap();
    assert!(!s.body_path(&f1).exists());
    assert_eq!(std::fs::read(s.body_path(&f2)).unwrap(), b"def");
    let o = s.object("b-1", "k").await.unwrap().unwrap();
    assert_eq!((o.files, o.etag, o.size), (vec![f2.clone()], "e".into(), 3));
    assert_eq!(o.meta, obj(vec![]).meta);
    // An uncommitted writer leaves nothing.
    let mut w = s.writer().await.unwrap();
    w.write(b"partial").await.unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    // A delete removes the body, and is idempotent.
    s.delete_object("b-1", "k").await.unwrap();
    assert!(s.object("b-1", "k").await.unwrap().is_none());
    assert!(!s.body_path(&f2).exists());
    s.delete_object("b-1", "k").await.unwrap();
    assert_eq!(files_on_disk(dir), 0);
}

async fn a_read_pin_keeps_a_replaced_body_until_it_drops(s: &Store, dir: &Path) {
    s.create_bucket("b-1", 1).await.unwrap();
    let f1 = body(s, b"abc").await;
    s.put_object("b-1", "k", obj(vec![f1.clone()]))
        .await
        .unwrap();
    assert!(s.object_to_read("b-1", "nok").await.unwrap().is_none());
    let (read, pin) = s.object_to_read("b-1", "k").await.unwrap().unwrap();
    assert_eq!(read.files, vec![f1.clone()]);
    let (_, second) = s.object_to_read("b-1", "k").await.unwrap().unwrap();
    // Overwritten while read: the old body stays until both readers let go.
    let f2 = body(s, b"def").await;
    s.put_object("b-1", "k", obj(vec![f2.clone()]))
        .await
        .unwrap();
    assert!(s.body_path(&f1).exists());
    drop(pin);
    assert!(s.body_path(&f1).exists());
    drop(second);
    assert!(!s.body_path(&f1).exists());
    // Deleted while read: the same.
    let (_, pin) = s.object_to_read("b-1", "k").await.unwrap().unwrap();
    s.delete_object("b-1", "k").await.unwrap();
    assert!(s.body_path(&f2).exists());
    drop(pin);
    assert!(!s.body_path(&f2).exists());
    assert_eq!(files_on_disk(dir), 0);
}

async fn object_listing(s: &Store, _dir: &Path) {
    s.create_bucket("b-1", 1).await.unwrap();
    s.create_bucket("b-2", 1).await.unwrap();
    for key in ["a/2", "a/1", "b", "a/3", "é"] {
        let mut o = obj(vec![body(s, key.as_bytes()).await]);
        o.etag = format!("etag-{key}");
        o.envelope = None;
        s.put_object("b-1", key, o).await.unwrap();
    }
    s.put_object("b-2", "a/0", obj(vec![])).await.unwrap();
    let keys = |l: Vec<(String, Object)>| l.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    // By key in byte order, within the bucket only.
    let all = s.list_objects("b-1", "", "", 100).await.unwrap();
    assert_eq!(all[0].1.etag, "etag-a/1");
    assert!(
        all.iter()
            .all(|(_, o)| o.files.is_empty() && o.envelope.is_none())
    );
    assert_eq!(keys(all), ["a/1", "a/2", "a/3", "b", "é"]);
    // Prefix, marker (exclusive) and limit.
    assert_eq!(
        keys(s.list_objects("b-1", "a/", "", 100).await.unwrap()),
        ["a/1", "a/2", "a/3"]
    );
    assert_eq!(
        keys(s.list_objects("b-1", "a/", "a/1", 100).await.unwrap()),
        ["a/2", "a/3"]
    );
    assert_eq!(
        keys(s.list_objects("b-1", "", "a/2", 2).await.unwrap()),
        ["a/3", "b"]
    );
    assert_eq!(
        keys(s.list_objects("b-1", "", "", 0).await.unwrap()),
        Vec::<String>::new()
    );
    assert!(
        s.list_objects("b-1", "c", "", 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.list_objects("nob-1", "", "", 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn upload_lifecycle(s: &Store, dir: &Path) {
    s.create_bucket("b-1", 1).await.unwrap();
    let u = upload("u1", "k", 5);
    s.create_upload(u.clone()).await.unwrap();
    let got = s.upload("b-1", "k", "u1").await.unwrap();
    assert_eq!(
        (got.upload_id, got.key, got.initiated),
        ("u1".into(), "k".into(), 5)
    );
    assert_eq!(got.meta, u.meta);
    // An upload is found only under its own bucket and key.
    for (b, k, id) in [
        ("b-1", "other", "u1"),
        ("b-2", "k", "u1"),
        ("b-1", "k", "nou"),
    ] {
        let e = s.upload(b, k, id).await.unwrap_err();
        assert_eq!(
            (e.code(), e.status().as_u16()),
            ("NoSuchUpload", 404),
            "{b} {k} {id}"
        );
    }
    // Parts by number; an attempt replaces the earlier one of its number and removes its file.
    let p2 = body(s, b"two2").await;
    s.put_part("u1", part(2, p2.clone())).await.unwrap();
    let p1 = body(s, b"one1").await;
    s.put_part("u1", part(1, p1.clone())).await.unwrap();
    let p1b = body(s, b"ONE1").await;
    s.put_part("u1", part(1, p1b.clone())).await.unwrap();
    assert!(!s.body_path(&p1).exists());
    let parts = s.parts("u1").await.unwrap();
    let shown: Vec<(u32, &str)> = parts.iter().map(|p| (p.number, p.file.as_str())).collect();
    assert_eq!(shown, vec![(1, p1b.as_str()), (2, p2.as_str())]);
    assert_eq!(parts[0].salt, Some([7; 32]));
    assert_eq!((parts[0].size, parts[0].stored_size), (4, 4));
    assert!(s.parts("nou").await.unwrap().is_empty());
    // Completing with part 1 only: part 2's file goes, and so does the replaced object's.
    let old = body(s, b"old").await;
    s.put_object("b-1", "k", obj(vec![old.clone()]))
        .await
        .unwrap();
    s.complete_upload(&u, &parts[..1], obj(vec![p1b.clone()]))
        .await
        .unwrap();
    assert_eq!(
        s.object("b-1", "k").await.unwrap().unwrap().files,
        vec![p1b.clone()]
    );
    assert!(!s.body_path(&p2).exists());
    assert!(!s.body_path(&old).exists());
    assert!(s.parts("u1").await.unwrap().is_empty());
    // The upload is gone: every later use of it is NoSuchUpload.
    let late = body(s, b"late").await;
    let e = s.put_part("u1", part(3, late.clone())).await.unwrap_err();
    assert_eq!(e.code(), "NoSuchUpload");
    assert!(!s.body_path(&late).exists());
    assert_eq!(
        s.upload("b-1", "k", "u1").await.unwrap_err().code(),
        "NoSuchUpload"
    );
    assert_eq!(
        s.abort_upload("u1").await.unwrap_err().code(),
        "NoSuchUpload"
    );
    let e = s.complete_upload(&u, &[], obj(vec![])).await.unwrap_err();
    assert_eq!(e.code(), "NoSuchUpload");
    assert_eq!(
        s.object("b-1", "k").await.unwrap().unwrap().files,
        vec![p1b]
    );
    // An abort removes the parts' files.
    s.create_upload(upload("u2", "k2", 6)).await.unwrap();
    let q = body(s, b"q").await;
    s.put_part("u2", part(1, q.clone())).await.unwrap();
    s.abort_upload("u2").await.unwrap();
    assert!(!s.body_path(&q).exists());
    assert_eq!(
        s.abort_upload("u2").await.unwrap_err().code(),
        "NoSuchUpload"
    );
    assert_eq!(files_on_disk(dir), 1);
}

async fn upload_listing(s: &Store, _dir: &Path) {
    s.create_bucket("b-1", 1).await.unwrap();
    for (id, key, initiated) in [
        ("u1", "b", 1),
        ("u2", "a", 9),
        ("u3", "a", 2),
        ("u4", "ab", 3),
    ] {
        s.create_upload(upload(id, key, initiated)).await.unwrap();
    }
    let mut other = upload("u5", "a", 1);
    other.bucket = "b-2".into();
    s.create_upload(other).await.unwrap();
    let ids = |l: Vec<Upload>| l.into_iter().map(|u| u.upload_id).collect::<Vec<_>>();
    // By key, then by initiation.
    assert_eq!(
        ids(s.list_uploads("b-1", "").await.unwrap()),
        ["u3", "u2", "u4", "u1"]
    );
    assert_eq!(
        ids(s.list_uploads("b-1", "a").await.unwrap()),
        ["u3", "u2", "u4"]
    );
    assert_eq!(ids(s.list_uploads("b-1", "ab").await.unwrap()), ["u4"]);
    assert!(s.list_uploads("b-1", "c").await.unwrap().is_empty());
    assert_eq!(ids(s.list_uploads("b-2", "").await.unwrap()), ["u5"]);
}

async fn completing_with_a_part_replaced_meanwhile_fails_and_changes_nothing(
    s: &Store,
    _dir: &Path,
) {
    s.create_bucket("b-1", 1).await.unwrap();
    let u = Upload {
        upload_id: "u1".into(),
        bucket: "b-1".into(),
        key: "k".into(),
        initiated: 1,
        meta: vec![],
        envelope: None,
        tags: Vec::new(),
        storage_class: Default::default(),
        acl: None,
    };
    s.create_upload(u.clone()).await.unwrap();
    let part = |file: String, etag: &str| Part {
        number: 1,
        etag: etag.into(),
        size: 3,
        stored_size: 3,
        salt: None,
        file,
        modified: 1,
    };
    let mut w = s.writer().await.unwrap();
    w.write(b"abc").await.unwrap();
    let f1 = w.commit().await.unwrap();
    s.put_part("u1", part(f1.clone(), "e1")).await.unwrap();
    let stale = s.parts("u1").await.unwrap();
    // Part 1 is uploaded again (same ETag, new file) before the completion commits.
    let mut w = s.writer().await.unwrap();
    w.write(b"abc").await.unwrap();
    let f2 = w.commit().await.unwrap();
    s.put_part("u1", part(f2.clone(), "e1")).await.unwrap();
    assert!(!s.body_path(&f1).exists());
    assert!(matches!(
        s.complete_upload(&u, &stale, obj(vec![f1.clone()])).await,
        Err(Error::InvalidPart(_))
    ));
    assert!(s.object("b-1", "k").await.unwrap().is_none());
    assert!(s.body_path(&f2).exists());
    // A different ETag is refused too.
    let mut other = s.parts("u1").await.unwrap();
    other[0].etag = "e2".into();
    assert!(matches!(
        s.complete_upload(&u, &other, obj(vec![f2.clone()])).await,
        Err(Error::InvalidPart(_))
    ));
    // With a fresh list the upload completes.
    let fresh = s.parts("u1").await.unwrap();
    s.complete_upload(&u, &fresh, obj(vec![f2.clone()]))
        .await
        .unwrap();
    let o = s.object("b-1", "k").await.unwrap().unwrap();
    assert_eq!(o.files, vec![f2.clone()]);
    assert!(s.body_path(&f2).exists());
    assert!(s.parts("u1").await.unwrap().is_empty());
}

async fn a_write_that_loses_a_race_with_a_delete_removes_its_body(s: &Store, dir: &Path) {
    s.create_bucket("b-1", 1).await.unwrap();
    // The body is committed, then the bucket is deleted before the object row is written (what
    // a DELETE Bucket between a PUT's bucket check and its row does).
    let mut w = s.writer().await.unwrap();
    w.write(b"late").await.unwrap();
    let f = w.commit().await.unwrap();
    assert!(s.body_path(&f).exists());
    s.delete_bucket("b-1").await.unwrap();
    let e = s
        .put_object("b-1", "k", obj(vec![f.clone()]))
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.status().as_u16()), ("NoSuchBucket", 404));
    assert!(!s.body_path(&f).exists(), "the loser's body is orphaned");
    // The same for a part whose upload is aborted while it is written.
    s.create_bucket("b-1", 1).await.unwrap();
    let u = Upload {
        upload_id: "u1".into(),
        bucket: "b-1".into(),
        key: "k".into(),
        initiated: 1,
        meta: vec![],
        envelope: None,
        tags: Vec::new(),
        storage_class: Default::default(),
        acl: None,
    };
    s.create_upload(u).await.unwrap();
    let mut w = s.writer().await.unwrap();
    w.write(b"part").await.unwrap();
    let f = w.commit().await.unwrap();
    s.abort_upload("u1").await.unwrap();
    let part = Part {
        number: 1,
        etag: "e".into(),
        size: 4,
        stored_size: 4,
        salt: None,
        file: f.clone(),
        modified: 1,
    };
    let e = s.put_part("u1", part).await.unwrap_err();
    assert_eq!((e.code(), e.status().as_u16()), ("NoSuchUpload", 404));
    assert!(
        !s.body_path(&f).exists(),
        "the loser's part body is orphaned"
    );
    assert_eq!(std::fs::read_dir(dir.join("objects")).unwrap().count(), 0);
}

async fn bucket_rules(s: &Store, _dir: &Path) {
    assert!(matches!(
        s.put_object("nob-1", "k", obj(vec![])).await,
        Err(Error::NoSuchBucket)
    ));
    s.create_bucket("b-1", 1).await.unwrap();
    s.put_object("b-1", "k", obj(vec![])).await.unwrap();
    assert!(matches!(
        s.delete_bucket("b-1").await,
        Err(Error::BucketNotEmpty)
    ));
    s.delete_object("b-1", "k").await.unwrap();
    s.delete_bucket("b-1").await.unwrap();
    assert!(matches!(
        s.delete_bucket("b-1").await,
        Err(Error::NoSuchBucket)
    ));
}
