//! Data keys, Encrypt/Decrypt/ReEncrypt and the encryption context over real gRPC.

use tests::{TestKms, assert_status, b64, ctx, pb};
use tonic::Code;

const INVALID: &str = "invalid ciphertext";
const INVALID_CODE: &str = "InvalidParameterValue.InvalidCiphertext";

#[tokio::test]
async fn data_key_opens_only_with_the_same_context() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("dk").await;
    let c = ctx(&[
        ("bucket", "examplebucket-1250000000"),
        ("object", "a/b.txt"),
    ]);
    let dk = kms.data_key(&id, &c).await;
    assert_eq!(dk.plaintext.len(), 32);
    assert_eq!(dk.key_id, id);
    assert_eq!(dk.key_version, 1);

    // Same pairs in another order (and another JSON layout) open it.
    let reordered = b64(r#"{ "object" : "a/b.txt", "bucket":"examplebucket-1250000000" }"#);
    let opened = kms.decrypt(&dk.ciphertext_blob, &reordered).await.unwrap();
    assert_eq!(opened.plaintext, dk.plaintext);
    assert_eq!(
        (opened.key_id.as_str(), opened.key_version),
        (id.as_str(), 1)
    );

    // Any other context, none at all, or other case: the one opaque error.
    for other in [
        String::new(),
        ctx(&[("bucket", "examplebucket-1250000000")]),
        ctx(&[
            ("Bucket", "examplebucket-1250000000"),
            ("object", "a/b.txt"),
        ]),
        ctx(&[
            ("bucket", "examplebucket-1250000000"),
            ("object", "a/b.TXT"),
        ]),
        ctx(&[
            ("bucket", "examplebucket-1250000000"),
            ("object", "a/b.txt"),
            ("x", ""),
        ]),
    ] {
        let err = kms.decrypt(&dk.ciphertext_blob, &other).await.unwrap_err();
        assert_status(&err, Code::InvalidArgument, INVALID, INVALID_CODE);
    }

    // No context at encryption: "" and "{}" both mean none.
    let dk = kms.data_key(&id, "").await;
    assert_eq!(
        kms.decrypt(&dk.ciphertext_blob, &b64("{}"))
            .await
            .unwrap()
            .plaintext,
        dk.plaintext
    );
}

