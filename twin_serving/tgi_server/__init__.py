"""The local TGI-compatible model server (``twin serve-model``)."""

from twin_serving.tgi_server.app import create_tgi_app

__all__ = ["create_tgi_app"]
