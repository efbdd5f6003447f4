"""The WeChat webhook over real HTTP: throughput and latency of `收益` (earnings) sent by real
active distributors, with 1,000,000 distributors in PostgreSQL, beside a bare wechatpy + Flask
echo view (bench/webhook_echo.py) served the same way in the same run.

Each server is gunicorn with 2 workers; the load is `wrk` with 50 connections (a closed loop:
each client sends its next request when its answer arrives) on the same machine. Five servers
are up at once: the echo and Fenxiao, each in plain mode and in safe mode (WECHAT_AES_KEY set,
every request encrypted), and "fenxiao cold", plain Fenxiao on its own Redis database emptied
before each run, so that every answer is a sender's first (no sender card: the database read;
shown for comparison). The senders (--senders, taken in turn) are the active distributors of
the goal's traffic: Fenxiao's warm-up lasts until each has sent once, so each has their card
cached (services.sender_cards), as a sender coming back within the cards' 10 minutes has.
Each server is warmed up, then all are measured in rounds, one server at a time, each round in
another order, so that drift and other load on the machine fall on all alike. Throughput is
all requests over all measured seconds; latency percentiles are the median of the rounds' (the
worst round's p99 is shown too). CPU per request is split by
process (gunicorn, PostgreSQL, Redis, wrk), and CPU that other processes used is shown.

Every request is a distinct message: its own MsgId, nonce and signature, and in safe mode its
own encrypted body and msg_signature, all pre-generated with fresh timestamps and replayed by
bench/webhook_bench.lua, so Fenxiao's de-duplication never answers in place of the handler
(checked: one new de-duplication key in Redis per answer). Every answer must be 200 and carry
the real reply (Fenxiao's earnings text, `可提现 ...`, or the echoed text; in safe mode an
<Encrypt> envelope, one sample of which is decrypted and checked); anything else fails the run.

Goals: Fenxiao plain >= 0.5x the echo's throughput; p99 <= 50 ms at 50 clients; safe mode
within 1.5x of plain, as plain throughput / safe throughput.

    .venv/bin/python bench/webhook_bench.py                 # 1,000,000 distributors, ~4 min
    .venv/bin/python bench/webhook_bench.py --quick         # 20,000 distributors, ~1 min
    .venv/bin/python bench/webhook_bench.py --worker-class gthread --threads 4
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
for _path in (str(REPO), str(BENCH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from large_seed import seed

from infra.procutil import free_port
from infra.redis_server import EmbeddedRedis
from services.sender_cards import CARD_TTL
from tests.support.postgres import PostgresServer
from tests.support.wechat import (
    AES_KEY,
    APPID,
    OFFICIAL,
    TOKEN,
    decrypt,
    encrypt,
    sha1_signature,
    text_xml,
)

LUA = BENCH / "webhook_bench.lua"
COMMAND = "收益"
EARNINGS_MARK = "可提现"  # the first line of the earnings reply
GOAL_RATIO_ECHO = 0.5
GOAL_P99_MS = 50.0
GOAL_SAFE_COST = 1.5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_msgids = itertools.count(int(time.time() * 1000))


class BenchError(RuntimeError):
    pass


# --- requests -----------------------------------------------------------------------------


def plain_line(openid: str, content: str) -> str:
    """A signed plain-mode request, "TARGET<TAB>BODY": the signature covers token, timestamp
    and nonce only, so the body needs no signature of its own."""
    msgid, timestamp = next(_msgids), str(int(time.time()))
    nonce = f"n{msgid}"
    query = {
        "signature": sha1_signature(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": openid,
    }
    xml = text_xml(openid, content, msgid=msgid, at=int(timestamp))
    return "/wechat?" + urlencode(query) + "\t" + xml


def safe_line(openid: str, content: str) -> str:
    """A safe-mode request: its own encrypted body, so its own msg_signature."""
    msgid, timestamp = next(_msgids), str(int(time.time()))
    nonce = f"n{msgid}"
    encrypted = encrypt(text_xml(openid, content, msgid=msgid, at=int(timestamp)))
    query = {
        "signature": sha1_signature(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": openid,
        "encrypt_type": "aes",
        "msg_signature": sha1_signature(TOKEN, timestamp, nonce, encrypted),
    }
    body = (
        f"<xml><ToUserName><![CDATA[{OFFICIAL}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return "/wechat?" + urlencode(query) + "\t" + body


class Senders:
    """The openids that send `收益`, taken in turn."""

    def __init__(self, openids: list[str]):
        self.openids = openids
        self.next = 0

    def take(self) -> str:
        self.next += 1
        return self.openids[self.next % len(self.openids)]


def write_requests(directory: Path, count: int, threads: int, safe: bool, senders: Senders):
    """`count` distinct requests in one file per wrk thread, stamped now."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    make = safe_line if safe else plain_line
    per_thread = -(-count // threads)
    for t in range(threads):
        with open(directory / f"reqs-{t + 1}.txt", "w", encoding="utf-8") as f:
            f.writelines(make(senders.take(), COMMAND) + "\n" for _ in range(per_thread))


def sample_reply(url: str, safe: bool, openid: str) -> str:
    """One request by hand: the reply XML, decrypted and its signature checked in safe mode."""
    target, body = (safe_line if safe else plain_line)(openid, COMMAND).split("\t", 1)
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", target, body.encode(), {"Content-Type": "text/xml"})
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    if resp.status != 200:
        raise BenchError(f"sample request: HTTP {resp.status}: {text[:300]}")
    if not safe:
        return text
    fields = dict(re.findall(r"<(\w+)><!\[CDATA\[(.*?)\]\]></\1>", text))
    fields.update(re.findall(r"<(\w+)>(\d+)</\1>", text))
    encrypted = fields.get("Encrypt", "")
    expected = sha1_signature(
        TOKEN, fields.get("TimeStamp", ""), fields.get("Nonce", ""), encrypted
    )
    if not encrypted or fields.get("MsgSignature") != expected:
        raise BenchError(f"sample request: a safe-mode reply not properly signed: {text[:300]}")
    xml, appid = decrypt(encrypted)
    if appid != APPID:
        raise BenchError(f"sample request: the reply is for appid {appid!r}")
    return xml


def reply_content(xml: str) -> str:
    found = re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", xml, re.S)
    return found.group(1) if found else ""


# --- the servers --------------------------------------------------------------------------


class Gunicorn:
    """One gunicorn master with 2 workers, stopped by `stop()` (SIGTERM, then SIGKILL)."""

    def __init__(self, app: str, env: dict, args: argparse.Namespace, log: Path, extra=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "2",
            "--worker-class",
            args.worker_class,
            "--log-level",
            "warning",
            "--backlog",
            "2048",
            *extra,
        ]
        if args.worker_class == "gthread":
            argv += ["--threads", str(args.threads)]
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [*argv, app], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                conn.getresponse().read()  # any answer: Fenxiao's says 503 without RQ workers
                conn.close()
                return
            time.sleep(0.1)
        raise BenchError(f"gunicorn did not answer in {timeout}s:\n{self.tail()}")

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def base_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FENXIAO_", "WECHAT_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- measuring ----------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used by groups of processes (each: root pids and all their children)."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups

    def sample(self) -> dict[str, float]:
        import psutil

        out = {}
        for name, pids in self.groups.items():
            total = 0.0
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    root = psutil.Process(pid)
                    for proc in [root, *root.children(recursive=True)]:
                        with contextlib.suppress(psutil.Error):
                            t = proc.cpu_times()
                            total += t.user + t.system
            out[name] = total
        return out


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle or waiting on I/O)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


