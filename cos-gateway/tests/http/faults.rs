//! Faults of the gateway's own resources: a full disk under PUT, Upload Part, Complete and Copy
//! (an injected `DiskBudget` for body files, an injected `SQLITE_FULL` for the catalog), and a
//! metadata database locked by another connection. Each ends with its exact COS error, leaves no
//! object, part or file behind, and the next request succeeds.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cos_gateway::store::versions::{Deleted, Entry, Version, Versioning};
use cos_gateway::store::{
    Bucket, Catalog, DiskBudget, Object, Part, Pins, ReadPin, SqliteCatalog, Store, Upload,
};

use super::multipart::{complete_xml, initiate, upload_part};
use super::*;

/// The message of a full disk (`Error::StorageFull`).
const FULL: &str = "storage is full";

fn files_in(dir: &Path, sub: &str) -> usize {
    std::fs::read_dir(dir.join(sub)).unwrap().count()
}

/// Asserts the 500 of a full disk: `InternalError`, with the message that says why.
fn assert_full(r: &common::Raw) {
    r.assert_error(500, "InternalError");
    assert!(r.text().contains(FULL), "{}", r.text());
}

/// A gateway whose body writes count against `budget`.
fn with_budget(budget: &Arc<DiskBudget>) -> common::TestGateway {
    let budget = Arc::clone(budget);
    let gw = common::start_http_with_store(Box::new(move |dir| {
        Store::open(dir).unwrap().with_disk_budget(budget)
    }));
    create_bucket(gw.addr);
    gw
}

#[test]
fn a_full_disk_fails_put_part_and_copy_without_leaving_anything() {
    let budget = DiskBudget::new();
    let gw = with_budget(&budget);
    let a = gw.addr;
    let kms = [("x-cos-server-side-encryption", "cos/kms")];
    Req::new("PUT", "/keep")
        .body("old body")
        .send(a)
        .assert_status(200);

    budget.fill();
    // PUT, plain and SSE-KMS, a new key and an overwrite: refused, nothing stored.
    assert_full(&Req::new("PUT", "/new").body("x").send(a));
    assert_full(
        &Req::new("PUT", "/new")
            .header(kms[0].0, kms[0].1)
            .body("x")
            .send(a),
    );
    assert_full(&Req::new("PUT", "/keep").body("new body").send(a));
    Req::new("GET", "/new")
        .send(a)
        .assert_error(404, "NoSuchKey");
    assert_eq!(Req::new("GET", "/keep").send(a).body, b"old body");
    // A disk that fills in the middle of a body: the bytes already written go too.
    budget.allow(64 << 10);
    let body = vec![7u8; 200 << 10];
    assert_full(&Req::new("PUT", "/half").body(body.clone()).send(a));
    Req::new("HEAD", "/half").send(a).assert_status(404);
    // Copy: the destination is not created.
    budget.fill();
    let src = format!("{}/keep", common::HOST);
    assert_full(
        &Req::new("PUT", "/copy")
            .header("x-cos-copy-source", &src)
            .send(a),
    );
    Req::new("HEAD", "/copy").send(a).assert_status(404);

    // Upload Part: the part is not listed, the upload goes on once there is space.
    budget.free();
    let id = initiate(a, "mp", &[]);
    let big: Vec<u8> = (0..(1 << 20) + 10).map(|i| (i % 253) as u8).collect();
    let e1 = upload_part(a, "mp", &id, 1, &big, &[]);
    budget.fill();
    let t2 = format!("/mp?partNumber=2&uploadId={id}");
    assert_full(&Req::new("PUT", &t2).body("tail").send(a));
    let listed = Req::new("GET", &format!("/mp?uploadId={id}")).send(a);
    assert_eq!(
        listed.text().matches("<Part>").count(),
        1,
        "{}",
        listed.text()
    );

    // Nothing of a failed write is on disk: no temp file, only the two committed bodies.
    assert_eq!(files_in(gw.dir.path(), "tmp"), 0);
    assert_eq!(files_in(gw.dir.path(), "objects"), 2);

    // Space again: the same gateway serves every operation.
    budget.free();
    let e2 = upload_part(a, "mp", &id, 2, b"tail", &[]);
    Req::new("POST", &format!("/mp?uploadId={id}"))
        .body(complete_xml(&[(1, &e1), (2, &e2)]))
        .send(a)
        .assert_status(200);
    assert_eq!(Req::new("GET", "/mp").send(a).body.len(), big.len() + 4);
    Req::new("PUT", "/half")
        .header(kms[0].0, kms[0].1)
        .body(body.clone())
        .send(a)
        .assert_status(200);
    assert_eq!(Req::new("GET", "/half").send(a).body, body);
    Req::new("PUT", "/copy")
        .header("x-cos-copy-source", &src)
        .send(a)
        .assert_status(200);
    assert_eq!(Req::new("GET", "/copy").send(a).body, b"old body");
}

