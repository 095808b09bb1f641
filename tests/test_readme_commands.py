"""README.md opens with the two commands a new machine runs (demo, tests); CI runs exactly the second."""

import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _bash_blocks():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return re.findall(r"```bash\n(.*?)\n```", f.read(), re.S)


def test_readme_opens_with_the_demo_and_the_test_command_that_ci_runs():
    demo, tests = _bash_blocks()[:2]
    assert "pip install -e '.[demo]'" in demo and demo.endswith("python examples/demo.py")
    assert "pip install -e '.[test]'" in tests and "python -m pytest" in tests
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        commands = [line for line in f.read().splitlines() if line and not line.startswith("#")]
    assert commands[-1] == tests, "the last line of .ci/run is the README's test command"
    assert "rm -rf .venv" in commands, "CI installs from nothing"
