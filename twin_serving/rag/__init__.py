"""The RAG pipeline as plain functions: self-query, expansion, retrieval, rerank, prompt."""
