"""Server-side printers: the upstream Table columns and row function of each built-in
kind (pkg/printers/internalversion/printers.go), one module per API group.

A kind's strategy (kapi/registry/kinds) names its printer; the Table envelope (rows,
includeObject, watch events) is built in kapi/endpoints/tables. Printers are pure
functions over dicts: they never do I/O, read the clock or import anything above meta.
"""
