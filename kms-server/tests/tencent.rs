//! The Tencent Cloud API 3.0 front end over a real server on 127.0.0.1:0, spoken as raw HTTP/1.1
//! on the gRPC port: each TC3 signature failure with its exact code, the envelope and content type
//! of every answer, each action's fields and codes, the policy's TC3 identities (allowed, denied,
//! audited), and blobs crossing between the gRPC and Tencent fronts. The clock is a ManualClock, so
//! the five-minute window is tested without waiting.
#![cfg(feature = "grpc")]

use std::{net::SocketAddr, sync::Arc};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use kms_proto::pb::{self, key_management_service_client::KeyManagementServiceClient};
use kms_server::{
    Config, Kms, ManualClock, RootKey,
    access::Policy,
    audit::{AuditLog, AuditTarget},
    secret::SecretBytes,
    server::{self, ServerOptions},
    service::{AccessControl, Observers},
    tencent::{Credentials, SecretPair, signature},
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const NOW: i64 = 1_764_900_000;
const SECRET_ID: &str = "AKIDtestsecretid0001";
const SECRET_KEY: &str = "test-secret-key-0001";

struct Running {
    addr: SocketAddr,
    clock: Arc<ManualClock>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(options: ServerOptions) -> Running {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir, options).await
}

/// A policy of two TC3 identities whose SecretKeys are owner-only files in `dir`: `admin`
/// (`AKIDadmin`, every action) and `app` (the test pair's SecretId) with the YAML `app_rules`
/// (its `allow`, and `keys` if any, indented as the identity's other fields).
fn admin_and_app_policy(dir: &tempfile::TempDir, app_rules: &str) -> Policy {
    use std::os::unix::fs::PermissionsExt as _;
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let admin_key = write("admin.key", "admin-secret-key\n");
    let app_key = write("app.key", SECRET_KEY);
    Policy::parse(&format!(
        r#"
identities:
  - name: admin
    secret_id: AKIDadmin
    secret_key_file: "{}"
    allow: ["*"]
  - name: app
    secret_id: "{SECRET_ID}"
    secret_key_file: "{}"
    {app_rules}
"#,
        admin_key.display(),
        app_key.display()
    ))
    .unwrap()
}

/// A server under `policy` whose audit log is the file `audit`; `options` give the rest.
async fn start_policed(policy: Policy, audit: &std::path::Path, options: ServerOptions) -> Running {
    let observers = Observers {
        audit: Some(Arc::new(
            AuditLog::open(AuditTarget::File(audit.to_owned()), 0).unwrap(),
        )),
        metrics: None,
    };
    start_in(
        tempfile::tempdir().unwrap(),
        ServerOptions {
            access: Arc::new(AccessControl::enforce(policy)),
            observers: Arc::new(observers),
            ..options
        },
    )
    .await
}

async fn start_in(dir: tempfile::TempDir, options: ServerOptions) -> Running {
    let clock = Arc::new(ManualClock::new(NOW));
    let mut config = Config::new(
        dir.path().join("data"),
        RootKey::from_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").unwrap(),
    );
    config.clock = clock.clone();
    let kms = Arc::new(Kms::open(config).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, kms, options, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        clock,
        stop: Some(stop),
        _dir: dir,
    }
}

fn pair() -> Credentials {
    Credentials::Pair(SecretPair {
        secret_id: SECRET_ID.to_owned(),
        secret_key: Arc::new(SecretBytes::new(SECRET_KEY.as_bytes().to_vec())),
    })
}

/// How to sign (and spoil) one request.
#[derive(Clone)]
struct Sign<'a> {
    secret_id: &'a str,
    secret_key: &'a str,
    timestamp: i64,
    service: &'a str,
    signed_headers: &'a str,
    version: &'a str,
    unsigned_payload: bool,
    /// Bytes appended to the body after signing.
    tamper: &'a str,
    /// `X-TC-Token`, when set.
    token: Option<&'a str>,
}

impl Default for Sign<'_> {
    fn default() -> Self {
        Self {
            secret_id: SECRET_ID,
            secret_key: SECRET_KEY,
            timestamp: NOW,
            service: "kms",
            signed_headers: "content-type;host",
            version: "2019-01-18",
            unsigned_payload: false,
            tamper: "",
            token: None,
        }
    }
}

struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

impl Answer {
    fn ok(&self) -> &Value {
        assert!(
            self.body["Response"].get("Error").is_none(),
            "unexpected error: {}",
            self.body
        );
        &self.body["Response"]
    }

    fn code(&self) -> &str {
        self.body["Response"]["Error"]["Code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error: {}", self.body))
    }
}

/// Sends one signed `POST /` and reads the answer (raw HTTP/1.1, `Connection: close`).
async fn post(addr: SocketAddr, action: &str, params: &Value, sign: &Sign<'_>) -> Answer {
    let body = serde_json::to_vec(params).unwrap();
    send(addr, action, body, sign, "application/json").await
}

async fn send(addr: SocketAddr, action: &str, body: Vec<u8>, s: &Sign<'_>, ct: &str) -> Answer {
    let host = addr.to_string();
    let headers = |name: &str| match name {
        "content-type" => Some(ct),
        "host" => Some(host.as_str()),
        "x-tc-action" => Some(action),
        "x-tc-content-sha256" if s.unsigned_payload => Some("UNSIGNED-PAYLOAD"),
        _ => None,
    };
    let auth_text = format!(
        "TC3-HMAC-SHA256 Credential={}/{}/{}/tc3_request, SignedHeaders={}, Signature=x",
        s.secret_id,
        signature::utc_date(s.timestamp),
        s.service,
        s.signed_headers
    );
    let auth = signature::Authorization::parse(&auth_text).unwrap_or_else(|_| {
        // A header the parser refuses is sent as is, with any signature.
        signature::Authorization::parse(
            "TC3-HMAC-SHA256 Credential=x/2000-01-01/kms/tc3_request, SignedHeaders=content-type;host, Signature=x",
        )
        .unwrap()
    });
    let sig = signature::Request {
        method: "POST",
        path: "/",
        query: "",
        header: &headers,
        timestamp: s.timestamp,
        body: &body,
    }
    .signature(&auth, s.secret_key.as_bytes())
    .unwrap();
    let authorization = auth_text.replace("Signature=x", &format!("Signature={sig}"));
    let mut body = body;
    body.extend_from_slice(s.tamper.as_bytes());
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ct}\r\nX-TC-Action: {action}\r\n\
         X-TC-Version: {}\r\nX-TC-Timestamp: {}\r\nX-TC-Region: ap-guangzhou\r\n\
         Authorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n",
        s.version,
        s.timestamp,
        body.len()
    );
    if s.unsigned_payload {
        head.push_str("X-TC-Content-SHA256: UNSIGNED-PAYLOAD\r\n");
    }
    if let Some(token) = s.token {
        head.push_str(&format!("X-TC-Token: {token}\r\n"));
    }
    head.push_str("\r\n");
    raw(addr, head.as_bytes(), &body).await
}

async fn raw(addr: SocketAddr, head: &[u8], body: &[u8]) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")),
    }
}

async fn ok(addr: SocketAddr, action: &str, params: Value) -> Value {
    post(addr, action, &params, &Sign::default())
        .await
        .ok()
        .clone()
}

async fn code(addr: SocketAddr, action: &str, params: Value) -> String {
    post(addr, action, &params, &Sign::default())
        .await
        .code()
        .to_owned()
}

