"""How every JSON body is read (JSONParser for the API, loads for a view that reads
its body itself): malformed JSON, or JSON nested deeper than anything the API
takes, is a 400 that says why — never a 500. Its own module: DRF's settings
import the parser while rest_framework.views is still loading."""

import json

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

# Far deeper than any payload the API takes (an Alertmanager webhook is 4 levels),
# far shallower than what makes Python's parser or a serializer recurse too deep.
MAX_JSON_DEPTH = 64


def loads(raw: bytes | str):
    """A request body as JSON: ParseError (400) for malformed text, for text that is
    not UTF-8, and for nesting deeper than MAX_JSON_DEPTH."""
    try:
        data = json.loads(raw)
    except RecursionError as exc:
        raise exceptions.ParseError(_too_deep()) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
    if _depth(data) > MAX_JSON_DEPTH:
        raise exceptions.ParseError(_too_deep())
    return data


def _too_deep() -> str:
    return _("The JSON is nested too deeply: at most %(depth)s levels.") % {"depth": MAX_JSON_DEPTH}


def _depth(data) -> int:
    """How deep lists and objects nest in `data`, without recursing."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with loads()'s limits: every API body goes through it."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            raw = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        return loads(raw)
