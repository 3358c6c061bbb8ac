"""Writes pil_reference.json: what Pillow (the library FixMatch's augmentations call) makes of two
tiny images under each strong op at fixed magnitudes. ops.test.ts checks our tensor ops against it.

Regenerate (Debian's python3-pil, Pillow 9.4 when written):
  /usr/bin/python3 lib/ml/augment/pil_reference.py > lib/ml/augment/pil_reference.json

Geometric ops are run twice, filling with black and with white; pixels that differ are the fill,
written as null (our ops fill with gray 0.5, see ops.ts), every other pixel must match exactly.
"""
import json
import math

import numpy as np
from PIL import Image, ImageEnhance, ImageOps


def images():
    rng = np.random.default_rng(20261)
    rgb = rng.integers(30, 221, size=(6, 6, 3), dtype=np.uint8)
    rgb[:, :, 2] = 90  # a constant channel: AutoContrast and Equalize must leave it alone
    gray = rng.integers(0, 256, size=(5, 7), dtype=np.uint8)
    return {"rgb": Image.fromarray(rgb, "RGB"), "gray": Image.fromarray(gray, "L")}


def affine(img, matrix):
    """PIL's affine transform with nearest sampling, fill pixels as None."""
    fills = []
    for value in (0, 255):
        fill = value if img.mode == "L" else (value,) * 3
        fills.append(np.asarray(img.transform(img.size, Image.AFFINE, matrix, Image.NEAREST, fillcolor=fill)))
    black, white = fills
    out = black.astype(object)
    out[black != white] = None
    return out


def rotate(img, degrees):
    # Image.rotate's own matrix, written out so the fill can be detected the same way as above.
    w, h = img.size
    a = -math.radians(degrees)
    m = [round(math.cos(a), 15), round(math.sin(a), 15), 0.0, round(-math.sin(a), 15), round(math.cos(a), 15), 0.0]
    cx, cy = w / 2.0, h / 2.0
    m[2] = m[0] * -cx + m[1] * -cy + cx
    m[5] = m[3] * -cx + m[4] * -cy + cy
    return affine(img, m)


OPS = {
    "AutoContrast": lambda img, m: ImageOps.autocontrast(img),
    "Brightness": lambda img, m: ImageEnhance.Brightness(img).enhance(m),
    "Color": lambda img, m: ImageEnhance.Color(img).enhance(m),
    "Contrast": lambda img, m: ImageEnhance.Contrast(img).enhance(m),
    "Equalize": lambda img, m: ImageOps.equalize(img),
    "Identity": lambda img, m: img,
    "Posterize": lambda img, m: ImageOps.posterize(img, int(m)),
    "Rotate": rotate,
    "Sharpness": lambda img, m: ImageEnhance.Sharpness(img).enhance(m),
    "ShearX": lambda img, m: affine(img, (1, m, 0, 0, 1, 0)),
    "ShearY": lambda img, m: affine(img, (1, 0, 0, m, 1, 0)),
    # Our threshold t is in [0, 1]: pixel levels i with i / 255 >= t are inverted, so Pillow's
    # integer threshold is ceil(255 t).
    "Solarize": lambda img, m: ImageOps.solarize(img, math.ceil(255 * m)),
    "TranslateX": lambda img, m: affine(img, (1, 0, m * img.size[0], 0, 1, 0)),
    "TranslateY": lambda img, m: affine(img, (1, 0, 0, 0, 1, m * img.size[1])),
}

CASES = [
    ("AutoContrast", 0), ("Brightness", 0.3), ("Brightness", 1.6), ("Color", 0.4), ("Color", 1.7),
    ("Contrast", 0.5), ("Contrast", 1.8), ("Equalize", 0), ("Identity", 0), ("Posterize", 4), ("Posterize", 6),
    ("Rotate", 17), ("Rotate", -30), ("Rotate", 90), ("Sharpness", 0.2), ("Sharpness", 1.9), ("ShearX", 0.3),
    ("ShearY", -0.25), ("Solarize", 0.5), ("Solarize", 0.2), ("TranslateX", 0.3), ("TranslateY", -0.2),
]


def as_hwc(pixels, img):
    a = np.asarray(pixels, dtype=object)
    if a.ndim == 2:
        a = a[:, :, None]
    return {"height": img.size[1], "width": img.size[0], "channels": a.shape[2],
            "levels": [None if v is None else int(v) for v in a.reshape(-1)]}


def main():
    out = {"pillow": Image.__version__, "images": {}, "cases": []}
    for name, img in images().items():
        out["images"][name] = as_hwc(np.asarray(img), img)
        for op, magnitude in CASES:
            if op == "Color" and img.mode == "L":
                continue  # PIL's Color on L is the identity; ops.test.ts checks that directly
            result = OPS[op](img, magnitude)
            pixels = result if isinstance(result, np.ndarray) else np.asarray(result)
            out["cases"].append({"image": name, "op": op, "magnitude": magnitude, **as_hwc(pixels, img)})
    # One line per image and per case, so a regenerated file diffs readably.
    lines = [f'"pillow": {json.dumps(out["pillow"])}']
    lines.append('"images": {\n' + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in out["images"].items()) + "\n}")
    lines.append('"cases": [\n' + ",\n".join(json.dumps(c) for c in out["cases"]) + "\n]")
    print("{\n" + ",\n".join(lines) + "\n}")


main()
