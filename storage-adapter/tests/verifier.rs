//! The SSE-C key verifier (envelope version 2): salted per envelope, keyed by the server, checked
//! exactly; an adapter without a verifier key refuses SSE-C writes; every write is version 2.

mod common;

use std::sync::Arc;

use common::*;
use storage_adapter::envelope::{FORMAT_VERSION, FORMAT_VERSION_BUCKET_KEY, FORMAT_VERSION_V1};
use storage_adapter::{
    Adapter, CosErrorCode, Envelope, Error, MemoryKms, PartInfo, SseRequest, VerifierKey,
};

/// Offset of an SSE-C envelope's verifier salt and verifier: "CSSE", version, suite, segment
/// size, mode, four absent KMS fields, the presence byte.
const VERIFIER_AT: std::ops::Range<usize> = 13..13 + 64;

fn seal(a: &Adapter, req: &SseRequest, plain: &[u8]) -> (Vec<u8>, Envelope) {
    futures::executor::block_on(async {
        a.begin_put(req, NAME)
            .await
            .expect("PUT begins")
            .seal_bytes(plain)
            .expect("seals")
    })
}

fn open_err(a: &Adapter, env: &Envelope, key: Option<&storage_adapter::CustomerKey>) -> Error {
    futures::executor::block_on(a.open(env, NAME, key)).expect_err("refused")
}

#[test]
fn the_same_key_on_two_objects_stores_unrelated_verifiers() {
    let (a, _) = adapter();
    let req = SseRequest::Customer(customer(0x42));
    let (s1, e1) = seal(&a, &req, b"one");
    let (s2, e2) = seal(&a, &req, b"one");
    let (b1, b2) = (e1.to_bytes(), e2.to_bytes());
    assert_eq!(
        (b1[4], b1[12]),
        (FORMAT_VERSION, 1),
        "version 2, check present"
    );
    assert_ne!(b1[VERIFIER_AT], b2[VERIFIER_AT], "salt and verifier differ");
    assert_ne!(
        b1[VERIFIER_AT.start + 32..VERIFIER_AT.end],
        b2[VERIFIER_AT.start + 32..VERIFIER_AT.end]
    );
    for (stored, env) in [(s1, e1), (s2, e2)] {
        let obj = futures::executor::block_on(a.open(&env, NAME, Some(&customer(0x42)))).unwrap();
        assert_eq!(
            obj.decrypt_bytes(obj.plan(None).unwrap(), &stored).unwrap(),
            b"one"
        );
    }
}

#[test]
fn the_envelope_holds_no_md5_of_the_key() {
    let (a, _) = adapter();
    let key = customer(0x42);
    let (_, env) = seal(&a, &SseRequest::Customer(key.clone()), b"x");
    let bytes = env.to_bytes();
    assert!(!bytes.windows(16).any(|w| w == key.md5()));
    assert!(!env.to_base64().contains(&key.md5_base64()));
    // The echo still carries the request's key MD5, from the request.
    let echo = env.response_headers(Some(&key));
    assert_eq!(echo[1].1, key.md5_base64().as_str());
    assert_eq!(
        env.response_headers(None).len(),
        1,
        "nothing stored to echo"
    );
}

#[test]
fn a_wrong_key_or_a_tampered_verifier_is_a_mismatch() {
    let (a, _) = adapter();
    let (_, env) = seal(&a, &SseRequest::Customer(customer(0x42)), b"x");
    assert!(matches!(
        open_err(&a, &env, Some(&customer(0x43))),
        Error::CustomerKeyMismatch
    ));
    assert!(matches!(
        open_err(&a, &env, None),
        Error::CustomerKeyRequired
    ));
    // Another adapter's verifier key does not recognise the object's key.
    let other = Adapter::new(Arc::new(MemoryKms::new()))
        .with_customer_key_verifier(VerifierKey::random().unwrap());
    assert!(matches!(
        open_err(&other, &env, Some(&customer(0x42))),
        Error::CustomerKeyMismatch
    ));
    for at in [VERIFIER_AT.start, VERIFIER_AT.end - 1] {
        let mut bytes = env.to_bytes();
        bytes[at] ^= 1;
        let forged = Envelope::from_bytes(&bytes).unwrap();
        assert!(matches!(
            open_err(&a, &forged, Some(&customer(0x42))),
            Error::CustomerKeyMismatch
        ));
    }
}

