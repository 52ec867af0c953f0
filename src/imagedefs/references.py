"""Docker image references and ECS container names: the grammar both must follow.

The reference grammar is the one of github.com/distribution/reference, which ECS and
Docker apply when they pull an image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_DOMAIN_COMPONENT: Final = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN: Final = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_PATH_COMPONENT: Final = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH: Final = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
# Docker's grammar is ASCII: written out, not \w (which is Unicode in Python and accepts "v1-é").
TAG_PATTERN: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
DIGEST_PATTERN: Final = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
CONTAINER_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,255}", re.ASCII)
# A private ECR registry's host, IPv4 or dual-stack, in any case (host names are not case-sensitive: a registry
# written in capitals is the same registry, and must not escape the checks made for ECR images).
ECR_HOST_PATTERN: Final = re.compile(
    r"(?P<account>[0-9]{12})\.(?:dkr\.ecr|dkr-ecr)(?:-fips)?\.(?P<region>[a-z0-9-]+)"
    r"\.(?:amazonaws\.com(?:\.cn)?|on\.aws|on\.amazonwebservices\.com\.cn)",
    re.ASCII | re.IGNORECASE,
)
_REFERENCE: Final = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH})"
    rf"(?::(?P<tag>{TAG_PATTERN.pattern}))?(?:@(?P<digest>{DIGEST_PATTERN.pattern}))?",
    re.ASCII,
)
DOCKER_HUB: Final = "docker.io"
# Longest reference Docker accepts.
MAX_REFERENCE_LENGTH: Final = 255 + 1 + 128 + 1 + 71


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference: `registry/repository[:tag][@digest]`."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None
    explicit_registry: bool

    @property
    def name(self) -> str:
        """The repository with its registry, as written in the reference."""
        return f"{self.registry}/{self.repository}" if self.explicit_registry else self.repository


def parse_reference(text: str) -> ImageReference | None:
    """Parse a Docker image reference; None when it breaks the grammar."""
    if len(text) > MAX_REFERENCE_LENGTH:
        return None
    match = _REFERENCE.fullmatch(text)
    if match is None:
        return None
    domain = match["domain"]
    # As in Docker: the first component is a registry only if it looks like a host.
    if domain is not None and not ("." in domain or ":" in domain or domain == "localhost"):
        # no mutate: re.ASCII changes nothing here (_PATH has only explicit ASCII classes); kept for uniformity.
        return None if not re.fullmatch(_PATH, domain, re.ASCII) else _as_hub_path(match, domain)  # pragma: no mutate
    return ImageReference(
        registry=domain or DOCKER_HUB,
        repository=match["path"],
        tag=match["tag"],
        digest=match["digest"],
        explicit_registry=domain is not None,
    )


def _as_hub_path(match: re.Match[str], first_component: str) -> ImageReference:
    return ImageReference(
        registry=DOCKER_HUB,
        repository=f"{first_component}/{match['path']}",
        tag=match["tag"],
        digest=match["digest"],
        explicit_registry=False,
    )


def is_valid_container_name(name: str) -> bool:
    """ECS container names: 1-255 letters, digits, hyphens and underscores."""
    return CONTAINER_NAME_PATTERN.fullmatch(name) is not None
