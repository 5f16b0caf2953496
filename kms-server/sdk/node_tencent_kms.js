#!/usr/bin/env node
// Conformance of kms-server's Tencent Cloud API 3.0 front end with the official Node.js SDK
// (tencentcloud-sdk-nodejs), used unmodified.
//
// One setting differs from the Python SDK: the Node SDK signs with the service name taken from
// the endpoint's first DNS label ("kms" of kms.tencentcloudapi.com), so an endpoint of
// 127.0.0.1:PORT would sign for service "127" and fail as the cloud would fail it. The endpoint
// therefore keeps the cloud's name, and an http.Agent whose lookup answers 127.0.0.1 sends the
// requests to the local server (what the README tells Node users to do).
//
// Environment (set by kms-server/tests/tencent_sdk.rs):
//   KMS_ENDPOINT                  host:port of a kms-server (plain HTTP)
//   TENCENTCLOUD_SECRET_ID/_KEY   the pair the server checks signatures against
// Prints one line per test and 'N passed, M failed'; exits non-zero on any failure.
"use strict";
const assert = require("node:assert/strict");
const http = require("node:http");
const tencentcloud = require("tencentcloud-sdk-nodejs");

const KmsClient = tencentcloud.kms.v20190118.Client;
const port = process.env.KMS_ENDPOINT.split(":").pop();
const secretId = process.env.TENCENTCLOUD_SECRET_ID;
const secretKey = process.env.TENCENTCLOUD_SECRET_KEY;
const REGION = "ap-guangzhou";

// Every name resolves to the loopback server.
const agent = new http.Agent({
  keepAlive: true,
  lookup: (_host, options, cb) =>
    options && options.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4),
});

function client(sid = secretId, skey = secretKey, reqMethod = "POST") {
  return new KmsClient({
    credential: { secretId: sid, secretKey: skey },
    region: REGION,
    profile: {
      httpProfile: { endpoint: `kms.tencentcloudapi.com:${port}`, protocol: "http://", reqMethod, agent },
    },
  });
}

const kms = client();
const b64 = (s) => Buffer.from(s).toString("base64");

async function expectError(code, f) {
  try {
    await f();
  } catch (e) {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    assert.ok(e.requestId, "an error carries a RequestId");
    return e;
  }
  assert.fail(`expected ${code}, the call succeeded`);
}

const state = {};

async function test_create_describe_list() {
  const r = await kms.CreateKey({ Alias: "node-key", Description: "from the Node SDK" });
  assert.equal(r.KeyState, "Enabled");
  assert.equal(r.KeyUsage, "ENCRYPT_DECRYPT");
  assert.ok(r.RequestId);
  state.key = r.KeyId;
  const m = (await kms.DescribeKey({ KeyId: r.KeyId })).KeyMetadata;
  assert.deepEqual([m.KeyId, m.Alias, m.Description, m.KeyState], [r.KeyId, "node-key", "from the Node SDK", "Enabled"]);
  const listed = await kms.ListKeys({ Limit: 200 });
  assert.ok(listed.Keys.some((k) => k.KeyId === r.KeyId));
  await expectError("InvalidParameterValue.AliasAlreadyExists", () => kms.CreateKey({ Alias: "node-key" }));
  await expectError("ResourceUnavailable.CmkNotFound", () =>
    kms.DescribeKey({ KeyId: "00000000-0000-0000-0000-000000000000" }),
  );
}

async function test_data_keys_and_encrypt_with_context() {
  const ctx = JSON.stringify({ bucket: "b", object: "o" });
  const dk = await kms.GenerateDataKey({ KeyId: state.key, KeySpec: "AES_256", EncryptionContext: ctx });
  assert.equal(Buffer.from(dk.Plaintext, "base64").length, 32);
  const swapped = JSON.stringify({ object: "o", bucket: "b" });
  const d = await kms.Decrypt({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: swapped });
  assert.equal(d.Plaintext, dk.Plaintext);
  assert.equal(d.KeyId, state.key);
  await expectError("InvalidParameterValue.InvalidCiphertext", () => kms.Decrypt({ CiphertextBlob: dk.CiphertextBlob }));
  const e = await kms.Encrypt({ KeyId: state.key, Plaintext: b64("hello node") });
  state.blob = e.CiphertextBlob;
  const back = await kms.Decrypt({ CiphertextBlob: e.CiphertextBlob });
  assert.equal(Buffer.from(back.Plaintext, "base64").toString(), "hello node");
}

