"""Archives: the articles inside an uploaded .zip, each one checked before it is read.

A zip is a list of claims (names, sizes) that may lie, so nothing here trusts them: a
member is read through a bounded stream, the whole archive may not unpack to more than
``MAX_TOTAL_BYTES`` (a zip bomb stops there), and a name with a folder, ``..`` or an
absolute path is refused, not flattened. Each member comes back with its bytes or with the
reason it was refused; ``add_upload`` then checks each accepted one like any other upload.

>>> import io, zipfile
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w") as z:
...     z.writestr("solar.txt", "Solar Farm Opens\\n\\nThe farm powers 9,000 homes.")
...     z.writestr("../evil.txt", "x")
>>> [(m.name, m.reason) for m in read_members(buf.getvalue(), "a.zip")]
[('solar.txt', None), ('../evil.txt', 'inside a folder of the zip (or outside it); put the articles at its top level')]
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from ..errors import DocumentError
from .files import MAX_UPLOAD_BYTES

# A folder of news articles is tens to a few hundred files; more in one upload is more
# likely a mistake (or an attack on the index) than a library.
MAX_MEMBERS = 500
# Unpacked, every member together: a few hundred articles of tens of KB fit many times over,
# and a zip bomb (kilobytes that claim gigabytes) stops here, read, not believed.
MAX_TOTAL_BYTES = 100 * 1024 * 1024
_CHUNK = 64 * 1024
# What macOS and Windows put into zips on their own: not articles, and not worth a refusal line.
_SYSTEM_NAMES = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class Member:
    """One file of the archive: its ``data``, or ``reason`` saying why it was refused."""

    name: str
    data: bytes | None = None
    reason: str | None = None


def is_zip(name: str) -> bool:
    return name.lower().endswith(".zip")


def read_members(data: bytes, archive: str, max_member_bytes: int = MAX_UPLOAD_BYTES,
                 max_members: int = MAX_MEMBERS, max_total_bytes: int = MAX_TOTAL_BYTES) -> list[Member]:
    """The files of a zip, each accepted (with its bytes) or refused (with its reason).

    Raises ``DocumentError`` for the archive as a whole: not a zip, more than ``max_members``
    files, or more than ``max_total_bytes`` unpacked.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise DocumentError(f"{archive}: not a readable .zip file; zip the articles again") from None
    with zf:
        entries = [i for i in zf.infolist() if not i.is_dir() and not _system_file(i.filename)]
        if len(entries) > max_members:
            raise DocumentError(f"{archive}: holds {len(entries):,} files, more than the {max_members:,} one upload "
                                f"may add; split it into smaller zips")
        members, total = [], 0
        for info in entries:
            name = info.filename
            if _nested(name):
                members.append(Member(name, reason="inside a folder of the zip (or outside it); put the articles at its top level"))
                continue
            if info.flag_bits & 0x1:  # bit 0: the member is encrypted
                members.append(Member(name, reason="encrypted; zip it without a password"))
                continue
            if info.file_size > max_member_bytes:
                members.append(Member(name, reason=f"{info.file_size:,} bytes unpacked is over the "
                                                   f"{max_member_bytes:,}-byte upload limit; split the file"))
                continue
            try:
                body = _read_bounded(zf, info, max_member_bytes, max_total_bytes - total)
            except _TooLarge as err:
                if err.total:
                    raise DocumentError(f"{archive}: unpacks to more than {max_total_bytes:,} bytes; "
                                        f"split it into smaller zips") from None
                members.append(Member(name, reason=f"unpacks to more than the {max_member_bytes:,}-byte upload limit; split the file"))
                continue
            except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, ValueError) as err:
                members.append(Member(name, reason=f"cannot be unpacked ({err}); zip it again"))
                continue
            total += len(body)
            members.append(Member(name, data=body))
    return members


class _TooLarge(Exception):
    def __init__(self, total: bool):
        self.total = total


def _read_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, most: int, room: int) -> bytes:
    """A member's bytes, stopping as soon as it passes ``most`` or the archive's ``room`` left."""
    out = bytearray()
    with zf.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            out += chunk
            if len(out) > room:
                raise _TooLarge(total=True)
            if len(out) > most:
                raise _TooLarge(total=False)
    return bytes(out)


def _nested(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(("/", "..")) or ":" in name


def _system_file(name: str) -> bool:
    return name.startswith(_SYSTEM_NAMES[0]) or name.rsplit("/", 1)[-1] in _SYSTEM_NAMES[1:]
