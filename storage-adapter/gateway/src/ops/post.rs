//! POST Object: a browser form upload (`multipart/form-data`) signed by a policy (spec §5).
//!
//! Fields: `key` (may contain `${filename}`), `policy` (base64 JSON), `q-sign-algorithm`, `q-ak`,
//! `q-key-time`, `q-signature`, optional `Content-Type`, `success_action_status`, `x-cos-meta-*`,
//! and the SSE fields (the same names as the headers, spec §1.3); `file` comes last. The policy's
//! `expiration` and its conditions (`{"field": "v"}`, `["eq", "$field", "v"]`,
//! `["starts-with", "$field", "prefix"]`, `["content-length-range", min, max]`) are enforced.
//! The form is read into memory, at most [`MAX_FORM`] bytes.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use storage_adapter::sse;

use super::object::{bucket_default, once_stream, write_body};
use super::{BodySlot, Ctx, now, read_small_body};
use crate::error::{Error, Result};
use crate::http::{Resp, escape, set, set_sse, status_response, xml_response};
use crate::server::Gateway;
use crate::store::Object;

/// The largest form accepted (the file is held in memory).
pub const MAX_FORM: usize = 256 << 20;

/// One form field.
#[derive(Debug, Clone)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// The file name, for a file field.
    pub filename: Option<String>,
    /// The part's own `Content-Type`.
    pub content_type: Option<String>,
    /// The value.
    pub value: Bytes,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let j = hay[i..=hay.len() - needle.len()]
            .iter()
            .position(|&b| b == first)?;
        i += j;
        if &hay[i..i + needle.len()] == needle {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn param<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').map(str::trim).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// Splits a `multipart/form-data` body.
pub fn parse_form(content_type: &str, body: &Bytes) -> Result<Vec<Field>> {
    let bad = |m: &str| Error::InvalidArgument(format!("malformed multipart/form-data: {m}"));
    let boundary = param(content_type, "boundary").ok_or_else(|| bad("no boundary"))?;
    let delim = format!("--{boundary}");
    let next_delim = format!("\r\n--{boundary}");
    let mut pos =
        find(body, delim.as_bytes(), 0).ok_or_else(|| bad("no first boundary"))? + delim.len();
    let mut fields = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err(bad("no CRLF after a boundary"));
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos).ok_or_else(|| bad("no end of part headers"))?;
        let head = String::from_utf8_lossy(&body[pos..head_end]).into_owned();
        let value_start = head_end + 4;
        let value_end = find(body, next_delim.as_bytes(), value_start)
            .ok_or_else(|| bad("unterminated part"))?;
        let mut name = None;
        let mut filename = None;
        let mut ctype = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = param(v, "name").map(str::to_owned);
                filename = param(v, "filename").map(str::to_owned);
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                ctype = Some(v.trim().to_owned());
            }
        }
        fields.push(Field {
            name: name.ok_or_else(|| bad("a part has no name"))?,
            filename,
            content_type: ctype,
            value: body.slice(value_start..value_end),
        });
        pos = value_end + next_delim.len();
    }
    Ok(fields)
}

fn field<'a>(fields: &'a [Field], name: &str) -> Option<&'a Field> {
    fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

fn text(fields: &[Field], name: &str) -> Option<String> {
    field(fields, name).map(|f| String::from_utf8_lossy(&f.value).into_owned())
}

