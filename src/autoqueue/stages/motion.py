"""How a still picture moves: a window of the frame's size panning across a larger canvas by
the same distance every frame, without computing a new picture for every frame.

A pan moves a whole number of pixels a frame or, slower than that, a quarter or a half of a
pixel. Its window is always cropped at an even pixel (where 4:2:0 chroma, a pixel for every
two, can be cropped too); what is left of its position, one of eight quarter pixels, is one
copy of the canvas, shifted by that much once: the picture by up to 1.75 px (a blend of the
canvas and itself a pixel on) and its chroma by half of that, so that colour moves with the
picture. Every frame is then a whole-pixel crop of one of those copies, which costs ffmpeg no
pixel work at all; blending two crops for each frame instead cost about 2 ms a frame of
1080x1920, as much as encoding it (``ARCHITECTURE.md``, "Rendering in parts")."""

from __future__ import annotations

import math
from dataclasses import dataclass

FPS = 30
QUARTERS = 4  # a pan's position and its step are whole quarter pixels
CYCLE = 2 * QUARTERS  # the window is cropped at even pixels: copies for 8 quarter pixels
WHOLE_FROM = 0.75  # pixels a frame: from this speed up, a pan steps whole pixels


@dataclass(frozen=True)
class _Way:
    """Which way a scene's window moves: along one axis, from one end of the room to the
    other; scenes take turns, so that the motion does not repeat."""

    axis: str  # "x" or "y"
    forward: bool  # from the start of the axis towards its end


WAYS = (
    _Way("x", True),  # left to right
    _Way("x", False),  # right to left
    _Way("y", False),  # bottom to top
    _Way("y", True),  # top to bottom
)


@dataclass(frozen=True)
class Pan:
    """One scene's pan, worked out in whole quarter pixels."""

    axis: str
    canvas: tuple[int, int]  # the picture is shaped to this size, larger than the frame
    first: int  # the window's position on the first frame, in quarter pixels
    step: int  # quarter pixels a frame, negative when moving back
    across: int  # the other axis' position (whole, even pixels: centred)
    frames: int

    def position(self, frame: int) -> int:
        return self.first + self.step * frame

    @property
    def copies(self) -> tuple[int, ...]:
        """The offsets past an even pixel (in quarter pixels, 0-7) the pan's positions take: a
        copy of the canvas each. Two for one pixel a frame, one for two; up to eight for
        quarter pixels."""
        cycle = CYCLE // math.gcd(abs(self.step), CYCLE)
        return tuple(sorted({self.position(n) % CYCLE for n in range(min(cycle, self.frames))}))


def _even_up(value: float) -> int:
    return max(2, math.ceil(value / 2) * 2)


def plan_pan(index: int, size: tuple[int, int], frames: int, motion: float) -> Pan | None:
    """Scene ``index``'s pan: about ``motion`` of the frame along its axis over the scene, at
    the nearest whole number of quarter pixels a frame (at least one), on a canvas just large
    enough for it and for the copies shifted up to two pixels on. None: no motion."""
    if motion <= 0:
        return None
    way = WAYS[index % len(WAYS)]
    width, height = size
    along = width if way.axis == "x" else height
    moves = max(frames - 1, 1)
    speed = along * motion / moves  # pixels a frame
    # Whole pixels a frame from 3/4 up: x264's fastest preset predicts whole-pixel motion
    # exactly (a frame of a 1080x1920 pan at qp 15 took 6 KB, against 33 KB moving a quarter
    # pixel off), and a steady whole step is as smooth as a fractional one. Slower pans, which
    # whole pixels would move in fits (1, 0, 1, 0), move quarters of a pixel.
    if speed >= WHOLE_FROM:
        step = QUARTERS * max(1, round(speed))
    else:
        step = max(1, round(speed * QUARTERS))
    travel = step * moves  # quarter pixels from one end to the other
    room = math.ceil(travel / QUARTERS) + 2  # the copies read up to two pixels further on
    zoom = (along + room) / along
    canvas = (_even_up(width * zoom), _even_up(height * zoom))
    if way.axis == "x":
        canvas = (max(canvas[0], width + room), canvas[1])
        across = (canvas[1] - height) // 4 * 2
    else:
        canvas = (canvas[0], max(canvas[1], height + room))
        across = (canvas[0] - width) // 4 * 2
    first, signed = (0, step) if way.forward else (travel, -step)
    return Pan(way.axis, canvas, first, signed, across, frames)