#[tokio::test]
async fn signature_failures_each_have_their_code() {
    let s = start(ServerOptions {
        tencent: pair(),
        ..ServerOptions::default()
    })
    .await;
    let p = json!({"NumberOfBytes": 16});
    let good = post(s.addr, "GenerateRandom", &p, &Sign::default()).await;
    assert_eq!(good.status, 200);
    assert_eq!(good.content_type, "application/json");
    assert_eq!(
        STANDARD
            .decode(good.ok()["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        16
    );
    assert_eq!(good.ok()["RequestId"].as_str().unwrap().len(), 36);

    let cases: Vec<(Sign<'_>, &str)> = vec![
        (
            Sign {
                secret_key: "wrong",
                ..Sign::default()
            },
            "AuthFailure.SignatureFailure",
        ),
        (
            Sign {
                secret_id: "AKIDunknown",
                ..Sign::default()
            },
            "AuthFailure.SecretIdNotFound",
        ),
        (
            Sign {
                timestamp: NOW - 301,
                ..Sign::default()
            },
            "AuthFailure.SignatureExpire",
        ),
        (
            Sign {
                timestamp: NOW + 301,
                ..Sign::default()
            },
            "AuthFailure.SignatureExpire",
        ),
        (
            Sign {
                signed_headers: "content-type",
                ..Sign::default()
            },
            "AuthFailure.InvalidAuthorization",
        ),
        (
            Sign {
                signed_headers: "host",
                ..Sign::default()
            },
            "AuthFailure.InvalidAuthorization",
        ),
        (
            Sign {
                service: "cvm",
                ..Sign::default()
            },
            "AuthFailure.SignatureFailure",
        ),
        (
            Sign {
                version: "2017-03-12",
                ..Sign::default()
            },
            "NoSuchVersion",
        ),
        (
            Sign {
                tamper: " ",
                ..Sign::default()
            },
            "AuthFailure.SignatureFailure",
        ),
    ];
    for (sign, want) in cases {
        let a = post(s.addr, "GenerateRandom", &p, &sign).await;
        assert_eq!(
            (a.status, a.content_type.as_str()),
            (200, "application/json")
        );
        assert_eq!(a.code(), want, "{}", a.body);
        assert!(a.body["Response"]["RequestId"].is_string());
    }
    // A signature within the window still passes; the window moves with the server's clock.
    let a = post(
        s.addr,
        "GenerateRandom",
        &p,
        &Sign {
            timestamp: NOW - 300,
            ..Sign::default()
        },
    )
    .await;
    a.ok();
    s.clock.advance(301);
    let a = post(s.addr, "GenerateRandom", &p, &Sign::default()).await;
    assert_eq!(a.code(), "AuthFailure.SignatureExpire");
    s.clock.set(NOW);
    // UNSIGNED-PAYLOAD: the body is outside the signature, so a changed body still passes.
    let unsigned = Sign {
        unsigned_payload: true,
        tamper: " ",
        ..Sign::default()
    };
    post(s.addr, "GenerateRandom", &p, &unsigned).await.ok();
    // No Authorization at all.
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nX-TC-Action: GenerateRandom\r\n\
         X-TC-Version: 2019-01-18\r\nX-TC-Timestamp: {NOW}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n",
        s.addr
    );
    let a = raw(s.addr, head.as_bytes(), b"{}").await;
    assert_eq!(a.code(), "AuthFailure.InvalidAuthorization");
}

#[tokio::test]
async fn requests_that_are_not_calls_have_their_code() {
    let s = start(ServerOptions {
        tencent: pair(),
        ..ServerOptions::default()
    })
    .await;
    let d = Sign::default();
    assert_eq!(
        post(s.addr, "Fly", &json!({}), &d).await.code(),
        "InvalidAction"
    );
    assert_eq!(
        post(s.addr, "decrypt", &json!({}), &d).await.code(),
        "InvalidAction"
    );
    let a = post(s.addr, "CreateWhiteBoxKey", &json!({"KeyId": "x"}), &d).await;
    assert_eq!(a.code(), "UnsupportedOperation");
    assert!(
        a.body["Response"]["Error"]["Message"]
            .as_str()
            .unwrap()
            .contains("CreateWhiteBoxKey")
    );
    let a = send(
        s.addr,
        "GenerateRandom",
        b"[1]".to_vec(),
        &d,
        "application/json",
    )
    .await;
    assert_eq!(a.code(), "InvalidParameter");
    let a = send(
        s.addr,
        "GenerateRandom",
        b"{".to_vec(),
        &d,
        "application/json",
    )
    .await;
    assert_eq!(a.code(), "InvalidParameter");
    let a = post(
        s.addr,
        "GenerateRandom",
        &json!({"NumberOfBytes": "many"}),
        &d,
    )
    .await;
    assert_eq!(a.code(), "InvalidParameter");
    assert_eq!(
        code(s.addr, "GenerateRandom", json!({})).await,
        "MissingParameter"
    );
    let big = format!(
        "{{\"Plaintext\":\"{}\"}}",
        "A".repeat(kms_server::tencent::MAX_BODY_BYTES)
    );
    let a = send(s.addr, "Encrypt", big.into_bytes(), &d, "application/json").await;
    assert_eq!(a.code(), "RequestSizeLimitExceeded");
    let a = send(s.addr, "GenerateRandom", b"x=1".to_vec(), &d, "text/plain").await;
    assert_eq!(a.code(), "UnsupportedProtocol");
    // gRPC's own paths are not Tencent's: an HTTP/1.1 POST elsewhere is not answered as one.
    let head = format!(
        "GET /other HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    );
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(!response.contains("\"Response\""), "{response}");
}

#[tokio::test]
async fn every_action_answers_with_tencent_fields() {
    let s = start(ServerOptions::default()).await; // development mode: signatures unchecked
    let a = s.addr;
    let created = ok(
        a,
        "CreateKey",
        json!({"Alias": "app-one", "Description": "d"}),
    )
    .await;
    let key = created["KeyId"].as_str().unwrap().to_owned();
    assert_eq!(created["KeyState"], "Enabled");
    assert_eq!(created["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(created["CreateTime"], NOW);
    assert_eq!(created["TagCode"], 0);
    let tagged = ok(
        a,
        "CreateKey",
        json!({"Alias": "tagged", "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    )
    .await;
    // Tags are kept with the key (TagCode 0: the tag operation succeeded, as the SDKs' models
    // document it; 1 and 2 are its failures), and ListKeyDetail filters on them.
    assert_eq!(
        (&tagged["TagCode"], &tagged["TagMsg"]),
        (&json!(0), &json!(""))
    );
    let by_tag = ok(
        a,
        "ListKeyDetail",
        json!({"TagFilters": [{"TagKey": "a", "TagValue": ["b"]}]}),
    )
    .await;
    assert_eq!(by_tag["TotalCount"], 1);
    assert_eq!(by_tag["KeyMetadatas"][0]["Alias"], "tagged");
    let other_value = ok(
        a,
        "ListKeyDetail",
        json!({"TagFilters": [{"TagKey": "a", "TagValue": ["c"]}]}),
    )
    .await;
    assert_eq!(other_value["TotalCount"], 0);
    for (tags, want) in [
        (
            json!([{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}]),
            "InvalidParameterValue.TagKeysDuplicated",
        ),
        (
            json!([{"TagKey": "qcloud:x", "TagValue": "1"}]),
            "InvalidParameterValue",
        ),
        (json!([{"TagValue": "1"}]), "MissingParameter"),
    ] {
        assert_eq!(
            code(a, "CreateKey", json!({"Alias": "tag-bad", "Tags": tags})).await,
            want,
            "{tags}"
        );
    }
    assert_eq!(
        code(a, "CreateKey", json!({"Alias": "app-one"})).await,
        "InvalidParameterValue.AliasAlreadyExists"
    );
    assert_eq!(
        code(a, "CreateKey", json!({"Alias": "bad alias"})).await,
        "InvalidParameterValue.InvalidAlias"
    );
    assert_eq!(
        code(a, "CreateKey", json!({"Alias": "x", "Type": 3})).await,
        "InvalidParameterValue.InvalidType"
    );
    assert_eq!(
        code(
            a,
            "CreateKey",
            json!({"Alias": "x", "KeyUsage": "SIGN_VERIFY_ECC"})
        )
        .await,
        "InvalidParameterValue.InvalidKeyUsage"
    );
    assert_eq!(code(a, "CreateKey", json!({})).await, "MissingParameter");

    let m = &ok(a, "DescribeKey", json!({"KeyId": key})).await["KeyMetadata"];
    assert_eq!(m["Alias"], "app-one");
    assert_eq!(m["Description"], "d");
    assert_eq!(m["Origin"], "TENCENT_KMS");
    assert_eq!(m["Owner"], "user");
    assert_eq!(m["KeyRotationEnabled"], false);
    assert_eq!(m["DeletionDate"], 0);
    assert_eq!(
        code(
            a,
            "DescribeKey",
            json!({"KeyId": "00000000-0000-0000-0000-000000000000"})
        )
        .await,
        "ResourceUnavailable.CmkNotFound"
    );
    assert_eq!(code(a, "DescribeKey", json!({})).await, "MissingParameter");

    let listed = ok(a, "ListKeys", json!({"Limit": 1})).await;
    assert_eq!(listed["Keys"].as_array().unwrap().len(), 1);
    assert_eq!(listed["TotalCount"], 2);
    assert_eq!(
        code(a, "ListKeys", json!({"Limit": 201})).await,
        "InvalidParameterValue"
    );

    // Data keys and Encrypt: EncryptionContext is the JSON text, matched whatever the key order.
    let dk = ok(a, "GenerateDataKey", json!({"KeyId": "alias/app-one", "KeySpec": "AES_256", "EncryptionContext": "{\"a\":\"1\",\"b\":\"2\"}"})).await;
    assert_eq!(dk["KeyId"], key.as_str());
    let plain = STANDARD.decode(dk["Plaintext"].as_str().unwrap()).unwrap();
    assert_eq!(plain.len(), 32);
    let opened = ok(a, "Decrypt", json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": "{\"b\":\"2\",\"a\":\"1\"}"})).await;
    assert_eq!(
        STANDARD
            .decode(opened["Plaintext"].as_str().unwrap())
            .unwrap(),
        plain
    );
    assert_eq!(opened["KeyId"], key.as_str());
    let wrong =
        json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": "{\"a\":\"1\"}"});
    assert_eq!(
        code(a, "Decrypt", wrong).await,
        "InvalidParameterValue.InvalidCiphertext"
    );
    assert_eq!(
        code(a, "Decrypt", json!({"CiphertextBlob": "%%%"})).await,
        "InvalidParameterValue.InvalidCiphertext"
    );
    let n = ok(
        a,
        "GenerateDataKey",
        json!({"KeyId": key, "NumberOfBytes": 7, "KeySpec": "AES_128"}),
    )
    .await;
    assert_eq!(
        STANDARD
            .decode(n["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        code(a, "GenerateDataKey", json!({"KeyId": key})).await,
        "MissingParameter"
    );
    assert_eq!(
        code(
            a,
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_512"})
        )
        .await,
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            a,
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionPublicKey": "x"})
        )
        .await,
        "InvalidParameterValue"
    );

    let sealed = ok(
        a,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": STANDARD.encode("hello")}),
    )
    .await;
    assert_eq!(sealed["KeyId"], key.as_str());
    assert_eq!(
        code(a, "Encrypt", json!({"KeyId": key, "Plaintext": "%%"})).await,
        "InvalidParameterValue.InvalidPlaintext"
    );
    let other = ok(a, "CreateKey", json!({"Alias": "app-two"})).await["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let re = ok(a, "ReEncrypt", json!({"CiphertextBlob": sealed["CiphertextBlob"], "DestinationKeyId": other, "DestinationEncryptionContext": "{\"x\":\"y\"}"})).await;
    assert_eq!(
        (
            re["SourceKeyId"].as_str().unwrap(),
            re["KeyId"].as_str().unwrap(),
            &re["ReEncrypted"]
        ),
        (key.as_str(), other.as_str(), &json!(true))
    );
    let back = ok(
        a,
        "Decrypt",
        json!({"CiphertextBlob": re["CiphertextBlob"], "EncryptionContext": "{\"x\":\"y\"}"}),
    )
    .await;
    assert_eq!(
        STANDARD
            .decode(back["Plaintext"].as_str().unwrap())
            .unwrap(),
        b"hello"
    );
    let same = ok(
        a,
        "ReEncrypt",
        json!({"CiphertextBlob": sealed["CiphertextBlob"]}),
    )
    .await;
    assert_eq!(same["ReEncrypted"], false);
    assert_eq!(same["CiphertextBlob"], sealed["CiphertextBlob"]);

    // Lifecycle.
    ok(a, "DisableKey", json!({"KeyId": key})).await;
    assert_eq!(
        code(a, "Encrypt", json!({"KeyId": key, "Plaintext": "aGk="})).await,
        "ResourceUnavailable.CmkDisabled"
    );
    ok(a, "DisableKey", json!({"KeyId": key})).await; // idempotent, as over gRPC
    assert_eq!(
        code(
            a,
            "ScheduleKeyDeletion",
            json!({"KeyId": key, "PendingWindowInDays": 6})
        )
        .await,
        "InvalidParameter.InvalidPendingWindowInDays"
    );
    assert_eq!(
        code(a, "ScheduleKeyDeletion", json!({"KeyId": key})).await,
        "MissingParameter"
    );
    let del = ok(
        a,
        "ScheduleKeyDeletion",
        json!({"KeyId": key, "PendingWindowInDays": 7}),
    )
    .await;
    assert_eq!(del["DeletionDate"], NOW + 7 * 86_400);
    assert_eq!(del["KeyId"], key.as_str());
    let m = &ok(a, "DescribeKey", json!({"KeyId": key})).await["KeyMetadata"];
    assert_eq!(m["KeyState"], "PendingDelete");
    assert_eq!(
        ok(a, "CancelKeyDeletion", json!({"KeyId": key})).await["KeyId"],
        key.as_str()
    );
    assert_eq!(
        code(a, "CancelKeyDeletion", json!({"KeyId": key})).await,
        "ResourceUnavailable.CmkNotPendingDelete"
    );
    ok(a, "EnableKey", json!({"KeyId": key})).await;
    assert_eq!(
        code(
            a,
            "ScheduleKeyDeletion",
            json!({"KeyId": key, "PendingWindowInDays": 7})
        )
        .await,
        "ResourceUnavailable.CmkShouldBeDisabled"
    );
    ok(a, "ArchiveKey", json!({"KeyId": key})).await;
    assert_eq!(
        code(a, "Encrypt", json!({"KeyId": key, "Plaintext": "aGk="})).await,
        "ResourceUnavailable.CmkArchived"
    );
    ok(a, "CancelKeyArchive", json!({"KeyId": key})).await;
    ok(
        a,
        "UpdateAlias",
        json!({"KeyId": key, "Alias": "app-renamed"}),
    )
    .await;
    assert_eq!(
        code(a, "UpdateAlias", json!({"KeyId": key, "Alias": "app-two"})).await,
        "InvalidParameterValue.AliasAlreadyExists"
    );
    ok(
        a,
        "UpdateKeyDescription",
        json!({"KeyId": key, "Description": "new"}),
    )
    .await;
    let m = &ok(a, "DescribeKey", json!({"KeyId": "alias/app-renamed"})).await["KeyMetadata"];
    assert_eq!(
        (m["Alias"].as_str(), m["Description"].as_str()),
        (Some("app-renamed"), Some("new"))
    );

    // Rotation.
    assert_eq!(
        ok(a, "GetKeyRotationStatus", json!({"KeyId": key})).await["KeyRotationEnabled"],
        false
    );
    assert_eq!(
        code(
            a,
            "EnableKeyRotation",
            json!({"KeyId": key, "RotateDays": 6})
        )
        .await,
        "InvalidParameterValue"
    );
    ok(
        a,
        "EnableKeyRotation",
        json!({"KeyId": key, "RotateDays": 30}),
    )
    .await;
    assert_eq!(
        ok(a, "GetKeyRotationStatus", json!({"KeyId": key})).await["KeyRotationEnabled"],
        true
    );
    let m = &ok(a, "DescribeKey", json!({"KeyId": key})).await["KeyMetadata"];
    assert_eq!(m["NextRotateTime"], NOW + 30 * 86_400);
    assert_eq!(m["RotateDays"], 30);
    assert_eq!(m["LastRotateTime"], 0);
    ok(a, "DisableKeyRotation", json!({"KeyId": key})).await;
    assert_eq!(
        ok(a, "RotateKey", json!({"KeyId": key})).await["TaskId"],
        format!("{key}-v2")
    );
    // RotateKey's doc: its effect shows in DescribeKey's LastRotateTime.
    let m = &ok(a, "DescribeKey", json!({"KeyId": key})).await["KeyMetadata"];
    assert_eq!(m["LastRotateTime"], NOW);
    // The blob sealed under version 1 still opens.
    let v1 = ok(
        a,
        "Decrypt",
        json!({"CiphertextBlob": sealed["CiphertextBlob"]}),
    )
    .await;
    assert_eq!(v1["Plaintext"], STANDARD.encode("hello"));
    assert_eq!(
        code(a, "GenerateRandom", json!({"NumberOfBytes": 1025})).await,
        "InvalidParameterValue"
    );
}

/// A GET with the parameters in the query (numbers as text) is served like a POST.
#[tokio::test]
async fn get_with_a_query_is_served() {
    let s = start(ServerOptions::default()).await;
    let head = format!(
        "GET /?NumberOfBytes=12 HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         X-TC-Action: GenerateRandom\r\nX-TC-Version: 2019-01-18\r\nX-TC-Timestamp: {NOW}\r\nConnection: close\r\n\r\n",
        s.addr
    );
    let a = raw(s.addr, head.as_bytes(), b"").await;
    assert_eq!(
        STANDARD
            .decode(a.ok()["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        12
    );
}

#[tokio::test]
async fn blobs_cross_between_grpc_and_tencent() {
    let s = start(ServerOptions::default()).await;
    let mut grpc = KeyManagementServiceClient::connect(format!("http://{}", s.addr))
        .await
        .unwrap();
    let key = ok(s.addr, "CreateKey", json!({"Alias": "cross"})).await["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let context = r#"{"bucket":"b","object":"o"}"#;
    // gRPC seals (context as base64 of the JSON), Tencent opens (context as the JSON text).
    let sealed = grpc
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"from grpc".to_vec(),
            encryption_context: STANDARD.encode(context),
        })
        .await
        .unwrap()
        .into_inner();
    let opened = ok(s.addr, "Decrypt", json!({"CiphertextBlob": STANDARD.encode(&sealed.ciphertext_blob), "EncryptionContext": context})).await;
    assert_eq!(opened["Plaintext"], STANDARD.encode("from grpc"));
    // Tencent seals, gRPC opens.
    let dk = ok(
        s.addr,
        "GenerateDataKey",
        json!({"KeyId": key, "KeySpec": "AES_128", "EncryptionContext": context}),
    )
    .await;
    let opened = grpc
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: STANDARD
                .decode(dk["CiphertextBlob"].as_str().unwrap())
                .unwrap(),
            encryption_context: STANDARD.encode(r#"{"object":"o","bucket":"b"}"#),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        STANDARD.encode(opened.plaintext),
        dk["Plaintext"].as_str().unwrap()
    );
}

/// A temporary credential (`session_token_sha256` in the policy) needs its `X-TC-Token` on every
/// call; a permanent pair must not send one. The signature is checked first.
#[tokio::test]
async fn temporary_credentials_need_their_token_and_permanent_ones_none() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("tmp.key");
    std::fs::write(&key_file, "temporary-secret-key").unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let app_file = dir.path().join("app.key");
    std::fs::write(&app_file, SECRET_KEY).unwrap();
    std::fs::set_permissions(&app_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let token = "session-token-0123";
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token));
    let policy = Policy::parse(&format!(
        r#"
identities:
  - name: job
    secret_id: AKIDtemporary
    secret_key_file: "{}"
    session_token_sha256: "{digest}"
    allow: ["*"]
  - name: app
    secret_id: "{SECRET_ID}"
    secret_key_file: "{}"
    allow: ["*"]
"#,
        key_file.display(),
        app_file.display()
    ))
    .unwrap();
    let s = start(ServerOptions {
        access: Arc::new(AccessControl::enforce(policy)),
        ..ServerOptions::default()
    })
    .await;
    let job = |token| Sign {
        secret_id: "AKIDtemporary",
        secret_key: "temporary-secret-key",
        token,
        ..Sign::default()
    };
    let random = json!({"NumberOfBytes": 8});
    let a = post(s.addr, "GenerateRandom", &random, &job(Some(token))).await;
    assert_eq!(a.ok()["Plaintext"].as_str().unwrap().len(), 12);
    for (sign, want) in [
        (job(None), "AuthFailure.TokenFailure"),
        (job(Some("")), "AuthFailure.TokenFailure"),
        (job(Some("session-token-0124")), "AuthFailure.TokenFailure"),
        (
            Sign {
                secret_key: "wrong",
                ..job(Some(token))
            },
            "AuthFailure.SignatureFailure",
        ),
        (
            Sign {
                token: Some(token),
                ..Sign::default()
            },
            "AuthFailure.TokenFailure",
        ),
    ] {
        let a = post(s.addr, "GenerateRandom", &random, &sign).await;
        assert_eq!(a.code(), want, "{:?}", sign.token);
    }
    post(s.addr, "GenerateRandom", &random, &Sign::default())
        .await
        .ok();
    // The pair from the environment is permanent too.
    let p = start(ServerOptions {
        tencent: pair(),
        ..ServerOptions::default()
    })
    .await;
    let with_token = Sign {
        token: Some(token),
        ..Sign::default()
    };
    let a = post(p.addr, "GenerateRandom", &random, &with_token).await;
    assert_eq!(a.code(), "AuthFailure.TokenFailure");
    // The policy refuses a token digest on an identity that is not a TC3 pair, and bad hex.
    let e = Policy::parse(&format!(
        "identities:\n  - name: t\n    token_sha256: \"{digest}\"\n    session_token_sha256: \"{digest}\"\n    allow: [\"*\"]\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("session_token_sha256 belongs to a secret_id"),
        "{e}"
    );
    let e = Policy::parse(&format!(
        "identities:\n  - name: j\n    secret_id: AKIDx\n    secret_key_file: \"{}\"\n    session_token_sha256: \"zz\"\n    allow: [\"*\"]\n",
        key_file.display()
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("session_token_sha256"), "{e}");
}

#[tokio::test]
async fn policy_pairs_are_identities_with_allow_and_keys_rules_and_audit_lines() {
    let dir = tempfile::tempdir().unwrap();
    let policy = admin_and_app_policy(
        &dir,
        r#"allow: [Encrypt, Decrypt]
    keys: ["alias/app-*"]"#,
    );
    let audit = dir.path().join("audit.log");
    let s = start_policed(
        policy,
        &audit,
        ServerOptions {
            tencent: pair(), // ignored under a policy: the policy's pairs count
            ..ServerOptions::default()
        },
    )
    .await;
    let admin = Sign {
        secret_id: "AKIDadmin",
        secret_key: "admin-secret-key",
        ..Sign::default()
    };
    let app = Sign::default();
    let create = |alias: &'static str| json!({"Alias": alias});
    let mine = post(s.addr, "CreateKey", &create("app-one"), &admin)
        .await
        .ok()["KeyId"]
        .clone();
    let other = post(s.addr, "CreateKey", &create("secret"), &admin)
        .await
        .ok()["KeyId"]
        .clone();
    let sealed = post(s.addr, "Encrypt", &json!({"KeyId": mine, "Plaintext": "aGk=", "EncryptionContext": "{\"tenant\":\"private-value\"}"}), &app).await;
    let blob = sealed.ok()["CiphertextBlob"].clone();
    let a = post(
        s.addr,
        "Decrypt",
        &json!({"CiphertextBlob": blob, "EncryptionContext": "{\"tenant\":\"private-value\"}"}),
        &app,
    )
    .await;
    assert_eq!(a.ok()["Plaintext"], "aGk=");
    let a = post(
        s.addr,
        "Encrypt",
        &json!({"KeyId": other, "Plaintext": "aGk="}),
        &app,
    )
    .await;
    assert_eq!(a.code(), "UnauthorizedOperation");
    let a = post(s.addr, "DisableKey", &json!({"KeyId": mine}), &app).await;
    assert_eq!(a.code(), "UnauthorizedOperation");
    assert!(
        a.body["Response"]["Error"]["Message"]
            .as_str()
            .unwrap()
            .contains("identity app may not call DisableKey")
    );
    // The admin's key does not sign as the app, and the pair from the environment is not in force.
    let a = post(
        s.addr,
        "Encrypt",
        &json!({"KeyId": mine, "Plaintext": "aGk="}),
        &Sign {
            secret_key: "admin-secret-key",
            ..Sign::default()
        },
    )
    .await;
    assert_eq!(a.code(), "AuthFailure.SignatureFailure");

    let text = std::fs::read_to_string(&audit).unwrap();
    let lines = outcome_lines(text.lines());
    assert_eq!(lines.len(), 7, "{text}");
    assert_eq!(
        (lines[0]["identity"].as_str(), lines[0]["rpc"].as_str()),
        (Some("admin"), Some("CreateKey"))
    );
    assert_eq!(
        (lines[2]["identity"].as_str(), lines[2]["rpc"].as_str()),
        (Some("app"), Some("Encrypt"))
    );
    assert_eq!(lines[2]["context_keys"], json!(["tenant"]));
    assert!(lines[2]["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(lines[4]["outcome"]["code"], "UnauthorizedOperation");
    // A request whose signature fails is recorded too: no identity, the action it named, no key.
    assert_eq!(
        (
            lines[6]["identity"].as_str(),
            lines[6]["rpc"].as_str(),
            lines[6]["outcome"]["status"].as_str(),
            lines[6]["outcome"]["code"].as_str(),
        ),
        (
            Some("-"),
            Some("Encrypt"),
            Some("UNAUTHENTICATED"),
            Some("AuthFailure.SignatureFailure")
        )
    );
    assert_eq!(lines[6]["keys"], json!([]));
    assert!(lines[6]["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    for secret in ["private-value", SECRET_KEY, "admin-secret-key"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // The batch actions are policy actions of their own (DescribeKeys, DisableKeys), asked per
    // key: the app (Encrypt, Decrypt) may not describe or disable, the admin may.
    let ids = json!({"KeyIds": [mine, other]});
    for action in ["DescribeKeys", "DisableKeys"] {
        assert_eq!(
            post(s.addr, action, &ids, &app).await.code(),
            "UnauthorizedOperation"
        );
    }
    post(s.addr, "DisableKeys", &ids, &admin).await.ok();
    drop(s);
}

#[test]
fn policy_secret_files_must_be_private_and_paired() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    std::fs::write(&path, "key").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let doc = |fields: &str| format!("identities:\n  - name: a\n{fields}    allow: ['*']\n");
    let e = Policy::parse(&doc(&format!(
        "    secret_id: AKID1\n    secret_key_file: {}\n",
        path.display()
    )))
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("readable or writable by group or others (mode 644); chmod 600 it"),
        "{e}"
    );
    let e = Policy::parse(&doc("    secret_id: AKID1\n")).unwrap_err();
    assert!(
        e.to_string()
            .contains("secret_id and secret_key_file go together"),
        "{e}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let p = Policy::parse(&doc(&format!(
        "    secret_id: AKID1\n    secret_key_file: {}\n",
        path.display()
    )))
    .unwrap();
    assert_eq!(
        p.tencent_secret("AKID1").unwrap().secret_key.expose(),
        b"key"
    );
    assert!(p.tencent_secret("AKID2").is_none());
}

#[tokio::test]
async fn key_set_actions_check_their_lists_and_act_per_key() {
    let s = start(ServerOptions::default()).await;
    let mut ids = Vec::new();
    for alias in ["set-a", "set-b", "set-c"] {
        s.clock.advance(1); // distinct creation times, so the order is known
        ids.push(ok(s.addr, "CreateKey", json!({"Alias": alias})).await["KeyId"].clone());
    }
    let described = ok(s.addr, "DescribeKeys", json!({"KeyIds": [ids[2], ids[0]]})).await;
    let aliases: Vec<&str> = described["KeyMetadatas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Alias"].as_str().unwrap())
        .collect();
    assert_eq!(aliases, ["set-c", "set-a"]);

    // Bad lists, each with its exact code.
    let too_many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    for (params, want) in [
        (json!({}), "MissingParameter"),
        (json!({"KeyIds": []}), "InvalidParameterValue"),
        (json!({"KeyIds": too_many}), "InvalidParameterValue"),
        (
            json!({"KeyIds": [ids[0], ids[0]]}),
            "InvalidParameterValue.DuplicatedKeyId",
        ),
        (json!({"KeyIds": "not-a-list"}), "InvalidParameter"),
        (
            json!({"KeyIds": [ids[0], "no-such-key"]}),
            "ResourceUnavailable.CmkNotFound",
        ),
    ] {
        for action in ["DescribeKeys", "EnableKeys", "DisableKeys"] {
            assert_eq!(
                code(s.addr, action, params.clone()).await,
                want,
                "{action} {params}"
            );
        }
    }

    ok(s.addr, "DisableKeys", json!({"KeyIds": [ids[0], ids[1]]})).await;
    let states = |ids: Vec<Value>| async move {
        let all = ok(s.addr, "DescribeKeys", json!({"KeyIds": ids})).await;
        all["KeyMetadatas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["KeyState"].as_str().unwrap().to_owned())
            .collect::<Vec<String>>()
    };
    assert_eq!(
        states(ids.clone()).await,
        ["Disabled", "Disabled", "Enabled"]
    );

    // All or nothing: a state refusal of the last key (its message naming it) changes none of
    // the keys before it, for EnableKeys and DisableKeys alike.
    ok(
        s.addr,
        "ScheduleKeyDeletion",
        json!({"KeyId": ids[1], "PendingWindowInDays": 7}),
    )
    .await;
    for (action, list) in [
        ("EnableKeys", json!([ids[0], ids[2], ids[1]])),
        ("DisableKeys", json!([ids[2], ids[1]])),
    ] {
        let a = post(s.addr, action, &json!({"KeyIds": list}), &Sign::default()).await;
        assert_eq!(
            a.code(),
            "ResourceUnavailable.CmkStateNotSupport",
            "{action}: {}",
            a.body
        );
        let message = a.body["Response"]["Error"]["Message"].as_str().unwrap();
        assert_eq!(
            message,
            format!("key {} is PendingDelete", ids[1].as_str().unwrap())
        );
        assert_eq!(
            states(ids.clone()).await,
            ["Disabled", "PendingDelete", "Enabled"],
            "{action}"
        );
    }
    ok(s.addr, "EnableKeys", json!({"KeyIds": [ids[0], ids[2]]})).await;
    assert_eq!(
        states(ids.clone()).await,
        ["Enabled", "PendingDelete", "Enabled"]
    );

    // ListKeyDetail: filters, order, paging, bad values.
    let detail = |params: Value| async move {
        let r = ok(s.addr, "ListKeyDetail", params).await;
        let aliases: Vec<String> = r["KeyMetadatas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Alias"].as_str().unwrap().to_owned())
            .collect();
        (r["TotalCount"].as_u64().unwrap(), aliases)
    };
    assert_eq!(
        detail(json!({"SearchKeyAlias": "set-"})).await,
        (3, vec!["set-c".into(), "set-b".into(), "set-a".into()])
    );
    assert_eq!(
        detail(json!({"SearchKeyAlias": "set-", "OrderType": 1, "Offset": 1, "Limit": 1})).await,
        (3, vec!["set-b".into()])
    );
    assert_eq!(
        detail(json!({"SearchKeyAlias": "set-", "KeyState": 3})).await,
        (1, vec!["set-b".into()])
    );
    assert_eq!(
        detail(json!({"SearchKeyAlias": "set-", "Origin": "EXTERNAL"})).await,
        (0, vec![])
    );
    for usage in ["ALL", "ENCRYPT_DECRYPT"] {
        assert_eq!(
            detail(json!({"SearchKeyAlias": "set-", "KeyUsage": usage}))
                .await
                .0,
            3
        );
    }
    assert_eq!(
        detail(json!({"SearchKeyAlias": "set-", "KeyUsage": "ASYMMETRIC_DECRYPT_SM2"})).await,
        (0, vec![])
    );
    for (params, want) in [
        (json!({"KeyUsage": "SIGN"}), "InvalidParameterValue"),
        (json!({"Limit": 0}), "InvalidParameterValue"),
        (json!({"Limit": 201}), "InvalidParameterValue"),
        (json!({"OrderType": 2}), "InvalidParameterValue"),
        (json!({"KeyState": 6}), "InvalidParameterValue"),
        (json!({"Role": 2}), "InvalidParameterValue"),
        (json!({"Origin": "AWS"}), "InvalidParameterValue"),
        (
            json!({"TagFilters": [{"TagValue": ["a"]}]}),
            "MissingParameter",
        ),
        (
            json!({"TagFilters": [{"TagKey": ""}]}),
            "InvalidParameterValue",
        ),
        (json!({"Limit": "many"}), "InvalidParameter"),
    ] {
        assert_eq!(
            code(s.addr, "ListKeyDetail", params.clone()).await,
            want,
            "{params}"
        );
    }
}

#[tokio::test]
async fn service_actions_answer_fixed_facts_and_get_lists_fold() {
    let s = start(ServerOptions::default()).await;
    let status = ok(s.addr, "GetServiceStatus", json!({})).await;
    assert_eq!(
        (
            status["ServiceEnabled"].as_bool(),
            status["InvalidType"].as_u64()
        ),
        (Some(true), Some(1))
    );
    let regions = ok(s.addr, "GetRegions", json!({})).await;
    assert_eq!(regions["Regions"], json!(["ap-guangzhou"]));
    let algorithms = ok(s.addr, "ListAlgorithms", json!({})).await;
    assert_eq!(
        algorithms["SymmetricAlgorithms"],
        json!([{"KeyUsage": "ENCRYPT_DECRYPT", "Algorithm": "AES_256"}])
    );

    // A GET names a list as KeyIds.0, KeyIds.1, ...
    let key = ok(s.addr, "CreateKey", json!({"Alias": "get-list"})).await["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let head = format!(
        "GET /?KeyIds.0={key} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         X-TC-Action: DescribeKeys\r\nX-TC-Version: 2019-01-18\r\nX-TC-Timestamp: {NOW}\r\nConnection: close\r\n\r\n",
        s.addr
    );
    let a = raw(s.addr, head.as_bytes(), b"").await;
    assert_eq!(a.ok()["KeyMetadatas"][0]["Alias"], "get-list");
}

/// The asymmetric actions with the SDK's field names, and each refusal with its exact code.
#[tokio::test]
async fn asymmetric_actions_answer_with_tencent_fields_and_codes() {
    let s = start(ServerOptions::default()).await; // development mode: signatures unchecked
    let a = s.addr;
    let created = ok(
        a,
        "CreateKey",
        json!({"Alias": "signer", "KeyUsage": "ASYMMETRIC_SIGN_VERIFY_ECC"}),
    )
    .await;
    assert_eq!(created["KeyUsage"], "ASYMMETRIC_SIGN_VERIFY_ECC");
    let key = created["KeyId"].as_str().unwrap().to_owned();
    let m = &ok(a, "DescribeKey", json!({"KeyId": key})).await["KeyMetadata"];
    assert_eq!(m["KeyUsage"], "ASYMMETRIC_SIGN_VERIFY_ECC");
    let listed = ok(
        a,
        "ListKeyDetail",
        json!({"KeyUsage": "ASYMMETRIC_SIGN_VERIFY_ECC"}),
    )
    .await;
    assert_eq!(listed["TotalCount"], 1);
    assert_eq!(listed["KeyMetadatas"][0]["KeyId"], key.as_str());
    let public = ok(a, "GetPublicKey", json!({"KeyId": "alias/signer"})).await;
    assert_eq!(public["KeyId"], key.as_str());
    let der = STANDARD
        .decode(public["PublicKey"].as_str().unwrap())
        .unwrap();
    let pem = public["PublicKeyPem"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    let pem_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(STANDARD.decode(pem_body).unwrap(), der);

    let msg = STANDARD.encode(b"hello");
    let signed = ok(
        a,
        "SignByAsymmetricKey",
        json!({"KeyId": key, "Algorithm": "ECC_P256_R1", "Message": msg}),
    )
    .await;
    let sig = signed["Signature"].as_str().unwrap().to_owned();
    let verify = |message: String, signature: String| {
        let key = key.clone();
        async move {
            ok(
                a,
                "VerifyByAsymmetricKey",
                json!({"KeyId": key, "Algorithm": "ECC_P256_R1", "Message": message,
                       "SignatureValue": signature, "MessageType": "RAW"}),
            )
            .await["SignatureValid"]
                .clone()
        }
    };
    assert_eq!(verify(msg.clone(), sig.clone()).await, true);
    assert_eq!(verify(STANDARD.encode(b"hellO"), sig.clone()).await, false);
    let mut bad = STANDARD.decode(&sig).unwrap();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(verify(msg.clone(), STANDARD.encode(bad)).await, false);

    let sym = ok(a, "CreateKey", json!({"Alias": "sym"})).await["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let refusals = [
        (
            "SignByAsymmetricKey",
            json!({"KeyId": key, "Algorithm": "ECC_P256_R1", "Message": msg, "MessageType": "HASH"}),
            "InvalidParameterValue",
        ),
        (
            "SignByAsymmetricKey",
            json!({"KeyId": key, "Algorithm": "ECC_P256_R1", "Message": "%%"}),
            "InvalidParameterValue",
        ),
        (
            "SignByAsymmetricKey",
            json!({"KeyId": key, "Algorithm": "ECC_P256_R1", "Message": msg, "MessageType": "DIGEST"}),
            "InvalidParameterValue",
        ),
        (
            "SignByAsymmetricKey",
            json!({"KeyId": key, "Algorithm": "SM2DSA", "Message": msg}),
            "InvalidParameterValue",
        ),
        (
            "SignByAsymmetricKey",
            json!({"KeyId": key, "Message": msg}),
            "MissingParameter",
        ),
        (
            "SignByAsymmetricKey",
            json!({"KeyId": sym, "Algorithm": "ECC_P256_R1", "Message": msg}),
            "InvalidParameterValue.InvalidKeyUsage",
        ),
        (
            "GetPublicKey",
            json!({"KeyId": sym}),
            "InvalidParameterValue.InvalidKeyUsage",
        ),
        (
            "VerifyByAsymmetricKey",
            json!({"KeyId": key, "Algorithm": "ECC_P256_R1", "Message": msg}),
            "MissingParameter",
        ),
        (
            "Encrypt",
            json!({"KeyId": key, "Plaintext": msg}),
            "InvalidParameterValue.InvalidKeyUsage",
        ),
        (
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256"}),
            "InvalidParameterValue.InvalidKeyUsage",
        ),
        (
            "EnableKeyRotation",
            json!({"KeyId": key}),
            "UnsupportedOperation.RotateNotSupported",
        ),
        (
            "RotateKey",
            json!({"KeyId": key}),
            "UnsupportedOperation.RotateNotSupported",
        ),
        (
            "GetPublicKey",
            json!({"KeyId": "00000000-0000-0000-0000-000000000000"}),
            "ResourceUnavailable.CmkNotFound",
        ),
    ];
    for (action, params, want) in refusals {
        assert_eq!(
            code(a, action, params.clone()).await,
            want,
            "{action} {params}"
        );
    }
    ok(a, "DisableKey", json!({"KeyId": key})).await;
    assert_eq!(
        code(a, "GetPublicKey", json!({"KeyId": key})).await,
        "ResourceUnavailable.CmkStateNotSupport"
    );
    let algorithms = ok(a, "ListAlgorithms", json!({})).await;
    assert_eq!(
        algorithms["AsymmetricSignVerifyAlgorithms"][0],
        json!({"KeyUsage": "ASYMMETRIC_SIGN_VERIFY_SM2", "Algorithm": "SM2DSA"})
    );
}

/// An answer's error code and message.
async fn refusal(addr: SocketAddr, action: &str, params: Value) -> (String, String) {
    let a = post(addr, action, &params, &Sign::default()).await;
    let message = a.body["Response"]["Error"]["Message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (a.code().to_owned(), message)
}

/// AsymmetricRsaDecrypt and AsymmetricSm2Decrypt open what was encrypted under the key from
/// GetPublicKey (here by aws-lc-rs and RustCrypto `sm2`; by Python `cryptography` and `gmssl` in
/// tencent_sdk.rs), and every bad input gets its exact code and message; a ciphertext that does
/// not open gets one opaque answer whatever went wrong.
#[tokio::test]
async fn asymmetric_decryption_opens_what_the_public_key_sealed() {
    use aws_lc_rs::rsa::{
        OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey,
        Pkcs1PublicEncryptingKey, PublicEncryptingKey,
    };
    use sm2::pkcs8::DecodePublicKey as _;

    let s = start(ServerOptions::default()).await;
    let a = s.addr;
    let mut ids = Vec::new();
    for (alias, usage) in [
        ("rsa", "ASYMMETRIC_DECRYPT_RSA_2048"),
        ("sm2", "ASYMMETRIC_DECRYPT_SM2"),
        ("rsa-signer", "ASYMMETRIC_SIGN_VERIFY_RSA_2048"),
        ("sm2-signer", "ASYMMETRIC_SIGN_VERIFY_SM2"),
        ("sym", "ENCRYPT_DECRYPT"),
    ] {
        let created = ok(a, "CreateKey", json!({"Alias": alias, "KeyUsage": usage})).await;
        ids.push(created["KeyId"].as_str().unwrap().to_owned());
    }
    let [rsa, sm2_key, rsa_signer, sm2_signer, sym] = <[String; 5]>::try_from(ids).unwrap();
    let public = |key: &str| {
        let key = key.to_owned();
        async move {
            let p = ok(a, "GetPublicKey", json!({"KeyId": key})).await;
            STANDARD.decode(p["PublicKey"].as_str().unwrap()).unwrap()
        }
    };
    let msg = b"attack at dawn";
    let b64_msg = STANDARD.encode(msg);

    // RSA: each padding, by alias and by id.
    let rsa_der = public(&rsa).await;
    let seal = |padding: &str| {
        let public = PublicEncryptingKey::from_der(&rsa_der).unwrap();
        let mut out = vec![0; 256];
        match padding {
            "RSAES_PKCS1_V1_5" => {
                Pkcs1PublicEncryptingKey::new(public)
                    .unwrap()
                    .encrypt(msg, &mut out)
                    .unwrap();
            }
            _ => {
                let alg = if padding == "RSAES_OAEP_SHA_1" {
                    &OAEP_SHA1_MGF1SHA1
                } else {
                    &OAEP_SHA256_MGF1SHA256
                };
                OaepPublicEncryptingKey::new(public)
                    .unwrap()
                    .encrypt(alg, msg, &mut out, None)
                    .unwrap();
            }
        }
        STANDARD.encode(out)
    };
    for padding in ["RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
        let ct = seal(padding);
        for key in [rsa.as_str(), "alias/rsa"] {
            let opened = ok(
                a,
                "AsymmetricRsaDecrypt",
                json!({"KeyId": key, "Ciphertext": ct, "Algorithm": padding}),
            )
            .await;
            assert_eq!(opened["KeyId"], rsa.as_str(), "{padding}");
            assert_eq!(opened["Plaintext"], b64_msg.as_str(), "{padding}");
        }
    }

    // SM2: C1C3C2 with and without the 04 prefix, and its ASN.1 form.
    let sm2_public = sm2::PublicKey::from_public_key_der(&public(&sm2_key).await).unwrap();
    let enc = sm2::pke::EncryptingKey::new_with_mode(sm2_public, sm2::pke::Mode::C1C3C2);
    let mut rng = sm2::elliptic_curve::common::getrandom::SysRng;
    let prefixed = enc.encrypt(&mut rng, msg).unwrap();
    let forms = [
        prefixed.clone(),
        prefixed[1..].to_vec(),
        enc.encrypt_der(&mut rng, msg).unwrap(),
    ];
    for ct in &forms {
        let opened = ok(
            a,
            "AsymmetricSm2Decrypt",
            json!({"KeyId": "alias/sm2", "Ciphertext": STANDARD.encode(ct)}),
        )
        .await;
        assert_eq!(opened["KeyId"], sm2_key.as_str());
        assert_eq!(opened["Plaintext"], b64_msg.as_str());
    }

    // Every bad input, with its code and message.
    let oaep = seal("RSAES_OAEP_SHA_256");
    let mut tampered = STANDARD.decode(&oaep).unwrap();
    tampered[10] ^= 1;
    let tampered = STANDARD.encode(tampered);
    let mut sm2_tampered = prefixed.clone();
    *sm2_tampered.last_mut().unwrap() ^= 1;
    let sm2_tampered = STANDARD.encode(sm2_tampered);
    let opaque = (
        "InvalidParameterValue.InvalidCiphertext",
        "invalid ciphertext".to_owned(),
    );
    let usage = |key: &str, usage: &str, action: &str| {
        (
            "InvalidParameterValue.InvalidKeyUsage",
            format!("key {key} has KeyUsage {usage}, which does not allow {action}"),
        )
    };
    let rsa_pkcs1 = seal("RSAES_PKCS1_V1_5");
    let cases = [
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": rsa, "Ciphertext": "not base64!", "Algorithm": "RSAES_PKCS1_V1_5"}),
            (
                "InvalidParameterValue",
                "Ciphertext must be base64".to_owned(),
            ),
        ),
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": rsa, "Ciphertext": oaep, "Algorithm": "RSAES_OAEP_SHA_512"}),
            (
                "InvalidParameterValue",
                "Algorithm must be one of [\"RSAES_PKCS1_V1_5\", \"RSAES_OAEP_SHA_1\", \
                 \"RSAES_OAEP_SHA_256\"], got \"RSAES_OAEP_SHA_512\""
                    .to_owned(),
            ),
        ),
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": rsa, "Ciphertext": oaep}),
            (
                "MissingParameter",
                "the parameter Algorithm is required".to_owned(),
            ),
        ),
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": rsa, "Ciphertext": STANDARD.encode([1u8; 255]), "Algorithm": "RSAES_OAEP_SHA_256"}),
            (
                "InvalidParameterValue",
                "an RSA-2048 ciphertext must be 256 bytes, got 255".to_owned(),
            ),
        ),
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": rsa, "Ciphertext": tampered, "Algorithm": "RSAES_OAEP_SHA_256"}),
            (opaque.0, opaque.1.clone()),
        ),
        // The wrong padding for the ciphertext, PKCS#1 v1.5 included: the same opaque answer.
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": rsa, "Ciphertext": oaep, "Algorithm": "RSAES_PKCS1_V1_5"}),
            (opaque.0, opaque.1.clone()),
        ),
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": rsa, "Ciphertext": rsa_pkcs1, "Algorithm": "RSAES_OAEP_SHA_1"}),
            (opaque.0, opaque.1.clone()),
        ),
        (
            "AsymmetricSm2Decrypt",
            json!({"KeyId": sm2_key, "Ciphertext": sm2_tampered}),
            (opaque.0, opaque.1.clone()),
        ),
        (
            "AsymmetricSm2Decrypt",
            json!({"KeyId": sm2_key, "Ciphertext": STANDARD.encode([4u8; 96])}),
            (
                "InvalidParameterValue",
                "an SM2 ciphertext must be 97 to 256 bytes, got 96".to_owned(),
            ),
        ),
        (
            "AsymmetricSm2Decrypt",
            json!({"KeyId": sm2_key, "Ciphertext": "***"}),
            (
                "InvalidParameterValue",
                "Ciphertext must be base64".to_owned(),
            ),
        ),
        (
            "AsymmetricSm2Decrypt",
            json!({"KeyId": sm2_key}),
            (
                "MissingParameter",
                "the parameter Ciphertext is required".to_owned(),
            ),
        ),
        // Keys of another usage, the other decryption kind included.
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": sym, "Ciphertext": oaep, "Algorithm": "RSAES_OAEP_SHA_256"}),
            usage(&sym, "ENCRYPT_DECRYPT", "AsymmetricRsaDecrypt"),
        ),
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": rsa_signer, "Ciphertext": oaep, "Algorithm": "RSAES_OAEP_SHA_256"}),
            usage(
                &rsa_signer,
                "ASYMMETRIC_SIGN_VERIFY_RSA_2048",
                "AsymmetricRsaDecrypt",
            ),
        ),
        (
            "AsymmetricRsaDecrypt",
            json!({"KeyId": sm2_key, "Ciphertext": oaep, "Algorithm": "RSAES_OAEP_SHA_256"}),
            usage(&sm2_key, "ASYMMETRIC_DECRYPT_SM2", "AsymmetricRsaDecrypt"),
        ),
        (
            "AsymmetricSm2Decrypt",
            json!({"KeyId": sm2_signer, "Ciphertext": STANDARD.encode(&prefixed)}),
            usage(
                &sm2_signer,
                "ASYMMETRIC_SIGN_VERIFY_SM2",
                "AsymmetricSm2Decrypt",
            ),
        ),
        (
            "AsymmetricSm2Decrypt",
            json!({"KeyId": rsa, "Ciphertext": STANDARD.encode(&prefixed)}),
            usage(&rsa, "ASYMMETRIC_DECRYPT_RSA_2048", "AsymmetricSm2Decrypt"),
        ),
        (
            "AsymmetricSm2Decrypt",
            json!({"KeyId": sym, "Ciphertext": STANDARD.encode(&prefixed)}),
            usage(&sym, "ENCRYPT_DECRYPT", "AsymmetricSm2Decrypt"),
        ),
        // A decryption key does not sign, encrypt symmetrically or rotate.
        (
            "SignByAsymmetricKey",
            json!({"KeyId": rsa, "Algorithm": "RSA_PSS_SHA_256", "Message": b64_msg}),
            usage(&rsa, "ASYMMETRIC_DECRYPT_RSA_2048", "Sign"),
        ),
    ];
    for (action, params, (want_code, want_message)) in cases {
        assert_eq!(
            refusal(a, action, params.clone()).await,
            (want_code.to_owned(), want_message),
            "{action} {params}"
        );
    }

    // A disabled key refuses with the state code of the other asymmetric actions.
    ok(a, "DisableKey", json!({"KeyId": sm2_key})).await;
    let (c, m) = refusal(
        a,
        "AsymmetricSm2Decrypt",
        json!({"KeyId": sm2_key, "Ciphertext": STANDARD.encode(&prefixed)}),
    )
    .await;
    assert_eq!(c, "ResourceUnavailable.CmkStateNotSupport");
    assert_eq!(m, format!("key {sm2_key} is Disabled"));
}

