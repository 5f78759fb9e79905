"""The app's configuration: hueyviz is installed on every queue at startup."""
from __future__ import annotations

from django.apps import AppConfig


class HueyvizConfig(AppConfig):
    name = "hueyviz.contrib.django"
    label = "hueyviz"
    verbose_name = "hueyviz"

    def ready(self) -> None:
        # ready() runs in every process that calls django.setup(): web
        # workers, shells, management commands and the consumers (run_huey,
        # djangohuey), which is exactly where recording must happen.
        from .project import install_queues
        install_queues()
