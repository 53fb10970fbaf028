"""The library versions a model was trained with, and whether the installed ones still match."""

from __future__ import annotations

from importlib import metadata as distributions

#: Distributions recorded for every model (besides those its detectors name).
BASE_LIBRARIES = ("numpy", "pandas", "scikit-learn", "ztad")


def installed_version(distribution: str) -> str | None:
    """Installed version of a distribution, or ``None`` when it is not installed."""
    try:
        return distributions.version(distribution)
    except distributions.PackageNotFoundError:
        return None


def library_versions(model) -> dict[str, str | None]:
    """Versions of every distribution the model depends on (no import of any of them)."""
    names = sorted(set(BASE_LIBRARIES) | set(model.libraries))
    return {name: installed_version(name) for name in names}


def _major_minor(version: str | None) -> tuple[str, ...] | None:
    if version is None:
        return None
    return tuple(version.split(".")[:2])


def library_mismatches(recorded: dict[str, str | None]) -> list[str]:
    """``"lib trained X, installed Y"`` for each library whose major.minor differs."""
    out = []
    for name, version in sorted(recorded.items()):
        installed = installed_version(name)
        if version is not None and _major_minor(version) != _major_minor(installed):
            out.append(f"{name} trained {version}, installed {installed or 'none'}")
    return out
