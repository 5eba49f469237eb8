"""driftmon: an embedding drift monitoring agent (distribution ``driftmon-agent``)."""

from __future__ import annotations

#: the distribution's name; the command is ``driftmon``, the import package ``monitor``
DISTRIBUTION = "driftmon-agent"

__all__ = ["DISTRIBUTION", "__version__"]


def __getattr__(name: str) -> str:
    """``__version__`` from the installed distribution, read only when asked for."""
    if name != "__version__":
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
