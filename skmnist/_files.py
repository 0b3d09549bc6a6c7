"""Writes that never destroy: whole files, in place of regular files only.

:func:`write_atomically` is the one writer of every file skmnist makes (model
files, the evaluation report). A target that exists and is not a regular file
(a folder, a named pipe, a socket, a device such as ``/dev/null``) is refused
before anything is written, and a replaced file keeps its permission bits, as
editors keep them. Messages name the path the user gave, never the temporary
file. This module imports only the standard library.
"""

import contextlib
import errno
import os
import secrets
import stat

from ._errors import UserError

__all__ = ["UnsafeWriteTarget", "check_write_target", "file_kind", "write_atomically"]


class UnsafeWriteTarget(UserError, OSError):
    """A path that names something other than a regular file (or nothing) to write.

    Its ``filename`` is the path the user gave.
    """


class _FolderTarget(UnsafeWriteTarget, IsADirectoryError):
    pass


class _NoFolder(UnsafeWriteTarget, FileNotFoundError):
    pass


def check_write_target(path):
    """Refuse a target that a write would destroy or that names no file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write: absent, or an existing regular file (or a symbolic
        link to one: the file it points to is written, the link kept).

    Returns
    -------
    target : str
        The path of the file that will be replaced or created.
    mode : int or None
        The permission bits of the existing file, or None for a new one.

    Raises
    ------
    UnsafeWriteTarget
        If `path` is empty, names a folder, a FIFO, a socket or a device, or
        lies in a folder that does not exist.
    """
    given = os.fspath(path)
    if not given:
        raise UnsafeWriteTarget(errno.ENOENT, "the file name is empty", given)
    target = os.path.realpath(given)
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            problem = "is not a folder" if os.path.exists(folder) else "does not exist"
            raise _NoFolder(
                errno.ENOENT, f"cannot be written: {folder} {problem}", given
            ) from None
        return target, None
    if not stat.S_ISREG(mode):
        kind = _FolderTarget if stat.S_ISDIR(mode) else UnsafeWriteTarget
        raise kind(
            errno.EEXIST,
            f"is {file_kind(mode)}, not a regular file; skmnist replaces only regular "
            "files: give the name of a new or regular file",
            given,
        )
    return target, stat.S_IMODE(mode)


def write_atomically(path, data):
    """Write `data` to `path` through a synced temporary file in the same folder.

    After a failure (a full disk, a killed process) `path` holds what it held.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; see :func:`check_write_target`.
    data : bytes
        Its new content.
    """
    given = os.fspath(path)
    target, mode = check_write_target(given)
    folder, name = os.path.split(target)
    temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    try:  # mode 0o666: the umask sets a new file's permissions, as for any file
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _named(exc, given) from None
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise _named(exc, given) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):  # makes the rename durable, where possible
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)


def _named(exc, path):
    """`exc` as the same kind of OSError about `path`, not the temporary file."""
    return type(exc)(exc.errno, exc.strerror or str(exc), path)


def file_kind(mode):
    """What a file of this ``st_mode`` is, in words ('a named pipe (FIFO)')."""
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]
    return next((text for test, text in kinds if test(mode)), "a special file")
