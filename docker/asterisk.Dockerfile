# Asterisk 22 from the same Debian packages as the development sandbox (scripts/asterisk-root.sh).
FROM debian:sid-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends asterisk asterisk-modules \
    && rm -rf /var/lib/apt/lists/*
# /etc/asterisk and the prompts come from volumes written by `hotline asterisk-config`.
CMD ["asterisk", "-f", "-n", "-C", "/etc/asterisk/asterisk.conf"]
