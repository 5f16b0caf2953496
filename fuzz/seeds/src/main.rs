//! Writes the fuzz fixtures and seed corpora. Run from anywhere:
//! `cargo run --manifest-path fuzz/Cargo.toml -p fuzz-seeds`.
//!
//! Fixtures: SSE-C objects (single part: 0 bytes, 33 bytes, two segments; multipart with an empty
//! middle part; multipart completed without the key) sealed through the adapter's public API, in
//! the current envelope format, into `fixtures/objects/`. Salts are random, so running it again
//! makes other (equally valid) bytes: commit them together with the seeds. The format-version-1
//! fixtures (`fixtures/objects-v1/`) are frozen: nothing writes version 1 any more, so they are
//! read, never rewritten, and get their seeds like the others.
//!
//! Seeds: small valid inputs of each target's format (see each target's module doc), plus a few
//! near misses.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use cos_kms_fuzz::{
    FIXTURE_COUNT, FIXTURE_SIZES, FIXTURES_DIR, adapter, customer_key, fixture_version, name,
    plain_byte,
};
use futures::executor::block_on;
use storage_adapter::{Envelope, PartInfo, SseRequest};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn seed(target: &str, name: &str, bytes: impl AsRef<[u8]>) {
    write(
        &root()
            .join("corpus")
            .join(target)
            .join(format!("seed-{name}")),
        bytes.as_ref(),
    );
}

fn plain(from: u64, len: u64) -> Vec<u8> {
    (from..from + len).map(plain_byte).collect()
}

/// A single-part SSE-C object of `size` bytes.
fn single(size: u64) -> (Envelope, Vec<u8>) {
    let request = SseRequest::Customer(customer_key());
    let sealer = block_on(adapter().begin_put(&request, name())).expect("begin_put");
    let (body, env) = sealer.seal_bytes(&plain(0, size)).expect("seal");
    (env, body)
}

/// A multipart SSE-C object of parts of `sizes`, completed with the key (a layout MAC) or without.
fn multipart(sizes: &[u64], with_key: bool) -> (Envelope, Vec<u8>) {
    let key = customer_key();
    let request = SseRequest::Customer(key.clone());
    let upload = block_on(adapter().initiate_multipart(&request, name(), "fuzz-upload-id"))
        .expect("initiate");
    let open = block_on(adapter().open_upload(&upload, name(), Some(&key))).expect("open upload");
    let (mut body, mut parts, mut offset) = (Vec::new(), Vec::<PartInfo>::new(), 0);
    for (i, &size) in sizes.iter().enumerate() {
        let number = u32::try_from(i + 1).expect("few parts");
        let (stored, info) = open
            .part(number)
            .expect("part")
            .seal_bytes(&plain(offset, size))
            .expect("seal part");
        body.extend_from_slice(&stored);
        parts.push(info);
        offset += size;
    }
    let customer = with_key.then_some(&key);
    let env =
        block_on(adapter().complete_multipart(&upload, name(), customer, parts)).expect("complete");
    (env, body)
}

/// Writes the current-format fixtures.
fn objects() {
    let objects = vec![
        single(0),
        single(33),
        single(65_536 + 7),
        multipart(&[65_537, 0, 30], true),
        multipart(&[20, 10], false),
    ];
    for ((env, _), size) in objects.iter().zip(FIXTURE_SIZES) {
        assert_eq!(env.plain_size(), size);
    }
    let dir = Path::new(FIXTURES_DIR);
    for (n, (env, body)) in objects.iter().enumerate() {
        write(&dir.join(format!("{n}.envelope")), &env.to_bytes());
        write(&dir.join(format!("{n}.body")), body);
    }
}

/// `stream_decrypt`: object, flags (bit 0: ranged), start and length (u32 LE), chunk size (u16
/// LE), then the stored bytes of the read.
fn stream_input(object: u8, range: Option<(u32, u32)>, chunk: u16, stored: &[u8]) -> Vec<u8> {
    let mut v = vec![object, u8::from(range.is_some())];
    let (start, len) = range.unwrap_or((0, 0));
    v.extend_from_slice(&start.to_le_bytes());
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&chunk.to_le_bytes());
    v.extend_from_slice(stored);
    v
}

