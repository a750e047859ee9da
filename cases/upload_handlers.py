"""Uploads stay in memory and stop growing past the attachment limit.

SECURITY: Django's default handlers spool large uploads to a temporary file in plaintext, which
would put a maintainer's file on disk unsealed. This handler keeps at most ATTACHMENT_MAX_BYTES
in memory; past that it keeps counting but stores nothing, so the form can refuse the file with
its real size and nothing of it was written anywhere.
"""

from io import BytesIO

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class BoundedMemoryUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer = BytesIO()
        self.size = 0
        self.limit = settings.ATTACHMENT_MAX_BYTES

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        if self.size <= self.limit:
            self.buffer.write(raw_data)
        else:
            # Too large: drop what was kept; only the size is still counted.
            self.buffer = BytesIO()
        return None

    def file_complete(self, file_size):
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=self.size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
