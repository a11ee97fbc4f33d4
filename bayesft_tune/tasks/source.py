"""Task references: one string that names a task in every process of a search.

A reference is what ``--task`` takes, what ``search_config.json`` records as the task's
origin, what :class:`~bayesft_tune.tasks.TrialSpec` carries to the Ray workers and what a
checkpoint names:

* ``mnist_mlp``: a built-in task (:data:`~bayesft_tune.tasks.TASKS`);
* ``package.module:NAME``: a :class:`Task` (or a zero-argument function returning one) in an
  importable module;
* ``/abs/path/file.py:NAME``: the same in a file (recorded absolute);
* ``data:{"data": PATH, "model": MODEL}``: data without code (``--data``, ``--model``);
* ``object:NAME``: a Task passed as a Python object that no module holds (a script's or a
  notebook's): it reaches the workers by value (see ``trainables``) and cannot be resolved
  by a fresh process.

Workers of a Ray job find the modules of file and module references because the search
ships them with the job's ``runtime_env`` (``py_modules``, :func:`modules_to_ship`); a shipped
file is imported by its module name, listed in :data:`TASK_MODULES_ENV`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import math
import os
import sys
import sysconfig
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from torch import nn

from bayesft_tune.data.files import DataFile
from bayesft_tune.errors import UserInputError
from bayesft_tune.models import MODELS
from bayesft_tune.tasks.task import SMOKE_ENV, TASKS, Task, cached_data

__all__ = ["TASK_MODULES_ENV", "AdaptedModel", "data_reference", "data_task", "get_task", "load_file",
           "modules_to_ship", "reference_for", "register_task", "shipped_task"]

TASK_MODULES_ENV = "BAYESFT_TASK_MODULES"
"""Comma-separated module names the job's ``runtime_env`` ships (``py_modules``): a worker
imports a file reference's module by this name instead of reading the driver's path."""
DATA_PREFIX, OBJECT_PREFIX = "data:", "object:"

_RESOLVED: dict[str, Task] = {}
"""Reference -> Task, resolved (or registered) in this process."""


def get_task(ref: str) -> Task:
    """The task a reference names (its smoke variant under ``BAYESFT_SMOKE=1``).

    Raises:
        UserInputError: unknown name, a module or file that does not import, a missing NAME,
            or an object that is not a Task; each message names it and the fix.
    """
    if not isinstance(ref, str):
        raise UserInputError(f"a task reference must be a string; got {type(ref).__name__}. Pass a built-in name, "
                             "module:NAME or file.py:NAME.")
    if ref not in _RESOLVED:
        _RESOLVED[ref] = _resolve(ref)
    task = _RESOLVED[ref]
    return task.smoke_variant() if os.environ.get(SMOKE_ENV) == "1" else task


def register_task(ref: str, task: Task) -> None:
    """Make ``ref`` name ``task`` in this process (a Task shipped by value to a worker)."""
    _RESOLVED[ref] = task


def _resolve(ref: str) -> Task:
    if ref.startswith(DATA_PREFIX):
        spec = json.loads(ref[len(DATA_PREFIX):])
        return data_task(spec["data"], spec["model"])
    if ref.startswith(OBJECT_PREFIX):
        raise UserInputError(f"task {ref[len(OBJECT_PREFIX):]!r} was passed as a Python object that no importable "
                             "module holds (defined in a script or notebook), so this process cannot rebuild it. "
                             "Put the Task in a file and use file.py:NAME, or pass the object again (task=...).")
    if ":" not in ref:
        return TASKS.get(ref)
    target, _, name = ref.rpartition(":")
    return _as_task(_member(_load(target), name, ref), ref)


def _load(target: str) -> ModuleType:
    """The module of a reference's target: a ``.py`` file (shipped or on disk) or a module name."""
    if not target.endswith(".py"):
        return _import(target)
    stem = os.path.splitext(os.path.basename(target))[0]
    if stem in os.environ.get(TASK_MODULES_ENV, "").split(","):
        return _import(stem)  # a Ray worker: the job's runtime_env shipped the file as this module
    return load_file(target)


