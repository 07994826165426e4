"""The engine keeps freed memory for reuse (frstudio.core.allocator): a network run tile by tile re-allocates the
same activations hundreds of times, and each fresh mapping costs the kernel a page fault per 4 KiB."""

import resource
import sys

import numpy as np
import pytest

from frstudio.core.allocator import keep_freed_memory


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_a_block_freed_and_asked_for_again_is_reused_not_faulted_in_again():
    if not keep_freed_memory():
        pytest.skip("this C library has no mallopt")
    size = 20 * 1024 * 1024  # like one full-resolution activation of a 512 px tile
    pages = size // 4096

    def layer_by_layer():  # a few activations alive at once, then all freed, as between two tiles
        blocks = [np.ones(size, np.uint8) for _ in range(4)]
        del blocks

    layer_by_layer()  # touched once: from here their pages are the process's
    before = _faults()
    for _ in range(10):
        layer_by_layer()
    # glibc's defaults hand the freed heap back each time: about one block's worth of faults per round (20,540
    # measured over these ten rounds, against none kept)
    assert _faults() - before < pages
