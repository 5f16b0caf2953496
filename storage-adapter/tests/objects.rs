//! Round trips through the in-memory and parallel APIs, multipart, ranges, copy and rotation.
//! (What every key provider must do, in every mode, is the provider suite: `tests/providers.rs`.)

mod common;

use common::*;
use proptest::prelude::*;
use storage_adapter::{Error, ObjectName, SseMode, SseRequest};

const SIZES: [usize; 7] = [0, 1, S - 1, S, S + 1, 2 * S + 17, 3 * 1024 * 1024 + 123];

#[tokio::test]
async fn round_trip_sync_and_parallel_apis() {
    let (a, kms) = adapter();
    for req in all_modes(&kms) {
        for (i, &n) in SIZES.iter().enumerate() {
            let plain = data(n, 100 + i as u8);
            let (stored, env) = a
                .begin_put(&req, NAME)
                .await
                .unwrap()
                .seal_bytes(&plain)
                .unwrap();
            let obj = a
                .open(&env, NAME, customer_of(&req).as_ref())
                .await
                .unwrap();
            assert_eq!(obj.decrypt_bytes_parallel(&stored, 3).unwrap(), plain);
            let (pstored, penv) = a
                .begin_put(&req, NAME)
                .await
                .unwrap()
                .seal_bytes_parallel(&plain, 3)
                .unwrap();
            let pobj = a
                .open(&penv, NAME, customer_of(&req).as_ref())
                .await
                .unwrap();
            assert_eq!(
                pobj.decrypt_bytes(pobj.plan(None).unwrap(), &pstored)
                    .unwrap(),
                plain
            );
        }
    }
}

#[tokio::test]
async fn async_read_api_round_trip() {
    let (a, _) = adapter();
    let plain = data(3 * S + 5, 9);
    let sealer = a.begin_put(&SseRequest::Cos, NAME).await.unwrap();
    let mut s = sealer.encrypt_reader(&plain[..]);
    let mut stored = Vec::new();
    use futures::StreamExt as _;
    while let Some(item) = s.next().await {
        stored.extend_from_slice(&item.unwrap());
    }
    let env = s.finish().unwrap();
    let obj = a.open(&env, NAME, None).await.unwrap();
    let plan = obj.plan(Some(100..(2 * S as u64 + 9))).unwrap();
    let r = plan.stored_range();
    let mut d = obj.decrypt_reader(plan, &stored[r.start as usize..r.end as usize]);
    let mut out = Vec::new();
    while let Some(item) = d.next().await {
        out.extend_from_slice(&item.unwrap());
    }
    assert_eq!(out, plain[100..2 * S + 9]);
}

#[tokio::test]
async fn ssec_read_without_or_with_wrong_key() {
    let (a, _) = adapter();
    let req = SseRequest::Customer(customer(1));
    let (_, env) = a
        .begin_put(&req, NAME)
        .await
        .unwrap()
        .seal_bytes(b"secret")
        .unwrap();
    let e = a.open(&env, NAME, None).await.unwrap_err();
    assert!(matches!(e, Error::CustomerKeyRequired));
    assert_eq!(e.cos_code().as_str(), "SsecDecryptHeaderInvalid");
    assert_eq!(e.http_status(), 400);
    let e = a.open(&env, NAME, Some(&customer(2))).await.unwrap_err();
    assert!(matches!(e, Error::CustomerKeyMismatch));
    assert_eq!(e.cos_code().as_str(), "SsecDecryptHeaderInvalid");
    // SSE-C headers on an object that is not SSE-C.
    let (_, env) = a
        .begin_put(&SseRequest::Cos, NAME)
        .await
        .unwrap()
        .seal_bytes(b"x")
        .unwrap();
    let e = a.open(&env, NAME, Some(&customer(1))).await.unwrap_err();
    assert_eq!(e.cos_code().as_str(), "SsecDecryptHeaderInvalid");
}

