"""The public photowall: Litestar + Jinja2 + htmx. Never imports torch or diffusers."""