/// The seeds of the body targets, from every fixture (read back from disk, both formats).
fn body_seeds() {
    let opened = cos_kms_fuzz::opened();
    let fixtures = cos_kms_fuzz::fixtures();
    assert_eq!(fixtures.len(), FIXTURE_COUNT);
    for (n, (env, body)) in fixtures.iter().enumerate() {
        let env = Envelope::from_bytes(env).expect("the fixtures are valid envelopes");
        let v = fixture_version(n);
        seed("envelope", &format!("fixture-{n}-v{v}"), env.to_bytes());
        let object = u8::try_from(n).expect("few objects");
        seed(
            "stream_decrypt",
            &format!("{n}-v{v}-whole"),
            stream_input(object, None, 4096, body),
        );
        let size = u32::try_from(env.plain_size()).expect("small objects");
        if size > 2 {
            let (start, len) = (size / 2 - 1, 2);
            let plan = opened[n]
                .plan(Some(u64::from(start)..u64::from(start + len)))
                .expect("plan");
            let r = plan.stored_range();
            let stored = &body
                [usize::try_from(r.start).expect("small")..usize::try_from(r.end).expect("small")];
            seed(
                "stream_decrypt",
                &format!("{n}-v{v}-middle"),
                stream_input(object, Some((start, len)), 7, stored),
            );
        }
    }
    // The object-format test vectors' envelopes (SSE-C, SSE-KMS, SSE-COS multipart).
    let vectors: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("../storage-adapter/tests/vectors/v1.json")).expect("vectors"),
    )
    .expect("JSON");
    for (i, v) in vectors.as_array().expect("a list").iter().enumerate() {
        let env = hex::decode(v["envelope"].as_str().expect("hex")).expect("hex");
        seed("envelope", &format!("vector-{i}"), env);
    }
}

fn blob_seeds() {
    for version in ["v1", "v2"] {
        let path = format!("../kms-server/tests/vectors/blob_{version}.hex");
        let vector = std::fs::read_to_string(root().join(path)).expect("blob vector");
        let blob = hex::decode(vector.trim()).expect("hex");
        seed("kms_blob", &format!("vector-{version}"), &blob);
    }
    let material = kms_server::secret::Key32::from_slice(&[0x11; 32]).expect("32 bytes");
    let key = kms_server::blob::BlobKey::new(material.clone());
    let header = kms_server::blob::BlobHeader {
        key_id: uuid::Uuid::from_bytes([7; 16]),
        key_version: 1,
    };
    let context = kms_server::EncryptionContext::from_pairs([
        ("bucket", "examplebucket-1250000000"),
        ("a", "b"),
    ]);
    let empty = kms_server::blob::seal_blob_with(&key, header, &[1; 24], &context, b"");
    seed(
        "kms_blob",
        "header-only",
        &empty[..kms_server::blob::BLOB_MIN_LEN],
    );
    seed("kms_blob", "short", &empty[..10]);
    seed("kms_blob", "empty-plaintext", &empty);
    let empty_v1 =
        kms_server::blob::seal_blob_v1_with(&material, header, &[1; 32], &[2; 12], &context, b"");
    seed("kms_blob", "empty-plaintext-v1", empty_v1);
}