#[test]
fn an_adapter_without_a_verifier_key_refuses_ssec_writes() {
    let kms = MemoryKms::new();
    let bare = Adapter::new(Arc::new(kms.clone()));
    let req = SseRequest::Customer(customer(0x42));
    let e = futures::executor::block_on(bare.begin_put(&req, NAME)).unwrap_err();
    assert!(matches!(e, Error::CustomerKeyVerifierUnset), "{e:?}");
    assert_eq!(e.cos_code(), CosErrorCode::InternalError);
    let e = futures::executor::block_on(bare.initiate_multipart(&req, NAME, "u")).unwrap_err();
    assert!(matches!(e, Error::CustomerKeyVerifierUnset), "{e:?}");
    // A copy to SSE-C is a write too.
    let (_, kms_env) = seal(&bare, &SseRequest::Cos, b"x");
    let src = futures::executor::block_on(bare.open(&kms_env, NAME, None)).unwrap();
    let e = futures::executor::block_on(bare.rewrap(&src, &req, NAME)).unwrap_err();
    assert!(matches!(e, Error::CustomerKeyVerifierUnset), "{e:?}");
    // Nor can it check a key against a version-2 SSE-C object.
    let keyed =
        Adapter::new(Arc::new(kms)).with_customer_key_verifier(VerifierKey::random().unwrap());
    let (_, env) = seal(&keyed, &req, b"x");
    assert!(matches!(
        open_err(&bare, &env, Some(&customer(0x42))),
        Error::CustomerKeyVerifierUnset
    ));
}

#[test]
fn every_write_is_version_2_including_copies_and_multipart() {
    let (a, kms) = adapter();
    // Made once: making them again would replace the named key's material.
    let modes = all_modes(&kms);
    for req in &modes {
        let key = customer_of(req);
        let (_, env) = seal(&a, req, b"x");
        assert_eq!(env.version(), FORMAT_VERSION, "{:?}", req.mode());
        futures::executor::block_on(async {
            let upload = a.initiate_multipart(req, NAME, "up").await.unwrap();
            assert_eq!(upload.version(), FORMAT_VERSION);
            let open = a.open_upload(&upload, NAME, key.as_ref()).await.unwrap();
            let (_, info): (Vec<u8>, PartInfo) = open.part(1).unwrap().seal_bytes(b"p").unwrap();
            let done = a
                .complete_multipart(&upload, NAME, key.as_ref(), vec![info])
                .await
                .unwrap();
            assert_eq!(done.version(), FORMAT_VERSION);
            // Copies to every mode.
            let src = a.open(&env, NAME, key.as_ref()).await.unwrap();
            for dest in &modes {
                let copy = a.rewrap(&src, dest, NAME).await.unwrap();
                assert_eq!(copy.version(), FORMAT_VERSION);
                a.open(&copy, NAME, customer_of(dest).as_ref())
                    .await
                    .unwrap();
            }
        });
    }
}

#[test]
fn the_decoder_refuses_unknown_versions_and_the_wrap_binds_the_version() {
    let (a, _) = adapter();
    let (_, env) = seal(&a, &SseRequest::Cos, b"x");
    let mut bytes = env.to_bytes();
    for version in [0, FORMAT_VERSION_BUCKET_KEY + 1, 0xff] {
        bytes[4] = version;
        assert!(matches!(
            Envelope::from_bytes(&bytes),
            Err(Error::MalformedEnvelope("unsupported format version"))
        ));
    }
    // Version 3 (bucket keys) is SSE-KMS only.
    bytes[4] = FORMAT_VERSION_BUCKET_KEY;
    assert!(matches!(
        Envelope::from_bytes(&bytes),
        Err(Error::MalformedEnvelope("a bucket key serves only SSE-KMS"))
    ));
    // An SSE-COS envelope has the same fields in both versions: relabelled as version 1 it decodes,
    // but the version byte is in the wrap's AAD, so it does not open.
    bytes[4] = FORMAT_VERSION_V1;
    let relabelled = Envelope::from_bytes(&bytes).unwrap();
    assert!(matches!(
        futures::executor::block_on(a.open(&relabelled, NAME, None)),
        Err(Error::Decrypt)
    ));
    // An SSE-C version-2 envelope read as version 1 misparses: refused.
    let (_, env) = seal(&a, &SseRequest::Customer(customer(1)), b"x");
    let mut bytes = env.to_bytes();
    bytes[4] = FORMAT_VERSION_V1;
    assert!(matches!(
        Envelope::from_bytes(&bytes),
        Err(Error::MalformedEnvelope(_))
    ));
}
