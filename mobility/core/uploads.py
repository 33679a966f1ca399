"""Refuse an oversized upload while it arrives, before any of it is written to disk."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from .tables import FILE_TOO_LARGE

# Room for the other form fields and multipart boundaries around the file.
FORM_OVERHEAD_BYTES = 1024 * 1024


class SizeLimitUploadHandler(FileUploadHandler):
    """First upload handler: stops a request whose body is larger than MAX_UPLOAD_BYTES allows."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.too_large = content_length > settings.MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES
        self.content_length = content_length

    def new_file(self, *args, **kwargs):
        if self.too_large:
            limit = settings.MAX_UPLOAD_BYTES
            self.request.upload_refused = FILE_TOO_LARGE.format(
                size_mb=self.content_length / 2**20, limit_mb=limit / 2**20
            )
            # The rest of the body is read and thrown away, never stored.
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None
