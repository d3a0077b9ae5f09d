"""The two AES operations QUIC Initial packets need, from the libcrypto the ssl module loaded.

Removing Initial protection (RFC 9001 5.4.3, 5.3) takes one AES-128-ECB block for the header
mask and one AES-128-GCM open for the payload. The interpreter's ssl module already has
OpenSSL's libcrypto in memory, so these call it through ctypes; importing cryptography for them
would add about 10 MB to the idle agent's resident memory. Where that libcrypto cannot be
reached (an interpreter without a shared ``_ssl``, Windows), cryptography does the work.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

_TAG_BYTES = 16
_EVP_CTRL_GCM_SET_TAG = 0x11


@functools.cache
def _libcrypto() -> Any | None:
    """The EVP functions of the ssl module's libcrypto, or None when they cannot be reached."""
    try:
        import _ssl

        # dlsym on the extension's handle also searches what it links: libcrypto.
        lib: Any = ctypes.CDLL(_ssl.__file__)
        ctx, cipher, buf, out_len = (
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
        )
        signatures: dict[str, tuple[Any, list[Any]]] = {
            "EVP_CIPHER_CTX_new": (ctx, []),
            "EVP_CIPHER_CTX_free": (None, [ctx]),
            "EVP_CIPHER_CTX_set_padding": (ctypes.c_int, [ctx, ctypes.c_int]),
            "EVP_CIPHER_CTX_ctrl": (ctypes.c_int, [ctx, ctypes.c_int, ctypes.c_int, buf]),
            "EVP_aes_128_ecb": (cipher, []),
            "EVP_aes_128_gcm": (cipher, []),
            "EVP_EncryptInit_ex": (ctypes.c_int, [ctx, cipher, ctypes.c_void_p, buf, buf]),
            "EVP_EncryptUpdate": (ctypes.c_int, [ctx, buf, out_len, buf, ctypes.c_int]),
            "EVP_DecryptInit_ex": (ctypes.c_int, [ctx, cipher, ctypes.c_void_p, buf, buf]),
            "EVP_DecryptUpdate": (ctypes.c_int, [ctx, buf, out_len, buf, ctypes.c_int]),
            "EVP_DecryptFinal_ex": (ctypes.c_int, [ctx, buf, out_len]),
        }
        for name, (restype, argtypes) in signatures.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
    except (ImportError, AttributeError, OSError):
        return None
    return lib


def uses_libcrypto() -> bool:
    """Tell whether AES runs on the ssl module's libcrypto (else on cryptography)."""
    return _libcrypto() is not None


def aes128_ecb_block(key: bytes, block: bytes) -> bytes:
    """Encrypt one 16-byte block with AES-128 (the QUIC header-protection mask)."""
    lib = _libcrypto()
    if lib is None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - RFC 9001
        return encryptor.update(block) + encryptor.finalize()
    if len(key) != 16 or len(block) != 16:
        raise ValueError("AES-128 takes a 16-byte key and a 16-byte block")
    ctx = lib.EVP_CIPHER_CTX_new()
    if not ctx:
        raise MemoryError("EVP_CIPHER_CTX_new failed")
    try:
        out = ctypes.create_string_buffer(32)
        written = ctypes.c_int(0)
        if not (
            lib.EVP_EncryptInit_ex(ctx, lib.EVP_aes_128_ecb(), None, key, None) == 1
            and lib.EVP_CIPHER_CTX_set_padding(ctx, 0) == 1
            and lib.EVP_EncryptUpdate(ctx, out, ctypes.byref(written), block, 16) == 1
            and written.value == 16
        ):
            raise ValueError("AES-128-ECB failed")
        return out.raw[:16]
    finally:
        lib.EVP_CIPHER_CTX_free(ctx)


def aes128_gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes | None:
    """Return the plaintext of AES-128-GCM ``sealed`` (ciphertext, then the 16-byte tag).

    None when the tag does not verify (not an Initial of this connection, or altered).
    """
    lib = _libcrypto()
    if lib is None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            return AESGCM(key).decrypt(nonce, sealed, aad)
        except InvalidTag:
            return None
    if len(key) != 16 or len(nonce) != 12:
        raise ValueError("AES-128-GCM takes a 16-byte key and a 12-byte nonce")
    if len(sealed) < _TAG_BYTES:
        return None
    body, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
    ctx = lib.EVP_CIPHER_CTX_new()
    if not ctx:
        raise MemoryError("EVP_CIPHER_CTX_new failed")
    try:
        out = ctypes.create_string_buffer(len(body) + _TAG_BYTES)
        written, final = ctypes.c_int(0), ctypes.c_int(0)
        if not (
            lib.EVP_DecryptInit_ex(ctx, lib.EVP_aes_128_gcm(), None, key, nonce) == 1
            and lib.EVP_DecryptUpdate(ctx, None, ctypes.byref(written), aad, len(aad)) == 1
            and lib.EVP_DecryptUpdate(ctx, out, ctypes.byref(written), body, len(body)) == 1
            and lib.EVP_CIPHER_CTX_ctrl(ctx, _EVP_CTRL_GCM_SET_TAG, _TAG_BYTES, tag) == 1
        ):
            raise ValueError("AES-128-GCM failed")
        # GCM has no final block: Final only checks the tag (and writes nothing).
        rest = ctypes.create_string_buffer(_TAG_BYTES)
        if lib.EVP_DecryptFinal_ex(ctx, rest, ctypes.byref(final)) != 1:
            return None  # the tag does not verify
        return out.raw[: written.value] + rest.raw[: final.value]
    finally:
        lib.EVP_CIPHER_CTX_free(ctx)
