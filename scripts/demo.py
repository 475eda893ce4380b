"""The chaosiq demo: a local chaosiq-server, a signed-in `chaos`, real runs, results read back.

Everything lives in ./.demo (database, settings, journals, logs); your own
~/.chaostoolkit/settings.yaml is never touched. Run it with `make demo`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = ROOT / ".demo"


def step(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"demo: timed out waiting for {what}")


class Demo:
    def __init__(self) -> None:
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = f"sqlite:///{WORK / 'chaosiq.db'}"
        self.settings = WORK / "settings.yaml"
        self.env = {
            **os.environ,
            "CHAOSIQ_SERVER_DATABASE_URL": self.db,
            "CHAOSIQ_DATA_DIR": str(WORK / "data"),
            "DEMO_HEALTH_URL": f"{self.url}/health",
            "ENDPOINT_URL": f"{self.url}/health",  # what examples/verification.json samples
            # a secret the sample experiment uses: the server must never receive it
            "DEMO_API_PASSWORD": "s3cr3t-demo-password",
        }
        self.env.pop("CHAOSIQ_TOKEN", None)
        self.server: subprocess.Popen[bytes] | None = None
        self.team: dict[str, Any] = {}

    # ------------------------------------------------------------ helpers

    def chaos(self, *args: str, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
        cmd = [
            str(BIN / "chaos"),
            "--no-version-check",
            "--log-file",
            str(WORK / "chaostoolkit.log"),
            "--settings",
            str(self.settings),
            *args,
        ]
        print("$ chaos " + " ".join(args), flush=True)
        proc = subprocess.run(cmd, env=self.env, cwd=WORK, text=True, **kw)
        if check and proc.returncode not in (0,):
            raise SystemExit(f"demo: `chaos {args[0]}` failed with exit code {proc.returncode}")
        return proc

    @property
    def team_api(self) -> str:
        org, team = self.team["organization"]["id"], self.team["team"]["id"]
        return f"{self.url}/api/v1/organizations/{org}/teams/{team}"

    def api(self, path: str) -> Any:
        resp = requests.get(
            self.team_api + path, headers={"Authorization": f"Bearer {self.team['token']}"}, timeout=10
        )
        resp.raise_for_status()
        return resp.json()

    def features(self) -> dict[str, bool]:
        out = subprocess.run(
            [
                str(BIN / "chaos"),
                "--no-version-check",
                "--no-log-file",
                "--settings",
                str(self.settings),
                "features",
                "--json",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {f["name"]: f["state"] == "loaded" for f in json.loads(out)}

    # -------------------------------------------------------------- steps

    def start_server(self) -> None:
        step(f"Starting chaosiq-server on {self.url} (SQLite: {WORK / 'chaosiq.db'})")
        init = subprocess.run(
            [str(BIN / "chaosiq-server"), "init", "--org", "demo-org", "--team", "demo-team", "--json"],
            env=self.env,
            capture_output=True,
            text=True,
        )
        if init.returncode != 0:
            raise SystemExit(f"demo: chaosiq-server init failed: {init.stderr.strip()}")
        self.team = json.loads(init.stdout)
        log = open(WORK / "server.log", "wb")  # noqa: SIM115
        self.server = subprocess.Popen(
            [str(BIN / "chaosiq-server"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def healthy() -> bool:
            if self.server and self.server.poll() is not None:
                raise SystemExit(f"demo: chaosiq-server exited; see {WORK / 'server.log'}")
            try:
                return requests.get(f"{self.url}/health", timeout=1).ok
            except requests.RequestException:
                return False

        wait_for(healthy, 30, "chaosiq-server to answer")
        print(
            f"organization {self.team['organization']['name']}, team {self.team['team']['name']}, "
            "API token created (stored only in the demo settings)"
        )

    def signin(self) -> None:
        step("Signing in without prompts")
        token_file = WORK / "token"
        token_file.touch(mode=0o600)
        token_file.write_text(self.team["token"])
        self.chaos(
            "signin",
            "--url",
            self.url,
            "--token-file",
            str(token_file),
            "--org",
            "demo-org",
            "--team",
            "demo-team",
        )
        self.chaos("features")

    def run_experiment(self) -> None:
        step("Running examples/experiment.json with publishing and safeguards")
        journal = WORK / "journal.json"
        self.chaos("run", "--journal-path", str(journal), str(ROOT / "examples" / "experiment.json"))
        self.summary(journal)

    def summary(self, journal_path: Path) -> dict[str, Any] | None:
        journal = json.loads(journal_path.read_text())
        ext = next((e for e in journal.get("extensions", []) if e.get("name") == "chaosiq"), {})
        xid = ext.get("execution_id")
        if not xid:
            print(
                f"journal status: {journal.get('status')} (not published: is the publish feature installed?)"
            )
            return None
        execution = self.api(f"/executions/{xid}")
        eid = execution.get("experiment_id")
        events = self.api(f"/experiments/{eid}/executions/{xid}/events?limit=1")
        title = (execution.get("journal") or {}).get("experiment", {}).get("title")
        url = (
            f"{self.url}/organizations/{self.team['organization']['id']}/teams/"
            f"{self.team['team']['id']}/experiments/{eid}/executions/{xid}"
        )
        print("Read back from the server:")
        print(f"  experiment : {title}")
        print(f"  status     : {execution.get('status')}")
        print(f"  events     : {events.get('total')}")
        print(f"  see it at  : {url}")
        return execution

    def safeguard_stop(self) -> None:
        step("Running examples/safeguarded-experiment.json and stopping it from the server")
        journal = WORK / "journal-stopped.json"
        cmd = [
            str(BIN / "chaos"),
            "--no-version-check",
            "--log-file",
            str(WORK / "chaostoolkit-stop.log"),
            "--settings",
            str(self.settings),
            "run",
            "--journal-path",
            str(journal),
            str(ROOT / "examples" / "safeguarded-experiment.json"),
        ]
        print("$ chaos run examples/safeguarded-experiment.json   (its method holds a 30 s action)")
        proc = subprocess.Popen(cmd, env=self.env, cwd=WORK)

        def running_execution() -> dict[str, Any] | None:
            items = self.api("/executions?limit=5")
            items = items["items"] if isinstance(items, dict) else items
            return next((i for i in items if i.get("status") in (None, "running")), None)

        execution = wait_for(running_execution, 30, "the run to appear on the server")
        xid, eid = execution["id"], execution["experiment_id"]

        def long_action_started() -> bool:
            events = self.api(f"/experiments/{eid}/executions/{xid}/events?limit=100")["items"]
            return any(
                e["type"] == "starting-activity"
                and ((e.get("data") or {}).get("context") or {}).get("name")
                == "hold-the-fault-for-30-seconds"
                for e in events
            )

        wait_for(long_action_started, 30, "the 30 s action to start")
        print(f"$ POST {self.team_api}/executions/{xid}/stop")
        t0 = time.monotonic()
        requests.post(
            f"{self.team_api}/executions/{xid}/stop",
            json={"reason": "demo: stop now"},
            headers={"Authorization": f"Bearer {self.team['token']}"},
            timeout=10,
        ).raise_for_status()
        code = proc.wait(timeout=60)
        print(f"chaos run ended {time.monotonic() - t0:.1f} s after the stop, exit code {code}")
        self.summary(journal)

    def verify(self) -> None:
        example = ROOT / "examples" / "verification.json"
        if not example.exists():
            return
        step("Running a short verification (examples/verification.json)")
        journal_path = WORK / "verification-journal.json"
        self.chaos("verify", "--journal-path", str(journal_path), str(example), check=False)
        journal = json.loads(journal_path.read_text())
        ext = next((e for e in journal.get("extensions", []) if e.get("name") == "chaosiq"), {})
        verification = ext.get("verification") or {}
        rid, vid = verification.get("run_id"), verification.get("id")
        if rid and vid:
            run = self.api(f"/verifications/{vid}/runs/{rid}")
            org, team = self.team["organization"]["id"], self.team["team"]["id"]
            print("Read back from the server:")
            print(f"  verification run : {run.get('status')}, results {run.get('results')}")
            page = f"{self.url}/organizations/{org}/teams/{team}/verifications/{vid}/runs/{rid}"
            print(f"  see it at        : {page}")

    def stop(self) -> None:
        if self.server and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
        print(f"\nchaosiq-server stopped. Everything the demo made is in {WORK}")
        print(
            f"Run `CHAOSIQ_SERVER_DATABASE_URL={self.db} .venv/bin/chaosiq-server serve --port {self.port}` "
            "to browse it again."
        )


def main() -> int:
    demo = Demo()
    try:
        demo.start_server()
        demo.signin()
        features = demo.features()
        demo.run_experiment()
        if features.get("safeguards") and features.get("publish"):
            demo.safeguard_stop()
        if features.get("verification"):
            demo.verify()
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
