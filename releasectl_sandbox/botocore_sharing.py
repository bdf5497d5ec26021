"""botocore work that every new session and client of a process would repeat, done once.

A sandbox process (the demo, `sandbox up`) loads each service's model several times over:
moto for its responses and again for each backend's list of regions, the simulators and the
demo for their clients. A test process makes a new boto3 session and new clients for every
in-process CLI run and every Context, as a `releasectl` process does once. What botocore
computes for them depends only on its own data and code, so such a process computes it once:
the parsed service models and endpoint data, each handler's signature check and event-name
aliasing (nine tenths of a new session's CPU), and each service's client class (a third of a
new client's). What a session or a client holds of its own (credentials, endpoint, config,
event handlers registered on it) stays its own. The product's own processes make one session
each and do not use this.
"""

from __future__ import annotations

import functools
from typing import Any


def share_botocore_work() -> None:
    _share_models()
    _share_handler_checks()
    _share_client_classes()


_shared_models: dict[tuple[str, ...], Any] = {}


def _share_models() -> None:
    """Each session loads and parses the same service models and endpoint data again (~half of
    a short run's CPU). botocore already hands one parsed model to every client of a session;
    this hands it to every session and loader of the process."""
    from botocore.loaders import Loader

    if getattr(Loader, "_models_shared", False):
        return
    load_service_model, load_data = Loader.load_service_model, Loader.load_data
    load_data_with_path = Loader.load_data_with_path

    def shared_service_model(self: Any, service_name: str, type_name: str, api_version: Any = None) -> Any:
        key = ("service", service_name, type_name, str(api_version))
        if key not in _shared_models:
            _shared_models[key] = load_service_model(self, service_name, type_name, api_version)
        return _shared_models[key]

    def shared_data(self: Any, name: str) -> Any:
        key = ("data", name)
        if key not in _shared_models:
            _shared_models[key] = load_data(self, name)
        return _shared_models[key]

    def shared_data_with_path(self: Any, name: str) -> Any:
        # A session's endpoint resolver reads endpoints.json (~70 ms of parsing) this way.
        key = ("data_with_path", name)
        if key not in _shared_models:
            _shared_models[key] = load_data_with_path(self, name)
        return _shared_models[key]

    Loader.load_service_model = shared_service_model  # type: ignore[method-assign]
    Loader.load_data = shared_data  # type: ignore[method-assign]
    Loader.load_data_with_path = shared_data_with_path  # type: ignore[method-assign]
    Loader._models_shared = True  # type: ignore[attr-defined]


def _share_handler_checks() -> None:
    """Registering a handler checks that it takes **kwargs (inspect.signature, per handler and
    session) and aliases its event name (cached per session only)."""
    from botocore import hooks

    if getattr(hooks, "_checks_shared", False):
        return
    accepts_kwargs = hooks.accepts_kwargs

    @functools.lru_cache(maxsize=4096)
    def accepts_kwargs_once(function: Any) -> bool:
        return bool(accepts_kwargs(function))

    def shared_accepts_kwargs(handler: Any) -> bool:
        # A bound method's signature is its function's less `self`: the answer is the function's.
        function = getattr(handler, "__func__", handler)
        try:
            return accepts_kwargs_once(function)
        except TypeError:  # unhashable: ask every time
            return bool(accepts_kwargs(handler))

    aliased_names: dict[str, str] = {}
    init = hooks.EventAliaser.__init__

    def shared_alias_cache(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        init(self, event_emitter, event_aliases)
        if event_aliases is None:  # botocore's own aliases: the same names for every session
            self._alias_name_cache = aliased_names

    hooks.accepts_kwargs = shared_accepts_kwargs  # type: ignore[assignment]
    hooks.EventAliaser.__init__ = shared_alias_cache  # type: ignore[method-assign]
    hooks._checks_shared = True  # type: ignore[attr-defined]


def _share_client_classes() -> None:
    """A client class is made from the service model alone (a method per operation); with the
    models shared, one class per service serves every client of the process."""
    from botocore.client import ClientCreator

    if getattr(ClientCreator, "_classes_shared", False):
        return
    create = ClientCreator._create_client_class  # type: ignore[attr-defined]
    classes: dict[tuple[str, int], Any] = {}

    def shared_client_class(self: Any, service_name: str, service_model: Any) -> Any:
        key = (service_name, id(service_model._service_description))
        if key not in classes:
            classes[key] = (create(self, service_name, service_model), service_model._service_description)
        return classes[key][0]

    ClientCreator._create_client_class = shared_client_class  # type: ignore[attr-defined]
    ClientCreator._classes_shared = True  # type: ignore[attr-defined]
