"""The twin's web page (``/web``): profiles, collection, asking and status for non-engineers."""

from twin_serving.web.router import STATIC_PATH, router, static_files

__all__ = ["STATIC_PATH", "router", "static_files"]
