"""The prompt agent: a short idea → a portrait concept → keywords → an SDXL prompt.

Import the parts you need (`core.prompt.agent`, `core.prompt.styles`, …): this package keeps
its own import light, so the site can use the styles and idea checks without loading models.
"""
