//! The key providers' behaviour suite: what every [`KeyProvider`](crate::KeyProvider) must do for
//! the adapter, written once and run against each provider (in-memory and embedded here, gRPC in
//! the workspace's `tests` crate).
//!
//! A provider's tests implement [`ProviderFixture`] (the provider plus the KMS administration the
//! checks need) and expand [`provider_suite!`](crate::provider_suite), which makes one
//! `#[tokio::test]` per check. Feature `test-suite`, enabled only from dev-dependencies: the suite
//! panics on failure, as tests do, and is no part of a release build.
//!
//! The checks: every mode round-trips at every size and records the right key; the echoed
//! headers; an envelope moved to another name opens nothing; KMS refusals (unknown key, disabled
//! key, wrong context, unreachable KMS) carry their COS codes; rotation keeps old objects readable;
//! copies re-wrap between any two modes and keys without touching the body; multipart in every mode.

use bytes::Bytes;
use futures::StreamExt as _;
/// The futures [`ProviderFixture`] returns (re-exported so fixtures need no `futures` dependency).
pub use futures::future::BoxFuture;

use crate::object::bytes_stream;
use crate::stream::SEGMENT_SIZE;
use crate::{
    Adapter, CustomerKey, Envelope, Error, KmsContext, Layout, ObjectName, OpenedObject, SseMode,
    SseRequest,
};

mod fixtures;
#[cfg(feature = "embedded")]
pub use fixtures::EmbeddedFixture;
pub use fixtures::MemoryFixture;

/// A key made for a check: how a request names it, and the id envelopes record.
#[derive(Clone, Debug)]
pub struct NamedKey {
    /// What `x-cos-server-side-encryption-cos-kms-key-id` says (an alias where the KMS has them).
    pub reference: String,
    /// The key id the KMS resolves it to.
    pub key_id: String,
}

/// A provider under test and the KMS administration the checks need.
pub trait ProviderFixture: Send + Sync {
    /// An adapter over the provider.
    fn adapter(&self) -> &Adapter;
    /// The key id SSE-COS envelopes record (the service key).
    fn service_key_id(&self) -> BoxFuture<'_, String>;
    /// The key id SSE-KMS envelopes record when the request names no key (the default CMK).
    fn default_key_id(&self) -> BoxFuture<'_, String>;
    /// Creates an enabled key; `name` is unique within one fixture.
    fn create_key<'a>(&'a self, name: &'a str) -> BoxFuture<'a, NamedKey>;
    /// Enables or disables a key.
    fn set_enabled<'a>(&'a self, key: &'a NamedKey, enabled: bool) -> BoxFuture<'a, ()>;
    /// Rotates a key; `false` when the provider has no rotation (the check is skipped).
    fn rotate_key<'a>(&'a self, key: &'a NamedKey) -> BoxFuture<'a, bool>;
    /// Takes the KMS away; `false` when the provider cannot lose it (the check is skipped).
    fn make_unreachable(&mut self) -> BoxFuture<'_, bool>;
}

/// One `#[tokio::test]` per check of the suite, each on a fresh fixture from `$make` (an expression
/// of a future of a [`ProviderFixture`]).
#[macro_export]
macro_rules! provider_suite {
    ($make:expr) => {
        $crate::provider_suite!(@tests $make;
            every_mode_round_trips_at_every_size,
            keys_are_recorded_and_echoed,
            kms_refusals_map_to_cos_codes,
            unreachable_kms_is_kms_internal_exception,
            rotation_keeps_old_objects_readable,
            copies_rewrap_between_any_modes,
            multipart_round_trips_in_every_mode,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                #[allow(unused_mut)]
                let mut fixture = $make.await;
                $crate::suite::$check(&mut fixture).await;
            }
        )*
    };
}

const S: usize = SEGMENT_SIZE;
/// The object most checks write.
const NAME: ObjectName<'static> = ObjectName {
    bucket: "photos-1250000000",
    key: "2026/cat.jpg",
};
/// Another name in the same bucket.
const OTHER_NAME: ObjectName<'static> = ObjectName {
    bucket: "photos-1250000000",
    key: "2026/dog.jpg",
};
/// `{"a":"asdfa","b":"123321"}`, the COS documentation's example context.
const CONTEXT: &str = "eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=";
/// The echo of the key id on SSE-KMS responses.
const KMS_KEY_ID_HEADER: &str = "x-cos-server-side-encryption-cos-kms-key-id";

/// The customer key of 32 bytes `byte` (SSE-C in tests).
pub fn customer(byte: u8) -> CustomerKey {
    CustomerKey::from_bytes(&[byte; 32]).expect("32 bytes are a customer key")
}

