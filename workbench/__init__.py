"""The operators' workbench: a Gradio app that runs core/diffusion in-process and shows every
intermediate. `app.py` lays out and wires the page; the other modules are plain functions."""
