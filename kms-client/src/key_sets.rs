//! Several keys at once: DescribeKeys, EnableKeys, DisableKeys (1 to [`MAX_KEY_IDS`] ids, none
//! twice, checked by the server). Kept apart from the single-key calls of `client` so each file
//! stays readable.

use kms_proto::pb;

use crate::builder::Retry;
use crate::client::KmsClient;
use crate::error::Result;
use crate::types::KeyMetadata;

/// Most key ids one DescribeKeys, EnableKeys or DisableKeys takes (the server refuses more).
pub const MAX_KEY_IDS: usize = 100;

fn owned<S: AsRef<str>>(ids: &[S]) -> Vec<String> {
    ids.iter().map(|s| s.as_ref().to_owned()).collect()
}

impl KmsClient {
    /// `DescribeKeys`: the metadata of 1..=[`MAX_KEY_IDS`] keys, in the order asked. Retried on
    /// `UNAVAILABLE`.
    pub async fn describe_keys<S: AsRef<str>>(&self, key_ids: &[S]) -> Result<Vec<KeyMetadata>> {
        let req = pb::DescribeKeysRequest {
            key_ids: owned(key_ids),
        };
        let r = self
            .call(Retry::Safe, "DescribeKeys", req, |mut c, r| async move {
                c.describe_keys(r).await
            })
            .await?;
        Ok(r.key_metadata.into_iter().map(KeyMetadata::from).collect())
    }

    /// `EnableKeys`: enables 1..=[`MAX_KEY_IDS`] keys in order; returns their UUIDs. Every key is
    /// resolved before any changes; the first state refusal stops the rest (the keys before it
    /// stay enabled). Not retried.
    pub async fn enable_keys<S: AsRef<str>>(&self, key_ids: &[S]) -> Result<Vec<String>> {
        let req = pb::EnableKeysRequest {
            key_ids: owned(key_ids),
        };
        let r = self
            .call(Retry::Never, "EnableKeys", req, |mut c, r| async move {
                c.enable_keys(r).await
            })
            .await?;
        Ok(r.key_ids)
    }

    /// `DisableKeys`: as [`KmsClient::enable_keys`], disabling. Not retried.
    pub async fn disable_keys<S: AsRef<str>>(&self, key_ids: &[S]) -> Result<Vec<String>> {
        let req = pb::DisableKeysRequest {
            key_ids: owned(key_ids),
        };
        let r = self
            .call(Retry::Never, "DisableKeys", req, |mut c, r| async move {
                c.disable_keys(r).await
            })
            .await?;
        Ok(r.key_ids)
    }
}
