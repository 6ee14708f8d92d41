"""Collection stage: crawl each author's sources into the document warehouse."""

import dagster as dg

defs = dg.Definitions()
