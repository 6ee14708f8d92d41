"""Base models: the offline tiny model built from the author's corpus, or a configured HF model."""
