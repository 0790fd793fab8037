"""`/health` while big photos are checked: its latency, and how many uploads were answered.

    .venv/bin/python bench/site_uploads.py [--seconds 20] [--uploaders 4]

Starts its own Redis, SQLite database and one `narcis serve` process on loopback; then
`--uploaders` clients send 12 MP (4000×3000) JPEG photos of a face back to back while another
asks for /health every 10 ms. The upload checks run in the server's worker processes, so the
server's own event loop should not notice them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_server import running_site  # noqa: E402
from tests.site.test_live import health_during_uploads, p99, twelve_megapixels  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--uploaders", type=int, default=4)
    args = parser.parse_args()
    from PIL import Image
    from skimage import data

    photo = twelve_megapixels(Image.fromarray(data.astronaut()))
    with running_site(NARCIS_SITE_UPLOADS_PER_MINUTE="1000") as site:
        idle, _ = health_during_uploads(site.base, photo, 5, uploaders=0)
        busy, statuses = health_during_uploads(site.base, photo, args.seconds, args.uploaders)
    print(f"\n/health, one server process, {len(photo) / 2**20:.1f} MB 12 MP JPEG uploads")
    print(f"{'':34}{'probes':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    uploads = f"{args.uploaders} uploaders, {statuses.total()} uploads"
    for name, values in (("idle", idle), (uploads, busy)):
        values = sorted(values)
        middle = values[len(values) // 2]
        print(f"{name:34}{len(values):>8}{middle:>9.1f}{p99(values):>9.1f}{values[-1]:>9.1f}")
    print(f"answers by status: {dict(statuses)} (303 queued, 402 checked but out of tokens)")


if __name__ == "__main__":
    main()
