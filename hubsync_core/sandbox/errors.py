"""Errors the sandbox answers with, shaped like HubSpot's error bodies."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A HubSpot-style error answer: status, message, category and optional context."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str = "VALIDATION_ERROR",
        *,
        context: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.context = context
        self.extra = extra or {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id,
            "category": self.category,
        }
        if self.context is not None:
            body["context"] = self.context
        body.update(self.extra)
        return body


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "VALIDATION_ERROR")


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, message, "OBJECT_NOT_FOUND")
