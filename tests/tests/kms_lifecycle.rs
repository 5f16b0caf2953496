//! Key lifecycle over real gRPC: every management RPC, every state transition, every error.

use tests::{DAY, T0, TestKms, assert_status, pb};
use tonic::Code;

macro_rules! rpc {
    ($kms:expr, $m:ident, $req:expr) => {
        $kms.client.$m($req).await.map(tonic::Response::into_inner)
    };
}

fn key(k: &str) -> String {
    k.to_owned()
}

#[tokio::test]
async fn create_describe_and_aliases() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let created = rpc!(
        kms,
        create_key,
        pb::CreateKeyRequest {
            alias: "orders".into(),
            description: "orders bucket".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            ..Default::default()
        }
    )
    .unwrap()
    .key_metadata
    .unwrap();
    assert!(uuid::Uuid::parse_str(&created.key_id).is_ok());
    assert_eq!(created.alias, "orders");
    assert_eq!(created.state, pb::KeyState::Enabled as i32);
    assert_eq!(created.owner, "user");
    assert_eq!(created.origin, "TENCENT_KMS");
    assert_eq!(created.key_usage, "ENCRYPT_DECRYPT");
    assert_eq!(created.create_time, T0);
    assert_eq!(created.current_key_version, 1);
    // By id, by alias/<name>, by bare alias: the same key.
    for name in [
        created.key_id.clone(),
        "alias/orders".into(),
        "orders".into(),
    ] {
        assert_eq!(kms.describe(&name).await, created);
    }

    let err = rpc!(
        kms,
        create_key,
        pb::CreateKeyRequest {
            alias: "orders".into(),
            ..Default::default()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::AlreadyExists,
        "alias orders already exists",
        "InvalidParameterValue.AliasAlreadyExists",
    );

    let cases = [
        ("", "alias must be 1..=60 characters, got 0"),
        (&*"a".repeat(61), "alias must be 1..=60 characters, got 61"),
        (
            "has space",
            "alias may only contain letters, digits, '_' and '-'",
        ),
        ("_under", "alias must start with a letter or a digit"),
        (
            "kms-mine",
            "alias prefix \"kms-\" is reserved for service keys",
        ),
        (
            "0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b",
            "alias must not look like a key id (UUID)",
        ),
    ];
    for (alias, msg) in cases {
        let err = rpc!(
            kms,
            create_key,
            pb::CreateKeyRequest {
                alias: alias.into(),
                ..Default::default()
            }
        )
        .unwrap_err();
        assert_status(&err, Code::InvalidArgument, msg, "InvalidParameterValue");
    }
    let err = rpc!(
        kms,
        create_key,
        pb::CreateKeyRequest {
            alias: "d".into(),
            description: "x".repeat(1025),
            key_usage: String::new(),
            ..Default::default()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "description must be at most 1024 bytes, got 1025",
        "InvalidParameterValue",
    );
    let err = rpc!(
        kms,
        create_key,
        pb::CreateKeyRequest {
            alias: "u".into(),
            key_usage: "SIGN_VERIFY".into(),
            ..Default::default()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "key_usage must be one of [\"ENCRYPT_DECRYPT\", \"ASYMMETRIC_DECRYPT_RSA_2048\", \
         \"ASYMMETRIC_DECRYPT_SM2\", \"ASYMMETRIC_SIGN_VERIFY_SM2\", \"ASYMMETRIC_SIGN_VERIFY_ECC\", \
         \"ASYMMETRIC_SIGN_VERIFY_ECDSA384\", \"ASYMMETRIC_SIGN_VERIFY_RSA_2048\"], got \"SIGN_VERIFY\"",
        "InvalidParameterValue.InvalidKeyUsage",
    );

    for name in ["nope", "alias/nope", "0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b"] {
        let err = rpc!(
            kms,
            describe_key,
            pb::DescribeKeyRequest {
                key_id: name.into()
            }
        )
        .unwrap_err();
        assert_status(
            &err,
            Code::NotFound,
            &format!("key {name} not found"),
            "ResourceUnavailable.CmkNotFound",
        );
    }
    let err = rpc!(
        kms,
        describe_key,
        pb::DescribeKeyRequest {
            key_id: String::new()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "key_id is required",
        "InvalidParameterValue",
    );

    // UpdateAlias moves the name; the old name is free again.
    rpc!(
        kms,
        update_alias,
        pb::UpdateAliasRequest {
            key_id: "orders".into(),
            alias: "alias/orders2".into()
        }
    )
    .unwrap();
    assert_eq!(kms.describe("orders2").await.key_id, created.key_id);
    assert_eq!(
        rpc!(
            kms,
            describe_key,
            pb::DescribeKeyRequest {
                key_id: "orders".into()
            }
        )
        .unwrap_err()
        .code(),
        Code::NotFound
    );
    let other = kms.create_key("orders").await;
    let err = rpc!(
        kms,
        update_alias,
        pb::UpdateAliasRequest {
            key_id: other.clone(),
            alias: "orders2".into()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::AlreadyExists,
        "alias orders2 already exists",
        "InvalidParameterValue.AliasAlreadyExists",
    );
    let err = rpc!(
        kms,
        update_alias,
        pb::UpdateAliasRequest {
            key_id: other,
            alias: "bad alias".into()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "alias may only contain letters, digits, '_' and '-'",
        "InvalidParameterValue",
    );

    rpc!(
        kms,
        update_key_description,
        pb::UpdateKeyDescriptionRequest {
            key_id: "orders2".into(),
            description: "new text".into()
        }
    )
    .unwrap();
    assert_eq!(kms.describe("orders2").await.description, "new text");
    let err = rpc!(
        kms,
        update_key_description,
        pb::UpdateKeyDescriptionRequest {
            key_id: "orders2".into(),
            description: "x".repeat(1025)
        }
    )
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn state_machine() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("k").await;
    let state = |m: pb::KeyMetadata| pb::KeyState::try_from(m.state).unwrap();

    // Enable is idempotent on an Enabled key; Disable likewise.
    rpc!(kms, enable_key, pb::EnableKeyRequest { key_id: key(&id) }).unwrap();
    rpc!(kms, disable_key, pb::DisableKeyRequest { key_id: key(&id) }).unwrap();
    rpc!(kms, disable_key, pb::DisableKeyRequest { key_id: key(&id) }).unwrap();
    assert_eq!(state(kms.describe(&id).await), pb::KeyState::Disabled);

    // Disabled cannot be archived; Enabled cannot be scheduled for deletion.
    let err = rpc!(kms, archive_key, pb::ArchiveKeyRequest { key_id: key(&id) }).unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Disabled"),
        "ResourceUnavailable.CmkStateNotSupport",
    );
    rpc!(kms, enable_key, pb::EnableKeyRequest { key_id: key(&id) }).unwrap();
    let err = rpc!(
        kms,
        schedule_key_deletion,
        pb::ScheduleKeyDeletionRequest {
            key_id: key(&id),
            pending_window_in_days: 7
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Enabled"),
        "ResourceUnavailable.CmkShouldBeDisabled",
    );

    // Archive and back.
    rpc!(kms, archive_key, pb::ArchiveKeyRequest { key_id: key(&id) }).unwrap();
    assert_eq!(state(kms.describe(&id).await), pb::KeyState::Archived);
    let err = rpc!(kms, disable_key, pb::DisableKeyRequest { key_id: key(&id) }).unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Archived"),
        "ResourceUnavailable.CmkStateNotSupport",
    );
    let err = rpc!(kms, enable_key, pb::EnableKeyRequest { key_id: key(&id) }).unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    rpc!(
        kms,
        cancel_key_archive,
        pb::CancelKeyArchiveRequest { key_id: key(&id) }
    )
    .unwrap();
    assert_eq!(state(kms.describe(&id).await), pb::KeyState::Enabled);
    let err = rpc!(
        kms,
        cancel_key_archive,
        pb::CancelKeyArchiveRequest { key_id: key(&id) }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Enabled"),
        "ResourceUnavailable.CmkStateNotSupport",
    );

    // Deletion window bounds.
    rpc!(kms, disable_key, pb::DisableKeyRequest { key_id: key(&id) }).unwrap();
    for days in [0, 6, 31] {
        let err = rpc!(
            kms,
            schedule_key_deletion,
            pb::ScheduleKeyDeletionRequest {
                key_id: key(&id),
                pending_window_in_days: days
            }
        )
        .unwrap_err();
        assert_status(
            &err,
            Code::InvalidArgument,
            &format!("pending_window_in_days must be 7..=30, got {days}"),
            "InvalidParameterValue",
        );
    }
    let r = rpc!(
        kms,
        schedule_key_deletion,
        pb::ScheduleKeyDeletionRequest {
            key_id: "k".into(),
            pending_window_in_days: 7
        }
    )
    .unwrap();
    assert_eq!(r.key_id, id);
    assert_eq!(r.deletion_date, T0 + 7 * DAY);
    let m = kms.describe(&id).await;
    assert_eq!(state(m.clone()), pb::KeyState::PendingDelete);
    assert_eq!(m.deletion_date, T0 + 7 * DAY);
    // Tencent forbids renaming or describing anew a key scheduled for deletion.
    let err = rpc!(
        kms,
        update_alias,
        pb::UpdateAliasRequest {
            key_id: key(&id),
            alias: "renamed".into()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is PendingDelete"),
        "ResourceUnavailable.CmkStateNotSupport",
    );
    let err = rpc!(
        kms,
        update_key_description,
        pb::UpdateKeyDescriptionRequest {
            key_id: key(&id),
            description: "new".into()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is PendingDelete"),
        "ResourceUnavailable.CmkStateNotSupport",
    );
    let err = rpc!(kms, enable_key, pb::EnableKeyRequest { key_id: key(&id) }).unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is PendingDelete"),
        "ResourceUnavailable.CmkStateNotSupport",
    );
    // Cancel returns it to Disabled; cancelling again is refused.
    let r = rpc!(
        kms,
        cancel_key_deletion,
        pb::CancelKeyDeletionRequest { key_id: key(&id) }
    )
    .unwrap();
    assert_eq!(r.key_id, id);
    let m = kms.describe(&id).await;
    assert_eq!(
        (state(m.clone()), m.deletion_date),
        (pb::KeyState::Disabled, 0)
    );
    let err = rpc!(
        kms,
        cancel_key_deletion,
        pb::CancelKeyDeletionRequest { key_id: key(&id) }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Disabled"),
        "ResourceUnavailable.CmkNotPendingDelete",
    );

    // Unknown keys everywhere.
    let err = rpc!(
        kms,
        enable_key,
        pb::EnableKeyRequest {
            key_id: "ghost".into()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::NotFound,
        "key ghost not found",
        "ResourceUnavailable.CmkNotFound",
    );
}

#[tokio::test]
async fn deletion_date_removes_the_key_on_use() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("doomed").await;
    let dk = kms.data_key(&id, "").await;
    rpc!(kms, disable_key, pb::DisableKeyRequest { key_id: key(&id) }).unwrap();
    rpc!(
        kms,
        schedule_key_deletion,
        pb::ScheduleKeyDeletionRequest {
            key_id: key(&id),
            pending_window_in_days: 7
        }
    )
    .unwrap();
    kms.clock.advance(7 * DAY - 1);
    assert_eq!(
        pb::KeyState::try_from(kms.describe(&id).await.state).unwrap(),
        pb::KeyState::PendingDelete
    );
    kms.clock.advance(1);
    let err = rpc!(
        kms,
        describe_key,
        pb::DescribeKeyRequest { key_id: key(&id) }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::NotFound,
        &format!("key {id} not found"),
        "ResourceUnavailable.CmkNotFound",
    );
    // Its ciphertexts no longer open, and the alias is free.
    let err = kms.decrypt(&dk.ciphertext_blob, "").await.unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "invalid ciphertext",
        "InvalidParameterValue.InvalidCiphertext",
    );
    kms.create_key("doomed").await;
}

#[tokio::test]
async fn deletion_and_rotation_by_the_background_task() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(kms_server::ManualClock::new(T0));
    let mut kms = TestKms::try_start(
        dir.path(),
        tests::root_key(1),
        clock,
        std::time::Duration::from_millis(20),
    )
    .await
    .unwrap();
    let doomed = kms.create_key("doomed").await;
    let rotating = kms.create_key("rotating").await;
    rpc!(
        kms,
        disable_key,
        pb::DisableKeyRequest {
            key_id: key(&doomed)
        }
    )
    .unwrap();
    rpc!(
        kms,
        schedule_key_deletion,
        pb::ScheduleKeyDeletionRequest {
            key_id: key(&doomed),
            pending_window_in_days: 30
        }
    )
    .unwrap();
    rpc!(
        kms,
        enable_key_rotation,
        pb::EnableKeyRotationRequest {
            key_id: key(&rotating),
            rotate_days: 7
        }
    )
    .unwrap();
    kms.clock.advance(30 * DAY);
    // Nothing calls the keys: only the background task can act. Watch the core, not the API,
    // because any API call would also trigger the on-use check.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = kms.kms.list_keys_snapshot_for_tests();
        let gone = !listed.iter().any(|m| m.key_id.to_string() == doomed);
        let rotated = listed
            .iter()
            .any(|m| m.key_id.to_string() == rotating && m.current_key_version == 2);
        if gone && rotated {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "background task did not act: {listed:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = rpc!(
        kms,
        get_key_rotation_status,
        pb::GetKeyRotationStatusRequest {
            key_id: key(&rotating)
        }
    )
    .unwrap();
    assert_eq!(status.last_rotate_time, T0 + 30 * DAY);
    assert_eq!(status.next_rotate_time, T0 + 37 * DAY);
    kms.stop().await;
}

#[tokio::test]
async fn rotation_settings_and_on_demand_rotation() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let id = kms.create_key("rot").await;
    let status = rpc!(
        kms,
        get_key_rotation_status,
        pb::GetKeyRotationStatusRequest { key_id: key(&id) }
    )
    .unwrap();
    assert_eq!(
        status,
        pb::GetKeyRotationStatusResponse {
            current_key_version: 1,
            ..Default::default()
        }
    );

    for days in [6, 366] {
        let err = rpc!(
            kms,
            enable_key_rotation,
            pb::EnableKeyRotationRequest {
                key_id: key(&id),
                rotate_days: days
            }
        )
        .unwrap_err();
        assert_status(
            &err,
            Code::InvalidArgument,
            &format!("rotate_days must be 7..=365, got {days}"),
            "InvalidParameterValue",
        );
    }
    rpc!(
        kms,
        enable_key_rotation,
        pb::EnableKeyRotationRequest {
            key_id: key(&id),
            rotate_days: 0
        }
    )
    .unwrap();
    let status = rpc!(
        kms,
        get_key_rotation_status,
        pb::GetKeyRotationStatusRequest { key_id: key(&id) }
    )
    .unwrap();
    assert!(status.key_rotation_enabled);
    assert_eq!(
        (status.rotate_days, status.next_rotate_time),
        (365, T0 + 365 * DAY)
    );
    let m = kms.describe(&id).await;
    assert!(m.rotation_enabled);
    assert_eq!(m.rotate_days, 365);

    kms.clock.advance(10);
    let r = rpc!(kms, rotate_key, pb::RotateKeyRequest { key_id: key(&id) }).unwrap();
    assert_eq!((r.key_id.as_str(), r.key_version), (id.as_str(), 2));
    let status = rpc!(
        kms,
        get_key_rotation_status,
        pb::GetKeyRotationStatusRequest { key_id: key(&id) }
    )
    .unwrap();
    assert_eq!(status.last_rotate_time, T0 + 10);
    assert_eq!(status.next_rotate_time, T0 + 10 + 365 * DAY);
    assert_eq!(status.current_key_version, 2);

    // Automatic rotation when due, checked on use.
    kms.clock.advance(365 * DAY);
    let dk = kms.data_key(&id, "").await;
    assert_eq!(dk.key_version, 3);

    rpc!(
        kms,
        disable_key_rotation,
        pb::DisableKeyRotationRequest { key_id: key(&id) }
    )
    .unwrap();
    let status = rpc!(
        kms,
        get_key_rotation_status,
        pb::GetKeyRotationStatusRequest { key_id: key(&id) }
    )
    .unwrap();
    assert!(!status.key_rotation_enabled);
    assert_eq!(status.next_rotate_time, 0);

    rpc!(kms, disable_key, pb::DisableKeyRequest { key_id: key(&id) }).unwrap();
    let err = rpc!(kms, rotate_key, pb::RotateKeyRequest { key_id: key(&id) }).unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        &format!("key {id} is Disabled"),
        "ResourceUnavailable.CmkStateNotSupport",
    );
}

#[tokio::test]
async fn default_and_service_keys() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let default = rpc!(kms, get_default_key, pb::GetDefaultKeyRequest {})
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(default.alias, "kms-cos");
    assert_eq!(default.owner, "cos");
    assert_eq!(kms.describe("alias/kms-cos").await, default);
    let sse = kms.describe("kms-cos-sse").await;
    assert_eq!(sse.owner, "cos");

    let user = kms.create_key("mine").await;
    // Service keys are hidden unless asked for.
    let page = rpc!(kms, list_keys, pb::ListKeysRequest::default()).unwrap();
    assert_eq!(page.total_count, 1);
    assert_eq!(page.keys[0].key_id, user);
    let page = rpc!(
        kms,
        list_keys,
        pb::ListKeysRequest {
            include_service_keys: true,
            ..Default::default()
        }
    )
    .unwrap();
    assert_eq!(page.total_count, 3);
    let ids: Vec<_> = page.keys.iter().map(|k| k.key_id.clone()).collect();
    assert!(ids.contains(&default.key_id) && ids.contains(&sse.key_id) && ids.contains(&user));

    // Service keys cannot be disabled, deleted, archived or renamed; they do encrypt.
    for name in [default.key_id.clone(), sse.key_id.clone()] {
        let msg = format!("key {name} is owned by a service and cannot be changed");
        let e = rpc!(
            kms,
            disable_key,
            pb::DisableKeyRequest {
                key_id: name.clone()
            }
        )
        .unwrap_err();
        assert_status(
            &e,
            Code::PermissionDenied,
            &msg,
            "UnsupportedOperation.NotUserCreatedCmk",
        );
        let e = rpc!(
            kms,
            archive_key,
            pb::ArchiveKeyRequest {
                key_id: name.clone()
            }
        )
        .unwrap_err();
        assert_status(
            &e,
            Code::PermissionDenied,
            &msg,
            "UnsupportedOperation.NotUserCreatedCmk",
        );
        let e = rpc!(
            kms,
            schedule_key_deletion,
            pb::ScheduleKeyDeletionRequest {
                key_id: name.clone(),
                pending_window_in_days: 7
            }
        )
        .unwrap_err();
        assert_status(
            &e,
            Code::PermissionDenied,
            &msg,
            "UnsupportedOperation.NotUserCreatedCmk",
        );
        let e = rpc!(
            kms,
            update_alias,
            pb::UpdateAliasRequest {
                key_id: name.clone(),
                alias: "x".into()
            }
        )
        .unwrap_err();
        assert_status(
            &e,
            Code::PermissionDenied,
            &msg,
            "UnsupportedOperation.NotUserCreatedCmk",
        );
        let dk = kms.data_key(&name, "").await;
        assert_eq!(dk.key_id, name);
    }
}

