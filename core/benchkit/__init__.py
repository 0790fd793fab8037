"""`narcis bench`: counting the work a portrait does, the host overhead per step, and GPU
seconds against a straightforward reference implementation."""
