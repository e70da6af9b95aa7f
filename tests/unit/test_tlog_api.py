"""The public surface of consentry_shared.tlog is complete, documented and one hierarchy."""

from __future__ import annotations

import importlib
import inspect

import pytest

import consentry_shared.tlog as tlog

MODULES = ["canonical", "errors", "merkle", "note", "tiles", "verify"]


@pytest.mark.parametrize("module_name", MODULES)
def test_package_re_exports_every_public_name(module_name: str) -> None:
    module = importlib.import_module(f"consentry_shared.tlog.{module_name}")
    assert module.__doc__
    missing = set(module.__all__) - set(tlog.__all__)
    assert not missing, f"{module_name} names missing from tlog.__all__: {sorted(missing)}"


def test_all_names_exist_and_public_callables_are_documented() -> None:
    assert len(set(tlog.__all__)) == len(tlog.__all__)
    for name in tlog.__all__:
        value = getattr(tlog, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_every_error_derives_from_tlog_error() -> None:
    errors = [v for v in map(tlog.__dict__.get, tlog.__all__) if isinstance(v, type)]
    exceptions = [e for e in errors if issubclass(e, BaseException)]
    assert len(exceptions) == 13
    for error in exceptions:
        assert issubclass(error, tlog.TlogError), error
        assert error.__name__ in (tlog.__doc__ or "") or error is tlog.TlogError
