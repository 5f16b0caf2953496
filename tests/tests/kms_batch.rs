//! BatchGenerateDataKey and BatchDecrypt over real gRPC: every item gets exactly the result or the
//! error (code, message, Tencent code) the single call would give it; size limits; no SQLite.

use tests::{TestKms, assert_status, b64, ctx, pb};
use tonic::Code;

use pb::{batch_decrypt_result::Result as D, batch_generate_data_key_result::Result as G};

fn gdk(key: &str, spec: pb::KeySpec, bytes: u32, context: &str) -> pb::GenerateDataKeyRequest {
    pb::GenerateDataKeyRequest {
        key_id: key.into(),
        key_spec: spec as i32,
        number_of_bytes: bytes,
        encryption_context: context.into(),
        ..Default::default()
    }
}

/// The single call's outcome, as a batch item would carry it.
fn as_item<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Result<T, (i32, String, String)> {
    r.map(tonic::Response::into_inner).map_err(|s| {
        let tencent = s
            .metadata()
            .get("x-kms-error-code")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (s.code() as i32, s.message().to_owned(), tencent)
    })
}

fn item_err(e: &pb::ItemError) -> (i32, String, String) {
    (e.code, e.message.clone(), e.error_code.clone())
}

#[tokio::test]
async fn every_generate_item_matches_the_single_call() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let on = kms.create_key("on").await;
    let off = kms.create_key("off").await;
    kms.client
        .disable_key(pb::DisableKeyRequest {
            key_id: off.clone(),
        })
        .await
        .unwrap();
    let archived = kms.create_key("archived").await;
    kms.client
        .archive_key(pb::ArchiveKeyRequest {
            key_id: archived.clone(),
        })
        .await
        .unwrap();
    let c = ctx(&[("bucket", "b"), ("object", "o")]);
    let items = vec![
        gdk(&on, pb::KeySpec::Aes256, 0, &c),
        gdk("alias/on", pb::KeySpec::Aes128, 0, ""),
        gdk("on", pb::KeySpec::Unspecified, 77, &c),
        gdk(&off, pb::KeySpec::Aes256, 0, &c),
        gdk(&archived, pb::KeySpec::Aes256, 0, &c),
        gdk("ghost", pb::KeySpec::Aes256, 0, &c),
        gdk("", pb::KeySpec::Aes256, 0, &c),
        gdk(&on, pb::KeySpec::Unspecified, 0, &c),
        gdk(&on, pb::KeySpec::Unspecified, 1025, &c),
        gdk(&on, pb::KeySpec::Aes256, 0, "%%%"),
        gdk(&on, pb::KeySpec::Aes256, 0, &b64("[1,2]")),
        gdk(&on, pb::KeySpec::Aes256, 0, &b64(r#"{"a":1}"#)),
        gdk(&on, pb::KeySpec::Aes256, 0, &c),
    ];
    let resp = kms
        .client
        .batch_generate_data_key(pb::BatchGenerateDataKeyRequest {
            items: items.clone(),
            without_plaintext: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.results.len(), items.len());
    let mut errors = 0;
    for (item, got) in items.iter().zip(resp.results) {
        let single = as_item(kms.client.generate_data_key(item.clone()).await);
        match (got.result.expect("every item has a result"), single) {
            (G::Ok(b), Ok(s)) => {
                assert_eq!((&b.key_id, b.key_version), (&s.key_id, s.key_version));
                assert_eq!(b.plaintext.len(), s.plaintext.len());
                assert_ne!(b.plaintext, s.plaintext, "every data key is fresh");
                // The batch's blob opens with the single Decrypt, under the item's context.
                let opened = kms
                    .decrypt(&b.ciphertext_blob, &item.encryption_context)
                    .await
                    .unwrap();
                assert_eq!(opened.plaintext, b.plaintext);
            }
            (G::Error(b), Err(s)) => {
                errors += 1;
                assert_eq!(item_err(&b), s, "item {item:?}");
            }
            (b, s) => panic!("item {item:?}: batch {b:?}, single {s:?}"),
        }
    }
    assert_eq!(errors, 9);

    // without_plaintext: only the sealed copies.
    let resp = kms
        .client
        .batch_generate_data_key(pb::BatchGenerateDataKeyRequest {
            items: vec![gdk(&on, pb::KeySpec::Aes256, 0, &c); 3],
            without_plaintext: true,
        })
        .await
        .unwrap()
        .into_inner();
    for r in resp.results {
        let Some(G::Ok(dk)) = r.result else {
            panic!("{r:?}")
        };
        assert!(dk.plaintext.is_empty());
        assert!(kms.decrypt(&dk.ciphertext_blob, &c).await.is_ok());
    }
}

#[tokio::test]
async fn every_decrypt_item_matches_the_single_call() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let a = kms.create_key("a").await;
    let b = kms.create_key("b").await;
    let c = ctx(&[("bucket", "b"), ("object", "o")]);
    let reordered = b64(r#"{"object":"o","bucket":"b"}"#);
    let old = kms.data_key(&a, &c).await;
    kms.client
        .rotate_key(pb::RotateKeyRequest { key_id: a.clone() })
        .await
        .unwrap();
    let new = kms.data_key(&a, &c).await;
    assert_eq!((old.key_version, new.key_version), (1, 2));
    let of_b = kms.data_key(&b, "").await;
    kms.client
        .disable_key(pb::DisableKeyRequest { key_id: b.clone() })
        .await
        .unwrap();
    let mut tampered = new.ciphertext_blob.clone();
    tampered[40] ^= 0x80;
    let dec = |blob: &[u8], context: &str| pb::DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        encryption_context: context.into(),
        ..Default::default()
    };
    let items = vec![
        dec(&old.ciphertext_blob, &c),
        dec(&new.ciphertext_blob, &reordered),
        dec(&new.ciphertext_blob, ""),
        dec(&new.ciphertext_blob, &ctx(&[("bucket", "b")])),
        dec(&tampered, &c),
        dec(&new.ciphertext_blob[..50], &c),
        dec(b"", &c),
        dec(&of_b.ciphertext_blob, ""),
        dec(&old.ciphertext_blob, "%%%"),
    ];
    let resp = kms
        .client
        .batch_decrypt(pb::BatchDecryptRequest {
            items: items.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.results.len(), items.len());
    let mut opened = Vec::new();
    for (i, (item, got)) in items.iter().zip(resp.results).enumerate() {
        let single = as_item(kms.client.decrypt(item.clone()).await);
        match (got.result.expect("every item has a result"), single) {
            (D::Ok(b), Ok(s)) => {
                assert_eq!(b, s, "item {i}");
                opened.push(i);
            }
            (D::Error(b), Err(s)) => assert_eq!(item_err(&b), s, "item {i}"),
            (b, s) => panic!("item {i}: batch {b:?}, single {s:?}"),
        }
    }
    assert_eq!(
        opened,
        [0, 1],
        "the old version and the reordered context open"
    );
}

#[tokio::test]
async fn a_full_batch_round_trips_and_the_limits_hold() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("full").await;
    let items: Vec<_> = (0..1000)
        .map(|i| {
            let object = format!("photos/{i}.jpg");
            gdk(
                &id,
                pb::KeySpec::Aes256,
                0,
                &ctx(&[("bucket", "b"), ("object", &object)]),
            )
        })
        .collect();
    let made = kms
        .client
        .batch_generate_data_key(pb::BatchGenerateDataKeyRequest {
            items: items.clone(),
            without_plaintext: false,
        })
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<pb::GenerateDataKeyResponse> = made
        .results
        .into_iter()
        .map(|r| match r.result {
            Some(G::Ok(dk)) => dk,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(keys.len(), 1000);
    let dec: Vec<_> = keys
        .iter()
        .zip(&items)
        .map(|(dk, item)| pb::DecryptRequest {
            ciphertext_blob: dk.ciphertext_blob.clone(),
            encryption_context: item.encryption_context.clone(),
            ..Default::default()
        })
        .collect();
    let opened = kms
        .client
        .batch_decrypt(pb::BatchDecryptRequest { items: dec.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.results.len(), 1000);
    for (r, dk) in opened.results.iter().zip(&keys) {
        match &r.result {
            Some(D::Ok(d)) => assert_eq!(d.plaintext, dk.plaintext),
            other => panic!("{other:?}"),
        }
    }
    // Contexts are per item: swapping two items' contexts fails exactly those two.
    let mut swapped = dec[..3].to_vec();
    let (c0, c1) = (
        swapped[0].encryption_context.clone(),
        swapped[1].encryption_context.clone(),
    );
    swapped[0].encryption_context = c1;
    swapped[1].encryption_context = c0;
    let resp = kms
        .client
        .batch_decrypt(pb::BatchDecryptRequest { items: swapped })
        .await
        .unwrap()
        .into_inner();
    let ok: Vec<bool> = resp
        .results
        .iter()
        .map(|r| matches!(r.result, Some(D::Ok(_))))
        .collect();
    assert_eq!(ok, [false, false, true]);

    for n in [0, 1001] {
        let err = kms
            .client
            .batch_decrypt(pb::BatchDecryptRequest {
                items: vec![dec[0].clone(); n],
            })
            .await
            .unwrap_err();
        assert_status(
            &err,
            Code::InvalidArgument,
            &format!("a batch must have 1..=1000 items, got {n}"),
            "InvalidParameterValue",
        );
        let err = kms
            .client
            .batch_generate_data_key(pb::BatchGenerateDataKeyRequest {
                items: vec![items[0].clone(); n],
                without_plaintext: true,
            })
            .await
            .unwrap_err();
        assert_status(
            &err,
            Code::InvalidArgument,
            &format!("a batch must have 1..=1000 items, got {n}"),
            "InvalidParameterValue",
        );
    }
}

#[tokio::test]
async fn the_hot_path_does_not_touch_sqlite_over_grpc() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("hot").await;
    let c = ctx(&[("bucket", "b")]);
    // Warm-up: one of each.
    let dk = kms.data_key(&id, &c).await;
    kms.decrypt(&dk.ciphertext_blob, &c).await.unwrap();
    let before = kms.kms.store_access_count();
    for _ in 0..20 {
        let dk = kms.data_key("alias/hot", &c).await;
        kms.decrypt(&dk.ciphertext_blob, &c).await.unwrap();
        let sealed = kms
            .client
            .encrypt(pb::EncryptRequest {
                key_id: "hot".into(),
                plaintext: b"secret".to_vec(),
                encryption_context: c.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        kms.decrypt(&sealed.ciphertext_blob, &c).await.unwrap();
        let made = kms
            .client
            .batch_generate_data_key(pb::BatchGenerateDataKeyRequest {
                items: vec![gdk(&id, pb::KeySpec::Aes256, 0, &c); 50],
                without_plaintext: false,
            })
            .await
            .unwrap()
            .into_inner();
        let items = made
            .results
            .into_iter()
            .map(|r| match r.result {
                Some(G::Ok(dk)) => pb::DecryptRequest {
                    ciphertext_blob: dk.ciphertext_blob,
                    encryption_context: c.clone(),
                    ..Default::default()
                },
                other => panic!("{other:?}"),
            })
            .collect();
        kms.client
            .batch_decrypt(pb::BatchDecryptRequest { items })
            .await
            .unwrap();
    }
    assert_eq!(
        kms.kms.store_access_count(),
        before,
        "GenerateDataKey/Encrypt/Decrypt and their batches reached SQLite"
    );
}
