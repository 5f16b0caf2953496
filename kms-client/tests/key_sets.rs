//! The calls the gRPC API gained for parity with the Tencent front end, through the library and
//! `kms-admin` against the real server: DescribeKeys, EnableKeys and DisableKeys (list rules and
//! their exact errors), tags on CreateKey, ListKeys' filters and order, and GenerateDataKey and
//! Decrypt sealing their plaintext under the caller's public key.

mod common;

use common::{Server, s};
use kms_client::{
    CreateKeyRequest, DecryptAlgorithm, DecryptRequest, EncryptionAlgorithm, Error,
    GenerateDataKeyRequest, KeyState, KmsClient, ListKeysRequest, Tag, TagFilter,
};

async fn client(server: &Server) -> KmsClient {
    KmsClient::connect(server.endpoint()).await.unwrap()
}

/// The message and Tencent code of an INVALID_ARGUMENT refusal (panics on another error).
fn invalid(e: Error) -> (String, Option<String>) {
    match e {
        Error::InvalidArgument {
            message,
            error_code,
        } => (message, error_code),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

fn code(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_sets_check_their_lists_and_change_all_keys_or_none() {
    let dir = common::tempdir();
    let server = Server::start(dir.path());
    let kms = client(&server).await;
    let mut ids = Vec::new();
    for alias in ["set-a", "set-b", "set-c"] {
        ids.push(
            kms.create_key(CreateKeyRequest::new(alias))
                .await
                .unwrap()
                .key_id,
        );
    }
    let described = kms.describe_keys(&["set-c", &ids[0]]).await.unwrap();
    let aliases: Vec<&str> = described.iter().map(|m| m.alias.as_str()).collect();
    assert_eq!(aliases, ["set-c", "set-a"]);

    // Bad lists: the same refusal from each call, and nothing changes.
    let too_many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    let empty: Vec<String> = Vec::new();
    let dup = vec![ids[0].clone(), ids[1].clone(), ids[0].clone()];
    let cases: [(&[String], String, &str); 3] = [
        (
            &empty,
            "key_ids must name 1..=100 keys, got 0".into(),
            "InvalidParameterValue",
        ),
        (
            &too_many,
            "key_ids must name 1..=100 keys, got 101".into(),
            "InvalidParameterValue",
        ),
        (
            &dup,
            format!("key_ids names {:?} twice", ids[0]),
            "InvalidParameterValue.DuplicatedKeyId",
        ),
    ];
    for (list, message, tencent) in cases {
        let want = (message.clone(), code(tencent));
        assert_eq!(invalid(kms.describe_keys(list).await.unwrap_err()), want);
        assert_eq!(invalid(kms.enable_keys(list).await.unwrap_err()), want);
        assert_eq!(invalid(kms.disable_keys(list).await.unwrap_err()), want);
    }
    // An unknown key anywhere in the list: NOT_FOUND, and the keys before it are not changed.
    let e = kms
        .disable_keys(&[ids[0].as_str(), "no-such-key"])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::NotFound { message, .. } if message == "key no-such-key not found"),
        "{e:?}"
    );
    assert_eq!(e.error_code(), Some("ResourceUnavailable.CmkNotFound"));
    assert_eq!(
        kms.describe_key(&ids[0]).await.unwrap().state,
        KeyState::Enabled
    );

    // Names resolve to UUIDs, returned in order.
    assert_eq!(
        kms.disable_keys(&["set-a", "alias/set-b"]).await.unwrap(),
        [ids[0].clone(), ids[1].clone()]
    );
    let states = |all: Vec<kms_client::KeyMetadata>| -> Vec<KeyState> {
        all.into_iter().map(|m| m.state).collect()
    };
    assert_eq!(
        states(kms.describe_keys(&ids).await.unwrap()),
        [KeyState::Disabled, KeyState::Disabled, KeyState::Enabled]
    );
    // All or nothing: a state refusal of the last key (its message naming it) changes none of
    // the keys before it.
    kms.schedule_key_deletion(&ids[1], 7).await.unwrap();
    let e = kms
        .enable_keys(&[ids[0].as_str(), ids[2].as_str(), ids[1].as_str()])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::KeyStateConflict { message, .. }
            if *message == format!("key {} is PendingDelete", ids[1])),
        "{e:?}"
    );
    assert_eq!(
        e.error_code(),
        Some("ResourceUnavailable.CmkStateNotSupport")
    );
    assert_eq!(
        states(kms.describe_keys(&ids).await.unwrap()),
        [
            KeyState::Disabled,
            KeyState::PendingDelete,
            KeyState::Enabled
        ]
    );
    // A service key last: DisableKeys is refused and changes nothing.
    let e = kms
        .disable_keys(&[ids[2].as_str(), "alias/kms-cos-sse"])
        .await
        .unwrap_err();
    assert_eq!(
        e.error_code(),
        Some("UnsupportedOperation.NotUserCreatedCmk")
    );
    assert_eq!(
        kms.describe_key(&ids[2]).await.unwrap().state,
        KeyState::Enabled
    );

    // kms-admin: the three subcommands, and a refusal with exit status 1.
    let v = server.json(&["describe-keys", "set-a", "set-c"]);
    assert_eq!(v["KeyMetadatas"][1]["Alias"], "set-c");
    let v = server.json(&["disable-keys", "set-a", "set-c"]);
    assert_eq!(v["KeyIds"][0], ids[0].as_str());
    let text = server.admin(&["enable-keys", "set-a", "set-c"]).ok();
    assert_eq!(
        text,
        format!("key {} enabled\nkey {} enabled\n", ids[0], ids[2])
    );
    let e = server.admin(&["disable-keys", "set-a", "set-a"]).fails(1);
    assert!(e.contains("key_ids names \"set-a\" twice"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_checked_kept_and_filtered_on() {
    let dir = common::tempdir();
    let server = Server::start(dir.path());
    let kms = client(&server).await;
    let pay = kms
        .create_key(
            CreateKeyRequest::new("t-pay")
                .tag("team", "pay")
                .tag("env", "prod"),
        )
        .await
        .unwrap();
    assert_eq!(
        pay.tags,
        [Tag::new("env", "prod"), Tag::new("team", "pay")],
        "sorted by key"
    );
    assert_eq!(kms.describe_key("t-pay").await.unwrap().tags, pay.tags);
    // Creation times are whole seconds: a second apart, the listing order is known.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let ops = kms
        .create_key(
            CreateKeyRequest::new("t-ops")
                .tag("team", "ops")
                .tag("env", "prod"),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let dev = kms
        .create_key(CreateKeyRequest::new("t-dev").tag("env", "dev").external())
        .await
        .unwrap();
    kms.create_key(CreateKeyRequest::new("other").key_usage("ASYMMETRIC_SIGN_VERIFY_ECC"))
        .await
        .unwrap();

    let rejected = [
        (
            CreateKeyRequest::new("bad").tag("k", "1").tag("k", "2"),
            "tag key \"k\" is given twice",
            "InvalidParameterValue.TagKeysDuplicated",
        ),
        (
            CreateKeyRequest::new("bad").tag("k".repeat(128), "v"),
            "tag key must be 1..=127 characters, got 128",
            "InvalidParameterValue",
        ),
        (
            CreateKeyRequest::new("bad").tag("k", "v".repeat(256)),
            "tag value must be 0..=255 characters, got 256",
            "InvalidParameterValue",
        ),
        (
            CreateKeyRequest::new("bad").tag("qcloud:x", "v"),
            "tag key \"qcloud:x\": the prefix \"qcloud\" is reserved by Tencent Cloud",
            "InvalidParameterValue",
        ),
        (
            CreateKeyRequest::new("bad").tag("k#", "v"),
            "tag key \"k#\" has '#': only letters, digits, spaces and + - = . _ : / @ are allowed",
            "InvalidParameterValue",
        ),
        (
            (0..51).fold(CreateKeyRequest::new("bad"), |r, i| {
                r.tag(format!("k{i}"), "v")
            }),
            "a key may have at most 50 tags, got 51",
            "InvalidParameterValue",
        ),
    ];
    for (request, message, tencent) in rejected {
        let e = kms.create_key(request).await.unwrap_err();
        assert_eq!(invalid(e), (message.to_owned(), code(tencent)));
    }
    assert!(
        matches!(
            kms.describe_key("bad").await.unwrap_err(),
            Error::NotFound { .. }
        ),
        "no key was made"
    );

    let ids = |request: ListKeysRequest| {
        let kms = kms.clone();
        async move {
            let page = kms.list_keys(&request).await.unwrap();
            let aliases: Vec<String> = page.keys.into_iter().map(|k| k.alias).collect();
            (page.total_count, aliases)
        }
    };
    let by_tags = |filters: Vec<TagFilter>| ListKeysRequest {
        tag_filters: filters,
        ..Default::default()
    };
    assert_eq!(
        ids(by_tags(vec![TagFilter::new("env", ["prod"])])).await,
        (2, vec!["t-pay".into(), "t-ops".into()])
    );
    assert_eq!(
        ids(by_tags(vec![
            TagFilter::new("env", ["prod", "dev"]),
            TagFilter::new("team", ["pay", "x"])
        ]))
        .await,
        (1, vec!["t-pay".into()])
    );
    assert_eq!(
        ids(by_tags(vec![TagFilter::new("team", Vec::<String>::new())])).await,
        (2, vec!["t-pay".into(), "t-ops".into()])
    );
    assert_eq!(
        ids(by_tags(vec![TagFilter::new("owner", ["x"])])).await,
        (0, vec![])
    );
    // Order, search, origin, usage, paging.
    assert_eq!(
        ids(ListKeysRequest {
            newest_first: true,
            search: "t-".into(),
            ..Default::default()
        })
        .await,
        (3, vec!["t-dev".into(), "t-ops".into(), "t-pay".into()])
    );
    assert_eq!(
        ids(ListKeysRequest {
            search: "t-".into(),
            offset: 1,
            limit: 1,
            ..Default::default()
        })
        .await,
        (3, vec!["t-ops".into()])
    );
    assert_eq!(
        ids(ListKeysRequest {
            search: dev.key_id[..8].to_owned(),
            ..Default::default()
        })
        .await,
        (1, vec!["t-dev".into()]),
        "the search matches ids too"
    );
    assert_eq!(
        ids(ListKeysRequest {
            origin: "EXTERNAL".into(),
            ..Default::default()
        })
        .await,
        (1, vec!["t-dev".into()])
    );
    assert_eq!(
        ids(ListKeysRequest {
            key_usage: "ASYMMETRIC_SIGN_VERIFY_ECC".into(),
            ..Default::default()
        })
        .await,
        (1, vec!["other".into()])
    );
    assert_eq!(
        ids(ListKeysRequest {
            state: Some(KeyState::PendingImport),
            search: "t-".into(),
            ..Default::default()
        })
        .await
        .1,
        ["t-dev"]
    );
    let bad_lists = [
        (
            ListKeysRequest {
                origin: "AWS".into(),
                ..Default::default()
            },
            "origin must be TENCENT_KMS or EXTERNAL (or empty), got \"AWS\"",
            "InvalidParameterValue",
        ),
        (
            ListKeysRequest {
                key_usage: "SIGN".into(),
                ..Default::default()
            },
            "key_usage must be one of [\"ENCRYPT_DECRYPT\", \"ASYMMETRIC_DECRYPT_RSA_2048\", \
             \"ASYMMETRIC_DECRYPT_SM2\", \"ASYMMETRIC_SIGN_VERIFY_SM2\", \
             \"ASYMMETRIC_SIGN_VERIFY_ECC\", \"ASYMMETRIC_SIGN_VERIFY_ECDSA384\", \
             \"ASYMMETRIC_SIGN_VERIFY_RSA_2048\"] (or empty), got \"SIGN\"",
            "InvalidParameterValue.InvalidKeyUsage",
        ),
        (
            by_tags(vec![TagFilter::new("", ["x"])]),
            "a tag filter needs a tag key",
            "InvalidParameterValue",
        ),
        (
            by_tags(
                (0..51)
                    .map(|i| TagFilter::new(format!("k{i}"), ["v"]))
                    .collect(),
            ),
            "at most 50 tag filters, got 51",
            "InvalidParameterValue",
        ),
    ];
    for (request, message, tencent) in bad_lists {
        let e = kms.list_keys(&request).await.unwrap_err();
        assert_eq!(
            invalid(e),
            (message.to_owned(), code(tencent)),
            "{request:?}"
        );
    }

    // kms-admin: --tag on create-key, the list-keys filters, tags and ValidTo in describe-key.
    let v = server.json(&[
        "create-key",
        "--alias",
        "t-cli",
        "--tag",
        "env=prod",
        "--tag",
        "x=",
    ]);
    assert_eq!(v["KeyState"], "Enabled");
    let v = server.json(&["describe-key", "t-cli"]);
    assert_eq!(
        v["KeyMetadata"]["Tags"],
        serde_json::json!([{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "x", "TagValue": ""}])
    );
    let v = server.json(&["list-keys", "--tag", "env=prod", "--newest-first"]);
    let listed: Vec<&str> = v["KeyMetadatas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| s(&m["Alias"]))
        .collect();
    assert_eq!(listed, ["t-cli", "t-ops", "t-pay"]);
    let v = server.json(&["list-keys", "--origin", "EXTERNAL", "--search", "t-"]);
    assert_eq!(v["KeyMetadatas"][0]["KeyId"], dev.key_id.as_str());
    let text = server.admin(&["describe-key", "t-pay"]).ok();
    assert!(text.contains("Tags:"), "{text}");
    assert!(text.contains("env=prod, team=pay"), "{text}");
    assert!(
        !text.contains("ValidTo"),
        "only EXTERNAL keys show ValidTo: {text}"
    );
    let text = server.admin(&["describe-key", "t-dev"]).ok();
    assert!(text.contains("ValidTo:"), "{text}");
    assert!(text.contains("never (or no material)"), "{text}");
    let e = server
        .admin(&[
            "create-key",
            "--alias",
            "t-bad",
            "--tag",
            "k=1",
            "--tag",
            "k=2",
        ])
        .fails(1);
    assert!(e.contains("tag key \"k\" is given twice"), "{e}");
    let e = server.admin(&["list-keys", "--origin", "AWS"]).fails(1);
    assert!(e.contains("origin must be TENCENT_KMS or EXTERNAL"), "{e}");
    drop(ops);
}

/// GenerateDataKey and Decrypt with the caller's public key: the plaintext comes back sealed, and
/// only the matching private key (here a KMS decryption key, opened with AsymmetricDecrypt) opens
/// it. A key that does not parse, or the other kind than the algorithm's, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keys_and_plaintexts_can_be_sealed_under_the_callers_key() {
    let dir = common::tempdir();
    let server = Server::start(dir.path());
    let kms = client(&server).await;
    kms.create_key(CreateKeyRequest::new("sym")).await.unwrap();
    for (usage, sealing, opening) in [
        (
            "ASYMMETRIC_DECRYPT_RSA_2048",
            EncryptionAlgorithm::RsaesOaepSha256,
            DecryptAlgorithm::RsaesOaepSha256,
        ),
        (
            "ASYMMETRIC_DECRYPT_SM2",
            EncryptionAlgorithm::Sm2,
            DecryptAlgorithm::Sm2,
        ),
    ] {
        let alias = format!("opener-{}", sealing.as_str().to_lowercase());
        let alias = alias.replace('_', "-");
        kms.create_key(CreateKeyRequest::new(&alias).key_usage(usage))
            .await
            .unwrap();
        let pem = kms.get_public_key(&alias).await.unwrap().pem;
        let sealed = kms
            .generate_data_key(GenerateDataKeyRequest::new("sym").sealed_for(&pem, sealing))
            .await
            .unwrap();
        assert_ne!(
            sealed.plaintext.expose_secret().len(),
            32,
            "not the key in clear"
        );
        let key = kms
            .asymmetric_decrypt(&alias, opening, sealed.plaintext.expose_secret())
            .await
            .unwrap()
            .plaintext;
        assert_eq!(key.expose_secret().len(), 32);
        let clear = kms
            .decrypt(DecryptRequest::new(sealed.ciphertext_blob.clone()))
            .await
            .unwrap();
        assert_eq!(clear.plaintext.expose_secret(), key.expose_secret());
        let resealed = kms
            .decrypt(DecryptRequest::new(sealed.ciphertext_blob).sealed_for(&pem, sealing))
            .await
            .unwrap();
        assert_ne!(resealed.plaintext.expose_secret(), key.expose_secret());
        let opened = kms
            .asymmetric_decrypt(&alias, opening, resealed.plaintext.expose_secret())
            .await
            .unwrap();
        assert_eq!(opened.plaintext.expose_secret(), key.expose_secret());

        // The other kind of algorithm for this key.
        let other = if sealing == EncryptionAlgorithm::Sm2 {
            (
                EncryptionAlgorithm::RsaesOaepSha1,
                "an RSA",
                "RSAES_OAEP_SHA_1",
            )
        } else {
            (
                EncryptionAlgorithm::Sm2C1C3C2Asn1,
                "an SM2",
                "SM2_C1C3C2_ASN1",
            )
        };
        let e = kms
            .generate_data_key(GenerateDataKeyRequest::new("sym").sealed_for(&pem, other.0))
            .await
            .unwrap_err();
        assert_eq!(
            invalid(e),
            (
                format!(
                    "EncryptionPublicKey must be the PEM of {} public key for {}",
                    other.1, other.2
                ),
                code("InvalidParameterValue")
            )
        );
    }
    let e = kms
        .generate_data_key(
            GenerateDataKeyRequest::new("sym").sealed_for("not a pem", EncryptionAlgorithm::Sm2),
        )
        .await
        .unwrap_err();
    assert_eq!(
        invalid(e),
        (
            "EncryptionPublicKey must be the PEM of an SM2 public key for SM2".to_owned(),
            code("InvalidParameterValue")
        )
    );
    let blob = kms
        .encrypt(kms_client::EncryptRequest::new("sym", b"hi".to_vec()))
        .await
        .unwrap()
        .ciphertext_blob;
    let e = kms
        .decrypt(DecryptRequest::new(blob).sealed_for("x", EncryptionAlgorithm::RsaesPkcs1V15))
        .await
        .unwrap_err();
    assert_eq!(
        invalid(e),
        (
            "EncryptionPublicKey must be the PEM of an RSA public key for RSAES_PKCS1_V1_5"
                .to_owned(),
            code("InvalidParameterValue")
        )
    );
    // Not taken where the plaintext is not answered one by one.
    let e = kms
        .batch_generate_data_key(vec![
            GenerateDataKeyRequest::new("sym").sealed_for("x", EncryptionAlgorithm::Sm2),
        ])
        .await
        .unwrap();
    let item = e.into_iter().next().unwrap().unwrap_err();
    assert_eq!(
        invalid(item),
        (
            "encryption_public_key is not taken by BatchGenerateDataKey: use GenerateDataKey"
                .to_owned(),
            code("InvalidParameterValue")
        )
    );
    let e = kms
        .generate_data_key_without_plaintext(
            GenerateDataKeyRequest::new("sym").sealed_for("x", EncryptionAlgorithm::Sm2),
        )
        .await
        .unwrap_err();
    assert_eq!(
        invalid(e),
        (
            "encryption_public_key is not taken by GenerateDataKeyWithoutPlaintext: use \
             GenerateDataKey"
                .to_owned(),
            code("InvalidParameterValue")
        )
    );
    let blob = kms
        .encrypt(kms_client::EncryptRequest::new("sym", b"hi".to_vec()))
        .await
        .unwrap()
        .ciphertext_blob;
    let items = kms
        .batch_decrypt(vec![
            DecryptRequest::new(blob.clone()).sealed_for("x", EncryptionAlgorithm::Sm2),
            DecryptRequest::new(blob),
        ])
        .await
        .unwrap();
    let mut items = items.into_iter();
    assert_eq!(
        invalid(items.next().unwrap().unwrap_err()),
        (
            "encryption_public_key is not taken by BatchDecrypt: use Decrypt".to_owned(),
            code("InvalidParameterValue")
        )
    );
    assert_eq!(
        items.next().unwrap().unwrap().plaintext.expose_secret(),
        b"hi",
        "the other items are answered"
    );
}