#[tokio::test]
async fn ranged_read_from_end_touches_at_most_two_segments() {
    let (a, _) = adapter();
    let plain = data(10 * S + 300, 3);
    let (stored, env) = a
        .begin_put(&SseRequest::Cos, NAME)
        .await
        .unwrap()
        .seal_bytes(&plain)
        .unwrap();
    let obj = a.open(&env, NAME, None).await.unwrap();
    let n = plain.len() as u64;
    let plan = obj.plan(Some(n - 1024..n)).unwrap();
    assert!(plan.segments() <= 2);
    assert!(plan.stored_range().end - plan.stored_range().start <= 2 * (S as u64 + 16));
    assert_eq!(
        get_stream(&obj, Some(n - 1024..n), &stored, 999)
            .await
            .unwrap(),
        plain[plain.len() - 1024..]
    );
    assert!(matches!(obj.plan(Some(5..5)), Err(Error::InvalidRange)));
    assert!(matches!(obj.plan(Some(0..n + 1)), Err(Error::InvalidRange)));
    assert_eq!(Error::InvalidRange.http_status(), 416);
}

/// A multipart object of the given part sizes, as (stored body, envelope, plaintext).
async fn multipart(
    a: &storage_adapter::Adapter,
    req: &SseRequest,
    name: ObjectName<'_>,
    sizes: &[usize],
) -> (Vec<u8>, storage_adapter::Envelope, Vec<u8>) {
    let ck = customer_of(req);
    let upload = a.initiate_multipart(req, name, "upload-1").await.unwrap();
    let up = a.open_upload(&upload, name, ck.as_ref()).await.unwrap();
    let (mut stored, mut plain, mut parts) = (Vec::new(), Vec::new(), Vec::new());
    for (i, &n) in sizes.iter().enumerate() {
        let p = data(n, 50 + i as u8);
        let (s, info) = up.part(i as u32 + 1).unwrap().seal_bytes(&p).unwrap();
        stored.extend_from_slice(&s);
        plain.extend_from_slice(&p);
        parts.push(info);
    }
    let env = a
        .complete_multipart(&upload, name, ck.as_ref(), parts)
        .await
        .unwrap();
    (stored, env, plain)
}

#[tokio::test]
async fn ssec_multipart_completed_with_and_without_key() {
    let (a, _) = adapter();
    let req = SseRequest::Customer(customer(5));
    let upload = a.initiate_multipart(&req, NAME, "u-9").await.unwrap();
    let up = a
        .open_upload(&upload, NAME, Some(&customer(5)))
        .await
        .unwrap();
    let (s1, p1) = up.part(1).unwrap().seal_bytes(&data(S + 1, 1)).unwrap();
    let (s2, p2) = up.part(2).unwrap().seal_bytes(&data(10, 2)).unwrap();
    let stored = [s1, s2].concat();
    // Without the key (the SDKs send no SSE-C headers on Complete).
    let env = a
        .complete_multipart(&upload, NAME, None, vec![p1.clone(), p2.clone()])
        .await
        .unwrap();
    let obj = a.open(&env, NAME, Some(&customer(5))).await.unwrap();
    assert_eq!(
        get_stream(&obj, None, &stored, 5000).await.unwrap().len(),
        S + 11
    );
    // With the key: the table is MAC'd, so editing it fails.
    let env = a
        .complete_multipart(&upload, NAME, Some(&customer(5)), vec![p1.clone(), p2])
        .await
        .unwrap();
    assert!(a.open(&env, NAME, Some(&customer(5))).await.is_ok());
    // Bad part tables are refused at Complete.
    let e = a
        .complete_multipart(&upload, NAME, None, vec![])
        .await
        .unwrap_err();
    assert_eq!(e.cos_code().as_str(), "InvalidPart");
    let mut p3 = p1.clone();
    p3.number = 3;
    let e = a
        .complete_multipart(&upload, NAME, None, vec![p1, p3])
        .await
        .unwrap_err();
    assert_eq!(e.cos_code().as_str(), "InvalidPart");
}

