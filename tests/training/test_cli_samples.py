"""`python -m training samples`: the grid of input / output / truth, for the shipped weights or an export."""

import pytest

from frstudio.core.errors import FRStudioError
from training.__main__ import main


def test_samples_grid_of_the_shipped_weights_and_of_a_given_folder(tmp_path):
    out = tmp_path / "grid.png"
    assert main(["samples", "progressive_128", "--protocols", "seed003-128", "--n", "1", "--out", str(out)]) in (0, None)
    assert out.stat().st_size > 0
    # an export folder without the model's weights is refused, so --weights reaches the restorer
    with pytest.raises(FRStudioError):
        main(["samples", "progressive_128", "--weights", str(tmp_path), "--n", "1", "--out", str(tmp_path / "x.png")])
