//! The gRPC calls over several keys at once: DescribeKeys, EnableKeys and DisableKeys. The list
//! is checked by the core ([`crate::kms::key_sets::check_key_ids`]); then every key is resolved
//! and asked of the policy under the batch's own action before anything changes, so an unknown or
//! forbidden key anywhere in the list changes nothing. The core then checks every key's change
//! and writes them all or none ([`Kms::switch_keys`]): a state refusal anywhere in the list (its
//! message names the key) changes nothing either. One audit line per call names every key: as
//! asked and, when the call succeeded, with its UUID (and version, for DescribeKeys).

use kms_proto::pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{KmsService, convert::metadata_to_pb, gate::Caller};
use crate::{
    access::Action,
    error::Error,
    kms::Kms,
    kms::key_sets::{Switch, check_key_ids},
};

/// Checks the list, then resolves every name to its key's UUID with the caller's permission.
fn resolve_all(
    kms: &Kms,
    caller: &Caller,
    action: Action,
    ids: &[String],
) -> crate::Result<Vec<String>> {
    caller.action(action)?;
    check_key_ids(ids)?;
    ids.iter()
        .map(|name| {
            let key = caller.key(kms, action, name)?;
            kms.key_names(&key)
                .map(|(id, _)| id.to_string())
                .ok_or_else(|| Error::NotFound(name.clone()))
        })
        .collect()
}

impl KmsService {
    pub(super) async fn describe_keys_call(
        &self,
        r: Request<pb::DescribeKeysRequest>,
    ) -> Result<Response<pb::DescribeKeysResponse>, Status> {
        let call = self.begin(Action::DescribeKeys, &r);
        let r = r.into_inner();
        let kms = self.kms.clone();
        call.blocking_batch(r.key_ids.clone(), move |caller| {
            let ids = resolve_all(&kms, caller, Action::DescribeKeys, &r.key_ids)?;
            let key_metadata = ids
                .iter()
                .map(|id| kms.describe_key(id).map(metadata_to_pb))
                .collect::<crate::Result<_>>()?;
            Ok(pb::DescribeKeysResponse { key_metadata })
        })
        .await
    }

    pub(super) async fn enable_keys_call(
        &self,
        r: Request<pb::EnableKeysRequest>,
    ) -> Result<Response<pb::EnableKeysResponse>, Status> {
        let call = self.begin(Action::EnableKeys, &r);
        let r = r.into_inner();
        let kms = self.kms.clone();
        call.blocking_batch(r.key_ids.clone(), move |caller| {
            switch(&kms, caller, Switch::Enable, &r.key_ids)
                .map(|key_ids| pb::EnableKeysResponse { key_ids })
        })
        .await
    }

    pub(super) async fn disable_keys_call(
        &self,
        r: Request<pb::DisableKeysRequest>,
    ) -> Result<Response<pb::DisableKeysResponse>, Status> {
        let call = self.begin(Action::DisableKeys, &r);
        let r = r.into_inner();
        let kms = self.kms.clone();
        call.blocking_batch(r.key_ids.clone(), move |caller| {
            switch(&kms, caller, Switch::Disable, &r.key_ids)
                .map(|key_ids| pb::DisableKeysResponse { key_ids })
        })
        .await
    }
}

/// EnableKeys / DisableKeys: every key resolved and allowed first, then all changed or none.
fn switch(kms: &Kms, caller: &Caller, to: Switch, names: &[String]) -> crate::Result<Vec<String>> {
    let action = match to {
        Switch::Enable => Action::EnableKeys,
        Switch::Disable => Action::DisableKeys,
    };
    let ids = resolve_all(kms, caller, action, names)?;
    Ok(kms
        .switch_keys(&ids, to)?
        .iter()
        .map(Uuid::to_string)
        .collect())
}
