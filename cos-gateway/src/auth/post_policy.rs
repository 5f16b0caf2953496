//! The POST Object (browser form upload) policy signature: `q-signature` = HMAC-SHA1(hex
//! HMAC-SHA1(SecretKey, q-key-time), hex SHA1(policy document)). The policy's conditions are
//! checked where the form is parsed (`ops::post`); this module owns what needs the secret.

use sha1::{Digest as _, Sha1};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::credentials::{Credentials, SecretKey};
use super::signature::{hmac_hex, parse_window};
use crate::error::{Error, Result};

/// Verifies a POST Object form's signature: `q-signature` = HMAC-SHA1(hex HMAC-SHA1(SecretKey,
/// q-key-time), hex SHA1(decoded policy)). Returns the secret id's key window check as well.
pub fn verify_post_policy(
    creds: &Credentials,
    ak: &str,
    key_time: &str,
    policy_b64: &str,
    given_signature: &str,
    now: i64,
) -> Result<()> {
    use base64::Engine as _;
    let secret = creds.get(ak).ok_or(Error::InvalidAccessKeyId)?;
    let (start, end) = parse_window(key_time)
        .ok_or_else(|| Error::AccessDenied("q-key-time is malformed".to_owned()))?;
    if now < start || now > end {
        return Err(Error::AccessDenied(
            "post object request has been expired".to_owned(),
        ));
    }
    let policy = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .map_err(|_| Error::AccessDenied("the policy is not base64".to_owned()))?;
    let sign_key = Zeroizing::new(hmac_hex(secret.expose(), key_time.as_bytes()));
    let expected = hmac_hex(
        sign_key.as_bytes(),
        hex::encode(Sha1::digest(&policy)).as_bytes(),
    );
    if bool::from(
        expected
            .as_bytes()
            .ct_eq(given_signature.to_ascii_lowercase().as_bytes()),
    ) {
        Ok(())
    } else {
        Err(Error::SignatureDoesNotMatch)
    }
}

/// Signs a POST Object policy (tests).
pub fn sign_post_policy(secret_key: &SecretKey, key_time: &str, policy_json: &[u8]) -> String {
    let sign_key = Zeroizing::new(hmac_hex(secret_key.expose(), key_time.as_bytes()));
    hmac_hex(
        sign_key.as_bytes(),
        hex::encode(Sha1::digest(policy_json)).as_bytes(),
    )
}
#[cfg(test)]
mod tests {
    use super::super::test_credentials as creds;
    use super::*;

    #[test]
    fn post_policy() {
        let policy = br#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[]}"#;
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(policy);
        let sig = sign_post_policy(&SecretKey::new("secretkey"), "0;100", policy);
        verify_post_policy(&creds(), "AKIDtest", "0;100", &b64, &sig, 50).unwrap();
        let e = verify_post_policy(&creds(), "AKIDtest", "0;100", &b64, &"0".repeat(40), 50)
            .unwrap_err();
        assert_eq!(e.code(), "SignatureDoesNotMatch");
        let e = verify_post_policy(&creds(), "AKIDtest", "0;100", &b64, &sig, 500).unwrap_err();
        assert_eq!(e.code(), "AccessDenied");
    }
}