/// The SQLite catalog, whose row writes fail as SQLite does on a full disk (`SQLITE_FULL`) while
/// `full` is set, and wait while `hold` is closed. Reads always pass.
#[derive(Debug)]
struct FaultyDb {
    inner: SqliteCatalog,
    full: Arc<AtomicBool>,
    hold: Arc<Hold>,
}

impl FaultyDb {
    fn write<T>(&self, f: impl FnOnce() -> cos_gateway::Result<T>) -> cos_gateway::Result<T> {
        if self.full.load(Ordering::SeqCst) {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("database or disk is full".into()),
            )
            .into());
        }
        self.hold.pass();
        f()
    }
}

/// A gate for row writes: while closed, a write waits in it (counted) until it opens.
#[derive(Debug, Default)]
struct Hold {
    /// Whether it is closed, and how many writes have reached it while it was.
    state: std::sync::Mutex<(bool, usize)>,
    changed: std::sync::Condvar,
}

impl Hold {
    fn set_closed(&self, closed: bool) {
        self.state.lock().unwrap().0 = closed;
        self.changed.notify_all();
    }

    fn pass(&self) {
        let mut state = self.state.lock().unwrap();
        if state.0 {
            state.1 += 1;
            self.changed.notify_all();
        }
        while state.0 {
            state = self.changed.wait(state).unwrap();
        }
    }

    /// Waits until `n` writes have reached the closed gate.
    fn wait_for(&self, n: usize) {
        let state = self.state.lock().unwrap();
        drop(self.changed.wait_while(state, |s| s.1 < n).unwrap());
    }
}

