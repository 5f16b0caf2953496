//! Asymmetric decryption (`kms_server::asymmetric::PrivateKey::decrypt`), what AsymmetricRsaDecrypt
//! and AsymmetricSm2Decrypt run on the `Ciphertext` parameter once it is base64-decoded: RSAES
//! (PKCS#1 v1.5, OAEP-SHA-1, OAEP-SHA-256) under the fixed RSA-2048 test key, and SM2 (ASN.1,
//! C1C3C2 with or without the `04` prefix) under the fixed SM2 test key, on arbitrary bytes.
//!
//! Input: the first byte picks the algorithm (mod 4); the rest is the ciphertext.
//!
//! Invariants: nothing panics; a ciphertext of an impossible length (RSA: not 256 bytes; SM2: not
//! 97 to 256) is `InvalidArgument`, and every other failure is the one opaque `InvalidCiphertext`
//! (no error says which check failed); a plaintext is shorter than its ciphertext.
#![no_main]

use std::sync::OnceLock;

use kms_server::Error;
use kms_server::asymmetric::{
    DecryptAlgorithm, MAX_SM2_CIPHERTEXT_BYTES, MIN_SM2_CIPHERTEXT_BYTES, PrivateKey,
    RSA_2048_CIPHERTEXT_BYTES,
};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static (PrivateKey, PrivateKey) {
    static KEYS: OnceLock<(PrivateKey, PrivateKey)> = OnceLock::new();
    KEYS.get_or_init(kms_server::fuzzing::decryption_keys)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, ciphertext)) = data.split_first() else {
        return;
    };
    let algorithm = DecryptAlgorithm::ALL[usize::from(pick) % DecryptAlgorithm::ALL.len()];
    let (rsa, sm2) = keys();
    let (key, length_ok) = match algorithm {
        DecryptAlgorithm::Sm2 => (
            sm2,
            (MIN_SM2_CIPHERTEXT_BYTES..=MAX_SM2_CIPHERTEXT_BYTES).contains(&ciphertext.len()),
        ),
        _ => (rsa, ciphertext.len() == RSA_2048_CIPHERTEXT_BYTES),
    };
    match key.decrypt(algorithm, ciphertext) {
        Ok(plain) => {
            assert!(
                length_ok,
                "{algorithm:?}: opened a ciphertext of a refused length"
            );
            assert!(plain.len() < ciphertext.len(), "{algorithm:?}");
        }
        Err(Error::InvalidArgument(m)) => {
            assert!(
                !length_ok,
                "{algorithm:?}: a length refusal of an allowed length: {m}"
            )
        }
        Err(Error::InvalidCiphertext) => assert!(length_ok, "{algorithm:?}"),
        Err(e) => panic!("{algorithm:?}: {e:?}"),
    }
});
