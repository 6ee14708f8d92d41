"""The twin's web page (``/web``): profiles, collection, asking and status for non-engineers."""

from twin_serving.web.router import router

__all__ = ["router"]
