"""Image processing: bytes and parameters in, result images and a summary out.

It knows nothing of chats, queues or storage. `run_operation` is the pure, synchronous core;
`ImageProcessor` runs it in a process pool for the asyncio side.
"""

from photobot.processing.decode import Decoded, decode_image, heif_available, sniff_format
from photobot.processing.encode import EncodedImage
from photobot.processing.errors import (
    BadParams,
    CorruptImage,
    FaceModelUnavailable,
    NoFaces,
    ProcessingError,
    ProcessingTimeout,
    TooLarge,
    UnknownOperation,
    UnsupportedFormat,
    WorkerCrashed,
)
from photobot.processing.limits import Limits
from photobot.processing.pool import ImageProcessor
from photobot.processing.registry import (
    Operation,
    get_operation,
    list_operations,
    parse_operation,
    validate_params,
)
from photobot.processing.run import OperationResult, run_operation

__all__ = [
    "BadParams",
    "CorruptImage",
    "Decoded",
    "EncodedImage",
    "FaceModelUnavailable",
    "ImageProcessor",
    "Limits",
    "NoFaces",
    "Operation",
    "OperationResult",
    "ProcessingError",
    "ProcessingTimeout",
    "TooLarge",
    "UnknownOperation",
    "UnsupportedFormat",
    "WorkerCrashed",
    "decode_image",
    "get_operation",
    "heif_available",
    "list_operations",
    "parse_operation",
    "run_operation",
    "sniff_format",
    "validate_params",
]
