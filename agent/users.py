"""Local users, from the OS user database (or a mounted image's), never a glob of /home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from agent.scanners.base import LocalUser

# Accounts whose shell says nobody logs in; their homes hold no user software.
_NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")


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
        if not home or home == "/" or (uid != 0 and shell in _NOLOGIN):
            continue
        yield LocalUser(name=name, uid=uid, home=root / home.lstrip("/"))


def local_users(root: Path = Path("/")) -> tuple[LocalUser, ...]:
    """Return the users of the system at ``root`` (this machine when root is "/")."""
    passwd = root / "etc" / "passwd"
    if root == Path("/"):
        try:
            import pwd
        except ImportError:  # Windows: profiles come from the Users folder
            return _users_folder(Path("C:/Users"))
        seen: dict[str, LocalUser] = {}
        for entry in pwd.getpwall():
            text = ":".join(
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
            for user in users_from_passwd(text, root=root):
                seen.setdefault(user.name, user)
        return tuple(seen.values())
    if passwd.is_file():
        return tuple(users_from_passwd(passwd.read_text(errors="replace"), root=root))
    for folder in ("Users", "users"):
        if (root / folder).is_dir():
            return _users_folder(root / folder)
    return ()


def _users_folder(folder: Path) -> tuple[LocalUser, ...]:
    skip = {"Public", "Default", "Default User", "All Users", "Shared", "desktop.ini"}
    try:
        return tuple(
            LocalUser(name=entry.name, home=entry)
            for entry in sorted(folder.iterdir())
            if entry.is_dir() and entry.name not in skip and not entry.name.startswith(".")
        )
    except OSError:
        return ()
