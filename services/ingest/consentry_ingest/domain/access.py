"""Who may upload a manifest for which platform, and who may see which manifest.

Pure: the caller is described by plain values (its platform name, or ``None`` for an
administrator, who acts for any platform), so the rules are testable without tokens or HTTP.
"""

from __future__ import annotations

from urllib.parse import quote

from .errors import IngestDomainError

__all__ = ["PlatformMismatchError", "check_requested_platform", "owns_manifest", "upload_platform"]


class PlatformMismatchError(IngestDomainError):
    """A platform token tried to upload for another platform (HTTP 403)."""


def check_requested_platform(requested: str | None, caller: str | None) -> None:
    """Refuse early, before any byte is read, an explicit ``?platform=`` that is not the caller's."""
    if caller is not None and requested is not None and requested != caller:
        raise PlatformMismatchError(
            f"platform {requested!r} is not yours: your token is for platform {caller!r}"
        )


def upload_platform(requested: str | None, declared: str | None, caller: str | None) -> str | None:
    """The platform a manifest is recorded under.

    The request's ``platform`` wins over the header's (as the CLI documents), and a platform
    caller defaults to its own name. Whichever is chosen must be the caller's own: a header
    naming another platform is refused rather than silently overridden, because the platform
    would otherwise believe it had uploaded on that platform's behalf. ``None`` means nobody
    named a platform (an administrator's upload without one).
    """
    chosen = requested or declared or caller
    if caller is not None and chosen != caller:
        source = "the request" if requested else "the manifest header"
        raise PlatformMismatchError(
            f"{source} names platform {chosen!r}, but your token is for platform {caller!r}"
        )
    return chosen


def owns_manifest(platform: str, manifest_id: str) -> bool:
    """Whether ``manifest_id`` was uploaded by ``platform``: every manifest id starts with the
    percent-encoded platform and a colon (see :func:`.items.manifest_id_for`)."""
    return manifest_id.startswith(quote(platform, safe="") + ":")
