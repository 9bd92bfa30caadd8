"""Text in an HTTP header, in any language. A header value is bytes that servers read as Latin-1, so
"Teacher reports Zoë has bruises" or "Owes £500" or "Mum’s" cannot be sent as they are by most clients
(httpx refuses anything outside ASCII). A break-glass reason is a person's words and is kept in the
audit log, so it must arrive exactly. Two forms are accepted:

- RFC 8187's extended value, `utf-8''` followed by the percent-encoded UTF-8 (what the gateway's own
  pages send, and what a client should send for anything beyond ASCII);
- raw UTF-8 bytes (what curl sends when given them), which arrive as Latin-1 mojibake and are read
  back as UTF-8 when they are valid UTF-8.

Plain ASCII is unchanged either way.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

EXT_PREFIX = "utf-8''"


class HeaderTextError(ValueError):
    """The header claims an encoding its value does not have."""


def encode_header_text(text: str) -> str:
    """One header line carrying `text` exactly: ASCII as is, anything else as an RFC 8187 value."""
    line = " ".join(text.split())
    if line.isascii() and not line.lower().startswith(EXT_PREFIX):
        return line
    return EXT_PREFIX + quote(line, safe="")


def decode_header_text(raw: str) -> str:
    """The text a header value carries (see the module's two forms)."""
    if raw[: len(EXT_PREFIX)].lower() == EXT_PREFIX:
        try:
            return unquote(raw[len(EXT_PREFIX) :], encoding="utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise HeaderTextError(
                "the header says utf-8'' but its percent-encoded bytes are not UTF-8"
            ) from exc
    if raw.isascii():
        return raw
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw  # Latin-1 text that is not UTF-8: keep it as the server read it
