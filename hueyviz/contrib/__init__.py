"""Integrations with frameworks that run Huey; each is optional and imported
only by projects that use that framework (hueyviz never requires it)."""
