"""A lazy, typed registry: names map to "module:attr" strings that are imported on first use.

This keeps `import rolescape` free of torch and lets unknown names fail with a "did you mean" hint.

A registry may say what its entries must be (`base=`, like lm-eval's `Registry(..., base_cls=...)`):
a class, whose subclasses are accepted, or a `typing.Protocol`, whose members (methods and declared
attributes) every entry must have. The check runs when an object is registered and when a "module:attr"
string is first resolved, so a wrong entry fails at its name instead of deep inside a run.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

from rolescape.errors import UnknownNameError

T = TypeVar("T")

# Names every class has, or that typing adds to a Protocol: never required of an entry.
_PROTOCOL_PLUMBING = frozenset({"__annotations__", "__dict__", "__doc__", "__module__", "__weakref__"})


class RegistryTypeError(TypeError):
    """A registered entry is not what its registry holds (a programming error, not bad user input)."""


def protocol_members(proto: type) -> frozenset[str]:
    """The members a Protocol class declares: its methods and annotated attributes (bases included)."""
    names: set[str] = set()
    for klass in proto.__mro__:
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        names.update(getattr(klass, "__annotations__", {}))
        names.update(n for n in vars(klass) if not n.startswith("_"))
    return frozenset(names - _PROTOCOL_PLUMBING)


class Registry(Generic[T]):
    """Names -> entries, resolved lazily; `base` (a class or a Protocol) and `requires` (attribute
    names) say what an entry must be."""

    def __init__(self, kind: str, base: type | None = None, *, requires: Sequence[str] = ()):
        self.kind = kind
        self.base = base
        self._targets: dict[str, str | T] = {}
        members = set(requires)
        self._structural = base is not None and bool(getattr(base, "_is_protocol", False))
        if base is not None and self._structural:
            members |= protocol_members(base)
        self.requires: tuple[str, ...] = tuple(sorted(members))

    def register(self, name: str, target: str | T) -> None:
        if name in self._targets:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if not isinstance(target, str):
            self.check(name, target)
        self._targets[name] = target

    def check(self, name: str, obj: Any, origin: str = "") -> None:
        """Raise RegistryTypeError unless `obj` is a class this registry may hold."""
        where = f"{self.kind} {name!r}" + (f" ({origin})" if origin else "")
        if self.base is None and not self.requires:
            return
        if not isinstance(obj, type):
            raise RegistryTypeError(f"{where} is a {type(obj).__name__}, not a class")
        if self.base is not None and not self._structural and not issubclass(obj, self.base):
            raise RegistryTypeError(
                f"{where}: {obj.__qualname__} is not a subclass of {self.base.__qualname__}"
            )
        missing = [m for m in self.requires if not hasattr(obj, m)]
        if missing:
            what = self.base.__qualname__ if self.base is not None else "this registry"
            raise RegistryTypeError(
                f"{where}: {obj.__qualname__} lacks {', '.join(missing)} (required by {what})"
            )

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._targets))

    def names(self) -> list[str]:
        return sorted(self._targets)

    def get(self, name: str) -> T:
        if name not in self._targets:
            close = difflib.get_close_matches(name, list(self._targets), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._targets))
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (known: {known})")
        target = self._targets[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            obj = getattr(importlib.import_module(module_name), attr)
            self.check(name, obj, origin=target)
            self._targets[name] = obj
            return obj  # type: ignore[no-any-return]
        return target
