"""Settings assembly: project settings (with WATCHDESK_* environment overrides applied in
crawler/settings.py), then command-line values, as Scrapy's documented precedence has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scrapy.settings import BaseSettings, Settings

from crawler import settings as defaults
from crawler.fetch.urls import parse_host_map

ENV_PREFIX = "WATCHDESK_"


def watchdesk_setting_names() -> list[str]:
    """Every WATCHDESK_* name the project defines (the README documents each one)."""
    return sorted(name for name in vars(defaults) if name.startswith(ENV_PREFIX))


def project_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Scrapy settings for a watchdesk run.

    Args:
        overrides: values from the command line (highest priority); None values are skipped.
    """
    settings = Settings()
    settings.setmodule(defaults, priority="project")
    for name, value in (overrides or {}).items():
        if value is not None:
            settings.set(name, value, priority="cmdline")
    return settings


def host_map_from_settings(settings: BaseSettings) -> dict[str, str]:
    """The parsed WATCHDESK_HOST_MAP (a JSON string or an already-parsed dict)."""
    value = settings.get("WATCHDESK_HOST_MAP") or ""
    if isinstance(value, Mapping):
        return dict(value)
    return parse_host_map(value) if value.strip() else {}
