"""Print Colab's package versions as pip constraints, for the Colab-version environment (`tools/course platform-test`).

    python images/constraints.py > constraints.txt

Every `name==version` line of `colab/pip-freeze.gpu.txt`, less what PyPI cannot match: local version labels
(`torch==2.11.0+cu128` is Colab's CUDA 12.8 build; PyPI has `2.11.0`) are dropped, and so are the CUDA runtime
packages (`nvidia-*`, `cuda-*`, `triton`, …), because PyPI's torch wheel of the same version depends on other
builds of them than Colab's does. `name @ url` lines (Colab's own packages, NVIDIA's wheels) are left out.
"""
import re, sys
from pathlib import Path

CUDA_BUILDS = re.compile(r"^(nvidia-|cuda-|cupy|triton$|jax-cuda|cudf|cuml|cugraph|cuvs|cucim|rmm|raft|pylibraft|"
                         r"pylibcu|libcu|librmm|libraft|libkvikio|kvikio|ucx|libucx|dask-cuda|distributed-ucxx|nx-cugraph)")

def constraints(freeze:Path) -> list[str]:
    out = []
    for line in freeze.read_text().splitlines():
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;+]+)(\+\S+)?", line.strip())
        if m and not CUDA_BUILDS.match(m[1].lower().replace("_", "-")): out.append(f"{m[1]}=={m[2]}")
    return out

if __name__ == "__main__":
    print("\n".join(constraints(Path(__file__).parent / "colab" / "pip-freeze.gpu.txt")))
