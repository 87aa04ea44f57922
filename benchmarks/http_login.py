"""Whole card logins over HTTP: the Flask and Django adapters under gunicorn, against the same-run floor.

    python benchmarks/http_login.py [--entries 1000000] [--logins 2000] [--concurrency 4]
        [--adapters flask,django] [--workers 1,2] [--no-churn] [--refresh sync|worker]
        [--worker-class sync|gthread] [--profile DIR] [--log-dir DIR]

Set-up: a fresh fake GPKI (:class:`twcert.testing.FreshPKI`, valid on the real clock), one
citizen card already bound to its account (the "later login, PIN only" case); personnel,
bindings, agencies and PIN records in a throw-away PostgreSQL schema, challenges on Redis (and
Django's sessions, users in a PostgreSQL database of their own); the card's CA's CRL of
``--entries`` serials indexed once into a shared index directory (with the deployment's key for
Flask; Django has no setting for one) that every worker opens read-only (mmap) at start.
``--refresh sync`` (default): a sync job writes a new CRL's index there and each worker's
``DirectoryFollower`` opens it; ``--refresh worker``: each worker's own refresher polls the
loopback CDP (conditional GET) every second and indexes a new CRL itself.

Each server (adapter × worker count, gunicorn sync workers, no ``--preload``) is measured in
one run, with a fixed number of requests in flight (``--concurrency``):

1. **challenges**: ``--logins`` sessions each GET a challenge (timed alone);
2. the client signs every challenge as the card would (untimed: the client's RSA signing must
   not compete with the server for the two cores);
3. **logins**: each session POSTs the card's answer to the login endpoint, then GETs a
   protected page with the new session (one timed unit);
4. **floor**: the same app's endpoint doing only the floor's work (parse the certificate, two
   RSA-2048 verifications) on a request of the same body (the login's JSON plus the ``tbs``).

"whole" = challenge + login + protected page, per login at the measured rates
(``1 / (1/challenges + 1/logins)``). Worker CPU per request is read from ``/proc`` before and
after each phase; RSS of each worker at the end.

With two workers (unless ``--no-churn``) two more runs of logins follow on the same server:
a new CRL with 10 % more entries is published at the CDP a quarter of the way in (taken up as
``--refresh`` says; the protected page reports each worker's CRL number), then a worker is killed a quarter of the way in (gunicorn
starts another, which opens the shared index instead of ingesting the CRL: its log line and
its first login are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http_app import (
    CONFIG_ENV,
    FLOOR_PATH,
    PROFILE_ENV,
    PROTECTED_PATH,
    BenchConfig,
    LoopbackFetcher,
)
from _timing import machine

from twcert import load_certificate
from twcert.binding import Binding, binding_key
from twcert.revocation import CRLCache
from twcert.stores.sql import SqlStores
from twcert.testing import FakeCard, FreshPKI, build_crl, random_serials
from twcert.testing.servers import RepositoryServer, free_port

BENCH = Path(__file__).resolve().parent
ACCOUNT = "wang.xm"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the adapters' endpoints: the one place that knows their paths ------------------------------


@dataclass(frozen=True)
class Endpoints:
    challenge: str
    login: str
    protected: str = PROTECTED_PATH
    floor: str = FLOOR_PATH


ENDPOINTS = {
    "flask": Endpoints(challenge="/twcert/challenge", login="/twcert/login"),
    "django": Endpoints(challenge="/auth/challenge", login="/auth/login"),
}
FACTORIES = {"flask": "_http_app:flask_app()", "django": "_http_app:django_app()"}


# -- the load client ----------------------------------------------------------------------------


@dataclass
class Session:
    """One browser: its cookies, the challenge it was given, the card's answer."""

    cookies: dict[str, str] = field(default_factory=dict)
    challenge: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    floor_body: bytes = b""

    def remember(self, response: aiohttp.ClientResponse) -> None:
        for header in response.headers.getall("Set-Cookie", []):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)

    def headers(self, origin: str, **extra: str) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {
            "Accept": "application/json",
            "Origin": origin,
            "Sec-Fetch-Site": "same-origin",
            **({"Cookie": cookie} if cookie else {}),
            **extra,
        }


