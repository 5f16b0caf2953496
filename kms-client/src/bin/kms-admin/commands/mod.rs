//! One module per command group; [`execute`] sends each subcommand to its group.
//!
//! - `keys`: create, describe, list, the default key, alias and description.
//! - `lifecycle`: enable, disable, archive, scheduled deletion.
//! - `rotation`: automatic rotation and rotating now.
//! - `crypto`: data keys, encrypt, decrypt, re-encrypt, random bytes.
//! - `asymmetric`: public keys, signatures and asymmetric decryption.
//! - `seed`: loading a seed document.
//! - `identity`: the policy line naming a credential, and new tokens (no server needed: run by
//!   `main` before connecting).

mod asymmetric;
mod byok;
mod crypto;
pub mod identity;
mod keys;
mod lifecycle;
mod rotation;
mod seed;

use kms_client::KmsClient;

use crate::cli::Command;
use crate::failure::Failure;
use crate::input::Prepared;
use crate::output::Outcome;

/// Runs one subcommand with its checked input; `json` selects the output form.
pub async fn execute(kms: &KmsClient, command: Command, input: Prepared, json: bool) -> Outcome {
    match command {
        Command::CreateKey {
            alias,
            description,
            key_usage,
            external,
            tags,
        } => {
            let new = keys::NewKey {
                alias,
                description,
                key_usage,
                external,
                tags,
            };
            keys::create(kms, new, json).await
        }
        Command::DescribeKey { key } => keys::describe(kms, &key, json).await,
        Command::ListKeys { state, all, filter } => keys::list(kms, state, all, filter, json).await,
        Command::DescribeKeys { keys } => keys::describe_many(kms, &keys, json).await,
        Command::EnableKeys { keys } => lifecycle::enable_many(kms, &keys, json).await,
        Command::DisableKeys { keys } => lifecycle::disable_many(kms, &keys, json).await,
        Command::DefaultKey => keys::default_key(kms, json).await,
        Command::UpdateAlias { key, alias } => keys::update_alias(kms, &key, &alias, json).await,
        Command::UpdateDescription { key, text } => {
            keys::update_description(kms, &key, &text, json).await
        }
        Command::EnableKey { key } => lifecycle::enable(kms, &key, json).await,
        Command::DisableKey { key } => lifecycle::disable(kms, &key, json).await,
        Command::ScheduleKeyDeletion { key, pending_days } => {
            lifecycle::schedule_deletion(kms, &key, pending_days, json).await
        }
        Command::CancelKeyDeletion { key } => lifecycle::cancel_deletion(kms, &key, json).await,
        Command::ArchiveKey { key } => lifecycle::archive(kms, &key, json).await,
        Command::CancelKeyArchive { key } => lifecycle::cancel_archive(kms, &key, json).await,
        Command::EnableKeyRotation { key, rotate_days } => {
            rotation::enable(kms, &key, rotate_days, json).await
        }
        Command::DisableKeyRotation { key } => rotation::disable(kms, &key, json).await,
        Command::GetKeyRotationStatus { key } => rotation::status(kms, &key, json).await,
        Command::RotateKey { key } => rotation::rotate(kms, &key, json).await,
        Command::GenerateDataKey {
            key,
            key_spec,
            number_of_bytes,
            without_plaintext,
            ..
        } => {
            let spec = crypto::DataKeySpec {
                key_spec,
                number_of_bytes,
                without_plaintext,
            };
            crypto::generate_data_key(kms, key, spec, input, json).await
        }
        Command::Encrypt { key, .. } => crypto::encrypt(kms, key, input, json).await,
        Command::Decrypt { out, .. } => crypto::decrypt(kms, out.as_deref(), input, json).await,
        Command::ReEncrypt { to, .. } => crypto::re_encrypt(kms, to, input, json).await,
        Command::GenerateRandom { n, out } => {
            crypto::generate_random(kms, n, out.as_deref(), json).await
        }
        Command::PublicKey { key, out } => {
            asymmetric::public_key(kms, &key, out.as_deref(), json).await
        }
        Command::Sign { key, message } => asymmetric::sign(kms, &key, &message, input, json).await,
        Command::Verify { key, message, .. } => {
            asymmetric::verify(kms, &key, &message, input, json).await
        }
        Command::AsymmetricDecrypt {
            key,
            algorithm,
            out,
            ..
        } => asymmetric::decrypt(kms, &key, algorithm, out.as_deref(), input, json).await,
        Command::Seed { file } => seed::load(kms, &file, input, json).await,
        Command::ImportParameters {
            key,
            algorithm,
            out,
        } => byok::parameters(kms, &key, algorithm, &out, json).await,
        Command::ImportKeyMaterial {
            key,
            token,
            input,
            valid_to,
        } => byok::import(kms, &key, &token, &input, valid_to, json).await,
        Command::DeleteKeyMaterial { key } => byok::delete(kms, &key, json).await,
        // `main` runs it without connecting; this arm only keeps the match exhaustive.
        Command::Identity { .. } => Err(Failure::usage("identity runs without a server")),
    }
}
