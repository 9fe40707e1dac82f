"""Reading short clips and writing overlay videos, with the ffmpeg binary that the ``imageio-ffmpeg`` wheel
ships (no system ffmpeg needed). Output is H.264 in MP4 with yuv420p pixels, which browsers play as is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .inputs import DemoInputError

logger = logging.getLogger(__name__)

DEFAULT_MAX_FRAMES = 48
DEFAULT_STRIDE = 2


@dataclass
class VideoFrame:
    """One decoded frame: (H, W, 3) uint8 RGB, its index in the clip and its time in seconds."""

    pixels: np.ndarray
    index: int
    time_s: float


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # the demo extra installs it
        raise DemoInputError(
            "Video needs the imageio-ffmpeg package (pip install 'hardmo-hf[demo]')."
        ) from exc
    return imageio_ffmpeg


def read_video(
    path: str | Path, max_frames: int = DEFAULT_MAX_FRAMES, stride: int = DEFAULT_STRIDE
) -> tuple[list[VideoFrame], float]:
    """Decode every ``stride``-th frame of a clip, at most ``max_frames`` of them.

    Returns the frames and the clip's frame rate. Raises :class:`DemoInputError` for files ffmpeg cannot
    read or clips without a video stream.
    """
    if max_frames < 1 or stride < 1:
        raise DemoInputError(f"max_frames and stride must be >= 1, got {max_frames} and {stride}.")
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        raise DemoInputError(f"{path.name}: the video file is missing or empty.")
    ffmpeg = _ffmpeg()
    frames: list[VideoFrame] = []
    reader = ffmpeg.read_frames(str(path))
    try:
        meta = reader.__next__()
        width, height = meta["size"]
        fps = float(meta.get("fps") or 25.0)
        for index, raw in enumerate(reader):
            if index % stride:
                continue
            pixels = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3).copy()
            frames.append(VideoFrame(pixels, index, index / fps))
            if len(frames) >= max_frames:
                break
    except (RuntimeError, OSError, KeyError, ValueError, StopIteration) as exc:
        raise DemoInputError(f"{path.name}: not a video ffmpeg can read ({_first_line(exc)}).") from None
    finally:
        reader.close()
    if not frames:
        raise DemoInputError(f"{path.name}: the video has no frames.")
    return frames, fps


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float) -> Path:
    """Encode (H, W, 3) uint8 RGB frames (all the same size) as H.264 MP4. Odd sizes are padded by one
    pixel (yuv420p needs even sides)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg = _ffmpeg()
    writer: Iterator | None = None
    try:
        for frame in frames:
            frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
            pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
            if pad_h or pad_w:
                frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
            if writer is None:
                writer = ffmpeg.write_frames(
                    str(path),
                    (frame.shape[1], frame.shape[0]),
                    fps=max(1.0, float(fps)),
                    codec="libx264",
                    macro_block_size=2,
                    output_params=["-movflags", "+faststart"],
                )
                writer.send(None)  # start the encoder
            writer.send(frame.tobytes())
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError("write_video got no frames")
    return path
