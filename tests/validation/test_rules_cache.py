"""The memoized rules in kapi.validation.rules hand every caller the same object, so what
they return must be immutable: a caller appending to a cached list would change the
answer every later caller gets for that string."""

from __future__ import annotations

from kapi.validation import rules

CACHED = sorted(name for name, fn in vars(rules).items() if hasattr(fn, "cache_info"))


def test_every_cached_rule_returns_an_immutable_value() -> None:
    assert "is_dns1123_label" in CACHED and "is_qualified_name" in CACHED
    for name in CACHED:
        fn = getattr(rules, name)
        for value in ("ok", "Not_OK!", "-" * 300, "a/b/c"):
            got = fn(value)
            assert isinstance(got, (tuple, frozenset)), (name, value, type(got))


def test_a_callers_copy_does_not_change_the_cached_answer() -> None:
    errs = list(rules.is_dns1123_label("Bad_Name"))
    errs.append("a caller's own error")
    assert rules.is_dns1123_label("Bad_Name") == tuple(errs[:-1])
    assert len(rules.is_dns1123_label("Bad_Name")) == 1
