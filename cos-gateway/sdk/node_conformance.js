// Conformance of cos-gateway with the official Node SDK (cos-nodejs-sdk-v5), used as the seed
// samples (shared/seeds/000, 004) use it, pointed at the gateway with `Ip` over HTTPS (the CA comes
// from NODE_EXTRA_CA_CERTS). Environment: see py_conformance.py.
// Prints one line per test and 'N passed, M failed'; exits non-zero on any failure.
'use strict';

const COS = require('cos-nodejs-sdk-v5');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const port = process.env.GW_PORT;
const work = process.env.GW_WORK;
const kmsKey = process.env.GW_KMS_KEY;
const disabledKey = process.env.GW_KMS_DISABLED_KEY;
const Region = 'ap-beijing';
const Bucket = 'nodebucket-1250000000';

const cos = new COS({
  SecretId: process.env.COS_SECRET_ID,
  SecretKey: process.env.COS_SECRET_KEY,
  Protocol: 'https:',
  Ip: '127.0.0.1:' + port,
});

// Seed 004's SSE-C sample verbatim: its key is printed without the final `=` of its base64.
const SSEC = {
  SSECustomerAlgorithm: 'AES256',
  SSECustomerKey: 'MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY',
  SSECustomerKeyMD5: 'U5L61r7jcwdNvT7frmUG8g==',
};
const key2 = Buffer.from('fedcba9876543210fedcba9876543210');
const SSEC2 = {
  SSECustomerAlgorithm: 'AES256',
  SSECustomerKey: key2.toString('base64'),
  SSECustomerKeyMD5: crypto.createHash('md5').update(key2).digest('base64'),
};
const CONTEXT = 'eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=';
const MODES = {
  plain: {},
  cos: { ServerSideEncryption: 'AES256' },
  kms: { ServerSideEncryption: 'cos/kms' },
  'kms-key': { ServerSideEncryption: 'cos/kms', SSEKMSKeyId: kmsKey, SSEContext: CONTEXT },
  ssec: SSEC,
};
const READ = { ssec: SSEC };

