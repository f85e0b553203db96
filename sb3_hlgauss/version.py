"""The package version (``sb3_hlgauss/version.txt``), importable without importing the algorithms."""

from pathlib import Path

__version__ = (Path(__file__).parent / "version.txt").read_text().strip()