#[tokio::test]
async fn key_specs_and_sizes() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("sizes").await;
    let gen_dk = |spec: pb::KeySpec, n: u32| pb::GenerateDataKeyRequest {
        key_id: id.clone(),
        key_spec: spec as i32,
        number_of_bytes: n,
        encryption_context: String::new(),
        ..Default::default()
    };
    for (spec, n, len) in [
        (pb::KeySpec::Aes256, 0, 32),
        (pb::KeySpec::Aes128, 0, 16),
        (pb::KeySpec::Unspecified, 1, 1),
        (pb::KeySpec::Aes128, 1024, 1024), // number_of_bytes wins
    ] {
        let dk = kms
            .client
            .generate_data_key(gen_dk(spec, n))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(dk.plaintext.len(), len);
        let opened = kms.decrypt(&dk.ciphertext_blob, "").await.unwrap();
        assert_eq!(opened.plaintext, dk.plaintext);
    }
    let err = kms
        .client
        .generate_data_key(gen_dk(pb::KeySpec::Unspecified, 0))
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "one of key_spec (AES_256, AES_128) or number_of_bytes (1..=1024) is required",
        "InvalidParameterValue",
    );
    let err = kms
        .client
        .generate_data_key(gen_dk(pb::KeySpec::Aes256, 1025))
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "number_of_bytes must be 1..=1024, got 1025",
        "InvalidParameterValue",
    );
    let mut bad = gen_dk(pb::KeySpec::Aes256, 0);
    bad.key_spec = 9;
    let err = kms.client.generate_data_key(bad).await.unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "unknown key_spec 9",
        "InvalidParameterValue",
    );

    // Without plaintext: the blob still opens to a 32-byte key.
    let wp = kms
        .client
        .generate_data_key_without_plaintext(gen_dk(pb::KeySpec::Aes256, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(wp.key_id, id);
    assert_eq!(
        kms.decrypt(&wp.ciphertext_blob, "")
            .await
            .unwrap()
            .plaintext
            .len(),
        32
    );
}

#[tokio::test]
async fn context_rules_each_have_their_message() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("ctx").await;
    let cases = [
        (
            "%%%".to_owned(),
            "encryption context is not valid base64 (standard alphabet)",
        ),
        (b64("{not json"), "encryption context is not valid JSON"),
        (
            b64("[\"a\"]"),
            "encryption context: the JSON is not an object",
        ),
        (
            b64(r#"{"a":{"b":"c"}}"#),
            "encryption context: the value of \"a\" is not a string",
        ),
        (
            b64(r#"{"n":1}"#),
            "encryption context: the value of \"n\" is not a string",
        ),
        (
            b64(r#"{"a":"1","a":"1"}"#),
            "encryption context: the name \"a\" appears twice",
        ),
        (
            b64(&format!(r#"{{"a":"{}"}}"#, "x".repeat(1100))),
            "encryption context is longer than 1024 bytes",
        ),
    ];
    for (c, msg) in &cases {
        let err = kms
            .client
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: id.clone(),
                key_spec: pb::KeySpec::Aes256 as i32,
                number_of_bytes: 0,
                encryption_context: c.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_status(&err, Code::InvalidArgument, msg, "InvalidParameterValue");
        let err = kms.decrypt(b"whatever", c).await.unwrap_err();
        assert_status(&err, Code::InvalidArgument, msg, "InvalidParameterValue");
        let err = kms
            .client
            .encrypt(pb::EncryptRequest {
                key_id: id.clone(),
                plaintext: b"x".to_vec(),
                encryption_context: c.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.message(), *msg);
    }
}

#[tokio::test]
async fn tampering_any_byte_fails_opaquely() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("tamper").await;
    let c = ctx(&[("k", "v")]);
    let dk = kms.data_key(&id, &c).await;
    let blob = dk.ciphertext_blob;
    for i in 0..blob.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = blob.clone();
            bad[i] ^= bit;
            let err = kms.decrypt(&bad, &c).await.unwrap_err();
            assert_status(&err, Code::InvalidArgument, INVALID, INVALID_CODE);
        }
    }
    for len in [0, 1, 3, 66, 67, 82, blob.len() - 1] {
        let err = kms.decrypt(&blob[..len], &c).await.unwrap_err();
        assert_status(&err, Code::InvalidArgument, INVALID, INVALID_CODE);
    }
    let mut longer = blob.clone();
    longer.push(0);
    let err = kms.decrypt(&longer, &c).await.unwrap_err();
    assert_status(&err, Code::InvalidArgument, INVALID, INVALID_CODE);
}

#[tokio::test]
async fn blob_from_another_server_does_not_open() {
    let (mut a, _da) = TestKms::start_temp().await;
    let (mut b, _db) = TestKms::start_temp().await;
    let id = a.create_key("same-alias").await;
    b.create_key("same-alias").await;
    let dk = a.data_key(&id, "").await;
    let err = b.decrypt(&dk.ciphertext_blob, "").await.unwrap_err();
    assert_status(&err, Code::InvalidArgument, INVALID, INVALID_CODE);
}

#[tokio::test]
async fn encrypt_decrypt_and_state_rules() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("enc").await;
    let c = ctx(&[("app", "x")]);
    let enc = |pt: Vec<u8>| pb::EncryptRequest {
        key_id: "alias/enc".into(),
        plaintext: pt,
        encryption_context: c.clone(),
    };
    let sealed = kms
        .client
        .encrypt(enc(b"hello".to_vec()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sealed.key_id, id);
    assert_eq!(
        kms.decrypt(&sealed.ciphertext_blob, &c)
            .await
            .unwrap()
            .plaintext,
        b"hello"
    );
    kms.client.encrypt(enc(vec![7; 4096])).await.unwrap();
    for n in [0usize, 4097] {
        let err = kms.client.encrypt(enc(vec![7; n])).await.unwrap_err();
        assert_status(
            &err,
            Code::InvalidArgument,
            &format!("plaintext must be 1..=4096 bytes, got {n}"),
            "InvalidParameterValue",
        );
    }

    // Disabled: neither. Archived: decrypt only. PendingDelete: neither.
    kms.client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    let err = kms.client.encrypt(enc(b"x".to_vec())).await.unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Disabled"),
        "ResourceUnavailable.CmkDisabled",
    );
    let err = kms.decrypt(&sealed.ciphertext_blob, &c).await.unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Disabled"),
        "ResourceUnavailable.CmkDisabled",
    );
    kms.client
        .enable_key(pb::EnableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    kms.client
        .archive_key(pb::ArchiveKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert_eq!(
        kms.decrypt(&sealed.ciphertext_blob, &c)
            .await
            .unwrap()
            .plaintext,
        b"hello"
    );
    let err = kms.client.encrypt(enc(b"x".to_vec())).await.unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Archived"),
        "ResourceUnavailable.CmkArchived",
    );
    let err = kms
        .client
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: id.clone(),
            key_spec: 1,
            number_of_bytes: 0,
            encryption_context: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Archived"),
        "ResourceUnavailable.CmkArchived",
    );
    kms.client
        .cancel_key_archive(pb::CancelKeyArchiveRequest { key_id: id.clone() })
        .await
        .unwrap();
    kms.client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    kms.client
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: id.clone(),
            pending_window_in_days: 7,
        })
        .await
        .unwrap();
    let err = kms.decrypt(&sealed.ciphertext_blob, &c).await.unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is PendingDelete"),
        "ResourceUnavailable.CmkStateNotSupport",
    );
}

