"""Prometheus metrics of the worker, scraped over HTTP."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

QUEUE_DEPTH = Gauge("narcis_queue_depth", "Jobs waiting in the queue")
JOBS = Counter("narcis_jobs_total", "Jobs finished, by outcome", ["outcome"])
RETRIES = Counter("narcis_job_retries_total", "Jobs handed back or retried")
STAGE_SECONDS = Histogram(
    "narcis_stage_seconds",
    "Seconds per pipeline stage",
    ["stage"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
)
GPU_MEMORY = Gauge("narcis_gpu_memory_bytes", "Peak GPU memory allocated by the last job")


def serve_metrics(port: int) -> None:
    if port:
        start_http_server(port, addr="0.0.0.0")
