//! The encryption context, from `kms-types` (the rules the client and the storage adapter share),
//! under its old paths (`kms_server::context::*`, `kms_server::EncryptionContext`); and how a
//! shared rule's refusal becomes this crate's [`Error`]: an invalid argument whose message names
//! the rule.
//!
//! What the server binds into a blob's AAD is [`EncryptionContext::canonical`]; see `crypto`.

pub use kms_types::context::*;

use crate::error::Error;

impl From<kms_types::Error> for Error {
    fn from(e: kms_types::Error) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn refusal(b64: &str) -> Error {
        match EncryptionContext::from_base64(b64) {
            Err(e) => Error::from(e),
            Ok(c) => panic!("expected a refusal, got {c:?}"),
        }
    }

    #[test]
    fn a_refused_context_is_an_invalid_argument_naming_the_rule() {
        let e = refusal(&STANDARD.encode(r#"{"a":1}"#));
        assert!(
            matches!(&e, Error::InvalidArgument(m) if m == "encryption context: the value of \"a\" is not a string"),
            "{e:?}"
        );
        assert_eq!(e.tencent_code(), "InvalidParameterValue");
        let e = refusal("%%%");
        assert_eq!(
            e.to_string(),
            "encryption context is not valid base64 (standard alphabet)"
        );
    }

    #[test]
    fn the_limit_keeps_its_path() {
        assert_eq!(MAX_CONTEXT_JSON_BYTES, 1024);
        assert_eq!(
            crate::context::MAX_CONTEXT_JSON_BYTES,
            kms_types::MAX_CONTEXT_JSON_BYTES
        );
    }
}
