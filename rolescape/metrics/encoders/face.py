"""`face`: insightface `buffalo_l` (profile `paper`): RetinaFace detection + ArcFace 512-d embedding.

The largest detected face (bounding-box area) is embedded with `normed_embedding` (L2-normalised);
no face -> an empty vector. Models live in `<root>/models/buffalo_l/` (root `~/.insightface`, or
`--model face=ROOT`). Profile `paper` lets insightface download them on first use (from its GitHub
release); profile `offline` only uses files already on disk. Note the buffalo_l models are licensed
for non-commercial research only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rolescape.metrics.base import ScoreContext
from rolescape.metrics.encoders.base import ImageEmbedder, model_info, path_fingerprint, unavailable
from rolescape.schemas.results import ModelInfo

PACK = "buffalo_l"
DET_SIZE = (640, 640)


class InsightFaceEncoder(ImageEmbedder):
    name = "face"

    def __init__(self, app: Any, info: ModelInfo):
        self.app, self.info = app, info
        import threading

        self._lock = threading.Lock()

    @classmethod
    def load(cls, ctx: ScoreContext) -> InsightFaceEncoder:
        try:
            from insightface.app import FaceAnalysis
        except ImportError as e:
            raise unavailable(
                "face", f"insightface {PACK}", e, "pip install insightface onnxruntime"
            ) from None
        override = (ctx.model_paths or {}).get("face")
        root = (
            Path(override).expanduser().resolve() if override else Path(os.path.expanduser("~/.insightface"))
        )
        pack_dir = root / "models" / PACK
        have = pack_dir.is_dir() and any(pack_dir.glob("*.onnx"))
        if not have and (override or ctx.profile == "offline"):
            raise unavailable(
                "face",
                f"insightface {PACK}",
                f"no {PACK} models under {pack_dir}",
                "download buffalo_l once (profile paper does) or give --model face=ROOT",
            )
        cuda = str(ctx.device).startswith("cuda")
        providers = (["CUDAExecutionProvider"] if cuda else []) + ["CPUExecutionProvider"]
        try:
            app = FaceAnalysis(
                name=PACK, root=str(root), providers=providers, allowed_modules=["detection", "recognition"]
            )
            dev_id = int(str(ctx.device).split(":")[1]) if cuda and ":" in str(ctx.device) else 0
            app.prepare(ctx_id=dev_id if cuda else -1, det_size=DET_SIZE)
        except Exception as e:  # download failure, onnxruntime missing, corrupt models
            raise unavailable("face", f"insightface {PACK}", e) from None
        prep = (
            f"RGB -> BGR uint8; RetinaFace det_size={DET_SIZE[0]}x{DET_SIZE[1]}; largest face by box area; "
            "ArcFace normed_embedding 512-d"
        )
        info = model_info(
            "face",
            f"insightface:{PACK}",
            path_fingerprint(pack_dir) if pack_dir.is_dir() else None,
            "fp32",
            prep,
            f"local:{root}" if override else "hub",
        )
        return cls(app, info)

    def model_infos(self) -> list[ModelInfo]:
        return [self.info]

    def prepare(self, img: Any) -> Any:
        import numpy as np

        return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8)[:, :, ::-1])

    def encode(self, prepared: list[Any]) -> list[Any]:
        import numpy as np

        out = []
        with self._lock:
            for bgr in prepared:
                faces = self.app.get(bgr)
                if not faces:
                    out.append(np.zeros((0,), dtype=np.float32))
                    continue
                f = max(faces, key=lambda f: float((f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1])))
                out.append(np.asarray(f.normed_embedding, dtype=np.float32))
        return out