def looped(count: int) -> str:
    """The one frame before it repeated ``count`` times, timed in 1/30 s: the loop filter
    repeats the finished frame rather than making it again for each frame."""
    return f"loop=loop={count - 1}:size=1:start=0,setpts=N/{FPS}/TB"


def pan_filters(pan: Pan, size: tuple[int, int], label: str) -> str:
    """The filter chain after the shaped canvas (one frame): the scene's ``pan.frames`` moving
    frames. One copy of the canvas per offset, each looped and cropped on the frames whose
    position has its offset; ``interleave`` puts the frames back in order."""
    copies = pan.copies
    width, height = size
    length = pan.canvas[0] - 2 if pan.axis == "x" else pan.canvas[1] - 2
    position = f"({pan.first}+({pan.step})*round(t*{FPS}))"
    even = f"'{2}*floor({position}/{CYCLE})'"
    x, y = (even, pan.across) if pan.axis == "x" else (pan.across, even)
    chains = []
    for offset in copies:
        name = f"{label}c{offset}"
        keep = f"select='eq(mod({position},{CYCLE}),{offset})'," if len(copies) > 1 else ""
        chains.append(
            f"[{name}]{_shifted(pan.axis, offset, length, pan.canvas, name)},"
            f"{looped(pan.frames)},{keep}crop={width}:{height}:x={x}:y={y}:exact=1[{name}o]"
        )
    inputs = "".join(f"[{label}c{offset}]" for offset in copies)
    start = f"split={len(copies)}{inputs}" if len(copies) > 1 else f"null{inputs}"
    outs = "".join(f"[{label}c{offset}o]" for offset in copies)
    if len(copies) == 1:
        merged = f"{outs}null"
    else:
        # interleave times its frames in microseconds: back in 1/30 s, or a crossfade's old
        # and new frames, cut and timed from 0 apart, pair one frame off now and then
        merged = f"{outs}interleave=nb_inputs={len(copies)},settb=1/{FPS}"
    return ";".join([start, *chains, merged])  # the last chain's output: the caller names it


def _shifted(axis: str, offset: int, length: int, canvas: tuple[int, int], name: str) -> str:
    """The canvas moved on by ``offset`` quarter pixels along ``axis``, two pixels shorter
    along it: the picture (luma) by offset/4 px, a blend of the two whole pixels around it,
    and its chroma, half as fine in 4:2:0, by offset/8 of its own pixels. Crops of 4:2:0 at
    +1 and +2 pixels read chroma at +0 and +1 chroma pixels, so the blends, with an opacity
    per plane, make both from three crops."""

    def window(at: int) -> str:
        if axis == "x":
            return f"crop={length}:{canvas[1]}:{at}:0:exact=1"
        return f"crop={canvas[0]}:{length}:0:{at}:exact=1"

    whole, quarters = divmod(offset, QUARTERS)
    luma = f"{1 - quarters / QUARTERS:g}"  # the nearer whole pixel's weight
    chroma = f"{1 - offset / CYCLE:g}"
    if offset == 0:
        return window(0)
    if whole == 1:  # luma between +1 and +2; chroma between +0 and +1 (the same two crops)
        return (
            f"split=2[{name}a][{name}b];[{name}a]{window(1)}[{name}A];[{name}b]{window(2)}[{name}B];"
            f"[{name}A][{name}B]blend=all_mode=normal:c0_opacity={luma}:c1_opacity={chroma}:"
            f"c2_opacity={chroma}"
        )
    # luma between +0 and +1 (whose chroma is the same); then chroma between +0 and +1
    return (
        f"split=3[{name}a][{name}b][{name}d];[{name}a]{window(0)}[{name}A];"
        f"[{name}b]{window(1)}[{name}B];[{name}d]{window(2)}[{name}D];"
        f"[{name}A][{name}B]blend=all_mode=normal:all_opacity={luma}[{name}L];"
        f"[{name}L][{name}D]blend=all_mode=normal:c0_opacity=1:c1_opacity={chroma}:"
        f"c2_opacity={chroma}"
    )
