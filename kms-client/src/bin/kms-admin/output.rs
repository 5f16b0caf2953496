//! What `kms-admin` prints: `--json` with Tencent KMS field names, or `key: value` lines and tables;
//! and how it is written (stdout, or a file only the owner can read for secrets).

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kms_client::{KeyMetadata, RotationStatus, SecretBytes};
use serde_json::{Value, json};

use crate::failure::{EXIT_REFUSED, Failure};

/// What a command gives back: its output, or why it failed.
pub type Outcome = Result<Output, Failure>;

/// What a command prints on success.
pub enum Output {
    /// `--json` document.
    Json(Value),
    /// Text (already ending in a newline, or empty).
    Text(String),
    /// Raw bytes (a decrypted plaintext).
    Bytes(SecretBytes),
}

/// The `--json` document or the text, whichever was asked for (each built only if needed).
pub fn out(json: bool, j: impl FnOnce() -> Value, t: impl FnOnce() -> String) -> Outcome {
    Ok(if json {
        Output::Json(j())
    } else {
        Output::Text(t())
    })
}

/// Writes the output to stdout.
pub fn print(output: Output, json: bool) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    let result = match output {
        Output::Json(v) => {
            debug_assert!(json);
            let mut text = serde_json::to_string_pretty(&v).map_err(|e| Failure {
                message: format!("cannot print JSON: {e}"),
                status: EXIT_REFUSED,
            })?;
            text.push('\n');
            stdout.write_all(text.as_bytes())
        }
        Output::Text(t) => stdout.write_all(t.as_bytes()),
        Output::Bytes(b) => stdout.write_all(b.expose_secret()),
    };
    match result.and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        // `kms-admin ... | head` closing the pipe early is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure {
            message: format!("cannot write to stdout: {e}"),
            status: EXIT_REFUSED,
        }),
    }
}

/// Writes a secret (a plaintext, random bytes) to a file readable by its owner only: a new file
/// is created 0600, and an existing one (whose mode `open` keeps) is made 0600 before the secret
/// goes in.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let cannot =
        |e: std::io::Error| Failure::usage(format!("cannot write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(cannot)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(cannot)?;
    }
    file.write_all(bytes).map_err(cannot)
}

/// Base64 (standard alphabet, padded), as Tencent KMS prints `Plaintext` and `CiphertextBlob`.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// `KeyMetadata` as Tencent KMS names its fields. Unset times are 0.
pub fn metadata_json(m: &KeyMetadata) -> Value {
    json!({
        "KeyId": m.key_id,
        "Alias": m.alias,
        "Description": m.description,
        "KeyState": m.state.as_str(),
        "KeyUsage": m.key_usage,
        "Owner": m.owner,
        "Origin": m.origin,
        "CreateTime": m.create_time.unwrap_or(0),
        "DeletionDate": m.deletion_date.unwrap_or(0),
        "KeyRotationEnabled": m.rotation_enabled,
        "RotateDays": m.rotate_days,
        "LastRotateTime": m.last_rotate_time.unwrap_or(0),
        "NextRotateTime": m.next_rotate_time.unwrap_or(0),
        "CurrentKeyVersion": m.current_key_version,
        "ValidTo": m.valid_to.unwrap_or(0),
        "Tags": m
            .tags
            .iter()
            .map(|t| json!({ "TagKey": t.key, "TagValue": t.value }))
            .collect::<Vec<_>>(),
    })
}

/// CreateKey's Tencent output: the key's main fields, flat.
pub fn create_key_json(m: &KeyMetadata) -> Value {
    json!({
        "KeyId": m.key_id,
        "Alias": m.alias,
        "CreateTime": m.create_time.unwrap_or(0),
        "Description": m.description,
        "KeyState": m.state.as_str(),
        "KeyUsage": m.key_usage,
    })
}

/// ListKeyDetail's shape (`KeyMetadatas`, `TotalCount`) plus ListKeys' `Keys[{KeyId}]`.
pub fn list_json(keys: &[KeyMetadata]) -> Value {
    json!({
        "TotalCount": keys.len(),
        "Keys": keys.iter().map(|k| json!({ "KeyId": k.key_id })).collect::<Vec<_>>(),
        "KeyMetadatas": keys.iter().map(metadata_json).collect::<Vec<_>>(),
    })
}

/// GetKeyRotationStatus.
pub fn rotation_json(s: &RotationStatus) -> Value {
    json!({
        "KeyRotationEnabled": s.key_rotation_enabled,
        "RotateDays": s.rotate_days,
        "LastRotateTime": s.last_rotate_time.unwrap_or(0),
        "NextRotateTime": s.next_rotate_time.unwrap_or(0),
        "CurrentKeyVersion": s.current_key_version,
    })
}

/// `Name: value` lines, names padded to one column.
pub fn lines(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(&format!("{:<width$} {v}\n", format!("{k}:")));
    }
    out
}

