"""The two install paths pin the same packages to the same versions: pip (pyproject.toml) and conda
(environment.yml, whose pip section mirrors the dependencies and every extra)."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def pyproject_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]


def conda_pip_requirements() -> list[str]:
    dependencies = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(item["pip"] for item in dependencies if isinstance(item, dict) and "pip" in item)
    return [r for r in pip if not r.startswith("-")]  # "-e .": the package itself


def pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", requirement.strip())
        assert match, f"{requirement!r} is not pinned to one version (name==version)"
        assert match[1].lower() not in found, f"{match[1]} is listed twice"
        found[match[1].lower()] = match[2]
    return found


def test_every_requirement_is_pinned_alike_in_pyproject_and_environment_yml():
    assert pins(pyproject_requirements()) == pins(conda_pip_requirements())


def test_the_python_version_is_the_same():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    assert requires == ">=3.11,<3.12" and "python=3.11" in conda
