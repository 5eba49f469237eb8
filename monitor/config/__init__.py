"""Settings: one TOML file, every key overridable by ``DRIFTMON_<SECTION>_<KEY>``.

Secrets are never values in the file: a setting ending in ``_env`` names the
environment variable that holds the secret, and :func:`resolve_secret` reads it
when a component needs it. Only :mod:`monitor.config.loader` reads the environment.
The package is standard library only, so ``driftmon --version`` starts fast.
"""

from __future__ import annotations

from monitor.config.checks import DRIFT_TESTS
from monitor.config.cron import CronFields, parse_cron
from monitor.config.describe import describe_settings, reference_table, settings_to_dict
from monitor.config.loader import (
    ConfigProblems,
    config_path_from_env,
    current_user,
    environment,
    load_settings,
    read_toml,
    resolve_secret,
)
from monitor.config.masking import mask_secrets, mask_url
from monitor.config.retention import RetentionSettings
from monitor.config.rules import RuleSettings, default_rules
from monitor.config.settings import (
    AgentSettings,
    AlertSettings,
    CanarySetSettings,
    DatabaseSettings,
    DriftSettings,
    MigrationSettings,
    ModelSettings,
    PolicyRuleSettings,
    SamplingSettings,
    ScheduleSettings,
    ServerSettings,
    Settings,
    SinkSettings,
    SourceSettings,
)
from monitor.config.values import (
    Cron,
    Duration,
    Interval,
    Pinned,
    Reference,
    Rolling,
    Schedule,
    parse_duration,
    parse_reference,
    parse_schedule,
)

__all__ = [
    "DRIFT_TESTS",
    "AgentSettings",
    "AlertSettings",
    "CanarySetSettings",
    "ConfigProblems",
    "Cron",
    "CronFields",
    "DatabaseSettings",
    "DriftSettings",
    "Duration",
    "Interval",
    "MigrationSettings",
    "ModelSettings",
    "Pinned",
    "PolicyRuleSettings",
    "Reference",
    "Rolling",
    "RetentionSettings",
    "RuleSettings",
    "SamplingSettings",
    "Schedule",
    "ScheduleSettings",
    "ServerSettings",
    "Settings",
    "SinkSettings",
    "SourceSettings",
    "config_path_from_env",
    "current_user",
    "default_rules",
    "describe_settings",
    "environment",
    "load_settings",
    "mask_secrets",
    "mask_url",
    "parse_cron",
    "parse_duration",
    "parse_reference",
    "parse_schedule",
    "read_toml",
    "reference_table",
    "resolve_secret",
    "settings_to_dict",
]
