"""ConfigMaps and Secrets: key rules, a Secret's default type, and immutability (an
`immutable: true` object keeps its data)."""

from __future__ import annotations

from kapi.defaulting import secret as secret_defaults
from kapi.printers import core as core_printers
from kapi.registry.kinds.base import CORE, Strategy, row
from kapi.validation import core as core_rules

CONFIGMAPS = Strategy(
    row("", "v1", "configmaps", "ConfigMap", CORE, short_names=("cm",)),
    printer=core_printers.CONFIGMAP, validate_rule=core_rules.validate_configmap,
    update_rule=core_rules.validate_configmap_update)

SECRETS = Strategy(
    row("", "v1", "secrets", "Secret", CORE, field_selectors=("type",)),
    printer=core_printers.SECRET, defaulter=secret_defaults.secret,
    validate_rule=core_rules.validate_secret, update_rule=core_rules.validate_secret_update)
