#!/usr/bin/env python3
"""Prints Pillow's own resize results, the reference of Data/FilteredResizeTests and Data/ImageTransformTests.

Pillow is the reference of the official and timm evaluation transforms (torchvision's Resize and CenterCrop on PIL
images). Exact weights come from mode-F images, which Pillow resamples in floating point without fixed-point
weights (a one-hot line resized gives one column of the weight matrix); 8-bit results from mode L and RGB images.
The printed values were made with Pillow 9.4.0 (Debian's python3-pil): `python3 make_resize_reference.py`.
"""
from PIL import Image
import PIL

print("Pillow", PIL.__version__)


def weights(n_in, n_out, resample):
    rows = []
    for o in range(n_out):
        row = []
        for i in range(n_in):
            line = Image.new("F", (n_in, 1), 0.0)
            line.putpixel((i, 0), 1.0)
            row.append(line.resize((n_out, 1), resample).getpixel((o, 0)))
        rows.append(row)
    return rows


FILTERS = [("Bicubic", Image.BICUBIC), ("Bilinear", Image.BILINEAR)]

for name, resample in FILTERS:
    for n_in, n_out in [(4, 2), (5, 3), (3, 7), (10, 4)]:
        print(name, n_in, n_out, [[round(w, 7) for w in row] for row in weights(n_in, n_out, resample)])

# A 9x7 gray image (values from a formula) shrunk to 4x3 and enlarged to 13x11.
gray = [((x * 37 + y * 91 + x * y * 13) % 256) for y in range(7) for x in range(9)]
image = Image.new("L", (9, 7))
image.putdata(gray)
print("gray 9x7", gray)
for name, resample in FILTERS:
    for size in [(4, 3), (13, 11)]:
        print(name, size, list(image.resize(size, resample).getdata()))

# The evaluation protocol on a 9x7 RGB image: Resize(6) of the short side (7x6), then CenterCrop(4) (the window at 2, 1).
rgb = [((x * 37 + y * 91 + x * y * 13 + c * 59) % 256) for y in range(7) for x in range(9) for c in range(3)]
image = Image.frombytes("RGB", (9, 7), bytes(rgb))
for name, resample in FILTERS:
    print("eval", name, list(image.resize((7, 6), resample).crop((2, 1, 6, 5)).tobytes()))