/// Parses an ISO 8601 UTC time (`2030-01-01T00:00:00.000Z`) to unix seconds.
fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, dd) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time = time.split('.').next()?;
    let mut t = time.split(':').map(|x| x.parse::<i64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    // Days from civil (H. Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Checks the policy document against the form.
fn check_policy(policy: &serde_json::Value, form: &[(String, String)], size: u64) -> Result<()> {
    let denied = |m: String| Error::AccessDenied(m);
    let exp = policy
        .get("expiration")
        .and_then(|e| e.as_str())
        .and_then(parse_iso)
        .ok_or_else(|| denied("the policy has no valid expiration".into()))?;
    if now() > exp {
        return Err(denied("post object request has been expired".into()));
    }
    let get = |name: &str| {
        let name = name.trim_start_matches('$');
        form.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let conditions = policy
        .get("conditions")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    for c in conditions {
        if let Some(obj) = c.as_object() {
            for (k, v) in obj {
                let want = v.as_str().unwrap_or_default();
                if get(k) != Some(want) {
                    return Err(denied(format!("Condition {k} doesn't match the policy")));
                }
            }
        } else if let Some(arr) = c.as_array() {
            let op = arr.first().and_then(|o| o.as_str()).unwrap_or_default();
            match op.to_ascii_lowercase().as_str() {
                "eq" | "starts-with" => {
                    let name = arr.get(1).and_then(|n| n.as_str()).unwrap_or_default();
                    let want = arr.get(2).and_then(|n| n.as_str()).unwrap_or_default();
                    let got = get(name).unwrap_or_default();
                    let ok = if op.eq_ignore_ascii_case("eq") {
                        got == want
                    } else {
                        got.starts_with(want)
                    };
                    if !ok {
                        return Err(denied(format!(
                            "Condition {} doesn't match the policy",
                            name.trim_start_matches('$')
                        )));
                    }
                }
                "content-length-range" => {
                    let min = arr.get(1).and_then(|n| n.as_u64()).unwrap_or(0);
                    let max = arr.get(2).and_then(|n| n.as_u64()).unwrap_or(u64::MAX);
                    if size < min || size > max {
                        return Err(Error::EntityTooLarge);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// POST Object.
pub async fn post_object(gw: &Gateway, ctx: &Ctx, body: &mut BodySlot) -> Result<Resp> {
    use base64::Engine as _;
    let content_type = ctx.header("content-type").unwrap_or_default().to_owned();
    let raw = Bytes::from(read_small_body(body, MAX_FORM).await?);
    let fields = parse_form(&content_type, &raw)?;
    let file = fields
        .iter()
        .find(|f| f.name == "file")
        .ok_or_else(|| Error::InvalidArgument("the form has no file field".into()))?;
    let text_fields: Vec<(String, String)> = fields
        .iter()
        .filter(|f| f.name != "file")
        .map(|f| {
            (
                f.name.clone(),
                String::from_utf8_lossy(&f.value).into_owned(),
            )
        })
        .collect();
    // SSE-C material (any customer-key field) never travels in clear, whatever the policy says.
    if !ctx.tls
        && !gw.allow_ssec_over_http
        && text_fields.iter().any(|(k, _)| super::is_ssec_name(k))
    {
        return Err(Error::InvalidRequest(
            "SSE-C requests must be sent over HTTPS".into(),
        ));
    }
    // The signature.
    let need = |n: &str| {
        text(&fields, n).ok_or_else(|| Error::AccessDenied(format!("the form has no {n} field")))
    };
    let policy_b64 = need("policy")?;
    if !need("q-sign-algorithm")?.eq_ignore_ascii_case("sha1") {
        return Err(Error::AccessDenied("q-sign-algorithm must be sha1".into()));
    }
    crate::auth::verify_post_policy(
        &gw.creds,
        &need("q-ak")?,
        &need("q-key-time")?,
        &policy_b64,
        &need("q-signature")?,
        now(),
    )?;
    let policy: serde_json::Value = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(|| Error::AccessDenied("the policy is not base64 JSON".into()))?;
    let mut key = text(&fields, "key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::InvalidArgument("the form has no key field".into()))?;
    if let Some(name) = &file.filename {
        key = key.replace("${filename}", name);
    }
    let mut form = text_fields.clone();
    form.push(("bucket".into(), ctx.bucket().to_owned()));
    form.retain(|(k, _)| k != "key");
    form.push(("key".into(), key.clone()));
    check_policy(&policy, &form, file.value.len() as u64)?;
    // SSE from the form fields.
    let request = sse::parse_post_form(text_fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let default = bucket_default(gw, ctx.bucket()).await?;
    let request = sse::apply_bucket_default(request, default.as_ref());
    let name = storage_adapter::ObjectName::new(ctx.bucket(), &key);
    let w = write_body(
        gw,
        request.as_ref(),
        name,
        once_stream(file.value.clone()),
        None,
    )
    .await?;
    let mut meta: Vec<(String, String)> = text_fields
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k.starts_with("x-cos-meta-")
                || [
                    "content-type",
                    "cache-control",
                    "content-disposition",
                    "content-encoding",
                    "expires",
                ]
                .contains(&k.as_str())
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    if !meta.iter().any(|(k, _)| k == "content-type")
        && let Some(ct) = &file.content_type
    {
        meta.push(("content-type".into(), ct.clone()));
    }
    let obj = Object {
        size: w.size,
        etag: w.etag.clone(),
        modified: now(),
        meta,
        envelope: w.envelope,
        files: vec![w.file],
    };
    let echo = obj.envelope.as_ref().map(|e| e.response_headers());
    gw.store.put_object(ctx.bucket(), &key, obj).await?;
    let location = format!(
        "{}://{}/{}",
        if ctx.tls { "https" } else { "http" },
        ctx.target.host,
        key
    );
    let status = text(&fields, "success_action_status").unwrap_or_default();
    let mut r = match status.as_str() {
        "200" => status_response(StatusCode::OK),
        "201" => xml_response(
            StatusCode::CREATED,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>&quot;{}&quot;</ETag></PostResponse>",
                escape(&location),
                escape(ctx.bucket()),
                escape(&key),
                w.etag
            ),
        ),
        _ => status_response(StatusCode::NO_CONTENT),
    };
    let created = r.status() == StatusCode::CREATED;
    let h = r.headers_mut();
    set(h, "etag", &format!("\"{}\"", w.etag));
    set(h, "location", &location);
    if !created {
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
    }
    if let Some(echo) = echo {
        set_sse(h, echo);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_parsing() {
        let body = Bytes::from_static(
            b"--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na/${filename}\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX\r\n--XX--\r\n",
        );
        let body = Bytes::from(
            String::from_utf8_lossy(&body)
                .replace("\r\n--XX\r\n--XX--", "\r\n--XX--")
                .into_bytes(),
        );
        let f = parse_form("multipart/form-data; boundary=XX", &body).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, "key");
        assert_eq!(&f[0].value[..], b"a/${filename}");
        assert_eq!(f[1].filename.as_deref(), Some("f.txt"));
        assert_eq!(f[1].content_type.as_deref(), Some("text/plain"));
        assert_eq!(&f[1].value[..], b"hello");
        let e = parse_form("multipart/form-data", &body).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("InvalidArgument", 400));
    }

    #[test]
    fn policy_conditions() {
        let form = vec![
            ("bucket".to_owned(), "b-1".to_owned()),
            ("key".to_owned(), "uploads/x".to_owned()),
        ];
        let ok = serde_json::json!({"expiration": "2999-01-01T00:00:00.000Z", "conditions": [
            {"bucket": "b-1"}, ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 10]]});
        check_policy(&ok, &form, 5).unwrap();
        let e = check_policy(&ok, &form, 50).unwrap_err();
        assert_eq!(e.code(), "EntityTooLarge");
        let wrong = serde_json::json!({"expiration": "2999-01-01T00:00:00.000Z", "conditions": [
            ["eq", "$key", "other"]]});
        let e = check_policy(&wrong, &form, 5).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("AccessDenied", 403));
        let expired =
            serde_json::json!({"expiration": "2001-01-01T00:00:00.000Z", "conditions": []});
        let e = check_policy(&expired, &form, 5).unwrap_err();
        assert!(e.message().contains("expired"));
        assert_eq!(parse_iso("1970-01-02T00:00:01.000Z"), Some(86_401));
    }
}
