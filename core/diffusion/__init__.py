"""The diffusion engine: stage 1 (composition) and stage 2 (identity), and their helpers."""
