//! Bucket keys: how many KMS calls they save, how long a key lives, and that every operation on a
//! bucket-key object (range, multipart, copy either way) behaves as without one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use futures::future::BoxFuture;
use storage_adapter::envelope::{FORMAT_VERSION, FORMAT_VERSION_BUCKET_KEY};
use storage_adapter::{
    Adapter, BucketKeyConfig, DataKey, DataKeyRequest, Error, GeneratedKey, KeyProvider, MemoryKms,
    ObjectName, SseRequest, StoredKey,
};

/// A [`MemoryKms`] that counts the calls it serves, each taking [`KMS_LATENCY`] (so that
/// concurrent requests overlap as they do against a remote KMS).
#[derive(Debug, Default)]
struct Counting {
    kms: MemoryKms,
    generated: AtomicUsize,
    decrypted: AtomicUsize,
}

const KMS_LATENCY: Duration = Duration::from_millis(20);

impl KeyProvider for Counting {
    fn generate_data_key<'a>(
        &'a self,
        request: DataKeyRequest<'a>,
    ) -> BoxFuture<'a, storage_adapter::Result<GeneratedKey>> {
        self.generated.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(KMS_LATENCY).await;
            self.kms.generate_data_key(request).await
        })
    }
    fn decrypt_data_key<'a>(
        &'a self,
        stored: StoredKey<'a>,
    ) -> BoxFuture<'a, storage_adapter::Result<DataKey>> {
        self.decrypted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(KMS_LATENCY).await;
            self.kms.decrypt_data_key(stored).await
        })
    }
}

impl Counting {
    fn calls(&self) -> (usize, usize) {
        (
            self.generated.load(Ordering::SeqCst),
            self.decrypted.load(Ordering::SeqCst),
        )
    }
}

fn counted(config: BucketKeyConfig) -> (Adapter, Arc<Counting>) {
    let kms = Arc::new(Counting::default());
    kms.kms.create_key("k");
    (Adapter::new(kms.clone()).with_bucket_key_cache(config), kms)
}

fn kms(bucket_key: bool) -> SseRequest {
    SseRequest::Kms {
        key_id: Some("k".into()),
        context: None,
        bucket_key,
    }
}

fn short(ms: u64) -> BucketKeyConfig {
    BucketKeyConfig {
        ttl: Duration::from_millis(ms),
        ..BucketKeyConfig::default()
    }
}

async fn put(
    a: &Adapter,
    req: &SseRequest,
    key: &str,
    plain: &[u8],
) -> (Vec<u8>, storage_adapter::Envelope) {
    a.begin_put(req, ObjectName::new(NAME.bucket, key))
        .await
        .unwrap()
        .seal_bytes(plain)
        .unwrap()
}

async fn get(a: &Adapter, env: &storage_adapter::Envelope, key: &str, stored: &[u8]) -> Vec<u8> {
    let obj = a
        .open(env, ObjectName::new(NAME.bucket, key), None)
        .await
        .unwrap();
    obj.decrypt_bytes(obj.plan(None).unwrap(), stored).unwrap()
}

#[tokio::test]
async fn a_thousand_puts_and_gets_make_one_kms_call() {
    let (a, counter) = counted(BucketKeyConfig::default());
    let mut objects = Vec::new();
    for i in 0..1000 {
        let key = format!("small/{i}");
        let plain = data(4096, i as u8);
        let (stored, env) = put(&a, &kms(true), &key, &plain).await;
        assert_eq!(env.version(), FORMAT_VERSION_BUCKET_KEY);
        assert_eq!(get(&a, &env, &key, &stored).await, plain);
        objects.push((key, stored, env, plain));
    }
    assert_eq!(counter.calls(), (1, 0));
    // Another server (a cold cache) opens the bucket key once for all of them.
    let b = Adapter::new(counter.clone());
    for (key, stored, env, plain) in &objects {
        assert_eq!(&get(&b, env, key, stored).await, plain);
    }
    assert_eq!(counter.calls(), (1, 1));
}

