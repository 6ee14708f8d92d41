"""One ConfigurableResource per external system, and the local/prod resource sets."""
