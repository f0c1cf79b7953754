"""Ports for handlers, from the dishka container the composition root built.

Every port is an application-scoped singleton, so handlers resolve from the app container
directly (no per-request container): ``@inject`` and a ``FromDishka[TweetsPort]`` parameter.
"""

from collections.abc import Callable
from inspect import Parameter
from typing import Any, ParamSpec, TypeVar

from dishka import FromDishka
from dishka.integrations.base import wrap_injection
from litestar import Request

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["FromDishka", "inject"]


def inject(func: Callable[P, T]) -> Callable[P, T]:
    """Fill ``FromDishka[...]`` parameters of a handler from the application container."""
    params = func.__code__.co_varnames[: func.__code__.co_argcount + func.__code__.co_kwonlyargcount]
    extra = [] if "request" in params else [Parameter("request", Parameter.KEYWORD_ONLY, annotation=Request)]
    return wrap_injection(
        func=func,
        is_async=True,
        additional_params=extra,
        container_getter=_app_container,
    )


def _app_container(_args: Any, kwargs: dict[str, Any]) -> Any:
    return kwargs["request"].app.state.dishka_container
