from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loopline.pipeline._hashing import cache_key, code_hash

params = st.dictionaries(
    st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5), st.booleans()), max_size=4
)
hashes = st.dictionaries(
    st.text(max_size=5), st.text("0123456789abcdef", min_size=8, max_size=8), max_size=3
)


@given(params, hashes, params, hashes)
def test_cache_key_changes_exactly_when_params_or_inputs_change(
    p1: dict, i1: dict, p2: dict, i2: dict
) -> None:
    same = p1 == p2 and i1 == i2
    assert (cache_key("code", p1, i1, ["output"]) == cache_key("code", p2, i2, ["output"])) == same


@given(params, hashes)
def test_cache_key_changes_with_code_and_outputs(p: dict, i: dict) -> None:
    base = cache_key("code-a", p, i, ["output"])
    assert base != cache_key("code-b", p, i, ["output"])
    assert base != cache_key("code-a", p, i, ["model"])
    assert base == cache_key("code-a", dict(reversed(list(p.items()))), i, ["output"])


def test_code_hash_follows_source() -> None:
    def f(x: int) -> int:
        return x + 1

    def g(x: int) -> int:
        return x + 2

    assert code_hash(f) != code_hash(g)
    assert code_hash(f) == code_hash(f)
