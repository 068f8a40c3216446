"""Builds kapi/endpoints/protobuf_fields.json, the field table kapi.endpoints.protobuf
decodes request bodies with, from the upstream facts kept in kapi/endpoints/protobuf_facts.json.

    python -m kapi.endpoints.protobuf_gen            # rewrite protobuf_fields.json
    python -m kapi.endpoints.protobuf_gen --check    # exit 1 if the committed table differs

For a new Kubernetes release, first refresh the facts from checkouts of k8s.io/api and
k8s.io/apimachinery at the release's tag (e.g. v0.33.13), then regenerate:

    python -m kapi.endpoints.protobuf_gen extract --api ../api --apimachinery ../apimachinery \\
        --tag v0.33.13
    python -m kapi.endpoints.protobuf_gen

`extract` reads each package's generated.proto (message names, field names, numbers,
protobuf types) and its Go types (the json tag's name, `,inline` and `omitempty`, and
whether the Go field is a pointer: what Go's encoding/json makes of the decoded struct)
and writes protobuf_facts.json: the tag, then per proto package its source directory and
its messages, each field one row `"number": [name, type, go facts]` where type is the
proto type as written (`T`, `repeated T` or `map<K, V>`) and go facts are
`json=NAME|,inline|- [omitempty] [ptr]`; nothing else (no upstream comments). Generating
then keeps only the messages reachable from the kinds kapi.endpoints.protobuf accepts,
keyed by OpenAPI definition name.

The roots are kapi.endpoints.protobuf.KINDS, and importing that module reads the table: to
build it from nothing, write `{}` to protobuf_fields.json first.

A test (tests/endpoints/test_protobuf_gen.py) regenerates the table from the facts and
compares it with the committed file, so the table is never edited by hand. This module is
a build tool: it must never be imported by the serving path.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FACTS = HERE / "protobuf_facts.json"
TABLE = HERE / "protobuf_fields.json"

# (repository, package directory) of every package whose messages kapi may decode.
PACKAGES = [("api", d) for d in (
    "apps/v1", "authentication/v1", "authorization/v1", "autoscaling/v1", "autoscaling/v2",
    "batch/v1", "certificates/v1", "coordination/v1", "core/v1", "discovery/v1", "events/v1",
    "flowcontrol/v1", "networking/v1", "node/v1", "policy/v1", "rbac/v1", "scheduling/v1",
    "storage/v1")] + [("apimachinery", d) for d in (
        "pkg/api/resource", "pkg/apis/meta/v1", "pkg/runtime", "pkg/util/intstr")]
# Messages decoded besides the kinds: the envelope and the meta/v1 kinds every group has.
EXTRA_ROOTS = ("io.k8s.apimachinery.pkg.runtime.Unknown",
               "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
               "io.k8s.apimachinery.pkg.apis.meta.v1.Status")

_SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32",
            "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "float", "double"}
_FIELD = re.compile(r"^\s*(optional|repeated|required)?\s*(map<\s*(\w+)\s*,\s*([\w.]+)\s*>|[\w.]+)"
                    r"\s+(\w+)\s*=\s*(\d+)\s*;\s*(?://\s*(.*))?$")


@dataclass(frozen=True)
class Field:
    label: str  # optional / repeated / map
    type: str  # proto type as written (a scalar, or a message name), or the map's value type
    key: str  # the map's key type; "" for other fields
    name: str
    number: int
    facts: str  # "json=NAME[,inline] [omitempty] [ptr]" from the Go struct


# -- reading the facts file -------------------------------------------------------------
def parse_type(written: str) -> tuple[str, str, str]:
    """(label, type, key) of a facts row's type: "T", "repeated T" or "map<K, V>"."""
    if written.startswith("map<") and written.endswith(">"):
        key, value = (word.strip() for word in written[len("map<"):-1].split(","))
        return "map", value, key
    label, _, typ = written.rpartition(" ")
    if label not in ("", "repeated"):
        raise ValueError(f"cannot read field type: {written!r}")
    return label or "optional", typ, ""


