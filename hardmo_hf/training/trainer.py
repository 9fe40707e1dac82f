"""``hardmo-hf train``: fine-tune a HardMo model on a HardMo split with the ``transformers`` Trainer.

The recipe of the paper / the authors' configs: AdamW with a constant learning rate (1e-5 for
HardMo-4DHumans, fine-tuned from HMR 2.0; 1e-4 with weight decay 1e-4 for HardMo-HMR), HMR 2.0's loss terms
and weights (read from the model config), the HMR 2.0 augmentations (:mod:`hardmo_hf.training.augment`). The
2D keypoint terms need the SMPL body model (``--smpl`` or ``$HARDMO_SMPL_PATH``). The output folder is a
complete Hub model folder (weights, config, image processor, custom code, model card).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import CONFIGS
from .augment import NO_AUGMENTATION, AugmentationConfig

logger = logging.getLogger(__name__)

# Authors' optimiser settings per model type (HARDMO_FACTS: HMR lr 1e-4, wd 1e-4; HMR 2.0 fine-tune lr 1e-5).
DEFAULT_OPTIMIZER = {
    "hardmo_hmr2": {"learning_rate": 1e-5, "weight_decay": 1e-4},
    "hardmo_hmr": {"learning_rate": 1e-4, "weight_decay": 1e-4},
}


@dataclass
class TrainingSettings:
    """What ``hardmo-hf train`` runs (the CLI flags). ``None`` means the model type's default."""

    model: str
    output_dir: Path
    dataset: str = "hardmo"
    config: str = "foot_p2"
    split: str = "train"
    max_steps: int = 1000
    batch_size: int = 8
    learning_rate: float | None = None
    weight_decay: float | None = None
    smpl: str | None = None
    j19: str | None = None
    augment: bool = True
    seed: int = 0
    num_workers: int = 2
    shuffle_buffer: int = 256
    logging_steps: int = 10
    save_steps: int | None = None
    device: str | None = None  # None: what the Trainer picks (cuda when available)
    bf16: bool = False
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)

    def __post_init__(self) -> None:
        if self.config not in CONFIGS:
            raise ValueError(f"unknown config {self.config!r}; choose one of {', '.join(CONFIGS)}")
        if self.max_steps < 1 or self.batch_size < 1:
            raise ValueError("--max-steps and --batch-size must be positive")
        self.output_dir = Path(self.output_dir)
        if not self.augment:
            self.augmentation = NO_AUGMENTATION


def load_model_and_processor(model_path: str, smpl: str | None, j19: str | None):
    """The model (with the SMPL body model attached, for the keypoint losses) and its image processor."""
    from ..evaluation.body import load_j19_regressor
    from ..evaluation.evaluate import load_model_and_processor as load

    model, processor = load(model_path)
    model.attach_body_model(smpl, j19_regressor=load_j19_regressor(j19) if j19 else None)
    return model, processor


