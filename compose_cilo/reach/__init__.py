"""How the host reaches a copy: directly at its containers' addresses, or through cilo's
router (a Caddy container that publishes HTTP and HTTPS on the engine's host)."""
