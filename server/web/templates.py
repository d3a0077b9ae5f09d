"""The one template environment: pages and report files are both drawn from server/templates
(one folder per domain, base.html and error.html at the top)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from server import __version__


def template_dir() -> Path:
    return Path(str(resources.files("server").joinpath("templates")))


@functools.cache
def environment() -> Environment:
    """Return the process's Jinja environment (autoescaping HTML), made on first use."""
    env = Environment(loader=FileSystemLoader(template_dir()), autoescape=select_autoescape())
    env.globals["version"] = __version__
    return env


def page_templates() -> Jinja2Templates:
    """Return the page renderer of an application, over the one environment."""
    return Jinja2Templates(env=environment())