@dataclass
class Segment:
    """One wrk run against one server."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu: dict[str, float]  # CPU seconds by process group, "wrk" and "other" included
    raw: dict

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def run_wrk(target: Target, directory: Path, seconds: float, ctx: Context) -> Segment:
    args = ctx.args
    argv = [
        ctx.wrk,
        "-t",
        str(args.wrk_threads),
        "-c",
        str(args.clients),
        "-d",
        f"{seconds:.0f}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        f"{target.server.url}/wechat",
        "--",
        str(directory),
        target.wrk_expect,
    ]
    meter = CpuMeter({"gunicorn": [target.server.proc.pid], **ctx.meter_groups})
    rusage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, busy0 = meter.sample(), machine_busy_seconds()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    cpu1, busy1 = meter.sample(), machine_busy_seconds()
    rusage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(ctx.workdir / "wrk.log", "a") as f:
        f.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
    found = re.search(r"^WRKRESULT (.*)$", done.stdout, re.M)
    if done.returncode or not found:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip()[:500]}")
    r: dict = {k: float(v) for k, v in (kv.split("=") for kv in found.group(1).split())}
    bad = re.search(r"^WRKFIRSTBAD (.*)$", done.stdout, re.M)
    r["first_bad"] = bad.group(1) if bad else ""
    cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
    cpu["wrk"] = (rusage1.ru_utime + rusage1.ru_stime) - (rusage0.ru_utime + rusage0.ru_stime)
    cpu["other"] = max(0.0, (busy1 - busy0) - sum(cpu.values()))
    return Segment(
        int(r["requests"]),
        r["duration_us"] / 1e6,
        r["p50"] / 1e3,
        r["p90"] / 1e3,
        r["p99"] / 1e3,
        r["max"] / 1e3,
        cpu,
        r,
    )


def check_clean(name: str, r: dict, distinct: bool) -> None:
    """Fail loudly on any error, non-200 answer or wrong body, and if `distinct`, on a
    repeated message (a wrk thread that ran out of pre-generated requests)."""
    errors = {k: int(r[k]) for k in ("connect", "read", "write", "status", "timeout") if r[k]}
    problems = []
    if errors:
        problems.append(f"socket/HTTP errors {errors}")
    if r["bad_status"] or r["bad_body"]:
        problems.append(
            f"{int(r['bad_status'])} non-200 and {int(r['bad_body'])} wrong answers "
            f"(first: {r['first_bad']!r})"
        )
    if distinct and r["wraps"]:
        problems.append("ran out of pre-generated requests and repeated MsgIds (raise --margin)")
    if problems:
        raise BenchError(f"{name}: " + "; ".join(problems))


@dataclass
class Context:
    args: argparse.Namespace
    wrk: str
    senders: Senders
    workdir: Path
    meter_groups: dict[str, list[int]]
    probe: tuple[str, str]  # a distributor with pending commissions, and its line in the reply


@dataclass
class Target:
    name: str
    server: Gunicorn
    safe: bool
    expect: str  # in the sample reply's text
    redis: object = None  # Fenxiao's Redis: count its de-duplication keys
    wrk_expect: str = ""  # in every answer's body
    cold: bool = False  # Fenxiao with no sender cards: every answer read from the database
    rate: float = 0.0  # the best requests/s seen, to size the pre-generated requests
    sample: str = ""
    segments: list[Segment] = field(default_factory=list)


def drive(target: Target, seconds: float, ctx: Context, measured: bool) -> Segment:
    args = ctx.args
    count = int(max(target.rate * args.margin, args.warm_rate) * seconds) + 1000
    directory = ctx.workdir / "requests"
    if target.cold:
        target.redis.flushdb()  # no sender cards: each sender's next message is a first one
    write_requests(directory, count, args.wrk_threads, target.safe, ctx.senders)
    keys0 = target.redis.dbsize() if target.redis is not None else 0
    segment = run_wrk(target, directory, seconds, ctx)
    what = target.name if measured else f"{target.name} warm-up"
    # Fenxiao's measured answers must all be new messages; the echo keeps no state, so a
    # repeated message costs it the same.
    check_clean(what, segment.raw, distinct=measured and target.redis is not None)
    if target.redis is not None and measured:
        # One de-duplication key per message handled: the handler made every answer.
        time.sleep(0.3)
        handled = target.redis.dbsize() - keys0
        if handled < segment.raw["responses"]:
            raise BenchError(
                f"{what}: {int(segment.raw['responses'])} answers but only "
                f"{handled} messages handled"
            )
        if target.cold:
            # Each answer read its sender from the database and cached one card.
            cards = sum(1 for _ in target.redis.scan_iter("wechat:card:*", count=1000))
            if cards < segment.raw["responses"]:
                raise BenchError(
                    f"{what}: {int(segment.raw['responses'])} answers but only "
                    f"{cards} read from the database (senders repeated?)"
                )
    target.rate = max(target.rate, segment.rps)
    return segment


def start(target: Target, ctx: Context) -> None:
    """Wait for the server, check one real answer, warm up."""
    target.server.wait_ready()
    fenxiao = target.redis is not None
    openid = ctx.probe[0] if fenxiao else ctx.senders.take()
    xml = sample_reply(target.server.url, target.safe, openid)
    target.sample = reply_content(xml)
    if target.expect not in target.sample or (fenxiao and ctx.probe[1] not in target.sample):
        raise BenchError(f"{target.name}: the sample reply is not the real answer: {xml[:400]}")
    # wrk sees each answer's body: the reply text, or in safe mode an encrypted envelope.
    target.wrk_expect = "<Encrypt>" if target.safe else target.expect
    target.rate = ctx.args.warm_rate
    warm = drive(target, ctx.args.warmup, ctx, measured=False)
    served = warm.requests
    if fenxiao and not target.cold:
        # Steady state: every sender has sent a message within the cards' lifetime.
        while served < len(ctx.senders.openids):
            served += drive(target, ctx.args.warmup, ctx, measured=False).requests
    target.rate = warm.rps


def measure_all(targets: list[Target], ctx: Context) -> None:
    """Warm up each, then measured rounds, each round in another order."""
    for target in targets:
        start(target, ctx)
    for i in range(ctx.args.rounds):
        order = targets[i % len(targets) :] + targets[: i % len(targets)]
        for target in order if i % 2 == 0 else order[::-1]:
            target.segments.append(drive(target, ctx.args.segment, ctx, measured=True))


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p99_worst_ms: float
    max_ms: float
    requests: int
    seconds: float
    cpu_ms: dict[str, float]  # CPU milliseconds per request, by process group
    cores: dict[str, float]  # CPU cores in use on average, by process group

    @classmethod
    def of(cls, target: Target) -> Result:
        s = target.segments
        requests, seconds = sum(x.requests for x in s), sum(x.seconds for x in s)
        cpu = {k: sum(x.cpu[k] for x in s) for k in s[0].cpu}
        return cls(
            target.name,
            requests / seconds,
            statistics.median(x.p50_ms for x in s),
            statistics.median(x.p90_ms for x in s),
            statistics.median(x.p99_ms for x in s),
            max(x.p99_ms for x in s),
            max(x.max_ms for x in s),
            requests,
            seconds,
            {k: v * 1e3 / max(1, requests) for k, v in cpu.items()},
            {k: v / seconds for k, v in cpu.items()},
        )

    def lines(self) -> str:
        per_request = ", ".join(f"{k} {v:.2f}" for k, v in self.cpu_ms.items() if k != "other")
        return (
            f"{self.name:<14} {self.rps:7.0f} req/s   p50 {self.p50_ms:6.1f} ms   "
            f"p90 {self.p90_ms:6.1f} ms   p99 {self.p99_ms:6.1f} ms (worst round "
            f"{self.p99_worst_ms:.1f})   max {self.max_ms:6.1f} ms\n"
            f"{'':<14} n={self.requests:,} in {self.seconds:.0f}s; CPU ms per request: "
            f"{per_request}; other processes on the machine {self.cores['other']:.2f} cores"
        )


# --- the database -------------------------------------------------------------------------


def prepare_database(workdir: Path, redis_url: str) -> tuple[PostgresServer, str, dict]:
    """A throwaway PostgreSQL with the app's migrations applied."""
    from flask_migrate import upgrade

    from models import db
    from web import create_app

    postgres = PostgresServer()
    postgres.start()
    try:
        url = postgres.create_database("fenxiao")
        config = {
            "FENXIAO_MODE": "test",
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "INSTANCE_PATH": str(workdir / "instance"),
        }
        app = create_app(config)
        with app.app_context():
            upgrade()
            db.session.remove()
            db.engine.dispose()
    except BaseException:
        postgres.stop()
        raise
    return postgres, url, config


