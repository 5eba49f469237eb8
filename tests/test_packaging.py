"""pyproject.toml ships every package, under a distribution name that is ours."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_under_monitor_is_shipped() -> None:
    listed = set(PROJECT["tool"]["setuptools"]["packages"])
    found = set(find_packages(str(ROOT), include=["monitor", "monitor.*"]))
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert listed - found == {"monitor.migrations", "monitor.migrations.versions"}
    assert PROJECT["tool"]["setuptools"]["package-dir"] == {"monitor.migrations": "migrations"}


def test_distribution_name_and_licence() -> None:
    assert PROJECT["project"]["name"] == "driftmon-agent"  # 'driftmon' on PyPI is someone else's
    assert PROJECT["project"]["license"] == "Apache-2.0"
    assert PROJECT["project"]["scripts"] == {"driftmon": "monitor.cli:main"}


def test_no_install_hint_names_the_other_projects_package() -> None:
    for path in [ROOT / "README.md", *ROOT.joinpath("monitor").rglob("*.py")]:
        text = path.read_text()
        assert "driftmon[" not in text and "install driftmon" not in text, path


def test_version_is_the_installed_distributions() -> None:
    from importlib.metadata import version

    import monitor

    assert monitor.__version__ == version("driftmon-agent") == PROJECT["project"]["version"]
