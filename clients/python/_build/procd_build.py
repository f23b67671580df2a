"""A minimal PEP 517 build backend for procd_client, using only the
standard library.

pip builds in an isolated environment and installs the backend's
``requires`` into it first; with setuptools that means a download, which
fails on a machine without PyPI. This backend needs nothing (``requires =
[]`` in pyproject.toml), so ``pip install --no-index ./clients/python``
works offline.

It builds a pure-Python wheel of the ``procd_client`` package (every .py,
.pyi and py.typed file under it, the generated gRPC code included) and an
sdist. The metadata comes from pyproject.toml's [project] table; the version
from procd_client/version.py, read without importing the package.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import tomllib
import zipfile
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "procd_client"
TAG = "py3-none-any"


def _project() -> Dict[str, object]:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        data = tomllib.load(f)
    return data


def _version() -> str:
    with open(os.path.join(ROOT, PACKAGE, "version.py"), encoding="utf-8") as f:
        m = re.search(r'^__version__\s*=\s*"([^"]+)"', f.read(), re.M)
    if not m:
        raise RuntimeError(f"no __version__ in {PACKAGE}/version.py")
    return m.group(1)


def _dist_name() -> str:
    return re.sub(r"[-_.]+", "_", str(_project()["project"]["name"])).lower()


def _metadata() -> str:
    data = _project()
    p = data["project"]
    api = data.get("tool", {}).get("procd", {}).get("api-package", "")
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {p['name']}",
        f"Version: {_version()}",
        f"Summary: {p.get('description', '')}",
        f"Requires-Python: {p.get('requires-python', '')}",
        f"License: {p.get('license', {}).get('text', '')}",
    ]
    if p.get("keywords"):
        lines.append("Keywords: " + ",".join(p["keywords"]))
    for c in p.get("classifiers", []):
        lines.append(f"Classifier: {c}")
    for label, url in p.get("urls", {}).items():
        lines.append(f"Project-URL: {label}, {url}")
    if api:
        lines.append(f"Platform: procd API {api}")
    for dep in p.get("dependencies", []):
        lines.append(f"Requires-Dist: {dep}")
    readme = p.get("readme")
    body = ""
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = f.read()
    return "\n".join(lines) + "\n\n" + body


def _package_files() -> List[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".pyi")) or name == "py.typed":
                out.append(os.path.relpath(os.path.join(dirpath, name), ROOT))
    return out


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _dist_info_files() -> List[Tuple[str, bytes]]:
    info = f"{_dist_name()}-{_version()}.dist-info"
    wheel = f"Wheel-Version: 1.0\nGenerator: procd_build\nRoot-Is-Purelib: true\nTag: {TAG}\n"
    return [
        (f"{info}/METADATA", _metadata().encode()),
        (f"{info}/WHEEL", wheel.encode()),
        (f"{info}/top_level.txt", f"{PACKAGE}\n".encode()),
    ]


def _zip_write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


# ---------------------------------------------------------------- PEP 517 hooks


def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Optional[dict] = None) -> str:
    files = _dist_info_files()
    info = files[0][0].split("/")[0]
    for name, data in files:
        path = os.path.join(metadata_directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return info


def build_wheel(
    wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None
) -> str:
    filename = f"{_dist_name()}-{_version()}-{TAG}.whl"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for rel in _package_files():
            with open(os.path.join(ROOT, rel), "rb") as f:
                data = f.read()
            name = rel.replace(os.sep, "/")
            _zip_write(zf, name, data)
            records.append(_record_line(name, data))
        for name, data in _dist_info_files():
            _zip_write(zf, name, data)
            records.append(_record_line(name, data))
        record_name = f"{_dist_name()}-{_version()}.dist-info/RECORD"
        records.append(f"{record_name},,")
        _zip_write(zf, record_name, ("\n".join(records) + "\n").encode())
    return filename


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    base = f"{_dist_name()}-{_version()}"
    filename = f"{base}.tar.gz"
    files = ["pyproject.toml", "README.md", "LICENSE", os.path.join("_build", "procd_build.py")] + _package_files()
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for rel in files:
            path = os.path.join(ROOT, rel)
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            ti = tarfile.TarInfo(f"{base}/{rel.replace(os.sep, '/')}")
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tf.addfile(ti, io.BytesIO(data))
        pkg_info = _metadata().encode()
        ti = tarfile.TarInfo(f"{base}/PKG-INFO")
        ti.size, ti.mode, ti.mtime = len(pkg_info), 0o644, 0
        tf.addfile(ti, io.BytesIO(pkg_info))
    return filename
