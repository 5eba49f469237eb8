"""The one JavaScript file the pages need: Plotly's bundle, as the ``plotly`` package ships it."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["ASSET_NAME", "plotly_js"]

ASSET_NAME = "plotly.min.js"


@cache
def plotly_js() -> bytes:
    """The bytes of plotly.min.js from the installed ``plotly`` package (read once)."""
    return (resources.files("plotly") / "package_data" / ASSET_NAME).read_bytes()
