"""botocore's own paginators over a scripted client.

A scripted fake answers one call at a time as the service would, nextToken and all; the paging is
botocore's, as in production. Each call the paginator makes is first checked against the service's
model, so a parameter AWS would refuse fails here too.
"""

from __future__ import annotations

import functools
from typing import Any


def botocore_paginator(client: Any, service: str, operation: str) -> Any:
    """What `client.get_paginator(operation)` returns for a real `service` client."""
    from botocore.paginate import Paginator
    from botocore.validate import validate_parameters

    model = _service_model(service)
    name = next(n for n in model.operation_names if _snake(n) == operation)
    operation_model = model.operation_model(name)
    method = getattr(client, operation)

    def call(**params: Any) -> Any:
        validate_parameters(params, operation_model.input_shape)
        return method(**params)

    config = _session().get_paginator_model(service).get_paginator(name)
    return Paginator(call, config, operation_model)


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))


@functools.cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def _service_model(service: str) -> Any:
    return _session().get_service_model(service)