async function test_re_encrypt_and_lifecycle() {
  const other = (await kms.CreateKey({ Alias: "node-other" })).KeyId;
  const r = await kms.ReEncrypt({ CiphertextBlob: state.blob, DestinationKeyId: other });
  assert.deepEqual([r.SourceKeyId, r.KeyId, r.ReEncrypted], [state.key, other, true]);
  await kms.DisableKey({ KeyId: other });
  await expectError("ResourceUnavailable.CmkDisabled", () => kms.Decrypt({ CiphertextBlob: r.CiphertextBlob }));
  await kms.EnableKeys({ KeyIds: [other] });
  const d = await kms.Decrypt({ CiphertextBlob: r.CiphertextBlob });
  assert.equal(Buffer.from(d.Plaintext, "base64").toString(), "hello node");
  const s = await kms.ScheduleKeyDeletion({ KeyId: other, PendingWindowInDays: 7 }).catch((e) => e);
  assert.equal(s.code, "ResourceUnavailable.CmkShouldBeDisabled");
}

async function test_rotation_keeps_old_blobs() {
  const task = (await kms.RotateKey({ KeyId: state.key })).TaskId;
  assert.equal(task, `${state.key}-v2`);
  const d = await kms.Decrypt({ CiphertextBlob: state.blob });
  assert.equal(Buffer.from(d.Plaintext, "base64").toString(), "hello node");
}

async function test_get_requests_and_key_lists() {
  const r = await client(secretId, secretKey, "GET").DescribeKeys({ KeyIds: [state.key] });
  assert.deepEqual(
    r.KeyMetadatas.map((m) => m.Alias),
    ["node-key"],
  );
  const g = await client(secretId, secretKey, "GET").GenerateRandom({ NumberOfBytes: 8 });
  assert.equal(Buffer.from(g.Plaintext, "base64").length, 8);
  const detail = await kms.ListKeyDetail({ SearchKeyAlias: "node-", Limit: 10 });
  assert.equal(detail.TotalCount, 2);
}

async function test_signature_failures_and_unknown_actions() {
  await expectError("AuthFailure.SignatureFailure", () => client(secretId, "wrong-key").GenerateRandom({ NumberOfBytes: 8 }));
  await expectError("AuthFailure.SecretIdNotFound", () => client("AKIDunknown").GenerateRandom({ NumberOfBytes: 8 }));
  await expectError("InvalidAction", () => kms.request("Fly", {}));
  const e = await expectError("UnsupportedOperation", () => kms.ListDataKeys({}));
  assert.match(e.message, /ListDataKeys/);
  // A symmetric key has no public key: the asymmetric actions name the usage.
  await expectError("InvalidParameterValue.InvalidKeyUsage", () => kms.GetPublicKey({ KeyId: state.key }));
}

