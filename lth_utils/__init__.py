"""lth_utils: the helper package of The Lottery Ticket Book.

One module per idea: ``data`` (datasets in memory), ``models`` (LeNet-300-100, Conv-2/4/6),
``masks`` and ``pruning``, ``population`` (K networks stacked into one computation) and
``training`` (the population trainer, on the CPU or a GPU), ``engine`` (the one study engine
every experiment runs on: config, units, a step per unit, a record, with the cache, the lock,
checkpoints and resuming), ``lottery`` (the experiment), ``horizon`` (how long a study must
train: the probes that chose the horizons of chapters 5 and 10),
``results`` (records on disk and the cache), ``records`` (reading a record: numbers, tables,
provenance), ``claims`` (a chapter's verdicts on a record, computed: the ticket against its
controls and the dense network, with runs cut off by the horizon read as lower bounds),
figures for the chapters in ``plots`` (shared helpers; chapters 1–2),
``finetune_plots`` (chapters 3–4) and ``lottery_plots`` (chapters 5–7: LeNet, and Conv-2 on
CIFAR-10 from the same engine), and ``widgets`` (the
"Try it" panels, which may import the others; none imports it). ``cli`` and ``bench`` are the
command line (``python -m lth_utils``) and its speed benchmark; ``studies`` is the command
line's table of every study (its config per profile, how to run, split and merge it), and
``cluster`` runs a study's trials as tasks on a Dask cluster.

Part II, one module per method: ``supermasks`` (chapter 9: mask criteria, kept-weight variants,
untrained supermasks, edge-popup); ``prune_at_init`` (chapter 10: SNIP, GraSP, SynFlow,
magnitude and random at θ0, the shuffle and reinit sanity checks, layer collapse, and the study
that sets them against an IMP ticket, and what each check costs, read from its record);
``transfer`` (chapter 11: tickets moved between datasets,
mask overlap against chance; its figures in ``transfer_plots``); ``sparse`` (chapter 12: latency
of dense, masked, CSR and COO layers, storage formats with relative indices and weight sharing,
a compressed file) and ``structured`` (chapter 12: removing whole neurons, and the chapter's
cached comparison with unstructured pruning); ``instability`` (for chapter 8: two copies trained
from θ_k on different batch orders, the error along the line between them, and the chapter's
cached study; its readers and figures in ``instability_plots``).
"""
from __future__ import annotations

import logging
import os

# torch.utils.benchmark (chapter 12, the bench) imports torch.utils.cpp_extension, which warns on a
# machine with a CUDA folder but no CUDA runtime; the book compiles no extension, so that warning
# would only clutter the pages.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)

__version__ = "0.1.0"
PROFILES = ("quick", "standard", "paper")


def profile() -> str:
    """The size profile: ``$LTH_PROFILE`` ("quick" for CI, "standard" for the book, "paper")."""
    value = os.environ.get("LTH_PROFILE", "quick")
    if value not in PROFILES:
        raise ValueError(f"LTH_PROFILE must be one of {', '.join(PROFILES)}, got {value!r}")
    return value


def pick(quick, standard, paper=None):
    """The value for the current profile: sizes change with the profile, code paths never do."""
    return {"quick": quick, "standard": standard,
            "paper": standard if paper is None else paper}[profile()]


def say(*parts, width: int = 78) -> None:
    """``print`` for the page: the parts joined by spaces, each line wrapped at ``width``
    characters, so that an output fits the book's column (about 80 characters)."""
    import textwrap
    text = " ".join(str(p) for p in parts)
    print("\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
                     or line for line in text.splitlines()))


def glue(name: str, value, display: bool = False):
    """Make ``value`` available to the chapter's prose as ``{glue:text}`name``` and return it.

    In the built book (MyST-NB) this is ``myst_nb.glue``: the number in the text is the one this
    cell computed. Where MyST-NB is not installed (Colab) it does nothing, so chapters still run.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return value
    # numpy and torch scalars as plain numbers: MyST-NB formats a glued number from its repr
    plain = value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value
    _glue(name, plain, display=display)
    return value


def device():
    """The device the book trains on: ``$LTH_DEVICE`` ("cpu", "cuda", "cuda:1", ...), by default
    CUDA when PyTorch sees a GPU, else the CPU. Returns a ``torch.device``."""
    import torch
    value = os.environ.get("LTH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(value)
    except RuntimeError as err:
        raise ValueError(f"LTH_DEVICE={value!r} is not a device PyTorch knows ({err}): use cpu, "
                         f"cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"LTH_DEVICE={value!r}: the book trains on cpu, cuda, cuda:N or mps")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"LTH_DEVICE={value!r} but PyTorch sees no GPU: unset LTH_DEVICE or set "
                         f"it to cpu (in Colab: Runtime > Change runtime type > GPU)")
    return dev


def device_name(dev=None) -> str:
    """A readable name of ``dev`` (default :func:`device`) for records: "cpu (2 threads)",
    "cpu (1 thread)" or the GPU's name."""
    import torch
    dev = torch.device(dev) if dev is not None else device()
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'' if n == 1 else 's'})"


def progress_bars() -> bool:
    """Whether to draw progress bars: yes where a person is watching, not when building pages.

    ``make book`` and the page tests set ``LTH_PROGRESS=0``; a reader in Jupyter or Colab sees bars.
    """
    return os.environ.get("LTH_PROGRESS", "1") not in ("0", "false", "no")
