from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotator.annotations"
    label = "annotations"
    verbose_name = "Annotations"

    def ready(self) -> None:
        _history_manager_class_once()


def _history_manager_class_once() -> None:
    """django-simple-history builds a new manager *class* (`Manager.from_queryset`, which walks the
    queryset class with `inspect.getmembers`) every time `instance.history` is read, and it reads it
    for every history row it writes: about a third of the CPU of saving one span. The class depends only
    on the descriptor's manager and queryset classes, so it is built once per descriptor instead."""
    from simple_history.manager import HistoryDescriptor

    if getattr(HistoryDescriptor, "_manager_class_once", False):
        return

    def __get__(self, instance, owner):  # type: ignore[no-untyped-def]
        manager_class = self.__dict__.get("_manager_class")
        if manager_class is None:
            manager_class = self._manager_class = self.manager_class.from_queryset(self.queryset_class)
        return manager_class(self.model, instance)

    HistoryDescriptor.__get__ = __get__  # type: ignore[method-assign]
    HistoryDescriptor._manager_class_once = True  # type: ignore[attr-defined]
