"""PodSecurity's own settings, read from upstream's AdmissionConfiguration file
(apiserver.config.k8s.io/v1, `--admission-control-config-file`): the plugin entry named
PodSecurity carries a PodSecurityConfiguration (pod-security.admission.config.k8s.io/v1)
with `defaults` (the levels of a namespace without labels) and `exemptions` (usernames,
namespaces, runtimeClasses that are never checked). Reading only; ValueError names
what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MODES = ("enforce", "audit", "warn")
LEVELS = ("privileged", "baseline", "restricted")


@dataclass(frozen=True)
class Settings:
    defaults: dict[str, str] = field(default_factory=dict)  # "enforce", "enforce-version"...
    exempt_usernames: frozenset[str] = frozenset()
    exempt_namespaces: frozenset[str] = frozenset()
    exempt_runtime_classes: frozenset[str] = frozenset()


def load(path: Path | None) -> Settings:
    if path is None:
        return Settings()
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or doc.get("kind") != "AdmissionConfiguration":
        raise ValueError(f"{path}: not an AdmissionConfiguration")
    for plugin in doc.get("plugins") or []:
        if plugin.get("name") == "PodSecurity":
            conf = plugin.get("configuration")
            if conf is None and plugin.get("path"):
                conf = yaml.safe_load((path.parent / plugin["path"]).read_text())
            return _settings(path, conf or {})
    return Settings()


def _settings(path: Path, conf: Any) -> Settings:
    if conf.get("kind") != "PodSecurityConfiguration":
        raise ValueError(f"{path}: the PodSecurity plugin needs a PodSecurityConfiguration")
    defaults = {str(k): str(v) for k, v in (conf.get("defaults") or {}).items()}
    for mode in MODES:
        if defaults.get(mode, "privileged") not in LEVELS:
            raise ValueError(f"{path}: defaults.{mode}: {defaults[mode]!r} is not one of "
                             f"{', '.join(LEVELS)}")
    ex = conf.get("exemptions") or {}
    return Settings(defaults, frozenset(ex.get("usernames") or ()),
                    frozenset(ex.get("namespaces") or ()),
                    frozenset(ex.get("runtimeClasses") or ()))
