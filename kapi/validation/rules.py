"""apimachinery's string and number rules with upstream's messages: DNS-1123 labels and
subdomains, DNS-1035 labels, qualified names (label and annotation keys), label values,
port numbers and names, percents, config keys, IPs, environment variable names.

Each `is_*` returns the problems (empty when fine), exactly like
k8s.io/apimachinery/pkg/util/validation. Pure string functions; the common ones are
memoized (labels and names repeat on every write) and so return tuples: a cached value
must be immutable, or one caller's edit would change every later answer.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from kapi.meta import names
from kapi.meta.names import StringFormat, regex_error

# the name and label rules live in kapi.meta (label selectors use them too); validators
# reach them here, beside the other string rules
is_dns1123_label = names.is_dns1123_label
is_dns1123_subdomain = names.is_dns1123_subdomain
is_dns1035_label = names.is_dns1035_label
is_qualified_name = names.is_qualified_name
is_label_value = names.is_label_value
max_len_error = names.max_len_error

PERCENT_FMT = "[0-9]+%"
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"

_PERCENT = re.compile("^" + PERCENT_FMT + "$")
_PORT_NAME_CHARS = re.compile("^[-a-z0-9]+$")
_HAS_LETTER = re.compile("[a-z]")
_CONFIG_KEY = StringFormat(253, CONFIG_KEY_FMT, "a valid config key must consist of "
                           "alphanumeric characters, '-', '_' or '.'",
                           "key.name", "KEY_NAME", "key-name")


def range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def is_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [range_error(1, 65535)]


@functools.lru_cache(maxsize=8192)
def is_port_name(port: str) -> tuple[str, ...]:
    errs = [max_len_error(15)] if len(port) > 15 else []
    if not _PORT_NAME_CHARS.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _HAS_LETTER.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return tuple(errs)


def is_percent(value: str) -> list[str]:
    if _PERCENT.match(value):
        return []
    return [regex_error("a valid percent string must be a numeric string followed by an "
                        "ending '%'", PERCENT_FMT, "1%", "93%")]


@functools.lru_cache(maxsize=8192)
def is_config_key(value: str) -> tuple[str, ...]:
    errs = list(_CONFIG_KEY.errors(value))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return tuple(errs)


def is_relaxed_env_var_name(value: str) -> list[str]:
    """1.33 validates env var names relaxed (RelaxedEnvironmentVariableValidation)."""
    if not value:
        return ["environment variable name must be non-empty"]
    if any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in value):
        return ["a valid environment variable name must consist only of printable ASCII "
                "characters other than '='"]
    return []


def is_ip(value: str) -> list[str]:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    return []