#[tokio::test]
async fn retried_part_gets_a_different_key() {
    let (a, _) = adapter();
    let upload = a
        .initiate_multipart(&SseRequest::Cos, NAME, "u-1")
        .await
        .unwrap();
    let up = a.open_upload(&upload, NAME, None).await.unwrap();
    let same = data(S + 10, 1);
    let (s1, i1) = up.part(1).unwrap().seal_bytes(&same).unwrap();
    let (s2, i2) = up.part(1).unwrap().seal_bytes(&same).unwrap();
    assert_ne!(i1.part_salt, i2.part_salt);
    // Same plaintext, same part number, different ciphertext: a different key.
    assert_ne!(s1, s2);
    // Retried with other bytes: XOR of ciphertexts must not equal XOR of plaintexts (no key reuse).
    let other = data(S + 10, 2);
    let (s3, _) = up.part(1).unwrap().seal_bytes(&other).unwrap();
    let xc: Vec<u8> = s1.iter().zip(&s3).take(64).map(|(a, b)| a ^ b).collect();
    let xp: Vec<u8> = same
        .iter()
        .zip(&other)
        .take(64)
        .map(|(a, b)| a ^ b)
        .collect();
    assert_ne!(xc, xp);
    // The part table chooses which attempt is the object.
    let env = a
        .complete_multipart(&upload, NAME, None, vec![i2])
        .await
        .unwrap();
    let obj = a.open(&env, NAME, None).await.unwrap();
    assert_eq!(get_stream(&obj, None, &s2, 1 << 20).await.unwrap(), same);
    assert!(get_stream(&obj, None, &s1, 1 << 20).await.is_err());
}

#[tokio::test]
async fn upload_part_copy_with_range_reencrypts() {
    let (a, _) = adapter();
    let src_plain = data(3 * S + 9, 4);
    let (src_stored, src_env) = a
        .begin_put(&SseRequest::Customer(customer(1)), NAME)
        .await
        .unwrap()
        .seal_bytes(&src_plain)
        .unwrap();
    let src = a.open(&src_env, NAME, Some(&customer(1))).await.unwrap();
    let dest = ObjectName::new("bucket-2", "copy");
    let upload = a
        .initiate_multipart(&SseRequest::Cos, dest, "u-c")
        .await
        .unwrap();
    let up = a.open_upload(&upload, dest, None).await.unwrap();
    let range = 1000u64..(2 * S as u64 + 50);
    let plan = src.plan(Some(range.clone())).unwrap();
    let r = plan.stored_range();
    let input = storage_adapter::object::bytes_stream(
        bytes::Bytes::copy_from_slice(&src_stored[r.start as usize..r.end as usize]),
        3000,
    );
    let mut enc = up
        .part(1)
        .unwrap()
        .encrypt_stream(src.decrypt_stream(plan, input));
    let mut stored = Vec::new();
    use futures::StreamExt as _;
    while let Some(item) = enc.next().await {
        stored.extend_from_slice(&item.unwrap());
    }
    let info = enc.finish().unwrap();
    let env = a
        .complete_multipart(&upload, dest, None, vec![info])
        .await
        .unwrap();
    let obj = a.open(&env, dest, None).await.unwrap();
    assert_eq!(
        get_stream(&obj, None, &stored, 777).await.unwrap(),
        src_plain[range.start as usize..range.end as usize]
    );
}

#[tokio::test]
async fn copy_multipart_source_keeps_its_parts() {
    let (a, _) = adapter();
    let (stored, env, plain) =
        multipart(&a, &SseRequest::Customer(customer(3)), NAME, &[S + 3, 9]).await;
    let src = a.open(&env, NAME, Some(&customer(3))).await.unwrap();
    let new_env = a
        .rewrap(
            &src,
            &SseRequest::Kms {
                key_id: None,
                context: None,
                bucket_key: false,
            },
            NAME,
        )
        .await
        .unwrap();
    let obj = a.open(&new_env, NAME, None).await.unwrap();
    assert_eq!(get_stream(&obj, None, &stored, 4096).await.unwrap(), plain);
}

