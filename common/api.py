"""How the API answers domain errors: one mapping for every endpoint.

- TransitionNotAllowed → 409 with the current state and the allowed actions;
- StaleVersion → 412 with the current version;
- Django ValidationError (from services) → 400 with field errors;
- Django PermissionDenied → 403 with the rule's own message;
- ObjectDoesNotExist → 404;
- database unavailable → 503 with Retry-After, so senders retry.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import StaleVersion, TransitionNotAllowed
from common.responses import unavailable


def exception_handler(exc, context):
    if isinstance(exc, TransitionNotAllowed):
        return Response(
            {
                "detail": exc.message,
                "code": "transition_not_allowed",
                "state": exc.state,
                "allowed": exc.allowed,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, StaleVersion):
        return Response(
            {"detail": exc.message, "code": "stale_version", "current_version": exc.current},
            status=status.HTTP_412_PRECONDITION_FAILED,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, OperationalError | InterfaceError):
        # The same 503 the site answers when the failure comes before the view.
        return unavailable(context["request"])
    return drf_exception_handler(exc, context)
