//! The SM2 forms of one private key, wiped when the key is dropped.
//!
//! `sm2`'s `SecretKey` zeroizes on drop, but its `SigningKey` and `DecryptingKey` keep the secret
//! scalar as a plain `Copy` value and clear nothing, and `zeroize` can wipe a foreign type only
//! through `unsafe` code, which the workspace forbids. Both forms are built once per key (each
//! derives the public point, as much work as a signature), so a loaded SM2 key would leave its
//! scalar in freed memory when the key is dropped (deleted, its cache entry replaced). Instead, on
//! drop each form is overwritten in place by the forms of a public, worthless key (scalar 1), and
//! the written memory is passed to [`std::hint::black_box`] so the stores are not optimised away
//! as writes to memory about to be freed (the same best effort `zeroize` makes with volatile
//! writes).

use std::sync::LazyLock;

use sm2::{dsa::SigningKey, pke::DecryptingKey};

use super::{SM2_DEFAULT_USER_ID, decrypt};

/// The forms of the SM2 key whose scalar is 1: public knowledge, what a dropped pair holds.
static WORTHLESS: LazyLock<(DecryptingKey, SigningKey)> = LazyLock::new(|| {
    let mut one = [0u8; 32];
    one[31] = 1;
    let secret = sm2::SecretKey::from_slice(&one).expect("1 is a valid SM2 scalar");
    let signing =
        SigningKey::new(SM2_DEFAULT_USER_ID, &secret).expect("scalar 1 makes a signing key");
    (decrypt::sm2_decrypting(&secret), signing)
});

/// An SM2 private key's decrypting and signing forms (see the module doc).
pub(super) struct Sm2Pair {
    decrypting: DecryptingKey,
    signing: Box<SigningKey>,
}

impl Sm2Pair {
    /// Both forms of `secret` (the signing form with the default user id); `None` if `sm2` refuses.
    pub(super) fn new(secret: &sm2::SecretKey) -> Option<Self> {
        Some(Self {
            decrypting: decrypt::sm2_decrypting(secret),
            signing: Box::new(SigningKey::new(SM2_DEFAULT_USER_ID, secret).ok()?),
        })
    }

    /// The decrypting form.
    pub(super) fn decrypting(&self) -> &DecryptingKey {
        &self.decrypting
    }

    /// The signing form (it holds the verifying key too).
    pub(super) fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// Overwrites both forms with those of the worthless key, in place.
    fn wipe(&mut self) {
        let (decrypting, signing) = &*WORTHLESS;
        self.decrypting = decrypting.clone();
        *self.signing = signing.clone();
        std::hint::black_box(&mut self.decrypting);
        std::hint::black_box(&mut *self.signing);
    }
}

impl Drop for Sm2Pair {
    fn drop(&mut self) {
        self.wipe();
    }
}

#[cfg(test)]
mod tests {
    use sm2::elliptic_curve::Generate as _;

    use super::*;

    #[test]
    fn wiping_overwrites_the_scalar_in_place() {
        let secret = sm2::SecretKey::generate();
        let mut pair = Sm2Pair::new(&secret).unwrap();
        let scalar = secret.to_nonzero_scalar();
        assert_eq!(pair.decrypting().as_nonzero_scalar(), &scalar);
        assert_eq!(pair.signing().as_nonzero_scalar(), &scalar);
        let signing_at: *const SigningKey = pair.signing();
        pair.wipe();
        let one = WORTHLESS.0.as_nonzero_scalar();
        assert_ne!(one, &scalar);
        assert_eq!(pair.decrypting().as_nonzero_scalar(), one);
        assert_eq!(pair.signing().as_nonzero_scalar(), one);
        assert_eq!(
            pair.signing().verifying_key().as_affine(),
            WORTHLESS.1.verifying_key().as_affine()
        );
        // Overwritten where it was, not replaced by a new allocation.
        assert!(std::ptr::eq(signing_at, pair.signing()));
    }
}