impl Catalog for FaultyDb {
    fn referenced_files(&self) -> cos_gateway::Result<HashSet<String>> {
        self.inner.referenced_files()
    }
    fn bucket(&self, name: &str) -> cos_gateway::Result<Option<Bucket>> {
        self.inner.bucket(name)
    }
    fn buckets(&self) -> cos_gateway::Result<Vec<Bucket>> {
        self.inner.buckets()
    }
    fn create_bucket(&self, name: &str, now: i64) -> cos_gateway::Result<bool> {
        self.write(|| self.inner.create_bucket(name, now))
    }
    fn delete_bucket(&self, name: &str) -> cos_gateway::Result<()> {
        self.write(|| self.inner.delete_bucket(name))
    }
    fn set_bucket_encryption(
        &self,
        name: &str,
        enc: Option<&storage_adapter::BucketEncryption>,
    ) -> cos_gateway::Result<()> {
        self.write(|| self.inner.set_bucket_encryption(name, enc))
    }
    fn set_bucket_acl(
        &self,
        name: &str,
        acl: Option<&cos_gateway::acl::Acl>,
    ) -> cos_gateway::Result<()> {
        self.write(|| self.inner.set_bucket_acl(name, acl))
    }
    fn object(&self, bucket: &str, key: &str) -> cos_gateway::Result<Option<Object>> {
        self.inner.object(bucket, key)
    }
    fn object_pinned(
        &self,
        bucket: &str,
        key: &str,
        pins: &Pins,
    ) -> cos_gateway::Result<Option<(Object, ReadPin)>> {
        self.inner.object_pinned(bucket, key, pins)
    }
    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        obj: &Object,
    ) -> cos_gateway::Result<(Vec<String>, Option<String>)> {
        self.write(|| self.inner.put_object(bucket, key, obj))
    }
    fn update_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        update: &cos_gateway::store::ObjectUpdate,
    ) -> cos_gateway::Result<bool> {
        self.write(|| self.inner.update_object(bucket, key, version_id, update))
    }
    fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> cos_gateway::Result<(Vec<String>, Deleted)> {
        self.write(|| self.inner.delete_object(bucket, key))
    }
    fn set_bucket_versioning(&self, name: &str, state: Versioning) -> cos_gateway::Result<()> {
        self.write(|| self.inner.set_bucket_versioning(name, state))
    }
    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> cos_gateway::Result<(Vec<String>, Deleted)> {
        self.write(|| self.inner.delete_version(bucket, key, version_id))
    }
    fn version_pinned(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        pins: &Pins,
    ) -> cos_gateway::Result<Option<(Entry, ReadPin)>> {
        self.inner.version_pinned(bucket, key, version_id, pins)
    }
    fn latest_marker(&self, bucket: &str, key: &str) -> cos_gateway::Result<Option<String>> {
        self.inner.latest_marker(bucket, key)
    }
    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        version_marker: Option<&str>,
        limit: usize,
    ) -> cos_gateway::Result<Vec<Version>> {
        self.inner
            .list_versions(bucket, prefix, key_marker, version_marker, limit)
    }
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        marker: &str,
        limit: usize,
    ) -> cos_gateway::Result<Vec<(String, Object)>> {
        self.inner.list_objects(bucket, prefix, marker, limit)
    }
    fn create_upload(&self, upload: &Upload) -> cos_gateway::Result<()> {
        self.write(|| self.inner.create_upload(upload))
    }
    fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> cos_gateway::Result<Upload> {
        self.inner.upload(bucket, key, upload_id)
    }
    fn list_uploads(&self, bucket: &str, prefix: &str) -> cos_gateway::Result<Vec<Upload>> {
        self.inner.list_uploads(bucket, prefix)
    }
    fn put_part(&self, upload_id: &str, part: &Part) -> cos_gateway::Result<Option<String>> {
        self.write(|| self.inner.put_part(upload_id, part))
    }
    fn parts(&self, upload_id: &str) -> cos_gateway::Result<Vec<Part>> {
        self.inner.parts(upload_id)
    }
    fn complete_upload(
        &self,
        upload: &Upload,
        chosen: &[Part],
        obj: &Object,
    ) -> cos_gateway::Result<(Vec<String>, Option<String>)> {
        self.write(|| self.inner.complete_upload(upload, chosen, obj))
    }
    fn abort_upload(&self, upload_id: &str) -> cos_gateway::Result<Vec<String>> {
        self.write(|| self.inner.abort_upload(upload_id))
    }
}

/// Complete writes no body, only rows: a full disk fails its SQLite commit. The upload and its
/// parts stay as they were, no object appears, and Complete succeeds once there is space. A PUT
/// whose body was written but whose row cannot be is refused the same way, and so is an ACL write.
#[test]
fn a_full_database_fails_complete_and_put_and_keeps_the_upload() {
    let full = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&full);
    let gw = common::start_http_with_store(Box::new(move |dir| {
        let inner = SqliteCatalog::open(&dir.join("gateway.sqlite3")).unwrap();
        let db = FaultyDb {
            inner,
            full: flag,
            hold: Arc::default(),
        };
        Store::with_catalog(dir, Arc::new(db)).unwrap()
    }));
    create_bucket(gw.addr);
    let a = gw.addr;
    let kms = vec![(
        "x-cos-server-side-encryption".to_owned(),
        "cos/kms".to_owned(),
    )];
    let id = initiate(a, "mp", &kms);
    let big = vec![1u8; (1 << 20) + 1];
    let e1 = upload_part(a, "mp", &id, 1, &big, &[]);
    let e2 = upload_part(a, "mp", &id, 2, b"end", &[]);
    let done = complete_xml(&[(1, &e1), (2, &e2)]);
    let target = format!("/mp?uploadId={id}");
    Req::new("PUT", "/kept")
        .body("k")
        .send(a)
        .assert_status(200);

    full.store(true, Ordering::SeqCst);
    assert_full(&Req::new("POST", &target).body(done.clone()).send(a));
    Req::new("HEAD", "/mp").send(a).assert_status(404);
    let listed = Req::new("GET", &target).send(a);
    assert_eq!(
        listed.text().matches("<Part>").count(),
        2,
        "{}",
        listed.text()
    );
    assert_full(&Req::new("PUT", "/single").body("x").send(a));
    Req::new("HEAD", "/single").send(a).assert_status(404);
    // ACL writes fail the same way and leave the ACLs as they were.
    let acl = |target: &str| {
        Req::new("PUT", target)
            .header("x-cos-acl", "public-read")
            .send(a)
    };
    assert_full(&acl("/?acl"));
    assert_full(&acl("/kept?acl"));
    // An object that does not exist is that, whatever the disk.
    acl("/mp?acl").assert_error(404, "NoSuchKey");
    for target in ["/?acl", "/kept?acl"] {
        let got = Req::new("GET", target).send(a);
        got.assert_status(200);
        assert!(!got.text().contains("AllUsers"), "{target} changed");
    }

    full.store(false, Ordering::SeqCst);
    Req::new("POST", &target)
        .body(done)
        .send(a)
        .assert_status(200);
    let got = Req::new("GET", "/mp").send(a);
    assert_eq!(got.body.len(), big.len() + 3);
    assert_eq!(&got.body[big.len()..], b"end");
    Req::new("PUT", "/single")
        .body("x")
        .send(a)
        .assert_status(200);
    // The refused PUT's body file was removed: two part files and two bodies, no temp file.
    assert_eq!(files_in(gw.dir.path(), "objects"), 4);
    assert_eq!(files_in(gw.dir.path(), "tmp"), 0);
}

