"""Share links: compact, versioned, and safe to decode from anyone."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import zlib

import pytest

from engine.policies import REGISTRY, validate_policy
from webapp import urlcodec
from webapp.urlcodec import LinkError, decode, encode


def _pack(payload: object, version: str = "v1") -> str:
    raw = json.dumps(payload).encode()
    return f"{version}." + base64.urlsafe_b64encode(zlib.compress(raw)).rstrip(b"=").decode()


def test_round_trip_keeps_scenario_policies_frame_and_vm(small_dict):
    """decode(encode(x)) gives back the same scenario dict, both policies, frame and VM."""
    a = validate_policy({"name": "demand", "victims": "random"})
    b = validate_policy({"name": list(REGISTRY)[-1]})
    shared = decode(encode(small_dict, a, b, frame=7, vm=2))
    assert shared.scenario.to_dict() == small_dict
    assert (shared.policy_a, shared.policy_b, shared.frame, shared.vm) == (a, b, 7, 2)


def test_links_are_compact(small_dict):
    """A three-VM scenario with two policies fits in well under a kilobyte."""
    code = encode(small_dict, {"name": "demand"}, {"name": "demand"}, 3)
    assert code.startswith("v1.") and len(code) < 1000


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no run"),
        ("garbage", "not a vmswap share link"),
        ("v9.AAAA", "version"),
        ("v1.@@@", "base64url"),
        ("v1." + base64.urlsafe_b64encode(b"not zlib").decode(), "not compressed"),
        ("v1." + "A" * 40000, "too long"),
    ],
)
def test_malformed_links_say_why(text, words):
    """Each kind of damage gives a LinkError whose message names the problem."""
    with pytest.raises(LinkError, match=words):
        decode(text)


def test_truncated_link_is_refused(small_dict):
    """A link cut short is refused (not half-read)."""
    code = encode(small_dict, {"name": "demand"}, {"name": "demand"})
    with pytest.raises(LinkError):
        decode(code[: len(code) // 2])


def test_decompression_bomb_is_capped():
    """Content that inflates past the cap is refused without inflating it all."""
    bomb = zlib.compress(b"[" + b" " * (urlcodec.MAX_JSON_BYTES * 4) + b"]", 9)
    text = "v1." + base64.urlsafe_b64encode(bomb).rstrip(b"=").decode()
    with pytest.raises(LinkError, match="larger than"):
        decode(text)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ([1, 2], "not a table"),
        ({"x": 1, "s": {}}, "unknown keys"),
        ({"a": {"name": "demand"}}, "no scenario"),
        ({"s": {"vms": "many"}}, "not valid"),
        ({"s": {"vms": [{"name": "a", "memory_mib": -5}]}}, "memory_mib"),
    ],
)
def test_invalid_content_is_refused_readably(payload, words):
    """Valid JSON with the wrong shape or values fails through the schema, with the field."""
    with pytest.raises(LinkError, match=words):
        decode(_pack(payload))


def test_bad_policy_and_frame_are_refused(small_dict):
    """An unknown policy names the allowed ones; a negative or boolean frame is refused."""
    with pytest.raises(LinkError, match="unknown policy"):
        decode(_pack({"s": small_dict, "a": {"name": "nope"}}))
    for frame in (-1, True, 1.5, 10**9):
        with pytest.raises(LinkError, match="frame"):
            decode(_pack({"s": small_dict, "f": frame}))


def test_an_old_link_with_the_removed_ledger_switch_still_opens(small_dict):
    """Links made while predictive had `benefit_backoff` carry it as false: such a link opens
    as the same run (the switch is dropped); one asking for the ledger (true) is refused in
    one line that says the ledger was removed."""
    old = {**validate_policy({"name": "predictive"}), "benefit_backoff": False}
    shared = decode(_pack({"s": small_dict, "a": old, "b": old}))
    assert shared.policy_a == validate_policy({"name": "predictive"})
    assert "benefit_backoff" not in shared.policy_b
    with pytest.raises(LinkError, match="benefit_backoff: the benefit ledger was removed") as err:
        decode(_pack({"s": small_dict, "a": {**old, "benefit_backoff": True}}))
    assert "\n" not in str(err.value)


def test_nan_is_not_a_number_here(small_dict):
    """JSON's NaN/Infinity extensions are refused."""
    raw = json.dumps({"s": small_dict, "f": 0}).replace('"f": 0', '"f": NaN').encode()
    text = "v1." + base64.urlsafe_b64encode(zlib.compress(raw)).rstrip(b"=").decode()
    with pytest.raises(LinkError):
        decode(text)


def test_deep_nesting_is_refused():
    """A deeply nested array (recursion bomb) is a LinkError, not a crash."""
    deep = "[" * 100_000 + "]" * 100_000
    text = "v1." + base64.urlsafe_b64encode(zlib.compress(deep.encode())).rstrip(b"=").decode()
    with pytest.raises(LinkError):
        decode(text)


def test_random_text_never_raises_anything_else():
    """Whatever the text, decode raises LinkError or returns a SharedRun."""
    rng = random.Random(4)
    alphabet = "v1.AZaz09-_=%/?& \x00é"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        with contextlib.suppress(LinkError):
            decode(text)
