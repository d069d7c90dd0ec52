# One image for every role; the command picks it:
#   docker run wiredesk worker --processes 4 | poll --every 300 | serve --host 0.0.0.0 | run
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config config
COPY ingest ingest
COPY workers workers
COPY store store
COPY api api
COPY net net
COPY cli.py .
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 wiredesk
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
USER wiredesk
WORKDIR /home/wiredesk
ENV WIREDESK_STORE_URL=sqlite:////home/wiredesk/data/wiredesk.db
VOLUME ["/home/wiredesk/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD ["wiredesk", "status", "--json"]
ENTRYPOINT ["wiredesk"]
CMD ["run"]