#[tokio::test]
async fn rotation_keeps_old_blobs_and_re_encrypt_moves_them() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let a = kms.create_key("a").await;
    let b = kms.create_key("b").await;
    let c1 = ctx(&[("v", "1")]);
    let c2 = ctx(&[("v", "2")]);
    let v1 = kms.data_key(&a, &c1).await;
    kms.client
        .rotate_key(pb::RotateKeyRequest { key_id: a.clone() })
        .await
        .unwrap();
    let v2 = kms.data_key(&a, &c1).await;
    assert_eq!((v1.key_version, v2.key_version), (1, 2));
    assert_eq!(
        kms.decrypt(&v1.ciphertext_blob, &c1)
            .await
            .unwrap()
            .key_version,
        1
    );
    assert_eq!(
        kms.decrypt(&v1.ciphertext_blob, &c1)
            .await
            .unwrap()
            .plaintext,
        v1.plaintext
    );
    assert_eq!(
        kms.decrypt(&v2.ciphertext_blob, &c1)
            .await
            .unwrap()
            .plaintext,
        v2.plaintext
    );

    let re = |blob: &[u8], dest: &str, src: &str, dst: &str| pb::ReEncryptRequest {
        ciphertext_blob: blob.to_vec(),
        destination_key_id: dest.into(),
        source_encryption_context: src.into(),
        destination_encryption_context: dst.into(),
    };
    // Old version -> newest version of the same key.
    let r = kms
        .client
        .re_encrypt(re(&v1.ciphertext_blob, "", &c1, &c1))
        .await
        .unwrap()
        .into_inner();
    assert!(r.re_encrypted);
    assert_eq!(
        (
            r.key_id.as_str(),
            r.key_version,
            r.source_key_id.as_str(),
            r.source_key_version
        ),
        (a.as_str(), 2, a.as_str(), 1)
    );
    assert_eq!(
        kms.decrypt(&r.ciphertext_blob, &c1)
            .await
            .unwrap()
            .plaintext,
        v1.plaintext
    );
    // Already newest, same context: unchanged, the very same bytes.
    let r = kms
        .client
        .re_encrypt(re(&v2.ciphertext_blob, &a, &c1, &c1))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.re_encrypted);
    assert_eq!(r.ciphertext_blob, v2.ciphertext_blob);
    // New context on the same key.
    let r = kms
        .client
        .re_encrypt(re(&v2.ciphertext_blob, "", &c1, &c2))
        .await
        .unwrap()
        .into_inner();
    assert!(r.re_encrypted);
    assert_eq!(
        kms.decrypt(&r.ciphertext_blob, &c2)
            .await
            .unwrap()
            .plaintext,
        v2.plaintext
    );
    assert_eq!(
        kms.decrypt(&r.ciphertext_blob, &c1)
            .await
            .unwrap_err()
            .message(),
        INVALID
    );
    // To another key, by alias.
    let r = kms
        .client
        .re_encrypt(re(&v1.ciphertext_blob, "alias/b", &c1, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (r.key_id.as_str(), r.source_key_id.as_str()),
        (b.as_str(), a.as_str())
    );
    assert_eq!(
        kms.decrypt(&r.ciphertext_blob, "").await.unwrap().plaintext,
        v1.plaintext
    );
    // Wrong source context: opaque; unknown destination: not found; disabled destination: state.
    let err = kms
        .client
        .re_encrypt(re(&v1.ciphertext_blob, "", &c2, &c2))
        .await
        .unwrap_err();
    assert_status(&err, Code::InvalidArgument, INVALID, INVALID_CODE);
    let err = kms
        .client
        .re_encrypt(re(&v1.ciphertext_blob, "ghost", &c1, ""))
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::NotFound,
        "key ghost not found",
        "ResourceUnavailable.CmkNotFound",
    );
    kms.client
        .disable_key(pb::DisableKeyRequest { key_id: b.clone() })
        .await
        .unwrap();
    let err = kms
        .client
        .re_encrypt(re(&v1.ciphertext_blob, &b, &c1, ""))
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {b} is Disabled"),
        "ResourceUnavailable.CmkDisabled",
    );
}

