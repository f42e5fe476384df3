"""The llama-cpp-python wheel: built once per CPU variant, then kept in a cache.

The registry only has the sdist, and a build takes about 6 minutes on 2 cores, so the wheel is
cached under `~/.cache/agentjit/wheels/<variant>/` (the root can be moved with
`AGENTJIT_WHEEL_CACHE`). A build goes to a temporary folder in the cache and is moved in
atomically, under a file lock, so two installs never see half a wheel or build twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from agentjit.localllm.errors import INSTALL_HINT, InstallError

LLAMA_DIST = "llama-cpp-python"
LLAMA_VERSION = "0.3.36"

_COMMON_FLAGS = (
    "-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "
    "-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
)
# GGML_NATIVE=OFF always: a native build enables ggml's AMX path, which segfaults on AMX CPUs.
VARIANT_FLAGS = {
    "avx2": "-DGGML_NATIVE=OFF " + _COMMON_FLAGS,
    "avx512": (
        "-DGGML_NATIVE=OFF -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON "
        "-DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON " + _COMMON_FLAGS
    ),
}
BUILD_TIMEOUT_S = 3600.0


def variant_name(avx512: bool) -> str:
    return "avx512" if avx512 else "avx2"


def cmake_args(variant: str) -> str:
    return VARIANT_FLAGS[variant]


def build_env(variant: str, cores: int | None = None) -> dict[str, str]:
    """The environment for `pip wheel`: the variant's CMake flags, all cores."""
    return {
        **os.environ,
        "CMAKE_ARGS": cmake_args(variant),
        "CMAKE_BUILD_PARALLEL_LEVEL": str(cores or cpu_count()),
    }


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def cpu_has_avx512(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    return any(line.startswith("flags") and "avx512f" in line.split() for line in text.splitlines())


def cache_root() -> Path:
    env = os.environ.get("AGENTJIT_WHEEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "agentjit" / "wheels"


def cache_dir(variant: str) -> Path:
    return cache_root() / variant


def wheel_is_compatible(name: str) -> bool:
    """Whether this interpreter can install the wheel file called `name`."""
    from packaging.tags import sys_tags
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        _, _, _, tags = parse_wheel_filename(name)
    except InvalidWheelFilename:
        return False
    return not tags.isdisjoint(sys_tags())


def cached_wheel(directory: Path, version: str = LLAMA_VERSION) -> Path | None:
    """The cached llama-cpp-python wheel of `version` this interpreter can install, if any."""
    prefix = f"llama_cpp_python-{version}-"
    for path in sorted(directory.glob(f"{prefix}*.whl")):
        if path.is_file() and wheel_is_compatible(path.name):
            return path
    return None


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (created if needed) for the block."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another install that holds {directory}/.lock ...", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def missing_compilers() -> list[str]:
    """The compilers a build needs but this machine lacks ("C", "C++")."""
    missing = []
    if not _first_tool(os.environ.get("CC"), "cc", "gcc", "clang"):
        missing.append("C")
    if not _first_tool(os.environ.get("CXX"), "c++", "g++", "clang++"):
        missing.append("C++")
    return missing


def _first_tool(*names: str | None) -> str | None:
    for name in names:
        if name and shutil.which(name.split()[0]):
            return name
    return None


def compiler_missing_message(missing: list[str]) -> str:
    what = " and ".join(missing)
    return (
        f"building {LLAMA_DIST} needs a {what} compiler, and none was found on PATH.\n"
        "Install the build tools, then run the install again:\n"
        "    apt-get install build-essential cmake\n"
        f"    {INSTALL_HINT}"
    )


def build_wheel(variant: str, directory: Path, *, quiet: bool = True) -> Path:
    """Build the wheel for `variant` and move it into `directory` (hold `locked(directory)`)."""
    missing = missing_compilers()
    if missing:
        raise InstallError(compiler_missing_message(missing))
    cores = cpu_count()
    print(
        f"building {LLAMA_DIST} wheel ({variant}; about {max(1, 12 // cores)} minutes "
        f"on {cores} cores) ...",
        flush=True,
    )
    log_path = directory / "build.log"
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=directory))
    try:
        _run_build(variant, tmp, log_path, quiet=quiet)
        built = cached_wheel(tmp)
        if built is None:
            raise InstallError(f"the build left no installable wheel in {tmp} (log: {log_path})")
        target = directory / built.name
        os.replace(built, target)  # same file system: atomic
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_build(variant: str, out_dir: Path, log_path: Path, *, quiet: bool) -> None:
    # --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS and could hand back another variant.
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", str(out_dir)]
    cmd.append(f"{LLAMA_DIST}=={LLAMA_VERSION}")
    with open(log_path, "wb") as log:
        try:
            done = subprocess.run(
                cmd,
                env=build_env(variant),
                stdin=subprocess.DEVNULL,
                stdout=log if quiet else None,
                stderr=subprocess.STDOUT if quiet else None,
                timeout=BUILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as e:
            raise InstallError(f"the build took over {BUILD_TIMEOUT_S:.0f} s") from e
    if done.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:] if quiet else "(see the output above)"
        raise InstallError(build_failure_message(tail))


def build_failure_message(log_tail: str) -> str:
    if "CMAKE_C_COMPILER" in log_tail or "CMAKE_CXX_COMPILER" in log_tail:
        return compiler_missing_message(["C/C++"]) + "\n\n" + log_tail
    return f"building {LLAMA_DIST} failed; the end of its log:\n{log_tail}"