def train(settings: TrainingSettings):
    """Fine-tune and write the Hub-ready folder to ``settings.output_dir``. Returns the ``Trainer``."""
    from transformers import Trainer, TrainingArguments

    from ..evaluation.evaluate import load_split
    from .data import CropSpec, HardMoTrainingStream, collate

    model, processor = load_model_and_processor(settings.model, settings.smpl, settings.j19)
    defaults = DEFAULT_OPTIMIZER.get(model.config.model_type, DEFAULT_OPTIMIZER["hardmo_hmr"])
    lr = settings.learning_rate if settings.learning_rate is not None else defaults["learning_rate"]
    wd = settings.weight_decay if settings.weight_decay is not None else defaults["weight_decay"]

    stream = load_split(settings.dataset, settings.config, settings.split)
    num_shards = getattr(stream, "num_shards", None) or 1
    workers = max(0, min(settings.num_workers, num_shards))
    train_data = HardMoTrainingStream(stream, CropSpec.from_processor(processor), settings.augmentation,
                                      seed=settings.seed, shuffle_buffer=settings.shuffle_buffer)
    device_kwargs = {"use_cpu": True} if settings.device == "cpu" else {}
    args = TrainingArguments(
        output_dir=str(settings.output_dir / "checkpoints"),
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        learning_rate=lr,
        weight_decay=wd,
        optim="adamw_torch",
        lr_scheduler_type="constant",
        warmup_steps=0,
        logging_steps=settings.logging_steps,
        save_strategy="steps" if settings.save_steps else "no",
        save_steps=settings.save_steps or 500,
        dataloader_num_workers=workers,
        remove_unused_columns=False,
        report_to="none",
        seed=settings.seed,
        bf16=settings.bf16,
        disable_tqdm=False,
        **device_kwargs,
    )
    logger.info("fine-tuning %s on %s/%s (%s): %d steps x %d, AdamW lr %g wd %g, %s", settings.model,
                settings.config, settings.split, settings.dataset, settings.max_steps, settings.batch_size, lr, wd,
                "augmented" if settings.augment else "no augmentation")
    trainer = Trainer(model=model, args=args, train_dataset=train_data, data_collator=collate)
    trainer.train()
    save_model_folder(trainer, processor, settings, lr, wd)
    return trainer


def save_model_folder(trainer, processor, settings: TrainingSettings, lr: float, wd: float) -> Path:
    """Weights, config, processor (+ custom code via ``save_pretrained``) and a model card."""
    from ..models.conversion_utils import write_hub_folder

    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    card = model_card(settings, trainer.model.config.model_type, lr, wd, losses)
    return write_hub_folder(trainer.model, settings.output_dir, processor=processor, card_text=card)


def model_card(settings: TrainingSettings, model_type: str, lr: float, wd: float, losses: list[float]) -> str:
    name = {"hardmo_hmr2": "HardMo-4DHumans", "hardmo_hmr": "HardMo-HMR"}.get(model_type, model_type)
    aug = settings.augmentation
    base = settings.model
    lines = [
        "---",
        "library_name: transformers",
        "license: cc-by-sa-4.0",
        "pipeline_tag: image-to-3d",
        "tags:\n- human-mesh-recovery\n- smpl\n- hardmo",
        f"datasets:\n- {settings.dataset}",
        *([f"base_model: {base}"] if not Path(base).exists() else []),
        "---",
        "",
        f"# {name} fine-tuned on HardMo `{settings.config}`",
        "",
        (f"Fine-tuned from `{base}` with `hardmo-hf train` on the `{settings.split}` split of the `{settings.config}` "
        f"config of `{settings.dataset}`."),
        "",
        "| setting | value |",
        "|---|---|",
        f"| steps x batch | {settings.max_steps} x {settings.batch_size} |",
        f"| optimiser | AdamW, constant lr {lr:g}, weight decay {wd:g} |",
        f"| augmentation | {_describe(aug) if settings.augment else 'none'} |",
        f"| seed | {settings.seed} |",
        f"| final training loss | {losses[-1]:.4g} |" if losses else "| final training loss | – |",
        "",
        ("Load it with `AutoModel.from_pretrained(...)` (`import hardmo_hf` first, or `trust_remote_code=True`) and "
        "evaluate it with `hardmo-hf evaluate --model <this folder> --config "
        f"{settings.config}`. The SMPL body model is licensed and is not part of this folder."),
        "",
    ]
    return "\n".join(lines)


def _describe(aug: AugmentationConfig) -> str:
    return (f"scale {aug.scale_factor:g}, rotation {aug.rotation_factor:g} deg (rate {aug.rotation_rate:g}), "
            f"translation {aug.translation_factor:g}, colour {aug.color_scale:g}, flip {aug.flip_rate:g}, "
            f"extreme crop {aug.extreme_crop_rate:g} (level {aug.extreme_crop_level})")


__all__ = ["DEFAULT_OPTIMIZER", "TrainingSettings", "load_model_and_processor", "train"]
