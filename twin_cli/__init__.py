"""The ``twin`` command line: the one layer that may import every other, and that nothing imports."""
