"""Dagster software-defined assets, checks, sensors, schedules and jobs of LLM Twin."""
