"""The protobuf field table is generated, never edited by hand: regenerating it from the
committed upstream facts (kapi/endpoints/protobuf_facts.json) gives exactly the committed
protobuf_fields.json, and `extract` turns a generated.proto plus its Go types into the
facts the generator reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kapi.endpoints import protobuf_gen as gen

# A generated.proto and Go types in upstream's shapes: comments, a block comment, a map,
# a repeated field, an inline member, a pointer, an untagged special message.
PROTO = """
syntax = "proto2";

package k8s.io.api.demo.v1;

// Widget is a demo kind.
message Widget {
  /* block comment
     over lines */
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;

  // spec of the widget
  optional WidgetSpec spec = 2;
}

message WidgetSpec {
  map<string,string> labels = 1;

  repeated string names = 2;

  optional int32 replicas = 3;

  optional Inner inner = 4;
}

message Inner {
  optional string raw = 1;
}
"""
GO = """
type Widget struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	Spec WidgetSpec `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
}

type WidgetSpec struct {
	Labels map[string]string `json:"labels,omitempty" protobuf:"bytes,1,rep,name=labels"`
	Names []string `json:"names" protobuf:"bytes,2,rep,name=names"`
	Replicas *int32 `json:"replicas,omitempty" protobuf:"varint,3,opt,name=replicas"`
	Inner `json:",inline" protobuf:"bytes,4,opt,name=inner"`
	Cache string `json:"-"`
}
"""


def test_regenerating_gives_the_committed_table() -> None:
    assert gen.generate() == gen.TABLE.read_text()


def test_the_facts_cover_every_package_at_one_tag() -> None:
    facts = gen.read_facts()
    sources = {entry["source"] for entry in facts["packages"].values()}
    assert sources == {f"k8s.io/{repo}/{sub}" for repo, sub in gen.PACKAGES}
    assert facts["tag"].startswith("v0.")


def test_every_root_and_referenced_message_is_in_the_facts() -> None:
    table = gen.build_table(gen.read_facts(), gen.roots())
    for rows in table.values():
        for _json_name, kind, ref, *_ in rows.values():
            if kind == "message":
                assert ref in table
            elif kind == "map":
                assert ref[1] in gen._SCALARS or ref[1] in table


def test_extract_reads_proto_and_go_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "api" / "demo" / "v1"
    package.mkdir(parents=True)
    (package / "generated.proto").write_text(PROTO)
    (package / "types.go").write_text(GO)
    (package / "zz_generated.deepcopy.go").write_text("type Widget struct {\n\tX int `json:\"x\"`\n}\n")
    meta = tmp_path / "apimachinery" / "pkg" / "apis" / "meta" / "v1"
    meta.mkdir(parents=True)
    (meta / "generated.proto").write_text(
        "package k8s.io.apimachinery.pkg.apis.meta.v1;\n\nmessage ObjectMeta {\n"
        "  optional string name = 1;\n}\n")
    monkeypatch.setattr(gen, "PACKAGES", [("api", "demo/v1"), ("apimachinery", "pkg/apis/meta/v1")])
    out = tmp_path / "facts.json"
    gen.extract(tmp_path / "api", tmp_path / "apimachinery", "v9.9.9", out)

    facts = json.loads(out.read_text())
    assert facts["tag"] == "v9.9.9"
    demo = facts["packages"]["k8s.io.api.demo.v1"]
    assert demo["source"] == "k8s.io/api/demo/v1"
    assert demo["messages"] == {
        "Widget": {
            "1": ["metadata", ".k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                  "json=metadata omitempty"],
            "2": ["spec", "WidgetSpec", "json=spec omitempty"]},
        "WidgetSpec": {
            "1": ["labels", "map<string, string>", "json=labels omitempty"],
            "2": ["names", "repeated string", "json=names"],
            "3": ["replicas", "int32", "json=replicas omitempty ptr"],
            "4": ["inner", "Inner", "json=,inline"]},
        "Inner": {"1": ["raw", "string", "json=-"]},
    }
    # and the generator reads what extract wrote, Go facts becoming decoder rows
    table = gen.build_table(facts, ["io.k8s.api.demo.v1.Widget"])
    assert table["io.k8s.api.demo.v1.WidgetSpec"] == {
        1: ["labels", "map", ["string", "string"], False, False, True],
        2: ["names", "string", None, True, False, False],
        3: ["replicas", "int32", None, False, True, True],
        4: ["", "message", "io.k8s.api.demo.v1.Inner", False, False, False],
    }
    assert table["io.k8s.api.demo.v1.Inner"] == {1: ["raw", "string", None, False, False, True]}
    assert set(table) == {"io.k8s.api.demo.v1.Widget", "io.k8s.api.demo.v1.WidgetSpec",
                          "io.k8s.api.demo.v1.Inner",
                          "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def test_an_unknown_message_type_is_an_error() -> None:
    facts = {"packages": {"k8s.io.api.demo.v1": {"source": "k8s.io/api/demo/v1", "messages": {
        "Widget": {"1": ["spec", "Missing", "json=spec"]}}}}}
    with pytest.raises(ValueError, match="unknown message type Missing"):
        gen.build_table(facts, ["io.k8s.api.demo.v1.Widget"])


def test_an_unreadable_field_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot read field type"):
        gen.parse_type("optional required string")
