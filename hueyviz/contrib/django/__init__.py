"""hueyviz for Django projects: one line in ``INSTALLED_APPS``.

::

    INSTALLED_APPS = [..., "hueyviz.contrib.django"]

At startup (``AppConfig.ready``, so in web processes, shells, management
commands and every consumer alike) hueyviz is installed on djhuey's
``HUEY`` (``huey.contrib.djhuey``) and on every queue of ``DJANGO_HUEY``
(django-huey), each recording into its default sink, as
:func:`hueyviz.install` does.  ``python manage.py hueyviz COMMAND`` runs the
command line with the project's queues as the default source, merged into
one trace (one pool per queue).

Optional settings, with :func:`hueyviz.install`'s defaults::

    HUEYVIZ = {
        "sink": None,           # one URL for every queue (each records under its name)
        "capture_args": False,  # record bounded reprs of task arguments
        "guard": False,         # True/"raise" or "warn": hueyviz.guard in consumers
        "watchdog": None,       # seconds: hueyviz.watchdog(after=...) in consumers
    }

This package imports nothing from Django itself; its ``apps`` and
``management`` modules do, and only Django loads them.
"""
