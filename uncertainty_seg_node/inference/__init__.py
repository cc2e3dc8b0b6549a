"""One inference interface for the node, the replay evaluation and the benchmark."""
