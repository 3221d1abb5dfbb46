"""SM4 / 3DES, key diversification, MAC and cryptogram against independent computations."""

from __future__ import annotations

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from printers.devices.chip import crypto
from printers.devices.chip.crypto import CipherSuite, KeyUsage
from printers.devices.simulators.psam import SimulatedPsam
from sscard_core.errors import ProtocolError

# GB/T 32907-2016 appendix A, example 1.
SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")
SM4_CIPHERTEXT = bytes.fromhex("681edf34d206965e86b3e94f536e4246")
IDENTIFIER = "110000D156000005"
CHALLENGE = bytes.fromhex("1122334455667788")


def reference_cbc_mac_sm4(key: bytes, challenge: bytes, message: bytes) -> bytes:
    """CBC-MAC written out with the library's CBC mode: pad 80 00.., IV = challenge || 0*8."""
    padded = message + b"\x80" + bytes(-(len(message) + 1) % 16)
    iv = challenge + bytes(8)
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return (encryptor.update(padded) + encryptor.finalize())[-16:][:4]


def reference_cbc_mac_3des(key: bytes, challenge: bytes, message: bytes) -> bytes:
    padded = message + b"\x80" + bytes(-(len(message) + 1) % 8)
    encryptor = Cipher(TripleDES(key + key[:8]), modes.CBC(challenge)).encryptor()
    return (encryptor.update(padded) + encryptor.finalize())[-8:][:4]


