"""Hardware and model descriptions, and per-layer characterisation on each SA class."""
