#!/usr/bin/env python3
"""Independent derivation of blob_v1.hex from the format in docs/kms-blob.md (code: kms-server/src/blob.rs), with the
`cryptography` package (not the Rust code): prints the hex that blob_v1.hex must hold."""
import struct
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

material, salt, nonce = b"\x11" * 32, b"\x22" * 32, b"\x33" * 12
key_id = uuid.UUID("0f8e4c2a-6b1d-4e3f-9a7b-5c6d7e8f9a0b").bytes
header = b"KB" + bytes([1]) + key_id + struct.pack(">I", 2) + salt + nonce
pairs = sorted({"bucket": "examplebucket-1250000000", "a": "b"}.items())
canonical = struct.pack(">I", len(pairs)) + b"".join(
    struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode() for k, v in pairs
)
message_key = HKDF(hashes.SHA256(), 32, salt, b"kms/v1/blob-key").derive(material)
ct = AESGCM(message_key).encrypt(nonce, b"test vector plaintext", header + canonical)
print((header + ct).hex())