def _import(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise UserInputError(f"task module {module!r} is not importable here ({err}). Install it, run from the "
                             "directory that holds it, or pass the file as path/to/file.py:NAME.") from err
    except Exception as err:  # the user's module raised while importing: say where
        raise UserInputError(f"task module {module!r} failed to import: {type(err).__name__}: {err}. "
                             "Fix the module (python -c 'import ...' shows the traceback).") from err


def load_file(path: str) -> ModuleType:
    """Import the Python file ``path`` as the module named by its stem (once per process)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if not os.path.isfile(path):
        raise UserInputError(f"task file {path!r} does not exist. Pass an existing file as path/to/file.py:NAME.")
    if not stem.isidentifier():
        raise UserInputError(f"task file {path!r}: {stem!r} is not a Python module name; rename the file "
                             "(letters, digits, _).")
    loaded = sys.modules.get(stem)
    if loaded is not None:
        if os.path.abspath(getattr(loaded, "__file__", "") or "") == os.path.abspath(path):
            return loaded
        raise UserInputError(f"task file {path!r} would be module {stem!r}, but a module of that name is already "
                             f"loaded from {getattr(loaded, '__file__', None)!r}. Rename the file.")
    spec = importlib.util.spec_from_file_location(stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[stem]
        raise UserInputError(f"task file {path!r} failed to import: {type(err).__name__}: {err}. Fix the file "
                             f"(python {path} shows the traceback).") from err
    return module


def _member(module: ModuleType, name: str, ref: str) -> Any:
    if not name.isidentifier() or not hasattr(module, name):
        tasks = sorted(k for k, v in vars(module).items() if isinstance(v, Task))
        raise UserInputError(f"{ref!r}: module {module.__name__!r} has no {name!r}; its Task objects are "
                             f"{tasks}. Pass one as ...:NAME.")
    return getattr(module, name)


def _as_task(value: Any, ref: str) -> Task:
    """``value``, or what it returns when it is a zero-argument function, checked to be a Task."""
    if not isinstance(value, Task) and callable(value) and not isinstance(value, type):
        try:
            value = value()
        except TypeError as err:
            raise UserInputError(f"{ref!r} is a function but not one of zero arguments ({err}); point at a Task or "
                                 "at a function returning one.") from err
    if not isinstance(value, Task):
        raise UserInputError(f"{ref!r} is a {type(value).__name__}, not a bayesft_tune.Task. Point at a Task "
                             "(or a zero-argument function returning one).")
    return value


def reference_for(task: Any) -> str:
    """The reference of what a user passed as the task: a string is resolved (and checked);
    a :class:`Task` object gets ``module:NAME`` where an importable module holds it, else
    ``object:NAME`` (registered in this process)."""
    if isinstance(task, str):
        ref = _absolute(task)
        get_task(ref)
        return ref
    if not isinstance(task, Task):
        raise UserInputError(f"task must be a task name, module:NAME, file.py:NAME or a bayesft_tune.Task; got "
                             f"{type(task).__name__}.")
    if task.name in TASKS.names() and TASKS.get(task.name) is task:
        return task.name
    ref = _held_by_module(task) or f"{OBJECT_PREFIX}{task.name}"
    register_task(ref, task)
    return ref


def _absolute(ref: str) -> str:
    """A file reference with its path made absolute (a worker or a later resume may run elsewhere)."""
    target, sep, name = ref.rpartition(":")
    if sep and target.endswith(".py") and not ref.startswith(DATA_PREFIX):
        return f"{os.path.abspath(os.path.expanduser(target))}:{name}"
    return ref


def _held_by_module(task: Task) -> str | None:
    """``module:NAME`` of a module-level name bound to ``task`` (not ``__main__``), if any."""
    names = {getattr(part, "__module__", None) for part in (task.model, task.data) if callable(part)}
    for module_name in sorted(n for n in names if n and n != "__main__"):
        module = sys.modules.get(module_name)
        for key, value in vars(module or object()).items():
            if value is task:
                file = getattr(module, "__file__", "") or ""
                return f"{file}:{key}" if module_name == _stem(file) and not _installed(file) else \
                    f"{module_name}:{key}"
    return None


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _installed(path: str) -> bool:
    """Whether ``path`` lies in this interpreter's installed packages (every worker has those)."""
    roots = {os.path.abspath(p) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                                          os.path.dirname(os.path.dirname(os.path.abspath(__file__))))}
    return any(os.path.abspath(path).startswith(root + os.sep) for root in roots)