/// GenerateDataKey and Decrypt with `EncryptionPublicKey`: the plaintext comes back sealed under
/// the caller's public key (here a KMS decryption key's, so AsymmetricRsaDecrypt and
/// AsymmetricSm2Decrypt open it), never in clear; a bad key or algorithm is refused before use.
#[tokio::test]
async fn data_keys_come_back_sealed_under_the_callers_public_key() {
    let s = start(ServerOptions::default()).await;
    let a = s.addr;
    let sym = ok(a, "CreateKey", json!({"Alias": "data"})).await["KeyId"].clone();
    let mut pems = Vec::new();
    for (alias, usage) in [
        ("rsa", "ASYMMETRIC_DECRYPT_RSA_2048"),
        ("sm2", "ASYMMETRIC_DECRYPT_SM2"),
    ] {
        ok(a, "CreateKey", json!({"Alias": alias, "KeyUsage": usage})).await;
        let p = ok(
            a,
            "GetPublicKey",
            json!({"KeyId": format!("alias/{alias}")}),
        )
        .await;
        pems.push(p["PublicKeyPem"].as_str().unwrap().to_owned());
    }
    let (rsa_pem, sm2_pem) = (pems[0].clone(), pems[1].clone());
    let cases = [
        (&rsa_pem, Some("RSAES_PKCS1_V1_5"), "alias/rsa"),
        (&rsa_pem, Some("RSAES_OAEP_SHA_1"), "alias/rsa"),
        (&rsa_pem, Some("RSAES_OAEP_SHA_256"), "alias/rsa"),
        (&sm2_pem, None, "alias/sm2"),
        (&sm2_pem, Some("SM2"), "alias/sm2"),
        (&sm2_pem, Some("SM2_C1C3C2_ASN1"), "alias/sm2"),
    ];
    for (pem, algorithm, opener) in cases {
        let mut params = json!({"KeyId": sym, "KeySpec": "AES_256", "EncryptionPublicKey": pem});
        if let Some(alg) = algorithm {
            params["EncryptionAlgorithm"] = json!(alg);
        }
        let dk = ok(a, "GenerateDataKey", params).await;
        let sealed = dk["Plaintext"].as_str().unwrap().to_owned();
        // The data key in clear, from the blob.
        let clear = ok(
            a,
            "Decrypt",
            json!({"CiphertextBlob": dk["CiphertextBlob"]}),
        )
        .await["Plaintext"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(STANDARD.decode(&clear).unwrap().len(), 32);
        assert_ne!(sealed, clear, "{algorithm:?}: the data key left in clear");
        let open = |ct: String| async move {
            let (action, params) = match algorithm {
                Some(alg) if alg.starts_with("RSAES") => (
                    "AsymmetricRsaDecrypt",
                    json!({"KeyId": opener, "Ciphertext": ct, "Algorithm": alg}),
                ),
                _ => (
                    "AsymmetricSm2Decrypt",
                    json!({"KeyId": opener, "Ciphertext": ct}),
                ),
            };
            ok(a, action, params).await["Plaintext"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(open(sealed).await, clear, "{algorithm:?}");
        // Decrypt seals the same way.
        let mut params =
            json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionPublicKey": pem});
        if let Some(alg) = algorithm {
            params["EncryptionAlgorithm"] = json!(alg);
        }
        let opened = ok(a, "Decrypt", params).await;
        let resealed = opened["Plaintext"].as_str().unwrap().to_owned();
        assert_ne!(resealed, clear);
        assert_eq!(open(resealed).await, clear, "{algorithm:?}");
    }
    let refusals = [
        (
            json!({"KeyId": sym, "KeySpec": "AES_256", "EncryptionPublicKey": rsa_pem}),
            "EncryptionPublicKey must be the PEM of an SM2 public key for SM2",
        ),
        (
            json!({"KeyId": sym, "KeySpec": "AES_256", "EncryptionPublicKey": sm2_pem,
                   "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
            "EncryptionPublicKey must be the PEM of an RSA public key for RSAES_OAEP_SHA_256",
        ),
        (
            json!({"KeyId": sym, "KeySpec": "AES_256", "EncryptionPublicKey": sm2_pem,
                   "EncryptionAlgorithm": "SM4"}),
            "EncryptionAlgorithm must be one of [\"SM2\", \"SM2_C1C3C2_ASN1\", \
             \"RSAES_PKCS1_V1_5\", \"RSAES_OAEP_SHA_1\", \"RSAES_OAEP_SHA_256\"], got \"SM4\"",
        ),
        (
            json!({"KeyId": sym, "NumberOfBytes": 1024, "EncryptionPublicKey": rsa_pem,
                   "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
            "RSAES_OAEP_SHA_256 under this 2048-bit key seals at most 190 bytes, got 1024",
        ),
    ];
    for (params, message) in refusals {
        assert_eq!(
            refusal(a, "GenerateDataKey", params.clone()).await,
            ("InvalidParameterValue".to_owned(), message.to_owned()),
            "{params}"
        );
    }
}

/// The decryption actions pass the gate and write the audit line of the gRPC call they run
/// (`AsymmetricDecrypt`): an identity without that action, or on another key, is refused; an
/// allowed call's line names the key; no plaintext is written.
#[tokio::test]
async fn asymmetric_decryption_is_gated_and_audited_as_asymmetric_decrypt() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let admin_key = write("admin.key", "admin-secret-key\n");
    let app_key = write("app.key", SECRET_KEY);
    let signer_key = write("signer.key", "signer-secret-key\n");
    let policy = Policy::parse(&format!(
        r#"
identities:
  - name: admin
    secret_id: AKIDadmin
    secret_key_file: "{}"
    allow: ["*"]
  - name: app
    secret_id: "{SECRET_ID}"
    secret_key_file: "{}"
    allow: [AsymmetricDecrypt, GetPublicKey]
    keys: ["alias/app-*"]
  - name: signer
    secret_id: AKIDsigner
    secret_key_file: "{}"
    allow: [Sign, Verify, GetPublicKey]
"#,
        admin_key.display(),
        app_key.display(),
        signer_key.display()
    ))
    .unwrap();
    let audit = dir.path().join("audit.log");
    let s = start_policed(policy, &audit, ServerOptions::default()).await;
    let admin = Sign {
        secret_id: "AKIDadmin",
        secret_key: "admin-secret-key",
        ..Sign::default()
    };
    let signer = Sign {
        secret_id: "AKIDsigner",
        secret_key: "signer-secret-key",
        ..Sign::default()
    };
    let app = Sign::default();
    let create = |alias: &str| json!({"Alias": alias, "KeyUsage": "ASYMMETRIC_DECRYPT_SM2"});
    let mine = post(s.addr, "CreateKey", &create("app-inbox"), &admin)
        .await
        .ok()["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = post(s.addr, "CreateKey", &create("other-inbox"), &admin)
        .await
        .ok()["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let der = STANDARD
        .decode(
            post(s.addr, "GetPublicKey", &json!({"KeyId": mine}), &app)
                .await
                .ok()["PublicKey"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    use sm2::pkcs8::DecodePublicKey as _;
    let ct = sm2::pke::EncryptingKey::new(sm2::PublicKey::from_public_key_der(&der).unwrap())
        .encrypt(
            &mut sm2::elliptic_curve::common::getrandom::SysRng,
            b"private-value",
        )
        .unwrap();
    let params = |key: &str| json!({"KeyId": key, "Ciphertext": STANDARD.encode(&ct)});
    let opened = post(s.addr, "AsymmetricSm2Decrypt", &params(&mine), &app).await;
    assert_eq!(
        STANDARD
            .decode(opened.ok()["Plaintext"].as_str().unwrap())
            .unwrap(),
        b"private-value"
    );
    let a = post(s.addr, "AsymmetricSm2Decrypt", &params(&other), &app).await;
    assert_eq!(a.code(), "UnauthorizedOperation");
    assert_eq!(
        a.body["Response"]["Error"]["Message"],
        format!("identity app may not call AsymmetricDecrypt on key {other}")
    );
    let a = post(s.addr, "AsymmetricSm2Decrypt", &params(&mine), &signer).await;
    assert_eq!(a.code(), "UnauthorizedOperation");
    assert_eq!(
        a.body["Response"]["Error"]["Message"],
        "identity signer may not call AsymmetricDecrypt"
    );

    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(!text.contains("private-value"), "{text}");
    let lines = outcome_lines(text.lines());
    let decrypts: Vec<&Value> = lines
        .iter()
        .filter(|l| l["rpc"] == "AsymmetricDecrypt")
        .collect();
    assert_eq!(decrypts.len(), 3, "{text}");
    assert_eq!(decrypts[0]["identity"], "app");
    assert_eq!(decrypts[0]["outcome"]["result"], "ok");
    assert_eq!(decrypts[0]["keys"][0]["key_id"], mine.as_str(), "{text}");
    assert_eq!(decrypts[1]["outcome"]["code"], "UnauthorizedOperation");
    assert_eq!(decrypts[2]["identity"], "signer");
    assert_eq!(decrypts[2]["outcome"]["code"], "UnauthorizedOperation");
}

/// Bring your own key over the Tencent API: CreateKey Type=2 gives an EXTERNAL key in
/// PendingImport; GetParametersForImport's public key wraps the material (OAEP, here by
/// aws-lc-rs; by Python `cryptography` in tencent_sdk.rs); ImportKeyMaterial enables the key until
/// ValidTo; DeleteImportedKeyMaterial and ValidTo passing stop its ciphertexts from opening. Every
/// refusal has its exact code.
#[tokio::test]
async fn imported_key_material_comes_and_goes_with_tencent_codes() {
    use aws_lc_rs::rsa::{
        OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
    };
    let s = start(ServerOptions::default()).await;
    let a = s.addr;
    let wrap = |public: &Value, sha256: bool, material: &[u8]| {
        let der = STANDARD.decode(public.as_str().unwrap()).unwrap();
        let key =
            OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&der).unwrap()).unwrap();
        let alg = if sha256 {
            &OAEP_SHA256_MGF1SHA256
        } else {
            &OAEP_SHA1_MGF1SHA1
        };
        let mut out = vec![0u8; key.ciphertext_size()];
        STANDARD.encode(key.encrypt(alg, material, &mut out, None).unwrap())
    };
    let created = ok(a, "CreateKey", json!({"Alias": "byok", "Type": 2})).await;
    assert_eq!(created["KeyState"], "PendingImport");
    let key = created["KeyId"].as_str().unwrap().to_owned();
    let m = &ok(a, "DescribeKey", json!({"KeyId": key})).await["KeyMetadata"];
    assert_eq!(
        (m["Origin"].clone(), m["ValidTo"].clone()),
        (json!("EXTERNAL"), json!(0))
    );
    let own = ok(a, "CreateKey", json!({"Alias": "own"})).await["KeyId"].clone();
    let params = |k: &str, alg: &str| json!({"KeyId": k, "WrappingAlgorithm": alg, "WrappingKeySpec": "RSA_2048"});

    assert_eq!(
        code(
            a,
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256"})
        )
        .await,
        "ResourceUnavailable.CmkStateNotSupport"
    );
    assert_eq!(
        code(
            a,
            "GetParametersForImport",
            params(own.as_str().unwrap(), "RSAES_OAEP_SHA_256")
        )
        .await,
        "UnsupportedOperation.NotExternalCmk"
    );
    assert_eq!(
        code(
            a,
            "GetParametersForImport",
            params(&key, "RSAES_PKCS1_V1_5")
        )
        .await,
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            a,
            "GetParametersForImport",
            json!({"KeyId": key, "WrappingAlgorithm": "RSAES_OAEP_SHA_1"})
        )
        .await,
        "MissingParameter"
    );
    let p = ok(
        a,
        "GetParametersForImport",
        params(&key, "RSAES_OAEP_SHA_256"),
    )
    .await;
    assert_eq!(p["KeyId"], key.as_str());
    assert_eq!(p["ParametersValidTo"], NOW + 86_400);
    let token = p["ImportToken"].as_str().unwrap().to_owned();
    let material = [0x42u8; 32];
    let import = |wrapped: String, token: &str, valid_to: i64| json!({"KeyId": key, "EncryptedKeyMaterial": wrapped, "ImportToken": token, "ValidTo": valid_to});
    for (params, want) in [
        (
            import(wrap(&p["PublicKey"], true, &material), "wrong", 0),
            "InvalidParameterValue",
        ),
        (
            import(wrap(&p["PublicKey"], false, &material), &token, 0),
            "InvalidParameter.DecryptMaterialError",
        ),
        (
            import(wrap(&p["PublicKey"], true, &[1; 16]), &token, 0),
            "InvalidParameterValue",
        ),
        (
            import(wrap(&p["PublicKey"], true, &material), &token, NOW - 1),
            "InvalidParameterValue",
        ),
        (import("%%%".to_owned(), &token, 0), "InvalidParameterValue"),
    ] {
        assert_eq!(
            code(a, "ImportKeyMaterial", params.clone()).await,
            want,
            "{params}"
        );
    }
    let mut own_import = import(wrap(&p["PublicKey"], true, &material), &token, 0);
    own_import["KeyId"] = own.clone();
    assert_eq!(
        code(a, "ImportKeyMaterial", own_import).await,
        "UnsupportedOperation.NotExternalCmk"
    );
    ok(
        a,
        "ImportKeyMaterial",
        import(wrap(&p["PublicKey"], true, &material), &token, NOW + 1000),
    )
    .await;
    let m = &ok(a, "DescribeKey", json!({"KeyId": key})).await["KeyMetadata"];
    assert_eq!(
        (m["KeyState"].clone(), m["ValidTo"].clone()),
        (json!("Enabled"), json!(NOW + 1000))
    );
    assert_eq!(
        code(a, "EnableKeyRotation", json!({"KeyId": key})).await,
        "UnsupportedOperation.ExternalCmkCanNotRotate"
    );
    let plain = STANDARD.encode(b"hello byok");
    let blob =
        ok(a, "Encrypt", json!({"KeyId": key, "Plaintext": plain})).await["CiphertextBlob"].clone();
    let opened = ok(a, "Decrypt", json!({"CiphertextBlob": blob})).await;
    assert_eq!(opened["Plaintext"], plain.as_str());

    // Other material is refused; the same material again takes a new ValidTo.
    let p = ok(
        a,
        "GetParametersForImport",
        params(&key, "RSAES_OAEP_SHA_1"),
    )
    .await;
    let token = p["ImportToken"].as_str().unwrap().to_owned();
    assert_eq!(
        code(
            a,
            "ImportKeyMaterial",
            import(wrap(&p["PublicKey"], false, &[7; 32]), &token, 0)
        )
        .await,
        "InvalidParameterValue.MaterialNotMatch"
    );
    ok(
        a,
        "ImportKeyMaterial",
        import(wrap(&p["PublicKey"], false, &material), &token, 0),
    )
    .await;

    // Deleted: back to PendingImport, the ciphertext stops opening; the same material reopens it.
    ok(a, "DeleteImportedKeyMaterial", json!({"KeyId": key})).await;
    let m = &ok(a, "DescribeKey", json!({"KeyId": key})).await["KeyMetadata"];
    assert_eq!(m["KeyState"], "PendingImport");
    assert_eq!(
        code(a, "Decrypt", json!({"CiphertextBlob": blob})).await,
        "ResourceUnavailable.CmkStateNotSupport"
    );
    assert_eq!(
        code(a, "DeleteImportedKeyMaterial", json!({"KeyId": key})).await,
        "ResourceUnavailable.CmkStateNotSupport"
    );
    assert_eq!(
        code(a, "DeleteImportedKeyMaterial", json!({"KeyId": own})).await,
        "UnsupportedOperation.NotExternalCmk"
    );
    let p = ok(
        a,
        "GetParametersForImport",
        params(&key, "RSAES_OAEP_SHA_256"),
    )
    .await;
    let token = p["ImportToken"].as_str().unwrap().to_owned();
    ok(
        a,
        "ImportKeyMaterial",
        import(wrap(&p["PublicKey"], true, &material), &token, NOW + 50),
    )
    .await;
    assert_eq!(
        ok(a, "Decrypt", json!({"CiphertextBlob": blob})).await["Plaintext"],
        plain.as_str()
    );

    // ValidTo passes: unusable, back to PendingImport. An expired token is TokenExpired.
    let p = ok(
        a,
        "GetParametersForImport",
        params(&key, "RSAES_OAEP_SHA_256"),
    )
    .await;
    s.clock.advance(86_400);
    assert_eq!(
        code(a, "Decrypt", json!({"CiphertextBlob": blob})).await,
        "ResourceUnavailable.CmkStateNotSupport"
    );
    let m = &ok(a, "DescribeKey", json!({"KeyId": key})).await["KeyMetadata"];
    assert_eq!(
        (m["KeyState"].clone(), m["ValidTo"].clone()),
        (json!("PendingImport"), json!(0))
    );
    let token = p["ImportToken"].as_str().unwrap().to_owned();
    assert_eq!(
        code(
            a,
            "ImportKeyMaterial",
            import(wrap(&p["PublicKey"], true, &material), &token, 0)
        )
        .await,
        "ResourceUnavailable.TokenExpired"
    );
}

/// A server under a policy of two TC3 identities, `admin` (every action) and `app` (only
/// Decrypt), writing its audit log to the returned file.
async fn audited_server(dir: &tempfile::TempDir) -> (Running, std::path::PathBuf) {
    let policy = admin_and_app_policy(dir, "allow: [Decrypt]");
    let audit = dir.path().join("audit.log");
    let s = start_policed(policy, &audit, ServerOptions::default()).await;
    (s, audit)
}

/// The audit lines that give outcomes: all but the `started` lines written before the calls that
/// change keys.
fn outcome_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Value> {
    lines
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["outcome"]["result"] != "started")
        .collect()
}

/// The outcome lines written since the first `seen` lines.
/// [`audited_server`] with one key the admin made (`audited`): the server, its audit log, the
/// key's id, and how many audit lines have been read (the CreateKey's one).
async fn audited_server_with_key(
    dir: &tempfile::TempDir,
) -> (Running, std::path::PathBuf, Value, usize) {
    let (s, audit) = audited_server(dir).await;
    let (admin, _) = admin_and_app();
    let mut seen = 0;
    let key = post(s.addr, "CreateKey", &json!({"Alias": "audited"}), &admin)
        .await
        .ok()["KeyId"]
        .clone();
    assert_eq!(new_lines(&audit, &mut seen).len(), 1);
    (s, audit, key, seen)
}

fn new_lines(audit: &std::path::Path, seen: &mut usize) -> Vec<Value> {
    let text = std::fs::read_to_string(audit).unwrap_or_default();
    let added: Vec<&str> = text.lines().skip(*seen).collect();
    *seen += added.len();
    outcome_lines(added.into_iter())
}

/// `(identity, rpc, status, code)` of an audit line.
fn outcome(line: &Value) -> (&str, &str, &str, &str) {
    fn text(v: &Value) -> &str {
        v.as_str().unwrap_or_default()
    }
    (
        text(&line["identity"]),
        text(&line["rpc"]),
        text(&line["outcome"]["status"]),
        text(&line["outcome"]["code"]),
    )
}

/// The identities of [`audited_server`], signing as `admin` and as `app`.
fn admin_and_app() -> (Sign<'static>, Sign<'static>) {
    let admin = Sign {
        secret_id: "AKIDadmin",
        secret_key: "admin-secret-key",
        ..Sign::default()
    };
    (admin, Sign::default())
}

/// An action the identity may not call is refused before its parameters are read, so an identity
/// without the right learns nothing from their checks; the refusal has one audit line.
#[tokio::test]
async fn an_action_not_allowed_is_refused_before_its_parameters_with_one_audit_line() {
    let dir = tempfile::tempdir().unwrap();
    let (s, audit, key, mut seen) = audited_server_with_key(&dir).await;
    let (_, app) = admin_and_app();

    // Allowed only Decrypt: an Encrypt whose Plaintext is not base64 is refused for the action.
    let a = post(
        s.addr,
        "Encrypt",
        &json!({"KeyId": key, "Plaintext": "!!"}),
        &app,
    )
    .await;
    assert_eq!(a.code(), "UnauthorizedOperation");
    assert_eq!(
        a.body["Response"]["Error"]["Message"],
        "identity app may not call Encrypt"
    );
    let lines = new_lines(&audit, &mut seen);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        outcome(&lines[0]),
        (
            "app",
            "Encrypt",
            "PERMISSION_DENIED",
            "UnauthorizedOperation"
        )
    );
    assert_eq!(lines[0]["keys"], json!([]));
    assert!(lines[0]["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    // The same for a body that is not JSON, and for an asymmetric action (under its gRPC name).
    let a = send(s.addr, "Encrypt", b"{".to_vec(), &app, "application/json").await;
    assert_eq!(a.code(), "UnauthorizedOperation");
    let a = post(
        s.addr,
        "SignByAsymmetricKey",
        &json!({"Message": "!"}),
        &app,
    )
    .await;
    assert_eq!(a.code(), "UnauthorizedOperation");
    let lines = new_lines(&audit, &mut seen);
    let got: Vec<_> = lines.iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            (
                "app",
                "Encrypt",
                "PERMISSION_DENIED",
                "UnauthorizedOperation"
            ),
            ("app", "Sign", "PERMISSION_DENIED", "UnauthorizedOperation"),
        ]
    );
    // The action it may call still runs through the gRPC method, which writes the line.
    let a = post(s.addr, "Decrypt", &json!({"CiphertextBlob": "AAAA"}), &app).await;
    assert_eq!(a.code(), "InvalidParameterValue.InvalidCiphertext");
    let lines = new_lines(&audit, &mut seen);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        outcome(&lines[0]),
        (
            "app",
            "Decrypt",
            "INVALID_ARGUMENT",
            "InvalidParameterValue.InvalidCiphertext"
        )
    );
}

/// A parameter the Tencent layer refuses (before the gRPC method) has its audit line, with its
/// own code; a refusal of the gRPC method is that method's line, not written a second time.
#[tokio::test]
async fn a_parameter_refusal_has_one_audit_line_and_a_method_refusal_is_not_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let (s, audit, key, mut seen) = audited_server_with_key(&dir).await;
    let (admin, _) = admin_and_app();

    let a = post(
        s.addr,
        "ScheduleKeyDeletion",
        &json!({"KeyId": key, "PendingWindowInDays": 1}),
        &admin,
    )
    .await;
    assert_eq!(a.code(), "InvalidParameter.InvalidPendingWindowInDays");
    let lines = new_lines(&audit, &mut seen);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        outcome(&lines[0]),
        (
            "admin",
            "ScheduleKeyDeletion",
            "INVALID_ARGUMENT",
            "InvalidParameter.InvalidPendingWindowInDays"
        )
    );

    let a = post(
        s.addr,
        "Encrypt",
        &json!({"KeyId": "alias/none", "Plaintext": "aGk="}),
        &admin,
    )
    .await;
    assert_eq!(a.code(), "ResourceUnavailable.CmkNotFound");
    let lines = new_lines(&audit, &mut seen);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        outcome(&lines[0]),
        (
            "admin",
            "Encrypt",
            "NOT_FOUND",
            "ResourceUnavailable.CmkNotFound"
        )
    );
    assert_eq!(lines[0]["keys"][0]["name"], "alias/none");
}

/// A signed request that is not a call (a body that is not JSON, another API version, an
/// action that does not exist) has one audit line with its refusal.
#[tokio::test]
async fn a_signed_request_that_is_not_a_call_has_one_audit_line() {
    let dir = tempfile::tempdir().unwrap();
    let (s, audit) = audited_server(&dir).await;
    let (admin, _) = admin_and_app();
    let mut seen = 0;
    let a = send(s.addr, "Encrypt", b"{".to_vec(), &admin, "application/json").await;
    assert_eq!(a.code(), "InvalidParameter");
    let lines = new_lines(&audit, &mut seen);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        outcome(&lines[0]),
        ("admin", "Encrypt", "INVALID_ARGUMENT", "InvalidParameter")
    );
    let version = Sign {
        version: "2017-03-12",
        ..admin.clone()
    };
    let a = post(s.addr, "Encrypt", &json!({}), &version).await;
    assert_eq!(a.code(), "NoSuchVersion");
    let a = post(s.addr, "Fly", &json!({}), &admin).await;
    assert_eq!(a.code(), "InvalidAction");
    let a = post(s.addr, "CreateWhiteBoxKey", &json!({}), &admin).await;
    assert_eq!(a.code(), "UnsupportedOperation");
    let lines = new_lines(&audit, &mut seen);
    let got: Vec<_> = lines.iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            ("admin", "Encrypt", "INVALID_ARGUMENT", "NoSuchVersion"),
            ("admin", "-", "UNIMPLEMENTED", "InvalidAction"),
            ("admin", "-", "UNIMPLEMENTED", "UnsupportedOperation"),
        ]
    );
}

