"""Workaround `tff_default_context`: replace TFF's own local default context by fedkit's.

Symptom: TFF's import makes a `SyncExecutionContext` over `local_cpp_executor_factory` the default. Its
`worker_binary` is started with Python's stdout and stderr and stopped only by a finalizer, so it outlives
Python: `python script.py | cat` hangs until that orphaned worker is killed (checked on TFF 0.87.0: 10 min,
then killed by hand), and dropping the context at interpreter teardown prints a traceback.
Why private API: TFF offers no public way to read the default context (the bottom of the context stack,
`ContextStackImpl._stack[0]`) or to tell its own from a context a user set (`_executor_stack_fn` of its
executor factory, a closure of `local_cpp_executor_factory`); replacing a user's context would be wrong.
Written for: TFF 0.87.0.
"""

from __future__ import annotations

from collections.abc import Callable

from fedkit._compat.versions import applies

NAME = "tff_default_context"


def is_tffs_own_local_context(context: object) -> bool:
    """Whether `context` is the one TFF's import sets: a `SyncExecutionContext` over `local_cpp_executor_factory`."""
    stack_fn = getattr(getattr(context, "executor_factory", None), "_executor_stack_fn", None)
    return "local_cpp_executor_factory" in getattr(stack_fn, "__qualname__", "")


def replace_tffs_default_context(make_context: Callable[[], object]) -> None:
    """Make `make_context()` TFF's default context if the default is still TFF's own local one (idempotent).

    Done while Python is whole, so the replaced context's finalizer never runs at interpreter teardown.
    """
    if not applies(NAME, "tensorflow-federated"):
        return
    import tensorflow_federated as tff

    stack = tff.framework.get_context_stack()
    if is_tffs_own_local_context(stack._stack[0]):  # the bottom of the stack is the default context
        stack.set_default_context(make_context())
