"""The HardMo Gradio app: photos, webcam and short clips in; meshes, a 3D view and parameters out.

``build_demo()`` returns the ``gr.Blocks``; ``spaces/hardmo-demo/app.py`` and ``hardmo-hf demo`` launch it.
All logic lives here (and in :mod:`hardmo_hf.demo`) so it is testable without the Space folder.

API (``gradio_client``; see the Space README):

* ``/predict``: ``(image, model, threshold, boxes, overlays)`` -> ``(overlay image, GLB HardMo-4DHumans,
  GLB HardMo-HMR, [JSON, NPZ], notice markdown)``;
* ``/predict_video``: ``(video, model, threshold, boxes, max_frames, stride, overlays)`` -> ``(overlay video,
  [JSON, NPZ], notice markdown)``.

Bad input raises ``gr.Error`` with a message that names the file and the problem (the page shows it as a
toast; ``gradio_client`` raises it as ``AppError``); a run that finds nobody returns the image unchanged and
says so. Nothing ever reaches the page as a stack trace: unexpected failures are logged with their traceback
on the server and reported as one line.
"""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .config import DemoConfig
from .engine import DemoEngine, ModelUnavailableError
from .export import frame_meshes, write_glb, write_params_json, write_params_npz
from .inputs import DemoInputError, load_image, parse_boxes
from .render import draw_boxes, draw_keypoints, render_meshes
from .results import MODEL_4DHUMANS, MODEL_HMR, MODEL_NAMES, FrameResult
from .zerogpu import gpu

logger = logging.getLogger(__name__)

CHOICE_BOTH = "Both (side by side)"
MODEL_CHOICES = (MODEL_4DHUMANS, MODEL_HMR, CHOICE_BOTH)
OVERLAY_KEYPOINTS = "2D keypoints"
OVERLAY_BOXES = "Boxes"
OVERLAY_CHOICES = (OVERLAY_KEYPOINTS, OVERLAY_BOXES)
DEFAULT_THRESHOLD = 0.5
OUTPUT_MAX_AGE_S = 3600  # per-request output folders older than this are removed
MESH_OPACITY = 0.85
VIDEO_MAX_PIXELS = 1_000_000  # clip frames are downscaled to this (a clip holds up to 120 frames in memory)
MODEL3D_BACKGROUND = (0.16, 0.17, 0.2, 1.0)  # RGBA: the light person colours read best on dark grey

TITLE = "HardMo: human mesh recovery for dance and martial arts"
DESCRIPTION = """
Upload a photo (or use the webcam, or a short clip in the *Video* tab) and see the SMPL body meshes of
**HardMo-4DHumans** (HMR 2.0, ViT-H) and **HardMo-HMR** (HRNet-W48), trained on the HardMo dataset of dance
and martial-arts motion (CVPR 2024). Rotate the people in 3D and download their SMPL parameters.
People are found by a person detector; type or draw boxes to choose them yourself.
"""

# ----------------------------------------------------------------------------------------------------
# Engines by key: the GPU functions get a key, not the engine, so ZeroGPU's worker process finds the
# models in its (forked) module state instead of having them pickled, and several apps can share a process.
# ----------------------------------------------------------------------------------------------------
_ENGINES: dict[str, DemoEngine] = {}


@gpu(duration=60)
def _infer(
    engine_key: str,
    image: np.ndarray,
    model_names: list[str],
    boxes: np.ndarray | None,
    threshold: float,
) -> FrameResult:
    """Detector + models on one frame (on the GPU where there is one)."""
    return _ENGINES[engine_key].run(image, model_names, boxes, threshold)


@gpu(duration=120)
def _infer_many(
    engine_key: str,
    frames: list[np.ndarray],
    model_names: list[str],
    boxes: np.ndarray | None,
    threshold: float,
    indices: list[int],
    times: list[float],
) -> list[FrameResult]:
    """Detector + models on the frames of a clip, in one GPU session."""
    engine = _ENGINES[engine_key]
    return [
        engine.run(frame, model_names, boxes, threshold, frame_index=i, time_s=t)
        for frame, i, t in zip(frames, indices, times, strict=True)
    ]


