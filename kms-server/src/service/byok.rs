//! The gRPC calls of bring your own key: GetParametersForImport, ImportKeyMaterial and
//! DeleteImportedKeyMaterial, gated, audited and logged as the other key calls. They write the key
//! store (or make an RSA key pair), so they run on a blocking thread.

use kms_proto::pb;
use tonic::{Request, Response, Status};

use super::KmsService;
use crate::access::Action;

impl KmsService {
    pub(super) async fn get_parameters_for_import_call(
        &self,
        r: Request<pb::GetParametersForImportRequest>,
    ) -> Result<Response<pb::GetParametersForImportResponse>, Status> {
        let call = self.begin(Action::GetParametersForImport, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id.clone(), move |kms, _, key| {
            kms.get_parameters_for_import(key, &r.wrapping_algorithm, &r.wrapping_key_spec)
                .map(|p| pb::GetParametersForImportResponse {
                    key_id: p.key_id.to_string(),
                    import_token: p.import_token,
                    public_key: p.public_key_der,
                    parameters_valid_to: p.parameters_valid_to,
                })
        })
        .await
    }

    pub(super) async fn import_key_material_call(
        &self,
        r: Request<pb::ImportKeyMaterialRequest>,
    ) -> Result<Response<pb::ImportKeyMaterialResponse>, Status> {
        let call = self.begin(Action::ImportKeyMaterial, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id.clone(), move |kms, _, key| {
            kms.import_key_material(key, &r.encrypted_key_material, &r.import_token, r.valid_to)
                .map(|_| pb::ImportKeyMaterialResponse {})
        })
        .await
    }

    pub(super) async fn delete_imported_key_material_call(
        &self,
        r: Request<pb::DeleteImportedKeyMaterialRequest>,
    ) -> Result<Response<pb::DeleteImportedKeyMaterialResponse>, Status> {
        let call = self.begin(Action::DeleteImportedKeyMaterial, &r);
        let r = r.into_inner();
        call.blocking_key(self.kms.clone(), r.key_id, move |kms, _, key| {
            kms.delete_imported_key_material(key)
                .map(|()| pb::DeleteImportedKeyMaterialResponse {})
        })
        .await
    }
}
