"""Admission: mutating then validating steps run on every write before storage."""
