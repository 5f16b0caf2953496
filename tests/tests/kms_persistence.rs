//! What survives a restart, what a wrong root key sees, and what the database file may contain.

use std::sync::Arc;

use kms_server::ManualClock;
use tests::{DAY, T0, TestKms, ctx, pb, root_key};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file of the data dir (database, WAL, shared memory) except the root key.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "root.key" {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

#[tokio::test]
async fn keys_aliases_versions_and_blobs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut kms = TestKms::start(dir.path(), root_key(3), clock.clone()).await;
    let id = kms.create_key("durable").await;
    let c = ctx(&[("bucket", "b-1250000000")]);
    let v1 = kms.data_key("alias/durable", &c).await;
    kms.client
        .rotate_key(pb::RotateKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    let v2 = kms.data_key(&id, &c).await;
    kms.client
        .enable_key_rotation(pb::EnableKeyRotationRequest {
            key_id: id.clone(),
            rotate_days: 30,
        })
        .await
        .unwrap();
    kms.client
        .disable_key(pb::DisableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    let other = kms.create_key("archived").await;
    kms.client
        .archive_key(pb::ArchiveKeyRequest {
            key_id: other.clone(),
        })
        .await
        .unwrap();
    let before = kms.describe(&id).await;
    let default_before = kms
        .client
        .get_default_key(pb::GetDefaultKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    kms.stop().await;

    let mut kms = TestKms::start(dir.path(), root_key(3), clock).await;
    assert_eq!(kms.describe("durable").await, before);
    // Everything the restart must keep, spelled out (equality above covers the rest).
    assert_eq!(
        (
            before.state,
            before.current_key_version,
            before.rotation_enabled,
            before.rotate_days,
            before.next_rotate_time,
        ),
        (pb::KeyState::Disabled as i32, 2, true, 30, T0 + 30 * DAY)
    );
    assert_eq!(
        kms.describe(&other).await.state,
        pb::KeyState::Archived as i32
    );
    let default_after = kms
        .client
        .get_default_key(pb::GetDefaultKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        default_after, default_before,
        "the default CMK is created once"
    );
    kms.client
        .enable_key(pb::EnableKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    assert_eq!(
        kms.decrypt(&v1.ciphertext_blob, &c)
            .await
            .unwrap()
            .plaintext,
        v1.plaintext
    );
    assert_eq!(
        kms.decrypt(&v2.ciphertext_blob, &c)
            .await
            .unwrap()
            .plaintext,
        v2.plaintext
    );
    let page = kms
        .client
        .list_keys(pb::ListKeysRequest {
            include_service_keys: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.total_count, 4);
}

#[tokio::test]
async fn another_root_key_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut kms = TestKms::start(dir.path(), root_key(3), clock.clone()).await;
    kms.create_key("k").await;
    kms.stop().await;
    let err = TestKms::try_start(
        dir.path(),
        root_key(4),
        clock.clone(),
        std::time::Duration::from_secs(60),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the root key does not match this key store"
    );

    // Even with the verifier removed, no wrapped version unwraps under the wrong key, and the
    // failed start must not leave a verifier of the wrong key behind.
    let conn = rusqlite::Connection::open(dir.path().join("kms.sqlite3")).unwrap();
    conn.execute("DELETE FROM meta WHERE name = 'root_key_check'", [])
        .unwrap();
    drop(conn);
    let err = TestKms::try_start(
        dir.path(),
        root_key(4),
        clock.clone(),
        std::time::Duration::from_secs(60),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the root key does not match this key store"
    );
    let mut kms = TestKms::start(dir.path(), root_key(3), clock).await;
    assert_eq!(kms.describe("k").await.alias, "k");
}

#[tokio::test]
async fn the_database_holds_no_key_material_and_no_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut kms = TestKms::start(dir.path(), root_key(5), Arc::new(ManualClock::new(T0))).await;
    let id = kms.create_key("secret").await;
    kms.client
        .rotate_key(pb::RotateKeyRequest { key_id: id.clone() })
        .await
        .unwrap();
    let dk = kms.data_key(&id, "").await;
    let key_id = uuid::Uuid::parse_str(&id).unwrap();
    let m1 = kms.kms.material_for_tests(key_id, 1).unwrap();
    let m2 = kms.kms.material_for_tests(key_id, 2).unwrap();
    let default = kms
        .kms
        .material_for_tests(kms.kms.default_key_id(), 1)
        .unwrap();
    assert_eq!(m1.len(), 32);
    let bytes = database_bytes(dir.path());
    // The database is really there and holds the key (so the search below is meaningful).
    assert!(contains(&bytes, id.as_bytes()));
    for secret in [&m1, &m2, &default, &dk.plaintext] {
        assert!(!contains(&bytes, secret), "a secret reached the database");
    }
    kms.stop().await;
    let bytes = database_bytes(dir.path());
    for secret in [&m1, &m2, &default, &dk.plaintext] {
        assert!(
            !contains(&bytes, secret),
            "a secret reached the database after checkpoint"
        );
    }
}
