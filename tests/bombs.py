"""Hostile files, made on the spot (nothing is shipped): each is small on disk and costs a reader
that does not stop early far more than its size. Used by tests/test_budgets.py and
bench/bench_bomb.py."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx_parts() -> dict[str, bytes]:
    """The parts of an empty Word document as python-docx writes it."""
    import docx

    buf = io.BytesIO()
    docx.Document().save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src:
        return {name: src.read(name) for name in src.namelist()}


def docx_bomb(path: Path, paragraphs: int = 3_000_000, text: str = "本条例自公布之日起施行。") -> Path:
    """A zip-bomb .docx: `paragraphs` identical paragraphs in word/document.xml (3 million: about
    740 KB on disk, 207 MB inflated)."""
    head = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{_W_NS}">'
            "<w:body>").encode()
    block = f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode() * 10_000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for name, data in _docx_parts().items():
            if name != "word/document.xml":
                out.writestr(name, data)
        with out.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(head)
            for _ in range(paragraphs // 10_000):
                fh.write(block)
            fh.write(b"</w:body></w:document>")
    return path


def docx_many_paragraphs(path: Path, paragraphs: int) -> Path:
    """A .docx of many distinct short paragraphs: it compresses like real text (no ratio alarm), so
    only counting paragraphs while streaming the body stops it."""
    head = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{_W_NS}">'
            "<w:body>").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in _docx_parts().items():
            if name != "word/document.xml":
                out.writestr(name, data)
        with out.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(head)
            for i in range(paragraphs):
                fh.write(f"<w:p><w:r><w:t>第{i}项 {i * 7919 % 1000003}</w:t></w:r></w:p>".encode())
            fh.write(b"</w:body></w:document>")
    return path


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF whose objects 1..n are `objects` (1 is the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_page_tree_bomb(path: Path, nodes: int = 1000, fanout: int = 1000) -> Path:
    """A PDF whose page tree holds nodes × fanout pages (a million by default) in about `nodes`
    objects: every inner node lists the same page `fanout` times. A reader that flattens the tree
    makes a million page objects; the file is about 10 MB."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    first_node = 3
    page = first_node + nodes
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>"
                   % (b" ".join(b"%d 0 R" % (first_node + k) for k in range(nodes)), nodes * fanout))
    for _ in range(nodes):
        objects.append(b"<< /Type /Pages /Parent 2 0 R /Kids [%s] /Count %d >>"
                       % (b" ".join([b"%d 0 R" % page] * fanout), fanout))
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 100 100] /Contents %d 0 R "
                   b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"
                   % (first_node, page + 1))
    stream = b"BT /F1 12 Tf 10 10 Td (x) Tj ET"
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    path.write_bytes(_pdf(objects))
    return path


def pdf_stream_bomb(path: Path, inflated: int = 400 * 1024 * 1024) -> Path:
    """A one-page PDF whose content stream is a zlib bomb: `inflated` bytes of spaces, about
    inflated/1000 on disk."""
    import zlib

    z = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    data = b"".join(z.compress(chunk) for _ in range(inflated >> 20)) + z.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"]
    path.write_bytes(_pdf(objects))
    return path


def pdf_many_objects(path: Path, objects: int) -> Path:
    """A valid one-page PDF padded with `objects` unused null objects in its xref table."""
    body = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>"]
    body += [b"null"] * objects
    path.write_bytes(_pdf(body))
    return path


def one_line_markdown(path: Path, megabytes: int = 50) -> Path:
    """A .md file that is one line of `megabytes` MB (no newline anywhere)."""
    piece = ("第一条 本条例自公布之日起施行。" * 1000).encode("utf-8")
    with open(path, "wb") as fh:
        fh.write(b"# \xe6\xb5\x8b\xe8\xaf\x95 ")  # "# 测试 "
        written = 0
        while written < megabytes * 1_000_000:
            fh.write(piece)
            written += len(piece)
    return path


def nested_html(path: Path, depth: int = 100_000) -> Path:
    """An HTML page of `depth` nested <div> tags around one sentence (a few hundred KB)."""
    path.write_text("<!DOCTYPE html><html><head><title>嵌套</title></head><body>" + "<div>" * depth
                    + "<p>本办法自公布之日起施行。</p>" + "</div>" * depth + "</body></html>", encoding="utf-8")
    return path