def read_messages(facts: dict) -> dict[str, tuple[str, list[Field]]]:
    """{package.Message: (package, fields)} of the whole facts file."""
    out: dict[str, tuple[str, list[Field]]] = {}
    for package, entry in facts["packages"].items():
        for message, rows in entry["messages"].items():
            fields = []
            for number, (name, written, go) in rows.items():
                label, typ, key = parse_type(written)
                fields.append(Field(label, typ, key, name, int(number), go))
            out[f"{package}.{message}"] = (package, fields)
    return out


def definition_name(proto_name: str) -> str:
    """k8s.io.api.core.v1.Pod -> io.k8s.api.core.v1.Pod (the OpenAPI definition name)."""
    return "io.k8s." + proto_name[len("k8s.io."):]


def _qualify(typ: str, package: str, known: set[str]) -> str:
    if typ in _SCALARS:
        return typ
    full = typ.lstrip(".") if "." in typ else f"{package}.{typ}"
    if full not in known:
        raise ValueError(f"unknown message type {typ} in package {package}")
    return definition_name(full)


def _facts(facts: str, proto_name: str) -> tuple[str, bool, bool]:
    """(json name, pointer, omitempty); no json name means the proto name."""
    words = facts.split()
    tag = next((w[len("json="):] for w in words if w.startswith("json=")), "-")
    if tag == ",inline":
        return "", "ptr" in words, "omitempty" in words
    if tag == "-":  # no json tag: the hand-decoded special messages (Time, IntOrString...)
        return proto_name, False, True
    return tag, "ptr" in words, "omitempty" in words


def build_table(facts: dict, roots: list[str]) -> dict[str, dict[int, list]]:
    """The field table of every message reachable from roots (definition names)."""
    messages = read_messages(facts)
    known = set(messages)
    by_definition = {definition_name(n): n for n in messages}
    table: dict[str, dict[int, list]] = {}
    todo = list(roots)
    while todo:
        definition = todo.pop()
        if definition in table:
            continue
        package, fields = messages[by_definition[definition]]
        rows: dict[int, list] = {}
        for f in sorted(fields, key=lambda f: f.number):
            typ = _qualify(f.type, package, known)
            json_name, pointer, omitempty = _facts(f.facts, f.name)
            ref: list[str] | str | None
            if f.label == "map":
                kind, ref = "map", [f.key, typ]
            elif typ in _SCALARS:
                kind, ref = typ, None
            else:
                kind, ref = "message", typ
            rows[f.number] = [json_name, kind, ref, f.label == "repeated", pointer, omitempty]
            if typ not in _SCALARS:
                todo.append(typ)
        table[definition] = rows
    return dict(sorted(table.items()))


def render(table: dict[str, dict[int, list]]) -> str:
    """The table's JSON text: one line per field, so a regeneration diffs by field."""
    return render_json({name: {str(n): row for n, row in rows.items()}
                        for name, rows in table.items()})


def render_json(top: dict[str, Any], indent: str = "  ") -> str:
    """Nested dicts as JSON with one line per innermost row, so a change diffs by row."""
    out = ["{"]
    for i, (key, value) in enumerate(top.items()):
        sep = "," if i < len(top) - 1 else ""
        if isinstance(value, dict) and value:
            inner = render_json(value, indent + "  ").rstrip("\n")
            out.append(f"{indent}{json.dumps(key)}: {inner}{sep}")
        else:
            out.append(f"{indent}{json.dumps(key)}: {json.dumps(value)}{sep}")
    out.append(indent[:-2] + "}")
    return "\n".join(out) + "\n"


def read_facts(path: Path = FACTS) -> dict:
    return json.loads(path.read_text())


def roots() -> list[str]:
    from kapi.endpoints.protobuf import KINDS

    return sorted(KINDS) + list(EXTRA_ROOTS)


def generate(path: Path = FACTS) -> str:
    return render(build_table(read_facts(path), roots()))


# -- extracting facts from upstream checkouts ---------------------------------------------
_STRUCT = re.compile(r"^type (\w+) struct \{")
_GO_FIELD = re.compile(r"^\t(?:(\w+)\s+)?([^\s`]+)\s+`([^`]*)`")
_TAG = re.compile(r'(\w+):"([^"]*)"')


