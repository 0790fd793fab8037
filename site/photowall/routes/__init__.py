"""HTTP handlers, one module per area; each handler reads typed input, calls a service,
returns a template or a response."""
