#!/usr/bin/env python3
# -*- coding=utf-8
"""Conformance of cos-gateway with the official Python SDK (cos-python-sdk-v5), used exactly as the
seed samples (shared/seeds/003) use it, pointed at the gateway with IP/Port over HTTPS.

Environment (set by cos-gateway/tests/sdk.rs):
  COS_SECRET_ID, COS_SECRET_KEY   credentials the gateway accepts (the names the samples read)
  GW_PORT, GW_CA                  gateway port on 127.0.0.1 and its CA file
  GW_KMS_KEY                      an enabled KMS key id; GW_KMS_DISABLED_KEY a disabled one
  GW_WORK                         a scratch directory for upload_file/download_file
Prints one line per test and 'N passed, M failed'; exits non-zero on any failure.
"""
import base64
import hashlib
import json
import os
import sys
import time
import traceback
import logging

from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_comm import get_md5, to_bytes
from qcloud_cos.cos_exception import CosServiceError

logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
logging.getLogger('qcloud_cos').setLevel(logging.CRITICAL)  # expected errors are checked, not logged

secret_id = os.environ['COS_SECRET_ID']
secret_key = os.environ['COS_SECRET_KEY']
region = 'ap-beijing'
token = None
scheme = 'https'
port = int(os.environ['GW_PORT'])
ca = os.environ['GW_CA']
work = os.environ['GW_WORK']
kms_key = os.environ['GW_KMS_KEY']
disabled_key = os.environ['GW_KMS_DISABLED_KEY']

config = CosConfig(Region=region, SecretId=secret_id, SecretKey=secret_key, Token=token,
                   Scheme=scheme, IP='127.0.0.1', Port=port, VerifySSL=ca)
client = CosS3Client(config)
bucket = 'examplebucket-1250000000'

# The samples' SSE-C keys: a 32-character string, base64, and its MD5 from the SDK's helper.
ssec_secret = '00000000000000000000000000000001'
ssec_key = base64.standard_b64encode(to_bytes(ssec_secret))
ssec_key_md5 = get_md5(ssec_secret)
dest_ssec_secret = '00000000000000000000000000000002'
dest_ssec_key = base64.standard_b64encode(to_bytes(dest_ssec_secret))
dest_ssec_key_md5 = get_md5(dest_ssec_secret)
# get_md5 returns bytes; the echoed header is text.
ssec_md5_text = ssec_key_md5.decode() if isinstance(ssec_key_md5, bytes) else ssec_key_md5
dest_md5_text = dest_ssec_key_md5.decode() if isinstance(dest_ssec_key_md5, bytes) else dest_ssec_key_md5
SSEC = dict(SSECustomerAlgorithm='AES256', SSECustomerKey=ssec_key, SSECustomerKeyMD5=ssec_key_md5)
DEST_SSEC = dict(SSECustomerAlgorithm='AES256', SSECustomerKey=dest_ssec_key,
                 SSECustomerKeyMD5=dest_ssec_key_md5)
COPY_SRC_SSEC = dict(CopySourceSSECustomerAlgorithm='AES256', CopySourceSSECustomerKey=ssec_key,
                     CopySourceSSECustomerKeyMD5=ssec_key_md5)
CONTEXT = base64.standard_b64encode(to_bytes("{\"test\":\"test\"}"))