/// Deterministic test data (xorshift), different per `seed`.
pub fn data(n: usize, seed: u8) -> Vec<u8> {
    let mut x = u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One request per mode, and the key id its envelopes record.
struct Mode {
    request: SseRequest,
    key_id: Option<String>,
}

impl Mode {
    fn customer(&self) -> Option<CustomerKey> {
        match &self.request {
            SseRequest::Customer(k) => Some(k.clone()),
            _ => None,
        }
    }
}

/// SSE-COS, SSE-KMS with the default CMK, SSE-KMS with a named key and a context, SSE-C.
async fn every_mode<F: ProviderFixture>(f: &F, named: &str) -> Vec<Mode> {
    let named = f.create_key(named).await;
    vec![
        Mode {
            request: SseRequest::Cos,
            key_id: Some(f.service_key_id().await),
        },
        Mode {
            request: SseRequest::Kms {
                key_id: None,
                context: None,
                bucket_key: false,
            },
            key_id: Some(f.default_key_id().await),
        },
        Mode {
            request: SseRequest::Kms {
                key_id: Some(named.reference),
                context: Some(KmsContext::from_base64(CONTEXT).expect("the example is valid")),
                bucket_key: false,
            },
            key_id: Some(named.key_id),
        },
        Mode {
            request: SseRequest::Customer(customer(0x42)),
            key_id: None,
        },
    ]
}

fn kms_request(key: &NamedKey) -> SseRequest {
    SseRequest::Kms {
        key_id: Some(key.reference.clone()),
        context: None,
        bucket_key: false,
    }
}

/// PUT through the streaming API with `chunk`-sized input chunks.
pub async fn put_stream(
    a: &Adapter,
    request: &SseRequest,
    name: ObjectName<'_>,
    plain: &[u8],
    chunk: usize,
) -> (Vec<u8>, Envelope) {
    let sealer = a.begin_put(request, name).await.expect("PUT begins");
    let mut s = sealer.encrypt_stream(bytes_stream(Bytes::copy_from_slice(plain), chunk));
    let mut stored = Vec::new();
    while let Some(item) = s.next().await {
        stored.extend_from_slice(&item.expect("the body seals"));
    }
    (stored, s.finish().expect("the body ended"))
}

/// PUT of an in-memory body.
async fn put(a: &Adapter, request: &SseRequest, plain: &[u8]) -> (Vec<u8>, Envelope) {
    a.begin_put(request, NAME)
        .await
        .expect("PUT begins")
        .seal_bytes(plain)
        .expect("the body seals")
}

/// GET through the streaming API; the error if any item fails.
pub async fn get_stream(
    obj: &OpenedObject,
    range: Option<std::ops::Range<u64>>,
    stored: &[u8],
    chunk: usize,
) -> crate::Result<Vec<u8>> {
    let plan = obj.plan(range)?;
    let r = plan.stored_range();
    let input = bytes_stream(
        Bytes::copy_from_slice(&stored[r.start as usize..r.end as usize]),
        chunk,
    );
    let mut s = obj.decrypt_stream(plan, input);
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        out.extend_from_slice(&item?);
    }
    Ok(out)
}

/// GET of a whole in-memory body.
fn get(obj: &OpenedObject, stored: &[u8]) -> crate::Result<Vec<u8>> {
    obj.decrypt_bytes(obj.plan(None)?, stored)
}

#[track_caller]
fn assert_code(e: &Error, code: &str, status: u16) {
    assert_eq!(
        (e.cos_code().as_str(), e.http_status().as_u16()),
        (code, status),
        "{e:?}"
    );
}

