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
                     lambda: kms.ListDataKeys(req(models.ListDataKeysRequest)))
    assert 'ListDataKeys' in e.get_message()


# (KeyUsage, Algorithm, digest) of every signing key: the SDK signs through us, Python
# `cryptography` (RSA, ECDSA) and `gmssl` (SM2) verify with the key from GetPublicKey.
SIGNING = [
    ('ASYMMETRIC_SIGN_VERIFY_ECC', 'ECC_P256_R1', 'sha256'),
    ('ASYMMETRIC_SIGN_VERIFY_ECDSA384', 'ECDSA384', 'sha384'),
    ('ASYMMETRIC_SIGN_VERIFY_RSA_2048', 'RSA_PSS_SHA_256', 'sha256'),
    ('ASYMMETRIC_SIGN_VERIFY_RSA_2048', 'RSA_PKCS1_SHA_256', 'sha256'),
    ('ASYMMETRIC_SIGN_VERIFY_SM2', 'SM2DSA', 'sm3'),
]


def independent_verify(alg, public_der, message, signature, digest=False):
    """Verifies with an implementation that is not ours; `digest`: `message` is the digest."""
    if alg == 'SM2DSA':
        from gmssl import sm2
        v = sm2.CryptSM2(private_key='', public_key='', asn1=True)
        # The uncompressed point ends the SubjectPublicKeyInfo (gmssl's own "04" strip is unsafe).
        v.public_key = public_der[-64:].hex()
        if digest:
            return bool(v.verify(signature.hex(), message))
        return bool(v.verify_with_sm3(signature.hex(), message))
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
    key = serialization.load_der_public_key(public_der)
    h = hashes.SHA384() if alg == 'ECDSA384' else hashes.SHA256()
    algo = utils.Prehashed(h) if digest else h
    try:
        if alg in ('ECC_P256_R1', 'ECDSA384'):
            key.verify(signature, message, ec.ECDSA(algo))
        elif alg == 'RSA_PSS_SHA_256':
            key.verify(signature, message, padding.PSS(padding.MGF1(hashes.SHA256()), 32), algo)
        else:
            key.verify(signature, message, padding.PKCS1v15(), algo)
        return True
    except InvalidSignature:
        return False


def sm2_digest(public_der, message):
    """SM3(Z || M) with the default user id, computed by gmssl."""
    from gmssl import sm2
    v = sm2.CryptSM2(private_key='', public_key='')
    v.public_key = public_der[-64:].hex()
    return bytes.fromhex(v._sm3_z(message))


