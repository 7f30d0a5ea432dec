"""`compose` adapter: a text adapter plus an image adapter, e.g. roleplay as T2T2I (text -> image prompt -> image).

The two-model baseline the paper compares unified models against. Options: `text_adapter` and
`text_model`, `image_adapter` and `image_model`; options of each half are prefixed: `text.base_url=...`,
`image.device=cuda`. `--model` is only the run's label. For roleplay the image prompt is made from the
character and the text adapter's reply (the release's T2I template; see prompts.render_roleplay_image).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolescape.models.base import (
    AdapterError,
    AdapterOptions,
    Capabilities,
    ChoiceAnswer,
    ChoiceRequest,
    ImageAnswer,
    ImageRequest,
    ModelAdapter,
    ModelProvenance,
    TextAnswer,
    TextRequest,
)


class ComposeAdapter(ModelAdapter):
    """Text tasks go to `text`, image tasks (and roleplay's image) to `image`."""

    name = "compose"

    def __init__(self, label: str, text: ModelAdapter, image: ModelAdapter):
        self.label = label
        self.text = text
        self.image = image
        tc, ic = text.capabilities, image.capabilities
        if not tc.text_out:
            raise AdapterError(f"compose: text adapter {text.name!r} cannot generate text")
        if not ic.image_out:
            raise AdapterError(f"compose: image adapter {image.name!r} cannot generate images")
        self.capabilities = Capabilities(
            text_out=True,
            image_out=True,
            image_in=tc.image_in,
            multi_image_in=tc.multi_image_in,
            constrained_choice=tc.constrained_choice,
        )
        self.batch_size = max(1, text.batch_size)
        self.transport_options = frozenset(  # type: ignore[misc]
            {f"text.{k}" for k in text.transport_options} | {f"image.{k}" for k in image.transport_options}
        )

    @classmethod
    def from_options(cls, model: str, options: AdapterOptions) -> ComposeAdapter:
        from rolescape.models import build_adapter

        names = {}
        for half in ("text", "image"):
            a, m = options.get_str(f"{half}_adapter"), options.get_str(f"{half}_model")
            if not a or not m:
                raise AdapterError(
                    f"adapter 'compose' needs --adapter-option {half}_adapter=NAME and {half}_model=ID_OR_PATH"
                )
            names[half] = (a, m)
        text = build_adapter(*names["text"], options.subset("text"))
        try:
            image = build_adapter(*names["image"], options.subset("image"))
        except BaseException:
            text.close()
            raise
        return cls(model, text, image)

    def generate_text(self, requests: Sequence[TextRequest]) -> list[TextAnswer]:
        return self.text.generate_text(requests)

    def choose(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceAnswer]:
        return self.text.choose(requests)

    def generate_images(self, requests: Sequence[ImageRequest]) -> list[ImageAnswer]:
        return self.image.generate_images(requests)

    def provenance(self) -> ModelProvenance:
        t, i = self.text.provenance(), self.image.provenance()
        opts = {f"text.{k}": v for k, v in t.options.items()} | {
            f"image.{k}": v for k, v in i.options.items()
        }
        opts |= {
            "text_adapter": t.adapter,
            "text_model": t.model_id,
            "image_adapter": i.adapter,
            "image_model": i.model_id,
        }
        return ModelProvenance(
            adapter=self.name,
            model_id=self.label,
            options=dict(sorted(opts.items())),
            versions={**t.versions, **i.versions},
            extra={"text": t.as_dict(), "image": i.as_dict()},
        )

    def module(self) -> Any:
        return None

    def close(self) -> None:
        self.text.close()
        self.image.close()