/// Every mode at sizes around the segment boundaries: the stored size, the recorded key, the
/// envelope's encodings, streaming and in-memory reads; moved to another name it opens nothing.
pub async fn every_mode_round_trips_at_every_size<F: ProviderFixture>(f: &mut F) {
    let modes = every_mode(f, "round-trip").await;
    let a = f.adapter();
    let sizes = [
        0,
        1,
        S - 1,
        S,
        S + 1,
        2 * S + 17,
        3 * S + 7,
        3 * 1024 * 1024 + 123,
    ];
    for mode in &modes {
        let ssec = mode.customer();
        for (i, &n) in sizes.iter().enumerate() {
            let plain = data(n, i as u8);
            // Odd input chunking exercises segment assembly.
            let (stored, env) = put_stream(a, &mode.request, NAME, &plain, 7_777).await;
            let what = format!("{:?} {n}", mode.request.mode());
            assert_eq!(stored.len() as u64, env.stored_size(), "{what}");
            assert_eq!(env.plain_size(), n as u64, "{what}");
            assert_eq!(env.kms_key_id(), mode.key_id.as_deref(), "{what}");
            // The envelope survives its encodings.
            let env = Envelope::from_base64(&env.to_base64()).expect("the envelope decodes");
            let obj = a.open(&env, NAME, ssec.as_ref()).await.expect("opens");
            let got = get_stream(&obj, None, &stored, 10_000)
                .await
                .expect("reads");
            assert_eq!(got, plain, "{what}");
            assert_eq!(get(&obj, &stored).expect("reads"), plain, "{what}");
            // Moved to another name, the envelope opens nothing: the KMS refuses the other
            // identity, an SSE-C wrap does not open.
            let e = a
                .open(&env, OTHER_NAME, ssec.as_ref())
                .await
                .expect_err("refused");
            if ssec.is_some() {
                assert!(matches!(e, Error::Decrypt), "{what}: {e:?}");
            } else {
                assert_code(&e, "KmsException", 400);
            }
        }
        // The in-memory PUT path records the same.
        let (stored, env) = put(a, &mode.request, b"in memory").await;
        assert_eq!(env.kms_key_id(), mode.key_id.as_deref());
        let obj = a.open(&env, NAME, ssec.as_ref()).await.expect("opens");
        assert_eq!(get(&obj, &stored).expect("reads"), b"in memory");
    }
}

/// The response headers per mode: SSE-COS names no key, SSE-KMS echoes the resolved key id (the
/// default CMK's when the request named none) before the body is read, SSE-C the key's MD5.
pub async fn keys_are_recorded_and_echoed<F: ProviderFixture>(f: &mut F) {
    let modes = every_mode(f, "echo").await;
    let a = f.adapter();
    for mode in &modes {
        let sealer = a.begin_put(&mode.request, NAME).await.expect("PUT begins");
        let early = sealer.response_headers();
        let (_, env) = sealer.seal_bytes(b"x").expect("the body seals");
        let headers = env.response_headers(mode.request.customer_key());
        assert_eq!(early, headers, "the echo is known before the body");
        match mode.request.mode() {
            SseMode::Cos => {
                assert_eq!(headers.len(), 1, "SSE-COS does not echo the service key");
                assert_eq!(headers[0].0, "x-cos-server-side-encryption");
                assert_eq!(headers[0].1, "AES256");
            }
            SseMode::Kms => {
                assert_eq!(headers.len(), 2);
                assert_eq!(headers[0].0, "x-cos-server-side-encryption");
                assert_eq!(headers[0].1, "cos/kms");
                assert_eq!(headers[1].0, KMS_KEY_ID_HEADER);
                let id = mode.key_id.as_deref().expect("SSE-KMS records a key");
                assert_eq!(headers[1].1, id, "the resolved key id is echoed");
                assert_eq!(env.kms_key_version(), Some(1));
            }
            SseMode::Customer => {
                assert_eq!(headers.len(), 2);
                assert_eq!(
                    headers[0].0,
                    "x-cos-server-side-encryption-customer-algorithm"
                );
                assert_eq!(headers[0].1, "AES256");
                assert_eq!(
                    headers[1].0,
                    "x-cos-server-side-encryption-customer-key-MD5"
                );
                assert_eq!(headers[1].1, customer(0x42).md5_base64().as_str());
            }
        }
        let context = match &mode.request {
            SseRequest::Kms { context, .. } => context.as_ref().map(|_| CONTEXT),
            _ => None,
        };
        assert_eq!(env.context(), context, "the user context is kept as given");
        assert_eq!(env.mode(), mode.request.mode());
    }
}

/// Unknown and disabled keys, on write and on read; a re-enabled key opens again; a damaged body
/// is the opaque decrypt error.
pub async fn kms_refusals_map_to_cos_codes<F: ProviderFixture>(f: &mut F) {
    let a = f.adapter();
    let unknown = NamedKey {
        reference: "alias/no-such-key".into(),
        key_id: String::new(),
    };
    let e = a
        .begin_put(&kms_request(&unknown), NAME)
        .await
        .expect_err("refused");
    assert_code(&e, "KmsKeyNotExist", 400);

    let key = f.create_key("soon-disabled").await;
    let (stored, env) = put(a, &kms_request(&key), b"secret body").await;
    f.set_enabled(&key, false).await;
    let e = a
        .begin_put(&kms_request(&key), NAME)
        .await
        .expect_err("refused");
    assert_code(&e, "KmsKeyDisabled", 400);
    let e = a.open(&env, NAME, None).await.expect_err("refused");
    assert_code(&e, "KmsKeyDisabled", 400);

    f.set_enabled(&key, true).await;
    let obj = a.open(&env, NAME, None).await.expect("opens again");
    assert_eq!(get(&obj, &stored).expect("reads"), b"secret body");
    let mut bad = stored.clone();
    bad[3] ^= 0x80;
    let e = get(&obj, &bad).expect_err("refused");
    assert!(matches!(e, Error::Decrypt), "{e:?}");
    assert_code(&e, "InternalError", 500);
}

