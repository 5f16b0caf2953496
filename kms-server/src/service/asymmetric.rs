//! The gRPC calls of asymmetric keys: GetPublicKey, Sign, Verify and AsymmetricDecrypt. Their bodies live here (the
//! trait impl in the parent module only forwards), gated, audited and logged exactly as the
//! symmetric calls: served from memory, so inline.

use kms_proto::pb;
use tonic::{Request, Response, Status};

use super::KmsService;
use crate::{
    access::Action,
    asymmetric::{DecryptAlgorithm, MessageType, SignAlgorithm},
    error::{Error, Result},
};

/// The PEM label of a SubjectPublicKeyInfo (RFC 7468 section 13).
const PUBLIC_KEY_PEM_LABEL: &str = "PUBLIC KEY";

/// `algorithm` as Tencent spells it.
fn algorithm(text: &str) -> Result<SignAlgorithm> {
    SignAlgorithm::parse(text).ok_or_else(|| {
        let known: Vec<&str> = SignAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
        Error::InvalidArgument(format!("algorithm must be one of {known:?}, got {text:?}"))
    })
}

/// A decryption `algorithm` as Tencent spells it.
fn decrypt_algorithm(text: &str) -> Result<DecryptAlgorithm> {
    DecryptAlgorithm::parse(text).ok_or_else(|| {
        let known: Vec<&str> = DecryptAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
        Error::InvalidArgument(format!("algorithm must be one of {known:?}, got {text:?}"))
    })
}

/// `message_type`; unspecified is RAW (Tencent's default).
fn message_type(value: i32) -> Result<MessageType> {
    match pb::MessageType::try_from(value) {
        Ok(pb::MessageType::Unspecified | pb::MessageType::Raw) => Ok(MessageType::Raw),
        Ok(pb::MessageType::Digest) => Ok(MessageType::Digest),
        Err(_) => Err(Error::InvalidArgument(format!(
            "unknown message_type {value}"
        ))),
    }
}

/// PEM (RFC 7468, LF line endings) of a SubjectPublicKeyInfo DER.
pub(crate) fn public_key_pem(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(PUBLIC_KEY_PEM_LABEL, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

impl KmsService {
    pub(super) async fn get_public_key_call(
        &self,
        r: Request<pb::GetPublicKeyRequest>,
    ) -> Result<Response<pb::GetPublicKeyResponse>, Status> {
        let call = self.begin(Action::GetPublicKey, &r);
        let r = r.into_inner();
        call.inline(&r.key_id, |caller| {
            let key = caller.key(&self.kms, Action::GetPublicKey, &r.key_id)?;
            self.kms
                .get_public_key(&key)
                .map(|p| pb::GetPublicKeyResponse {
                    key_id: p.key_id.to_string(),
                    public_key_pem: public_key_pem(&p.der),
                    public_key: p.der,
                    key_usage: p.key_usage.as_str().to_owned(),
                })
        })
        .await
    }

    pub(super) async fn sign_call(
        &self,
        r: Request<pb::SignRequest>,
    ) -> Result<Response<pb::SignResponse>, Status> {
        let call = self.begin(Action::Sign, &r);
        let r = r.into_inner();
        call.inline(&r.key_id, |caller| {
            let key = caller.key(&self.kms, Action::Sign, &r.key_id)?;
            let alg = algorithm(&r.algorithm)?;
            let kind = message_type(r.message_type)?;
            self.kms
                .sign(&key, alg, kind, &r.message)
                .map(|(key_id, signature)| pb::SignResponse {
                    key_id: key_id.to_string(),
                    signature,
                })
        })
        .await
    }

    pub(super) async fn verify_call(
        &self,
        r: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let call = self.begin(Action::Verify, &r);
        let r = r.into_inner();
        call.inline(&r.key_id, |caller| {
            let key = caller.key(&self.kms, Action::Verify, &r.key_id)?;
            let alg = algorithm(&r.algorithm)?;
            let kind = message_type(r.message_type)?;
            self.kms
                .verify(&key, alg, kind, &r.message, &r.signature)
                .map(|(key_id, signature_valid)| pb::VerifyResponse {
                    key_id: key_id.to_string(),
                    signature_valid,
                })
        })
        .await
    }

    pub(super) async fn asymmetric_decrypt_call(
        &self,
        r: Request<pb::AsymmetricDecryptRequest>,
    ) -> Result<Response<pb::AsymmetricDecryptResponse>, Status> {
        let call = self.begin(Action::AsymmetricDecrypt, &r);
        let r = r.into_inner();
        call.inline(&r.key_id, |caller| {
            let key = caller.key(&self.kms, Action::AsymmetricDecrypt, &r.key_id)?;
            let alg = decrypt_algorithm(&r.algorithm)?;
            self.kms
                .asymmetric_decrypt(&key, alg, &r.ciphertext)
                .map(|(key_id, plaintext)| pb::AsymmetricDecryptResponse {
                    key_id: key_id.to_string(),
                    plaintext: plaintext.expose().to_vec(),
                })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_once_with_exact_errors() {
        assert_eq!(algorithm("ECC_P256_R1").unwrap(), SignAlgorithm::EccP256R1);
        assert_eq!(
            algorithm("ecdsa").unwrap_err().to_string(),
            "algorithm must be one of [\"SM2DSA\", \"ECC_P256_R1\", \"ECDSA384\", \
             \"RSA_PSS_SHA_256\", \"RSA_PKCS1_SHA_256\"], got \"ecdsa\""
        );
        assert_eq!(
            decrypt_algorithm("RSAES_OAEP_SHA_256").unwrap(),
            DecryptAlgorithm::RsaesOaepSha256
        );
        assert_eq!(
            decrypt_algorithm("SM2_C1C3C2_ASN1")
                .unwrap_err()
                .to_string(),
            "algorithm must be one of [\"RSAES_PKCS1_V1_5\", \"RSAES_OAEP_SHA_1\", \
             \"RSAES_OAEP_SHA_256\", \"SM2\"], got \"SM2_C1C3C2_ASN1\""
        );
        assert_eq!(message_type(0).unwrap(), MessageType::Raw);
        assert_eq!(message_type(2).unwrap(), MessageType::Digest);
        assert_eq!(
            message_type(9).unwrap_err().to_string(),
            "unknown message_type 9"
        );
        let pem = public_key_pem(&[1, 2, 3]);
        assert_eq!(
            pem,
            "-----BEGIN PUBLIC KEY-----\nAQID\n-----END PUBLIC KEY-----\n"
        );
    }
}