# ----------------------------------------------------------------------------------------------------
# Request handling
# ----------------------------------------------------------------------------------------------------
def model_names_for(choice: str | None) -> list[str]:
    """The models a choice runs: one name, or both for ``Both`` (also accepts ``both``, ``all``)."""
    if choice in MODEL_NAMES:
        return [choice]
    if choice is None or str(choice).strip().lower().startswith(("both", "all")):
        return list(MODEL_NAMES)
    for name in MODEL_NAMES:
        if str(choice).strip().lower() == name.lower():
            return [name]
    raise DemoInputError(f"Unknown model {choice!r}: choose one of {', '.join(MODEL_CHOICES)}.")


def _threshold(value) -> float:
    try:
        threshold = float(value if value is not None else DEFAULT_THRESHOLD)
    except (TypeError, ValueError):
        raise DemoInputError(
            f"The detector score threshold must be a number in [0, 1], got {value!r}."
        ) from None
    if not 0.0 <= threshold <= 1.0:
        raise DemoInputError(f"The detector score threshold must be in [0, 1], got {threshold}.")
    return threshold


def _overlays(value) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        value = [value]
    return {v for v in value if v in OVERLAY_CHOICES}


def _user_errors(func: Callable) -> Callable:
    """Turn every failure into a ``gr.Error`` with a one-line message (never a stack trace)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import gradio as gr

        try:
            return func(*args, **kwargs)
        except gr.Error:
            raise
        except (DemoInputError, ModelUnavailableError) as exc:
            raise gr.Error(str(exc), title="Cannot process this input") from None
        except Exception as exc:
            logger.exception("demo request failed")
            raise gr.Error(
                f"Something went wrong on our side ({type(exc).__name__}: {exc}). Please try another input.",
                title="Internal error",
            ) from None

    return wrapper


class DemoApp:
    """The request handlers of the demo, bound to one engine and one output folder."""

    def __init__(self, engine: DemoEngine | None = None, output_root: str | Path | None = None):
        self.engine = engine or DemoEngine(DemoConfig.from_env())
        self.engine_key = uuid.uuid4().hex
        _ENGINES[self.engine_key] = self.engine
        self.output_root = Path(output_root or Path(tempfile.gettempdir()) / "hardmo-demo")
        self.output_root.mkdir(parents=True, exist_ok=True)

    # -- helpers -------------------------------------------------------------------------------------
    def _request_dir(self) -> Path:
        now = time.time()
        for old in self.output_root.iterdir():
            try:
                if old.is_dir() and now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue
        path = self.output_root / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    def startup_notice(self) -> str:
        """Markdown for the top of the page: what this deployment can and cannot do."""
        self.engine.smpl_path  # noqa: B018  (resolves the SMPL file and sets the notice)
        if self.engine.smpl_notice:
            return f"**Meshes are off on this deployment.** {self.engine.smpl_notice}"
        return ""

    def _render_panel(
        self, image: np.ndarray, frame: FrameResult, model_name: str, overlays: set[str], faces
    ) -> np.ndarray:
        result = frame.models[model_name]
        panel = image
        meshes = frame_meshes(frame, model_name)
        if meshes and faces is not None:
            focal = result.people[0].focal_length
            panel = render_meshes(panel, meshes, faces, focal, frame.principal_point, opacity=MESH_OPACITY)
        if OVERLAY_BOXES in overlays or (faces is None and result.people):
            labels = [
                f"{k}" if p.score is None else f"{k}: {p.score:.2f}" for k, p in enumerate(result.people)
            ]
            panel = draw_boxes(panel, [p.box for p in result.people], labels)
        if OVERLAY_KEYPOINTS in overlays:
            keypoints = [p.keypoints_2d for p in result.people if p.keypoints_2d is not None]
            if keypoints:
                panel = draw_keypoints(panel, keypoints)
        return panel

    def _compose(self, panels: dict[str, np.ndarray]) -> np.ndarray:
        """One panel as is; several side by side, each titled with its model name."""
        if len(panels) == 1:
            return next(iter(panels.values()))
        height, width = next(iter(panels.values())).shape[:2]
        band = max(18, height // 24)
        gap = max(4, width // 100)
        canvas = Image.new(
            "RGB", (len(panels) * width + (len(panels) - 1) * gap, height + band), (255, 255, 255)
        )
        draw = ImageDraw.Draw(canvas)
        font = ImageFont.load_default(size=max(10, int(band * 0.7)))
        for k, (name, panel) in enumerate(panels.items()):
            x = k * (width + gap)
            canvas.paste(Image.fromarray(panel), (x, band))
            draw.text((x + band // 4, band // 2), name, fill=(20, 20, 20), font=font, anchor="lm")
        return np.asarray(canvas)

    def _notice(self, frames: list[FrameResult], notes: list[str], model_names: list[str]) -> str:
        lines = list(notes)
        last = frames[-1] if frames else None
        if self.engine.smpl_notice:
            lines.append("No SMPL body model on this deployment: boxes and SMPL parameters only, no meshes.")
        if last is not None:
            if last.box_source == "whole_image":
                reason = self.engine.detector_notice or "no person detector is available"
                lines.append(
                    f"No person detector could be used ({reason}); the whole image was used as one box."
                )
            people = sum(f.num_people for f in frames)
            if people == 0:
                lines.append(
                    "**No person found.** Lower the detector score threshold, or type or draw a box around each "
                    "person."
                )
            else:
                source = {"detector": "detected", "user": "from your boxes", "whole_image": "whole image"}[
                    last.box_source
                ]
                timing = ", ".join(
                    f"{name} {sum(f.models[name].seconds for f in frames):.2f} s" for name in model_names
                )
                count = (
                    f"{people} person-frames"
                    if len(frames) > 1
                    else f"{people} {'person' if people == 1 else 'people'}"
                )
                lines.append(f"{count} ({source}). Model time: {timing}.")
        return "\n\n".join(f"- {line}" if not line.startswith("**") else line for line in lines)

    # -- image ---------------------------------------------------------------------------------------
    def predict(
        self, image, model_choice=CHOICE_BOTH, threshold=DEFAULT_THRESHOLD, boxes_text="", overlays=None
    ):
        """The ``/predict`` endpoint; see the module doc for inputs and outputs."""
        import gradio as gr

        loaded = load_image(image, self.engine.config.max_pixels)
        model_names = model_names_for(model_choice)
        threshold = _threshold(threshold)
        overlays = _overlays(overlays)
        boxes = parse_boxes(boxes_text, None)
        if boxes is not None:
            boxes = _clip_boxes(boxes * loaded.scale, loaded.size, boxes_text)
        for note in loaded.notes:
            gr.Info(note)
        frame = _infer(self.engine_key, loaded.pixels, model_names, boxes, threshold)
        faces = self.engine.faces
        out_dir = self._request_dir()
        stem = _safe_stem(loaded.name)
        panels = {
            name: self._render_panel(loaded.pixels, frame, name, overlays, faces) for name in model_names
        }
        overlay = self._compose(panels)
        glbs = {}
        for name in model_names:
            meshes = frame_meshes(frame, name)
            if meshes and faces is not None:
                glbs[name] = str(
                    write_glb(
                        out_dir / f"{stem}_{_slug(name)}.glb",
                        meshes,
                        faces,
                        names=[f"{name} person {k}" for k in range(len(meshes))],
                        image_size=frame.image_size,
                        focal_length=frame.models[name].people[0].focal_length,
                    )
                )
        files = [
            str(write_params_json(out_dir / f"{stem}_smpl.json", [frame], source=loaded.name)),
            str(write_params_npz(out_dir / f"{stem}_smpl.npz", [frame])),
        ]
        if frame.num_people == 0:
            gr.Warning("No person found. Lower the threshold, or type or draw a box around each person.")
        notice = self._notice([frame], loaded.notes, model_names)
        return overlay, glbs.get(MODEL_4DHUMANS), glbs.get(MODEL_HMR), files, notice

    # -- video ---------------------------------------------------------------------------------------
    def predict_video(
        self,
        video,
        model_choice=MODEL_HMR,
        threshold=DEFAULT_THRESHOLD,
        boxes_text="",
        max_frames=24,
        stride=2,
        overlays=None,
        progress=None,
    ):
        """The ``/predict_video`` endpoint; see the module doc for inputs and outputs."""
        from .video import read_video, write_video

        if video is None:
            raise DemoInputError("No video was given: upload a short clip (MP4, WebM, MOV, AVI).")
        model_names = model_names_for(model_choice)
        threshold = _threshold(threshold)
        overlays = _overlays(overlays)
        max_frames = int(np.clip(int(max_frames or 1), 1, self.engine.config.max_video_frames))
        stride = max(1, int(stride or 1))
        clip, fps = read_video(video, max_frames=max_frames, stride=stride)
        max_pixels = min(self.engine.config.max_pixels or VIDEO_MAX_PIXELS, VIDEO_MAX_PIXELS)
        frames_px, notes, scale = [], [], 1.0
        for item in clip:
            loaded = load_image(item.pixels, max_pixels)
            if loaded.notes and not notes:
                notes.append(loaded.notes[0].replace("The image", "Each frame"))
            frames_px.append(loaded.pixels)
            scale = loaded.scale
            item.pixels = None  # keep one copy of each frame in memory
        boxes = parse_boxes(boxes_text, None)
        if boxes is not None:
            boxes = _clip_boxes(boxes * scale, frames_px[0].shape[:2], boxes_text)
        results = _infer_many(
            self.engine_key,
            frames_px,
            model_names,
            boxes,
            threshold,
            [c.index for c in clip],
            [c.time_s for c in clip],
        )
        faces = self.engine.faces
        out_dir = self._request_dir()
        stem = _safe_stem(Path(str(video)).name)
        tracker = progress
        rendered = []
        for k, (pixels, frame) in enumerate(zip(frames_px, results, strict=True)):
            panels = {name: self._render_panel(pixels, frame, name, overlays, faces) for name in model_names}
            rendered.append(self._compose(panels))
            if tracker is not None:
                tracker((k + 1) / len(results), desc="rendering")
        video_path = write_video(out_dir / f"{stem}_overlay.mp4", rendered, fps / stride)
        files = [
            str(write_params_json(out_dir / f"{stem}_smpl.json", results, source=Path(str(video)).name)),
            str(write_params_npz(out_dir / f"{stem}_smpl.npz", results)),
        ]
        notes.append(
            f"{len(results)} frames (1 in {stride}, at most {max_frames}) of a {fps:.1f} fps clip; "
            f"the overlay video plays at {fps / stride:.1f} fps."
        )
        return str(video_path), files, self._notice(results, notes, model_names)

    # -- drawn boxes -----------------------------------------------------------------------------------
    @staticmethod
    def boxes_from_drawing(editor_value) -> str:
        """Boxes typed as text from what the user drew on the editor: one box per connected stroke."""
        from .inputs import format_boxes

        if not editor_value:
            return ""
        layers = [np.asarray(layer) for layer in editor_value.get("layers") or [] if layer is not None]
        if not layers:
            return ""
        mask = np.zeros(layers[0].shape[:2], dtype=bool)
        for layer in layers:
            alpha = (
                layer[..., 3]
                if layer.ndim == 3 and layer.shape[2] == 4
                else layer.reshape(layer.shape[:2] + (-1,)).max(-1)
            )
            if alpha.shape == mask.shape:
                mask |= alpha > 0
        return format_boxes(stroke_boxes(mask))


def _clip_boxes(boxes: np.ndarray, size: tuple[int, int], text: str) -> np.ndarray:
    height, width = size
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    empty = (clipped[:, 2] - clipped[:, 0] < 2) | (clipped[:, 3] - clipped[:, 1] < 2)
    if empty.any():
        k = int(np.nonzero(empty)[0][0])
        raise DemoInputError(
            f"Box {k + 1} of {text.strip()!r} lies outside the {width}x{height} px image (boxes are x1,y1,x2,y2 "
            "in the pixels of the uploaded image)."
        )
    return clipped


def stroke_boxes(mask: np.ndarray, max_side: int = 256) -> np.ndarray:
    """(N, 4) xyxy px boxes of the connected regions (8-connectivity) of a drawn mask (H, W) bool.

    The mask is max-pooled to at most ``max_side`` px per side first, so strokes a few pixels apart join.
    """
    height, width = mask.shape
    step = max(1, int(np.ceil(max(height, width) / max_side)))
    small_h, small_w = -(-height // step), -(-width // step)
    padded = np.zeros((small_h * step, small_w * step), dtype=bool)
    padded[:height, :width] = mask
    small = padded.reshape(small_h, step, small_w, step).any(axis=(1, 3))
    labels = np.zeros(small.shape, dtype=np.int32)
    boxes = []
    for start in zip(*np.nonzero(small), strict=True):
        if labels[start]:
            continue
        label = len(boxes) + 1
        stack, rows, cols = [start], [], []
        labels[start] = label
        while stack:
            r, c = stack.pop()
            rows.append(r)
            cols.append(c)
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < small_h and 0 <= cc < small_w and small[rr, cc] and not labels[rr, cc]:
                        labels[rr, cc] = label
                        stack.append((rr, cc))
        box = (
            min(cols) * step,
            min(rows) * step,
            min(width, (max(cols) + 1) * step),
            min(height, (max(rows) + 1) * step),
        )
        if box[2] - box[0] >= 4 and box[3] - box[1] >= 4:  # ignore specks
            boxes.append(box)
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def _safe_stem(name: str) -> str:
    stem = Path(name).stem or "image"
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem)[:60] or "image"


def _slug(model_name: str) -> str:
    return model_name.lower().replace("hardmo-", "").replace(" ", "_")


# ----------------------------------------------------------------------------------------------------
# The page
# ----------------------------------------------------------------------------------------------------
def _explain_bad_uploads(component) -> None:
    """Make an image input's upload errors clear messages instead of Gradio's generic 'Error'.

    ``gr.Image`` opens uploads with Pillow before our handler runs; a corrupt file would fail there without
    a word. The instance's ``preprocess`` is wrapped (not subclassed: Gradio writes a ``.pyi`` stub next to
    the module of every Component subclass) so that the failure is described by :func:`load_image`.
    """
    import gradio as gr

    original = component.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
            path = getattr(payload, "path", None)
            try:
                load_image(path)  # names the file and the problem
            except DemoInputError as problem:
                raise gr.Error(str(problem), title="Cannot process this input") from None
            raise gr.Error(
                f"{Path(str(path)).name}: not an image the demo can read ({type(exc).__name__}).",
                title="Cannot process this input",
            ) from None

    component.preprocess = preprocess


def build_demo(
    engine: DemoEngine | None = None,
    examples_dir: str | Path | None = None,
    output_root: str | Path | None = None,
    warm_up: bool = False,
):
    """The Gradio Blocks of the demo (queue configured; call ``.launch()``).

    ``warm_up`` loads the models, SMPL file and detector now instead of on the first request.
    """
    import gradio as gr

    from .examples import make_examples

    app = DemoApp(engine, output_root)
    if warm_up:
        app.engine.warm_up(MODEL_NAMES)
    config = app.engine.config
    examples_dir = Path(examples_dir or Path(tempfile.gettempdir()) / "hardmo-demo-examples")
    try:
        examples = make_examples(examples_dir)
    except Exception:
        logger.exception("could not draw the example gallery")
        examples = []

    predict = _user_errors(app.predict)
    predict_clip = _user_errors(app.predict_video)

    def predict_video(video, model, threshold, boxes, max_frames, stride, overlays, progress=gr.Progress()):  # noqa: B008
        return predict_clip(video, model, threshold, boxes, max_frames, stride, overlays, progress=progress)

    with gr.Blocks(title="HardMo demo", delete_cache=(OUTPUT_MAX_AGE_S, OUTPUT_MAX_AGE_S)) as demo:
        gr.Markdown(f"# {TITLE}\n{DESCRIPTION}")
        gr.Markdown(app.startup_notice(), elem_id="startup-notice")
        with gr.Tabs():
            with gr.Tab("Image", id="image"):
                with gr.Row():
                    with gr.Column(scale=1):
                        image_in = gr.Image(
                            type="filepath",
                            image_mode=None,  # the file as uploaded: load_image orients and converts it
                            sources=["upload", "webcam", "clipboard"],
                            label="Photo",
                            elem_id="image-input",
                        )
                        _explain_bad_uploads(image_in)
                        model_in = gr.Radio(
                            list(MODEL_CHOICES), value=CHOICE_BOTH, label="Model", elem_id="model-choice"
                        )
                        threshold_in = gr.Slider(
                            0.05,
                            0.95,
                            value=DEFAULT_THRESHOLD,
                            step=0.05,
                            label="Detector score threshold",
                            elem_id="threshold",
                        )
                        boxes_in = gr.Textbox(
                            label="Person boxes (optional)",
                            placeholder="x1,y1,x2,y2; x1,y1,x2,y2   (pixels; empty = use the detector)",
                            elem_id="boxes",
                        )
                        overlays_in = gr.CheckboxGroup(list(OVERLAY_CHOICES), value=[], label="Also draw")
                        run_button = gr.Button("Recover meshes", variant="primary", elem_id="run")
                        with gr.Accordion("Draw boxes instead of typing them", open=False):
                            gr.Markdown(
                                "Draw a loop or a scribble over each person, then press *Use drawn boxes*."
                            )
                            editor = gr.ImageEditor(
                                type="numpy",
                                sources=[],
                                transforms=[],
                                layers=False,
                                label="Draw on the photo",
                                elem_id="box-editor",
                                brush=gr.Brush(default_size=6, colors=["#ff3b30"], color_mode="fixed"),
                            )
                            use_drawing = gr.Button("Use drawn boxes", elem_id="use-drawing")
                        if examples:
                            gr.Examples(
                                examples=[[str(e.path), e.boxes_text] for e in examples],
                                inputs=[image_in, boxes_in],
                                label="Examples (drawn mannequins; their boxes fill in)",
                                cache_examples=False,
                            )
                    with gr.Column(scale=2):
                        overlay_out = gr.Image(
                            label="Meshes over the photo", format="png", elem_id="overlay", interactive=False
                        )
                        notice_out = gr.Markdown(elem_id="notice")
                        with gr.Row():
                            glb_4d_out = gr.Model3D(
                                label=f"3D: {MODEL_4DHUMANS}",
                                elem_id="glb-4dhumans",
                                clear_color=MODEL3D_BACKGROUND,
                            )
                            glb_hmr_out = gr.Model3D(
                                label=f"3D: {MODEL_HMR}", elem_id="glb-hmr", clear_color=MODEL3D_BACKGROUND
                            )
                        files_out = gr.File(
                            label="SMPL parameters (JSON, NPZ)", file_count="multiple", elem_id="files"
                        )
                run_button.click(
                    predict,
                    inputs=[image_in, model_in, threshold_in, boxes_in, overlays_in],
                    outputs=[overlay_out, glb_4d_out, glb_hmr_out, files_out, notice_out],
                    api_name="predict",
                    concurrency_id="inference",
                )
                image_in.change(
                    lambda path: {"background": path, "layers": [], "composite": path} if path else None,
                    inputs=image_in,
                    outputs=editor,
                    api_visibility="private",
                    queue=False,
                )
                use_drawing.click(
                    app.boxes_from_drawing, inputs=editor, outputs=boxes_in, api_visibility="private"
                )
            with gr.Tab("Video", id="video"):
                with gr.Row():
                    with gr.Column(scale=1):
                        video_in = gr.Video(
                            sources=["upload"], label="Short clip", format=None, include_audio=True
                        )
                        video_model_in = gr.Radio(list(MODEL_CHOICES), value=MODEL_HMR, label="Model")
                        video_threshold_in = gr.Slider(
                            0.05, 0.95, value=DEFAULT_THRESHOLD, step=0.05, label="Detector score threshold"
                        )
                        video_boxes_in = gr.Textbox(
                            label="Person boxes for every frame (optional)", placeholder="x1,y1,x2,y2; ..."
                        )
                        with gr.Row():
                            max_frames_in = gr.Slider(
                                1,
                                config.max_video_frames,
                                value=min(24, config.max_video_frames),
                                step=1,
                                label="Frame cap",
                            )
                            stride_in = gr.Slider(1, 10, value=2, step=1, label="Use every n-th frame")
                        video_overlays_in = gr.CheckboxGroup(
                            list(OVERLAY_CHOICES), value=[], label="Also draw"
                        )
                        video_button = gr.Button("Recover meshes in the clip", variant="primary")
                    with gr.Column(scale=2):
                        video_out = gr.Video(label="Overlay video", format=None, interactive=False)
                        video_notice_out = gr.Markdown()
                        video_files_out = gr.File(
                            label="Per-frame SMPL parameters (JSON, NPZ)", file_count="multiple"
                        )
                video_button.click(
                    predict_video,
                    inputs=[
                        video_in,
                        video_model_in,
                        video_threshold_in,
                        video_boxes_in,
                        max_frames_in,
                        stride_in,
                        video_overlays_in,
                    ],
                    outputs=[video_out, video_files_out, video_notice_out],
                    api_name="predict_video",
                    concurrency_id="inference",
                )
        gr.Markdown(
            "Meshes are rendered on the CPU (no OpenGL). Parameters: SMPL axis-angle (rad), betas, camera translation "
            "(m) for a pinhole camera with the reported focal length and the principal point at the image centre. "
            "Code and docs: the `hardmo-hf` package."
        )
    demo.queue(default_concurrency_limit=config.concurrency, max_size=32)
    return demo


def launch(port: int | None = None, share: bool = False, server_name: str | None = None, **kwargs):
    """Build and launch the demo (blocking unless ``prevent_thread_lock=True`` is passed)."""
    demo = build_demo()
    return demo.launch(server_name=server_name, server_port=port, share=share, **kwargs)
