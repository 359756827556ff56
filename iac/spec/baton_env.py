"""The one place ``BATON_*`` environment names come from.

An integration's settings declare their anchors' names (``Setting(env="BATON_DOMAIN")``) and are read through
:class:`iac.spec.SettingSpec`; everything else derives its name here: the runtime's knobs (``workers`` →
``BATON_WORKERS``), the variables the renderer sets for the bundled runtime, and the names of the common and
ConductorOne settings (:func:`common_env`, :func:`conductorone_env`).
"""

from __future__ import annotations

__all__ = [
    "CONNECTOR",
    "FILE",
    "HEALTH_CHECK",
    "HEALTH_CHECK_BIND_ADDRESS",
    "HEALTH_CHECK_PORT",
    "LOG_FORMAT",
    "MODE",
    "PREFIX",
    "RENDERER_SET",
    "STORAGE_ENGINE",
    "env_name",
]

PREFIX = "BATON_"


def env_name(name: str) -> str:
    """``health_check_port`` → ``BATON_HEALTH_CHECK_PORT``: a runtime knob's (or rendered variable's) name."""
    return PREFIX + name.upper()


# What the renderer sets on every bundled-runtime container (the runtime reads them back as knobs of the same
# name; the image's entrypoint reads CONNECTOR).
CONNECTOR = env_name("connector")
FILE = env_name("file")
LOG_FORMAT = env_name("log_format")
HEALTH_CHECK = env_name("health_check")
HEALTH_CHECK_PORT = env_name("health_check_port")
HEALTH_CHECK_BIND_ADDRESS = env_name("health_check_bind_address")
MODE = env_name("mode")  # the runtime image's entrypoint: service (default) or sync (one shot, a CronJob's run)
# Set on an upstream image whose baton-sdk writes a c1z v3 by default (viper: --storage-engine); not a runtime knob.
STORAGE_ENGINE = env_name("storage_engine")
RENDERER_SET = (CONNECTOR, MODE, HEALTH_CHECK, HEALTH_CHECK_PORT, HEALTH_CHECK_BIND_ADDRESS, FILE, LOG_FORMAT)
