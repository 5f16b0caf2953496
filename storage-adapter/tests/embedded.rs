//! The same behaviours against the embedded `kms-server` core (SQLite in a temp dir).

mod common;

use std::sync::Arc;

use common::*;
use storage_adapter::{Adapter, EmbeddedKms, KmsContext, ObjectName, SseMode, SseRequest};

fn embedded() -> (Adapter, EmbeddedKms, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let root =
        kms_server::RootKey::from_base64("MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=").unwrap();
    let kms = EmbeddedKms::open(dir.path(), root).unwrap();
    (Adapter::new(Arc::new(kms.clone())), kms, dir)
}

fn modes(kms: &EmbeddedKms) -> Vec<SseRequest> {
    kms.kms().create_key("photos", "", "").unwrap();
    vec![
        SseRequest::Cos,
        SseRequest::Kms {
            key_id: None,
            context: None,
        },
        SseRequest::Kms {
            key_id: Some("alias/photos".into()),
            context: Some(KmsContext::from_base64("eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=").unwrap()),
        },
        SseRequest::Customer(customer(0x42)),
    ]
}

#[tokio::test]
async fn round_trip_every_mode_with_the_embedded_kms() {
    let (a, kms, _dir) = embedded();
    for req in modes(&kms) {
        for &n in &[0, 1, S - 1, S, S + 1, 2 * 1024 * 1024 + 3] {
            let plain = data(n, 1);
            let (stored, env) = put_stream(&a, &req, NAME, &plain, 50_000).await;
            let obj = a
                .open(&env, NAME, customer_of(&req).as_ref())
                .await
                .unwrap();
            assert_eq!(
                get_stream(&obj, None, &stored, 65_000).await.unwrap(),
                plain
            );
        }
    }
}

#[tokio::test]
async fn keys_used_per_mode_and_echoed() {
    let (a, kms, _dir) = embedded();
    let reqs = modes(&kms);
    let (_, cos) = a
        .begin_put(&reqs[0], NAME)
        .await
        .unwrap()
        .seal_bytes(b"x")
        .unwrap();
    assert_eq!(
        cos.kms_key_id(),
        Some(kms.kms().sse_cos_key_id().to_string().as_str())
    );
    assert_eq!(
        cos.response_headers().len(),
        1,
        "SSE-COS does not echo the service key"
    );
    let (_, def) = a
        .begin_put(&reqs[1], NAME)
        .await
        .unwrap()
        .seal_bytes(b"x")
        .unwrap();
    let default_id = kms.kms().default_key_id().to_string();
    assert_eq!(
        def.response_headers()[1].1,
        default_id.as_str(),
        "default CMK id echoed"
    );
    let (_, named) = a
        .begin_put(&reqs[2], NAME)
        .await
        .unwrap()
        .seal_bytes(b"x")
        .unwrap();
    let photos = kms
        .kms()
        .describe_key("alias/photos")
        .unwrap()
        .key_id
        .to_string();
    assert_eq!(
        named.kms_key_id(),
        Some(photos.as_str()),
        "the alias resolves to the key id"
    );
    assert_eq!(named.kms_key_version(), Some(1));
}

#[tokio::test]
async fn kms_errors_map_to_cos_codes() {
    let (a, kms, _dir) = embedded();
    let missing = SseRequest::Kms {
        key_id: Some("alias/nope".into()),
        context: None,
    };
    let e = a.begin_put(&missing, NAME).await.unwrap_err();
    assert_eq!(e.cos_code().as_str(), "KmsKeyNotExist");
    assert_eq!(e.http_status(), 400);

    let meta = kms.kms().create_key("soon-disabled", "", "").unwrap();
    let req = SseRequest::Kms {
        key_id: Some(meta.key_id.to_string()),
        context: None,
    };
    let (stored, env) = a
        .begin_put(&req, NAME)
        .await
        .unwrap()
        .seal_bytes(b"abc")
        .unwrap();
    kms.kms().disable_key(&meta.key_id.to_string()).unwrap();
    let e = a.begin_put(&req, NAME).await.unwrap_err();
    assert_eq!(e.cos_code().as_str(), "KmsKeyDisabled");
    let e = a.open(&env, NAME, None).await.unwrap_err();
    assert_eq!(e.cos_code().as_str(), "KmsKeyDisabled");
    kms.kms().enable_key(&meta.key_id.to_string()).unwrap();
    let obj = a.open(&env, NAME, None).await.unwrap();
    assert_eq!(
        obj.decrypt_bytes(obj.plan(None).unwrap(), &stored).unwrap(),
        b"abc"
    );

    // The envelope at another name asks the KMS with another identity: refused.
    let e = a
        .open(&env, ObjectName::new("b2", "k"), None)
        .await
        .unwrap_err();
    assert_eq!(e.cos_code().as_str(), "KmsException");
}

#[tokio::test]
async fn kms_key_change_and_rotation_rewrap_only() {
    let (a, kms, _dir) = embedded();
    let k1 = kms
        .kms()
        .create_key("k1", "", "")
        .unwrap()
        .key_id
        .to_string();
    let k2 = kms
        .kms()
        .create_key("k2", "", "")
        .unwrap()
        .key_id
        .to_string();
    let plain = data(S + 9, 4);
    let req1 = SseRequest::Kms {
        key_id: Some(k1.clone()),
        context: None,
    };
    let (stored, env) = a
        .begin_put(&req1, NAME)
        .await
        .unwrap()
        .seal_bytes(&plain)
        .unwrap();
    // CMK rotation: old data keys still open.
    kms.kms().rotate_key(&k1).unwrap();
    let obj = a.open(&env, NAME, None).await.unwrap();
    // Key A -> B: re-wrap; the body is untouched.
    let req2 = SseRequest::Kms {
        key_id: Some(k2.clone()),
        context: None,
    };
    let moved = a.rewrap(&obj, &req2, NAME).await.unwrap();
    assert_eq!(moved.kms_key_id(), Some(k2.as_str()));
    let obj2 = a.open(&moved, NAME, None).await.unwrap();
    assert_eq!(
        obj2.decrypt_bytes(obj2.plan(None).unwrap(), &stored)
            .unwrap(),
        plain
    );
    // And to SSE-C and back.
    let c = a
        .rewrap(&obj2, &SseRequest::Customer(customer(7)), NAME)
        .await
        .unwrap();
    assert_eq!(c.mode(), SseMode::Customer);
    let obj3 = a.open(&c, NAME, Some(&customer(7))).await.unwrap();
    assert_eq!(
        obj3.decrypt_bytes(obj3.plan(None).unwrap(), &stored)
            .unwrap(),
        plain
    );
}

#[tokio::test]
async fn multipart_with_the_embedded_kms() {
    let (a, _kms, _dir) = embedded();
    let req = SseRequest::Kms {
        key_id: None,
        context: None,
    };
    let upload = a.initiate_multipart(&req, NAME, "up-1").await.unwrap();
    let up = a.open_upload(&upload, NAME, None).await.unwrap();
    let p1 = data(S + 1, 1);
    let p2 = data(77, 2);
    let (s1, i1) = up.part(1).unwrap().seal_bytes(&p1).unwrap();
    let (s2, i2) = up.part(2).unwrap().seal_bytes(&p2).unwrap();
    let env = a
        .complete_multipart(&upload, NAME, None, vec![i1, i2])
        .await
        .unwrap();
    let stored = [s1, s2].concat();
    let obj = a.open(&env, NAME, None).await.unwrap();
    assert_eq!(
        get_stream(&obj, None, &stored, 1000).await.unwrap(),
        [p1, p2].concat()
    );
}
