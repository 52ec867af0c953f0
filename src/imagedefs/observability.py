"""The function's structured logger and its CloudWatch metrics (EMF)."""

from __future__ import annotations

from typing import Final

from aws_lambda_powertools import Logger, Metrics

SERVICE: Final = "image-definitions"
NAMESPACE: Final = "ImageDefinitions"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
