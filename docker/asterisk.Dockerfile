# Asterisk 22 from the same Debian packages as the development sandbox (scripts/asterisk-root.sh).
FROM debian:sid-slim
# Asterisk runs as this user (asterisk.conf runuser/rungroup); its group id is fixed so that the container
# writing the configuration can give it the files (hotline asterisk-config --asterisk-gid 2000).
RUN groupadd --system --gid 2000 asterisk \
    && useradd --system --uid 2000 --gid 2000 --home-dir /var/lib/asterisk --shell /usr/sbin/nologin asterisk
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends asterisk asterisk-modules \
    && rm -rf /var/lib/apt/lists/*
# /etc/asterisk and the prompts come from volumes written by `hotline asterisk-config`.
CMD ["asterisk", "-f", "-n", "-C", "/etc/asterisk/asterisk.conf"]
