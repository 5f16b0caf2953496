#!/usr/bin/env python3
"""Conformance of kms-server's Tencent Cloud API 3.0 front end with the official Python SDK
(tencentcloud-sdk-python-common + -kms), used unmodified: the only setting is the endpoint.

Environment (set by kms-server/tests/tencent_sdk.rs):
  KMS_ENDPOINT                  host:port of a kms-server
  KMS_CA                        if set, the server speaks HTTPS and this is its CA certificate
  TENCENTCLOUD_SECRET_ID/_KEY   the pair the server checks signatures against
Prints one line per test and 'N passed, M failed'; exits non-zero on any failure.
"""
import base64
import json
import os
import sys
import traceback

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.kms.v20190118 import kms_client, models

endpoint = os.environ['KMS_ENDPOINT']
secret_id = os.environ['TENCENTCLOUD_SECRET_ID']
secret_key = os.environ['TENCENTCLOUD_SECRET_KEY']
ca = os.environ.get('KMS_CA')
REGION = 'ap-guangzhou'


def client(sid=secret_id, skey=secret_key, method='POST', unsigned=False, token=None):
    http = HttpProfile(protocol='https' if ca else 'http', endpoint=endpoint, reqMethod=method,
                       certification=ca)
    profile = ClientProfile(httpProfile=http)
    profile.unsignedPayload = unsigned
    return kms_client.KmsClient(credential.Credential(sid, skey, token), REGION, profile)


kms = client()


def req(cls, **fields):
    r = cls()
    r.from_json_string(json.dumps(fields))
    return r


def b64(data):
    return base64.b64encode(data).decode()


def expect_error(code, f):
    try:
        f()
    except TencentCloudSDKException as e:
        assert e.get_code() == code, f'expected {code}, got {e.get_code()}: {e.get_message()}'
        assert e.get_request_id(), 'an error carries a RequestId'
        return e
    raise AssertionError(f'expected {code}, the call succeeded')


state = {}


