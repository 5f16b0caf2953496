//! The cryptographic calls: GenerateDataKey, Encrypt, Decrypt, ReEncrypt, their batches and
//! GenerateRandom. They serve from the cache under its read lock and never write, except to settle
//! a deadline that fell due on the key they use. Their limits and result types live here.

use std::collections::HashMap;

use uuid::Uuid;

use super::{
    Kms,
    byok::{material_expired, no_material},
    cache::{Cache, Entry, Material},
    deadlines::{any_due, deletion_due},
    next_state,
};
use crate::{
    blob::{BlobHeader, open_blob, seal_blob},
    context::EncryptionContext,
    error::{Error, Result},
    keys::KeyAction,
    secret::{self, SecretBytes},
};

/// Range of GenerateDataKey's number_of_bytes and GenerateRandom's size.
pub const RANDOM_BYTES: std::ops::RangeInclusive<u32> = 1..=1024;
/// Range of Encrypt's plaintext size.
pub const ENCRYPT_PLAINTEXT_BYTES: std::ops::RangeInclusive<usize> = 1..=4096;
/// Most items in one batch call ([`Kms::generate_data_keys`], [`Kms::decrypt_many`]).
pub const MAX_BATCH_ITEMS: usize = 1000;

/// Size of a data key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKeySpec {
    /// 32 bytes.
    Aes256,
    /// 16 bytes.
    Aes128,
    /// [`RANDOM_BYTES`] bytes.
    Bytes(u32),
}

impl DataKeySpec {
    fn len(self) -> Result<usize> {
        match self {
            DataKeySpec::Aes256 => Ok(32),
            DataKeySpec::Aes128 => Ok(16),
            DataKeySpec::Bytes(n) if RANDOM_BYTES.contains(&n) => Ok(n as usize),
            DataKeySpec::Bytes(n) => Err(Error::invalid(format!(
                "number_of_bytes must be {}..={}, got {n}",
                RANDOM_BYTES.start(),
                RANDOM_BYTES.end()
            ))),
        }
    }
}

/// A new data key: its plaintext (unless asked without) and the blob that reopens it.
#[derive(Debug)]
pub struct DataKey {
    /// The CMK that sealed it.
    pub key_id: Uuid,
    /// The CMK version that sealed it.
    pub key_version: u32,
    /// The data key itself; `None` for GenerateDataKeyWithoutPlaintext.
    pub plaintext: Option<SecretBytes>,
    /// The sealed data key.
    pub ciphertext_blob: Vec<u8>,
}

/// A sealed plaintext (from Encrypt or ReEncrypt).
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The CMK that sealed it.
    pub key_id: Uuid,
    /// The CMK version that sealed it.
    pub key_version: u32,
    /// The blob.
    pub ciphertext_blob: Vec<u8>,
}

/// An opened blob.
#[derive(Debug)]
pub struct Decrypted {
    /// The CMK that had sealed it.
    pub key_id: Uuid,
    /// The CMK version that had sealed it.
    pub key_version: u32,
    /// The plaintext.
    pub plaintext: SecretBytes,
}

/// The result of ReEncrypt.
#[derive(Debug)]
pub struct ReEncrypted {
    /// The new (or unchanged) blob.
    pub sealed: Sealed,
    /// Where it came from.
    pub source_key_id: Uuid,
    /// Which version it came from.
    pub source_key_version: u32,
    /// False when the blob was returned unchanged (same key, newest version, same context).
    pub re_encrypted: bool,
}

/// One item of [`Kms::generate_data_keys`].
#[derive(Debug, Clone, Copy)]
pub struct DataKeyItem<'a> {
    /// The CMK (UUID, `alias/<name>` or bare alias).
    pub key: &'a str,
    /// The data key's size.
    pub spec: DataKeySpec,
    /// Base64 JSON encryption context; empty for none.
    pub encryption_context: &'a str,
}

/// One item of [`Kms::decrypt_many`].
#[derive(Debug, Clone, Copy)]
pub struct DecryptItem<'a> {
    /// The sealed blob.
    pub ciphertext_blob: &'a [u8],
    /// Base64 JSON encryption context; empty for none.
    pub encryption_context: &'a str,
}