#[tokio::test]
async fn batch_calls_report_each_item() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("batch").await;
    let c = ctx(&[("b", "1")]);
    let item = |key: &str| pb::GenerateDataKeyRequest {
        key_id: key.into(),
        key_spec: pb::KeySpec::Aes256 as i32,
        number_of_bytes: 0,
        encryption_context: c.clone(),
        ..Default::default()
    };
    let resp = kms
        .client
        .batch_generate_data_key(pb::BatchGenerateDataKeyRequest {
            items: vec![item(&id), item("ghost"), item(&id)],
            without_plaintext: false,
        })
        .await
        .unwrap()
        .into_inner();
    use pb::batch_generate_data_key_result::Result as G;
    let mut blobs = Vec::new();
    for (i, r) in resp.results.into_iter().enumerate() {
        match (i, r.result.unwrap()) {
            (1, G::Error(e)) => {
                assert_eq!(
                    (e.code, e.message.as_str(), e.error_code.as_str()),
                    (
                        Code::NotFound as i32,
                        "key ghost not found",
                        "ResourceUnavailable.CmkNotFound"
                    )
                );
            }
            (0 | 2, G::Ok(dk)) => blobs.push(dk),
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut items: Vec<_> = blobs
        .iter()
        .map(|dk| pb::DecryptRequest {
            ciphertext_blob: dk.ciphertext_blob.clone(),
            encryption_context: c.clone(),
            ..Default::default()
        })
        .collect();
    items.push(pb::DecryptRequest {
        ciphertext_blob: blobs[0].ciphertext_blob.clone(),
        encryption_context: String::new(),
        ..Default::default()
    });
    let resp = kms
        .client
        .batch_decrypt(pb::BatchDecryptRequest { items })
        .await
        .unwrap()
        .into_inner();
    use pb::batch_decrypt_result::Result as D;
    assert_eq!(resp.results.len(), 3);
    for (i, r) in resp.results.into_iter().enumerate() {
        match (i, r.result.unwrap()) {
            (0 | 1, D::Ok(d)) => assert_eq!(d.plaintext, blobs[i].plaintext),
            (2, D::Error(e)) => assert_eq!(
                (e.code, e.message.as_str()),
                (Code::InvalidArgument as i32, INVALID)
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
    // Without plaintext; and the size limits.
    let resp = kms
        .client
        .batch_generate_data_key(pb::BatchGenerateDataKeyRequest {
            items: vec![item(&id)],
            without_plaintext: true,
        })
        .await
        .unwrap()
        .into_inner();
    match resp.results[0].result.as_ref().unwrap() {
        G::Ok(dk) => assert!(dk.plaintext.is_empty() && !dk.ciphertext_blob.is_empty()),
        G::Error(e) => panic!("{e:?}"),
    }
    for n in [0, 1001] {
        let err = kms
            .client
            .batch_generate_data_key(pb::BatchGenerateDataKeyRequest {
                items: vec![item(&id); n],
                without_plaintext: false,
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
    let err = kms
        .client
        .batch_decrypt(pb::BatchDecryptRequest { items: vec![] })
        .await
        .unwrap_err();
    assert_eq!(err.message(), "a batch must have 1..=1000 items, got 0");
}
