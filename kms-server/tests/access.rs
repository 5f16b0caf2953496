//! Access control over gRPC: every RPC refuses a call without a credential or with an unknown one
//! (UNAUTHENTICATED), refuses an identity the action or the key is not allowed to
//! (PERMISSION_DENIED, naming both), and serves an identity that is allowed. Blobs are judged by
//! the key inside them, listings show a key-scoped identity only its keys, and SIGHUP-style policy
//! replacement takes effect for the next call.
#![cfg(feature = "grpc")]

use std::{future::Future, sync::Arc};

use base64::Engine as _;
use kms_proto::pb::{self, key_management_service_client::KeyManagementServiceClient};
use kms_server::{
    Config, Kms, RootKey,
    access::{Action, Policy},
    audit::{AuditLog, AuditTarget},
    server::{self, ServerOptions},
    service::{AccessControl, Observers},
};
use sha2::{Digest as _, Sha256};
use tonic::{Code, Request, Status, transport::Channel};

const ADMIN: &str = "admin-token-0123456789abcdef";
const STORAGE: &str = "storage-token-0123456789abcdef";
const READER: &str = "reader-token-0123456789abcdef";

fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn policy_text(storage_keys: &str) -> String {
    format!(
        r#"
identities:
  - name: admin
    token_sha256: "{}"
    allow: ["*"]
  - name: storage
    token_sha256: "{}"
    allow: [GenerateDataKey, GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt, ReEncrypt,
            BatchGenerateDataKey, BatchDecrypt, GetDefaultKey, DescribeKey, ListKeys,
            EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion, ArchiveKey,
            CancelKeyArchive, UpdateAlias, UpdateKeyDescription, EnableKeyRotation,
            DisableKeyRotation, GetKeyRotationStatus, RotateKey, CreateKey, SeedKeys,
            GetPublicKey, Sign, Verify, AsymmetricDecrypt, GetParametersForImport,
            ImportKeyMaterial, DeleteImportedKeyMaterial, DescribeKeys, EnableKeys, DisableKeys]
    keys: {storage_keys}
  - name: reader
    token_sha256: "{}"
    allow: [DescribeKey]
"#,
        sha(ADMIN),
        sha(STORAGE),
        sha(READER)
    )
}