impl Kms {
    /// Seals `plaintext` under the newest version of an Enabled key.
    fn seal(&self, name: &str, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed> {
        // The usual case takes the read lock once: nothing due, seal under the same guard.
        let now = self.now();
        {
            let c = self.serve()?;
            let e = c.resolve(name)?;
            if !any_due(e.meta(), now) {
                return seal_entry(e, context, plaintext);
            }
        }
        self.settle_due(name)?;
        seal_in(&*self.serve()?, name, context, plaintext)
    }

    /// GenerateDataKey / GenerateDataKeyWithoutPlaintext, with the context in its wire form
    /// (base64 JSON).
    pub fn generate_data_key(
        &self,
        name: &str,
        spec: DataKeySpec,
        encryption_context: &str,
        with_plaintext: bool,
    ) -> Result<DataKey> {
        spec.len()?;
        let context = EncryptionContext::from_base64(encryption_context)?;
        self.generate_data_key_in(name, spec, &context, with_plaintext)
    }

    /// [`Kms::generate_data_key`] with a context parsed already (a front end that also audits
    /// the context's names parses it once).
    pub fn generate_data_key_in(
        &self,
        name: &str,
        spec: DataKeySpec,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<DataKey> {
        let len = spec.len()?;
        let plaintext = secret::random_bytes(len);
        let sealed = self.seal(name, context, plaintext.expose())?;
        Ok(DataKey {
            key_id: sealed.key_id,
            key_version: sealed.key_version,
            plaintext: with_plaintext.then_some(plaintext),
            ciphertext_blob: sealed.ciphertext_blob,
        })
    }

    /// Encrypt ([`ENCRYPT_PLAINTEXT_BYTES`]), with the context in its wire form (base64 JSON).
    pub fn encrypt(
        &self,
        name: &str,
        plaintext: &[u8],
        encryption_context: &str,
    ) -> Result<Sealed> {
        check_encrypt_len(plaintext)?;
        let context = EncryptionContext::from_base64(encryption_context)?;
        self.encrypt_in(name, plaintext, &context)
    }

    /// [`Kms::encrypt`] with a context parsed already.
    pub fn encrypt_in(
        &self,
        name: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Sealed> {
        check_encrypt_len(plaintext)?;
        self.seal(name, context, plaintext)
    }

    /// Decrypt. A blob that does not open, for any reason, is [`Error::InvalidCiphertext`]; a key
    /// that exists but may not decrypt is a state error. The result names the key that opened it.
    pub fn decrypt(&self, blob: &[u8], encryption_context: &str) -> Result<Decrypted> {
        let context = EncryptionContext::from_base64(encryption_context)?;
        self.open_with(blob, &context)
    }

    /// [`Kms::decrypt`] with a context parsed already.
    pub fn decrypt_in(&self, blob: &[u8], context: &EncryptionContext) -> Result<Decrypted> {
        self.open_with(blob, context)
    }

    fn open_with(&self, blob: &[u8], context: &EncryptionContext) -> Result<Decrypted> {
        let header = BlobHeader::parse(blob)?;
        // The usual case takes the read lock once: no deletion due, open under the same guard.
        let now = self.now();
        {
            let c = self.serve()?;
            let due = c
                .get(&header.key_id)
                .is_some_and(|e| deletion_due(e.meta(), now) || material_expired(e.meta(), now));
            if !due {
                return open_in(&c, header, context, blob);
            }
        }
        self.expire_due_ids([header.key_id])?;
        open_in(&*self.serve()?, header, context, blob)
    }

    /// BatchGenerateDataKey: up to [`MAX_BATCH_ITEMS`] data keys, each item its own result (with
    /// the same errors as [`Kms::generate_data_key`]). Deadlines due on the named keys are settled
    /// first; then the cache is read-locked once for the whole batch. The outer error is for an
    /// oversize batch or a failed deadline write; an empty batch gives an empty result.
    pub fn generate_data_keys(
        &self,
        items: &[DataKeyItem<'_>],
        with_plaintext: bool,
    ) -> Result<Vec<Result<DataKey>>> {
        check_batch_len(items.len())?;
        let mut contexts = Contexts::default();
        let parsed: Vec<Result<(usize, usize)>> = items
            .iter()
            .map(|i| Ok((i.spec.len()?, contexts.parse(i.encryption_context)?)))
            .collect();
        let mut names: Vec<&str> = items
            .iter()
            .zip(&parsed)
            .filter(|(_, p)| p.is_ok())
            .map(|(i, _)| i.key)
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            match self.settle_due(name) {
                // Gone meanwhile: its items fail alone below.
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let c = self.serve()?;
        Ok(items
            .iter()
            .zip(parsed)
            .map(|(item, p)| {
                let (len, context) = p?;
                let plaintext = secret::random_bytes(len);
                let sealed = seal_in(&c, item.key, contexts.get(context), plaintext.expose())?;
                Ok(DataKey {
                    key_id: sealed.key_id,
                    key_version: sealed.key_version,
                    plaintext: with_plaintext.then_some(plaintext),
                    ciphertext_blob: sealed.ciphertext_blob,
                })
            })
            .collect())
    }

    /// BatchDecrypt: up to [`MAX_BATCH_ITEMS`] blobs, each item its own result (with the same
    /// errors as [`Kms::decrypt`]), under one read lock of the cache.
    pub fn decrypt_many(&self, items: &[DecryptItem<'_>]) -> Result<Vec<Result<Decrypted>>> {
        check_batch_len(items.len())?;
        let mut contexts = Contexts::default();
        let parsed: Vec<Result<(BlobHeader, usize)>> = items
            .iter()
            .map(|i| {
                let context = contexts.parse(i.encryption_context)?;
                Ok((BlobHeader::parse(i.ciphertext_blob)?, context))
            })
            .collect();
        self.expire_due_ids(parsed.iter().flatten().map(|(h, _)| h.key_id))?;
        let c = self.serve()?;
        Ok(items
            .iter()
            .zip(parsed)
            .map(|(item, p)| {
                let (header, context) = p?;
                open_in(&c, header, contexts.get(context), item.ciphertext_blob)
            })
            .collect())
    }

    /// ReEncrypt: opens with the source context and seals under the destination key (default: the
    /// source key) with the destination context, never returning the plaintext.
    pub fn re_encrypt(
        &self,
        blob: &[u8],
        destination_key: &str,
        source_context: &str,
        destination_context: &str,
    ) -> Result<ReEncrypted> {
        let src_ctx = EncryptionContext::from_base64(source_context)?;
        let dst_ctx = EncryptionContext::from_base64(destination_context)?;
        let opened = self.open_with(blob, &src_ctx)?;
        let dest = if destination_key.is_empty() {
            opened.key_id.to_string()
        } else {
            destination_key.to_owned()
        };
        self.rotate_due(&dest)?;
        let dest_meta = self.describe_key(&dest)?;
        if dest_meta.key_id == opened.key_id
            && dest_meta.current_key_version == opened.key_version
            && src_ctx == dst_ctx
            && dest_meta.state.can_encrypt()
        {
            return Ok(ReEncrypted {
                sealed: Sealed {
                    key_id: opened.key_id,
                    key_version: opened.key_version,
                    ciphertext_blob: blob.to_vec(),
                },
                source_key_id: opened.key_id,
                source_key_version: opened.key_version,
                re_encrypted: false,
            });
        }
        let sealed = self.seal(&dest, &dst_ctx, opened.plaintext.expose())?;
        Ok(ReEncrypted {
            sealed,
            source_key_id: opened.key_id,
            source_key_version: opened.key_version,
            re_encrypted: true,
        })
    }

    /// GenerateRandom ([`RANDOM_BYTES`] bytes).
    pub fn generate_random(&self, number_of_bytes: u32) -> Result<SecretBytes> {
        let n = DataKeySpec::Bytes(number_of_bytes).len()?;
        Ok(secret::random_bytes(n))
    }
}

/// The contexts of a batch, each distinct text parsed once (a batch usually repeats a few).
#[derive(Default)]
struct Contexts<'a> {
    parsed: Vec<EncryptionContext>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Contexts<'a> {
    /// Parses `b64` (or finds it parsed) and returns its index. A bad context is parsed again for
    /// every item that carries it, so each item gets its own error.
    fn parse(&mut self, b64: &'a str) -> Result<usize> {
        if let Some(&i) = self.index.get(b64) {
            return Ok(i);
        }
        self.parsed.push(EncryptionContext::from_base64(b64)?);
        let i = self.parsed.len() - 1;
        self.index.insert(b64, i);
        Ok(i)
    }

    fn get(&self, i: usize) -> &EncryptionContext {
        &self.parsed[i]
    }
}

/// Encrypt's plaintext size rule ([`ENCRYPT_PLAINTEXT_BYTES`]).
fn check_encrypt_len(plaintext: &[u8]) -> Result<()> {
    if ENCRYPT_PLAINTEXT_BYTES.contains(&plaintext.len()) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "plaintext must be {}..={} bytes, got {}",
        ENCRYPT_PLAINTEXT_BYTES.start(),
        ENCRYPT_PLAINTEXT_BYTES.end(),
        plaintext.len()
    )))
}

fn check_batch_len(n: usize) -> Result<()> {
    if n > MAX_BATCH_ITEMS {
        return Err(Error::invalid(format!(
            "a batch must have 1..={MAX_BATCH_ITEMS} items, got {n}"
        )));
    }
    Ok(())
}

/// Seals under the newest version of `name`, which must be Enabled, from a locked cache.
fn seal_in(c: &Cache, name: &str, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed> {
    seal_entry(c.resolve(name)?, context, plaintext)
}

/// Seals under a resolved key's current version.
fn seal_entry(e: &Entry, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed> {
    let m = e.meta();
    if !m.key_usage.is_symmetric() {
        return Err(Error::wrong_usage(
            &m.key_id.to_string(),
            m.key_usage,
            "Encrypt, GenerateDataKey or ReEncrypt",
        ));
    }
    next_state(m, KeyAction::Encrypt)?;
    let header = BlobHeader {
        key_id: e.meta().key_id,
        key_version: e.meta().current_key_version,
    };
    Ok(Sealed {
        key_id: header.key_id,
        key_version: header.key_version,
        ciphertext_blob: seal_blob(e.current_blob_key()?, header, context, plaintext),
    })
}

/// Opens a parsed blob from a locked cache.
fn open_in(
    c: &Cache,
    header: BlobHeader,
    context: &EncryptionContext,
    blob: &[u8],
) -> Result<Decrypted> {
    // An unknown key (another server's, or deleted) is indistinguishable from tampering.
    let e = c.get(&header.key_id).ok_or(Error::InvalidCiphertext)?;
    let key = e.blob_key(header.key_version).ok_or_else(|| {
        match e.material() {
            // A symmetric key without any material (PendingImport: deleted or expired) has no tag
            // to check: its state is the answer.
            Material::Versions(v) if v.is_empty() => no_material(e.meta(), KeyAction::Decrypt),
            // A version the key does not have, or a key that never seals blobs (asymmetric), is
            // a forged header: as opaque as a bad tag, whatever the key's state.
            _ => Error::InvalidCiphertext,
        }
    })?;
    // The tag is checked before the key's state is reported: a forged header naming a disabled
    // key learns nothing (the plaintext is dropped, zeroized, if the state then refuses).
    let plaintext = open_blob(key, context, blob)?;
    next_state(e.meta(), KeyAction::Decrypt)?;
    Ok(Decrypted {
        key_id: header.key_id,
        key_version: header.key_version,
        plaintext,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_support::{T0, ctx, open};
    use super::*;
    use crate::clock::ManualClock;

    /// The cryptographic calls, single and batched, never reach the key store once the key exists.
    #[test]
    fn hot_path_never_touches_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        let key = kms.create_key("hot", "", "").unwrap().key_id.to_string();
        // Rotation on (not yet due) exercises the deadline checks of every call.
        kms.enable_key_rotation("alias/hot", 30).unwrap();
        let ctx = ctx();
        let before = kms.store_access_count();
        assert!(before > 0, "opening and creating must have used the store");
        for name in [key.as_str(), "hot", "alias/hot"] {
            for _ in 0..50 {
                let dk = kms
                    .generate_data_key(name, DataKeySpec::Aes256, &ctx, true)
                    .unwrap();
                let back = kms.decrypt(&dk.ciphertext_blob, &ctx).unwrap();
                assert_eq!(back.plaintext.expose(), dk.plaintext.unwrap().expose());
                let sealed = kms.encrypt(name, b"hello", &ctx).unwrap();
                kms.decrypt(&sealed.ciphertext_blob, &ctx).unwrap();
                kms.generate_data_key(name, DataKeySpec::Bytes(64), "", false)
                    .unwrap();
                kms.describe_key(name).unwrap();
            }
            let items = vec![
                DataKeyItem {
                    key: name,
                    spec: DataKeySpec::Aes128,
                    encryption_context: &ctx,
                };
                MAX_BATCH_ITEMS
            ];
            let made = kms.generate_data_keys(&items, true).unwrap();
            let blobs: Vec<Vec<u8>> = made
                .into_iter()
                .map(|r| r.unwrap().ciphertext_blob)
                .collect();
            let items: Vec<DecryptItem<'_>> = blobs
                .iter()
                .map(|b| DecryptItem {
                    ciphertext_blob: b,
                    encryption_context: &ctx,
                })
                .collect();
            assert!(kms.decrypt_many(&items).unwrap().iter().all(Result::is_ok));
        }
        // Refusals are served from memory too.
        assert!(kms.decrypt(b"not a blob", &ctx).is_err());
        assert!(
            kms.generate_data_key("nope", DataKeySpec::Aes256, "", true)
                .is_err()
        );
        assert_eq!(
            kms.store_access_count(),
            before,
            "the hot path used the key store"
        );
        // The counter does count: a mutation reaches the store.
        kms.disable_key("hot").unwrap();
        assert!(kms.store_access_count() > before);
    }

    #[test]
    fn batches_match_single_calls_item_by_item() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), Arc::new(ManualClock::new(T0)));
        kms.create_key("on", "", "").unwrap();
        kms.create_key("off", "", "").unwrap();
        kms.disable_key("off").unwrap();
        let ctx = ctx();
        let items = [
            DataKeyItem {
                key: "on",
                spec: DataKeySpec::Aes256,
                encryption_context: &ctx,
            },
            DataKeyItem {
                key: "off",
                spec: DataKeySpec::Aes256,
                encryption_context: "",
            },
            DataKeyItem {
                key: "missing",
                spec: DataKeySpec::Aes256,
                encryption_context: "",
            },
            DataKeyItem {
                key: "on",
                spec: DataKeySpec::Bytes(0),
                encryption_context: "",
            },
            DataKeyItem {
                key: "on",
                spec: DataKeySpec::Aes128,
                encryption_context: "not base64!",
            },
        ];
        let batch = kms.generate_data_keys(&items, true).unwrap();
        assert_eq!(batch.len(), items.len());
        for (item, got) in items.iter().zip(&batch) {
            let single = kms.generate_data_key(item.key, item.spec, item.encryption_context, true);
            match (got, single) {
                (Ok(b), Ok(s)) => {
                    assert_eq!((b.key_id, b.key_version), (s.key_id, s.key_version));
                    assert_eq!(b.plaintext.as_ref().unwrap().len(), 32);
                }
                (Err(b), Err(s)) => assert_eq!(b.to_string(), s.to_string()),
                (b, s) => panic!("batch {b:?} but single {s:?}"),
            }
        }
        let good = batch[0].as_ref().unwrap().ciphertext_blob.clone();
        let mut tampered = good.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let items = [
            DecryptItem {
                ciphertext_blob: &good,
                encryption_context: &ctx,
            },
            DecryptItem {
                ciphertext_blob: &good,
                encryption_context: "",
            },
            DecryptItem {
                ciphertext_blob: &tampered,
                encryption_context: &ctx,
            },
            DecryptItem {
                ciphertext_blob: b"short",
                encryption_context: &ctx,
            },
        ];
        let opened = kms.decrypt_many(&items).unwrap();
        for (item, got) in items.iter().zip(&opened) {
            let single = kms.decrypt(item.ciphertext_blob, item.encryption_context);
            match (got, single) {
                (Ok(b), Ok(s)) => assert_eq!(b.plaintext.expose(), s.plaintext.expose()),
                (Err(b), Err(s)) => assert_eq!(b.to_string(), s.to_string()),
                (b, s) => panic!("batch {b:?} but single {s:?}"),
            }
        }
        assert!(opened[0].is_ok() && opened[1..].iter().all(Result::is_err));
        let too_many = vec![items[0]; MAX_BATCH_ITEMS + 1];
        assert!(matches!(
            kms.decrypt_many(&too_many),
            Err(Error::InvalidArgument(_))
        ));
        assert!(kms.decrypt_many(&[]).unwrap().is_empty());
    }
}
