"""What a record file is, by its content (never by its name): the types a records store takes.

Medical records come as PDF, images (JPEG, PNG, TIFF, WebP, HEIC: phone photos of paper
records) and DICOM (kept as an opaque file), and translations often as plain text. The type is
read from the bytes with `filetype` (magic numbers); plain text is UTF-8 with no control
characters. A file whose content is another type than the one declared (its name's suffix or
the browser's content type) is refused, and so is anything executable, an archive, or a type
not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

import filetype

from models.errors import RefusalCode, Refused, refused

# Media type → the suffixes and declared types that name it.
ACCEPTED: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf", "application/pdf"),
    "image/jpeg": (".jpg", ".jpeg", "image/jpeg", "image/jpg"),
    "image/png": (".png", "image/png"),
    "image/tiff": (".tif", ".tiff", "image/tiff"),
    "image/webp": (".webp", "image/webp"),
    "image/heic": (".heic", "image/heic"),
    "application/dicom": (".dcm", ".dicom", "application/dicom"),
    "text/plain": (".txt", "text/plain"),
}
SUFFIX = {"application/pdf": "pdf", "application/dicom": "dcm", "text/plain": "txt"}
# Declared types that say nothing (a browser's fallback): the content decides alone.
UNDECLARED = {"", "application/octet-stream"}
# Bytes that start programs or scripts, whatever a sniffer calls them.
_EXECUTABLE = (b"MZ", b"\x7fELF", b"#!", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\xfe\xed")


class ContentRefused(Refused):
    """The file is not a record this store takes; the message says what was expected."""

    @classmethod
    def saying(cls, template: str, **params: object) -> ContentRefused:
        """The refusal with its words apart from its data (see `models.errors.refused`)."""
        e = refused(template, RefusalCode.INVALID_DATA, types=expected(), **params)
        return cls(str(e), e.code, template=e.template, params=e.params, nested=e.nested)


@dataclass(frozen=True)
class Content:
    """A file's media type, read from its bytes."""

    media_type: str

    @property
    def suffix(self) -> str:
        """The usual file suffix of this type (for downloads)."""
        return SUFFIX.get(self.media_type, self.media_type.split("/")[-1])


def expected() -> str:
    """The accepted types, in words."""
    return "PDF, JPEG, PNG, TIFF, WebP, HEIC, DICOM or UTF-8 text"


def sniff(data: bytes) -> Content:
    """The media type of `data`; `ContentRefused` for an empty, executable or unknown file."""
    if not data:
        raise ContentRefused.saying("the file is empty; expected a {types} file")
    if data.startswith(_EXECUTABLE):
        raise ContentRefused.saying("the file is a program or script; expected a {types} file")
    kind = filetype.guess(data[:8192])
    if kind is not None:
        if kind.mime in ACCEPTED:
            return Content(kind.mime)
        raise ContentRefused.saying("the file is {mime}; expected a {types} file", mime=kind.mime)
    if _is_text(data):
        return Content("text/plain")
    raise ContentRefused.saying("the file's content is not recognised; expected a {types} file")


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ch < " " and ch not in "\t\n\r\f" for ch in text)


def check(data: bytes, filename: str | None = None, declared: str | None = None) -> Content:
    """The file's type, refused unless it is accepted and matches what its name or the
    declared content type says (a PDF named `.jpg` is refused, naming both)."""
    found = sniff(data)
    names = ACCEPTED[found.media_type]
    if filename and "." in filename:
        suffix = "." + filename.rsplit(".", 1)[1].lower()
        if suffix not in names:
            raise ContentRefused.saying(
                "the file is named {suffix} but its content is {found}; expected "
                "the name and the content to agree ({names})",
                suffix=suffix,
                found=found.media_type,
                names=", ".join(n for n in names if n[0] == "."),
            )
    kind = (declared or "").split(";")[0].strip().lower()
    if kind not in UNDECLARED and kind not in names:
        raise ContentRefused.saying(
            "the file was declared {kind} but its content is {found}; expected the "
            "declared type and the content to agree",
            kind=kind,
            found=found.media_type,
        )
    return found