#[tokio::test]
async fn concurrent_misses_share_one_kms_call() {
    let (a, counter) = counted(BucketKeyConfig::default());
    let req = kms(true);
    let puts = (0..32).map(|i| {
        let (a, req) = (&a, &req);
        async move {
            let key = format!("hot/{i}");
            let (stored, env) = put(a, req, &key, &[i as u8; 100]).await;
            (key, stored, env)
        }
    });
    let objects = futures::future::join_all(puts).await;
    assert_eq!(counter.calls(), (1, 0), "32 PUTs on a cold cache");
    let b = Adapter::new(counter.clone());
    let gets = objects
        .iter()
        .map(|(key, stored, env)| get(&b, env, key, stored));
    let bodies = futures::future::join_all(gets).await;
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(body, &vec![i as u8; 100]);
    }
    assert_eq!(counter.calls(), (1, 1), "32 GETs on a cold cache");
}

#[tokio::test]
async fn a_failed_shared_call_fails_every_waiter_with_its_error() {
    let (a, counter) = counted(BucketKeyConfig::default());
    counter.kms.set_enabled("k", false);
    let req = kms(true);
    let puts = (0..8).map(|i| {
        let (a, req) = (&a, &req);
        async move {
            a.begin_put(req, ObjectName::new(NAME.bucket, &format!("x{i}")))
                .await
                .err()
        }
    });
    for e in futures::future::join_all(puts).await {
        assert!(
            matches!(e, Some(Error::KmsKeyDisabled(ref id)) if id == "k"),
            "{e:?}"
        );
    }
    assert_eq!(counter.calls(), (1, 0));
    // A failure is not cached: once the key is enabled again, the next PUT works.
    counter.kms.set_enabled("k", true);
    put(&a, &req, "after", b"x").await;
    assert_eq!(counter.calls(), (2, 0));
}

#[tokio::test]
async fn without_bucket_keys_every_request_calls_the_kms() {
    let (a, counter) = counted(BucketKeyConfig::default());
    for i in 0..20 {
        let key = format!("small/{i}");
        let (stored, env) = put(&a, &kms(false), &key, b"x").await;
        assert_eq!(env.version(), FORMAT_VERSION);
        get(&a, &env, &key, &stored).await;
    }
    assert_eq!(counter.calls(), (20, 20));
}

#[tokio::test]
async fn a_zero_ttl_turns_the_cache_off() {
    let (a, counter) = counted(short(0));
    for i in 0..5 {
        let key = format!("k{i}");
        let (stored, env) = put(&a, &kms(true), &key, b"x").await;
        assert_eq!(env.version(), FORMAT_VERSION_BUCKET_KEY);
        get(&a, &env, &key, &stored).await;
    }
    assert_eq!(counter.calls(), (5, 5));
}

#[tokio::test]
async fn keys_are_per_bucket_cmk_and_context() {
    let (a, counter) = counted(BucketKeyConfig::default());
    counter.kms.create_key("k2");
    let other = SseRequest::Kms {
        key_id: Some("k2".into()),
        context: None,
        bucket_key: true,
    };
    let ctx = SseRequest::Kms {
        key_id: Some("k".into()),
        context: Some(storage_adapter::KmsContext::from_base64("eyJhIjoiMSJ9").unwrap()),
        bucket_key: true,
    };
    put(&a, &kms(true), "a", b"x").await;
    put(&a, &other, "a", b"x").await;
    put(&a, &ctx, "a", b"x").await;
    a.begin_put(&kms(true), ObjectName::new("another-bucket", "a"))
        .await
        .unwrap();
    assert_eq!(counter.calls(), (4, 0));
    put(&a, &ctx, "b", b"y").await;
    assert_eq!(counter.calls(), (4, 0));
}

