"""CLI subcommands, one module per area; loaded lazily by posebench.cli."""
