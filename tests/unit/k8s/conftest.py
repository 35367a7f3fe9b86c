"""Fixtures for the Kubernetes tests: small profiles on disk and the adversarial manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

K8S_FIXTURES = Path(__file__).parents[2] / "fixtures" / "k8s"

PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
    "syscalls": [
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["futex", "read", "write"], "action": "SCMP_ACT_ALLOW"},
    ],
}


@pytest.fixture
def profiles(tmp_path: Path) -> dict[str, Path]:
    """driver.json and executor.json in tmp_path/profiles (a flat profiles directory)."""
    folder = tmp_path / "profiles"
    folder.mkdir()
    paths = {}
    for role in ("driver", "executor"):
        path = folder / f"{role}.json"
        path.write_text(json.dumps(PROFILE, indent=2) + "\n")
        paths[role] = path
    return paths
