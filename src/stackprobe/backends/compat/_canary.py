"""Small helpers the patches' canaries share (no moto import; botocore only when a canary runs)."""

from __future__ import annotations

from collections.abc import Callable

from stackprobe.backends.compat.base import Symptom


def error_of(call: Callable[[], object]) -> str | None:
    """The error a boto3 call ends in (code and message), or None when it succeeds."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        call()
    except ClientError as error:
        details = error.response.get("Error", {})
        message = details.get("Message", "")
        # moto answers an unimplemented action with werkzeug's HTML 500 page: only its title says anything.
        message = message.split("<title>")[-1].split("</title>")[0] if "<title>" in message else message
        return f"{details.get('Code', '?')}: {message}".strip()
    except (BotoCoreError, ResponseParserError) as error:
        # An unparseable answer: moto's HTML error page where the protocol expects XML.
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return None


def unimplemented(what: str, call: Callable[[], object]) -> Symptom:
    """The symptom of an action moto does not implement: the call fails (AWS answers it)."""
    error = error_of(call)
    return Symptom(what, error is not None, error or "answered")
