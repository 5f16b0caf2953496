//! The POST Object (browser form upload) policy signature: `q-signature` = HMAC-SHA1(hex
//! HMAC-SHA1(SecretKey, q-key-time), hex SHA1(policy document)). The policy's conditions are
//! checked where the form is parsed (`ops::post`); this module owns what needs the secret, and
//! reads the policy's `expiration` (an RFC 3339 date-time, parsed by the `time` crate).

use sha1::{Digest as _, Sha1};
use subtle::ConstantTimeEq as _;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::credentials::{Credentials, SecretKey};
use super::signature::{check_window, hmac_hex, parse_window};
use crate::error::{Error, Result};

/// The form of a policy's `expiration` the SDKs write (JavaScript's `Date.toISOString()`).
const EXPIRATION_EXAMPLE: &str = "2030-01-01T00:00:00.000Z";

/// A policy document's `expiration`, in unix seconds.
///
/// It must be an RFC 3339 date-time (`2030-01-01T00:00:00.000Z`, `2030-01-01T08:00:00+08:00`):
/// the ISO 8601 profile with a time zone that COS, S3 and the SDKs write. Anything else (no
/// `expiration`, not a string, no time zone, an impossible date) is `400 InvalidPolicyDocument`:
/// a policy whose lifetime cannot be read is refused, never taken as unlimited.
pub fn expiration(policy: &serde_json::Value) -> Result<i64> {
    let value = policy
        .get("expiration")
        .ok_or_else(|| Error::InvalidPolicyDocument("the policy has no expiration".into()))?;
    let text = value.as_str().ok_or_else(|| {
        Error::InvalidPolicyDocument(format!("the policy's expiration {value} is not a string"))
    })?;
    time::OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|_| {
            Error::InvalidPolicyDocument(format!(
                "the policy's expiration {text:?} is not an ISO 8601 (RFC 3339) date-time \
                 such as {EXPIRATION_EXAMPLE}"
            ))
        })
}

/// Verifies a POST Object form's signature: `q-signature` = HMAC-SHA1(hex HMAC-SHA1(SecretKey,
/// q-key-time), hex SHA1(decoded policy)). Checks the key time window as well: `now` within it, and
/// at most `max_age` long, as for a request signature.
pub fn verify_post_policy(
    creds: &Credentials,
    ak: &str,
    key_time: &str,
    policy_b64: &str,
    given_signature: &str,
    (now, max_age): (i64, std::time::Duration),
) -> Result<()> {
    use base64::Engine as _;
    let secret = creds.get(ak).ok_or(Error::InvalidAccessKeyId)?;
    let (start, end) = parse_window(key_time)
        .ok_or_else(|| Error::AccessDenied("q-key-time is malformed".to_owned()))?;
    if now > end {
        return Err(Error::AccessDenied(
            "post object request has been expired".to_owned(),
        ));
    }
    check_window((start, end), now, max_age)?;
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

    const MAX: std::time::Duration = crate::auth::DEFAULT_MAX_SIGNATURE_AGE;

    #[test]
    fn post_policy() {
        let policy = br#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[]}"#;
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(policy);
        let sig = sign_post_policy(&SecretKey::new("secretkey"), "0;100", policy);
        verify_post_policy(&creds(), "AKIDtest", "0;100", &b64, &sig, (50, MAX)).unwrap();
        let e = verify_post_policy(
            &creds(),
            "AKIDtest",
            "0;100",
            &b64,
            &"0".repeat(40),
            (50, MAX),
        )
        .unwrap_err();
        assert_eq!(e.code(), "SignatureDoesNotMatch");
        let e =
            verify_post_policy(&creds(), "AKIDtest", "0;100", &b64, &sig, (500, MAX)).unwrap_err();
        assert_eq!(e.code(), "AccessDenied");
        // A key time "forever" is refused, even within it.
        let forever = "0;9999999999";
        let sig = sign_post_policy(&SecretKey::new("secretkey"), forever, policy);
        let e =
            verify_post_policy(&creds(), "AKIDtest", forever, &b64, &sig, (50, MAX)).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("AccessDenied", 403));
        assert!(e.message().contains("max-signature-age"), "{e}");
    }

    fn expiration_of(text: &str) -> Result<i64> {
        expiration(&serde_json::json!({ "expiration": text, "conditions": [] }))
    }

    #[test]
    fn expiration_forms_that_are_accepted() {
        assert_eq!(expiration_of("1970-01-02T00:00:01.000Z").unwrap(), 86_401);
        assert_eq!(expiration_of(EXPIRATION_EXAMPLE).unwrap(), 1_893_456_000);
        // Without a fraction, with any number of fraction digits, with an offset, with blanks.
        assert_eq!(
            expiration_of("2030-01-01T00:00:00Z").unwrap(),
            1_893_456_000
        );
        assert_eq!(
            expiration_of("2030-01-01T00:00:00.123456Z").unwrap(),
            1_893_456_000
        );
        assert_eq!(
            expiration_of("2030-01-01T08:00:00+08:00").unwrap(),
            1_893_456_000
        );
        assert_eq!(
            expiration_of(" 2030-01-01T00:00:00.000Z ").unwrap(),
            1_893_456_000
        );
        // RFC 3339 (§5.6, note) lets a space stand for the `T`.
        assert_eq!(
            expiration_of("2030-01-01 00:00:00Z").unwrap(),
            1_893_456_000
        );
        assert_eq!(
            expiration_of("2999-01-01T00:00:00.000Z").unwrap(),
            32_472_144_000
        );
    }

    #[test]
    fn bad_expirations_are_invalid_policy_documents() {
        for bad in [
            "",
            "tomorrow",
            "2030-01-01",
            "2030-01-01T00:00:00",
            "2030-13-01T00:00:00.000Z",
            "2030-02-30T00:00:00.000Z",
            "2030-01-01T24:00:01.000Z",
            "2030-01-01T00:60:00.000Z",
            "2030-1-1T00:00:00Z",
            "2030-01-01T00:00:00.000+0800",
            "1893456000",
        ] {
            let e = expiration_of(bad).unwrap_err();
            assert_eq!(
                (e.code(), e.status().as_u16()),
                ("InvalidPolicyDocument", 400),
                "{bad:?}"
            );
            assert!(e.message().contains(EXPIRATION_EXAMPLE), "{bad:?}: {e}");
        }
        for policy in [
            serde_json::json!({ "conditions": [] }),
            serde_json::json!({ "expiration": 1_893_456_000, "conditions": [] }),
            serde_json::json!({ "expiration": null }),
        ] {
            let e = expiration(&policy).unwrap_err();
            assert_eq!(
                (e.code(), e.status().as_u16()),
                ("InvalidPolicyDocument", 400),
                "{policy}"
            );
        }
    }
}
