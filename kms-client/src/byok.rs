//! Bring your own key: wrapping parameters, importing and deleting key material of an EXTERNAL
//! key (made with [`crate::CreateKeyRequest::external`]). The wrapping algorithm is an enum here,
//! so a caller cannot misspell it; the wire carries Tencent's spellings.

use kms_proto::pb;
pub use kms_types::WrappingAlgorithm;

use crate::builder::Retry;
use crate::client::KmsClient;
use crate::error::Result;

/// What [`KmsClient::get_parameters_for_import`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportParameters {
    /// The key.
    pub key_id: String,
    /// The token [`KmsClient::import_key_material`] must carry.
    pub import_token: String,
    /// The wrapping public key (RSA-2048), DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// Until when (unix seconds) the token and the wrapping key are good (24 hours).
    pub parameters_valid_to: i64,
}

impl KmsClient {
    /// `GetParametersForImport`: a fresh RSA-2048 wrapping key and an import token for an EXTERNAL
    /// key. Not retried (each call replaces the key's earlier parameters).
    pub async fn get_parameters_for_import(
        &self,
        key_id: &str,
        algorithm: WrappingAlgorithm,
    ) -> Result<ImportParameters> {
        let req = pb::GetParametersForImportRequest {
            key_id: key_id.to_owned(),
            wrapping_algorithm: algorithm.as_str().to_owned(),
            wrapping_key_spec: "RSA_2048".to_owned(),
        };
        let r = self
            .call(
                Retry::Never,
                "GetParametersForImport",
                req,
                |mut c, r| async move { c.get_parameters_for_import(r).await },
            )
            .await?;
        Ok(ImportParameters {
            key_id: r.key_id,
            import_token: r.import_token,
            public_key_der: r.public_key,
            parameters_valid_to: r.parameters_valid_to,
        })
    }

    /// `ImportKeyMaterial`: 32 bytes of material wrapped under the parameters' public key become
    /// the key's material until `valid_to` (unix seconds; 0: never expires); the key becomes
    /// Enabled. Not retried (the token is used up).
    pub async fn import_key_material(
        &self,
        key_id: &str,
        encrypted_key_material: &[u8],
        import_token: &str,
        valid_to: i64,
    ) -> Result<()> {
        let req = pb::ImportKeyMaterialRequest {
            key_id: key_id.to_owned(),
            encrypted_key_material: encrypted_key_material.to_vec(),
            import_token: import_token.to_owned(),
            valid_to,
        };
        self.call(
            Retry::Never,
            "ImportKeyMaterial",
            req,
            |mut c, r| async move { c.import_key_material(r).await },
        )
        .await?;
        Ok(())
    }

    /// `DeleteImportedKeyMaterial`: erases an EXTERNAL key's material; it goes back to
    /// PendingImport and its ciphertexts stop opening. Not retried.
    pub async fn delete_imported_key_material(&self, key_id: &str) -> Result<()> {
        let req = pb::DeleteImportedKeyMaterialRequest {
            key_id: key_id.to_owned(),
        };
        self.call(
            Retry::Never,
            "DeleteImportedKeyMaterial",
            req,
            |mut c, r| async move { c.delete_imported_key_material(r).await },
        )
        .await?;
        Ok(())
    }
}