@dataclass
class Sample:
    seconds: float
    ok: bool
    worker: int
    started: float


class Client:
    """Requests to one server, ``concurrency`` in flight (aiohttp, one connection per request:
    gunicorn's sync workers close every connection)."""

    def __init__(
        self, base: str, endpoints: Endpoints, concurrency: int, *, keep_alive: bool = False
    ) -> None:
        self.keep_alive = keep_alive
        self.base = base
        self.endpoints = endpoints
        self.concurrency = concurrency
        self.http: aiohttp.ClientSession | None = None
        #: (when, worker, the CRL number it answered with) of every protected page.
        self.crl_seen: list[tuple[float, int, int | None]] = []

    async def __aenter__(self) -> Client:
        connector = aiohttp.TCPConnector(limit=self.concurrency, force_close=not self.keep_alive)
        self.http = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=60)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.http is not None
        await self.http.close()

    async def _request(
        self, session: Session, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[int, dict[str, Any], int]:
        assert self.http is not None
        if body is not None:
            headers["Content-Type"] = "application/json"
        async with self.http.request(
            method, self.base + path, data=body, headers=session.headers(self.base, **headers)
        ) as response:
            session.remember(response)
            raw = await response.read()
            worker = int(response.headers.get("X-Worker", "0"))
            try:
                data = json.loads(raw)
            except ValueError:
                data = {"status": "not json", "body": raw[:200].decode("utf-8", "replace")}
            return response.status, data, worker

    async def challenge(self, session: Session) -> tuple[bool, int]:
        status, data, worker = await self._request(session, "GET", self.endpoints.challenge)
        session.challenge = data
        return status == 200 and data.get("status") == "ok", worker

    async def login(self, session: Session) -> tuple[bool, int]:
        csrf = str(session.challenge.get("csrf_token", ""))
        status, data, worker = await self._request(
            session, "POST", self.endpoints.login, session.body, **{"X-CSRFToken": csrf}
        )
        if status != 200 or data.get("status") != "ok":
            _report_failure("login", status, data)
            return False, worker
        status, data, _ = await self._request(session, "GET", self.endpoints.protected)
        ok = status == 200 and data.get("account") == ACCOUNT
        if not ok:
            _report_failure("protected page", status, data)
        self.crl_seen.append((time.perf_counter(), worker, data.get("crl_number")))
        return ok, worker

    async def floor(self, session: Session) -> tuple[bool, int]:
        status, data, worker = await self._request(session, "POST", self.endpoints.floor, session.floor_body)
        return status == 200 and data.get("status") == "ok", worker

    async def run(
        self,
        sessions: Sequence[Session],
        step: Callable[[Session], Awaitable[tuple[bool, int]]],
        *,
        at_fraction: tuple[float, Callable[[], None]] | None = None,
    ) -> tuple[list[Sample], float]:
        """``step`` for every session, ``concurrency`` at a time; the samples and the wall time.
        ``at_fraction=(f, action)`` calls ``action`` once after a fraction ``f`` were started."""
        queue = list(reversed(sessions))
        samples: list[Sample] = []
        trigger_at = int(len(sessions) * at_fraction[0]) if at_fraction else -1
        started = 0

        async def worker() -> None:
            nonlocal started
            while queue:
                session = queue.pop()
                started += 1
                if started == trigger_at and at_fraction is not None:
                    at_fraction[1]()
                t0 = time.perf_counter()
                try:
                    ok, pid = await step(session)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    _report_failure("request", 0, {"error": repr(exc)})
                    ok, pid = False, 0
                samples.append(Sample(time.perf_counter() - t0, ok, pid, t0))

        begin = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return samples, time.perf_counter() - begin


_FAILURES_SHOWN = [0]


def _report_failure(what: str, status: int, data: dict[str, Any]) -> None:
    if _FAILURES_SHOWN[0] < 5:
        _FAILURES_SHOWN[0] += 1
        print(f"    ! {what} failed: HTTP {status} {json.dumps(data, ensure_ascii=False)[:300]}", flush=True)


# -- the server ----------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return sorted(found)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _rss(pid: int) -> str:
    try:
        import psutil  # type: ignore[import-untyped]

        info = psutil.Process(pid).memory_full_info()
        return f"{info.rss / 2**20:.0f} MiB (USS {info.uss / 2**20:.0f})"
    except ImportError:
        pass
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    rss = int(status["VmRSS"].split()[0]) / 1024
    shared = (int(status["RssFile"].split()[0]) + int(status["RssShmem"].split()[0])) / 1024
    return f"{rss:.0f} MiB ({shared:.0f} shared file/shmem)"


class Server:
    """gunicorn serving one factory of ``_http_app`` on a free loopback port."""

    def __init__(
        self,
        adapter: str,
        workers: int,
        config_file: Path,
        log_file: Path,
        env: dict[str, str],
        worker_class: str = "sync",
    ):
        self.worker_class = worker_class
        self.adapter = adapter
        self.workers = workers
        self.port = free_port()
        self.log_file = log_file
        self.config_file = config_file
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.log_file.write_text("")
        command = [
            sys.executable, "-m", "gunicorn",
            "--workers", str(self.workers),
            "--bind", f"127.0.0.1:{self.port}",
            "--chdir", str(BENCH),
            "--backlog", "256",
            "--worker-class", self.worker_class,
            *(["--threads", "1", "--keep-alive", "30"] if self.worker_class == "gthread" else []),
            "--timeout", "120",
            "--error-logfile", "-",
            "--no-control-socket",
            "--log-level", "info",
            FACTORIES[self.adapter],
        ]  # fmt: skip
        env = {**os.environ, **self.env, CONFIG_ENV: str(self.config_file)}
        # gunicorn's log and the workers' (start-up lines, CRLs ingested) in one file.
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_file.read_text()[-3000:]}")
            if len(self.ready_workers()) >= self.workers:
                return self
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not start: {self.log_file.read_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def ready_workers(self) -> dict[int, str]:
        """Worker pid → its start-up line (the shared index opened)."""
        found = {}
        for line in self.log().splitlines():
            match = re.match(r"(\d+) twcert\.bench INFO worker \d+: (.*)", line)
            if match:
                found[int(match.group(1))] = match.group(2)
        alive = set(self.worker_pids())
        return {pid: text for pid, text in found.items() if pid in alive}

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return _children(self.proc.pid)

    def run_sync(self) -> subprocess.Popen[bytes]:
        """``_http_app.py sync`` in its own process, its log lines into the server's log."""
        env = {**os.environ, **self.env, CONFIG_ENV: str(self.config_file)}
        with self.log_file.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, str(BENCH / "_http_app.py"), "sync"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def cpu(self) -> dict[int, float]:
        return {pid: _cpu_seconds(pid) for pid in self.worker_pids()}

    def ingests(self) -> dict[int, list[str]]:
        """Worker pid → the CRLs it downloaded and indexed (one log line each)."""
        found: dict[int, list[str]] = {}
        for line in self.log().splitlines():
            match = re.match(r"(\d+) twcert\.revocation\.crl_cache INFO CRL \S+: (.*)", line)
            if match:
                found.setdefault(int(match.group(1)), []).append(match.group(2))
        return found


# -- figures -------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    count: int
    seconds: float
    samples: list[Sample]
    cpu: float

    @property
    def failures(self) -> int:
        return sum(not s.ok for s in self.samples)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def pct(self, p: int) -> float:
        cuts = statistics.quantiles([s.seconds for s in self.samples], n=100, method="inclusive")
        return cuts[p - 1] * 1000

    def line(self) -> str:
        return (
            f"  {self.name:<34} {self.rate:8.1f}/s   p50 {self.pct(50):6.1f}  p95 {self.pct(95):6.1f}  "
            f"p99 {self.pct(99):6.1f} ms   worker CPU {self.cpu / self.count * 1000:5.2f} ms/op"
            + (f"   FAILED {self.failures}" if self.failures else "")
        )


async def _phase(
    name: str,
    server: Server,
    client: Client,
    sessions: Sequence[Session],
    step: Callable[[Session], Awaitable[tuple[bool, int]]],
    **kwargs: Any,
) -> Phase:
    gc.collect()
    cpu = server.cpu()
    samples, seconds = await client.run(sessions, step, **kwargs)
    # A worker killed during the phase takes its CPU time with it; a new one starts from 0.
    used = sum(now - cpu.get(pid, 0.0) for pid, now in server.cpu().items())
    phase = Phase(name, len(sessions), seconds, samples, used)
    if phase.failures:
        errors = [line for line in server.log().splitlines() if "ERROR" in line or "failed" in line]
        for line in errors[:5]:
            print(f"    log: {line[:300]}")
    return phase


def _prepare(sessions: Sequence[Session], card: FakeCard) -> None:
    """The card signs each challenge (untimed); the floor request carries the same body + tbs."""
    for session in sessions:
        challenge = session.challenge
        answer = card.sign(challenge["tbs"], signature_type="PKCS1")
        login = {"challenge_id": challenge["challenge_id"], "response": answer}
        session.body = json.dumps(login).encode()
        session.floor_body = json.dumps({**login, "tbs": challenge["tbs"]}).encode()


async def _signed_sessions(client: Client, card: FakeCard, n: int, name: str, server: Server) -> Phase:
    sessions = [Session() for _ in range(n)]
    phase = await _phase(name, server, client, sessions, client.challenge)
    _prepare(sessions, card)
    _SESSIONS[name] = sessions
    return phase


_SESSIONS: dict[str, list[Session]] = {}


@dataclass
class Bench:
    args: argparse.Namespace
    card: FakeCard
    config_files: dict[str, Path]
    log_dir: Path
    publish: Callable[[bool], None]
    restore: Callable[[str], None]
    results: list[str] = field(default_factory=list)

    async def measure(self, adapter: str, workers: int) -> None:
        args = self.args
        self.restore(adapter)
        self.publish(False)
        log_file = self.log_dir / f"{adapter}-{workers}.log"
        env = {"PYTHONPATH": os.pathsep.join([str(BENCH), *sys.path[1:]])}
        if args.profile:
            directory = Path(args.profile) / f"{adapter}-{workers}"
            directory.mkdir(parents=True, exist_ok=True)
            ends = (ENDPOINTS[adapter].login, ENDPOINTS[adapter].protected)
            env |= {PROFILE_ENV: str(directory), PROFILE_ENV + "_PATHS": ",".join(ends)}
        print(f"\n{adapter}, {workers} worker(s), {args.concurrency} in flight:", flush=True)
        with Server(adapter, workers, self.config_files[adapter], log_file, env, args.worker_class) as server:
            for pid, line in sorted(server.ready_workers().items()):
                print(f"  worker {pid}: {line}")
            keep_alive = args.worker_class == "gthread"
            async with Client(
                server.base, ENDPOINTS[adapter], args.concurrency, keep_alive=keep_alive
            ) as client:
                warm = await _signed_sessions(client, self.card, 50, "warm-up", server)
                await _phase("warm-up", server, client, _SESSIONS["warm-up"], client.login)
                await _phase("warm-up", server, client, _SESSIONS["warm-up"], client.floor)
                del warm
                idle = server.cpu()
                await asyncio.sleep(3)
                spent = sum(now - idle.get(pid, 0.0) for pid, now in server.cpu().items())
                print(
                    f"  idle workers' CPU (their CRL threads, after the warm-up): {spent / 3 * 1000:.1f} ms/s"
                )
                challenges = await _signed_sessions(client, self.card, args.logins, "challenge", server)
                sessions = _SESSIONS["challenge"]
                logins = await _phase("login + protected page", server, client, sessions, client.login)
                floor = await _phase("floor (same body)", server, client, sessions, client.floor)
                for phase in (challenges, logins, floor):
                    print(phase.line())
                whole = 1 / (1 / challenges.rate + 1 / logins.rate)
                print(
                    f"  whole login (challenge + login + page) {whole:8.1f}/s = "
                    f"{whole / floor.rate:.2f}x the floor; login + page alone {logins.rate / floor.rate:.2f}x; "
                    f"p99/p50 of login + page {logins.pct(99) / logins.pct(50):.1f}"
                )
                for pid in server.worker_pids():
                    print(f"  RSS worker {pid}: {_rss(pid)}")
                self.results.append(
                    f"{adapter:<7} {workers}  challenge {challenges.rate:7.1f}/s  login+page {logins.rate:7.1f}/s "
                    f"(p50 {logins.pct(50):.1f} p99 {logins.pct(99):.1f} ms)  floor {floor.rate:7.1f}/s  "
                    f"whole {whole:7.1f}/s = {whole / floor.rate:.2f}x floor  "
                    f"(login+page {logins.rate / floor.rate:.2f}x)"
                    + (f"  FAILED {logins.failures + challenges.failures}" if logins.failures else "")
                )
                if workers >= 2 and not args.no_churn:
                    await self.churn(server, client, logins, adapter)
        if args.profile:
            _print_profile(Path(args.profile) / f"{adapter}-{workers}")

    async def churn(self, server: Server, client: Client, steady: Phase, adapter: str) -> None:
        """Item 2: a CRL refresh, then a worker restart, each in the middle of a run of logins."""
        n = self.args.logins
        # The steady reference right before, so a change in the machine's load between the
        # first runs and this one is not read as the refresh's doing.
        await _signed_sessions(client, self.card, n, "steady", server)
        steady = await _phase(
            "login + page, steady (again)", server, client, _SESSIONS["steady"], client.login
        )
        print(steady.line())
        await _signed_sessions(client, self.card, n, "refresh", server)
        before = server.ingests()
        published: list[float] = []
        jobs: list[subprocess.Popen[bytes]] = []

        def publish() -> None:
            self.publish(True)
            published.append(time.perf_counter())
            if self.args.refresh == "sync":  # the sync job, as a timer would start it
                jobs.append(server.run_sync())

        refresh = await _phase(
            "login + page, CRL refreshed", server, client, _SESSIONS["refresh"], client.login,
            at_fraction=(0.25, publish),
        )  # fmt: skip
        print(refresh.line())
        for job in jobs:
            job.wait(120)
        for attempt in range(10):  # a short run ends before every worker was seen on the new CRL
            seen = {pid for when, pid, number in client.crl_seen if number is not None and number > 1000}
            if seen >= set(server.worker_pids()):
                break
            await _signed_sessions(client, self.card, 50, f"after refresh {attempt}", server)
            await client.run(_SESSIONS[f"after refresh {attempt}"], client.login)
        after = server.ingests()
        for pid in sorted(set(before) | set(after)):
            for line in after.get(pid, [])[len(before.get(pid, [])) :]:
                print(f"  process {pid} downloaded and indexed: {line}")
        for line in server.log().splitlines():
            if " twcert.bench INFO sync " in line:
                print(f"  sync job: {line.split(' INFO ', 1)[1]}")
        taken: dict[int, float] = {}
        for when, pid, number in client.crl_seen:
            if published and when >= published[0] and number is not None and number > 1000:
                taken.setdefault(pid, when - published[0])
        for pid, seconds in sorted(taken.items()):
            print(f"  worker {pid} answered with the new CRL {seconds:.2f} s after it was published")
        print(
            f"  refresh ({self.args.refresh}): {refresh.failures} failed logins; p99 {refresh.pct(99):.1f} ms = "
            f"{refresh.pct(99) / steady.pct(99):.2f}x the steady run's {steady.pct(99):.1f} ms"
        )
        self.results.append(
            f"        refresh ({self.args.refresh}): {refresh.failures} failed, p99 {refresh.pct(99):.1f} ms = "
            f"{refresh.pct(99) / steady.pct(99):.2f}x steady; workers on the new CRL: {len(taken)}"
        )

        await _signed_sessions(client, self.card, n, "restart", server)
        old = set(server.worker_pids())
        victim = min(old)

        def kill() -> None:
            os.kill(victim, signal.SIGTERM)

        restart = await _phase(
            "login + page, worker restarted", server, client, _SESSIONS["restart"], client.login,
            at_fraction=(0.25, kill),
        )  # fmt: skip
        print(restart.line())
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not [p for p in server.ready_workers() if p not in old]:
            await asyncio.sleep(0.2)
        new = [pid for pid in server.worker_pids() if pid not in old]
        if new and not any(s.worker in new for s in restart.samples):
            # The new worker came up after the run: its first logins come from a short one more.
            await _signed_sessions(client, self.card, 50, "after restart", server)
            after = await _phase(
                "login + page, after the restart", server, client, _SESSIONS["after restart"], client.login
            )
            print(after.line())
            restart.samples += after.samples
        ready = server.ready_workers()
        ingests = server.ingests()
        for pid in new:
            firsts = [s for s in restart.samples if s.worker == pid]
            first = min(firsts, key=lambda s: s.started) if firsts else None
            print(
                f"  worker {victim} killed; new worker {pid}: {ready.get(pid, 'no start-up line')}; "
                f"CRLs ingested: {len(ingests.get(pid, []))}; logins served {len(firsts)}, the first in "
                + (f"{first.seconds * 1000:.1f} ms ({'ok' if first.ok else 'FAILED'})" if first else "-")
            )
            self.results.append(
                f"        restart: {restart.failures} failed; new worker {ready.get(pid, '?')}; "
                f"CRLs ingested {len(ingests.get(pid, []))}; first login "
                + (f"{first.seconds * 1000:.1f} ms" if first else "-")
            )
        if not new:
            print("  ! no new worker seen")


def _print_profile(directory: Path) -> None:
    """The workers' profiles together: where the CPU of the profiled requests went."""
    import pstats

    files = sorted(str(p) for p in directory.glob("*.prof"))
    if not files:
        print(f"  (no profile written in {directory})")
        return
    stats = pstats.Stats(*files, stream=sys.stdout)
    print(f"  profile of the login and protected-page requests ({len(files)} worker(s)), by cumulative CPU:")
    stats.sort_stats("cumulative").print_stats(r"src/twcert|flask/(app|sessions)|django/(core|contrib)", 30)


# -- set-up ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres(url: str, card: FakeCard, pki: FreshPKI) -> Iterator[str]:
    """A throw-away schema with the card's holder listed and the card bound to the account."""
    schema = f"twcert_httpbench_{uuid.uuid4().hex[:10]}"
    stores = SqlStores(url, schema=schema)
    try:
        assert card.person is not None
        stores.personnel.upsert([card.person])
        cert = load_certificate(card.sign_certificate.der)
        stores.bindings.bind(Binding(binding_key(cert), ACCOUNT, pki.now, cert.sha256))
        yield schema
    finally:
        with stores.engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        stores.dispose()


@contextlib.contextmanager
def django_database(url: str, name: str) -> Iterator[None]:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _timed(label: str, fn: Callable[[], Any]) -> Any:
    print(f"{label} …", end=" ", flush=True)
    start = time.perf_counter()
    value = fn()
    print(f"{time.perf_counter() - start:.2f} s", flush=True)
    return value


async def amain(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}")
    pki = FreshPKI()
    card = pki.citizen_card("王小明", account=ACCOUNT)
    moica = pki.cas["MOICA2"]
    issuer = load_certificate(moica.der)
    crl_url = moica.complete_crl_url
    extra = args.entries // 10
    serials = _timed(f"{args.entries:,} + {extra:,} serials", lambda: random_serials(args.entries + extra))

    def crl(count: int, number: int) -> bytes:
        return bytes(
            build_crl(
                moica,
                serials[:count],
                this_update=pki.now - dt.timedelta(hours=1),
                next_update=pki.now + dt.timedelta(days=7),
                crl_number=number,
            )
        )

    first = _timed(f"CRL of {args.entries:,} entries built", lambda: crl(args.entries, 1000))
    second = (
        _timed(f"CRL of {args.entries + extra:,} entries built", lambda: crl(args.entries + extra, 1001))
        if not args.no_churn
        else first
    )
    serials.clear()
    gc.collect()

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twcert-httpbench-")))
        files = pki.write(tmp / "pki")
        ca_files = []
        for _label, path, family, generation in files.ca_files:
            pin = load_certificate(path.read_bytes()).sha256
            ca_files.append({"path": str(path), "pin": pin, "family": family.value, "generation": generation})
        repository = stack.enter_context(RepositoryServer())
        crl_path = crl_url.split("/", 3)[3]

        def publish(new: bool) -> None:
            repository.files["/" + crl_path] = second if new else first
            if new:
                print(f"    (a CRL of {args.entries + extra:,} entries published at the CDP)", flush=True)

        # Indexed as a sync would: fetched from the CDP, so the directory keeps its ETag and a
        # worker's first conditional GET is answered 304.
        publish(False)
        key = os.urandom(32)
        pristine = {"flask": tmp / "index-keyed", "django": tmp / "index-keyless"}
        for adapter, directory in pristine.items():
            directory.mkdir(mode=0o700)
            if adapter not in args.adapters.split(","):
                continue
            cache = CRLCache(
                directory=directory,
                key=key if adapter == "flask" else None,
                fetcher=LoopbackFetcher(repository.base_url),
            )
            _timed(
                f"indexed into the shared directory ({adapter})",
                lambda c=cache: c.fetch(crl_url, issuer, dt.datetime.now(dt.UTC)),
            )
        index_dir = tmp / "index"

        def restore(adapter: str) -> None:
            shutil.rmtree(index_dir, ignore_errors=True)
            shutil.copytree(pristine[adapter], index_dir)
            index_dir.chmod(0o700)

        schema = stack.enter_context(postgres(args.postgres, card, pki))
        django_db = f"twcert_django_httpbench_{uuid.uuid4().hex[:8]}"
        config_files = {}
        for adapter in ("flask", "django"):
            cfg = BenchConfig(
                ca_files=ca_files,
                arl_files=[str(p) for p in files.arl_files],
                issuer_file=str(next(p for label, p, _, _ in files.ca_files if label == "MOICA2")),
                crl_url=crl_url,
                cdp_base=repository.base_url,
                index_dir=str(index_dir),
                index_key=key.hex() if adapter == "flask" else None,
                refresh_interval=1.0,
                refresh=args.refresh,
                postgres_url=args.postgres,
                schema=schema,
                redis_url=args.redis,
                redis_prefix="twcert-httpbench:",
                django_database=django_db,
            )
            config_files[adapter] = tmp / f"{adapter}.json"
            cfg.save(config_files[adapter])
        adapters = args.adapters.split(",")
        if "django" in adapters:
            stack.enter_context(django_database(args.postgres, django_db))
            # Django refuses database work inside the client's event loop: migrate in a process.
            subprocess.run(
                [sys.executable, str(BENCH / "_http_app.py"), "migrate"],
                env={**os.environ, CONFIG_ENV: str(config_files["django"])},
                check=True,
            )
        stack.callback(_flush_redis, args.redis)

        log_dir = Path(args.log_dir) if args.log_dir else tmp
        log_dir.mkdir(parents=True, exist_ok=True)
        bench = Bench(args, card, config_files, log_dir, publish, restore)
        for adapter in adapters:
            for workers in (int(w) for w in args.workers.split(",")):
                await bench.measure(adapter, workers)
        print("\nsummary:")
        for line in bench.results:
            print(line)


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--logins", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--adapters", default="flask,django")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument(
        "--no-churn", action="store_true", help="skip the CRL refresh and worker restart runs"
    )
    parser.add_argument(
        "--worker-class",
        choices=("sync", "gthread"),
        default="sync",
        help="gunicorn's sync workers (a connection per request), or gthread with one thread and keep-alive",
    )
    parser.add_argument(
        "--refresh",
        choices=("worker", "sync"),
        default="sync",
        help="who downloads and indexes a new CRL: each worker's refresher, or a sync job whose "
        "output the workers open (default)",
    )
    parser.add_argument("--log-dir", help="keep the servers' logs (gunicorn, workers, sync job) here")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="each worker profiles (cProfile) the login and protected-page requests into DIR/<pid>.prof",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "TWCERT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("TWCERT_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