def test_create_describe_list():
    r = kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-key', Description='from the SDK'))
    assert r.KeyState == 'Enabled' and r.KeyUsage == 'ENCRYPT_DECRYPT', r
    assert isinstance(r.CreateTime, int) and r.CreateTime > 0
    assert r.RequestId
    state['key'] = r.KeyId
    m = kms.DescribeKey(req(models.DescribeKeyRequest, KeyId=r.KeyId)).KeyMetadata
    assert (m.KeyId, m.Alias, m.Description, m.KeyState) == (r.KeyId, 'sdk-key', 'from the SDK', 'Enabled')
    assert m.Origin == 'TENCENT_KMS' and m.KeyRotationEnabled is False
    listed = kms.ListKeys(req(models.ListKeysRequest, Limit=200))
    assert r.KeyId in [k.KeyId for k in listed.Keys] and listed.TotalCount >= 1
    expect_error('InvalidParameterValue.AliasAlreadyExists',
                 lambda: kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-key')))
    expect_error('ResourceUnavailable.CmkNotFound',
                 lambda: kms.DescribeKey(req(models.DescribeKeyRequest, KeyId='00000000-0000-0000-0000-000000000000')))
    expect_error('MissingParameter', lambda: kms.DescribeKey(models.DescribeKeyRequest()))


def test_data_keys_and_encrypt_with_context():
    key = state['key']
    ctx = json.dumps({'bucket': 'b', 'object': 'o'})
    dk = kms.GenerateDataKey(req(models.GenerateDataKeyRequest, KeyId=key, KeySpec='AES_256', EncryptionContext=ctx))
    assert len(base64.b64decode(dk.Plaintext)) == 32 and dk.KeyId == key
    swapped = json.dumps({'object': 'o', 'bucket': 'b'})
    d = kms.Decrypt(req(models.DecryptRequest, CiphertextBlob=dk.CiphertextBlob, EncryptionContext=swapped))
    assert d.Plaintext == dk.Plaintext and d.KeyId == key
    expect_error('InvalidParameterValue.InvalidCiphertext',
                 lambda: kms.Decrypt(req(models.DecryptRequest, CiphertextBlob=dk.CiphertextBlob)))
    n = kms.GenerateDataKey(req(models.GenerateDataKeyRequest, KeyId=key, NumberOfBytes=24))
    assert len(base64.b64decode(n.Plaintext)) == 24
    e = kms.Encrypt(req(models.EncryptRequest, KeyId=key, Plaintext=b64(b'hello sdk')))
    assert e.KeyId == key
    state['blob'] = e.CiphertextBlob
    d = kms.Decrypt(req(models.DecryptRequest, CiphertextBlob=e.CiphertextBlob))
    assert base64.b64decode(d.Plaintext) == b'hello sdk'
    expect_error('InvalidParameterValue.InvalidPlaintext',
                 lambda: kms.Encrypt(req(models.EncryptRequest, KeyId=key, Plaintext='%%')))


def test_re_encrypt():
    other = kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-other')).KeyId
    r = kms.ReEncrypt(req(models.ReEncryptRequest, CiphertextBlob=state['blob'], DestinationKeyId=other,
                          DestinationEncryptionContext='{"k":"v"}'))
    assert (r.SourceKeyId, r.KeyId, r.ReEncrypted) == (state['key'], other, True)
    d = kms.Decrypt(req(models.DecryptRequest, CiphertextBlob=r.CiphertextBlob, EncryptionContext='{"k":"v"}'))
    assert base64.b64decode(d.Plaintext) == b'hello sdk'
    same = kms.ReEncrypt(req(models.ReEncryptRequest, CiphertextBlob=state['blob']))
    assert same.ReEncrypted is False and same.CiphertextBlob == state['blob']


def test_lifecycle():
    key = kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-lifecycle')).KeyId
    k = req(models.DisableKeyRequest, KeyId=key)
    kms.DisableKey(k)
    expect_error('ResourceUnavailable.CmkDisabled',
                 lambda: kms.Encrypt(req(models.EncryptRequest, KeyId=key, Plaintext=b64(b'x'))))
    expect_error('InvalidParameter.InvalidPendingWindowInDays',
                 lambda: kms.ScheduleKeyDeletion(req(models.ScheduleKeyDeletionRequest, KeyId=key, PendingWindowInDays=31)))
    s = kms.ScheduleKeyDeletion(req(models.ScheduleKeyDeletionRequest, KeyId=key, PendingWindowInDays=7))
    assert s.KeyId == key and isinstance(s.DeletionDate, int) and s.DeletionDate > 0
    m = kms.DescribeKey(req(models.DescribeKeyRequest, KeyId=key)).KeyMetadata
    assert m.KeyState == 'PendingDelete' and m.DeletionDate == s.DeletionDate
    assert kms.CancelKeyDeletion(req(models.CancelKeyDeletionRequest, KeyId=key)).KeyId == key
    expect_error('ResourceUnavailable.CmkNotPendingDelete',
                 lambda: kms.CancelKeyDeletion(req(models.CancelKeyDeletionRequest, KeyId=key)))
    kms.EnableKey(req(models.EnableKeyRequest, KeyId=key))
    expect_error('ResourceUnavailable.CmkShouldBeDisabled',
                 lambda: kms.ScheduleKeyDeletion(req(models.ScheduleKeyDeletionRequest, KeyId=key, PendingWindowInDays=7)))
    kms.ArchiveKey(req(models.ArchiveKeyRequest, KeyId=key))
    expect_error('ResourceUnavailable.CmkArchived',
                 lambda: kms.Encrypt(req(models.EncryptRequest, KeyId=key, Plaintext=b64(b'x'))))
    kms.CancelKeyArchive(req(models.CancelKeyArchiveRequest, KeyId=key))
    kms.UpdateAlias(req(models.UpdateAliasRequest, KeyId=key, Alias='sdk-renamed'))
    kms.UpdateKeyDescription(req(models.UpdateKeyDescriptionRequest, KeyId=key, Description='renamed'))
    m = kms.DescribeKey(req(models.DescribeKeyRequest, KeyId='alias/sdk-renamed')).KeyMetadata
    assert (m.KeyId, m.Alias, m.Description) == (key, 'sdk-renamed', 'renamed')
    expect_error('InvalidParameterValue.InvalidAlias',
                 lambda: kms.UpdateAlias(req(models.UpdateAliasRequest, KeyId=key, Alias='bad alias!')))


def test_rotation():
    key = state['key']
    assert kms.GetKeyRotationStatus(req(models.GetKeyRotationStatusRequest, KeyId=key)).KeyRotationEnabled is False
    kms.EnableKeyRotation(req(models.EnableKeyRotationRequest, KeyId=key, RotateDays=90))
    assert kms.GetKeyRotationStatus(req(models.GetKeyRotationStatusRequest, KeyId=key)).KeyRotationEnabled is True
    kms.DisableKeyRotation(req(models.DisableKeyRotationRequest, KeyId=key))
    task = kms.RotateKey(req(models.RotateKeyRequest, KeyId=key)).TaskId
    assert task == f'{key}-v2', task
    d = kms.Decrypt(req(models.DecryptRequest, CiphertextBlob=state['blob']))
    assert base64.b64decode(d.Plaintext) == b'hello sdk'


def test_generate_random():
    r = kms.GenerateRandom(req(models.GenerateRandomRequest, NumberOfBytes=64))
    assert len(base64.b64decode(r.Plaintext)) == 64
    expect_error('InvalidParameterValue',
                 lambda: kms.GenerateRandom(req(models.GenerateRandomRequest, NumberOfBytes=2048)))


def test_get_and_unsigned_payload():
    r = client(method='GET').GenerateRandom(req(models.GenerateRandomRequest, NumberOfBytes=8))
    assert len(base64.b64decode(r.Plaintext)) == 8
    r = client(unsigned=True).GenerateRandom(req(models.GenerateRandomRequest, NumberOfBytes=9))
    assert len(base64.b64decode(r.Plaintext)) == 9


def test_key_sets_and_service_actions():
    key = state['key']
    r = kms.DescribeKeys(req(models.DescribeKeysRequest, KeyIds=[key]))
    assert [m.Alias for m in r.KeyMetadatas] == ['sdk-key'], r
    expect_error('InvalidParameterValue.DuplicatedKeyId',
                 lambda: kms.DescribeKeys(req(models.DescribeKeysRequest, KeyIds=[key, key])))
    kms.DisableKeys(req(models.DisableKeysRequest, KeyIds=[key]))
    assert kms.DescribeKey(req(models.DescribeKeyRequest, KeyId=key)).KeyMetadata.KeyState == 'Disabled'
    kms.EnableKeys(req(models.EnableKeysRequest, KeyIds=[key]))
    d = kms.ListKeyDetail(req(models.ListKeyDetailRequest, SearchKeyAlias='sdk-key', Limit=5))
    assert d.TotalCount == 1 and d.KeyMetadatas[0].KeyState == 'Enabled', d
    # A GET carries the list as KeyIds.0=...
    g = client(method='GET').DescribeKeys(req(models.DescribeKeysRequest, KeyIds=[key]))
    assert g.KeyMetadatas[0].KeyId == key
    s = kms.GetServiceStatus(models.GetServiceStatusRequest())
    assert s.ServiceEnabled is True and s.InvalidType == 1, s
    assert kms.GetRegions(models.GetRegionsRequest()).Regions == [REGION]
    a = kms.ListAlgorithms(models.ListAlgorithmsRequest())
    assert [(x.KeyUsage, x.Algorithm) for x in a.SymmetricAlgorithms] == [('ENCRYPT_DECRYPT', 'AES_256')]


def test_signature_failures():
    g = req(models.GenerateRandomRequest, NumberOfBytes=8)
    expect_error('AuthFailure.SignatureFailure', lambda: client(skey='wrong-key').GenerateRandom(g))
    expect_error('AuthFailure.SecretIdNotFound', lambda: client(sid='AKIDunknown').GenerateRandom(g))
    # The server's pair is permanent: a temporary credential's X-TC-Token with it is refused.
    expect_error('AuthFailure.TokenFailure', lambda: client(token='a-session-token').GenerateRandom(g))


def test_unknown_and_unsupported_actions():
    expect_error('InvalidAction', lambda: kms.call_json('Fly', {}))
    e = expect_error('UnsupportedOperation',
                     lambda: kms.GetPublicKey(req(models.GetPublicKeyRequest, KeyId=state['key'])))
    assert 'GetPublicKey' in e.get_message()


TESTS = [v for k, v in list(globals().items()) if k.startswith('test_')]

if __name__ == '__main__':
    passed = failed = 0
    for t in TESTS:
        try:
            t()
            passed += 1
            print(f'ok   {t.__name__}')
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f'FAIL {t.__name__}')
            traceback.print_exc(file=sys.stdout)
    print(f'{passed} passed, {failed} failed')
    sys.exit(1 if failed else 0)
