//! Algorithm names both sides of the wire spell the same way (Tencent's spellings), written once.

/// How imported key material is wrapped under the wrapping public key (RSA-2048) of
/// GetParametersForImport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WrappingAlgorithm {
    /// `RSAES_OAEP_SHA_1`: OAEP with SHA-1 and MGF1-SHA-1, empty label.
    RsaesOaepSha1,
    /// `RSAES_OAEP_SHA_256`: OAEP with SHA-256 and MGF1-SHA-256, empty label.
    RsaesOaepSha256,
}

impl WrappingAlgorithm {
    /// Every algorithm.
    pub const ALL: [Self; 2] = [Self::RsaesOaepSha1, Self::RsaesOaepSha256];

    /// Tencent's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        }
    }

    /// The algorithm spelled exactly `text` (as the APIs take it), if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// Case-insensitive, for people typing it (kms-admin); the error lists the names.
impl std::str::FromStr for WrappingAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                format!("wrapping algorithm must be one of {known:?}, got {s:?}")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_exactly_or_case_insensitively() {
        for a in WrappingAlgorithm::ALL {
            assert_eq!(WrappingAlgorithm::parse(a.as_str()), Some(a));
            assert_eq!(
                a.as_str().to_lowercase().parse::<WrappingAlgorithm>(),
                Ok(a)
            );
        }
        assert_eq!(WrappingAlgorithm::parse("rsaes_oaep_sha_1"), None);
        assert_eq!(
            "RSA".parse::<WrappingAlgorithm>(),
            Err(
                "wrapping algorithm must be one of [\"RSAES_OAEP_SHA_1\", \"RSAES_OAEP_SHA_256\"], \
                 got \"RSA\""
                    .to_owned()
            )
        );
    }
}
