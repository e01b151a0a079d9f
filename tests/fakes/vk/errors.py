"""VK's error answer as an exception: `ApiError(code, message)`, shaped by the server as
{"error": {"error_code", "error_msg", "request_params"}} (https://dev.vk.com/ru/reference/errors)."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def missing(name: str) -> ApiError:
    return ApiError(100, f"One of the parameters specified was missing or invalid: {name} is undefined")


def invalid(name: str) -> ApiError:
    return ApiError(100, f"One of the parameters specified was missing or invalid: {name} is invalid")