function call(method, params) {
  return new Promise((resolve, reject) => {
    cos[method](Object.assign({ Bucket, Region }, params), (err, data) => (err ? reject(err) : resolve(data)));
  });
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function expectError(code, status, method, params) {
  try {
    await call(method, params);
  } catch (err) {
    const got = err.code || (err.error && err.error.Code);
    check(got === code, `expected ${code}, got ${got} (${JSON.stringify(err.error || err.message)})`);
    check(err.statusCode === status, `expected HTTP ${status}, got ${err.statusCode}`);
    check(err.headers && err.headers['x-cos-request-id'], 'the error has no x-cos-request-id');
    return;
  }
  throw new Error(`expected ${code}, the call succeeded`);
}

function checkEcho(headers, mode) {
  const h = headers || {};
  if (mode === 'plain') {
    check(!h['x-cos-server-side-encryption'], 'plain object echoes SSE');
  } else if (mode === 'cos') {
    check(h['x-cos-server-side-encryption'] === 'AES256', 'SSE-COS echo: ' + JSON.stringify(h));
  } else if (mode === 'kms' || mode === 'kms-key') {
    check(h['x-cos-server-side-encryption'] === 'cos/kms', 'SSE-KMS echo');
    check(h['x-cos-server-side-encryption-cos-kms-key-id'], 'no key id');
    if (mode === 'kms-key') check(h['x-cos-server-side-encryption-cos-kms-key-id'] === kmsKey, 'key id');
  } else if (mode === 'ssec') {
    check(h['x-cos-server-side-encryption-customer-algorithm'] === 'AES256', 'SSE-C echo');
    check(h['x-cos-server-side-encryption-customer-key-md5'] === SSEC.SSECustomerKeyMD5, 'SSE-C MD5 echo');
    check(!h['x-cos-server-side-encryption-customer-key'], 'the SSE-C key is echoed');
  }
}

const tests = [];
const test = (name, fn) => tests.push([name, fn]);

test('putBucket', async () => {
  await call('putBucket', {});
  await call('headBucket', {});
});

test('seed 004 samples: SSE-COS, SSE-C with key MD5, SSE-KMS with key id and context', async () => {
  let d = await call('putObject', { Key: '1.jpg', Body: 'hello!', ServerSideEncryption: 'AES256' });
  checkEcho(d.headers, 'cos');
  d = await call('getObject', { Key: '1.jpg' });
  check(d.Body.toString() === 'hello!', 'content');
  d = await call('putObject', { Key: '2.jpg', Body: 'hello!', ...SSEC });
  checkEcho(d.headers, 'ssec');
  d = await call('getObject', { Key: '2.jpg', ...SSEC });
  check(d.Body.toString() === 'hello!', 'content');
  d = await call('putObject', {
    Key: '3.jpg',
    Body: 'hello!',
    ServerSideEncryption: 'cos/kms',
    SSEKMSKeyId: kmsKey,
    SSEContext: CONTEXT,
  });
  checkEcho(d.headers, 'kms-key');
  d = await call('getObject', { Key: '3.jpg' });
  check(d.Body.toString() === 'hello!', 'content');
});

test('put/get/head every mode', async () => {
  const data = crypto.randomBytes(200 * 1024 + 3);
  for (const [mode, kw] of Object.entries(MODES)) {
    const Key = `modes/${mode}.bin`;
    let d = await call('putObject', { Key, Body: data, ...kw });
    checkEcho(d.headers, mode);
    check(d.ETag, 'no ETag');
    d = await call('getObject', { Key, ...(READ[mode] || {}) });
    checkEcho(d.headers, mode);
    check(Buffer.compare(d.Body, data) === 0, `${mode}: content differs`);
    d = await call('headObject', { Key, ...(READ[mode] || {}) });
    checkEcho(d.headers, mode);
    check(d.headers['content-length'] === String(data.length), 'HEAD length');
    d = await call('getObject', { Key, Range: 'bytes=65530-65545', ...(READ[mode] || {}) });
    check(Buffer.compare(d.Body, data.subarray(65530, 65546)) === 0, `${mode}: range differs`);
  }
});

test('uploadFile (multipart, 20 MiB) and downloadFile every mode', async () => {
  const data = crypto.randomBytes(20 * 1024 * 1024 + 999);
  const src = path.join(work, 'node-upload.bin');
  fs.writeFileSync(src, data);
  for (const [mode, kw] of Object.entries(MODES)) {
    const Key = `multipart/${mode}.bin`;
    if (mode === 'ssec') {
      // The SDK's sliceUploadFile sends only x-cos-traffic-limit/x-cos-mime-limit on each part, so
      // SSE-C parts arrive without their key: the gateway (like COS) refuses them.
      await expectError('SsecDecryptHeaderInvalid', 400, 'uploadFile', {
        Key,
        FilePath: src,
        SliceSize: 1024 * 1024,
        ChunkSize: 2 * 1024 * 1024,
        ...kw,
      });
      // The low-level multipart API with the SSE-C headers on every call works.
      const init = await call('multipartInit', { Key, ...SSEC });
      const Parts = [];
      const size = 8 * 1024 * 1024;
      for (let i = 0, n = 1; i < data.length; i += size, n += 1) {
        const d = await call('multipartUpload', {
          Key,
          UploadId: init.UploadId,
          PartNumber: n,
          Body: data.subarray(i, i + size),
          ...SSEC,
        });
        checkEcho(d.headers, 'ssec');
        Parts.push({ PartNumber: n, ETag: d.ETag });
      }
      await call('multipartComplete', { Key, UploadId: init.UploadId, Parts });
    } else {
      const d = await call('uploadFile', { Key, FilePath: src, SliceSize: 1024 * 1024, ChunkSize: 2 * 1024 * 1024, ...kw });
      check(d.ETag, 'no ETag');
    }
    const dest = path.join(work, `node-download-${mode}.bin`);
    if (mode === 'ssec') {
      // downloadFile's internal headObject passes no SSE-C headers (an SDK limitation), so the
      // HEAD is refused (400, no body on HEAD); getObject with the key works.
      try {
        await call('downloadFile', { Key, FilePath: dest, ChunkSize: 4 * 1024 * 1024, ...SSEC });
        throw new Error('downloadFile of an SSE-C object succeeded without its key on HEAD');
      } catch (e) {
        check(e.statusCode === 400, 'expected 400 on the HEAD, got ' + JSON.stringify(e));
      }
      const d = await call('getObject', { Key, ...SSEC });
      fs.writeFileSync(dest, d.Body);
    } else {
      await call('downloadFile', { Key, FilePath: dest, ChunkSize: 4 * 1024 * 1024 });
    }
    check(Buffer.compare(fs.readFileSync(dest), data) === 0, `${mode}: downloaded bytes differ`);
    const h = await call('headObject', { Key, ...(READ[mode] || {}) });
    checkEcho(h.headers, mode);
    check(h.headers['content-length'] === String(data.length), 'size');
  }
});

test('putObjectCopy between modes', async () => {
  const data = crypto.randomBytes(70 * 1024);
  await call('putObject', { Key: 'copy/src', Body: data, ...SSEC });
  const host = `${Bucket}.cos.${Region}.myqcloud.com/`;
  // SSE-C -> SSE-KMS (the copy-source key as raw headers, as the Node SDK passes it).
  let d = await call('putObjectCopy', {
    Key: 'copy/kms',
    CopySource: host + 'copy/src',
    ServerSideEncryption: 'cos/kms',
    Headers: {
      'x-cos-copy-source-server-side-encryption-customer-algorithm': 'AES256',
      'x-cos-copy-source-server-side-encryption-customer-key': SSEC.SSECustomerKey,
      'x-cos-copy-source-server-side-encryption-customer-key-MD5': SSEC.SSECustomerKeyMD5,
    },
  });
  checkEcho(d.headers, 'kms');
  d = await call('getObject', { Key: 'copy/kms' });
  check(Buffer.compare(d.Body, data) === 0, 'SSE-C -> KMS content');
  // SSE-KMS -> SSE-C with another key.
  d = await call('putObjectCopy', { Key: 'copy/ssec2', CopySource: host + 'copy/kms', ...SSEC2 });
  d = await call('getObject', { Key: 'copy/ssec2', ...SSEC2 });
  check(Buffer.compare(d.Body, data) === 0, 'KMS -> SSE-C content');
  // SSE-C -> plain.
  await call('putObjectCopy', {
    Key: 'copy/plain',
    CopySource: host + 'copy/ssec2',
    Headers: {
      'x-cos-copy-source-server-side-encryption-customer-algorithm': 'AES256',
      'x-cos-copy-source-server-side-encryption-customer-key': SSEC2.SSECustomerKey,
      'x-cos-copy-source-server-side-encryption-customer-key-MD5': SSEC2.SSECustomerKeyMD5,
    },
  });
  d = await call('getObject', { Key: 'copy/plain' });
  checkEcho(d.headers, 'plain');
  check(Buffer.compare(d.Body, data) === 0, 'SSE-C -> plain content');
});

test('bucket encryption put/get/delete', async () => {
  const params = {
    ServerSideEncryptionConfiguration: { Rule: [{ ApplySideEncryptionConfiguration: { SSEAlgorithm: 'AES256' } }] },
  };
  await call('putBucketEncryption', params);
  const got = await call('getBucketEncryption', {});
  check(got.statusCode === 200, 'GET encryption status ' + got.statusCode);
  let d = await call('putObject', { Key: 'defaulted', Body: 'x' });
  checkEcho(d.headers, 'cos');
  await call('deleteBucketEncryption', {});
  d = await call('getBucketEncryption', {});
  // The SDK maps 404 NoSuchEncryptionConfiguration to an empty rule list.
  check(d.statusCode === 404 && d.EncryptionConfiguration.Rules.length === 0, JSON.stringify(d));
  d = await call('putObject', { Key: 'not-defaulted', Body: 'x' });
  checkEcho(d.headers, 'plain');
});

test('getBucket lists encrypted objects', async () => {
  const d = await call('getBucket', { Prefix: 'modes/' });
  const keys = d.Contents.map((c) => c.Key).sort();
  check(JSON.stringify(keys) === JSON.stringify(Object.keys(MODES).map((m) => `modes/${m}.bin`).sort()), keys.join(','));
});

test('object tagging', async () => {
  await call('putObject', { Key: 'tagged', Body: Buffer.from('tagged body'), ServerSideEncryption: 'AES256' });
  const tags = [{ Key: 'team', Value: 'storage' }, { Key: 'env', Value: 'test' }];
  await call('putObjectTagging', { Key: 'tagged', Tags: tags });
  const got = await call('getObjectTagging', { Key: 'tagged' });
  check(JSON.stringify(got.Tags) === JSON.stringify(tags), JSON.stringify(got));
  const head = await call('headObject', { Key: 'tagged' });
  check(head.headers['x-cos-tagging-count'] === '2', JSON.stringify(head.headers));
  await expectError('InvalidTag', 400, 'putObjectTagging', { Key: 'tagged', Tags: [{ Key: 'k', Value: '1' }, { Key: 'k', Value: '2' }] });
  await call('deleteObjectTagging', { Key: 'tagged' });
  const after = await call('getObjectTagging', { Key: 'tagged' });
  check((after.Tags || []).length === 0, JSON.stringify(after));
});

test('getObject with partNumber on an SSE-KMS multipart object', async () => {
  const Key = 'parts/kms.bin';
  const parts = [crypto.randomBytes(1024 * 1024), crypto.randomBytes(100)];
  const init = await call('multipartInit', { Key, ServerSideEncryption: 'cos/kms' });
  const Parts = [];
  for (const [i, Body] of parts.entries()) {
    const d = await call('multipartUpload', { Key, UploadId: init.UploadId, PartNumber: i + 1, Body });
    Parts.push({ PartNumber: i + 1, ETag: d.ETag });
  }
  await call('multipartComplete', { Key, UploadId: init.UploadId, Parts });
  for (const [i, want] of parts.entries()) {
    const got = await call('getObject', { Key, Query: { partNumber: i + 1 } });
    check(got.statusCode === 206, `part ${i + 1}: HTTP ${got.statusCode}`);
    check(Buffer.compare(got.Body, want) === 0, `part ${i + 1}: bytes differ`);
    check(got.headers['x-cos-mp-parts-count'] === '2', JSON.stringify(got.headers));
  }
  await expectError('InvalidPartNumber', 416, 'getObject', { Key, Query: { partNumber: 3 } });
});

test('restoreObject: an ARCHIVE object reads only after its restore', async () => {
  const Key = 'archived';
  await call('putObject', { Key, Body: Buffer.from('cold'), StorageClass: 'ARCHIVE', ServerSideEncryption: 'AES256' });
  await expectError('InvalidObjectState', 403, 'getObject', { Key });
  const started = await call('restoreObject', {
    Key,
    RestoreRequest: { Days: 1, CASJobParameters: { Tier: 'Expedited' } },
  });
  check(started.statusCode === 202, 'restore: HTTP ' + started.statusCode);
  let head = await call('headObject', { Key });
  check(head.headers['x-cos-restore'] === 'ongoing-request="true"', JSON.stringify(head.headers));
  await expectError('RestoreAlreadyInProgress', 409, 'restoreObject', { Key, RestoreRequest: { Days: 1 } });
  const deadline = Date.now() + 10000;
  while (!(head.headers['x-cos-restore'] || '').startsWith('ongoing-request="false", expiry-date="')) {
    check(Date.now() < deadline, 'restore never finished: ' + JSON.stringify(head.headers));
    await new Promise((r) => setTimeout(r, 200));
    head = await call('headObject', { Key });
  }
  const got = await call('getObject', { Key });
  check(got.Body.toString() === 'cold', 'body');
  const again = await call('restoreObject', { Key, RestoreRequest: { Days: 2 } });
  check(again.statusCode === 200, 'restore of a restored copy: HTTP ' + again.statusCode);
});

// An unsigned GET over HTTPS to the gateway, as a browser following a public URL would send it.
function anonymousGet(Key) {
  const https = require('https');
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/' + encodeURIComponent(Key),
        method: 'GET',
        headers: { Host: `${Bucket}.cos.${Region}.myqcloud.com` },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('putObjectAcl / getObjectAcl, and anonymous reads of public-read objects', async () => {
  await call('putObject', { Key: 'acl/plain', Body: Buffer.from('public'), ACL: 'public-read' });
  await call('putObject', { Key: 'acl/kms', Body: Buffer.from('secret'), ACL: 'public-read', ...MODES['kms-key'] });
  let acl = await call('getObjectAcl', { Key: 'acl/plain' });
  check(acl.ACL === 'public-read', 'ACL: ' + JSON.stringify(acl));
  check(acl.Owner.ID === 'qcs::cam::uin/100000000001:uin/100000000001', 'owner: ' + JSON.stringify(acl.Owner));
  let r = await anonymousGet('acl/plain');
  check(r.status === 200 && r.body === 'public', `anonymous GET of a public plain object: ${r.status} ${r.body}`);
  r = await anonymousGet('acl/kms');
  check(r.status === 403 && r.body.includes('<Code>AccessDenied</Code>'), `encrypted: ${r.status} ${r.body}`);
  check(r.body.includes('server-side encryption'), r.body);
  await call('putObjectAcl', { Key: 'acl/plain', ACL: 'private', GrantRead: 'id="100000000002"' });
  acl = await call('getObjectAcl', { Key: 'acl/plain' });
  check(acl.ACL === 'private', 'ACL after private: ' + JSON.stringify(acl));
  check(acl.GrantRead === 'id="qcs::cam::uin/100000000002:uin/100000000002"', 'GrantRead: ' + acl.GrantRead);
  // Grant headers alone: the owner's FULL_CONTROL is kept, first, as COS lists it.
  await call('putObjectAcl', { Key: 'acl/plain', GrantRead: 'id="100000000002"' });
  acl = await call('getObjectAcl', { Key: 'acl/plain' });
  const grants = acl.Grants.map((g) => [g.Grantee.ID, g.Permission]);
  check(
    JSON.stringify(grants) ===
      JSON.stringify([
        ['qcs::cam::uin/100000000001:uin/100000000001', 'FULL_CONTROL'],
        ['qcs::cam::uin/100000000002:uin/100000000002', 'READ'],
      ]),
    'grant headers only: ' + JSON.stringify(grants),
  );
  r = await anonymousGet('acl/plain');
  check(r.status === 403, `anonymous GET of a private object: ${r.status}`);
  // The body form: the SDK writes the document from AccessControlPolicy.
  await call('putObjectAcl', {
    Key: 'acl/plain',
    AccessControlPolicy: {
      Owner: { ID: 'qcs::cam::uin/100000000001:uin/100000000001' },
      Grants: [{ Grantee: { URI: 'http://cam.qcloud.com/groups/global/AllUsers' }, Permission: 'READ' }],
    },
  });
  acl = await call('getObjectAcl', { Key: 'acl/plain' });
  check(acl.ACL === 'public-read', 'ACL from the body: ' + JSON.stringify(acl));
  const got = await call('getObject', { Key: 'acl/kms' });
  check(got.Body.toString() === 'secret', 'signed read of the encrypted object');
  await expectError('InvalidArgument', 400, 'putObjectAcl', { Key: 'acl/plain', ACL: 'public-read-write' });
  await expectError('NoSuchKey', 404, 'getObjectAcl', { Key: 'acl/missing' });
  await call('putBucketAcl', { ACL: 'public-read' });
  const bucketAcl = await call('getBucketAcl', {});
  check(bucketAcl.ACL === 'public-read', 'bucket ACL: ' + JSON.stringify(bucketAcl));
  await call('putBucketAcl', { ACL: 'private' });
});

test('unimplemented sub-resources are 501 and change nothing', async () => {
  // Each of these once fell through to a plain operation (delete, overwrite, listing).
  await call('putObject', { Key: 'kept', Body: Buffer.from('kept body'), ServerSideEncryption: 'AES256' });
  const before = await call('headObject', { Key: 'kept' });
  await expectError('NotImplemented', 501, 'deleteBucketTagging', {});
  await expectError('NotImplemented', 501, 'putBucketTagging', { Tags: [{ Key: 'k', Value: 'v' }] });
  await expectError('NotImplemented', 501, 'getBucketCors', {});
  await expectError('NotImplemented', 501, 'getBucketPolicy', {});
  await expectError('NotImplemented', 501, 'deleteBucketLifecycle', {});
  const d = await call('getObject', { Key: 'kept' });
  check(d.Body.toString() === 'kept body', 'the object changed');
  check(d.ETag === before.ETag, `the ETag changed: ${d.ETag} != ${before.ETag}`);
});

test('object versions', async () => {
  const vb = { Bucket: 'nodeversioned-1250000000' };
  await call('putBucket', vb);
  const never = await call('getBucketVersioning', vb);
  check(!never.VersioningConfiguration.Status, 'never versioned: ' + JSON.stringify(never));
  await call('putBucketVersioning', { ...vb, VersioningConfiguration: { Status: 'Enabled' } });
  const on = await call('getBucketVersioning', vb);
  check(on.VersioningConfiguration.Status === 'Enabled', 'enabled: ' + JSON.stringify(on));
  const p1 = await call('putObject', { ...vb, Key: 'doc', Body: Buffer.from('one'), ACL: 'public-read', ...SSEC });
  const p2 = await call('putObject', { ...vb, Key: 'doc', Body: Buffer.from('two'), ServerSideEncryption: 'AES256' });
  const v1 = p1.headers['x-cos-version-id'];
  const v2 = p2.headers['x-cos-version-id'];
  check(v1 && v2 && v1 !== v2, `version ids ${v1} ${v2}`);
  const old = await call('getObject', { ...vb, Key: 'doc', VersionId: v1, ...SSEC });
  check(old.Body.toString() === 'one', 'v1 body');
  await expectError('SsecDecryptHeaderInvalid', 400, 'getObject', { ...vb, Key: 'doc', VersionId: v1 });
  await expectError('NoSuchVersion', 404, 'getObject', { ...vb, Key: 'doc', VersionId: '0123456789abcdef0123456789abcdef' });
  // ACL per version (the SDK's getObjectAcl sends VersionId): v1 was written public-read, v2 with none (`default`).
  const a1 = await call('getObjectAcl', { ...vb, Key: 'doc', VersionId: v1 });
  check(a1.ACL === 'public-read', 'v1 ACL: ' + JSON.stringify(a1));
  const a2 = await call('getObjectAcl', { ...vb, Key: 'doc' });
  check(a2.ACL === 'default', 'latest ACL: ' + JSON.stringify(a2));
  await expectError('NoSuchVersion', 404, 'getObjectAcl', { ...vb, Key: 'doc', VersionId: '0123456789abcdef0123456789abcdef' });
  // Tags per version: v1's, not the latest's.
  const vtags = [{ Key: 'v', Value: 'one' }];
  await call('putObjectTagging', { ...vb, Key: 'doc', VersionId: v1, Tags: vtags });
  const t1 = await call('getObjectTagging', { ...vb, Key: 'doc', VersionId: v1 });
  check(JSON.stringify(t1.Tags) === JSON.stringify(vtags), 'v1 tags: ' + JSON.stringify(t1));
  const latest = await call('getObjectTagging', { ...vb, Key: 'doc' });
  check(latest.Tags.length === 0, 'latest untagged: ' + JSON.stringify(latest));
  await call('deleteObjectTagging', { ...vb, Key: 'doc', VersionId: v1 });
  const gone = await call('getObjectTagging', { ...vb, Key: 'doc', VersionId: v1 });
  check(gone.Tags.length === 0, 'v1 tags deleted: ' + JSON.stringify(gone));
  const del = await call('deleteObject', { ...vb, Key: 'doc' });
  check(del.headers['x-cos-delete-marker'] === 'true', 'marker: ' + JSON.stringify(del.headers));
  const marker = del.headers['x-cos-version-id'];
  await expectError('NoSuchKey', 404, 'getObject', { ...vb, Key: 'doc' });
  const list = await call('listObjectVersions', { ...vb, Prefix: 'doc' });
  check(
    JSON.stringify(list.Versions.map((v) => [v.VersionId, v.IsLatest])) === JSON.stringify([[v2, 'false'], [v1, 'false']]),
    'versions: ' + JSON.stringify(list),
  );
  check(list.DeleteMarkers.length === 1 && list.DeleteMarkers[0].VersionId === marker, 'markers: ' + JSON.stringify(list));
  await call('deleteObject', { ...vb, Key: 'doc', VersionId: marker });
  const back = await call('getObject', { ...vb, Key: 'doc' });
  check(back.Body.toString() === 'two', 'the marker is gone');
  for (const v of [v2, v1]) await call('deleteObject', { ...vb, Key: 'doc', VersionId: v });
  await call('deleteBucket', vb);
});

test('negative: wrong SSE-C key', () => expectError('SsecDecryptHeaderInvalid', 400, 'getObject', { Key: '2.jpg', ...SSEC2 }));
test('negative: missing SSE-C key', () => expectError('SsecDecryptHeaderInvalid', 400, 'getObject', { Key: '2.jpg' }));
test('negative: SSE header on GET', () =>
  expectError('SSEHeaderNotAllowed', 400, 'getObject', { Key: '1.jpg', ServerSideEncryption: 'AES256' }));
test('negative: disabled KMS key', () =>
  expectError('KmsKeyDisabled', 400, 'putObject', {
    Key: 'x',
    Body: 'x',
    ServerSideEncryption: 'cos/kms',
    SSEKMSKeyId: disabledKey,
  }));
test('negative: bad context', () =>
  expectError('InvalidArgument', 400, 'putObject', {
    Key: 'x',
    Body: 'x',
    ServerSideEncryption: 'cos/kms',
    SSEContext: Buffer.from('not json').toString('base64'),
  }));
test('negative: NoSuchKey', () => expectError('NoSuchKey', 404, 'getObject', { Key: 'missing' }));

(async () => {
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of tests) {
    try {
      await fn();
      passed += 1;
      console.log(`ok   node ${name}`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL node ${name}: ${e && (e.stack || JSON.stringify(e))}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
