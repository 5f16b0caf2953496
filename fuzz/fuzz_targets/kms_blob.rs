//! The KMS ciphertext blob (`kms_server::blob`): the header parser and the opener, on arbitrary
//! bytes of either format, under the frozen test vectors' key version material and encryption
//! context.
//!
//! Invariants: a blob that opens has a valid header, and sealing its plaintext again with its own
//! header and nonce (v2) or salt and nonce (v1) gives back the same bytes (each format has one
//! encoding); every failure is the one opaque `InvalidCiphertext`.
#![no_main]

use kms_server::blob::{self, BlobHeader, BlobKey};
use kms_server::secret::{Key32, NONCE_LEN};
use kms_server::xaes::XAES_NONCE_LEN;
use kms_server::{EncryptionContext, Error};
use libfuzzer_sys::fuzz_target;

/// Where the nonce of a v2 blob and the salt of a v1 blob start: after the key part of the header.
const NONCE_AT: usize = blob::BLOB_HEADER_LEN - XAES_NONCE_LEN;

fuzz_target!(|data: &[u8]| {
    let header = BlobHeader::parse(data);
    if let Err(e) = &header {
        assert!(matches!(e, Error::InvalidCiphertext), "{e:?}");
    }
    let material = Key32::from_slice(&[0x11; 32]).expect("32 bytes");
    let key = BlobKey::new(material.clone());
    let context =
        EncryptionContext::from_pairs([("bucket", "examplebucket-1250000000"), ("a", "b")]);
    match blob::open_blob(&key, &context, data) {
        Ok(plain) => {
            let header = header.expect("a blob that opens has a valid header");
            let again = if data[blob::BLOB_MAGIC.len()] == blob::BLOB_VERSION {
                let nonce = data[NONCE_AT..blob::BLOB_HEADER_LEN]
                    .try_into()
                    .expect("nonce");
                blob::seal_blob_with(&key, header, nonce, &context, plain.expose())
            } else {
                let salt = data[NONCE_AT..NONCE_AT + blob::SALT_LEN]
                    .try_into()
                    .expect("salt");
                let nonce = data[blob::BLOB_V1_HEADER_LEN - NONCE_LEN..blob::BLOB_V1_HEADER_LEN]
                    .try_into()
                    .expect("nonce");
                blob::seal_blob_v1_with(&material, header, salt, nonce, &context, plain.expose())
            };
            assert_eq!(again, data, "a blob must have exactly one encoding");
        }
        Err(e) => assert!(matches!(e, Error::InvalidCiphertext), "{e:?}"),
    }
});