fn text_seeds() {
    for (name, text) in [
        ("object", r#"{"bucket":"examplebucket-1250000000","a":"b"}"#),
        ("empty", "{}"),
        ("escapes", r#"{"k\u00e9y":"v\n\"q\"","":"\ud83d\ude00"}"#),
        ("not-string", r#"{"a":1}"#),
        ("repeated", r#"{"a":"1","a":"2"}"#),
        ("base64", "eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0="),
        ("base64-unpadded", "eyJhIjoiYiJ9"),
    ] {
        seed("encryption_context", name, text);
    }
    let id = kms_server::fuzzing::SEED_EXISTING_IDS;
    for (name, text) in [
        (
            "new-key",
            "keys:\n  - key_id: 6f1c2d3e-0000-4000-8000-0000000000aa\n    alias: orders\n    description: Orders bucket key\n    state: Disabled\n".to_owned(),
        ),
        (
            "material",
            format!(
                "keys:\n  - key_id: {}\n    alias: existing\n    material:\n      - {}\n      - {}\n",
                id[0],
                hex::encode([0x11; 32]),
                B64.encode([0x22; 32])
            ),
        ),
        (
            "alias-move",
            format!(
                "keys:\n  - key_id: {}\n    alias: moved\n  - key_id: 6f1c2d3e-0000-4000-8000-0000000000bb\n    alias: existing\n",
                id[0]
            ),
        ),
        (
            "pending",
            format!("keys:\n  - key_id: {}\n    alias: leaving\n    state: Enabled\n", id[1]),
        ),
        (
            "json",
            r#"{"keys":[{"key_id":"6f1c2d3e-0000-4000-8000-0000000000cc","alias":"j","state":"Archived"}]}"#.to_owned(),
        ),
        (
            "anchors",
            "keys:\n  - &k\n    key_id: 6f1c2d3e-0000-4000-8000-0000000000dd\n    alias: a1\n  - *k\n".to_owned(),
        ),
    ] {
        seed("seed_document", name, text);
    }
    let key = "MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=";
    let md5 = "U5L61r7jcwdNvT7frmUG8g==";
    for (name, text) in [
        ("sse-cos", "x-cos-server-side-encryption: AES256\n".to_owned()),
        (
            "sse-kms",
            "x-cos-server-side-encryption: cos/kms\nx-cos-server-side-encryption-cos-kms-key-id: alias/orders\nx-cos-server-side-encryption-context: eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=\n".to_owned(),
        ),
        (
            "sse-c",
            format!("x-cos-server-side-encryption-customer-algorithm: AES256\nx-cos-server-side-encryption-customer-key: {key}\nx-cos-server-side-encryption-customer-key-MD5: {md5}\n"),
        ),
        (
            "copy-source",
            format!("x-cos-copy-source-server-side-encryption-customer-algorithm: AES256\nx-cos-copy-source-server-side-encryption-customer-key: {key}\nx-cos-copy-source-server-side-encryption-customer-key-MD5: {md5}\nx-cos-server-side-encryption: AES256\n"),
        ),
    ] {
        seed("sse_headers", name, text);
    }
    for (name, text) in [
        (
            "encryption",
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm><KMSMasterKeyID>alias/orders</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
        ),
        (
            "complete",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload xmlns=\"http://www.qcloud.com/document/product/436/7751\"><Part><PartNumber>1</PartNumber><ETag>\"0cc175b9c0f1b6a831c399e269772661\"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;92eb5ffee6ae2fec3ad71c777531578f&quot;</ETag></Part></CompleteMultipartUpload>",
        ),
        ("cdata", "<a><![CDATA[x<y]]>&amp;&#65;<b/></a>"),
    ] {
        seed("request_xml", name, text);
    }
    for (name, text) in [
        ("from-to", "100\nbytes=0-9\nbytes=0-9\n"),
        ("suffix", "65567\nbytes=-70000\nbytes=65535-65566\n"),
        ("open", "33\nbytes=32-\nbytes=33-40\n"),
        ("many", "10\nbytes=0-1,3-4\nbytes=1-1\n"),
    ] {
        seed("range_header", name, text);
    }
}

fn auth_seeds() {
    let secret = cos_gateway::auth::SecretKey::new(cos_kms_fuzz::SECRET_KEY);
    let host = "examplebucket-1250000000.cos.ap-beijing.myqcloud.com";
    let auth = cos_gateway::auth::sign(
        cos_kms_fuzz::SECRET_ID,
        &secret,
        "PUT",
        "/a b.txt",
        &[
            ("partNumber".into(), "1".into()),
            ("uploadId".into(), "u".into()),
        ],
        &[
            ("host".into(), host.into()),
            ("x-cos-server-side-encryption".into(), "AES256".into()),
        ],
        cos_kms_fuzz::SIGN_WINDOW,
    );
    seed(
        "cos_auth",
        "header",
        format!(
            "PUT\n/a%20b.txt?partNumber=1&uploadId=u\nhost: {host}\nauthorization: {auth}\nx-cos-server-side-encryption: AES256\n"
        ),
    );
    let presigned = cos_gateway::auth::sign(
        cos_kms_fuzz::SECRET_ID,
        &secret,
        "GET",
        "/examplebucket-1250000000/k",
        &[],
        &[("host".into(), "127.0.0.1:9000".into())],
        cos_kms_fuzz::SIGN_WINDOW,
    );
    let query = presigned
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').expect("k=v");
            format!("{k}={}", v.replace(';', "%3B"))
        })
        .collect::<Vec<_>>()
        .join("&");
    seed(
        "cos_auth",
        "presigned",
        format!("GET\n/examplebucket-1250000000/k?{query}\nhost: 127.0.0.1:9000\n"),
    );
    seed(
        "cos_auth",
        "absolute",
        format!(
            "GET\nhttp://{host}/k?acl\nhost: {host}\nauthorization: q-sign-algorithm=sha1&q-ak=x\n"
        ),
    );
    let policy = r#"{"expiration":"2999-01-01T00:00:00.000Z","conditions":[{"bucket":"examplebucket-1250000000"},["starts-with","$key","uploads/"],["content-length-range",1,100],["eq","$x-cos-server-side-encryption","AES256"]]}"#;
    let mut body = String::from("multipart/form-data; boundary=B\n");
    for (name, value) in [
        ("key", "uploads/${filename}"),
        ("policy", policy),
        ("q-sign-algorithm", "sha1"),
        ("q-ak", cos_kms_fuzz::SECRET_ID),
        ("q-key-time", "1700000000;1700000600"),
        ("q-signature", cos_kms_fuzz::SIGNATURE_PLACEHOLDER),
        ("x-cos-server-side-encryption", "AES256"),
        ("success_action_status", "201"),
    ] {
        body.push_str(&format!(
            "--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B--\r\n");
    seed("post_form", "signed", &body);
    seed(
        "post_form",
        "no-file",
        "multipart/form-data; boundary=xyz\n--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--xyz--\r\n",
    );
}

fn main() {
    objects();
    body_seeds();
    blob_seeds();
    text_seeds();
    auth_seeds();
    println!("fixtures and seeds written under {}", root().display());
}
