"""Settings assembly: project settings (with WATCHDESK_* environment overrides applied in
crawler/settings.py), then command-line values, as Scrapy's documented precedence has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scrapy.settings import BaseSettings, Settings

from crawler import settings as defaults
from crawler.fetch.guard import AddressGuard, parse_allowed_hosts
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
    overrides = {name: value for name, value in (overrides or {}).items() if value is not None}
    if "WATCHDESK_CONTACT_URL" in overrides and "USER_AGENT" not in overrides:
        # `-s WATCHDESK_CONTACT_URL=…` must reach the User-Agent, as the environment does.
        contact = overrides["WATCHDESK_CONTACT_URL"]
        overrides["USER_AGENT"] = defaults.USER_AGENT_TEMPLATE.format(contact=contact)
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def host_map_from_settings(settings: BaseSettings) -> dict[str, str]:
    """The parsed WATCHDESK_HOST_MAP (a JSON string or an already-parsed dict)."""
    value = settings.get("WATCHDESK_HOST_MAP") or ""
    if isinstance(value, Mapping):
        return dict(value)
    return parse_host_map(value) if value.strip() else {}


def address_guard_from_settings(settings: BaseSettings) -> AddressGuard:
    """The address guard with this configuration's exemptions: the host map's hosts and
    WATCHDESK_ALLOW_PRIVATE_HOSTS (a list, or a comma/space separated string)."""
    allowed = parse_allowed_hosts(settings.get("WATCHDESK_ALLOW_PRIVATE_HOSTS"))
    return AddressGuard(host_map_from_settings(settings), allowed)
