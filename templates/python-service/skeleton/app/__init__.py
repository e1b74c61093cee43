"""${{ values.name }}: an HTTP service with /healthz and /readyz probes."""