/// A KMS that is gone is `KmsInternalException` (500), not a client error.
pub async fn unreachable_kms_is_kms_internal_exception<F: ProviderFixture>(f: &mut F) {
    let key = f.create_key("before-the-outage").await;
    if !f.make_unreachable().await {
        return;
    }
    let e = f
        .adapter()
        .begin_put(&kms_request(&key), NAME)
        .await
        .expect_err("refused");
    assert_code(&e, "KmsInternalException", 500);
}

/// After a rotation, objects written under the old version still open.
pub async fn rotation_keeps_old_objects_readable<F: ProviderFixture>(f: &mut F) {
    let key = f.create_key("rotating").await;
    let plain = data(S + 9, 4);
    let (stored, env) = put(f.adapter(), &kms_request(&key), &plain).await;
    if !f.rotate_key(&key).await {
        return;
    }
    let obj = f.adapter().open(&env, NAME, None).await.expect("opens");
    assert_eq!(get(&obj, &stored).expect("reads"), plain);
}

/// A copy from any mode to any mode (and from one KMS key to another) re-wraps the object key
/// for the destination: the very stored bytes open under the new envelope at the new name, and
/// the new envelope does not open at the old name.
pub async fn copies_rewrap_between_any_modes<F: ProviderFixture>(f: &mut F) {
    let mut modes = every_mode(f, "copy").await;
    let other = f.create_key("copy-other").await;
    modes.push(Mode {
        request: kms_request(&other),
        key_id: Some(other.key_id),
    });
    let a = f.adapter();
    let plain = data(2 * S + 3, 8);
    let dest = ObjectName::new("other-bucket", "copied/key");
    for src in &modes {
        let (stored, env) = put(a, &src.request, &plain).await;
        let source = a
            .open(&env, NAME, src.customer().as_ref())
            .await
            .expect("the source opens");
        for dst in &modes {
            let what = format!("{:?} -> {:?}", src.request, dst.request);
            let new_env = a
                .rewrap(&source, &dst.request, dest)
                .await
                .expect("re-wraps");
            assert_eq!(new_env.mode(), dst.request.mode(), "{what}");
            assert_eq!(new_env.kms_key_id(), dst.key_id.as_deref(), "{what}");
            let obj = a
                .open(&new_env, dest, dst.customer().as_ref())
                .await
                .expect("the copy opens");
            let got = get_stream(&obj, None, &stored, 4096).await.expect("reads");
            assert_eq!(got, plain, "{what}");
            assert!(
                a.open(&new_env, NAME, dst.customer().as_ref())
                    .await
                    .is_err(),
                "{what}"
            );
        }
    }
}

/// Multipart in every mode, with an empty last part; a range across a part boundary.
pub async fn multipart_round_trips_in_every_mode<F: ProviderFixture>(f: &mut F) {
    let modes = every_mode(f, "multipart").await;
    let a = f.adapter();
    for mode in &modes {
        let ssec = mode.customer();
        let upload = a
            .initiate_multipart(&mode.request, NAME, "upload-1")
            .await
            .expect("initiates");
        let up = a
            .open_upload(&upload, NAME, ssec.as_ref())
            .await
            .expect("the upload opens");
        let (mut stored, mut plain, mut parts) = (Vec::new(), Vec::new(), Vec::new());
        for (i, n) in [2 * S + 5, S, 0].into_iter().enumerate() {
            let p = data(n, 50 + i as u8);
            let (s, info) = up
                .part(i as u32 + 1)
                .expect("a valid part number")
                .seal_bytes(&p)
                .expect("the part seals");
            stored.extend_from_slice(&s);
            plain.extend_from_slice(&p);
            parts.push(info);
        }
        let env = a
            .complete_multipart(&upload, NAME, ssec.as_ref(), parts)
            .await
            .expect("completes");
        assert!(matches!(env.layout(), Layout::Multipart { parts, .. } if parts.len() == 3));
        assert_eq!(env.kms_key_id(), mode.key_id.as_deref());
        let obj = a.open(&env, NAME, ssec.as_ref()).await.expect("opens");
        assert_eq!(
            get_stream(&obj, None, &stored, 4096).await.expect("reads"),
            plain
        );
        let r = (2 * S as u64)..(2 * S as u64 + 100);
        let got = get_stream(&obj, Some(r.clone()), &stored, 1000)
            .await
            .expect("reads the range");
        assert_eq!(got, plain[r.start as usize..r.end as usize]);
    }
}
