//! The behaviour every [`KeyStore`] must have, written once and run against each backend: a
//! backend's test calls [`run_all`] with a function that makes a fresh, empty store. Each check
//! panics with what went wrong. Compiled for this crate's tests and under the `test-hooks`
//! feature, never into a normal build.

use uuid::Uuid;

use super::{KeyStore, KeyWrite, StoredKey, StoredVersion};
use crate::{
    error::{Error, Result},
    keys::{KeyMetadata, KeyState, KeyUsage, ORIGIN_KMS, OWNER_USER},
};

/// Runs every check, each on a store of its own from `make`.
pub fn run_all<S: KeyStore>(make: impl Fn() -> S) {
    empty_store_has_nothing(&make());
    settings_are_set_and_replaced(&make());
    settings_are_taken_once_and_only_as_read(&make());
    inserted_keys_load_back_in_order(&make());
    load_keys_returns_only_the_named_keys(&make());
    update_changes_only_changeable_fields(&make());
    aliases_are_unique(&make());
    add_version_rotates_atomically(&make());
    stale_writes_conflict_and_change_nothing(&make());
    delete_expired_removes_due_keys_and_versions(&make());
    imported_material_comes_and_goes(&make());
    seed_inserts_updates_and_swaps_aliases(&make());
    failed_seed_changes_nothing(&make());
    stale_seeds_conflict_and_change_nothing(&make());
}

/// Key `n` (its id, create time and material bytes derive from `n`) with one version.
pub fn sample_key(n: u8, alias: &str) -> StoredKey {
    StoredKey {
        meta: KeyMetadata {
            key_id: Uuid::from_bytes([n; 16]),
            alias: alias.to_owned(),
            description: format!("key {n}"),
            state: KeyState::Enabled,
            key_usage: KeyUsage::EncryptDecrypt,
            owner: OWNER_USER.to_owned(),
            origin: ORIGIN_KMS.to_owned(),
            create_time: 1_700_000_000 + i64::from(n),
            deletion_date: 0,
            rotation_enabled: false,
            rotate_days: 0,
            last_rotate_time: 0,
            next_rotate_time: 0,
            valid_to: 0,
            tags: Vec::new(),
            current_key_version: 1,
        },
        versions: vec![version(n, 1)],
    }
}

fn version(n: u8, v: u32) -> StoredVersion {
    StoredVersion {
        version: v,
        wrapped: vec![n; 60 + v as usize],
        create_time: 1_700_000_000 + i64::from(v),
    }
}

