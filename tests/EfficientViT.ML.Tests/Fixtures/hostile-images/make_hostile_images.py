#!/usr/bin/env python3
"""Writes the image files that image decoding must not get silently wrong (python3, standard library only).

  rgb.png            32x32 colour gradient, RGB (no alpha): the reference pixels.
  rgba_alpha0.png    the same RGB values with alpha 0 everywhere: PIL's convert('RGB') gives rgb.png's pixels.
  rgba_alpha128.png  the same RGB values with alpha 128 everywhere: likewise.
  truncated.png      rgb.png cut inside its image data (a download or copy that stopped half way).
  garbage.png        a valid PNG signature and header (64x64 RGB) followed by random bytes.

Run from this folder: `python3 make_hostile_images.py`. The output is deterministic.
"""
import random
import struct
import zlib

SIZE = 32


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, channels, pixel):
    colour_type = {3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def colour(x, y):
    # Every pixel differs, so a decoder that drops or blends a part of the image changes the result.
    return (8 * x, 8 * y, (x * 37 + y * 11) % 256)


def main():
    with open("rgb.png", "wb") as f:
        f.write(png(SIZE, SIZE, 3, colour))
    for alpha in (0, 128):
        with open(f"rgba_alpha{alpha}.png", "wb") as f:
            f.write(png(SIZE, SIZE, 4, lambda x, y: colour(x, y) + (alpha,)))

    # Noise compresses badly, so the image data is long and the cut lands inside it.
    rng = random.Random(17)
    noise = png(64, 64, 3, lambda x, y: (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    with open("truncated.png", "wb") as f:
        f.write(noise[: len(noise) // 2])

    # noise[:33] is the signature and the IHDR chunk: the file announces an image, then holds none.
    rng = random.Random(18)
    with open("garbage.png", "wb") as f:
        f.write(noise[:33] + bytes(rng.randrange(256) for _ in range(4000)))


if __name__ == "__main__":
    main()
