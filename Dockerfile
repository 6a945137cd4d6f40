# communectl in a container, for those who prefer one to the systemd install.
#   docker build -t communectl .
#   docker run -d --name communectl -p 8080:8080 -v communectl-data:/var/lib/communectl \
#     -v /etc/communectl:/etc/communectl:ro --device /dev/ttyUSB0 --device /dev/snd communectl
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng ffmpeg alsa-utils \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --home-dir /var/lib/communectl --shell /usr/sbin/nologin communectl \
 && usermod -a -G dialout,audio communectl \
 && install -d -o communectl -g communectl /var/lib/communectl /etc/communectl

COPY . /src
RUN pip install --no-cache-dir /src && rm -rf /src

USER communectl
VOLUME /var/lib/communectl
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health', timeout=4).status == 200 else 1)"
ENTRYPOINT ["communectl"]
CMD ["run", "--config", "/etc/communectl/config.toml"]
