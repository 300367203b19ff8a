# The Python services: FastAGI server, AMI listener, agent console (`hotline up --external-asterisk`).
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends espeak-ng sox \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir /app
ENV HOTLINE_STATE_DIR=/var/lib/hotline-19524/state \
    HOTLINE_PROMPTS_DIR=/var/lib/hotline-19524/state/prompts
CMD ["hotline", "up", "--external-asterisk"]
