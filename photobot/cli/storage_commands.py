"""`photobot storage check | put FILE | get ID -o OUT | delete ID | gc [--forget USER] [--adopt]`:
the storage backend by hand, and the retention sweep (see photobot.retention) run once."""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from photobot.cli import CliError
from photobot.cli.argtypes import user_ref
from photobot.cli.queue_commands import open_queue
from photobot.config import Settings
from photobot.gdrive import LocalStorage, Storage, StorageError, build_storage
from photobot.gdrive.ledger import StoredFile, TrackedStorage
from photobot.jobs import JobError, Platform
from photobot.retention import Retention

T = TypeVar("T")
EXIT_PROBLEMS = 1


def register(subparsers: Any) -> None:
    storage = subparsers.add_parser("storage", help="check the storage backend, store and fetch files")
    commands = storage.add_subparsers(dest="storage_command", metavar="ACTION")
    commands.required = True

    check = commands.add_parser("check", help="verify credentials, folder access and write permission")
    check.set_defaults(handler=check_command)

    put = commands.add_parser("put", help="store FILE and print its file id")
    put.add_argument("file", type=Path, metavar="FILE", help="the file to store")
    put.add_argument("--mime", help="MIME type (default: guessed from the name)")
    put.add_argument("--user", default="cli", help="user folder on Drive (default: cli)")
    put.add_argument("--kind", default="original", choices=("original", "result"),
                     help="what the file is to photobot (default: original)")
    put.set_defaults(handler=put_command)

    get = commands.add_parser("get", help="fetch the file ID into OUT ('-' for standard output)")
    get.add_argument("file_id", metavar="ID", help="the file id `put` printed (or a job's photo_id)")
    get.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                     help="where to write it; '-' for standard output")
    get.set_defaults(handler=get_command)

    delete = commands.add_parser("delete", help="delete the file ID (no error if it is gone)")
    delete.add_argument("file_id", metavar="ID", help="the file id to delete")
    delete.set_defaults(handler=delete_command)

    gc = commands.add_parser(
        "gc", help="delete files past FILE_RETENTION_SECONDS and orphans now; print what was done"
    )
    gc.add_argument("--forget", metavar="USER", type=user_ref(Platform.TELEGRAM),
                    help="also delete every file of USER: a Telegram id (2002), or tg:2002 / vk:2002")
    gc.add_argument(
        "--adopt", action="store_true",
        help="first record local files the ledger does not know (stored before it existed, or by hand)",
    )
    gc.set_defaults(handler=gc_command)


async def _with_storage(settings: Settings, action: Callable[[Storage], Awaitable[T]]) -> T:
    storage = build_storage(settings)
    try:
        return await action(storage)
    except StorageError as error:
        raise CliError(f"{storage.backend} storage: {error.detail}") from None
    except JobError as error:
        raise CliError(error.detail) from None
    finally:
        await storage.close()


def _location(settings: Settings) -> str:
    if settings.storage_backend == "local":
        return str(settings.resolved_storage_dir)
    return f"folder {settings.gdrive_folder_id or '(photobot folder in My Drive)'}"


async def check_command(args: argparse.Namespace, settings: Settings) -> int:
    problems = await _with_storage(settings, lambda storage: storage.check())
    for problem in problems:
        print(problem)
    if problems:
        return EXIT_PROBLEMS
    print(f"ok: {settings.storage_backend} storage, {_location(settings)}")
    return 0


async def put_command(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a folder, not a file") from None
    except OSError as error:
        raise CliError(f"{path}: cannot read: {error.strerror or error}") from None
    mime = args.mime or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    meta = {"user_id": args.user, "kind": args.kind, "job_id": "cli"}
    file_id = await _with_storage(settings, lambda storage: storage.put(data, path.name, mime, meta))
    print(file_id)
    return 0


async def get_command(args: argparse.Namespace, settings: Settings) -> int:
    data = await _with_storage(settings, lambda storage: storage.get(args.file_id))
    output: Path = args.output
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    try:
        await asyncio.to_thread(output.write_bytes, data)
    except OSError as error:
        raise CliError(f"{output}: cannot write: {error.strerror or error}") from None
    return 0


async def delete_command(args: argparse.Namespace, settings: Settings) -> int:
    await _with_storage(settings, lambda storage: storage.delete(args.file_id))
    return 0


async def gc_command(args: argparse.Namespace, settings: Settings) -> int:
    """One retention sweep over the file ledger in Redis (files stored by `storage put` are not in it)."""
    async with open_queue(settings) as queue:
        storage = TrackedStorage.from_settings(build_storage(settings), queue.redis, settings)
        retention = Retention(storage, storage.ledger, queue, settings)
        try:
            adopted = await _adopt(storage, retention) if args.adopt else None
            forgotten = await retention.forget(args.forget) if args.forget else None
            sweep = await retention.sweep()
            files, size = await storage.ledger.count()
        except StorageError as error:
            raise CliError(f"{storage.backend} storage: {error.detail}") from None
        finally:
            await storage.close()
    report: dict[str, Any] = {
        "expired": sweep.expired, "orphans": sweep.orphans, "failed": sweep.failed,
        "kept_files": files, "kept_bytes": size,
    }
    if forgotten is not None:
        report["forgotten"] = forgotten
    if adopted is not None:
        report["adopted"] = adopted
    print(json.dumps(report))
    return EXIT_PROBLEMS if sweep.failed else 0


async def _adopt(storage: TrackedStorage, retention: Retention) -> int:
    if not isinstance(storage.inner, LocalStorage):
        raise CliError("--adopt reads local storage only (STORAGE_BACKEND=local)")
    listing = await storage.inner.listing()
    files = [
        StoredFile(file_id, meta.get("user_id", ""), meta.get("job_id", ""), meta.get("kind", ""), size, at)
        for file_id, meta, size, at in listing
    ]
    return await retention.adopt(files)