MODES = {
    'plain': {},
    'cos': dict(ServerSideEncryption='AES256'),
    'kms': dict(ServerSideEncryption='cos/kms'),
    'kms-key': dict(ServerSideEncryption='cos/kms', SSEKMSKeyId=kms_key, SSEKMSContext=CONTEXT),
    'ssec': SSEC,
}
READ_KW = {'ssec': SSEC}

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(code, status, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except CosServiceError as e:
        check(e.get_error_code() == code,
              'expected %s, got %s (%s)' % (code, e.get_error_code(), e.get_error_msg()))
        check(e.get_status_code() == status, 'expected HTTP %d, got %d' % (status, e.get_status_code()))
        check(e.get_request_id(), 'the error has no request id')
        return
    raise AssertionError('expected %s, the call succeeded' % code)


def check_echo(resp, mode):
    if mode == 'plain':
        check('x-cos-server-side-encryption' not in resp, 'plain object echoes SSE: %r' % resp)
        check('x-cos-server-side-encryption-customer-algorithm' not in resp, 'plain echoes SSE-C')
    elif mode == 'cos':
        check(resp['x-cos-server-side-encryption'] == 'AES256', 'SSE-COS echo: %r' % resp)
    elif mode in ('kms', 'kms-key'):
        check(resp['x-cos-server-side-encryption'] == 'cos/kms', 'SSE-KMS echo: %r' % resp)
        key_id = resp['x-cos-server-side-encryption-cos-kms-key-id']
        check(key_id, 'no KMS key id echoed')
        if mode == 'kms-key':
            check(key_id == kms_key, 'wrong KMS key id %s' % key_id)
    elif mode == 'ssec':
        check(resp['x-cos-server-side-encryption-customer-algorithm'] == 'AES256', 'SSE-C echo')
        check(resp['x-cos-server-side-encryption-customer-key-MD5'] == ssec_md5_text, 'SSE-C MD5 echo')
        check('x-cos-server-side-encryption-customer-key' not in resp, 'the SSE-C key is echoed')


def body_of(resp):
    return resp['Body'].get_raw_stream().read()


@test
def create_bucket():
    client.create_bucket(Bucket=bucket)
    client.head_bucket(Bucket=bucket)
    expect_error('BucketAlreadyOwnedByYou', 409, client.create_bucket, Bucket=bucket)


@test
def seed_sse_cos_sample():
    # shared/seeds/003: "Uploading and downloading SSE-COS encrypted objects".
    response = client.put_object(Bucket=bucket, Key='sdk-sse-cos', Body='123', ServerSideEncryption='AES256')
    check(response['x-cos-server-side-encryption'] == 'AES256', 'put echo')
    check(response['ETag'], 'no ETag')
    response = client.get_object(Bucket=bucket, Key='sdk-sse-cos')
    check(response['x-cos-server-side-encryption'] == 'AES256', 'get echo')
    check(body_of(response) == b'123', 'content')


@test
def seed_sse_kms_sample():
    response = client.put_object(Bucket=bucket, Key='sdk-sse-kms', Body='123', ServerSideEncryption='cos/kms',
                                 SSEKMSKeyId=kms_key, SSEKMSContext=CONTEXT)
    check(response['x-cos-server-side-encryption'] == 'cos/kms', 'put echo')
    check(response['x-cos-server-side-encryption-cos-kms-key-id'] == kms_key, 'key id echo')
    response = client.get_object(Bucket=bucket, Key='sdk-sse-kms')
    check(response['x-cos-server-side-encryption'] == 'cos/kms', 'get echo')
    check(body_of(response) == b'123', 'content')


@test
def seed_sse_c_sample():
    response = client.put_object(Bucket=bucket, Key='sdk-sse-c', Body="00000", **SSEC)
    check(response['x-cos-server-side-encryption-customer-algorithm'] == 'AES256', 'put echo')
    response = client.get_object(Bucket=bucket, Key='sdk-sse-c', **SSEC)
    check(response['x-cos-server-side-encryption-customer-algorithm'] == 'AES256', 'get echo')
    check(body_of(response) == b'00000', 'content')
    response = client.head_object(Bucket=bucket, Key='sdk-sse-c', **SSEC)
    check(response['x-cos-server-side-encryption-customer-algorithm'] == 'AES256', 'head echo')
    check(response['Content-Length'] == '5', 'head length %r' % response.get('Content-Length'))
    copy_source = {'Bucket': bucket, 'Key': 'sdk-sse-c', 'Region': region}
    response = client.copy_object(Bucket=bucket, Key='sdk-sse-c-copy', CopySource=copy_source,
                                  **DEST_SSEC, **COPY_SRC_SSEC)
    check(response['ETag'], 'copy result has no ETag')
    response = client.get_object(Bucket=bucket, Key='sdk-sse-c-copy', **DEST_SSEC)
    check(response['x-cos-server-side-encryption-customer-key-MD5'] == dest_md5_text, 'dest MD5 echo')
    check(body_of(response) == b'00000', 'copy content')
    expect_error('SsecDecryptHeaderInvalid', 400, client.get_object, Bucket=bucket, Key='sdk-sse-c-copy', **SSEC)


@test
def put_get_head_every_mode():
    data = os.urandom(300 * 1024 + 7)
    for mode, kw in MODES.items():
        key = 'modes/%s.bin' % mode
        resp = client.put_object(Bucket=bucket, Key=key, Body=data, EnableMD5=True, **kw)
        check_echo(resp, mode)
        check(resp['ETag'].startswith('"'), 'ETag not quoted')
        resp = client.get_object(Bucket=bucket, Key=key, **READ_KW.get(mode, {}))
        check_echo(resp, mode)
        check(resp['Content-Length'] == str(len(data)), 'Content-Length')
        check(body_of(resp) == data, '%s: content differs' % mode)
        resp = client.head_object(Bucket=bucket, Key=key, **READ_KW.get(mode, {}))
        check_echo(resp, mode)
        check(resp['Content-Length'] == str(len(data)), 'HEAD Content-Length')
        check(resp['Last-Modified'], 'no Last-Modified')
        resp = client.get_object(Bucket=bucket, Key=key, Range='bytes=70000-140000', **READ_KW.get(mode, {}))
        check(body_of(resp) == data[70000:140001], '%s: range content differs' % mode)
        check(resp['Content-Range'] == 'bytes 70000-140000/%d' % len(data), 'Content-Range')


@test
def kms_default_key_is_echoed():
    resp = client.put_object(Bucket=bucket, Key='kms-default', Body=b'x', ServerSideEncryption='cos/kms')
    default_id = resp['x-cos-server-side-encryption-cos-kms-key-id']
    check(default_id and default_id != kms_key, 'default CMK id %r' % default_id)
    resp = client.head_object(Bucket=bucket, Key='kms-default')
    check(resp['x-cos-server-side-encryption-cos-kms-key-id'] == default_id, 'HEAD key id')


@test
def upload_file_and_download_file_every_mode():
    data = os.urandom(20 * 1024 * 1024 + 12345)
    src = os.path.join(work, 'upload.bin')
    with open(src, 'wb') as f:
        f.write(data)
    for mode, kw in MODES.items():
        key = 'multipart/%s.bin' % mode
        resp = client.upload_file(Bucket=bucket, Key=key, LocalFilePath=src, PartSize=5, MAXThread=4, **kw)
        check(resp['ETag'], 'upload_file gave no ETag')
        dest = os.path.join(work, 'download-%s.bin' % mode)
        client.download_file(Bucket=bucket, Key=key, DestFilePath=dest, **READ_KW.get(mode, {}))
        with open(dest, 'rb') as f:
            check(f.read() == data, '%s: downloaded bytes differ' % mode)
        resp = client.head_object(Bucket=bucket, Key=key, **READ_KW.get(mode, {}))
        check_echo(resp, mode)
        check(resp['Content-Length'] == str(len(data)), 'size')
    # A multipart SSE-C object without the key.
    expect_error('SsecDecryptHeaderInvalid', 400, client.get_object, Bucket=bucket, Key='multipart/ssec.bin')


@test
def copy_object_between_modes():
    data = os.urandom(150 * 1024)
    client.put_object(Bucket=bucket, Key='copy/src-plain', Body=data)
    chain = ['plain', 'cos', 'kms', 'kms-key', 'ssec', 'plain', 'ssec', 'ssec', 'cos']
    src_key, src_mode = 'copy/src-plain', 'plain'
    for i, mode in enumerate(chain[1:]):
        dest_key = 'copy/%d-%s' % (i, mode)
        kw = dict(MODES[mode])
        if src_mode == 'ssec':
            kw.update(COPY_SRC_SSEC)
        if mode == 'ssec' and src_mode == 'ssec':
            kw.update(DEST_SSEC)
        copy_source = {'Bucket': bucket, 'Key': src_key, 'Region': region}
        resp = client.copy_object(Bucket=bucket, Key=dest_key, CopySource=copy_source, **kw)
        check(resp['ETag'], 'no ETag')
        dest_read = dict(DEST_SSEC) if (mode == 'ssec' and src_mode == 'ssec') else READ_KW.get(mode, {})
        got = client.get_object(Bucket=bucket, Key=dest_key, **dest_read)
        if mode == 'ssec' and src_mode == 'ssec':
            check(got['x-cos-server-side-encryption-customer-key-MD5'] == dest_md5_text, 'dest key')
        else:
            check_echo(got, mode)
        check(body_of(got) == data, '%s -> %s: content differs' % (src_mode, mode))
        if mode == 'ssec' and src_mode == 'ssec':
            # Later copies use the first SSE-C key again: rotate back.
            back = dict(SSEC)
            back.update(dict(CopySourceSSECustomerAlgorithm='AES256', CopySourceSSECustomerKey=dest_ssec_key,
                             CopySourceSSECustomerKeyMD5=dest_ssec_key_md5))
            client.copy_object(Bucket=bucket, Key=dest_key, CopySource={'Bucket': bucket, 'Key': dest_key,
                                                                        'Region': region},
                               CopyStatus='Replaced', **back)
        src_key, src_mode = dest_key, mode


@test
def copy_does_not_inherit_sse():
    client.put_object(Bucket=bucket, Key='inherit/src', Body=b'abc', ServerSideEncryption='AES256')
    resp = client.copy_object(Bucket=bucket, Key='inherit/dst',
                              CopySource={'Bucket': bucket, 'Key': 'inherit/src', 'Region': region})
    check('x-cos-server-side-encryption' not in resp, 'copy inherited SSE')
    got = client.head_object(Bucket=bucket, Key='inherit/dst')
    check('x-cos-server-side-encryption' not in got, 'copy inherited SSE (HEAD)')


@test
def bucket_encryption():
    b2 = 'encbucket-1250000000'
    client.create_bucket(Bucket=b2)
    expect_error('NoSuchEncryptionConfiguration', 404, client.get_bucket_encryption, Bucket=b2)
    # As the SDK's demo and tests send it: the misspelled element name.
    client.put_bucket_encryption(Bucket=b2, ServerSideEncryptionConfiguration={
        'Rule': [{'ApplySideEncryptionConfiguration': {'SSEAlgorithm': 'AES256'}}]})
    got = client.get_bucket_encryption(Bucket=b2)
    check(got['Rule'][0]['ApplyServerSideEncryptionByDefault']['SSEAlgorithm'] == 'AES256', repr(got))
    resp = client.put_object(Bucket=b2, Key='defaulted', Body=b'hello')
    check(resp['x-cos-server-side-encryption'] == 'AES256', 'bucket default not applied')
    resp = client.put_object(Bucket=b2, Key='own', Body=b'hello', **SSEC)
    check('x-cos-server-side-encryption' not in resp, 'request SSE must win')
    client.put_bucket_encryption(Bucket=b2, ServerSideEncryptionConfiguration={
        'Rule': [{'ApplyServerSideEncryptionByDefault': {'SSEAlgorithm': 'KMS', 'KMSMasterKeyID': kms_key}}]})
    got = client.get_bucket_encryption(Bucket=b2)
    rule = got['Rule'][0]['ApplyServerSideEncryptionByDefault']
    check(rule['SSEAlgorithm'] == 'KMS' and rule['KMSMasterKeyID'] == kms_key, repr(got))
    resp = client.put_object(Bucket=b2, Key='defaulted-kms', Body=b'hello')
    check(resp['x-cos-server-side-encryption-cos-kms-key-id'] == kms_key, 'KMS default not applied')
    check(body_of(client.get_object(Bucket=b2, Key='defaulted-kms')) == b'hello', 'content')
    client.delete_bucket_encryption(Bucket=b2)
    expect_error('NoSuchEncryptionConfiguration', 404, client.get_bucket_encryption, Bucket=b2)
    expect_error('NoSuchBucket', 404, client.get_bucket_encryption, Bucket='nobucket-1250000000')


@test
def bucket_location():
    got = client.get_bucket_location(Bucket=bucket)
    check(got == {'LocationConstraint': os.environ['GW_REGION']}, repr(got))
    expect_error('NoSuchBucket', 404, client.get_bucket_location, Bucket='nobucket-1250000000')


@test
def object_tagging():
    client.put_object(Bucket=bucket, Key='tagged', Body=b'tagged body', **SSEC)
    got = client.get_object_tagging(Bucket=bucket, Key='tagged')
    check(not (got.get('TagSet') or {}).get('Tag'), 'no tags yet: %r' % got)
    tags = [{'Key': 'team', 'Value': 'storage'}, {'Key': 'env', 'Value': 'test'}]
    client.put_object_tagging(Bucket=bucket, Key='tagged', Tagging={'TagSet': {'Tag': tags}})
    got = client.get_object_tagging(Bucket=bucket, Key='tagged')
    check(got['TagSet']['Tag'] == tags, repr(got))
    head = client.head_object(Bucket=bucket, Key='tagged', **SSEC)
    check(head.get('x-cos-tagging-count') == '2', repr(head))
    # Still SSE-C: the body needs the key.
    check(body_of(client.get_object(Bucket=bucket, Key='tagged', **SSEC)) == b'tagged body', 'body')
    expect_error('SsecDecryptHeaderInvalid', 400, client.get_object, Bucket=bucket, Key='tagged')
    too_many = [{'Key': 'k%d' % i, 'Value': 'v'} for i in range(11)]
    expect_error('InvalidTag', 400, client.put_object_tagging, Bucket=bucket, Key='tagged',
                 Tagging={'TagSet': {'Tag': too_many}})
    client.delete_object_tagging(Bucket=bucket, Key='tagged')
    got = client.get_object_tagging(Bucket=bucket, Key='tagged')
    check(not (got.get('TagSet') or {}).get('Tag'), 'tags removed: %r' % got)
    expect_error('NoSuchKey', 404, client.get_object_tagging, Bucket=bucket, Key='no-such-key')


@test
def restore_an_archived_ssec_object_as_seed_003_does():
    file_name = 'sdk-archive-sse-c'
    client.put_object(Bucket=bucket, Key=file_name, Body=b'cold body', StorageClass='ARCHIVE', **SSEC)
    expect_error('InvalidObjectState', 403, client.get_object, Bucket=bucket, Key=file_name, **SSEC)
    # Seed 003's sample, verbatim.
    response = client.restore_object(
        Bucket=bucket, Key=file_name, RestoreRequest={
            'Days': 1,
            'CASJobParameters': {
                'Tier': 'Expedited'
            }
        },
        SSECustomerAlgorithm='AES256', SSECustomerKey=ssec_key, SSECustomerKeyMD5=ssec_key_md5)
    head = client.head_object(Bucket=bucket, Key=file_name, **SSEC)
    check(head.get('x-cos-restore') == 'ongoing-request="true"', repr(head))
    check(head.get('x-cos-storage-class') == 'ARCHIVE', repr(head))
    expect_error('RestoreAlreadyInProgress', 409, client.restore_object, Bucket=bucket, Key=file_name,
                 RestoreRequest={'Days': 1, 'CASJobParameters': {'Tier': 'Standard'}}, **SSEC)
    deadline = time.time() + 10
    while 'ongoing-request="false"' not in head.get('x-cos-restore', ''):
        check(time.time() < deadline, 'restore never finished: %r' % head)
        time.sleep(0.2)
        head = client.head_object(Bucket=bucket, Key=file_name, **SSEC)
    check('expiry-date="' in head['x-cos-restore'], repr(head))
    check(body_of(client.get_object(Bucket=bucket, Key=file_name, **SSEC)) == b'cold body', 'body')
    expect_error('SsecDecryptHeaderInvalid', 400, client.get_object, Bucket=bucket, Key=file_name)
    client.put_object(Bucket=bucket, Key='sdk-standard', Body=b'x')
    expect_error('InvalidObjectState', 403, client.restore_object, Bucket=bucket, Key='sdk-standard',
                 RestoreRequest={'Days': 1})


@test
def bucket_and_object_acls():
    owner = 'qcs::cam::uin/100000000001:uin/100000000001'
    acl = client.get_bucket_acl(Bucket=bucket)
    check(acl['CannedACL'] == 'private', 'new bucket: %r' % acl)
    check(acl['Owner']['ID'] == owner, 'owner: %r' % acl)
    client.put_bucket_acl(Bucket=bucket, ACL='public-read')
    check(client.get_bucket_acl(Bucket=bucket)['CannedACL'] == 'public-read', 'public-read bucket')
    client.put_bucket_acl(Bucket=bucket, AccessControlPolicy={
        'Owner': {'ID': owner},
        'AccessControlList': {'Grant': [
            {'Grantee': {'Type': 'Group', 'URI': 'http://cam.qcloud.com/groups/global/AllUsers'},
             'Permission': 'READ'},
            {'Grantee': {'Type': 'Group', 'URI': 'http://cam.qcloud.com/groups/global/AllUsers'},
             'Permission': 'WRITE'},
        ]}})
    check(client.get_bucket_acl(Bucket=bucket)['CannedACL'] == 'public-read-write', 'from the body')
    client.put_bucket_acl(Bucket=bucket, ACL='private')
    # Objects: default, then ACL on put_object, then put_object_acl with headers.
    client.put_object(Bucket=bucket, Key='acl-default', Body=b'x')
    check(client.get_object_acl(Bucket=bucket, Key='acl-default')['CannedACL'] == 'default', 'default')
    client.put_object(Bucket=bucket, Key='acl-public', Body=b'public', ACL='public-read')
    acl = client.get_object_acl(Bucket=bucket, Key='acl-public')
    check(acl['CannedACL'] == 'public-read', 'put_object ACL: %r' % acl)
    client.put_object_acl(Bucket=bucket, Key='acl-public', ACL='private', GrantRead='id="100000000002"')
    acl = client.get_object_acl(Bucket=bucket, Key='acl-public')
    check(acl['CannedACL'] == 'private', 'put_object_acl: %r' % acl)
    ids = [g['Grantee'].get('ID') for g in acl['AccessControlList']['Grant']]
    check(ids == [owner, 'qcs::cam::uin/100000000002:uin/100000000002'], 'grants: %r' % ids)
    # Grant headers alone: the owner's FULL_CONTROL is kept, first, as COS lists it.
    client.put_object_acl(Bucket=bucket, Key='acl-public', GrantRead='id="100000000002"')
    acl = client.get_object_acl(Bucket=bucket, Key='acl-public')
    ids = [(g['Grantee'].get('ID'), g['Permission']) for g in acl['AccessControlList']['Grant']]
    check(ids == [(owner, 'FULL_CONTROL'), ('qcs::cam::uin/100000000002:uin/100000000002', 'READ')],
          'grant headers only: %r' % ids)
    client.put_object_acl(Bucket=bucket, Key='acl-public', ACL='public-read')
    expect_error('InvalidArgument', 400, client.put_object_acl, Bucket=bucket, Key='acl-public',
                 ACL='public-read-write')
    expect_error('InvalidArgument', 400, client.put_object, Bucket=bucket, Key='acl-bad', Body=b'x',
                 ACL='bucket-owner-read')
    expect_error('InvalidArgument', 400, client.put_bucket_acl, Bucket=bucket, GrantRead='id="not-a-uin"')
    expect_error('NoSuchKey', 404, client.get_object_acl, Bucket=bucket, Key='acl-missing')
    # create_bucket with an ACL; a refused ACL creates nothing.
    other = 'aclbucket-1250000000'
    expect_error('InvalidArgument', 400, client.create_bucket, Bucket=other, ACL='default')
    expect_error('NoSuchBucket', 404, client.get_bucket_acl, Bucket=other)
    client.create_bucket(Bucket=other, ACL='public-read', GrantFullControl='id="100000000002"')
    acl = client.get_bucket_acl(Bucket=other)
    check(acl['CannedACL'] == 'public-read', 'create_bucket ACL: %r' % acl)
    client.delete_bucket(Bucket=other)


@test
def anonymous_reads_of_public_objects():
    anon = CosS3Client(CosConfig(Region=region, Anonymous=True, Scheme=scheme, IP='127.0.0.1', Port=port,
                                 VerifySSL=ca))
    client.put_object(Bucket=bucket, Key='anon-plain', Body=b'for everyone', ACL='public-read')
    check(body_of(anon.get_object(Bucket=bucket, Key='anon-plain')) == b'for everyone', 'anonymous GET')
    anon.head_object(Bucket=bucket, Key='anon-plain')
    for mode in ('cos', 'kms', 'kms-key', 'ssec'):
        key = 'anon-%s' % mode
        client.put_object(Bucket=bucket, Key=key, Body=b'secret', ACL='public-read', **MODES[mode])
        expect_error('AccessDenied', 403, anon.get_object, Bucket=bucket, Key=key, **READ_KW.get(mode, {}))
        check(body_of(client.get_object(Bucket=bucket, Key=key, **READ_KW.get(mode, {}))) == b'secret',
              'signed read of %s' % key)
    client.put_object(Bucket=bucket, Key='anon-private', Body=b'x', ACL='private')
    expect_error('AccessDenied', 403, anon.get_object, Bucket=bucket, Key='anon-private')
    expect_error('AccessDenied', 403, anon.put_object, Bucket=bucket, Key='anon-plain', Body=b'overwrite')
    expect_error('AccessDenied', 403, anon.get_object_acl, Bucket=bucket, Key='anon-plain')
    check(body_of(client.get_object(Bucket=bucket, Key='anon-plain')) == b'for everyone', 'unchanged')


@test
def list_objects_shows_encrypted_objects():
    resp = client.list_objects(Bucket=bucket, Prefix='modes/')
    keys = sorted(c['Key'] for c in resp['Contents'])
    check(keys == sorted('modes/%s.bin' % m for m in MODES), repr(keys))
    resp = client.list_objects(Bucket=bucket, Prefix='modes/', MaxKeys=2)
    check(resp['IsTruncated'] == 'true' and len(resp['Contents']) == 2, 'truncation')


@test
def delete_object_and_bucket_rules():
    client.put_object(Bucket=bucket, Key='to-delete', Body=b'x', ServerSideEncryption='AES256')
    client.delete_object(Bucket=bucket, Key='to-delete')
    expect_error('NoSuchKey', 404, client.get_object, Bucket=bucket, Key='to-delete')
    expect_error('BucketNotEmpty', 409, client.delete_bucket, Bucket=bucket)


@test
def unimplemented_sub_resources_change_nothing():
    # Each of these once fell through to a plain operation (DELETE ?tagging deleted the object, PUT
    # ?tagging overwrote it, before object tagging was implemented), GET ?versioning / ?lifecycle / ?policy returned a listing.
    client.put_object(Bucket=bucket, Key='kept', Body=b'kept body', ServerSideEncryption='AES256')
    etag = client.head_object(Bucket=bucket, Key='kept')['ETag']
    tagging = {'TagSet': {'Tag': [{'Key': 'k', 'Value': 'v'}]}}
    expect_error('NotImplemented', 501, client.put_bucket_tagging, Bucket=bucket, Tagging=tagging)
    expect_error('NotImplemented', 501, client.get_bucket_cors, Bucket=bucket)
    expect_error('NotImplemented', 501, client.get_bucket_lifecycle, Bucket=bucket)
    expect_error('NotImplemented', 501, client.delete_bucket_lifecycle, Bucket=bucket)
    expect_error('NotImplemented', 501, client.get_bucket_policy, Bucket=bucket)
    expect_error('NotImplemented', 501, client.delete_bucket_tagging, Bucket=bucket)
    resp = client.get_object(Bucket=bucket, Key='kept')
    check(body_of(resp) == b'kept body', 'the object changed')
    check(resp['ETag'] == etag, 'the ETag changed: %s != %s' % (resp['ETag'], etag))
    client.head_bucket(Bucket=bucket)


# ---- negative cases -------------------------------------------------------------------------------

@test
def wrong_sse_c_key():
    wrong = dict(SSECustomerAlgorithm='AES256', SSECustomerKey=dest_ssec_key, SSECustomerKeyMD5=dest_ssec_key_md5)
    expect_error('SsecDecryptHeaderInvalid', 400, client.get_object, Bucket=bucket, Key='sdk-sse-c', **wrong)


@test
def missing_sse_c_key_on_get():
    expect_error('SsecDecryptHeaderInvalid', 400, client.get_object, Bucket=bucket, Key='sdk-sse-c')


@test
def sse_c_key_md5_mismatch_on_put():
    bad = dict(SSECustomerAlgorithm='AES256', SSECustomerKey=ssec_key, SSECustomerKeyMD5=dest_ssec_key_md5)
    expect_error('InvalidArgument', 400, client.put_object, Bucket=bucket, Key='bad', Body=b'x', **bad)


@test
def sse_header_on_get():
    expect_error('SSEHeaderNotAllowed', 400, client.get_object, Bucket=bucket, Key='sdk-sse-cos',
                 ServerSideEncryption='AES256')


@test
def disabled_kms_key():
    expect_error('KmsKeyDisabled', 400, client.put_object, Bucket=bucket, Key='disabled', Body=b'x',
                 ServerSideEncryption='cos/kms', SSEKMSKeyId=disabled_key)


@test
def unknown_kms_key():
    expect_error('KmsKeyNotExist', 400, client.put_object, Bucket=bucket, Key='unknown', Body=b'x',
                 ServerSideEncryption='cos/kms', SSEKMSKeyId='no-such-key')


@test
def bad_context():
    expect_error('InvalidArgument', 400, client.put_object, Bucket=bucket, Key='badctx', Body=b'x',
                 ServerSideEncryption='cos/kms', SSEKMSContext='not base64 json')
    not_json = base64.standard_b64encode(b'[1,2]')
    expect_error('InvalidArgument', 400, client.put_object, Bucket=bucket, Key='badctx', Body=b'x',
                 ServerSideEncryption='cos/kms', SSEKMSContext=not_json)


@test
def bad_sse_value():
    expect_error('InvalidArgument', 400, client.put_object, Bucket=bucket, Key='badsse', Body=b'x',
                 ServerSideEncryption='AES128')


@test
def wrong_secret_key():
    bad = CosS3Client(CosConfig(Region=region, SecretId=secret_id, SecretKey='wrong', Scheme=scheme,
                                IP='127.0.0.1', Port=port, VerifySSL=ca))
    expect_error('SignatureDoesNotMatch', 403, bad.get_object, Bucket=bucket, Key='sdk-sse-cos')
    other = CosS3Client(CosConfig(Region=region, SecretId='AKIDunknown', SecretKey='x', Scheme=scheme,
                                  IP='127.0.0.1', Port=port, VerifySSL=ca))
    expect_error('InvalidAccessKeyId', 403, other.get_object, Bucket=bucket, Key='sdk-sse-cos')


@test
def anonymous_read_of_encrypted_object():
    anon = CosS3Client(CosConfig(Region=region, Anonymous=True, Scheme=scheme, IP='127.0.0.1', Port=port,
                                 VerifySSL=ca))
    expect_error('AccessDenied', 403, anon.get_object, Bucket=bucket, Key='sdk-sse-kms')


@test
def bad_content_md5():
    expect_error('BadDigest', 400, client.put_object, Bucket=bucket, Key='md5', Body=b'abc',
                 ContentMD5=base64.b64encode(hashlib.md5(b'abd').digest()).decode())



@test
def delete_objects_verbose_and_quiet():
    for mode, kw in MODES.items():
        client.put_object(Bucket=bucket, Key='batch/%s' % mode, Body=b'x', **kw)
    keys = ['batch/%s' % mode for mode in MODES] + ['batch/never-written']
    resp = client.delete_objects(Bucket=bucket, Delete={'Quiet': 'false',
                                                        'Object': [{'Key': k} for k in keys]})
    check([d['Key'] for d in resp.get('Deleted', [])] == keys, 'deleted: %r' % resp)
    check(not resp.get('Error'), 'errors: %r' % resp)
    for k in keys:
        expect_error('NoSuchKey', 404, client.get_object, Bucket=bucket, Key=k)
    client.put_object(Bucket=bucket, Key='batch/quiet', Body=b'x')
    resp = client.delete_objects(Bucket=bucket, Delete={'Quiet': 'true',
                                                        'Object': [{'Key': 'batch/quiet'}]})
    check(not resp.get('Deleted') and not resp.get('Error'), 'quiet answer: %r' % resp)
    expect_error('NoSuchKey', 404, client.get_object, Bucket=bucket, Key='batch/quiet')


@test
def object_versions():
    vb = 'versioned-1250000000'
    client.create_bucket(Bucket=vb)
    got = client.get_bucket_versioning(Bucket=vb)
    check(not got.get('Status'), 'never versioned: %r' % got)
    client.put_bucket_versioning(Bucket=vb, Status='Enabled')
    check(client.get_bucket_versioning(Bucket=vb).get('Status') == 'Enabled', 'enabled')
    v1 = client.put_object(Bucket=vb, Key='doc', Body=b'one', **SSEC)['x-cos-version-id']
    v2 = client.put_object(Bucket=vb, Key='doc', Body=b'two', ServerSideEncryption='AES256')['x-cos-version-id']
    check(v1 and v2 and v1 != v2, 'version ids %r %r' % (v1, v2))
    check(body_of(client.get_object(Bucket=vb, Key='doc')) == b'two', 'latest')
    check(body_of(client.get_object(Bucket=vb, Key='doc', VersionId=v1, **SSEC)) == b'one', 'v1')
    expect_error('SsecDecryptHeaderInvalid', 400, client.get_object, Bucket=vb, Key='doc', VersionId=v1)
    # Tags per version: v1's, not the latest's (no customer key needed to tag an SSE-C version).
    client.put_object_tagging(Bucket=vb, Key='doc', VersionId=v1,
                              Tagging={'TagSet': {'Tag': [{'Key': 'v', 'Value': 'one'}]}})
    got = client.get_object_tagging(Bucket=vb, Key='doc', VersionId=v1)
    check(got['TagSet']['Tag'] == [{'Key': 'v', 'Value': 'one'}], 'v1 tags: %r' % got)
    got = client.get_object_tagging(Bucket=vb, Key='doc')
    check(not (got.get('TagSet') or {}).get('Tag'), 'latest untagged: %r' % got)
    client.delete_object_tagging(Bucket=vb, Key='doc', VersionId=v1)
    got = client.get_object_tagging(Bucket=vb, Key='doc', VersionId=v1)
    check(not (got.get('TagSet') or {}).get('Tag'), 'v1 tags deleted: %r' % got)
    expect_error('NoSuchVersion', 404, client.get_object_tagging, Bucket=vb, Key='doc',
                 VersionId='0123456789abcdef0123456789abcdef')
    expect_error('NoSuchVersion', 404, client.get_object, Bucket=vb, Key='doc',
                 VersionId='0123456789abcdef0123456789abcdef')
    expect_error('InvalidArgument', 400, client.get_object, Bucket=vb, Key='doc', VersionId='bad')
    resp = client.delete_object(Bucket=vb, Key='doc')
    check(resp.get('x-cos-delete-marker') == 'true', 'marker: %r' % resp)
    marker = resp['x-cos-version-id']
    expect_error('NoSuchKey', 404, client.get_object, Bucket=vb, Key='doc')
    listing = client.list_objects_versions(Bucket=vb, Prefix='doc')
    versions = [(v['VersionId'], v['IsLatest']) for v in listing.get('Version', [])]
    markers = [(m['VersionId'], m['IsLatest']) for m in listing.get('DeleteMarker', [])]
    check(versions == [(v2, 'false'), (v1, 'false')], 'versions: %r' % listing)
    check(markers == [(marker, 'true')], 'markers: %r' % listing)
    page = client.list_objects_versions(Bucket=vb, MaxKeys=1)
    check(page['IsTruncated'] == 'true' and page['NextVersionIdMarker'] == marker, 'page: %r' % page)
    client.delete_object(Bucket=vb, Key='doc', VersionId=marker)
    check(body_of(client.get_object(Bucket=vb, Key='doc')) == b'two', 'the marker is gone')
    for v in (v2, v1):
        client.delete_object(Bucket=vb, Key='doc', VersionId=v)
    check(not client.list_objects_versions(Bucket=vb).get('Version'), 'every version deleted')
    client.delete_bucket(Bucket=vb)


def main():
    passed = failed = 0
    for t in TESTS:
        try:
            t()
            passed += 1
            print('ok   python %s' % t.__name__, flush=True)
        except Exception:
            failed += 1
            print('FAIL python %s' % t.__name__, flush=True)
            traceback.print_exc(file=sys.stdout)
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