// Bring your own key: CreateKey Type=2, GetParametersForImport, the material wrapped by Node's own
// crypto (RSAES-OAEP with SHA-256, MGF1 with SHA-256) under the answered public key,
// ImportKeyMaterial, Encrypt and Decrypt, DeleteImportedKeyMaterial; the state strings at each
// step and the refusals with their exact codes.
async function test_bring_your_own_key() {
  const crypto = require("node:crypto");
  const created = await kms.CreateKey({ Alias: "node-byok", Type: 2 });
  assert.equal(created.KeyState, "PendingImport");
  const key = created.KeyId;
  const described = async () => (await kms.DescribeKey({ KeyId: key })).KeyMetadata;
  const m = await described();
  assert.deepEqual([m.Origin, m.KeyState], ["EXTERNAL", "PendingImport"]);
  await expectError("ResourceUnavailable.CmkStateNotSupport", () => kms.Encrypt({ KeyId: key, Plaintext: b64("x") }));

  const params = async () => {
    const p = await kms.GetParametersForImport({
      KeyId: key,
      WrappingAlgorithm: "RSAES_OAEP_SHA_256",
      WrappingKeySpec: "RSA_2048",
    });
    assert.equal(p.KeyId, key);
    assert.ok(p.ImportToken.length > 0);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(p.ParametersValidTo - (now + 86400)) < 300, `ParametersValidTo ${p.ParametersValidTo}`);
    return p;
  };
  const wrap = (p, material, oaepHash = "sha256") =>
    crypto
      .publicEncrypt(
        {
          key: crypto.createPublicKey({ key: Buffer.from(p.PublicKey, "base64"), format: "der", type: "spki" }),
          padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash,
        },
        material,
      )
      .toString("base64");
  const material = crypto.randomBytes(32);
  const importWith = (p, wrapped, ValidTo = 0) =>
    kms.ImportKeyMaterial({ KeyId: key, EncryptedKeyMaterial: wrapped, ImportToken: p.ImportToken, ValidTo });

  let p = await params();
  // Refusals before the import, each with its code; the token survives them.
  await expectError("InvalidParameter.DecryptMaterialError", () => importWith(p, wrap(p, material, "sha1")));
  await expectError("InvalidParameterValue", () =>
    kms.ImportKeyMaterial({ KeyId: key, EncryptedKeyMaterial: wrap(p, material), ImportToken: "not-the-token", ValidTo: 0 }),
  );
  await expectError("InvalidParameterValue", () => importWith(p, wrap(p, crypto.randomBytes(16))));
  assert.equal((await described()).KeyState, "PendingImport");

  await importWith(p, wrap(p, material));
  assert.equal((await described()).KeyState, "Enabled");
  // The token is used up.
  await expectError("InvalidParameterValue", () => importWith(p, wrap(p, material)));

  const e = await kms.Encrypt({ KeyId: key, Plaintext: b64("node byok") });
  assert.equal(e.KeyId, key);
  const d = await kms.Decrypt({ CiphertextBlob: e.CiphertextBlob });
  assert.equal(Buffer.from(d.Plaintext, "base64").toString(), "node byok");

  await kms.DeleteImportedKeyMaterial({ KeyId: key });
  assert.equal((await described()).KeyState, "PendingImport");
  await expectError("ResourceUnavailable.CmkStateNotSupport", () => kms.Decrypt({ CiphertextBlob: e.CiphertextBlob }));
  await expectError("ResourceUnavailable.CmkStateNotSupport", () => kms.DeleteImportedKeyMaterial({ KeyId: key }));

  // Only the same material may come back; with it the old ciphertext opens again.
  p = await params();
  await expectError("InvalidParameterValue.MaterialNotMatch", () => importWith(p, wrap(p, crypto.randomBytes(32))));
  p = await params();
  await importWith(p, wrap(p, material));
  assert.equal((await described()).KeyState, "Enabled");
  const again = await kms.Decrypt({ CiphertextBlob: e.CiphertextBlob });
  assert.equal(Buffer.from(again.Plaintext, "base64").toString(), "node byok");
  await kms.DeleteImportedKeyMaterial({ KeyId: key });
  assert.equal((await described()).KeyState, "PendingImport");
}

const TESTS = [
  test_create_describe_list,
  test_data_keys_and_encrypt_with_context,
  test_re_encrypt_and_lifecycle,
  test_rotation_keeps_old_blobs,
  test_get_requests_and_key_lists,
  test_signature_failures_and_unknown_actions,
  test_bring_your_own_key,
];

(async () => {
  let passed = 0;
  let failed = 0;
  for (const t of TESTS) {
    try {
      await t();
      passed += 1;
      console.log(`ok   ${t.name}`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${t.name}`);
      console.log(e && e.stack ? e.stack : e);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  agent.destroy();
  process.exit(failed ? 1 : 0);
})();
