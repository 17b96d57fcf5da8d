"""From raw photos to aligned faces: detection (OpenCV Haar cascades or YuNet), eye alignment, extraction.

``detect.py`` finds faces and eyes, ``align.py`` turns a face into a square crop with
level eyes at a fixed distance, ``extract.py`` does both for a folder of photos and
writes a ``folder`` dataset with a ``manifest.csv``. OpenCV is imported only here.
"""

from fsfer.faces.align import AlignedFace, align_face
from fsfer.faces.detect import Face, make_detector
from fsfer.faces.extract import ExtractResult, extract_faces

__all__ = ["AlignedFace", "ExtractResult", "Face", "align_face", "extract_faces", "make_detector"]