/// A key's metadata as `Name: value` lines.
pub fn metadata_text(m: &KeyMetadata) -> String {
    let mut pairs = vec![
        ("KeyId", m.key_id.clone()),
        ("Alias", m.alias.clone()),
        ("Description", m.description.clone()),
        ("KeyState", m.state.to_string()),
        ("KeyUsage", m.key_usage.clone()),
        ("Owner", m.owner.clone()),
        ("Origin", m.origin.clone()),
        ("CreateTime", time_text(m.create_time)),
        ("DeletionDate", time_text(m.deletion_date)),
        ("KeyRotationEnabled", m.rotation_enabled.to_string()),
        ("RotateDays", m.rotate_days.to_string()),
        ("LastRotateTime", time_text(m.last_rotate_time)),
        ("NextRotateTime", time_text(m.next_rotate_time)),
        ("CurrentKeyVersion", m.current_key_version.to_string()),
    ];
    // Imported material's expiry: only EXTERNAL keys have one ("never" when it does not expire).
    if m.origin == "EXTERNAL" {
        let valid_to = match m.valid_to {
            Some(t) => time_text(Some(t)),
            None => "never (or no material)".to_owned(),
        };
        pairs.push(("ValidTo", valid_to));
    }
    if !m.tags.is_empty() {
        let tags: Vec<String> = m
            .tags
            .iter()
            .map(|t| format!("{}={}", t.key, t.value))
            .collect();
        pairs.push(("Tags", tags.join(", ")));
    }
    lines(&pairs)
}

/// Rotation status as `Name: value` lines.
pub fn rotation_text(s: &RotationStatus) -> String {
    lines(&[
        ("KeyRotationEnabled", s.key_rotation_enabled.to_string()),
        ("RotateDays", s.rotate_days.to_string()),
        ("LastRotateTime", time_text(s.last_rotate_time)),
        ("NextRotateTime", time_text(s.next_rotate_time)),
        ("CurrentKeyVersion", s.current_key_version.to_string()),
    ])
}

/// Keys as an aligned table, or `no keys`.
pub fn list_text(keys: &[KeyMetadata]) -> String {
    if keys.is_empty() {
        return "no keys\n".to_owned();
    }
    let header = [
        "KEY ID",
        "ALIAS",
        "STATE",
        "OWNER",
        "VERSION",
        "CREATED",
        "DESCRIPTION",
    ];
    let rows: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            [
                k.key_id.clone(),
                k.alias.clone(),
                k.state.to_string(),
                k.owner.clone(),
                k.current_key_version.to_string(),
                time_text(k.create_time),
                k.description.replace(['\n', '\r', '\t'], " "),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &[&str]| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(&header);
    for row in &rows {
        push_row(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out.push_str(&format!(
        "{} key{}\n",
        keys.len(),
        if keys.len() == 1 { "" } else { "s" }
    ));
    out
}

/// RFC 3339 UTC, or `-` when not set.
pub fn time_text(t: Option<i64>) -> String {
    t.map_or_else(|| "-".to_owned(), rfc3339)
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (proleptic Gregorian calendar, UTC).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // civil_from_days, H. Hinnant, "chrono-Compatible Low-Level Date Algorithms".
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KeyMetadata {
        let mut m = KeyMetadata::new("23e80852-1e38-11e9-b129-5cb9019b4b01");
        m.alias = "photos".into();
        m.description = "photo bucket".into();
        m.state = kms_client::KeyState::PendingDelete;
        m.key_usage = "ENCRYPT_DECRYPT".into();
        m.owner = "user".into();
        m.origin = "TENCENT_KMS".into();
        m.create_time = Some(1_548_225_797);
        m.deletion_date = Some(1_548_830_597);
        m.rotation_enabled = true;
        m.rotate_days = 90;
        m.current_key_version = 2;
        m
    }

    #[test]
    fn metadata_json_uses_tencent_names() {
        let v = metadata_json(&sample());
        assert_eq!(v["KeyId"], "23e80852-1e38-11e9-b129-5cb9019b4b01");
        assert_eq!(v["Alias"], "photos");
        assert_eq!(v["KeyState"], "PendingDelete");
        assert_eq!(v["KeyUsage"], "ENCRYPT_DECRYPT");
        assert_eq!(v["CreateTime"], 1_548_225_797);
        assert_eq!(v["DeletionDate"], 1_548_830_597);
        assert_eq!(v["LastRotateTime"], 0);
        assert_eq!(v["KeyRotationEnabled"], true);
        assert_eq!(v["RotateDays"], 90);
        for k in [
            "Description",
            "Owner",
            "Origin",
            "NextRotateTime",
            "CurrentKeyVersion",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        let l = list_json(&[sample()]);
        assert_eq!(l["TotalCount"], 1);
        assert_eq!(l["Keys"][0]["KeyId"], v["KeyId"]);
        assert_eq!(l["KeyMetadatas"][0], v);
        let c = create_key_json(&sample());
        assert_eq!(c["KeyState"], "PendingDelete");
        assert!(c.get("Owner").is_none());
    }

    #[test]
    fn metadata_text_is_aligned_lines() {
        let t = metadata_text(&sample());
        assert!(
            t.contains("KeyId:              23e80852-1e38-11e9-b129-5cb9019b4b01\n"),
            "{t}"
        );
        assert!(t.contains("KeyState:           PendingDelete\n"), "{t}");
        assert!(
            t.contains("CreateTime:         2019-01-23T06:43:17Z\n"),
            "{t}"
        );
        assert!(t.contains("LastRotateTime:     -\n"), "{t}");
        assert_eq!(t.lines().count(), 14);
    }

    #[test]
    fn list_text_is_a_table() {
        assert_eq!(list_text(&[]), "no keys\n");
        let t = list_text(&[sample(), sample()]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("KEY ID"), "{t}");
        assert!(
            lines[1].contains("photos") && lines[1].contains("PendingDelete"),
            "{t}"
        );
        assert_eq!(lines[0].find("ALIAS"), lines[1].find("photos"));
        assert_eq!(lines.last(), Some(&"2 keys"));
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_548_225_797), "2019-01-23T06:43:17Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(time_text(None), "-");
    }
}
