"""Field-level encryption: round trips, rotation between keys, tampering, and where keys come from."""

import base64
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.encryption import DecryptionError, EncryptionKeys, load_keys
from tests.support import processes
from tests.support.settings import PRODUCTION_SECRETS, TEST_ENCRYPTION_KEY, TEST_OTHER_ENCRYPTION_KEY, make_settings

BLIND = b"b" * 32
OLD, NEW = TEST_ENCRYPTION_KEY.encode(), TEST_OTHER_ENCRYPTION_KEY.encode()


def test_values_round_trip_and_ciphertexts_reveal_nothing() -> None:
    keys = EncryptionKeys([OLD], blind_key=BLIND)
    first, second = keys.encrypt("+442079460958"), keys.encrypt("+442079460958")
    assert first != second  # a random IV per value: equal plaintexts do not show
    assert "2079460958" not in first
    assert keys.decrypt(first) == keys.decrypt(second) == "+442079460958"


def test_a_new_key_reads_old_values_and_rotation_moves_them_to_it() -> None:
    token = EncryptionKeys([OLD], blind_key=BLIND).encrypt("221B Baker Street")
    both = EncryptionKeys([NEW, OLD], blind_key=BLIND)
    assert both.decrypt(token) == "221B Baker Street"
    assert not both.is_current(token)
    rotated = both.rotate(token)
    assert both.is_current(rotated)
    new_only = EncryptionKeys([NEW], blind_key=BLIND)
    assert new_only.decrypt(rotated) == "221B Baker Street"
    with pytest.raises(DecryptionError):
        new_only.decrypt(token)  # the old key is gone and this value was never rotated: an error, not garbage


@pytest.mark.parametrize("token", ["not-a-token", "", "gAAAAAB" + "A" * 80])
def test_tampered_or_foreign_values_raise_a_clear_error(token: str) -> None:
    with pytest.raises(DecryptionError, match="FORGE_ENCRYPTION_KEYS"):
        EncryptionKeys([OLD], blind_key=BLIND).decrypt(token)


def test_a_flipped_bit_is_detected() -> None:
    keys = EncryptionKeys([OLD], blind_key=BLIND)
    raw = bytearray(base64.urlsafe_b64decode(keys.encrypt("secret")))
    raw[-40] ^= 1  # a bit of the ciphertext: the token stays well-formed, only its HMAC can notice
    with pytest.raises(DecryptionError):
        keys.decrypt(base64.urlsafe_b64encode(bytes(raw)).decode())


def test_the_blind_index_is_deterministic_and_keyed() -> None:
    one = EncryptionKeys([OLD], blind_key=BLIND)
    assert one.blind_index("+442079460958") == one.blind_index("+442079460958")
    assert one.blind_index("+442079460958") != one.blind_index("+442079460959")
    assert one.blind_index("+442079460958") != EncryptionKeys([OLD], blind_key=b"c" * 32).blind_index("+442079460958")


def test_development_generates_keys_once_with_a_warning(tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite+aiosqlite:///unused.db", environment="development", encryption_keys=None, blind_index_key=None
    )
    first = load_keys(settings, key_directory=tmp_path)
    token = first.encrypt("kept across restarts")
    key_file = tmp_path / "encryption.keys"
    assert key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert load_keys(settings, key_directory=tmp_path).decrypt(token) == "kept across restarts"


def _load_in_a_process(directory: str) -> str:
    settings = make_settings("sqlite+aiosqlite:///unused.db", encryption_keys=None, blind_index_key=None)
    return load_keys(settings, key_directory=Path(directory)).encrypt("written by one of several workers")


@processes.HEAVY  # eight spawned interpreters
def test_workers_starting_together_agree_on_one_generated_key(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=4, mp_context=multiprocessing.get_context("spawn")) as pool:
        tokens = list(pool.map(_load_in_a_process, [str(tmp_path)] * 8))
    settings = make_settings("sqlite+aiosqlite:///unused.db", encryption_keys=None, blind_index_key=None)
    final = load_keys(settings, key_directory=tmp_path)
    assert {final.decrypt(token) for token in tokens} == {"written by one of several workers"}
    assert [p.name for p in tmp_path.iterdir()] == ["encryption.keys"]  # no candidate files left behind


def test_production_refuses_to_start_without_keys_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="FORGE_ENCRYPTION_KEYS"):
        make_settings("sqlite+aiosqlite:///unused.db", **{**PRODUCTION_SECRETS, "encryption_keys": None})


# A real key cut short: base64 of the wrong length. Fixed, so that pytest-xdist workers collect the same ids.
@pytest.mark.parametrize("bad", ["short", TEST_OTHER_ENCRYPTION_KEY[:20], "!!!not base64!!!"])
def test_a_malformed_key_is_refused_naming_the_setting(bad: str) -> None:
    with pytest.raises(ValueError, match="FORGE_ENCRYPTION_KEYS"):
        load_keys(make_settings("sqlite+aiosqlite:///unused.db", encryption_keys=f"{TEST_ENCRYPTION_KEY},{bad}"))
