"""Where uploads are kept: the file system, under names that always fit it."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage

# Well under the 255 bytes a file name may have on every common file system.
MAX_NAME_BYTES = 150
MAX_EXTENSION_BYTES = 16


class UploadStorage(FileSystemStorage):
    """FileSystemStorage whose file names fit the file system, however long the name a user gave.

    Kept files are named "<hash>-<name as sent>" (imports, XLSForms, media, attachments); a name of
    250 characters, which browsers and phones do send, would make that longer than the file system
    allows and the save fail. The start of the name (the hash) and its extension are kept.
    """

    def get_valid_name(self, name):
        name = super().get_valid_name(name)
        if len(name.encode()) <= MAX_NAME_BYTES:
            return name
        stem, dot, extension = name.rpartition(".")
        suffix = f".{extension}" if dot and stem and len(extension.encode()) <= MAX_EXTENSION_BYTES else ""
        base = stem if suffix else name
        room = MAX_NAME_BYTES - len(suffix.encode())
        return base.encode()[:room].decode("utf-8", "ignore") + suffix
