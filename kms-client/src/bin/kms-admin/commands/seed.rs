//! Loading a seed document (keys with fixed ids, aliases, states and material) into the server.

use std::path::Path;

use kms_client::KmsClient;
use serde_json::json;

use crate::input::Prepared;
use crate::output::{Outcome, out};

/// `seed`: `input.document` holds the file's text; `file` names it in the summary.
pub async fn load(kms: &KmsClient, file: &Path, input: Prepared, json: bool) -> Outcome {
    let s = kms.seed_keys(&input.document).await?;
    out(
        json,
        || json!({ "Changed": s.changed, "Total": s.total }),
        || {
            format!(
                "{}: {} keys, {} created or changed\n",
                file.display(),
                s.total,
                s.changed
            )
        },
    )
}
