"""Methods by name, as the command line and experiments refer to them."""
from __future__ import annotations

METHODS: dict[str, type] = {}


def register(cls: type) -> type:
    METHODS[cls.name] = cls
    return cls


def make_method(name: str, spec, **options):
    """A new, untrained method for a dataset spec; ``options`` go to its constructor."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(sorted(METHODS))}")
    return METHODS[name](spec, **options)
