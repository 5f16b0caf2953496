//! Authentication: COS v5 request signatures (`q-sign-algorithm=sha1`, `docs/cos-kms-spec.md` §5).
//!
//! * [`credentials`]: the SecretId -> SecretKey pairs the gateway accepts (the secrets' rules).
//! * [`signature`]: verifying the `Authorization` header or a presigned URL, and a signer.
//! * [`post_policy`]: the POST Object form's policy signature.
//!
//! Dependencies point one way: `post_policy` -> `signature` -> `credentials`. The public items are
//! re-exported here, so callers name them `crate::auth::...` whichever file holds them.

pub mod credentials;
pub mod post_policy;
pub mod signature;

pub use credentials::{Credentials, SecretKey};
pub use post_policy::{sign_post_policy, verify_post_policy};
pub use signature::{
    CLOCK_SKEW, DEFAULT_MAX_SIGNATURE_AGE, SIGNATURE_PARAMS, Signed, SignedRequest,
    is_signature_param, sign, verify,
};

/// The credentials the unit tests sign with: `AKIDtest` / `secretkey`.
#[cfg(test)]
fn test_credentials() -> Credentials {
    let mut c = Credentials::new();
    c.insert("AKIDtest", SecretKey::new("secretkey"));
    c
}
