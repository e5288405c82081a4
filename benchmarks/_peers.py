"""Peer tools (MLflow, ZenML, Evidently, ...) in their own virtual environments.

Benchmarks compare Loopline with other tools, which must never become Loopline
dependencies nor clash with its pins (e.g. Evidently wants ``pandas<3``). Each peer
gets a venv under ``benchmarks/.peers/<name>/`` (git-ignored), created once with
``python -m venv`` and ``pip install <requirements>``, and reused while the requirement
strings stay the same (a changed list rebuilds it).

Usage from a benchmark::

    from _peers import Peer

    mlflow = Peer("mlflow", ["mlflow==3.*"])
    mlflow.ensure()                       # build the venv once (minutes), then cached
    result = mlflow.run_code("import json, mlflow; print(json.dumps(mlflow.__version__))")
    result = mlflow.run_script("benchmarks/peer_scripts/x.py", ["--n", "500"])
    server = mlflow.popen(["-m", "mlflow", "models", "serve", ...])  # long-running process

A snippet or script reports by printing JSON: the last stdout line that parses as
JSON is returned (so chatty libraries printing banners do not break it).

From the command line (to pre-build a venv, or to see what is cached)::

    python benchmarks/_peers.py ensure mlflow "mlflow==3.*"
    python benchmarks/_peers.py list
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
_MARKER = "loopline-peer.json"


class PeerError(RuntimeError):
    """A peer venv could not be built, or a peer snippet failed or printed no JSON."""


class Peer:
    """A peer tool in its own venv.

    Args:
        name: Folder name under ``benchmarks/.peers/``.
        requirements: pip requirement strings, e.g. ``["mlflow==3.*"]``.
        python: The interpreter the venv is made from (this one by default).
    """

    def __init__(self, name: str, requirements: Sequence[str], python: str | None = None) -> None:
        self.name = name
        self.requirements = list(requirements)
        self.base_python = python or sys.executable
        self.dir = PEERS_DIR / name

    # -- the venv -------------------------------------------------------------------

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
        return self.dir / sub

    def is_ready(self) -> bool:
        """Whether the venv exists with exactly these requirements installed."""
        marker = self.dir / _MARKER
        if not (marker.is_file() and self.python.exists()):
            return False
        try:
            return json.loads(marker.read_text())["requirements"] == self.requirements
        except (ValueError, KeyError):
            return False

    def ensure(self, *, quiet: bool = True, log: Any = sys.stderr) -> Peer:
        """Create the venv and install the requirements, unless already done.

        Safe to call from several processes at once (a file lock serialises builds).

        Raises:
            PeerError: ``venv`` or ``pip install`` failed (pip's output is in the message).
        """
        if self.is_ready():
            return self
        PEERS_DIR.mkdir(parents=True, exist_ok=True)
        with _locked(PEERS_DIR / f".{self.name}.lock"):
            if self.is_ready():
                return self
            if self.dir.exists():
                shutil.rmtree(self.dir)
            print(f"[peers] creating venv {self.dir} ...", file=log, flush=True)
            started = time.perf_counter()
            self._check([self.base_python, "-m", "venv", str(self.dir)], "python -m venv")
            pip = [str(self.python), "-m", "pip", "install", "--disable-pip-version-check"]
            if quiet:
                pip.append("-q")
            self._check([*pip, "--upgrade", "pip"], "pip install --upgrade pip")
            print(f"[peers] pip install {' '.join(self.requirements)} ...", file=log, flush=True)
            self._check([*pip, *self.requirements], f"pip install {self.requirements}")
            versions = self.versions()
            (self.dir / _MARKER).write_text(
                json.dumps(
                    {
                        "requirements": self.requirements,
                        "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
                        "seconds": round(time.perf_counter() - started, 1),
                        "python": versions.get("python"),
                    },
                    indent=2,
                )
            )
            print(
                f"[peers] {self.name} ready in {time.perf_counter() - started:.0f} s",
                file=log,
                flush=True,
            )
        return self

    def _check(self, cmd: list[str], what: str) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_clean_env())
        if proc.returncode != 0:
            raise PeerError(
                f"{what} failed for peer {self.name!r} (exit {proc.returncode}):\n"
                f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )

    def versions(self, packages: Sequence[str] = ()) -> dict[str, str | None]:
        """Python version and installed versions of ``packages`` (default: the requirements)."""
        names = list(packages) or [_dist_name(r) for r in self.requirements]
        code = (
            "import json, sys, importlib.metadata as m\n"
            "out = {'python': sys.version.split()[0]}\n"
            f"for n in {names!r}:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))\n"
        )
        return self._run([str(self.python), "-c", code], timeout=120, env=None, cwd=None)  # type: ignore[no-any-return]

    # -- running inside it ----------------------------------------------------------

    def run_code(
        self,
        code: str,
        args: Sequence[str] = (),
        *,
        timeout: float = 1800,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Any:
        """Run a Python snippet in the venv and return the JSON it printed last.

        ``args`` land in the snippet's ``sys.argv[1:]``. The snippet runs in ``cwd`` (a
        fresh temporary folder by default, so nothing from this repository is importable).
        """
        self.ensure()
        return self._run([str(self.python), "-c", code, *args], timeout=timeout, env=env, cwd=cwd)

    def run_script(
        self,
        script: str | os.PathLike[str],
        args: Sequence[str] = (),
        *,
        timeout: float = 1800,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Any:
        """Run a Python file in the venv and return the JSON it printed last."""
        self.ensure()
        script = Path(script).resolve()
        return self._run([str(self.python), str(script), *args], timeout=timeout, env=env, cwd=cwd)

    def popen(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> subprocess.Popen[Any]:
        """Start ``python <args>`` in the venv (e.g. a model server) and return the process.

        The caller stops it (``terminate()``/``wait()``); see :func:`stop`.
        """
        self.ensure()
        return subprocess.Popen(
            [str(self.python), *args],
            env=_clean_env(env),
            cwd=str(cwd) if cwd is not None else None,
            start_new_session=True,
            **kwargs,
        )

    def _run(
        self,
        cmd: list[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None,
        cwd: str | os.PathLike[str] | None,
    ) -> Any:
        with _workdir(cwd) as folder:
            try:
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    env=_clean_env(env),
                    cwd=folder,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired as exc:
                raise PeerError(f"peer {self.name!r} timed out after {timeout} s") from exc
        if proc.returncode != 0:
            raise PeerError(
                f"peer {self.name!r} exited {proc.returncode}:\n"
                f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-5000:]}"
            )
        for line in reversed(proc.stdout.splitlines()):
            line = line.strip()
            if not line:
                continue
            try:
                return json.loads(line)
            except ValueError:
                continue
        raise PeerError(
            f"peer {self.name!r} printed no JSON line:\nstdout: {proc.stdout[-3000:]}\n"
            f"stderr: {proc.stderr[-3000:]}"
        )


def stop(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Stop a process started by :meth:`Peer.popen` (its own session): TERM, then KILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()


def _dist_name(requirement: str) -> str:
    name = requirement
    for sep in "[=<>!~; ":
        name = name.split(sep, 1)[0]
    return name.strip()


def _clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus what would leak our interpreter or packages into the peer."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
        and not k.startswith("LOOPLINE_")
    }
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    if extra:
        env.update(extra)
    return env


@contextlib.contextmanager
def _workdir(cwd: str | os.PathLike[str] | None) -> Iterator[str]:
    if cwd is not None:
        yield str(cwd)
        return
    with tempfile.TemporaryDirectory(prefix="loopline-peer-") as folder:
        yield folder


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ensure = sub.add_parser("ensure", help="build a peer venv (once)")
    ensure.add_argument("name")
    ensure.add_argument("requirements", nargs="+")
    sub.add_parser("list", help="show the cached peer venvs")
    args = parser.parse_args()
    if args.command == "ensure":
        peer = Peer(args.name, args.requirements).ensure(quiet=False)
        print(json.dumps(peer.versions(), indent=2))
    else:
        for marker in sorted(PEERS_DIR.glob(f"*/{_MARKER}")):
            print(marker.parent.name, marker.read_text().replace("\n", " "))


if __name__ == "__main__":
    _main()
