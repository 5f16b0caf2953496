//! The library against the real server: every RPC, the typed errors with the server's message and
//! Tencent error code, batch calls with per-item failures, and secrets that never print.

mod common;

use common::Server;
use kms_client::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, Error, GenerateDataKeyRequest, KeySpec,
    KeyState, KmsClient, ListKeysRequest, ReEncryptRequest, encryption_context,
};

async fn client(server: &Server) -> KmsClient {
    KmsClient::connect(server.endpoint()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_through_the_library() {
    let dir = common::tempdir();
    let server = Server::start(dir.path());
    let kms = client(&server).await;

    let key = kms
        .create_key(CreateKeyRequest::new("lib").description("library test"))
        .await
        .unwrap();
    assert_eq!(key.state, KeyState::Enabled);
    assert_eq!(key.alias, "lib");
    assert_eq!(key.current_key_version, 1);
    assert!(key.create_time.is_some());
    let id = key.key_id.clone();
    assert_eq!(kms.describe_key("alias/lib").await.unwrap(), key);

    let page = kms.list_keys(&ListKeysRequest::default()).await.unwrap();
    assert_eq!(page.total_count, 1);
    let all = kms
        .list_all_keys(&ListKeysRequest {
            include_service_keys: true,
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(all.len() >= 3, "paged through every key: {all:?}");
    let default = kms.get_default_key().await.unwrap();
    assert!(all.iter().any(|k| k.key_id == default.key_id));

    kms.update_alias(&id, "lib2").await.unwrap();
    kms.update_key_description("lib2", "changed").await.unwrap();
    assert_eq!(kms.describe_key(&id).await.unwrap().description, "changed");

    kms.enable_key_rotation(&id, Some(30)).await.unwrap();
    let st = kms.get_key_rotation_status(&id).await.unwrap();
    assert!(st.key_rotation_enabled);
    assert_eq!(st.rotate_days, 30);
    kms.disable_key_rotation(&id).await.unwrap();
    assert!(
        !kms.get_key_rotation_status(&id)
            .await
            .unwrap()
            .key_rotation_enabled
    );

    let ctx = encryption_context([("bucket", "b"), ("object", "o")]).unwrap();
    let dk = kms
        .generate_data_key(
            GenerateDataKeyRequest::new(&id)
                .key_spec(KeySpec::Aes128)
                .encryption_context(&ctx),
        )
        .await
        .unwrap();
    assert_eq!(dk.plaintext.len(), 16);
    let shown = format!("{dk:?}");
    assert!(shown.contains("REDACTED"), "{shown}");
    let sealed_only = kms
        .generate_data_key_without_plaintext(GenerateDataKeyRequest::new(&id).number_of_bytes(48))
        .await
        .unwrap();
    assert_eq!(
        kms.decrypt(DecryptRequest::new(sealed_only.ciphertext_blob))
            .await
            .unwrap()
            .plaintext
            .len(),
        48
    );

    let opened = kms
        .decrypt(DecryptRequest::new(dk.ciphertext_blob.clone()).encryption_context(&ctx))
        .await
        .unwrap();
    assert_eq!(opened.plaintext, dk.plaintext);
    assert_eq!(opened.key_id, id);

    let c = kms
        .encrypt(EncryptRequest::new(&id, "hello").encryption_context(&ctx))
        .await
        .unwrap();
    assert_eq!(c.key_version, 1);

    let rotated = kms.rotate_key(&id).await.unwrap();
    assert_eq!(rotated.key_version, 2);
    let r = kms
        .re_encrypt(
            ReEncryptRequest::new(c.ciphertext_blob.clone())
                .source_encryption_context(&ctx)
                .destination_encryption_context(&ctx),
        )
        .await
        .unwrap();
    assert!(r.re_encrypted);
    assert_eq!((r.source_key_version, r.key_version), (1, 2));
    let back = kms
        .decrypt(DecryptRequest::new(r.ciphertext_blob).encryption_context(&ctx))
        .await
        .unwrap();
    assert_eq!(back.plaintext.expose_secret(), b"hello");

    assert_eq!(kms.generate_random(24).await.unwrap().len(), 24);

    // Batches: each item on its own.
    let other = kms.create_key(CreateKeyRequest::new("off")).await.unwrap();
    kms.disable_key("off").await.unwrap();
    let results = kms
        .batch_generate_data_key(vec![
            GenerateDataKeyRequest::new(&id).encryption_context(&ctx),
            GenerateDataKeyRequest::new("off"),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    let good = results[0].as_ref().unwrap();
    assert_eq!(good.plaintext.len(), 32);
    let bad = results[1].as_ref().unwrap_err();
    assert!(matches!(bad, Error::KeyStateConflict { .. }), "{bad:?}");
    assert_eq!(bad.to_string(), format!("key {} is Disabled", other.key_id));
    assert_eq!(bad.error_code(), Some("ResourceUnavailable.CmkDisabled"));

    let sealed = kms
        .batch_generate_data_key_without_plaintext(vec![GenerateDataKeyRequest::new(&id)])
        .await
        .unwrap();
    let sealed = sealed[0].as_ref().unwrap();

    let results = kms
        .batch_decrypt(vec![
            DecryptRequest::new(good.ciphertext_blob.clone()).encryption_context(&ctx),
            DecryptRequest::new(good.ciphertext_blob.clone()),
            DecryptRequest::new(sealed.ciphertext_blob.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().plaintext, good.plaintext);
    let e = results[1].as_ref().unwrap_err();
    assert!(matches!(e, Error::InvalidCiphertext { .. }), "{e:?}");
    assert_eq!(results[2].as_ref().unwrap().plaintext.len(), 32);

    // Lifecycle.
    kms.archive_key(&id).await.unwrap();
    assert_eq!(
        kms.describe_key(&id).await.unwrap().state,
        KeyState::Archived
    );
    kms.cancel_key_archive(&id).await.unwrap();
    kms.disable_key(&id).await.unwrap();
    let d = kms.schedule_key_deletion(&id, 30).await.unwrap();
    assert_eq!(d.key_id, id);
    let m = kms.describe_key(&id).await.unwrap();
    assert_eq!(m.state, KeyState::PendingDelete);
    assert_eq!(m.deletion_date, Some(d.deletion_date));
    assert_eq!(kms.cancel_key_deletion(&id).await.unwrap(), id);
    kms.enable_key(&id).await.unwrap();

    // Admin: seeding.
    let doc = "keys:\n  - key_id: 6f1c2d3e-0000-4000-8000-0000000000c1\n    alias: seeded\n";
    let s = kms.seed_keys(doc).await.unwrap();
    assert_eq!((s.changed, s.total), (1, 1));
    assert_eq!(kms.seed_keys(doc).await.unwrap().changed, 0);
    let e = kms
        .seed_keys("keys:\n  - key_id: nope\n    alias: x\n")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert!(e.to_string().starts_with("seed: line 2: "), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_typed_with_message_and_tencent_code() {
    let dir = common::tempdir();
    let server = Server::start(dir.path());
    let kms = client(&server).await;
    let key = kms
        .create_key(CreateKeyRequest::new("typed"))
        .await
        .unwrap();

    let e = kms.describe_key("missing").await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert_eq!(e.to_string(), "key missing not found");
    assert_eq!(e.error_code(), Some("ResourceUnavailable.CmkNotFound"));

    let e = kms
        .create_key(CreateKeyRequest::new("typed"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AliasExists { .. }), "{e:?}");
    assert!(
        e.error_code()
            .is_some_and(|c| c.contains("AliasAlreadyExists")),
        "{e:?}"
    );

    let e = kms
        .create_key(CreateKeyRequest::new("no spaces"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");

    let e = kms
        .decrypt(DecryptRequest::new(b"garbage".to_vec()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidCiphertext { .. }), "{e:?}");
    assert_eq!(
        e.error_code(),
        Some("InvalidParameterValue.InvalidCiphertext")
    );

    let e = kms.schedule_key_deletion(&key.key_id, 7).await.unwrap_err();
    assert!(matches!(e, Error::KeyStateConflict { .. }), "{e:?}");
    assert_eq!(e.to_string(), format!("key {} is Enabled", key.key_id));

    let default = kms.get_default_key().await.unwrap();
    let e = kms.disable_key(&default.key_id).await.unwrap_err();
    assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");
    assert!(e.error_code().is_some());

    let e = kms.generate_random(0).await.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_reached_again_by_the_same_client() {
    let dir = common::tempdir();
    let server = Server::start(dir.path());
    let kms = client(&server).await;
    let key = kms
        .create_key(CreateKeyRequest::new("durable"))
        .await
        .unwrap();
    drop(server);

    // Down: an idempotent call is retried, then reported as unavailable.
    let e = kms.describe_key("durable").await.unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");

    // Back on another port: a new client reaches the persisted key.
    let server = Server::start(dir.path());
    let kms = client(&server).await;
    assert_eq!(
        kms.describe_key("durable").await.unwrap().key_id,
        key.key_id
    );
}
