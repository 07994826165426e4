"""Face data for training: the prepared cache of aligned crops, datasets over it, same-identity pairs."""
