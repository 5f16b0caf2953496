//! The storage adapter with its key provider across a real gRPC hop: `GrpcKms` -> `kms-client` ->
//! `kms-server` on 127.0.0.1:0. The same behaviours as the embedded provider, plus the mapping of KMS
//! refusals to COS error codes.

use std::sync::Arc;

use kms_client::KmsClient;
use storage_adapter::provider::grpc::GrpcKms;
use storage_adapter::{Adapter, CustomerKey, KmsContext, ObjectName, SseMode, SseRequest};
use tests::{TestKms, pb};

const NAME: ObjectName<'static> = ObjectName {
    bucket: "photos-1250000000",
    key: "2026/cat.jpg",
};
const SEGMENT: usize = storage_adapter::stream::SEGMENT_SIZE;

async fn adapter(kms: &TestKms) -> Adapter {
    let client = KmsClient::connect(format!("http://{}", kms.addr))
        .await
        .unwrap();
    Adapter::new(Arc::new(GrpcKms::with_service_key_alias(client)))
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn context() -> KmsContext {
    // {"a":"asdfa","b":"123321"}, the COS documentation's example.
    KmsContext::from_base64("eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_round_trips_through_a_remote_kms() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let named = kms.create_key("photos").await;
    let default = kms
        .client
        .get_default_key(pb::GetDefaultKeyRequest {})
        .await
        .unwrap()
        .into_inner()
        .key_metadata
        .unwrap()
        .key_id;
    let sse_cos_key = kms.describe("alias/kms-cos-sse").await.key_id;
    let a = adapter(&kms).await;
    let customer = CustomerKey::from_bytes(&[0x42; 32]).unwrap();
    let cases = [
        (SseRequest::Cos, Some(sse_cos_key.as_str())),
        (
            SseRequest::Kms {
                key_id: None,
                context: None,
            },
            Some(default.as_str()),
        ),
        (
            SseRequest::Kms {
                key_id: Some("alias/photos".into()),
                context: Some(context()),
            },
            Some(named.as_str()),
        ),
        (SseRequest::Customer(customer.clone()), None),
    ];
    for (request, key_id) in &cases {
        for n in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 7] {
            let plain = body(n);
            let (stored, env) = a
                .begin_put(request, NAME)
                .await
                .unwrap()
                .seal_bytes(&plain)
                .unwrap();
            assert_eq!(env.kms_key_id(), *key_id);
            let ssec = matches!(request, SseRequest::Customer(_)).then_some(&customer);
            let obj = a.open(&env, NAME, ssec).await.unwrap();
            let plan = obj.plan(None).unwrap();
            assert_eq!(obj.decrypt_bytes(plan, &stored).unwrap(), plain);
            // Moved to another name, the envelope opens nothing.
            let other = ObjectName::new("photos-1250000000", "2026/dog.jpg");
            assert!(a.open(&env, other, ssec).await.is_err());
        }
    }
    // The echo names the default CMK when the request named none.
    let sealer = a
        .begin_put(
            &SseRequest::Kms {
                key_id: None,
                context: None,
            },
            NAME,
        )
        .await
        .unwrap();
    let echo = sealer.response_headers();
    let id = echo
        .iter()
        .find(|(n, _)| *n == "x-cos-server-side-encryption-cos-kms-key-id")
        .map(|(_, v)| v.to_str().unwrap().to_owned());
    assert_eq!(id.as_deref(), Some(default.as_str()));
    let (_, env) = sealer.seal_bytes(b"x").unwrap();
    assert_eq!(env.mode(), SseMode::Kms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_refusals_become_cos_errors() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("tenant").await;
    let a = adapter(&kms).await;
    let named = SseRequest::Kms {
        key_id: Some(id.clone()),
        context: None,
    };
    let (stored, env) = a
        .begin_put(&named, NAME)
        .await
        .unwrap()
        .seal_bytes(b"secret body")
        .unwrap();

    // Unknown key: KmsKeyNotExist, 400.
    let unknown = SseRequest::Kms {
        key_id: Some("alias/nobody".into()),
        context: None,
    };
    let e = a.begin_put(&unknown, NAME).await.unwrap_err();
    assert_eq!(
        (e.cos_code().as_str(), e.http_status().as_u16()),
        ("KmsKeyNotExist", 400)
    );

    // Disabled key: KmsKeyDisabled, 400, on write and on read.
    kms.client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    let e = a.begin_put(&named, NAME).await.unwrap_err();
    assert_eq!(
        (e.cos_code().as_str(), e.http_status().as_u16()),
        ("KmsKeyDisabled", 400)
    );
    let e = a.open(&env, NAME, None).await.unwrap_err();
    assert_eq!(
        (e.cos_code().as_str(), e.http_status().as_u16()),
        ("KmsKeyDisabled", 400)
    );

    // Enabled again, the object opens; a flipped byte in its body does not.
    kms.client
        .enable_key(pb::EnableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    let obj = a.open(&env, NAME, None).await.unwrap();
    let plan = obj.plan(None).unwrap();
    assert_eq!(obj.decrypt_bytes(plan, &stored).unwrap(), b"secret body");
    let mut bad = stored.clone();
    bad[3] ^= 0x80;
    let plan = obj.plan(None).unwrap();
    assert!(matches!(
        obj.decrypt_bytes(plan, &bad),
        Err(storage_adapter::Error::Decrypt)
    ));

    // A server that is gone: KmsInternalException, 500.
    kms.stop().await;
    let e = a.begin_put(&named, NAME).await.unwrap_err();
    assert_eq!(
        (e.cos_code().as_str(), e.http_status().as_u16()),
        ("KmsInternalException", 500)
    );
}
