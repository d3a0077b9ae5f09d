"""The agent's AES (through the ssl module's libcrypto) agrees with cryptography's."""

from __future__ import annotations

import os
import sys

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent.network import aes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the ctypes path is Linux's")
def test_linux_uses_the_ssl_modules_libcrypto() -> None:
    assert aes.uses_libcrypto()


def test_header_protection_block_matches_cryptography() -> None:
    for _ in range(20):
        key, block = os.urandom(16), os.urandom(16)
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        assert aes.aes128_ecb_block(key, block) == encryptor.update(block) + encryptor.finalize()


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1200, 1452])
def test_gcm_open_matches_cryptography_and_refuses_altered_packets(size: int) -> None:
    key, nonce, aad, plain = os.urandom(16), os.urandom(12), os.urandom(24), os.urandom(size)
    sealed = AESGCM(key).encrypt(nonce, plain, aad)
    assert aes.aes128_gcm_open(key, nonce, sealed, aad) == plain
    for position in (0, len(sealed) - 1):
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        assert aes.aes128_gcm_open(key, nonce, bytes(altered), aad) is None
    assert aes.aes128_gcm_open(key, nonce, sealed, aad + b"x") is None
    assert aes.aes128_gcm_open(os.urandom(16), nonce, sealed, aad) is None
    assert aes.aes128_gcm_open(key, nonce, sealed[:15], aad) is None
