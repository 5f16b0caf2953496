"""Makes asymmetric.txt: fixed test keys and signatures made by implementations other than ours
(Python `cryptography` for P-256 and RSA-2048, `gmssl` for SM2). Run with kms-server/sdk/.venv
(install.sh). RSA keys and ECDSA/SM2/PSS signatures are random: running it again makes other,
equally valid vectors."""
import base64

from Cryptodome.Util.asn1 import DerSequence
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from gmssl import func, sm2

MSG = b"abc"
der = serialization.Encoding.DER
out = {"message_hex": MSG.hex()}
k = ec.derive_private_key(0x1f2e3d4c5b6a79880f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778, ec.SECP256R1())
out["p256_pkcs8"] = base64.b64encode(k.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode()
out["p256_spki"] = base64.b64encode(k.public_key().public_bytes(der, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
out["p256_sig_by_python"] = k.sign(MSG, ec.ECDSA(hashes.SHA256())).hex()
r = rsa.generate_private_key(65537, 2048)
out["rsa_pkcs8"] = base64.b64encode(r.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode()
out["rsa_spki"] = base64.b64encode(r.public_key().public_bytes(der, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
out["rsa_pkcs1_sha256_by_python"] = r.sign(MSG, padding.PKCS1v15(), hashes.SHA256()).hex()
out["rsa_pss_sha256_by_python"] = r.sign(MSG, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()).hex()
d = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
c = sm2.CryptSM2(private_key=d, public_key="")
c.public_key = c._kg(int(d, 16), c.ecc_table['g'])
sig = c.sign_with_sm3(MSG, func.random_hex(c.para_len))
out["sm2_private_scalar"] = d
out["sm2_public_point"] = "04" + c.public_key
out["sm2_sig_by_gmssl_der"] = DerSequence([int(sig[:64], 16), int(sig[64:], 16)]).encode().hex()
with open("asymmetric.txt", "w") as f:
    f.write("# Known answers for the asymmetric keys (kms-server/src/asymmetric.rs), made by independent\n")
    f.write("# implementations: Python `cryptography` 46.0.7 (P-256, RSA-2048) and `gmssl` 3.2.2 (SM2), by\n")
    f.write("# asymmetric.py. Keys are test keys only. One `name=value` per line.\n")
    for name, value in out.items():
        f.write(f"{name}={value}\n")
