# The shared base of the pipeline images, for hosts that can reach a registry:
#   docker build -f base.Dockerfile -t gms-pipeline-base:1 .
# Offline hosts skip this file and build each pipeline with --build-arg BASE=<an image made
# offline> that has Python 3.11+, Pillow and imageio-ffmpeg (or Pillow and ffmpeg on PATH).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# imageio-ffmpeg's wheel carries a static ffmpeg with libx264, so no apt packages are needed.
RUN pip install "Pillow>=10" "imageio-ffmpeg>=0.5"
