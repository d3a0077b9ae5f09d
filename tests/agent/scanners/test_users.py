"""Local users from each OS's user database, live and in mounted images."""

from __future__ import annotations

import plistlib
from pathlib import Path

from agent.users import local_users, platform_of_root, users_from_passwd
from tests.agent.scanners.helpers import write

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
alice:x:1000:1000:Alice:/home/alice:/bin/bash
toor:x:0:0:root again:/root:/bin/sh
svc:x:998:998::/:/bin/bash
# a comment
broken line
bob:x:1001:1001:Bob:/srv/people/bob:/usr/bin/zsh
"""


def test_passwd_login_users_only(tmp_path: Path) -> None:
    users = list(users_from_passwd(PASSWD, root=tmp_path))
    assert [(u.name, u.uid) for u in users] == [
        ("root", 0),
        ("alice", 1000),
        ("toor", 0),
        ("bob", 1001),
    ]
    assert users[1].home == tmp_path / "home/alice"


def test_linux_image_uses_its_own_passwd_not_a_glob(tmp_path: Path) -> None:
    write(tmp_path / "etc/passwd", PASSWD)
    (tmp_path / "home/mallory").mkdir(parents=True)  # in /home but not in the user database
    users = local_users(tmp_path)
    assert [u.name for u in users] == ["root", "alice", "bob"]  # toor shares root's home
    assert platform_of_root(tmp_path) == "linux"


def test_macos_image_reads_directory_services_records(tmp_path: Path) -> None:
    (tmp_path / "System/Library").mkdir(parents=True)
    records = tmp_path / "var/db/dslocal/nodes/Default/users"
    for name, home, uid, shell in (
        ("alice", "/Users/alice", "501", "/bin/zsh"),
        ("_spotlight", "/var/empty", "89", "/usr/bin/false"),
        ("daemon", "/var/root", "1", "/usr/bin/false"),
        ("bob", "/Users/bob", "502", "/bin/bash"),
    ):
        write(
            records / f"{name}.plist",
            plistlib.dumps({"name": [name], "home": [home], "uid": [uid], "shell": [shell]}),
        )
    (tmp_path / "Users/Shared").mkdir(parents=True)
    assert platform_of_root(tmp_path) == "darwin"
    users = local_users(tmp_path)
    assert [(u.name, u.uid, u.home) for u in users] == [
        ("alice", 501, tmp_path / "Users/alice"),
        ("bob", 502, tmp_path / "Users/bob"),
    ]


def test_macos_image_without_records_falls_back_to_users_folder(tmp_path: Path) -> None:
    (tmp_path / "System/Library").mkdir(parents=True)
    for name in ("alice", "Shared", ".localized"):
        (tmp_path / "Users" / name).mkdir(parents=True)
    assert [u.name for u in local_users(tmp_path)] == ["alice"]


def test_windows_image_users_folder(tmp_path: Path) -> None:
    (tmp_path / "Windows/System32").mkdir(parents=True)
    for name in ("carol", "Public", "Default", "Default User", "All Users", "dave"):
        (tmp_path / "Users" / name / "AppData").mkdir(parents=True)
    write(tmp_path / "Users/desktop.ini", "")
    assert platform_of_root(tmp_path) == "windows"
    assert [u.name for u in local_users(tmp_path)] == ["carol", "dave"]


def test_live_users_come_from_the_user_database() -> None:
    users = local_users()
    assert any(u.uid == 0 for u in users)
    assert len({u.home for u in users}) == len(users)