#[tokio::test]
async fn ssec_key_rotation_is_a_copy_onto_itself() {
    let (a, _) = adapter();
    let plain = data(S + 77, 2);
    let (stored, env) = a
        .begin_put(&SseRequest::Customer(customer(1)), NAME)
        .await
        .unwrap()
        .seal_bytes(&plain)
        .unwrap();
    let src = a.open(&env, NAME, Some(&customer(1))).await.unwrap();
    let rotated = a
        .rewrap(&src, &SseRequest::Customer(customer(2)), NAME)
        .await
        .unwrap();
    // `rewrap` never sees the body: the very bytes stored under the old key open below.
    assert_eq!(rotated.mode(), SseMode::Customer);
    assert!(a.open(&rotated, NAME, Some(&customer(1))).await.is_err());
    let obj = a.open(&rotated, NAME, Some(&customer(2))).await.unwrap();
    assert_eq!(get_stream(&obj, None, &stored, 4096).await.unwrap(), plain);
    // KMS key A -> B is the same operation.
    let kms_b = SseRequest::Kms {
        key_id: None,
        context: None,
        bucket_key: false,
    };
    let moved = a.rewrap(&obj, &kms_b, NAME).await.unwrap();
    assert_eq!(
        moved.kms_key_id(),
        Some(storage_adapter::provider::MEMORY_DEFAULT_CMK)
    );
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn single_part_ranges_match_the_oracle(len in 1usize..(4 * S + 100), a in 0usize..(4 * S + 100), b in 0usize..(4 * S + 100), chunk in 1usize..100_000) {
        let (a0, b0) = (a.min(b) % len, (a.max(b) % len) + 1);
        prop_assume!(a0 < b0);
        rt().block_on(async {
            let (ad, _) = adapter();
            let plain = data(len, (len % 251) as u8);
            let (stored, env) = ad.begin_put(&SseRequest::Cos, NAME).await.unwrap().seal_bytes(&plain).unwrap();
            let obj = ad.open(&env, NAME, None).await.unwrap();
            let got = get_stream(&obj, Some(a0 as u64..b0 as u64), &stored, chunk).await.unwrap();
            assert_eq!(got, &plain[a0..b0]);
            let plan = obj.plan(Some(a0 as u64..b0 as u64)).unwrap();
            assert_eq!(plan.segments(), ((b0 - 1) / S - a0 / S + 1) as u64);
        });
    }

    #[test]
    fn multipart_ranges_match_the_oracle(sizes in proptest::collection::vec(0usize..(2 * S + 10), 1..5), a in any::<u64>(), b in any::<u64>()) {
        let total: usize = sizes.iter().sum();
        prop_assume!(total > 0);
        let (a0, b0) = ((a.min(b) % total as u64) as usize, (a.max(b) % total as u64) as usize + 1);
        prop_assume!(a0 < b0);
        rt().block_on(async {
            let (ad, _) = adapter();
            let (stored, env, plain) = multipart(&ad, &SseRequest::Cos, NAME, &sizes).await;
            let obj = ad.open(&env, NAME, None).await.unwrap();
            let got = get_stream(&obj, Some(a0 as u64..b0 as u64), &stored, 5_000).await.unwrap();
            assert_eq!(got, &plain[a0..b0]);
            assert_eq!(get_stream(&obj, None, &stored, 70_000).await.unwrap(), plain);
        });
    }
}

#[tokio::test]
async fn copies_between_plain_and_encrypted_re_encrypt_the_body() {
    use futures::StreamExt as _;
    let (a, _) = adapter();
    let plain = data(2 * S + 5, 9);
    // plain -> SSE-KMS: the plaintext source is streamed through a new sealer.
    let sealer = a
        .begin_put(
            &SseRequest::Kms {
                key_id: None,
                context: None,
                bucket_key: false,
            },
            NAME,
        )
        .await
        .unwrap();
    let mut enc = sealer.encrypt_stream(storage_adapter::object::bytes_stream(
        bytes::Bytes::from(plain.clone()),
        1000,
    ));
    let mut stored = Vec::new();
    while let Some(seg) = enc.next().await {
        stored.extend_from_slice(&seg.unwrap());
    }
    let env = enc.finish().unwrap();
    assert_ne!(&stored[..plain.len()], &plain[..]);
    let obj = a.open(&env, NAME, None).await.unwrap();
    // SSE-KMS -> plain: the destination is the verified plaintext, whole and exact.
    assert_eq!(get_stream(&obj, None, &stored, 777).await.unwrap(), plain);
    // A flipped byte makes the copy fail instead of writing a damaged plain object.
    let mut bad = stored.clone();
    bad[S + 3] ^= 1;
    assert!(get_stream(&obj, None, &bad, 777).await.is_err());
}
