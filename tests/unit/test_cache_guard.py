"""numba's cache tied to every kernel source: an edited callee drops the cached callers."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.hotpath import cache_guard


@pytest.fixture
def hotpath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in hot path: two sources and a cache beside them."""
    (tmp_path / "kernels.py").write_text("def run(): return callee()\n")
    (tmp_path / "callee.py").write_text("def callee(): return 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    monkeypatch.setattr(cache_guard, "CACHE_DIR", cache)
    monkeypatch.setattr(cache_guard, "STAMP", cache / "kernel-sources.sha256")
    monkeypatch.setattr(cache_guard, "SOURCES", (tmp_path / "callee.py", tmp_path / "kernels.py"))
    return tmp_path


def _cached(cache: Path) -> set[str]:
    return {p.name for p in cache.iterdir() if p.suffix in (".nbi", ".nbc")}


def test_an_edited_callee_drops_the_cached_kernels_once(hotpath: Path) -> None:
    """Kernels cached before any fingerprint, or from other sources, are removed; kernels
    cached from the same sources are kept; bytecode is never touched."""
    cache = hotpath / "__pycache__"
    for name in ("kernels.run-1.py311.nbi", "kernels.run-1.py311.1.nbc", "kernels.cpython-311.pyc"):
        (cache / name).write_bytes(b"x")
    assert cache_guard.drop_stale_kernels() is True
    assert _cached(cache) == set() and (cache / "kernels.cpython-311.pyc").exists()
    (cache / "kernels.run-1.py311.nbi").write_bytes(b"compiled from these sources")
    assert cache_guard.drop_stale_kernels() is False
    assert _cached(cache) == {"kernels.run-1.py311.nbi"}
    (hotpath / "callee.py").write_text("def callee(): return 2\n")  # kernels.py unchanged
    assert cache_guard.drop_stale_kernels() is True
    assert _cached(cache) == set()


def test_the_shipped_sources_include_every_kernel_module_and_the_page_states() -> None:
    """Every module of engine/hotpath and the page-state constants the kernels compile in
    are in the fingerprint."""
    names = {p.name for p in cache_guard.SOURCES}
    hot = {p.name for p in Path(cache_guard.__file__).parent.glob("*.py")}
    assert hot <= names and "page_states.py" in names and "kernels.py" in names


def test_numba_reached_through_a_linked_environment_is_one_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment reached by its own path or through a symlink (a .venv linked from
    another checkout) gives one fingerprint: else a process started each way drops the
    kernels the other cached, and neither finds a warm cache. A reinstall still changes it."""
    install = tmp_path / "venv" / "numba"
    install.mkdir(parents=True)
    (install / "__init__.py").write_text("")
    (tmp_path / "linked").symlink_to(tmp_path / "venv")

    def found_at(root: str) -> None:
        origin = str(tmp_path / root / "numba" / "__init__.py")
        spec = SimpleNamespace(origin=origin)
        monkeypatch.setattr(cache_guard, "find_spec", lambda name: spec)

    found_at("venv")
    direct = cache_guard.fingerprint()
    found_at("linked")
    assert cache_guard.fingerprint() == direct
    os.utime(install / "__init__.py", ns=(1, 1))  # reinstalled: another mtime
    assert cache_guard.fingerprint() != direct