#[tokio::test]
async fn list_keys_pages_and_filters() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        kms.clock.advance(1);
        ids.push(kms.create_key(&format!("k{i}")).await);
    }
    rpc!(
        kms,
        disable_key,
        pb::DisableKeyRequest {
            key_id: ids[1].clone()
        }
    )
    .unwrap();
    rpc!(
        kms,
        archive_key,
        pb::ArchiveKeyRequest {
            key_id: ids[2].clone()
        }
    )
    .unwrap();
    let page = rpc!(
        kms,
        list_keys,
        pb::ListKeysRequest {
            offset: 1,
            limit: 2,
            ..Default::default()
        }
    )
    .unwrap();
    assert_eq!(page.total_count, 5);
    assert_eq!(
        page.keys
            .iter()
            .map(|k| k.key_id.clone())
            .collect::<Vec<_>>(),
        ids[1..3].to_vec()
    );
    let page = rpc!(
        kms,
        list_keys,
        pb::ListKeysRequest {
            state: pb::KeyState::Disabled as i32,
            ..Default::default()
        }
    )
    .unwrap();
    assert_eq!(
        (page.total_count, page.keys[0].key_id.clone()),
        (1, ids[1].clone())
    );
    let page = rpc!(
        kms,
        list_keys,
        pb::ListKeysRequest {
            offset: 10,
            ..Default::default()
        }
    )
    .unwrap();
    assert_eq!((page.total_count, page.keys.len()), (5, 0));
    let err = rpc!(
        kms,
        list_keys,
        pb::ListKeysRequest {
            limit: 1001,
            ..Default::default()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "limit must be at most 1000, got 1001",
        "InvalidParameterValue",
    );
    let err = rpc!(
        kms,
        list_keys,
        pb::ListKeysRequest {
            state: 42,
            ..Default::default()
        }
    )
    .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "unknown key state 42",
        "InvalidParameterValue",
    );
}

#[tokio::test]
async fn generate_random() {
    let (mut kms, _dir) = TestKms::start_temp().await;
    let a = rpc!(
        kms,
        generate_random,
        pb::GenerateRandomRequest {
            number_of_bytes: 1024
        }
    )
    .unwrap()
    .plaintext;
    let b = rpc!(
        kms,
        generate_random,
        pb::GenerateRandomRequest {
            number_of_bytes: 1024
        }
    )
    .unwrap()
    .plaintext;
    assert_eq!(a.len(), 1024);
    assert_ne!(a, b);
    for n in [0, 1025] {
        let err = rpc!(
            kms,
            generate_random,
            pb::GenerateRandomRequest { number_of_bytes: n }
        )
        .unwrap_err();
        assert_status(
            &err,
            Code::InvalidArgument,
            &format!("number_of_bytes must be 1..=1024, got {n}"),
            "InvalidParameterValue",
        );
    }
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let (kms, _dir) = TestKms::start_temp().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", kms.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let resp = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "kms.v1.KeyManagementService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resp.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
}