fn ok<T>(result: Result<T>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn load(store: &impl KeyStore) -> Vec<StoredKey> {
    ok(store.load_all(), "load_all")
}

/// A new store has no keys and no settings.
pub fn empty_store_has_nothing(store: &impl KeyStore) {
    assert!(load(store).is_empty());
    assert_eq!(ok(store.meta("root_key_check"), "meta"), None);
}

/// A setting reads back as written; writing it again replaces it.
pub fn settings_are_set_and_replaced(store: &impl KeyStore) {
    ok(store.set_meta("a", b"one"), "set_meta");
    ok(store.set_meta("b", &[0, 255]), "set_meta");
    ok(store.set_meta("a", b"two"), "set_meta again");
    assert_eq!(ok(store.meta("a"), "meta").as_deref(), Some(&b"two"[..]));
    assert_eq!(ok(store.meta("b"), "meta").as_deref(), Some(&[0, 255][..]));
}

/// A setting is taken (removed) only while it holds the value given, and only once.
pub fn settings_are_taken_once_and_only_as_read(store: &impl KeyStore) {
    assert!(!ok(store.take_meta("t", b"one"), "take_meta of nothing"));
    ok(store.set_meta("t", b"one"), "set_meta");
    ok(store.set_meta("u", b"one"), "set_meta");
    assert!(!ok(
        store.take_meta("t", b"on"),
        "take_meta of another value"
    ));
    assert!(!ok(
        store.take_meta("t", b"one!"),
        "take_meta of another value"
    ));
    assert_eq!(ok(store.meta("t"), "meta").as_deref(), Some(&b"one"[..]));
    assert!(ok(store.take_meta("t", b"one"), "take_meta"));
    assert!(!ok(store.take_meta("t", b"one"), "take_meta again"));
    assert_eq!(ok(store.meta("t"), "meta"), None);
    assert_eq!(ok(store.meta("u"), "meta").as_deref(), Some(&b"one"[..]));
    // Replaced since it was read: not taken.
    ok(store.set_meta("u", b"two"), "set_meta");
    assert!(!ok(
        store.take_meta("u", b"one"),
        "take_meta of a replaced value"
    ));
    assert!(ok(store.take_meta("u", b"two"), "take_meta"));
}

/// Inserted keys load back field for field, versions ascending, keys by creation time then id;
/// `current_key_version` is the newest version. An id cannot be inserted twice.
pub fn inserted_keys_load_back_in_order(store: &impl KeyStore) {
    let mut late = sample_key(1, "late");
    late.meta.create_time = 1_800_000_000;
    let mut multi = sample_key(3, "multi");
    multi.versions = vec![version(3, 1), version(3, 2), version(3, 3)];
    multi.meta.current_key_version = 3;
    multi.meta.state = KeyState::PendingImport;
    let mut tie = sample_key(2, "tie");
    tie.meta.create_time = multi.meta.create_time;
    for key in [&late, &multi, &tie] {
        ok(store.insert_key(key), "insert_key");
    }
    assert_eq!(load(store), [tie.clone(), multi, late]);
    let mut again = tie;
    again.meta.alias = "other".to_owned();
    assert!(store.insert_key(&again).is_err(), "an id inserted twice");
    assert_eq!(load(store).len(), 3);
}

/// load_keys returns the named keys that exist, with their versions, in load_all's order, and
/// leaves out unknown ids.
pub fn load_keys_returns_only_the_named_keys(store: &impl KeyStore) {
    let (a, b, c) = (sample_key(1, "a"), sample_key(2, "b"), sample_key(3, "c"));
    for key in [&a, &b, &c] {
        ok(store.insert_key(key), "insert_key");
    }
    let unknown = Uuid::from_bytes([9; 16]);
    assert_eq!(
        ok(
            store.load_keys(&[c.meta.key_id, unknown, a.meta.key_id]),
            "load_keys"
        ),
        [a, c]
    );
    assert_eq!(ok(store.load_keys(&[unknown]), "load_keys unknown"), []);
    assert_eq!(ok(store.load_keys(&[]), "load_keys of nothing"), []);
}

/// update_key writes state, alias, description, deletion date and rotation settings, and leaves
/// the fixed fields and the versions alone. An unknown key is NotFound.
pub fn update_changes_only_changeable_fields(store: &impl KeyStore) {
    let mut key = sample_key(1, "before");
    // Tags are kept as inserted (any text, quotes and non-ASCII included) and never updated.
    key.meta.tags = vec![
        crate::keys::Tag {
            key: "env".to_owned(),
            value: "prod \"eu\"".to_owned(),
        },
        crate::keys::Tag {
            key: "团队".to_owned(),
            value: String::new(),
        },
    ];
    ok(store.insert_key(&key), "insert_key");
    assert_eq!(load(store)[0].meta.tags, key.meta.tags);
    let mut changed = key.meta.clone();
    changed.alias = "after".to_owned();
    changed.description = "new words".to_owned();
    changed.state = KeyState::PendingDelete;
    changed.deletion_date = 1_900_000_000;
    changed.rotation_enabled = true;
    changed.rotate_days = 30;
    changed.last_rotate_time = 1_750_000_000;
    changed.next_rotate_time = 1_760_000_000;
    changed.valid_to = 1_770_000_000;
    let mut fixed = changed.clone();
    fixed.key_usage = KeyUsage::AsymmetricSignVerifySm2;
    fixed.owner = "someone".to_owned();
    fixed.origin = "EXTERNAL".to_owned();
    fixed.create_time = 1;
    fixed.tags = Vec::new();
    ok(store.update_key(&key.meta, &fixed), "update_key");
    assert_eq!(
        load(store),
        [StoredKey {
            meta: changed,
            versions: key.versions
        }]
    );
    let unknown = sample_key(9, "nobody").meta;
    assert!(matches!(
        store.update_key(&unknown, &unknown),
        Err(Error::NotFound(_))
    ));
}

/// Two keys never share an alias: insert_key and update_key refuse it with AliasExists and
/// change nothing.
pub fn aliases_are_unique(store: &impl KeyStore) {
    ok(store.insert_key(&sample_key(1, "taken")), "insert_key");
    ok(store.insert_key(&sample_key(2, "free")), "insert_key");
    let before = load(store);
    let clash = sample_key(3, "taken");
    assert!(matches!(store.insert_key(&clash), Err(Error::AliasExists(a)) if a == "taken"));
    let mut rename = sample_key(2, "taken").meta;
    rename.description = "key 2, renamed".to_owned();
    let was = sample_key(2, "free").meta;
    assert!(matches!(store.update_key(&was, &rename), Err(Error::AliasExists(a)) if a == "taken"));
    assert_eq!(load(store), before);
}

/// add_version adds the version and writes the metadata together; an existing version number or
/// an unknown key fails and changes nothing.
pub fn add_version_rotates_atomically(store: &impl KeyStore) {
    let key = sample_key(1, "rotating");
    ok(store.insert_key(&key), "insert_key");
    let mut meta = key.meta.clone();
    meta.last_rotate_time = 1_750_000_000;
    meta.current_key_version = 2;
    ok(
        store.add_version(&key.meta, &meta, &version(1, 2)),
        "add_version",
    );
    let want = StoredKey {
        meta: meta.clone(),
        versions: vec![version(1, 1), version(1, 2)],
    };
    assert_eq!(load(store), std::slice::from_ref(&want));
    let mut again = meta.clone();
    again.last_rotate_time = 1_760_000_000;
    assert!(
        store.add_version(&meta, &again, &version(1, 2)).is_err(),
        "version 2 twice"
    );
    assert_eq!(
        load(store),
        std::slice::from_ref(&want),
        "a failed rotation wrote its metadata"
    );
    let unknown = sample_key(9, "nobody").meta;
    assert!(matches!(
        store.add_version(&unknown, &unknown, &version(9, 2)),
        Err(Error::NotFound(_))
    ));
    assert_eq!(load(store), [want]);
}

/// A write from a stale view (the stored key changed since the writer read it, as when another
/// replica disabled it) is a Conflict, whatever field changed, and writes nothing: neither
/// update_key nor add_version undoes another writer's change.
pub fn stale_writes_conflict_and_change_nothing(store: &impl KeyStore) {
    let key = sample_key(1, "contested");
    ok(store.insert_key(&key), "insert_key");
    let mut disabled = key.meta.clone();
    disabled.state = KeyState::Disabled;
    ok(store.update_key(&key.meta, &disabled), "update_key");
    let stored = load(store);
    // The stale writer still believes the key Enabled and changes its description.
    let mut stale = key.meta.clone();
    stale.description = "from a stale cache".to_owned();
    let conflict =
        |r: Result<()>| matches!(r, Err(Error::Conflict(id)) if id == key.meta.key_id.to_string());
    assert!(
        conflict(store.update_key(&key.meta, &stale)),
        "stale update_key"
    );
    let mut rotated = stale.clone();
    rotated.current_key_version = 2;
    assert!(
        conflict(store.add_version(&key.meta, &rotated, &version(1, 2))),
        "stale add_version"
    );
    for field in 0..7 {
        let mut other = disabled.clone();
        match field {
            0 => other.alias = "renamed".to_owned(),
            1 => other.description = "redescribed".to_owned(),
            2 => other.deletion_date = 5,
            3 => other.rotation_enabled = true,
            4 => other.rotate_days = 9,
            5 => other.last_rotate_time = 7,
            _ => other.next_rotate_time = 8,
        }
        assert!(
            conflict(store.update_key(&other, &disabled)),
            "a view differing in field {field} is stale"
        );
    }
    assert_eq!(load(store), stored, "a conflicting write changed the store");
}

/// delete_expired removes, with their versions, the keys still PendingDelete with a deletion date
/// at or before `now`, returns exactly those, and leaves the others (not pending, not yet due,
/// unknown) alone; the alias of a deleted key is free.
pub fn delete_expired_removes_due_keys_and_versions(store: &impl KeyStore) {
    let pending = |n: u8, alias: &str, date: i64| {
        let mut key = sample_key(n, alias);
        key.meta.state = KeyState::PendingDelete;
        key.meta.deletion_date = date;
        key
    };
    let due = pending(1, "a", 1_800_000_000);
    let enabled = sample_key(2, "b");
    let later = pending(3, "c", 1_800_000_001);
    let also_due = pending(4, "d", 1_799_999_999);
    for key in [&due, &enabled, &later, &also_due] {
        ok(store.insert_key(key), "insert_key");
    }
    let unknown = Uuid::from_bytes([9; 16]);
    let all = [
        due.meta.key_id,
        enabled.meta.key_id,
        later.meta.key_id,
        unknown,
        also_due.meta.key_id,
    ];
    let mut deleted = ok(store.delete_expired(&all, 1_800_000_000), "delete_expired");
    deleted.sort();
    assert_eq!(deleted, [due.meta.key_id, also_due.meta.key_id]);
    assert_eq!(load(store), [enabled, later]);
    assert_eq!(
        ok(
            store.delete_expired(&all, 1_800_000_000),
            "delete_expired again"
        ),
        Vec::<Uuid>::new(),
        "a second run deletes nothing"
    );
    assert_eq!(
        ok(store.delete_expired(&[], 0), "delete_expired of nothing"),
        Vec::<Uuid>::new()
    );
    ok(
        store.insert_key(&sample_key(5, "a")),
        "the alias of a deleted key is free",
    );
}

/// apply_seed inserts new keys, updates existing ones with further versions, and lets two keys of
/// the seed swap aliases.
pub fn seed_inserts_updates_and_swaps_aliases(store: &impl KeyStore) {
    let (x, y) = (sample_key(1, "x"), sample_key(2, "y"));
    ok(store.insert_key(&x), "insert_key");
    ok(store.insert_key(&y), "insert_key");
    let mut x2 = x.meta.clone();
    x2.alias = "y".to_owned();
    x2.state = KeyState::Disabled;
    x2.current_key_version = 2;
    let mut y2 = y.meta.clone();
    y2.alias = "x".to_owned();
    let fresh = sample_key(3, "fresh");
    ok(
        store.apply_seed(&[
            KeyWrite {
                meta: x2.clone(),
                new_versions: vec![version(1, 2)],
                before: Some(x.meta.clone()),
            },
            KeyWrite {
                meta: y2.clone(),
                new_versions: vec![],
                before: Some(y.meta.clone()),
            },
            KeyWrite {
                meta: fresh.meta.clone(),
                new_versions: fresh.versions.clone(),
                before: None,
            },
        ]),
        "apply_seed",
    );
    assert_eq!(
        load(store),
        [
            StoredKey {
                meta: x2,
                versions: vec![version(1, 1), version(1, 2)],
            },
            StoredKey {
                meta: y2,
                versions: y.versions,
            },
            fresh,
        ]
    );
}

/// A seed with one bad write (a version that exists) leaves the store as it was.
pub fn failed_seed_changes_nothing(store: &impl KeyStore) {
    let x = sample_key(1, "x");
    ok(store.insert_key(&x), "insert_key");
    let before = load(store);
    let fresh = sample_key(2, "fresh");
    let mut renamed = x.meta.clone();
    renamed.alias = "renamed".to_owned();
    let result = store.apply_seed(&[
        KeyWrite {
            meta: fresh.meta.clone(),
            new_versions: fresh.versions.clone(),
            before: None,
        },
        KeyWrite {
            meta: renamed,
            new_versions: vec![version(1, 1)],
            before: Some(x.meta.clone()),
        },
    ]);
    assert!(result.is_err(), "version 1 exists");
    assert_eq!(load(store), before);
}

/// A seed is conditional on its writer's view of every key, like update_key: a key changed since
/// (another replica disabled it), made since (the writer believes it new) or deleted since is a
/// Conflict, and an alias held by a key outside the seed is AliasExists; either way nothing of the
/// seed is written. A seed from the current view applies.
pub fn stale_seeds_conflict_and_change_nothing(store: &impl KeyStore) {
    let (x, y) = (sample_key(1, "x"), sample_key(2, "y"));
    ok(store.insert_key(&x), "insert_key");
    ok(store.insert_key(&y), "insert_key");
    let mut disabled = x.meta.clone();
    disabled.state = KeyState::Disabled;
    ok(store.update_key(&x.meta, &disabled), "update_key");
    let stored = load(store);
    let fresh = sample_key(3, "fresh");
    let new_key = KeyWrite {
        meta: fresh.meta.clone(),
        new_versions: fresh.versions.clone(),
        before: None,
    };
    let mut described = x.meta.clone();
    described.description = "seeded from a stale view".to_owned();
    let conflict = |writes: &[KeyWrite], id: &Uuid, what: &str| {
        let r = store.apply_seed(writes);
        assert!(
            matches!(&r, Err(Error::Conflict(k)) if *k == id.to_string()),
            "{what}: {r:?}"
        );
        assert_eq!(load(store), stored, "{what}: the seed changed the store");
    };
    let stale = KeyWrite {
        meta: described.clone(),
        new_versions: vec![],
        before: Some(x.meta.clone()),
    };
    conflict(&[new_key.clone(), stale], &x.meta.key_id, "a changed key");
    let believed_new = KeyWrite {
        meta: y.meta.clone(),
        new_versions: vec![],
        before: None,
    };
    conflict(
        &[new_key.clone(), believed_new],
        &y.meta.key_id,
        "a key made since",
    );
    let gone = sample_key(9, "gone");
    let deleted = KeyWrite {
        meta: gone.meta.clone(),
        new_versions: vec![],
        before: Some(gone.meta.clone()),
    };
    conflict(
        &[new_key.clone(), deleted],
        &gone.meta.key_id,
        "a key deleted since",
    );
    let mut takes_y = fresh.meta.clone();
    takes_y.alias = "y".to_owned();
    let r = store.apply_seed(&[KeyWrite {
        meta: takes_y,
        new_versions: fresh.versions.clone(),
        before: None,
    }]);
    assert!(
        matches!(&r, Err(Error::AliasExists(a)) if a == "y"),
        "{r:?}"
    );
    assert_eq!(load(store), stored);
    let mut current = disabled.clone();
    current.description = "seeded from the current view".to_owned();
    ok(
        store.apply_seed(&[
            new_key,
            KeyWrite {
                meta: current.clone(),
                new_versions: vec![],
                before: Some(disabled),
            },
        ]),
        "apply_seed from the current view",
    );
    let after = load(store);
    assert_eq!(after[0].meta, current);
    assert_eq!(after.len(), 3);
}

/// An EXTERNAL key: inserted without versions (PendingImport), given one by add_version with its
/// `valid_to` (an import), left without any by remove_versions (material deleted or expired), and
/// given one again. remove_versions is conditional like update_key; an unknown key is NotFound.
pub fn imported_material_comes_and_goes(store: &impl KeyStore) {
    let mut key = sample_key(1, "byok");
    key.versions.clear();
    key.meta.origin = "EXTERNAL".to_owned();
    key.meta.state = KeyState::PendingImport;
    key.meta.current_key_version = 0;
    ok(store.insert_key(&key), "insert_key");
    assert_eq!(load(store), [key.clone()]);
    let mut imported = key.meta.clone();
    imported.state = KeyState::Enabled;
    imported.valid_to = 1_800_000_000;
    imported.current_key_version = 1;
    ok(
        store.add_version(&key.meta, &imported, &version(1, 1)),
        "add_version (import)",
    );
    assert_eq!(
        load(store),
        [StoredKey {
            meta: imported.clone(),
            versions: vec![version(1, 1)],
        }]
    );
    assert!(
        matches!(
            store.remove_versions(&key.meta, &key.meta),
            Err(Error::Conflict(_))
        ),
        "a stale remove_versions"
    );
    ok(
        store.remove_versions(&imported, &key.meta),
        "remove_versions",
    );
    assert_eq!(load(store), [key.clone()]);
    ok(
        store.add_version(&key.meta, &imported, &version(1, 1)),
        "add_version (import again)",
    );
    assert_eq!(load(store)[0].versions, [version(1, 1)]);
    let mut unknown = sample_key(9, "nobody").meta;
    unknown.origin = "EXTERNAL".to_owned();
    assert!(matches!(
        store.remove_versions(&unknown, &unknown),
        Err(Error::NotFound(_))
    ));
}