/// A write whose row is still being committed when its request's deadline passes (held in the
/// catalog here; a slow disk or a busy database in life) gets its real answer once it is done,
/// not `400 RequestTimeout` for a change that took effect: a PUT (a row write that frees the
/// replaced body) and an ACL change (a row write alone).
#[test]
fn a_write_under_way_at_the_deadline_gets_its_real_answer() {
    // Long enough for the first PUT's fsyncs on a loaded machine.
    const DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);
    let hold = Arc::new(Hold::default());
    let gate = Arc::clone(&hold);
    let gw = common::start_limited_with_store(
        cos_gateway::ServeOptions {
            request_timeout: DEADLINE,
            ..Default::default()
        },
        Box::new(move |dir| {
            let db = FaultyDb {
                inner: SqliteCatalog::open(&dir.join("gateway.sqlite3")).unwrap(),
                full: Arc::default(),
                hold: gate,
            };
            Store::with_catalog(dir, Arc::new(db)).unwrap()
        }),
    );
    create_bucket(gw.addr);
    let a = gw.addr;
    Req::new("PUT", "/late")
        .body("first")
        .send(a)
        .assert_status(200);
    let late = [
        Req::new("PUT", "/late").body("second"),
        Req::new("PUT", "/late?acl").header("x-cos-acl", "public-read"),
    ];
    for (held, req) in late.into_iter().enumerate() {
        hold.set_closed(true);
        let sent = std::thread::spawn(move || req.send(a));
        hold.wait_for(held + 1);
        // Its headers were read before its write began: its deadline has passed by now.
        std::thread::sleep(2 * DEADLINE);
        hold.set_closed(false);
        sent.join().unwrap().assert_status(200);
    }
    assert_eq!(Req::new("GET", "/late").send(a).body, b"second");
    let acl = Req::new("GET", "/late?acl").send(a);
    assert!(acl.text().contains("AllUsers"), "{}", acl.text());
    // Only one body file: the one the second PUT replaced was removed.
    assert_eq!(files_in(gw.dir.path(), "objects"), 1);
}

