"""Careful reading: size caps, missing versus unreadable, JSONC, re-rooting, bounded walks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.scanners.base import ScanContext
from agent.scanners.files import (
    Missing,
    Unreadable,
    read_bytes,
    read_json,
    read_plist,
    rerooted,
    strip_json_comments,
    walk_files,
    webkit_time,
)
from tests.agent.scanners.helpers import write


def test_read_caps_and_kinds_of_failure(tmp_path: Path) -> None:
    write(tmp_path / "big", "x" * 2000)
    with pytest.raises(Unreadable, match="too large"):
        read_bytes(tmp_path / "big", 1000)
    assert read_bytes(tmp_path / "big", 2000) == b"x" * 2000
    with pytest.raises(Missing):
        read_bytes(tmp_path / "absent", 10)
    with pytest.raises(Missing):
        read_bytes(tmp_path / "big" / "child", 10)
    with pytest.raises(Unreadable):
        read_bytes(tmp_path, 10)  # a directory
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    with pytest.raises(Unreadable) as caught:
        read_bytes(tmp_path / "loop", 10)
    assert not isinstance(caught.value, Missing)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(Unreadable, match="not a regular file"):
        read_bytes(tmp_path / "fifo", 10)  # must not block on a pipe


def test_jsonc() -> None:
    text = '{\n // a comment with "quotes"\n "a": "http://x", /* block */ "b": [1, 2,],\n}'
    assert strip_json_comments(text) == '{\n \n "a": "http://x",  "b": [1, 2]\n}'


def test_deeply_nested_json_is_an_error_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(Unreadable, match="malformed JSON"):
        read_json(tmp_path / "deep.json")


def test_rerooted_paths(tmp_path: Path) -> None:
    live = ScanContext()
    image = ScanContext(root=tmp_path)
    assert rerooted(live, "/home/a/ext") == Path("/home/a/ext")
    assert rerooted(image, "/home/a/ext") == tmp_path / "home/a/ext"
    assert rerooted(image, "C:\\Users\\a\\ext") == tmp_path / "Users/a/ext"
    assert rerooted(image, "/c:/Users/a/.vscode") == tmp_path / "Users/a/.vscode"
    assert rerooted(image, str(tmp_path / "x")) == tmp_path / "x"


def test_walk_is_bounded_and_ignores_symlinks(tmp_path: Path) -> None:
    write(tmp_path / "a/b/c/d/file.txt", "x")
    write(tmp_path / "top.txt", "x")
    os.symlink(tmp_path, tmp_path / "a/loop")
    os.symlink(tmp_path / "top.txt", tmp_path / "link.txt")
    found = sorted(p.name for p, _ in walk_files(tmp_path, max_depth=2))
    assert found == ["top.txt"]
    found = sorted(p.name for p, _ in walk_files(tmp_path, max_depth=5))
    assert found == ["file.txt", "top.txt"]
    with pytest.raises(Unreadable):
        list(walk_files(tmp_path / "absent", max_depth=1))


def test_webkit_time() -> None:
    assert webkit_time("13440222324978745") == "2026-11-27T03:05:24Z"
    assert webkit_time(0) is None
    assert webkit_time("garbage") is None


@pytest.mark.parametrize(
    "document",
    [
        # Found by the fuzz suite: XML plist elements in an order no writer produces make
        # plistlib's parser index an empty stack.
        b"<plist><integer>1</integer><key>k</key><dict><true/><data>AA==</data></dict></plist>",
        b"<plist><dict><key>a</key>",
        b"bplist00\x00\x01",
    ],
)
def test_a_damaged_property_list_is_unreadable_not_a_crash(tmp_path: Path, document: bytes) -> None:
    path = tmp_path / "Info.plist"
    path.write_bytes(document)
    with pytest.raises(Unreadable, match="malformed property list"):
        read_plist(path, 1 << 20)