/// ListKeys lists Enabled, Disabled and PendingImport keys only (not those scheduled for deletion
/// or archived), and its TotalCount counts those; `Role=1` lists the keys cloud products own and
/// none of the user's, in ListKeys and ListKeyDetail alike.
#[tokio::test]
async fn list_keys_leaves_out_deleted_and_archived_keys_and_role_one_is_the_services() {
    let s = start(ServerOptions::default()).await;
    let a = s.addr;
    let create = |alias: &'static str, params: Value| async move {
        let mut p = params;
        p["Alias"] = json!(alias);
        ok(a, "CreateKey", p).await["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let enabled = create("lk-enabled", json!({})).await;
    let disabled = create("lk-disabled", json!({})).await;
    let deleting = create("lk-deleting", json!({})).await;
    let archived = create("lk-archived", json!({})).await;
    let importing = create("lk-importing", json!({"Type": 2})).await;
    for id in [&disabled, &deleting] {
        ok(a, "DisableKey", json!({"KeyId": id})).await;
    }
    ok(
        a,
        "ScheduleKeyDeletion",
        json!({"KeyId": deleting, "PendingWindowInDays": 7}),
    )
    .await;
    ok(a, "ArchiveKey", json!({"KeyId": archived})).await;
    let ids = |v: &Value, field: &str| -> Vec<String> {
        v[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["KeyId"].as_str().unwrap().to_owned())
            .collect()
    };
    let mine = [&enabled, &disabled, &deleting, &archived, &importing];

    let listed = ok(a, "ListKeys", json!({"Limit": 200})).await;
    let got = ids(&listed, "Keys");
    assert_eq!(listed["TotalCount"], got.len(), "{listed}");
    for (id, shown) in [
        (&enabled, true),
        (&disabled, true),
        (&importing, true),
        (&deleting, false),
        (&archived, false),
    ] {
        assert_eq!(got.contains(id), shown, "{id}: {listed}");
    }

    for action in ["ListKeys", "ListKeyDetail"] {
        let services = ok(a, action, json!({"Limit": 200, "Role": 1})).await;
        let field = if action == "ListKeys" {
            "Keys"
        } else {
            "KeyMetadatas"
        };
        let got = ids(&services, field);
        assert_eq!(services["TotalCount"], got.len(), "{services}");
        assert!(!got.is_empty(), "{action}: the service keys: {services}");
        for id in mine {
            assert!(!got.contains(id), "{action} Role=1 listed {id}: {services}");
        }
    }
}
