"""Finding and running ffmpeg for the pipelines that cut, probe or decode media."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from functools import cache

from gms_pipeline import PipelineError, Progress


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary: the one bundled with imageio-ffmpeg, else ``ffmpeg`` on PATH."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # not installed, or installed without its binary
        found = shutil.which("ffmpeg")
        if found is None:
            raise PipelineError("ffmpeg is not available to this pipeline") from None
        return found


def _command(args: list[str]) -> list[str]:
    # -nostdin: ffmpeg would otherwise read keystrokes from our stdin, where the jobs arrive.
    return [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", *args]


def run_with_progress(args: list[str], total_seconds: float, progress: Progress, step: str) -> None:
    """Run ffmpeg writing a file, turning its ``-progress`` report into progress calls.

    ``total_seconds`` is the output's expected duration; the fraction is out_time / total.
    """
    command = _command(["-progress", "pipe:1", "-stats_period", "0.25", "-nostats", *args])
    with tempfile.TemporaryFile() as errors:
        with subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and value.isdigit() and total_seconds > 0:
                    done = int(value) / 1_000_000
                    progress(
                        min(done / total_seconds, 1.0), f"{step} {done:.1f}/{total_seconds:.1f}s"
                    )
        if process.returncode != 0:
            errors.seek(0)
            raise PipelineError(f"ffmpeg failed: {_last_lines(errors.read())}")


def stream_output(args: list[str], chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """Run ffmpeg writing to ``pipe:1`` and yield what it writes, chunk by chunk."""
    with tempfile.TemporaryFile() as errors:
        with subprocess.Popen(
            _command(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        ) as process:
            assert process.stdout is not None
            while chunk := process.stdout.read(chunk_size):
                yield chunk
        if process.returncode != 0:
            errors.seek(0)
            raise PipelineError(f"ffmpeg failed: {_last_lines(errors.read())}")


def _last_lines(stderr: bytes, count: int = 3) -> str:
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    return " | ".join(lines[-count:]) or "no message"
