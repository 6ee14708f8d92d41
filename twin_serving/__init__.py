"""The HTTP API, the web page, the RAG pipeline and the local TGI-compatible server."""
