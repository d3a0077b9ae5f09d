"""The one template environment: pages and report files are both drawn from server/templates
(one folder per domain, base.html and error.html at the top)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from collector import governance
from collector.store.register import FIELDS
from server import __version__
from signatures import valid_text


def entry_label(name: str, value: object) -> str:
    """Return the label people see for a register field's stored value (or list of values)."""
    field = FIELDS.get(name)
    if field is None:
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(field.label_of(item) for item in value)
    return field.label_of(value)


def shown_value(event: Any, key: str, value: object) -> str:
    """Return a value of an audit event as people read it: labels for register fields, a
    mark for nothing."""
    if value in (None, "", []):
        return "∅"
    if getattr(event, "object_type", None) == "entry":
        return entry_label(key, value)
    return str(value)


def field_title(name: str) -> str:
    """Return the label of a register field (changed fields in the audit trail), else its name."""
    field = FIELDS.get(name)
    return field.label if field else name.replace("_", " ")


def template_dir() -> Path:
    return Path(str(resources.files("server").joinpath("templates")))


def printable(value: object) -> object:
    """Return a value as a page may print it: text that cannot be encoded as UTF-8 (a lone
    surrogate stored by an older release) is shown with the bad characters escaped."""
    if isinstance(value, str) and not value.isascii():
        return valid_text(value)
    return value


@functools.cache
def environment() -> Environment:
    """Return the process's Jinja environment (autoescaping HTML), made on first use."""
    env = Environment(
        loader=FileSystemLoader(template_dir()),
        autoescape=select_autoescape(),
        finalize=printable,
    )
    env.globals["version"] = __version__
    env.globals["entry_label"] = entry_label
    env.globals["field_title"] = field_title
    env.globals["shown_value"] = shown_value
    env.globals["governed_label"] = governance.label
    return env


def page_templates() -> Jinja2Templates:
    """Return the page renderer of an application, over the one environment."""
    return Jinja2Templates(env=environment())
