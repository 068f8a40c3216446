"""apimachinery's rules for names, label keys and label values, with upstream's messages
(k8s.io/apimachinery/pkg/util/validation: IsDNS1123Label, IsDNS1123Subdomain,
IsDNS1035Label, IsQualifiedName, IsValidLabelValue).

Owns: the formats (regex and length) of these strings, the wording of their errors, and
`StringFormat`, the one shape of a "length, then regex" rule. Lives in kapi.meta so that
both label selectors (here in meta) and validation (above) check keys and values with the
same code; kapi.validation.rules re-exports these beside its other string rules.

Must never: import from any kapi layer, or return a mutable value from a memoized rule
(every caller gets the same object; one caller's edit would change every later answer).
"""

from __future__ import annotations

import functools
import re

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"

QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must "
                      "start and end with an alphanumeric character")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    ex = ",  or ".join(f"'{e}'" for e in examples)
    return f"{msg} (e.g. {ex}, regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


class StringFormat:
    """A string rule of upstream's common shape: at most `max_len` characters, and a full
    match of the regex `fmt`; `msg` and `examples` word the regex error. `errors` is
    memoized (names and labels repeat on every write), hence a tuple."""

    def __init__(self, max_len: int, fmt: str, msg: str, *examples: str) -> None:
        self.max_len, self.fmt, self.msg, self.examples = max_len, fmt, msg, examples
        self._regex = re.compile("^" + fmt + "$")
        self.errors = functools.lru_cache(maxsize=8192)(self._errors)

    def _errors(self, value: str) -> tuple[str, ...]:
        errs = [max_len_error(self.max_len)] if len(value) > self.max_len else []
        if not self._regex.match(value):
            errs.append(regex_error(self.msg, self.fmt, *self.examples))
        return tuple(errs)


DNS1123_LABEL = StringFormat(
    63, DNS1123_LABEL_FMT,
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character", "my-name", "123-abc")
DNS1123_SUBDOMAIN = StringFormat(
    253, DNS1123_SUBDOMAIN_FMT,
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character", "example.com")
DNS1035_LABEL = StringFormat(
    63, DNS1035_LABEL_FMT,
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
    "with an alphabetic character, and end with an alphanumeric character",
    "my-name", "abc-123")
QUALIFIED_NAME_PART = StringFormat(63, QUALIFIED_NAME_FMT, QUALIFIED_NAME_MSG,
                                   "MyName", "my.name", "123-abc")
LABEL_VALUE = StringFormat(
    63, LABEL_VALUE_FMT,
    "a valid label must be an empty string or consist of alphanumeric characters, '-', "
    "'_' or '.', and must start and end with an alphanumeric character",
    "MyValue", "my_value", "12345")


is_dns1123_label = DNS1123_LABEL.errors
is_dns1123_subdomain = DNS1123_SUBDOMAIN.errors
is_dns1035_label = DNS1035_LABEL.errors
is_label_value = LABEL_VALUE.errors


@functools.lru_cache(maxsize=8192)
def is_qualified_name(value: str) -> tuple[str, ...]:
    """Label keys, annotation keys (lower-cased first), finalizers."""
    parts = value.split("/")
    if len(parts) > 2:
        return ("a qualified name " + regex_error(
            QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",)
    errs: list[str] = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    name = parts[-1]
    if not name:
        errs.append("name part must be non-empty")
    errs += ["name part " + m for m in QUALIFIED_NAME_PART.errors(name)]
    return tuple(errs)
