"""Domain logic of LLM Twin: plain functions and classes, tested without Dagster."""
