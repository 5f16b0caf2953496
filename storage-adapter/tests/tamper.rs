//! Tamper suite: every manipulation fails, and no plaintext of a forged segment is ever released.

mod common;

use common::*;
use storage_adapter::{Envelope, Error, KmsContext, ObjectName, SseRequest};

const E: usize = S + 16;

/// Decrypts `stored` fully, streaming; returns what was yielded before the error (must be a prefix of
/// authentic segments) and whether it failed.
async fn read_all(
    a: &storage_adapter::Adapter,
    env: &Envelope,
    name: ObjectName<'_>,
    req: &SseRequest,
    stored: &[u8],
) -> (Vec<u8>, bool) {
    let obj = match a.open(env, name, customer_of(req).as_ref()).await {
        Ok(o) => o,
        Err(_) => return (Vec::new(), true),
    };
    let plan = match obj.plan(None) {
        Ok(p) => p,
        Err(_) => return (Vec::new(), true),
    };
    // The sync API releases nothing unless everything verifies.
    if obj.decrypt_bytes(plan.clone(), stored).is_ok() {
        return (Vec::new(), false);
    }
    let input =
        storage_adapter::object::bytes_stream(bytes::Bytes::copy_from_slice(stored), 10_000);
    let mut s = obj.decrypt_stream(plan, input);
    let mut out = Vec::new();
    use futures::StreamExt as _;
    while let Some(item) = s.next().await {
        match item {
            Ok(b) => out.extend_from_slice(&b),
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

async fn object(
    req: &SseRequest,
    n: usize,
) -> (storage_adapter::Adapter, Vec<u8>, Envelope, Vec<u8>) {
    let (a, kms) = adapter();
    kms.create_key("named-key");
    let plain = data(n, 7);
    let (stored, env) = a
        .begin_put(req, NAME)
        .await
        .unwrap()
        .seal_bytes(&plain)
        .unwrap();
    (a, stored, env, plain)
}

fn modes() -> Vec<SseRequest> {
    let (_, kms) = adapter();
    all_modes(&kms)
}

#[tokio::test]
async fn flipped_byte_in_any_segment_fails_at_that_segment() {
    for req in modes() {
        let (a, stored, env, plain) = object(&req, 3 * S + 100).await;
        for seg in 0..4 {
            for offset in [0, 1000, E - 17, E - 1] {
                let pos = seg * E + offset;
                if pos >= stored.len() {
                    continue;
                }
                let mut t = stored.clone();
                t[pos] ^= 0x01;
                let (out, failed) = read_all(&a, &env, NAME, &req, &t).await;
                assert!(failed, "seg {seg} offset {offset}");
                assert_eq!(out.len(), seg * S, "only the authentic segments before it");
                assert_eq!(out, plain[..out.len()]);
            }
        }
    }
}

#[tokio::test]
async fn dropped_final_segment_appended_bytes_and_swapped_segments_fail() {
    for req in modes() {
        let (a, stored, env, _) = object(&req, 3 * S + 100).await;
        // Drop the final segment.
        assert!(read_all(&a, &env, NAME, &req, &stored[..3 * E]).await.1);
        // Drop everything after a full segment boundary and also fix up nothing else.
        assert!(read_all(&a, &env, NAME, &req, &stored[..E]).await.1);
        // Truncate inside the final segment.
        assert!(
            read_all(&a, &env, NAME, &req, &stored[..stored.len() - 1])
                .await
                .1
        );
        // Append bytes.
        let mut t = stored.clone();
        t.extend_from_slice(&[0; 16]);
        assert!(read_all(&a, &env, NAME, &req, &t).await.1);
        // Swap segments 0 and 1: nothing is released.
        let mut t = stored.clone();
        let (x, y) = t.split_at_mut(E);
        x.swap_with_slice(&mut y[..E]);
        let (out, failed) = read_all(&a, &env, NAME, &req, &t).await;
        assert!(failed && out.is_empty());
        // Repeat segment 0 in place of 1.
        let mut t = stored.clone();
        let first = t[..E].to_vec();
        t[E..2 * E].copy_from_slice(&first);
        assert!(read_all(&a, &env, NAME, &req, &t).await.1);
    }
}

#[tokio::test]
async fn swapped_bodies_under_the_same_ssec_key_fail() {
    let req = SseRequest::Customer(customer(9));
    let (a, _) = adapter();
    let (body_a, env_a) = a
        .begin_put(&req, NAME)
        .await
        .unwrap()
        .seal_bytes(&data(S + 5, 1))
        .unwrap();
    let (body_b, env_b) = a
        .begin_put(&req, NAME)
        .await
        .unwrap()
        .seal_bytes(&data(S + 5, 2))
        .unwrap();
    assert_eq!(body_a.len(), body_b.len());
    let (out, failed) = read_all(&a, &env_a, NAME, &req, &body_b).await;
    assert!(failed && out.is_empty());
    let (out, failed) = read_all(&a, &env_b, NAME, &req, &body_a).await;
    assert!(failed && out.is_empty());
}

#[tokio::test]
async fn envelope_moved_to_another_bucket_or_key_fails() {
    for req in modes() {
        let (a, stored, env, _) = object(&req, 100).await;
        for name in [
            ObjectName::new("bucket-1250000001", NAME.key),
            ObjectName::new(NAME.bucket, "dir/object.bin2"),
            // lp() encoding: moving a '/' between bucket and key changes the name.
            ObjectName::new("bucket-1250000000/dir", "object.bin"),
        ] {
            let e = a
                .open(&env, name, customer_of(&req).as_ref())
                .await
                .unwrap_err();
            assert!(matches!(e, Error::Decrypt | Error::Kms(_)), "{e:?}");
            assert!(read_all(&a, &env, name, &req, &stored).await.1);
        }
    }
}

#[tokio::test]
async fn every_envelope_byte_is_authenticated() {
    for req in modes() {
        let (a, stored, env, _) = object(&req, S + 3).await;
        let bytes = env.to_bytes();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = bytes.clone();
                t[i] ^= bit;
                let Ok(edited) = Envelope::from_bytes(&t) else {
                    continue;
                };
                let (out, failed) = read_all(&a, &edited, NAME, &req, &stored).await;
                assert!(
                    failed,
                    "{:?}: byte {i} bit {bit:#x} was not authenticated",
                    req.mode()
                );
                assert!(out.is_empty(), "no plaintext under an edited envelope");
            }
        }
    }
}

#[tokio::test]
async fn every_multipart_envelope_byte_is_authenticated() {
    let (a, kms) = adapter();
    for req in all_modes(&kms) {
        let ck = customer_of(&req);
        let upload = a.initiate_multipart(&req, NAME, "upload-x").await.unwrap();
        let up = a.open_upload(&upload, NAME, ck.as_ref()).await.unwrap();
        let (s1, p1) = up.part(1).unwrap().seal_bytes(&data(S + 1, 1)).unwrap();
        let (s2, p2) = up.part(2).unwrap().seal_bytes(&data(5, 2)).unwrap();
        let stored = [s1, s2].concat();
        // SSE-C completed without the key as the SDKs do; the rest with it.
        let env = a
            .complete_multipart(&upload, NAME, None, vec![p1, p2])
            .await
            .unwrap();
        let bytes = env.to_bytes();
        for i in 0..bytes.len() {
            let mut t = bytes.clone();
            t[i] ^= 0x04;
            let Ok(edited) = Envelope::from_bytes(&t) else {
                continue;
            };
            let (out, failed) = read_all(&a, &edited, NAME, &req, &stored).await;
            assert!(failed, "{:?}: byte {i}", req.mode());
            // Tampering with part 2's entry may release part 1 (authentic), never forged bytes.
            assert!(out.is_empty() || out == data(S + 1, 1)[..out.len()]);
        }
    }
}

#[tokio::test]
async fn wrong_ssec_key_fails() {
    let req = SseRequest::Customer(customer(1));
    let (a, stored, env, _) = object(&req, 10).await;
    let other = SseRequest::Customer(customer(2));
    assert!(read_all(&a, &env, NAME, &other, &stored).await.1);
    // A forged envelope that carries a valid verifier of the other key (salt and verifier taken
    // from an object written under it) still fails (wrap commitment).
    let (_, _, env2, _) = object(&other, 10).await;
    // "CSSE", version, suite, segment size, mode, four absent KMS fields, the presence byte.
    let verifier = 13..13 + 64;
    let mut bytes = env.to_bytes();
    bytes[verifier.clone()].copy_from_slice(&env2.to_bytes()[verifier]);
    let forged = Envelope::from_bytes(&bytes).unwrap();
    let e = a.open(&forged, NAME, Some(&customer(2))).await.unwrap_err();
    assert!(matches!(e, Error::Decrypt));
}

#[tokio::test]
async fn wrong_context_fails() {
    let (a, kms) = adapter();
    kms.create_key("k");
    let ctx = KmsContext::from_base64("eyJhIjoiMSJ9").unwrap(); // {"a":"1"}
    let req = SseRequest::Kms {
        key_id: Some("k".into()),
        context: Some(ctx),
        bucket_key: false,
    };
    let (stored, env) = a
        .begin_put(&req, NAME)
        .await
        .unwrap()
        .seal_bytes(b"body")
        .unwrap();
    // Replace the stored context with another valid one of the same length: {"a":"2"}.
    let mut bytes = env.to_bytes();
    let pos = bytes
        .windows(12)
        .position(|w| w == b"eyJhIjoiMSJ9")
        .unwrap();
    bytes[pos..pos + 12].copy_from_slice(b"eyJhIjoiMiJ9");
    let edited = Envelope::from_bytes(&bytes).unwrap();
    let e = a.open(&edited, NAME, None).await.unwrap_err();
    assert_eq!(e.cos_code().as_str(), "KmsException");
    assert!(read_all(&a, &edited, NAME, &req, &stored).await.1);
}

/// The byte ranges of the EDK and the wrap salt in an SSE-KMS envelope's encoding: "CSSE", four
/// header bytes, the key id, the key version, the user context, the EDK, the absent SSE-C check.
fn edk_and_salt(bytes: &[u8]) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let len = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
    let mut i = 8;
    assert_eq!(bytes[i], 1, "a KMS envelope has a key id");
    i += 5 + len(i + 1);
    i += if bytes[i] == 1 { 5 } else { 1 };
    i += if bytes[i] == 1 { 5 + len(i + 1) } else { 1 };
    assert_eq!(bytes[i], 1, "a KMS envelope has an EDK");
    let edk = i + 5..i + 5 + len(i + 1);
    i = edk.end;
    assert_eq!(bytes[i], 0, "no SSE-C check");
    (edk, i + 1..i + 33)
}

