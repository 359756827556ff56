"""Making the provider available to Terraform: a plugin directory for ``dev_overrides``, or a filesystem mirror
for ``terraform init`` (which then records the package hash in ``.terraform.lock.hcl``).

The plugin is a two-line shell launcher that runs ``python -m iac.backends.terraform`` with the interpreter
that has this package installed. The mirror holds the same launcher, zipped reproducibly (fixed timestamps and
modes), once per platform name, so ``terraform providers lock -fs-mirror=DIR -platform=...`` can record every
platform a team uses. With ``python="python3"`` (found on ``PATH`` when Terraform starts the plugin) the
package bytes, and so the lock-file hash, are the same on every machine.

A mirror's directory layout starts with the registry host name Terraform expands a short source address
(``iac/baton``) to. That name is not written down here: :func:`default_registry_host` asks the Terraform that
will read the mirror (``terraform providers`` prints fully qualified addresses, offline, without ``init``).
"""

from __future__ import annotations

import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from iac._version import __version__
from iac.backends.terraform._schema import PROVIDER_NAME, PROVIDER_SOURCE
from iac.errors import IacError

__all__ = [
    "MIRROR_PLATFORMS",
    "PLUGIN_EXECUTABLE",
    "InstallError",
    "InstallResult",
    "cli_config_text",
    "default_registry_host",
    "install",
    "launcher",
    "write_mirror",
    "write_plugin_dir",
]

PLUGIN_EXECUTABLE = f"terraform-provider-{PROVIDER_NAME}"
MIRROR_PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64")
_MARKER = "# written by `iac terraform install`"
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


class InstallError(IacError):
    """The provider could not be installed where asked."""


@dataclass(frozen=True)
class InstallResult:
    cli_config: Path | None
    plugin_dir: Path | None
    mirror: Path | None
    packages: tuple[Path, ...]
    version: str = __version__

    @property
    def environment(self) -> dict[str, str]:
        """What to export where Terraform runs."""
        return {"TF_CLI_CONFIG_FILE": str(self.cli_config)} if self.cli_config else {}


def launcher(python: str | None = None) -> str:
    """The plugin executable: a shell script that starts the provider with ``python``."""
    interpreter = python or sys.executable
    return (f"#!/bin/sh\n{_MARKER} (baton-iac {__version__}): the Terraform provider {PROVIDER_SOURCE}\n"
            f"exec {shlex.quote(interpreter)} -m iac.backends.terraform \"$@\"\n")


def write_plugin_dir(directory: Path, *, python: str | None = None) -> Path:
    """Write ``terraform-provider-baton`` into ``directory`` (what ``dev_overrides`` points at)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PLUGIN_EXECUTABLE
    _write_atomic(path, launcher(python).encode(), mode=0o755)
    return path


def _package(python: str | None) -> bytes:
    """The zipped plugin, byte for byte the same for the same version and interpreter."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(f"{PLUGIN_EXECUTABLE}_v{__version__}", date_time=_ZIP_TIME)
        info.external_attr = (0o100755 << 16)
        info.create_system = 3  # unix, so the mode above is honoured when Terraform unpacks it
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, launcher(python))
    return buffer.getvalue()


def write_mirror(mirror: Path, *, hostname: str, python: str | None = None,
                 platforms: Sequence[str] = MIRROR_PLATFORMS) -> tuple[Path, ...]:
    """Write the packed filesystem-mirror layout ``<host>/iac/baton/terraform-provider-baton_<v>_<os_arch>.zip``."""
    namespace, _, kind = PROVIDER_SOURCE.partition("/")
    directory = mirror / hostname / namespace / kind
    directory.mkdir(parents=True, exist_ok=True)
    package = _package(python)
    written = []
    for platform in platforms:
        path = directory / f"{PLUGIN_EXECUTABLE}_{__version__}_{platform}.zip"
        _write_atomic(path, package, mode=0o644)
        written.append(path)
    return tuple(written)


