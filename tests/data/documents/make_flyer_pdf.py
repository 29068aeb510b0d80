#!/usr/bin/env python3
"""Writes flyer.pdf: a one-page PDF with a real text layer (Helvetica, WinAnsiEncoding), built by
hand so the test fixture needs no PDF library. Run from this directory to regenerate."""

lines = [
    (18, 720, "Preisliste Fr\\374hjahr"),
    (11, 690, "Alle Preise inklusive Mehrwertsteuer. Versand ab 25 Euro kostenlos."),
    (11, 675, "Lieferzeit innerhalb Deutschlands: zwei Werktage."),
]
content = "".join(
    f"BT /F1 {size} Tf 72 {y} Td ({text}) Tj ET\n" for size, y, text in lines
).encode("latin-1")

objects = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
    b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
]

out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
offsets = []
for number, body in enumerate(objects, start=1):
    offsets.append(len(out))
    out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n" % (len(objects) + 1)
out += b"0000000000 65535 f \n"
for offset in offsets:
    out += b"%010d 00000 n \n" % offset
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
open("flyer.pdf", "wb").write(out)
