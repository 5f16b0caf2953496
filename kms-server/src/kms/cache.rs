//! The in-memory copy of the key store: every key's metadata and unwrapped versions, an alias
//! index, the listing order and per-class counters. It is what makes the cryptographic calls free
//! of the store; the [`Kms`](super::Kms) keeps it in step with every write.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use uuid::Uuid;

use crate::{
    asymmetric::PrivateKey,
    blob::BlobKey,
    error::{Error, Result},
    keys::{self, KeyMetadata, KeyState},
    secret::Key32,
};

/// A key's unwrapped material.
#[derive(Clone)]
pub(crate) enum Material {
    /// A symmetric key's versions; index `v - 1` holds version `v`.
    Versions(Vec<Key32>),
    /// An asymmetric key's one key pair (version 1, for life).
    KeyPair(Arc<PrivateKey>),
}

/// One cached key: its metadata, its material and, for a symmetric key, each version's
/// [`BlobKey`] (what seals and opens its blobs, kept here so its set-up is paid once).
pub(crate) struct Entry {
    meta: KeyMetadata,
    material: Material,
    blob_keys: Vec<BlobKey>,
}

impl Entry {
    /// A symmetric key with its versions, oldest first.
    pub(crate) fn new(meta: KeyMetadata, versions: Vec<Key32>) -> Self {
        Self::with_material(meta, Material::Versions(versions))
    }

    /// A key with its material.
    pub(crate) fn with_material(meta: KeyMetadata, material: Material) -> Self {
        let blob_keys = match &material {
            Material::Versions(v) => v.iter().cloned().map(BlobKey::new).collect(),
            Material::KeyPair(_) => Vec::new(),
        };
        Self {
            meta,
            material,
            blob_keys,
        }
    }

    /// The key's metadata.
    pub(crate) fn meta(&self) -> &KeyMetadata {
        &self.meta
    }

    /// The key's material.
    pub(crate) fn material(&self) -> &Material {
        &self.material
    }

    /// Every symmetric version's material, oldest first (index `v - 1` holds version `v`); none
    /// for an asymmetric key.
    pub(crate) fn versions(&self) -> &[Key32] {
        match &self.material {
            Material::Versions(v) => v,
            Material::KeyPair(_) => &[],
        }
    }

    /// How many versions the key has in the store.
    pub(crate) fn version_count(&self) -> usize {
        match &self.material {
            Material::Versions(v) => v.len(),
            Material::KeyPair(_) => 1,
        }
    }

    /// The key pair of an asymmetric key.
    pub(crate) fn key_pair(&self) -> Option<&Arc<PrivateKey>> {
        match &self.material {
            Material::KeyPair(k) => Some(k),
            Material::Versions(_) => None,
        }
    }

    /// The symmetric material of version `version`, if the key has it (the test hook's view).
    #[cfg(feature = "test-hooks")]
    pub(crate) fn version(&self, version: u32) -> Option<&Key32> {
        version
            .checked_sub(1)
            .and_then(|i| self.versions().get(usize::try_from(i).ok()?))
    }

    /// The blob key of version `version`, if the key has it.
    pub(crate) fn blob_key(&self, version: u32) -> Option<&BlobKey> {
        version
            .checked_sub(1)
            .and_then(|i| self.blob_keys.get(usize::try_from(i).ok()?))
    }

    /// The newest symmetric version's blob key.
    pub(crate) fn current_blob_key(&self) -> Result<&BlobKey> {
        self.blob_keys
            .last()
            .ok_or_else(|| Error::Internal(format!("key {} has no version", self.meta.key_id)))
    }
}

/// Every key, indexed by id and alias, in listing order, with counters.
#[derive(Default)]
pub(crate) struct Cache {
    keys: HashMap<Uuid, Entry>,
    aliases: HashMap<String, Uuid>,
    /// Listing order: creation time, then id.
    order: BTreeSet<(i64, Uuid)>,
    /// How many keys are in each (state, owned by a service) class: ListKeys' total and the
    /// "anything pending deletion?" check without a scan of every key.
    counts: HashMap<(KeyState, bool), u32>,
}

fn class(m: &KeyMetadata) -> (KeyState, bool) {
    (m.state, m.is_service_key())
}

impl Cache {
    /// Adds a key, or replaces it (its alias and class follow).
    pub(crate) fn insert(&mut self, entry: Entry) {
        let m = &entry.meta;
        if let Some(old) = self.keys.get(&m.key_id) {
            // A seed may hand this key's old alias to another key first: drop it only if it is ours.
            if self.aliases.get(&old.meta.alias) == Some(&m.key_id) {
                self.aliases.remove(&old.meta.alias);
            }
            self.uncount(class(&old.meta));
        }
        *self.counts.entry(class(m)).or_default() += 1;
        self.aliases.insert(m.alias.clone(), m.key_id);
        self.order.insert((m.create_time, m.key_id));
        self.keys.insert(m.key_id, entry);
    }

    /// Drops a key.
    pub(crate) fn remove(&mut self, id: Uuid) {
        if let Some(e) = self.keys.remove(&id) {
            self.aliases.remove(&e.meta.alias);
            self.order.remove(&(e.meta.create_time, id));
            self.uncount(class(&e.meta));
        }
    }

    fn uncount(&mut self, class: (KeyState, bool)) {
        if let Some(n) = self.counts.get_mut(&class) {
            *n = n.saturating_sub(1);
        }
    }

    /// How many keys ListKeys' filter matches, from the counters.
    pub(crate) fn count(&self, state: Option<KeyState>, include_service_keys: bool) -> u32 {
        self.counts
            .iter()
            .filter(|((s, service), _)| {
                state.is_none_or(|want| want == *s) && (include_service_keys || !service)
            })
            .map(|(_, n)| *n)
            .sum()
    }

    /// How many keys are cached.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key with this id.
    pub(crate) fn get(&self, id: &Uuid) -> Option<&Entry> {
        self.keys.get(id)
    }

    /// Whether a key has this id.
    pub(crate) fn contains(&self, id: &Uuid) -> bool {
        self.keys.contains_key(id)
    }

    /// The key that holds `alias` (bare).
    pub(crate) fn alias_holder(&self, alias: &str) -> Option<Uuid> {
        self.aliases.get(alias).copied()
    }

    /// Every key, in no particular order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.keys.values()
    }

    /// Every key in listing order (creation time, then id).
    pub(crate) fn ordered(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.order.iter().filter_map(|(_, id)| self.keys.get(id))
    }

    /// Finds a key by UUID, `alias/<name>` or bare alias.
    pub(crate) fn resolve(&self, name: &str) -> Result<&Entry> {
        let id = self.resolve_id(name)?;
        self.keys
            .get(&id)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    fn resolve_id(&self, name: &str) -> Result<Uuid> {
        if name.is_empty() {
            return Err(Error::invalid("key_id is required"));
        }
        if let Ok(id) = Uuid::parse_str(name) {
            return Ok(id);
        }
        self.alias_holder(keys::bare_alias(name))
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }
}