def shipped_task(ref: str) -> Task | None:
    """The Task object an ``object:`` reference names in this process (it travels to the
    workers by value); None for every other reference (the workers resolve those)."""
    return _RESOLVED.get(ref) if ref.startswith(OBJECT_PREFIX) else None


def modules_to_ship(ref: str) -> tuple[list[str], list[str]]:
    """``(py_modules paths, module names imported from them)`` a Ray job needs for ``ref``:
    the reference's file, or the top-level package of its module(s) when not installed."""
    if ref.startswith(DATA_PREFIX):
        model = json.loads(ref[len(DATA_PREFIX):])["model"]
        return modules_to_ship(model) if ":" in model else ([], [])
    if ref.startswith(OBJECT_PREFIX):
        task = _RESOLVED[ref]
        names = {getattr(p, "__module__", None) for p in (task.model, task.data) if callable(p)} - {None, "__main__"}
        return [path for name in sorted(names) for path in _module_root(name)], []
    if ":" not in ref:
        return [], []
    target = ref.rpartition(":")[0]
    if target.endswith(".py"):
        return [target], [_stem(target)]
    return _module_root(target), []


def _module_root(module: str) -> list[str]:
    """The file or package directory of ``module``'s top-level package, unless installed."""
    top = module.split(".")[0]
    path = getattr(sys.modules.get(top) or _import(top), "__file__", None)
    if path is None or _installed(path):
        return []
    return [os.path.dirname(path) if os.path.basename(path) == "__init__.py" else path]


@dataclass(frozen=True)
class AdaptedModel:
    """A registered model built for a data set's input shape and class count.

    Attributes:
        name: registered model name.
        input_shape: one input, ``C x H x W`` or ``D``.
        num_classes: classes of the data.
    """

    name: str
    input_shape: tuple[int, ...]
    num_classes: int

    def __call__(self, **kwargs: Any) -> nn.Module:
        accepted = inspect.signature(MODELS.get(self.name).build).parameters
        shape = {"num_classes": self.num_classes, "in_features": math.prod(self.input_shape)}
        if len(self.input_shape) == 3:
            shape["in_channels"] = self.input_shape[0]
        return MODELS.get(self.name).build(**{k: v for k, v in shape.items() if k in accepted}, **kwargs)


def data_reference(data: str, model: str | None) -> str:
    """The reference of ``--data PATH`` with ``--model NAME|file.py:NAME`` (default ``mlp``)."""
    model = _absolute(model or "mlp")
    return DATA_PREFIX + json.dumps({"data": os.path.abspath(os.path.expanduser(data)), "model": model},
                                    sort_keys=True)


def data_task(path: str, model: str) -> Task:
    """The task of data without code: ``model`` (registered, adapted to the data; or a file's
    or module's builder) on the file or directory ``path``, with the registered model's
    width knob and budget where a built-in task uses that model."""
    data = DataFile(path)
    if ":" in model:
        target, _, name = model.rpartition(":")
        builder = _member(_load(target), name, model)
        builder = builder.model if isinstance(builder, Task) else builder
        if not callable(builder):
            raise UserInputError(f"--model {model!r} is a {type(builder).__name__}; point at a function "
                                 "(**arch) -> nn.Module.")
        return Task(name=data.stem, model=builder, data=data, description=f"{model} on {path}")
    if model not in MODELS.names():
        MODELS.get(model)  # the registry's error lists the names
    probe = cached_data(data, None, False, 0)  # the shape and classes; the split of seed 0 stays cached
    shape, classes = probe.input_shape, probe.num_classes
    like = next((t for t in TASKS.values() if t.model == model), None)
    budget = {k: getattr(like, k) for k in ("epochs", "batch_size", "lr", "widths_kwarg", "base_widths",
                                            "arch_knobs")} if like else {}
    return Task(name=data.stem, model=AdaptedModel(model, shape, classes), data=data, **budget,
                description=f"{model} adapted to {'x'.join(map(str, shape))} inputs, {classes} classes, {path}")