def go_facts(go_sources: list[str]) -> dict[tuple[str, int], str]:
    """{(struct, protobuf field number): "json=... [omitempty] [ptr]"} from Go files."""
    out: dict[tuple[str, int], str] = {}
    for text in go_sources:
        struct = None
        for line in text.splitlines():
            m = _STRUCT.match(line)
            if m:
                struct = m.group(1)
                continue
            if line.startswith("}"):
                struct = None
            if struct is None or line.lstrip().startswith("//"):
                continue
            m = _GO_FIELD.match(line)
            if m is None:
                continue
            _, go_type, tags = m.groups()
            tag = dict(_TAG.findall(tags))
            parts = tag.get("protobuf", "-").split(",")
            if len(parts) < 2:  # no protobuf field (`protobuf:"-"` or none)
                continue
            number = int(parts[1])
            name, _, options = tag.get("json", "-").partition(",")
            words = [f"json={',inline' if 'inline' in options else name or '-'}"]
            if "omitempty" in options:
                words.append("omitempty")
            if go_type.startswith("*"):
                words.append("ptr")
            out[(struct, number)] = " ".join(words)
    return out


def proto_messages(proto: str, facts: dict[tuple[str, int], str]) -> tuple[str, dict]:
    """(package, {message: {number: [name, type, go facts]}}) of one generated.proto."""
    package, message = "", None
    messages: dict[str, dict[str, list[str]]] = {}
    for raw in re.sub(r"/\*.*?\*/", "", proto, flags=re.S).splitlines():
        line = raw.split("//", 1)[0].strip()
        if line.startswith("package "):
            package = line[len("package "):].rstrip(";").strip()
        elif line.startswith("message "):
            message = line.split()[1]
            messages[message] = {}
        elif line == "}" and message is not None:
            message = None
        elif message is not None and line:
            m = _FIELD.match(line)
            if m is None:
                raise ValueError(f"cannot read {message}: {raw!r}")
            label, typ, name, number = m.group(1), m.group(2), m.group(5), m.group(6)
            written = f"repeated {typ}" if label == "repeated" else typ
            go = facts.get((message, int(number)), "json=-")
            messages[message][number] = [name, re.sub(r"\s*,\s*", ", ", written), go]
    return package, messages


def extract(api: Path, apimachinery: Path, tag: str, path: Path = FACTS) -> None:
    """Rewrite the facts file from checkouts of k8s.io/api and k8s.io/apimachinery."""
    roots_ = {"api": (api, "k8s.io/api"), "apimachinery": (apimachinery, "k8s.io/apimachinery")}
    packages = {}
    for repo, sub in PACKAGES:
        root, module = roots_[repo]
        pkg_dir = root / sub
        go = [p.read_text() for p in sorted(pkg_dir.glob("*.go"))
              if not p.name.endswith("_test.go") and not p.name.startswith(("zz_", "generated"))]
        package, messages = proto_messages((pkg_dir / "generated.proto").read_text(),
                                           go_facts(go))
        packages[package] = {"source": f"{module}/{sub}", "messages": messages}
    path.write_text(render_json({"tag": tag, "packages": dict(sorted(packages.items()))}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kapi.endpoints.protobuf_gen",
                                description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="compare, do not write")
    sub = p.add_subparsers(dest="command")
    e = sub.add_parser("extract", help="refresh the facts file from upstream checkouts")
    e.add_argument("--api", type=Path, required=True, help="a k8s.io/api checkout")
    e.add_argument("--apimachinery", type=Path, required=True)
    e.add_argument("--tag", required=True, help="the tag both checkouts are at")
    args = p.parse_args(argv)
    if args.command == "extract":
        extract(args.api, args.apimachinery, args.tag)
        return 0
    text = generate()
    if args.check:
        same = TABLE.exists() and TABLE.read_text() == text
        print("protobuf_fields.json is " + ("up to date" if same else "out of date"))
        return 0 if same else 1
    TABLE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
