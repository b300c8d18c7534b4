import math
import re

import pytest

from app.core.api_keys import API_KEY_PREFIX, ApiKeyHasher, generate_api_key, is_well_formed, key_hint

KEY_PATTERN = re.compile(r"fgk_[0-9A-Za-z]{38}")


def test_keys_are_recognisable_unique_and_carry_at_least_160_random_bits() -> None:
    keys = {generate_api_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(KEY_PATTERN.fullmatch(key) for key in keys)
    assert 32 * math.log2(62) >= 160  # the random body's entropy; the last 6 characters are the checksum


def test_generated_keys_pass_their_checksum() -> None:
    assert all(is_well_formed(generate_api_key()) for _ in range(200))


def test_every_single_character_typo_fails_the_checksum() -> None:
    key = generate_api_key()
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for position in range(len(API_KEY_PREFIX), len(key)):
        for replacement in alphabet[:8]:
            if replacement != key[position]:
                typo = key[:position] + replacement + key[position + 1 :]
                assert not is_well_formed(typo), typo


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "fgk_",
        "ghp_" + "a" * 38,
        "fgk_" + "a" * 37,
        "fgk_" + "a" * 39,
        "fgk_" + "ä" * 38,
        "fgk_" + "a" * 37 + "\x00",
    ],
)
def test_malformed_candidates_are_refused_without_raising(candidate: str) -> None:
    assert not is_well_formed(candidate)


def test_the_stored_digest_is_keyed_by_the_pepper() -> None:
    key = generate_api_key()
    digest = ApiKeyHasher("pepper-one").digest(key)
    assert len(digest) == 32
    assert digest == ApiKeyHasher("pepper-one").digest(key)
    assert digest != ApiKeyHasher("pepper-two").digest(key)
    assert key.encode() not in digest


def test_hints_reveal_little() -> None:
    key = generate_api_key()
    assert key_hint(key) == f"fgk_…{key[-4:]}"
