"""SynthFER: a built-in FER dataset of faces rendered from facial action units.

Faces are drawn with numpy and Pillow from the AU table of Du, Tao & Martinez,
"Compound facial expressions of emotion", PNAS 111(15), 2014 (core and variable
AUs of 6 basic and 15 compound categories, plus neutral and, as an option,
contempt), with each AU moving the face as FACS describes it (Ekman & Friesen,
*Facial Action Coding System*, 1978). Subjects are fixed identities; two domains,
``lab`` and ``wild``, make cross-domain protocols possible. Everything is
deterministic from a seed, and one image renders alone.

Use it as the data spec ``synth`` / ``synth:lab`` / ``synth:wild`` (see
:mod:`fsfer.synth.dataset`), from the CLI as ``fsfer synth``, or directly::

    from fsfer.synth import check_options, synth_images, render_image
    image = next(synth_images(check_options("lab", subjects=2)))
    pixels = render_image(image, 64)  # uint8 [64, 64, 3]

No torch needed.
"""

from fsfer.synth.aus import AU_COLUMNS, AU_NAMES, AUS, CATEGORIES, TABLE_AUS, Category, categories, sample_aus
from fsfer.synth.catalog import SynthImage, identity, image_aus, subject_splits, synth_images
from fsfer.synth.dataset import FORMATS, decode, read
from fsfer.synth.face import Expression, draw_face
from fsfer.synth.identity import Identity, make_identity
from fsfer.synth.options import SynthOptions, check_options
from fsfer.synth.render import render_image
from fsfer.synth.scene import Scene, sample_scene
from fsfer.synth.writer import contact_sheet, save_contact_sheet, write_folder

__all__ = [
    "AUS",
    "AU_COLUMNS",
    "AU_NAMES",
    "CATEGORIES",
    "FORMATS",
    "TABLE_AUS",
    "Category",
    "Expression",
    "Identity",
    "Scene",
    "SynthImage",
    "SynthOptions",
    "categories",
    "check_options",
    "contact_sheet",
    "decode",
    "draw_face",
    "identity",
    "image_aus",
    "make_identity",
    "read",
    "render_image",
    "sample_aus",
    "sample_scene",
    "save_contact_sheet",
    "subject_splits",
    "synth_images",
    "write_folder",
]
