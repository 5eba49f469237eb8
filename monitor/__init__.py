"""driftmon: an embedding drift monitoring agent (distribution ``driftmon-agent``)."""

from __future__ import annotations

#: the distribution's name; the command is ``driftmon``, the import package ``monitor``
DISTRIBUTION = "driftmon-agent"

__all__ = ["DISTRIBUTION", "__version__"]


def _installed_version() -> str:
    """The version in the installed ``driftmon_agent-<version>.dist-info`` folder's name.

    Scanning ``sys.path`` for that folder costs well under a millisecond; importing
    ``importlib.metadata`` (the fallback, same answer) costs tens of milliseconds,
    which ``driftmon --version`` would pay on every call.
    """
    import os
    import sys

    prefix = DISTRIBUTION.replace("-", "_") + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith(prefix) and name.endswith(".dist-info"):
                return name[len(prefix) : -len(".dist-info")]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed distribution only when asked for."""
    if name != "__version__":
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    return _installed_version()