def pick_senders(url: str, count: int) -> list[str]:
    """Openids of random active distributors (large_seed's users are 'seed-<user id>')."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT u.openid FROM distributors d JOIN users u ON u.id = d.user_id "
            "WHERE d.status = 'active' ORDER BY random() LIMIT %s",
            (count,),
        ).fetchall()
    if not rows:
        raise BenchError("no active distributor was seeded")
    return [r[0] for r in rows]


def pick_probe(url: str) -> tuple[str, str]:
    """A distributor with a pending balance, and the line its earnings reply must show."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT u.openid, a.balance_fen FROM ledger_accounts a "
            "JOIN distributors d ON d.id = a.distributor_id JOIN users u ON u.id = d.user_id "
            "WHERE a.kind = 'pending' AND a.balance_fen > 0 AND d.status = 'active' "
            "ORDER BY a.balance_fen DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise BenchError("no distributor has pending commissions: seed some orders")
    openid, fen = row
    return openid, f"待结算：¥{fen // 100}.{fen % 100:02d}"


def postmaster_pid(postgres: PostgresServer) -> int:
    return int((postgres.datadir / "postmaster.pid").read_text().split()[0])


# --- main ---------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (Debian package) ...", flush=True)
        quiet = {
            "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
        }
        if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet).returncode:
            subprocess.run(["apt-get", "update", "-qq"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet)
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchError("wrk is needed: apt-get install wrk (Debian)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distributors", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--quick", action="store_true", help="20,000 distributors, short runs")
    parser.add_argument(
        "--orders",
        type=int,
        default=None,
        help="orders with 3 commissions each (default: distributors / 10)",
    )
    parser.add_argument(
        "--senders", type=int, default=20_000, help="random distributors sending `收益`"
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--threads", type=int, default=4, help="per worker, for gthread")
    parser.add_argument("--warmup", type=float, default=None, help="seconds per server (5)")
    parser.add_argument("--rounds", type=int, default=None, help="measured rounds (4)")
    parser.add_argument(
        "--segment", type=float, default=None, help="measured seconds per server and round (8)"
    )
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--warm-rate",
        type=float,
        default=5000,
        help="requests/s that pre-generated requests feed at least (the warm-up: exactly)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=2.0,
        help="pre-generated requests = best rate so far x seconds x margin",
    )
    args = parser.parse_args(argv)
    defaults = {
        "distributors": (20_000, 1_000_000),
        "warmup": (3.0, 5.0),
        "rounds": (2, 4),
        "segment": (4.0, 8.0),
    }
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.orders is None:
        args.orders = args.distributors // 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="fx-bench-webhook-"))
    redis_server = postgres = None
    servers: list[Gunicorn] = []
    try:
        wrk = ensure_wrk()
        redis_server = EmbeddedRedis(workdir / "redis").start()
        t0 = time.perf_counter()
        postgres, url, config = prepare_database(workdir, redis_server.url)
        tree = seed(url, distributors=args.distributors, orders=args.orders)
        senders = Senders(pick_senders(url, args.senders))
        workers = args.worker_class
        if workers == "gthread":
            workers += f", {args.threads} threads each"
        print(
            f"seeded {tree.distributors:,} active distributors, {tree.orders.orders:,} orders "
            f"({tree.orders.commissions:,} commissions) in {time.perf_counter() - t0:.0f}s; "
            f"`{COMMAND}` from {len(senders.openids):,} random distributors\n"
            f"gunicorn 2 workers ({workers}); wrk {args.clients} connections; each server "
            f"{args.warmup:.0f}s warm-up, then {args.rounds} rounds x {args.segment:.0f}s",
            flush=True,
        )
        import redis as redis_lib

        redis_client = redis_lib.Redis.from_url(redis_server.url)
        ctx = Context(
            args,
            wrk,
            senders,
            workdir,
            {
                "postgres": [postmaster_pid(postgres)],
                "redis": [redis_server.process.pid],
            },
            pick_probe(url),
        )
        app_env = {**base_env(), **{k: str(v) for k, v in config.items()}}
        echo_env = {**base_env(), "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID}
        log = workdir / "gunicorn.log"
        targets = []
        for safe in (False, True):
            mode = "safe" if safe else "plain"
            aes = {"WECHAT_AES_KEY": AES_KEY} if safe else {}
            echo = Gunicorn(
                "webhook_echo:create_app()",
                {**echo_env, **aes},
                args,
                log,
                extra=("--pythonpath", str(BENCH)),
            )
            fenxiao = Gunicorn("web:create_app()", {**app_env, **aes}, args, log)
            servers += [echo, fenxiao]
            targets += [
                Target(f"echo {mode}", echo, safe, COMMAND),
                Target(f"fenxiao {mode}", fenxiao, safe, EARNINGS_MARK, redis=redis_client),
            ]
        # The same, answering first messages only: its own Redis database, emptied before
        # each run, so no sender has a card.
        cold_url = f"{redis_server.url}?db=1"
        cold_redis = redis_lib.Redis.from_url(cold_url)
        cold = Gunicorn("web:create_app()", {**app_env, "REDIS_URL": cold_url}, args, log)
        servers.append(cold)
        targets.append(
            Target("fenxiao cold", cold, False, EARNINGS_MARK, redis=cold_redis, cold=True)
        )
        measure_all(targets, ctx)
        results = {t.name: Result.of(t) for t in targets}
        for result in results.values():
            print(result.lines())
        samples = {t.name: t.sample for t in targets}
        redis_client.close()
        cold_redis.close()
        return report(results, samples, args)
    except BenchError as e:
        print(f"FAIL  {e}", file=sys.stderr)
        return 2
    finally:
        for server in servers:
            server.stop()
        if redis_server is not None:
            redis_server.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: dict[str, Result], samples: dict[str, str], args) -> int:
    echo, plain, safe = results["echo plain"], results["fenxiao plain"], results["fenxiao safe"]
    echo_safe = results["echo safe"]
    print(
        f"sample reply to `{COMMAND}` from a distributor with pending commissions (safe mode, "
        f"decrypted): {samples['fenxiao safe'].replace(chr(10), ' / ')}"
    )
    ratio, safe_cost = plain.rps / echo.rps, plain.rps / safe.rps
    print(
        f"ratio Fenxiao/echo throughput: plain {ratio:.3f}x, safe {safe.rps / echo_safe.rps:.3f}x"
        f"   (baseline: the echo)"
    )
    cold = results["fenxiao cold"]
    print(
        f"for comparison, first messages (no sender card: each sender's first in "
        f"{CARD_TTL // 60} min), plain: {cold.rps:.0f} req/s, {cold.rps / echo.rps:.3f}x "
        f"the echo, p99 {cold.p99_ms:.1f} ms; the figures above have each sender's card "
        f"cached"
    )
    print(
        f"safe-mode cost (plain/safe throughput): Fenxiao {safe_cost:.2f}x, echo "
        f"{echo.rps / echo_safe.rps:.2f}x; Fenxiao p99 safe/plain "
        f"{safe.p99_ms / plain.p99_ms:.2f}x"
    )
    checks = [
        (
            f"Fenxiao plain >= {GOAL_RATIO_ECHO}x the echo's throughput: {ratio:.3f}x",
            ratio >= GOAL_RATIO_ECHO,
        ),
        (
            f"p99 <= {GOAL_P99_MS:.0f} ms at {args.clients} clients, Fenxiao plain: "
            f"{plain.p99_ms:.1f} ms",
            plain.p99_ms <= GOAL_P99_MS,
        ),
        (
            f"p99 <= {GOAL_P99_MS:.0f} ms at {args.clients} clients, Fenxiao safe: "
            f"{safe.p99_ms:.1f} ms",
            safe.p99_ms <= GOAL_P99_MS,
        ),
        (
            f"safe within {GOAL_SAFE_COST}x of plain (plain/safe throughput): {safe_cost:.2f}x",
            safe_cost <= GOAL_SAFE_COST,
        ),
    ]
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    return 0 if all(ok for _text, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
