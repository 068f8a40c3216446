"""Local stand-ins for upstream's test images (see build.py)."""