def test_asymmetric_signatures_cross_check():
    import hashlib
    from cryptography.hazmat.primitives import serialization
    for i, (usage, alg, hname) in enumerate(SIGNING):
        r = kms.CreateKey(req(models.CreateKeyRequest, Alias=f'sdk-sign-{i}', KeyUsage=usage))
        assert r.KeyUsage == usage and r.KeyState == 'Enabled', r
        m = kms.DescribeKey(req(models.DescribeKeyRequest, KeyId=r.KeyId)).KeyMetadata
        assert m.KeyUsage == usage, m
        pk = kms.GetPublicKey(req(models.GetPublicKeyRequest, KeyId=r.KeyId))
        der = base64.b64decode(pk.PublicKey)
        assert pk.KeyId == r.KeyId
        assert pk.PublicKeyPem.startswith('-----BEGIN PUBLIC KEY-----\n'), pk.PublicKeyPem
        if alg != 'SM2DSA':
            pem_der = serialization.load_pem_public_key(pk.PublicKeyPem.encode()).public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            assert pem_der == der, alg
        message = f'document {i} signed by {alg}'.encode()

        def sign(msg, kind):
            s = kms.SignByAsymmetricKey(req(models.SignByAsymmetricKeyRequest, KeyId=r.KeyId,
                                            Algorithm=alg, Message=b64(msg), MessageType=kind))
            return base64.b64decode(s.Signature)

        def verify(msg, sig, kind='RAW'):
            return kms.VerifyByAsymmetricKey(req(
                models.VerifyByAsymmetricKeyRequest, KeyId=r.KeyId, Algorithm=alg,
                Message=b64(msg), SignatureValue=b64(sig), MessageType=kind)).SignatureValid

        sig = sign(message, 'RAW')
        assert independent_verify(alg, der, message, sig), f'{alg}: RAW signature refused by Python'
        assert not independent_verify(alg, der, message + b'!', sig), alg
        assert verify(message, sig) is True, alg
        assert verify(message + b'!', sig) is False, alg
        bad = bytearray(sig)
        bad[len(bad) // 2] ^= 1
        assert verify(message, bytes(bad)) is False, alg
        digest = sm2_digest(der, message) if alg == 'SM2DSA' else hashlib.new(hname, message).digest()
        dsig = sign(digest, 'DIGEST')
        assert independent_verify(alg, der, digest, dsig, digest=True), f'{alg}: DIGEST signature'
        # A DIGEST signature is the RAW signature of the message it digests.
        assert verify(message, dsig) is True, alg
        assert verify(digest, sig, 'DIGEST') is True, alg
        expect_error('InvalidParameterValue', lambda: sign(digest[:-1], 'DIGEST'))
    expect_error('InvalidParameterValue.InvalidKeyUsage', lambda: kms.SignByAsymmetricKey(req(
        models.SignByAsymmetricKeyRequest, KeyId=state['key'], Algorithm='SM2DSA', Message=b64(b'm'))))
    expect_error('InvalidParameterValue.InvalidKeyUsage', lambda: kms.GetPublicKey(req(
        models.GetPublicKeyRequest, KeyId=state['key'])))


def test_signatures_made_by_python_verify_here():
    """Signatures made by `cryptography` with a key we do not hold verify under ours only when
    they are ours: a foreign key's signature is refused, ours (same message) accepted."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    r = kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-foreign', KeyUsage='ASYMMETRIC_SIGN_VERIFY_ECC'))
    foreign = ec.generate_private_key(ec.SECP256R1()).sign(b'm', ec.ECDSA(hashes.SHA256()))
    v = kms.VerifyByAsymmetricKey(req(models.VerifyByAsymmetricKeyRequest, KeyId=r.KeyId,
                                      Algorithm='ECC_P256_R1', Message=b64(b'm'), SignatureValue=b64(foreign)))
    assert v.SignatureValid is False


def gmssl_sm2_encrypt(public_der, message):
    """C1 || C3 || C2 by gmssl (C1 without its 04 prefix, as gmssl gives it)."""
    from gmssl import sm2
    c = sm2.CryptSM2(private_key='', public_key=public_der[-64:].hex(), mode=1)
    return c.encrypt(message)


def sm2_asn1(c1c3c2):
    """The ASN.1 form (GM/T 0009, Tencent's C1C3C2_ASN1) of a bare C1C3C2 ciphertext."""
    from Cryptodome.Util.asn1 import DerOctetString, DerSequence
    x, y, c3, c2 = c1c3c2[:32], c1c3c2[32:64], c1c3c2[64:96], c1c3c2[96:]
    return DerSequence([int.from_bytes(x, 'big'), int.from_bytes(y, 'big'),
                        DerOctetString(c3), DerOctetString(c2)]).encode()


def test_asymmetric_decryption_of_python_ciphertexts():
    """Ciphertexts made by `cryptography` (RSAES-PKCS1-v1_5, OAEP-SHA-1, OAEP-SHA-256) and gmssl
    (SM2, bare and ASN.1) under the public key from GetPublicKey open through the SDK's
    AsymmetricRsaDecrypt and AsymmetricSm2Decrypt; tampering is one opaque error."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    message = b'a secret for the KMS only'
    r = kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-rsa-dec', KeyUsage='ASYMMETRIC_DECRYPT_RSA_2048'))
    der = base64.b64decode(kms.GetPublicKey(req(models.GetPublicKeyRequest, KeyId=r.KeyId)).PublicKey)
    public = serialization.load_der_public_key(der)
    oaep = lambda h: padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)
    paddings = {'RSAES_PKCS1_V1_5': padding.PKCS1v15(), 'RSAES_OAEP_SHA_1': oaep(hashes.SHA1()),
                'RSAES_OAEP_SHA_256': oaep(hashes.SHA256())}

    def rsa_decrypt(ct, alg):
        return kms.AsymmetricRsaDecrypt(req(models.AsymmetricRsaDecryptRequest, KeyId=r.KeyId,
                                            Ciphertext=b64(ct), Algorithm=alg))

    for alg, pad in paddings.items():
        out = rsa_decrypt(public.encrypt(message, pad), alg)
        assert out.KeyId == r.KeyId and base64.b64decode(out.Plaintext) == message, alg
        bad = bytearray(public.encrypt(message, pad))
        bad[7] ^= 1
        e = expect_error('InvalidParameterValue.InvalidCiphertext', lambda: rsa_decrypt(bytes(bad), alg))
        assert e.get_message() == 'invalid ciphertext', e.get_message()
    expect_error('InvalidParameterValue', lambda: rsa_decrypt(b'x' * 255, 'RSAES_OAEP_SHA_256'))
    expect_error('InvalidParameterValue', lambda: rsa_decrypt(b'x' * 256, 'RSAES_OAEP_SHA_384'))

    s = kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-sm2-dec', KeyUsage='ASYMMETRIC_DECRYPT_SM2'))
    sder = base64.b64decode(kms.GetPublicKey(req(models.GetPublicKeyRequest, KeyId=s.KeyId)).PublicKey)

    def sm2_decrypt(ct):
        return kms.AsymmetricSm2Decrypt(req(models.AsymmetricSm2DecryptRequest, KeyId=s.KeyId,
                                            Ciphertext=b64(ct)))

    bare = gmssl_sm2_encrypt(sder, message)
    for ct in (bare, b'\x04' + bare, sm2_asn1(bare)):
        out = sm2_decrypt(ct)
        assert out.KeyId == s.KeyId and base64.b64decode(out.Plaintext) == message, ct.hex()
    bad = bytearray(bare)
    bad[-1] ^= 1
    expect_error('InvalidParameterValue.InvalidCiphertext', lambda: sm2_decrypt(bytes(bad)))
    # The other kind's action, and a symmetric key: wrong usage.
    expect_error('InvalidParameterValue.InvalidKeyUsage', lambda: kms.AsymmetricSm2Decrypt(req(
        models.AsymmetricSm2DecryptRequest, KeyId=r.KeyId, Ciphertext=b64(bare))))
    expect_error('InvalidParameterValue.InvalidKeyUsage', lambda: kms.AsymmetricRsaDecrypt(req(
        models.AsymmetricRsaDecryptRequest, KeyId=state['key'], Ciphertext=b64(b'x' * 256),
        Algorithm='RSAES_PKCS1_V1_5')))


def test_data_keys_sealed_under_a_python_public_key():
    """GenerateDataKey and Decrypt with EncryptionPublicKey: the Plaintext comes back sealed under
    a key pair made here by `cryptography` (RSA) or `gmssl` (SM2), and only its private key opens
    it, to the data key Decrypt gives in clear."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from gmssl import sm2
    k = kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-sealed-dk')).KeyId
    r = rsa.generate_private_key(65537, 2048)
    rsa_pem = r.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    oaep = lambda h: padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)
    d = '3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8'
    g = sm2.CryptSM2(private_key=d, public_key='', mode=1)
    point = g._kg(int(d, 16), g.ecc_table['g'])
    g.public_key = point
    spki = bytes.fromhex('3059301306072a8648ce3d020106082a811ccf5501822d03420004' + point)
    sm2_pem = '-----BEGIN PUBLIC KEY-----\n' + base64.b64encode(spki).decode() + '\n-----END PUBLIC KEY-----\n'
    opens = {
        'RSAES_PKCS1_V1_5': lambda c: r.decrypt(c, padding.PKCS1v15()),
        'RSAES_OAEP_SHA_1': lambda c: r.decrypt(c, oaep(hashes.SHA1())),
        'RSAES_OAEP_SHA_256': lambda c: r.decrypt(c, oaep(hashes.SHA256())),
        # gmssl takes C1 without its 04 prefix.
        'SM2': lambda c: g.decrypt(c[1:]),
    }
    for alg, open_ in opens.items():
        pem = sm2_pem if alg == 'SM2' else rsa_pem
        dk = kms.GenerateDataKey(req(models.GenerateDataKeyRequest, KeyId=k, KeySpec='AES_256',
                                     EncryptionPublicKey=pem, EncryptionAlgorithm=alg))
        clear = base64.b64decode(kms.Decrypt(req(models.DecryptRequest,
                                                 CiphertextBlob=dk.CiphertextBlob)).Plaintext)
        assert len(clear) == 32
        sealed = base64.b64decode(dk.Plaintext)
        assert sealed != clear and open_(sealed) == clear, alg
        again = kms.Decrypt(req(models.DecryptRequest, CiphertextBlob=dk.CiphertextBlob,
                                EncryptionPublicKey=pem, EncryptionAlgorithm=alg))
        assert open_(base64.b64decode(again.Plaintext)) == clear, alg
    expect_error('InvalidParameterValue', lambda: kms.GenerateDataKey(req(
        models.GenerateDataKeyRequest, KeyId=k, KeySpec='AES_256', EncryptionPublicKey=rsa_pem)))


def test_bring_your_own_key():
    """CreateKey Type=2, GetParametersForImport, material wrapped by `cryptography` (OAEP-SHA-1 and
    OAEP-SHA-256) under the returned PublicKey, ImportKeyMaterial, Encrypt and Decrypt; after
    DeleteImportedKeyMaterial the ciphertext stops opening, and the same material reopens it."""
    import time
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    r = kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-byok', Type=2))
    assert r.KeyState == 'PendingImport', r.KeyState
    k = r.KeyId
    m = kms.DescribeKey(req(models.DescribeKeyRequest, KeyId=k)).KeyMetadata
    assert (m.Origin, m.KeyState) == ('EXTERNAL', 'PendingImport'), (m.Origin, m.KeyState)
    expect_error('ResourceUnavailable.CmkStateNotSupport', lambda: kms.Encrypt(req(
        models.EncryptRequest, KeyId=k, Plaintext=b64(b'x'))))
    material = os.urandom(32)
    hashes_of = {'RSAES_OAEP_SHA_1': hashes.SHA1(), 'RSAES_OAEP_SHA_256': hashes.SHA256()}

    def params(alg):
        p = kms.GetParametersForImport(req(models.GetParametersForImportRequest, KeyId=k,
                                           WrappingAlgorithm=alg, WrappingKeySpec='RSA_2048'))
        assert p.KeyId == k and p.ParametersValidTo > time.time(), p.ParametersValidTo
        public = serialization.load_der_public_key(base64.b64decode(p.PublicKey))
        h = hashes_of[alg]
        wrap = lambda data: b64(public.encrypt(data, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)))
        return p.ImportToken, wrap

    def import_(token, wrapped, valid_to=0):
        return kms.ImportKeyMaterial(req(models.ImportKeyMaterialRequest, KeyId=k,
                                         EncryptedKeyMaterial=wrapped, ImportToken=token, ValidTo=valid_to))

    token, wrap = params('RSAES_OAEP_SHA_256')
    expect_error('InvalidParameterValue', lambda: import_('not-the-token', wrap(material)))
    expect_error('InvalidParameterValue', lambda: import_(token, wrap(material[:16])))
    valid_to = int(time.time()) + 3600
    import_(token, wrap(material), valid_to)
    m = kms.DescribeKey(req(models.DescribeKeyRequest, KeyId=k)).KeyMetadata
    assert (m.KeyState, m.ValidTo) == ('Enabled', valid_to), (m.KeyState, m.ValidTo)
    expect_error('UnsupportedOperation.ExternalCmkCanNotRotate', lambda: kms.EnableKeyRotation(req(
        models.EnableKeyRotationRequest, KeyId=k)))
    blob = kms.Encrypt(req(models.EncryptRequest, KeyId=k, Plaintext=b64(b'byok'))).CiphertextBlob
    out = kms.Decrypt(req(models.DecryptRequest, CiphertextBlob=blob))
    assert base64.b64decode(out.Plaintext) == b'byok'

    token, wrap = params('RSAES_OAEP_SHA_1')
    expect_error('InvalidParameterValue.MaterialNotMatch', lambda: import_(token, wrap(os.urandom(32))))
    kms.DeleteImportedKeyMaterial(req(models.DeleteImportedKeyMaterialRequest, KeyId=k))
    m = kms.DescribeKey(req(models.DescribeKeyRequest, KeyId=k)).KeyMetadata
    assert m.KeyState == 'PendingImport', m.KeyState
    expect_error('ResourceUnavailable.CmkStateNotSupport', lambda: kms.Decrypt(req(
        models.DecryptRequest, CiphertextBlob=blob)))
    import_(token, wrap(material))
    out = kms.Decrypt(req(models.DecryptRequest, CiphertextBlob=blob))
    assert base64.b64decode(out.Plaintext) == b'byok'

    own = kms.CreateKey(req(models.CreateKeyRequest, Alias='sdk-byok-own')).KeyId
    expect_error('UnsupportedOperation.NotExternalCmk', lambda: kms.GetParametersForImport(req(
        models.GetParametersForImportRequest, KeyId=own, WrappingAlgorithm='RSAES_OAEP_SHA_1',
        WrappingKeySpec='RSA_2048')))
    expect_error('UnsupportedOperation.NotExternalCmk', lambda: kms.DeleteImportedKeyMaterial(req(
        models.DeleteImportedKeyMaterialRequest, KeyId=own)))


if __name__ == '__main__':
    import conformance_runner
    conformance_runner.run(globals())
