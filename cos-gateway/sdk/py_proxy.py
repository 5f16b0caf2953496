#!/usr/bin/env python3
# -*- coding=utf-8
"""The Python SDK in proxy mode (spec §6.1): `Proxies={'http': gateway}` sends absolute-form
targets with the real virtual host, so the high-level `copy()` (whose internal HEAD ignores IP/Port)
works too. Plain HTTP: the gateway runs with --allow-ssec-over-http (a test convenience).
Environment: COS_SECRET_ID, COS_SECRET_KEY, GW_PORT. Prints 'N passed, M failed'.
"""
import base64
import os
import sys
import traceback
import logging

from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_comm import get_md5, to_bytes
from qcloud_cos.cos_exception import CosServiceError

logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
logging.getLogger('qcloud_cos').setLevel(logging.CRITICAL)

region = 'ap-beijing'
proxy = 'http://127.0.0.1:%s' % os.environ['GW_PORT']
config = CosConfig(Region=region, SecretId=os.environ['COS_SECRET_ID'], SecretKey=os.environ['COS_SECRET_KEY'],
                   Scheme='http', Proxies={'http': proxy})
client = CosS3Client(config)
bucket = 'examplebucket-1250000000'
file_name = 'sdk-sse-c'

ssec_secret = '00000000000000000000000000000001'
ssec_key = base64.standard_b64encode(to_bytes(ssec_secret))
ssec_key_md5 = get_md5(ssec_secret)
dest_ssec_secret = '00000000000000000000000000000002'
dest_ssec_key = base64.standard_b64encode(to_bytes(dest_ssec_secret))
dest_ssec_key_md5 = get_md5(dest_ssec_secret)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def seed_sse_c_copy_with_the_advanced_api():
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key=file_name, Body="00000",
                      SSECustomerAlgorithm='AES256', SSECustomerKey=ssec_key, SSECustomerKeyMD5=ssec_key_md5)
    copy_source = {'Bucket': bucket, 'Key': file_name, 'Region': region}
    # shared/seeds/003: "(Advanced API) Copy an SSE-C encrypted object".
    client.copy(Bucket=bucket, Key='sdk-sse-c-copy', CopySource=copy_source, MAXThread=2,
                SSECustomerAlgorithm='AES256', SSECustomerKey=dest_ssec_key, SSECustomerKeyMD5=dest_ssec_key_md5,
                CopySourceSSECustomerAlgorithm='AES256', CopySourceSSECustomerKey=ssec_key,
                CopySourceSSECustomerKeyMD5=ssec_key_md5)
    got = client.get_object(Bucket=bucket, Key='sdk-sse-c-copy', SSECustomerAlgorithm='AES256',
                            SSECustomerKey=dest_ssec_key, SSECustomerKeyMD5=dest_ssec_key_md5)
    check(got['Body'].get_raw_stream().read() == b'00000', 'copy content')
    try:
        client.get_object(Bucket=bucket, Key='sdk-sse-c-copy')
        raise AssertionError('read without the key succeeded')
    except CosServiceError as e:
        check(e.get_error_code() == 'SsecDecryptHeaderInvalid', e.get_error_code())


def kms_copy_with_the_advanced_api():
    client.put_object(Bucket=bucket, Key='kms-src', Body=b'kms body', ServerSideEncryption='cos/kms')
    client.copy(Bucket=bucket, Key='kms-dst', CopySource={'Bucket': bucket, 'Key': 'kms-src', 'Region': region},
                ServerSideEncryption='AES256')
    got = client.get_object(Bucket=bucket, Key='kms-dst')
    check(got['x-cos-server-side-encryption'] == 'AES256', 'destination mode')
    check(got['Body'].get_raw_stream().read() == b'kms body', 'content')


def main():
    passed = failed = 0
    for t in [seed_sse_c_copy_with_the_advanced_api, kms_copy_with_the_advanced_api]:
        try:
            t()
            passed += 1
            print('ok   python-proxy %s' % t.__name__, flush=True)
        except Exception:
            failed += 1
            print('FAIL python-proxy %s' % t.__name__, flush=True)
            traceback.print_exc(file=sys.stdout)
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
