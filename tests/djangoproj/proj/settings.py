"""A real Django project for tests/test_django.py, one per test directory.

The environment chooses the variant, so that every process of a test (the
shell that enqueues, each consumer, ``manage.py hueyviz``) runs the same one:

HVT_DIR      the test's directory: Django's database, Huey's, the gate file
HVT_MODE     ``djhuey``: one queue ``jobs`` in ``HUEY`` (huey.contrib.djhuey);
             ``djangohuey``: queues ``alpha`` and ``beta`` in ``DJANGO_HUEY``
HVT_DEBUG    ``1``: DEBUG=True, so both packages run tasks immediately
HVT_HUEYVIZ  JSON for ``HUEYVIZ``
HVT_HUEYVIZ_APP  ``0``: without hueyviz (the baseline of the measurements)
HVT_MONITOR  ``0``: without django-huey-monitor
"""
import json
import os

BASE = os.environ["HVT_DIR"]
MODE = os.environ.get("HVT_MODE", "djhuey")
DEBUG = os.environ.get("HVT_DEBUG") == "1"
SECRET_KEY = "hueyviz-test-project"
ALLOWED_HOSTS = ["*"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.path.join(BASE, "db.sqlite3"),
                         "OPTIONS": {"timeout": 30}}}

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
if os.environ.get("HVT_MONITOR", "1") == "1":
    # django-huey-monitor: another receiver of every Huey signal, writing rows.
    INSTALLED_APPS += ["bx_django_utils", "huey_monitor"]
HUEY_DB = os.path.join(BASE, "huey.db")
if MODE == "djhuey":
    INSTALLED_APPS += ["huey.contrib.djhuey", "djtasks"]
    HUEY = {"huey_class": "huey.SqliteHuey", "name": "jobs", "filename": HUEY_DB}
else:
    INSTALLED_APPS += ["django_huey", "mqtasks"]
    # Two queues in one database file: hueyviz keeps them apart by name.
    DJANGO_HUEY = {"default": "alpha", "queues": {
        "alpha": {"huey_class": "huey.SqliteHuey", "filename": HUEY_DB},
        "beta": {"huey_class": "huey.SqliteHuey", "filename": HUEY_DB},
    }}
if os.environ.get("HVT_HUEYVIZ_APP", "1") == "1":
    INSTALLED_APPS += ["hueyviz.contrib.django"]
if os.environ.get("HVT_HUEYVIZ"):
    HUEYVIZ = json.loads(os.environ["HVT_HUEYVIZ"])
