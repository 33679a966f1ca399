"""`mobility serve`: the web app and API plus the background job worker, in one command."""

import datetime
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command

from mobility.core.command import MobilityCommand


class Command(MobilityCommand):
    help = "Serve the web app and API, with the background job worker (huey) beside it."
    example = "mobility serve --host 127.0.0.1 --port 8000"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--no-worker", action="store_true", help="Do not start the job worker")

    def handle(self, *args, host, port, no_worker, **options):
        from mobility.core.recovery import jobs_recover

        worker = None
        # Before this command's server and worker start, nothing of theirs runs: every job left running
        # without a live runner is failed (to run again) and orphan files go at once.
        for line in jobs_recover(all_running=True, grace=datetime.timedelta(0)).lines():
            self.stdout.write(line)
        if not no_worker and not settings.HUEY.get("immediate"):
            # The worker is a separate process so a long import never blocks a page.
            worker = subprocess.Popen([sys.executable, "-m", "mobility.cli", "run_huey", "--quiet"])
        self.stdout.write(
            f"Mobility is at http://{host}:{port}/  (API docs: http://{host}:{port}/api/v1/docs)"
        )
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False, use_threading=True)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