/// The trade-off: a disabled CMK stops new writes (and cold reads) only once the cached bucket key
/// expires; objects already cached stay readable until then.
#[tokio::test]
async fn a_disabled_cmk_stops_writes_after_the_cache_time() {
    // Long enough for a PUT, a PUT and a GET on a loaded machine.
    let ttl = 2000;
    let (a, counter) = counted(short(ttl));
    let (stored, env) = put(&a, &kms(true), "before", b"x").await;
    counter.kms.set_enabled("k", false);
    // Within the cache time the cached key still serves writes and reads.
    put(&a, &kms(true), "during", b"y").await;
    assert_eq!(get(&a, &env, "before", &stored).await, b"x");
    tokio::time::sleep(Duration::from_millis(ttl + 100)).await;
    let e = a
        .begin_put(&kms(true), ObjectName::new(NAME.bucket, "after"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::KmsKeyDisabled(_)), "{e:?}");
    let e = a
        .open(&env, ObjectName::new(NAME.bucket, "before"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::KmsKeyDisabled(_)), "{e:?}");
    // Without bucket keys the disable takes effect at once.
    let (b, counter) = counted(BucketKeyConfig::default());
    counter.kms.set_enabled("k", false);
    let e = b
        .begin_put(&kms(false), ObjectName::new(NAME.bucket, "x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::KmsKeyDisabled(_)), "{e:?}");
}

#[tokio::test]
async fn range_multipart_and_setting_off_read_back() {
    let (a, counter) = counted(BucketKeyConfig::default());
    let plain = data(3 * S + 11, 3);
    let (stored, env) = put(&a, &kms(true), "big", &plain).await;
    let obj = a
        .open(&env, ObjectName::new(NAME.bucket, "big"), None)
        .await
        .unwrap();
    let got = get_stream(&obj, Some(S as u64 - 3..2 * S as u64 + 5), &stored, 1000)
        .await
        .unwrap();
    assert_eq!(got, &plain[S - 3..2 * S + 5]);

    let name = ObjectName::new(NAME.bucket, "multi");
    let upload = a.initiate_multipart(&kms(true), name, "u1").await.unwrap();
    assert_eq!(upload.version(), FORMAT_VERSION_BUCKET_KEY);
    let open = a.open_upload(&upload, name, None).await.unwrap();
    let (p1, i1) = open.part(1).unwrap().seal_bytes(&plain[..S]).unwrap();
    let (p2, i2) = open.part(2).unwrap().seal_bytes(&plain[S..]).unwrap();
    let done = a
        .complete_multipart(&upload, name, None, vec![i1, i2])
        .await
        .unwrap();
    let body = [p1, p2].concat();
    assert_eq!(get(&a, &done, "multi", &body).await, plain);
    assert_eq!(counter.calls(), (1, 0));

    // The bucket's setting turned off (plain SSE-KMS writes): old objects still read, on a
    // server with a cold cache too.
    let (s2, e2) = put(&a, &kms(false), "new", b"z").await;
    assert_eq!(e2.version(), FORMAT_VERSION);
    let cold = Adapter::new(counter.clone());
    assert_eq!(get(&cold, &done, "multi", &body).await, plain);
    assert_eq!(get(&cold, &env, "big", &stored).await, plain);
    assert_eq!(get(&cold, &e2, "new", &s2).await, b"z");
}

#[tokio::test]
async fn copies_follow_the_destination_bucket() {
    let (a, _) = counted(BucketKeyConfig::default());
    let plain = data(S + 1, 9);
    let (stored, env) = put(&a, &kms(true), "src", &plain).await;
    let src = a
        .open(&env, ObjectName::new(NAME.bucket, "src"), None)
        .await
        .unwrap();
    // To a bucket without bucket keys: a plain version-2 envelope bound to the destination.
    let plain_dest = ObjectName::new("plain-bucket", "dst");
    let copied = a.rewrap(&src, &kms(false), plain_dest).await.unwrap();
    assert_eq!(copied.version(), FORMAT_VERSION);
    let o = a.open(&copied, plain_dest, None).await.unwrap();
    assert_eq!(
        o.decrypt_bytes(o.plan(None).unwrap(), &stored).unwrap(),
        plain
    );
    // And back to a bucket-key bucket (another one): version 3 under that bucket's key.
    let o = a.open(&copied, plain_dest, None).await.unwrap();
    let bk_dest = ObjectName::new("bk-bucket", "dst");
    let again = a.rewrap(&o, &kms(true), bk_dest).await.unwrap();
    assert_eq!(again.version(), FORMAT_VERSION_BUCKET_KEY);
    let o = a.open(&again, bk_dest, None).await.unwrap();
    assert_eq!(
        o.decrypt_bytes(o.plan(None).unwrap(), &stored).unwrap(),
        plain
    );
    // SSE-COS and SSE-C ignore the setting.
    let (_, cos) = put(&a, &SseRequest::Cos.with_bucket_key(true), "cos", b"c").await;
    assert_eq!(cos.version(), FORMAT_VERSION);
}