/// Another connection holds the write lock on `gateway.sqlite3` (`BEGIN EXCLUSIVE`, as an
/// operator's `sqlite3` shell or a backup would). Past the bound (zero here), a write is 503
/// `SlowDown` and changes nothing; once the lock is released the same request succeeds; the
/// database stays intact.
#[test]
fn a_locked_database_is_slow_down_and_then_serves() {
    let gw = common::start_http_with_store(Box::new(|dir| {
        let db = SqliteCatalog::open_with_busy_timeout(
            &dir.join("gateway.sqlite3"),
            std::time::Duration::ZERO,
        )
        .unwrap();
        Store::with_catalog(dir, Arc::new(db)).unwrap()
    }));
    create_bucket(gw.addr);
    let a = gw.addr;
    let db_path = gw.dir.path().join("gateway.sqlite3");
    Req::new("PUT", "/before")
        .body("one")
        .send(a)
        .assert_status(200);

    let holder = rusqlite::Connection::open(&db_path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = Req::new("PUT", "/during").body("two").send(a);
    r.assert_error(503, "SlowDown");
    assert!(r.text().contains("database is busy"), "{}", r.text());
    Req::new("DELETE", "/before")
        .send(a)
        .assert_error(503, "SlowDown");
    let rows: i64 = holder
        .query_row("SELECT count(*) FROM objects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "the refused PUT wrote no row");
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);

    Req::new("PUT", "/during")
        .body("two")
        .send(a)
        .assert_status(200);
    assert_eq!(Req::new("GET", "/before").send(a).body, b"one");
    assert_eq!(Req::new("GET", "/during").send(a).body, b"two");
    // The refused PUT's body file was removed: one file per object, no temp file.
    assert_eq!(files_in(gw.dir.path(), "objects"), 2);
    assert_eq!(files_in(gw.dir.path(), "tmp"), 0);
    let check = rusqlite::Connection::open(&db_path).unwrap();
    let ok: String = check
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

/// The environment variable naming a directory on a small filesystem for
/// [`a_real_full_filesystem_fails_cleanly`] (for example a 16 MiB tmpfs:
/// `mount -t tmpfs -o size=16m tmpfs /mnt/small`).
const SMALL_FS: &str = "COS_GATEWAY_SMALL_FS";

/// Fills `dir`'s filesystem with one file until the disk refuses a byte; returns that file.
fn fill(dir: &Path) -> std::path::PathBuf {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 << 10];
    let mut size = chunk.len();
    while size > 0 {
        match f.write(&chunk[..size]) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => size /= 2,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    path
}

/// The same faults on a real full filesystem (no injection): PUT, Upload Part and Complete fail
/// with the full-disk 500, leave no object, part, row or file, and succeed once space is freed.
/// Needs a small filesystem it may fill: run with
/// `COS_GATEWAY_SMALL_FS=/mnt/small cargo test -p cos-gateway --test http -- --ignored real_full`.
#[test]
#[ignore = "needs a small filesystem named by COS_GATEWAY_SMALL_FS"]
fn a_real_full_filesystem_fails_cleanly() {
    let small = std::env::var_os(SMALL_FS).expect(SMALL_FS);
    let root = tempfile::tempdir_in(small).unwrap();
    let data = root.path().join("store");
    let store_dir = data.clone();
    let gw = common::start_http_with_store(Box::new(move |_| Store::open(&store_dir).unwrap()));
    create_bucket(gw.addr);
    let a = gw.addr;
    let big: Vec<u8> = (0..(1 << 20) + 10).map(|i| (i % 251) as u8).collect();
    let id = initiate(a, "mp", &[]);
    let e1 = upload_part(a, "mp", &id, 1, &big, &[]);
    let target = format!("/mp?uploadId={id}");
    // An empty write-ahead log, so that Complete's commit needs new space.
    let db = rusqlite::Connection::open(data.join("gateway.sqlite3")).unwrap();
    db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();

    let filler = fill(root.path());
    assert_full(&Req::new("PUT", "/big").body(big.clone()).send(a));
    Req::new("HEAD", "/big").send(a).assert_status(404);
    let t2 = format!("/mp?partNumber=2&uploadId={id}");
    assert_full(&Req::new("PUT", &t2).body(big.clone()).send(a));
    assert_full(
        &Req::new("POST", &target)
            .body(complete_xml(&[(1, &e1)]))
            .send(a),
    );
    Req::new("HEAD", "/mp").send(a).assert_status(404);
    let listed = Req::new("GET", &target).send(a);
    assert_eq!(
        listed.text().matches("<Part>").count(),
        1,
        "{}",
        listed.text()
    );
    assert_eq!(files_in(&data, "tmp"), 0);
    assert_eq!(files_in(&data, "objects"), 1);

    std::fs::remove_file(filler).unwrap();
    Req::new("PUT", "/big")
        .body(big.clone())
        .send(a)
        .assert_status(200);
    let e2 = upload_part(a, "mp", &id, 2, b"end", &[]);
    Req::new("POST", &target)
        .body(complete_xml(&[(1, &e1), (2, &e2)]))
        .send(a)
        .assert_status(200);
    assert_eq!(Req::new("GET", "/big").send(a).body, big);
    assert_eq!(Req::new("GET", "/mp").send(a).body.len(), big.len() + 3);
    let ok: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}
