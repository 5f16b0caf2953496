#!/usr/bin/env python3
"""Independent derivation of blob_v2.hex from the format in docs/kms-blob.md (code: kms-server/src/blob.rs), with the
`cryptography` package (not the Rust code): XAES-256-GCM as c2sp.org/XAES-256-GCM defines it, its key
derivation through the package's AES-CMAC. Prints the hex that blob_v2.hex must hold."""
import struct
import uuid

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

material, nonce = b"\x11" * 32, b"\x44" * 24
key_id = uuid.UUID("0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b").bytes
header = b"KB" + bytes([2]) + key_id + struct.pack(">I", 2) + nonce
pairs = sorted({"bucket": "examplebucket-1250000000", "a": "b"}.items())
canonical = struct.pack(">I", len(pairs)) + b"".join(
    struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode() for k, v in pairs
)


def cmac(message):
    c = CMAC(algorithms.AES(material))
    c.update(message)
    return c.finalize()


message_key = b"".join(cmac(bytes([0, i, 0x58, 0]) + nonce[:12]) for i in (1, 2))
ct = AESGCM(message_key).encrypt(nonce[12:], b"test vector plaintext", header + canonical)
print((header + ct).hex())