fn bucket_key_request() -> SseRequest {
    SseRequest::Kms {
        key_id: Some("named-key".into()),
        context: None,
        bucket_key: true,
    }
}

#[tokio::test]
async fn bucket_key_envelopes_resist_tampering() {
    let req = bucket_key_request();
    let (a, stored, env, plain) = object(&req, S + 5).await;
    assert!(env.uses_bucket_key());
    assert!(
        !read_all(&a, &env, NAME, &req, &stored).await.1,
        "{plain:?}"
    );
    let bytes = env.to_bytes();
    let (edk, salt) = edk_and_salt(&bytes);

    // A changed per-object salt: the derived wrap key and commitment change.
    let mut b = bytes.clone();
    b[salt.start] ^= 1;
    let forged = Envelope::from_bytes(&b).unwrap();
    let e = a.open(&forged, NAME, None).await.unwrap_err();
    assert!(matches!(e, Error::Decrypt), "{e:?}");
    assert!(read_all(&a, &forged, NAME, &req, &stored).await.1);

    // Relabelled as version 2: the wrap labels and the KMS context both change.
    let mut b = bytes.clone();
    b[4] = storage_adapter::envelope::FORMAT_VERSION;
    let forged = Envelope::from_bytes(&b).unwrap();
    assert!(a.open(&forged, NAME, None).await.is_err());

    // Another bucket key's EDK of the same bucket and CMK (another server's, a cold cache): the
    // KMS opens it, but it is not the key this object was wrapped under.
    let other = storage_adapter::Adapter::new(a.kms().clone());
    let other_env = other
        .begin_put(&req, ObjectName::new(NAME.bucket, "other"))
        .await
        .unwrap()
        .seal_bytes(b"o")
        .unwrap()
        .1;
    let other_bytes = other_env.to_bytes();
    let (other_edk, _) = edk_and_salt(&other_bytes);
    assert_ne!(bytes[edk.clone()], other_bytes[other_edk.clone()]);
    let mut b = bytes.clone();
    b[edk.clone()].copy_from_slice(&other_bytes[other_edk]);
    let forged = Envelope::from_bytes(&b).unwrap();
    let e = a.open(&forged, NAME, None).await.unwrap_err();
    assert!(matches!(e, Error::Decrypt), "{e:?}");

    // The object (envelope and body) presented in another bucket: the bucket key's EDK is bound to
    // its bucket in the KMS context, so the KMS refuses it (the reader's cache has nothing for it).
    let elsewhere = ObjectName::new("another-bucket-1250000000", NAME.key);
    let e = a.open(&env, elsewhere, None).await.unwrap_err();
    assert_eq!(e.cos_code().as_str(), "KmsException", "{e:?}");
    // Nor does an EDK of another bucket's bucket key open in this one.
    let there = a
        .begin_put(&req, elsewhere)
        .await
        .unwrap()
        .seal_bytes(b"t")
        .unwrap()
        .1
        .to_bytes();
    let (there_edk, _) = edk_and_salt(&there);
    let mut b = bytes.clone();
    b[edk].copy_from_slice(&there[there_edk]);
    let forged = Envelope::from_bytes(&b).unwrap();
    let e = storage_adapter::Adapter::new(a.kms().clone())
        .open(&forged, NAME, None)
        .await
        .unwrap_err();
    assert_eq!(e.cos_code().as_str(), "KmsException", "{e:?}");
}
