"""rolescape.registry: lazy names, "did you mean", and the check of what an entry is."""

from __future__ import annotations

import sys
import types
from typing import Protocol

import pytest

from rolescape.errors import UnknownNameError
from rolescape.registry import Registry, RegistryTypeError, protocol_members


class Base:
    pass


class Child(Base):
    pass


class Other:
    pass


class Loadable(Protocol):
    name: str

    def load(self) -> object: ...


class GoodLoadable:
    name = "good"

    def load(self) -> object:
        return self


class NoName:
    def load(self) -> object:
        return self


@pytest.fixture
def fake_module(monkeypatch: pytest.MonkeyPatch) -> str:
    mod = types.ModuleType("_rolescape_test_entries")
    mod.Child = Child  # type: ignore[attr-defined]
    mod.Other = Other  # type: ignore[attr-defined]
    mod.NoName = NoName  # type: ignore[attr-defined]
    mod.GoodLoadable = GoodLoadable  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return mod.__name__


def test_base_class_accepts_subclasses_and_refuses_others_at_registration() -> None:
    reg: Registry[type[Base]] = Registry("widget", Base)
    reg.register("child", Child)
    assert reg.get("child") is Child
    with pytest.raises(RegistryTypeError, match=r"widget 'other': Other is not a subclass of Base"):
        reg.register("other", Other)
    with pytest.raises(RegistryTypeError, match="is a function, not a class"):
        reg.register("fn", lambda: None)  # type: ignore[arg-type]
    assert "other" not in reg and "fn" not in reg


def test_lazy_entry_is_checked_when_resolved_and_names_its_target(fake_module: str) -> None:
    reg: Registry[type[Base]] = Registry("widget", Base)
    reg.register("ok", f"{fake_module}:Child")
    reg.register("bad", f"{fake_module}:Other")
    assert reg.get("ok") is Child
    with pytest.raises(RegistryTypeError) as e:
        reg.get("bad")
    assert f"({fake_module}:Other)" in str(e.value) and "not a subclass of Base" in str(e.value)
    with pytest.raises(RegistryTypeError):  # a refused entry is not cached as resolved
        reg.get("bad")


def test_protocol_base_is_checked_structurally(fake_module: str) -> None:
    assert protocol_members(Loadable) == {"name", "load"}
    reg: Registry[type[Loadable]] = Registry("loader", Loadable)
    reg.register("good", f"{fake_module}:GoodLoadable")
    reg.register("noname", f"{fake_module}:NoName")
    assert reg.get("good") is GoodLoadable
    with pytest.raises(RegistryTypeError, match=r"NoName lacks name \(required by Loadable\)"):
        reg.get("noname")


def test_requires_adds_members_and_no_base_checks_nothing() -> None:
    reg: Registry[type[object]] = Registry("thing", requires=("load",))
    reg.register("good", GoodLoadable)
    with pytest.raises(RegistryTypeError, match="Other lacks load"):
        reg.register("other", Other)
    free: Registry[object] = Registry("anything")
    free.register("fn", len)
    assert free.get("fn") is len


def test_unknown_name_hints_and_duplicates_are_refused() -> None:
    reg: Registry[type[Base]] = Registry("widget", Base)
    reg.register("child", Child)
    with pytest.raises(UnknownNameError, match=r"did you mean 'child'"):
        reg.get("chld")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("child", Child)


@pytest.mark.parametrize(
    "module, attr",
    [
        ("rolescape.metrics.encoders", "ENCODERS"),
        ("rolescape.models", "ADAPTERS"),
        ("rolescape.metrics.registry", "FAMILIES"),
        ("rolescape.baselines", "BASELINES"),
    ],
)
def test_every_packaged_entry_passes_its_registry_check(module: str, attr: str) -> None:
    import importlib

    reg = getattr(importlib.import_module(module), attr)
    assert reg.base is not None
    for name in reg.names():
        reg.get(name)  # imports the class and checks it; raises on a wrong entry


def test_trainable_adapters_satisfy_the_trainer_protocol() -> None:
    pytest.importorskip("torch")
    from rolescape.trainer.loop import TRAINABLE

    assert {"for_training", "sample", "logprobs", "max_prompt_tokens"} <= set(TRAINABLE.requires)
    for name in TRAINABLE.names():
        TRAINABLE.get(name)
