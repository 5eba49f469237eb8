"""The one masking function: passwords and secret URLs never leave the process in clear."""

from __future__ import annotations

import re

__all__ = ["MASK", "mask_secrets", "mask_url"]

MASK = "***"

#: ``scheme://user:password@`` -> ``scheme://user:***@``
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@?#'\"]*:)[^\s@/'\"]*@")
#: ``?password=...`` / ``&sslpassword=...`` (any parameter whose name says secret)
_PARAM = re.compile(
    r"(?P<head>[?&;\s](?:[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api_?key|"
    r"access_?key|sig|signature|key))=)[^&\s'\"#]*",
    re.IGNORECASE,
)
#: ``password=...`` in a libpq keyword/value string (``host=h password=pw``)
_KEYWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?:'[^']*'|[^\s'\"]+)", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """``text`` with every URL password, secret query parameter and ``password=`` masked.

    Used by ``config check``, CLI error lines, job logs, ``job_runs.error`` and
    storage errors alike, so a secret given in any of the URL forms is masked everywhere.
    """
    text = _USERINFO.sub(rf"\g<head>{MASK}@", text)
    text = _PARAM.sub(rf"\g<head>{MASK}", text)
    return _KEYWORD.sub(rf"\g<head>{MASK}", text)


def mask_url(url: str) -> str:
    """A URL that is a secret as a whole (Slack, PagerDuty, webhooks): scheme and host only."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@]*@)?([^/?#]*)(.*)$", url)
    if not match:
        return MASK if url else url
    scheme, _userinfo, host, rest = match.groups()
    return f"{scheme}{host}/{MASK}" if rest.strip("/") else f"{scheme}{host}"
