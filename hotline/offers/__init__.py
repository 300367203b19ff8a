"""Job and training offers of the labour offices: the feed, its import, sample data and Polish search."""
