"""The tasks shim: the one module that names the task library.

Django 6 ships the same API as `django.tasks`; moving there changes this import and nothing else.
"""

from __future__ import annotations

from django_tasks import TaskResult, TaskResultStatus, task
from django_tasks.exceptions import TaskResultDoesNotExist

__all__ = ["TaskResult", "TaskResultDoesNotExist", "TaskResultStatus", "task"]