def cli_config_text(*, plugin_dir: Path | None = None, mirror: Path | None = None, offline: bool = False) -> str:
    """A Terraform CLI configuration that installs the provider from ``plugin_dir`` (dev_overrides) or
    ``mirror`` (filesystem_mirror); every other provider comes from its registry unless ``offline``."""
    lines = [f"{_MARKER} (baton-iac {__version__})", "provider_installation {"]
    if plugin_dir is not None:
        lines += ["  dev_overrides {", f"    {_hcl(PROVIDER_SOURCE)} = {_hcl(str(plugin_dir))}", "  }"]
    if mirror is not None:
        lines += ["  filesystem_mirror {", f"    path    = {_hcl(str(mirror))}",
                  f"    include = [{_hcl(PROVIDER_SOURCE)}]", "  }"]
    if not offline:
        lines += ["  direct {", f"    exclude = [{_hcl(PROVIDER_SOURCE)}]", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _hcl(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${") + '"'


def default_registry_host(terraform: Sequence[str], *, env: dict[str, str] | None = None,
                          timeout: float = 60.0) -> str:
    """The host name ``terraform`` expands ``iac/baton`` to (the first directory of a mirror)."""
    with tempfile.TemporaryDirectory(prefix="iac-tf-host-") as tmp:
        requirement = f'{PROVIDER_NAME} = {{ source = "{PROVIDER_SOURCE}" }}'
        Path(tmp, "main.tf").write_text(f"terraform {{\n  required_providers {{\n    {requirement}\n  }}\n}}\n")
        try:
            result = subprocess.run([*terraform, "providers"], cwd=tmp, capture_output=True, text=True,
                                    timeout=timeout, env=env, check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InstallError(f"cannot run {shlex.join(terraform)} to learn its registry host: {exc}; "
                               "pass --hostname") from None
    match = re.search(r"provider\[([^\]/]+)/" + re.escape(PROVIDER_SOURCE) + r"\]", result.stdout)
    if match is None:
        raise InstallError(f"`{shlex.join(terraform)} providers` did not name {PROVIDER_SOURCE} "
                           f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()[:300]}")
    return match.group(1)


def install(*, cli_config: Path | None = None, mirror: Path | None = None, plugin_dir: Path | None = None,
            python: str | None = None, hostname: str | None = None, terraform: Sequence[str] | None = None,
            offline: bool = False, force: bool = False) -> InstallResult:
    """Install the provider for Terraform.

    - ``mirror``: write a filesystem mirror (needs ``hostname``, or a ``terraform`` command to ask);
    - ``cli_config``: write a CLI configuration that uses the mirror when one is given, else dev_overrides of a
      plugin directory (default ``<cli_config dir>/baton-provider``). An existing file is replaced only when
      this command wrote it, or with ``force``."""
    if cli_config is None and mirror is None:
        raise InstallError("say where: --cli-config PATH (dev_overrides, or the mirror with --mirror) and/or "
                           "--mirror DIR")
    packages: tuple[Path, ...] = ()
    if mirror is not None:
        mirror = mirror.absolute()
        if hostname is None:
            if terraform is None:
                raise InstallError("--mirror needs the registry host name Terraform expands iac/baton to: pass "
                                   "--hostname HOST or --terraform COMMAND")
            hostname = default_registry_host(terraform)
        packages = write_mirror(mirror, hostname=hostname, python=python)
    written_plugin_dir = None
    if cli_config is not None:
        cli_config = cli_config.absolute()
        if cli_config.exists() and not force and _MARKER not in cli_config.read_text(errors="replace"):
            raise InstallError(f"{cli_config} exists and was not written by `iac terraform install`; pass "
                               "--force to replace it, or add the printed provider_installation block yourself")
        if mirror is None:
            written_plugin_dir = (plugin_dir or cli_config.parent / "baton-provider").absolute()
            write_plugin_dir(written_plugin_dir, python=python)
        cli_config.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(cli_config, cli_config_text(plugin_dir=written_plugin_dir, mirror=mirror,
                                                  offline=offline).encode(), mode=0o644)
    return InstallResult(cli_config=cli_config, plugin_dir=written_plugin_dir, mirror=mirror, packages=packages)


def _write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    tmp.replace(path)