def sm4_ecb(key: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def test_sm4_known_answer() -> None:
    assert crypto.Sm4Cipher(SM4_KEY).encrypt(SM4_KEY) == SM4_CIPHERTEXT


def test_the_cipher_context_is_reusable() -> None:
    cipher = crypto.make_cipher(CipherSuite.SM4, SM4_KEY)
    assert cipher.encrypt(SM4_KEY) == cipher.encrypt(SM4_KEY) == SM4_CIPHERTEXT
    assert cipher.encrypt(SM4_KEY * 2) == SM4_CIPHERTEXT * 2


def test_3des_two_key_is_k1_k2_k1() -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    encryptor = Cipher(TripleDES(key + key[:8]), modes.ECB()).encryptor()
    block = bytes.fromhex("0011223344556677")
    assert crypto.TripleDesCipher(key).encrypt(block) == encryptor.update(block)
    assert crypto.make_cipher(CipherSuite.TDES, key).block_size == 8


def test_padding_always_adds_80() -> None:
    assert crypto.pad(b"", 8) == bytes.fromhex("8000000000000000")
    assert crypto.pad(bytes(8), 8) == bytes(8) + bytes.fromhex("8000000000000000")
    assert len(crypto.pad(bytes(15), 16)) == 16


def test_sm4_mac_matches_the_reference() -> None:
    message = bytes.fromhex("04DC0204070201") + b"3"
    mac = crypto.mac(crypto.Sm4Cipher(SM4_KEY), CHALLENGE, message)
    assert mac == reference_cbc_mac_sm4(SM4_KEY, CHALLENGE, message)
    assert len(mac) == 4


def test_sm4_mac_of_an_empty_message_is_one_block() -> None:
    # pad(b"") = 80 00..; the single CBC block is E_K((80 00..) XOR (challenge || 00..)).
    block = bytes(x ^ y for x, y in zip(b"\x80" + bytes(15), CHALLENGE + bytes(8), strict=True))
    expected = sm4_ecb(SM4_KEY, block)[:4]
    assert crypto.mac(crypto.Sm4Cipher(SM4_KEY), CHALLENGE, b"") == expected


def test_3des_mac_matches_the_reference() -> None:
    key = bytes.fromhex("404142434445464748494A4B4C4D4E4F")
    message = bytes.fromhex("805E000007") + bytes.fromhex("123456")
    cipher = crypto.TripleDesCipher(key)
    assert crypto.mac(cipher, CHALLENGE, message) == reference_cbc_mac_3des(key, CHALLENGE, message)


def test_cryptogram_encrypts_the_zero_extended_challenge() -> None:
    expected = sm4_ecb(SM4_KEY, CHALLENGE + bytes(8))
    assert crypto.cryptogram(crypto.Sm4Cipher(SM4_KEY), CHALLENGE) == expected
    key = bytes(range(16))
    tdes = crypto.TripleDesCipher(key)
    assert crypto.cryptogram(tdes, CHALLENGE) == tdes.encrypt(CHALLENGE) + tdes.encrypt(bytes(8))


def test_diversification_encrypts_the_identifier() -> None:
    derived = crypto.card_key(CipherSuite.SM4, SM4_KEY, IDENTIFIER)
    assert derived == sm4_ecb(SM4_KEY, IDENTIFIER.encode("ascii"))
    assert derived != crypto.card_key(CipherSuite.SM4, SM4_KEY, "110000D156000006")
    assert len(crypto.card_key(CipherSuite.TDES, SM4_KEY, IDENTIFIER)) == 16


@pytest.mark.parametrize("identifier", ["110000", "110000D15600000５", "110000D1560000050"])
def test_diversification_factor_is_16_ascii(identifier: str) -> None:
    with pytest.raises(ProtocolError):
        crypto.diversification_factor(identifier)


def test_bad_inputs() -> None:
    with pytest.raises(ProtocolError):
        crypto.Sm4Cipher(bytes(8))
    with pytest.raises(ProtocolError):
        crypto.TripleDesCipher(bytes(8))
    with pytest.raises(ProtocolError):
        crypto.Sm4Cipher(SM4_KEY).encrypt(bytes(15))
    with pytest.raises(ProtocolError):
        crypto.extend(bytes(17), 16)
    with pytest.raises(ProtocolError):
        crypto.diversify(CipherSuite.SM4, SM4_KEY, bytes(8))


def test_equal_is_a_comparison() -> None:
    assert crypto.equal(b"\x01\x02", b"\x01\x02")
    assert not crypto.equal(b"\x01\x02", b"\x01\x03")


# --- PSAM -------------------------------------------------------------------


def keys() -> dict[KeyUsage, bytes]:
    return {usage: bytes([usage.value]) * 16 for usage in KeyUsage}


async def test_psam_answers_with_the_card_key() -> None:
    psam = SimulatedPsam(keys())
    card_auth = crypto.card_key(CipherSuite.SM4, keys()[KeyUsage.EXTERNAL_AUTH], IDENTIFIER)
    card_mac = crypto.card_key(CipherSuite.SM4, keys()[KeyUsage.LINE_MAC], IDENTIFIER)
    assert await psam.cryptogram(IDENTIFIER, CHALLENGE) == sm4_ecb(card_auth, CHALLENGE + bytes(8))
    assert await psam.mac(IDENTIFIER, CHALLENGE, b"abc") == reference_cbc_mac_sm4(
        card_mac, CHALLENGE, b"abc"
    )


async def test_psam_usages_use_different_keys() -> None:
    psam = SimulatedPsam(keys())
    line = await psam.mac(IDENTIFIER, CHALLENGE, b"abc")
    reload = await psam.mac(IDENTIFIER, CHALLENGE, b"abc", KeyUsage.PIN_RELOAD)
    assert line != reload


async def test_psam_counts_transactions_and_wraps() -> None:
    psam = SimulatedPsam(keys(), counter=2**32 - 1)
    assert psam.transaction_counter == 2**32 - 1
    await psam.cryptogram(IDENTIFIER, CHALLENGE)
    assert psam.transaction_counter == 0
    await psam.mac(IDENTIFIER, CHALLENGE, b"")
    assert psam.transaction_counter == 1


def test_psam_never_shows_its_keys() -> None:
    psam = SimulatedPsam(keys())
    text = repr(psam) + str(psam)
    for key in keys().values():
        assert key.hex() not in text.lower()
        assert repr(key) not in text
    assert not hasattr(psam, "__dict__")
    assert repr(crypto.Sm4Cipher(SM4_KEY)) == "Sm4Cipher(key=<hidden>)"


def test_psam_needs_every_master_key() -> None:
    partial = keys()
    del partial[KeyUsage.PIN_RELOAD]
    with pytest.raises(ProtocolError, match="PIN_RELOAD"):
        SimulatedPsam(partial)
    with pytest.raises(ProtocolError):
        SimulatedPsam({**keys(), KeyUsage.LINE_MAC: bytes(8)})
