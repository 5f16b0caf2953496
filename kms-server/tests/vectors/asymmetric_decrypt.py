"""Makes asymmetric_decrypt.txt: ciphertexts made by implementations other than ours under the test
keys of asymmetric.txt (Python `cryptography` for RSAES-PKCS1-v1_5 and RSAES-OAEP with SHA-1 and
SHA-256, `gmssl` for SM2 in the C1C3C2 order), which AsymmetricRsaDecrypt and AsymmetricSm2Decrypt
must open. Run with kms-server/sdk/.venv (install.sh) from this folder. Encryption is randomised:
running it again makes other, equally valid vectors."""
import base64

from Cryptodome.Util.asn1 import DerInteger, DerOctetString, DerSequence
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from gmssl import sm2

known = dict(l.strip().split("=", 1) for l in open("asymmetric.txt") if "=" in l and not l.startswith("#"))
MSG = b"attack at dawn"
out = {"plaintext_hex": MSG.hex()}
r = serialization.load_der_private_key(base64.b64decode(known["rsa_pkcs8"]), None)
pub = r.public_key()
oaep = lambda h: padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)
out["rsa_pkcs1_v1_5_by_python"] = base64.b64encode(pub.encrypt(MSG, padding.PKCS1v15())).decode()
out["rsa_oaep_sha_1_by_python"] = base64.b64encode(pub.encrypt(MSG, oaep(hashes.SHA1()))).decode()
out["rsa_oaep_sha_256_by_python"] = base64.b64encode(pub.encrypt(MSG, oaep(hashes.SHA256()))).decode()
# gmssl gives C1 (x || y, without the 04 prefix) || C3 || C2 in mode 1.
c = sm2.CryptSM2(private_key=known["sm2_private_scalar"], public_key=known["sm2_public_point"][2:], mode=1)
ct = c.encrypt(MSG)
assert c.decrypt(ct) == MSG
out["sm2_c1c3c2_by_gmssl"] = base64.b64encode(ct).decode()
x, y, c3, c2 = ct[:32], ct[32:64], ct[64:96], ct[96:]
asn1 = DerSequence([int.from_bytes(x, "big"), int.from_bytes(y, "big"), DerOctetString(c3), DerOctetString(c2)]).encode()
out["sm2_c1c3c2_asn1_by_gmssl"] = base64.b64encode(asn1).decode()
with open("asymmetric_decrypt.txt", "w") as f:
    f.write("# Known answers for asymmetric decryption (kms-server/src/asymmetric/decrypt.rs): ciphertexts made\n")
    f.write("# under the keys of asymmetric.txt by Python `cryptography` 46.0.7 (RSA) and `gmssl` 3.2.2 (SM2), by\n")
    f.write("# asymmetric_decrypt.py. Keys are test keys only. One `name=value` per line, base64 unless _hex.\n")
    for name, value in out.items():
        f.write(f"{name}={value}\n")
