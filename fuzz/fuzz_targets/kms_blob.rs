//! The KMS ciphertext blob (`kms_server::blob`): the header parser and the opener, on arbitrary
//! bytes, under the frozen test vector's key version material and encryption context.
//!
//! Invariants: a blob that opens has a valid header, and sealing its plaintext again with its own
//! header, salt and nonce gives back the same bytes (the format has one encoding); every failure
//! is the one opaque `InvalidCiphertext`.
#![no_main]

use kms_server::blob::{self, BlobHeader};
use kms_server::secret::{Key32, NONCE_LEN};
use kms_server::{EncryptionContext, Error};
use libfuzzer_sys::fuzz_target;

/// Where the salt starts: it and the nonce end the header.
const SALT_AT: usize = blob::BLOB_HEADER_LEN - NONCE_LEN - blob::SALT_LEN;

fuzz_target!(|data: &[u8]| {
    let header = BlobHeader::parse(data);
    if let Err(e) = &header {
        assert!(matches!(e, Error::InvalidCiphertext), "{e:?}");
    }
    let material = Key32::from_slice(&[0x11; 32]).expect("32 bytes");
    let context =
        EncryptionContext::from_pairs([("bucket", "examplebucket-1250000000"), ("a", "b")]);
    match blob::open_blob(&material, &context, data) {
        Ok(plain) => {
            let header = header.expect("a blob that opens has a valid header");
            let salt = data[SALT_AT..SALT_AT + blob::SALT_LEN]
                .try_into()
                .expect("salt");
            let nonce = data[blob::BLOB_HEADER_LEN - NONCE_LEN..blob::BLOB_HEADER_LEN]
                .try_into()
                .expect("nonce");
            let again =
                blob::seal_blob_with(&material, header, salt, nonce, &context, plain.expose());
            assert_eq!(again, data, "a blob must have exactly one encoding");
        }
        Err(e) => assert!(matches!(e, Error::InvalidCiphertext), "{e:?}"),
    }
});