struct Running {
    client: KeyManagementServiceClient<Channel>,
    access: Arc<AccessControl>,
    /// The server's KMS, to set up and look at keys behind the server's back.
    kms: Arc<Kms>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(policy: &str) -> Running {
    start_observed(policy, Observers::default()).await
}

async fn start_observed(policy: &str, observers: Observers) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(
        Kms::open(Config::new(
            dir.path(),
            RootKey::from_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").unwrap(),
        ))
        .unwrap(),
    );
    let access = Arc::new(AccessControl::enforce(Policy::parse(policy).unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = ServerOptions {
        access: access.clone(),
        observers: Arc::new(observers),
        ..ServerOptions::default()
    };
    tokio::spawn(server::serve(listener, kms.clone(), options, async move {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Running {
        client: KeyManagementServiceClient::new(channel),
        access,
        kms,
        stop: Some(stop),
        _dir: dir,
    }
}

fn with<T>(token: Option<&str>, message: T) -> Request<T> {
    let mut r = Request::new(message);
    if let Some(token) = token {
        r.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    r
}

/// Blobs and key names the calls use.
struct Fixture {
    app_key: String,
    secret_key: String,
    app_blob: Vec<u8>,
    secret_blob: Vec<u8>,
}

/// A new key named `alias`, made by the admin identity; its UUID.
async fn create_as_admin(c: &mut KeyManagementServiceClient<Channel>, alias: &str) -> String {
    c.create_key(with(
        Some(ADMIN),
        pb::CreateKeyRequest {
            alias: alias.to_owned(),
            ..Default::default()
        },
    ))
    .await
    .unwrap()
    .into_inner()
    .key_metadata
    .unwrap()
    .key_id
}

async fn fixture(c: &mut KeyManagementServiceClient<Channel>) -> Fixture {
    let mut make = async |alias: &str| {
        let id = create_as_admin(c, alias).await;
        let blob = c
            .encrypt(with(
                Some(ADMIN),
                pb::EncryptRequest {
                    key_id: id.clone(),
                    plaintext: b"hello".to_vec(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .ciphertext_blob;
        (id, blob)
    };
    let (app_key, app_blob) = make("app-one").await;
    let (secret_key, secret_blob) = make("secret-one").await;
    Fixture {
        app_key,
        secret_key,
        app_blob,
        secret_blob,
    }
}

fn gdk(key: &str) -> pb::GenerateDataKeyRequest {
    pb::GenerateDataKeyRequest {
        key_id: key.to_owned(),
        key_spec: pb::KeySpec::Aes256 as i32,
        ..Default::default()
    }
}

/// One call of `action` on `key` (or the blob of `key`), with the outer status only.
async fn call(
    c: &mut KeyManagementServiceClient<Channel>,
    action: Action,
    token: Option<&str>,
    key: &str,
    blob: &[u8],
) -> Result<(), Status> {
    async fn done<T>(f: impl Future<Output = Result<T, Status>>) -> Result<(), Status> {
        f.await.map(drop)
    }
    let t = token;
    let id = || key.to_owned();
    match action {
        Action::CreateKey => {
            done(c.create_key(with(
                t,
                pb::CreateKeyRequest {
                    alias: format!("{key}-new"),
                    ..Default::default()
                },
            )))
            .await
        }
        Action::DescribeKey => {
            done(c.describe_key(with(t, pb::DescribeKeyRequest { key_id: id() }))).await
        }
        Action::ListKeys => done(c.list_keys(with(t, pb::ListKeysRequest::default()))).await,
        Action::EnableKey => {
            done(c.enable_key(with(t, pb::EnableKeyRequest { key_id: id() }))).await
        }
        Action::DisableKey => {
            done(c.disable_key(with(t, pb::DisableKeyRequest { key_id: id() }))).await
        }
        Action::ScheduleKeyDeletion => {
            done(c.schedule_key_deletion(with(
                t,
                pb::ScheduleKeyDeletionRequest {
                    key_id: id(),
                    pending_window_in_days: 7,
                },
            )))
            .await
        }
        Action::CancelKeyDeletion => {
            done(c.cancel_key_deletion(with(t, pb::CancelKeyDeletionRequest { key_id: id() })))
                .await
        }
        Action::ArchiveKey => {
            done(c.archive_key(with(t, pb::ArchiveKeyRequest { key_id: id() }))).await
        }
        Action::CancelKeyArchive => {
            done(c.cancel_key_archive(with(t, pb::CancelKeyArchiveRequest { key_id: id() }))).await
        }
        Action::UpdateAlias => {
            done(c.update_alias(with(
                t,
                pb::UpdateAliasRequest {
                    key_id: id(),
                    alias: "renamed".to_owned(),
                },
            )))
            .await
        }
        Action::UpdateKeyDescription => {
            done(c.update_key_description(with(
                t,
                pb::UpdateKeyDescriptionRequest {
                    key_id: id(),
                    description: "d".to_owned(),
                },
            )))
            .await
        }
        Action::EnableKeyRotation => {
            done(c.enable_key_rotation(with(
                t,
                pb::EnableKeyRotationRequest {
                    key_id: id(),
                    rotate_days: 30,
                },
            )))
            .await
        }
        Action::DisableKeyRotation => {
            done(c.disable_key_rotation(with(t, pb::DisableKeyRotationRequest { key_id: id() })))
                .await
        }
        Action::GetKeyRotationStatus => {
            done(
                c.get_key_rotation_status(with(
                    t,
                    pb::GetKeyRotationStatusRequest { key_id: id() },
                )),
            )
            .await
        }
        Action::RotateKey => {
            done(c.rotate_key(with(t, pb::RotateKeyRequest { key_id: id() }))).await
        }
        Action::GetDefaultKey => {
            done(c.get_default_key(with(t, pb::GetDefaultKeyRequest {}))).await
        }
        Action::GenerateDataKey => done(c.generate_data_key(with(t, gdk(key)))).await,
        Action::GenerateDataKeyWithoutPlaintext => {
            done(c.generate_data_key_without_plaintext(with(t, gdk(key)))).await
        }
        Action::Encrypt => {
            done(c.encrypt(with(
                t,
                pb::EncryptRequest {
                    key_id: id(),
                    plaintext: b"x".to_vec(),
                    ..Default::default()
                },
            )))
            .await
        }
        Action::Decrypt => {
            done(c.decrypt(with(
                t,
                pb::DecryptRequest {
                    ciphertext_blob: blob.to_vec(),
                    ..Default::default()
                },
            )))
            .await
        }
        Action::ReEncrypt => {
            done(c.re_encrypt(with(
                t,
                pb::ReEncryptRequest {
                    ciphertext_blob: blob.to_vec(),
                    ..Default::default()
                },
            )))
            .await
        }
        Action::GenerateRandom => {
            done(c.generate_random(with(
                t,
                pb::GenerateRandomRequest {
                    number_of_bytes: 16,
                },
            )))
            .await
        }
        Action::BatchGenerateDataKey => {
            let r = c
                .batch_generate_data_key(with(
                    t,
                    pb::BatchGenerateDataKeyRequest {
                        items: vec![gdk(key)],
                        without_plaintext: false,
                    },
                ))
                .await?;
            item_status(r.into_inner().results[0].result.as_ref().map(|r| match r {
                pb::batch_generate_data_key_result::Result::Ok(_) => None,
                pb::batch_generate_data_key_result::Result::Error(e) => Some(e.clone()),
            }))
        }
        Action::BatchDecrypt => {
            let r = c
                .batch_decrypt(with(
                    t,
                    pb::BatchDecryptRequest {
                        items: vec![pb::DecryptRequest {
                            ciphertext_blob: blob.to_vec(),
                            ..Default::default()
                        }],
                    },
                ))
                .await?;
            item_status(r.into_inner().results[0].result.as_ref().map(|r| match r {
                pb::batch_decrypt_result::Result::Ok(_) => None,
                pb::batch_decrypt_result::Result::Error(e) => Some(e.clone()),
            }))
        }
        Action::SeedKeys => {
            done(c.seed_keys(with(
                t,
                pb::SeedKeysRequest {
                    document: "keys: []\n".to_owned(),
                },
            )))
            .await
        }
        Action::GetPublicKey => {
            done(c.get_public_key(with(t, pb::GetPublicKeyRequest { key_id: id() }))).await
        }
        Action::Sign => {
            done(c.sign(with(
                t,
                pb::SignRequest {
                    key_id: id(),
                    algorithm: "SM2DSA".to_owned(),
                    message: b"m".to_vec(),
                    ..Default::default()
                },
            )))
            .await
        }
        Action::Verify => {
            done(c.verify(with(
                t,
                pb::VerifyRequest {
                    key_id: id(),
                    algorithm: "SM2DSA".to_owned(),
                    message: b"m".to_vec(),
                    ..Default::default()
                },
            )))
            .await
        }
        Action::AsymmetricDecrypt => {
            done(c.asymmetric_decrypt(with(
                t,
                pb::AsymmetricDecryptRequest {
                    key_id: id(),
                    algorithm: "SM2".to_owned(),
                    ciphertext: vec![0; 97],
                },
            )))
            .await
        }
        Action::GetParametersForImport => {
            done(c.get_parameters_for_import(with(
                t,
                pb::GetParametersForImportRequest {
                    key_id: id(),
                    wrapping_algorithm: "RSAES_OAEP_SHA_256".to_owned(),
                    wrapping_key_spec: "RSA_2048".to_owned(),
                },
            )))
            .await
        }
        Action::ImportKeyMaterial => {
            done(c.import_key_material(with(
                t,
                pb::ImportKeyMaterialRequest {
                    key_id: id(),
                    encrypted_key_material: vec![0; 256],
                    import_token: "t".to_owned(),
                    valid_to: 0,
                },
            )))
            .await
        }
        Action::DeleteImportedKeyMaterial => {
            done(c.delete_imported_key_material(with(
                t,
                pb::DeleteImportedKeyMaterialRequest { key_id: id() },
            )))
            .await
        }
        Action::DescribeKeys => {
            done(c.describe_keys(with(
                t,
                pb::DescribeKeysRequest {
                    key_ids: vec![id()],
                },
            )))
            .await
        }
        Action::EnableKeys => {
            done(c.enable_keys(with(
                t,
                pb::EnableKeysRequest {
                    key_ids: vec![id()],
                },
            )))
            .await
        }
        Action::DisableKeys => {
            done(c.disable_keys(with(
                t,
                pb::DisableKeysRequest {
                    key_ids: vec![id()],
                },
            )))
            .await
        }
        other => panic!("no call for {other}"),
    }
}

/// A batch item's error as a status, so batch items are judged like whole calls.
fn item_status(item: Option<Option<pb::ItemError>>) -> Result<(), Status> {
    match item.expect("an item result") {
        None => Ok(()),
        Some(e) => {
            let mut s = Status::new(Code::from(e.code), e.message);
            s.metadata_mut()
                .insert("x-kms-error-code", e.error_code.parse().unwrap());
            Err(s)
        }
    }
}

fn expect_refusal(
    result: Result<(), Status>,
    code: Code,
    tencent: &str,
    message: &str,
    what: &str,
) {
    let s = result.expect_err(what);
    assert_eq!(s.code(), code, "{what}: {s:?}");
    assert_eq!(s.message(), message, "{what}");
    assert_eq!(
        s.metadata()
            .get("x-kms-error-code")
            .unwrap()
            .to_str()
            .unwrap(),
        tencent,
        "{what}"
    );
}

/// Every RPC x {no credential, unknown token, action not allowed, key not allowed, allowed}.
#[tokio::test]
async fn every_rpc_checks_the_credential_the_action_and_the_key() {
    let mut s = start(&policy_text(r#"["alias/app-*"]"#)).await;
    let fx = fixture(&mut s.client).await;
    let c = &mut s.client;
    for action in Action::ALL {
        let what = action.as_str();
        expect_refusal(
            call(c, action, None, &fx.app_key, &fx.app_blob).await,
            Code::Unauthenticated,
            "AuthFailure",
            "no credential: send `authorization: Bearer <token>` metadata or a client certificate",
            what,
        );
        expect_refusal(
            call(
                c,
                action,
                Some("not-a-known-token"),
                &fx.app_key,
                &fx.app_blob,
            )
            .await,
            Code::Unauthenticated,
            "AuthFailure",
            "unknown bearer token",
            what,
        );
        if action != Action::DescribeKey {
            expect_refusal(
                call(c, action, Some(READER), &fx.app_key, &fx.app_blob).await,
                Code::PermissionDenied,
                "UnauthorizedOperation",
                &format!("identity reader may not call {action}"),
                what,
            );
        }
        // The storage identity is limited to alias/app-*: the secret key is refused by name (and
        // by the key inside its blob), with the key as the caller gave it.
        let keyless = matches!(action, Action::ListKeys | Action::GenerateRandom);
        if !keyless {
            // GetDefaultKey names no key: its refusal names the default key by its (public) alias,
            // not by a UUID the caller never gave.
            let shown = match action {
                Action::CreateKey => format!("alias/{}-new", fx.secret_key),
                Action::GetDefaultKey => "alias/kms-cos".to_owned(),
                _ => fx.secret_key.clone(),
            };
            let refused = call(c, action, Some(STORAGE), &fx.secret_key, &fx.secret_blob).await;
            let message = match action {
                Action::SeedKeys => {
                    "identity storage may not call SeedKeys: it is limited to some keys".to_owned()
                }
                _ => format!("identity storage may not call {action} on key {shown}"),
            };
            expect_refusal(
                refused,
                Code::PermissionDenied,
                "UnauthorizedOperation",
                &message,
                what,
            );
        }
        // Allowed: the admin on the secret key never meets an access refusal.
        if let Err(s) = call(c, action, Some(ADMIN), &fx.secret_key, &fx.secret_blob).await {
            assert!(
                !matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied),
                "{what}: {s:?}"
            );
        }
    }
}

/// What a key-scoped identity may do, it does; what it sees is only its keys; and a name that
/// resolves to nothing is refused like a forbidden key.
#[tokio::test]
async fn a_key_scoped_identity_works_within_its_keys_and_sees_only_them() {
    let mut s = start(&policy_text(r#"["alias/app-*"]"#)).await;
    let fx = fixture(&mut s.client).await;
    let c = &mut s.client;
    for action in [
        Action::GenerateDataKey,
        Action::GenerateDataKeyWithoutPlaintext,
        Action::Encrypt,
        Action::Decrypt,
        Action::ReEncrypt,
        Action::DescribeKey,
        Action::DescribeKeys,
        Action::BatchGenerateDataKey,
        Action::BatchDecrypt,
        Action::GetKeyRotationStatus,
    ] {
        call(c, action, Some(STORAGE), &fx.app_key, &fx.app_blob)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e:?}"));
    }
    // By alias too.
    call(
        c,
        Action::GenerateDataKey,
        Some(STORAGE),
        "alias/app-one",
        &[],
    )
    .await
    .unwrap();
    let listed = c
        .list_keys(with(Some(STORAGE), pb::ListKeysRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<String> = listed.keys.iter().map(|k| k.key_id.clone()).collect();
    assert_eq!(ids, std::slice::from_ref(&fx.app_key));
    assert_eq!(listed.total_count, 1);
    let all = c
        .list_keys(with(Some(ADMIN), pb::ListKeysRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(all.total_count >= 2, "{all:?}");
    // A name that exists nowhere is refused exactly like a forbidden one.
    expect_refusal(
        call(
            c,
            Action::DescribeKey,
            Some(STORAGE),
            "alias/app-nothing",
            &[],
        )
        .await,
        Code::PermissionDenied,
        "UnauthorizedOperation",
        "identity storage may not call DescribeKey on key alias/app-nothing",
        "unknown name",
    );
    // ReEncrypt into a forbidden destination is refused, naming it.
    let moved = c
        .re_encrypt(with(
            Some(STORAGE),
            pb::ReEncryptRequest {
                ciphertext_blob: fx.app_blob.clone(),
                destination_key_id: "alias/secret-one".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .map(drop);
    expect_refusal(
        moved,
        Code::PermissionDenied,
        "UnauthorizedOperation",
        "identity storage may not call ReEncrypt on key alias/secret-one",
        "destination",
    );
    // A batch with an allowed and a forbidden blob: each item its own answer.
    let both = c
        .batch_decrypt(with(
            Some(STORAGE),
            batch_decrypt_of(&[&fx.app_blob, &fx.secret_blob]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        both.results[0].result,
        Some(pb::batch_decrypt_result::Result::Ok(_))
    ));
    match &both.results[1].result {
        Some(pb::batch_decrypt_result::Result::Error(e)) => {
            assert_eq!(e.code, Code::PermissionDenied as i32);
            assert_eq!(e.error_code, "UnauthorizedOperation");
        }
        other => panic!("{other:?}"),
    }
    // Renaming an own key under an alias outside the patterns is refused.
    let renamed = c
        .update_alias(with(
            Some(STORAGE),
            pb::UpdateAliasRequest {
                key_id: fx.app_key.clone(),
                alias: "secret-two".to_owned(),
            },
        ))
        .await
        .map(drop);
    expect_refusal(
        renamed,
        Code::PermissionDenied,
        "UnauthorizedOperation",
        "identity storage may not call UpdateAlias on key alias/secret-two",
        "rename",
    );
}

/// A replaced policy (what SIGHUP does) applies to the next call.
#[tokio::test]
async fn a_replaced_policy_applies_to_the_next_call() {
    let mut s = start(&policy_text(r#"["alias/app-*"]"#)).await;
    let fx = fixture(&mut s.client).await;
    let c = &mut s.client;
    assert_eq!(
        call(c, Action::Decrypt, Some(STORAGE), "", &fx.secret_blob)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert!(
        s.access
            .replace(Policy::parse(&policy_text(r#"["alias/*"]"#)).unwrap())
    );
    call(c, Action::Decrypt, Some(STORAGE), "", &fx.secret_blob)
        .await
        .unwrap();
}

fn audited(path: &std::path::Path) -> Observers {
    Observers {
        audit: Some(Arc::new(
            AuditLog::open(AuditTarget::File(path.to_owned()), 0).unwrap(),
        )),
        metrics: None,
    }
}

/// Every call leaves one JSON line before its reply: who, what, which key (as named and as
/// resolved, with its version), the context's names, and the outcome; never a token, plaintext,
/// data key or context value.
#[tokio::test]
async fn every_call_leaves_an_audit_line_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut s = start_observed(&policy_text(r#"["alias/app-*"]"#), audited(&path)).await;
    let fx = fixture(&mut s.client).await;
    let c = &mut s.client;
    let context =
        base64::engine::general_purpose::STANDARD.encode(r#"{"bucket":"very-private-value"}"#);
    let dk = c
        .generate_data_key(with(
            Some(STORAGE),
            pb::GenerateDataKeyRequest {
                key_id: "alias/app-one".to_owned(),
                key_spec: pb::KeySpec::Aes256 as i32,
                encryption_context: context.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let refused = call(c, Action::Decrypt, Some(STORAGE), "", &fx.secret_blob).await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied);
    let anonymous = call(c, Action::GenerateRandom, None, "", &[]).await;
    assert_eq!(anonymous.unwrap_err().code(), Code::Unauthenticated);

    let text = std::fs::read_to_string(&path).unwrap();
    let lines = outcome_lines(&text);
    // Two CreateKey and two Encrypt calls of the fixture, then the three above.
    assert_eq!(lines.len(), 7, "{text}");
    let gdk = &lines[4];
    assert_eq!(gdk["identity"], "storage");
    assert_eq!(gdk["rpc"], "GenerateDataKey");
    assert_eq!(gdk["keys"][0]["name"], "alias/app-one");
    assert_eq!(gdk["keys"][0]["key_id"], fx.app_key.as_str());
    assert_eq!(gdk["keys"][0]["key_version"], 1);
    assert_eq!(gdk["context_keys"], serde_json::json!(["bucket"]));
    assert_eq!(gdk["outcome"], serde_json::json!({"result": "ok"}));
    assert!(gdk["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(gdk["request_id"].as_str().unwrap().len(), 32);
    let denied = &lines[5];
    assert_eq!(denied["rpc"], "Decrypt");
    // Refused, yet the key the blob's header names is recorded.
    assert_eq!(
        denied["keys"],
        serde_json::json!([{"name": "", "key_id": fx.secret_key, "key_version": 1}])
    );
    assert_eq!(
        denied["outcome"],
        serde_json::json!({"result": "error", "status": "PERMISSION_DENIED", "code": "UnauthorizedOperation"})
    );
    let anonymous = &lines[6];
    assert_eq!(anonymous["identity"], "-");
    assert_eq!(anonymous["outcome"]["status"], "UNAUTHENTICATED");
    let b64 = base64::engine::general_purpose::STANDARD;
    for secret in [
        STORAGE.to_owned(),
        ADMIN.to_owned(),
        "very-private-value".to_owned(),
        b64.encode(&dk.plaintext),
        hex::encode(&dk.plaintext),
        b64.encode(b"hello"),
    ] {
        assert!(!text.contains(&secret), "{secret} in {text}");
    }
}

/// A batch call writes one line naming every key: DescribeKeys, EnableKeys and DisableKeys give
/// each key the name it was asked by and its resolved UUID (a refused batch: every name, no id);
/// BatchDecrypt each item's key and version. No token, plaintext or context value.
#[tokio::test]
async fn batch_calls_name_every_key_in_their_audit_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut s = start_observed(&policy_text(r#"["alias/app-*"]"#), audited(&path)).await;
    let fx = fixture(&mut s.client).await;
    let c = &mut s.client;
    let third = create_as_admin(c, "app-three").await;
    // Named three ways: alias/..., bare alias, UUID.
    let names = vec![
        "alias/app-one".to_owned(),
        "secret-one".to_owned(),
        third.clone(),
    ];
    let resolved = [fx.app_key.as_str(), fx.secret_key.as_str(), third.as_str()];
    c.describe_keys(with(
        Some(ADMIN),
        pb::DescribeKeysRequest {
            key_ids: names.clone(),
        },
    ))
    .await
    .unwrap();
    c.disable_keys(with(
        Some(ADMIN),
        pb::DisableKeysRequest {
            key_ids: names.clone(),
        },
    ))
    .await
    .unwrap();
    c.enable_keys(with(
        Some(ADMIN),
        pb::EnableKeysRequest {
            key_ids: names.clone(),
        },
    ))
    .await
    .unwrap();
    c.disable_key(with(
        Some(ADMIN),
        pb::DisableKeyRequest {
            key_id: third.clone(),
        },
    ))
    .await
    .unwrap();
    c.schedule_key_deletion(with(
        Some(ADMIN),
        pb::ScheduleKeyDeletionRequest {
            key_id: third.clone(),
            pending_window_in_days: 7,
        },
    ))
    .await
    .unwrap();
    let refused = c
        .disable_keys(with(
            Some(ADMIN),
            pb::DisableKeysRequest {
                key_ids: names.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let context = base64::engine::general_purpose::STANDARD.encode(r#"{"tenant":"hidden-value"}"#);
    let mut items = Vec::new();
    for key in [&fx.app_key, &fx.secret_key] {
        let blob = c
            .encrypt(with(
                Some(ADMIN),
                pb::EncryptRequest {
                    key_id: key.clone(),
                    plaintext: b"batch-secret-plaintext".to_vec(),
                    encryption_context: context.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .ciphertext_blob;
        items.push(pb::DecryptRequest {
            ciphertext_blob: blob,
            encryption_context: context.clone(),
            ..Default::default()
        });
    }
    c.batch_decrypt(with(Some(ADMIN), pb::BatchDecryptRequest { items }))
        .await
        .unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let lines = outcome_lines(&text);
    let line = |rpc: &str, nth: usize| {
        lines
            .iter()
            .filter(|l| l["rpc"] == rpc)
            .nth(nth)
            .unwrap_or_else(|| panic!("no line {nth} of {rpc} in {text}"))
            .clone()
    };
    let named_and_resolved = |l: &serde_json::Value| -> Vec<(String, String)> {
        l["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["name"].as_str().unwrap().to_owned(),
                    k["key_id"].as_str().unwrap_or("-").to_owned(),
                )
            })
            .collect()
    };
    let want: Vec<(String, String)> = names
        .iter()
        .zip(resolved)
        .map(|(n, id)| (n.clone(), id.to_owned()))
        .collect();
    for rpc in ["DescribeKeys", "EnableKeys", "DisableKeys"] {
        let l = line(rpc, 0);
        assert_eq!(named_and_resolved(&l), want, "{rpc}: {l}");
        assert_eq!(l["outcome"], serde_json::json!({"result": "ok"}), "{rpc}");
        assert_eq!(l["identity"], "admin");
    }
    // DescribeKeys also records the versions it answered.
    assert_eq!(line("DescribeKeys", 0)["keys"][2]["key_version"], 1);
    // The refused batch: every key as named, none resolved, and the refusal's code.
    let l = line("DisableKeys", 1);
    let unresolved: Vec<(String, String)> =
        names.iter().map(|n| (n.clone(), "-".to_owned())).collect();
    assert_eq!(named_and_resolved(&l), unresolved, "{l}");
    assert_eq!(
        l["outcome"],
        serde_json::json!({"result": "error", "status": "FAILED_PRECONDITION",
            "code": "ResourceUnavailable.CmkStateNotSupport"})
    );
    // BatchDecrypt: one entry per item, the key that opened it and its version.
    let l = line("BatchDecrypt", 0);
    let keys: Vec<(String, u64)> = l["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key_id"].as_str().unwrap().to_owned(),
                k["key_version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [(fx.app_key.clone(), 1), (fx.secret_key.clone(), 1)],
        "{l}"
    );
    assert_eq!(l["context_keys"], serde_json::json!(["tenant"]));
    let b64 = base64::engine::general_purpose::STANDARD;
    for secret in [
        ADMIN.to_owned(),
        STORAGE.to_owned(),
        "hidden-value".to_owned(),
        "batch-secret-plaintext".to_owned(),
        b64.encode(b"batch-secret-plaintext"),
        hex::encode(b"batch-secret-plaintext"),
    ] {
        assert!(!text.contains(&secret), "{secret} in {text}");
    }
}

/// A call whose audit line cannot be written is refused with INTERNAL: no use goes unrecorded.
/// A call that changes keys writes a `started` line before the change, so when even that line
/// cannot be written it is refused having changed nothing.
#[tokio::test]
async fn a_call_that_cannot_be_audited_fails_and_changes_nothing() {
    let mut s = start_observed(
        &policy_text(r#"["alias/app-*"]"#),
        audited(std::path::Path::new("/dev/full")),
    )
    .await;
    let key = s.kms.create_key("kept", "", "").unwrap().key_id.to_string();
    let c = &mut s.client;
    let refusals = [
        c.generate_random(with(
            Some(ADMIN),
            pb::GenerateRandomRequest {
                number_of_bytes: 16,
            },
        ))
        .await
        .map(|_| ())
        .unwrap_err(),
        c.disable_key(with(
            Some(ADMIN),
            pb::DisableKeyRequest {
                key_id: key.clone(),
            },
        ))
        .await
        .map(|_| ())
        .unwrap_err(),
        c.schedule_key_deletion(with(
            Some(ADMIN),
            pb::ScheduleKeyDeletionRequest {
                key_id: key.clone(),
                pending_window_in_days: 7,
            },
        ))
        .await
        .map(|_| ())
        .unwrap_err(),
        c.create_key(with(
            Some(ADMIN),
            pb::CreateKeyRequest {
                alias: "never".into(),
                ..Default::default()
            },
        ))
        .await
        .map(|_| ())
        .unwrap_err(),
    ];
    for refused in refusals {
        assert_eq!(refused.code(), Code::Internal, "{refused:?}");
        assert_eq!(refused.message(), "internal error");
        assert_eq!(
            refused.metadata().get("x-kms-error-code").unwrap(),
            "InternalError"
        );
    }
    let kept = s.kms.describe_key(&key).unwrap();
    assert_eq!(kept.state, kms_server::KeyState::Enabled);
    assert_eq!(kept.deletion_date, 0);
    assert!(s.kms.describe_key("never").is_err());
}

/// A call that changes keys has two lines with one request id: `started` before the change,
/// then its outcome; a data call has its one line.
#[tokio::test]
async fn a_change_is_on_record_before_it_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut s = start_observed(&policy_text(r#"["alias/app-*"]"#), audited(&path)).await;
    let fx = fixture(&mut s.client).await;
    let before = std::fs::read_to_string(&path).unwrap().lines().count();
    let c = &mut s.client;
    c.disable_key(with(
        Some(ADMIN),
        pb::DisableKeyRequest {
            key_id: "alias/app-one".into(),
        },
    ))
    .await
    .unwrap();
    c.generate_random(with(
        Some(ADMIN),
        pb::GenerateRandomRequest { number_of_bytes: 8 },
    ))
    .await
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .skip(before)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let (started, done, random) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(started["rpc"], "DisableKey");
    assert_eq!(started["outcome"], serde_json::json!({"result": "started"}));
    assert_eq!(started["identity"], "admin");
    assert_eq!(
        started["keys"],
        serde_json::json!([{"name": "alias/app-one"}])
    );
    assert_eq!(done["rpc"], "DisableKey");
    assert_eq!(done["request_id"], started["request_id"]);
    assert_eq!(done["outcome"], serde_json::json!({"result": "ok"}));
    assert_eq!(done["keys"][0]["key_id"], fx.app_key.as_str());
    assert_eq!(random["rpc"], "GenerateRandom");
    assert_ne!(random["request_id"], started["request_id"]);
}

/// A BatchDecrypt of `blobs`, with no context.
fn batch_decrypt_of(blobs: &[&Vec<u8>]) -> pb::BatchDecryptRequest {
    pb::BatchDecryptRequest {
        items: blobs
            .iter()
            .map(|b| pb::DecryptRequest {
                ciphertext_blob: (*b).clone(),
                ..Default::default()
            })
            .collect(),
    }
}

/// The lines of an audit log that give outcomes: all but the `started` lines of the calls that
/// change keys (see `a_change_is_on_record_before_it_is_made`).
fn outcome_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["outcome"]["result"] != "started")
        .collect()
}

/// The audit line of a call reading the lines written so far: the `nth` outcome line of `rpc`.
fn audit_line(path: &std::path::Path, rpc: &str, nth: usize) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    outcome_lines(&text)
        .into_iter()
        .filter(|l| l["rpc"] == rpc)
        .nth(nth)
        .unwrap_or_else(|| panic!("no line {nth} of {rpc} in {text}"))
}

/// A call whose answer names no key (DisableKey, GetKeyRotationStatus, ...) records the key its
/// name resolved to next to the name given, also when it is refused (for the key's state, or by
/// the policy).
#[tokio::test]
async fn lifecycle_calls_record_the_key_their_name_resolved_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut s = start_observed(&policy_text(r#"["alias/app-*"]"#), audited(&path)).await;
    let fx = fixture(&mut s.client).await;
    let c = &mut s.client;
    for action in [Action::GetKeyRotationStatus, Action::DisableKey] {
        call(c, action, Some(ADMIN), "alias/app-one", &[])
            .await
            .unwrap();
    }
    // Refused for its state, by the bare alias.
    let refused = call(c, Action::ArchiveKey, Some(ADMIN), "app-one", &[]).await;
    assert_eq!(refused.unwrap_err().code(), Code::FailedPrecondition);
    // Refused by the policy: the storage identity may not use the secret key.
    let refused = call(c, Action::EnableKey, Some(STORAGE), "alias/secret-one", &[]).await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied);

    let key = |name: &str, id: &str| serde_json::json!([{"name": name, "key_id": id}]);
    let rotation = audit_line(&path, "GetKeyRotationStatus", 0);
    assert_eq!(
        rotation["keys"],
        serde_json::json!([{"name": "alias/app-one", "key_id": fx.app_key, "key_version": 1}])
    );
    let disabled = audit_line(&path, "DisableKey", 0);
    assert_eq!(disabled["keys"], key("alias/app-one", &fx.app_key));
    assert_eq!(disabled["outcome"], serde_json::json!({"result": "ok"}));
    let archived = audit_line(&path, "ArchiveKey", 0);
    assert_eq!(archived["keys"], key("app-one", &fx.app_key));
    assert_eq!(archived["outcome"]["status"], "FAILED_PRECONDITION");
    let enabled = audit_line(&path, "EnableKey", 0);
    assert_eq!(enabled["keys"], key("alias/secret-one", &fx.secret_key));
    assert_eq!(enabled["outcome"]["status"], "PERMISSION_DENIED");
}

/// A refused blob call records the key its blob's header names (the refused Decrypt is in
/// [`every_call_leaves_an_audit_line_without_secrets`]); ReEncrypt its destination as named; a
/// batch every item, refused or not.
#[tokio::test]
async fn refused_blobs_and_batch_items_record_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut s = start_observed(&policy_text(r#"["alias/app-*"]"#), audited(&path)).await;
    let fx = fixture(&mut s.client).await;
    let c = &mut s.client;
    let moved = c
        .re_encrypt(with(
            Some(STORAGE),
            pb::ReEncryptRequest {
                ciphertext_blob: fx.app_blob.clone(),
                destination_key_id: "alias/secret-one".to_owned(),
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(moved.unwrap_err().code(), Code::PermissionDenied);
    c.batch_decrypt(with(
        Some(STORAGE),
        batch_decrypt_of(&[&fx.secret_blob, &fx.app_blob]),
    ))
    .await
    .unwrap();
    c.batch_generate_data_key(with(
        Some(ADMIN),
        pb::BatchGenerateDataKeyRequest {
            items: vec![gdk("alias/secret-one"), gdk("alias/app-nothing")],
            without_plaintext: false,
        },
    ))
    .await
    .unwrap();

    let moved = audit_line(&path, "ReEncrypt", 0);
    assert_eq!(
        moved["keys"],
        serde_json::json!([
            {"name": "", "key_id": fx.app_key, "key_version": 1},
            {"name": "alias/secret-one"},
        ])
    );
    assert_eq!(moved["outcome"]["status"], "PERMISSION_DENIED");
    // The forbidden item first: its key from the header, the allowed one from the answer.
    let batch = audit_line(&path, "BatchDecrypt", 0);
    assert_eq!(
        batch["keys"],
        serde_json::json!([
            {"name": "", "key_id": fx.secret_key, "key_version": 1},
            {"name": "", "key_id": fx.app_key, "key_version": 1},
        ])
    );
    // Every item as named; the one that does not resolve, by its name alone.
    let generated = audit_line(&path, "BatchGenerateDataKey", 0);
    assert_eq!(
        generated["keys"],
        serde_json::json!([
            {"name": "alias/secret-one", "key_id": fx.secret_key, "key_version": 1},
            {"name": "alias/app-nothing"},
        ])
    );
}
