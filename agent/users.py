"""Local users, from the OS user database (or a mounted image's), never a glob of /home.

Live: the passwd database on Linux and macOS, the ProfileList registry key on Windows.
A mounted image (``--root DIR``): ``DIR/etc/passwd`` for Linux, the directory-services user
records (or ``DIR/Users``) for macOS, ``DIR/Users`` for Windows.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from agent.scanners.base import LocalUser
from agent.scanners.files import Unreadable, read_plist, read_text

# Accounts whose shell says nobody logs in; their homes hold no user software.
_NOLOGIN = (
    "/usr/sbin/nologin",
    "/sbin/nologin",
    "/bin/false",
    "/usr/bin/false",
    "/bin/sync",
    "/sbin/shutdown",
    "/sbin/halt",
)
_WINDOWS_SKIP = {
    "public",
    "default",
    "default user",
    "all users",
    "defaultuser0",
    "wdagutilityaccount",
    "desktop.ini",
}
_MAC_SKIP = {"shared", ".localized"}
_PROFILE_LIST = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
_MAC_DSLOCAL = "var/db/dslocal/nodes/Default/users"
_MAX_DATABASE_BYTES = 16 * 1024 * 1024


def users_from_passwd(text: str, *, root: Path = Path("/")) -> Iterator[LocalUser]:
    """Yield the login users of a passwd file; homes are resolved under ``root``."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) < 7:
            continue
        name, uid_text, home, shell = fields[0], fields[2], fields[5], fields[6]
        try:
            uid = int(uid_text)
        except ValueError:
            continue
        if not home or home == "/" or home == "/var/empty" or (uid != 0 and shell in _NOLOGIN):
            continue
        yield LocalUser(name=name, uid=uid, home=root / home.lstrip("/"))


def platform_of_root(root: Path) -> str:
    """Guess the OS of a mounted image: "darwin", "windows" or "linux"."""
    if root == Path("/"):
        from agent.scanners.base import current_platform

        return current_platform()
    if (root / "System" / "Library").is_dir() or (root / _MAC_DSLOCAL).is_dir():
        return "darwin"
    if (root / "Windows").is_dir() or (root / "ProgramData").is_dir():
        return "windows"
    return "linux"


def local_users(root: Path = Path("/")) -> tuple[LocalUser, ...]:
    """Return the users of the system at ``root`` (this machine when root is "/")."""
    if root == Path("/"):
        try:
            import pwd
        except ImportError:  # Windows
            return _unique(_windows_profiles() or _users_folder(Path("C:/Users"), _WINDOWS_SKIP))
        text = "\n".join(
            ":".join(
                [
                    entry.pw_name,
                    "x",
                    str(entry.pw_uid),
                    str(entry.pw_gid),
                    "",
                    entry.pw_dir,
                    entry.pw_shell,
                ]
            )
            for entry in pwd.getpwall()
        )
        return _unique(users_from_passwd(text, root=root))
    system = platform_of_root(root)
    if system == "darwin":
        return _unique(_mac_dslocal(root) or _users_folder(root / "Users", _MAC_SKIP))
    if system == "windows":
        return _unique(_users_folder(root / "Users", _WINDOWS_SKIP))
    try:
        text = read_text(root / "etc" / "passwd", _MAX_DATABASE_BYTES)
    except Unreadable:
        return _unique(_users_folder(root / "Users", _WINDOWS_SKIP | _MAC_SKIP))
    return _unique(users_from_passwd(text, root=root))


def _unique(users: Iterable[LocalUser]) -> tuple[LocalUser, ...]:
    """Keep the first user per name and per home (root and toor share one home)."""
    names: set[str] = set()
    homes: set[Path] = set()
    kept: list[LocalUser] = []
    for user in users:
        if user.name in names or user.home in homes:
            continue
        names.add(user.name)
        homes.add(user.home)
        kept.append(user)
    return tuple(kept)


def _users_folder(folder: Path, skip: set[str]) -> list[LocalUser]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [
        LocalUser(name=entry.name, home=entry)
        for entry in entries
        if entry.name.lower() not in skip
        and not entry.name.startswith(".")
        and entry.is_dir()
        and not entry.is_symlink()
    ]


def _mac_dslocal(root: Path) -> list[LocalUser]:
    """Read macOS user records (one plist per user) from a mounted image."""
    folder = root / _MAC_DSLOCAL
    users: list[LocalUser] = []
    try:
        records = sorted(folder.glob("*.plist"))
    except OSError:
        return []
    for record in records:
        try:
            doc: Any = read_plist(record, _MAX_DATABASE_BYTES)
        except Unreadable:
            continue
        if not isinstance(doc, dict):
            continue
        name, home, uid, shell = (_first(doc.get(key)) for key in ("name", "home", "uid", "shell"))
        if not name or not home or name.startswith("_") or shell in _NOLOGIN:
            continue
        if not home.startswith("/Users/"):
            continue  # system accounts (daemon, nobody, root) have homes elsewhere
        users.append(
            LocalUser(
                name=name,
                home=root / home.lstrip("/"),
                uid=int(uid) if uid and uid.isdigit() else None,
            )
        )
    return users


def _first(value: object) -> str | None:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) else None


def _windows_profiles() -> list[LocalUser]:
    """Read local, domain and Entra ID profiles from the ProfileList key (Windows only)."""
    try:
        winreg: Any = importlib.import_module("winreg")
    except ImportError:
        return []
    users: list[LocalUser] = []
    try:
        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, _PROFILE_LIST)
    except OSError:
        return []
    with key:
        index = 0
        while True:
            try:
                sid = winreg.EnumKey(key, index)
            except OSError:
                break
            index += 1
            if sid in ("S-1-5-18", "S-1-5-19", "S-1-5-20"):
                continue  # SYSTEM, LOCAL SERVICE, NETWORK SERVICE
            try:
                with winreg.OpenKey(key, sid) as profile:
                    image_path, _kind = winreg.QueryValueEx(profile, "ProfileImagePath")
            except OSError:
                continue
            home = Path(str(image_path))
            users.append(LocalUser(name=home.name, home=home))
    return users
